//! Forwarding log records to syslog (feature `syslog`): RFC 3164 datagrams
//! (`<PRI>Mmm dd hh:mm:ss ident[pid]: message`) on the local syslog socket, `/dev/log`
//! (or `$AURAIO_SYSLOG_SOCKET`, for tests and containers).
//!
//! Written here rather than with a syslog crate: the whole protocol is the one format line
//! below over a Unix datagram socket.
//!
//! ```no_run
//! auraio::syslog::SyslogLogger::install("myapp", libc::LOG_DAEMON)?;
//! log::warn!("disk is slow"); // now also in syslog
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A connection to the syslog socket with an ident and a facility.
#[derive(Debug)]
pub struct Syslog {
    sock: UnixDatagram,
    ident: String,
    facility: i32,
}

/// The socket syslog listens on: `$AURAIO_SYSLOG_SOCKET`, else `/dev/log`.
pub fn default_socket() -> PathBuf {
    std::env::var_os("AURAIO_SYSLOG_SOCKET")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/log"))
}

/// The syslog severity of a `log` level.
pub fn severity(level: log::Level) -> i32 {
    match level {
        log::Level::Error => libc::LOG_ERR,
        log::Level::Warn => libc::LOG_WARNING,
        log::Level::Info => libc::LOG_INFO,
        log::Level::Debug | log::Level::Trace => libc::LOG_DEBUG,
    }
}

impl Syslog {
    /// Connects to `socket`. `facility` is a `LOG_*` facility of `<syslog.h>` (`LOG_USER`,
    /// `LOG_DAEMON`, `LOG_LOCAL0` …).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a facility that is not one, or an ident with a NUL or longer than
    /// 48 bytes; the socket's error if it cannot be reached.
    pub fn connect(socket: &Path, ident: &str, facility: i32) -> io::Result<Self> {
        if facility & 7 != 0 || !(0..24).contains(&(facility >> 3)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("auraio: syslog facility {facility} is not a LOG_* facility"),
            ));
        }
        if ident.len() > 48 || ident.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "auraio: syslog ident longer than 48 bytes or with a NUL",
            ));
        }
        let sock = UnixDatagram::unbound()?;
        sock.connect(socket)?;
        Ok(Syslog {
            sock,
            ident: ident.to_string(),
            facility,
        })
    }

    /// Sends one record with a `LOG_*` severity (0-7); best effort, as syslog(3) is.
    pub fn send(&self, severity: i32, msg: &str) {
        let pri = self.facility | (severity & 7);
        let _ = self
            .sock
            .send(format_record(pri, &self.ident, msg).as_bytes());
    }
}

/// One RFC 3164 record.
fn format_record(pri: i32, ident: &str, msg: &str) -> String {
    // SAFETY: time(NULL) and localtime_r into a zeroed tm have no other preconditions.
    let tm = unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "<{pri}>{} {:2} {:02}:{:02}:{:02} {ident}[{}]: {msg}",
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        std::process::id()
    )
}

/// A `log` logger that forwards every record to syslog.
#[derive(Debug)]
pub struct SyslogLogger {
    out: Mutex<Syslog>,
}

impl SyslogLogger {
    /// A logger over a connection.
    pub fn new(syslog: Syslog) -> Self {
        SyslogLogger {
            out: Mutex::new(syslog),
        }
    }

    /// Connects to [`default_socket`] and makes this the process's `log` logger.
    ///
    /// # Errors
    ///
    /// As for [`Syslog::connect`]; `AlreadyExists` if the process has a logger already.
    pub fn install(ident: &str, facility: i32) -> io::Result<()> {
        let s = Syslog::connect(&default_socket(), ident, facility)?;
        log::set_boxed_logger(Box::new(SyslogLogger::new(s)))
            .map_err(|_| io::Error::new(io::ErrorKind::AlreadyExists, "a logger is installed"))?;
        log::set_max_level(log::LevelFilter::Info);
        Ok(())
    }
}

impl log::Log for SyslogLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        out.send(severity(record.level()), &record.args().to_string());
    }
    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Log;

    #[test]
    fn a_listener_receives_the_record_with_priority_and_ident() {
        let dir = std::env::temp_dir().join(format!("auraio-syslog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        let logger =
            SyslogLogger::new(Syslog::connect(&path, "auratest", libc::LOG_LOCAL3).unwrap());
        logger.log(
            &log::Record::builder()
                .level(log::Level::Warn)
                .args(format_args!("ring {} is slow", 2))
                .build(),
        );
        let mut buf = [0u8; 512];
        let n = listener.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        let pri = libc::LOG_LOCAL3 | libc::LOG_WARNING;
        assert!(got.starts_with(&format!("<{pri}>")), "{got}");
        assert!(
            got.ends_with(&format!(
                " auratest[{}]: ring 2 is slow",
                std::process::id()
            )),
            "{got}"
        );
        assert!(
            Syslog::connect(&path, "x", 5).is_err(),
            "5 is not a facility"
        );
        assert!(Syslog::connect(&dir.join("none"), "x", libc::LOG_USER).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
