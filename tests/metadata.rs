//! Metadata operations from the op table, on real files: success and error paths, and an
//! opcode the kernel lacks refused at submission.

mod common;

use std::cell::RefCell;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use auraio::LocalEngine;

type Got<T> = Rc<RefCell<Option<(io::Result<usize>, T)>>>;

fn once<T: 'static, R>(
    engine: &LocalEngine,
    submit: impl FnOnce(Box<dyn FnOnce(io::Result<usize>, T)>) -> R,
) -> (io::Result<usize>, T) {
    let slot: Got<T> = Rc::new(RefCell::new(None));
    let s = slot.clone();
    let _ = submit(Box::new(move |r, t| *s.borrow_mut() = Some((r, t))));
    engine.drain(Duration::from_secs(5)).unwrap();
    let got = slot.borrow_mut().take().expect("callback ran");
    got
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn errno<T>(r: &(io::Result<usize>, T)) -> Option<i32> {
    r.0.as_ref().err().and_then(|e| e.raw_os_error())
}

#[test]
fn open_stat_allocate_truncate_sync_close() {
    for (place, dir) in common::locations() {
        let engine = LocalEngine::new().unwrap();
        let f = common::TestFile::new(&dir, "meta", 10_000, false);
        let path = cpath(&f.path);

        let (r, back) = once(&engine, |cb| {
            engine
                .openat(libc::AT_FDCWD, path.clone(), libc::O_RDWR, 0, cb)
                .unwrap();
        });
        assert_eq!(back, path, "{place}: path handed back");
        let fd = r.unwrap() as i32;
        assert!(fd >= 0);

        let (r, st) = once(&engine, |cb| {
            engine
                .statx(
                    fd,
                    CString::default(),
                    libc::AT_EMPTY_PATH,
                    libc::STATX_SIZE,
                    cb,
                )
                .unwrap();
        });
        r.unwrap();
        assert_eq!(st.stx_size, 10_000, "{place}: statx of the fd");

        let (r, ()) = once(&engine, |cb| {
            engine.fallocate(fd, 0, 0, 65_536, cb).unwrap()
        });
        r.unwrap();
        assert_eq!(
            std::fs::metadata(&f.path).unwrap().len(),
            65_536,
            "{place}: fallocate"
        );

        let (r, ()) = once(&engine, |cb| engine.ftruncate(fd, 4096, cb).unwrap());
        r.unwrap();
        assert_eq!(
            std::fs::metadata(&f.path).unwrap().len(),
            4096,
            "{place}: ftruncate"
        );
        assert_eq!(&f.contents()[..], &f.data[..4096], "{place}: data kept");

        // A range past EOF is not an error for sync_file_range.
        let (r, ()) = once(&engine, |cb| {
            engine
                .sync_file_range(fd, 0, 4096, libc::SYNC_FILE_RANGE_WRITE, cb)
                .unwrap()
        });
        r.unwrap();
        let (r, ()) = once(&engine, |cb| {
            engine.sync_file_range(fd, 1 << 30, 4096, 0, cb).unwrap()
        });
        r.unwrap();

        let (r, ()) = once(&engine, |cb| engine.close(fd, cb).unwrap());
        r.unwrap();
        let closed = once(&engine, |cb| engine.close(fd, cb).unwrap());
        assert_eq!(errno(&closed), Some(libc::EBADF), "{place}: double close");
    }
}

#[test]
fn metadata_error_paths() {
    let engine = LocalEngine::new().unwrap();
    let dir = common::locations()[0]
        .1
        .join(format!("auraio-meta-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let missing = cpath(&dir.join("nope"));
    let r = once(&engine, |cb| {
        engine
            .openat(libc::AT_FDCWD, missing.clone(), libc::O_RDONLY, 0, cb)
            .unwrap()
    });
    assert_eq!(errno(&r), Some(libc::ENOENT), "open of a missing file");
    let r = once(&engine, |cb| {
        engine
            .statx(libc::AT_FDCWD, missing.clone(), 0, libc::STATX_SIZE, cb)
            .unwrap()
    });
    assert_eq!(errno(&r), Some(libc::ENOENT), "statx of a missing file");

    let (r, _) = once(&engine, |cb| {
        engine
            .mkdirat(libc::AT_FDCWD, cpath(&dir), 0o755, cb)
            .unwrap()
    });
    r.unwrap();
    assert!(dir.is_dir());
    let again = once(&engine, |cb| {
        engine
            .mkdirat(libc::AT_FDCWD, cpath(&dir), 0o755, cb)
            .unwrap()
    });
    assert_eq!(
        errno(&again),
        Some(libc::EEXIST),
        "mkdir of an existing directory"
    );

    // Bad flags: O_DIRECTORY on a regular file.
    let file = dir.join("a");
    std::fs::write(&file, b"x").unwrap();
    let r = once(&engine, |cb| {
        engine
            .openat(
                libc::AT_FDCWD,
                cpath(&file),
                libc::O_RDONLY | libc::O_DIRECTORY,
                0,
                cb,
            )
            .unwrap()
    });
    assert_eq!(errno(&r), Some(libc::ENOTDIR), "O_DIRECTORY on a file");
    let r = once(&engine, |cb| engine.fallocate(-1, 0, 0, 4096, cb).unwrap());
    assert_eq!(errno(&r), Some(libc::EBADF));

    let moved = dir.join("b");
    let (r, (old, new)) = once(&engine, |cb| {
        engine
            .renameat(
                libc::AT_FDCWD,
                cpath(&file),
                libc::AT_FDCWD,
                cpath(&moved),
                0,
                cb,
            )
            .unwrap()
    });
    r.unwrap();
    assert_eq!((old, new), (cpath(&file), cpath(&moved)));
    assert!(!file.exists() && moved.exists());
    let r = once(&engine, |cb| {
        engine
            .renameat(
                libc::AT_FDCWD,
                cpath(&file),
                libc::AT_FDCWD,
                cpath(&moved),
                0,
                cb,
            )
            .unwrap()
    });
    assert_eq!(errno(&r), Some(libc::ENOENT), "rename of a missing file");

    let r = once(&engine, |cb| {
        engine.unlinkat(libc::AT_FDCWD, cpath(&dir), 0, cb).unwrap()
    });
    assert_eq!(
        errno(&r),
        Some(libc::EISDIR),
        "unlink of a directory without AT_REMOVEDIR"
    );
    let (r, _) = once(&engine, |cb| {
        engine
            .unlinkat(libc::AT_FDCWD, cpath(&moved), 0, cb)
            .unwrap()
    });
    r.unwrap();
    let (r, _) = once(&engine, |cb| {
        engine
            .unlinkat(libc::AT_FDCWD, cpath(&dir), libc::AT_REMOVEDIR, cb)
            .unwrap()
    });
    r.unwrap();
    assert!(!dir.exists());
    let r = once(&engine, |cb| {
        engine.unlinkat(libc::AT_FDCWD, cpath(&dir), 0, cb).unwrap()
    });
    assert_eq!(errno(&r), Some(libc::ENOENT), "unlink of a missing path");
}

/// An operation with an opcode no kernel has.
struct Bogus(Vec<u8>);

// SAFETY: the entry points at no memory.
unsafe impl auraio::op::Op for Bogus {
    const DIRECTION: auraio::op::Direction = auraio::op::Direction::None;
    const OPCODE: u8 = 255;
    type Output = Vec<u8>;
    fn sqe(&mut self) -> auraio::op::Sqe {
        io_uring::opcode::Nop::new().build()
    }
    fn into_output(self) -> Vec<u8> {
        self.0
    }
}

#[test]
fn an_opcode_the_kernel_lacks_is_refused_at_submission() {
    let engine = LocalEngine::new().unwrap();
    assert!(!engine.supported(255));
    assert!(engine.supported(io_uring::opcode::Read::CODE));
    let called = Rc::new(RefCell::new(false));
    let c = called.clone();
    let err = engine
        .submit(Bogus(vec![1, 2, 3]), move |_, _| *c.borrow_mut() = true)
        .unwrap_err();
    assert_eq!(err.error().raw_os_error(), Some(libc::EOPNOTSUPP));
    assert_eq!(err.into_inner(), vec![1, 2, 3], "buffer handed back");
    engine.drain(Duration::from_secs(1)).unwrap();
    assert!(!*called.borrow(), "a refused submission never calls back");
}
