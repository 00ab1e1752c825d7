//! Copies a file with reads and writes in flight together, then verifies the copy.
//!
//! `cargo run --release --example file_copy [SRC DST]` (default: copies a 32 MiB file it makes).

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

const CHUNK: usize = 256 << 10;
const IN_FLIGHT: u64 = 16;

fn main() -> std::io::Result<()> {
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
    let (rfd, wfd) = (input.as_raw_fd(), output.as_raw_fd());

    let engine = Rc::new(auraio::LocalEngine::new()?);
    let error: Rc<RefCell<Option<std::io::Error>>> = Rc::new(RefCell::new(None));
    let start = Instant::now();
    let mut next = 0u64;
    // Each chunk: read, then from the read's callback, write what was read.
    while next < len || engine.pending() > 0 {
        while next < len && engine.pending() < IN_FLIGHT {
            let (e2, err) = (engine.clone(), error.clone());
            let off = next;
            engine.read(rfd, vec![0u8; CHUNK], off, move |res, mut buf| match res {
                Ok(n) => {
                    buf.truncate(n);
                    let err2 = err.clone();
                    if let Err(e) = e2.write(wfd, buf, off, move |res, _| {
                        if let Err(e) = res {
                            err2.borrow_mut().get_or_insert(e);
                        }
                    }) {
                        err.borrow_mut().get_or_insert(e.into());
                    }
                }
                Err(e) => {
                    err.borrow_mut().get_or_insert(e);
                }
            })?;
            next += CHUNK as u64;
        }
        engine.wait(Some(Duration::from_secs(5)))?;
        if let Some(e) = error.borrow_mut().take() {
            return Err(e);
        }
    }
    engine.fsync(wfd, |res, ()| res.map(drop).expect("fsync"))?;
    engine.drain(Duration::from_secs(30))?;
    let secs = start.elapsed().as_secs_f64();

    let (a, b) = (std::fs::read(&src_path)?, std::fs::read(&dst_path)?);
    assert!(a == b, "copy differs from source");
    println!(
        "copied {} MiB in {:.1} ms ({:.0} MiB/s), verified",
        len >> 20,
        secs * 1e3,
        len as f64 / secs / 1048576.0
    );
    Ok(())
}
