//! Buffered versus O_DIRECT writes of the same data, with fsync and fdatasync, timed.
//!
//! `cargo run --release --example write_modes [DIR]` (default: $TMPDIR; O_DIRECT needs a
//! file system that supports it, such as ext4, xfs or tmpfs on Linux 6.6+).

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::rc::Rc;
use std::time::{Duration, Instant};

const BLOCK: usize = 64 << 10;
const BLOCKS: u64 = 128;

fn run(dir: &std::path::Path, direct: bool) -> std::io::Result<()> {
    let path = dir.join(format!(
        "auraio-write-modes-{}.bin",
        if direct { "direct" } else { "buffered" }
    ));
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create(true).truncate(true);
    if direct {
        o.custom_flags(libc::O_DIRECT);
    }
    let file = o.open(&path)?;
    let fd = file.as_raw_fd();
    let engine = auraio::LocalEngine::new()?;
    let written = Rc::new(Cell::new(0u64));
    let start = Instant::now();
    for i in 0..BLOCKS {
        let mut buf = auraio::AlignedBuf::new(BLOCK, engine.buffer_alignment())?;
        buf.fill(i as u8);
        let w = written.clone();
        engine.write(fd, buf, i * BLOCK as u64, move |res, _| {
            w.set(w.get() + res.expect("write") as u64)
        })?;
    }
    engine.drain(Duration::from_secs(30))?;
    let write_time = start.elapsed();
    engine.fdatasync(fd, |res, ()| res.map(drop).expect("fdatasync"))?;
    engine.drain(Duration::from_secs(30))?;
    engine.fsync(fd, |res, ()| res.map(drop).expect("fsync"))?;
    engine.drain(Duration::from_secs(30))?;
    let total = start.elapsed();

    assert_eq!(written.get(), BLOCKS * BLOCK as u64);
    let back = std::fs::read(&path)?;
    for i in 0..BLOCKS as usize {
        assert!(
            back[i * BLOCK..(i + 1) * BLOCK]
                .iter()
                .all(|&b| b == i as u8),
            "block {i}"
        );
    }
    println!(
        "{:<9} {} MiB written in {:>7.2} ms, durable after {:>7.2} ms",
        if direct { "O_DIRECT" } else { "buffered" },
        written.get() >> 20,
        write_time.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3
    );
    std::fs::remove_file(path)
}

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    run(&dir, false)?;
    match run(&dir, true) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            println!("O_DIRECT   not supported on {}: {e}", dir.display())
        }
        r => r?,
    }
    Ok(())
}
