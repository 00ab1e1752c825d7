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
