//! A `log` logger for auraio's records: timestamps each line (seconds since start), filters by
//! level and by target, and counts what it kept. auraio logs through the `log` facade; any
//! logger works, this one is a dozen lines.
//!
//! `cargo run --example log_handler [LEVEL]` (default `info`; `debug` shows more).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Timestamped {
    start: Instant,
    level: log::LevelFilter,
    kept: AtomicUsize,
}

impl log::Log for Timestamped {
    fn enabled(&self, m: &log::Metadata) -> bool {
        // auraio's own records, and this program's; a real application filters as it likes.
        m.level() <= self.level && (m.target().starts_with("auraio") || m.target() == "log_handler")
    }

    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            self.kept.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "[{:>9.6} {:<5} {}] {}",
                self.start.elapsed().as_secs_f64(),
                r.level(),
                r.target(),
                r.args()
            );
        }
    }

    fn flush(&self) {}
}

/// A pipe nobody writes to: a read of it waits until cancelled.
fn pipe() -> std::io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two descriptors into the two-element array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just made by pipe2 and are owned by nothing else.
    Ok(unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    })
}

fn main() -> std::io::Result<()> {
    let level = std::env::args()
        .nth(1)
        .map_or(Ok(log::LevelFilter::Info), |l| l.parse())
        .map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("level: {e}"))
        })?;
    let logger: &'static Timestamped = Box::leak(Box::new(Timestamped {
        start: Instant::now(),
        level,
        kept: AtomicUsize::new(0),
    }));
    log::set_logger(logger).expect("the only logger");
    log::set_max_level(level);
    log::info!("application started, auraio {}", env!("CARGO_PKG_VERSION"));

    // The engine logs too: dropped with a read waiting on an empty pipe, it says it cancels it.
    let (rx, _tx) = pipe()?;
    let engine = auraio::LocalEngine::with_options(
        &auraio::Options::new()
            .ring_count(1)
            .drain_timeout(Duration::from_secs(5)),
    )?;
    use std::os::fd::AsRawFd;
    engine.read(rx.as_raw_fd(), vec![0u8; 1], 0, |r, _| {
        log::info!(target: "log_handler", "the stuck read ended: {:?}", r.map_err(|e| e.to_string()));
    })?;
    drop(engine);
    let kept = logger.kept.load(Ordering::Relaxed);
    println!("{kept} log records kept at level {level}");
    if kept < 2 {
        return Err(std::io::Error::other(
            "expected the application's and the engine's records",
        ));
    }
    Ok(())
}
