//! Reliability defects, one test each: no hang, no lost or duplicated completion, no request
//! that waits on a thread that is asleep or busy elsewhere. Every wait that could hang has a
//! deadline that fails the test with the engine's state dump.

mod common;

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use auraio::{LocalEngine, Options, RoundRobinEngine, SharedEngine};
use common::{locations, Deadline, Pipe, TestFile};

const BLOCK: usize = 4096;

/// A multi-thread engine with several rings: a wait that began while only ring 0 had work
/// (a read on an empty pipe) still wakes for a completion on ring 1 submitted afterwards by
/// another thread.
#[test]
fn multi_ring_wait_wakes_for_a_ring_that_was_idle() {
    let engine = Arc::new(
        RoundRobinEngine::with_options(&Options::new().ring_count(2).spin(Duration::ZERO)).unwrap(),
    );
    let _d = Deadline::new("multi-ring wait", 30, {
        let e = engine.clone();
        move || e.state_dump()
    });
    let pipe = Pipe::new();
    let f = TestFile::new(&locations()[0].1, "mring", 1 << 20, false);
    let ring0 = engine
        .read(pipe.read, vec![0u8; 8], 0, |r, _| assert_eq!(r.unwrap(), 3))
        .unwrap();
    assert_eq!(ring0.ring(), 0);
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn({
        let e = engine.clone();
        move || {
            // Blocks: only ring 0 has work. Returns once the file read completes.
            let mut ran = 0;
            while ran == 0 {
                ran += e.wait(Some(Duration::from_secs(20))).unwrap();
            }
            ran
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let id = engine
        .read(f.fd(), vec![0u8; BLOCK], 0, move |r, _| {
            tx.send(r.unwrap()).unwrap();
        })
        .unwrap();
    assert_eq!(id.ring(), 1);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the read on ring 1 completed while a waiter slept on ring 0"),
        BLOCK
    );
    assert_eq!(waiter.join().unwrap(), 1);
    pipe.feed(b"end");
    engine.drain(Duration::from_secs(10)).unwrap();
}

/// A chain longer than the submission queue could never be enqueued; it is refused at push.
#[test]
fn chain_longer_than_the_queue_is_refused() {
    let engine = LocalEngine::with_options(&Options::new().queue_depth(8)).unwrap();
    assert_eq!(engine.max_chain(), 8);
    let f = TestFile::new(&locations()[0].1, "longchain", 1 << 16, false);
    let mut chain = engine.chain();
    for i in 0..8u64 {
        chain
            .push(
                auraio::op::Read::new(f.fd(), vec![0u8; 64], i * 64),
                |r, _| {
                    r.unwrap();
                },
            )
            .unwrap();
    }
    let err = chain
        .push(auraio::op::Read::new(f.fd(), vec![0u8; 64], 0), |_, _| {})
        .unwrap_err();
    assert_eq!(err.error().raw_os_error(), Some(libc::E2BIG));
    chain.submit().unwrap();
    engine.drain(Duration::from_secs(10)).unwrap();
}

/// A chain never takes a ring past its in-flight limit: with the limit nearly used, it waits
/// in the backlog until it fits whole.
#[test]
fn chain_waits_until_it_fits_under_the_limit() {
    let engine = LocalEngine::new().unwrap();
    engine.set_in_flight_limit(4).unwrap();
    let pipes: Vec<Pipe> = (0..3).map(|_| Pipe::new()).collect();
    for p in &pipes {
        engine
            .read(p.read, vec![0u8; 4], 0, |r, _| assert_eq!(r.unwrap(), 4))
            .unwrap();
    }
    let f = TestFile::new(&locations()[0].1, "chainlimit", 1 << 16, false);
    let done = Rc::new(Cell::new(0));
    let mut chain = engine.chain();
    for i in 0..3u64 {
        let d = done.clone();
        chain
            .push(
                auraio::op::Read::new(f.fd(), vec![0u8; 64], i * 64),
                move |r, _| {
                    assert_eq!(r.unwrap(), 64);
                    d.set(d.get() + 1);
                },
            )
            .unwrap();
    }
    chain.submit().unwrap();
    let s = engine.stats();
    assert_eq!(s.in_flight, 3, "the chain must not enter past the limit");
    assert_eq!(s.backlog, 3);
    for p in &pipes {
        p.feed(b"data");
    }
    engine.drain(Duration::from_secs(10)).unwrap();
    assert_eq!(done.get(), 3);
    assert!(engine.stats().rings[0].peak_in_flight <= 4);
}

/// A panicking callback costs the other completions of its batch nothing; the panic reaches
/// the caller of wait afterwards, and the engine stays usable.
#[test]
fn panicking_callback_does_not_drop_its_batch() {
    let engine = LocalEngine::new().unwrap();
    let f = TestFile::new(&locations()[0].1, "panic", 1 << 20, false);
    let ran = Rc::new(Cell::new(0));
    for i in 0..16u64 {
        let r = ran.clone();
        engine
            .read(f.fd(), vec![0u8; BLOCK], i * BLOCK as u64, move |res, _| {
                assert_eq!(res.unwrap(), BLOCK);
                if i == 2 {
                    panic!("callback {i} panics");
                }
                r.set(r.get() + 1);
            })
            .unwrap();
    }
    let mut panics = 0;
    while engine.pending() > 0 {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engine.wait(Some(Duration::from_secs(10)))
        })) {
            Ok(r) => {
                r.unwrap();
            }
            Err(p) => {
                assert_eq!(p.downcast_ref::<String>().unwrap(), "callback 2 panics");
                panics += 1;
            }
        }
    }
    assert_eq!(panics, 1);
    assert_eq!(ran.get(), 15, "every other callback ran");
    let (r, _) = futures::executor::block_on(engine.read_at(f.fd(), vec![0u8; 16], 0));
    assert_eq!(r.unwrap(), 16);
}

/// A panic in a callback run by the engine's drop does not stop the drain: the other requests
/// still complete, and the panic comes out of the drop.
#[test]
fn panicking_callback_during_drop_still_drains() {
    let f = TestFile::new(&locations()[0].1, "droppanic", 1 << 20, false);
    let ran = Arc::new(AtomicUsize::new(0));
    let engine = LocalEngine::new().unwrap();
    for i in 0..8u64 {
        let r = ran.clone();
        engine
            .read(f.fd(), vec![0u8; BLOCK], i * BLOCK as u64, move |_, _| {
                if i == 0 {
                    panic!("first");
                }
                r.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(engine)));
    assert!(
        caught.is_err(),
        "the callback's panic comes out of the drop"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 7);
}

/// An id from one engine names nothing in another.
#[test]
fn request_id_of_another_engine_is_enoent() {
    let a = LocalEngine::new().unwrap();
    let b = LocalEngine::new().unwrap();
    let pa = Pipe::new();
    let pb = Pipe::new();
    let ida = a.read(pa.read, vec![0u8; 4], 0, |_, _| {}).unwrap();
    let idb = b
        .read(pb.read, vec![0u8; 4], 0, |r, _| assert_eq!(r.unwrap(), 4))
        .unwrap();
    // Same ring, same slot, same generation: only the engine tells them apart.
    assert_eq!(ida.ring(), idb.ring());
    assert_eq!(
        b.cancel(ida).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    assert!(!b.is_pending(ida));
    assert!(b.is_pending(idb));
    pb.feed(b"abcd");
    b.drain(Duration::from_secs(10)).unwrap();
    a.cancel(ida).unwrap();
    a.drain(Duration::from_secs(10)).unwrap();
}

/// Unbounded drains: `Duration::MAX` means no bound, never an Instant overflow.
#[test]
fn drain_with_duration_max() {
    let f = TestFile::new(&locations()[0].1, "dmax", 1 << 16, false);
    let engine = LocalEngine::with_options(&Options::new().drain_timeout(Duration::MAX)).unwrap();
    engine
        .read(f.fd(), vec![0u8; 64], 0, |r, _| assert_eq!(r.unwrap(), 64))
        .unwrap();
    assert_eq!(engine.drain(Duration::MAX).unwrap(), 1);
    engine.read(f.fd(), vec![0u8; 64], 0, |_, _| {}).unwrap();
    drop(engine);
}

/// A future awaited inside one of its engine's callbacks resolves (its completion is reaped
/// nested in the callback) instead of spinning forever.
#[test]
fn future_awaited_inside_a_callback_resolves() {
    let _d = Deadline::plain("future inside a callback", 30);
    let engine = Rc::new(LocalEngine::new().unwrap());
    let f = Rc::new(TestFile::new(&locations()[0].1, "nested", 1 << 16, false));
    let got = Rc::new(RefCell::new(None));
    {
        let (e, f2, g) = (engine.clone(), f.clone(), got.clone());
        engine
            .read(f.fd(), vec![0u8; 8], 0, move |r, _| {
                r.unwrap();
                let (r, buf) = futures::executor::block_on(e.read_at(f2.fd(), vec![0u8; 16], 16));
                *g.borrow_mut() = Some((r.unwrap(), buf));
            })
            .unwrap();
    }
    engine.drain(Duration::from_secs(10)).unwrap();
    let (n, buf) = got.borrow_mut().take().expect("the callback ran");
    assert_eq!(n, 16);
    assert_eq!(&buf[..], &f.data[16..32]);
}

/// Queue depth 1 and 2 keep a reserve for cancels: cancelling a submitted request works.
#[test]
fn tiny_queue_depth_can_cancel() {
    for qd in [1, 2] {
        let engine = LocalEngine::with_options(&Options::new().queue_depth(qd)).unwrap();
        let pipe = Pipe::new();
        let res = Rc::new(Cell::new(0));
        let r2 = res.clone();
        let id = engine
            .read(pipe.read, vec![0u8; 4], 0, move |r, _| {
                r2.set(r.unwrap_err().raw_os_error().unwrap());
            })
            .unwrap();
        engine.poll().unwrap();
        engine.cancel(id).unwrap();
        engine.drain(Duration::from_secs(10)).unwrap();
        assert_eq!(res.get(), libc::ECANCELED, "queue depth {qd}");
    }
}

/// Nested engines: A's callback waits on B, whose callback waits on A. The inner wait on A
/// is refused with `Deadlock` (A's poll is running further up this thread's stack).
#[test]
fn nested_engines_report_deadlock() {
    let a = Rc::new(LocalEngine::new().unwrap());
    let b = Rc::new(LocalEngine::new().unwrap());
    let f = Rc::new(TestFile::new(&locations()[0].1, "abba", 1 << 16, false));
    let inner: Rc<Cell<Option<io::ErrorKind>>> = Rc::new(Cell::new(None));
    {
        let (a2, b2, f2, inner2) = (a.clone(), b.clone(), f.clone(), inner.clone());
        a.read(f.fd(), vec![0u8; 8], 0, move |r, _| {
            r.unwrap();
            let (a3, inner3) = (a2.clone(), inner2.clone());
            b2.read(f2.fd(), vec![0u8; 8], 8, move |r, _| {
                r.unwrap();
                inner3.set(Some(a3.wait(Some(Duration::ZERO)).unwrap_err().kind()));
            })
            .unwrap();
            b2.drain(Duration::from_secs(10)).unwrap();
        })
        .unwrap();
    }
    a.drain(Duration::from_secs(10)).unwrap();
    assert_eq!(inner.get(), Some(io::ErrorKind::Deadlock));
}

/// The same across threads' engines in multi-thread mode: a self-wait is refused, not a
/// self-deadlock.
#[test]
fn multi_thread_nested_engines_report_deadlock() {
    let a = Arc::new(SharedEngine::with_options(&Options::new().ring_count(1)).unwrap());
    let b = Arc::new(SharedEngine::with_options(&Options::new().ring_count(1)).unwrap());
    let _d = Deadline::new("multi-thread nested engines", 30, {
        let (a, b) = (a.clone(), b.clone());
        move || format!("{}{}", a.state_dump(), b.state_dump())
    });
    let f = Arc::new(TestFile::new(&locations()[0].1, "abbamt", 1 << 16, false));
    let (tx, rx) = mpsc::channel();
    {
        let (a2, b2, f2) = (a.clone(), b.clone(), f.clone());
        a.read(f.fd(), vec![0u8; 8], 0, move |r, _| {
            r.unwrap();
            let a3 = a2.clone();
            b2.read(f2.fd(), vec![0u8; 8], 8, move |r, _| {
                r.unwrap();
                tx.send(a3.poll().unwrap_err().kind()).unwrap();
                // Drop our clone here, not in A's drop on another engine's thread.
                drop(a3);
            })
            .unwrap();
            b2.drain(Duration::from_secs(10)).unwrap();
        })
        .unwrap();
    }
    a.drain(Duration::from_secs(10)).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        io::ErrorKind::Deadlock
    );
}

#[cfg(feature = "tokio")]
/// What tokio users write first: a multi-thread runtime, one shared engine driven by the
/// driver, several tasks reading 4 KiB at random offsets. Every read completes.
#[test]
fn tokio_multi_thread_readers_do_not_hang() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (name, dir) in locations() {
        let engine = Arc::new(SharedEngine::new().unwrap());
        let _d = Deadline::new(&format!("tokio readers on {name}"), 60, {
            let e = engine.clone();
            move || e.state_dump()
        });
        let f = Arc::new(TestFile::new(&dir, "tokread", 16 << 20, false));
        let total = rt.block_on(async {
            let _driver = auraio::tokio::Driver::spawn(engine.clone());
            let tasks: Vec<_> = (0..8u64)
                .map(|t| {
                    let (e, f) = (engine.clone(), f.clone());
                    tokio::spawn(async move {
                        let mut rng = common::Rng::new(0x9e37_79b9_7f4a_7c15u64 ^ (t + 1));
                        let mut buf = vec![0u8; BLOCK];
                        for _ in 0..5_000 {
                            let off = (rng.next() % (f.data.len() / BLOCK) as u64) as usize * BLOCK;
                            let (r, b) = e.read_at(f.fd(), buf, off as u64).await;
                            assert_eq!(r.unwrap(), BLOCK);
                            assert!(b[..] == f.data[off..off + BLOCK], "read at {off} differs");
                            buf = b;
                        }
                        5_000usize
                    })
                })
                .collect();
            let mut n = 0;
            for t in tasks {
                n += t.await.unwrap();
            }
            n
        });
        assert_eq!(total, 40_000);
        assert_eq!(engine.pending(), 0);
    }
}

/// The kernel cancels what a thread submitted when that thread exits (its io-wq queue and its
/// armed polls go with it). In a multi-thread engine any thread may be the one whose enter
/// flushed a request, so the engine submits such a request again instead of reporting an
/// ECANCELED nobody asked for.
#[test]
fn request_flushed_by_an_exiting_thread_still_completes() {
    let engine = Arc::new(SharedEngine::with_options(&Options::new().ring_count(1)).unwrap());
    let _d = Deadline::new("exiting flusher", 30, {
        let e = engine.clone();
        move || e.state_dump()
    });
    let pipe = Pipe::new();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn({
        let e = engine.clone();
        let fd = pipe.read;
        move || {
            e.read(fd, vec![0u8; 8], 0, move |r, buf| {
                tx.send((r.map_err(|e| e.raw_os_error()), buf)).unwrap();
            })
            .unwrap();
            // This thread's enter submits it; then the thread exits.
            e.poll().unwrap();
        }
    })
    .join()
    .unwrap();
    pipe.feed(b"abc");
    while engine.pending() > 0 {
        engine.wait(Some(Duration::from_secs(5))).unwrap();
    }
    let (r, buf) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(r, Ok(3));
    assert_eq!(&buf[..3], b"abc");
}

/// A future awaited inside a callback, whose own completion was reaped into the same batch
/// as that callback (after it): the nested reap runs the rest of the batch, so it resolves.
#[test]
fn future_completed_later_in_the_same_batch_resolves() {
    let _d = Deadline::plain("future later in the batch", 30);
    let f = Rc::new(TestFile::new(
        &locations()[0].1,
        "samebatch",
        1 << 16,
        false,
    ));
    let slot: Rc<RefCell<Option<auraio::OpFuture<'static, _, _, _, Vec<u8>>>>> =
        Rc::new(RefCell::new(None));
    // The future borrows its engine and is moved into a callback ('static): the engine is
    // leaked for that, once, in this test.
    let e: &'static LocalEngine = Box::leak(Box::new(LocalEngine::new().unwrap()));
    let got = Rc::new(Cell::new(0usize));
    {
        let (slot2, got2) = (slot.clone(), got.clone());
        e.read(f.fd(), vec![0u8; 8], 0, move |r, _| {
            r.unwrap();
            let fut = slot2.borrow_mut().take().expect("the future was made");
            let (r, _) = futures::executor::block_on(fut);
            got2.set(r.unwrap());
        })
        .unwrap();
    }
    *slot.borrow_mut() = Some(e.read_at(f.fd(), vec![0u8; 32], 8));
    // Both tmpfs reads complete at submission: one reap takes both into one batch.
    e.drain(Duration::from_secs(10)).unwrap();
    assert_eq!(got.get(), 32);
}

/// After a fatal submit error, requests the kernel never got complete with that error (their
/// buffers handed back) instead of waiting forever, and the engine reports it.
///
/// The error is provoked the way a C caller does it: a single-thread engine (SINGLE_ISSUER
/// rings) used from a second thread, whose submit the kernel refuses with EEXIST. The engine
/// is moved there by force (it is not `Send`); the threads never use it at the same time.
#[test]
fn requests_left_after_a_fatal_error_complete_with_it() {
    struct Smuggle(LocalEngine);
    // SAFETY: the engine is used by one thread at a time (the spawning thread waits on
    // `join`), so its `Cell`s are never raced; the point is the kernel's SINGLE_ISSUER check.
    unsafe impl Send for Smuggle {}
    let _d = Deadline::plain("fatal error", 30);
    let f = TestFile::new(&locations()[0].1, "fatal", 1 << 16, false);
    let engine = Smuggle(LocalEngine::new().unwrap());
    assert!(
        engine.0.ring_features(0).single_issuer,
        "the test needs SINGLE_ISSUER"
    );
    let results: Arc<std::sync::Mutex<Vec<Option<i32>>>> = Arc::default();
    let fd = f.fd();
    let (engine, fut_result, accepted) = std::thread::spawn(move || {
        let e = engine;
        let mut accepted = 0;
        for i in 0..4u64 {
            let r = results.clone();
            // Refused once the error is latched (a submit at the batch threshold may latch it).
            if e.0
                .read(fd, vec![0u8; 64], i * 64, move |res, _| {
                    r.lock()
                        .unwrap()
                        .push(res.err().and_then(|e| e.raw_os_error()));
                })
                .is_ok()
            {
                accepted += 1;
            }
        }
        // This thread's enter is refused: the fatal error is latched with the reads queued.
        let _ = e.0.poll();
        (e, results, accepted)
    })
    .join()
    .unwrap();
    assert!(accepted >= 1);
    let e = engine.0;
    let fatal = e
        .fatal_error()
        .expect("the foreign submit latched a fatal error");
    let errno = fatal.raw_os_error().unwrap();
    let err = e.drain(Duration::from_secs(10)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(errno));
    assert_eq!(e.pending(), 0, "nothing left waiting");
    assert_eq!(*fut_result.lock().unwrap(), vec![Some(errno); accepted]);
    // New submissions are refused with it, and a future resolves at once.
    let (r, buf) = futures::executor::block_on(e.read_at(fd, vec![0u8; 8], 0));
    assert_eq!(r.unwrap_err().raw_os_error(), Some(errno));
    assert_eq!(buf.len(), 8);
}

/// An `openat_direct` slot the SQE cannot carry (u32::MAX - 1 and up) is refused by the
/// kernel; it never falls back to a plain open whose fd nobody would close.
#[test]
fn openat_direct_with_an_unencodable_slot_opens_no_fd() {
    use std::os::unix::ffi::OsStrExt;
    let open_fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let engine = LocalEngine::new().unwrap();
    let f = TestFile::new(&locations()[0].1, "directslot", 4096, false);
    engine.register_files(&[-1; 2]).unwrap();
    for slot in [u32::MAX - 1, u32::MAX] {
        let before = open_fds();
        let path = std::ffi::CString::new(f.path.as_os_str().as_bytes()).unwrap();
        let res = Rc::new(Cell::new(None));
        let r2 = res.clone();
        engine
            .openat_direct(
                libc::AT_FDCWD,
                path,
                libc::O_RDONLY,
                0,
                slot,
                move |r, _| {
                    r2.set(Some(r.map_err(|e| e.raw_os_error())));
                },
            )
            .unwrap();
        engine.drain(Duration::from_secs(10)).unwrap();
        let r = res.get().expect("the callback ran");
        assert!(r.is_err(), "slot {slot}: refused, got {r:?}");
        assert_eq!(open_fds(), before, "slot {slot}: no fd was opened");
    }
}

/// Close-and-reopen while a write waits in the backlog: a request that owns its file
/// (`WithFile`) writes to the file it named, even though the caller closed its handle and an
/// `open` meanwhile got the lowest free fd number.
#[test]
fn a_backlogged_write_that_owns_its_file_never_lands_in_a_reopened_one() {
    use auraio::op::{WithFile, Write};
    use std::os::fd::AsRawFd;
    let dir = &locations()[0].1;
    let engine = LocalEngine::new().unwrap();
    engine.set_in_flight_limit(1).unwrap();
    // The one in-flight slot is taken by a read that waits for the pipe.
    let pipe = Pipe::new();
    engine
        .read(pipe.read, vec![0u8; 1], 0, |r, _| assert_eq!(r.unwrap(), 1))
        .unwrap();
    for round in 0..20 {
        let a_path = dir.join(format!("auraio-reopen-a-{}-{round}", std::process::id()));
        let b_path = dir.join(format!("auraio-reopen-b-{}-{round}", std::process::id()));
        let a = Arc::new(std::fs::File::create(&a_path).unwrap());
        let a_fd = a.as_raw_fd();
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        let op = WithFile::new(a.clone(), |fd| Write::new(fd, b"for A".to_vec(), 0));
        engine
            .submit(op, move |r, _| {
                assert_eq!(r.unwrap(), 5);
                d.set(true);
            })
            .unwrap();
        assert_eq!(engine.stats().backlog, 1, "the write waits in the backlog");
        // The caller closes its handle and opens another file.
        drop(a);
        let b = std::fs::File::create(&b_path).unwrap();
        assert_ne!(
            b.as_raw_fd(),
            a_fd,
            "the request still holds A's fd, so B cannot get its number"
        );
        // Let the write out: free the in-flight slot, then a new pipe read takes it again.
        pipe.feed(b"x");
        while !done.get() {
            engine.wait(Some(Duration::from_secs(5))).unwrap();
        }
        engine
            .read(pipe.read, vec![0u8; 1], 0, |r, _| assert_eq!(r.unwrap(), 1))
            .unwrap();
        assert_eq!(std::fs::read(&a_path).unwrap(), b"for A");
        assert_eq!(std::fs::read(&b_path).unwrap(), b"", "B untouched");
        drop(b);
        let _ = std::fs::remove_file(&a_path);
        let _ = std::fs::remove_file(&b_path);
    }
    pipe.feed(b"x");
    engine.drain(Duration::from_secs(10)).unwrap();
}

/// A linked chain is never split, however many threads submit and wait on one multi-thread
/// ring at once: the kernel only stops part-way into a chain when a flush hands it a count that
/// ends inside one, and the rest would then run unlinked. Every chain here is [read of a bad
/// fd -> read of a good file]; the failing head cancels its link, so the second read must end
/// with ECANCELED every time. A split chain shows as a second read that succeeded.
#[test]
fn chains_are_never_split_by_concurrent_submitters() {
    const THREADS: usize = 4;
    const CHAINS: usize = 1500;
    let engine = Arc::new(
        SharedEngine::with_options(&Options::new().ring_count(1).queue_depth(64)).unwrap(),
    );
    let _d = Deadline::new("chain split", 120, {
        let e = engine.clone();
        move || e.state_dump()
    });
    let f = TestFile::new(&locations()[0].1, "chainsplit", 1 << 16, false);
    let fd = f.fd();
    let split = Arc::new(AtomicUsize::new(0));
    let linked = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (e, split, linked) = (engine.clone(), split.clone(), linked.clone());
            std::thread::spawn(move || {
                for i in 0..CHAINS {
                    let (s, l) = (split.clone(), linked.clone());
                    let mut chain = e.chain();
                    chain
                        .push(auraio::op::Read::new(-1, vec![0u8; 64], 0), |r, _| {
                            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EBADF));
                        })
                        .unwrap()
                        .push(auraio::op::Read::new(fd, vec![0u8; 64], 0), move |r, _| {
                            match r {
                                Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => {
                                    l.fetch_add(1, Ordering::Relaxed)
                                }
                                _ => s.fetch_add(1, Ordering::Relaxed),
                            };
                        })
                        .unwrap();
                    chain.submit().unwrap();
                    // Single reads between the chains give every flush count a chance to
                    // end inside the next chain; waiting and polling alternate so flushes,
                    // kicks and blocked waits from different threads interleave on the ring.
                    for _ in 0..i % 3 {
                        e.read(fd, vec![0u8; 64], 64, |r, _| assert_eq!(r.unwrap(), 64))
                            .unwrap();
                    }
                    if i % 2 == 0 {
                        e.wait(Some(Duration::from_millis(5))).unwrap();
                    } else {
                        e.poll().unwrap();
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    engine.drain(Duration::from_secs(30)).unwrap();
    assert_eq!(split.load(Ordering::Relaxed), 0, "chains were split");
    assert_eq!(linked.load(Ordering::Relaxed), THREADS * CHAINS);
}

/// A blocking wait wakes at every controller tick while nothing completes (so the tuner sees a
/// throttle's holds), yet returns no earlier than its timeout when nothing completes, and
/// takes `Duration::MAX` as no bound.
#[test]
fn a_wait_that_ticks_keeps_its_timeout_and_takes_no_bound() {
    let engine = LocalEngine::new().unwrap();
    let pipe = Pipe::new();
    engine
        .read(pipe.read, vec![0u8; 8], 0, |r, _| assert_eq!(r.unwrap(), 3))
        .unwrap();
    let t0 = std::time::Instant::now();
    assert_eq!(engine.wait(Some(Duration::from_millis(120))).unwrap(), 0);
    assert!(
        t0.elapsed() >= Duration::from_millis(120),
        "returned after {:?}, before its timeout",
        t0.elapsed()
    );
    let feeder = std::thread::spawn({
        let fd = pipe.write;
        move || {
            std::thread::sleep(Duration::from_millis(50));
            // SAFETY: `fd` is the pipe's write end, open until `pipe` drops after the join.
            assert_eq!(unsafe { libc::write(fd, b"abc".as_ptr().cast(), 3) }, 3);
        }
    });
    let _d = Deadline::plain("wait(Duration::MAX)", 30);
    assert_eq!(engine.wait(Some(Duration::MAX)).unwrap(), 1);
    feeder.join().unwrap();
}
