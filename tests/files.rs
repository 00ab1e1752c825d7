//! Registered files: operations on a registered fd use its fixed slot transparently.
//!
//! The observable proof: once a file is registered, closing its fd does not stop reads through
//! that fd number (the ring holds the file); after unregistering, the same read fails EBADF.

mod common;

use std::cell::RefCell;
use std::io;
use std::os::fd::IntoRawFd;
use std::rc::Rc;
use std::time::Duration;

use auraio::{LocalEngine, SharedEngine};
use common::{locations, TestFile};

fn read_once(engine: &LocalEngine, fd: i32) -> (io::Result<usize>, Vec<u8>) {
    let got = Rc::new(RefCell::new(None));
    let g = got.clone();
    engine
        .read(fd, vec![0u8; 16], 0, move |r, b| {
            *g.borrow_mut() = Some((r, b))
        })
        .unwrap();
    engine.drain(Duration::from_secs(5)).unwrap();
    let r = got.borrow_mut().take().unwrap();
    r
}

fn open_raw(f: &TestFile) -> i32 {
    std::fs::File::open(&f.path).unwrap().into_raw_fd()
}

fn close(fd: i32) {
    // SAFETY: closing an fd this test opened and owns.
    unsafe { libc::close(fd) };
}

/// Points fd number `target` at the file of `source` in the process's fd table.
fn redirect(source: i32, target: i32) {
    // SAFETY: both fds are open and owned by this test.
    assert_eq!(unsafe { libc::dup2(source, target) }, target);
}

#[test]
fn registered_fd_is_used_transparently() {
    let engine = LocalEngine::new().unwrap();
    let a = TestFile::new(&locations()[0].1, "filesa", 4096, false);
    let b = TestFile::new(&locations()[0].1, "filesb", 4096, false);
    let c = TestFile::new(&locations()[0].1, "filesc", 4096, false);
    let (fd_a, fd_b, fd_c) = (open_raw(&a), open_raw(&b), open_raw(&c));
    engine.register_files(&[fd_a, -1]).unwrap();
    assert_eq!(
        engine.register_files(&[fd_a]).unwrap_err().raw_os_error(),
        Some(libc::EBUSY)
    );
    // The process now maps fd_a to file b; slot 0 still holds file a. Reads through fd_a read
    // a: the engine used the slot, not the fd table.
    redirect(fd_b, fd_a);
    let (r, buf) = read_once(&engine, fd_a);
    assert_eq!(r.unwrap(), 16);
    assert_eq!(&buf[..], &a.data[..16], "read went through the fixed slot");

    engine.update_file(1, fd_c).unwrap();
    redirect(fd_b, fd_c);
    let (r, buf) = read_once(&engine, fd_c);
    assert_eq!(r.unwrap(), 16);
    assert_eq!(&buf[..], &c.data[..16], "updated slot used");

    engine.unregister_files().unwrap();
    let (r, buf) = read_once(&engine, fd_a);
    assert_eq!(r.unwrap(), 16);
    assert_eq!(&buf[..], &b.data[..16], "plain fd again after unregister");
    assert_eq!(
        engine.unregister_files().unwrap_err().raw_os_error(),
        Some(libc::ENXIO)
    );
    assert_eq!(
        engine.update_file(0, 0).unwrap_err().raw_os_error(),
        Some(libc::ENXIO)
    );
    for fd in [fd_a, fd_b, fd_c] {
        close(fd);
    }
}

#[test]
fn unregister_from_inside_a_callback_with_requests_in_flight() {
    let engine = Rc::new(LocalEngine::new().unwrap());
    let f = TestFile::new(&locations()[0].1, "filescb", 1 << 16, false);
    let fd = open_raw(&f);
    engine.register_files(&[fd]).unwrap();
    let results = Rc::new(RefCell::new(Vec::new()));
    for i in 0..16u64 {
        let (e, r) = (engine.clone(), results.clone());
        engine
            .read(fd, vec![0u8; 4096], i * 4096, move |res, _| {
                if i == 0 {
                    e.unregister_files().unwrap();
                }
                r.borrow_mut().push(res.map_err(|e| e.raw_os_error()));
            })
            .unwrap();
    }
    engine.drain(Duration::from_secs(5)).unwrap();
    assert_eq!(
        *results.borrow(),
        vec![Ok(4096); 16],
        "in-flight fixed reads completed"
    );
    close(fd);
}

#[test]
fn multi_thread_engine_registers_on_every_ring() {
    let engine = SharedEngine::with_options(&auraio::Options::new().ring_count(2)).unwrap();
    let f = TestFile::new(&locations()[0].1, "filesmt", 4096, false);
    let fd = open_raw(&f);
    engine.register_files(&[fd]).unwrap();
    let ok = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..8 {
        let o = ok.clone();
        engine
            .read(fd, vec![0u8; 8], 0, move |r, _| {
                if r.is_ok() {
                    o.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
            .unwrap();
    }
    engine.drain(Duration::from_secs(5)).unwrap();
    assert_eq!(ok.load(std::sync::atomic::Ordering::SeqCst), 8);
    close(fd);
}
