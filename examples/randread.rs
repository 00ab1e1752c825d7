//! Random reads at a fixed depth for a fixed time: the workload of the fio comparison
//! (`benches/vs_fio.sh`).
//!
//! `cargo run --release --example randread [PATH] [DEPTH] [SECONDS] [direct|buffered] [BS] [fixed|adaptive]`
//!
//! PATH may be a file or a block device (default: a 256 MiB file in $TMPDIR, made on first
//! use). `fixed` (default) pins the in-flight limit to DEPTH; `adaptive` lets the controller
//! choose it, DEPTH being only the number of requests the program keeps submitted. Prints one
//! line: `iops=… depth=… seconds=… mean_us=… limit=… phase=…`.

use std::cell::{Cell, RefCell};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::rc::Rc;
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let p = std::env::temp_dir().join("auraio-randread.bin");
            if std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0) != 256 << 20 {
                std::fs::write(&p, vec![0xA5u8; 256 << 20]).expect("make test file");
            }
            p
        });
    let depth: u32 = args.next().map_or(32, |s| s.parse().expect("DEPTH"));
    let seconds: f64 = args.next().map_or(3.0, |s| s.parse().expect("SECONDS"));
    let direct = args.next().is_none_or(|s| s == "direct");
    let bs: usize = args.next().map_or(4096, |s| s.parse().expect("BS"));
    let adaptive = args.next().is_some_and(|s| s == "adaptive");

    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    if direct {
        o.custom_flags(libc::O_DIRECT);
    }
    let file = o.open(&path)?;
    let fd = file.as_raw_fd();
    let size = {
        // Block devices report 0 in metadata; lseek to the end works for both.
        // SAFETY: lseek on a valid fd has no memory-safety preconditions.
        let end = unsafe { libc::lseek(fd, 0, libc::SEEK_END) };
        assert!(end > 0, "empty file or device");
        end as u64
    };
    let blocks = size / bs as u64;

    let opts = auraio::Options::new().queue_depth(depth.clamp(64, 32768));
    let engine = auraio::LocalEngine::with_options(&opts)?;
    if !adaptive {
        engine.set_in_flight_limit(depth)?;
    }
    let free: Rc<RefCell<Vec<auraio::AlignedBuf>>> = Rc::new(RefCell::new(
        (0..depth)
            .map(|_| auraio::AlignedBuf::zeroed(bs))
            .collect::<std::io::Result<_>>()?,
    ));
    let done = Rc::new(Cell::new(0u64));
    let errors = Rc::new(Cell::new(0u64));
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let mut rounds = 0u32;
    let trace = std::env::var_os("AURAIO_TRACE").is_some();
    let mut next_trace = start;
    loop {
        if trace && Instant::now() >= next_trace {
            next_trace = Instant::now() + Duration::from_millis(10);
            let r = engine.ring_stats(0)?;
            eprintln!(
                "{:>6} ms limit={:>4} {:<9} iops={:>8.0} p99_us={:>8.1} pending={} window: {} ms {:.0} IOPS {:.1} us",
                start.elapsed().as_millis(),
                r.in_flight_limit,
                r.phase.name(),
                r.ops_per_sec,
                r.p99_ns as f64 / 1e3,
                r.in_flight + r.backlog,
                r.window_ns / 1_000_000,
                r.window_ops_per_sec,
                r.window_mean_ns / 1e3
            );
        }
        loop {
            let Some(buf) = free.borrow_mut().pop() else {
                break;
            };
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (f, d, e) = (free.clone(), done.clone(), errors.clone());
            engine.read(fd, buf, (x % blocks) * bs as u64, move |r, buf| {
                match r {
                    Ok(n) if n == buf.len() => d.set(d.get() + 1),
                    _ => e.set(e.get() + 1),
                }
                f.borrow_mut().push(buf);
            })?;
        }
        engine.wait(None)?;
        rounds += 1;
        // One clock read per 64 rounds keeps timing off the hot path.
        if rounds % 64 == 0 && Instant::now() >= end {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let ops = done.get();
    engine.drain(Duration::from_secs(10))?;
    assert_eq!(errors.get(), 0, "read errors");
    let st = engine.stats();
    let (_, hist) = engine.histogram(0)?;
    println!(
        "iops={:.0} depth={depth} seconds={secs:.2} mean_us={:.1} p99_us={:.1} limit={} phase={} converged_ms={}",
        ops as f64 / secs,
        hist.mean_ns() as f64 / 1e3,
        hist.percentile(99.0) as f64 / 1e3,
        st.rings[0].in_flight_limit,
        st.rings[0].phase,
        st.rings[0].ticks_to_converge * 10
    );
    Ok(())
}
