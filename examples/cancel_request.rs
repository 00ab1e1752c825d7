//! Cancelling a request that cannot finish by itself: a read from an empty pipe.
//!
//! `cargo run --release --example cancel_request`

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let engine = auraio::LocalEngine::new()?;
    let outcome = Rc::new(RefCell::new(None));
    let o = outcome.clone();
    let id = engine.read(fds[0], vec![0u8; 64], u64::MAX, move |res, buf| {
        *o.borrow_mut() = Some((res.map_err(|e| e.to_string()), buf.len()));
    })?;
    engine.poll()?;
    println!("read submitted; pending: {}", engine.is_pending(id));

    let start = Instant::now();
    engine.cancel(id)?;
    while outcome.borrow().is_none() {
        engine.wait(Some(Duration::from_secs(1)))?;
    }
    let (res, len) = outcome.borrow_mut().take().expect("callback ran");
    println!(
        "cancelled in {:.1} µs: {res:?}, buffer of {len} bytes handed back",
        start.elapsed().as_secs_f64() * 1e6
    );
    assert!(res.is_err(), "the read was cancelled");

    // The id is spent now: cancelling it again is a clear error, not a crash.
    let again = engine.cancel(id).unwrap_err();
    println!("second cancel -> {again}");
    // SAFETY: closing the pipe this program opened.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    Ok(())
}
