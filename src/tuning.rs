//! Tuning presets: the constants of the adaptive controller, fixed at compile time.
//!
//! A preset is a zero-sized type implementing [`Tuning`]. Every constant has a default (as in
//! [`DefaultTuning`]); a preset overrides only what it changes.
//! Define presets with the [`tuning!`](crate::tuning!) macro, which checks the constants at
//! compile time. An engine checks its preset again when it is instantiated, so a hand-written
//! `impl Tuning` cannot slip a bad constant past either.
//!
//! Floats cannot be const generic parameters on stable Rust, so ratios are integers in
//! permille (`BACKOFF_PERMILLE = 800` is a x0.8 decrease).

#![forbid(unsafe_code)]

/// Constants of the adaptive controller and the sampling machinery.
///
/// All values are `u32` and carry their unit in their name. The controller's rules, and which
/// constant each one uses, are in the table of [`aimd`](crate::aimd)'s module docs.
pub trait Tuning: 'static {
    /// Preset name, as shown in stats and benchmark output.
    const NAME: &'static str = "custom";
    /// Interval between controller ticks, in milliseconds (must be > 0). Ten milliseconds
    /// resolve a throttle's time slices (100 ms on the block layer's) and cost a tick every
    /// few thousand completions on a fast device.
    const TICK_MS: u32 = 10;
    /// Latency is sampled on 1 in 2^`SAMPLE_SHIFT` completions (at most 16): enough samples
    /// for a tick's P99 at 20k IOPS, two clock reads per eight requests.
    const SAMPLE_SHIFT: u32 = 3;
    /// Samples a tick needs for its P99 to count: fewer say nothing about the top percent.
    const MIN_P99_SAMPLES: u32 = 20;
    /// A tick with too few samples is deferred until this much time passed, in milliseconds.
    const LOW_IOPS_WINDOW_MS: u32 = 100;
    /// Longest a low-IOPS ring waits for enough samples, in milliseconds.
    const LOW_IOPS_MAX_MS: u32 = 1000;
    /// Lowest in-flight limit per ring (must be > 0). The reference used 4; a device whose
    /// knee lies at depth 1 (a bandwidth-capped volume with large blocks) then pays four times
    /// the knee's latency for nothing. `Engine::set_min_in_flight` raises it at run time.
    const MIN_IN_FLIGHT: u32 = 1;
    /// Highest in-flight limit per ring (also capped by the ring's completion queue).
    const MAX_IN_FLIGHT: u32 = 4096;
    /// Limit a search starts from when the options name none. A search climbs, so it starts
    /// low: a start above the knee of a slow device spends its first window deep in the queue,
    /// and that window alone can be more than the run's top percent of latency.
    const START_IN_FLIGHT: u32 = 1;
    /// Shortest measurement window, in milliseconds: three ticks after the left-out one, whose
    /// median rate a device that stalls for one tick still measures to about 2%; noise
    /// lengthens it (`WINDOW_AGREE_PERMILLE`).
    const WINDOW_MIN_MS: u32 = 30;
    /// Longest measurement window, in milliseconds: a window waiting for a throttle's cycle
    /// or for a first completion ends here, so a decision is never more than a second away.
    const WINDOW_MAX_MS: u32 = 1000;
    /// A window spans at least this many times the longest recent hold (requests pending,
    /// no completion) and the longest recent cycle, and begins and ends on the first tick
    /// after a hold: a throttle holding for half its 100 ms slice is then measured over whole
    /// slices, which it fills with the same budget each.
    const HOLD_WINDOW_MULT: u32 = 2;
    /// Two windows at one limit whose throughputs differ by more than this, in permille, do
    /// not agree: in STEADY they double the window length (the device is noisier than the
    /// windows are long; up to eight times `WINDOW_MIN_MS`, eight agreeing windows halve it
    /// again); around a search step or a probe they void its judgement (the device's speed
    /// shifted meanwhile); a capacity change is acted on only once two windows agree.
    const WINDOW_AGREE_PERMILLE: u32 = 100;
    /// Growth of the search's steps while each paid well, in permille (x2: a knee anywhere
    /// between 1 and 4096 is bracketed in at most twelve windows).
    const STARTUP_GAIN_PERMILLE: u32 = 2000;
    /// Growth of the gentle steps near the knee and of the periodic probe, in permille (BBR's
    /// 1.25: a step past the knee queues only a quarter more, never a doubling into a throttle).
    const PROBE_GAIN_PERMILLE: u32 = 1250;
    /// A step pays while its throughput elasticity (relative throughput gain over relative
    /// depth gain) is at least this, in permille: 40 is a 2.8% gain for a doubling, so the
    /// search stops where doubling the depth no longer buys about 3%. A step off a throttle
    /// under it is measured once more against the point below (confirm) before it ends the
    /// search.
    const PAY_ELASTICITY_PERMILLE: u32 = 40;
    /// Times a search step is measured again when the point below it moved (by more than
    /// `WINDOW_AGREE_PERMILLE`) between the two windows that judge it: the device's speed
    /// shifted during the step, which then says nothing about the curve.
    const STEP_RETRIES: u32 = 2;
    /// Behind a throttle or under a P99 target, steps stay x2 while every step's elasticity
    /// is at least this, in permille; below it the device is bending towards its knee and the
    /// steps become gentle (elsewhere they stay x2: a x1.25 step's gain is lost in noise).
    /// Off a throttle, a step at least this strong needs no confirmation.
    const STRONG_ELASTICITY_PERMILLE: u32 = 500;
    /// The periodic probe up pays at this elasticity, in permille: higher than a search step,
    /// because a x1.25 probe's gain is close to window noise (200: 4.6% for the probe).
    const PROBE_PAY_ELASTICITY_PERMILLE: u32 = 200;
    /// The operating point is the shallowest measured depth whose throughput is at least this
    /// share of the best, in permille (the goal is 95% over a whole run, search included; 98% leaves room for the search and for window noise).
    const KNEE_SHARE_PERMILLE: u32 = 980;
    /// A drain probe goes down to this share of the operating depth, in permille (BBR drains
    /// at 0.75 and re-measures its base latency with nothing queued; one step down is the
    /// storage analogue, bounded below by the model's fill depth).
    const DRAIN_PERMILLE: u32 = 800;
    /// Windows at the operating point between two probes (alternately up and down): a
    /// probe's extra latency then costs about 3% of the mean.
    const PROBE_INTERVAL_WINDOWS: u32 = 8;
    /// Throughput this far under the reference, in permille, is a capacity drop (window noise
    /// is a few percent; a neighbour taking a share, or a halved cap, is far more).
    const DROP_PERMILLE: u32 = 150;
    /// Throughput this far over the reference, in permille, is a capacity rise.
    const RISE_PERMILLE: u32 = 150;
    /// Consecutive deviating windows that confirm a change.
    const DEVIATION_WINDOWS: u32 = 2;
    /// Mean bytes per completion changing by this factor, in permille, is a new workload: the
    /// model is forgotten and the search starts again.
    const SIZE_CHANGE_PERMILLE: u32 = 1500;
    /// A window whose mean occupancy is under this share of the limit, in permille, is
    /// application-limited: it says nothing about deeper limits.
    const APP_LIMITED_PERMILLE: u32 = 750;
    /// Cut factor while P99 is over the target, in permille, strictly between 0 and 1000 (the
    /// reference's x0.8).
    const BACKOFF_PERMILLE: u32 = 800;
    /// Climbs and probes stop where a window's P99 reaches this share of the target, in
    /// permille: the next step would likely cross it.
    const TARGET_HEADROOM_PERMILLE: u32 = 900;
    /// Consecutive ticks over the P99 target that cut at once, without waiting for the
    /// window. Three: the requests a throttle holds through one stall complete in a burst
    /// that can straddle a tick boundary.
    const SPIKE_TICKS: u32 = 3;
    /// Milliseconds at one operating point before STEADY becomes CONVERGED.
    const CONVERGE_MS: u32 = 5000;
    /// Lowest batch threshold (SQEs gathered before a submit syscall).
    const BATCH_MIN: u32 = 2;
    /// Highest batch threshold.
    const BATCH_MAX: u32 = 64;
    /// Batch threshold a ring starts with.
    const BATCH_INITIAL: u32 = 8;
    /// Fewer SQEs than this per submit syscall raise the batch threshold.
    const BATCH_LOW_SQES: u32 = 8;
    /// More SQEs than this per submit syscall lower it.
    const BATCH_HIGH_SQES: u32 = 12;
}

/// The default constants: the reference's tick, sampling and limits (10 ms ticks, 1-in-8
/// latency sampling, x0.8 on a missed P99 target, in-flight limit up to 4096, with a floor of
/// 1 instead of 4), and the search and probe constants of [`aimd`](crate::aimd).
#[derive(Debug)]
pub enum DefaultTuning {}

impl Tuning for DefaultTuning {
    const NAME: &'static str = "default";
}

const fn check_range(v: u32, lo: u32, hi: u32) -> bool {
    v >= lo && v <= hi
}

/// Checks the constants of `T`; evaluated at compile time by [`tuning!`](crate::tuning!) and by
/// every engine instantiation. Each failure is a sentence naming the constant.
pub const fn validate<T: Tuning>() {
    assert!(
        T::TICK_MS > 0,
        "auraio tuning: TICK_MS must be greater than zero"
    );
    assert!(
        T::TICK_MS <= 60_000,
        "auraio tuning: TICK_MS must be at most 60000 (one minute)"
    );
    assert!(
        T::SAMPLE_SHIFT <= 16,
        "auraio tuning: SAMPLE_SHIFT must be at most 16 (1 in 65536)"
    );
    assert!(
        T::BACKOFF_PERMILLE > 0 && T::BACKOFF_PERMILLE < 1000,
        "auraio tuning: BACKOFF_PERMILLE must lie strictly between 0 and 1000 (a decrease factor in (0, 1))"
    );
    assert!(
        T::DRAIN_PERMILLE > 0 && T::DRAIN_PERMILLE < 1000,
        "auraio tuning: DRAIN_PERMILLE must lie strictly between 0 and 1000"
    );
    assert!(
        T::SPIKE_TICKS > 0,
        "auraio tuning: SPIKE_TICKS must be greater than zero"
    );
    assert!(
        T::MIN_P99_SAMPLES > 0,
        "auraio tuning: MIN_P99_SAMPLES must be greater than zero"
    );
    assert!(
        T::MIN_IN_FLIGHT > 0,
        "auraio tuning: MIN_IN_FLIGHT must be greater than zero"
    );
    assert!(
        T::MIN_IN_FLIGHT <= T::MAX_IN_FLIGHT,
        "auraio tuning: MIN_IN_FLIGHT must not exceed MAX_IN_FLIGHT"
    );
    assert!(
        T::MAX_IN_FLIGHT <= 65_536,
        "auraio tuning: MAX_IN_FLIGHT must be at most 65536 (twice the largest ring)"
    );
    assert!(
        check_range(T::START_IN_FLIGHT, T::MIN_IN_FLIGHT, T::MAX_IN_FLIGHT),
        "auraio tuning: START_IN_FLIGHT must lie within MIN_IN_FLIGHT..=MAX_IN_FLIGHT"
    );
    assert!(
        T::BATCH_MIN > 0 && T::BATCH_MIN <= T::BATCH_MAX,
        "auraio tuning: BATCH_MIN must be greater than zero and not exceed BATCH_MAX"
    );
    assert!(
        check_range(T::BATCH_INITIAL, T::BATCH_MIN, T::BATCH_MAX),
        "auraio tuning: BATCH_INITIAL must lie within BATCH_MIN..=BATCH_MAX"
    );
    assert!(
        T::BATCH_LOW_SQES <= T::BATCH_HIGH_SQES,
        "auraio tuning: BATCH_LOW_SQES must not exceed BATCH_HIGH_SQES"
    );
    assert!(
        T::WINDOW_MIN_MS > 0 && T::WINDOW_MIN_MS <= T::WINDOW_MAX_MS,
        "auraio tuning: WINDOW_MIN_MS must be greater than zero and not exceed WINDOW_MAX_MS"
    );
    assert!(
        T::WINDOW_AGREE_PERMILLE > 0 && T::WINDOW_AGREE_PERMILLE < 1000,
        "auraio tuning: WINDOW_AGREE_PERMILLE must lie strictly between 0 and 1000"
    );
    assert!(
        T::HOLD_WINDOW_MULT > 0,
        "auraio tuning: HOLD_WINDOW_MULT must be greater than zero"
    );
    assert!(
        T::STARTUP_GAIN_PERMILLE > 1000 && T::STARTUP_GAIN_PERMILLE <= 4000,
        "auraio tuning: STARTUP_GAIN_PERMILLE must lie in (1000, 4000] (a growth factor in (1, 4])"
    );
    assert!(
        T::PROBE_GAIN_PERMILLE > 1000 && T::PROBE_GAIN_PERMILLE <= T::STARTUP_GAIN_PERMILLE,
        "auraio tuning: PROBE_GAIN_PERMILLE must lie in (1000, STARTUP_GAIN_PERMILLE]"
    );
    assert!(
        T::PAY_ELASTICITY_PERMILLE < T::STRONG_ELASTICITY_PERMILLE
            && T::STRONG_ELASTICITY_PERMILLE <= 1000,
        "auraio tuning: PAY_ELASTICITY_PERMILLE must be below STRONG_ELASTICITY_PERMILLE, itself at most 1000"
    );
    assert!(
        T::PROBE_PAY_ELASTICITY_PERMILLE <= 1000,
        "auraio tuning: PROBE_PAY_ELASTICITY_PERMILLE must be at most 1000"
    );
    assert!(
        T::KNEE_SHARE_PERMILLE > 500 && T::KNEE_SHARE_PERMILLE <= 1000,
        "auraio tuning: KNEE_SHARE_PERMILLE must lie in (500, 1000]"
    );
    assert!(
        T::DROP_PERMILLE > 0 && T::DROP_PERMILLE < 500,
        "auraio tuning: DROP_PERMILLE must lie strictly between 0 and 500"
    );
    assert!(
        T::RISE_PERMILLE > 0,
        "auraio tuning: RISE_PERMILLE must be greater than zero"
    );
    assert!(
        T::DEVIATION_WINDOWS > 0,
        "auraio tuning: DEVIATION_WINDOWS must be greater than zero"
    );
    assert!(
        T::PROBE_INTERVAL_WINDOWS > 0,
        "auraio tuning: PROBE_INTERVAL_WINDOWS must be greater than zero"
    );
    assert!(
        T::SIZE_CHANGE_PERMILLE > 1000,
        "auraio tuning: SIZE_CHANGE_PERMILLE must be above 1000 (a factor above 1)"
    );
    assert!(
        T::APP_LIMITED_PERMILLE <= 1000,
        "auraio tuning: APP_LIMITED_PERMILLE must be at most 1000"
    );
    assert!(
        T::TARGET_HEADROOM_PERMILLE > 0 && T::TARGET_HEADROOM_PERMILLE <= 1000,
        "auraio tuning: TARGET_HEADROOM_PERMILLE must lie in (0, 1000]"
    );
    assert!(
        T::LOW_IOPS_MAX_MS >= T::LOW_IOPS_WINDOW_MS,
        "auraio tuning: LOW_IOPS_MAX_MS must be at least LOW_IOPS_WINDOW_MS"
    );
}

static_assertions::const_assert!(DefaultTuning::MIN_IN_FLIGHT <= DefaultTuning::MAX_IN_FLIGHT);
static_assertions::const_assert!(DefaultTuning::BACKOFF_PERMILLE < 1000);
const _: () = validate::<DefaultTuning>();

/// Defines a tuning preset: a zero-sized type implementing [`Tuning`](crate::tuning::Tuning)
/// with the given constants (all `u32`), the others keeping their defaults.
///
/// The constants are checked at compile time: a decrease factor outside (0, 1), a minimum above
/// the maximum, a zero tick and the like fail the build with a sentence naming the constant.
/// A misspelt constant fails as "not a member of trait `Tuning`", pointing at the name.
///
/// # Examples
///
/// ```
/// auraio::tuning! {
///     /// Slow network storage: long ticks, gentle backoff, deep queues.
///     pub NetworkTuning {
///         TICK_MS = 50,
///         BACKOFF_PERMILLE = 900,
///         MAX_IN_FLIGHT = 1024,
///     }
/// }
/// use auraio::tuning::Tuning;
/// assert_eq!(NetworkTuning::TICK_MS, 50);
/// assert_eq!(NetworkTuning::MIN_IN_FLIGHT, 1); // default kept
/// assert_eq!(NetworkTuning::NAME, "NetworkTuning");
/// ```
///
/// A bad constant does not compile:
///
/// ```compile_fail
/// auraio::tuning! { pub Broken { BACKOFF_PERMILLE = 1200 } }
/// ```
#[macro_export]
macro_rules! tuning {
    ($(#[$meta:meta])* $vis:vis $name:ident { $($konst:ident = $value:expr),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug)]
        $vis enum $name {}

        impl $crate::tuning::Tuning for $name {
            const NAME: &'static str = ::core::stringify!($name);
            $(const $konst: u32 = $value;)*
        }

        const _: () = $crate::tuning::validate::<$name>();
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::tuning! {
        /// Test preset.
        pub(crate) Fast { TICK_MS = 1, SAMPLE_SHIFT = 0, MAX_IN_FLIGHT = 64 }
    }

    #[test]
    fn macro_overrides_and_keeps_defaults() {
        assert_eq!(Fast::TICK_MS, 1);
        assert_eq!(Fast::SAMPLE_SHIFT, 0);
        assert_eq!(Fast::MAX_IN_FLIGHT, 64);
        assert_eq!(Fast::BACKOFF_PERMILLE, DefaultTuning::BACKOFF_PERMILLE);
        assert_eq!(Fast::NAME, "Fast");
    }

    #[test]
    fn default_tuning_matches_reference() {
        assert_eq!(DefaultTuning::TICK_MS, 10);
        assert_eq!(DefaultTuning::BACKOFF_PERMILLE, 800);
        assert_eq!(DefaultTuning::SAMPLE_SHIFT, 3);
        assert_eq!(DefaultTuning::MIN_IN_FLIGHT, 1);
    }
}
