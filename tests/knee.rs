//! The controller against a real block device with a known knee: a loop device over tmpfs
//! capped by the blkio throttle (`../shared/tools/knee-device`). Above the knee IOPS stay at
//! the cap and latency grows with depth (Little's law).
//!
//! Needs root and cgroup v1 blkio; without them the test fails, saying why (CI runs as root
//! on a machine that has both). One test function, so the fixed sweep, the adaptive run,
//! the P99 target and the cap change never share the device at once.

mod common;

use std::cell::{Cell, RefCell};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use auraio::{AlignedBuf, LocalEngine, Options};

const CAP: u32 = 100_000;

/// Trials of each adaptive phase: the first that meets the criteria counts, the last one is
/// asserted. On a quiet host the first passes; see the comment at the adaptive run.
const TRIALS: u32 = 3;

fn tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/knee-device")
}

/// Sets the device up and moves this process into its throttled cgroup; `Err` says why not.
fn setup() -> Result<PathBuf, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("needs root (the blkio throttle and losetup)".into());
    }
    if !Path::new("/sys/fs/cgroup/blkio").is_dir() {
        return Err("needs the cgroup v1 blkio controller".into());
    }
    if !tool().exists() {
        return Err(format!("{} not found", tool().display()));
    }
    let out = Command::new(tool())
        .args(["up", &CAP.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "knee-device up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
    std::fs::write(
        "/sys/fs/cgroup/blkio/auraio-knee/cgroup.procs",
        std::process::id().to_string(),
    )
    .map_err(|e| format!("joining the throttled cgroup: {e}"))?;
    Ok(PathBuf::from(dev))
}

fn set_cap(cap: u32) {
    let st = Command::new(tool())
        .args(["set", &cap.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// What a load run measured after its warm-up.
#[derive(Debug, Clone, Copy)]
struct Load {
    iops: f64,
    /// Mean latency of the sampled requests (1 in 8).
    mean_us: f64,
    /// Mean latency of all requests by Little's law: mean in flight over throughput.
    little_us: f64,
    /// P99 of the sampled requests of the measured part (upper edge of its bucket).
    p99_us: f64,
    limit: u32,
    /// Seconds from the start until the ring first reported STEADY or CONVERGED.
    stable_at: Option<f64>,
}

/// Keeps `outstanding` random 4 KiB O_DIRECT reads submitted for `total`; measures the last
/// `total - warmup`. `at` runs once after `at.0` (to change the cap mid-run).
fn run(
    engine: &LocalEngine,
    fd: i32,
    blocks: u64,
    outstanding: u32,
    total: Duration,
    warmup: Duration,
    mut at: Option<(Duration, &dyn Fn())>,
) -> Load {
    let free: Rc<RefCell<Vec<AlignedBuf>>> = Rc::new(RefCell::new(
        (0..outstanding)
            .map(|_| AlignedBuf::zeroed(4096).unwrap())
            .collect(),
    ));
    let errors = Rc::new(Cell::new(0u32));
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let start = Instant::now();
    let mut stable_at = None;
    let mut base: Option<(Instant, u64, auraio::Histogram)> = None;
    // Time integral of the requests in flight over the measured part, in request-seconds.
    let mut area = 0.0;
    let mut last = Instant::now();
    while start.elapsed() < total {
        loop {
            let Some(buf) = free.borrow_mut().pop() else {
                break;
            };
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (f, e) = (free.clone(), errors.clone());
            engine
                .read(fd, buf, (x % blocks) * 4096, move |r, b| {
                    if r.ok() != Some(4096) {
                        e.set(e.get() + 1);
                    }
                    f.borrow_mut().push(b);
                })
                .unwrap();
        }
        engine.wait(Some(Duration::from_millis(50))).unwrap();
        let r = engine.ring_stats(0).unwrap();
        let now = Instant::now();
        if base.is_some() {
            // 256 requests are kept submitted, so the ring refills to its limit right after
            // each reap: the count read here holds until the next wait returns.
            area += f64::from(r.in_flight) * (now - last).as_secs_f64();
        }
        last = now;
        if stable_at.is_none() && r.phase.is_stable() {
            stable_at = Some(start.elapsed().as_secs_f64());
        }
        if base.is_none() && start.elapsed() >= warmup {
            base = Some((
                Instant::now(),
                r.ops_completed,
                engine.histogram(0).unwrap().1,
            ));
        }
        if let Some((when, f)) = at {
            if start.elapsed() >= when {
                f();
                at = None;
            }
        }
    }
    let (t0, ops0, h0) = base.expect("warm-up shorter than the run");
    let r = engine.ring_stats(0).unwrap();
    let h1 = engine.histogram(0).unwrap().1;
    let secs = t0.elapsed().as_secs_f64();
    engine.drain(Duration::from_secs(10)).unwrap();
    assert_eq!(errors.get(), 0, "read errors");
    // Latency of the measured part alone: cumulative histogram minus its warm-up state.
    let n = h1.count() - h0.count();
    let mean_us = (h1.sum_ns() - h0.sum_ns()) as f64 / n.max(1) as f64 / 1e3;
    let iops = (r.ops_completed - ops0) as f64 / secs;
    Load {
        iops,
        mean_us,
        little_us: area / secs / iops * 1e6,
        p99_us: p99_between(&h0, &h1) as f64 / 1e3,
        limit: r.in_flight_limit,
        stable_at,
    }
}

/// P99 of the samples recorded between two states of a cumulative histogram, in ns: the
/// upper edge of the bucket holding it.
fn p99_between(before: &auraio::Histogram, after: &auraio::Histogram) -> u64 {
    let earlier: std::collections::HashMap<u64, u64> =
        before.buckets().map(|(low, _, n)| (low, n)).collect();
    let total = after.count() - before.count();
    let mut seen = 0;
    for (low, high, n) in after.buckets() {
        seen += n - earlier.get(&low).copied().unwrap_or(0);
        if seen * 100 >= total * 99 {
            return high;
        }
    }
    0
}

/// One run on a fresh engine (queue depth 256, 256 requests kept submitted), set up by
/// `setup` first.
fn engine_run(
    fd: i32,
    blocks: u64,
    setup: impl FnOnce(&LocalEngine),
    total: Duration,
    warmup: Duration,
) -> Load {
    let e = LocalEngine::with_options(&Options::new().queue_depth(256)).unwrap();
    setup(&e);
    run(&e, fd, blocks, 256, total, warmup, None)
}

/// Fixed-depth runs: the same load as the adaptive runs (256 submitted, the in-flight limit
/// pinned), so both measure device latency at a full queue of exactly `depth`.
fn sweep(fd: i32, blocks: u64, depths: &[u32]) -> Vec<(u32, Load)> {
    depths
        .iter()
        .map(|&depth| {
            let l = engine_run(
                fd,
                blocks,
                |e| {
                    e.set_in_flight_limit(depth).unwrap();
                },
                Duration::from_millis(2500),
                Duration::from_millis(500),
            );
            eprintln!(
                "fixed depth {depth:>3}: {:>7.0} IOPS, mean {:>7.1} µs (sampled {:>7.1} µs)",
                l.iops, l.little_us, l.mean_us
            );
            (depth, l)
        })
        .collect()
}

/// The best IOPS of a sweep, and its knee: the smallest depth within 5% of them.
fn knee_of(sweep: &[(u32, Load)]) -> (f64, u32, Load) {
    let best = sweep.iter().map(|(_, l)| l.iops).fold(0.0, f64::max);
    let (depth, load) = *sweep.iter().find(|(_, l)| l.iops >= 0.95 * best).unwrap();
    (best, depth, load)
}

/// An adaptive run of 8 s with 256 requests kept submitted (the last 3 s measured), under a
/// P99 target if given.
fn adaptive_run(fd: i32, blocks: u64, target: Option<Duration>) -> Load {
    engine_run(
        fd,
        blocks,
        |e| {
            if target.is_some() {
                e.set_max_p99(target).unwrap();
            }
        },
        Duration::from_secs(8),
        Duration::from_secs(5),
    )
}

/// Up to `TRIALS` attempts, each printed; returns the first that is `good`, else the last.
fn trials<R: std::fmt::Debug>(
    what: &str,
    mut attempt: impl FnMut() -> R,
    good: impl Fn(&R) -> bool,
) -> R {
    let mut r = attempt();
    eprintln!("{what}, trial 1: {r:?}");
    for trial in 2..=TRIALS {
        if good(&r) {
            break;
        }
        r = attempt();
        eprintln!("{what}, trial {trial}: {r:?}");
    }
    r
}

#[test]
fn adaptive_depth_on_the_knee_device() {
    common::log_from_env();
    // A test that cannot reach its device fails: passing without running would say nothing.
    let dev = setup().unwrap_or_else(|why| panic!("the knee-device test cannot run: {why}"));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&dev)
        .unwrap();
    let fd = file.as_raw_fd();
    // SAFETY: lseek on an open fd.
    let blocks = unsafe { libc::lseek(fd, 0, libc::SEEK_END) } as u64 / 4096;

    // 1. Fixed-depth sweep: the best IOPS, and the knee (smallest depth within 5% of it).
    let full_sweep = sweep(fd, blocks, &[1, 2, 4, 8, 16, 32]);
    let (best, knee_depth, knee) = knee_of(&full_sweep);
    // Latencies are compared by Little's law (mean in flight over throughput): the mean of
    // every request, where the sampled mean is noisy on this device. Its throttle lets each
    // 100 ms slice's budget through in a burst and then holds everything in flight for
    // ~50 ms, and whether 1-in-8 sampling catches three or eight of the held requests in a
    // 2 s run moves the sampled mean by a third or more. Both are printed.
    let knee_us = knee.little_us;
    eprintln!(
        "best {best:.0} IOPS; knee at depth {knee_depth}: {knee_us:.1} µs (sampled mean {:.1} µs)",
        knee.mean_us
    );

    // 2. Adaptive: 256 requests kept submitted; the controller picks the depth. This runs on
    //    a shared two-core machine next to a throttle that stalls I/O for ~50 ms per 100 ms
    //    slice, and the host now and then slows the loop device itself (depth 1 at 8-20k IOPS
    //    instead of 50k for seconds, which fails the 95% check), so this run, the P99 target
    //    run and the cap change each get up to TRIALS trials (every one printed).
    let ok = |a: &Load| {
        a.stable_at.is_some_and(|t| t <= 5.0)
            && a.iops >= 0.95 * best
            && a.little_us <= 2.0 * knee_us
    };
    let a = trials("adaptive", || adaptive_run(fd, blocks, None), ok);
    assert!(
        a.stable_at.is_some_and(|t| t <= 5.0),
        "STEADY/CONVERGED within 5 s: {a:?}"
    );
    assert!(
        a.iops >= 0.95 * best,
        "adaptive {:.0} IOPS < 95% of best fixed {best:.0}",
        a.iops
    );
    eprintln!(
        "adaptive mean latency {:.1} µs = {:.2}x the knee's {knee_us:.1} µs (limit {})",
        a.little_us,
        a.little_us / knee_us,
        a.limit
    );
    assert!(
        a.little_us <= 2.0 * knee_us,
        "adaptive mean latency {:.1} µs > 2x the knee's {knee_us:.1} µs",
        a.little_us
    );

    // 3. A P99 target: P99 at or under it once settled, over the measured 3 s (a single
    //    10 ms tick's P99 from ~100 samples is whatever a throttle stall put in it).
    let target = Duration::from_micros(300);
    let met = |t: &Load| t.p99_us <= target.as_micros() as f64 && t.iops >= 0.9 * best;
    let t = trials(
        &format!("target {target:?}"),
        || adaptive_run(fd, blocks, Some(target)),
        met,
    );
    assert!(
        t.p99_us <= target.as_micros() as f64,
        "P99 {:.1} µs over the {target:?} target",
        t.p99_us
    );
    assert!(
        t.iops >= 0.9 * best,
        "P99 target cost too much throughput: {:.0}",
        t.iops
    );

    // 4. A noisy neighbour takes three quarters of the cap mid-run (at 5 s, once the
    //    controller has settled): from 2 s after the change, IOPS run at the new cap and mean
    //    latency is within 2x the new knee's, swept under the new cap. A quarter, not a half:
    //    under a 50k cap depth 1 (55k IOPS unthrottled) only just reaches the cap through the
    //    throttle's stalls (42-51k in sweeps), so the knee there flips between depths 1 and 2
    //    from one minute to the next, and depth 2 is exactly 2x depth 1's latency by Little's
    //    law: a coin toss, not a measurement. Under 25k the knee is depth 1 every time.
    let quarter = CAP / 4;
    set_cap(quarter);
    let low_sweep = sweep(fd, blocks, &[1, 2, 4]);
    set_cap(CAP);
    let (best_low, new_knee, at_new_knee) = knee_of(&low_sweep);
    let new_knee_us = at_new_knee.little_us;
    eprintln!(
        "cap {quarter}: best {best_low:.0} IOPS; knee at depth {new_knee}: {new_knee_us:.1} µs"
    );
    let lower = || set_cap(quarter);
    let cap_change = || {
        let e = LocalEngine::with_options(&Options::new().queue_depth(256)).unwrap();
        let c = run(
            &e,
            fd,
            blocks,
            256,
            Duration::from_secs(9),
            Duration::from_secs(7),
            Some((Duration::from_secs(5), &lower)),
        );
        set_cap(CAP);
        (c, e.ring_stats(0).unwrap().reprobes)
    };
    let followed = |(c, reprobes): &(Load, u32)| {
        c.iops >= 0.9 * best_low && *reprobes >= 1 && c.little_us <= 2.0 * new_knee_us
    };
    let change = trials("cap change", cap_change, followed);
    let (c, reprobes) = change;
    eprintln!(
        "after the cap change: {c:?}, re-probes {reprobes}; latency {:.2}x the new knee's {new_knee_us:.1} µs",
        c.little_us / new_knee_us
    );
    assert!(
        c.iops >= 0.9 * best_low,
        "IOPS {:.0} after the cap change, best fixed {best_low:.0}",
        c.iops
    );
    assert!(reprobes >= 1, "the cap change went unnoticed");
    assert!(
        c.little_us <= 2.0 * new_knee_us,
        "2 s after the cap change, mean latency {:.1} µs > 2x the new knee's {new_knee_us:.1} µs",
        c.little_us
    );
}
