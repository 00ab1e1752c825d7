//! Linked operations on real files: success, a failing link cancelling the rest, a chain held
//! whole in the backlog, and cancelling a backlogged chain.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use auraio::op::{Fsync, Read, Write};
use auraio::{LocalEngine, MAX_CHAIN};
use common::{locations, Pipe, TestFile};

type Log = Rc<RefCell<Vec<(usize, Result<usize, Option<i32>>)>>>;

fn logger(log: &Log, i: usize) -> impl FnOnce(std::io::Result<usize>) + 'static {
    let l = log.clone();
    move |r| l.borrow_mut().push((i, r.map_err(|e| e.raw_os_error())))
}

#[test]
fn write_then_fsync_then_read_back() {
    for (place, dir) in locations() {
        let engine = LocalEngine::new().unwrap();
        let f = TestFile::new(&dir, "chain", 8192, false);
        let log: Log = Rc::default();
        let back = Rc::new(RefCell::new(Vec::new()));
        let (l0, l1, l2, b) = (
            logger(&log, 0),
            logger(&log, 1),
            logger(&log, 2),
            back.clone(),
        );
        let mut chain = engine.chain();
        chain
            .push(Write::new(f.fd(), vec![7u8; 4096], 4096), move |r, _| l0(r))
            .unwrap()
            .push(Fsync::new(f.fd()), move |r, ()| l1(r))
            .unwrap()
            .push(Read::new(f.fd(), vec![0u8; 4096], 4096), move |r, buf| {
                *b.borrow_mut() = buf;
                l2(r)
            })
            .unwrap();
        assert_eq!(chain.len(), 3);
        let ids = chain.submit().unwrap();
        assert_eq!(ids.len(), 3);
        engine.drain(Duration::from_secs(5)).unwrap();
        assert_eq!(
            *log.borrow(),
            vec![(0, Ok(4096)), (1, Ok(0)), (2, Ok(4096))],
            "{place}"
        );
        assert!(
            back.borrow().iter().all(|&x| x == 7),
            "{place}: read saw the write"
        );
        assert_eq!(&f.contents()[4096..], &[7u8; 4096][..]);
    }
}

#[test]
fn a_failing_link_cancels_the_rest() {
    let engine = LocalEngine::new().unwrap();
    let f = TestFile::new(&locations()[0].1, "chainfail", 4096, false);
    let log: Log = Rc::default();
    let (l0, l1, l2) = (logger(&log, 0), logger(&log, 1), logger(&log, 2));
    let mut chain = engine.chain();
    chain
        .push(Read::new(f.fd(), vec![0u8; 64], 0), move |r, _| l0(r))
        .unwrap()
        .push(Read::new(-1, vec![0u8; 64], 0), move |r, _| l1(r))
        .unwrap()
        .push(Fsync::new(f.fd()), move |r, ()| l2(r))
        .unwrap();
    chain.submit().unwrap();
    engine.drain(Duration::from_secs(5)).unwrap();
    assert_eq!(
        *log.borrow(),
        vec![
            (0, Ok(64)),
            (1, Err(Some(libc::EBADF))),
            (2, Err(Some(libc::ECANCELED)))
        ]
    );
}

#[test]
fn a_chain_waits_whole_in_the_backlog_and_cancels_whole() {
    let engine = LocalEngine::new().unwrap();
    engine.set_in_flight_limit(1).unwrap();
    let pipe = Pipe::new();
    let f = TestFile::new(&locations()[0].1, "chainbacklog", 4096, false);
    let log: Log = Rc::default();
    // Occupies the only in-flight slot until the pipe is fed.
    let l9 = logger(&log, 9);
    engine
        .read(pipe.read, vec![0u8; 1], u64::MAX, move |r, _| l9(r))
        .unwrap();
    let (l0, l1) = (logger(&log, 0), logger(&log, 1));
    let mut chain = engine.chain();
    chain
        .push(Read::new(f.fd(), vec![0u8; 8], 0), move |r, _| l0(r))
        .unwrap()
        .push(Read::new(f.fd(), vec![0u8; 8], 8), move |r, _| l1(r))
        .unwrap();
    let ids = chain.submit().unwrap();
    assert_eq!(engine.stats().backlog, 2, "the chain waits as a unit");
    // A second chain, cancelled through its second link while backlogged.
    let (l3, l4) = (logger(&log, 3), logger(&log, 4));
    let mut chain = engine.chain();
    chain
        .push(Read::new(f.fd(), vec![0u8; 8], 0), move |r, _| l3(r))
        .unwrap()
        .push(Read::new(f.fd(), vec![0u8; 8], 8), move |r, _| l4(r))
        .unwrap();
    let ids2 = chain.submit().unwrap();
    engine.cancel(ids2[1]).unwrap();
    assert_eq!(
        *log.borrow(),
        vec![
            (3, Err(Some(libc::ECANCELED))),
            (4, Err(Some(libc::ECANCELED)))
        ]
    );
    pipe.feed(b"x");
    engine.drain(Duration::from_secs(5)).unwrap();
    let got = log.borrow();
    assert_eq!(&got[2..], &[(9, Ok(1)), (0, Ok(8)), (1, Ok(8))]);
    assert!(!engine.is_pending(ids[0]) && !engine.is_pending(ids[1]));
}

#[test]
fn chains_are_bounded() {
    let engine = LocalEngine::new().unwrap();
    let mut chain = engine.chain();
    for _ in 0..MAX_CHAIN {
        chain.push(Fsync::new(-1), |_, ()| {}).unwrap();
    }
    let e = chain
        .push(Read::new(0, vec![1u8; 3], 0), |_, _| {})
        .unwrap_err();
    assert_eq!(e.error().raw_os_error(), Some(libc::E2BIG));
    assert_eq!(e.into_inner(), vec![1u8; 3]);
    drop(chain);
    assert_eq!(
        engine.pending(),
        0,
        "an unsubmitted chain leaves nothing behind"
    );
}

#[test]
fn a_failing_first_link_cancels_every_other() {
    let engine = LocalEngine::new().unwrap();
    let f = TestFile::new(&locations()[0].1, "chainfirst", 4096, false);
    let log: Log = Rc::default();
    let (l0, l1, l2) = (logger(&log, 0), logger(&log, 1), logger(&log, 2));
    let mut chain = engine.chain();
    chain
        .push(Write::new(-1, vec![1u8; 8], 0), move |r, _| l0(r))
        .unwrap()
        .push(Fsync::new(f.fd()), move |r, ()| l1(r))
        .unwrap()
        .push(Read::new(f.fd(), vec![0u8; 8], 0), move |r, _| l2(r))
        .unwrap();
    chain.submit().unwrap();
    engine.drain(Duration::from_secs(5)).unwrap();
    assert_eq!(
        *log.borrow(),
        vec![
            (0, Err(Some(libc::EBADF))),
            (1, Err(Some(libc::ECANCELED))),
            (2, Err(Some(libc::ECANCELED)))
        ]
    );
}

#[test]
fn openat_read_close_through_a_direct_descriptor() {
    use auraio::op::{direct, Close, OpenAtDirect};
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    let engine = LocalEngine::new().unwrap();
    let f = TestFile::new(&locations()[0].1, "direct", 4096, false);
    engine.register_files(&[-1; 4]).unwrap();
    let path = CString::new(f.path.as_os_str().as_bytes()).unwrap();
    let log: Log = Rc::default();
    let data = Rc::new(RefCell::new(Vec::new()));
    let (l0, l1, l2, d) = (
        logger(&log, 0),
        logger(&log, 1),
        logger(&log, 2),
        data.clone(),
    );
    let mut chain = engine.chain();
    chain
        .push(
            OpenAtDirect::new(libc::AT_FDCWD, path, libc::O_RDONLY, 0, 2),
            move |r, _| l0(r),
        )
        .unwrap()
        .push(Read::new(direct(2), vec![0u8; 100], 0), move |r, buf| {
            *d.borrow_mut() = buf;
            l1(r)
        })
        .unwrap()
        .push(Close::new(direct(2)), move |r, ()| l2(r))
        .unwrap();
    chain.submit().unwrap();
    engine.drain(Duration::from_secs(5)).unwrap();
    assert_eq!(*log.borrow(), vec![(0, Ok(0)), (1, Ok(100)), (2, Ok(0))]);
    assert_eq!(
        &data.borrow()[..],
        &f.data[..100],
        "read through the direct descriptor"
    );
    // The slot is empty again: reading through it now fails.
    let l3 = logger(&log, 3);
    engine
        .read(direct(2), vec![0u8; 8], 0, move |r, _| l3(r))
        .unwrap();
    engine.drain(Duration::from_secs(5)).unwrap();
    assert_eq!(log.borrow()[3], (3, Err(Some(libc::EBADF))));
}
