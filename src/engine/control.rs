//! The tuners' ticks and the runtime controls; statistics and the state dump.

use super::*;

/// One ring's controller and what it saw at its previous tick.
pub(super) struct Tuner<T: Tuning> {
    pub(super) controller: Controller<T>,
    pub(super) last: TickSnapshot,
    pub(super) last_ns: u64,
    /// Completions and time at the previous tick interval (delivered or deferred), for the
    /// per-interval hold accounting of `TickInput::hold_ns`.
    pub(super) check_ops: u64,
    pub(super) check_ns: u64,
    /// Hold time accumulated since the last delivered tick, ns.
    pub(super) hold_ns: u64,
}

impl<L: LockMode, T: Tuning> Core<L, T> {
    /// Runs the controllers when a tick interval has passed. Ticks are driven by whoever holds
    /// the poll lock: a single-thread engine needs no thread, and a multi-thread engine needs
    /// none either, since only a poller reaps the completions a tick measures.
    pub(super) fn maybe_tick(&self) {
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

    pub(crate) fn pending(&self) -> u64 {
        self.rings.iter().map(|r| r.pending()).sum()
    }

    #[inline]
    pub(crate) fn in_flight_limit(&self) -> u64 {
        self.rings.iter().map(|r| r.limit.get()).sum()
    }

    pub(crate) fn max_chain(&self) -> usize {
        self.max_chain
    }

    pub(crate) fn ring_count(&self) -> usize {
        self.rings.len()
    }

    pub(crate) fn ring_features(&self, i: usize) -> RingFeatures {
        self.rings[i].features()
    }

    pub(crate) fn buffer_alignment(&self) -> usize {
        self.alignment
    }

    pub(crate) fn set_in_flight_limit(&self, n: u32) -> io::Result<()> {
        for i in 0..self.rings.len() {
            self.set_ring_in_flight_limit(i, n)?;
        }
        Ok(())
    }

    pub(crate) fn set_ring_in_flight_limit(&self, ring: usize, n: u32) -> io::Result<()> {
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

    pub(super) fn ring(&self, i: usize) -> io::Result<&Ring<L>> {
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

    pub(crate) fn set_adaptive(&self, on: bool) {
        self.control(|c| c.set_adaptive(on));
    }

    pub(crate) fn set_max_p99(&self, target: Option<Duration>) -> io::Result<()> {
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

    pub(crate) fn set_min_in_flight(&self, n: u32) -> io::Result<()> {
        at_least_one(n, "min_in_flight")?;
        self.control(|c| c.set_min_limit(n));
        Ok(())
    }

    pub(crate) fn set_max_in_flight(&self, n: u32) -> io::Result<()> {
        at_least_one(n, "max_in_flight")?;
        self.control(|c| c.set_max_limit(n));
        Ok(())
    }

    pub(crate) fn set_batch_threshold(&self, n: Option<u32>) -> io::Result<()> {
        if let Some(n) = n {
            at_least_one(n, "batch_threshold")?;
        }
        self.control(|c| c.pin_batch(n));
        Ok(())
    }

    pub(crate) fn ring_stats(&self, i: usize) -> io::Result<RingStats> {
        let counters = self.ring(i)?.stats();
        let tuner = self.tuners[i].lock().controller.stats();
        Ok(RingStats::compose(counters, &tuner))
    }

    pub(crate) fn histogram(&self, i: usize) -> io::Result<(Histogram, Histogram)> {
        Ok(self.ring(i)?.histograms())
    }

    pub(crate) fn stats(&self) -> Stats {
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

    pub(crate) fn fatal_error(&self) -> Option<io::Error> {
        match self.fatal.get() {
            0 => None,
            e => Some(io::Error::from_raw_os_error(e as i32)),
        }
    }

    pub(crate) fn state_dump(&self, preset: &str) -> String {
        let mut out = format!(
            "auraio engine {}: pending {}, fatal {}, shutdown {}, poller blocked {}, run idle {}, notifications {}, poll lock {}\n",
            preset,
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
}

impl<P: Policy, L: LockMode, T: Tuning> Engine<P, L, T> {
    /// Requests accepted and not yet completed, all rings (including backlogs).
    #[inline]
    pub fn pending(&self) -> u64 {
        self.core.pending()
    }

    /// Sum of the rings' current in-flight limits: a lock-free read, cheap enough for a
    /// submission loop that keeps exactly as many requests outstanding as the engine admits
    /// (so none wait in a backlog).
    #[inline]
    pub fn in_flight_limit(&self) -> u64 {
        self.core.in_flight_limit()
    }

    /// Most links a [`Chain`](crate::Chain) may have on this engine:
    /// [`MAX_CHAIN`](crate::MAX_CHAIN), or fewer when a ring's submission queue or in-flight
    /// maximum is smaller (a chain enters the SQ whole and counts whole against the in-flight
    /// limit).
    #[inline]
    pub fn max_chain(&self) -> usize {
        self.core.max_chain()
    }

    /// Number of rings.
    #[inline]
    pub fn ring_count(&self) -> usize {
        self.core.ring_count()
    }

    /// Setup flags ring `i` ended up with.
    ///
    /// # Panics
    ///
    /// If `i >= ring_count()`.
    #[inline]
    pub fn ring_features(&self, i: usize) -> RingFeatures {
        self.core.ring_features(i)
    }

    /// Alignment of buffers the engine allocates ([`Options::buffer_alignment`]).
    #[inline]
    pub fn buffer_alignment(&self) -> usize {
        self.core.buffer_alignment()
    }

    /// Static mode: sets every ring's in-flight limit and turns adaptation off (until
    /// [`set_adaptive(true)`](Self::set_adaptive)). Requests beyond the limit wait in the
    /// ring's backlog and go out as completions make room.
    ///
    /// # Errors
    ///
    /// `InvalidInput` unless `1 <= n <=` the rings' maximum (the tuning's `MAX_IN_FLIGHT`,
    /// capped by the completion queue size).
    #[inline]
    pub fn set_in_flight_limit(&self, n: u32) -> io::Result<()> {
        self.core.set_in_flight_limit(n)
    }

    /// Static mode for one ring: sets its in-flight limit, adaptation off on that ring.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a ring index out of range or a limit outside 1..=the ring's maximum.
    #[inline]
    pub fn set_ring_in_flight_limit(&self, ring: usize, n: u32) -> io::Result<()> {
        self.core.set_ring_in_flight_limit(ring, n)
    }

    /// Turns adaptation on (every ring starts a new search from its current limit) or off
    /// (every ring holds its current limit).
    #[inline]
    pub fn set_adaptive(&self, on: bool) {
        self.core.set_adaptive(on)
    }

    /// Sets a P99 ceiling (`None` removes it): the controllers keep each ring's P99 at or under
    /// it, using the headroom below it for depth. Starts a new search.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    #[inline]
    pub fn set_max_p99(&self, target: Option<Duration>) -> io::Result<()> {
        self.core.set_max_p99(target)
    }

    /// Sets the lowest in-flight limit the controllers use (clamped to the rings' maximum).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for 0.
    #[inline]
    pub fn set_min_in_flight(&self, n: u32) -> io::Result<()> {
        self.core.set_min_in_flight(n)
    }

    /// Sets the highest in-flight limit the controllers use (clamped to the rings' maximum);
    /// a ring above it drops to it at once and searches again from there. Static limits
    /// ([`set_in_flight_limit`](Self::set_in_flight_limit)) are not bounded by it.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for 0.
    #[inline]
    pub fn set_max_in_flight(&self, n: u32) -> io::Result<()> {
        self.core.set_max_in_flight(n)
    }

    /// Pins every ring's batch threshold (SQEs gathered before a submit syscall), or with
    /// `None` returns it to automatic tuning.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(0)`.
    #[inline]
    pub fn set_batch_threshold(&self, n: Option<u32>) -> io::Result<()> {
        self.core.set_batch_threshold(n)
    }

    /// Ring `i`'s statistics, including its controller's.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a ring index out of range.
    #[inline]
    pub fn ring_stats(&self, i: usize) -> io::Result<RingStats> {
        self.core.ring_stats(i)
    }

    /// Ring `i`'s latency histograms: `(last window, cumulative since creation)`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a ring index out of range.
    #[inline]
    pub fn histogram(&self, i: usize) -> io::Result<(Histogram, Histogram)> {
        self.core.histogram(i)
    }

    /// A snapshot of the engine's counters.
    #[inline]
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// The latched fatal error, if any.
    #[inline]
    pub fn fatal_error(&self) -> Option<io::Error> {
        self.core.fatal_error()
    }

    /// A multi-line description of the engine's state: per ring the requests in flight and in
    /// the backlog, the SQ and CQ occupancy and flags (pending task work, overflow, eventfd),
    /// and the engine's flags. For a program that detects a hang and reports it; never blocks
    /// (a lock held elsewhere is reported as such).
    #[inline]
    pub fn state_dump(&self) -> String {
        self.core.state_dump(&Self::preset_name())
    }
}

/// `InvalidInput` naming the control for a zero count.
fn at_least_one(n: u32, what: &str) -> io::Result<()> {
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("auraio: {what} must be at least 1"),
        ));
    }
    Ok(())
}
