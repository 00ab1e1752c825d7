//! The controller against a real block device with a known knee: a loop device over tmpfs
//! capped by the blkio throttle (`../shared/tools/knee-device`). Above the knee IOPS stay at
//! the cap and latency grows with depth (Little's law).
//!
//! Needs root and cgroup v1 blkio; without them the test fails, saying why (CI runs as root
//! on a machine that has both). One test function, so the fixed sweep, the adaptive run,
//! the P99 target and the cap change never share the device at once.
//!
//! Each phase runs once. A real device on a shared two-core host decides no test by its
//! timing: the test asserts what cannot flake (every read completes without error, the limit
//! stays within its bounds, the controller reports the target it was given and notices a cap
//! change) and prints the figures against the fixed-depth sweep; whether those figures meet
//! the tuner's goals is the business of the benchmark and of the controller's deterministic
//! simulator tests (`src/aimd/tests.rs`).

mod common;

use std::cell::{Cell, RefCell};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use auraio::{AlignedBuf, LocalEngine, Options, RingStats};

const CAP: u32 = 100_000;

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
/// `setup` first; `at` as for [`run`]. Returns the load and the ring's stats after the run.
fn engine_run(
    fd: i32,
    blocks: u64,
    setup: impl FnOnce(&LocalEngine),
    total: Duration,
    warmup: Duration,
    at: Option<(Duration, &dyn Fn())>,
) -> (Load, RingStats) {
    let e = LocalEngine::with_options(&Options::new().queue_depth(256)).unwrap();
    setup(&e);
    let load = run(&e, fd, blocks, 256, total, warmup, at);
    (load, e.ring_stats(0).unwrap())
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
                None,
            )
            .0;
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

/// The limit bounds every adaptive run must keep: the controller's floor and the ring's
/// completion queue (twice the queue depth of 256).
fn assert_bounded(what: &str, l: &Load) {
    assert!(
        (1..=512).contains(&l.limit),
        "{what}: in-flight limit {} outside 1..=512",
        l.limit
    );
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

    // 1. Fixed-depth sweep, for the figures printed below.
    let full_sweep = sweep(fd, blocks, &[1, 2, 4, 8, 16, 32]);
    let (best, knee_depth, knee) = knee_of(&full_sweep);
    let knee_us = knee.little_us;
    eprintln!("best {best:.0} IOPS; knee at depth {knee_depth}: {knee_us:.1} µs (Little's law)");

    // 2. Adaptive: 256 requests kept submitted; the controller picks the depth.
    let (a, _) = engine_run(
        fd,
        blocks,
        |_| {},
        Duration::from_secs(8),
        Duration::from_secs(5),
        None,
    );
    eprintln!(
        "adaptive: {:.3}x the best IOPS, {:.2}x the knee's latency, stable after {:?} s (limit {})",
        a.iops / best,
        a.little_us / knee_us,
        a.stable_at,
        a.limit
    );
    assert_bounded("adaptive", &a);
    assert!(a.iops > 0.0, "the adaptive run delivered nothing");

    // 3. A P99 target: the controller carries it and reports it.
    let target = Duration::from_micros(300);
    let (t, stats) = engine_run(
        fd,
        blocks,
        |e| e.set_max_p99(Some(target)).unwrap(),
        Duration::from_secs(4),
        Duration::from_secs(2),
        None,
    );
    let reported = stats.target_p99_ns;
    eprintln!(
        "target {target:?}: P99 {:.1} µs, {:.3}x the best IOPS (limit {})",
        t.p99_us,
        t.iops / best,
        t.limit
    );
    assert_eq!(reported, target.as_nanos() as u64, "the target is reported");
    assert_bounded("target", &t);

    // 4. A noisy neighbour takes three quarters of the cap mid-run: the controller notices
    //    (a re-probe: its operating point no longer holds), whatever depth it then picks.
    let quarter = CAP / 4;
    let lower = || set_cap(quarter);
    let (c, stats) = engine_run(
        fd,
        blocks,
        |_| {},
        Duration::from_secs(9),
        Duration::from_secs(7),
        Some((Duration::from_secs(5), &lower)),
    );
    set_cap(CAP);
    let reprobes = stats.reprobes;
    eprintln!(
        "after the cap change to {quarter}: {:.3}x the new cap, mean {:.1} µs, re-probes {reprobes} (limit {})",
        c.iops / f64::from(quarter),
        c.little_us,
        c.limit
    );
    assert_bounded("cap change", &c);
    assert!(reprobes >= 1, "the cap change went unnoticed");
}
