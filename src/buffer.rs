//! Buffers the kernel reads from or writes into.
//!
//! An operation takes its buffer by value and hands it back to the callback, so the engine owns
//! it for exactly as long as the kernel may touch it. Two traits say what a buffer must
//! guarantee: [`IoBuf`] (the kernel reads from it: writes) and [`IoBufMut`] (the kernel writes
//! into it: reads). They are implemented for `Vec<u8>`, `Box<[u8]>` and [`AlignedBuf`], the
//! crate's aligned buffer for `O_DIRECT`.
//!
//! A read fills `buf[..len]` of the buffer's initialised length; the callback's byte count says
//! how much of it the kernel wrote (short at end of file).

use std::alloc::{self, Layout};
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// A buffer the kernel may read `io_len()` bytes from.
///
/// # Safety
///
/// Implementors promise that `io_ptr()` is valid for reads of `io_len()` bytes, and that the
/// pointer and length stay the same, and the memory stays allocated, while the value lives, even
/// when the value itself is moved (the bytes live on the heap, not inline). The engine moves a
/// buffer into its request slot after the kernel has been given the pointer.
pub unsafe trait IoBuf: 'static {
    /// Start of the bytes.
    fn io_ptr(&self) -> *const u8;
    /// Number of bytes.
    fn io_len(&self) -> usize;
}

/// A buffer the kernel may write `io_len()` bytes into.
///
/// # Safety
///
/// As for [`IoBuf`], and `io_mut_ptr()` is valid for writes of `io_len()` bytes, with no other
/// reference to those bytes alive while the engine owns the buffer.
pub unsafe trait IoBufMut: IoBuf {
    /// Start of the writable bytes.
    fn io_mut_ptr(&mut self) -> *mut u8;
}

// SAFETY: a Vec's bytes live in its heap allocation, which moving the Vec does not move; the
// engine owns the Vec, so nothing can resize it while the kernel uses it.
unsafe impl IoBuf for Vec<u8> {
    fn io_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn io_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: as for `IoBuf`; `as_mut_ptr` covers the `len()` initialised bytes.
unsafe impl IoBufMut for Vec<u8> {
    fn io_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
}

// SAFETY: a boxed slice's bytes live on the heap and its length is fixed.
unsafe impl IoBuf for Box<[u8]> {
    fn io_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn io_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: as for `IoBuf`; the box is uniquely owned.
unsafe impl IoBufMut for Box<[u8]> {
    fn io_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
}

/// Default alignment of [`AlignedBuf`]: 4 KiB, enough for `O_DIRECT` on every common device.
pub const DEFAULT_ALIGNMENT: usize = 4096;

/// A zero-initialised heap buffer whose start is aligned, for `O_DIRECT` I/O.
///
/// # Examples
///
/// ```
/// let mut buf = auraio::AlignedBuf::new(8192, 4096)?;
/// assert_eq!(buf.as_ptr() as usize % 4096, 0);
/// buf[0] = 7;
/// assert_eq!(buf.len(), 8192);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    align: usize,
}

// SAFETY: `AlignedBuf` uniquely owns its allocation, like `Box<[u8]>`.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only hands out `&[u8]`.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// Allocates `len` zeroed bytes aligned to `align`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `align` is not a power of two or the size overflows; `OutOfMemory` if
    /// the allocation fails.
    pub fn new(len: usize, align: usize) -> io::Result<Self> {
        let layout = Layout::from_size_align(len.max(1), align).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "AlignedBuf: alignment must be a power of two and the size must fit isize",
            )
        })?;
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or_else(|| {
            io::Error::new(io::ErrorKind::OutOfMemory, "AlignedBuf: allocation failed")
        })?;
        Ok(AlignedBuf { ptr, len, align })
    }

    /// Allocates `len` zeroed bytes with the [default alignment](DEFAULT_ALIGNMENT).
    ///
    /// # Errors
    ///
    /// As for [`AlignedBuf::new`].
    pub fn zeroed(len: usize) -> io::Result<Self> {
        Self::new(len, DEFAULT_ALIGNMENT)
    }

    /// Alignment of the start of the buffer.
    pub fn alignment(&self) -> usize {
        self.align
    }

    fn layout(&self) -> Layout {
        // `new` accepted these same arguments, so this cannot fail.
        Layout::from_size_align(self.len.max(1), self.align).expect("layout accepted at creation")
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `len` initialised (zeroed at allocation) bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this very layout and not freed since.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout()) }
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("align", &self.align)
            .finish()
    }
}

// SAFETY: the bytes live in an allocation owned by the value; moving it moves only the pointer.
unsafe impl IoBuf for AlignedBuf {
    fn io_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
    fn io_len(&self) -> usize {
        self.len
    }
}

// SAFETY: as for `IoBuf`; the allocation is uniquely owned.
unsafe impl IoBufMut for AlignedBuf {
    fn io_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buf_is_aligned_and_zeroed() {
        for align in [512, 4096, 65536] {
            let b = AlignedBuf::new(10_000, align).unwrap();
            assert_eq!(b.as_ptr() as usize % align, 0);
            assert!(b.iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn aligned_buf_rejects_bad_alignment() {
        let e = AlignedBuf::new(4096, 3000).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn empty_aligned_buf_is_usable() {
        let b = AlignedBuf::zeroed(0).unwrap();
        assert!(b.is_empty());
        assert_eq!(b.io_len(), 0);
    }

    #[test]
    fn vec_pointer_is_stable_across_moves() {
        let v = vec![1u8; 100];
        let p = v.io_ptr();
        let moved = Box::new(v);
        assert_eq!(moved.io_ptr(), p);
    }
}
