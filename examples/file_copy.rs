//! Copies a file with reads and writes in flight together, then verifies the copy.
//!
//! `cargo run --release --example file_copy [SRC DST]` (default: copies a 32 MiB file it makes).
//!
//! A failing read or write ends the copy with that error (exit status 1); a short read is
//! followed by a read of the rest, so the copy is whole or the program says why not.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use auraio::LocalEngine;

const CHUNK: usize = 256 << 10;
const IN_FLIGHT: u64 = 16;

/// The first error of the copy; later ones are dropped.
type FirstError = Rc<RefCell<Option<io::Error>>>;

fn fail(first: &FirstError, e: io::Error) {
    first.borrow_mut().get_or_insert(e);
}

/// Reads `want` bytes at `off` and writes them at the same offset of `wfd`; a short read
/// writes what came and reads the rest.
fn copy_range(
    engine: &Rc<LocalEngine>,
    (rfd, wfd): (RawFd, RawFd),
    off: u64,
    want: usize,
    first: &FirstError,
) {
    let (e2, f2) = (engine.clone(), first.clone());
    let submitted = engine.read(rfd, vec![0u8; want], off, move |res, mut buf| {
        let n = match res {
            Ok(0) => {
                return fail(
                    &f2,
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("source ended at {off}, before its length"),
                    ),
                )
            }
            Ok(n) => n,
            Err(e) => return fail(&f2, io::Error::new(e.kind(), format!("read at {off}: {e}"))),
        };
        buf.truncate(n);
        let f3 = f2.clone();
        let wrote = e2.write(wfd, buf, off, move |res, _| match res {
            Ok(w) if w == n => {}
            Ok(w) => fail(
                &f3,
                io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write at {off}: {w} of {n} bytes"),
                ),
            ),
            Err(e) => fail(
                &f3,
                io::Error::new(e.kind(), format!("write at {off}: {e}")),
            ),
        });
        if let Err(e) = wrote {
            return fail(&f2, e.into());
        }
        if n < want {
            copy_range(&e2, (rfd, wfd), off + n as u64, want - n, &f2);
        }
    });
    if let Err(e) = submitted {
        fail(first, e.into());
    }
}

fn main() -> std::process::ExitCode {
    match copy() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("file_copy: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn copy() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (src, dst) = match (args.next(), args.next()) {
        (Some(s), Some(d)) => (s.into(), d.into()),
        _ => {
            let s = std::env::temp_dir().join("auraio-copy-src.bin");
            let data: Vec<u8> = (0..32u32 << 20)
                .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
                .collect();
            std::fs::write(&s, data)?;
            (s, std::env::temp_dir().join("auraio-copy-dst.bin"))
        }
    };
    let src_path: std::path::PathBuf = src;
    let dst_path: std::path::PathBuf = dst;
    let input = std::fs::File::open(&src_path)?;
    let output = std::fs::File::create(&dst_path)?;
    let len = input.metadata()?.len();
    let fds = (input.as_raw_fd(), output.as_raw_fd());

    let engine = Rc::new(LocalEngine::new()?);
    let first: FirstError = Rc::new(RefCell::new(None));
    let start = Instant::now();
    let mut next = 0u64;
    while next < len || engine.pending() > 0 {
        while next < len && engine.pending() < IN_FLIGHT && first.borrow().is_none() {
            let want = CHUNK.min((len - next) as usize);
            copy_range(&engine, fds, next, want, &first);
            next += want as u64;
        }
        if first.borrow().is_some() {
            // Stop issuing; what is in flight still completes (and its buffers come back)
            // before the error is reported.
            next = len;
        }
        engine.wait(Some(Duration::from_secs(5)))?;
    }
    if let Some(e) = first.borrow_mut().take() {
        return Err(e);
    }
    let synced = first.clone();
    engine.fsync(fds.1, move |res, ()| {
        if let Err(e) = res {
            fail(&synced, e);
        }
    })?;
    engine
        .drain(Duration::from_secs(30))
        .map_err(|e| io::Error::new(e.kind(), format!("waiting for fsync: {e}")))?;
    if let Some(e) = first.borrow_mut().take() {
        return Err(io::Error::new(e.kind(), format!("fsync: {e}")));
    }
    let secs = start.elapsed().as_secs_f64();

    if std::fs::read(&src_path)? != std::fs::read(&dst_path)? {
        return Err(io::Error::other("the copy differs from the source"));
    }
    println!(
        "copied {} MiB in {:.1} ms ({:.0} MiB/s), verified",
        len >> 20,
        secs * 1e3,
        len as f64 / secs / 1048576.0
    );
    Ok(())
}
