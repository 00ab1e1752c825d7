//! Request slots: an O(1) slab whose ids carry a generation, and the type-erased completion
//! (operation + callback) each slot holds while its request is in flight.
//!
//! A completion is stored inline in the slot when it fits ([`INLINE_BYTES`], word aligned), so
//! an ordinary read with a small closure costs no heap allocation; larger ones are boxed.

use std::io;
use std::mem::{self, ManuallyDrop, MaybeUninit};

use crate::op::Op;

/// Bytes of operation + callback stored without a heap allocation.
pub(crate) const INLINE_BYTES: usize = 8 * mem::size_of::<usize>();

type Inline = MaybeUninit<[usize; 8]>;

static_assertions::const_assert_eq!(mem::size_of::<Inline>(), INLINE_BYTES);

/// What a completion's erased function is asked to do.
enum Action {
    /// Call the callback with this CQE result.
    Complete(i32),
    /// Drop operation and callback without calling (only while unwinding from a panic).
    Discard,
}

/// An operation and its callback, type-erased.
pub(crate) struct Payload {
    data: Inline,
    run: unsafe fn(*mut Inline, Action),
}

/// Turns a CQE result into the callback's `io::Result`.
#[inline]
pub(crate) fn cqe_result(res: i32) -> io::Result<usize> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(res.wrapping_neg()))
    } else {
        Ok(res as usize)
    }
}

const fn fits_inline<V>() -> bool {
    mem::size_of::<V>() <= INLINE_BYTES && mem::align_of::<V>() <= mem::align_of::<Inline>()
}

/// # Safety
/// `p` holds an initialised `(O, F)` written by `Payload::new`, which this call consumes.
unsafe fn run_inline<O, F>(p: *mut Inline, action: Action)
where
    O: Op,
    F: FnOnce(io::Result<usize>, O::Output),
{
    // SAFETY: per this function's contract the slot holds an `(O, F)`; reading moves it out and
    // the caller never touches the slot's bytes again.
    let (mut op, f) = unsafe { p.cast::<(O, F)>().read() };
    if let Action::Complete(res) = action {
        if res >= 0 {
            // SAFETY: `res` is the kernel's result for this op's SQE, and not an error.
            unsafe { op.complete(res as usize) };
        }
        f(cqe_result(res), op.into_output());
    }
}

/// # Safety
/// `p` holds a `Box<(O, F)>` written by `Payload::new`, which this call consumes.
unsafe fn run_boxed<O, F>(p: *mut Inline, action: Action)
where
    O: Op,
    F: FnOnce(io::Result<usize>, O::Output),
{
    // SAFETY: per this function's contract the slot holds a `Box<(O, F)>`; reading moves it out.
    let boxed = unsafe { p.cast::<Box<(O, F)>>().read() };
    let (mut op, f) = *boxed;
    if let Action::Complete(res) = action {
        if res >= 0 {
            // SAFETY: `res` is the kernel's result for this op's SQE, and not an error.
            unsafe { op.complete(res as usize) };
        }
        f(cqe_result(res), op.into_output());
    }
}

impl Payload {
    /// Erases an operation and its callback.
    #[inline]
    pub(crate) fn new<O, F>(op: O, f: F) -> Self
    where
        O: Op,
        F: FnOnce(io::Result<usize>, O::Output) + 'static,
    {
        let mut data = Inline::uninit();
        if const { fits_inline::<(O, F)>() } {
            // SAFETY: `(O, F)` fits the inline storage in size and alignment (checked above).
            unsafe { data.as_mut_ptr().cast::<(O, F)>().write((op, f)) };
            Payload {
                data,
                run: run_inline::<O, F>,
            }
        } else {
            // SAFETY: a Box is one pointer, which always fits the word-aligned storage.
            unsafe {
                data.as_mut_ptr()
                    .cast::<Box<(O, F)>>()
                    .write(Box::new((op, f)))
            };
            Payload {
                data,
                run: run_boxed::<O, F>,
            }
        }
    }

    /// Calls the callback with the CQE result, consuming the payload.
    #[inline]
    pub(crate) fn complete(self, res: i32) {
        let mut me = ManuallyDrop::new(self);
        // SAFETY: `run` matches what `new` stored in `data`; `me` is never used or dropped again.
        unsafe { (me.run)(&mut me.data, Action::Complete(res)) }
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        // SAFETY: `run` matches what `new` stored; a payload is dropped at most once and
        // `complete` bypasses this drop.
        unsafe { (self.run)(&mut self.data, Action::Discard) }
    }
}

/// `submit_ns` of a request chosen for latency sampling that has not reached the SQ yet.
pub(crate) const SAMPLE_PENDING: u64 = 1;

/// Index and generation packed into a CQE's user_data.
#[inline]
pub(crate) fn pack(index: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(index)
}

/// Times a request cancelled by the kernel itself (its submitting thread exited) is submitted
/// again before its ECANCELED is delivered.
pub(crate) const MAX_RESUBMITS: u8 = 3;

struct Slot {
    generation: u32,
    /// The request uses a registered (fixed) file slot.
    fixed: bool,
    /// The engine asked for this request's cancellation, or it is a chain link (whose
    /// ECANCELED the kernel gives when an earlier link failed): an ECANCELED is final.
    cancel_final: bool,
    /// Resubmissions so far (see [`MAX_RESUBMITS`]).
    resubmits: u8,
    /// Kernel thread id of the thread whose enter submitted the request (0: unknown).
    submitter: u32,
    /// The request's SQE, kept (multi-thread rings only) so a kernel-side cancellation at the
    /// exit of the thread that happened to submit it can be undone by submitting it again.
    sqe: Option<crate::op::Sqe>,
    /// Submission time in ns of the engine clock for a latency-sampled request, else 0.
    submit_ns: u64,
    payload: Option<Payload>,
}

/// The slots of one ring.
pub(crate) struct Slab {
    slots: Vec<Slot>,
    free: Vec<u32>,
    occupied: usize,
}

impl Slab {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Slab {
            slots: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
            occupied: 0,
        }
    }

    /// Stores a payload, returning its user_data.
    #[inline]
    pub(crate) fn insert(&mut self, payload: Payload, submit_ns: u64) -> u64 {
        self.occupied += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            debug_assert!(slot.payload.is_none());
            slot.payload = Some(payload);
            slot.submit_ns = submit_ns;
            slot.fixed = false;
            slot.cancel_final = false;
            slot.resubmits = 0;
            slot.submitter = 0;
            slot.sqe = None;
            pack(index, slot.generation)
        } else {
            let index = u32::try_from(self.slots.len()).expect("fewer than 2^32 requests");
            self.slots.push(Slot {
                generation: 0,
                fixed: false,
                cancel_final: false,
                resubmits: 0,
                submitter: 0,
                sqe: None,
                submit_ns,
                payload: Some(payload),
            });
            pack(index, 0)
        }
    }

    /// The slot of a live request (`None` for a stale or unknown id).
    #[inline]
    fn live(&self, user_data: u64) -> Option<&Slot> {
        self.slots
            .get(user_data as u32 as usize)
            .filter(|s| s.generation == (user_data >> 32) as u32 && s.payload.is_some())
    }

    /// As [`live`](Self::live), mutably.
    #[inline]
    fn live_mut(&mut self, user_data: u64) -> Option<&mut Slot> {
        self.slots
            .get_mut(user_data as u32 as usize)
            .filter(|s| s.generation == (user_data >> 32) as u32 && s.payload.is_some())
    }

    /// Keeps a live request's SQE for a possible resubmission.
    #[inline]
    pub(crate) fn keep_sqe(&mut self, user_data: u64, sqe: &crate::op::Sqe) {
        if let Some(slot) = self.live_mut(user_data) {
            slot.sqe = Some(sqe.clone());
        }
    }

    /// Marks a live request's ECANCELED as final (the engine cancels it, or it is linked).
    pub(crate) fn mark_cancel_final(&mut self, user_data: u64) {
        if let Some(slot) = self.live_mut(user_data) {
            slot.cancel_final = true;
        }
    }

    /// Records the thread that submitted a live request.
    #[inline]
    pub(crate) fn set_submitter(&mut self, user_data: u64, tid: u32) {
        if let Some(slot) = self.live_mut(user_data) {
            slot.submitter = tid;
        }
    }

    /// For a live request that completed with ECANCELED nobody asked for, whose submitter
    /// `gone` says has exited: its SQE to submit again, while resubmissions remain.
    pub(crate) fn resubmission(
        &mut self,
        user_data: u64,
        gone: impl FnOnce(u32) -> bool,
    ) -> Option<crate::op::Sqe> {
        let slot = self.live_mut(user_data)?;
        if slot.cancel_final
            || slot.resubmits >= MAX_RESUBMITS
            || slot.submitter == 0
            || !gone(slot.submitter)
        {
            return None;
        }
        slot.resubmits += 1;
        slot.sqe.clone()
    }

    /// Marks a live request as using a registered file slot.
    pub(crate) fn mark_fixed(&mut self, user_data: u64) {
        if let Some(slot) = self.live_mut(user_data) {
            slot.fixed = true;
        }
    }

    /// Takes the payload of a live request, with its sampled submission time (0: not
    /// sampled) and whether it used a registered file; `None` for a stale or unknown id.
    #[inline]
    pub(crate) fn take(&mut self, user_data: u64) -> Option<(Payload, u64, bool)> {
        let index = user_data as u32;
        let generation = (user_data >> 32) as u32;
        let slot = self.slots.get_mut(index as usize)?;
        if slot.generation != generation {
            return None;
        }
        let payload = slot.payload.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        self.occupied -= 1;
        Some((payload, slot.submit_ns, slot.fixed))
    }

    /// Starts the latency clock of a sampled request as it enters the submission queue (time
    /// spent in the backlog is the engine's, not the device's). Unsampled requests hold 0.
    #[inline]
    pub(crate) fn stamp(&mut self, user_data: u64, now_ns: impl FnOnce() -> u64) {
        if let Some(slot) = self.live_mut(user_data) {
            if slot.submit_ns == SAMPLE_PENDING {
                slot.submit_ns = now_ns();
            }
        }
    }

    /// Whether `user_data` names a request still in flight.
    pub(crate) fn contains(&self, user_data: u64) -> bool {
        self.live(user_data).is_some()
    }

    /// Requests in flight.
    pub(crate) fn len(&self) -> usize {
        self.occupied
    }

    /// Removes every payload without completing it, for a shutdown that must leak buffers the
    /// kernel may still write to.
    pub(crate) fn leak_all(&mut self) -> usize {
        let mut n = 0;
        for slot in &mut self.slots {
            if let Some(p) = slot.payload.take() {
                mem::forget(p);
                n += 1;
            }
        }
        self.occupied = 0;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Fsync;
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn generations_reject_stale_ids() {
        let mut slab = Slab::with_capacity(4);
        let a = slab.insert(Payload::new(Fsync::new(0), |_, ()| {}), 0);
        assert!(slab.contains(a));
        assert!(slab.take(a).is_some());
        assert!(slab.take(a).is_none(), "second take of the same id");
        let b = slab.insert(Payload::new(Fsync::new(0), |_, ()| {}), 0);
        assert_eq!(a as u32, b as u32, "slot reused");
        assert_ne!(a, b, "generation differs");
        assert!(!slab.contains(a));
        assert!(
            slab.take(a).is_none(),
            "stale id cannot reach the new request"
        );
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn inline_and_boxed_payloads_complete_and_drop_once() {
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        Payload::new(Fsync::new(0), move |r, ()| {
            assert_eq!(r.unwrap(), 3);
            c.set(c.get() + 1);
        })
        .complete(3);
        let big = [7u8; 200];
        let c = calls.clone();
        Payload::new(Fsync::new(0), move |r, ()| {
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EBADF));
            assert_eq!(big[199], 7);
            c.set(c.get() + 1);
        })
        .complete(-libc::EBADF);
        assert_eq!(calls.get(), 2);

        let tracker = Rc::new(());
        let t = tracker.clone();
        drop(Payload::new(Fsync::new(0), move |_, ()| drop(t)));
        assert_eq!(
            Rc::strong_count(&tracker),
            1,
            "discarded payload dropped its closure"
        );
    }
}
