#![cfg(feature = "tokio")]
//! Stress with a checker: submitter threads and tokio tasks doing random reads, writes,
//! fsyncs, chains, cancels, dropped futures and panicking callbacks on tmpfs and on disk. Every
//! request must complete exactly once, every read must return the file's bytes, and every
//! buffer (an instrumented type that counts its drops) must come back.
//!
//! Seeded and reproducible: the seed is printed; `AURAIO_STRESS_SEED=<n>` replays one. A run
//! that stops making progress fails with the engines' state dumps (no hang).

mod common;

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use auraio::op::{Fsync, Read, Write};
use auraio::{Options, RoundRobinEngine, SharedEngine};
use common::{locations, Deadline, Pipe, Rng, TestFile, Tracked};

const BLOCK: usize = 4096;
const FILE_LEN: usize = 4 << 20;
/// Reads go to the first half (never written), writes to the second.
const READ_BLOCKS: u64 = (FILE_LEN / BLOCK / 2) as u64;
const THREADS: usize = 3;
const OPS_PER_THREAD: usize = 20_000;
const TASKS: usize = 6;
/// Rounds, alternating tmpfs and disk, each with its own seed.
const ROUNDS: usize = 4;
const OPS_PER_TASK: usize = 8_000;

/// Completions seen per request id: each must end at exactly 1.
struct Ledger {
    seen: Vec<AtomicU8>,
    next: AtomicUsize,
}

impl Ledger {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Ledger {
            seen: (0..n).map(|_| AtomicU8::new(0)).collect(),
            next: AtomicUsize::new(0),
        })
    }
    fn id(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
    fn complete(&self, id: usize) {
        self.seen[id].fetch_add(1, Ordering::SeqCst);
    }
    /// Ids whose completion count is not 1, among those handed out.
    fn wrong(&self) -> Vec<(usize, u8)> {
        let n = self.next.load(Ordering::SeqCst);
        (0..n)
            .map(|i| (i, self.seen[i].load(Ordering::SeqCst)))
            .filter(|&(_, c)| c != 1)
            .collect()
    }
}

fn seed() -> u64 {
    let s = std::env::var("AURAIO_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("stress seed: {s} (replay with AURAIO_STRESS_SEED={s})");
    s
}

#[test]
fn threads_and_tasks_lose_and_duplicate_nothing() {
    let seed = seed();
    // The planned callback panics would print a backtrace each; every other panic still does.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"stress: a callback panics") {
            default_hook(info);
        }
    }));
    for (round, (name, dir)) in locations().into_iter().cycle().take(ROUNDS).enumerate() {
        let seed = seed.wrapping_add(round as u64 * 2);
        eprintln!("round {round} on {name}: seed {seed}");
        let file = Arc::new(TestFile::new(&dir, "stress", FILE_LEN, false));
        let created = Arc::new(AtomicUsize::new(0));
        let drops = Arc::new(AtomicUsize::new(0));
        let ledger = Ledger::new(THREADS * OPS_PER_THREAD * 4 + TASKS * OPS_PER_TASK * 2);
        let bad_data = Arc::new(AtomicUsize::new(0));
        let panics = Arc::new(AtomicU64::new(0));

        // Engine A: callbacks, chains, cancels and panicking callbacks from submitter threads
        // that also poll. Engine B: futures under tokio (the driver polls), some dropped.
        let a = Arc::new(
            RoundRobinEngine::with_options(&Options::new().ring_count(2).queue_depth(64)).unwrap(),
        );
        let b = Arc::new(SharedEngine::with_options(&Options::new().ring_count(2)).unwrap());
        let _deadline = Deadline::new(&format!("stress on {name} (seed {seed})"), 240, {
            let (a, b) = (a.clone(), b.clone());
            move || format!("engine A\n{}engine B\n{}", a.state_dump(), b.state_dump())
        });

        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (a, file, created, drops, ledger, bad, panics) = (
                    a.clone(),
                    file.clone(),
                    created.clone(),
                    drops.clone(),
                    ledger.clone(),
                    bad_data.clone(),
                    panics.clone(),
                );
                std::thread::spawn(move || {
                    let mut rng =
                        Rng::new(seed ^ (t as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                    let pipe = Pipe::new();
                    let new_buf = || {
                        created.fetch_add(1, Ordering::Relaxed);
                        Tracked::new(BLOCK, &drops)
                    };
                    let poll = |a: &RoundRobinEngine| match std::panic::catch_unwind(
                        std::panic::AssertUnwindSafe(|| a.wait(Some(Duration::from_millis(5)))),
                    ) {
                        Ok(r) => {
                            r.unwrap();
                        }
                        Err(_) => {
                            panics.fetch_add(1, Ordering::Relaxed);
                        }
                    };
                    for i in 0..OPS_PER_THREAD {
                        let kind = rng.next() % 100;
                        let fd = file.fd();
                        if kind < 50 {
                            let off = (rng.next() % READ_BLOCKS) * BLOCK as u64;
                            let (id, l, f, bad) =
                                (ledger.id(), ledger.clone(), file.clone(), bad.clone());
                            let panic_here = rng.next() % 50 == 0;
                            a.submit(Read::new(fd, new_buf(), off), move |r, buf| {
                                l.complete(id);
                                let o = off as usize;
                                if r.ok() != Some(BLOCK) || buf.bytes() != &f.data[o..o + BLOCK] {
                                    bad.fetch_add(1, Ordering::Relaxed);
                                }
                                if panic_here {
                                    panic!("stress: a callback panics");
                                }
                            })
                            .unwrap();
                        } else if kind < 70 {
                            let off = (READ_BLOCKS + rng.next() % READ_BLOCKS) * BLOCK as u64;
                            let (id, l, bad) = (ledger.id(), ledger.clone(), bad.clone());
                            a.submit(Write::new(fd, new_buf(), off), move |r, _| {
                                l.complete(id);
                                if r.ok() != Some(BLOCK) {
                                    bad.fetch_add(1, Ordering::Relaxed);
                                }
                            })
                            .unwrap();
                        } else if kind < 78 {
                            let (id, l, bad) = (ledger.id(), ledger.clone(), bad.clone());
                            a.fsync(fd, move |r, ()| {
                                l.complete(id);
                                if r.is_err() {
                                    bad.fetch_add(1, Ordering::Relaxed);
                                }
                            })
                            .unwrap();
                        } else if kind < 90 {
                            // write -> fsync, linked: both complete, in order.
                            let off = (READ_BLOCKS + rng.next() % READ_BLOCKS) * BLOCK as u64;
                            let first = Arc::new(AtomicU8::new(0));
                            let (id1, id2) = (ledger.id(), ledger.id());
                            let (l1, l2, b1, b2, f1, f2) = (
                                ledger.clone(),
                                ledger.clone(),
                                bad.clone(),
                                bad.clone(),
                                first.clone(),
                                first,
                            );
                            let mut chain = a.chain();
                            chain
                                .push(Write::new(fd, new_buf(), off), move |r, _| {
                                    l1.complete(id1);
                                    f1.store(1, Ordering::SeqCst);
                                    if r.ok() != Some(BLOCK) {
                                        b1.fetch_add(1, Ordering::Relaxed);
                                    }
                                })
                                .unwrap()
                                .push(Fsync::new(fd), move |r, ()| {
                                    l2.complete(id2);
                                    if r.is_err() || f2.load(Ordering::SeqCst) != 1 {
                                        b2.fetch_add(1, Ordering::Relaxed);
                                    }
                                })
                                .unwrap();
                            chain.submit().unwrap();
                        } else {
                            // A read that cannot finish, cancelled: exactly one ECANCELED.
                            let (id, l, bad) = (ledger.id(), ledger.clone(), bad.clone());
                            let rid = a
                                .submit(Read::new(pipe.read, new_buf(), 0), move |r, _| {
                                    l.complete(id);
                                    if r.err().and_then(|e| e.raw_os_error())
                                        != Some(libc::ECANCELED)
                                    {
                                        bad.fetch_add(1, Ordering::Relaxed);
                                    }
                                })
                                .unwrap();
                            if rng.next() % 2 == 0 {
                                poll(&a);
                            }
                            // EAGAIN (reserve full) or ENOENT cannot happen here: the request
                            // is live and cancels are queued.
                            a.cancel(rid).unwrap();
                        }
                        if i % 8 == 0 {
                            poll(&a);
                        }
                    }
                    // Drain this thread's share (others may be reaping it too).
                    while a.pending() > 0 {
                        poll(&a);
                    }
                })
            })
            .collect();

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let _driver = auraio::tokio::Driver::spawn(b.clone());
            let tasks: Vec<_> = (0..TASKS)
                .map(|t| {
                    let (b, file, created, drops, bad) = (
                        b.clone(),
                        file.clone(),
                        created.clone(),
                        drops.clone(),
                        bad_data.clone(),
                    );
                    tokio::spawn(async move {
                        let mut rng =
                            Rng::new(seed ^ (t as u64 + 101).wrapping_mul(0x2545_f491_4f6c_dd1d));
                        for _ in 0..OPS_PER_TASK {
                            let off = (rng.next() % READ_BLOCKS) * BLOCK as u64;
                            created.fetch_add(1, Ordering::Relaxed);
                            let fut = b.read_at(file.fd(), Tracked::new(BLOCK, &drops), off);
                            if rng.next() % 10 == 0 {
                                // Dropped mid-flight (after at most one poll): the buffer must
                                // still come back, once the kernel is done with it.
                                let mut fut = Box::pin(fut);
                                let _ = futures::poll!(fut.as_mut());
                                drop(fut);
                                continue;
                            }
                            let (r, buf) = fut.await;
                            let o = off as usize;
                            if r.ok() != Some(BLOCK) || buf.bytes() != &file.data[o..o + BLOCK] {
                                bad.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        for t in threads {
            t.join().unwrap();
        }
        a.drain(Duration::from_secs(60)).unwrap();
        b.drain(Duration::from_secs(60)).unwrap();
        assert_eq!(a.pending() + b.pending(), 0);

        let wrong = ledger.wrong();
        assert!(
            wrong.is_empty(),
            "{name}: {} requests not completed exactly once (id, count): {:?}",
            wrong.len(),
            &wrong[..wrong.len().min(20)]
        );
        assert_eq!(bad_data.load(Ordering::Relaxed), 0, "{name}: wrong results");
        assert!(
            panics.load(Ordering::Relaxed) > 0,
            "the panicking callbacks ran"
        );
        drop((a, b));
        assert_eq!(
            drops.load(Ordering::SeqCst),
            created.load(Ordering::SeqCst),
            "{name}: every buffer came back and was dropped once"
        );
        eprintln!(
            "{name}: {} callback requests, {} buffers, {} callback panics",
            ledger.next.load(Ordering::Relaxed),
            created.load(Ordering::Relaxed),
            panics.load(Ordering::Relaxed)
        );
    }
}
