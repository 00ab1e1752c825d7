//! The buffer contract of the Rust async-I/O ecosystem: a read goes into the whole capacity and
//! the length is set to what was read; a slice narrows a buffer for one operation and gives the
//! whole buffer back; `bytes::BytesMut` works as a read and a write buffer.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use auraio::{IoBuf, LocalEngine};
use common::{locations, Deadline, TestFile};

const LEN: usize = 64 << 10;

#[test]
fn a_read_fills_the_capacity_and_sets_the_length() {
    let _deadline = Deadline::plain("capacity reads", 60);
    for (what, dir) in locations() {
        let f = TestFile::new(&dir, "capacity", LEN, false);
        let fd = f.file.as_raw_fd();
        let engine = LocalEngine::new().unwrap();
        // The line users of tokio-uring, compio and monoio write.
        let (r, buf) = engine.block_on(engine.read_at(fd, Vec::with_capacity(4096), 8192));
        assert_eq!(r.unwrap(), 4096, "{what}");
        assert_eq!(buf.len(), 4096, "{what}: the length is what was read");
        assert_eq!(&buf[..], &f.data[8192..12288], "{what}");
        // Spare capacity past a shorter length is filled too; the length grows to the count.
        let mut v = Vec::with_capacity(4096);
        v.extend_from_slice(&[9u8; 10]);
        let (r, buf) = engine.block_on(engine.read_at(fd, v, 0));
        assert_eq!((r.unwrap(), buf.len()), (4096, 4096), "{what}");
        assert_eq!(&buf[..], &f.data[..4096], "{what}");
        // At the end of the file: a short count, and the length says so.
        let (r, buf) =
            engine.block_on(engine.read_at(fd, Vec::with_capacity(8192), LEN as u64 - 100));
        assert_eq!((r.unwrap(), buf.len()), (100, 100), "{what}");
        // A failed read leaves the length as it was.
        let (r, buf) = engine.block_on(engine.read_at(-1, Vec::with_capacity(64), 0));
        assert!(r.is_err() && buf.is_empty(), "{what}");
        // Callbacks get the same buffer.
        let got = std::rc::Rc::new(std::cell::Cell::new(0usize));
        let g = got.clone();
        engine
            .read(fd, Vec::with_capacity(512), 512, move |r, buf| {
                assert_eq!(r.unwrap(), buf.len());
                g.set(buf.len());
            })
            .unwrap();
        engine.drain(Duration::from_secs(10)).unwrap();
        assert_eq!(got.get(), 512, "{what}");
    }
}

#[test]
fn a_scatter_read_fills_each_buffer_in_order() {
    let _deadline = Deadline::plain("scatter capacity reads", 60);
    let f = TestFile::new(&locations()[0].1, "scatter", LEN, false);
    let engine = LocalEngine::new().unwrap();
    let bufs = vec![Vec::with_capacity(1000), Vec::with_capacity(3000)];
    let (r, bufs) = engine.block_on(engine.readv_at(f.file.as_raw_fd(), bufs, 0));
    assert_eq!(r.unwrap(), 4000);
    assert_eq!((bufs[0].len(), bufs[1].len()), (1000, 3000));
    assert_eq!(&bufs[0][..], &f.data[..1000]);
    assert_eq!(&bufs[1][..], &f.data[1000..4000]);
    // Short at the end of the file: the first buffer full, the second partly.
    let bufs = vec![Vec::with_capacity(1000), Vec::with_capacity(3000)];
    let (r, bufs) = engine.block_on(engine.readv_at(f.file.as_raw_fd(), bufs, LEN as u64 - 1500));
    assert_eq!(r.unwrap(), 1500);
    assert_eq!((bufs[0].len(), bufs[1].len()), (1000, 500));
}

#[test]
fn a_slice_writes_and_reads_only_its_range_and_gives_the_buffer_back() {
    let _deadline = Deadline::plain("slices", 60);
    for (what, dir) in locations() {
        let f = TestFile::new(&dir, "slice", LEN, false);
        let fd = f.file.as_raw_fd();
        let engine = LocalEngine::new().unwrap();
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let (r, slice) = engine.block_on(engine.write_at(fd, data.clone().slice(100..300), 0));
        assert_eq!(r.unwrap(), 200, "{what}: only the slice is written");
        assert_eq!((slice.begin(), slice.end()), (100, 300));
        assert_eq!(
            slice.into_inner(),
            data,
            "{what}: the whole buffer comes back"
        );
        let mut on_disk = vec![0u8; 300];
        f.file.read_exact_at(&mut on_disk, 0).unwrap();
        assert_eq!(&on_disk[..200], &data[100..300], "{what}");
        assert_eq!(
            &on_disk[200..],
            &f.data[200..300],
            "{what}: nothing past the slice"
        );
        // A read into the middle of a buffer: the rest stays as it was.
        let (r, slice) = engine.block_on(engine.read_at(fd, vec![7u8; 8192].slice(4096..), 0));
        assert_eq!(r.unwrap(), 4096);
        let buf = slice.into_inner();
        assert_eq!(buf.len(), 8192);
        assert!(buf[..4096].iter().all(|b| *b == 7), "{what}");
        assert_eq!(&buf[4096..4096 + 200], &data[100..300], "{what}");
        // Into spare capacity past the initialised bytes: read, but the length is not grown
        // over the bytes before the slice, which were never written.
        let (r, slice) =
            engine.block_on(engine.read_at(fd, Vec::with_capacity(8192).slice(4096..), 0));
        assert_eq!(r.unwrap(), 4096);
        assert!(slice.into_inner().is_empty(), "{what}");
    }
}

#[test]
#[should_panic(expected = "out of the buffer")]
fn a_slice_past_the_buffer_panics() {
    let _ = vec![0u8; 10].slice(5..11);
}

#[cfg(feature = "bytes")]
#[test]
fn bytes_mut_round_trip() {
    let _deadline = Deadline::plain("BytesMut", 60);
    let f = TestFile::new(&locations()[0].1, "bytes", LEN, false);
    let fd = f.file.as_raw_fd();
    let engine = LocalEngine::new().unwrap();
    let (r, buf) = engine.block_on(engine.read_at(fd, bytes::BytesMut::with_capacity(4096), 4096));
    assert_eq!(r.unwrap(), 4096);
    assert_eq!(&buf[..], &f.data[4096..8192]);
    let frozen = buf.freeze();
    let (r, back) = engine.block_on(engine.write_at(fd, frozen.clone(), 0));
    assert_eq!(r.unwrap(), 4096);
    assert_eq!(back, frozen);
    let mut on_disk = vec![0u8; 4096];
    f.file.read_exact_at(&mut on_disk, 0).unwrap();
    assert_eq!(&on_disk[..], &f.data[4096..8192]);
}

/// A read that owns its file (`WithFile`) sets the length too.
#[test]
fn a_read_that_owns_its_file_sets_the_length() {
    let _deadline = Deadline::plain("WithFile capacity read", 60);
    let f = TestFile::new(&locations()[0].1, "withfile", LEN, false);
    let file = std::sync::Arc::new(f.file.try_clone().unwrap());
    let engine = LocalEngine::new().unwrap();
    let got = std::rc::Rc::new(std::cell::RefCell::new(None));
    let g = got.clone();
    let op = auraio::op::WithFile::new(file, |fd| {
        auraio::op::Read::new(fd, Vec::with_capacity(4096), 0)
    });
    engine
        .submit(op, move |r, (buf, _file)| {
            *g.borrow_mut() = Some((r.unwrap(), buf));
        })
        .unwrap();
    engine.drain(Duration::from_secs(10)).unwrap();
    let (n, buf) = got.borrow_mut().take().unwrap();
    assert_eq!((n, buf.len()), (4096, 4096));
    assert_eq!(&buf[..], &f.data[..4096]);
}

/// A slice cannot claim more than its buffer holds, whatever the buffer's hint says.
#[test]
fn a_slice_reads_no_more_than_its_buffer_holds() {
    let s = Vec::<u8>::with_capacity(100).slice(10..60);
    assert_eq!(auraio::IoBufMut::io_capacity(&s), 50);
    let s = vec![1u8; 20].slice(..);
    assert_eq!((s.io_len(), auraio::IoBufMut::io_capacity(&s)), (20, 20));
}
