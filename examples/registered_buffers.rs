//! Zero-copy-style I/O with registered buffers: register once, lease slices, read and write
//! with the fixed opcodes, then unregister (deferred until every lease is back).
//!
//! `cargo run --release --example registered_buffers`

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const BUFS: usize = 8;
const SIZE: usize = 64 << 10;

fn main() -> std::io::Result<()> {
    let path = std::env::temp_dir().join("auraio-registered.bin");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    let fd = file.as_raw_fd();
    let engine = auraio::LocalEngine::new()?;
    let bufs = (0..BUFS)
        .map(|_| auraio::AlignedBuf::zeroed(SIZE))
        .collect::<std::io::Result<Vec<_>>>()?;
    engine.register_buffers(bufs)?;

    let start = Instant::now();
    // Write: fill each registered buffer through its lease, then write_fixed it.
    for i in 0..BUFS {
        let mut lease = engine.fixed_buf(i, 0, SIZE)?;
        lease.fill(i as u8 + 1);
        engine.write_fixed(fd, lease, (i * SIZE) as u64, |r, _| {
            assert_eq!(r.expect("write_fixed"), SIZE);
        })?;
    }
    engine.drain(Duration::from_secs(10))?;
    // Read back into the same registered memory.
    for i in 0..BUFS {
        let lease = engine.fixed_buf(i, 0, SIZE)?;
        engine.read_fixed(fd, lease, (i * SIZE) as u64, move |r, lease| {
            assert_eq!(r.expect("read_fixed"), SIZE);
            assert!(
                lease.iter().all(|&b| b == i as u8 + 1),
                "buffer {i} verified"
            );
        })?;
    }
    engine.drain(Duration::from_secs(10))?;
    let secs = start.elapsed().as_secs_f64();

    // Out-of-bounds slices are refused before anything is submitted.
    let err = engine.fixed_buf(0, SIZE, 1).unwrap_err();
    println!("slice past the end -> {err}");

    engine.unregister_buffers()?;
    println!(
        "wrote and verified {} KiB through {BUFS} registered buffers in {:.2} ms",
        BUFS * SIZE / 1024,
        secs * 1e3
    );
    std::fs::remove_file(path)
}
