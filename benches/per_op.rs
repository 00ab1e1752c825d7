//! Per-operation cost of auraio against a plain `io-uring` loop doing the same work: 4 KiB
//! random reads from a tmpfs file, 32 in flight, one thread.
//!
//! The plain loop is the best a hand-written io_uring program does: SINGLE_ISSUER,
//! COOP_TASKRUN and DEFER_TASKRUN, a free-slot stack, one merged submit-and-wait syscall per
//! round. auraio runs its `LocalEngine` (single-thread) and `SharedEngine` (multi-thread, one
//! ring) presets; their callbacks return buffers to a free list, as a real program would. The
//! futures variant runs the same reads as `read_at` futures under `block_on`. Two
//! `proto_ring_thread` variants measure a design the multi-thread engine does not use (yet):
//! one thread per ring issuing every `io_uring_enter`, so the ring can take DEFER_TASKRUN
//! (README, "Per-op cost").

#![allow(missing_docs, reason = "criterion generates the bench entry points")]

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use io_uring::{opcode, types, IoUring};

#[path = "support/loops.rs"]
mod loops;
use loops::*;

/// A prototype of the shared-ring design the multi-thread engine could take: one thread owns
/// the ring (SINGLE_ISSUER + DEFER_TASKRUN: only it enters the kernel), other threads hand it
/// requests through a locked queue and take completions from another, ringing a doorbell (an
/// eventfd the ring polls) only when the ring thread sleeps. Measured here to decide whether
/// it is worth building: the client is this benchmark's thread, as in the other variants.
fn ring_thread_uring(fd: i32, ops: u64, spin: Duration) -> Duration {
    use std::sync::{Arc, Condvar, Mutex};
    #[derive(Default)]
    struct St {
        pending: Vec<(u64, u64)>,
        done: Vec<u64>,
        sleeping: bool,
        belled: bool,
        stop: bool,
    }
    struct Shared {
        st: Mutex<St>,
        client: Condvar,
        bell: i32,
    }
    // SAFETY: eventfd has no memory preconditions.
    let bell = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    assert!(bell >= 0);
    let sh = Arc::new(Shared {
        st: Mutex::new(St::default()),
        client: Condvar::new(),
        bell,
    });
    // Buffers live for the whole run; the ring thread gets their addresses.
    let mut bufs: Vec<Vec<u8>> = (0..DEPTH).map(|_| vec![0u8; BLOCK]).collect();
    let addrs: Vec<usize> = bufs.iter_mut().map(|b| b.as_mut_ptr() as usize).collect();
    let sh2 = sh.clone();
    let ring_thread = std::thread::spawn(move || {
        let mut b = IoUring::builder();
        b.setup_coop_taskrun()
            .setup_single_issuer()
            .setup_defer_taskrun();
        let mut ring: IoUring = b.build(256).unwrap();
        const BELL: u64 = u64::MAX;
        let arm = |ring: &mut IoUring| {
            let e = opcode::PollAdd::new(types::Fd(sh2.bell), libc::POLLIN as u32)
                .multi(true)
                .build()
                .user_data(BELL);
            // SAFETY: the poll references no memory.
            unsafe { ring.submission().push(&e).unwrap() };
        };
        arm(&mut ring);
        let mut in_flight = 0usize;
        let mut taken: Vec<(u64, u64)> = Vec::new();
        let mut done: Vec<u64> = Vec::new();
        loop {
            let mut sleep = false;
            {
                let mut st = sh2.st.lock().unwrap();
                if st.stop {
                    break;
                }
                std::mem::swap(&mut taken, &mut st.pending);
                if taken.is_empty() && in_flight == 0 {
                    st.sleeping = true;
                    st.belled = false;
                    sleep = true;
                }
            }
            if sleep && !spin.is_zero() {
                // Spin a little before sleeping: a client about to submit then needs no bell.
                let until = Instant::now() + spin;
                while Instant::now() < until {
                    let mut st = sh2.st.lock().unwrap();
                    if !st.pending.is_empty() || st.stop {
                        st.sleeping = false;
                        std::mem::swap(&mut taken, &mut st.pending);
                        break;
                    }
                    drop(st);
                    std::hint::spin_loop();
                }
            }
            {
                let mut sq = ring.submission();
                for (slot, off) in taken.drain(..) {
                    let e = opcode::Read::new(
                        types::Fd(fd),
                        addrs[slot as usize] as *mut u8,
                        BLOCK as u32,
                    )
                    .offset(off)
                    .build()
                    .user_data(slot);
                    // SAFETY: the client does not touch the slot's buffer until its completion.
                    unsafe { sq.push(&e).unwrap() };
                    in_flight += 1;
                }
            }
            ring.submit_and_wait(1).unwrap();
            let mut rearm = false;
            for cqe in ring.completion() {
                if cqe.user_data() == BELL {
                    let mut v = 0u64;
                    // SAFETY: an 8-byte read into a local from the eventfd.
                    unsafe { libc::read(sh2.bell, (&mut v as *mut u64).cast(), 8) };
                    rearm |= !io_uring::cqueue::more(cqe.flags());
                    continue;
                }
                assert_eq!(cqe.result(), BLOCK as i32);
                done.push(cqe.user_data());
                in_flight -= 1;
            }
            if rearm {
                arm(&mut ring);
            }
            let mut st = sh2.st.lock().unwrap();
            st.sleeping = false;
            if !done.is_empty() {
                st.done.append(&mut done);
                sh2.client.notify_one();
            }
        }
    });
    let mut free: Vec<u64> = (0..DEPTH as u64).collect();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let (mut submitted, mut completed) = (0u64, 0u64);
    let start = Instant::now();
    let mut got: Vec<u64> = Vec::new();
    while completed < ops {
        let bell = {
            let mut st = sh.st.lock().unwrap();
            while submitted < ops {
                let Some(slot) = free.pop() else { break };
                st.pending.push((slot, rng.offset()));
                submitted += 1;
            }
            let ring = st.sleeping && !st.belled && !st.pending.is_empty();
            st.belled |= ring;
            ring
        };
        if bell {
            let one = 1u64;
            // SAFETY: an 8-byte write from a local to the eventfd.
            unsafe { libc::write(sh.bell, (&one as *const u64).cast(), 8) };
        }
        let mut st = sh.st.lock().unwrap();
        while st.done.is_empty() {
            st = sh.client.wait(st).unwrap();
        }
        std::mem::swap(&mut got, &mut st.done);
        drop(st);
        completed += got.len() as u64;
        free.append(&mut got);
    }
    let took = start.elapsed();
    sh.st.lock().unwrap().stop = true;
    let one = 1u64;
    // SAFETY: as above.
    unsafe { libc::write(sh.bell, (&one as *const u64).cast(), 8) };
    ring_thread.join().unwrap();
    // SAFETY: the eventfd is this function's and the ring thread has ended.
    unsafe { libc::close(bell) };
    drop(bufs);
    took
}

fn per_op(c: &mut Criterion) {
    let (path, file) = test_file();
    let fd = file.as_raw_fd();
    let opts = auraio::Options::new()
        .ring_count(1)
        .initial_in_flight(DEPTH as u32);
    let local = auraio::LocalEngine::with_options(&opts).unwrap();
    let shared = auraio::SharedEngine::with_options(&opts).unwrap();
    let shared_coop = auraio::SharedEngine::with_options(&opts.clone().coop_taskrun(true)).unwrap();
    let mut g = c.benchmark_group("read_4k_tmpfs_depth32");
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::from_parameter("plain_io_uring"), |b| {
        b.iter_custom(|n| plain_uring(fd, n))
    });
    g.bench_function(BenchmarkId::from_parameter("auraio_single_thread"), |b| {
        b.iter_custom(|n| local_loop(&local, fd, n))
    });
    g.bench_function(
        BenchmarkId::from_parameter("auraio_single_thread_futures"),
        |b| b.iter_custom(|n| local_futures(&local, fd, n)),
    );
    g.bench_function(BenchmarkId::from_parameter("proto_ring_thread"), |b| {
        b.iter_custom(|n| ring_thread_uring(fd, n, Duration::ZERO))
    });
    g.bench_function(
        BenchmarkId::from_parameter("proto_ring_thread_spin20us"),
        |b| b.iter_custom(|n| ring_thread_uring(fd, n, Duration::from_micros(20))),
    );
    g.bench_function(BenchmarkId::from_parameter("auraio_multi_thread"), |b| {
        b.iter_custom(|n| shared_loop(&shared, fd, n))
    });
    // The opt-in of Options::coop_taskrun: cheaper, but a completion may wait for a busy
    // submitter's next kernel entry.
    g.bench_function(
        BenchmarkId::from_parameter("auraio_multi_thread_coop"),
        |b| b.iter_custom(|n| shared_loop(&shared_coop, fd, n)),
    );
    g.finish();
    drop((local, shared, shared_coop));
    let _ = std::fs::remove_file(path);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = per_op
}
criterion_main!(benches);
