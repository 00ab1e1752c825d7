//! What the tuner is worth against static depths, in three scenarios (the reference's
//! "Adaptive Value Proof"): a noisy neighbour, a P99-constrained workload, and a workload
//! whose phase changes. Each scenario runs with static depths 16, 64, 128 and 256 and with
//! the adaptive controller, and prints one table.
//!
//! `cargo run --release --example adaptive_value [PATH] [--quick] [--target-p99=MS]`
//!
//! PATH is a file or a block device, read only (default: a 256 MiB file in $TMPDIR, made on
//! first use); O_DIRECT when the file system allows it. Scenarios:
//! - **noisy neighbour**: 4 KiB random reads while a second thread reads the same file
//!   with 64 requests in flight for the whole run (reads, not the reference's writes, so
//!   a device given as PATH is never written);
//! - **P99 < target** (default 2 ms): 4 KiB random reads; the adaptive run is told the
//!   target (`set_max_p99`), the static runs are not, and the table says which met it;
//! - **phase change**: 128 KiB sequential reads for the first half of the run, then 4 KiB
//!   random reads; throughput and P99 over the whole run.
//!
//! Each run warms up (3 s; 1 s with `--quick`) before it measures (10 s; 3 s with `--quick`),
//! as the reference does. Latency is from submission to completion, per request.

use std::cell::{Cell, RefCell};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auraio::{AlignedBuf, Histogram, LocalEngine, Options};

/// Requests the application keeps submitted in adaptive runs (the engine's limit admits
/// fewer; the rest would wait in its backlog, so the loop submits only up to the limit).
const ADAPTIVE_BOUND: u32 = 256;
const STATIC_DEPTHS: [u32; 4] = [16, 64, 128, 256];
const NEIGHBOUR_DEPTH: u32 = 64;

#[derive(Clone, Copy)]
enum Pattern {
    Random4k,
    Sequential128k,
}

impl Pattern {
    fn pool(self) -> usize {
        match self {
            Pattern::Random4k => 0,
            Pattern::Sequential128k => 1,
        }
    }

    fn bs(self) -> usize {
        match self {
            Pattern::Random4k => 4096,
            Pattern::Sequential128k => 128 << 10,
        }
    }
}

struct Run {
    ops: u64,
    bytes: u64,
    secs: f64,
    hist: Histogram,
    limit: u64,
}

struct Target {
    fd: i32,
    size: u64,
    direct: bool,
}

/// Runs `phases` (each a pattern for a share of the time) with a static depth, or adaptive
/// (`depth` None, with an optional P99 target); measures after `warmup`.
fn run(
    t: &Target,
    depth: Option<u32>,
    target_p99: Option<Duration>,
    phases: &[(Pattern, f64)],
    warmup: Duration,
    measure: Duration,
) -> std::io::Result<Run> {
    let bound = depth.unwrap_or(ADAPTIVE_BOUND);
    let engine = LocalEngine::with_options(&Options::new().queue_depth(bound.max(64)))?;
    match depth {
        Some(d) => engine.set_in_flight_limit(d)?,
        None => engine.set_max_p99(target_p99)?,
    }
    // One pool of buffers per block size the phases use, indexed by `Pattern::pool`.
    let mut pools = [Vec::new(), Vec::new()];
    for &(p, _) in phases {
        if pools[p.pool()].is_empty() {
            pools[p.pool()] = (0..bound)
                .map(|_| AlignedBuf::zeroed(p.bs()))
                .collect::<std::io::Result<_>>()?;
        }
    }
    let free: Rc<RefCell<[Vec<AlignedBuf>; 2]>> = Rc::new(RefCell::new(pools));
    let outstanding = Rc::new(Cell::new(0u32));
    let measuring = Rc::new(Cell::new(false));
    let ops = Rc::new(Cell::new(0u64));
    let bytes = Rc::new(Cell::new(0u64));
    let errors = Rc::new(Cell::new(0u64));
    let hist = Rc::new(RefCell::new(Histogram::new()));
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut seq_off = 0u64;
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + measure;
    let total = (end - start).as_secs_f64();
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if !measuring.get() && now >= measure_from {
            measuring.set(true);
        }
        // The phase by share of the whole run.
        let at = (now - start).as_secs_f64() / total;
        let mut acc = 0.0;
        let pattern = phases
            .iter()
            .find(|p| {
                acc += p.1;
                at < acc
            })
            .map_or(phases[phases.len() - 1].0, |p| p.0);
        let bs = pattern.bs();
        let allowed = match depth {
            Some(d) => d,
            None => (engine.in_flight_limit() as u32).clamp(1, bound),
        };
        while outstanding.get() < allowed {
            let Some(buf) = free.borrow_mut()[pattern.pool()].pop() else {
                break;
            };
            let blocks = t.size / bs as u64;
            let offset = match pattern {
                Pattern::Random4k => {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    (rng % blocks) * bs as u64
                }
                Pattern::Sequential128k => {
                    let o = seq_off;
                    seq_off = (seq_off + bs as u64) % (blocks * bs as u64);
                    o
                }
            };
            let submitted = Instant::now();
            let (f, out, m, o, b, e, h) = (
                free.clone(),
                outstanding.clone(),
                measuring.clone(),
                ops.clone(),
                bytes.clone(),
                errors.clone(),
                hist.clone(),
            );
            engine.read(t.fd, buf, offset, move |r, buf| {
                out.set(out.get() - 1);
                match r {
                    Ok(n) if m.get() => {
                        o.set(o.get() + 1);
                        b.set(b.get() + n as u64);
                        h.borrow_mut().record(submitted.elapsed().as_nanos() as u64);
                    }
                    Ok(_) => {}
                    Err(_) => e.set(e.get() + 1),
                }
                let pool = if buf.len() == Pattern::Random4k.bs() {
                    0
                } else {
                    1
                };
                f.borrow_mut()[pool].push(buf);
            })?;
            outstanding.set(outstanding.get() + 1);
        }
        engine.wait(Some(Duration::from_millis(100)))?;
    }
    let limit = engine.in_flight_limit();
    engine.drain(Duration::from_secs(30))?;
    if errors.get() > 0 {
        return Err(std::io::Error::other(format!(
            "{} reads failed",
            errors.get()
        )));
    }
    let hist = hist.borrow().clone();
    Ok(Run {
        ops: ops.get(),
        bytes: bytes.get(),
        secs: measure.as_secs_f64(),
        hist,
        limit,
    })
}

/// A second thread reading the same file at a fixed depth until told to stop.
fn neighbour(path: std::path::PathBuf, direct: bool, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let file = open(&path, direct)?;
    let t = Target {
        fd: file.as_raw_fd(),
        size: size_of(file.as_raw_fd()),
        direct,
    };
    while !stop.load(Ordering::Relaxed) {
        run(
            &t,
            Some(NEIGHBOUR_DEPTH),
            None,
            &[(Pattern::Random4k, 1.0)],
            Duration::ZERO,
            Duration::from_millis(500),
        )?;
    }
    Ok(())
}

fn open(path: &std::path::Path, direct: bool) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    if direct {
        o.custom_flags(libc::O_DIRECT);
    }
    o.open(path)
}

fn size_of(fd: i32) -> u64 {
    // SAFETY: lseek on a valid fd has no memory-safety preconditions.
    let end = unsafe { libc::lseek(fd, 0, libc::SEEK_END) };
    end.max(0) as u64
}

fn main() -> std::io::Result<()> {
    let mut path = None;
    let mut quick = false;
    let mut target = Duration::from_millis(2);
    for a in std::env::args().skip(1) {
        if a == "--quick" {
            quick = true;
        } else if let Some(ms) = a.strip_prefix("--target-p99=") {
            let ms: f64 = ms
                .parse()
                .map_err(|_| std::io::Error::other("--target-p99 takes milliseconds"))?;
            target = Duration::from_secs_f64(ms / 1e3);
        } else {
            path = Some(std::path::PathBuf::from(a));
        }
    }
    let path = path.unwrap_or_else(|| {
        let p = std::env::temp_dir().join("auraio-adaptive-value.bin");
        if std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0) != 256 << 20 {
            std::fs::write(&p, vec![0x5Au8; 256 << 20]).expect("make test file");
        }
        p
    });
    let (warmup, measure) = if quick {
        (Duration::from_secs(1), Duration::from_secs(3))
    } else {
        (Duration::from_secs(3), Duration::from_secs(10))
    };
    // O_DIRECT where the file system takes it (tmpfs does not).
    let (file, direct) = match open(&path, true) {
        Ok(f) => (f, true),
        Err(_) => (open(&path, false)?, false),
    };
    let t = Target {
        fd: file.as_raw_fd(),
        size: size_of(file.as_raw_fd()),
        direct,
    };
    if t.size < 128 << 10 {
        return Err(std::io::Error::other("PATH must hold at least 128 KiB"));
    }
    println!(
        "auraio adaptive value: {} ({}), warm-up {} s, measured {} s per run\n",
        path.display(),
        if t.direct { "O_DIRECT" } else { "buffered" },
        warmup.as_secs(),
        measure.as_secs()
    );
    println!("| scenario | depth | IOPS | MiB/s | mean µs | P99 µs | note |");
    println!("|---|---|---|---|---|---|---|");
    let configs: Vec<Option<u32>> = STATIC_DEPTHS
        .iter()
        .map(|&d| Some(d))
        .chain([None])
        .collect();
    let row = |scenario: &str, depth: Option<u32>, r: &Run, note: String| {
        println!(
            "| {scenario} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {note} |",
            depth.map_or(format!("adaptive (ended at {})", r.limit), |d| d
                .to_string()),
            r.ops as f64 / r.secs,
            r.bytes as f64 / r.secs / 1048576.0,
            r.hist.mean_ns() as f64 / 1e3,
            r.hist.percentile(99.0) as f64 / 1e3,
        );
    };

    for &depth in &configs {
        let stop = Arc::new(AtomicBool::new(false));
        let n = std::thread::spawn({
            let (p, s) = (path.clone(), stop.clone());
            move || neighbour(p, direct, s)
        });
        let r = run(
            &t,
            depth,
            None,
            &[(Pattern::Random4k, 1.0)],
            warmup,
            measure,
        );
        stop.store(true, Ordering::Relaxed);
        n.join()
            .map_err(|_| std::io::Error::other("the neighbour thread panicked"))??;
        row(
            "noisy neighbour",
            depth,
            &r?,
            format!("neighbour at depth {NEIGHBOUR_DEPTH}"),
        );
    }
    for &depth in &configs {
        let r = run(
            &t,
            depth,
            depth.is_none().then_some(target),
            &[(Pattern::Random4k, 1.0)],
            warmup,
            measure,
        )?;
        let met = Duration::from_nanos(r.hist.percentile(99.0)) <= target;
        let note = format!(
            "P99 {} {:.1} ms",
            if met { "meets" } else { "misses" },
            target.as_secs_f64() * 1e3
        );
        row("P99 < target", depth, &r, note);
    }
    for &depth in &configs {
        let phases = [(Pattern::Sequential128k, 0.5), (Pattern::Random4k, 0.5)];
        let r = run(&t, depth, None, &phases, warmup, measure)?;
        row(
            "phase change",
            depth,
            &r,
            "128 KiB sequential, then 4 KiB random".into(),
        );
    }
    Ok(())
}
