//! Registered (fixed) buffers: memory registered once with every ring, so fixed reads and
//! writes skip the kernel's per-request page pinning.
//!
//! Soundness rests on leases. [`Engine::fixed_buf`](crate::Engine::fixed_buf) leases one
//! registered buffer, exclusively, as a [`FixedBuf`] over a bounds-checked slice of it; the
//! lease is an ordinary owned buffer ([`IoBuf`], [`IoBufMut`], `Deref<[u8]>`), which the engine
//! owns while an operation on it is in flight and hands back in the callback. No two leases
//! cover the same registered buffer, so the kernel never writes memory a `&[u8]` points at.
//!
//! Unregistering is deferred while leases are out: new leases (hence new fixed operations)
//! fail with `EBUSY` while it drains, the memory stays alive (each lease holds the registry),
//! and the kernel-side unregister runs once the last lease is back, at the next poll or wait.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};

use crate::buffer::{AlignedBuf, IoBuf, IoBufMut};
use crate::lock::{Counter, Flag, LockMode};

/// The registered buffers of an engine, shared with the leases: the engine's own
/// (`bufs`, leased exclusively) or memory its caller owns (`borrowed`, through
/// [`crate::raw::register_buffers`]; shared slices, see [`RawFixedBuf`]). One of the two is
/// empty. Either way the kernel-side unregister waits for `out` to reach zero.
pub(crate) struct Registry<L: LockMode> {
    bufs: Vec<RefCell<Option<AlignedBuf>>>,
    leased: Vec<L::Flag>,
    /// Caller-owned buffers as (address, length): integers, never dereferenced here.
    borrowed: Vec<(usize, usize)>,
    out: L::Counter,
    pub(crate) draining: L::Flag,
}

// SAFETY: in multi-thread mode the buffer cells are only reached by the holder of the
// matching `leased` flag (an atomic compare-exchange), one holder at a time; the registry
// never hands out a reference to a cell without that flag.
unsafe impl<L: LockMode> Sync for Registry<L>
where
    L::Flag: Sync,
    L::Counter: Sync,
{
}

impl<L: LockMode> Registry<L> {
    pub(crate) fn new(bufs: Vec<AlignedBuf>) -> Self {
        let n = bufs.len();
        Registry {
            bufs: bufs.into_iter().map(|b| RefCell::new(Some(b))).collect(),
            leased: (0..n).map(|_| L::Flag::new()).collect(),
            borrowed: Vec::new(),
            out: L::Counter::new(0),
            draining: L::Flag::new(),
        }
    }

    /// A registry of caller-owned memory (the iovecs' order gives the indexes).
    pub(crate) fn borrowed(iovecs: &[libc::iovec]) -> Self {
        Registry {
            bufs: Vec::new(),
            leased: Vec::new(),
            borrowed: iovecs
                .iter()
                .map(|v| (v.iov_base as usize, v.iov_len))
                .collect(),
            out: L::Counter::new(0),
            draining: L::Flag::new(),
        }
    }

    /// iovecs of the registered buffers, for IORING_REGISTER_BUFFERS.
    pub(crate) fn iovecs(&self) -> Vec<libc::iovec> {
        if !self.borrowed.is_empty() {
            return self
                .borrowed
                .iter()
                .map(|&(base, len)| libc::iovec {
                    iov_base: base as *mut libc::c_void,
                    iov_len: len,
                })
                .collect();
        }
        self.bufs
            .iter()
            .map(|c| {
                // No lease exists yet: registration happens before the registry is shared.
                let mut b = c.borrow_mut();
                let b = b.as_mut().expect("present until unregistered");
                libc::iovec {
                    iov_base: b.io_mut_ptr().cast(),
                    iov_len: b.io_len(),
                }
            })
            .collect()
    }

    /// Leases still out.
    pub(crate) fn leases(&self) -> u64 {
        self.out.get()
    }
}

/// Whether `len` bytes at `offset` reach outside a buffer of `size` bytes (an empty buffer
/// has no slice). Overflow-safe: never computes `offset + len`.
fn outside(offset: usize, len: usize, size: usize) -> bool {
    offset >= size || len > size - offset
}

/// A slice of caller-owned memory registered with [`crate::raw::register_buffers`], for the
/// fixed operations: an address and a length, checked to lie inside registered buffer
/// `index`, holding the registration (its kernel-side unregister waits until every such
/// slice has dropped). Not exclusive and not readable from Rust (no `Deref`): the memory is
/// the registering caller's, and so is ordering the kernel's accesses with its own.
pub struct RawFixedBuf<L: LockMode> {
    registry: L::Shared<Registry<L>>,
    ptr: *mut u8,
    len: usize,
    index: u16,
}

// SAFETY: an address, a length and a registry handle; the memory is the registering caller's,
// who promised (`raw::register_buffers`' contract) that it stays valid while registered,
// whatever thread completes the operation. Send exactly when the handle is.
unsafe impl<L: LockMode> Send for RawFixedBuf<L> where L::Shared<Registry<L>>: Send {}

impl<L: LockMode> RawFixedBuf<L> {
    /// `len` bytes at `offset` of borrowed buffer `index`.
    pub(crate) fn share(
        registry: &L::Shared<Registry<L>>,
        index: usize,
        offset: usize,
        len: usize,
    ) -> io::Result<Self> {
        let errno = io::Error::from_raw_os_error;
        if registry.borrowed.is_empty() {
            // The engine's own buffers are leased exclusively (`Engine::fixed_buf`).
            return Err(errno(libc::EINVAL));
        }
        if registry.draining.is_set() {
            return Err(errno(libc::EBUSY));
        }
        let (Some(&(base, size)), Ok(index16)) =
            (registry.borrowed.get(index), u16::try_from(index))
        else {
            return Err(errno(libc::EINVAL));
        };
        if outside(offset, len, size) {
            return Err(errno(libc::EOVERFLOW));
        }
        if u32::try_from(len).is_err() {
            return Err(errno(libc::EINVAL));
        }
        registry.out.add(1);
        Ok(RawFixedBuf {
            registry: registry.clone(),
            ptr: (base + offset) as *mut u8,
            len,
            index: index16,
        })
    }
}

impl<L: LockMode> Drop for RawFixedBuf<L> {
    fn drop(&mut self) {
        self.registry.out.sub(1);
    }
}

impl<L: LockMode> fmt::Debug for RawFixedBuf<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawFixedBuf")
            .field("index", &self.index)
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .finish()
    }
}

// SAFETY: `ptr..ptr + len` lies inside a registered buffer (checked in `share`), memory the
// registering caller keeps valid while it is registered, and this slice holds the
// registration. Nothing in Rust holds a reference into it.
unsafe impl<L: LockMode> IoBuf for RawFixedBuf<L> {
    fn io_ptr(&self) -> *const u8 {
        self.ptr
    }
    fn io_len(&self) -> usize {
        self.len
    }
}

// SAFETY: as for `IoBuf`: no Rust reference aliases the memory the kernel writes.
unsafe impl<L: LockMode> IoBufMut for RawFixedBuf<L> {
    fn io_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }
}

impl<L: LockMode> FixedIo for RawFixedBuf<L> {
    fn buf_index(&self) -> u16 {
        self.index
    }
}

/// A lease on a slice of one registered buffer; see the [module docs](self).
pub struct FixedBuf<L: LockMode> {
    registry: L::Shared<Registry<L>>,
    buf: Option<AlignedBuf>,
    index: u16,
    offset: usize,
    len: usize,
}

// SAFETY: the lease exclusively owns its taken-out AlignedBuf (Send) and a registry handle;
// it is Send exactly when that handle is (an Arc in multi-thread mode).
unsafe impl<L: LockMode> Send for FixedBuf<L> where L::Shared<Registry<L>>: Send {}

impl<L: LockMode> FixedBuf<L> {
    /// Leases `len` bytes at `offset` of registered buffer `index`.
    pub(crate) fn lease(
        registry: &L::Shared<Registry<L>>,
        index: usize,
        offset: usize,
        len: usize,
    ) -> io::Result<Self> {
        let einval = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
        if registry.draining.is_set() {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        let Some(cell) = registry.bufs.get(index) else {
            return Err(einval(format!(
                "auraio: registered buffer {index} does not exist ({} registered)",
                registry.bufs.len()
            )));
        };
        let index16 =
            u16::try_from(index).map_err(|_| einval("auraio: buffer index past 65535".into()))?;
        if !registry.leased[index].try_take() {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        // We hold the lease flag: nobody else touches this cell until we give it back.
        let buf = cell.borrow_mut().take().expect("present while not leased");
        let size = buf.len();
        if outside(offset, len, size) {
            *cell.borrow_mut() = Some(buf);
            registry.leased[index].release();
            return Err(einval(format!(
                "auraio: slice {offset}+{len} is outside registered buffer {index} of {size} bytes"
            )));
        }
        registry.out.add(1);
        Ok(FixedBuf {
            registry: registry.clone(),
            buf: Some(buf),
            index: index16,
            offset,
            len,
        })
    }

    /// Index of the registered buffer.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// Offset of the slice in the registered buffer.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl<L: LockMode> Drop for FixedBuf<L> {
    fn drop(&mut self) {
        let i = usize::from(self.index);
        *self.registry.bufs[i].borrow_mut() = self.buf.take();
        self.registry.out.sub(1);
        self.registry.leased[i].release();
    }
}

impl<L: LockMode> Deref for FixedBuf<L> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let b = self.buf.as_ref().expect("held until drop");
        &b[self.offset..self.offset + self.len]
    }
}

impl<L: LockMode> DerefMut for FixedBuf<L> {
    fn deref_mut(&mut self) -> &mut [u8] {
        let (o, n) = (self.offset, self.len);
        &mut self.buf.as_mut().expect("held until drop")[o..o + n]
    }
}

impl<L: LockMode> fmt::Debug for FixedBuf<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuf")
            .field("index", &self.index)
            .field("offset", &self.offset)
            .field("len", &self.len)
            .finish()
    }
}

/// A buffer that is a slice of a registered buffer, for the fixed operations.
pub trait FixedIo: IoBufMut {
    /// Index of the registered buffer the slice belongs to.
    fn buf_index(&self) -> u16;
}

// SAFETY: the slice lies inside an AlignedBuf (heap memory, never moved) exclusively owned
// by the lease until it drops.
unsafe impl<L: LockMode> IoBuf for FixedBuf<L> {
    fn io_ptr(&self) -> *const u8 {
        self.deref().as_ptr()
    }
    fn io_len(&self) -> usize {
        self.len
    }
}

// SAFETY: as for `IoBuf`; the lease is exclusive, so the kernel's writes alias nothing.
unsafe impl<L: LockMode> IoBufMut for FixedBuf<L> {
    fn io_mut_ptr(&mut self) -> *mut u8 {
        self.deref_mut().as_mut_ptr()
    }
}

impl<L: LockMode> FixedIo for FixedBuf<L> {
    fn buf_index(&self) -> u16 {
        self.index
    }
}

static_assertions::assert_impl_all!(FixedBuf<crate::lock::MultiThread>: Send);
static_assertions::assert_not_impl_any!(FixedBuf<crate::lock::SingleThread>: Send);
static_assertions::assert_impl_all!(RawFixedBuf<crate::lock::MultiThread>: Send);
static_assertions::assert_not_impl_any!(RawFixedBuf<crate::lock::SingleThread>: Send);
