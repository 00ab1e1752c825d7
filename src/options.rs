//! Runtime sizing of an engine: rings, queue depth, initial in-flight limit, SQPOLL, alignment.
//!
//! Type parameters fix what the engine *is* (policy, lock mode, tuning); [`Options`] fixes how
//! big it is, which is only known at run time.

#![forbid(unsafe_code)]

use std::io;
use std::time::Duration;

/// Most rings an engine may have.
pub const MAX_RINGS: usize = 1024;
/// Largest submission queue per ring (the kernel's limit).
pub const MAX_QUEUE_DEPTH: u32 = 32_768;
/// Default submission queue entries per ring.
pub const DEFAULT_QUEUE_DEPTH: u32 = 256;
/// Default spin budget of a wait before it sleeps (see [`Options::spin`]).
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);
/// Largest spin budget accepted.
pub const MAX_SPIN: Duration = Duration::from_millis(10);
/// Default bound on how long dropping an engine waits for its requests.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Runtime options of an engine, as a builder.
///
/// # Examples
///
/// ```
/// use auraio::{LocalEngine, Options};
/// let engine = LocalEngine::with_options(&Options::new().queue_depth(64).initial_in_flight(16))?;
/// assert_eq!(engine.stats().rings[0].in_flight_limit, 16);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub(crate) ring_count: Option<usize>,
    pub(crate) queue_depth: u32,
    pub(crate) initial_in_flight: Option<u32>,
    pub(crate) sqpoll_idle_ms: Option<u32>,
    pub(crate) buffer_alignment: usize,
    pub(crate) drain_timeout: Duration,
    pub(crate) spin: Duration,
    pub(crate) cancel_on_drop: bool,
    pub(crate) coop_taskrun: Option<bool>,
    pub(crate) async_issue: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ring_count: None,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            initial_in_flight: None,
            sqpoll_idle_ms: None,
            buffer_alignment: crate::buffer::DEFAULT_ALIGNMENT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            spin: DEFAULT_SPIN,
            cancel_on_drop: true,
            coop_taskrun: None,
            async_issue: false,
        }
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl Options {
    /// The defaults: one ring per online CPU (multi-thread) or one ring (single-thread), 256
    /// SQ entries per ring, initial in-flight limit the tuning's `START_IN_FLIGHT` (1 for
    /// [`DefaultTuning`](crate::DefaultTuning): the search climbs from it), no SQPOLL, 4 KiB buffer alignment, 10 s drain bound on drop, 50 µs
    /// adaptive spin before a wait sleeps.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of rings (1..=1024).
    pub fn ring_count(mut self, n: usize) -> Self {
        self.ring_count = Some(n);
        self
    }

    /// Submission queue entries per ring (1..=32768; the kernel rounds up to a power of two).
    /// The completion queue gets twice as many, and bounds the in-flight limit.
    pub fn queue_depth(mut self, n: u32) -> Self {
        self.queue_depth = n;
        self
    }

    /// In-flight limit each ring starts with (1..=2 x queue depth).
    pub fn initial_in_flight(mut self, n: u32) -> Self {
        self.initial_in_flight = Some(n);
        self
    }

    /// Asks for a kernel SQ polling thread that sleeps after `idle_ms` without work. Falls back
    /// to ordinary submission when the kernel refuses (see
    /// [`RingFeatures::sqpoll`](crate::RingFeatures::sqpoll)).
    pub fn sqpoll(mut self, idle_ms: u32) -> Self {
        self.sqpoll_idle_ms = Some(idle_ms);
        self
    }

    /// Alignment of buffers the engine allocates (a power of two, 512..=1 MiB).
    pub fn buffer_alignment(mut self, align: usize) -> Self {
        self.buffer_alignment = align;
        self
    }

    /// How long dropping the engine waits for its requests before cancelling (and, if even that
    /// does not finish them, leaking their buffers rather than freeing memory the kernel may
    /// still write).
    pub fn drain_timeout(mut self, t: Duration) -> Self {
        self.drain_timeout = t;
        self
    }

    /// Spin budget of a blocking wait: when recent completions arrived within this budget, a
    /// wait first spins (watching the completion queue and the kernel's task-work flag) for up
    /// to this long before sleeping in the kernel. Waking a sleeping thread costs tens of
    /// microseconds on idle CPUs, which at low queue depth halves the IOPS of a fast device.
    /// The engine stops spinning by itself when completions take longer than the budget.
    /// `Duration::ZERO` never spins. Default 50 µs, at most 10 ms.
    pub fn spin(mut self, budget: Duration) -> Self {
        self.spin = budget;
        self
    }

    /// Whether dropping an unfinished [`OpFuture`](crate::OpFuture) cancels its operation
    /// (default on). Either way the buffer is freed only after the kernel's completion.
    pub fn cancel_on_drop(mut self, on: bool) -> Self {
        self.cancel_on_drop = on;
        self
    }

    /// Whether rings are set up with COOP_TASKRUN (the kernel's completion work for a request
    /// then waits for its submitting thread's next kernel entry instead of interrupting it).
    /// Default: on for single-thread engines (the submitter is the poller, and it enters the
    /// kernel whenever the SQ ring says work is pending), off for multi-thread ones.
    ///
    /// On a multi-thread engine any thread may be the one whose enter submitted a request, so
    /// with COOP_TASKRUN a completion can wait for a thread busy in user space: measured here,
    /// a pipe read completed 3.4 ms after its data arrived while its submitter computed (one
    /// timer tick; unbounded on a `nohz_full` CPU), against 46 µs without. Turn it on only if
    /// every thread that submits enters the kernel often; it halves the per-op cost of a
    /// multi-thread engine on tmpfs reads (README, per-op cost).
    pub fn coop_taskrun(mut self, on: bool) -> Self {
        self.coop_taskrun = Some(on);
        self
    }

    /// Whether every request is issued from the kernel's io-wq workers (IOSQE_ASYNC) instead
    /// of first being tried inline, in the submitting thread's `io_uring_enter` (default off).
    ///
    /// The inline attempt asks the file not to block (IOCB_NOWAIT), and most files then either
    /// complete at once or decline; some block regardless. Measured here (kernel 6.18): a
    /// direct read of a FUSE file is issued inline and the submitting thread sleeps in the
    /// kernel until the FUSE server answers, so a stalled server stalls every submitter of the
    /// engine, and reads never overlap (at an in-flight limit of 4 on a 4-server device, the
    /// server never had more than 1 read at a time). With this option a submit never blocks on the file; each request costs a
    /// hand-off to a worker (several µs on tmpfs), and concurrency on such files is bounded
    /// by io-wq ([`Engine::set_iowq_max_workers`](crate::Engine::set_iowq_max_workers)).
    pub fn async_issue(mut self, on: bool) -> Self {
        self.async_issue = on;
        self
    }

    /// Buffer alignment in effect.
    pub fn alignment(&self) -> usize {
        self.buffer_alignment
    }

    /// Checks every option.
    ///
    /// # Errors
    ///
    /// `InvalidInput`, with a message naming the option, its accepted range and the value given.
    pub fn validate(&self) -> io::Result<()> {
        if let Some(n) = self.ring_count {
            if n == 0 || n > MAX_RINGS {
                return Err(invalid(format!(
                    "auraio options: ring_count must be between 1 and {MAX_RINGS} (got {n})"
                )));
            }
        }
        if self.queue_depth == 0 || self.queue_depth > MAX_QUEUE_DEPTH {
            return Err(invalid(format!(
                "auraio options: queue_depth must be between 1 and {MAX_QUEUE_DEPTH} (got {})",
                self.queue_depth
            )));
        }
        if let Some(n) = self.initial_in_flight {
            let max = self.queue_depth.saturating_mul(2);
            if n == 0 || n > max {
                return Err(invalid(format!(
                    "auraio options: initial_in_flight must be between 1 and 2 x queue_depth = {max} (got {n})"
                )));
            }
        }
        let a = self.buffer_alignment;
        if !a.is_power_of_two() || !(512..=1 << 20).contains(&a) {
            return Err(invalid(format!(
                "auraio options: buffer_alignment must be a power of two between 512 and 1048576 (got {a})"
            )));
        }
        if self.spin > MAX_SPIN {
            return Err(invalid(format!(
                "auraio options: spin must be at most {MAX_SPIN:?} (got {:?})",
                self.spin
            )));
        }
        Ok(())
    }

    /// Initial in-flight limit: as given, else the preset's `START_IN_FLIGHT` (at most the
    /// queue depth). The search climbs from there.
    pub(crate) fn resolved_initial(&self, start: u32) -> u32 {
        self.initial_in_flight
            .unwrap_or_else(|| start.clamp(1, self.queue_depth.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(o: Options) -> String {
        let e = o.validate().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        e.to_string()
    }

    #[test]
    fn errors_name_the_option() {
        assert!(message(Options::new().ring_count(0)).contains("ring_count"));
        assert!(message(Options::new().ring_count(5000)).contains("ring_count"));
        assert!(message(Options::new().queue_depth(0)).contains("queue_depth"));
        assert!(message(Options::new().queue_depth(65536)).contains("queue_depth"));
        assert!(message(Options::new().initial_in_flight(0)).contains("initial_in_flight"));
        assert!(message(Options::new().queue_depth(8).initial_in_flight(17))
            .contains("initial_in_flight"));
        assert!(message(Options::new().buffer_alignment(1000)).contains("buffer_alignment"));
        assert!(message(Options::new().buffer_alignment(256)).contains("buffer_alignment"));
        assert!(message(Options::new().spin(Duration::from_secs(1))).contains("spin"));
    }

    #[test]
    fn defaults_validate() {
        Options::new().validate().unwrap();
        assert_eq!(Options::new().resolved_initial(1), 1);
        assert_eq!(Options::new().queue_depth(8).resolved_initial(16), 8);
        assert_eq!(Options::new().initial_in_flight(5).resolved_initial(1), 5);
    }
}
