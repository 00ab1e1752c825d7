//! The engine's log records (and the application's) forwarded to syslog.
//!
//! `cargo run --features syslog --example syslog [-- --system]`: by default the records go to
//! a socket of this program's own (through `$AURAIO_SYSLOG_SOCKET`), which prints what a syslog
//! daemon would receive; `--system` forwards to this system's `/dev/log`.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

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
    let system = std::env::args().nth(1).as_deref() == Some("--system");
    let path =
        std::env::temp_dir().join(format!("auraio-syslog-example-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    // A stand-in for the syslog daemon, unless the system's is wanted.
    let daemon = if system {
        None
    } else {
        let s = UnixDatagram::bind(&path)?;
        s.set_read_timeout(Some(Duration::from_millis(200)))?;
        // Set before any other thread exists (the engine's are made below).
        std::env::set_var("AURAIO_SYSLOG_SOCKET", &path);
        Some(s)
    };
    auraio::syslog::SyslogLogger::install("syslog_example", libc::LOG_LOCAL0)?;
    log::set_max_level(log::LevelFilter::Info);
    log::warn!("application started");
    // The engine's own record: dropped with a read stuck on an empty pipe, it cancels it.
    let (rx, _tx) = pipe()?;
    let engine = auraio::LocalEngine::with_options(&auraio::Options::new().ring_count(1))?;
    engine.read(rx.as_raw_fd(), vec![0u8; 1], 0, |_, _| {})?;
    drop(engine);
    let Some(daemon) = daemon else {
        println!("forwarded to /dev/log (journalctl -t syslog_example)");
        return Ok(());
    };
    let mut received = 0;
    let mut buf = [0u8; 512];
    while let Ok(n) = daemon.recv(&mut buf) {
        println!("syslog received: {}", String::from_utf8_lossy(&buf[..n]));
        received += 1;
    }
    let _ = std::fs::remove_file(&path);
    if received < 2 {
        return Err(std::io::Error::other(
            "expected the application's and the engine's records",
        ));
    }
    Ok(())
}
