//! Tuning presets: the constants of the adaptive controller, fixed at compile time.
//!
//! A preset is a zero-sized type implementing [`Tuning`]. Every constant has a default (the
//! reference NVMe values, as in [`DefaultTuning`]); a preset overrides only what it changes.
//! Define presets with the [`tuning!`](crate::tuning!) macro, which checks the constants at
//! compile time. An engine checks its preset again when it is instantiated, so a hand-written
//! `impl Tuning` cannot slip a bad constant past either.
//!
//! Floats cannot be const generic parameters on stable Rust, so ratios are integers in
//! permille (`BACKOFF_PERMILLE = 800` is a x0.8 decrease).

#![forbid(unsafe_code)]

/// Constants of the adaptive controller and the sampling machinery.
///
/// All values are `u32` and carry their unit in their name.
pub trait Tuning: 'static {
    /// Preset name, as shown in stats and benchmark output.
    const NAME: &'static str = "custom";
    /// Interval between controller ticks, in milliseconds (must be > 0).
    const TICK_MS: u32 = 10;
    /// Latency is sampled on 1 in 2^`SAMPLE_SHIFT` completions (at most 16).
    const SAMPLE_SHIFT: u32 = 3;
    /// Ticks spent measuring the baseline before probing.
    const WARMUP_TICKS: u32 = 10;
    /// Additive increase of the in-flight limit per probing tick (must be > 0).
    const ADDITIVE_INCREASE: u32 = 1;
    /// Multiplicative decrease on backoff, in permille, strictly between 0 and 1000.
    const BACKOFF_PERMILLE: u32 = 800;
    /// Throughput gain per unit of limit still counted as improvement, in permille.
    const EFFICIENCY_EPSILON_PERMILLE: u32 = 10;
    /// Consecutive flat ticks that confirm a plateau.
    const PLATEAU_TICKS: u32 = 3;
    /// Consecutive ticks over the latency guard that confirm a spike. The reference used 2;
    /// the requests a blkio throttle holds through one ~50 ms stall complete in a burst that
    /// can straddle a tick boundary, so two ticks can both show the same stall.
    const SPIKE_TICKS: u32 = 3;
    /// The latency guard is this multiple of the baseline P99 when no target is set.
    const LATENCY_GUARD_MULT: u32 = 10;
    /// Latency guard used before a baseline exists, in microseconds.
    const P99_CEILING_US: u32 = 50_000;
    /// Samples a window needs for its P99 to count.
    const MIN_P99_SAMPLES: u32 = 20;
    /// A tick with too few samples is deferred until this much time passed, in milliseconds.
    const LOW_IOPS_WINDOW_MS: u32 = 100;
    /// Ticks spent settling after a change.
    const SETTLE_TICKS: u32 = 10;
    /// Ticks in STEADY after a backoff before probing again.
    const REPROBE_TICKS: u32 = 100;
    /// Ticks in STEADY after a plateau before declaring convergence.
    const CONVERGE_TICKS: u32 = 500;
    /// Windows over which the baseline P99 is the minimum.
    const BASELINE_WINDOWS: u32 = 50;
    /// Lowest in-flight limit per ring (must be > 0). The reference used 4; a device whose
    /// knee lies at depth 1 or 2 (a throttled volume, the knee device at half its cap) then
    /// pays twice to four times the knee's latency for no throughput. The trim only goes down
    /// while throughput holds, so a device with a deeper knee never comes near the floor;
    /// `Engine::set_min_in_flight` raises it at run time.
    const MIN_IN_FLIGHT: u32 = 1;
    /// Highest in-flight limit per ring (also capped by the ring's completion queue).
    const MAX_IN_FLIGHT: u32 = 4096;
    /// Lowest batch threshold (SQEs gathered before a submit syscall).
    const BATCH_MIN: u32 = 2;
    /// Highest batch threshold.
    const BATCH_MAX: u32 = 64;
    /// Batch threshold a ring starts with.
    const BATCH_INITIAL: u32 = 8;
    /// Ticks per measurement window; the first tick after a limit change is not counted.
    const WINDOW_TICKS: u32 = 11;
    /// Growth factor of a coarse probing step, in permille (2000: x2; a step that does not pay
    /// is bisected once).
    const PROBE_STEP_PERMILLE: u32 = 2000;
    /// A probing step continues while throughput grows by at least this share of the limit's
    /// growth (throughput elasticity; judged through latency by Little's law), in permille.
    const CLIMB_GAIN_PERMILLE: u32 = 300;
    /// A backoff step keeps its lower limit while latency falls by at least this share of the
    /// cut (a queue was draining), in permille.
    const QUEUE_RISE_PERMILLE: u32 = 800;
    /// A step whose latency elasticity is past this (cutting) or under 1 minus this
    /// (climbing), in permille, makes the next step double (x0.5 / x2).
    const FAST_STEP_PERMILLE: u32 = 850;
    /// Throughput tolerance, in permille: two calibration windows agree within twice this; a
    /// backoff step without latency samples keeps its limit within this loss of the plateau
    /// (with samples, within ten times this).
    const TRIM_LOSS_PERMILLE: u32 = 30;
    /// Throughput or latency moving this far from the converged point is a deviation, in
    /// permille.
    const DEVIATION_PERMILLE: u32 = 200;
    /// Consecutive deviating windows that trigger a re-probe.
    const DEVIATION_WINDOWS: u32 = 2;
    /// Longest measurement window, in milliseconds (windows grow on bursty devices).
    const MAX_WINDOW_MS: u32 = 1000;
    /// A measurement window spans at least this many of the longest recent gaps between
    /// ticks (a device that stalls between bursts needs windows holding many bursts).
    const GAP_WINDOWS: u32 = 8;
    /// Longest window a low-IOPS ring waits for enough samples, in milliseconds.
    const LOW_IOPS_MAX_MS: u32 = 1000;
}

/// The reference constants, tuned for NVMe SSDs (10 ms ticks, 1-in-8 latency sampling, x0.8
/// on backoff, in-flight limit up to 4096), with the probing rules of [`aimd`](crate::aimd)
/// and an in-flight floor of 1 instead of the reference's 4.
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
        T::ADDITIVE_INCREASE > 0,
        "auraio tuning: ADDITIVE_INCREASE must be greater than zero"
    );
    assert!(
        T::EFFICIENCY_EPSILON_PERMILLE < 1000,
        "auraio tuning: EFFICIENCY_EPSILON_PERMILLE must be below 1000"
    );
    assert!(
        T::PLATEAU_TICKS > 0,
        "auraio tuning: PLATEAU_TICKS must be greater than zero"
    );
    assert!(
        T::SPIKE_TICKS > 0,
        "auraio tuning: SPIKE_TICKS must be greater than zero"
    );
    assert!(
        T::LATENCY_GUARD_MULT > 1,
        "auraio tuning: LATENCY_GUARD_MULT must be at least 2"
    );
    assert!(
        T::P99_CEILING_US > 0,
        "auraio tuning: P99_CEILING_US must be greater than zero"
    );
    assert!(
        T::MIN_P99_SAMPLES > 0,
        "auraio tuning: MIN_P99_SAMPLES must be greater than zero"
    );
    assert!(
        T::BASELINE_WINDOWS > 0,
        "auraio tuning: BASELINE_WINDOWS must be greater than zero"
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
        T::BATCH_MIN > 0 && T::BATCH_MIN <= T::BATCH_MAX,
        "auraio tuning: BATCH_MIN must be greater than zero and not exceed BATCH_MAX"
    );
    assert!(
        check_range(T::BATCH_INITIAL, T::BATCH_MIN, T::BATCH_MAX),
        "auraio tuning: BATCH_INITIAL must lie within BATCH_MIN..=BATCH_MAX"
    );
    assert!(
        T::WINDOW_TICKS >= 2,
        "auraio tuning: WINDOW_TICKS must be at least 2"
    );
    assert!(
        T::PROBE_STEP_PERMILLE > 1000 && T::PROBE_STEP_PERMILLE <= 4000,
        "auraio tuning: PROBE_STEP_PERMILLE must lie in (1000, 4000] (a growth factor in (1, 4])"
    );
    assert!(
        T::TRIM_LOSS_PERMILLE < 100,
        "auraio tuning: TRIM_LOSS_PERMILLE must be below 100"
    );
    assert!(
        T::CLIMB_GAIN_PERMILLE > 0 && T::CLIMB_GAIN_PERMILLE < 1000,
        "auraio tuning: CLIMB_GAIN_PERMILLE must lie strictly between 0 and 1000"
    );
    assert!(
        T::FAST_STEP_PERMILLE > 500 && T::FAST_STEP_PERMILLE < 1000,
        "auraio tuning: FAST_STEP_PERMILLE must lie strictly between 500 and 1000"
    );
    assert!(
        T::QUEUE_RISE_PERMILLE > 0 && T::QUEUE_RISE_PERMILLE < 1000,
        "auraio tuning: QUEUE_RISE_PERMILLE must lie strictly between 0 and 1000"
    );
    assert!(
        T::DEVIATION_PERMILLE > 0 && T::DEVIATION_PERMILLE < 1000,
        "auraio tuning: DEVIATION_PERMILLE must lie strictly between 0 and 1000"
    );
    assert!(
        T::DEVIATION_WINDOWS > 0,
        "auraio tuning: DEVIATION_WINDOWS must be greater than zero"
    );
    assert!(
        T::BASELINE_WINDOWS <= 64,
        "auraio tuning: BASELINE_WINDOWS must be at most 64"
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
        assert_eq!(DefaultTuning::WARMUP_TICKS, 10);
        assert_eq!(DefaultTuning::BACKOFF_PERMILLE, 800);
        assert_eq!(DefaultTuning::SAMPLE_SHIFT, 3);
        assert_eq!(DefaultTuning::MIN_IN_FLIGHT, 1);
    }
}
