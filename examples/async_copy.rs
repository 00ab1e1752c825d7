//! Copies a file with tokio and auraio futures, N reads in flight, and verifies the copy by
//! checksum.
//!
//! `cargo run --release --features tokio --example async_copy [SRC DST]` (default: a 64 MiB
//! file it makes in $TMPDIR).
//!
//! A failing read or write ends the copy with that error (exit status 1); a short read is
//! followed by a read of the rest.

use std::os::fd::AsRawFd;

use auraio::IoBuf;
use std::sync::Arc;
use std::time::Instant;

const CHUNK: usize = 256 << 10;
const IN_FLIGHT: usize = 16;

/// `e` with the operation and offset it struck.
fn at(op: &str, off: u64, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{op} at {off}: {e}"))
}

/// A read's byte count; an error, or 0 before the source's end, fails the copy.
fn read_count(r: std::io::Result<usize>, off: u64) -> std::io::Result<usize> {
    match r {
        Ok(0) => Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("source ended at {off}, before its length"),
        )),
        Ok(n) => Ok(n),
        Err(e) => Err(at("read", off, e)),
    }
}

fn checksum(path: &std::path::Path) -> std::io::Result<u64> {
    // FNV-1a over the file: enough to tell a faithful copy from a broken one.
    Ok(std::fs::read(path)?
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    match copy().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("async_copy: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn copy() -> std::io::Result<()> {
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
    // Set by the first task that fails: the others stop at their next chunk.
    let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (e, i, o, next) = (engine.clone(), input.clone(), output.clone(), next.clone());
            let failed = failed.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; CHUNK];
                let copied = async {
                    loop {
                        let off =
                            next.fetch_add(CHUNK as u64, std::sync::atomic::Ordering::Relaxed);
                        if off >= len || failed.load(std::sync::atomic::Ordering::Relaxed) {
                            return Ok::<_, std::io::Error>(());
                        }
                        let want = CHUNK.min((len - off) as usize);
                        // A read fills the buffer's capacity: the slice keeps it to this chunk.
                        buf.clear();
                        let (r, b) = e.read_at(i.as_raw_fd(), buf.slice(..want), off).await;
                        let mut b = b.into_inner();
                        let mut got = read_count(r, off)?;
                        // A short read is followed by a read of the rest: the chunk is whole, or
                        // the copy fails with the reason.
                        while got < want {
                            let at = off + got as u64;
                            let (r, rest) =
                                e.read_at(i.as_raw_fd(), vec![0u8; want - got], at).await;
                            let n = read_count(r, at)?;
                            b.extend_from_slice(&rest[..n]);
                            got += n;
                        }
                        let (w, b) = e.write_at(o.as_raw_fd(), b, off).await;
                        let w = w.map_err(|e| at("write", off, e))?;
                        if w != b.len() {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::WriteZero,
                                format!("short write at {off}: {w} of {} bytes", b.len()),
                            ));
                        }
                        buf = b;
                    }
                }
                .await;
                if copied.is_err() {
                    failed.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                copied
            })
        })
        .collect();
    // Every task runs to its end (a failing one stops only itself), so no request is left in
    // flight when the first error is reported.
    let mut first = None;
    for w in workers {
        if let Err(e) = w.await.map_err(std::io::Error::other).and_then(|r| r) {
            first.get_or_insert(e);
        }
    }
    if let Some(e) = first {
        return Err(e);
    }
    let (r, ()) = engine.sync_all(output.as_raw_fd()).await;
    r.map_err(|e| std::io::Error::new(e.kind(), format!("fsync: {e}")))?;
    let secs = start.elapsed().as_secs_f64();
    drop(driver);

    let (a, b) = (checksum(&src)?, checksum(&dst)?);
    if a != b {
        return Err(std::io::Error::other(format!(
            "the copy differs from the source: checksums {a:016x} and {b:016x}"
        )));
    }
    println!(
        "copied {} MiB in {:.1} ms ({:.0} MiB/s) with {IN_FLIGHT} reads in flight; checksum {a:016x} verified",
        len >> 20,
        secs * 1e3,
        len as f64 / secs / 1048576.0
    );
    Ok(())
}
