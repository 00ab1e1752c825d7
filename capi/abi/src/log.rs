//! The process-wide log handler of the C ABI (`aura_set_log_handler`, `aura_log_emit`).
//!
//! `aura_log_emit` is variadic, which stable Rust cannot define: a small C shim built with the
//! library formats the message and calls [`auraio_capi_log_message`].

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::Mutex;

use super::types::aura_log_fn;

/// Log level: error.
pub const ERR: c_int = 3;
/// Log level: warning.
pub const WARN: c_int = 4;
/// Log level: notice.
pub const NOTICE: c_int = 5;
/// Log level: informational.
pub const INFO: c_int = 6;
/// Log level: debug.
pub const DEBUG: c_int = 7;

/// The handler and its userdata (as an address, so the static is `Sync`).
static HANDLER: Mutex<(aura_log_fn, usize)> = Mutex::new((None, 0));

/// Where records also go when `aura_syslog_install` was called.
static SYSLOG: Mutex<Option<auraio::syslog::Syslog>> = Mutex::new(None);

/// Routes the library's `log` records (engine warnings, fatal errors) to the C sinks.
struct CLogger;

impl log::Log for CLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let level = match record.level() {
            log::Level::Error => ERR,
            log::Level::Warn => WARN,
            log::Level::Info => INFO,
            log::Level::Debug | log::Level::Trace => DEBUG,
        };
        emit(level, &record.args().to_string());
    }
    fn flush(&self) {}
}

/// Makes the C sinks the process's `log` logger, once (an embedding Rust program's own
/// logger, installed first, is left alone).
fn route_log_records() {
    static LOGGER: CLogger = CLogger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

/// `aura_syslog_install`.
pub(crate) fn syslog_install(ident: &str, facility: c_int) -> std::io::Result<()> {
    let s = auraio::syslog::Syslog::connect(&auraio::syslog::default_socket(), ident, facility)?;
    *SYSLOG.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
    route_log_records();
    Ok(())
}

/// `aura_syslog_remove`.
pub(crate) fn syslog_remove() {
    *SYSLOG.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// Longest message passed to a handler, in bytes (the C contract's 256-byte buffer).
const MAX_MESSAGE: usize = 255;

thread_local! {
    /// This thread is inside the log handler.
    static IN_HANDLER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Handler calls in progress, by whether they began before the latest handler change, so
/// that a change can wait for the calls of the handler it replaced (and only those).
struct Calls {
    /// (generation of the current handler, calls of it in progress, older calls in progress)
    state: Mutex<(u64, u32, u32)>,
    idle: std::sync::Condvar,
}

static CALLS: Calls = Calls {
    state: Mutex::new((0, 0, 0)),
    idle: std::sync::Condvar::new(),
};

/// Installs (or with `None` removes) the handler. Returns once no other thread is inside a
/// handler installed before (so the old userdata may be freed), except when called from
/// inside a handler, which must not wait for itself or for a peer doing the same.
pub(crate) fn set_handler(handler: aura_log_fn, userdata: *mut c_void) {
    {
        let mut st = CALLS.state.lock().unwrap_or_else(|p| p.into_inner());
        *HANDLER.lock().unwrap_or_else(|p| p.into_inner()) = (handler, userdata as usize);
        st.0 += 1;
        st.2 += st.1;
        st.1 = 0;
        if !IN_HANDLER.with(|h| h.get()) {
            while st.2 > 0 {
                st = CALLS.idle.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        }
    }
    if handler.is_some() {
        route_log_records();
    }
}

/// Passes a NUL-terminated message to the handler, if any. No lock is held during the call,
/// so a handler may log, set or clear the handler, or call into the library without
/// deadlocking; a record a handler emits from inside itself goes to syslog only (delivering it
/// to the handler would recurse without end for a handler that logs every record). Calls from
/// several threads may run at once.
fn deliver(level: c_int, msg: &CStr) {
    if let Some(s) = SYSLOG.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        s.send(level, &msg.to_string_lossy());
    }
    if IN_HANDLER.with(|h| h.get()) {
        return;
    }
    let (generation, f, ud) = {
        let mut st = CALLS.state.lock().unwrap_or_else(|p| p.into_inner());
        let (f, ud) = *HANDLER.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            return;
        }
        st.1 += 1;
        (st.0, f, ud)
    };
    struct Leave(u64);
    impl Drop for Leave {
        fn drop(&mut self) {
            IN_HANDLER.with(|h| h.set(false));
            let mut st = CALLS.state.lock().unwrap_or_else(|p| p.into_inner());
            if st.0 == self.0 {
                st.1 -= 1;
            } else {
                st.2 -= 1;
                if st.2 == 0 {
                    CALLS.idle.notify_all();
                }
            }
        }
    }
    IN_HANDLER.with(|h| h.set(true));
    let _leave = Leave(generation);
    if let Some(f) = f {
        // SAFETY: the handler was installed by the application for exactly this call shape;
        // msg is NUL-terminated and outlives the call.
        unsafe { f(level, msg.as_ptr(), ud as *mut c_void) };
    }
}

/// Logs `msg` through the C handler, truncated to 255 bytes (at a character boundary).
pub fn emit(level: c_int, msg: &str) {
    let mut end = msg.len().min(MAX_MESSAGE);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    let text: String = msg[..end].chars().filter(|&c| c != '\0').collect();
    if let Ok(c) = CString::new(text) {
        deliver(level, &c);
    }
}

/// Entry point of the C shim's `aura_log_emit`: `msg` is already formatted and truncated.
///
/// # Safety
///
/// `msg` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn auraio_capi_log_message(level: c_int, msg: *const c_char) {
    if msg.is_null() {
        return;
    }
    let r = std::panic::catch_unwind(|| {
        // SAFETY: the caller passes a NUL-terminated string.
        deliver(level, unsafe { CStr::from_ptr(msg) });
    });
    drop(r);
}
