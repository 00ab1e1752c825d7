//! Registered buffers: fixed reads and writes through leases, bounds checked before any
//! submission, exclusive leases, and unregister deferred while leases are out (from a
//! callback, too).

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use auraio::{AlignedBuf, LocalEngine, SharedEngine};
use common::{locations, pattern, TestFile};

fn bufs(n: usize, len: usize) -> Vec<AlignedBuf> {
    (0..n).map(|_| AlignedBuf::zeroed(len).unwrap()).collect()
}

#[test]
fn fixed_write_then_fixed_read_round_trip() {
    for (place, dir) in locations() {
        for direct in [false, true] {
            let engine = LocalEngine::new().unwrap();
            let f = TestFile::new(&dir, "fixed", 1 << 16, direct);
            engine.register_buffers(bufs(2, 16384)).unwrap();
            let mut out = engine.fixed_buf(0, 4096, 8192).unwrap();
            out.copy_from_slice(&pattern(8192, 5));
            let done = Rc::new(RefCell::new(Vec::new()));
            let d = done.clone();
            engine
                .write_fixed(f.fd(), out, 8192, move |r, lease| {
                    assert_eq!(r.unwrap(), 8192);
                    d.borrow_mut().push(lease.to_vec());
                })
                .unwrap();
            engine.drain(Duration::from_secs(5)).unwrap();
            let inp = engine.fixed_buf(1, 0, 8192).unwrap();
            let d = done.clone();
            engine
                .read_fixed(f.fd(), inp, 8192, move |r, lease| {
                    assert_eq!(r.unwrap(), 8192);
                    d.borrow_mut().push(lease.to_vec());
                })
                .unwrap();
            engine.drain(Duration::from_secs(5)).unwrap();
            let got = done.borrow();
            assert_eq!(
                got[1], got[0],
                "{place} direct={direct}: read back what was written"
            );
            assert_eq!(&f.contents()[8192..16384], &got[0][..]);
        }
    }
}

#[test]
fn out_of_bounds_and_overflowing_slices_are_refused_before_submission() {
    let engine = LocalEngine::new().unwrap();
    engine.register_buffers(bufs(1, 4096)).unwrap();
    for (offset, len) in [
        (4096, 0),
        (4096, 1),
        (0, 4097),
        (1, 4096),
        (usize::MAX, 1),
        (1, usize::MAX),
        (usize::MAX, usize::MAX),
    ] {
        let e = engine.fixed_buf(0, offset, len).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{offset}+{len}");
    }
    let e = engine.fixed_buf(1, 0, 1).unwrap_err();
    assert_eq!(
        e.kind(),
        std::io::ErrorKind::InvalidInput,
        "index out of range"
    );
    // A failed lease leaves the buffer leasable.
    let lease = engine.fixed_buf(0, 4095, 1).unwrap();
    assert_eq!(lease.len(), 1);
    assert_eq!(
        engine.fixed_buf(0, 0, 1).unwrap_err().raw_os_error(),
        Some(libc::EBUSY),
        "leases are exclusive"
    );
    drop(lease);
    engine.fixed_buf(0, 0, 4096).unwrap();
    assert_eq!(engine.stats().ops_completed, 0, "nothing was submitted");
}

#[test]
fn unregister_with_fixed_reads_in_flight_is_deferred() {
    let engine = Rc::new(LocalEngine::new().unwrap());
    let f = TestFile::new(&locations()[0].1, "fixeddefer", 1 << 16, false);
    engine.register_buffers(bufs(8, 4096)).unwrap();
    let done = Rc::new(RefCell::new(0));
    for i in 0..8 {
        let lease = engine.fixed_buf(i, 0, 4096).unwrap();
        let (d, e, data) = (done.clone(), engine.clone(), f.data.clone());
        engine
            .read_fixed(f.fd(), lease, (i * 4096) as u64, move |r, lease| {
                assert_eq!(r.unwrap(), 4096);
                assert_eq!(&lease[..], &data[i * 4096..(i + 1) * 4096]);
                if i == 0 {
                    // From inside a callback, with the other seven still out.
                    e.unregister_buffers().unwrap();
                }
                *d.borrow_mut() += 1;
            })
            .unwrap();
    }
    engine.poll().unwrap();
    engine.drain(Duration::from_secs(5)).unwrap();
    assert_eq!(
        *done.borrow(),
        8,
        "every fixed read completed after the unregister"
    );
    // Drained and polled: the deferred unregister happened; a new set registers.
    engine.poll().unwrap();
    assert_eq!(
        engine.fixed_buf(0, 0, 1).unwrap_err().raw_os_error(),
        Some(libc::ENXIO)
    );
    engine.register_buffers(bufs(1, 4096)).unwrap();
}

#[test]
fn new_leases_fail_ebusy_while_draining() {
    let engine = LocalEngine::new().unwrap();
    engine.register_buffers(bufs(2, 4096)).unwrap();
    let held = engine.fixed_buf(0, 0, 10).unwrap();
    engine.unregister_buffers().unwrap();
    assert_eq!(
        engine.fixed_buf(1, 0, 10).unwrap_err().raw_os_error(),
        Some(libc::EBUSY)
    );
    assert_eq!(
        engine
            .register_buffers(bufs(1, 4096))
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EBUSY)
    );
    drop(held);
    engine.poll().unwrap();
    engine.register_buffers(bufs(1, 4096)).unwrap();
}

#[test]
fn leases_cross_threads_on_a_multi_thread_engine() {
    let engine = std::sync::Arc::new(SharedEngine::new().unwrap());
    let f = TestFile::new(&locations()[0].1, "fixedmt", 1 << 16, false);
    engine.register_buffers(bufs(4, 4096)).unwrap();
    let fd = f.fd();
    let hs: Vec<_> = (0..4)
        .map(|i| {
            let e = engine.clone();
            std::thread::spawn(move || {
                let lease = e.fixed_buf(i, 0, 4096).unwrap();
                e.read_fixed(fd, lease, 0, |r, _| assert_eq!(r.unwrap(), 4096))
                    .unwrap();
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    engine.drain(Duration::from_secs(5)).unwrap();
    assert_eq!(engine.stats().ops_completed, 4);
}

#[test]
fn caller_owned_memory_registers_through_raw_and_unregisters_as_the_engines_own() {
    use auraio::raw;
    let engine = LocalEngine::new().unwrap();
    let f = TestFile::new(&locations()[0].1, "rawfixed", 1 << 16, false);
    let pipe = common::Pipe::new();
    // The memory: the test's own, kept until the engine says it is no longer registered.
    let mut mem = vec![0u8; 3 * 4096];
    let iovs: Vec<libc::iovec> = mem
        .chunks_mut(4096)
        .map(|c| libc::iovec {
            iov_base: c.as_mut_ptr().cast(),
            iov_len: c.len(),
        })
        .collect();
    let errno = |e: std::io::Error| e.raw_os_error();
    assert_eq!(
        raw::fixed_buf(&engine, 0, 0, 1).map(drop).map_err(errno),
        Err(Some(libc::ENXIO))
    );
    // SAFETY: `mem` outlives the engine's use of it: the test waits for
    // `buffers_registered()` to turn false before it drops `mem`, and drops the engine first.
    unsafe { raw::register_buffers(&engine, &iovs) }.unwrap();
    assert!(engine.buffers_registered());
    // One table per ring: the engine's own registration is refused meanwhile.
    assert_eq!(
        errno(engine.register_buffers(bufs(1, 4096)).unwrap_err()),
        Some(libc::EBUSY)
    );
    // SAFETY: as above (and it is refused: nothing new is registered).
    let again = unsafe { raw::register_buffers(&engine, &iovs) };
    assert_eq!(errno(again.unwrap_err()), Some(libc::EBUSY));
    for (index, offset, len, want) in [
        (3, 0, 1, libc::EINVAL),
        (0, 4096, 1, libc::EOVERFLOW),
        (0, 1, 4096, libc::EOVERFLOW),
        (0, usize::MAX, 2, libc::EOVERFLOW),
    ] {
        let got = raw::fixed_buf(&engine, index, offset, len)
            .map(drop)
            .map_err(errno);
        assert_eq!(got, Err(Some(want)), "buffer {index} at {offset}+{len}");
    }

    // Slices need not be exclusive: two reads into buffer 1's halves at once.
    let done = Rc::new(RefCell::new(0));
    for half in 0..2 {
        let b = raw::fixed_buf(&engine, 1, half * 2048, 2048).unwrap();
        let d = done.clone();
        engine
            .read_fixed(f.fd(), b, (half * 2048) as u64, move |r, _| {
                assert_eq!(r.unwrap(), 2048);
                *d.borrow_mut() += 1;
            })
            .unwrap();
    }
    // A read that stays in flight on a pipe: the unregister waits for it.
    let held = raw::fixed_buf(&engine, 2, 0, 8).unwrap();
    let d = done.clone();
    engine
        .read_fixed(pipe.read, held, u64::MAX, move |r, _| {
            assert_eq!(r.unwrap(), 8);
            *d.borrow_mut() += 1;
        })
        .unwrap();
    engine.wait(Some(Duration::from_millis(200))).unwrap();
    engine.wait(Some(Duration::from_millis(10))).unwrap();
    engine.unregister_buffers().unwrap();
    assert_eq!(
        raw::fixed_buf(&engine, 0, 0, 1).map(drop).map_err(errno),
        Err(Some(libc::EBUSY))
    );
    engine.poll().unwrap();
    assert!(
        engine.buffers_registered(),
        "a fixed read is still in flight"
    );
    pipe.feed(b"12345678");
    engine.drain(Duration::from_secs(5)).unwrap();
    engine.poll().unwrap();
    assert_eq!(*done.borrow(), 3);
    assert!(!engine.buffers_registered());
    drop(engine);
    assert!(
        mem[4096..2 * 4096] == f.data[..4096],
        "buffer 1's reads landed in the caller's memory"
    );
    assert_eq!(&mem[2 * 4096..2 * 4096 + 8], b"12345678");
}

#[test]
fn an_unregister_finishes_when_the_last_slice_drops_outside_any_round() {
    use auraio::raw;
    let engine = LocalEngine::new().unwrap();
    let mut mem = vec![0u8; 4096];
    let iov = [libc::iovec {
        iov_base: mem.as_mut_ptr().cast(),
        iov_len: mem.len(),
    }];
    // SAFETY: `mem` outlives the engine, which is dropped first, and no slice is used for I/O.
    unsafe { raw::register_buffers(&engine, &iov) }.unwrap();
    let kept = raw::fixed_buf(&engine, 0, 0, 512).unwrap();
    engine.unregister_buffers().unwrap();
    engine.poll().unwrap();
    assert!(engine.buffers_registered(), "a slice is still out");
    drop(kept);
    // No poll since: the check itself finishes the unregister, and so does a new registration.
    assert!(!engine.buffers_registered());
    // SAFETY: as above.
    unsafe { raw::register_buffers(&engine, &iov) }.unwrap();
    let kept = raw::fixed_buf(&engine, 0, 0, 512).unwrap();
    engine.unregister_buffers().unwrap();
    drop(kept);
    // SAFETY: as above.
    unsafe { raw::register_buffers(&engine, &iov) }.unwrap();
    drop(engine);
    drop(mem);
}
