//! Every operation of the table, on tmpfs and disk, buffered and O_DIRECT, with data
//! verification; error paths delivered to the callback.

mod common;

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::Duration;

use auraio::{AlignedBuf, LocalEngine, SharedEngine};
use common::{locations, pattern, TestFile};

type Outcome<T> = Rc<RefCell<Option<(io::Result<usize>, T)>>>;

/// Submits through `submit`, drives `engine` until the callback ran, returns what it got.
fn run_one<T: 'static>(
    engine: &LocalEngine,
    submit: impl FnOnce(Box<dyn FnOnce(io::Result<usize>, T)>),
) -> (io::Result<usize>, T) {
    let slot: Outcome<T> = Rc::new(RefCell::new(None));
    let s = slot.clone();
    submit(Box::new(move |r, t| *s.borrow_mut() = Some((r, t))));
    while slot.borrow().is_none() {
        engine.wait(Some(Duration::from_secs(5))).unwrap();
    }
    let got = slot.borrow_mut().take().unwrap();
    got
}

#[test]
fn every_op_round_trips_on_every_medium() {
    for (place, dir) in locations() {
        for direct in [false, true] {
            let ctx = format!("{place} direct={direct}");
            let engine = LocalEngine::new().unwrap();
            let f = TestFile::new(&dir, "ops", 64 << 10, direct);
            let fd = f.fd();

            // write + fsync
            let mut out = AlignedBuf::zeroed(8192).unwrap();
            out.copy_from_slice(&pattern(8192, 7));
            let (r, out) = run_one(&engine, |cb| {
                engine.write(fd, out, 4096, cb).unwrap();
            });
            assert_eq!(r.unwrap(), 8192, "{ctx}");
            let (r, ()) = run_one(&engine, |cb| {
                engine.fsync(fd, cb).unwrap();
            });
            assert_eq!(r.unwrap(), 0, "{ctx}");
            assert_eq!(&f.contents()[4096..12288], &out[..], "{ctx}: write landed");

            // read back
            let (r, back) = run_one(&engine, |cb| {
                engine
                    .read(fd, AlignedBuf::zeroed(8192).unwrap(), 4096, cb)
                    .unwrap();
            });
            assert_eq!(r.unwrap(), 8192, "{ctx}");
            assert_eq!(&back[..], &out[..], "{ctx}: read back");

            // writev of two buffers + fdatasync
            let a = {
                let mut b = AlignedBuf::zeroed(4096).unwrap();
                b.copy_from_slice(&pattern(4096, 11));
                b
            };
            let b = {
                let mut b = AlignedBuf::zeroed(4096).unwrap();
                b.copy_from_slice(&pattern(4096, 13));
                b
            };
            let (r, bufs) = run_one(&engine, |cb| {
                engine.writev(fd, vec![a, b], 32768, cb).unwrap();
            });
            assert_eq!(r.unwrap(), 8192, "{ctx}");
            let (r, ()) = run_one(&engine, |cb| {
                engine.fdatasync(fd, cb).unwrap();
            });
            assert_eq!(r.unwrap(), 0, "{ctx}");
            let disk = f.contents();
            assert_eq!(&disk[32768..36864], &bufs[0][..], "{ctx}: writev first");
            assert_eq!(&disk[36864..40960], &bufs[1][..], "{ctx}: writev second");

            // readv into two buffers
            let (r, got) = run_one(&engine, |cb| {
                let v = vec![
                    AlignedBuf::zeroed(4096).unwrap(),
                    AlignedBuf::zeroed(4096).unwrap(),
                ];
                engine.readv(fd, v, 32768, cb).unwrap();
            });
            assert_eq!(r.unwrap(), 8192, "{ctx}");
            assert_eq!(&got[0][..], &bufs[0][..], "{ctx}: readv first");
            assert_eq!(&got[1][..], &bufs[1][..], "{ctx}: readv second");

            // untouched region still holds the original data
            assert_eq!(&disk[16384..20480], &f.data[16384..20480], "{ctx}");
            let st = engine.stats();
            assert_eq!(st.ops_completed, 6, "{ctx}");
            assert_eq!(st.bytes_transferred, 4 * 8192, "{ctx}");
        }
    }
}

#[test]
fn vec_and_boxed_slice_buffers_work() {
    let engine = LocalEngine::new().unwrap();
    let f = TestFile::new(&locations()[0].1, "vecs", 10_000, false);
    let (r, v) = run_one(&engine, |cb| {
        engine.read(f.fd(), vec![0u8; 100], 50, cb).unwrap();
    });
    assert_eq!(r.unwrap(), 100);
    assert_eq!(v, f.data[50..150]);
    let (r, b) = run_one(&engine, |cb| {
        engine
            .write(f.fd(), vec![9u8; 10].into_boxed_slice(), 0, cb)
            .unwrap();
    });
    assert_eq!(r.unwrap(), 10);
    assert_eq!(&f.contents()[..10], &b[..]);
}

#[test]
fn short_read_at_eof_and_empty_read_past_it() {
    for (place, dir) in locations() {
        let engine = LocalEngine::new().unwrap();
        let f = TestFile::new(&dir, "eof", 10_000, false);
        let (r, buf) = run_one(&engine, |cb| {
            engine.read(f.fd(), vec![0u8; 4096], 8192, cb).unwrap();
        });
        assert_eq!(r.unwrap(), 10_000 - 8192, "{place}");
        assert_eq!(&buf[..1808], &f.data[8192..], "{place}");
        assert!(
            buf[1808..].iter().all(|&b| b == 0),
            "{place}: tail untouched"
        );
        let (r, _) = run_one(&engine, |cb| {
            engine.read(f.fd(), vec![0u8; 4096], 1 << 20, cb).unwrap();
        });
        assert_eq!(r.unwrap(), 0, "{place}");
    }
}

#[test]
fn bad_fd_reaches_the_callback_as_ebadf() {
    let engine = LocalEngine::new().unwrap();
    for fd in [-1, 1_000_000] {
        let (r, buf) = run_one(&engine, |cb| {
            engine.read(fd, vec![0u8; 64], 0, cb).unwrap();
        });
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EBADF));
        assert_eq!(buf.len(), 64, "buffer handed back on error");
        let (r, ()) = run_one(&engine, |cb| {
            engine.fsync(fd, cb).unwrap();
        });
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EBADF));
    }
}

#[test]
fn misaligned_o_direct_is_einval() {
    // The disk location: ext4 and friends enforce O_DIRECT alignment.
    let dir = &locations()[1].1;
    let engine = LocalEngine::new().unwrap();
    let f = TestFile::new(dir, "odirect", 64 << 10, true);
    let (r, _) = run_one(&engine, |cb| {
        engine
            .read(f.fd(), AlignedBuf::zeroed(4096).unwrap(), 3, cb)
            .unwrap();
    });
    assert_eq!(
        r.unwrap_err().raw_os_error(),
        Some(libc::EINVAL),
        "misaligned offset"
    );
    let (r, _) = run_one(&engine, |cb| {
        engine
            .read(f.fd(), AlignedBuf::zeroed(100).unwrap(), 0, cb)
            .unwrap();
    });
    assert_eq!(
        r.unwrap_err().raw_os_error(),
        Some(libc::EINVAL),
        "misaligned length"
    );
    // The same read, aligned, works.
    let (r, b) = run_one(&engine, |cb| {
        engine
            .read(f.fd(), AlignedBuf::zeroed(4096).unwrap(), 4096, cb)
            .unwrap();
    });
    assert_eq!(r.unwrap(), 4096);
    assert_eq!(&b[..], &f.data[4096..8192]);
}

#[test]
fn callbacks_may_submit_follow_up_requests() {
    let engine = Rc::new(LocalEngine::new().unwrap());
    let f = Rc::new(TestFile::new(&locations()[0].1, "chain", 100 * 512, false));
    let seen = Rc::new(RefCell::new(Vec::new()));
    fn step(engine: &Rc<LocalEngine>, f: &Rc<TestFile>, seen: &Rc<RefCell<Vec<u8>>>, i: u64) {
        if i == 100 {
            return;
        }
        let (e, ff, s) = (engine.clone(), f.clone(), seen.clone());
        engine
            .read(f.fd(), vec![0u8; 512], i * 512, move |r, buf| {
                assert_eq!(r.unwrap(), 512);
                s.borrow_mut().extend_from_slice(&buf);
                step(&e, &ff, &s, i + 1);
            })
            .unwrap();
    }
    step(&engine, &f, &seen, 0);
    engine.drain(Duration::from_secs(10)).unwrap();
    assert_eq!(&seen.borrow()[..], &f.data[..]);
}

#[test]
fn polling_alone_makes_progress() {
    // DEFER_TASKRUN rings post completions only when the engine enters the kernel: poll() must.
    let engine = LocalEngine::new().unwrap();
    let f = TestFile::new(&locations()[1].1, "poll", 1 << 20, true);
    let done = Rc::new(Cell::new(0));
    for i in 0..100u64 {
        let d = done.clone();
        engine
            .read(
                f.fd(),
                AlignedBuf::zeroed(4096).unwrap(),
                i * 4096,
                move |r, _| {
                    assert_eq!(r.unwrap(), 4096);
                    d.set(d.get() + 1);
                },
            )
            .unwrap();
    }
    let start = std::time::Instant::now();
    while done.get() < 100 {
        engine.poll().unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "poll made no progress"
        );
    }
}

#[test]
fn polling_from_a_callback_is_a_clear_error() {
    let engine = Rc::new(LocalEngine::new().unwrap());
    let f = TestFile::new(&locations()[0].1, "nested", 4096, false);
    let kinds = Rc::new(RefCell::new(Vec::new()));
    let (e, k) = (engine.clone(), kinds.clone());
    engine
        .read(f.fd(), vec![0u8; 16], 0, move |_, _| {
            k.borrow_mut().push(e.poll().unwrap_err().kind());
            k.borrow_mut().push(e.wait(None).unwrap_err().kind());
            k.borrow_mut()
                .push(e.drain(Duration::from_secs(1)).unwrap_err().kind());
        })
        .unwrap();
    engine.drain(Duration::from_secs(5)).unwrap();
    assert_eq!(*kinds.borrow(), vec![io::ErrorKind::Deadlock; 3]);
}

#[test]
fn in_flight_limit_holds_requests_back_without_failing_them() {
    let engine = LocalEngine::new().unwrap();
    engine.set_in_flight_limit(2).unwrap();
    let pipe = common::Pipe::new();
    let done = Rc::new(Cell::new(0));
    for _ in 0..10 {
        let d = done.clone();
        engine
            .read(pipe.read, vec![0u8; 1], u64::MAX, move |r, _| {
                assert_eq!(r.unwrap(), 1);
                d.set(d.get() + 1);
            })
            .unwrap();
    }
    engine.poll().unwrap();
    let st = engine.stats();
    assert_eq!(st.in_flight, 2);
    assert_eq!(st.backlog, 8);
    assert_eq!(engine.pending(), 10);
    for _ in 0..10 {
        pipe.feed(b"x");
        let before = done.get();
        while done.get() == before {
            engine.wait(Some(Duration::from_secs(5))).unwrap();
        }
    }
    assert_eq!(done.get(), 10);
    let st = engine.stats();
    assert_eq!(st.rings[0].peak_in_flight, 2);
    assert_eq!(st.backlog, 0);
    assert!(engine.set_in_flight_limit(0).is_err());
    let e = engine.set_in_flight_limit(1 << 20).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("in_flight_limit"));
}

#[test]
fn multi_thread_engine_runs_callbacks_on_the_poller() {
    let engine = std::sync::Arc::new(SharedEngine::new().unwrap());
    let f = TestFile::new(&locations()[0].1, "mt", 4096, false);
    let poller = std::thread::current().id();
    let ok = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let o = ok.clone();
    let e2 = engine.clone();
    let fd = f.fd();
    std::thread::spawn(move || {
        e2.read(fd, vec![0u8; 8], 0, move |r, _| {
            assert_eq!(r.unwrap(), 8);
            o.store(
                std::thread::current().id() == poller,
                std::sync::atomic::Ordering::SeqCst,
            );
        })
        .unwrap();
    })
    .join()
    .unwrap();
    engine.drain(Duration::from_secs(5)).unwrap();
    assert!(ok.load(std::sync::atomic::Ordering::SeqCst));
}

#[test]
fn waits_work_with_and_without_spinning_on_fast_and_slow_sources() {
    for spin in [
        Duration::ZERO,
        Duration::from_micros(50),
        Duration::from_millis(2),
    ] {
        let engine = LocalEngine::with_options(&auraio::Options::new().spin(spin)).unwrap();
        // Fast source: completions arrive within the spin budget.
        let f = TestFile::new(&locations()[0].1, "spin", 1 << 16, false);
        for i in 0..16u64 {
            let (r, b) = run_one(&engine, |cb| {
                engine
                    .read(f.fd(), vec![0u8; 4096], i * 4096 % (1 << 16), cb)
                    .unwrap();
            });
            assert_eq!(r.unwrap(), 4096);
            let o = (i * 4096 % (1 << 16)) as usize;
            assert_eq!(b[..], f.data[o..o + 4096]);
        }
        // Slow source: the data arrives long after any spin budget.
        let pipe = common::Pipe::new();
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        engine
            .read(pipe.read, vec![0u8; 3], u64::MAX, move |r, b| {
                assert_eq!(r.unwrap(), 3);
                assert_eq!(&b, b"abc");
                d.set(true);
            })
            .unwrap();
        let writer = std::thread::spawn({
            let fd = pipe.write;
            move || {
                std::thread::sleep(Duration::from_millis(30));
                // SAFETY: writing 3 bytes from a static slice to a pipe fd kept open by `pipe`.
                unsafe { libc::write(fd, b"abc".as_ptr().cast(), 3) };
            }
        });
        while !done.get() {
            engine.wait(Some(Duration::from_secs(5))).unwrap();
        }
        writer.join().unwrap();
    }
}

#[test]
fn pool_buffers_serve_every_op_and_outlive_the_engine() {
    for direct in [false, true] {
        let engine = LocalEngine::new().unwrap();
        let f = TestFile::new(&locations()[1].1, "pool", 1 << 16, direct);
        let mut out = engine.alloc_buffer(4096).unwrap();
        out.copy_from_slice(&pattern(4096, 99));
        let (r, out) = run_one(&engine, |cb| {
            engine.write(f.fd(), out, 8192, cb).unwrap();
        });
        assert_eq!(r.unwrap(), 4096);
        let (r, back) = run_one(&engine, |cb| {
            engine
                .read(f.fd(), engine.alloc_buffer(4096).unwrap(), 8192, cb)
                .unwrap();
        });
        assert_eq!(r.unwrap(), 4096);
        assert_eq!(&back[..], &out[..], "direct={direct}");
        let st = engine.buffer_stats();
        assert_eq!((st.buffers, st.shards), (2, 1));
        drop(engine);
        // Buffers keep their pool alive: using and dropping them now is fine.
        assert_eq!(back[0], out[0]);
        drop((out, back));
    }
}

#[test]
fn multi_thread_pool_buffers_cross_threads() {
    let engine = std::sync::Arc::new(SharedEngine::new().unwrap());
    let f = TestFile::new(&locations()[0].1, "poolmt", 1 << 16, false);
    let fd = f.fd();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let e = engine.clone();
            std::thread::spawn(move || {
                for i in 0..200u64 {
                    let b = e.alloc_buffer(4096 * (1 + (i as usize % 3))).unwrap();
                    e.read(fd, b, (t * 4096) as u64, |r, b| {
                        assert!(r.unwrap() <= b.len());
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    engine.drain(Duration::from_secs(10)).unwrap();
    assert_eq!(engine.buffer_stats().buffers, 0, "every buffer came back");
    assert!(engine.buffer_stats().shards >= 2);
}

#[test]
fn pool_four_threads_hundred_thousand_cycles_no_leak() {
    let engine = std::sync::Arc::new(SharedEngine::new().unwrap());
    let align = engine.buffer_alignment();
    let hs: Vec<_> = (0..4)
        .map(|t| {
            let e = engine.clone();
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for i in 0..100_000usize {
                    let len = 1 + (i * 7919 + t * 104_729) % (64 << 10);
                    let mut b = e.alloc_buffer(len).unwrap();
                    assert_eq!(b.as_ptr() as usize % align, 0, "aligned");
                    assert_eq!(b.len(), len);
                    b[len - 1] = t as u8;
                    // Keep a few alive at a time so blocks move between cache and shards.
                    held.push(b);
                    if held.len() > 40 {
                        held.drain(..20);
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let st = engine.buffer_stats();
    assert_eq!(st.buffers, 0, "every buffer returned");
    // What the pool still holds is bounded by its caches and shards, not by the 400,000
    // allocations: at most (4 thread caches + shards) x 32/256 blocks of 64 KiB or less.
    assert!(
        st.bytes <= (4 * 32 + u64::from(st.shards) * 256) * 17 * (64 << 10),
        "{st:?}"
    );
}

/// `nop`: through the engine and the kernel and back, with nothing done; as a callback, a
/// future, and many at once (each completes exactly once).
#[test]
fn nop_completes_with_zero() {
    let engine = LocalEngine::new().unwrap();
    let (r, ()) = run_one(&engine, |cb| {
        engine.nop(cb).unwrap();
    });
    assert_eq!(r.unwrap(), 0);
    let (r, ()) = engine.block_on(engine.no_op());
    assert_eq!(r.unwrap(), 0);
    let done = Rc::new(Cell::new(0u32));
    for _ in 0..1000 {
        let d = done.clone();
        engine
            .nop(move |r, ()| {
                assert_eq!(r.unwrap(), 0);
                d.set(d.get() + 1);
            })
            .unwrap();
    }
    engine.drain(Duration::from_secs(10)).unwrap();
    assert_eq!(done.get(), 1000);
    let shared = SharedEngine::new().unwrap();
    let (r, ()) = shared.block_on(shared.no_op());
    assert_eq!(r.unwrap(), 0);
}

/// `discard` on a block device (a loop device over a file, which punches holes: the range
/// reads back as zeros, the rest unchanged), as a callback and a future; its refusals: a range
/// off the logical block size, an fd open for reading only, a file that is no block device.
#[test]
fn discard_drops_a_block_device_range() {
    use std::os::unix::fs::OpenOptionsExt;
    const LEN: usize = 1 << 20;
    let dev = common::LoopDevice::new(LEN);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(&dev.path)
        .expect("open the loop device");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
    let engine = LocalEngine::new().unwrap();
    let (r, ()) = run_one(&engine, |cb| {
        engine.discard(fd, 4096, 8192, cb).unwrap();
    });
    assert_eq!(r.unwrap(), 0);
    let (r, ()) = engine.block_on(engine.discard_range(fd, 65536, 4096));
    assert_eq!(r.unwrap(), 0);
    let (r, buf) = run_one(&engine, |cb| {
        engine
            .read(fd, AlignedBuf::zeroed(LEN).unwrap(), 0, cb)
            .unwrap();
    });
    assert_eq!(r.unwrap(), LEN);
    let want: Vec<u8> = (0..LEN)
        .map(|i| {
            let dropped = (4096..12288).contains(&i) || (65536..69632).contains(&i);
            if dropped {
                0
            } else {
                dev.backing.data[i]
            }
        })
        .collect();
    assert!(
        buf[..] == want[..],
        "the discarded ranges read zeros, the rest is unchanged"
    );

    let errno = |r: io::Result<usize>| r.unwrap_err().raw_os_error();
    let (r, ()) = engine.block_on(engine.discard_range(fd, 100, 4096));
    assert_eq!(errno(r), Some(libc::EINVAL), "offset off the block size");
    let ro = std::fs::File::open(&dev.path).unwrap();
    let (r, ()) =
        engine.block_on(engine.discard_range(std::os::fd::AsRawFd::as_raw_fd(&ro), 0, 4096));
    assert_eq!(errno(r), Some(libc::EBADF), "read-only fd");
    let file = TestFile::new(std::path::Path::new("/dev/shm"), "discard", 8192, false);
    let (r, ()) = engine.block_on(engine.discard_range(file.fd(), 0, 4096));
    assert_eq!(errno(r), Some(libc::EOPNOTSUPP), "no block device");
}
