//! What tokio users write first: a multi-thread runtime, one shared engine driven by
//! `auraio::tokio::Driver`, and several tasks each reading 4 KiB at random offsets.
//!
//! `cargo run --release --features tokio --example tokio_readers [TASKS] [SECONDS] [FILE]`
//! (defaults: 4 tasks, 3 s, a 256 MiB file it makes in $TMPDIR). A watchdog exits with the
//! engine's state dump if no read completes for 5 s, so a lost wakeup fails instead of hanging.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BLOCK: usize = 4096;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let tasks: usize = args.next().map_or(4, |s| s.parse().expect("TASKS"));
    let secs: f64 = args.next().map_or(3.0, |s| s.parse().expect("SECONDS"));
    let path = args.next().map_or_else(
        || std::env::temp_dir().join("auraio-tokio-readers.bin"),
        std::path::PathBuf::from,
    );
    let len: u64 = 256 << 20;
    if std::fs::metadata(&path).map_or(true, |m| m.len() < len) {
        std::fs::write(&path, vec![0x5au8; len as usize])?;
    }
    let file = Arc::new(std::fs::File::open(&path)?);
    let engine = Arc::new(auraio::SharedEngine::new()?);
    let done = Arc::new(AtomicU64::new(0));

    // The watchdog: no completion for 5 s is a hang; print what the engine holds and fail.
    {
        let (engine, done) = (engine.clone(), done.clone());
        std::thread::spawn(move || {
            let mut last = 0;
            let mut since = Instant::now();
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let now = done.load(Ordering::Relaxed);
                if now != last {
                    (last, since) = (now, Instant::now());
                } else if since.elapsed() > Duration::from_secs(5) && engine.pending() > 0 {
                    eprintln!(
                        "tokio_readers: no completion for 5 s\n{}",
                        engine.state_dump()
                    );
                    std::process::exit(2);
                }
            }
        });
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let start = Instant::now();
    let total = rt.block_on(async {
        let _driver = auraio::tokio::Driver::spawn(engine.clone());
        let deadline = start + Duration::from_secs_f64(secs);
        let readers: Vec<_> = (0..tasks as u64)
            .map(|t| {
                let (e, f, done) = (engine.clone(), file.clone(), done.clone());
                tokio::spawn(async move {
                    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (t + 1);
                    let mut buf = vec![0u8; BLOCK];
                    while Instant::now() < deadline {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let off = (x % (len / BLOCK as u64)) * BLOCK as u64;
                        let (r, b) = e.read_at(f.as_raw_fd(), buf, off).await;
                        assert_eq!(r?, BLOCK, "short read at {off}");
                        assert!(b.iter().all(|&v| v == 0x5a), "wrong data at {off}");
                        buf = b;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok::<_, std::io::Error>(())
                })
            })
            .collect();
        for r in readers {
            r.await.expect("reader task")?;
        }
        Ok::<_, std::io::Error>(done.load(Ordering::Relaxed))
    })?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{tasks} tasks, 2 workers: {total} reads of 4 KiB in {secs:.1} s ({:.0} IOPS)",
        total as f64 / secs
    );
    Ok(())
}
