//! One io_uring instance: its request slots, its in-flight limit and backlog, batching, and
//! completion reaping.
//!
//! The ring's mutable state sits behind the lock mode's lock ([`LockMode::Lock`]); the kernel
//! rings' submission and completion views are only created while that lock is held, which is
//! what makes the `*_shared` accessors of `io-uring` sound here. User code (callbacks, buffer
//! and closure drops) never runs under the lock: completions are moved out into a [`Batch`]
//! and run after it is released, so callbacks may submit again.

use std::collections::VecDeque;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use io_uring::types::{CancelBuilder, SubmitArgs, Timespec};
use io_uring::IoUring;

use crate::histogram::Histogram;
use crate::lock::{Counter, LockMode, RingLock};
use crate::op::Sqe;
use crate::sys;

pub(crate) mod slab;
mod sq_ids;

use slab::{Payload, Slab};
use sq_ids::SqIds;

/// Completions moved out of a ring per lock hold.
pub(crate) const BATCH: usize = 32;

/// Most links in one chain.
pub const MAX_CHAIN: usize = 16;

/// user_data of the engine's own requests, whose completions carry no payload.
pub(crate) const INTERNAL_USER_DATA: u64 = u64::MAX;

/// How a ring is set up.
#[derive(Debug, Clone)]
pub(crate) struct RingConfig {
    pub queue_depth: u32,
    pub initial_limit: u32,
    pub max_limit: u32,
    pub batch_threshold: u32,
    pub sqpoll: Option<u32>,
    /// Completions are reaped by the submitting thread only (single-thread engines): enables
    /// SINGLE_ISSUER and, with one ring, DEFER_TASKRUN.
    pub single_issuer: bool,
    pub only_ring: bool,
    /// Latency is sampled on 1 in 2^`sample_shift` data operations.
    pub sample_shift: u32,
    /// Ask for COOP_TASKRUN (see `Options::coop_taskrun`).
    pub coop_taskrun: bool,
}

/// Setup flags a ring ended up with after probing the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingFeatures {
    /// A kernel thread polls the submission queue.
    pub sqpoll: bool,
    /// IORING_SETUP_COOP_TASKRUN (+ TASKRUN_FLAG): completions are not signalled by interrupt;
    /// the engine enters the kernel whenever the SQ ring says task work is pending.
    pub coop_taskrun: bool,
    /// IORING_SETUP_SINGLE_ISSUER.
    pub single_issuer: bool,
    /// IORING_SETUP_DEFER_TASKRUN: completion work runs only when the engine waits or polls.
    pub defer_taskrun: bool,
}

/// A backlogged submission: one request, or a linked chain that must enter the SQ whole and
/// contiguous (flushing part of a chain would let the kernel link its tail to whatever came
/// next, or run it unlinked).
enum Pending {
    One(Sqe),
    Chain(Box<[Sqe]>),
}

impl Pending {
    fn user_data(&self) -> impl Iterator<Item = u64> + '_ {
        let s: &[Sqe] = match self {
            Pending::One(e) => std::slice::from_ref(e),
            Pending::Chain(c) => c,
        };
        s.iter().map(|e| e.get_user_data())
    }
}

/// A ring's mutable state, under the ring lock.
pub(crate) struct RingState {
    slab: Slab,
    backlog: VecDeque<Pending>,
    /// Requests in the backlog (a chain counts each of its links).
    backlog_ops: usize,
    /// Requests in the SQ or in the kernel (the backlog is not counted).
    in_flight: u32,
    /// The engine's own requests (cancels) in the SQ or in the kernel.
    internal: u32,
    /// Requests (anywhere: backlog, SQ, kernel) that use a registered file slot.
    fixed_pending: u32,
    /// Files are to be unregistered once `fixed_pending` reaches 0.
    unregister_deferred: bool,
    /// Every request in the kernel is being cancelled (the engine is dropped): an ECANCELED is
    /// final.
    cancelling_all: bool,
    /// Cancels waiting for room in the cancel reserve.
    deferred_cancels: VecDeque<u64>,
    /// user_data of the entries pushed into the SQ, for those the kernel has not consumed.
    sq_ids: SqIds,
    limit: u32,
    batch_threshold: u32,
    peak_in_flight: u32,
    ops_completed: u64,
    /// Of those, completions with an error result.
    ops_failed: u64,
    bytes: u64,
    submit_calls: u64,
    sqes_submitted: u64,
    sample_mask: u32,
    /// State of the xorshift generator that picks the sampled operations.
    sample_rng: u32,
    /// Sum of the in-flight count before each reap that found completions, and the number of
    /// such reaps, since the last tick: the queue's occupancy for Little's law.
    in_flight_sum: u64,
    in_flight_samples: u64,
    /// Latencies of the current controller window.
    window: Histogram,
    /// The last complete window.
    last_window: Histogram,
    /// Every sample since the ring was made.
    cumulative: Histogram,
}

impl RingState {
    /// Counts an enter that submitted `n` SQEs.
    fn count_submit(&mut self, n: usize) {
        self.submit_calls += 1;
        self.sqes_submitted += n as u64;
    }

    /// Gives a new request its slot: chosen for latency sampling (1 in 2^k data operations)
    /// or not, counted if it uses a registered file. Returns its user_data.
    fn admit(&mut self, payload: Payload, sampled: bool, fixed: bool) -> u64 {
        let mut mark = 0;
        if sampled {
            // Pseudo-random, not every 2^k-th: an application that refills its queue in rounds
            // of a fixed size would have every 2^k-th request land on the same position of a
            // round (the first of a burst, say), and the window's latency would then describe
            // that position instead of the queue (by a factor of 2-3 on a throttled device).
            let mut x = self.sample_rng;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.sample_rng = x;
            if (x >> 16) & self.sample_mask == 0 {
                mark = slab::SAMPLE_PENDING;
            }
        }
        let user_data = self.slab.insert(payload, mark);
        if fixed {
            self.slab.mark_fixed(user_data);
            self.fixed_pending += 1;
        }
        user_data
    }

    /// Takes a live request out of the slab, keeping the fixed-file count.
    fn take(&mut self, user_data: u64) -> Option<(Payload, u64)> {
        let (p, ns, fixed) = self.slab.take(user_data)?;
        if fixed {
            self.fixed_pending -= 1;
        }
        Some((p, ns))
    }
}

/// A ring's counters at one instant, for the controller's tick.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TickSnapshot {
    pub ops: u64,
    pub bytes: u64,
    pub submits: u64,
    pub sqes: u64,
    pub pending: u32,
    pub in_flight_sum: u64,
    pub in_flight_samples: u64,
    pub samples: u64,
    pub p99_ns: u64,
    pub mean_ns: u64,
}

/// Completions taken out of a ring, run after its lock is released.
///
/// The slots are left uninitialised until used: a batch is made on every reap, and zeroing
/// 32 slots each time cost more than the rest of the completion path (measured).
pub(crate) struct Batch {
    items: [MaybeUninit<(Payload, i32)>; BATCH],
    /// Slots `done..len` hold completions not yet run; `..done` were consumed.
    len: usize,
    done: usize,
}

impl Batch {
    pub(crate) fn new() -> Self {
        Batch {
            items: [const { MaybeUninit::uninit() }; BATCH],
            len: 0,
            done: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == BATCH
    }

    /// Whether no completion is waiting to run.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == self.done
    }

    fn push(&mut self, payload: Payload, res: i32) {
        assert!(self.len < BATCH, "batch overflow");
        self.items[self.len].write((payload, res));
        self.len += 1;
    }

    /// Runs the callbacks in completion order through a pointer; returns how many ran. A
    /// callback that panics does not cost the others their completion: every callback of the
    /// batch runs, then the first panic is resumed (its buffer was dropped with the unwinding
    /// closure; the kernel was done with it).
    ///
    /// Through a pointer so that a callback may run the rest of the same batch (a future
    /// awaited inside a callback whose completion sits later in the batch): no reference to
    /// the batch is held while a callback runs, and each entry is taken out (`done` advanced)
    /// before its callback is called, so every entry runs exactly once, whichever of the
    /// nested calls reaches it.
    ///
    /// # Safety
    ///
    /// `this` points at a live batch, only ever accessed through this function (or the
    /// `&mut` the outermost call came from, not used meanwhile), on this thread.
    pub(crate) unsafe fn run_raw(this: *mut Batch) -> usize {
        let mut ran = 0;
        let mut panic = None;
        loop {
            // SAFETY: per the contract `this` is live and nothing else borrows it now; the
            // borrow ends before the callback runs. Slots `done..len` were written by `push`
            // and not read since; advancing `done` first means a slot is never read twice.
            let next = unsafe {
                let b = &mut *this;
                if b.done < b.len {
                    let item = b.items[b.done].assume_init_read();
                    b.done += 1;
                    Some(item)
                } else {
                    None
                }
            };
            let Some((payload, res)) = next else { break };
            ran += 1;
            // The closure owns the payload, so a panic drops it during the unwind; nothing of
            // the batch is observed in a broken state afterwards (slots are consumed).
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                payload.complete(res)
            })) {
                panic.get_or_insert(p);
            }
        }
        // SAFETY: as above; every slot was consumed, so the batch can be reused.
        unsafe {
            let b = &mut *this;
            b.len = 0;
            b.done = 0;
        }
        if let Some(p) = panic {
            std::panic::resume_unwind(p);
        }
        ran
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        for item in &mut self.items[self.done..self.len] {
            // SAFETY: slots `done..len` are initialised and owned by the batch alone.
            unsafe { item.assume_init_drop() };
        }
    }
}

/// Per-ring figures for [`Stats`](crate::Stats).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RingStats {
    /// Operations completed (successfully or not).
    pub ops_completed: u64,
    /// Of those, operations that completed with an error (the tuner counts only the others).
    pub ops_failed: u64,
    /// Bytes moved by completed operations (successful results only).
    pub bytes_transferred: u64,
    /// Requests in the submission queue or in the kernel.
    pub in_flight: u32,
    /// Requests waiting for room under the in-flight limit.
    pub backlog: u32,
    /// Current in-flight limit.
    pub in_flight_limit: u32,
    /// Highest in-flight count seen.
    pub peak_in_flight: u32,
    /// SQEs gathered before a submit syscall.
    pub batch_threshold: u32,
    /// Submission queue entries of the ring.
    pub queue_depth: u32,
    /// Completion queue entries of the ring (the in-flight limit never exceeds it).
    pub cq_entries: u32,
    /// io_uring_enter calls made to submit.
    pub submit_calls: u64,
    /// SQEs those calls submitted.
    pub sqes_submitted: u64,
    /// Setup flags in effect.
    pub features: RingFeatures,
    /// Controller phase ([`Phase::name`](crate::aimd::Phase::name) gives its name).
    pub phase: crate::aimd::Phase,
    /// Whether the controller moves the limit (false in static mode).
    pub adaptive: bool,
    /// P99 of the last controller window with enough samples, in nanoseconds.
    pub p99_ns: u64,
    /// Baseline P99 (minimum over recent windows), in nanoseconds.
    pub baseline_p99_ns: u64,
    /// P99 target, in nanoseconds (0: none).
    pub target_p99_ns: u64,
    /// Completions per second over the last tick.
    pub ops_per_sec: f64,
    /// Bytes per second over the last tick.
    pub bytes_per_sec: f64,
    /// Searches started again from STEADY or CONVERGED.
    pub reprobes: u32,
    /// Controller ticks until the first STEADY (0: not yet).
    pub ticks_to_converge: u64,
    /// Completions per second over the controller's last measurement window.
    pub window_ops_per_sec: f64,
    /// Mean latency over that window, in nanoseconds.
    pub window_mean_ns: f64,
    /// Length of the controller's measurement windows, in nanoseconds.
    pub window_ns: u64,
}

/// What a ring counts of itself: the ring's half of a [`RingStats`].
pub(crate) struct RingCounters {
    ops_completed: u64,
    ops_failed: u64,
    bytes_transferred: u64,
    in_flight: u32,
    backlog: u32,
    in_flight_limit: u32,
    peak_in_flight: u32,
    batch_threshold: u32,
    queue_depth: u32,
    cq_entries: u32,
    submit_calls: u64,
    sqes_submitted: u64,
    features: RingFeatures,
}

impl RingStats {
    /// A ring's counters and its controller's figures, side by side: each field has one
    /// source, named here.
    pub(crate) fn compose(r: RingCounters, c: &crate::aimd::ControllerStats) -> Self {
        RingStats {
            ops_completed: r.ops_completed,
            ops_failed: r.ops_failed,
            bytes_transferred: r.bytes_transferred,
            in_flight: r.in_flight,
            backlog: r.backlog,
            in_flight_limit: r.in_flight_limit,
            peak_in_flight: r.peak_in_flight,
            batch_threshold: r.batch_threshold,
            queue_depth: r.queue_depth,
            cq_entries: r.cq_entries,
            submit_calls: r.submit_calls,
            sqes_submitted: r.sqes_submitted,
            features: r.features,
            phase: c.phase.unwrap_or(crate::aimd::Phase::Baseline),
            adaptive: c.adaptive,
            p99_ns: c.p99_ns,
            baseline_p99_ns: c.baseline_p99_ns,
            target_p99_ns: c.target_p99_ns,
            ops_per_sec: c.ops_per_sec,
            bytes_per_sec: c.bytes_per_sec,
            reprobes: c.reprobes,
            ticks_to_converge: c.ticks_to_converge,
            window_ops_per_sec: c.window_ops_per_sec,
            window_mean_ns: c.window_mean_ns,
            window_ns: c.window_ns,
        }
    }
}

impl<L: LockMode> crate::policy::RingLoads for [Ring<L>] {
    #[inline]
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn load(&self, i: usize) -> u64 {
        self[i].load.get()
    }
    #[inline]
    fn limit(&self, i: usize) -> u64 {
        self[i].limit.get()
    }
}

pub(crate) struct Ring<L: LockMode> {
    uring: IoUring,
    state: L::Lock<RingState>,
    /// Published `in_flight + backlog`, read without the lock by ring selection.
    pub(crate) load: L::Counter,
    /// Published in-flight limit.
    pub(crate) limit: L::Counter,
    max_limit: u32,
    cq_entries: u32,
    features: RingFeatures,
}

fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAGAIN | libc::EBUSY | libc::EINTR | libc::ETIME)
    )
}

fn build(cfg: &RingConfig, flags: &RingFeatures) -> io::Result<IoUring> {
    let mut b = IoUring::builder();
    b.setup_cqsize(cfg.queue_depth.saturating_mul(2))
        .setup_clamp();
    if let Some(idle) = cfg.sqpoll.filter(|_| flags.sqpoll) {
        b.setup_sqpoll(idle);
    }
    if flags.coop_taskrun {
        b.setup_coop_taskrun().setup_taskrun_flag();
    }
    if flags.single_issuer {
        b.setup_single_issuer();
    }
    if flags.defer_taskrun {
        b.setup_defer_taskrun();
    }
    b.build(cfg.queue_depth)
}

impl<L: LockMode> Ring<L> {
    pub(crate) fn new(cfg: &RingConfig, eventfd: &OwnedFd) -> io::Result<Self> {
        // COOP_TASKRUN: completion task work is not delivered by interrupting the submitting
        // thread (measured: per-op cost halves on tmpfs reads). A sleeping thread is still woken
        // to run it; a thread busy in user space runs it at its next kernel entry (a timer tick
        // at worst, none on nohz_full). Single-issuer engines (submitter = poller) enter the
        // kernel whenever TASKRUN_FLAG says work is pending, so they lose nothing; multi-thread
        // engines leave it off by default (crate::handoff, "task work"). DEFER_TASKRUN needs one
        // issuer and, with several rings, would hide completions from the shared eventfd wait.
        let want = RingFeatures {
            sqpoll: cfg.sqpoll.is_some(),
            coop_taskrun: cfg.coop_taskrun,
            single_issuer: cfg.single_issuer,
            defer_taskrun: cfg.single_issuer && cfg.only_ring && cfg.sqpoll.is_none(),
        };
        // Probe from the richest setup down, dropping one feature at a time, so an older kernel
        // (or one refusing SQPOLL to an unprivileged user) still gets a working ring.
        let attempts = [
            want,
            RingFeatures {
                defer_taskrun: false,
                ..want
            },
            RingFeatures {
                defer_taskrun: false,
                single_issuer: false,
                ..want
            },
            RingFeatures {
                sqpoll: want.sqpoll,
                ..RingFeatures::default()
            },
            RingFeatures::default(),
        ];
        let mut last = None;
        let mut built = None;
        for flags in attempts {
            match build(cfg, &flags) {
                Ok(u) => {
                    built = Some((u, flags));
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let (uring, features) = match built {
            Some(b) => b,
            None => return Err(last.expect("at least one attempt")),
        };
        uring.submitter().register_eventfd(eventfd.as_raw_fd())?;
        // SAFETY: the ring is not shared yet; no other completion view exists.
        unsafe { uring.completion_shared() }.disable_eventfd();
        let cq_entries = uring.params().cq_entries();
        // An eighth of the completion queue (at least one entry) stays free for the engine's
        // own requests (cancels), so user requests plus those never exceed it.
        let reserve = (cq_entries / 8).max(1);
        let max_limit = cfg.max_limit.min(cq_entries - reserve).max(1);
        let limit = cfg.initial_limit.clamp(1, max_limit);
        let state = RingState {
            slab: Slab::with_capacity(cfg.queue_depth as usize),
            backlog: VecDeque::new(),
            backlog_ops: 0,
            in_flight: 0,
            internal: 0,
            fixed_pending: 0,
            unregister_deferred: false,
            cancelling_all: false,
            deferred_cancels: VecDeque::new(),
            sq_ids: SqIds::new(uring.params().sq_entries()),
            limit,
            batch_threshold: cfg.batch_threshold.max(1),
            peak_in_flight: 0,
            ops_completed: 0,
            ops_failed: 0,
            bytes: 0,
            submit_calls: 0,
            sqes_submitted: 0,
            sample_mask: (1u32 << cfg.sample_shift.min(16)) - 1,
            sample_rng: 0x9e37_79b9,
            in_flight_sum: 0,
            in_flight_samples: 0,
            window: Histogram::new(),
            last_window: Histogram::new(),
            cumulative: Histogram::new(),
        };
        Ok(Ring {
            uring,
            state: L::Lock::new(state),
            load: L::Counter::new(0),
            limit: L::Counter::new(u64::from(limit)),
            max_limit,
            cq_entries,
            features,
        })
    }

    /// The opcodes this kernel supports, one bit each. A kernel without the probe (before
    /// 5.6) reports only the operations of 5.1: read/write vectored and fsync.
    pub(crate) fn probe(&self) -> [u64; 4] {
        let mut bits = [0u64; 4];
        let mut probe = io_uring::Probe::new();
        if self.uring.submitter().register_probe(&mut probe).is_ok() {
            for op in 0..=255u8 {
                if probe.is_supported(op) {
                    bits[usize::from(op >> 6)] |= 1 << (op & 63);
                }
            }
        } else {
            for op in [
                io_uring::opcode::Nop::CODE,
                io_uring::opcode::Readv::CODE,
                io_uring::opcode::Writev::CODE,
                io_uring::opcode::Fsync::CODE,
            ] {
                bits[usize::from(op >> 6)] |= 1 << (op & 63);
            }
        }
        bits
    }

    /// # Safety
    ///
    /// The iovecs must stay valid until the buffers are unregistered or the ring is dropped.
    pub(crate) unsafe fn register_buffers(&self, iovecs: &[libc::iovec]) -> io::Result<()> {
        // SAFETY: forwarded to the caller.
        unsafe { self.uring.submitter().register_buffers(iovecs) }
    }

    pub(crate) fn unregister_buffers(&self) -> io::Result<()> {
        self.uring.submitter().unregister_buffers()
    }

    pub(crate) fn register_files(&self, fds: &[i32]) -> io::Result<()> {
        self.uring.submitter().register_files(fds)
    }

    /// Sets the ring's io-wq worker limits (0 keeps one); returns the previous ones.
    pub(crate) fn iowq_max_workers(&self, mut limits: [u32; 2]) -> io::Result<[u32; 2]> {
        self.uring
            .submitter()
            .register_iowq_max_workers(&mut limits)?;
        Ok(limits)
    }

    pub(crate) fn update_file(&self, slot: u32, fd: i32) -> io::Result<()> {
        self.uring
            .submitter()
            .register_files_update(slot, &[fd])
            .map(drop)
    }

    /// Unregisters the files now, or, while requests that use a fixed slot are pending
    /// (backlogged, queued or in the kernel), once the last of them completes.
    pub(crate) fn unregister_files(&self) -> io::Result<()> {
        let mut st = self.state.lock();
        if st.fixed_pending > 0 {
            st.unregister_deferred = true;
            return Ok(());
        }
        self.uring.submitter().unregister_files()
    }

    /// Whether a deferred unregister is still waiting for fixed-file requests to drain.
    pub(crate) fn files_draining(&self) -> bool {
        self.state.lock().unregister_deferred
    }

    pub(crate) fn features(&self) -> RingFeatures {
        self.features
    }

    /// Submits what the SQ holds; a non-transient failure is latched in `fatal`.
    fn submit_now(&self, st: &mut RingState, fatal: &L::Counter) {
        // After a fatal error nothing more is submitted: what is left in the SQ is completed
        // by `abandon` with the error, its buffers handed back, so the kernel must never read
        // those entries.
        if fatal.get() != 0 {
            // Task work and overflowed completions still need an enter (DEFER_TASKRUN rings
            // post completions only then); one that submits nothing is safe.
            // SAFETY: the ring lock is held (the caller has `st`), so this is the only SQ view.
            let sq = unsafe { self.uring.submission_shared() };
            // An SQPOLL ring's thread still consumes its SQ (those entries are not abandoned):
            // wake it if it sleeps.
            let wakeup = self.features.sqpoll && !sq.is_empty() && sq.need_wakeup();
            if sq.taskrun() || sq.cq_overflow() || wakeup {
                drop(sq);
                let mut flags = io_uring::EnterFlags::GETEVENTS.bits();
                if wakeup {
                    flags |= io_uring::EnterFlags::SQ_WAKEUP.bits();
                }
                // SAFETY: to_submit 0 reads no SQE; no argument is passed.
                let _ = unsafe {
                    self.uring
                        .submitter()
                        .enter::<libc::sigset_t>(0, 0, flags, None)
                };
            }
            return;
        }
        match self.uring.submitter().submit() {
            Ok(n) => {
                st.count_submit(n);
                if L::MULTI_THREAD && !self.features.sqpoll {
                    self.record_submitter(st);
                }
            }
            Err(e) if transient(&e) => {}
            Err(e) => {
                latch(fatal, &e);
            }
        }
    }

    /// Notes this thread as the submitter of the entries the kernel just consumed (the front
    /// of `sq_ids`: on a multi-thread ring every consuming enter is this function's, under the
    /// ring lock), so a later ECANCELED can be told apart: the kernel's, because this thread
    /// exited, or a genuine one.
    fn record_submitter(&self, st: &mut RingState) {
        // SAFETY: the ring lock is held (the caller has `st`), so this is the only SQ view.
        let queued = unsafe { self.uring.submission_shared() }.len();
        let tid = sys::thread_id();
        let RingState { sq_ids, slab, .. } = st;
        for u in sq_ids.consumed(queued) {
            if u != INTERNAL_USER_DATA {
                slab.set_submitter(u, tid);
            }
        }
    }

    /// Pushes one SQE into the SQ, flushing at the batch threshold. Returns false (and leaves
    /// the entry to the caller) when the SQ stays full.
    fn enqueue(&self, st: &mut RingState, sqe: &Sqe, fatal: &L::Counter) -> bool {
        // SAFETY: the ring lock is held (the caller has `st`), so this is the only SQ view.
        let mut sq = unsafe { self.uring.submission_shared() };
        if sq.is_full() {
            drop(sq);
            self.submit_now(st, fatal);
            // SAFETY: as above; the previous view was dropped.
            sq = unsafe { self.uring.submission_shared() };
            if sq.is_full() {
                return false;
            }
        }
        // SAFETY: the entry points only at memory owned by its payload in the slab (the `Op`
        // contract), which stays there until the completion is reaped.
        let pushed = unsafe { sq.push(sqe) }.is_ok();
        debug_assert!(pushed, "SQ had room");
        st.slab.stamp(sqe.get_user_data(), sys::now_ns);
        let queued = sq.len();
        drop(sq);
        st.sq_ids.push(sqe.get_user_data());
        st.sq_ids.trim(queued);
        st.in_flight += 1;
        st.peak_in_flight = st.peak_in_flight.max(st.in_flight);
        if queued >= st.batch_threshold as usize {
            self.submit_now(st, fatal);
        }
        true
    }

    fn publish(&self, st: &RingState) {
        self.load
            .set(u64::from(st.in_flight) + st.backlog_ops as u64);
    }

    /// Pushes a whole chain into the SQ, contiguously, flushing only after its last link.
    /// Returns false (pushing nothing) when the SQ cannot take it all.
    fn enqueue_chain(&self, st: &mut RingState, chain: &[Sqe], fatal: &L::Counter) -> bool {
        // SAFETY: the ring lock is held (the caller has `st`), so this is the only SQ view.
        let mut sq = unsafe { self.uring.submission_shared() };
        if sq.capacity() - sq.len() < chain.len() {
            drop(sq);
            self.submit_now(st, fatal);
            // SAFETY: as above; the previous view was dropped.
            sq = unsafe { self.uring.submission_shared() };
            if sq.capacity() - sq.len() < chain.len() {
                return false;
            }
        }
        // SAFETY: each entry points only at memory owned by its payload in the slab (the `Op`
        // contract); the room for all of them was checked above.
        let pushed = unsafe { sq.push_multiple(chain) }.is_ok();
        debug_assert!(pushed, "SQ had room for the chain");
        let queued = sq.len();
        drop(sq);
        for e in chain {
            st.sq_ids.push(e.get_user_data());
            st.slab.stamp(e.get_user_data(), sys::now_ns);
        }
        st.sq_ids.trim(queued);
        st.in_flight += chain.len() as u32;
        st.peak_in_flight = st.peak_in_flight.max(st.in_flight);
        if queued >= st.batch_threshold as usize {
            self.submit_now(st, fatal);
        }
        true
    }

    /// Moves backlogged requests into the SQ while the limit allows.
    fn refill(&self, st: &mut RingState, fatal: &L::Counter) {
        while st.in_flight < st.limit {
            let Some(item) = st.backlog.pop_front() else {
                break;
            };
            if let Pending::Chain(c) = &item {
                if !fits(st, c.len()) {
                    st.backlog.push_front(item);
                    break;
                }
            }
            let (ok, n) = match &item {
                Pending::One(sqe) => (self.enqueue(st, sqe, fatal), 1),
                Pending::Chain(c) => (self.enqueue_chain(st, c, fatal), c.len()),
            };
            if !ok {
                st.backlog.push_front(item);
                break;
            }
            st.backlog_ops -= n;
        }
    }

    /// Accepts a new request: into the SQ if the in-flight limit allows, else into the backlog.
    /// Returns its user_data.
    #[inline]
    pub(crate) fn push(
        &self,
        sqe: Sqe,
        payload: Payload,
        sampled: bool,
        fixed: bool,
        fatal: &L::Counter,
    ) -> u64 {
        let mut st = self.state.lock();
        let user_data = st.admit(payload, sampled, fixed);
        let sqe = sqe.user_data(user_data);
        // Kept for a resubmission, which needs the submitting thread recorded: multi-thread
        // rings without SQPOLL only (see `record_submitter`).
        if L::MULTI_THREAD && !self.features.sqpoll {
            st.slab.keep_sqe(user_data, &sqe);
        }
        if st.in_flight >= st.limit || !st.backlog.is_empty() || !self.enqueue(&mut st, &sqe, fatal)
        {
            st.backlog_ops += 1;
            st.backlog.push_back(Pending::One(sqe));
        }
        self.publish(&st);
        user_data
    }

    /// Accepts a linked chain: all links into the SQ at once if the in-flight limit allows,
    /// else the whole chain into the backlog. Returns the links' user_data.
    pub(crate) fn push_chain(
        &self,
        links: Vec<(Sqe, Payload, bool, bool)>,
        fatal: &L::Counter,
    ) -> Vec<u64> {
        let mut st = self.state.lock();
        let n = links.len();
        let mut sqes = Vec::with_capacity(n);
        let mut ids = Vec::with_capacity(n);
        for (i, (sqe, payload, sampled, fixed)) in links.into_iter().enumerate() {
            let user_data = st.admit(payload, sampled, fixed);
            st.slab.mark_cancel_final(user_data);
            ids.push(user_data);
            let mut sqe = sqe.user_data(user_data);
            if i + 1 < n {
                sqe = sqe.flags(io_uring::squeue::Flags::IO_LINK);
            }
            sqes.push(sqe);
        }
        let chain = sqes.into_boxed_slice();
        if !fits(&st, n) || !st.backlog.is_empty() || !self.enqueue_chain(&mut st, &chain, fatal) {
            st.backlog_ops += n;
            st.backlog.push_back(Pending::Chain(chain));
        }
        self.publish(&st);
        ids
    }

    /// Moves up to one batch of completions out of the CQ (and refills from the backlog).
    pub(crate) fn reap(&self, batch: &mut Batch, fatal: &L::Counter) -> usize {
        let mut st = self.state.lock();
        let st = &mut *st;
        let before = batch.len;
        let in_flight = st.in_flight;
        // One clock read per batch serves every sampled completion in it.
        let mut now = 0;
        // SAFETY: the ring lock is held, so this is the only CQ view.
        let cq = unsafe { self.uring.completion_shared() };
        for cqe in cq {
            let user_data = cqe.user_data();
            if user_data == INTERNAL_USER_DATA {
                st.internal = st.internal.saturating_sub(1);
                continue;
            }
            let res = cqe.result();
            if L::MULTI_THREAD && res == -libc::ECANCELED && !st.cancelling_all {
                if let Some(sqe) = st.slab.resubmission(user_data, sys::thread_gone) {
                    // Nobody asked to cancel it and the thread whose enter submitted it has
                    // exited: the kernel cancelled it for that (its io-wq queue and armed polls
                    // go with it), and it never ran. This thread's flush submits it again.
                    st.in_flight -= 1;
                    st.backlog_ops += 1;
                    st.backlog.push_front(Pending::One(sqe));
                    continue;
                }
            }
            if let Some((payload, submit_ns)) = st.take(user_data) {
                // A failed request is neither throughput nor a latency sample for the tuner:
                // an EIO storm answered at once must not look like a fast device, nor a
                // request failed after a timeout like a slow one.
                if res < 0 {
                    st.ops_failed += 1;
                } else if submit_ns > slab::SAMPLE_PENDING {
                    if now == 0 {
                        now = sys::now_ns();
                    }
                    st.window.record(now.saturating_sub(submit_ns));
                }
                st.in_flight -= 1;
                st.ops_completed += 1;
                st.bytes += u64::try_from(res).unwrap_or(0);
                batch.push(payload, res);
                if batch.is_full() {
                    break;
                }
            }
        }
        if batch.len > before {
            st.in_flight_sum += u64::from(in_flight);
            st.in_flight_samples += 1;
        }
        // Dropping the iterator above stored the new CQ head, returning the slots to the kernel.
        if st.unregister_deferred && st.fixed_pending == 0 {
            st.unregister_deferred = false;
            if let Err(e) = self.uring.submitter().unregister_files() {
                log::warn!("auraio: the deferred unregister of files failed: {e}");
            }
        }
        if !st.backlog.is_empty() {
            self.refill(st, fatal);
        }
        if !st.deferred_cancels.is_empty() {
            self.issue_deferred_cancels(st, fatal);
        }
        self.publish(st);
        batch.len - before
    }

    /// Whether a non-blocking poll must enter the kernel: SQEs wait in the SQ, or task work or a
    /// CQ overflow is pending (the SQ ring flags say so; COOP_TASKRUN + TASKRUN_FLAG rings set
    /// the flag instead of interrupting us, so this check is what keeps completions prompt).
    pub(crate) fn needs_enter(&self) -> bool {
        let _st = self.state.lock();
        // SAFETY: the ring lock is held, so this is the only SQ view.
        let sq = unsafe { self.uring.submission_shared() };
        !sq.is_empty() || sq.taskrun() || sq.cq_overflow()
    }

    /// Enters the kernel to submit and run pending task work, without waiting.
    pub(crate) fn kick(&self, fatal: &L::Counter) {
        let mut st = self.state.lock();
        self.submit_now(&mut st, fatal);
    }

    /// Whether a wait would return at once: completions in the CQ, or task work pending that
    /// an enter will turn into completions.
    pub(crate) fn ready(&self) -> bool {
        let _st = self.state.lock();
        // SAFETY: the ring lock is held, so these are the only SQ and CQ views.
        let taskrun = unsafe { self.uring.submission_shared() }.taskrun();
        // SAFETY: as above.
        taskrun || !unsafe { self.uring.completion_shared() }.is_empty()
    }

    /// Submits what the SQ holds and blocks until `want` completions are posted or `timeout`
    /// passes.
    ///
    /// Single-thread rings submit and wait in one syscall (no other thread touches their SQ).
    /// Multi-thread rings submit under the ring lock first, then wait with nothing to submit
    /// and no lock held, so other threads keep submitting meanwhile: an enter that computed
    /// its submission count without the lock could stop part-way into a chain another thread
    /// queued, and the chain's tail would then run unlinked.
    pub(crate) fn enter_wait(
        &self,
        want: usize,
        timeout: Option<Duration>,
        fatal: &L::Counter,
    ) -> io::Result<()> {
        let submitter = self.uring.submitter();
        let r = if L::MULTI_THREAD || fatal.get() != 0 {
            if fatal.get() == 0 && self.needs_enter() {
                self.kick(fatal);
            }
            let flags = io_uring::EnterFlags::GETEVENTS.bits();
            match timeout {
                // SAFETY: to_submit 0 reads no SQE; no argument is passed.
                None => unsafe { submitter.enter::<libc::sigset_t>(0, want as u32, flags, None) },
                Some(t) => {
                    let ts = Timespec::from(t);
                    let args = SubmitArgs::new().timespec(&ts);
                    // SAFETY: to_submit 0 reads no SQE; EXT_ARG says the argument is the
                    // io_uring_getevents_arg that `SubmitArgs` wraps (`repr(transparent)`),
                    // valid for the call.
                    unsafe {
                        submitter.enter(
                            0,
                            want as u32,
                            flags | io_uring::EnterFlags::EXT_ARG.bits(),
                            Some(&args),
                        )
                    }
                }
            }
        } else {
            let r = match timeout {
                None => submitter.submit_and_wait(want),
                Some(t) => {
                    let ts = Timespec::from(t);
                    submitter.submit_with_args(want, &SubmitArgs::new().timespec(&ts))
                }
            };
            if let Some(n) = r.as_ref().ok().copied().filter(|&n| n > 0) {
                self.state.lock().count_submit(n);
            }
            r
        };
        match r {
            Ok(_) => Ok(()),
            Err(e) if transient(&e) => Ok(()),
            Err(e) => {
                latch(fatal, &e);
                Err(e)
            }
        }
    }

    /// Turns eventfd notifications for this ring on or off.
    pub(crate) fn set_eventfd(&self, on: bool) {
        let _st = self.state.lock();
        // SAFETY: the ring lock is held, so this is the only CQ view.
        let cq = unsafe { self.uring.completion_shared() };
        if on {
            cq.enable_eventfd();
        } else {
            cq.disable_eventfd();
        }
    }

    /// Counters for a controller tick. Unless `defer` says to keep gathering (given the
    /// window's sample count), closes the latency window: it becomes the last window and joins
    /// the cumulative histogram. Returns `None` when deferred.
    /// `defer` gets the window's sample count, the completions so far and the pending count.
    pub(crate) fn tick_snapshot(
        &self,
        defer: impl FnOnce(u64, u64, u32) -> bool,
    ) -> Option<TickSnapshot> {
        let mut st = self.state.lock();
        let st = &mut *st;
        let samples = st.window.count();
        // The tuner's throughput: successful completions only (see `reap`).
        let ops = st.ops_completed - st.ops_failed;
        if defer(samples, ops, st.in_flight + st.backlog_ops as u32) {
            return None;
        }
        let snap = TickSnapshot {
            ops,
            bytes: st.bytes,
            submits: st.submit_calls,
            sqes: st.sqes_submitted,
            pending: st.in_flight + st.backlog_ops as u32,
            in_flight_sum: std::mem::take(&mut st.in_flight_sum),
            in_flight_samples: std::mem::take(&mut st.in_flight_samples),
            samples,
            p99_ns: st.window.percentile(99.0),
            mean_ns: st.window.mean_ns(),
        };
        st.cumulative.merge(&st.window);
        std::mem::swap(&mut st.window, &mut st.last_window);
        st.window.clear();
        Some(snap)
    }

    /// Applies a controller decision.
    pub(crate) fn apply(&self, limit: u32, batch_threshold: u32, fatal: &L::Counter) {
        let mut st = self.state.lock();
        st.batch_threshold = batch_threshold.max(1);
        if st.limit != limit {
            st.limit = limit.clamp(1, self.max_limit);
            self.limit.set(u64::from(st.limit));
            self.refill(&mut st, fatal);
            self.publish(&st);
        }
    }

    /// Copies of the last window's and the cumulative latency histograms.
    pub(crate) fn histograms(&self) -> (Histogram, Histogram) {
        let st = self.state.lock();
        let mut all = st.cumulative.clone();
        // The open window has not been merged yet; "since creation" includes it.
        all.merge(&st.window);
        (st.last_window.clone(), all)
    }

    /// Sets the in-flight limit (clamped to 1..=the CQ capacity); returns the value applied.
    pub(crate) fn set_limit(&self, n: u32, fatal: &L::Counter) -> u32 {
        let mut st = self.state.lock();
        st.limit = n.clamp(1, self.max_limit);
        self.limit.set(u64::from(st.limit));
        self.refill(&mut st, fatal);
        self.publish(&st);
        st.limit
    }

    /// Highest in-flight limit this ring accepts.
    pub(crate) fn max_limit(&self) -> u32 {
        self.max_limit
    }

    /// Longest chain this ring can take: it must fit the SQ at once and stay within the
    /// in-flight maximum (so the completion queue cannot overflow).
    pub(crate) fn max_chain(&self) -> usize {
        (self.uring.params().sq_entries().min(self.max_limit)) as usize
    }

    /// Requests accepted and not yet completed (SQ, kernel and backlog).
    pub(crate) fn pending(&self) -> u64 {
        self.load.get()
    }

    /// Requests the kernel still holds (submitted, not reaped); excludes SQ and backlog.
    pub(crate) fn in_kernel(&self) -> u32 {
        let st = self.state.lock();
        st.in_flight
            .saturating_sub(self.unsubmitted(&st).count() as u32)
    }

    /// The live user requests in the SQ that the kernel has not consumed. With SQPOLL the
    /// kernel's thread may still consume any of them, so none counts as unsubmitted.
    fn unsubmitted<'a>(&self, st: &'a RingState) -> impl Iterator<Item = u64> + 'a {
        let queued = if self.features.sqpoll {
            0
        } else {
            // SAFETY: the ring lock is held (the caller has `st`), so this is the only SQ view.
            unsafe { self.uring.submission_shared() }.len()
        };
        st.sq_ids
            .unconsumed(queued)
            .filter(move |&u| u != INTERNAL_USER_DATA && st.slab.contains(u))
    }

    /// Cancels one request. A backlogged one (the kernel never saw it) is completed with
    /// ECANCELED through `batch` at once; one in the SQ or the kernel gets an ASYNC_CANCEL
    /// SQE, and its own completion reports ECANCELED, or its result if it finished first.
    pub(crate) fn cancel(
        &self,
        user_data: u64,
        batch: &mut Batch,
        fatal: &L::Counter,
    ) -> io::Result<()> {
        let mut st = self.state.lock();
        if !st.slab.contains(user_data) {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        if let Some(pos) = st
            .backlog
            .iter()
            .position(|p| p.user_data().any(|u| u == user_data))
        {
            // Cancelling one link of a backlogged chain cancels the chain, as the kernel would.
            if let Some(item) = st.backlog.remove(pos) {
                for u in item.user_data() {
                    if let Some((p, _)) = st.take(u) {
                        st.backlog_ops -= 1;
                        batch.push(p, -libc::ECANCELED);
                    }
                }
            }
            self.publish(&st);
            return Ok(());
        }
        st.slab.mark_cancel_final(user_data);
        if !self.issue_cancel(&mut st, user_data, fatal) {
            // The reserve of completion-queue room for cancels is in use: the cancel waits
            // and goes out as those complete (at the next reap), so it is never lost.
            st.deferred_cancels.push_back(user_data);
        }
        Ok(())
    }

    /// Puts an ASYNC_CANCEL for `user_data` in the SQ and submits it, if the cancel reserve
    /// and the SQ have room; returns whether it did.
    fn issue_cancel(&self, st: &mut RingState, user_data: u64, fatal: &L::Counter) -> bool {
        if fatal.get() != 0 {
            // Nothing is submitted any more. A request the kernel never got is completed by
            // `abandon`; one it holds is cancelled synchronously (a register call, no SQE).
            let _ = self.uring.submitter().register_sync_cancel(
                Some(Timespec::new().nsec(100_000_000)),
                CancelBuilder::user_data(user_data),
            );
            return true;
        }
        let reserve = self.cq_entries - self.max_limit;
        if st.internal >= reserve {
            return false;
        }
        let sqe = io_uring::opcode::AsyncCancel::new(user_data)
            .build()
            .user_data(INTERNAL_USER_DATA);
        // SAFETY: the ring lock is held (the caller has `st`), so this is the only SQ view.
        let mut sq = unsafe { self.uring.submission_shared() };
        if sq.is_full() {
            drop(sq);
            self.submit_now(st, fatal);
            // SAFETY: as above; the previous view was dropped.
            sq = unsafe { self.uring.submission_shared() };
        }
        // SAFETY: an ASYNC_CANCEL entry points at no memory.
        if unsafe { sq.push(&sqe) }.is_err() {
            return false;
        }
        let queued = sq.len();
        drop(sq);
        st.sq_ids.push(INTERNAL_USER_DATA);
        st.sq_ids.trim(queued);
        st.internal += 1;
        // Cancels go out at once: waiting for the batch threshold would defeat their purpose.
        self.submit_now(st, fatal);
        true
    }

    /// Issues the cancels that waited for room, for requests still pending.
    fn issue_deferred_cancels(&self, st: &mut RingState, fatal: &L::Counter) {
        while let Some(&u) = st.deferred_cancels.front() {
            if !st.slab.contains(u) {
                st.deferred_cancels.pop_front();
                continue;
            }
            if !self.issue_cancel(st, u, fatal) {
                break;
            }
            st.deferred_cancels.pop_front();
        }
    }

    /// Cancels every request the kernel holds (they complete with ECANCELED, or with their
    /// result if they finished first); backlogged requests then move up as usual. For
    /// shutdown; needs kernel 6.0 (sync cancel) and ignores "nothing to cancel".
    pub(crate) fn cancel_in_kernel(&self) {
        self.state.lock().cancelling_all = true;
        let _ = self.uring.submitter().register_sync_cancel(
            Some(Timespec::new().nsec(100_000_000)),
            CancelBuilder::any(),
        );
    }

    /// After a fatal error: completes with `-errno` the requests the kernel never got (in the
    /// SQ, never to be submitted, or in the backlog), up to a batch at a time. Returns how many
    /// went into `batch`.
    pub(crate) fn abandon(&self, batch: &mut Batch, errno: i32) -> usize {
        let mut st = self.state.lock();
        let before = batch.len;
        let queued: Vec<u64> = self.unsubmitted(&st).take(BATCH).collect();
        for u in queued {
            if batch.is_full() {
                break;
            }
            if let Some((p, _)) = st.take(u) {
                st.in_flight -= 1;
                batch.push(p, -errno);
            }
        }
        complete_backlog(&mut st, batch, errno);
        self.publish(&st);
        batch.len - before
    }

    /// Completes backlogged requests (never seen by the kernel) with ECANCELED.
    pub(crate) fn cancel_backlog(&self, batch: &mut Batch) {
        let mut st = self.state.lock();
        complete_backlog(&mut st, batch, libc::ECANCELED);
        self.publish(&st);
    }

    pub(crate) fn stats(&self) -> RingCounters {
        let st = self.state.lock();
        RingCounters {
            ops_completed: st.ops_completed,
            ops_failed: st.ops_failed,
            bytes_transferred: st.bytes,
            in_flight: st.in_flight,
            backlog: st.backlog_ops as u32,
            in_flight_limit: st.limit,
            peak_in_flight: st.peak_in_flight,
            batch_threshold: st.batch_threshold,
            queue_depth: self.uring.params().sq_entries(),
            cq_entries: self.uring.params().cq_entries(),
            submit_calls: st.submit_calls,
            sqes_submitted: st.sqes_submitted,
            features: self.features,
        }
    }

    /// One line describing the ring's state, for a hung program's report. Never blocks: a
    /// ring whose lock is held says so instead.
    pub(crate) fn dump(&self) -> String {
        let Some(st) = self.state.try_lock() else {
            return format!("ring lock held; load {}", self.load.get());
        };
        // SAFETY: the ring lock is held (`st`), so these are the only SQ and CQ views.
        let sq = unsafe { self.uring.submission_shared() };
        // SAFETY: as above.
        let cq = unsafe { self.uring.completion_shared() };
        format!(
            "in flight {} (internal {}), backlog {}, limit {}, slab {}, SQ {} queued (taskrun {}, cq_overflow {}, dropped {}), CQ {} ready (overflow {}, eventfd {}), features {:?}",
            st.in_flight,
            st.internal,
            st.backlog_ops,
            st.limit,
            st.slab.len(),
            sq.len(),
            sq.taskrun(),
            sq.cq_overflow(),
            sq.dropped(),
            cq.len(),
            cq.overflow(),
            if cq.eventfd_disabled() { "off" } else { "on" },
            self.features,
        )
    }

    /// Whether `user_data` names a request of this ring still in flight.
    pub(crate) fn is_live(&self, user_data: u64) -> bool {
        self.state.lock().slab.contains(user_data)
    }
}

/// Moves backlogged requests into `batch` with `-errno`, whole chains at a time, while the
/// batch has room for one (a batch holds BATCH completions; a chain is at most MAX_CHAIN).
fn complete_backlog(st: &mut RingState, batch: &mut Batch, errno: i32) {
    while batch.len + MAX_CHAIN <= BATCH || batch.is_empty() {
        let Some(item) = st.backlog.pop_front() else {
            break;
        };
        for u in item.user_data() {
            if let Some((p, _)) = st.take(u) {
                st.backlog_ops -= 1;
                batch.push(p, -errno);
            }
        }
    }
}

/// Whether a chain of `n` links may enter the SQ now: all of it under the in-flight limit, or
/// (so a chain longer than the current limit still gets its turn) alone on an idle ring. The
/// engine refuses chains longer than the ring's maximum, so in-flight never passes it.
fn fits(st: &RingState, n: usize) -> bool {
    st.in_flight as usize + n <= st.limit as usize || st.in_flight == 0
}

/// Latches a submit error as the engine's fatal error (the first one wins), and logs it.
fn latch<C: Counter>(fatal: &C, e: &io::Error) {
    if fatal.set_if_zero(e.raw_os_error().unwrap_or(libc::EIO) as u64) {
        log::error!(
            "auraio: submitting to the kernel failed: {e}; the engine is unusable from now on"
        );
    }
}

impl<L: LockMode> Drop for Ring<L> {
    fn drop(&mut self) {
        // Whatever is still here may be referenced by the kernel until the ring's teardown
        // finishes in the background: leak it rather than free memory the kernel may write.
        let st = &mut *self.state.lock();
        if st.slab.len() > 0 {
            log::warn!(
                "auraio: ring dropped with {} requests the kernel may still hold; leaking their memory",
                st.slab.len()
            );
            st.slab.leak_all();
        }
    }
}
