//! `Engine::block_on`: futures run to completion on the calling thread, which sleeps in the
//! kernel while they wait instead of polling in a loop.

mod common;

use std::os::fd::AsRawFd;
use std::time::Duration;

use auraio::{LocalEngine, Options, SharedEngine};
use auraio_faultfs::{FaultFs, FileSpec};
use common::{locations, Deadline, TestFile};
use futures::stream::{FuturesUnordered, StreamExt};

#[test]
fn block_on_returns_what_the_futures_read() {
    let _deadline = Deadline::plain("block_on reads", 60);
    for (what, dir) in locations() {
        let f = TestFile::new(&dir, "block-on", 64 << 10, false);
        let engine = LocalEngine::new().unwrap();
        let fd = f.file.as_raw_fd();
        let (r, buf) = engine.block_on(engine.read_at(fd, vec![0u8; 4096], 8192));
        assert_eq!(r.unwrap(), 4096, "{what}");
        assert_eq!(&buf[..], &f.data[8192..12288], "{what}");
        // Several at once, joined.
        let reads = (0..16u64).map(|i| engine.read_at(fd, vec![0u8; 4096], i * 4096));
        let all = engine.block_on(futures::future::join_all(reads));
        for (i, (r, buf)) in all.into_iter().enumerate() {
            assert_eq!(r.unwrap(), 4096);
            assert_eq!(
                &buf[..],
                &f.data[i * 4096..(i + 1) * 4096],
                "{what} block {i}"
            );
        }
    }
}

/// A future that is not the engine's (woken from another thread) completes too: `block_on`
/// sleeps at most its bound between looks.
#[test]
fn block_on_runs_any_future() {
    let _deadline = Deadline::plain("block_on of a foreign future", 60);
    let engine = SharedEngine::with_options(&Options::new().ring_count(1)).unwrap();
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        tx.send(7).unwrap();
    });
    assert_eq!(engine.block_on(rx), Ok(7));
    t.join().unwrap();
}

/// This thread's CPU time so far (user + system).
fn thread_cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a writable rusage for the call.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// 10,000 reads, 64 in flight, from a device that takes 40 ms a read (the fault filesystem's
/// served model: 64 servers x 40 ms), driven once by `block_on` and once by the self-waking
/// fallback (`futures::executor::block_on`, no reactor). The fallback polls for the whole run;
/// `block_on` sleeps in the kernel between completions: it must use under a tenth of the
/// fallback's CPU time. Both figures are printed. CPU time, not wall time: a slow machine
/// stretches both runs alike.
#[test]
fn block_on_sleeps_where_the_fallback_spins() {
    let _deadline = Deadline::plain("block_on against the fallback", 120);
    let m = FaultFs::new()
        .file(FileSpec::patterned("f", 1 << 20))
        .served_by(64, Duration::from_millis(40))
        .mount()
        .unwrap();
    let file = std::fs::File::open(m.path("f")).unwrap();
    let fd = file.as_raw_fd();
    let engine = LocalEngine::with_options(
        &Options::new()
            .ring_count(1)
            .initial_in_flight(64)
            .async_issue(true),
    )
    .unwrap();
    engine.set_adaptive(false);
    engine.set_in_flight_limit(64).unwrap();
    engine.set_iowq_max_workers(128, 128).unwrap();
    const READS: u64 = 10_000;
    let work = || async {
        let mut set = FuturesUnordered::new();
        let mut next = 0u64;
        let mut ok = 0u64;
        while next < 64 {
            set.push(engine.read_at(fd, vec![0u8; 4096], (next % 256) * 4096));
            next += 1;
        }
        while let Some((r, buf)) = set.next().await {
            assert_eq!(r.unwrap(), 4096);
            ok += 1;
            if next < READS {
                set.push(engine.read_at(fd, buf, (next % 256) * 4096));
                next += 1;
            }
        }
        ok
    };
    let t0 = thread_cpu();
    let w0 = std::time::Instant::now();
    assert_eq!(engine.block_on(work()), READS);
    let (driven, driven_wall) = (thread_cpu() - t0, w0.elapsed());
    let t0 = thread_cpu();
    let w0 = std::time::Instant::now();
    assert_eq!(futures::executor::block_on(work()), READS);
    let (spun, spun_wall) = (thread_cpu() - t0, w0.elapsed());
    println!(
        "{READS} reads: block_on {driven:?} CPU in {driven_wall:?}; self-waking fallback {spun:?} CPU in {spun_wall:?}"
    );
    assert!(
        driven.as_secs_f64() < 0.10 * spun.as_secs_f64(),
        "block_on {driven:?} CPU, fallback {spun:?}"
    );
}

/// Another thread holding the poll (an engine `run` loop) reaps for `block_on`, whose thread
/// does not block on it: the future still completes.
#[test]
fn block_on_completes_while_another_thread_runs_the_engine() {
    let _deadline = Deadline::plain("block_on beside run", 60);
    let f = TestFile::new(&locations()[0].1, "block-on-run", 64 << 10, false);
    let engine =
        std::sync::Arc::new(SharedEngine::with_options(&Options::new().ring_count(1)).unwrap());
    let runner = {
        let e = engine.clone();
        std::thread::spawn(move || e.run())
    };
    // Let the runner take the poll first.
    std::thread::sleep(Duration::from_millis(100));
    for i in 0..16u64 {
        let (r, buf) =
            engine.block_on(engine.read_at(f.file.as_raw_fd(), vec![0u8; 4096], i * 4096));
        assert_eq!(r.unwrap(), 4096, "read {i}");
        assert_eq!(
            &buf[..],
            &f.data[i as usize * 4096..(i as usize + 1) * 4096]
        );
    }
    engine.stop();
    runner.join().unwrap().unwrap();
}
