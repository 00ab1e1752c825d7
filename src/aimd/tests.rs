//! Table, simulation and property tests of the controller. No ring, no clock: a simulated
//! device answers each tick.

use super::*;
use crate::tuning::DefaultTuning;
use proptest::prelude::*;

type C = Controller<DefaultTuning>;

const TICK_NS: u64 = 10_000_000;

/// A deterministic device: up to its knee, latency grows mildly with depth (queueing in the
/// device's own pipeline); past the knee, throughput stays at capacity and latency grows
/// linearly with depth (Little's law). P99 is the mean times a tail factor. Optional noise
/// from a seeded xorshift scales each tick's throughput.
#[derive(Clone, Debug)]
struct SimDevice {
    capacity: f64,
    base_ns: f64,
    tail: f64,
    noise: f64,
    rng: u64,
}

impl SimDevice {
    fn new(capacity: f64, base_ns: f64) -> Self {
        SimDevice {
            capacity,
            base_ns,
            tail: 2.0,
            noise: 0.0,
            rng: 0x2545_f491_4f6c_dd1d,
        }
    }

    fn noisy(mut self, noise: f64) -> Self {
        self.noise = noise;
        self
    }

    /// The depth where throughput reaches capacity.
    fn knee(&self) -> f64 {
        1.5 * self.base_ns * 1e-9 * self.capacity
    }

    /// Noise-free (throughput ops/s, mean latency ns) at depth `n`.
    fn model(&self, n: u32) -> (f64, f64) {
        let n = f64::from(n.max(1));
        let knee = self.knee();
        if n <= knee {
            let lat = self.base_ns * (1.0 + 0.5 * n / knee);
            (n / lat * 1e9, lat)
        } else {
            (self.capacity, n / self.capacity * 1e9)
        }
    }

    fn p99(&self, n: u32) -> f64 {
        self.model(n).1 * self.tail
    }

    fn uniform(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    fn tick(&mut self, n: u32) -> TickInput {
        let (x, _) = self.model(n);
        let x = x * (1.0 + self.noise * self.uniform()).max(0.05);
        let lat = f64::from(n.max(1)) / x * 1e9;
        let completions = (x * TICK_NS as f64 / 1e9).round() as u64;
        TickInput {
            elapsed_ns: TICK_NS,
            completions,
            bytes: completions * 4096,
            samples: completions / 8,
            p99_ns: (lat * self.tail) as u64,
            mean_ns: lat as u64,
            pending: n,
            in_flight_sum: u64::from(n),
            in_flight_samples: 1,
            submits: completions / 8 + 1,
            sqes: completions,
        }
    }

    /// A tick at depth `n` whose P99 is far over any guard (a device stall).
    fn stalled_tick(&mut self, n: u32) -> TickInput {
        TickInput {
            p99_ns: 10_000_000_000,
            samples: 1000,
            ..self.tick(n)
        }
    }

    /// Best throughput of any static depth, and the depth that gives it first.
    fn best_static(&self, max: u32, p99_cap: Option<f64>) -> (u32, f64) {
        (1..=max)
            .filter(|&n| p99_cap.is_none_or(|c| self.p99(n) <= c))
            .map(|n| (n, self.model(n).0))
            .fold(
                (0, 0.0),
                |b, (n, x)| if x > b.1 * 1.0000001 { (n, x) } else { b },
            )
    }
}

struct Run {
    trace: Vec<String>,
}

impl Run {
    fn drive(&mut self, c: &mut C, dev: &mut SimDevice, ticks: u32, t0: u32) {
        for i in 0..ticks {
            let input = dev.tick(c.decision().limit);
            let d = c.tick(&input);
            self.trace.push(format!(
                "t={:>5} ms depth={:>4} iops={:>9} p99={:>8} µs {}",
                (t0 + i + 1) * 10,
                d.limit,
                input.completions * 100,
                input.p99_ns / 1000,
                d.phase
            ));
        }
    }

    /// Whether a stable phase was seen in the trace at or after tick `from` (of this run).
    fn stable_since(&self, from: usize) -> bool {
        self.trace[from.min(self.trace.len())..]
            .iter()
            .any(|l| l.ends_with("STEADY") || l.ends_with("CONVERGED"))
    }

    fn check(&self, ok: bool, what: &str) {
        if !ok {
            let tail: Vec<&String> = self.trace.iter().collect();
            panic!(
                "{what}\ntrace (depth, IOPS, P99 per tick):\n{}",
                tail.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}

fn converge_case(dev: SimDevice, initial: u32) {
    let max = 4096;
    let mut dev = dev;
    let mut c = C::new(initial, max);
    let mut run = Run { trace: Vec::new() };
    run.drive(&mut c, &mut dev, 200, 0);
    let (best_n, best_x) = dev.best_static(max, None);
    let limit = c.decision().limit;
    let (x, lat) = dev.model(limit);
    let knee_lat = dev.model(best_n).1;
    let first = c.stats().ticks_to_converge;
    run.check(
        first > 0 && first <= 200,
        &format!("first STEADY at tick {first}, not within 2 s"),
    );
    run.check(
        x >= 0.95 * best_x,
        &format!("depth {limit}: {x:.0} IOPS < 95% of best {best_x:.0} (depth {best_n})"),
    );
    run.check(
        lat <= 2.0 * knee_lat,
        &format!("depth {limit}: latency {lat:.0} ns > 2x knee latency {knee_lat:.0}"),
    );
}

#[test]
fn converges_within_two_seconds_on_many_devices() {
    // (capacity IOPS, base latency ns, initial limit)
    for (cap, base, init) in [
        (100_000.0, 50_000.0, 64),    // knee ~7.5: far below the start
        (100_000.0, 50_000.0, 4),     // knee ~7.5: from the minimum
        (1_000_000.0, 150_000.0, 64), // knee ~225: far above the start
        (20_000.0, 200_000.0, 64),    // knee ~6, slow device
        (400_000.0, 40_000.0, 16),    // knee ~24
    ] {
        converge_case(SimDevice::new(cap, base), init);
        converge_case(SimDevice::new(cap, base).noisy(0.10), init);
    }
}

#[test]
fn p99_target_below_the_knee_is_met() {
    let mut dev = SimDevice::new(200_000.0, 60_000.0); // knee 18, p99 at knee 2 x 90 µs
    let target = 150_000.0; // below the knee's P99 of 180 µs
    let mut c = C::new(64, 4096);
    c.set_target_p99(target as u64);
    let mut run = Run { trace: Vec::new() };
    run.drive(&mut c, &mut dev, 300, 0);
    let limit = c.decision().limit;
    let (best_n, best_x) = dev.best_static(4096, Some(target));
    let p99 = dev.p99(limit);
    run.check(
        p99 <= target,
        &format!("depth {limit}: P99 {p99:.0} over target {target}"),
    );
    run.check(
        dev.model(limit).0 >= 0.9 * best_x,
        &format!(
            "depth {limit}: {:.0} IOPS < 90% of {best_x:.0} (depth {best_n})",
            dev.model(limit).0
        ),
    );
    run.check(c.stats().ticks_to_converge > 0, "never stable");
}

fn reconverge_case(before: SimDevice, after: SimDevice) {
    let mut c = C::new(64, 4096);
    let mut run = Run { trace: Vec::new() };
    let mut dev = before;
    run.drive(&mut c, &mut dev, 300, 0);
    let mut dev = after;
    run.drive(&mut c, &mut dev, 200, 300);
    run.check(
        run.stable_since(300),
        "not stable again within 2 s of the change",
    );
    let limit = c.decision().limit;
    let (best_n, best_x) = dev.best_static(4096, None);
    let (x, lat) = dev.model(limit);
    run.check(
        x >= 0.95 * best_x,
        &format!(
            "after the change: depth {limit} gives {x:.0} < 95% of {best_x:.0} (depth {best_n})"
        ),
    );
    run.check(
        lat <= 2.0 * dev.model(best_n).1,
        &format!("after the change: depth {limit} latency {lat:.0} > 2x knee"),
    );
    run.check(c.stats().reprobes >= 1, "no re-probe counted");
}

#[test]
fn phase_change_capacity_halves() {
    reconverge_case(
        SimDevice::new(200_000.0, 60_000.0),
        SimDevice::new(100_000.0, 60_000.0),
    );
}

#[test]
fn phase_change_base_latency_doubles() {
    reconverge_case(
        SimDevice::new(200_000.0, 60_000.0),
        SimDevice::new(200_000.0, 120_000.0),
    );
}

#[test]
fn phase_change_capacity_doubles() {
    reconverge_case(
        SimDevice::new(100_000.0, 60_000.0),
        SimDevice::new(200_000.0, 60_000.0),
    );
}

#[test]
fn noisy_neighbour_backs_off_then_recovers() {
    let quiet = SimDevice::new(200_000.0, 60_000.0).noisy(0.05);
    let mut noisy = quiet.clone();
    noisy.capacity /= 2.0;
    let mut c = C::new(64, 4096);
    let mut run = Run { trace: Vec::new() };
    let mut dev = quiet.clone();
    run.drive(&mut c, &mut dev, 300, 0);
    let settled = c.decision().limit;
    run.drive(&mut c, &mut noisy, 300, 300);
    let during = c.decision().limit;
    run.check(
        during < settled,
        &format!("no backoff under the neighbour: {settled} -> {during}"),
    );
    let mut dev = quiet.clone();
    run.drive(&mut c, &mut dev, 200, 600);
    let limit = c.decision().limit;
    let (_, best_x) = quiet.best_static(4096, None);
    run.check(
        quiet.model(limit).0 >= 0.9 * best_x,
        &format!("did not recover: depth {limit}"),
    );
}

#[test]
fn latency_spike_forces_backoff() {
    let mut c = C::new(64, 4096);
    let mut dev = SimDevice::new(100_000.0, 50_000.0);
    let mut run = Run { trace: Vec::new() };
    run.drive(&mut c, &mut dev, 300, 0);
    let before = c.decision().limit;
    let spike = dev.stalled_tick(before);
    let stable = c.decision().phase.is_stable();
    let reprobes = c.stats().reprobes;
    for _ in 1..DefaultTuning::SPIKE_TICKS {
        assert_ne!(
            c.tick(&spike).phase,
            Phase::Backoff,
            "acted before confirmation"
        );
    }
    let d = c.tick(&spike);
    assert_eq!(d.phase, Phase::Backoff);
    if stable {
        assert_eq!(
            c.stats().reprobes,
            reprobes + 1,
            "a spike out of a stable phase is a re-probe"
        );
    }
    assert!(d.limit < before || before == c.min_limit());
}

#[test]
fn a_stall_spike_whose_cut_costs_throughput_is_undone() {
    // Converged at the knee, two ticks of a device stall (P99 far over the guard) force a cut;
    // the window after it shows the lost throughput, and the limit returns.
    let mut c = C::new(16, 4096);
    let mut dev = SimDevice::new(100_000.0, 50_000.0);
    let mut run = Run { trace: Vec::new() };
    run.drive(&mut c, &mut dev, 300, 0);
    let before = c.decision().limit;
    run.check(
        c.decision().phase.is_stable(),
        "not stable before the spike",
    );
    let spike = dev.stalled_tick(before);
    for _ in 1..DefaultTuning::SPIKE_TICKS {
        c.tick(&spike);
    }
    let cut = c.tick(&spike).limit;
    run.drive(&mut c, &mut dev, 100, 300);
    let after = c.decision().limit;
    run.check(
        cut < before && dev.model(after).0 >= 0.95 * dev.model(before).0,
        &format!("limit {before} -> cut {cut} -> {after}: throughput not restored"),
    );
}

#[test]
fn capacity_falling_during_a_climb_turns_it_into_a_trim() {
    // A fine climb from depth 3 (measured at 110k IOPS) to 4 meets a device whose capacity
    // just halved: more depth, half the throughput. The climb must not settle back at 3 (the
    // old knee, now twice the new one's latency) but trim from there.
    let mut c = C::new(3, 4096);
    let mut dev = SimDevice::new(50_000.0, 20_000.0);
    c.phase = Phase::Probing;
    c.mode = Mode::Fine;
    c.prev = Measure {
        limit: 3,
        x: 110_000.0,
        lat: 3.0 / 110_000.0 * 1e9,
        ticks: 10,
        ..Measure::default()
    };
    c.set_limit(4);
    let mut run = Run { trace: Vec::new() };
    run.drive(&mut c, &mut dev, 300, 0);
    let (best_n, best_x) = dev.best_static(4096, None);
    let limit = c.decision().limit;
    run.check(
        limit <= 2 && dev.model(limit).0 >= 0.95 * best_x,
        &format!("ended at depth {limit}; the new knee is {best_n}"),
    );
}

#[test]
fn capacity_falling_while_settling_is_not_taken_as_the_reference() {
    // A trim settled at depth 20, where it measured 200k IOPS; the capacity halves before the
    // settling window. That window must not become the reference of STEADY (a deviation check
    // against it would never fire): the controller trims to the new knee.
    let mut c = C::new(20, 4096);
    let mut dev = SimDevice::new(100_000.0, 50_000.0);
    c.phase = Phase::Backoff;
    c.settle(20);
    c.expect_x = 200_000.0;
    let mut run = Run { trace: Vec::new() };
    run.drive(&mut c, &mut dev, 300, 0);
    let (best_n, best_x) = dev.best_static(4096, None);
    let limit = c.decision().limit;
    let (x, lat) = dev.model(limit);
    run.check(
        x >= 0.95 * best_x && lat <= 2.0 * dev.model(best_n).1,
        &format!("ended at depth {limit}; the new knee is {best_n}"),
    );
}

#[test]
fn static_mode_holds_and_adaptive_resumes() {
    let mut c = C::new(64, 4096);
    c.set_static(7);
    let mut dev = SimDevice::new(100_000.0, 50_000.0);
    for _ in 0..100 {
        assert_eq!(c.tick(&dev.tick(7)).limit, 7);
    }
    c.set_adaptive(true);
    assert_eq!(c.decision().phase, Phase::Baseline);
    let mut run = Run { trace: Vec::new() };
    run.drive(&mut c, &mut dev, 200, 0);
    run.check(run.stable_since(100), "adaptation did not resume");
}

#[test]
fn batch_threshold_tunes_pins_and_unpins() {
    let mut c = C::new(16, 256);
    let few = TickInput {
        submits: 10,
        sqes: 20,
        elapsed_ns: TICK_NS,
        ..TickInput::default()
    };
    let many = TickInput {
        submits: 10,
        sqes: 200,
        elapsed_ns: TICK_NS,
        ..TickInput::default()
    };
    let start = c.decision().batch_threshold;
    assert_eq!(c.tick(&few).batch_threshold, start + 1);
    for _ in 0..200 {
        c.tick(&few);
    }
    assert_eq!(c.decision().batch_threshold, DefaultTuning::BATCH_MAX);
    c.pin_batch(Some(1_000_000));
    c.tick(&many);
    assert_eq!(c.decision().batch_threshold, 1_000_000, "pinned");
    c.pin_batch(None);
    assert_eq!(
        c.decision().batch_threshold,
        DefaultTuning::BATCH_MAX,
        "unpinned returns to tuning range"
    );
    c.tick(&many);
    assert_eq!(
        c.decision().batch_threshold,
        DefaultTuning::BATCH_MAX - 1,
        "tunes again after unpin"
    );
}

#[test]
#[should_panic(expected = "illegal phase transition")]
fn illegal_transitions_are_caught() {
    let mut c = C::new(8, 64);
    c.enter(Phase::Converged);
}

#[test]
fn transition_table() {
    use Phase::*;
    assert!(Baseline.can_become(Probing));
    assert!(Probing.can_become(Backoff));
    assert!(Converged.can_become(Probing), "CONVERGED is not a dead end");
    assert!(!Converged.can_become(Baseline));
    assert!(!Steady.can_become(Settling));
    assert!(!Probing.can_become(Converged));
    for p in Phase::ALL {
        assert!(p.can_become(p));
        assert!(!p.name().is_empty());
    }
}

#[test]
fn low_iops_gate() {
    assert!(defer_tick::<DefaultTuning>(3, 20_000_000));
    assert!(!defer_tick::<DefaultTuning>(25, 20_000_000));
    assert!(
        defer_tick::<DefaultTuning>(3, 500_000_000),
        "extended window up to 1 s"
    );
    assert!(!defer_tick::<DefaultTuning>(3, 1_000_000_000));
    assert!(
        !defer_tick::<DefaultTuning>(0, 200_000_000),
        "idle ring ticks after 100 ms"
    );
}

#[test]
fn baseline_needs_enough_samples() {
    let mut c = C::new(16, 256);
    let thin = TickInput {
        elapsed_ns: TICK_NS,
        completions: 5,
        samples: 1,
        p99_ns: 1,
        mean_ns: 1,
        ..TickInput::default()
    };
    for _ in 0..20 {
        c.tick(&thin);
    }
    assert_eq!(
        c.baseline_p99(),
        0,
        "single-sample windows are not a baseline"
    );
}

#[derive(Debug, Clone)]
enum Event {
    Tick(TickInput),
    Target(u64),
    Min(u32),
    Static(u32),
    Adaptive(bool),
    Batch(Option<u32>),
}

fn event() -> impl Strategy<Value = Event> {
    let tick = (
        prop_oneof![Just(0u64), 1u64..100_000_000, Just(u64::MAX / 4)],
        prop_oneof![Just(0u64), 0u64..10_000_000, Just(u64::MAX / 8)],
        prop_oneof![Just(0u64), 0u64..100_000],
        prop_oneof![Just(0u64), 1u64..20_000_000_000, Just(u64::MAX)],
        0u64..100_000_000_000,
        any::<u32>(),
        0u64..1_000,
        0u64..100_000,
        prop_oneof![Just(0u64), 0u64..1_000_000, Just(u64::MAX)],
        prop_oneof![Just(0u64), 1u64..1_000, Just(u64::MAX)],
    )
        .prop_map(
            |(
                elapsed_ns,
                completions,
                samples,
                p99_ns,
                mean_ns,
                pending,
                submits,
                sqes,
                in_flight_sum,
                in_flight_samples,
            )| {
                Event::Tick(TickInput {
                    elapsed_ns,
                    completions,
                    bytes: completions.saturating_mul(4096),
                    samples,
                    p99_ns,
                    mean_ns,
                    pending,
                    in_flight_sum,
                    in_flight_samples,
                    submits,
                    sqes,
                })
            },
        );
    prop_oneof![
        20 => tick,
        1 => prop_oneof![Just(0u64), 1u64..u64::MAX].prop_map(Event::Target),
        1 => any::<u32>().prop_map(Event::Min),
        1 => any::<u32>().prop_map(Event::Static),
        1 => any::<bool>().prop_map(Event::Adaptive),
        1 => proptest::option::of(any::<u32>()).prop_map(Event::Batch),
    ]
}

fn replay(init: u32, max: u32, events: &[Event]) -> Vec<Decision> {
    let mut c = C::new(init, max);
    let mut out = Vec::new();
    for e in events {
        match e {
            Event::Tick(t) => {
                // Every single transition is checked inside the controller (debug assertion
                // in `enter`), so a tick that passes through a phase is checked step by step.
                let d = c.tick(t);
                assert!(
                    d.limit >= 1 && d.limit <= c.max_limit(),
                    "limit {} outside 1..={}",
                    d.limit,
                    c.max_limit()
                );
                if c.stats().adaptive {
                    assert!(
                        d.limit >= c.min_limit(),
                        "limit {} under min {}",
                        d.limit,
                        c.min_limit()
                    );
                }
                out.push(d);
            }
            Event::Target(ns) => c.set_target_p99(*ns),
            Event::Min(n) => c.set_min_limit(*n),
            Event::Static(n) => c.set_static(*n),
            Event::Adaptive(on) => c.set_adaptive(*on),
            Event::Batch(b) => c.pin_batch(*b),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_ticks_keep_every_invariant(
        init in any::<u32>(),
        max in 1u32..70_000,
        events in proptest::collection::vec(event(), 0..600),
    ) {
        let a = replay(init, max, &events);
        let b = replay(init, max, &events);
        prop_assert_eq!(a, b, "same input, same output");
    }

    #[test]
    fn idle_and_bursty_devices_stay_in_bounds(
        bursts in proptest::collection::vec((0u64..3_000_000, 0u32..40), 1..400),
    ) {
        let mut c = C::new(64, 512);
        for (completions, gap) in bursts {
            for _ in 0..gap {
                c.tick(&TickInput { elapsed_ns: TICK_NS, ..TickInput::default() });
            }
            let d = c.tick(&TickInput {
                elapsed_ns: TICK_NS,
                completions,
                samples: completions / 8,
                p99_ns: 50_000 + completions,
                mean_ns: 20_000,
                pending: c.decision().limit,
                ..TickInput::default()
            });
            prop_assert!(d.limit >= c.min_limit() && d.limit <= 512);
        }
    }
}
