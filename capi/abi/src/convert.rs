//! From C arguments to an operation's Rust arguments: one conversion per (C type, Rust type)
//! pair, each with the errno the C contract gives for a value it refuses. The generated
//! submission functions (`auraio_macros::c_ops!`) convert every argument an op table entry
//! takes from C through [`FromC`]; which C parameters make which argument is written in the
//! entry's `c` line.

use std::ffi::{c_char, c_int, CStr, CString};

use auraio::lock::LockMode;
use auraio::policy::Policy;
use auraio::tuning::Tuning;
use libc::iovec;

use crate::engine::{CEngine, CFixed, RawBuf};
use crate::types::{aura_buf_t, AURA_BUF_REGISTERED, AURA_BUF_UNREGISTERED};

/// Most iovecs in one readv/writev (the kernel's UIO_MAXIOV).
pub(crate) const IOV_MAX: c_int = 1024;

/// A Rust argument made from C value(s) `C`, for engine `E`, or the errno refusing them.
pub(crate) trait FromC<C, E>: Sized {
    /// Converts.
    ///
    /// # Safety
    ///
    /// Every pointer in `v` is NULL or valid for the access its C parameter documents; memory
    /// an operation will use stays valid until the request's callback.
    unsafe fn from_c(v: C, engine: &E) -> Result<Self, c_int>;
}

impl<E> FromC<c_int, E> for i32 {
    unsafe fn from_c(v: c_int, _: &E) -> Result<Self, c_int> {
        Ok(v)
    }
}

impl<E> FromC<u32, E> for u32 {
    unsafe fn from_c(v: u32, _: &E) -> Result<Self, c_int> {
        Ok(v)
    }
}

/// A file position or length (`off_t`): negative values are refused.
impl<E> FromC<i64, E> for u64 {
    unsafe fn from_c(v: i64, _: &E) -> Result<Self, c_int> {
        u64::try_from(v).map_err(|_| libc::EINVAL)
    }
}

/// A length the SQE carries in 32 bits.
impl<E> FromC<i64, E> for u32 {
    unsafe fn from_c(v: i64, _: &E) -> Result<Self, c_int> {
        u32::try_from(v).map_err(|_| libc::EINVAL)
    }
}

/// A length that must not be zero (`off_t`): `len via positive` in an op table entry.
pub(crate) fn positive(v: i64) -> Result<u64, c_int> {
    match u64::try_from(v) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(libc::EINVAL),
    }
}

/// A path: copied, so the caller's string need not outlive the call.
impl<E> FromC<*const c_char, E> for CString {
    unsafe fn from_c(p: *const c_char, _: &E) -> Result<Self, c_int> {
        if p.is_null() {
            return Err(libc::EINVAL);
        }
        // SAFETY: non-NULL, so per this function's contract a NUL-terminated string.
        Ok(unsafe { CStr::from_ptr(p) }.to_owned())
    }
}

/// `len` bytes of ordinary caller memory (`AURA_BUF_UNREGISTERED`).
impl<E> FromC<(aura_buf_t, usize), E> for RawBuf {
    unsafe fn from_c((buf, len): (aura_buf_t, usize), _: &E) -> Result<Self, c_int> {
        if buf.type_ != AURA_BUF_UNREGISTERED || len == 0 || len > u32::MAX as usize {
            return Err(libc::EINVAL);
        }
        // SAFETY: `type_` says the pointer is the union's active member.
        let ptr = unsafe { buf.u.ptr };
        if ptr.is_null() {
            return Err(libc::EINVAL);
        }
        Ok(RawBuf {
            ptr: ptr.cast(),
            len,
        })
    }
}

/// `len` bytes of a registered buffer (`AURA_BUF_REGISTERED`), checked against the
/// registration of `engine`.
impl<P: Policy, L: LockMode, T: Tuning> FromC<(aura_buf_t, usize), CEngine<P, L, T>> for CFixed<L> {
    unsafe fn from_c((buf, len): (aura_buf_t, usize), c: &CEngine<P, L, T>) -> Result<Self, c_int> {
        if buf.type_ != AURA_BUF_REGISTERED || len == 0 {
            return Err(libc::EINVAL);
        }
        // SAFETY: `type_` says the fixed member is the union's active one.
        let fx = unsafe { buf.u.fixed };
        let index = usize::try_from(fx.index).map_err(|_| libc::EINVAL)?;
        match auraio::raw::fixed_buf(&c.engine, index, fx.offset, len) {
            Ok(b) => Ok(CFixed(b)),
            // The contract's errno for "nothing registered".
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => Err(libc::ENOENT),
            Err(e) => Err(crate::errno_of(&e)),
        }
    }
}

/// An iovec array: each entry's memory becomes one buffer.
impl<E> FromC<(*const iovec, c_int), E> for Vec<RawBuf> {
    unsafe fn from_c((iov, count): (*const iovec, c_int), _: &E) -> Result<Self, c_int> {
        if iov.is_null() || count <= 0 || count > IOV_MAX {
            return Err(libc::EINVAL);
        }
        // SAFETY: non-NULL, so per this function's contract `count` readable iovecs.
        let iovs = unsafe { std::slice::from_raw_parts(iov, count as usize) };
        Ok(iovs
            .iter()
            .map(|v| RawBuf {
                ptr: v.iov_base.cast(),
                len: v.iov_len,
            })
            .collect())
    }
}
