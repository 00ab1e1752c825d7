//! The adaptive controller: a pure state machine that moves one ring's in-flight limit to the
//! depth where the device delivers its capacity with the least queueing.
//!
//! Pure: the engine feeds it one [`TickInput`] per tick (elapsed time, completions, bytes,
//! latency samples, occupancy, submit counts) and applies the [`Decision`]. No clock, no I/O,
//! no allocation: the same inputs give the same outputs, which is what lets a simulator in
//! virtual time drive it through every device model deterministically (`sim`, `tests`).
//!
//! # The model
//!
//! A device is a pipe with a **capacity** (completions per second) and a **base latency** (the
//! latency with nothing queued). By Little's law (depth = throughput x latency) the depth that
//! fills it is capacity x base latency; every request beyond that waits in a queue and adds
//! latency, nothing else. That is the structure of TCP BBR (a windowed max of delivery rate, a
//! windowed min of round-trip time, in-flight sized from their product, gentle periodic
//! probes), and brpc's and Netflix's concurrency limiters use the same two signals. Storage
//! bends the pure pipe: a multi-queue SSD (or the loop device) gains throughput slowly up to
//! several times the product, a CPU-bound tmpfs barely gains at all, a token-bucket throttle
//! passes each time slice's budget in a burst and then holds requests. So the depth is not
//! computed from the product alone: a **search** measures the curve itself, in windows at
//! held limits, and the operating point is the shallowest measured depth within
//! `KNEE_SHARE_PERMILLE` of the best throughput. The estimates (`estimators`) bound what the
//! probes may do: a drain probe and the cut after a capacity fall stop at the fill depth
//! (P99 relief and the descent may go lower).
//!
//! Each window holds one limit for at least `WINDOW_MIN_MS` (the first tick after a change
//! is left out). A throttle passes each time slice's budget in a burst and then holds every
//! request until the next slice; a window cut at an arbitrary tick misreads it by up to a
//! burst. So once holds show up (ticks with requests pending and nothing completed; the
//! engine counts them per tick interval and never defers such a tick), windows span at least
//! the longest recent cycle (hold end to hold end) and `HOLD_WINDOW_MULT` holds, and they
//! begin and end on the first tick after a hold (the throttle's next slice; where a hold
//! begins moves with the device's speed): whole cycles, which the throttle fills with
//! the same budget each. Two held windows that disagree by more than
//! `WINDOW_AGREE_PERMILLE` while the level holds double the window (a throttle whose holds
//! are shorter than a tick); agreeing windows halve it again. A steady device keeps short
//! windows. Latency is Little's law on counted occupancy (`window`).
//!
//! A device that is not throttled has its own noise, measured on this project's 2-core VM:
//! its whole speed shifts by up to ~20% for tens to hundreds of milliseconds (other tenants,
//! CPU frequency), and it stalls for a tick or two now and then. Two defences, both from
//! how one benchmarks on a noisy machine: a window's throughput is the **median** of its
//! ticks' rates (a stall moves a tick, not the median; behind a throttle, where ticks
//! alternate bursts and holds, it is the total over whole cycles), and comparisons are
//! **paired**: a search step that did not pay and every probe are judged against the point
//! below (or the operating point) measured on both sides of them in time (A, B, A: a shift
//! during the step moves both A windows alike); a judgement whose two A windows disagree
//! says nothing (a step is taken again in longer windows, a probe is dropped). Off a
//! throttle the climb keeps doubling: a x1.25 step's gain is smaller than this noise.
//!
//! # The state machine
//!
//! ```text
//!   BASELINE ─> PROBING: Climb ── x2 (throttled / P99 target: x1.25 once ┐
//!                 │   a step paid less than STRONG)                        │
//!                 │   off a throttle, a step under PAY: one window back at │
//!                 │   the point below (confirm); below moved: step again   │
//!                 │  first step did not pay        step did not pay / P99 │
//!                 v                                 near target / full    v
//!   BACKOFF: Descend (halve while throughput holds) ──> choose the operating point
//!                                                                          │
//!   SETTLING: Settle (one window after a fall's cut, after holds appear in STEADY,
//!             or at the minimum when no point meets the target) ─> STEADY/CONVERGED: Hold
//!     Hold ── every PROBE_INTERVAL windows ──> PROBING: ProbeUp (x1.25, one window)
//!                                          └─> BACKOFF: ProbeDown (x0.8, one window)
//!     Probe ── throttled: judged at once; else Return (one window back at the point),
//!              dropped if the point's windows around it disagree, else judged
//!     Hold ── capacity fell ──> SETTLING at depth x fall (Little's law); back if the cut
//!                               lost throughput (the whole device slowed)
//!     Hold ── capacity rose ──> throttled: PROBING: Climb from here; else ProbeUp
//!     Hold ── block size changed ──> BASELINE: a new search from START_IN_FLIGHT
//!     any ── P99 over target SPIKE_TICKS ticks in a row; Hold, Settle: a window's P99
//!            over it ──> BACKOFF: Relieve (x BACKOFF_PERMILLE until met)
//! ```
//!
//! [`Phase`] is derived from the private `State`; every change of state goes through one checked
//! function (`Controller::go`), which asserts the phase transition is in
//! [`Phase::can_become`]'s table (in debug builds and in every test build).
//!
//! # The rules
//!
//! | rule | trigger | action | constants | test |
//! |---|---|---|---|---|
//! | climb | a window of the search, its step's throughput elasticity at least `PAY` | next step: x`STARTUP_GAIN`; behind a throttle or under a P99 target, x`PROBE_GAIN` once a step paid less than `STRONG` | `STARTUP_GAIN_PERMILLE`, `PROBE_GAIN_PERMILLE`, `PAY_ELASTICITY_PERMILLE`, `STRONG_ELASTICITY_PERMILLE` | `zoo_devices_meet_the_goals`, `climb_steps_shrink_near_the_knee` |
//! | confirm | a step of a search off a throttle paid less than `PAY`, not near the P99 target | one window back at the point below; the step is judged against the mean of that point's two windows | `PAY_ELASTICITY_PERMILLE` | `zoo_devices_meet_the_goals` (loop, tmpfs) |
//! | redo | the two windows of the point below disagree by more than `WINDOW_AGREE` | the point takes its newer window's level; the step again, in windows twice as long, up to `STEP_RETRIES` times | `WINDOW_AGREE_PERMILLE`, `STEP_RETRIES` | `zoo_devices_meet_the_goals` (loop, tmpfs) |
//! | choose | a step paid less than `PAY`, the max limit, or the curve is full | hold the shallowest point within `KNEE_SHARE` of the best (a step that did not pay is not a candidate) | `KNEE_SHARE_PERMILLE` | `zoo_devices_meet_the_goals` |
//! | descend | a search's first step up did not pay | halve while throughput stays within `KNEE_SHARE` of the best, then choose | `KNEE_SHARE_PERMILLE` | `a_search_that_starts_past_the_knee_descends` |
//! | cycles | a window shows the first hold in a while | measure the previous point again in windows of whole cycles | `HOLD_WINDOW_MULT` | `zoo_devices_meet_the_goals` (knee, bytes) |
//! | noise | two held windows disagree while the level holds | double the window (up to 8x); 8 agreeing windows halve it | `WINDOW_AGREE_PERMILLE`, `WINDOW_MIN_MS`, `WINDOW_MAX_MS` | `zoo_devices_meet_the_goals` (knee 20k) |
//! | app-limited | occupancy under `APP_LIMITED` of the limit | the climb stops there; STEADY judges nothing | `APP_LIMITED_PERMILLE` | `an_application_limited_ring_does_not_climb` |
//! | capacity fell | `DEVIATION_WINDOWS` windows under (1 - `DROP`) x reference, the latest two agreeing | settle at depth x fall ratio, not below the fill depth; back to the depth if the cut's window is under `KNEE_SHARE` of the window before the cut (the whole device slowed) | `DROP_PERMILLE`, `DEVIATION_WINDOWS`, `KNEE_SHARE_PERMILLE` | `capacity_changes_are_followed`, `a_noisy_neighbour_is_followed_both_ways`, `zoo_devices_meet_the_goals` (loop, tmpfs) |
//! | capacity rose | the same, over (1 + `RISE`) x reference | throttled: climb from the current depth (x2 while steps pay well); else a probe up | `RISE_PERMILLE`, `DEVIATION_WINDOWS` | `capacity_changes_are_followed`, `a_noisy_neighbour_is_followed_both_ways` |
//! | probe up | every `PROBE_INTERVAL` windows of STEADY, alternating with the drain probe | one window at x`PROBE_GAIN` (then, not throttled, one back at the point); elasticity against the point's level (throttled: the search's best) at least `PROBE_PAY` starts a climb, else back | `PROBE_INTERVAL_WINDOWS`, `PROBE_PAY_ELASTICITY_PERMILLE` | `zoo_devices_meet_the_goals` |
//! | probe down | the same, alternating | one window at x`DRAIN`, not below the fill depth (then as above); kept if throughput stays within `KNEE_SHARE` of the point's level and within twice that loss of the best level an earlier drain came down from (behind a throttle also of the search's best) | `DRAIN_PERMILLE`, `KNEE_SHARE_PERMILLE` | `a_drain_probe_finds_a_shallower_knee`, `drains_cannot_walk_down_a_flat_curve_one_small_loss_at_a_time` |
//! | size change | mean bytes per op moves by a factor of `SIZE_CHANGE` | forget the model, search again from `START_IN_FLIGHT` | `SIZE_CHANGE_PERMILLE`, `START_IN_FLIGHT` | `a_block_size_change_starts_a_new_search` |
//! | P99 target | a window's P99 over the target (or `SPIKE_TICKS` ticks in a row) | cut x`BACKOFF` until met; climbs stop at `TARGET_HEADROOM` of it; a x2 step that broke it is retried in x1.25 steps | `BACKOFF_PERMILLE`, `SPIKE_TICKS`, `TARGET_HEADROOM_PERMILLE` | `p99_target_is_met_near_the_best_depth` |
//! | batch | SQEs per submit syscall | see `batch` | `BATCH_*` | `batch_threshold_tunes_pins_and_unpins` |
//! | remember holds | windows without a longer hold | the remembered hold and cycle lose a quarter per window down to 1 ms: the device stays a throttle until a control call starts a new search | — | `a_hold_is_remembered_until_a_new_search` |
//! | fill depth | capacity x base latency | rounded up (a product within `FILL_SLACK` over a whole number rounds down) | — | `fill_depth_is_littles_law` |
//! | converged | STEADY for `CONVERGE_MS` without a new operating point | CONVERGED (still watching) | `CONVERGE_MS` | `zoo_devices_meet_the_goals` |
//! | low IOPS | a tick with fewer than `MIN_P99_SAMPLES` samples | deferred ([`defer_tick`]): with no sample up to `LOW_IOPS_WINDOW_MS`, with some up to `LOW_IOPS_MAX_MS`; a tick ending in a hold never | `MIN_P99_SAMPLES`, `LOW_IOPS_WINDOW_MS`, `LOW_IOPS_MAX_MS` | `low_iops_gate` |
//!
//! What the simulator measured for each device of the zoo, and where the goals are missed, is
//! in the README ("The tuner in virtual time").

#![forbid(unsafe_code)]

mod batch;
mod curve;
mod estimators;
mod phase;
mod window;

#[cfg(test)]
pub(crate) mod sim;
#[cfg(test)]
mod tests;

use std::marker::PhantomData;

use crate::tuning::Tuning;
use batch::Batch;
use curve::Curve;
use estimators::{Filter, Model};
pub use phase::Phase;
use window::{Measure, Window};

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
    /// Time since the previous tick during which requests were pending and none completed,
    /// counted per tick interval, in nanoseconds. A tick whose last interval was such a hold
    /// is never deferred ([`defer_tick`]), so a tick with `hold_ns > 0` ends in a hold.
    pub hold_ns: u64,
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
/// low-IOPS gate): too few samples for a P99, and the window may still grow. A tick in which
/// requests were pending and none completed (`held`) is never deferred: merged into the next
/// one, a throttle's hold would be invisible, and the windows could not align to its cycles.
pub fn defer_tick<T: Tuning>(samples: u64, elapsed_ns: u64, held: bool) -> bool {
    !held
        && samples < u64::from(T::MIN_P99_SAMPLES)
        && elapsed_ns < u64::from(T::LOW_IOPS_MAX_MS) * 1_000_000
        && (elapsed_ns < u64::from(T::LOW_IOPS_WINDOW_MS) * 1_000_000 || samples > 0)
}

/// The operating point held in STEADY, and what STEADY counts about it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Held {
    /// The operating point's measure; its throughput follows the held windows (a running
    /// average, a quarter per window) while they deviate by less than the thresholds.
    reference: Measure,
    /// The best throughput of the search that chose the point (or the reference's, after a
    /// change): a drain probe must keep `KNEE_SHARE` of the reference and twice that loss
    /// of this, so successive probes cannot each lose a little and drift down the curve, and
    /// a best read a little high by a noisy window does not block every probe.
    best_x: f64,
    /// Off a throttle, the best level of the points drain probes have come down from since
    /// the search (0 at the search's own point): a drain must keep twice `KNEE_SHARE`'s
    /// loss of it too, so a chain of drains, each within the noise of its own point, cannot
    /// walk the point down a flat noisy curve (tmpfs) past the knee.
    anchor_x: f64,
    /// The previous window's throughput at this point (0: none).
    prev_x: f64,
    /// Windows since the last probe.
    windows: u32,
    /// Consecutive windows under (`drops`) or over (`rises`) the reference.
    drops: u32,
    rises: u32,
    /// Time at this operating point, ns.
    held_ns: u64,
    /// The next probe goes down (else up).
    probe_down: bool,
}

impl Held {
    fn at(reference: Measure, best_x: f64) -> Self {
        Held {
            reference,
            best_x: best_x.max(reference.x),
            anchor_x: 0.0,
            prev_x: 0.0,
            windows: 0,
            drops: 0,
            rises: 0,
            held_ns: 0,
            probe_down: false,
        }
    }
}

/// The controller's state; each variant carries exactly what its phase needs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// A search climbing the curve; its latest point is the previous window (none: the
    /// first window is at the starting limit). `gentle` once a step paid less than
    /// `STRONG_ELASTICITY_PERMILLE`; `first` for the search a start or a control call began
    /// (BASELINE).
    Climb {
        curve: Curve,
        gentle: bool,
        first: bool,
        /// The window at the latest step, while the point below it is measured again: a step
        /// off a throttle that paid less than `PAY` is judged against that point's level on
        /// both sides of it, so a device whose speed shifts during the step moves both sides
        /// alike.
        confirm: Option<Measure>,
        /// Steps measured again because the point below moved during their confirmation.
        redo: u32,
    },
    /// A search whose first step up did not pay: halving while throughput holds (the knee
    /// may lie below the start: a new block size, a device that got slower).
    Descend { curve: Curve },
    /// One window at a new limit, which becomes the reference: after a capacity fall's cut,
    /// after holds appear in STEADY, or at the minimum when no point meets the target. `from`:
    /// the window at the depth a fall in capacity cut from; the cut is kept only if it keeps
    /// that window's throughput.
    Settle { from: Option<Measure> },
    /// Holding the operating point.
    Hold(Held),
    /// One window above the held operating point.
    ProbeUp(Held),
    /// One window below it.
    ProbeDown(Held),
    /// One window back at the operating point after a probe, so the probe is judged against
    /// the point's level on both sides of it (a device whose speed shifts while the probe
    /// runs moves both sides alike). `up` for a probe above.
    Return {
        held: Held,
        probe: Measure,
        up: bool,
    },
    /// Cutting while P99 is over the target.
    Relieve,
}

impl State {
    fn phase<T: Tuning>(&self) -> Phase {
        match self {
            State::Climb { first: true, .. } => Phase::Baseline,
            State::Climb { .. } | State::ProbeUp(_) | State::Return { up: true, .. } => {
                Phase::Probing
            }
            State::Settle { .. } => Phase::Settling,
            State::Hold(h) if h.held_ns >= u64::from(T::CONVERGE_MS) * 1_000_000 => {
                Phase::Converged
            }
            State::Hold(_) => Phase::Steady,
            State::Descend { .. }
            | State::ProbeDown(_)
            | State::Return { up: false, .. }
            | State::Relieve => Phase::Backoff,
        }
    }

    fn search() -> Self {
        State::Climb {
            curve: Curve::default(),
            gentle: false,
            first: true,
            confirm: None,
            redo: 0,
        }
    }
}

/// The per-ring controller, generic over its constants.
#[derive(Debug, Clone)]
pub struct Controller<T: Tuning> {
    state: State,
    phase: Phase,
    limit: u32,
    min: u32,
    max: u32,
    /// The ring's own maximum (given to `new`): `max` may be lowered under it and raised back.
    cap: u32,
    /// The lowest limit asked for (`set_min_limit`); `min` is it capped by `max`, so a
    /// maximum raised again restores it.
    floor: u32,
    adaptive: bool,
    target_p99_ns: u64,
    batch: Batch,
    window: Window,
    /// The longest recent hold (decays by a quarter per window without a longer one), ns.
    hold_ns: u64,
    /// The longest recent time between two holds ending (a throttle's cycle; decays like
    /// `hold_ns` once holds stop), ns.
    cycle_ns: u64,
    /// Windows are `WINDOW_MIN_MS << window_shift` long at least.
    window_shift: u32,
    /// Consecutive held windows that agreed (see `WINDOW_AGREE_PERMILLE`).
    agreed: u32,
    model: Model,
    baseline_p99: Filter<{ BASELINE_P99_WINDOWS }>,
    last_window: Measure,
    spike: u32,
    last_p99: u64,
    last_x: f64,
    last_bytes_per_s: f64,
    peak: u32,
    reprobes: u32,
    converge_ticks: u64,
    ticks: u64,
    _tuning: PhantomData<fn() -> T>,
}

/// Doublings of the window length noise may cause (30 to 240 ms with the default
/// `WINDOW_MIN_MS`, capped by `WINDOW_MAX_MS`).
const MAX_WINDOW_SHIFT: u32 = 3;
/// Agreeing windows after which the window length halves again (a device that calmed down
/// gets short windows back within a second or so).
const AGREED_TO_SHORTEN: u32 = 8;

/// Windows over which the baseline P99 (a statistic; no rule uses it) is the minimum.
const BASELINE_P99_WINDOWS: usize = 50;

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
    /// Highest pending count seen (in flight and waiting in the backlog; the ring counts the
    /// peak in flight).
    pub peak_pending: u32,
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
    /// Capacity estimate (windowed max of window throughput), completions per second.
    pub capacity_ops_per_sec: f64,
    /// Base latency estimate (windowed min of window latency), ns.
    pub base_latency_ns: f64,
}

/// A remembered hold or cycle length after a window without a longer one: a quarter less,
/// but not under a millisecond. A device that held is taken for a throttle until a control
/// call starts a new search: a throttle shows holds at some depths only (a drain below its
/// knee shows none), and judged as unthrottled there its bursty ticks would mislead the
/// medians and drains.
fn decayed(ns: u64) -> u64 {
    if ns == 0 {
        0
    } else {
        (ns - ns / 4).max(1_000_000)
    }
}

fn permille(p: u32) -> f64 {
    f64::from(p) / 1000.0
}

/// Throughput elasticity of the step from (`a_limit`, `a_x`) to `b`: relative throughput
/// change over relative depth change, in logarithms so that a x2 step and its inverse weigh
/// the same. By Little's law it is 1 while the device is below its knee (latency flat) and 0
/// on a plateau (latency grows with depth). `None` when either window delivered nothing.
fn elasticity((a_limit, a_x): (u32, f64), b: &Measure) -> Option<f64> {
    let dn = (f64::from(b.limit) / f64::from(a_limit)).ln();
    (a_x > 0.0 && b.x > 0.0 && dn != 0.0).then(|| (b.x / a_x).ln() / dn)
}

impl<T: Tuning> Controller<T> {
    /// A controller starting at `initial` (clamped to `[T::MIN_IN_FLIGHT, max]`), never above
    /// `max` (at least 1).
    pub fn new(initial: u32, max: u32) -> Self {
        const { crate::tuning::validate::<T>() };
        let max = max.max(1);
        let min = T::MIN_IN_FLIGHT.min(max);
        Controller {
            state: State::search(),
            phase: Phase::Baseline,
            limit: initial.clamp(min, max),
            min,
            max,
            cap: max,
            floor: min,
            adaptive: true,
            target_p99_ns: 0,
            batch: Batch::new::<T>(),
            window: Window::after_change(),
            hold_ns: 0,
            cycle_ns: 0,
            window_shift: 0,
            agreed: 0,
            model: Model::default(),
            baseline_p99: Filter::default(),
            last_window: Measure::default(),
            spike: 0,
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
            batch_threshold: self.batch.at(self.limit),
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
            batch_threshold: self.batch.at(self.limit),
            p99_ns: self.last_p99,
            baseline_p99_ns: self.baseline_p99(),
            ops_per_sec: self.last_x,
            bytes_per_sec: self.last_bytes_per_s,
            peak_pending: self.peak,
            reprobes: self.reprobes,
            ticks_to_converge: self.converge_ticks,
            adaptive: self.adaptive,
            target_p99_ns: self.target_p99_ns,
            window_ops_per_sec: self.last_window.x,
            window_mean_ns: self.last_window.lat,
            window_ns: self.window_len(),
            capacity_ops_per_sec: self.model.capacity(),
            base_latency_ns: self.model.base_latency_ns(),
        }
    }

    /// Minimum P99 over the recent valid windows (0 before any).
    pub fn baseline_p99(&self) -> u64 {
        self.baseline_p99.min() as u64
    }

    /// Sets (or clears, with 0) the P99 target in nanoseconds, and starts a new search.
    pub fn set_target_p99(&mut self, ns: u64) {
        self.target_p99_ns = ns;
        if self.adaptive && self.phase != Phase::Baseline {
            self.restart_search();
        }
    }

    /// Sets the lowest limit (clamped to `1..=max`, and again when the maximum moves); raises
    /// the limit to it if needed.
    pub fn set_min_limit(&mut self, n: u32) {
        self.floor = n.clamp(1, self.cap);
        self.min = self.floor.min(self.max);
        self.limit = self.limit.max(self.min);
    }

    /// Sets the highest limit adaptation uses (clamped to `1..=` the maximum given to
    /// [`new`](Self::new)); the minimum is capped by it (and restored when it rises again).
    /// An adaptive limit the new bounds leave outside moves to the nearest and starts a new
    /// search from there (what the search measured beyond them is of no use); a static limit
    /// ([`set_static`](Self::set_static)) stays.
    pub fn set_max_limit(&mut self, n: u32) {
        self.max = n.clamp(1, self.cap);
        self.min = self.floor.min(self.max);
        let within = self.limit.clamp(self.min, self.max);
        if self.adaptive && within != self.limit {
            self.limit = within;
            self.restart_search();
        }
    }

    /// Pins the batch threshold (`Some`), or returns it to tuning from its current value.
    pub fn pin_batch(&mut self, threshold: Option<u32>) {
        self.batch.pin::<T>(threshold);
    }

    /// Static mode: holds `n` (clamped to `1..=` the maximum given to [`new`](Self::new): a
    /// lowered [`set_max_limit`](Self::set_max_limit) bounds adaptation, not an explicit
    /// limit), adaptation off.
    pub fn set_static(&mut self, n: u32) {
        self.adaptive = false;
        self.limit = n.clamp(1, self.cap);
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

    /// A control call starts a new search at the current limit, whatever the state.
    fn restart_search(&mut self) {
        self.model.clear();
        self.hold_ns = 0;
        self.cycle_ns = 0;
        let limit = self.limit;
        self.go(State::search(), limit);
        self.window = Window::after_change();
    }

    /// The one way the state changes: to `next` at `limit` (clamped to `[min, max]`). A new
    /// limit starts a new window without its first tick.
    fn go(&mut self, next: State, limit: u32) {
        let phase = next.phase::<T>();
        // Checked on every transition in debug builds and in the unit tests of any profile
        // (the property tests rely on it, `cargo test --release` included).
        if cfg!(any(debug_assertions, test)) {
            assert!(
                self.phase.can_become(phase),
                "illegal phase transition {} -> {} ({:?})",
                self.phase,
                phase,
                next
            );
        }
        if phase.is_stable() && self.converge_ticks == 0 {
            self.converge_ticks = self.ticks;
        }
        if phase == Phase::Probing && self.phase.is_stable() {
            if let State::Climb { .. } = next {
                self.reprobes = self.reprobes.saturating_add(1);
            }
        }
        self.phase = phase;
        self.state = next;
        let limit = limit.clamp(self.min, self.max);
        if limit != self.limit {
            self.limit = limit;
            self.window.restart();
        }
    }

    /// `n` grown by `gain_permille`, at least by one, at most `max`.
    fn grown(&self, n: u32, gain_permille: u32) -> u32 {
        let g = (u64::from(n) * u64::from(gain_permille)).div_ceil(1000);
        (g.min(u64::from(u32::MAX)) as u32)
            .max(n.saturating_add(1))
            .min(self.max)
    }

    /// `n` cut to `factor_permille`, by at least one, not below `floor`.
    fn cut(&self, n: u32, factor_permille: u32, floor: u32) -> u32 {
        let c = (u64::from(n) * u64::from(factor_permille) / 1000) as u32;
        c.min(n.saturating_sub(1)).max(floor).max(self.min)
    }

    /// The lowest depth a cut may reach: the model's fill depth.
    fn floor(&self) -> u32 {
        self.model.fill_depth().max(self.min)
    }

    fn over_target(&self, m: &Measure, share_permille: u32) -> bool {
        self.target_p99_ns > 0
            && m.p99 > 0
            && m.p99 as f64 > self.target_p99_ns as f64 * permille(share_permille)
    }

    /// Whether two windows' throughputs agree within `WINDOW_AGREE_PERMILLE`.
    fn agree(&self, a: f64, b: f64) -> bool {
        a > 0.0 && b > 0.0 && (a - b).abs() / a.max(b) <= permille(T::WINDOW_AGREE_PERMILLE)
    }

    fn window_len(&self) -> u64 {
        let min = (u64::from(T::WINDOW_MIN_MS) * 1_000_000) << self.window_shift;
        let max = u64::from(T::WINDOW_MAX_MS) * 1_000_000;
        self.hold_ns
            .saturating_mul(u64::from(T::HOLD_WINDOW_MULT))
            .max(self.cycle_ns)
            .max(min)
            .min(max)
    }

    /// Advances one tick.
    pub fn tick(&mut self, t: &TickInput) -> Decision {
        self.ticks = self.ticks.saturating_add(1);
        self.peak = self.peak.max(t.pending);
        self.batch.tune::<T>(t);
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
        if let State::Hold(h) = &mut self.state {
            h.held_ns = h.held_ns.saturating_add(t.elapsed_ns);
            let phase = self.state.phase::<T>();
            if phase != self.phase {
                let (state, limit) = (self.state, self.limit);
                self.go(state, limit);
            }
        }
        // The spike rule: a P99 target missed tick after tick is relieved at once, without
        // waiting for the window.
        if self.target_p99_ns > 0 && valid {
            self.spike = if t.p99_ns > self.target_p99_ns {
                self.spike + 1
            } else {
                0
            };
            if self.spike >= T::SPIKE_TICKS && self.state != State::Relieve {
                self.spike = 0;
                let n = self.cut(self.limit, T::BACKOFF_PERMILLE, self.min);
                self.go(State::Relieve, n);
                return self.decision();
            }
        }
        if self.window.add::<T>(t, self.window_len(), self.hold_ns > 0) {
            let longest = self.window.longest_hold_ns;
            let cycle = self.window.cycle_ns;
            let discovered = self.hold_ns == 0 && longest > 0;
            let m = self
                .window
                .take(self.limit, self.hold_ns == 0 && longest == 0);
            self.hold_ns = if longest > self.hold_ns {
                longest
            } else {
                decayed(self.hold_ns)
            };
            self.cycle_ns = if cycle > self.cycle_ns {
                cycle
            } else if longest > 0 {
                self.cycle_ns
            } else {
                decayed(self.cycle_ns)
            };
            if !m.app_limited::<T>() {
                self.model.observe(m.x, m.lat);
            }
            if m.p99 > 0 {
                self.baseline_p99.push(m.p99 as f64);
            }
            self.last_window = m;
            self.on_window(m, discovered);
        }
        self.decision()
    }

    /// A complete window `m`; `discovered` when it showed the first hold in a while, so it
    /// and the window before it were not aligned to the device's cycles.
    fn on_window(&mut self, m: Measure, discovered: bool) {
        match self.state {
            State::Climb {
                mut curve, gentle, ..
            } if discovered => {
                // The previous point may have been a burst read as throughput: measure it
                // again, in windows of whole cycles.
                let again = curve.last().map_or(m.limit, |p| p.0);
                curve.pop();
                let first = curve.last().is_none() && self.phase == Phase::Baseline;
                self.go(
                    State::Climb {
                        curve,
                        gentle,
                        first,
                        confirm: None,
                        redo: 0,
                    },
                    again,
                );
                // At the same limit too: the new window waits for a cycle to begin.
                self.window.restart();
            }
            State::Climb {
                curve,
                gentle,
                confirm,
                redo,
                ..
            } => self.on_climb(m, curve, gentle, confirm, redo),
            State::Descend { mut curve } => {
                let room = curve.push(&m);
                let best = curve.choose(1.0, 0).map_or(0.0, |c| c.1);
                let next = self.cut(m.limit, 500, self.min);
                if room
                    && next < m.limit
                    && !m.app_limited::<T>()
                    && m.x >= best * permille(T::KNEE_SHARE_PERMILLE)
                {
                    self.go(State::Descend { curve }, next);
                } else {
                    self.settle_on(&curve, m);
                }
            }
            State::Hold(_) if discovered => self.go(State::Settle { from: None }, m.limit),
            State::Settle { from } => {
                let lost = |b: &Measure| {
                    !m.app_limited::<T>() && m.x < b.x * permille(T::KNEE_SHARE_PERMILLE)
                };
                if self.over_target(&m, 1000) {
                    self.relieve();
                } else if let Some(b) = from.filter(lost) {
                    // The cut lost throughput against the window just before it: the whole
                    // device slowed down and its curve kept its shape (a busy CPU, a
                    // neighbour), unlike a lower cap, whose queue a cut drains at no loss.
                    // Back to the depth, at the new level.
                    self.go(State::Hold(Held::at(b, b.x)), b.limit);
                } else {
                    self.go(State::Hold(Held::at(m, m.x)), m.limit);
                }
            }
            State::Hold(h) => self.on_hold(m, h),
            State::ProbeUp(h) if self.over_target(&m, T::TARGET_HEADROOM_PERMILLE) => {
                self.hold_again(h, h.prev_x)
            }
            State::ProbeDown(h) if m.app_limited::<T>() || self.over_target(&m, 1000) => {
                self.hold_again(h, h.prev_x)
            }
            State::ProbeUp(h) | State::ProbeDown(h) => {
                let up = matches!(self.state, State::ProbeUp(_));
                if self.hold_ns > 0 {
                    // Behind a throttle, windows of whole cycles measure the probe exactly:
                    // judged at once, against the point's reference.
                    let level = h.reference.x;
                    return self.judge_probe(h, m, level, up, h.reference.x);
                }
                let limit = h.reference.limit;
                self.go(
                    State::Return {
                        held: h,
                        probe: m,
                        up,
                    },
                    limit,
                );
            }
            State::Return { held: h, probe, up } => {
                if h.prev_x > 0.0 && !self.agree(h.prev_x, m.x) {
                    // The point's level moved across the probe: it says nothing; hold.
                    return self.hold_again(h, m.x);
                }
                // The point's level around the probe: the hold window before it and this one.
                let level = if h.prev_x > 0.0 {
                    (h.prev_x + m.x) / 2.0
                } else {
                    m.x
                };
                self.judge_probe(h, probe, level, up, m.x)
            }
            State::Relieve => {
                if self.over_target(&m, 1000) && m.limit > self.min {
                    self.relieve();
                } else {
                    self.go(State::Hold(Held::at(m, m.x)), m.limit);
                }
            }
        }
    }

    /// Decides a probe: `probe` its window, `level` the operating point's throughput around
    /// it, `latest` the point's latest window (the next hold window's predecessor).
    fn judge_probe(&mut self, h: Held, probe: Measure, level: f64, up: bool, latest: f64) {
        if up {
            // Judged against the best of the level and the search's best when the windows
            // are exact; a probe must find capacity that was not there, or window noise at
            // the knee walks the point up one probe at a time.
            let against = if self.hold_ns > 0 {
                h.best_x.max(level)
            } else {
                level
            };
            let e = elasticity((h.reference.limit, against), &probe).unwrap_or(0.0);
            if e >= permille(T::PROBE_PAY_ELASTICITY_PERMILLE) {
                // A probe that paid strongly (a cap that doubled) climbs in doublings.
                let gentle = e < permille(T::STRONG_ELASTICITY_PERMILLE);
                let mut from = h.reference;
                from.x = level;
                return self.climb_on(probe, Curve::of(&from), gentle);
            }
        } else {
            // Kept while it holds `KNEE_SHARE` of the level, and twice that loss of the best
            // level an earlier drain came down from (`anchor_x`), so successive probes cannot
            // each lose a little and drift down the curve; behind a throttle also twice that
            // loss of the search's best. Off a throttle the search's best is one noisy
            // window's, so the anchor is a level measured on both sides of a probe instead.
            let share = permille(T::KNEE_SHARE_PERMILLE);
            let floor = 2.0 * share - 1.0;
            // A point whose own level (the running average of its windows) has fallen under
            // the anchor's band is on a device that got slower by less than `DROP`: the
            // anchor, a level of the faster device, no longer says where the knee is.
            let anchor = if h.reference.x < h.anchor_x * floor {
                0.0
            } else {
                h.anchor_x
            };
            let kept = probe.x >= level * share
                && probe.x >= anchor * floor
                && (self.hold_ns == 0 || probe.x >= h.best_x * floor);
            if kept {
                let mut next = Held::at(probe, h.best_x);
                next.anchor_x = anchor.max(level);
                return self.go(State::Hold(next), probe.limit);
            }
        }
        self.hold_again(h, latest)
    }

    /// Back to holding the operating point after a probe, counting windows to the next probe
    /// afresh; `prev_x` is the point's latest window.
    fn hold_again(&mut self, h: Held, prev_x: f64) {
        let back = Held {
            windows: 0,
            prev_x,
            ..h
        };
        self.go(State::Hold(back), h.reference.limit)
    }

    fn relieve(&mut self) {
        let n = self.cut(self.limit, T::BACKOFF_PERMILLE, self.min);
        self.go(State::Relieve, n);
    }

    /// Continues a climb from `m` (its latest point) with the next step.
    fn climb_on(&mut self, m: Measure, mut curve: Curve, gentle: bool) {
        let room = curve.push(&m);
        let gain = if gentle {
            T::PROBE_GAIN_PERMILLE
        } else {
            T::STARTUP_GAIN_PERMILLE
        };
        let next = self.grown(m.limit, gain);
        if !room || next == m.limit {
            return self.settle_on(&curve, m);
        }
        let state = State::Climb {
            curve,
            gentle,
            first: false,
            confirm: None,
            redo: 0,
        };
        self.go(state, next);
    }

    /// A window of the search: at a new step, or (`confirm` holding the step's window) at
    /// the point below it again.
    fn on_climb(
        &mut self,
        m: Measure,
        curve: Curve,
        gentle: bool,
        confirm: Option<Measure>,
        redo: u32,
    ) {
        let Some(prev) = curve.last() else {
            return self.climb_on(m, curve, gentle);
        };
        let mut curve = curve;
        let (step, below) = match confirm {
            Some(step) if !self.agree(prev.1, m.x) && redo < T::STEP_RETRIES => {
                // The point below moved between its two windows: the device's speed shifted
                // during the step, which therefore says nothing. Measure the step again,
                // against the newer level, in longer windows (this device is noisier than
                // the windows are long).
                curve.relevel_last(m.x);
                self.window_shift = (self.window_shift + 1).min(MAX_WINDOW_SHIFT);
                self.agreed = 0;
                let state = State::Climb {
                    curve,
                    gentle,
                    first: false,
                    confirm: None,
                    redo: redo + 1,
                };
                return self.go(state, step.limit);
            }
            Some(step) => {
                let level = (prev.1 + m.x) / 2.0;
                curve.relevel_last(level);
                (step, (prev.0, level))
            }
            None => (m, prev),
        };
        if confirm.is_none() {
            if step.app_limited::<T>() {
                // Nobody fills this limit: a deeper one cannot be measured, and is not tried.
                curve.push(&step);
                return self.settle_on(&curve, step);
            }
            if self.over_target(&step, 1000) && !gentle {
                // A doubling broke the target: retry the stretch above the last good point
                // in gentle steps (the broken point is left out; its P99 rules it out).
                let state = State::Climb {
                    curve,
                    gentle: true,
                    first: false,
                    confirm: None,
                    redo: 0,
                };
                let next = self.grown(prev.0, T::PROBE_GAIN_PERMILLE);
                return self.go(state, next);
            }
        }
        let near_target = self.over_target(&step, T::TARGET_HEADROOM_PERMILLE);
        let e = elasticity(below, &step).unwrap_or(0.0);
        let strong = e >= permille(T::STRONG_ELASTICITY_PERMILLE);
        if confirm.is_none()
            && !near_target
            && e < permille(T::PAY_ELASTICITY_PERMILLE)
            && self.hold_ns == 0
        {
            // A step that did not pay clearly may be the device's speed shifting while it
            // ran (either way): measure the point below once more (cheap: shallower) and
            // judge the step against that point's level on both sides of it. Not behind a
            // throttle: its windows are whole cycles, which it fills alike.
            let state = State::Climb {
                curve,
                gentle,
                first: false,
                confirm: Some(step),
                redo,
            };
            return self.go(state, below.0);
        }
        if e >= permille(T::PAY_ELASTICITY_PERMILLE) && !near_target {
            // Gentle steps near the knee keep a climb from doubling into a throttle's hold or
            // past a P99 target. Elsewhere a step past the knee only queues a little, and a
            // x1.25 step's gain (a few percent on a slowly rising curve) is lost in the
            // device's noise where a doubling's is not: keep doubling.
            let careful = self.hold_ns > 0 || self.target_p99_ns > 0;
            return self.climb_on(step, curve, (gentle || !strong) && careful);
        }
        // A step that did not pay is not the operating point (it queues for at most a few
        // percent), so it stays off the curve the point is chosen from.
        let down = self.cut(below.0, 500, self.min);
        if curve.len() == 1 && down < below.0 {
            // The first step up did not pay: the knee may lie below the start.
            return self.go(State::Descend { curve }, down);
        }
        self.settle_on(&curve, step)
    }

    /// Ends a search: holds the curve's operating point. Its measure (when the search's
    /// latest window was elsewhere, from a window at most a few steps old) is the reference.
    fn settle_on(&mut self, curve: &Curve, last: Measure) {
        match curve.choose(permille(T::KNEE_SHARE_PERMILLE), self.target_p99_ns) {
            Some((point, best)) if point.limit != last.limit || !self.over_target(&last, 1000) => {
                self.go(State::Hold(Held::at(point, best)), point.limit)
            }
            _ => {
                let n = self.min;
                self.go(State::Settle { from: None }, n)
            }
        }
    }

    fn on_hold(&mut self, m: Measure, mut h: Held) {
        if self.over_target(&m, 1000) {
            return self.relieve();
        }
        if m.app_limited::<T>() {
            h.windows = h.windows.saturating_add(1);
            return self.go(State::Hold(h), m.limit);
        }
        let r = &h.reference;
        let size = permille(T::SIZE_CHANGE_PERMILLE);
        if r.op_bytes > 0.0
            && m.op_bytes > 0.0
            && (m.op_bytes > r.op_bytes * size || m.op_bytes * size < r.op_bytes)
        {
            // A new block size is a new device: forget the model and search again from the
            // start (from the old depth, one window that noise flatters would keep it there).
            self.model.clear();
            self.reprobes = self.reprobes.saturating_add(1);
            self.go(State::search(), T::START_IN_FLIGHT);
            self.window.restart();
            return;
        }
        let agree = self.agree(h.prev_x, m.x);
        let ratio = if r.x > 0.0 { m.x / r.x } else { 1.0 };
        let (drop, rise) = (permille(T::DROP_PERMILLE), permille(T::RISE_PERMILLE));
        let windows = T::DEVIATION_WINDOWS;
        h.drops = if ratio < 1.0 - drop { h.drops + 1 } else { 0 };
        h.rises = if ratio > 1.0 + rise { h.rises + 1 } else { 0 };
        // Two windows at one limit that disagree while the level holds mean the windows are
        // too short for this device's noise (a throttle whose holds are shorter than a
        // tick): longer windows. A level that moves is a change, not noise.
        if h.prev_x > 0.0 {
            if agree {
                self.agreed += 1;
                if self.agreed >= AGREED_TO_SHORTEN {
                    self.window_shift = self.window_shift.saturating_sub(1);
                    self.agreed = 0;
                }
            } else if h.drops == 0 && h.rises == 0 {
                self.window_shift = (self.window_shift + 1).min(MAX_WINDOW_SHIFT);
                self.agreed = 0;
            }
        }
        h.prev_x = m.x;
        // A change is acted on once it has settled: the latest windows agree, so the ratio
        // is the new level's, not a window that straddled the change.
        if h.drops >= windows && agree {
            // Capacity fell. At the same latency per request, Little's law fills the lower
            // capacity with proportionally fewer requests; a probe climbs back if the
            // device's curve disagrees.
            self.reprobes = self.reprobes.saturating_add(1);
            let n = ((f64::from(m.limit) * ratio).round() as u32)
                .max(self.floor())
                .min(m.limit);
            if n == m.limit {
                return self.go(State::Hold(Held::at(m, m.x)), n);
            }
            return self.go(State::Settle { from: Some(m) }, n);
        }
        if h.rises >= windows && agree && self.hold_ns > 0 {
            // A throttle's cap rose: climb from here, doubling while steps pay well (a cap
            // that doubled moves the knee as far), gently once they pay less; gently from
            // the start under a P99 target, which a doubling would break for a whole window.
            let gentle = self.target_p99_ns > 0;
            return self.climb_on(m, Curve::default(), gentle);
        }
        if h.rises >= windows && agree && m.limit < self.max {
            // Capacity rose, or the whole device sped up (which its curve does not follow):
            // a probe above, judged against this level on both sides of it, decides.
            self.reprobes = self.reprobes.saturating_add(1);
            h.windows = 0;
            h.reference.x = m.x;
            let up = self.grown(m.limit, T::PROBE_GAIN_PERMILLE);
            return self.go(State::ProbeUp(h), up);
        }
        if h.drops == 0 && h.rises == 0 {
            h.reference.x += (m.x - h.reference.x) / 4.0;
        }
        h.windows = h.windows.saturating_add(1);
        if h.windows < T::PROBE_INTERVAL_WINDOWS {
            return self.go(State::Hold(h), m.limit);
        }
        h.windows = 0;
        let go_down = h.probe_down;
        h.probe_down = !go_down;
        let down = self.cut(m.limit, T::DRAIN_PERMILLE, self.floor());
        if go_down && down < m.limit {
            self.go(State::ProbeDown(h), down)
        } else if m.limit < self.max {
            let up = self.grown(m.limit, T::PROBE_GAIN_PERMILLE);
            self.go(State::ProbeUp(h), up)
        } else {
            self.go(State::Hold(h), m.limit)
        }
    }
}
