//! The smallest useful program: read a file asynchronously with a single-thread engine.
//!
//! `cargo run --release --example quickstart [FILE]` (default: a file it writes in $TMPDIR).

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::rc::Rc;

fn main() -> std::io::Result<()> {
    let path = match std::env::args().nth(1) {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            let p = std::env::temp_dir().join("auraio-quickstart.txt");
            std::fs::write(&p, b"Hello from io_uring, tuned by auraio.\n")?;
            p
        }
    };
    let file = std::fs::File::open(&path)?;
    let engine = auraio::LocalEngine::new()?;

    let bytes = Rc::new(Cell::new(0usize));
    let b = bytes.clone();
    engine.read(
        file.as_raw_fd(),
        vec![0u8; 4096],
        0,
        move |res, buf| match res {
            Ok(n) => {
                print!("{}", String::from_utf8_lossy(&buf[..n]));
                b.set(n);
            }
            Err(e) => eprintln!("read failed: {e}"),
        },
    )?;
    engine.drain(std::time::Duration::from_secs(5))?;
    println!("read {} bytes from {}", bytes.get(), path.display());
    Ok(())
}
