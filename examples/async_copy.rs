//! Copies a file with tokio and auraio futures, N reads in flight, and verifies the copy by
//! checksum.
//!
//! `cargo run --release --features tokio --example async_copy [SRC DST]` (default: a 64 MiB
//! file it makes in $TMPDIR).

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

const CHUNK: usize = 256 << 10;
const IN_FLIGHT: usize = 16;

fn checksum(path: &std::path::Path) -> std::io::Result<u64> {
    // FNV-1a over the file: enough to tell a faithful copy from a broken one.
    Ok(std::fs::read(path)?
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (src, dst) = match (args.next(), args.next()) {
        (Some(s), Some(d)) => (s.into(), d.into()),
        _ => {
            let s = std::env::temp_dir().join("auraio-async-copy-src.bin");
            let data: Vec<u8> = (0..64u32 << 20)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            std::fs::write(&s, data)?;
            (s, std::env::temp_dir().join("auraio-async-copy-dst.bin"))
        }
    };
    let (src, dst): (std::path::PathBuf, std::path::PathBuf) = (src, dst);
    let input = Arc::new(std::fs::File::open(&src)?);
    let output = Arc::new(std::fs::File::create(&dst)?);
    let len = input.metadata()?.len();

    let engine = Arc::new(auraio::SharedEngine::new()?);
    let driver = auraio::tokio::Driver::spawn(engine.clone());

    let start = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (e, i, o, next) = (engine.clone(), input.clone(), output.clone(), next.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; CHUNK];
                loop {
                    let off = next.fetch_add(CHUNK as u64, std::sync::atomic::Ordering::Relaxed);
                    if off >= len {
                        return Ok::<_, std::io::Error>(());
                    }
                    buf.resize(CHUNK, 0);
                    let (r, mut b) = e.read_at(i.as_raw_fd(), buf, off).await;
                    b.truncate(r?);
                    let (w, b) = e.write_at(o.as_raw_fd(), b, off).await;
                    assert_eq!(w?, b.len(), "short write");
                    buf = b;
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("copy task")?;
    }
    let (r, ()) = engine.sync_all(output.as_raw_fd()).await;
    r?;
    let secs = start.elapsed().as_secs_f64();
    drop(driver);

    let (a, b) = (checksum(&src)?, checksum(&dst)?);
    assert_eq!(a, b, "checksums differ");
    println!(
        "copied {} MiB in {:.1} ms ({:.0} MiB/s) with {IN_FLIGHT} reads in flight; checksum {a:016x} verified",
        len >> 20,
        secs * 1e3,
        len as f64 / secs / 1048576.0
    );
    Ok(())
}
