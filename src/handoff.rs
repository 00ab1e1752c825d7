//! The multi-thread engine's two wake-up protocols, written once for the engine and for the
//! loom models below that check them.
//!
//! # Who reaps, and why no completion is left behind
//!
//! One thread at a time polls (holds the poll lock): it reaps the completion queues and runs
//! callbacks. A thread that wants to poll while another holds the lock — a reactor woken by the
//! eventfd, a future's `poll` — cannot wait for it (the holder may be about to leave, having
//! reaped before the new completion was posted). So it *raises* `repoll` and tries the lock
//! once more; the holder, after letting go, looks at `repoll` and polls again if it is set.
//! Both sides put a SeqCst fence between their write and their read (the raiser: raise, fence,
//! try-lock; the holder: unlock, fence, read the flag), so at least one of them sees the
//! other: either the raiser gets the lock, or the holder sees the flag. A round begins by
//! taking the flag down with a read-modify-write that acquires what every raiser saw — the
//! completion that made it want to poll — so that round reaps it. [`poll`] is that protocol.
//!
//! # Submitting while the poller sleeps
//!
//! A poller about to block (in `io_uring_enter`, or on the eventfd) first flushes every SQ.
//! An SQE pushed after that flush would wait for the poller's next round, which may be never.
//! So the poller *announces* that it blocks before flushing ([`announce`]), and a submitter,
//! after pushing under the ring lock, checks the announcement ([`announced`]) and flushes its
//! ring itself. The same fence pairing makes one of the two see the other. The idle sleep of
//! `run` uses the same pair with the `idle` flag and the pending count.
//!
//! # Which thread runs the kernel's task work
//!
//! A request's completion work that the kernel defers to task context runs on the thread
//! whose `io_uring_enter` submitted it (buffered reads that wait for a page, polled files such
//! as pipes and sockets). On a multi-thread engine that is whichever thread flushed the SQ, not
//! necessarily the poller, so multi-thread rings are set up without COOP_TASKRUN: the kernel
//! then interrupts that thread (or wakes it from an interruptible sleep) to run the work at
//! once, instead of waiting for its next system call, which a thread parked in a futex or
//! busy in user space may never make. Single-thread engines keep COOP_TASKRUN (and, with one
//! ring, DEFER_TASKRUN): the submitter is the only thread that polls or waits, and it enters
//! the kernel whenever the SQ ring's TASKRUN flag says work is pending. When a submitting
//! thread exits, the kernel cancels what it still queued (its io-wq backlog, its armed polls);
//! a multi-thread ring records which thread's enter consumed each entry, and a request that
//! completes with an ECANCELED nobody asked for, after that thread exited (or while it is
//! exiting), is submitted again from the reaping thread (up to three times). A genuine
//! ECANCELED (a file system's, a chain link's, a cancel's) is delivered as it is.

use crate::lock::{Flag, LockMode};
use crate::sync::{fence, Ordering};

/// Polls through the hand-off: runs `round` while holding what `try_lock` gives, as many
/// times as other threads asked for a poll meanwhile. Returns whether this thread polled
/// (`false`: another thread holds the lock and will poll once more on its behalf). A panic
/// in `round` does not skip the hand-off: the lock is let go and a refused poller is served
/// first, then the panic goes on.
#[inline]
pub(crate) fn poll<L: LockMode, G>(
    repoll: &L::Flag,
    mut try_lock: impl FnMut() -> Option<G>,
    mut round: impl FnMut(),
) -> bool {
    let mut polled = false;
    let mut panic = None;
    loop {
        let guard = match try_lock() {
            Some(g) => g,
            None if !L::MULTI_THREAD => break,
            None => {
                repoll.raise();
                fence(Ordering::SeqCst);
                match try_lock() {
                    Some(g) => g,
                    None => break,
                }
            }
        };
        repoll.take_raised();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut round));
        polled = true;
        drop(guard);
        if let Err(p) = r {
            panic.get_or_insert(p);
        }
        if !must_repoll::<L>(repoll) {
            break;
        }
    }
    if let Some(p) = panic {
        std::panic::resume_unwind(p);
    }
    polled
}

/// After the poll lock was let go by a holder that did not go through [`poll`] (a wait, a
/// drain, `run`): whether a poller was refused meanwhile and the holder must poll for it.
#[inline]
pub(crate) fn must_repoll<L: LockMode>(repoll: &L::Flag) -> bool {
    if !L::MULTI_THREAD {
        return false;
    }
    fence(Ordering::SeqCst);
    repoll.is_set()
}

/// The poller announces that it is about to block (or sets the flag back). The fence orders
/// the store before the flush or count check that follows.
#[inline]
pub(crate) fn announce<L: LockMode>(flag: &L::Flag, on: bool) {
    flag.store(on);
    if L::MULTI_THREAD {
        fence(Ordering::SeqCst);
    }
}

/// A submitter, after pushing: whether the poller announced it blocks (then the submitter
/// flushes, or wakes it, itself).
#[inline]
pub(crate) fn announced<L: LockMode>(flag: &L::Flag) -> bool {
    if L::MULTI_THREAD {
        fence(Ordering::SeqCst);
    }
    flag.is_set()
}

#[cfg(all(test, auraio_loom))]
mod loom_models {
    //! `RUSTFLAGS="--cfg auraio_loom" cargo test --release --lib handoff` (scripts/test.sh
    //! runs them).

    use super::*;
    use crate::lock::{Counter, MultiThread, RingLock};
    use crate::sync::{AtomicBool, AtomicU64, Mutex};
    use loom::sync::Arc;

    type L = MultiThread;

    /// Every interleaving with up to three preemptions per execution (the usual bound: the
    /// unbounded state space of these models is too large to finish, and the bugs the models
    /// guard against need one or two).
    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(f);
    }

    /// A completion posted while another thread polls is reaped by someone: the reactor's poll
    /// is refused, but the holder polls once more.
    #[test]
    fn no_completion_is_left_in_the_queue() {
        model(|| {
            let lock = Arc::new(<Mutex<()> as RingLock<()>>::new(()));
            let repoll = Arc::new(<AtomicBool as Flag>::new());
            let posted = Arc::new(AtomicU64::new(0));
            let reaped = Arc::new(AtomicU64::new(0));
            let poller = |lock: Arc<Mutex<()>>,
                          repoll: Arc<AtomicBool>,
                          posted: Arc<AtomicU64>,
                          reaped: Arc<AtomicU64>| {
                poll::<L, _>(
                    &repoll,
                    || lock.try_lock().ok(),
                    || {
                        // Reaping: everything posted so far (the CQ tail, read with Acquire).
                        let n = posted.load(Ordering::Acquire);
                        reaped.store(n, Ordering::Relaxed);
                    },
                );
            };
            // The reactor: the kernel posts a completion, signals the eventfd; it polls.
            let reactor = {
                let (l, r, p, d) = (lock.clone(), repoll.clone(), posted.clone(), reaped.clone());
                loom::thread::spawn(move || {
                    p.fetch_add(1, Ordering::Release);
                    poller(l, r, p, d);
                })
            };
            // A future's task polls at the same time.
            poller(lock.clone(), repoll.clone(), posted.clone(), reaped.clone());
            reactor.join().unwrap();
            assert_eq!(
                reaped.load(Ordering::Relaxed),
                posted.load(Ordering::Relaxed)
            );
        });
    }

    /// An SQE pushed while the poller goes to sleep is flushed by someone: the poller's flush
    /// sees it, or the submitter sees the announcement and flushes it itself. (The model also
    /// passes without the fences: both sides take the ring lock, which orders them on its own.
    /// The fences are for the checks made without it, such as `run`'s look at the pending
    /// count.)
    #[test]
    fn no_submission_waits_for_a_sleeping_poller() {
        model(|| {
            let sq = Arc::new(<Mutex<u32> as RingLock<u32>>::new(0));
            let blocked = Arc::new(<AtomicBool as Flag>::new());
            let flush = |sq: &Mutex<u32>| *RingLock::lock(sq) = 0;
            let submitter = {
                let (sq, blocked) = (sq.clone(), blocked.clone());
                loom::thread::spawn(move || {
                    *RingLock::lock(&*sq) += 1;
                    if announced::<L>(&blocked) {
                        flush(&sq);
                    }
                })
            };
            announce::<L>(&blocked, true);
            flush(&sq);
            // The poller now sleeps until a completion: only flushed SQEs can produce one.
            submitter.join().unwrap();
            assert_eq!(*RingLock::lock(&*sq), 0, "an SQE was left unsubmitted");
        });
    }

    /// The C request handle's count: whichever holder lets go last sees the other's writes
    /// before it recycles the handle.
    #[test]
    fn last_reference_sees_every_holders_writes() {
        model(|| {
            let refs = Arc::new(<AtomicU64 as Counter>::new(2));
            type Slots = (loom::cell::UnsafeCell<u8>, loom::cell::UnsafeCell<u8>);
            let data: Arc<Slots> = Arc::new(Default::default());
            let holder = |i: usize, refs: Arc<AtomicU64>, data: Arc<Slots>| {
                let mine = if i == 0 { &data.0 } else { &data.1 };
                // SAFETY: each holder writes only its own slot while it holds a reference.
                mine.with_mut(|d| unsafe { *d = 1 });
                if refs.release_ref() {
                    // SAFETY: the last holder alone still reaches the handle; loom reports a
                    // race here if the count's orderings did not make the other write visible.
                    let seen = (
                        data.0.with(|d| unsafe { *d }),
                        data.1.with(|d| unsafe { *d }),
                    );
                    assert_eq!(seen, (1, 1));
                }
            };
            let t = {
                let (r, d) = (refs.clone(), data.clone());
                loom::thread::spawn(move || holder(1, r, d))
            };
            holder(0, refs, data);
            t.join().unwrap();
        });
    }
}
