//! The C ABI's implementation, shared by the C libraries: built on `auraio`'s public API and
//! its [`auraio::raw`] surface alone (the core crate knows nothing of C).
//!
//! The exported `extern "C"` functions are generated per engine preset by
//! `auraio_macros::c_abi!`, which forwards each to the method of the same name on
//! [`Abi<P, L, T>`]; the crate `capi/` builds `libauraio` that way over all six presets
//! (every policy in both lock modes: `aura_create_with_options` picks one from `ring_select`
//! and `single_thread`, and each later call dispatches once on the handle's preset tag) and
//! `libauraio_local` over CpuLocal/SingleThread alone. This crate holds what every preset
//! shares: the C-side engine (request handles, registered user memory, managed buffers), the
//! errno conventions, the process-wide log handler, and the panic guard.
//!
//! Request handles: each submission takes an `aura_request_t` from the engine's free list.
//! The handle is referenced twice, by the submitting call (until it has stored the request
//! id) and by the completion (until the C callback has returned); whichever lets go last puts
//! it back. So the handle stays valid while the callback runs, and a submission racing with
//! its own completion on another thread never writes into a recycled handle.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod abi;
mod convert;
mod engine;
pub mod log;
mod ops;
pub mod types;

// The generated C types name this crate by its path, as the library crates do.
extern crate self as auraio_capi_abi;

/// What `auraio_macros::c_abi!`'s expansions name, by absolute path through this crate (the
/// op table, the built-in policies and lock modes, the default tuning), so a library crate
/// needs only this crate and `auraio-macros`. Not an API.
#[doc(hidden)]
pub mod __private {
    pub use auraio::__op_table;
    pub use auraio::lock::LockMode;
    pub use auraio::op;
    pub use auraio::policy::Policy;
    pub use auraio::tuning::Tuning;
    pub use auraio::{Adaptive, CpuLocal, DefaultTuning, MultiThread, RoundRobin, SingleThread};
}

use std::any::Any;
use std::ffi::c_int;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use abi::Abi;

/// The tag of the preset that made a handle (an engine or a request of a multi-preset
/// library); `u32::MAX` for NULL.
///
/// # Safety
///
/// `h` is NULL or a live engine or request handle of this library: every such handle is a
/// `#[repr(C)]` value whose first field is its preset's tag (a `u32`).
#[inline]
pub unsafe fn preset_tag(h: *const std::ffi::c_void) -> u32 {
    if h.is_null() {
        return u32::MAX;
    }
    // SAFETY: per the caller, `h` points at a live handle whose first field is the u32 tag,
    // which is written once, before the handle is returned to C, and never again.
    unsafe { *h.cast::<u32>() }
}

/// The options' choice of preset: (`ring_select`, `single_thread`); the defaults' for NULL or
/// a struct of another size (which `aura_create_with_options` then refuses).
///
/// # Safety
///
/// `o` is NULL or points at a readable `aura_options_t` (the C contract).
pub unsafe fn preset_key(o: *const types::aura_options_t) -> (c_int, bool) {
    // SAFETY: per the caller.
    match unsafe { o.as_ref() } {
        Some(o) if o.struct_size == std::mem::size_of::<types::aura_options_t>() => {
            (o.ring_select, o.single_thread)
        }
        _ => (types::AURA_SELECT_ADAPTIVE, false),
    }
}

/// Sets the calling thread's `errno`.
pub(crate) fn set_errno(e: c_int) {
    // SAFETY: __errno_location returns the calling thread's errno slot, valid for its life.
    unsafe { *libc::__errno_location() = e };
}

/// The errno an `io::Error` stands for.
pub(crate) fn errno_of(e: &io::Error) -> c_int {
    if let Some(n) = e.raw_os_error() {
        return n;
    }
    match e.kind() {
        io::ErrorKind::InvalidInput => libc::EINVAL,
        io::ErrorKind::TimedOut => libc::ETIMEDOUT,
        io::ErrorKind::Deadlock => libc::EDEADLK,
        io::ErrorKind::OutOfMemory => libc::ENOMEM,
        io::ErrorKind::NotFound => libc::ENOENT,
        io::ErrorKind::Unsupported => libc::EOPNOTSUPP,
        _ => libc::EIO,
    }
}

/// What a C function returns when its Rust body panicked (with `errno` = `EIO` where the
/// function reports errors through errno).
pub trait AbiReturn {
    /// The failure value.
    fn on_panic() -> Self;
}

impl AbiReturn for () {
    fn on_panic() {}
}
impl AbiReturn for c_int {
    fn on_panic() -> Self {
        -1
    }
}
impl AbiReturn for bool {
    fn on_panic() -> Self {
        false
    }
}
impl AbiReturn for f64 {
    fn on_panic() -> Self {
        -1.0
    }
}
impl<T> AbiReturn for *mut T {
    fn on_panic() -> Self {
        std::ptr::null_mut()
    }
}
impl<T> AbiReturn for *const T {
    fn on_panic() -> Self {
        std::ptr::null()
    }
}

fn panic_message(p: &(dyn Any + Send)) -> &str {
    p.downcast_ref::<&str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Runs a C function's body; a panic does not cross the boundary: it is logged at `ERR`
/// level and turned into the function's failure value with `errno` = `EIO`.
#[inline]
pub fn guard<R: AbiReturn>(name: &str, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            log::emit(
                log::ERR,
                &format!("auraio: {name} panicked: {}", panic_message(&*p)),
            );
            set_errno(libc::EIO);
            R::on_panic()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static LOGGED: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn count(
        level: c_int,
        msg: *const std::ffi::c_char,
        _: *mut std::ffi::c_void,
    ) {
        // SAFETY: the library passes a NUL-terminated message.
        let m = unsafe { std::ffi::CStr::from_ptr(msg) }.to_string_lossy();
        if level == log::ERR && m.contains("aura_test panicked: boom") {
            LOGGED.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_panic_becomes_the_failure_value_with_eio_and_a_log_record() {
        log::set_handler(Some(count), std::ptr::null_mut());
        set_errno(0);
        let r: c_int = guard("aura_test", || panic!("boom"));
        // SAFETY: reading this thread's errno.
        let errno = unsafe { *libc::__errno_location() };
        assert_eq!((r, errno), (-1, libc::EIO));
        let p: *mut u8 = guard("aura_test", || panic!("boom"));
        assert!(p.is_null());
        assert!(!guard("aura_test", || -> bool { panic!("boom") }));
        assert_eq!(guard("aura_test", || 7), 7);
        log::set_handler(None, std::ptr::null_mut());
        assert_eq!(LOGGED.load(Ordering::SeqCst), 3);
    }
}
