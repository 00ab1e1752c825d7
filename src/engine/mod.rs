//! The engine: rings chosen by a policy, guarded per a lock mode, tuned per a preset.
//!
//! One type, its methods by concept: `build` (construction), `submit`, `register`,
//! `event_loop` (poll, wait, run, drain, drop), `control` (ticks, controls, statistics);
//! `ids` (request ids, statistics), `scope` (what this thread is running); the op table's
//! callback methods are generated at the end of this file.

mod build;
mod control;
mod event_loop;
mod ids;
mod register;
mod scope;
mod submit;

use control::Tuner;
pub use ids::{RequestId, Stats};
use scope::{
    deadlock, write_one, CallbackScope, PollGuard, RunningBatch, Unlink, IN_CALLBACKS,
    NEXT_ENGINE_ID, RUNNING_BATCH,
};
pub(crate) use scope::{in_any_callback, thread_token};

use std::cell::Cell;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::aimd::{defer_tick, Controller, TickInput};
use crate::buffer::AlignedBuf;
use crate::error::SubmitError;
use crate::fixed::{FixedBuf, RawFixedBuf, Registry};
use crate::handoff;
use crate::histogram::Histogram;
use crate::lock::{Counter, Flag, LockMode, MultiThread, RingLock, Sendable, SingleThread};
use crate::op::{self, Op};
use crate::options::Options;
use crate::policy::{Adaptive, CpuLocal, Policy, RoundRobin, Selector};
use crate::ring::slab::Payload;
use crate::ring::{Batch, Ring, RingConfig, RingFeatures, RingStats, TickSnapshot, BATCH};
use crate::sys;
use crate::tuning::{self, DefaultTuning, Tuning};

/// Longest run of waits that skip spinning after failed spins.
const MAX_SPIN_BACKOFF: u64 = 1024;

/// Without progress for this long, dropping an engine cancels what is left.
const DROP_STALL: Duration = Duration::from_millis(250);

/// An io_uring engine.
///
/// - `P` ([`policy`](crate::policy)): which ring a submission goes to.
/// - `L` ([`lock`](crate::lock)): [`SingleThread`] (no mutex, no atomic read-modify-write, not
///   `Send`) or [`MultiThread`] (`Send + Sync`, concurrent submitters, one poller at a time).
/// - `T` ([`tuning`](mod@crate::tuning)): the controller's constants.
///
/// Operations take their buffer by value and hand it back to the callback with the result.
/// Callbacks run on the thread that calls [`poll`](Self::poll), [`wait`](Self::wait),
/// [`run`](Self::run) or [`drain`](Self::drain), with no engine lock held: they may submit.
///
/// Dropping the engine drains it: requests run to completion, those that make no progress for
/// 250 ms are cancelled, and after the drain timeout (10 s by default) whatever the kernel still
/// holds is leaked rather than freed under it.
pub struct Engine<P: Policy = Adaptive, L: LockMode = MultiThread, T: Tuning = DefaultTuning> {
    /// Everything but the ring choice: monomorphized per lock mode and tuning only, so the
    /// presets of one mode share it (the C library's six presets hold two copies, not six).
    pub(crate) core: Core<L, T>,
    _policy: PhantomData<fn() -> P>,
}

/// The engine without its ring-selection policy: rings, registration, the event loop, the
/// tuners. [`Engine`] wraps it and adds the submissions, which pick a ring.
pub(crate) struct Core<L: LockMode, T: Tuning> {
    rings: Box<[Ring<L>]>,
    selector: Selector<L>,
    /// First fatal submit errno (0: none).
    fatal: L::Counter,
    shutdown: L::Flag,
    /// Set once [`Engine::shut_down`] has drained: a second call (the C ABI's destroy, then
    /// the drop) must not wait out the drain bound again.
    drained: L::Flag,
    stop: L::Flag,
    idle: L::Flag,
    /// The poller is blocked in the kernel (multi-thread mode only).
    blocked: L::Flag,
    /// The poller sleeps on the eventfd (`wait_any`): a refused poll wakes it through
    /// `waiter_fd`, which no reactor watches (waking it through the shared eventfd would wake
    /// the reactor that refused poll too, and the two would ping-pong).
    eventfd_sleeper: L::Flag,
    waiter_fd: OwnedFd,
    poll_lock: L::Lock<()>,
    /// Thread token of the poll lock's holder (0: none).
    poll_owner: L::Counter,
    /// A poll found the poll lock taken: its holder polls once more before leaving.
    repoll: L::Flag,
    /// Waits that need the eventfd signalled (besides a reactor, when `notify` is set).
    eventfd_waiters: L::Lock<u32>,
    /// Identity carried by this engine's request ids.
    id: u32,
    /// Longest chain every ring can take: the SQ and the in-flight maximum bound it.
    max_chain: usize,
    eventfd: OwnedFd,
    drain_timeout: Duration,
    alignment: usize,
    cancel_on_drop: bool,
    /// Options::async_issue: every SQE carries IOSQE_ASYNC. Read with a relaxed load on each
    /// submission (a plain load: no read-modify-write on the submit path); a change applies to
    /// the requests submitted after it.
    async_issue: std::sync::atomic::AtomicBool,
    /// A reactor watches the eventfd: futures need not reschedule themselves.
    notify: L::Flag,
    /// Spin budget of a wait, in nanoseconds (0: never spin).
    spin_ns: u64,
    tuners: Box<[L::Lock<Tuner<T>>]>,
    pool: L::Shared<crate::pool::Pool<L>>,
    /// Registered buffers (dropped after the rings, which hold the registration).
    fixed: L::Lock<Option<L::Shared<Registry<L>>>>,
    fixed_draining: L::Flag,
    /// Registered files: fd → slot, consulted on submission while any are registered.
    files: L::Lock<std::collections::HashMap<RawFd, u32>>,
    files_on: L::Flag,
    /// Opcodes the kernel supports (IORING_REGISTER_PROBE at creation), one bit each.
    supported: [u64; 4],
    /// Engine clock (ns) of the next controller tick.
    next_tick_ns: L::Counter,
    /// Waits left before spinning is tried again.
    spin_skip: L::Counter,
    /// Length of the current spin back-off, in waits.
    spin_backoff: L::Counter,
    _tuning: PhantomData<fn() -> T>,
    _mode: L::Marker,
}

impl<P: Policy, L: LockMode, T: Tuning> Engine<P, L, T> {
    /// Wraps a core into the engine of policy `P`.
    fn of(core: Core<L, T>) -> Self {
        Engine {
            core,
            _policy: PhantomData,
        }
    }
}

/// Single-thread engine on the CPU-local ring: the fastest preset for one thread.
pub type LocalEngine = Engine<CpuLocal, SingleThread>;
/// Multi-thread engine with adaptive ring selection: the default preset.
pub type SharedEngine = Engine<Adaptive, MultiThread>;
/// Multi-thread engine on the CPU-local ring, never spilling.
pub type CpuLocalEngine = Engine<CpuLocal, MultiThread>;
/// Multi-thread engine handing rings out in turn.
pub type RoundRobinEngine = Engine<RoundRobin, MultiThread>;

static_assertions::assert_impl_all!(SharedEngine: Send, Sync);
static_assertions::assert_impl_all!(RoundRobinEngine: Send, Sync);
static_assertions::assert_not_impl_any!(LocalEngine: Send, Sync);
static_assertions::assert_not_impl_any!(Engine<Adaptive, SingleThread>: Send, Sync);

impl<L: LockMode, T: Tuning> Drop for Core<L, T> {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// The engine's eventfd ([`Engine::notify_fd`]), for reactors.
impl<P: Policy, L: LockMode, T: Tuning> std::os::fd::AsFd for Engine<P, L, T> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.notify_fd()
    }
}

/// The engine's eventfd ([`Engine::notify_fd`]), for reactors.
impl<P: Policy, L: LockMode, T: Tuning> AsRawFd for Engine<P, L, T> {
    fn as_raw_fd(&self) -> RawFd {
        self.core.eventfd.as_raw_fd()
    }
}

impl<P: Policy, L: LockMode, T: Tuning> std::fmt::Debug for Engine<P, L, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("preset", &Self::preset_name())
            .field("rings", &self.core.rings.len())
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

/// Generator: the engine's callback method for each entry of the op table.
macro_rules! engine_methods {
    (
        method $method:ident [$(#[$doc:meta])*] generics [$($g:ident : $bound:path)?]
        args [$($arg:ident : $aty:ty),*] out [$out:ty] op $Op:ident $($rest:tt)*
    ) => {
        impl<P: Policy, L: LockMode, T: Tuning> Engine<P, L, T> {
            $(#[$doc])*
            ///
            /// The callback receives the result and what the operation owned; it runs once, on
            /// the polling thread. Refusals are as for [`submit`](Self::submit).
            #[inline]
            pub fn $method<$($g: $bound,)? Cb>(
                &self,
                $($arg: $aty,)*
                callback: Cb,
            ) -> Result<RequestId, SubmitError<$out>>
            where
                Cb: FnOnce(io::Result<usize>, $out) + Sendable<L> + 'static,
                op::$Op $(<$g>)?: Sendable<L>,
            {
                self.submit(op::$Op::new($($arg),*), callback)
            }
        }
    };
}

crate::__op_table!(crate::__op_each, [engine_methods]);
