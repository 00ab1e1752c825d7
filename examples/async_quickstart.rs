//! Futures without any runtime crate: a ten-line `block_on` from the standard library drives
//! auraio's futures, which poll the engine themselves while pending.
//!
//! `cargo run --release --example async_quickstart`

use std::future::Future;
use std::os::fd::AsRawFd;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Runs a future to completion on this thread, parking while it is pending.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

fn main() -> std::io::Result<()> {
    let path = std::env::temp_dir().join("auraio-async-quickstart.txt");
    std::fs::write(&path, b"read by a future, with no runtime crate\n")?;
    let file = std::fs::File::open(&path)?;
    let engine = auraio::LocalEngine::new()?;

    let (res, buf) = block_on(engine.read_at(file.as_raw_fd(), vec![0u8; 128], 0));
    let n = res?;
    print!("{}", String::from_utf8_lossy(&buf[..n]));

    // Several at once: submitted together, awaited in turn.
    let a = engine.read_at(file.as_raw_fd(), vec![0u8; 4], 0);
    let b = engine.read_at(file.as_raw_fd(), vec![0u8; 6], 5);
    let ((ra, a), (rb, b)) = block_on(async { (a.await, b.await) });
    println!(
        "{:?} {:?}",
        String::from_utf8_lossy(&a[..ra?]),
        String::from_utf8_lossy(&b[..rb?])
    );
    std::fs::remove_file(path)
}
