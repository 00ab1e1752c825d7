//! The C functions that submit operations (`aura_read` … `aura_sync_file_range`), generated
//! from the op table by `auraio_macros::c_ops!`: each entry's `c` line names its function, its
//! prototype, which C parameters make each of the op's arguments (converted by
//! [`FromC`](crate::convert::FromC)), and, where one C function submits two ops, the
//! condition choosing the second. What they share is written here once.

use std::ffi::{c_int, c_void};
use std::io;
use std::ops::Deref;
use std::os::fd::RawFd;

use auraio::lock::LockMode;
use auraio::op::{self, Op};
use auraio::policy::Policy;
use auraio::tuning::Tuning;

use crate::abi::{fail, Abi};
use crate::engine::CEngine;
use crate::types::{
    aura_callback_t, aura_engine_t, aura_op_type_t, aura_request_t, aura_submit_flags_t,
    AURA_FIXED_FILE,
};

/// A pointer that may cross to the completing thread (the C caller allows it).
struct SendPtr<T>(*mut T);
// SAFETY: the pointee belongs to the C caller, who lets any thread complete its request.
unsafe impl<T> Send for SendPtr<T> {}

impl<P: Policy, L: LockMode, T: Tuning> Abi<P, L, T> {
    /// Submits the op `build` makes from the C arguments: NULL (errno EINVAL) for a NULL
    /// engine, the errno of a refused argument, or the submission's own refusal. `fd` is the
    /// descriptor the request reports (`aura_request_fd`), `kind` its C op type; `finish`
    /// runs on completion before the callback.
    ///
    /// # Safety
    ///
    /// `e` is NULL or a live engine of this preset; what `build` dereferences, and the memory
    /// the op it returns points at, obey the C contract of the submitting function (valid
    /// until the callback).
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn submit_op<O: Op + Send>(
        e: *mut aura_engine_t,
        fd: c_int,
        kind: aura_op_type_t,
        cb: aura_callback_t,
        ud: *mut c_void,
        build: impl FnOnce(&CEngine<P, L, T>) -> Result<O, c_int>,
        finish: impl FnOnce(&io::Result<usize>, O::Output) + Send + 'static,
    ) -> *mut aura_request_t {
        // SAFETY: per the caller, `e` is NULL or a live engine of this preset.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, std::ptr::null_mut());
        };
        match build(c) {
            // SAFETY: per the caller, the op's memory stays valid until the callback, and
            // `finish` writes only memory the caller keeps valid as long.
            Ok(op) => unsafe { c.submit(op, fd, kind, cb, ud, finish) },
            Err(errno) => fail(errno, std::ptr::null_mut()),
        }
    }

    /// A descriptor argument: `fd` itself, or with `AURA_FIXED_FILE` in `flags` the
    /// registered-file slot it numbers; `AT_FDCWD` too where `dir` (a directory argument).
    pub(crate) fn fd_arg(fd: c_int, flags: aura_submit_flags_t, dir: bool) -> Result<RawFd, c_int> {
        if (fd < 0 && !(dir && fd == libc::AT_FDCWD)) || flags & !AURA_FIXED_FILE != 0 {
            return Err(libc::EINVAL);
        }
        if flags & AURA_FIXED_FILE == 0 {
            return Ok(fd);
        }
        match u32::try_from(fd) {
            Ok(slot) if slot <= op::MAX_DIRECT_SLOT => Ok(op::direct(slot)),
            _ => Err(libc::EINVAL),
        }
    }

    /// The completion hook of an op whose output the C caller receives through a pointer
    /// argument: on success the output is copied to `dst`, before the callback runs. NULL
    /// `dst` is refused (EINVAL).
    ///
    /// # Safety
    ///
    /// `dst` is NULL or valid for writes of a `V` until the request's callback has run.
    pub(crate) unsafe fn copy_out<V: Copy + 'static, B: Deref<Target = V>>(
        dst: *mut V,
    ) -> Result<impl FnOnce(&io::Result<usize>, B) + Send + 'static, c_int> {
        if dst.is_null() {
            return Err(libc::EINVAL);
        }
        let dst = SendPtr(dst);
        Ok(move |res: &io::Result<usize>, out: B| {
            let dst = dst;
            if res.is_ok() {
                // SAFETY: non-NULL, so per copy_out's contract writable until the callback,
                // which has not run yet.
                unsafe { *dst.0 = *out };
            }
        })
    }
}

/// The completion hook of ops with nothing to copy out.
pub(crate) fn nop<T>(_: &io::Result<usize>, _: T) {}

auraio_macros::c_ops!();
