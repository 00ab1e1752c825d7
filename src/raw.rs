//! What a binding for another language needs from the engine beyond the safe API: memory the
//! caller owns registered as fixed buffers (with the engine's own deferred unregister),
//! submission without naming `Send` bounds, request
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
pub use crate::fixed::RawFixedBuf;
use crate::lock::LockMode;
use crate::op::Op;
use crate::policy::Policy;
use crate::tuning::Tuning;

/// Registers memory the caller owns with every ring of `engine` as fixed buffers `0..n` (the
/// iovecs' order); on failure nothing stays registered. Fixed operations take slices of it
/// from [`fixed_buf`]. Unregistering is the engine's, as for its own buffers
/// ([`Engine::unregister_buffers`]: deferred until every slice is back;
/// [`Engine::buffers_registered`] says when it has finished).
///
/// # Safety
///
/// The memory the iovecs describe must stay valid, and not be freed or reused, while the
/// registration lasts and while any [`RawFixedBuf`] taken from it is alive (a slice is an
/// ordinary buffer too: any engine's plain read or write may be given it). The registration
/// lasts until `engine.buffers_registered()` is false after an unregister, or until `engine`
/// is dropped; a drop that reaches its drain timeout leaks the requests the kernel still
/// holds (it logs how many), and memory those requests use must then stay valid for the
/// life of the process.
///
/// # Errors
///
/// `EBUSY` when buffers are registered (either kind, or still draining); `EINVAL` for no
/// iovec or more than 65536; otherwise the kernel's error for IORING_REGISTER_BUFFERS
/// (`ENOMEM` past the locked-memory limit, `EINVAL` for a bad iovec, `EFAULT`).
pub unsafe fn register_buffers<P: Policy, L: LockMode, T: Tuning>(
    engine: &Engine<P, L, T>,
    iovecs: &[libc::iovec],
) -> io::Result<()> {
    if iovecs.is_empty() || iovecs.len() > usize::from(u16::MAX) + 1 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: the caller's contract above is `register_raw_buffers`' own.
    unsafe { engine.core.register_raw_buffers(iovecs) }
}

/// `len` bytes at `offset` of buffer `index` registered with [`register_buffers`], for the
/// fixed operations ([`Engine::read_fixed`], [`Engine::write_fixed`]). The slice holds the
/// registration: an unregister completes once every slice has dropped (the engine drops an
/// operation's buffer after its callback).
///
/// # Errors
///
/// `ENXIO` without registered buffers; `EINVAL` for the engine's own registration (its
/// buffers are leased exclusively, [`Engine::fixed_buf`]), an index out of range or a length
/// past 4 GiB; `EBUSY` while an unregister drains; `EOVERFLOW` for a slice outside the buffer.
pub fn fixed_buf<P: Policy, L: LockMode, T: Tuning>(
    engine: &Engine<P, L, T>,
    index: usize,
    offset: usize,
    len: usize,
) -> io::Result<RawFixedBuf<L>> {
    engine.core.raw_fixed_buf(index, offset, len)
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
    engine.core.flush();
}

/// What dropping `engine` does, through a shared reference: refuses new submissions, drains
/// (cancelling what stalls past the drain timeout), completes the backlog with `ECANCELED`.
/// Idempotent; a later drop only frees. A binding whose callbacks reach the engine through
/// shared references calls it before it frees the engine, so those references stay valid
/// while the drain runs the callbacks. Called from the engine's own callbacks it returns at
/// once (it never blocks on its own poll).
pub fn shut_down<P: Policy, L: LockMode, T: Tuning>(engine: &Engine<P, L, T>) {
    engine.core.shut_down();
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
    engine.core.in_own_callbacks()
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
