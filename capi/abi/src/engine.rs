//! The engine behind an `aura_engine_t`: the Rust engine plus what the C contract adds on top
//! (request handles, managed buffers). User memory registered as fixed buffers is the
//! engine's own registration ([`auraio::raw::register_buffers`]), unregister included.

use std::ffi::{c_int, c_void};
use std::io;
use std::ptr::NonNull;

use super::types::{aura_callback_t, aura_op_type_t, aura_request_t};
use super::{errno_of, set_errno};
use auraio::buffer::{IoBuf, IoBufMut};
use auraio::fixed::FixedIo;
use auraio::lock::{Counter, Flag, LockMode, RingLock};
use auraio::op::Op;
use auraio::policy::Policy;
use auraio::raw::RawFixedBuf;
use auraio::tuning::Tuning;
use auraio::{Engine, RequestId};

/// Requests a C engine accepts before EAGAIN, in queue depths per ring.
const OUTSTANDING_DEPTHS: u64 = 4;

/// Memory the C caller owns and promised to keep valid until the callback.
#[derive(Debug)]
pub(crate) struct RawBuf {
    pub(crate) ptr: *mut u8,
    pub(crate) len: usize,
}

// SAFETY: the C caller keeps `len` bytes at `ptr` valid and untouched until the operation's
// callback (the contract of every submission function); the pointer does not move with the
// value.
unsafe impl IoBuf for RawBuf {
    fn io_ptr(&self) -> *const u8 {
        self.ptr
    }
    fn io_len(&self) -> usize {
        self.len
    }
}

// SAFETY: as for `IoBuf`; the caller does not touch the memory while the kernel writes it.
unsafe impl IoBufMut for RawBuf {
    fn io_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }
}

// SAFETY: a RawBuf is an address and a length; the memory belongs to the C caller, who
// allows any thread to complete the operation.
unsafe impl Send for RawBuf {}

/// A slice of registered caller memory ([`auraio::raw::fixed_buf`]) as the C layer submits
/// it: the engine's registration, made `Send` for the C layer's one submission path.
#[derive(Debug)]
pub(crate) struct CFixed<L: LockMode>(pub(crate) RawFixedBuf<L>);

// SAFETY: in multi-thread mode `RawFixedBuf` is `Send` itself (its registry handle is an
// Arc). In single-thread mode every C call on a thread other than the engine's creator is
// refused before it reaches the engine (`Abi::eng`: EPERM), so a slice is made, submitted,
// completed and dropped on the creator's thread, and its Rc is never touched elsewhere.
unsafe impl<L: LockMode> Send for CFixed<L> {}

// SAFETY: delegates to the slice's own `IoBuf`, which proves it.
unsafe impl<L: LockMode> IoBuf for CFixed<L> {
    fn io_ptr(&self) -> *const u8 {
        self.0.io_ptr()
    }
    fn io_len(&self) -> usize {
        self.0.io_len()
    }
}

// SAFETY: delegates to the slice's own `IoBufMut`, which proves it.
unsafe impl<L: LockMode> IoBufMut for CFixed<L> {
    fn io_mut_ptr(&mut self) -> *mut u8 {
        self.0.io_mut_ptr()
    }
}

impl<L: LockMode> FixedIo for CFixed<L> {
    fn buf_index(&self) -> u16 {
        self.0.buf_index()
    }
}

/// One request handle (what an `aura_request_t *` points at).
#[repr(C)]
pub(crate) struct Req<L: LockMode> {
    /// The preset tag of its engine, first: a multi-preset library dispatches on it
    /// ([`super::preset_tag`]).
    tag: u32,
    /// Holders: the submitting call and the completion (see the module docs).
    refs: L::Counter,
    pub(crate) pending: L::Flag,
    pub(crate) fd: c_int,
    pub(crate) op: aura_op_type_t,
    cb: aura_callback_t,
    pub(crate) user_data: *mut c_void,
    ring: L::Counter,
    id: L::Counter,
}

impl<L: LockMode> Req<L> {
    /// The engine's id of the request (meaningful once the submission stored it).
    pub(crate) fn id(&self) -> RequestId {
        auraio::raw::id_from_parts(self.ring.get(), self.id.get())
    }
}

/// The C-side engine.
#[repr(C)]
pub(crate) struct CEngine<P: Policy, L: LockMode, T: Tuning> {
    /// Which of its library's presets this engine is, first: a multi-preset library
    /// dispatches on it ([`super::preset_tag`]).
    pub(crate) tag: u32,
    /// Before the free list: dropping it drains, and the completions then still find the free
    /// list.
    pub(crate) engine: Engine<P, L, T>,
    free: L::Lock<Vec<Box<Req<L>>>>,
    pub(crate) notify_on: L::Flag,
    pub(crate) queue_depth: u32,
    pub(crate) alignment: usize,
    pub(crate) pool_bytes: L::Counter,
    pub(crate) pool_buffers: L::Counter,
    /// When the engine was made (Unix ns): the start of its cumulative metrics.
    pub(crate) started_ns: u64,
    /// The thread that made it: the only one a single-thread engine may be used from (its
    /// rings are SINGLE_ISSUER; another thread's submission would fail later, latched).
    pub(crate) creator: u64,
}

/// The completion's reference to a handle; letting go of it releases the reference.
struct Completion<P: Policy, L: LockMode, T: Tuning> {
    req: NonNull<Req<L>>,
    owner: NonNull<CEngine<P, L, T>>,
}

// SAFETY: the handle and the engine are shared with the C caller, who allows completions on
// any thread of a multi-thread engine; every field of Req touched by two threads is a
// Counter/Flag (atomic in that mode).
unsafe impl<P: Policy, L: LockMode, T: Tuning> Send for Completion<P, L, T> {}

impl<P: Policy, L: LockMode, T: Tuning> Completion<P, L, T> {
    fn complete(self, result: isize) {
        // SAFETY: this reference keeps the handle out of the free list.
        let req = unsafe { self.req.as_ref() };
        req.pending.store(false);
        if let Some(cb) = req.cb {
            // SAFETY: the C caller registered `cb` for this request; the handle is valid for
            // the whole call.
            unsafe { cb(self.req.as_ptr().cast(), result, req.user_data) };
        }
    }
}

impl<P: Policy, L: LockMode, T: Tuning> Drop for Completion<P, L, T> {
    fn drop(&mut self) {
        // SAFETY: the engine outlives every completion (its Rust engine drains first).
        let owner = unsafe { self.owner.as_ref() };
        owner.release(self.req);
    }
}

fn result_of(r: io::Result<usize>) -> isize {
    match r {
        Ok(n) => n as isize,
        Err(e) => -(errno_of(&e) as isize),
    }
}

impl<P: Policy, L: LockMode, T: Tuning> CEngine<P, L, T> {
    pub(crate) fn new(
        tag: u32,
        engine: Engine<P, L, T>,
        queue_depth: u32,
        alignment: usize,
    ) -> Self {
        CEngine {
            tag,
            engine,
            free: L::Lock::new(Vec::new()),
            notify_on: L::Flag::new(),
            queue_depth,
            alignment,
            pool_bytes: L::Counter::new(0),
            pool_buffers: L::Counter::new(0),
            creator: auraio::raw::thread_token(),
            started_ns: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        }
    }

    /// Drops one reference to a handle; the last one returns it to the free list.
    fn release(&self, req: NonNull<Req<L>>) {
        // SAFETY: the caller holds a reference, so the handle is live.
        if unsafe { req.as_ref() }.refs.release_ref() {
            // SAFETY: no reference is left: we own the allocation made by Box::into_raw.
            let b = unsafe { Box::from_raw(req.as_ptr()) };
            self.free.lock().push(b);
        }
    }

    fn take(
        &self,
        fd: c_int,
        op: aura_op_type_t,
        cb: aura_callback_t,
        user_data: *mut c_void,
    ) -> NonNull<Req<L>> {
        let recycled = self.free.lock().pop();
        let mut b = match recycled {
            Some(b) => b,
            None => Box::new(Req {
                tag: self.tag,
                refs: L::Counter::new(0),
                pending: L::Flag::new(),
                fd: -1,
                op: 0,
                cb: None,
                user_data: std::ptr::null_mut(),
                ring: L::Counter::new(0),
                id: L::Counter::new(0),
            }),
        };
        b.refs.set(2);
        b.pending.store(true);
        b.fd = fd;
        b.op = op;
        b.cb = cb;
        b.user_data = user_data;
        b.ring.set(u64::MAX);
        b.id.set(0);
        NonNull::from(Box::leak(b))
    }

    /// Submits `op` for the C caller; returns the handle, or NULL with errno.
    ///
    /// `finish` runs on completion before the C callback, with the result and the op's
    /// output (a statx copies its result out there). `kind` is the op's C type.
    ///
    /// # Safety
    ///
    /// `self` is the engine behind a live `aura_engine_t`; what `op` points at obeys the C
    /// contract (valid until the callback).
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn submit<O>(
        &self,
        op: O,
        fd: c_int,
        kind: aura_op_type_t,
        cb: aura_callback_t,
        user_data: *mut c_void,
        finish: impl FnOnce(&io::Result<usize>, O::Output) + Send + 'static,
    ) -> *mut aura_request_t
    where
        O: Op + Send,
    {
        // Bounded memory: requests beyond the in-flight limits wait in per-ring backlogs, but
        // no more than OUTSTANDING_DEPTHS queue depths per ring in all; past that the caller
        // gets EAGAIN (the contract's "poll, then retry").
        let cap =
            u64::from(self.queue_depth) * OUTSTANDING_DEPTHS * self.engine.ring_count() as u64;
        if self.engine.pending() >= cap {
            set_errno(libc::EAGAIN);
            return std::ptr::null_mut();
        }
        let req = self.take(fd, kind, cb, user_data);
        let done = Completion {
            req,
            owner: NonNull::from(self),
        };
        // SAFETY: the op and the callback are Send (bounds above), as a multi-thread engine
        // needs.
        let r = unsafe {
            auraio::raw::submit(&self.engine, op, move |res, out| {
                finish(&res, out);
                done.complete(result_of(res));
            })
        };
        let out = match r {
            Ok(id) => {
                let (ring, user_data) = auraio::raw::id_to_parts(id);
                // SAFETY: our reference keeps the handle live.
                let h = unsafe { req.as_ref() };
                h.ring.set(ring);
                h.id.set(user_data);
                req.as_ptr().cast()
            }
            Err(e) => {
                set_errno(errno_of(e.error()));
                std::ptr::null_mut()
            }
        };
        self.release(req);
        out
    }
}
