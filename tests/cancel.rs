//! Cancellation: a request that cannot finish by itself, finished and stale requests,
//! backlogged requests, and many cancels racing completions.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auraio::{LocalEngine, SharedEngine};
use common::{locations, Pipe, TestFile, Tracked};

#[test]
fn cancelling_a_read_from_an_empty_pipe_gives_ecanceled_and_the_buffer() {
    let engine = LocalEngine::new().unwrap();
    let pipe = Pipe::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let got = Rc::new(RefCell::new(None));
    let g = got.clone();
    let id = engine
        .read(
            pipe.read,
            Tracked::new(32, &drops),
            u64::MAX,
            move |r, buf| {
                *g.borrow_mut() = Some((r.map_err(|e| e.raw_os_error()), buf.bytes().len()));
            },
        )
        .unwrap();
    engine.poll().unwrap();
    assert!(engine.is_pending(id));
    engine.cancel(id).unwrap();
    let start = Instant::now();
    while got.borrow().is_none() {
        engine.wait(Some(Duration::from_secs(1))).unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "cancelled read never completed"
        );
    }
    assert_eq!(*got.borrow(), Some((Err(Some(libc::ECANCELED)), 32)));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "buffer handed back and dropped once"
    );
    assert!(!engine.is_pending(id));
    // The id is spent: a second cancel is a clear error, not a touch of freed memory.
    assert_eq!(
        engine.cancel(id).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
}

#[test]
fn cancelling_a_completed_or_stale_request_is_enoent() {
    let engine = LocalEngine::new().unwrap();
    let f = TestFile::new(&locations()[0].1, "cancel", 8192, false);
    let done = Rc::new(Cell::new(0));
    let d = done.clone();
    let first = engine
        .read(f.fd(), vec![0u8; 64], 0, move |r, _| {
            r.unwrap();
            d.set(d.get() + 1);
        })
        .unwrap();
    engine.drain(Duration::from_secs(5)).unwrap();
    assert_eq!(
        engine.cancel(first).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    // The slot is reused by the next request; the old id must not reach it.
    let pipe = Pipe::new();
    let second = engine
        .read(pipe.read, vec![0u8; 8], u64::MAX, |_, _| {})
        .unwrap();
    assert_eq!(
        engine.cancel(first).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    assert!(
        engine.is_pending(second),
        "stale cancel left the new request alone"
    );
    engine.cancel(second).unwrap();
    engine.drain(Duration::from_secs(5)).unwrap();
    assert_eq!(done.get(), 1);
}

#[test]
fn cancelling_a_backlogged_request_never_reaches_the_kernel() {
    let engine = LocalEngine::new().unwrap();
    engine.set_in_flight_limit(1).unwrap();
    let pipe = Pipe::new();
    let results = Rc::new(RefCell::new(Vec::new()));
    let ids: Vec<_> = (0..3)
        .map(|i| {
            let r = results.clone();
            engine
                .read(pipe.read, vec![0u8; 1], u64::MAX, move |res, _| {
                    r.borrow_mut().push((i, res.map_err(|e| e.raw_os_error())))
                })
                .unwrap()
        })
        .collect();
    assert_eq!(engine.stats().backlog, 2);
    engine.cancel(ids[2]).unwrap();
    assert_eq!(
        *results.borrow(),
        vec![(2, Err(Some(libc::ECANCELED)))],
        "ran inside cancel"
    );
    assert_eq!(engine.stats().backlog, 1);
    pipe.feed(b"ab");
    while results.borrow().len() < 3 {
        engine.wait(Some(Duration::from_secs(5))).unwrap();
    }
    let r = results.borrow();
    assert_eq!(r[1], (0, Ok(1)));
    assert_eq!(r[2], (1, Ok(1)));
}

#[test]
fn a_thousand_random_cancels_racing_completions() {
    let engine = Arc::new(SharedEngine::new().unwrap());
    let f = TestFile::new(&locations()[0].1, "race", 1 << 20, false);
    let pipe = Pipe::new();
    const N: usize = 1000;
    let counts: Arc<Vec<AtomicUsize>> = Arc::new((0..2 * N).map(|_| AtomicUsize::new(0)).collect());
    let cancelled = Arc::new(AtomicUsize::new(0));
    let mut ids = Vec::new();
    let mut x: u64 = 12345;
    for i in 0..N {
        // Half reads that finish at once, half that never would.
        let (c, k) = (counts.clone(), cancelled.clone());
        ids.push(
            engine
                .read(
                    f.fd(),
                    vec![0u8; 512],
                    ((i * 512) % (1 << 20)) as u64,
                    move |r, _| {
                        if let Err(e) = r {
                            assert_eq!(e.raw_os_error(), Some(libc::ECANCELED));
                            k.fetch_add(1, Ordering::SeqCst);
                        }
                        c[i].fetch_add(1, Ordering::SeqCst);
                    },
                )
                .unwrap(),
        );
        let (c, k) = (counts.clone(), cancelled.clone());
        ids.push(
            engine
                .read(pipe.read, vec![0u8; 1], u64::MAX, move |r, _| {
                    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
                    k.fetch_add(1, Ordering::SeqCst);
                    c[N + i].fetch_add(1, Ordering::SeqCst);
                })
                .unwrap(),
        );
        // Cancel a random earlier request while completions are being reaped.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let victim = ids[(x % ids.len() as u64) as usize];
        loop {
            match engine.cancel(victim) {
                Ok(()) => break,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                    engine.poll().unwrap();
                }
                Err(e) => panic!("cancel: {e}"),
            }
        }
        if i % 16 == 0 {
            engine.poll().unwrap();
        }
    }
    // Whatever is still blocked on the pipe gets cancelled explicitly.
    for id in &ids {
        while let Err(e) = engine.cancel(*id) {
            match e.raw_os_error() {
                Some(libc::ENOENT) => break,
                Some(libc::EAGAIN) => {
                    engine.poll().unwrap();
                }
                _ => panic!("cancel: {e}"),
            }
        }
    }
    engine.drain(Duration::from_secs(10)).unwrap();
    for (i, c) in counts.iter().enumerate() {
        assert_eq!(
            c.load(Ordering::SeqCst),
            1,
            "request {i} completed exactly once"
        );
    }
    assert!(
        cancelled.load(Ordering::SeqCst) >= N,
        "every pipe read was cancelled"
    );
}
