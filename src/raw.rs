//! What a binding for another language needs from the engine beyond the safe API: memory the
//! caller owns registered as fixed buffers, submission without naming `Send` bounds, request
//! ids as integers, and whether this thread is inside an engine's callbacks. The C libraries
//! (`capi/`) are built on this module and the public API alone.
//!
//! ```
//! use auraio::{raw, LocalEngine};
//!
//! let engine = LocalEngine::new()?;
//! assert!(!raw::in_any_callback());
//! assert!(!raw::in_own_callbacks(&engine));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;

use crate::engine::{Engine, RequestId};
use crate::error::SubmitError;
use crate::lock::LockMode;
use crate::op::Op;
use crate::policy::Policy;
use crate::tuning::Tuning;

/// Registers memory the caller owns with every ring of `engine` as fixed buffers `0..n` (the
/// iovecs' order); on failure nothing stays registered. Fixed operations then name a buffer
/// by index ([`FixedIo`](crate::fixed::FixedIo)).
///
/// # Safety
///
/// The memory the iovecs describe must stay valid, and must not be freed or reused, until
/// [`unregister_buffers`] has returned and no fixed operation naming it is in flight; and the
/// engine's own registration ([`Engine::register_buffers`]) must not be used on `engine`
/// meanwhile (the kernel keeps one table per ring).
///
/// # Errors
///
/// The kernel's error for IORING_REGISTER_BUFFERS (`EBUSY` when buffers are registered
/// already, `ENOMEM` past the locked-memory limit, `EINVAL` for a bad iovec).
pub unsafe fn register_buffers<P: Policy, L: LockMode, T: Tuning>(
    engine: &Engine<P, L, T>,
    iovecs: &[libc::iovec],
) -> io::Result<()> {
    // SAFETY: the caller's contract above is `register_raw_buffers`' own.
    unsafe { engine.register_raw_buffers(iovecs) }
}

/// Unregisters what [`register_buffers`] registered, on every ring (a failure is logged: the
/// kernel drops the table with the ring anyway). Call it once no fixed operation on those
/// buffers is in flight: the kernel would complete them against a table that is gone.
pub fn unregister_buffers<P: Policy, L: LockMode, T: Tuning>(engine: &Engine<P, L, T>) {
    engine.unregister_raw_buffers();
}

/// [`Engine::submit`] without the `Sendable` bounds, for callers that cannot name them on a
/// closure (a generic closure's captures do not carry the bound).
///
/// # Safety
///
/// On a multi-thread engine `op` and `callback` must be `Send`: the engine may complete or
/// drop them on another thread.
///
/// # Errors
///
/// As [`Engine::submit`].
#[inline]
pub unsafe fn submit<P, L, T, O, F>(
    engine: &Engine<P, L, T>,
    op: O,
    callback: F,
) -> Result<RequestId, SubmitError<O::Output>>
where
    P: Policy,
    L: LockMode,
    T: Tuning,
    O: Op,
    F: FnOnce(io::Result<usize>, O::Output) + 'static,
{
    // SAFETY: the caller's contract above is `submit_unchecked`'s own.
    unsafe { engine.submit_unchecked(op, callback) }
}

/// Submits what is queued in the rings' submission queues now (requests refilled from a
/// backlog, those callbacks submitted), without reaping: the C contract's `aura_flush`.
pub fn flush<P: Policy, L: LockMode, T: Tuning>(engine: &Engine<P, L, T>) {
    engine.flush();
}

/// What dropping `engine` does, through a shared reference: refuses new submissions, drains
/// (cancelling what stalls past the drain timeout), completes the backlog with `ECANCELED`.
/// Idempotent; a later drop only frees. A binding whose callbacks reach the engine through
/// shared references calls it before it frees the engine, so those references stay valid
/// while the drain runs the callbacks. Called from the engine's own callbacks it returns at
/// once (it never blocks on its own poll).
pub fn shut_down<P: Policy, L: LockMode, T: Tuning>(engine: &Engine<P, L, T>) {
    engine.shut_down();
}

/// A request id as two integers (engine and ring, slot), for storage in atomics or a foreign
/// struct; [`id_from_parts`] turns them back.
pub fn id_to_parts(id: RequestId) -> (u64, u64) {
    id.to_parts()
}

/// The id [`id_to_parts`] gave these integers. Any integers make an id: one that never named
/// a request of an engine is unknown to it (a cancel finds nothing).
pub fn id_from_parts(engine_ring: u64, slot: u64) -> RequestId {
    RequestId::from_parts(engine_ring, slot)
}

/// Whether this thread is running the callbacks of any engine.
pub fn in_any_callback() -> bool {
    crate::engine::in_any_callback()
}

/// Whether this thread is inside `engine`'s callbacks or its poll (where a nested blocking
/// wait on it would deadlock).
pub fn in_own_callbacks<P: Policy, L: LockMode, T: Tuning>(engine: &Engine<P, L, T>) -> bool {
    engine.in_own_callbacks()
}

/// A number naming the calling thread among the live threads (never 0): what a
/// single-thread binding records at creation to refuse calls from other threads.
pub fn thread_token() -> u64 {
    crate::engine::thread_token()
}

/// Online CPUs (at least 1): the ring count multi-thread engines default to.
pub fn online_cpus() -> usize {
    crate::sys::online_cpus()
}
