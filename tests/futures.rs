#![cfg(feature = "tokio")]
//! Futures on real files: a minimal executor and tokio, 10,000 concurrent reads each checked
//! byte for byte; futures dropped mid-flight lose no completion and free no buffer early.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use auraio::{LocalEngine, SharedEngine};
use common::{locations, Pipe, TestFile, Tracked};

const READS: usize = 10_000;
const BLOCK: usize = 4096;
const FILE_LEN: usize = 8 << 20;

fn offset(i: usize) -> u64 {
    ((i.wrapping_mul(2_654_435_761) % (FILE_LEN / BLOCK)) * BLOCK) as u64
}

#[test]
fn block_on_ten_thousand_concurrent_reads() {
    let engine = LocalEngine::new().unwrap();
    let f = TestFile::new(&locations()[0].1, "fut", FILE_LEN, false);
    let futs: Vec<_> = (0..READS)
        .map(|i| engine.read_at(f.fd(), vec![0u8; BLOCK], offset(i)))
        .collect();
    let results = futures::executor::block_on(futures::future::join_all(futs));
    for (i, (r, buf)) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap(), BLOCK);
        let o = offset(i) as usize;
        assert!(buf[..] == f.data[o..o + BLOCK], "read {i} differs");
    }
    assert_eq!(engine.pending(), 0);
}

#[test]
fn local_pool_tasks_share_a_single_thread_engine() {
    use futures::task::LocalSpawnExt;
    let engine = std::rc::Rc::new(LocalEngine::new().unwrap());
    let f = std::rc::Rc::new(TestFile::new(&locations()[0].1, "pool", 1 << 20, false));
    let ok = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut pool = futures::executor::LocalPool::new();
    for t in 0..8u64 {
        let (e, f, ok) = (engine.clone(), f.clone(), ok.clone());
        pool.spawner()
            .spawn_local(async move {
                for i in 0..100u64 {
                    let off = (t * 100 + i) * 512 % (1 << 20);
                    let (r, buf) = e.read_at(f.fd(), vec![0u8; 512], off).await;
                    assert_eq!(r.unwrap(), 512);
                    assert_eq!(&buf[..], &f.data[off as usize..off as usize + 512]);
                    // A write-then-sync round trip through the futures too.
                    if i == 0 {
                        let (r, _) = e.write_at(f.fd(), buf, off).await;
                        assert_eq!(r.unwrap(), 512);
                        assert_eq!(e.sync_data(f.fd()).await.0.unwrap(), 0);
                    }
                    ok.set(ok.get() + 1);
                }
            })
            .unwrap();
    }
    pool.run();
    assert_eq!(ok.get(), 800);
}

#[test]
fn tokio_multi_thread_ten_thousand_concurrent_reads() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let engine = Arc::new(SharedEngine::new().unwrap());
    let _deadline = common::Deadline::new("tokio multi-thread reads", 60, {
        let e = engine.clone();
        move || e.state_dump()
    });
    let f = Arc::new(TestFile::new(&locations()[0].1, "tokio", FILE_LEN, false));
    rt.block_on(async {
        let driver = auraio::tokio::Driver::spawn(engine.clone());
        let tasks: Vec<_> = (0..READS)
            .map(|i| {
                let (e, f) = (engine.clone(), f.clone());
                tokio::spawn(async move {
                    let (r, buf) = e.read_at(f.fd(), vec![0u8; BLOCK], offset(i)).await;
                    assert_eq!(r.unwrap(), BLOCK);
                    let o = offset(i) as usize;
                    assert!(buf[..] == f.data[o..o + BLOCK], "read {i} differs");
                })
            })
            .collect();
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("read stalled")
                .unwrap();
        }
        drop(driver);
    });
    assert_eq!(engine.stats().ops_completed, READS as u64);
}

#[test]
fn dropped_futures_lose_nothing_and_free_nothing_early() {
    // 10,000 reads from a pipe, each raced against a short timer: most futures are dropped
    // mid-flight (cancelled), some complete because the pipe is fed meanwhile. Every buffer
    // is an instrumented one that counts its drops and poisons its bytes.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = LocalEngine::new().unwrap();
    let pipe = Pipe::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let completed = AtomicUsize::new(0);
    rt.block_on(async {
        for i in 0..READS {
            if i % 7 == 0 {
                pipe.feed(b"z");
            }
            let fut = engine.read_at(pipe.read, Tracked::new(1, &drops), u64::MAX);
            if let Ok((r, buf)) = tokio::time::timeout(Duration::from_micros(20), fut).await {
                assert_eq!(r.unwrap(), 1);
                assert_eq!(
                    buf.bytes(),
                    b"z",
                    "a completed buffer holds the data, unpoisoned"
                );
                completed.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    engine.drain(Duration::from_secs(10)).unwrap();
    assert_eq!(engine.pending(), 0);
    assert_eq!(
        engine.stats().ops_completed,
        READS as u64,
        "every request's completion was reaped exactly once"
    );
    assert_eq!(
        drops.load(Ordering::SeqCst),
        READS,
        "every buffer freed, once"
    );
    assert!(completed.load(Ordering::SeqCst) > 0);
}

#[test]
fn tokio_local_set_drives_a_single_thread_engine() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let engine = std::rc::Rc::new(LocalEngine::new().unwrap());
    let f = TestFile::new(&locations()[1].1, "localset", 1 << 20, true);
    let data = f.data.clone();
    local.block_on(&rt, async {
        let driver = tokio::task::spawn_local({
            let e = engine.clone();
            async move { auraio::tokio::drive(&*e).await }
        });
        for i in 0..200u64 {
            let buf = engine.alloc_buffer(4096).unwrap();
            let (r, buf) = tokio::time::timeout(
                Duration::from_secs(10),
                engine.read_at(f.fd(), buf, i * 4096),
            )
            .await
            .expect("O_DIRECT read stalled under the driver");
            assert_eq!(r.unwrap(), 4096);
            assert_eq!(
                &buf[..],
                &data[(i * 4096) as usize..((i + 1) * 4096) as usize]
            );
        }
        driver.abort();
    });
}

#[test]
fn the_eventfd_signals_completions_once_notifications_are_on() {
    use std::os::fd::{AsFd, AsRawFd};
    let engine = LocalEngine::new().unwrap();
    assert_eq!(engine.as_fd().as_raw_fd(), engine.as_raw_fd());
    let f = TestFile::new(&locations()[1].1, "evfd", 1 << 16, true);
    engine.set_notifications(true);
    let buf = engine.alloc_buffer(4096).unwrap();
    let fut = engine.read_at(f.fd(), buf, 0);
    engine.poll().unwrap(); // flush the submission
    let mut pfd = libc::pollfd {
        fd: engine.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, 5000) };
    assert_eq!(n, 1, "the eventfd became readable when the read completed");
    let (r, _) = futures::executor::block_on(fut);
    assert_eq!(r.unwrap(), 4096);
    engine.set_notifications(false);
}
