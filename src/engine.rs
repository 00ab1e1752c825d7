//! The engine: rings chosen by a policy, guarded per a lock mode, tuned per a preset.

use std::cell::Cell;
use std::ffi::CString;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::aimd::{defer_tick, Controller, Phase, TickInput};
use crate::buffer::{AlignedBuf, IoBuf, IoBufMut};
use crate::error::SubmitError;
use crate::fixed::{FixedBuf, FixedIo, RawFixedBuf, Registry};
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

/// Handle of a submitted request: its ring and a generation-checked slot id. A handle never
/// names a later request that reuses the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId {
    /// The engine's identity: an id never cancels or names another engine's request.
    engine: u32,
    ring: u32,
    user_data: u64,
}

impl RequestId {
    /// Index of the ring the request went to.
    pub fn ring(&self) -> usize {
        self.ring as usize
    }

    /// The id as two integers (engine and ring, slot id), for storage in atomics.
    pub(crate) fn to_parts(self) -> (u64, u64) {
        (
            u64::from(self.engine) << 32 | u64::from(self.ring),
            self.user_data,
        )
    }

    /// The inverse of `to_parts`.
    pub(crate) fn from_parts(engine_ring: u64, user_data: u64) -> Self {
        RequestId {
            engine: (engine_ring >> 32) as u32,
            ring: engine_ring as u32,
            user_data,
        }
    }
}

/// Whether this thread is running callbacks of any engine.
pub(crate) fn in_any_callback() -> bool {
    IN_CALLBACKS.with(|c| c.get()) != 0
}

/// Engine-wide statistics: a snapshot taken ring by ring (one short lock per ring).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Operations completed, all rings.
    pub ops_completed: u64,
    /// Of those, operations that completed with an error, all rings.
    pub ops_failed: u64,
    /// Bytes moved, all rings.
    pub bytes_transferred: u64,
    /// Requests in submission queues or the kernel, all rings.
    pub in_flight: u64,
    /// Requests waiting in backlogs for room under an in-flight limit, all rings.
    pub backlog: u64,
    /// Submissions the adaptive policy sent to a ring other than the local one.
    pub adaptive_spills: u64,
    /// Per-ring figures.
    pub rings: Vec<RingStats>,
}

impl Stats {
    /// Highest P99 of the rings' last windows, in nanoseconds (engine-level P99 is the max).
    pub fn p99_ns(&self) -> u64 {
        self.rings.iter().map(|r| r.p99_ns).max().unwrap_or(0)
    }

    /// Completions per second, all rings, over their last ticks.
    pub fn ops_per_sec(&self) -> f64 {
        self.rings.iter().map(|r| r.ops_per_sec).sum()
    }

    /// Sum of the rings' in-flight limits.
    pub fn in_flight_limit(&self) -> u64 {
        self.rings
            .iter()
            .map(|r| u64::from(r.in_flight_limit))
            .sum()
    }
}

/// One ring's controller and what it saw at its previous tick.
struct Tuner<T: Tuning> {
    controller: Controller<T>,
    last: TickSnapshot,
    last_ns: u64,
    /// Completions and time at the previous tick interval (delivered or deferred), for the
    /// per-interval hold accounting of `TickInput::hold_ns`.
    check_ops: u64,
    check_ns: u64,
    /// Hold time accumulated since the last delivered tick, ns.
    hold_ns: u64,
}

thread_local! {
    /// Address of the engine whose callbacks this thread is running (0: none).
    static IN_CALLBACKS: Cell<usize> = const { Cell::new(0) };
    /// A byte whose address names this thread among the live threads (never 0).
    static THREAD_TOKEN: u8 = const { 0 };
}

/// This thread's token: the owner recorded in an engine's poll lock.
pub(crate) fn thread_token() -> u64 {
    THREAD_TOKEN.with(|t| t as *const u8 as u64)
}

/// Source of engine identities for [`RequestId`]s.
static NEXT_ENGINE_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// The poll lock, held: records the owning thread (so a nested poll, wait, drain or run on this
/// thread is refused with `Deadlock` instead of blocking on itself) until dropped.
struct PollGuard<'a, L: LockMode> {
    _lock: <L::Lock<()> as RingLock<()>>::Guard<'a>,
    owner: &'a L::Counter,
}

impl<L: LockMode> Drop for PollGuard<'_, L> {
    fn drop(&mut self) {
        // Cleared before the lock itself (a field) is released.
        self.owner.set(0);
    }
}

/// One batch whose callbacks this thread is running: a node of a list threaded through the
/// stack frames of the `run_callbacks` calls, innermost first.
struct RunningBatch {
    engine: usize,
    batch: *mut Batch,
    outer: *const RunningBatch,
}

thread_local! {
    /// The innermost running batch (null: none). A `Cell` of a pointer has no destructor, so
    /// it stays usable while the thread's other thread-locals (an engine among them, whose
    /// drop runs callbacks) are destroyed.
    static RUNNING_BATCH: Cell<*const RunningBatch> = const { Cell::new(std::ptr::null()) };
}

/// Unlinks a [`RunningBatch`] node when its `run_callbacks` returns or unwinds.
struct Unlink(*const RunningBatch);

impl Drop for Unlink {
    fn drop(&mut self) {
        RUNNING_BATCH.with(|r| r.set(self.0));
    }
}

/// Marks the current thread as running `addr`'s callbacks while alive; nests.
struct CallbackScope(usize);

impl CallbackScope {
    fn enter(addr: usize) -> Self {
        CallbackScope(IN_CALLBACKS.with(|c| c.replace(addr)))
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        IN_CALLBACKS.with(|c| c.set(self.0));
    }
}

/// Adds one to an eventfd of the engine's.
fn write_one(fd: &OwnedFd) {
    let one = 1u64;
    // SAFETY: writes one u64 from a valid location to an eventfd the engine owns.
    let _ = unsafe {
        libc::write(
            fd.as_raw_fd(),
            (&one as *const u64).cast(),
            std::mem::size_of::<u64>(),
        )
    };
}

fn deadlock() -> io::Error {
    io::Error::new(
        io::ErrorKind::Deadlock,
        "auraio: poll/wait/run/drain called on a thread that is already polling this engine \
         (from inside one of its callbacks, directly or through another engine's)",
    )
}

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
    _types: PhantomData<fn() -> (P, T)>,
    _mode: L::Marker,
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

impl<P: Policy, L: LockMode, T: Tuning> Engine<P, L, T> {
    /// Name of the preset, `policy/lock-mode/tuning`.
    pub fn preset_name() -> String {
        format!("{}/{}/{}", P::NAME, L::NAME, T::NAME)
    }

    /// An engine with default [`Options`].
    ///
    /// # Errors
    ///
    /// As for [`with_options`](Self::with_options).
    pub fn new() -> io::Result<Self> {
        Self::with_options(&Options::new())
    }

    /// An engine sized by `opts`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the option for invalid options; the OS error if io_uring setup
    /// fails (e.g. `ENOSYS` without io_uring, `EPERM` where it is disabled, `ENOMEM` past the
    /// locked-memory limit).
    pub fn with_options(opts: &Options) -> io::Result<Self> {
        const { tuning::validate::<T>() };
        opts.validate()?;
        let count = opts.ring_count.unwrap_or(if L::MULTI_THREAD {
            sys::online_cpus()
        } else {
            1
        });
        let cfg = RingConfig {
            queue_depth: opts.queue_depth,
            initial_limit: opts.resolved_initial(T::START_IN_FLIGHT),
            max_limit: T::MAX_IN_FLIGHT,
            batch_threshold: T::BATCH_INITIAL,
            sqpoll: opts.sqpoll_idle_ms,
            single_issuer: !L::MULTI_THREAD,
            only_ring: count == 1,
            sample_shift: T::SAMPLE_SHIFT,
            coop_taskrun: opts.coop_taskrun.unwrap_or(!L::MULTI_THREAD),
        };
        let eventfd = sys::eventfd()?;
        let rings = (0..count)
            .map(|_| Ring::new(&cfg, &eventfd))
            .collect::<io::Result<Vec<_>>>()?
            .into_boxed_slice();
        let now = sys::now_ns();
        let tuners: Box<[L::Lock<Tuner<T>>]> = rings
            .iter()
            .map(|r| {
                let controller = Controller::<T>::new(cfg.initial_limit, r.max_limit());
                let d = controller.decision();
                r.apply(d.limit, d.batch_threshold, &L::Counter::new(0));
                L::Lock::new(Tuner {
                    controller,
                    last: TickSnapshot::default(),
                    last_ns: now,
                    check_ops: 0,
                    check_ns: now,
                    hold_ns: 0,
                })
            })
            .collect();
        let supported = rings[0].probe();
        let max_chain = rings
            .iter()
            .map(|r| r.max_chain())
            .min()
            .unwrap_or(1)
            .min(crate::ring::MAX_CHAIN);
        Ok(Engine {
            poll_owner: L::Counter::new(0),
            repoll: L::Flag::new(),
            eventfd_waiters: L::Lock::new(0),
            id: NEXT_ENGINE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            max_chain,
            fixed: L::Lock::new(None),
            fixed_draining: L::Flag::new(),
            files: L::Lock::new(std::collections::HashMap::new()),
            files_on: L::Flag::new(),
            pool: L::Shared::from(crate::pool::Pool::new(
                opts.buffer_alignment,
                sys::online_cpus(),
            )),
            supported,
            tuners,
            next_tick_ns: L::Counter::new(now + u64::from(T::TICK_MS) * 1_000_000),
            rings,
            selector: Selector::new(),
            fatal: L::Counter::new(0),
            shutdown: L::Flag::new(),
            drained: L::Flag::new(),
            stop: L::Flag::new(),
            idle: L::Flag::new(),
            blocked: L::Flag::new(),
            eventfd_sleeper: L::Flag::new(),
            waiter_fd: sys::eventfd()?,
            poll_lock: L::Lock::new(()),
            eventfd,
            drain_timeout: opts.drain_timeout,
            alignment: opts.buffer_alignment,
            spin_ns: opts.spin.as_nanos() as u64,
            cancel_on_drop: opts.cancel_on_drop,
            async_issue: std::sync::atomic::AtomicBool::new(opts.async_issue),
            notify: L::Flag::new(),
            spin_skip: L::Counter::new(0),
            spin_backoff: L::Counter::new(0),
            _types: PhantomData,
            _mode: L::Marker::default(),
        })
    }

    /// Submits any operation: the generic form behind [`read`](Self::read),
    /// [`write`](Self::write) and the other methods of the op table.
    ///
    /// The callback gets the result (`Ok(bytes)` or the kernel's error) and what the operation
    /// owned. It runs exactly once, on the polling thread, unless the submission is refused.
    ///
    /// # Errors
    ///
    /// A refused submission returns the buffer(s) in [`SubmitError`] and drops the callback
    /// uncalled: `EOPNOTSUPP` for an opcode the kernel lacks (probed at creation), `ESHUTDOWN`
    /// once the engine is being dropped, or the engine's latched fatal error. Errors of the operation itself (`EBADF`, `EINVAL` …) reach the callback.
    #[inline]
    pub fn submit<O, F>(&self, op: O, callback: F) -> Result<RequestId, SubmitError<O::Output>>
    where
        O: Op + Sendable<L>,
        F: FnOnce(io::Result<usize>, O::Output) + Sendable<L> + 'static,
    {
        // SAFETY: the bounds above are the contract of `submit_unchecked`.
        unsafe { self.submit_unchecked(op, callback) }
    }

    /// [`submit`](Self::submit) without the `Sendable` bounds, for callers that cannot name
    /// them on a closure (a generic closure's captures do not carry the bound).
    ///
    /// # Safety
    ///
    /// In multi-thread mode `op` and `callback` must be `Send`: the engine may complete or drop
    /// them on another thread.
    #[inline]
    pub(crate) unsafe fn submit_unchecked<O, F>(
        &self,
        mut op: O,
        callback: F,
    ) -> Result<RequestId, SubmitError<O::Output>>
    where
        O: Op,
        F: FnOnce(io::Result<usize>, O::Output) + 'static,
    {
        let fatal = self.fatal.get();
        if fatal != 0 {
            return Err(SubmitError::new(fatal as i32, op.into_output()));
        }
        if self.shutdown.is_set() {
            return Err(SubmitError::new(libc::ESHUTDOWN, op.into_output()));
        }
        if !self.supported(O::OPCODE) {
            return Err(SubmitError::new(libc::EOPNOTSUPP, op.into_output()));
        }
        let (sqe, fixed) = self.prepare::<O>(op.sqe());
        let payload = Payload::new(op, callback);
        let ring = <P as crate::policy::sealed::Sealed>::pick(&self.rings, &self.selector);
        let sampled = !matches!(O::DIRECTION, op::Direction::None);
        let user_data = self.rings[ring].push(sqe, payload, sampled, fixed, &self.fatal);
        if L::MULTI_THREAD {
            self.after_push(&self.rings[ring]);
        }
        Ok(RequestId {
            engine: self.id,
            ring: ring as u32,
            user_data,
        })
    }

    /// Whether the kernel supports an io_uring opcode (probed once, at creation).
    #[inline]
    pub fn supported(&self, opcode: u8) -> bool {
        self.supported[usize::from(opcode >> 6)] & (1 << (opcode & 63)) != 0
    }

    /// Final touches on an operation's SQE before it is stored: a registered file's slot.
    /// Returns the SQE and whether it now uses a fixed slot.
    #[inline]
    pub(crate) fn prepare<O: Op>(&self, sqe: op::Sqe) -> (op::Sqe, bool) {
        let sqe = if self.async_issue.load(std::sync::atomic::Ordering::Relaxed) {
            sqe.flags(io_uring::squeue::Flags::ASYNC)
        } else {
            sqe
        };
        if !O::FIXED_FD {
            return (sqe, false);
        }
        if let Some(slot) = op::direct_slot(op::sqe_fd(&sqe)) {
            return (op::use_fixed_file(sqe, slot), true);
        }
        if self.files_on.is_set() {
            self.fixed_file(sqe)
        } else {
            (sqe, false)
        }
    }

    /// Rewrites an SQE to use the registered slot of its fd, if the fd is registered.
    fn fixed_file(&self, sqe: op::Sqe) -> (op::Sqe, bool) {
        let fd = op::sqe_fd(&sqe);
        match self.files.lock().get(&fd) {
            Some(&slot) => (op::use_fixed_file(sqe, slot), true),
            None => (sqe, false),
        }
    }

    /// Sets the most io-wq workers each ring may run: `bounded` for requests on regular files
    /// and block devices, `unbounded` for the others (sockets, pipes); 0 leaves a limit as it
    /// is (IORING_REGISTER_IOWQ_MAX_WORKERS). Returns the first ring's previous limits.
    ///
    /// Requests the kernel cannot complete without blocking run in io-wq workers (fsyncs,
    /// many buffered writes, every request with [`Options::async_issue`]). The bounded pool
    /// defaults to min(SQ entries, 4 × CPUs) workers per ring; a worker that blocks for the
    /// whole request holds its place, so for such requests the pool caps what a ring has in
    /// service whatever its in-flight limit. Not every file blocks its worker: FUSE direct
    /// I/O hands the request to the server and frees it (measured: 16 reads in service on a
    /// 2-CPU machine with the default limit of 8).
    ///
    /// # Errors
    ///
    /// The kernel's (`EINVAL` before 5.15). Not atomic across rings: the rings before the
    /// failing one keep their new limits.
    pub fn set_iowq_max_workers(&self, bounded: u32, unbounded: u32) -> io::Result<[u32; 2]> {
        let mut first = None;
        for ring in self.rings.iter() {
            let prev = ring.iowq_max_workers([bounded, unbounded])?;
            first.get_or_insert(prev);
        }
        Ok(first.unwrap_or_default())
    }

    /// Registers `fds` with every ring (IORING_REGISTER_FILES). From then on, operations on a
    /// registered fd use its fixed slot transparently (no per-request file lookup in the
    /// kernel). The slot of `fds[i]` is `i`; `-1` leaves a slot empty for
    /// [`update_file`](Self::update_file).
    ///
    /// # Errors
    ///
    /// `EBUSY` if files are registered, or an unregister is still draining; the kernel's
    /// error otherwise (`EBADF`,
    /// `EMFILE` …), with nothing left registered.
    pub fn register_files(&self, fds: &[RawFd]) -> io::Result<()> {
        let mut table = self.files.lock();
        if self.files_on.is_set() || self.rings.iter().any(|r| r.files_draining()) {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        for (i, ring) in self.rings.iter().enumerate() {
            if let Err(e) = ring.register_files(fds) {
                for r in &self.rings[..i] {
                    let _ = r.unregister_files();
                }
                return Err(e);
            }
        }
        table.clear();
        for (slot, &fd) in fds.iter().enumerate() {
            if fd >= 0 {
                table.insert(fd, slot as u32);
            }
        }
        self.files_on.store(true);
        Ok(())
    }

    /// Replaces registered slot `slot` with `fd` (`-1` empties it), on every ring.
    ///
    /// # Errors
    ///
    /// `ENXIO` without registered files; `EINVAL` for a slot out of range. Not atomic across
    /// rings: on a partial failure the rings disagree and the error says so; unregister and
    /// register again to recover.
    pub fn update_file(&self, slot: u32, fd: RawFd) -> io::Result<()> {
        let mut table = self.files.lock();
        if !self.files_on.is_set() {
            return Err(io::Error::from_raw_os_error(libc::ENXIO));
        }
        for (i, ring) in self.rings.iter().enumerate() {
            if let Err(e) = ring.update_file(slot, fd) {
                return Err(if i == 0 {
                    e
                } else {
                    io::Error::new(
                        e.kind(),
                        format!(
                            "auraio: slot {slot} updated on {i} of {} rings only: {e}",
                            self.rings.len()
                        ),
                    )
                });
            }
        }
        table.retain(|_, s| *s != slot);
        if fd >= 0 {
            table.insert(fd, slot);
        }
        Ok(())
    }

    /// Unregisters the files. Later operations use plain fds again at once; the kernel-side
    /// unregister is deferred, per ring, until the requests already using a fixed slot
    /// (backlogged, queued or in flight) have completed, and `register_files` fails with
    /// `EBUSY` until then. Callable from inside a callback.
    ///
    /// # Errors
    ///
    /// `ENXIO` without registered files.
    pub fn unregister_files(&self) -> io::Result<()> {
        let mut table = self.files.lock();
        if !self.files_on.is_set() {
            return Err(io::Error::from_raw_os_error(libc::ENXIO));
        }
        self.files_on.store(false);
        table.clear();
        let mut first = Ok(());
        for ring in self.rings.iter() {
            if let Err(e) = ring.unregister_files() {
                first = first.and(Err(e));
            }
        }
        first
    }

    /// Registers `bufs` with every ring (IORING_REGISTER_BUFFERS); the engine owns them until
    /// they are unregistered. Lease slices with [`fixed_buf`](Self::fixed_buf) for
    /// [`read_fixed`](Self::read_fixed) and [`write_fixed`](Self::write_fixed).
    ///
    /// # Errors
    ///
    /// `EBUSY` if buffers are registered (or still draining); the kernel's error otherwise
    /// (`ENOMEM` past the locked-memory limit, `EINVAL` for more than 16384 buffers …), with
    /// nothing left registered.
    pub fn register_buffers(&self, bufs: Vec<AlignedBuf>) -> io::Result<()> {
        // SAFETY: the iovecs describe AlignedBufs owned by the registry, which the engine
        // keeps (and leases keep) alive until every ring has unregistered them.
        unsafe { self.install(Registry::<L>::new(bufs)) }
    }

    /// Registers `registry`'s memory with every ring and keeps the registry until
    /// `finish_unregister` drops it; on failure nothing stays registered.
    ///
    /// # Safety
    ///
    /// The memory `registry.iovecs()` describes stays valid until the registry is dropped.
    unsafe fn install(&self, registry: Registry<L>) -> io::Result<()> {
        let mut slot = self.fixed.lock();
        if slot.is_some() {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        let iovecs = registry.iovecs();
        for (i, ring) in self.rings.iter().enumerate() {
            // SAFETY: valid until the registry drops (the caller), which `finish_unregister`
            // does only after every ring has unregistered it.
            if let Err(e) = unsafe { ring.register_buffers(&iovecs) } {
                for r in &self.rings[..i] {
                    let _ = r.unregister_buffers();
                }
                return Err(e);
            }
        }
        *slot = Some(L::Shared::from(registry));
        Ok(())
    }

    /// Whether buffers are registered: from a registration until its unregister has finished
    /// (it waits for the leases, see [`unregister_buffers`](Self::unregister_buffers)).
    pub fn buffers_registered(&self) -> bool {
        self.fixed.lock().is_some()
    }

    /// Leases `len` bytes at `offset` of registered buffer `index`, exclusively, for fixed
    /// operations (and as an ordinary buffer).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an index out of range or a slice outside the buffer (checked
    /// without overflow: `offset >= size || len > size - offset`), before anything is
    /// submitted; `EBUSY` if the buffer is leased already or an unregister is draining;
    /// `ENXIO` without registered buffers.
    pub fn fixed_buf(&self, index: usize, offset: usize, len: usize) -> io::Result<FixedBuf<L>> {
        let slot = self.fixed.lock();
        match slot.as_ref() {
            None => Err(io::Error::from_raw_os_error(libc::ENXIO)),
            Some(r) => FixedBuf::lease(r, index, offset, len),
        }
    }

    /// Unregisters the buffers. New leases fail with `EBUSY` at once; the kernel-side
    /// unregister runs when the last lease is back (at once if none is out, else at a later
    /// poll or wait), and the buffers are freed after it. Callable from inside a callback.
    ///
    /// # Errors
    ///
    /// `ENXIO` without registered buffers.
    pub fn unregister_buffers(&self) -> io::Result<()> {
        {
            let slot = self.fixed.lock();
            match slot.as_ref() {
                None => return Err(io::Error::from_raw_os_error(libc::ENXIO)),
                Some(r) => r.draining.store(true),
            }
        }
        self.fixed_draining.store(true);
        self.finish_unregister();
        Ok(())
    }

    /// Registers caller-owned memory ([`crate::raw::register_buffers`]).
    ///
    /// # Safety
    ///
    /// As [`crate::raw::register_buffers`].
    pub(crate) unsafe fn register_raw_buffers(&self, iovecs: &[libc::iovec]) -> io::Result<()> {
        // SAFETY: the caller keeps the memory valid while it is registered, and the registry
        // lives no longer than that (it drops once unregistered and every slice is back).
        unsafe { self.install(Registry::<L>::borrowed(iovecs)) }
    }

    /// A slice of caller-owned registered memory ([`crate::raw::fixed_buf`]).
    pub(crate) fn raw_fixed_buf(
        &self,
        index: usize,
        offset: usize,
        len: usize,
    ) -> io::Result<RawFixedBuf<L>> {
        match self.fixed.lock().as_ref() {
            None => Err(io::Error::from_raw_os_error(libc::ENXIO)),
            Some(r) => RawFixedBuf::share(r, index, offset, len),
        }
    }

    /// Completes a deferred buffer unregister once no lease is out.
    fn finish_unregister(&self) {
        if !self.fixed_draining.is_set() {
            return;
        }
        let mut slot = self.fixed.lock();
        if slot.as_ref().is_some_and(|r| r.leases() == 0) {
            for ring in self.rings.iter() {
                if let Err(e) = ring.unregister_buffers() {
                    log::warn!("auraio: unregistering buffers failed: {e}");
                }
            }
            *slot = None;
            self.fixed_draining.store(false);
        }
    }

    /// A buffer of `len` bytes from the engine's pool, aligned to
    /// [`Options::buffer_alignment`] (4 KiB by default: fit for `O_DIRECT`). It returns to the
    /// pool when dropped, and may outlive the engine.
    ///
    /// # Errors
    ///
    /// `InvalidInput` past 128 MiB; `OutOfMemory` if the allocator fails.
    pub fn alloc_buffer(&self, len: usize) -> io::Result<crate::Buffer<L>> {
        crate::Buffer::new(&self.pool, len)
    }

    /// Statistics of the engine's buffer pool.
    pub fn buffer_stats(&self) -> crate::BufferStats {
        self.pool.stats()
    }

    /// Whether dropping an unfinished future cancels its operation.
    pub(crate) fn cancel_on_drop(&self) -> bool {
        self.cancel_on_drop
    }

    /// Whether a reactor watches [`notify_fd`](Self::notify_fd).
    pub fn notifications(&self) -> bool {
        self.notify.is_set()
    }

    /// This engine's identity (the one its request ids carry).
    pub(crate) fn engine_id(&self) -> u32 {
        self.id
    }

    /// Turns completion notifications on the eventfd ([`notify_fd`](Self::notify_fd)) on or
    /// off. On: every ring signals the eventfd when it posts completions, and futures stop
    /// rescheduling themselves, relying on the reactor that watches the fd to call
    /// [`poll`](Self::poll) when it becomes readable. The `tokio` feature's driver does this.
    pub fn set_notifications(&self, on: bool) {
        self.notify.store(on);
        self.update_eventfd(0);
    }

    /// The engine's eventfd (IORING_REGISTER_EVENTFD on every ring), for reactors: readable
    /// when completions were posted while [notifications](Self::set_notifications) are on.
    /// Drain it (read 8 bytes) and call [`poll`](Self::poll).
    pub fn notify_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.eventfd.as_fd()
    }

    /// Starts a chain of linked operations (IOSQE_IO_LINK): each link starts when the one
    /// before it succeeded; after a failure the rest complete with `ECANCELED`. See
    /// [`Chain`](crate::Chain).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// let path = std::env::temp_dir().join(format!("auraio-chain-doc-{}", std::process::id()));
    /// let file = std::fs::File::create(&path)?;
    /// let fd = file.as_raw_fd();
    /// let engine = auraio::LocalEngine::new()?;
    /// let mut chain = engine.chain();
    /// chain
    ///     .push(auraio::op::Write::new(fd, b"durable".to_vec(), 0), |r, _| assert_eq!(r.unwrap(), 7))?
    ///     .push(auraio::op::Fsync::new(fd), |r, ()| r.map(drop).unwrap())?;
    /// chain.submit()?;
    /// engine.drain(std::time::Duration::from_secs(5))?;
    /// assert_eq!(std::fs::read(&path)?, b"durable");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn chain(&self) -> crate::Chain<'_, P, L, T> {
        crate::Chain::new(self)
    }

    pub(crate) fn submit_chain(
        &self,
        links: Vec<(op::Sqe, Payload, bool, bool)>,
    ) -> io::Result<Vec<RequestId>> {
        if links.is_empty() {
            return Ok(Vec::new());
        }
        let refused = match self.fatal.get() {
            0 if self.shutdown.is_set() => libc::ESHUTDOWN,
            0 => 0,
            e => e as i32,
        };
        if refused != 0 {
            let _scope = CallbackScope::enter(self.addr());
            for (_, payload, _, _) in links {
                payload.complete(-refused);
            }
            return Err(io::Error::from_raw_os_error(refused));
        }
        let ring = <P as crate::policy::sealed::Sealed>::pick(&self.rings, &self.selector);
        let ids = self.rings[ring].push_chain(links, &self.fatal);
        if L::MULTI_THREAD {
            self.after_push(&self.rings[ring]);
        }
        Ok(ids
            .into_iter()
            .map(|user_data| RequestId {
                engine: self.id,
                ring: ring as u32,
                user_data,
            })
            .collect())
    }

    /// Multi-thread submissions: a poller blocked in the kernel or on the eventfd does not see
    /// SQEs pushed after it flushed, so the submitter flushes them itself; a poller idle in
    /// `run` is woken. The fence pairs with the one the poller makes after raising `blocked`
    /// (or `idle`) and before it flushes (or looks at `pending`): of the two, at least one
    /// sees the other's write (the SQE in the poller's flush, or the flag here).
    #[inline]
    fn after_push(&self, ring: &Ring<L>) {
        if handoff::announced::<L>(&self.blocked) {
            ring.kick(&self.fatal);
        }
        if self.idle.is_set() {
            self.wake();
        }
    }

    /// Wakes a poller sleeping in [`run`](Self::run) with nothing in flight.
    fn wake(&self) {
        write_one(&self.eventfd);
    }

    /// Whether this thread holds the poll lock (it is running one of this engine's callbacks,
    /// possibly through other engines' callbacks).
    #[inline]
    fn is_poller(&self) -> bool {
        self.poll_owner.get() == thread_token()
    }

    fn own_poll<'a>(&'a self, lock: <L::Lock<()> as RingLock<()>>::Guard<'a>) -> PollGuard<'a, L> {
        self.poll_owner.set(thread_token());
        PollGuard {
            _lock: lock,
            owner: &self.poll_owner,
        }
    }

    /// Takes the poll lock, blocking; `Deadlock` if this thread holds it already.
    fn lock_poll(&self) -> io::Result<PollGuard<'_, L>> {
        if self.is_poller() {
            return Err(deadlock());
        }
        Ok(self.own_poll(self.poll_lock.lock()))
    }

    /// Processes the completions that are ready, without blocking; submits queued SQEs.
    /// Returns the number of callbacks run.
    ///
    /// In multi-thread mode, if another thread is polling this returns `Ok(0)` at once, after
    /// asking that poller to poll once more before it lets go of the engine: so a completion
    /// that made this call's caller poll (a reactor's eventfd wake-up, say) is never left in a
    /// completion queue with nobody to reap it.
    ///
    /// # Errors
    ///
    /// The engine's latched fatal error, once the requests the kernel holds have completed;
    /// `Deadlock` when called on a thread that is running this engine's callbacks.
    ///
    /// # Panics
    ///
    /// A panicking callback's panic is resumed here, after every other completion of its batch
    /// was delivered.
    pub fn poll(&self) -> io::Result<usize> {
        if self.is_poller() {
            return Err(deadlock());
        }
        let mut n = 0;
        let polled = handoff::poll::<L, _>(
            &self.repoll,
            || self.poll_lock.try_lock().map(|g| self.own_poll(g)),
            || {
                // A panicking callback still gets the round finished (what earlier callbacks
                // submitted is flushed) before its panic goes on.
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    n += self.kick_and_reap();
                }));
                self.after_round();
                if let Err(p) = r {
                    std::panic::resume_unwind(p);
                }
            },
        );
        if !polled {
            // Another thread polls, and may be past its flush: submit what waits in the SQs
            // (submission needs only the ring locks). If that poller sleeps on the eventfd,
            // this thread may have drained the very signal that would wake it (a reactor):
            // wake it (announce/announced pairing: it sees the completion, or this sees it
            // blocked).
            self.flush();
            if handoff::announced::<L>(&self.eventfd_sleeper) {
                write_one(&self.waiter_fd);
            }
            return Ok(0);
        }
        self.check_fatal(n)
    }

    /// Poll for a future awaited on the thread that is already polling this engine (inside
    /// one of its callbacks): reaps and runs completions nested in the running callback, so the
    /// future can still resolve instead of waiting for a poller that is waiting for it. Returns
    /// `None` when this thread is not the poller (poll normally then).
    pub(crate) fn poll_nested(&self) -> Option<usize> {
        if !self.is_poller() {
            return None;
        }
        let mut n = 0;
        // First the rest of the batches of this engine being run up this thread's stack: the
        // awaited completion may have left the CQ already, in one of them.
        let mut node = RUNNING_BATCH.with(|r| r.get());
        while !node.is_null() {
            // SAFETY: a linked node lives in the frame of a `run_callbacks` further up this
            // thread's stack (it is unlinked before that frame ends), so it is valid here.
            let n_ref = unsafe { &*node };
            if n_ref.engine == self.addr() {
                // SAFETY: the node's batch is a live local of that same frame, reached there
                // only through this pointer, never through a reference held across this call.
                n += unsafe { Batch::run_raw(n_ref.batch) };
            }
            node = n_ref.outer;
        }
        n += self.kick_and_reap();
        self.flush();
        Some(n)
    }

    /// Enters the kernel on every ring that needs it (queued SQEs, pending task work), and
    /// reaps every ring. Returns the callbacks run.
    fn kick_and_reap(&self) -> usize {
        let mut n = 0;
        for ring in self.rings.iter() {
            if ring.needs_enter() {
                ring.kick(&self.fatal);
            }
            n += self.reap(ring);
        }
        n
    }

    /// What every poll round ends with: submits what reaping left queued, ticks the
    /// controllers, finishes a deferred unregister.
    fn after_round(&self) {
        self.flush();
        self.maybe_tick();
        self.finish_unregister();
        let fatal = self.fatal.get();
        if fatal != 0 {
            self.abandon_all(fatal as i32);
        }
    }

    /// Submits what reaping left in the SQs: requests refilled from a backlog and those that
    /// callbacks submitted. Nothing may stay queued when a poll or wait returns, or a caller
    /// that sleeps on the eventfd would wait for completions of requests never submitted.
    pub(crate) fn flush(&self) {
        for ring in self.rings.iter() {
            if ring.needs_enter() {
                ring.kick(&self.fatal);
            }
        }
    }

    /// Marks the poller as (about to be) blocked in the kernel; see `after_push`.
    fn set_blocked(&self, on: bool) {
        if L::MULTI_THREAD {
            handoff::announce::<L>(&self.blocked, on);
        }
    }

    /// Runs the controllers when a tick interval has passed. Ticks are driven by whoever holds
    /// the poll lock: a single-thread engine needs no thread, and a multi-thread engine needs
    /// none either, since only a poller reaps the completions a tick measures.
    fn maybe_tick(&self) {
        let now = sys::now_ns();
        if now < self.next_tick_ns.get() {
            return;
        }
        self.next_tick_ns
            .set(now + u64::from(T::TICK_MS) * 1_000_000);
        for (i, (ring, tuner)) in self.rings.iter().zip(self.tuners.iter()).enumerate() {
            let mut t = tuner.lock();
            let elapsed = now.saturating_sub(t.last_ns);
            let t = &mut *t;
            let Some(snap) = ring.tick_snapshot(|samples, ops, pending| {
                let held = ops == t.check_ops && pending > 0;
                if held {
                    t.hold_ns += now.saturating_sub(t.check_ns);
                }
                t.check_ops = ops;
                t.check_ns = now;
                defer_tick::<T>(samples, elapsed, held)
            }) else {
                continue;
            };
            let input = TickInput {
                elapsed_ns: elapsed,
                completions: snap.ops - t.last.ops,
                bytes: snap.bytes - t.last.bytes,
                samples: snap.samples,
                p99_ns: snap.p99_ns,
                mean_ns: snap.mean_ns,
                pending: snap.pending,
                in_flight_sum: snap.in_flight_sum,
                in_flight_samples: snap.in_flight_samples,
                submits: snap.submits - t.last.submits,
                sqes: snap.sqes - t.last.sqes,
                hold_ns: std::mem::take(&mut t.hold_ns),
            };
            t.last = snap;
            t.last_ns = now;
            log::trace!(
                "ring {i}: tick {} us, {} completions, {} samples, mean {} us, p99 {} us, pending {}",
                input.elapsed_ns / 1000,
                input.completions,
                input.samples,
                input.mean_ns / 1000,
                input.p99_ns / 1000,
                input.pending
            );
            let before = t.controller.decision();
            let d = t.controller.tick(&input);
            if (d.limit, d.phase) != (before.limit, before.phase)
                && log::log_enabled!(log::Level::Debug)
            {
                let s = t.controller.stats();
                log::debug!(
                    "ring {i}: {} limit {} -> {} {} (window {:.0} ops/s, mean {:.1} us, {} ms)",
                    before.phase,
                    before.limit,
                    d.limit,
                    d.phase,
                    s.window_ops_per_sec,
                    s.window_mean_ns / 1e3,
                    s.window_ns / 1_000_000
                );
            }
            ring.apply(d.limit, d.batch_threshold, &self.fatal);
        }
    }

    /// Submits queued SQEs and blocks until at least one completion was processed, `timeout`
    /// passed (`None`: no bound), or nothing is pending. Returns the number of callbacks run.
    ///
    /// # Errors
    ///
    /// As for [`poll`](Self::poll).
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<usize> {
        self.holding_poll(|| self.wait_locked(timeout))
    }

    /// Runs `f` holding the poll lock, then lets go through `release_poll`, also when a
    /// callback inside `f` panics (what it left queued is flushed, and a poll refused
    /// meanwhile still happens), after which the panic goes on.
    fn holding_poll(&self, f: impl FnOnce() -> io::Result<usize>) -> io::Result<usize> {
        let g = self.lock_poll()?;
        self.holding(g, f)
    }

    /// As [`wait`](Self::wait), unless another thread holds the poll (a `run`, a `drain`,
    /// another `wait`): then `None` at once, and that thread reaps, and runs the callbacks,
    /// for this one.
    pub(crate) fn wait_unless_busy(&self, timeout: Option<Duration>) -> Option<io::Result<usize>> {
        if self.is_poller() {
            return Some(Err(deadlock()));
        }
        let g = self.own_poll(self.poll_lock.try_lock()?);
        Some(self.holding(g, || self.wait_locked(timeout)))
    }

    /// Runs `f` with the poll lock `g` held; see [`holding_poll`](Self::holding_poll).
    fn holding(
        &self,
        g: PollGuard<'_, L>,
        f: impl FnOnce() -> io::Result<usize>,
    ) -> io::Result<usize> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(n) => self.release_poll(g, n),
            Err(p) => {
                self.flush();
                let _ = self.release_poll(g, Ok(0));
                std::panic::resume_unwind(p)
            }
        }
    }

    /// Lets go of the poll lock; then, if a poll found it taken meanwhile, polls for it (the
    /// completion that made it poll may have been posted after this holder's last reap).
    fn release_poll(&self, guard: PollGuard<'_, L>, n: io::Result<usize>) -> io::Result<usize> {
        drop(guard);
        if handoff::must_repoll::<L>(&self.repoll) {
            let more = self.poll()?;
            return n.map(|n| n + more);
        }
        n
    }

    fn wait_locked(&self, timeout: Option<Duration>) -> io::Result<usize> {
        let mut n = 0;
        for ring in self.rings.iter() {
            n += self.reap(ring);
        }
        if n > 0 {
            self.after_round();
            return self.check_fatal(n);
        }
        if self.fatal.get() != 0 {
            // Only what the kernel holds can still complete; a wait with nothing there would
            // never return.
            let k = self.abandon_all(self.fatal.get() as i32);
            if k > 0 || self.rings.iter().all(|r| r.in_kernel() == 0) {
                return self.check_fatal(n + k);
            }
        }
        let mut busy = 0;
        let mut only = 0;
        for (i, ring) in self.rings.iter().enumerate() {
            if ring.pending() > 0 {
                busy += 1;
                only = i;
            }
        }
        // A multi-thread engine with several rings always waits on the eventfd they share:
        // another thread may submit to a ring that was idle when this wait began, and a wait in
        // one ring's io_uring_enter would not wake for it.
        let one_ring = self.rings.len() == 1 || (!L::MULTI_THREAD && busy == 1);
        if busy == 0 {
            return self.check_fatal(0);
        }
        // The wait wakes at every tick while nothing completes, so the controllers see a
        // throttle's hold (requests pending, nothing completing) as it happens: a wait that
        // slept through it would hand them one long tick that completed requests, and no
        // window could align to the throttle's cycles.
        // One clock for the deadline and the ticks; a timeout past its range (`Duration::MAX`)
        // saturates: no bound.
        let deadline_ns = timeout
            .map(|t| sys::now_ns().saturating_add(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)));
        // A fatal error latched before this wait has been dealt with above; only a new one
        // ends the wait early.
        let fatal_before = self.fatal.get();
        self.set_blocked(true);
        let r = loop {
            let now = sys::now_ns();
            let to_tick =
                Duration::from_nanos(self.next_tick_ns.get().saturating_sub(now).max(1_000_000));
            let left = deadline_ns.map(|d| Duration::from_nanos(d.saturating_sub(now)));
            let slice = left.map_or(to_tick, |l| l.min(to_tick));
            let r = if one_ring {
                self.wait_one(&self.rings[only], Some(slice));
                Ok(())
            } else {
                self.wait_any(Some(slice))
            };
            let done = r.is_err()
                || left.is_some_and(|l| l <= slice)
                || self.fatal.get() != fatal_before
                || self.pending() == 0
                || self.rings.iter().any(|ring| ring.ready());
            if done {
                break r;
            }
            self.maybe_tick();
            if self.fatal.get() != fatal_before {
                break Ok(());
            }
        };
        self.set_blocked(false);
        r?;
        for ring in self.rings.iter() {
            n += self.reap(ring);
        }
        self.after_round();
        self.check_fatal(n)
    }

    /// Waits on the one ring with work. Spins first (up to the spin budget) unless recent
    /// spins failed, then submits and sleeps in one syscall.
    ///
    /// The spin adapts like an adaptive mutex: a spin that sees a completion keeps spinning on;
    /// one that times out skips spinning for the next 1, 2, 4 … 1024 waits, then tries again,
    /// so a slow device costs at most one wasted budget per 1024 waits.
    fn wait_one(&self, ring: &Ring<L>, timeout: Option<Duration>) {
        let skip = self.spin_skip.get();
        if self.spin_ns == 0 || skip > 0 {
            self.spin_skip.set(skip.saturating_sub(1));
            let _ = ring.enter_wait(1, timeout, &self.fatal);
            return;
        }
        if ring.needs_enter() {
            ring.kick(&self.fatal);
        }
        let start = Instant::now();
        let budget = Duration::from_nanos(self.spin_ns);
        let limit = timeout.map_or(budget, |t| t.min(budget));
        loop {
            if ring.ready() {
                self.spin_backoff.set(0);
                // Run the task work the spin saw (DEFER_TASKRUN posts completions only then).
                if ring.needs_enter() {
                    ring.kick(&self.fatal);
                }
                return;
            }
            let spent = start.elapsed();
            if spent >= limit {
                let backoff = (self.spin_backoff.get() * 2).clamp(1, MAX_SPIN_BACKOFF);
                self.spin_backoff.set(backoff);
                self.spin_skip.set(backoff);
                let rest = timeout.map(|t| t.saturating_sub(spent));
                let _ = ring.enter_wait(1, rest, &self.fatal);
                return;
            }
            std::hint::spin_loop();
        }
    }

    /// Turns the rings' eventfd signalling on or off to match who needs it: a reactor
    /// (`notify`) or a waiter in `wait_any`. One lock orders every change, so a waiter that
    /// leaves never turns off what a reactor just turned on.
    fn update_eventfd(&self, waiters_delta: i32) {
        let mut w = self.eventfd_waiters.lock();
        *w = w.saturating_add_signed(waiters_delta);
        let on = *w > 0 || self.notify.is_set();
        for ring in self.rings.iter() {
            ring.set_eventfd(on);
        }
    }

    /// Blocks until any ring posts a completion, through the eventfd all rings share.
    fn wait_any(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.update_eventfd(1);
        handoff::announce::<L>(&self.eventfd_sleeper, true);
        self.flush();
        // A completion posted before notifications were on did not signal: look once more.
        let ready = self.rings.iter().any(|r| r.ready());
        let r = if ready {
            Ok(true)
        } else {
            sys::wait_readable_any(&[&self.eventfd, &self.waiter_fd], timeout)
        };
        handoff::announce::<L>(&self.eventfd_sleeper, false);
        self.update_eventfd(-1);
        sys::eventfd_drain(&self.eventfd);
        sys::eventfd_drain(&self.waiter_fd);
        r.map(drop)
    }

    /// Runs callbacks until [`stop`](Self::stop) is called. With nothing in flight the thread
    /// sleeps (a new submission wakes it).
    ///
    /// # Errors
    ///
    /// As for [`poll`](Self::poll).
    pub fn run(&self) -> io::Result<()> {
        // `stop` is taken down before the poll lock is let go, so a `stop` meant for a later
        // `run` is never lost to this one.
        self.holding_poll(|| {
            let r = self.run_rounds();
            self.stop.store(false);
            r
        })
        .map(drop)
    }

    /// The rounds of [`run`](Self::run), until `stop` or an error.
    fn run_rounds(&self) -> io::Result<usize> {
        let tick = Duration::from_millis(u64::from(T::TICK_MS));
        while !self.stop.is_set() {
            if self.pending() == 0 {
                // Pairs with `after_push`: a submitter either sees `idle` and wakes this
                // thread, or this sees its request in `pending`.
                handoff::announce::<L>(&self.idle, true);
                if self.pending() == 0 && !self.stop.is_set() {
                    let _ = sys::wait_readable(&self.eventfd, Some(tick));
                    sys::eventfd_drain(&self.eventfd);
                }
                self.idle.store(false);
            }
            self.wait_locked(Some(tick))?;
        }
        Ok(0)
    }

    /// Makes [`run`](Self::run) return after its current round; callable from a callback or,
    /// in multi-thread mode, from any thread.
    pub fn stop(&self) {
        self.stop.store(true);
        self.wake();
    }

    /// Processes completions until nothing is pending or `timeout` passes. Returns the number
    /// of callbacks run. `Duration::MAX` (or any timeout past the clock's range) waits
    /// without a bound.
    ///
    /// # Errors
    ///
    /// `TimedOut` if requests remain after `timeout`; otherwise as for [`poll`](Self::poll).
    pub fn drain(&self, timeout: Duration) -> io::Result<usize> {
        let deadline = Instant::now().checked_add(timeout);
        self.holding_poll(|| {
            let mut n = 0;
            while self.pending() > 0 {
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                if left.is_some_and(|l| l.is_zero()) {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "auraio: {} requests still pending after drain timeout",
                            self.pending()
                        ),
                    ));
                }
                let step = Duration::from_millis(100);
                n += self.wait_locked(Some(left.map_or(step, |l| l.min(step))))?;
            }
            self.check_fatal(n)
        })
    }

    /// Requests accepted and not yet completed, all rings (including backlogs).
    pub fn pending(&self) -> u64 {
        self.rings.iter().map(|r| r.pending()).sum()
    }

    /// Sum of the rings' current in-flight limits: a lock-free read, cheap enough for a
    /// submission loop that keeps exactly as many requests outstanding as the engine admits
    /// (so none wait in a backlog).
    #[inline]
    pub fn in_flight_limit(&self) -> u64 {
        self.rings.iter().map(|r| r.limit.get()).sum()
    }

    /// Most links a [`Chain`](crate::Chain) may have on this engine:
    /// [`MAX_CHAIN`](crate::MAX_CHAIN), or fewer when a ring's submission queue or in-flight
    /// maximum is smaller (a chain enters the SQ whole and counts whole against the in-flight
    /// limit).
    pub fn max_chain(&self) -> usize {
        self.max_chain
    }

    /// Number of rings.
    pub fn ring_count(&self) -> usize {
        self.rings.len()
    }

    /// Setup flags ring `i` ended up with.
    ///
    /// # Panics
    ///
    /// If `i >= ring_count()`.
    pub fn ring_features(&self, i: usize) -> RingFeatures {
        self.rings[i].features()
    }

    /// Alignment of buffers the engine allocates ([`Options::buffer_alignment`]).
    pub fn buffer_alignment(&self) -> usize {
        self.alignment
    }

    /// Cancels a request (IORING_OP_ASYNC_CANCEL). Its callback then runs with `ECANCELED`,
    /// or with its real result if it finished first; either way exactly once, with its
    /// buffer. A request still in the backlog never reaches the kernel: its callback runs
    /// with `ECANCELED` inside this call (on the calling thread).
    ///
    /// # Errors
    ///
    /// `ENOENT` if `id` names no pending request (it completed, or was never this engine's:
    /// ids are generation-checked and carry their engine, so a stale id or another engine's
    /// cannot cancel anything here); `InvalidInput` for a ring index out of range. When the
    /// ring's reserve of completion-queue room for cancels is in use, the cancel waits and
    /// goes out as earlier cancels complete: it is never refused or lost.
    pub fn cancel(&self, id: RequestId) -> io::Result<()> {
        if id.engine != self.id {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        let ring = self.ring(id.ring())?;
        let mut batch = Batch::new();
        let r = ring.cancel(id.user_data, &mut batch, &self.fatal);
        if r.is_ok() {
            // Completed without the kernel (backlogged): run the callback now.
            self.run_callbacks(&mut batch);
        }
        r
    }

    /// Whether `id` names a request not yet completed.
    pub fn is_pending(&self, id: RequestId) -> bool {
        id.engine == self.id
            && self
                .rings
                .get(id.ring())
                .is_some_and(|r| r.is_live(id.user_data))
    }

    /// Static mode: sets every ring's in-flight limit and turns adaptation off (until
    /// [`set_adaptive(true)`](Self::set_adaptive)). Requests beyond the limit wait in the
    /// ring's backlog and go out as completions make room.
    ///
    /// # Errors
    ///
    /// `InvalidInput` unless `1 <= n <=` the rings' maximum (the tuning's `MAX_IN_FLIGHT`,
    /// capped by the completion queue size).
    pub fn set_in_flight_limit(&self, n: u32) -> io::Result<()> {
        for i in 0..self.rings.len() {
            self.set_ring_in_flight_limit(i, n)?;
        }
        Ok(())
    }

    /// Static mode for one ring: sets its in-flight limit, adaptation off on that ring.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a ring index out of range or a limit outside 1..=the ring's maximum.
    pub fn set_ring_in_flight_limit(&self, ring: usize, n: u32) -> io::Result<()> {
        let r = self.ring(ring)?;
        if n == 0 || n > r.max_limit() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "auraio: in_flight_limit must be between 1 and {} (got {n})",
                    r.max_limit()
                ),
            ));
        }
        self.tuners[ring].lock().controller.set_static(n);
        r.set_limit(n, &self.fatal);
        Ok(())
    }

    fn ring(&self, i: usize) -> io::Result<&Ring<L>> {
        self.rings.get(i).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "auraio: ring {i} out of range (engine has {})",
                    self.rings.len()
                ),
            )
        })
    }

    /// Applies `f` to every ring's controller, then the controller's decision to the ring.
    fn control(&self, f: impl Fn(&mut Controller<T>)) {
        for (ring, tuner) in self.rings.iter().zip(self.tuners.iter()) {
            let mut t = tuner.lock();
            f(&mut t.controller);
            let d = t.controller.decision();
            ring.apply(d.limit, d.batch_threshold, &self.fatal);
        }
    }

    /// Turns adaptation on (every ring starts a new search from its current limit) or off
    /// (every ring holds its current limit).
    pub fn set_adaptive(&self, on: bool) {
        self.control(|c| c.set_adaptive(on));
    }

    /// Sets a P99 ceiling (`None` removes it): the controllers keep each ring's P99 at or under
    /// it, using the headroom below it for depth. Starts a new search.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    pub fn set_max_p99(&self, target: Option<Duration>) -> io::Result<()> {
        let ns = match target {
            None => 0,
            Some(t) if t.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "auraio: max_p99 must be greater than zero",
                ))
            }
            Some(t) => t.as_nanos().min(u128::from(u64::MAX)) as u64,
        };
        self.control(|c| c.set_target_p99(ns));
        Ok(())
    }

    /// Sets the lowest in-flight limit the controllers use (clamped to the rings' maximum).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for 0.
    pub fn set_min_in_flight(&self, n: u32) -> io::Result<()> {
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "auraio: min_in_flight must be at least 1",
            ));
        }
        self.control(|c| c.set_min_limit(n));
        Ok(())
    }

    /// Sets the highest in-flight limit the controllers use (clamped to the rings' maximum);
    /// a ring above it drops to it at once and searches again from there. Static limits
    /// ([`set_in_flight_limit`](Self::set_in_flight_limit)) are not bounded by it.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for 0.
    pub fn set_max_in_flight(&self, n: u32) -> io::Result<()> {
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "auraio: max_in_flight must be at least 1",
            ));
        }
        self.control(|c| c.set_max_limit(n));
        Ok(())
    }

    /// Turns [`Options::async_issue`] on or off for the requests submitted from now on (those
    /// in flight keep how they were issued).
    pub fn set_async_issue(&self, on: bool) {
        self.async_issue
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether requests are issued from io-wq ([`Options::async_issue`]).
    pub fn async_issue(&self) -> bool {
        self.async_issue.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Pins every ring's batch threshold (SQEs gathered before a submit syscall), or with
    /// `None` returns it to automatic tuning.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(0)`.
    pub fn set_batch_threshold(&self, n: Option<u32>) -> io::Result<()> {
        if n == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "auraio: batch_threshold must be at least 1",
            ));
        }
        self.control(|c| c.pin_batch(n));
        Ok(())
    }

    /// Ring `i`'s statistics, including its controller's.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a ring index out of range.
    pub fn ring_stats(&self, i: usize) -> io::Result<RingStats> {
        let mut s = self.ring(i)?.stats();
        let c = self.tuners[i].lock().controller.stats();
        s.phase = c.phase.unwrap_or(Phase::Baseline);
        s.p99_ns = c.p99_ns;
        s.baseline_p99_ns = c.baseline_p99_ns;
        s.ops_per_sec = c.ops_per_sec;
        s.bytes_per_sec = c.bytes_per_sec;
        s.reprobes = c.reprobes;
        s.adaptive = c.adaptive;
        s.target_p99_ns = c.target_p99_ns;
        s.ticks_to_converge = c.ticks_to_converge;
        s.window_ops_per_sec = c.window_ops_per_sec;
        s.window_mean_ns = c.window_mean_ns;
        s.window_ns = c.window_ns;
        Ok(s)
    }

    /// Ring `i`'s latency histograms: `(last window, cumulative since creation)`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a ring index out of range.
    pub fn histogram(&self, i: usize) -> io::Result<(Histogram, Histogram)> {
        Ok(self.ring(i)?.histograms())
    }

    /// A snapshot of the engine's counters.
    pub fn stats(&self) -> Stats {
        let rings: Vec<RingStats> = (0..self.rings.len())
            .map(|i| self.ring_stats(i).expect("index in range"))
            .collect();
        Stats {
            ops_completed: rings.iter().map(|r| r.ops_completed).sum(),
            ops_failed: rings.iter().map(|r| r.ops_failed).sum(),
            bytes_transferred: rings.iter().map(|r| r.bytes_transferred).sum(),
            in_flight: rings.iter().map(|r| u64::from(r.in_flight)).sum(),
            backlog: rings.iter().map(|r| u64::from(r.backlog)).sum(),
            adaptive_spills: self.selector.spills(),
            rings,
        }
    }

    /// The latched fatal error, if any.
    pub fn fatal_error(&self) -> Option<io::Error> {
        match self.fatal.get() {
            0 => None,
            e => Some(io::Error::from_raw_os_error(e as i32)),
        }
    }

    /// A multi-line description of the engine's state: per ring the requests in flight and in
    /// the backlog, the SQ and CQ occupancy and flags (pending task work, overflow, eventfd),
    /// and the engine's flags. For a program that detects a hang and reports it; never blocks
    /// (a lock held elsewhere is reported as such).
    pub fn state_dump(&self) -> String {
        let mut out = format!(
            "auraio engine {}: pending {}, fatal {}, shutdown {}, poller blocked {}, run idle {}, notifications {}, poll lock {}\n",
            Self::preset_name(),
            self.pending(),
            self.fatal.get(),
            self.shutdown.is_set(),
            self.blocked.is_set(),
            self.idle.is_set(),
            self.notify.is_set(),
            if self.poll_lock.try_lock().is_some() { "free" } else { "held" },
        );
        for (i, ring) in self.rings.iter().enumerate() {
            out.push_str(&format!("  ring {i}: {}\n", ring.dump()));
        }
        out
    }

    /// Whether this thread is running this engine's callbacks (inside its poll, or inside a
    /// cancel or refused chain that completes requests itself).
    pub(crate) fn in_own_callbacks(&self) -> bool {
        self.is_poller() || IN_CALLBACKS.with(|c| c.get()) == self.addr()
    }

    fn addr(&self) -> usize {
        self as *const Self as usize
    }

    /// Runs a batch's callbacks with this thread marked as inside this engine's callbacks.
    fn run_callbacks(&self, batch: &mut Batch) -> usize {
        let _scope = CallbackScope::enter(self.addr());
        let this: *mut Batch = batch;
        let node = RunningBatch {
            engine: self.addr(),
            batch: this,
            outer: RUNNING_BATCH.with(|r| r.get()),
        };
        RUNNING_BATCH.with(|r| r.set(&node));
        let _unlink = Unlink(node.outer);
        // SAFETY: `batch` is live and exclusively ours for this call; from here on it is only
        // reached through `this` (here, or by `poll_nested` from one of its callbacks on this
        // thread, while `node` is linked: it is unlinked before this frame ends).
        unsafe { Batch::run_raw(this) }
    }

    /// Reaps a ring's completions batch by batch, running callbacks between batches.
    fn reap(&self, ring: &Ring<L>) -> usize {
        let mut total = 0;
        let mut batch = Batch::new();
        loop {
            let got = ring.reap(&mut batch, &self.fatal);
            if got == 0 {
                break;
            }
            self.run_callbacks(&mut batch);
            total += got;
            if got < BATCH {
                break;
            }
        }
        total
    }

    /// Reports the latched fatal error once the kernel holds nothing more of ours (the
    /// requests it never got were completed with it by `after_round`).
    fn check_fatal(&self, n: usize) -> io::Result<usize> {
        let fatal = self.fatal.get();
        if fatal != 0 && self.rings.iter().all(|r| r.in_kernel() == 0) {
            return Err(io::Error::from_raw_os_error(fatal as i32));
        }
        Ok(n)
    }

    /// After a fatal error: completes, with that error, every request the kernel never got
    /// (queued in an SQ that will not be submitted again, or backlogged), so no callback or
    /// future waits forever. Runs under the poll lock, like every other completion.
    fn abandon_all(&self, errno: i32) -> usize {
        let mut n = 0;
        for ring in self.rings.iter() {
            loop {
                let mut batch = Batch::new();
                if ring.abandon(&mut batch, errno) == 0 {
                    break;
                }
                n += self.run_callbacks(&mut batch);
            }
        }
        n
    }
}

impl<P: Policy, L: LockMode, T: Tuning> Drop for Engine<P, L, T> {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl<P: Policy, L: LockMode, T: Tuning> Engine<P, L, T> {
    /// What dropping the engine does, through a shared reference: refuses new submissions,
    /// drains (cancelling what stalls), completes the backlog with ECANCELED. The C ABI's
    /// destroy calls it before freeing, so that callbacks run while only shared references to
    /// the engine exist. Idempotent.
    pub(crate) fn shut_down(&self) {
        self.shutdown.store(true);
        if self.is_poller() {
            // Only the C ABI can get here (a callback destroying its engine), and it refuses
            // that before; never block on this thread's own lock.
            return;
        }
        let _g = self.own_poll(self.poll_lock.lock());
        if self.drained.is_set() {
            return;
        }
        let start = Instant::now();
        // A timeout past the clock's range (Duration::MAX) means no bound.
        let deadline = start.checked_add(self.drain_timeout);
        let mut progress = start;
        // A callback that panics while the engine drains must not cost the remaining requests
        // their callbacks: the drain goes on, and the first panic is resumed at the end.
        let mut panic = None;
        while self.pending() > 0 {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                log::warn!(
                    "auraio: engine dropped with {} requests pending after the {:?} drain timeout",
                    self.pending(),
                    self.drain_timeout
                );
                break;
            }
            if self.fatal.get() != 0 && self.rings.iter().all(|r| r.in_kernel() == 0) {
                break;
            }
            if now.duration_since(progress) >= DROP_STALL {
                // Stuck requests (an empty pipe, a hung server) are cancelled; backlogged ones
                // then get their turn, and are cancelled in turn only if they stall too.
                log::info!(
                    "auraio: engine dropped with {} requests making no progress for {:?}: cancelling them",
                    self.pending(),
                    DROP_STALL
                );
                progress = now;
                for ring in self.rings.iter() {
                    ring.cancel_in_kernel();
                }
            }
            let step = deadline.map_or(Duration::from_millis(50), |d| {
                (d - now).min(Duration::from_millis(50))
            });
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.wait_locked(Some(step))
            })) {
                Ok(Ok(n)) if n > 0 => progress = Instant::now(),
                Ok(_) => {}
                Err(p) => {
                    panic.get_or_insert(p);
                }
            }
        }
        // Requests the kernel never saw are safe to complete; the rings then leak whatever the
        // kernel still holds, never freeing memory under it.
        if self.fatal.get() != 0 {
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.abandon_all(self.fatal.get() as i32)
            })) {
                panic.get_or_insert(p);
            }
        }
        for ring in self.rings.iter() {
            loop {
                let mut batch = Batch::new();
                ring.cancel_backlog(&mut batch);
                if batch.is_empty() {
                    break;
                }
                // Every entry of the batch is consumed whether or not a callback panics, so
                // this loop always progresses.
                if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.run_callbacks(&mut batch)
                })) {
                    panic.get_or_insert(p);
                }
            }
        }
        self.drained.store(true);
        if let Some(p) = panic {
            if !std::thread::panicking() {
                std::panic::resume_unwind(p);
            }
        }
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
        self.eventfd.as_raw_fd()
    }
}

impl<P: Policy, L: LockMode, T: Tuning> std::fmt::Debug for Engine<P, L, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("preset", &Self::preset_name())
            .field("rings", &self.rings.len())
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

/// Generator: the engine's callback method for each entry of the op table.
macro_rules! engine_methods {
    ($(
        $(#[$doc:meta])*
        $method:ident $(<$g:ident : $bound:ident>)? ( $($arg:ident : $aty:ty),* ) -> $out:ty {
            op $Op:ident { $($extra:ident : $ety:ty),* };
            direction $dir:ident;
            code $Code:ident;
            fixed_file $fixed:literal;
            future $fut:ident;
            sqe($s:ident) = $sqe:expr;
            $(complete($c:ident, $cn:ident) = $complete:expr;)?
            output($o:ident) = $output:expr;
        }
    )*) => {
        impl<P: Policy, L: LockMode, T: Tuning> Engine<P, L, T> {$(
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
        )*}
    };
}

crate::__op_table!(engine_methods);
