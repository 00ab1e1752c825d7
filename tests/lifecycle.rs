//! Concurrency and shutdown: many submitter threads with one poller, and dropping an engine
//! with requests in flight.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auraio::{LocalEngine, Options, SharedEngine};
use common::{locations, Pipe, TestFile, Tracked};

#[test]
fn four_submitters_one_poller_every_callback_exactly_once() {
    const THREADS: usize = 4;
    const OPS: usize = 10_000;
    let engine = Arc::new(SharedEngine::new().unwrap());
    let f = Arc::new(TestFile::new(&locations()[0].1, "mt", 1 << 20, false));
    let counts: Arc<Vec<AtomicU8>> =
        Arc::new((0..THREADS * OPS).map(|_| AtomicU8::new(0)).collect());
    let wrong = Arc::new(AtomicUsize::new(0));
    let submitting = Arc::new(AtomicUsize::new(THREADS));

    let poller = {
        let (engine, counts, submitting) = (engine.clone(), counts.clone(), submitting.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            loop {
                engine.wait(Some(Duration::from_millis(10))).unwrap();
                if submitting.load(Ordering::SeqCst) == 0 && engine.pending() == 0 {
                    break;
                }
                assert!(start.elapsed() < Duration::from_secs(60), "poller stuck");
            }
            counts.len()
        })
    };
    let submitters: Vec<_> = (0..THREADS)
        .map(|t| {
            let (engine, f, counts, wrong, submitting) = (
                engine.clone(),
                f.clone(),
                counts.clone(),
                wrong.clone(),
                submitting.clone(),
            );
            std::thread::spawn(move || {
                for i in 0..OPS {
                    let id = t * OPS + i;
                    let off = ((id * 4096) % (1 << 20)) as u64;
                    let (c, w, ff) = (counts.clone(), wrong.clone(), f.clone());
                    engine
                        .read(f.fd(), vec![0u8; 64], off, move |r, buf| {
                            let o = off as usize;
                            if r.ok() != Some(64) || buf[..] != ff.data[o..o + 64] {
                                w.fetch_add(1, Ordering::SeqCst);
                            }
                            c[id].fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                    // Keep the backlog bounded so the test measures steady traffic.
                    while engine.pending() > 4096 {
                        std::thread::yield_now();
                    }
                }
                submitting.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    for s in submitters {
        s.join().unwrap();
    }
    poller.join().unwrap();
    assert_eq!(wrong.load(Ordering::SeqCst), 0);
    for (i, c) in counts.iter().enumerate() {
        assert_eq!(c.load(Ordering::SeqCst), 1, "op {i}");
    }
    assert_eq!(engine.stats().ops_completed, (THREADS * OPS) as u64);
}

/// Drops an engine holding reads that can never finish (empty pipe) and reads that can, all in
/// instrumented buffers: every buffer comes back exactly once, the stuck reads are cancelled.
macro_rules! drop_test {
    ($name:ident, $engine:ty) => {
        #[test]
        fn $name() {
            let drops = Arc::new(AtomicUsize::new(0));
            let called = Arc::new(AtomicUsize::new(0));
            let cancelled = Arc::new(AtomicUsize::new(0));
            let f = TestFile::new(&locations()[0].1, "drop", 1 << 16, false);
            let pipe = Pipe::new();
            let engine = <$engine>::with_options(&Options::new().ring_count(1)).unwrap();
            for i in 0..20u64 {
                let (c, x) = (called.clone(), cancelled.clone());
                engine
                    .read(
                        pipe.read,
                        Tracked::new(16, &drops),
                        u64::MAX,
                        move |r, buf| {
                            if r.as_ref().err().and_then(|e| e.raw_os_error())
                                == Some(libc::ECANCELED)
                            {
                                x.fetch_add(1, Ordering::SeqCst);
                            }
                            assert!(buf.bytes().iter().all(|&b| b != 0xDD), "poisoned buffer");
                            c.fetch_add(1, Ordering::SeqCst);
                        },
                    )
                    .unwrap();
                let c = called.clone();
                let expect = f.data[(i * 1024) as usize..(i * 1024 + 1024) as usize].to_vec();
                engine
                    .read(
                        f.fd(),
                        Tracked::new(1024, &drops),
                        i * 1024,
                        move |r, buf| {
                            assert_eq!(r.unwrap(), 1024);
                            assert_eq!(buf.bytes(), &expect[..]);
                            c.fetch_add(1, Ordering::SeqCst);
                        },
                    )
                    .unwrap();
            }
            let start = Instant::now();
            drop(engine);
            let took = start.elapsed();
            assert!(
                took < Duration::from_secs(10),
                "drop must be bounded, took {took:?}"
            );
            assert_eq!(
                drops.load(Ordering::SeqCst),
                40,
                "every buffer returned exactly once"
            );
            assert_eq!(called.load(Ordering::SeqCst), 40, "every callback ran");
            assert_eq!(
                cancelled.load(Ordering::SeqCst),
                20,
                "the stuck pipe reads were cancelled"
            );
        }
    };
}

drop_test!(dropping_local_engine_returns_every_buffer, LocalEngine);
drop_test!(dropping_shared_engine_returns_every_buffer, SharedEngine);

#[test]
fn dropping_with_a_backlog_cancels_it_too() {
    let drops = Arc::new(AtomicUsize::new(0));
    let pipe = Pipe::new();
    let engine = LocalEngine::new().unwrap();
    engine.set_in_flight_limit(1).unwrap();
    let results = Arc::new(std::sync::Mutex::new(Vec::new()));
    for _ in 0..5 {
        let r2 = results.clone();
        engine
            .read(pipe.read, Tracked::new(8, &drops), u64::MAX, move |r, _| {
                r2.lock().unwrap().push(r.unwrap_err().raw_os_error());
            })
            .unwrap();
    }
    assert_eq!(engine.stats().backlog, 4);
    drop(engine);
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    assert_eq!(*results.lock().unwrap(), vec![Some(libc::ECANCELED); 5]);
}

#[test]
fn run_returns_after_stop_from_another_thread() {
    let engine = Arc::new(SharedEngine::new().unwrap());
    let f = TestFile::new(&locations()[0].1, "run", 4096, false);
    let seen = Arc::new(AtomicBool::new(false));
    let (e, s, fd) = (engine.clone(), seen.clone(), f.fd());
    let runner = std::thread::spawn(move || e.run());
    std::thread::sleep(Duration::from_millis(30));
    // Submitted while the runner sleeps idle: the submission wakes it.
    engine
        .read(fd, vec![0u8; 8], 0, move |r, _| {
            assert_eq!(r.unwrap(), 8);
            s.store(true, Ordering::SeqCst);
        })
        .unwrap();
    let start = Instant::now();
    while !seen.load(Ordering::SeqCst) {
        assert!(start.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(1));
    }
    engine.stop();
    runner.join().unwrap().unwrap();
}

#[test]
fn past_the_drain_bound_kernel_held_buffers_are_leaked_not_freed() {
    // A 100 ms bound is shorter than the 250 ms stall that triggers cancellation: the read the
    // kernel holds is left to it (its buffer leaked, never freed under it), the backlogged
    // ones, which the kernel never saw, complete with ECANCELED and come back.
    let drops = Arc::new(AtomicUsize::new(0));
    let pipe = Pipe::new();
    let engine =
        LocalEngine::with_options(&Options::new().drain_timeout(Duration::from_millis(100)))
            .unwrap();
    engine.set_in_flight_limit(1).unwrap();
    let cancelled = Arc::new(AtomicUsize::new(0));
    for _ in 0..5 {
        let c = cancelled.clone();
        engine
            .read(pipe.read, Tracked::new(8, &drops), u64::MAX, move |r, _| {
                assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
                c.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    let start = Instant::now();
    drop(engine);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(cancelled.load(Ordering::SeqCst), 4);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        4,
        "the kernel-held buffer must not be freed"
    );
    // Feeding the pipe now cannot touch freed memory: the leaked buffer is still allocated.
    pipe.feed(b"late");
}

/// Latency is sampled on 1 in 8 data operations (DefaultTuning's SAMPLE_SHIFT = 3), also when
/// a queue is refilled in fixed rounds.
#[test]
fn latency_sampling_takes_about_one_in_eight() {
    let f = common::TestFile::new(
        std::path::Path::new("/dev/shm"),
        "sampling",
        64 * 4096,
        false,
    );
    let engine = auraio::LocalEngine::new().unwrap();
    let rounds = 2000u64;
    for r in 0..rounds {
        for i in 0..4u64 {
            engine
                .read(
                    f.fd(),
                    vec![0u8; 4096],
                    ((r * 4 + i) % 64) * 4096,
                    |res, _| {
                        res.unwrap();
                    },
                )
                .unwrap();
        }
        engine.drain(std::time::Duration::from_secs(5)).unwrap();
    }
    let (_, all) = engine.histogram(0).unwrap();
    let expected = rounds * 4 / 8;
    let n = all.count();
    // Exactly 1000 with every-8th sampling; within 20% should sampling become random.
    assert!(
        n > expected * 8 / 10 && n < expected * 12 / 10,
        "{n} samples, expected about {expected}"
    );
}
