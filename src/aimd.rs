//! The adaptive controller: a pure state machine that moves one ring's in-flight limit and
//! batch threshold to where the device gives the most throughput for the least latency.
//!
//! Pure: the engine feeds it one [`TickInput`] per tick (elapsed time, completions, bytes, a
//! P99 estimate with its sample count, mean latency, pending requests, submit counts) and
//! applies the [`Decision`]. No clock, no I/O, no allocation; the same inputs always give the
//! same outputs, which is what lets the property tests and the simulated device drive it.
//!
//! # Phases
//!
//! ```text
//! BASELINE ──> PROBING ──plateau──> BACKOFF (trim) ──> SETTLING ──> STEADY ──5 s──> CONVERGED
//!                 ^  └──P99 over target / spike──> BACKOFF             │              │
//!                 ├────────── re-probe (deviation, or periodic probe found headroom) ─┘
//!                 └────────── settling window far below what the search measured there
//! ```
//!
//! # The rules, and why they differ from the reference
//!
//! The reference probed +1 per 10 ms tick and called a plateau when one tick's throughput
//! gain per unit of limit fell under 1%. On a throttled device one 10 ms window shows two to
//! three times the real rate, the next one far less, so that test chases noise; its plateau
//! could also never fire (a held limit gives "no data" and forces another +1), and its latency
//! guard (10x baseline) sits far past the knee. This controller instead:
//!
//! - **Measures at a held limit over a window** (the first tick after a change is
//!   discarded), so a measurement belongs to one limit. Windows start at `WINDOW_TICKS - 1`
//!   ticks and **calibrate themselves** in BASELINE: they double (up to `MAX_WINDOW_MS`) until
//!   two pairs of consecutive windows agree, and they always span `GAP_WINDOWS` times the
//!   longest recent gap between busy ticks. A blkio throttle lets each 100 ms slice's budget
//!   through in a burst and then holds all I/O for ~50 ms; a window with one such cycle more
//!   than the next misreads throughput by the burst's share (±30% at 100 ms windows, measured).
//!   A steady device keeps short windows.
//! - **Judges steps by latency elasticity** `(ΔR/R)/(ΔN/N)`: by Little's law (throughput =
//!   depth / latency) more depth buys throughput exactly while latency grows less than the
//!   depth did, as in TCP Vegas. The window's latency `R` is **Little's law itself**: the
//!   mean number in flight (counted at each reap, before it, so completions not yet reaped
//!   count) over the window's throughput. The sampled mean is no substitute on a device that
//!   stalls: there the cost of depth lies in the few requests held through a stall, which 1 in
//!   8 sampling catches by chance (window means varied by 40-120% at a fixed depth, against
//!   1-2% for throughput over the same windows). The sampled mean serves where nothing is in
//!   flight to count. A climb pays while the elasticity stays under `1 - CLIMB_GAIN_PERMILLE`.
//! - **Probes by doubling** (`PROBE_STEP_PERMILLE`), so any knee between 4 and 4096 is
//!   bracketed in a few windows; a step that does not pay after paying ones is **bisected**
//!   once (its geometric middle), and the better end is kept.
//! - **Trims by quarters** when the very first step failed (the start was past the knee):
//!   each cut to a quarter is kept while latency falls at least `QUEUE_RISE_PERMILLE` of the
//!   cut (a queue draining) and throughput stays within twice `TRIM_LOSS_PERMILLE` of
//!   the plateau; the first cut that fails is retried at the geometric middle (a factor of
//!   two from both ends), and the trim settles there if it held, else on the last limit kept:
//!   the smallest depth at full throughput, where latency is lowest. Quarters, because on a
//!   bursty device every window costs a few hundred milliseconds, and a knee 16 times below
//!   the start is then found in three windows instead of five. A cut that loses less than
//!   six times `TRIM_LOSS_PERMILLE` (more than one bursty window can misread, less than a
//!   real knee costs) is a **close call**: the limit is measured for a second window, which
//!   decides.
//! - **A climb that loses throughput** (more depth, under `1 - 6 x TRIM_LOSS` of the
//!   shallower window's throughput) means the device changed under the search: the climb
//!   turns into a trim from the shallower limit, described by the deeper window's throughput
//!   and Little's law (a fine climb used to settle back on the old knee).
//! - **P99 target** (`set_max_p99`): the window's P99 is the 80th percentile of its per-tick
//!   P99s (a tick's P99 comes from a hundred-odd samples, and one throttle stall fills its
//!   top 1%); probing continues while the window's P99 is under 90% of
//!   the target, even on a throughput plateau (the reference's target mode: all latency
//!   headroom goes to depth); over the target, BACKOFF cuts until it is met, then probing
//!   resumes in fine steps (+1/16) and stops at the last limit under 90% of the target.
//! - **Spike guard**: `SPIKE_TICKS` consecutive ticks with a valid P99 over the guard (the
//!   target, else `LATENCY_GUARD_MULT` x the baseline P99, else `P99_CEILING_US`) force
//!   BACKOFF at once. Without a target, if the window after the cut shows less throughput
//!   than the last window before it, the spike was a device stall, not a queue, and the
//!   limit goes back; later spikes at that limit or below are ignored until a new search.
//! - **CONVERGED is not a dead end** (re-probe rule): in STEADY or CONVERGED, a window whose
//!   mean latency moves more than twice `DEVIATION_PERMILLE` from the converged point (or,
//!   where calibration found throughput repeatable, whose throughput moves more than
//!   `DEVIATION_PERMILLE`), counts as a deviation; `DEVIATION_WINDOWS` in a row (one, when
//!   latency moved by half or more) start a new search (PROBING from the current limit; a lower
//!   capacity is then found as a plateau and trimmed). Every `REPROBE_TICKS` (and at least
//!   eight windows) a single window probes x1.25: if latency says the step paid, a new search
//!   starts in fine steps (capacity grew, e.g. a noisy neighbour left), otherwise the limit
//!   goes back. One window answers yes only when latency stayed nearly flat (elasticity under
//!   `1 - 2 x CLIMB_GAIN`), else a second window at the probed limit decides: the elasticity
//!   of a x1.25 step moves by a third with window noise alone on a bursty device. Each new
//!   search counts as a re-probe.
//!
//! Throughput counts every completion (the reference counted sampled ones only); the baseline
//! P99 only takes windows with at least `MIN_P99_SAMPLES` samples; a ring with too few samples
//! defers its tick ([`defer_tick`]) up to `LOW_IOPS_MAX_MS`.
//!
//! # Batch threshold
//!
//! SQEs per submit syscall under 8 raise the threshold by one (up to `BATCH_MAX`), over 12
//! lower it (down to `BATCH_MIN`); [`Controller::pin_batch`] pins it, and unpinning returns
//! to tuning from the pinned value (the reference stuck at "never").

#![forbid(unsafe_code)]

use std::marker::PhantomData;

use crate::tuning::Tuning;

/// Controller phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Phase {
    /// Measuring the starting point.
    #[default]
    Baseline = 0,
    /// Raising the limit while it pays.
    Probing = 1,
    /// Lowering the limit: trimming past a plateau, or relieving latency.
    Backoff = 2,
    /// Holding a new limit before judging it.
    Settling = 3,
    /// Holding; watching for deviations; probing periodically.
    Steady = 4,
    /// Stable for `CONVERGE_TICKS`; still watching.
    Converged = 5,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 6] = [
        Phase::Baseline,
        Phase::Probing,
        Phase::Backoff,
        Phase::Settling,
        Phase::Steady,
        Phase::Converged,
    ];

    /// Upper-case name, as in the reference.
    pub const fn name(self) -> &'static str {
        match self {
            Phase::Baseline => "BASELINE",
            Phase::Probing => "PROBING",
            Phase::Backoff => "BACKOFF",
            Phase::Settling => "SETTLING",
            Phase::Steady => "STEADY",
            Phase::Converged => "CONVERGED",
        }
    }

    /// Whether `next` may follow `self` (staying is always legal).
    pub const fn can_become(self, next: Phase) -> bool {
        use Phase::*;
        if self as u8 == next as u8 {
            return true;
        }
        matches!(
            (self, next),
            (Baseline, Probing)
                | (Baseline, Backoff)
                | (Baseline, Settling)
                | (Probing, Backoff)
                | (Probing, Settling)
                | (Backoff, Settling)
                | (Backoff, Probing)
                | (Settling, Steady)
                | (Settling, Backoff)
                | (Settling, Probing)
                | (Steady, Converged)
                | (Steady, Probing)
                | (Steady, Backoff)
                | (Converged, Probing)
                | (Converged, Backoff)
        )
    }

    /// Whether the controller considers the limit found (STEADY or CONVERGED).
    pub const fn is_stable(self) -> bool {
        matches!(self, Phase::Steady | Phase::Converged)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What happened on a ring since the previous tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickInput {
    /// Time since the previous tick, in nanoseconds.
    pub elapsed_ns: u64,
    /// Completions (all of them, not only sampled ones).
    pub completions: u64,
    /// Bytes those completions moved.
    pub bytes: u64,
    /// Latency samples behind `p99_ns` and `mean_ns`.
    pub samples: u64,
    /// P99 of the samples, in nanoseconds.
    pub p99_ns: u64,
    /// Mean of the samples, in nanoseconds.
    pub mean_ns: u64,
    /// Requests pending on the ring now.
    pub pending: u32,
    /// Sum of the in-flight counts seen at each reap since the previous tick (taken before
    /// the reap, so completions waiting in the CQ still count, as Little's law wants).
    pub in_flight_sum: u64,
    /// Reaps behind `in_flight_sum`.
    pub in_flight_samples: u64,
    /// Submit syscalls since the previous tick.
    pub submits: u64,
    /// SQEs those syscalls submitted.
    pub sqes: u64,
}

/// What the ring should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// In-flight limit.
    pub limit: u32,
    /// SQEs gathered before a submit syscall.
    pub batch_threshold: u32,
    /// Phase after this tick.
    pub phase: Phase,
}

/// Whether a tick with `samples` latency samples after `elapsed_ns` should wait for more (the
/// low-IOPS gate): too few samples for a P99, and the window may still grow.
pub fn defer_tick<T: Tuning>(samples: u64, elapsed_ns: u64) -> bool {
    samples < u64::from(T::MIN_P99_SAMPLES)
        && elapsed_ns < u64::from(T::LOW_IOPS_MAX_MS) * 1_000_000
        && (elapsed_ns < u64::from(T::LOW_IOPS_WINDOW_MS) * 1_000_000 || samples > 0)
}

/// One window's measurement at a held limit.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Measure {
    limit: u32,
    /// Completions per second.
    x: f64,
    /// Mean latency, ns (0: unknown): by Little's law from occupancy and throughput, else
    /// the samples' mean.
    lat: f64,
    /// 80th percentile of the window's valid per-tick P99s, ns (0: none valid).
    p99: u64,
    /// Mean pending requests at the window's ticks.
    pend: f64,
    /// Ticks in the window.
    ticks: u32,
}

/// Per-tick P99s a window keeps for its median (the latest, when it has more ticks).
const WINDOW_P99S: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Window {
    skip: bool,
    ticks: u32,
    ns: u64,
    completions: u64,
    lat_sum: f64,
    samples: u64,
    /// Valid per-tick P99s, a ring of the latest `WINDOW_P99S`.
    p99s: [u64; WINDOW_P99S],
    p99_count: usize,
    pend_sum: f64,
    occupancy_sum: f64,
    occupancy_samples: u64,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            skip: false,
            ticks: 0,
            ns: 0,
            completions: 0,
            lat_sum: 0.0,
            samples: 0,
            p99s: [0; WINDOW_P99S],
            p99_count: 0,
            pend_sum: 0.0,
            occupancy_sum: 0.0,
            occupancy_samples: 0,
        }
    }
}

impl Window {
    /// Adds a tick; returns true when the window is complete.
    fn add<T: Tuning>(&mut self, t: &TickInput, len_ns: u64) -> bool {
        if self.skip {
            self.skip = false;
            return false;
        }
        self.ticks += 1;
        self.ns = self.ns.saturating_add(t.elapsed_ns);
        self.completions = self.completions.saturating_add(t.completions);
        self.lat_sum += t.mean_ns as f64 * t.samples as f64;
        self.samples = self.samples.saturating_add(t.samples);
        self.pend_sum += f64::from(t.pending);
        self.occupancy_sum += t.in_flight_sum as f64;
        self.occupancy_samples = self.occupancy_samples.saturating_add(t.in_flight_samples);
        if t.samples >= u64::from(T::MIN_P99_SAMPLES) {
            self.p99s[self.p99_count % WINDOW_P99S] = t.p99_ns;
            self.p99_count += 1;
        }
        self.ns >= len_ns && self.ticks >= 1
    }

    /// The 80th percentile of the valid per-tick P99s: the window's P99, where one tick's P99
    /// from a hundred-odd samples is whatever a device stall put in it (a throttle holding a
    /// few requests for 50 ms puts them in the top 1% of their tick, not of the window; on
    /// the knee device about one tick in ten), while the median of the ticks reads lower than
    /// the window's P99 (a 300 µs target ran at 352 µs).
    fn p99_of_ticks(&self) -> u64 {
        let n = self.p99_count.min(WINDOW_P99S);
        if n == 0 {
            return 0;
        }
        let mut p99s = self.p99s;
        *p99s[..n].select_nth_unstable(n * 4 / 5).1
    }

    fn take(&mut self, limit: u32) -> Measure {
        let x = if self.ns == 0 {
            0.0
        } else {
            self.completions as f64 * 1e9 / self.ns as f64
        };
        let sampled = if self.samples == 0 {
            0.0
        } else {
            self.lat_sum / self.samples as f64
        };
        let occupancy = if self.occupancy_samples == 0 {
            0.0
        } else {
            self.occupancy_sum / self.occupancy_samples as f64
        };
        let m = Measure {
            limit,
            x,
            lat: if x > 0.0 && occupancy > 0.0 {
                occupancy / x * 1e9
            } else {
                sampled
            },
            p99: self.p99_of_ticks(),
            ticks: self.ticks,
            pend: if self.ticks == 0 {
                0.0
            } else {
                self.pend_sum / f64::from(self.ticks)
            },
        };
        *self = Window::default();
        m
    }
}

/// Search mode of PROBING/BACKOFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Multiplicative climb, then a throughput-preserving trim.
    Coarse,
    /// Fine climb under a P99 target after a cut.
    Fine,
    /// Cutting because P99 exceeded the target or the guard.
    Relieve,
}

/// The per-ring AIMD controller, generic over its constants.
#[derive(Debug, Clone)]
pub struct Controller<T: Tuning> {
    phase: Phase,
    mode: Mode,
    limit: u32,
    min: u32,
    max: u32,
    adaptive: bool,
    target_p99_ns: u64,
    batch: u32,
    batch_pinned: bool,
    window: Window,
    /// Length of a measurement window, in ns: starts at `WINDOW_TICKS - 1` ticks and doubles
    /// (up to `MAX_WINDOW_MS`) while two windows at the same limit disagree.
    window_ns: u64,
    /// The longest gap between busy ticks lately (decays by a quarter per window), ns.
    gap_ns: u64,
    /// The previous calibration window of BASELINE.
    calibration: Option<Measure>,
    /// Consecutive calibration windows that agreed.
    agreements: u32,
    /// Consecutive calibration windows whose throughput agreed.
    x_agreements: u32,
    /// The latest window at the held limit in STEADY/CONVERGED.
    held: Measure,
    /// The last full window at the limit a latency spike cut (limit 0: none).
    spiked_from: Measure,
    /// A spike cut from this limit lost throughput and was undone: spikes at or below it are
    /// the device's stalls, not a queue (0: none; a new search clears it).
    stall_limit: u32,
    /// A paying step happened in this search.
    climbed: bool,
    /// Measuring the middle of a step that did not pay.
    bisecting: bool,
    /// Throughput the search measured at the limit being settled (0: unknown).
    expect_x: f64,
    /// SETTLING already let one burst window pass.
    settle_waited: bool,
    /// The limit of a window too close to call: the next window at that limit decides.
    extending: Option<u32>,
    /// Calibration found window throughput repeatable.
    x_reliable: bool,
    /// The last step's signal was strong: the next step doubles (x2 up, x0.5 down).
    fast: bool,
    last_window: Measure,
    prev: Measure,
    plateau_sum: f64,
    plateau_n: u32,
    good_limit: u32,
    reference: Measure,
    phase_ticks: u32,
    since_probe: u32,
    probe_from: u32,
    spike: u32,
    deviation: u32,
    baseline: [u64; 64],
    baseline_len: usize,
    baseline_pos: usize,
    last_p99: u64,
    last_x: f64,
    last_bytes_per_s: f64,
    peak: u32,
    reprobes: u32,
    converge_ticks: u64,
    ticks: u64,
    _tuning: PhantomData<fn() -> T>,
}

/// A snapshot of a controller's state, for statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ControllerStats {
    /// Current phase.
    pub phase: Option<Phase>,
    /// In-flight limit.
    pub limit: u32,
    /// Batch threshold.
    pub batch_threshold: u32,
    /// P99 of the last tick with enough samples, ns.
    pub p99_ns: u64,
    /// Baseline P99 (minimum over recent windows), ns.
    pub baseline_p99_ns: u64,
    /// Completions per second over the last tick.
    pub ops_per_sec: f64,
    /// Bytes per second over the last tick.
    pub bytes_per_sec: f64,
    /// Highest pending count seen.
    pub peak_in_flight: u32,
    /// Searches started from STEADY or CONVERGED.
    pub reprobes: u32,
    /// Ticks from start until the first STEADY (0: not yet).
    pub ticks_to_converge: u64,
    /// Whether the controller moves the limit.
    pub adaptive: bool,
    /// P99 target, ns (0: none).
    pub target_p99_ns: u64,
    /// Completions per second over the last measurement window.
    pub window_ops_per_sec: f64,
    /// Mean latency over the last measurement window (in flight / throughput), ns.
    pub window_mean_ns: f64,
    /// Current measurement window length, ns.
    pub window_ns: u64,
}

/// The integer nearest to sqrt(a * b).
fn geometric_mid(a: u32, b: u32) -> u32 {
    (f64::from(a) * f64::from(b)).sqrt().round() as u32
}

fn frac(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        (a - b) / b
    } else {
        0.0
    }
}

impl<T: Tuning> Controller<T> {
    /// A controller starting at `initial` (clamped to `[T::MIN_IN_FLIGHT, max]`), never above
    /// `max` (at least 1).
    pub fn new(initial: u32, max: u32) -> Self {
        const { crate::tuning::validate::<T>() };
        let max = max.max(1);
        let min = T::MIN_IN_FLIGHT.min(max);
        Controller {
            phase: Phase::Baseline,
            mode: Mode::Coarse,
            limit: initial.clamp(min, max),
            min,
            max,
            adaptive: true,
            target_p99_ns: 0,
            batch: T::BATCH_INITIAL,
            batch_pinned: false,
            window: Window::default(),
            window_ns: u64::from(T::WINDOW_TICKS.saturating_sub(1).max(1))
                * u64::from(T::TICK_MS)
                * 1_000_000,
            gap_ns: 0,
            calibration: None,
            agreements: 0,
            x_agreements: 0,
            fast: false,
            held: Measure::default(),
            spiked_from: Measure::default(),
            stall_limit: 0,
            climbed: false,
            bisecting: false,
            extending: None,
            expect_x: 0.0,
            settle_waited: false,
            x_reliable: false,
            last_window: Measure::default(),
            prev: Measure::default(),
            plateau_sum: 0.0,
            plateau_n: 0,
            good_limit: 0,
            reference: Measure::default(),
            phase_ticks: 0,
            since_probe: 0,
            probe_from: 0,
            spike: 0,
            deviation: 0,
            baseline: [0; 64],
            baseline_len: 0,
            baseline_pos: 0,
            last_p99: 0,
            last_x: 0.0,
            last_bytes_per_s: 0.0,
            peak: 0,
            reprobes: 0,
            converge_ticks: 0,
            ticks: 0,
            _tuning: PhantomData,
        }
    }

    /// Current decision.
    pub fn decision(&self) -> Decision {
        Decision {
            limit: self.limit,
            batch_threshold: self.batch,
            phase: self.phase,
        }
    }

    /// Lowest limit the controller uses.
    pub fn min_limit(&self) -> u32 {
        self.min
    }

    /// Highest limit the controller uses.
    pub fn max_limit(&self) -> u32 {
        self.max
    }

    /// Statistics.
    pub fn stats(&self) -> ControllerStats {
        ControllerStats {
            phase: Some(self.phase),
            limit: self.limit,
            batch_threshold: self.batch,
            p99_ns: self.last_p99,
            baseline_p99_ns: self.baseline_p99(),
            ops_per_sec: self.last_x,
            bytes_per_sec: self.last_bytes_per_s,
            peak_in_flight: self.peak,
            reprobes: self.reprobes,
            ticks_to_converge: self.converge_ticks,
            adaptive: self.adaptive,
            target_p99_ns: self.target_p99_ns,
            window_ops_per_sec: self.last_window.x,
            window_mean_ns: self.last_window.lat,
            window_ns: self.window_len(),
        }
    }

    /// Minimum P99 over the recent valid windows (0 before any).
    pub fn baseline_p99(&self) -> u64 {
        self.baseline[..self.baseline_len]
            .iter()
            .copied()
            .min()
            .unwrap_or(0)
    }

    /// Sets (or clears, with 0) the P99 target in nanoseconds, and starts a new search.
    pub fn set_target_p99(&mut self, ns: u64) {
        self.target_p99_ns = ns;
        if self.adaptive && self.phase != Phase::Baseline {
            self.restart_search();
        }
    }

    /// Sets the lowest limit (clamped to `1..=max`); raises the limit to it if needed.
    pub fn set_min_limit(&mut self, n: u32) {
        self.min = n.clamp(1, self.max);
        self.limit = self.limit.max(self.min);
    }

    /// Pins the batch threshold (`Some`), or returns it to tuning from its current value.
    pub fn pin_batch(&mut self, threshold: Option<u32>) {
        match threshold {
            Some(n) => {
                self.batch = n.max(1);
                self.batch_pinned = true;
            }
            None => {
                self.batch_pinned = false;
                self.batch = self.batch.clamp(T::BATCH_MIN, T::BATCH_MAX);
            }
        }
    }

    /// Static mode: holds `n` (clamped to `1..=max`), adaptation off.
    pub fn set_static(&mut self, n: u32) {
        self.adaptive = false;
        self.limit = n.clamp(1, self.max);
    }

    /// Turns adaptation on (a new search from the current limit) or off (holding it).
    pub fn set_adaptive(&mut self, on: bool) {
        if on && !self.adaptive {
            self.adaptive = true;
            self.limit = self.limit.clamp(self.min, self.max);
            self.restart_search();
        } else if !on {
            self.adaptive = false;
        }
    }

    /// A control call restarts the search from BASELINE, whatever the phase (the only way
    /// back to BASELINE).
    fn restart_search(&mut self) {
        self.extending = None;
        self.stall_limit = 0;
        self.phase = Phase::Baseline;
        self.phase_ticks = 0;
        self.mode = Mode::Coarse;
        self.window = Window {
            skip: true,
            ..Window::default()
        };
    }

    fn enter(&mut self, phase: Phase) {
        // Checked on every transition in debug builds and in the unit tests of any profile
        // (the property tests rely on it, `cargo test --release` included).
        if cfg!(any(debug_assertions, test)) {
            assert!(
                self.phase.can_become(phase),
                "illegal phase transition {} -> {}",
                self.phase,
                phase
            );
        }
        if phase.is_stable() && self.converge_ticks == 0 {
            self.converge_ticks = self.ticks;
        }
        self.phase = phase;
        self.phase_ticks = 0;
    }

    fn set_limit(&mut self, n: u32) {
        let n = n.clamp(self.min, self.max);
        if n != self.limit {
            self.limit = n;
            self.window = Window {
                skip: true,
                ..Window::default()
            };
        }
    }

    fn step_up(&self, n: u32, permille: u32) -> u32 {
        let grown = (u64::from(n) * u64::from(permille) / 1000) as u32;
        grown
            .max(n.saturating_add(T::ADDITIVE_INCREASE))
            .min(self.max)
    }

    fn step_fine(&self, n: u32) -> u32 {
        n.saturating_add((n / 16).max(T::ADDITIVE_INCREASE))
            .min(self.max)
    }

    fn step_down(&self, n: u32) -> u32 {
        let cut = (u64::from(n) * u64::from(T::BACKOFF_PERMILLE) / 1000) as u32;
        cut.min(n.saturating_sub(1)).max(self.min)
    }

    fn guard_ns(&self) -> u64 {
        if self.target_p99_ns > 0 {
            return self.target_p99_ns;
        }
        match self.baseline_p99() {
            0 => u64::from(T::P99_CEILING_US) * 1000,
            b => b.saturating_mul(u64::from(T::LATENCY_GUARD_MULT)),
        }
    }

    fn over_target(&self, m: &Measure, permille: u64) -> bool {
        self.target_p99_ns > 0 && m.p99 > self.target_p99_ns.saturating_mul(permille) / 1000
    }

    /// `TRIM_LOSS_PERMILLE` as a fraction.
    fn trim_loss() -> f64 {
        f64::from(T::TRIM_LOSS_PERMILLE) / 1000.0
    }

    /// Latency elasticity between two windows: relative latency change over relative limit
    /// change. `None` without latency samples in both.
    fn latency_elasticity(a: &Measure, b: &Measure) -> Option<f64> {
        let dn = frac(f64::from(b.limit), f64::from(a.limit));
        (a.lat > 0.0 && b.lat > 0.0 && dn != 0.0).then(|| frac(b.lat, a.lat) / dn)
    }

    /// Whether going from `a` to the larger limit `b` paid. By Little's law (throughput =
    /// depth / latency) more depth buys throughput exactly when latency grows by less than
    /// the depth did: the climb pays while the latency elasticity stays under
    /// `1 - CLIMB_GAIN_PERMILLE` (throughput elasticity over `CLIMB_GAIN_PERMILLE`). Mean
    /// latency is a ratio of sums over the same completions, so unlike a window's throughput
    /// it does not alias with a device that releases I/O in bursts. Without latency samples
    /// the measured throughput decides.
    fn climb_paid(a: &Measure, b: &Measure) -> bool {
        let dn = frac(f64::from(b.limit), f64::from(a.limit));
        if dn <= 0.0 {
            return false;
        }
        let gain = f64::from(T::CLIMB_GAIN_PERMILLE) / 1000.0;
        match Self::latency_elasticity(a, b) {
            Some(e) => e < 1.0 - gain,
            None => frac(b.x, a.x) >= dn * gain,
        }
    }

    /// Whether cutting from `a` to the smaller limit `b` only drained a queue: latency fell by
    /// at least `QUEUE_RISE_PERMILLE` of the cut (past the knee it falls in proportion; an
    /// ambiguous drop ends the trim on the larger limit, as the knee may lie between), and
    /// throughput stayed within twice `TRIM_LOSS_PERMILLE` of the plateau's mean over
    /// several windows (one window's throughput aliases with bursty devices). Without latency
    /// samples, throughput within `TRIM_LOSS_PERMILLE` of the plateau decides.
    fn trim_kept(a: &Measure, b: &Measure, plateau: f64) -> bool {
        let loss = Self::trim_loss();
        match Self::latency_elasticity(a, b) {
            // Going down, dn < 0 and a draining queue gives a positive elasticity near 1.
            Some(e) => {
                e >= f64::from(T::QUEUE_RISE_PERMILLE) / 1000.0
                    && b.x >= plateau * (1.0 - 2.0 * loss)
            }
            None => b.x >= plateau * (1.0 - loss),
        }
    }

    /// Whether the application keeps fewer requests pending than the limit allows (then a
    /// larger limit cannot be measured, and is not tried).
    fn app_limited(m: &Measure) -> bool {
        m.pend > 0.0 && m.pend < 0.75 * f64::from(m.limit)
    }

    fn record_baseline(&mut self, p99: u64) {
        let cap = (T::BASELINE_WINDOWS as usize).min(self.baseline.len());
        self.baseline[self.baseline_pos] = p99;
        self.baseline_pos = (self.baseline_pos + 1) % cap;
        self.baseline_len = (self.baseline_len + 1).min(cap);
    }

    fn tune_batch(&mut self, t: &TickInput) {
        if self.batch_pinned || t.submits == 0 {
            return;
        }
        let per = t.sqes / t.submits;
        if per < 8 {
            self.batch = (self.batch + 1).min(T::BATCH_MAX);
        } else if per > 12 {
            self.batch = self.batch.saturating_sub(1).max(T::BATCH_MIN);
        }
    }

    /// Advances one tick.
    pub fn tick(&mut self, t: &TickInput) -> Decision {
        self.ticks = self.ticks.saturating_add(1);
        self.phase_ticks = self.phase_ticks.saturating_add(1);
        self.peak = self.peak.max(t.pending);
        self.tune_batch(t);
        let valid = t.samples >= u64::from(T::MIN_P99_SAMPLES);
        if t.elapsed_ns > 0 {
            self.last_x = t.completions as f64 * 1e9 / t.elapsed_ns as f64;
            self.last_bytes_per_s = t.bytes as f64 * 1e9 / t.elapsed_ns as f64;
        }
        if valid {
            self.last_p99 = t.p99_ns;
        }
        if !self.adaptive {
            return self.decision();
        }
        if valid && !matches!(self.phase, Phase::Backoff | Phase::Settling) {
            self.record_baseline(t.p99_ns);
        }
        if valid {
            if t.p99_ns > self.guard_ns() {
                self.spike = self.spike.saturating_add(1);
            } else {
                self.spike = 0;
            }
        }
        if self.spike >= T::SPIKE_TICKS && self.limit <= self.stall_limit {
            self.spike = 0;
        }
        if self.spike >= T::SPIKE_TICKS && self.phase != Phase::Backoff {
            self.spike = 0;
            if self.phase.is_stable() {
                // A spike out of STEADY/CONVERGED starts a new search like any deviation.
                self.reprobes = self.reprobes.saturating_add(1);
            }
            self.mode = Mode::Relieve;
            self.probe_from = 0;
            // The last full window at this limit: the latest one, or, right after a periodic
            // probe went back, the latest window held there.
            self.spiked_from = [self.last_window, self.held]
                .into_iter()
                .find(|w| w.limit == self.limit)
                .unwrap_or_default();
            self.enter(Phase::Backoff);
            let next = self.step_down(self.limit);
            self.prev = Measure {
                limit: next,
                ..Measure::default()
            };
            self.set_limit(next);
            return self.decision();
        }
        if t.completions > 0 && t.pending > 0 {
            self.gap_ns = self.gap_ns.max(t.elapsed_ns);
        }
        if self.window.add::<T>(t, self.window_len()) {
            self.gap_ns -= self.gap_ns / 4;
            let limit = self.limit;
            let m = self.window.take(limit);
            self.last_window = m;
            self.on_window(m);
        }
        self.decision()
    }

    /// The window length in use: the calibrated one, but at least `GAP_WINDOWS` times the
    /// longest recent gap between ticks. A ring whose completions stop for 50 ms at a time (a
    /// throttle waiting for its next slice) delivers its I/O in bursts, and a window holding
    /// one such cycle more or less than the next misreads throughput by the burst's share.
    fn window_len(&self) -> u64 {
        let max_ns = u64::from(T::MAX_WINDOW_MS) * 1_000_000;
        self.window_ns
            .max(self.gap_ns.saturating_mul(u64::from(T::GAP_WINDOWS)))
            .min(max_ns)
    }

    fn begin_climb(&mut self, from: Measure) {
        self.begin_climb_in(from, Mode::Coarse);
    }

    fn begin_climb_in(&mut self, from: Measure, mode: Mode) {
        self.stall_limit = 0;
        let next = match mode {
            Mode::Fine => self.step_fine(from.limit),
            _ => self.step_up(from.limit, T::PROBE_STEP_PERMILLE),
        };
        if next == from.limit {
            self.settle(from.limit);
            return;
        }
        self.prev = from;
        self.mode = mode;
        self.climbed = false;
        self.bisecting = false;
        self.plateau_sum = 0.0;
        self.plateau_n = 0;
        self.enter(Phase::Probing);
        self.set_limit(next);
    }

    fn settle(&mut self, limit: u32) {
        self.expect_x = 0.0;
        self.settle_waited = false;
        self.probe_from = 0;
        self.deviation = 0;
        self.since_probe = 0;
        // A re-probe that cannot move (already at the bound) leaves a stable phase as it is.
        if !self.phase.is_stable() {
            self.enter(Phase::Settling);
        }
        self.set_limit(limit);
    }

    fn trim_step(&self, n: u32) -> u32 {
        if self.fast {
            (n / 4).max(self.min).min(n.saturating_sub(1)).max(self.min)
        } else {
            self.step_down(n)
        }
    }

    fn start_trim(&mut self, from: Measure) {
        // Halving steps: a cut of 50% moves latency far past window noise, where a 20% cut
        // on a bursty device would not; an overshoot is caught by the geometric middle.
        self.fast = true;
        self.extending = None;
        self.mode = Mode::Coarse;
        self.good_limit = from.limit;
        self.plateau_sum = from.x;
        self.plateau_n = 1;
        self.prev = from;
        self.enter(Phase::Backoff);
        let next = self.trim_step(from.limit);
        if next == from.limit {
            self.settle(from.limit);
        } else {
            self.set_limit(next);
        }
    }

    fn on_window(&mut self, m: Measure) {
        match self.phase {
            Phase::Baseline => {
                // Calibration: two windows in a row at the same limit must agree within twice
                // the trim tolerance, else the device is too bursty for this window length
                // (a throttle releasing I/O every 100 ms, say) and the window doubles.
                // Mean latency is the signal decisions rest on; throughput only without samples.
                let tol = Self::trim_loss();
                let agree = self.calibration.is_some_and(|c| {
                    if c.lat > 0.0 && m.lat > 0.0 {
                        (m.lat - c.lat).abs() <= (m.lat + c.lat) * 2.5 * tol
                    } else {
                        (m.x - c.x).abs() <= (m.x + c.x) * tol
                    }
                });
                let max_ns = u64::from(T::MAX_WINDOW_MS) * 1_000_000;
                // Two agreeing pairs in a row: one agreement can be luck on a bursty device.
                self.agreements = if agree { self.agreements + 1 } else { 0 };
                let x_agree = self
                    .calibration
                    .is_some_and(|c| (m.x - c.x).abs() <= (m.x + c.x) * tol);
                self.x_agreements = if x_agree { self.x_agreements + 1 } else { 0 };
                // Windows sized by the gap rule already hold many bursts: one pair will do.
                let needed = if self.window_len() > self.window_ns {
                    1
                } else {
                    2
                };
                if self.agreements < needed && self.window_ns < max_ns {
                    if self.calibration.is_some() && !agree {
                        self.window_ns = (self.window_ns * 2).min(max_ns);
                    }
                    self.calibration = Some(m);
                    return;
                }
                if self.phase_ticks >= T::WARMUP_TICKS {
                    // Throughput that agrees too can guard the trim tightly; a bursty device's
                    // cannot, and the trim then rests on latency alone.
                    self.x_reliable = self.x_agreements >= 2;
                    self.calibration = None;
                    self.agreements = 0;
                    self.x_agreements = 0;
                    if self.over_target(&m, 1000) {
                        self.relieve(m);
                    } else {
                        self.begin_climb(m);
                    }
                }
            }
            Phase::Probing => self.on_probe(m),
            Phase::Backoff => self.on_backoff(m),
            Phase::Settling => {
                if self.phase_ticks < T::SETTLE_TICKS {
                    return;
                }
                if self.expect_x > 0.0 && 1.5 * m.x < self.expect_x {
                    // A third of the throughput the search measured here is gone: the device
                    // changed while the limit settled (a reference taken now would hide it
                    // from the deviation check). Search again from here: a climb that pays
                    // finds a knee that moved up (a slower device), one that does not turns
                    // into a trim (less capacity).
                    self.reprobes = self.reprobes.saturating_add(1);
                    self.begin_climb(m);
                    return;
                }
                if self.expect_x > 0.0 && m.x > 1.25 * self.expect_x && !self.settle_waited {
                    // A throttle that was under-used at a lower limit releases its saved
                    // budget in a burst (150k IOPS on a 100k cap); a reference taken now
                    // would make the next ordinary window look like a 1.5x latency jump.
                    self.settle_waited = true;
                    return;
                }
                self.reference = m;
                self.held = m;
                self.enter(Phase::Steady);
            }
            Phase::Steady | Phase::Converged => self.on_stable(m),
        }
    }

    fn relieve(&mut self, m: Measure) {
        if m.limit <= self.min {
            self.settle(self.min);
            return;
        }
        self.mode = Mode::Relieve;
        self.prev = m;
        self.enter(Phase::Backoff);
        let next = self.step_down(m.limit);
        self.set_limit(next);
    }

    fn on_probe(&mut self, m: Measure) {
        let prev = self.prev;
        if self.over_target(&m, 900) {
            if self.mode == Mode::Fine || !self.over_target(&m, 1000) {
                // Fine steps stop at the last limit under 90% of the target.
                let keep = if self.over_target(&m, 1000) {
                    prev.limit
                } else {
                    m.limit
                };
                self.settle(keep);
            } else {
                self.relieve(m);
            }
            return;
        }
        let headroom = self.target_p99_ns > 0 && m.p99 > 0;
        let paid = (Self::climb_paid(&prev, &m) || headroom) && !Self::app_limited(&m);
        if self.bisecting {
            // `m` is the geometric middle of a step that did not pay: keep the better end.
            self.bisecting = false;
            self.settle(if paid { m.limit } else { prev.limit });
            return;
        }
        if paid && m.limit < self.max {
            self.climbed = true;
            // Latency did not move at all: far below the knee, so double next.
            let flat = Self::latency_elasticity(&prev, &m)
                .is_some_and(|e| e < 1.0 - f64::from(T::FAST_STEP_PERMILLE) / 1000.0);
            self.prev = m;
            let next = match self.mode {
                Mode::Fine => self.step_fine(m.limit),
                _ if flat => self.step_up(m.limit, 2000),
                _ => self.step_up(m.limit, T::PROBE_STEP_PERMILLE),
            };
            self.set_limit(next);
            return;
        }
        let loss = Self::trim_loss();
        if !paid && self.target_p99_ns == 0 && m.x < prev.x * (1.0 - 6.0 * loss) {
            // More depth, much less throughput: the device changed under the search (its
            // capacity fell), so the deeper window's figures describe it. Trim from here.
            self.trim_below(prev, &m);
            return;
        }
        if paid || self.target_p99_ns > 0 || self.mode == Mode::Fine {
            // At the maximum, or in target mode (the target owns latency): hold here.
            let keep = if paid { m.limit } else { prev.limit };
            self.settle(keep);
            return;
        }
        // Plateau. After paying steps the knee lies between the two limits: measure their
        // geometric middle once. If the very first step failed, the start was past the knee:
        // trim down from it.
        if self.climbed {
            let mid = geometric_mid(prev.limit, m.limit);
            if mid > prev.limit && mid < m.limit {
                self.bisecting = true;
                self.set_limit(mid);
            } else {
                self.settle(prev.limit);
            }
            return;
        }
        self.trim_below(prev, &m);
    }

    /// Starts a trim from the shallower window `prev` of a climb whose deeper window `m` did
    /// not pay. Both limits are on the plateau, so the shallower one is described by the
    /// deeper window's throughput (throughput does not fall with depth) and Little's law: the
    /// shallower window may straddle a change in the device (the one a re-probe noticed).
    fn trim_below(&mut self, prev: Measure, m: &Measure) {
        let mut from = prev;
        if m.x > 0.0 {
            from.x = m.x;
            from.lat = f64::from(from.limit) / m.x * 1e9;
        }
        self.start_trim(from);
    }

    fn on_backoff(&mut self, m: Measure) {
        match self.mode {
            Mode::Relieve => {
                if self.over_target(&m, 1000) && m.limit > self.min {
                    let next = self.step_down(m.limit);
                    self.prev = m;
                    self.set_limit(next);
                } else if self.target_p99_ns > 0 {
                    // Under the target again: climb back in fine steps.
                    self.prev = m;
                    self.mode = Mode::Fine;
                    self.enter(Phase::Probing);
                    let next = self.step_fine(m.limit);
                    if next == m.limit {
                        self.settle(m.limit);
                    } else {
                        self.set_limit(next);
                    }
                } else {
                    let from = std::mem::take(&mut self.spiked_from);
                    let loss = 3.0 * Self::trim_loss();
                    if from.limit > m.limit && m.x < from.x * (1.0 - loss) {
                        // The cut lost throughput: the spike was the device's (a stall), not
                        // a queue's. Back to the limit it cut.
                        self.settle(from.limit);
                        self.expect_x = from.x;
                        self.stall_limit = from.limit;
                    } else {
                        // A latency spike without a target: past the knee, so search down
                        // from here as after a plateau.
                        self.start_trim(m);
                    }
                }
            }
            Mode::Coarse | Mode::Fine => {
                let plateau = self.plateau_sum / f64::from(self.plateau_n.max(1));
                let again = self.extending.take() == Some(m.limit);
                let kept = Self::trim_kept(&self.prev, &m, plateau);
                let loss = Self::trim_loss();
                if !kept && !again && m.x >= plateau * (1.0 - 6.0 * loss) {
                    // Lost less throughput than one bursty window can misread: measure the
                    // same limit once more and let the second window decide (the first after
                    // a cut can also hold the tail of the deeper queue's stalls).
                    self.extending = Some(m.limit);
                    return;
                }
                if kept && !self.fast && self.good_limit > m.limit {
                    // The middle between a kept cut and one that lost throughput held: the
                    // knee lies within a factor of two below, close enough to stop here.
                    self.settle(m.limit);
                    self.expect_x = plateau;
                } else if kept {
                    // Latency fell in full proportion: still deep in the queue, cut again.
                    self.fast = true;
                    self.good_limit = m.limit;
                    self.plateau_sum += m.x;
                    self.plateau_n = self.plateau_n.saturating_add(1);
                    self.prev = m;
                    let next = self.trim_step(m.limit);
                    if next == m.limit {
                        self.settle(m.limit);
                        self.expect_x = plateau;
                    } else {
                        self.set_limit(next);
                    }
                } else if self.fast {
                    // A halving went past the knee: try the geometric middle once.
                    self.fast = false;
                    let mid = geometric_mid(self.good_limit, m.limit);
                    if mid > m.limit && mid < self.good_limit {
                        self.set_limit(mid);
                    } else {
                        self.settle(self.good_limit.max(self.min));
                        self.expect_x = plateau;
                    }
                } else {
                    self.settle(self.good_limit.max(self.min));
                    self.expect_x = plateau;
                }
            }
        }
    }

    fn on_stable(&mut self, m: Measure) {
        self.since_probe = self.since_probe.saturating_add(m.ticks + 1);
        let r = self.reference;
        if self.probe_from != 0 {
            let from = self.probe_from;
            let again = self.extending.take() == Some(m.limit);
            // Compared with the latest window at the held limit, not the settling reference:
            // the device may have changed since.
            let base = self.held;
            let answered =
                Self::climb_paid(&base, &m) && !Self::app_limited(&m) && !self.over_target(&m, 900);
            // A single window of a small step answers yes only on a clear signal (latency
            // nearly flat, as when capacity grew): window noise alone moves the elasticity of
            // a x1.25 step by a third on a bursty device. Otherwise a second window decides.
            let clear = Self::latency_elasticity(&base, &m)
                .is_some_and(|e| e < 1.0 - 2.0 * f64::from(T::CLIMB_GAIN_PERMILLE) / 1000.0);
            if answered && !clear && !again {
                self.extending = Some(m.limit);
                return;
            }
            self.probe_from = 0;
            if answered {
                // The probe found headroom next to the converged point: climb on in fine
                // steps from the probed limit.
                self.reprobes = self.reprobes.saturating_add(1);
                self.begin_climb_in(m, Mode::Fine);
            } else {
                self.set_limit(from);
            }
            return;
        }
        let dev = f64::from(T::DEVIATION_PERMILLE) / 1000.0;
        // Latency at a held depth moves when the device changes (Little's law: half the
        // capacity doubles it); throughput only matters when latency is not sampled.
        self.held = m;
        let x_moved = frac(m.x, r.x).abs() > dev && !Self::app_limited(&m);
        let moved = if r.lat > 0.0 && m.lat > 0.0 {
            frac(m.lat, r.lat).abs() > 2.0 * dev || (self.x_reliable && x_moved)
        } else {
            x_moved
        };
        // A latency that moved by half at the same depth is no noise (windows at a held depth
        // agree within ~15% on a throttled device): act on one window. A halved capacity
        // doubles it, but the window the change fell in shows less.
        let jumped = r.lat > 0.0 && m.lat > 0.0 && (m.lat > 1.5 * r.lat || 1.5 * m.lat < r.lat);
        if moved || self.over_target(&m, 1000) {
            self.deviation += 1;
            if self.deviation >= T::DEVIATION_WINDOWS || jumped {
                self.deviation = 0;
                self.reprobes = self.reprobes.saturating_add(1);
                if self.over_target(&m, 1000) {
                    self.relieve(m);
                } else {
                    // At a held depth, less capacity and a slower device look alike (Little's
                    // law ties latency to throughput); one climbing step tells them apart, and
                    // a step that does not pay turns into a trim from here.
                    self.begin_climb(m);
                }
                return;
            }
        } else {
            self.deviation = 0;
        }
        if self.phase == Phase::Steady && self.phase_ticks >= T::CONVERGE_TICKS {
            self.enter(Phase::Converged);
        }
        // At least eight windows apart: a probe window runs deeper than the knee, and with the
        // long windows of a bursty device a probe every REPROBE_TICKS would spend a third of
        // the time there.
        let interval = T::REPROBE_TICKS.max(m.ticks.saturating_mul(8));
        if self.since_probe >= interval && self.limit < self.max {
            self.since_probe = 0;
            self.probe_from = self.limit;
            let next = self.step_up(self.limit, 1250);
            self.set_limit(next);
        }
    }
}

#[cfg(test)]
mod tests;
