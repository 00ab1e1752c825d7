//! The event loop: poll, wait (spin, then the kernel), run, drain, the callbacks' scope, and
//! shut-down.

use super::*;

impl<L: LockMode, T: Tuning> Core<L, T> {
    pub(crate) fn notifications(&self) -> bool {
        self.notify.is_set()
    }

    pub(crate) fn set_notifications(&self, on: bool) {
        self.notify.store(on);
        self.update_eventfd(0);
    }

    pub(crate) fn notify_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.eventfd.as_fd()
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

    pub(crate) fn poll(&self) -> io::Result<usize> {
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

    pub(crate) fn wait(&self, timeout: Option<Duration>) -> io::Result<usize> {
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
            // A slice of registered memory may have dropped outside any round.
            self.finish_unregister();
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

    pub(crate) fn run(&self) -> io::Result<()> {
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

    pub(crate) fn stop(&self) {
        self.stop.store(true);
        self.wake();
    }

    pub(crate) fn drain(&self, timeout: Duration) -> io::Result<usize> {
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
            self.finish_unregister();
            self.check_fatal(n)
        })
    }

    /// Whether this thread is running this engine's callbacks (inside its poll, or inside a
    /// cancel or refused chain that completes requests itself).
    pub(crate) fn in_own_callbacks(&self) -> bool {
        self.is_poller() || IN_CALLBACKS.with(|c| c.get()) == self.addr()
    }

    pub(super) fn addr(&self) -> usize {
        self as *const Self as usize
    }

    /// Runs a batch's callbacks with this thread marked as inside this engine's callbacks.
    pub(super) fn run_callbacks(&self, batch: &mut Batch) -> usize {
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

impl<P: Policy, L: LockMode, T: Tuning> Engine<P, L, T> {
    /// Whether a reactor watches [`notify_fd`](Self::notify_fd).
    #[inline]
    pub fn notifications(&self) -> bool {
        self.core.notifications()
    }

    /// Turns completion notifications on the eventfd ([`notify_fd`](Self::notify_fd)) on or
    /// off. On: every ring signals the eventfd when it posts completions, and futures stop
    /// rescheduling themselves, relying on the reactor that watches the fd to call
    /// [`poll`](Self::poll) when it becomes readable. The `tokio` feature's driver does this.
    #[inline]
    pub fn set_notifications(&self, on: bool) {
        self.core.set_notifications(on)
    }

    /// The engine's eventfd (IORING_REGISTER_EVENTFD on every ring), for reactors: readable
    /// when completions were posted while [notifications](Self::set_notifications) are on.
    /// Drain it (read 8 bytes) and call [`poll`](Self::poll).
    #[inline]
    pub fn notify_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.core.notify_fd()
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
    #[inline]
    pub fn poll(&self) -> io::Result<usize> {
        self.core.poll()
    }

    /// Submits queued SQEs and blocks until at least one completion was processed, `timeout`
    /// passed (`None`: no bound), or nothing is pending. Returns the number of callbacks run.
    ///
    /// # Errors
    ///
    /// As for [`poll`](Self::poll).
    #[inline]
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<usize> {
        self.core.wait(timeout)
    }

    /// Runs callbacks until [`stop`](Self::stop) is called. With nothing in flight the thread
    /// sleeps (a new submission wakes it).
    ///
    /// # Errors
    ///
    /// As for [`poll`](Self::poll).
    #[inline]
    pub fn run(&self) -> io::Result<()> {
        self.core.run()
    }

    /// Makes [`run`](Self::run) return after its current round; callable from a callback or,
    /// in multi-thread mode, from any thread.
    #[inline]
    pub fn stop(&self) {
        self.core.stop()
    }

    /// Processes completions until nothing is pending or `timeout` passes. Returns the number
    /// of callbacks run. `Duration::MAX` (or any timeout past the clock's range) waits
    /// without a bound.
    ///
    /// # Errors
    ///
    /// `TimedOut` if requests remain after `timeout`; otherwise as for [`poll`](Self::poll).
    #[inline]
    pub fn drain(&self, timeout: Duration) -> io::Result<usize> {
        self.core.drain(timeout)
    }
}
