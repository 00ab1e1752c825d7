//! Heap-owned argument memory of operations: iovec arrays, statx buffers.

use crate::buffer::{IoBuf, IoBufMut};

/// A heap array of iovecs describing an op's own buffers.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct IoVecArray(Box<[libc::iovec]>);

// SAFETY: the iovecs point into buffers owned by the same op, which moves between threads with
// it; the array itself is only read by the kernel.
unsafe impl Send for IoVecArray {}
// SAFETY: shared access never dereferences the pointers.
unsafe impl Sync for IoVecArray {}

impl IoVecArray {
    /// Iovecs covering each buffer's writable bytes (its whole capacity).
    pub(crate) fn for_reading<B: IoBufMut>(bufs: &mut [B]) -> Self {
        IoVecArray(
            bufs.iter_mut()
                .map(|b| libc::iovec {
                    iov_base: b.io_mut_ptr().cast(),
                    iov_len: b.io_capacity(),
                })
                .collect(),
        )
    }

    /// After a scatter read of `n` bytes: the buffers filled in order, each marked initialised
    /// for what it got.
    ///
    /// # Safety
    ///
    /// `n` is the byte count the kernel reported for a read into `bufs` through
    /// [`for_reading`](Self::for_reading)'s iovecs, with the buffers unchanged since.
    pub(crate) unsafe fn complete_reading<B: IoBufMut>(bufs: &mut [B], mut n: usize) {
        for b in bufs {
            let got = n.min(b.io_capacity());
            // SAFETY: the kernel fills the iovecs in order, so this buffer's first `got` bytes
            // were written.
            unsafe { b.set_init(got) };
            n -= got;
            if n == 0 {
                break;
            }
        }
    }

    /// Iovecs covering each buffer's bytes.
    pub(crate) fn for_writing<B: IoBuf>(bufs: &[B]) -> Self {
        IoVecArray(
            bufs.iter()
                .map(|b| libc::iovec {
                    iov_base: b.io_ptr().cast_mut().cast(),
                    iov_len: b.io_len(),
                })
                .collect(),
        )
    }

    pub(crate) fn as_ptr(&self) -> *const libc::iovec {
        self.0.as_ptr()
    }

    /// Number of iovecs; more than the kernel accepts (1024) fails at completion with EINVAL.
    pub(crate) fn count(&self) -> u32 {
        u32::try_from(self.0.len()).unwrap_or(u32::MAX)
    }
}

/// The heap `statx` buffer a statx operation fills.
#[doc(hidden)]
#[derive(Debug)]
pub struct StatxBuf(Box<libc::statx>);

impl Default for StatxBuf {
    fn default() -> Self {
        // SAFETY: `statx` is a plain C struct of integers, for which all-zero is valid.
        StatxBuf(Box::new(unsafe { std::mem::zeroed() }))
    }
}

impl StatxBuf {
    pub(crate) fn as_mut_ptr(&mut self) -> *mut io_uring::types::statx {
        (&mut *self.0 as *mut libc::statx).cast()
    }

    pub(crate) fn into_inner(self) -> Box<libc::statx> {
        self.0
    }
}
