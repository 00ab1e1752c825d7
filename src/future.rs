//! Futures: every operation of the op table as an owned-buffer future, for any executor.
//!
//! `engine.read_at(fd, buf, offset).await` gives `(io::Result<usize>, buf)`. The operation is
//! submitted when the future is made; the future completes when the engine reaps its
//! completion.
//!
//! # Progress without a helper thread
//!
//! A pending future, when polled, reaps whatever completions are ready (a non-blocking
//! [`Engine::poll`]) and registers its waker. With nothing else to wake it, it also asks to be
//! polled again at once, so a plain single-threaded executor (`block_on`, `LocalPool`) keeps
//! driving the engine by itself. An executor that parks instead attaches a reactor to the
//! engine's eventfd ([`Engine::notify_fd`], or the `tokio` feature's
//! [`drive`](crate::tokio::drive)); once [`Engine::set_notifications`] is on, futures no
//! longer reschedule themselves and sleep until a completion arrives. Simplest of all,
//! [`Engine::block_on`] runs a future on the calling thread and sleeps in the kernel while it
//! waits: no reactor, no spinning.
//!
//! # Who owns the buffer (the soundness argument)
//!
//! 1. Creating the future moves the buffer into the operation, and the operation into the
//!    engine's request slot, before the SQE can reach the kernel. From here the engine owns it.
//! 2. The slot is freed only when the kernel's completion for it is reaped (or, for a request
//!    the kernel never saw, when it is cancelled from the backlog). Nothing else can take the
//!    buffer out: the future holds only a shared result cell and the request id.
//! 3. On completion the engine moves the buffer out of the slot into the callback, which
//!    stores it in the result cell and wakes the future; polling the future moves it to the
//!    caller. The kernel is done with it at that point.
//! 4. Dropping the future mid-flight marks the cell abandoned and (by default) cancels the
//!    request. The buffer stays in the slot until the completion (cancelled or not) is reaped;
//!    the callback then sees the abandoned cell and drops the buffer. It is never freed while
//!    the kernel may write to it, and never leaked.
//! 5. If the engine itself is dropped first, its drop drains or cancels every request and, past
//!    its bound, leaks (never frees) what the kernel still holds.
//!
//! No step relies on the future being polled, pinned in place, or dropped in any order.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::engine::{Engine, RequestId};
use crate::lock::{LockMode, RingLock, Sendable};
use crate::op::Op;
use crate::policy::Policy;
use crate::tuning::Tuning;

/// The cell a future and its callback share.
pub(crate) struct Cell<Out> {
    result: Option<(io::Result<usize>, Out)>,
    waker: Option<Waker>,
    abandoned: bool,
}

/// A submitted operation, as a future resolving to its result and buffer(s).
#[must_use = "futures do nothing unless awaited; dropping one cancels its operation"]
pub struct OpFuture<'e, P: Policy, L: LockMode, T: Tuning, Out: 'static> {
    engine: &'e Engine<P, L, T>,
    state: State<L, Out>,
}

enum State<L: LockMode, Out: 'static> {
    /// Refused at submission: resolves at once.
    Refused(Option<(io::Error, Out)>),
    Submitted {
        id: RequestId,
        cell: L::Shared<L::Lock<Cell<Out>>>,
    },
    Done,
}

impl<'e, P: Policy, L: LockMode, T: Tuning, Out: 'static> OpFuture<'e, P, L, T, Out> {
    pub(crate) fn submit<O>(engine: &'e Engine<P, L, T>, op: O) -> Self
    where
        O: Op<Output = Out> + Sendable<L>,
        Out: Sendable<L>,
    {
        let cell: L::Shared<L::Lock<Cell<Out>>> = L::Shared::from(L::Lock::new(Cell {
            result: None,
            waker: None,
            abandoned: false,
        }));
        let theirs = cell.clone();
        let callback = move |r: io::Result<usize>, out: Out| {
            let waker = {
                let mut c = theirs.lock();
                if c.abandoned {
                    None
                } else {
                    c.result = Some((r, out));
                    c.waker.take()
                }
            };
            // Woken (and, when abandoned, the buffer dropped) after the cell's lock is released.
            if let Some(w) = waker {
                w.wake();
            }
        };
        // SAFETY: `op` is `Sendable<L>`, and the callback captures only `theirs`: in
        // multi-thread mode an `Arc<Mutex<Cell<Out>>>`, which is `Send` because `Out` is
        // (`Sendable<MultiThread>` means `Send`) and a `Waker` is. Single-thread mode needs
        // neither to be `Send`.
        let state = match unsafe { engine.submit_unchecked(op, callback) } {
            Ok(id) => State::Submitted { id, cell },
            Err(e) => State::Refused(Some(e.into_parts())),
        };
        OpFuture { engine, state }
    }

    /// The request's id, once submitted (`None` if the submission was refused).
    pub fn id(&self) -> Option<RequestId> {
        match &self.state {
            State::Submitted { id, .. } => Some(*id),
            _ => None,
        }
    }
}

impl<P: Policy, L: LockMode, T: Tuning, Out: 'static> Future for OpFuture<'_, P, L, T, Out> {
    type Output = (io::Result<usize>, Out);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Nothing in an OpFuture is structurally pinned: it is Unpin.
        let this = self.get_mut();
        let ready = |cell: &L::Shared<L::Lock<Cell<Out>>>| cell.lock().result.take();
        match &mut this.state {
            State::Done => panic!("OpFuture polled after completion"),
            State::Refused(r) => {
                let (e, out) = r.take().expect("refusal taken once");
                this.state = State::Done;
                Poll::Ready((Err(e), out))
            }
            State::Submitted { cell, .. } => {
                if let Some(r) = ready(cell) {
                    this.state = State::Done;
                    return Poll::Ready(r);
                }
                {
                    let mut c = cell.lock();
                    match &c.waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => c.waker = Some(cx.waker().clone()),
                    }
                }
                // Drive the engine: reap what is ready, flush what is queued. On the thread
                // that is running this engine's callbacks (a future awaited inside one), the
                // running poll cannot return to reap for us: reap nested instead.
                let nested = this.engine.core.poll_nested().is_some();
                if !nested {
                    // A fatal error is not this future's to report: the poll that returns it
                    // has completed every request the kernel never got with it (this one's
                    // result is then in the cell), and the rest complete from the kernel.
                    let _ = this.engine.poll();
                }
                if let State::Submitted { cell, .. } = &this.state {
                    if let Some(r) = ready(cell) {
                        this.state = State::Done;
                        return Poll::Ready(r);
                    }
                }
                let woken_by_driver = this.engine.notifications()
                    || crate::block_on::driven_here(this.engine.core.engine_id());
                if nested || !woken_by_driver {
                    // No reactor will wake us (or it is the poller this thread is running
                    // inside): ask to be polled again.
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }
}

impl<P: Policy, L: LockMode, T: Tuning, Out: 'static> Drop for OpFuture<'_, P, L, T, Out> {
    fn drop(&mut self) {
        if let State::Submitted { id, cell } = &self.state {
            let abandoned = {
                let mut c = cell.lock();
                c.abandoned = true;
                c.waker = None;
                // A result already delivered (never polled out) is dropped here.
                c.result.take()
            };
            drop(abandoned);
            if self.engine.core.cancel_on_drop() {
                // ENOENT when it already completed: nothing to do.
                let _ = self.engine.cancel(*id);
            }
        }
    }
}

impl<P: Policy, L: LockMode, T: Tuning, Out: 'static> Unpin for OpFuture<'_, P, L, T, Out> {}

/// Generator: the future-returning form of each entry of the op table.
macro_rules! future_methods {
    (
        method $method:ident [$(#[$doc:meta])*] generics [$($g:ident : $bound:path)?]
        args [$($arg:ident : $aty:ty),*] out [$out:ty] op $Op:ident future $fut:ident
        $($rest:tt)*
    ) => {
        impl<P: Policy, L: LockMode, T: Tuning> Engine<P, L, T> {
            #[doc = concat!("Future form of [`", stringify!($method), "`](Self::", stringify!($method),
                "): submits now, resolves to the result and what the operation owned.")]
            ///
            $(#[$doc])*
            ///
            /// Dropping the future before it resolves cancels the operation (unless
            /// [`Options::cancel_on_drop`](crate::Options::cancel_on_drop) is off); the buffer
            /// is freed only once the kernel is done with it.
            #[inline]
            pub fn $fut<$($g,)?>(&self, $($arg: $aty),*) -> OpFuture<'_, P, L, T, $out>
            where
                $($g: $bound,)?
                crate::op::$Op $(<$g>)?: Sendable<L>,
                $out: Sendable<L>,
            {
                OpFuture::submit(self, crate::op::$Op::new($($arg),*))
            }
        }
    };
}

crate::__op_table!(crate::__op_each, [future_methods]);
