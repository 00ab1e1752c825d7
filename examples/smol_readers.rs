//! auraio under smol / async-io: the engine's eventfd is all a reactor needs. One driver task
//! per engine sleeps in async-io's reactor until the eventfd is readable, drains it and polls
//! the engine, which wakes the futures; no spinning, no auraio feature.
//!
//! Two set-ups, as a smol program would have them: a `LocalEngine` on a `LocalExecutor` (one
//! thread, `Rc`), then a `SharedEngine` on an `Executor` run by two threads (`Arc`).
//!
//! `cargo run --release --example smol_readers [TASKS] [SECONDS] [FILE]` (defaults: 4 tasks,
//! 1 s per set-up, a 64 MiB file it makes in $TMPDIR). A watchdog exits with the engine's state
//! dump if no read completes for 5 s, so a lost wakeup fails instead of hanging.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auraio::lock::LockMode;
use auraio::policy::Policy;
use auraio::{Engine, Tuning};
use smol::{Async, Executor, LocalExecutor};

const BLOCK: usize = 4096;
const FILE_LEN: u64 = 64 << 20;

/// Drives `engine` from async-io's reactor: what `auraio::tokio::drive` does for tokio.
async fn drive<P: Policy, L: LockMode, T: Tuning>(engine: &Engine<P, L, T>) -> io::Result<()> {
    // A duplicate of the eventfd shares its counter; owning it keeps this safe code: the
    // reactor's registration cannot outlive the descriptor it watches.
    let notify = Async::new_nonblocking(File::from(engine.notify_fd().try_clone_to_owned()?))?;
    engine.set_notifications(true);
    let result = async {
        loop {
            engine.poll()?;
            let mut count = [0u8; 8];
            notify.read_with(|mut f| f.read(&mut count)).await?;
        }
    }
    .await;
    engine.set_notifications(false);
    result
}

/// Random 4 KiB reads through `read_at` until `deadline`, each one checked; counts them in
/// `done`. (A closure, not an engine parameter: either engine's `read_at` fits.)
async fn reader<F: Future<Output = (io::Result<usize>, Vec<u8>)>>(
    read_at: impl Fn(Vec<u8>, u64) -> F,
    seed: u64,
    deadline: Instant,
    done: &AtomicU64,
) -> io::Result<()> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (seed + 1);
    let mut buf = Vec::with_capacity(BLOCK);
    while Instant::now() < deadline {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let off = (x % (FILE_LEN / BLOCK as u64)) * BLOCK as u64;
        buf.clear();
        let (r, b) = read_at(buf, off).await;
        if r? != BLOCK || b.len() != BLOCK || b.iter().any(|&v| v != 0x5a) {
            return Err(io::Error::other(format!("wrong data at {off}")));
        }
        buf = b;
        done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Exits the process with `dump()` if `done` stops moving for 5 s, until the returned guard
/// is dropped.
fn watchdog(done: Arc<AtomicU64>, dump: impl Fn() -> String + Send + 'static) -> impl Drop {
    struct Stop(Arc<AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::spawn(move || {
        let (mut last, mut since) = (u64::MAX, Instant::now());
        while !stopped.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            let now = done.load(Ordering::Relaxed);
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() > Duration::from_secs(5) {
                eprintln!("smol_readers: no completion for 5 s\n{}", dump());
                std::process::exit(2);
            }
        }
    });
    Stop(stop)
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let tasks: u64 = args.next().map_or(4, |s| s.parse().expect("TASKS"));
    let secs: f64 = args.next().map_or(1.0, |s| s.parse().expect("SECONDS"));
    let path = args.next().map_or_else(
        || std::env::temp_dir().join("auraio-smol-readers.bin"),
        PathBuf::from,
    );
    if std::fs::metadata(&path).map_or(true, |m| m.len() < FILE_LEN) {
        std::fs::write(&path, vec![0x5au8; FILE_LEN as usize])?;
    }
    let file = Arc::new(File::open(&path)?);

    // One thread: LocalEngine, LocalExecutor, the driver one more local task.
    {
        let engine = Rc::new(auraio::LocalEngine::new()?);
        let done = Arc::new(AtomicU64::new(0));
        let _watch = watchdog(done.clone(), || {
            "LocalEngine: stalled (its state is on the stalled thread)".into()
        });
        let ex = LocalExecutor::new();
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(secs);
        let result: io::Result<()> = smol::block_on(ex.run(async {
            let driver = ex.spawn({
                let engine = engine.clone();
                async move { drive(&*engine).await }
            });
            let readers: Vec<_> = (0..tasks)
                .map(|t| {
                    let (e, f, d) = (engine.clone(), file.clone(), done.clone());
                    ex.spawn(async move {
                        reader(|b, off| e.read_at(f.as_raw_fd(), b, off), t, deadline, &d).await
                    })
                })
                .collect();
            for r in readers {
                r.await?;
            }
            idle_wait_sleeps(&engine).await?;
            drop(driver);
            Ok(())
        }));
        result?;
        report("LocalEngine, LocalExecutor", tasks, &done, start);
    }

    // Two threads: SharedEngine, a shared Executor run by both.
    {
        let engine = Arc::new(auraio::SharedEngine::new()?);
        let done = Arc::new(AtomicU64::new(0));
        let _watch = watchdog(done.clone(), {
            let engine = engine.clone();
            move || engine.state_dump()
        });
        let ex = Arc::new(Executor::new());
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(secs);
        let driver = ex.spawn({
            let engine = engine.clone();
            async move { drive(&*engine).await }
        });
        let readers: Vec<_> = (0..tasks)
            .map(|t| {
                let (e, f, d) = (engine.clone(), file.clone(), done.clone());
                ex.spawn(async move {
                    reader(|b, off| e.read_at(f.as_raw_fd(), b, off), t, deadline, &d).await
                })
            })
            .collect();
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let helper = {
            let ex = ex.clone();
            std::thread::spawn(move || smol::block_on(ex.run(stopped.recv())))
        };
        let result: io::Result<()> = smol::block_on(ex.run(async {
            for r in readers {
                r.await?;
            }
            Ok(())
        }));
        drop(stop);
        let _ = helper.join();
        drop(driver);
        result?;
        report("SharedEngine, Executor on 2 threads", tasks, &done, start);
    }
    std::fs::remove_file(path)
}

/// A read that waits 300 ms for its data: the driver must sleep in the reactor meanwhile, not
/// spin (a spinning poll loop would use the whole 300 ms of CPU).
async fn idle_wait_sleeps(engine: &auraio::LocalEngine) -> io::Result<()> {
    let (mut tx, rx) = UnixStream::pair()?;
    let wait = Duration::from_millis(300);
    let writer = std::thread::spawn(move || {
        std::thread::sleep(wait);
        tx.write_all(b"late")
    });
    let cpu = cpu_time()?;
    let (r, b) = engine
        .read_at(rx.as_raw_fd(), Vec::with_capacity(16), 0)
        .await;
    let used = cpu_time()? - cpu;
    writer.join().expect("writer thread")?;
    if r? != 4 || b != b"late" {
        return Err(io::Error::other("the late read returned the wrong bytes"));
    }
    println!("a read waiting {wait:?} for data: {used:?} of CPU while it waited");
    if used > wait / 2 {
        return Err(io::Error::other(
            "the driver spun while the read was pending",
        ));
    }
    Ok(())
}

/// This process's user + system CPU time, from /proc (clock ticks of 10 ms).
fn cpu_time() -> io::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which may hold spaces) in parentheses: utime and stime are
    // the 14th and 15th fields of the line, the 12th and 13th after the name.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    if ticks.len() != 2 {
        return Err(io::Error::other("unreadable /proc/self/stat"));
    }
    Ok(Duration::from_millis((ticks[0] + ticks[1]) * 10))
}

fn report(what: &str, tasks: u64, done: &AtomicU64, start: Instant) {
    let n = done.load(Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{what}: {tasks} tasks, {n} reads of 4 KiB checked in {secs:.2} s ({:.0} reads/s)",
        n as f64 / secs
    );
}
