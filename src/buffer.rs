//! Buffers the kernel reads from or writes into.
//!
//! An operation takes its buffer by value and hands it back to the callback, so the engine owns
//! it for exactly as long as the kernel may touch it. Two traits say what a buffer must
//! guarantee: [`IoBuf`] (the kernel reads from it: writes) and [`IoBufMut`] (the kernel writes
//! into it: reads). They are implemented for `Vec<u8>`, `Box<[u8]>` and [`AlignedBuf`], the
//! crate's aligned buffer for `O_DIRECT`.
//!
//! The contract is the one tokio-uring, compio and monoio users know: a write sends the
//! buffer's initialised bytes (`io_len()`, a `Vec`'s `len()`); a read goes into the whole
//! capacity ([`IoBufMut::io_capacity`], a `Vec`'s `capacity()`), and on completion the engine
//! marks the bytes the kernel wrote as initialised ([`IoBufMut::set_init`]: a `Vec`'s `len()`
//! grows to the byte count), so `engine.read_at(fd, Vec::with_capacity(4096), 0)` returns the
//! bytes read in a `Vec` of that length. [`IoBuf::slice`] narrows a buffer to a range for one
//! operation and gives the whole buffer back ([`Slice::into_inner`]). With the `bytes` feature,
//! `bytes::Bytes` is an [`IoBuf`] and `bytes::BytesMut` both.

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
    /// Number of initialised bytes: what a write sends.
    fn io_len(&self) -> usize;

    /// This buffer narrowed to `range` (of its initialised bytes for a write, of its capacity
    /// for a read) for one operation; the operation gives the whole buffer back, as a
    /// [`Slice`] whose [`into_inner`](Slice::into_inner) returns it.
    ///
    /// # Panics
    ///
    /// If the range is reversed or ends past [`IoBufMut::io_capacity`] (past `io_len()` for a
    /// buffer that is not [`IoBufMut`]).
    fn slice(self, range: impl std::ops::RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        Slice::new(self, range)
    }

    /// Bytes a slice of this buffer may span: the capacity for a writable buffer. The default
    /// is `io_len()`; [`IoBufMut`] types with spare capacity override it as `io_capacity`.
    #[doc(hidden)]
    fn slice_limit(&self) -> usize {
        self.io_len()
    }
}

/// A buffer the kernel may write into: `io_capacity()` bytes from `io_mut_ptr()`.
///
/// # Safety
///
/// As for [`IoBuf`], and `io_mut_ptr()` is valid for writes of `io_capacity()` bytes (at least
/// `io_len()`), with no other reference to those bytes alive while the engine owns the buffer;
/// [`set_init(n)`](IoBufMut::set_init) never marks bytes initialised that were not written
/// (it may leave the length as it was).
pub unsafe trait IoBufMut: IoBuf {
    /// Start of the writable bytes.
    fn io_mut_ptr(&mut self) -> *mut u8;

    /// Bytes the kernel may write: a read goes into all of them. The default is `io_len()`
    /// (a buffer without spare capacity).
    fn io_capacity(&self) -> usize {
        self.io_len()
    }

    /// Marks the first `n` bytes as initialised, growing `io_len()` to `n` if it was less
    /// (never shrinking it; a [`Slice`] past the initialised bytes leaves it). The engine calls
    /// it when a read completes, with the byte count.
    ///
    /// # Safety
    ///
    /// The first `n` bytes (`n <= io_capacity()`) have been written.
    unsafe fn set_init(&mut self, n: usize) {
        let _ = n;
    }
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
    fn slice_limit(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as for `IoBuf`; `as_mut_ptr` covers the whole allocation, `capacity()` bytes (the
// spare ones uninitialised, which the kernel may write), and `set_init` only grows the length
// over bytes the kernel wrote.
unsafe impl IoBufMut for Vec<u8> {
    fn io_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    fn io_capacity(&self) -> usize {
        self.capacity()
    }
    unsafe fn set_init(&mut self, n: usize) {
        debug_assert!(n <= self.capacity());
        if n > self.len() {
            // SAFETY: per this function's contract the first `n <= capacity()` bytes were
            // written, so they are initialised.
            unsafe { self.set_len(n) };
        }
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

/// A buffer narrowed to a range for one operation ([`IoBuf::slice`]); the operation hands it
/// back, and [`into_inner`](Slice::into_inner) returns the whole buffer.
#[derive(Debug)]
pub struct Slice<B> {
    buf: B,
    begin: usize,
    end: usize,
}

impl<B: IoBuf> Slice<B> {
    fn new(buf: B, range: impl std::ops::RangeBounds<usize>) -> Self {
        use std::ops::Bound;
        let limit = buf.slice_limit();
        let begin = match range.start_bound() {
            Bound::Included(&b) => b,
            Bound::Excluded(&b) => b.checked_add(1).expect("slice start overflows"),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.checked_add(1).expect("slice end overflows"),
            Bound::Excluded(&e) => e,
            Bound::Unbounded => limit,
        };
        assert!(
            begin <= end && end <= limit,
            "slice {begin}..{end} out of the buffer's {limit} bytes"
        );
        Slice { buf, begin, end }
    }

    /// Where the slice begins in the buffer.
    pub fn begin(&self) -> usize {
        self.begin
    }

    /// Where it ends.
    pub fn end(&self) -> usize {
        self.end
    }

    /// The whole buffer.
    pub fn get_ref(&self) -> &B {
        &self.buf
    }

    /// The whole buffer, given back.
    pub fn into_inner(self) -> B {
        self.buf
    }
}

// SAFETY: the slice's bytes are a sub-range of the inner buffer's (checked at creation:
// begin <= end <= the inner limit), so they satisfy the inner buffer's guarantees: valid,
// stable across moves, allocated while the slice (which owns the buffer) lives.
unsafe impl<B: IoBuf> IoBuf for Slice<B> {
    fn io_ptr(&self) -> *const u8 {
        // `begin` is within the inner buffer's allocation (at most its limit).
        self.buf.io_ptr().wrapping_add(self.begin)
    }
    fn io_len(&self) -> usize {
        self.end.min(self.buf.io_len()).saturating_sub(self.begin)
    }
    fn slice_limit(&self) -> usize {
        self.end - self.begin
    }
}

// SAFETY: as for `IoBuf`; `begin..end` lies within the inner buffer's writable capacity (the
// inner limit of an `IoBufMut` is its capacity), and `set_init` only marks bytes initialised
// that are: the slice's first `n`, plus everything before `begin` when that was initialised
// already.
unsafe impl<B: IoBufMut> IoBufMut for Slice<B> {
    fn io_mut_ptr(&mut self) -> *mut u8 {
        self.buf.io_mut_ptr().wrapping_add(self.begin)
    }
    fn io_capacity(&self) -> usize {
        // Clamped to the inner capacity: `slice_limit` is only a hint of the bounds, and no
        // promise of a buffer's contract rests on it.
        self.end
            .min(self.buf.io_capacity())
            .saturating_sub(self.begin)
    }
    unsafe fn set_init(&mut self, n: usize) {
        // Bytes between the inner buffer's initialised end and `begin` were never written:
        // growing its length over them would expose uninitialised memory, so a slice that
        // starts past the initialised bytes leaves the length as it was.
        if self.begin <= self.buf.io_len() {
            // SAFETY: bytes ..begin were initialised and the kernel wrote begin..begin + n.
            unsafe { self.buf.set_init(self.begin + n) };
        }
    }
}

// SAFETY: a `Bytes` views heap (or static) memory that moving the handle does not move, and
// that no handle can change while any exists; the engine owns this one while the kernel reads.
#[cfg(feature = "bytes")]
#[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
unsafe impl IoBuf for bytes::Bytes {
    fn io_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn io_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: a `BytesMut` uniquely owns its view of a heap allocation, which moving it does not
// move; `capacity()` bytes from its pointer are its own.
#[cfg(feature = "bytes")]
#[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
unsafe impl IoBuf for bytes::BytesMut {
    fn io_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn io_len(&self) -> usize {
        self.len()
    }
    fn slice_limit(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as for `IoBuf`; the spare capacity is writable and `set_init` grows the length only
// over bytes the kernel wrote.
#[cfg(feature = "bytes")]
#[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
unsafe impl IoBufMut for bytes::BytesMut {
    fn io_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    fn io_capacity(&self) -> usize {
        self.capacity()
    }
    unsafe fn set_init(&mut self, n: usize) {
        if n > self.len() {
            // SAFETY: per this function's contract the first `n <= capacity()` bytes were
            // written.
            unsafe { self.set_len(n) };
        }
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
