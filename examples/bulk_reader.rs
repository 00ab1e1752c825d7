//! Scans a directory tree through the engine: openat, statx, read and close for every file,
//! many files in flight, and reports files/s and MB/s.
//!
//! `cargo run --release --example bulk_reader [DIR]` (default: a tree of 500 files it makes
//! in $TMPDIR).

use std::cell::{Cell, RefCell};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

const IN_FLIGHT: usize = 64;
const CHUNK: usize = 256 << 10;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        if ty.is_dir() {
            walk(&entry.path(), out)?;
        } else if ty.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

#[derive(Default)]
struct Totals {
    files: Cell<u64>,
    bytes: Cell<u64>,
    errors: Cell<u64>,
    active: Cell<usize>,
}

/// Reads a whole open file chunk by chunk, then closes it.
fn read_from(engine: &Rc<auraio::LocalEngine>, t: &Rc<Totals>, fd: i32, size: u64, offset: u64) {
    if offset >= size {
        let t2 = t.clone();
        let closed = engine.close(fd, move |r, ()| {
            if r.is_err() {
                t2.errors.set(t2.errors.get() + 1);
            }
            t2.files.set(t2.files.get() + 1);
            t2.active.set(t2.active.get() - 1);
        });
        if closed.is_err() {
            t.errors.set(t.errors.get() + 1);
            t.active.set(t.active.get() - 1);
        }
        return;
    }
    let (e, t2) = (engine.clone(), t.clone());
    let submitted = engine.read(fd, vec![0u8; CHUNK], offset, move |r, _| match r {
        Ok(0) => read_from(&e, &t2, fd, offset, offset),
        Ok(n) => {
            t2.bytes.set(t2.bytes.get() + n as u64);
            read_from(&e, &t2, fd, size, offset + n as u64);
        }
        Err(_) => {
            t2.errors.set(t2.errors.get() + 1);
            read_from(&e, &t2, fd, offset, offset);
        }
    });
    if submitted.is_err() {
        t.errors.set(t.errors.get() + 1);
    }
}

/// Opens a file, stats it, then reads it.
fn start(engine: &Rc<auraio::LocalEngine>, t: &Rc<Totals>, path: &Path) -> std::io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    t.active.set(t.active.get() + 1);
    let (e, t2) = (engine.clone(), t.clone());
    engine.openat(libc::AT_FDCWD, c, libc::O_RDONLY, 0, move |r, _| {
        let fd = match r {
            Ok(fd) => fd as i32,
            Err(_) => {
                t2.errors.set(t2.errors.get() + 1);
                t2.active.set(t2.active.get() - 1);
                return;
            }
        };
        let (e2, t3) = (e.clone(), t2.clone());
        let stat = e.statx(
            fd,
            CString::default(),
            libc::AT_EMPTY_PATH,
            libc::STATX_SIZE,
            move |r, st| match r {
                Ok(_) => read_from(&e2, &t3, fd, st.stx_size, 0),
                Err(_) => {
                    t3.errors.set(t3.errors.get() + 1);
                    read_from(&e2, &t3, fd, 0, 0);
                }
            },
        );
        if stat.is_err() {
            t2.errors.set(t2.errors.get() + 1);
        }
    })?;
    Ok(())
}

fn main() -> std::io::Result<()> {
    let root = match std::env::args().nth(1) {
        Some(d) => PathBuf::from(d),
        None => {
            let d = std::env::temp_dir().join("auraio-bulk");
            for i in 0..500 {
                let sub = d.join(format!("d{}", i % 10));
                std::fs::create_dir_all(&sub)?;
                std::fs::write(
                    sub.join(format!("f{i}")),
                    vec![i as u8; 1024 * (1 + i % 64)],
                )?;
            }
            d
        }
    };
    let mut files = Vec::new();
    walk(&root, &mut files)?;
    let engine = Rc::new(auraio::LocalEngine::new()?);
    let totals = Rc::new(Totals::default());
    let queue = RefCell::new(files.iter());
    let start_t = Instant::now();
    loop {
        while totals.active.get() < IN_FLIGHT {
            let Some(p) = queue.borrow_mut().next() else {
                break;
            };
            start(&engine, &totals, p)?;
        }
        if totals.active.get() == 0 {
            break;
        }
        engine.wait(Some(Duration::from_secs(5)))?;
    }
    let secs = start_t.elapsed().as_secs_f64();
    println!(
        "{}: {} files, {:.1} MB in {:.1} ms — {:.0} files/s, {:.0} MB/s, {} errors",
        root.display(),
        totals.files.get(),
        totals.bytes.get() as f64 / 1e6,
        secs * 1e3,
        totals.files.get() as f64 / secs,
        totals.bytes.get() as f64 / 1e6 / secs,
        totals.errors.get()
    );
    assert_eq!(totals.files.get(), files.len() as u64, "every file read");
    Ok(())
}
