//! Reads a whole file in 64 KiB chunks with many requests in flight, then prints the engine's
//! statistics.
//!
//! `cargo run --release --example simple_read [FILE]` (default: a 16 MiB file in $TMPDIR).

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

const CHUNK: usize = 64 << 10;

fn main() -> std::io::Result<()> {
    let path = match std::env::args().nth(1) {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            let p = std::env::temp_dir().join("auraio-simple-read.bin");
            std::fs::write(&p, vec![0x5Au8; 16 << 20])?;
            p
        }
    };
    let file = std::fs::File::open(&path)?;
    let len = file.metadata()?.len();
    let engine = auraio::LocalEngine::new()?;

    let total = Rc::new(Cell::new(0u64));
    let errors = Rc::new(Cell::new(0u32));
    let start = Instant::now();
    let mut offset = 0;
    while offset < len {
        let (t, e) = (total.clone(), errors.clone());
        engine.read(
            file.as_raw_fd(),
            vec![0u8; CHUNK],
            offset,
            move |res, _buf| match res {
                Ok(n) => t.set(t.get() + n as u64),
                Err(_) => e.set(e.get() + 1),
            },
        )?;
        offset += CHUNK as u64;
    }
    engine.drain(Duration::from_secs(30))?;
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(total.get(), len, "every byte read");
    assert_eq!(errors.get(), 0);

    let st = engine.stats();
    println!("file            {}", path.display());
    println!(
        "bytes read      {} in {:.1} ms ({:.0} MiB/s)",
        total.get(),
        secs * 1e3,
        total.get() as f64 / secs / 1048576.0
    );
    println!("ops completed   {}", st.ops_completed);
    for (i, r) in st.rings.iter().enumerate() {
        println!(
            "ring {i}: limit {} peak in-flight {} batch {} submits {} ({:.1} SQEs each) features {:?}",
            r.in_flight_limit,
            r.peak_in_flight,
            r.batch_threshold,
            r.submit_calls,
            r.sqes_submitted as f64 / r.submit_calls.max(1) as f64,
            r.features
        );
    }
    Ok(())
}
