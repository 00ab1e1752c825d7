//! [`Engine::block_on`]: runs a future to completion on the calling thread, sleeping in the
//! kernel while it waits for this engine's completions.
//!
//! Without it a future has two ways to make progress. With a reactor on the engine's eventfd
//! (the `tokio` feature's driver, [`Engine::set_notifications`]) it sleeps until a completion
//! wakes it. Without one it wakes itself after every poll, so a plain executor such as
//! `futures::executor::block_on` keeps driving the engine — at the cost of a whole core spent
//! polling while requests are in flight. `block_on` is the third way: it is the executor and
//! the reactor at once. While the future is pending it waits in `io_uring_enter` for a
//! completion (bounded by [`BLOCK_ON_WAIT`], so a wake from elsewhere — a channel, another
//! engine — is seen within it), and the futures of this engine polled on this thread know a
//! driver is waiting and do not reschedule themselves.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::engine::Engine;
use crate::lock::LockMode;
use crate::policy::Policy;
use crate::tuning::Tuning;

/// Longest sleep of [`Engine::block_on`] between looks at its future: how late a wake that
/// does not come from this engine's completions (a channel, a timer, another engine) is seen.
pub const BLOCK_ON_WAIT: Duration = Duration::from_millis(10);

thread_local! {
    /// The engine this thread's `block_on` drives (its id + 1; 0: none).
    static DRIVING: Cell<u64> = const { Cell::new(0) };
}

/// Whether the calling thread is inside `block_on` of the engine with this id: its futures
/// are then woken by the completions that `block_on` waits for, and need not wake themselves.
pub(crate) fn driven_here(engine_id: u32) -> bool {
    DRIVING.with(|d| d.get() == u64::from(engine_id) + 1)
}

/// A waker that flags the future for another poll and unparks the driving thread.
struct Flag {
    woken: AtomicBool,
    thread: std::thread::Thread,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Release: what the waker's caller did before waking is seen by the next poll.
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Restores the thread's previous `DRIVING` on the way out, panics included.
struct Driving(u64);

impl Drop for Driving {
    fn drop(&mut self) {
        DRIVING.with(|d| d.set(self.0));
    }
}

impl<P: Policy, L: LockMode, T: Tuning> Engine<P, L, T> {
    /// Runs `fut` to completion on this thread and returns its output, driving this engine
    /// meanwhile: while the future is pending the thread sleeps in the kernel until one of the
    /// engine's completions arrives (or [`BLOCK_ON_WAIT`] passes), instead of polling in a
    /// loop as a future without a reactor otherwise does (see [`crate::future`]).
    ///
    /// Any future works; it need not be this engine's. A future woken by something other
    /// than this engine's completions is polled again at most [`BLOCK_ON_WAIT`] later. Called
    /// from inside one of this engine's callbacks (where the engine cannot be waited on) it
    /// still completes, by polling. While another thread holds the engine's poll (a
    /// [`run`](Self::run) loop, a [`drain`](Self::drain)) that thread reaps, and its
    /// callbacks wake this one.
    ///
    /// Inside it, await this engine's futures (directly, or through combinators and
    /// `FuturesUnordered`): they leave the waking to `block_on`. An executor nested inside
    /// that parks the thread (`futures::executor::block_on`, `pollster`) would wait for a
    /// wake that only `block_on`'s own waits deliver, and hang; do not nest one.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let engine = auraio::LocalEngine::new()?;
    /// let file = std::fs::File::open("Cargo.toml")?;
    /// use std::os::fd::AsRawFd;
    /// let (n, buf) = engine.block_on(engine.read_at(file.as_raw_fd(), vec![0u8; 64], 0));
    /// assert!(n? > 0 && buf.starts_with(b"["));
    /// # Ok(())
    /// # }
    /// ```
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let flag = Arc::new(Flag {
            woken: AtomicBool::new(true),
            thread: std::thread::current(),
        });
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = std::pin::pin!(fut);
        let _driving = Driving(DRIVING.with(|d| d.replace(u64::from(self.core.engine_id()) + 1)));
        loop {
            if flag.woken.swap(false, Ordering::Acquire) {
                if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                    return v;
                }
                continue;
            }
            if self.pending() == 0 {
                // Nothing of this engine's to wait for: the wake comes from elsewhere.
                std::thread::park_timeout(BLOCK_ON_WAIT);
                continue;
            }
            match self.core.wait_unless_busy(Some(BLOCK_ON_WAIT)) {
                Some(Ok(_)) => {}
                // Inside one of this engine's callbacks (it cannot be waited on here), or the
                // engine latched a fatal error: the future's own poll reaps (nested) or
                // resolves with the error, so poll it again.
                Some(Err(_)) => flag.woken.store(true, Ordering::Release),
                // Another thread holds the poll (a `run`, a `drain`): it reaps, and its
                // callbacks wake this future, which unparks this thread. Asking it to poll
                // once more covers a completion posted after its last reap.
                None => {
                    let _ = self.poll();
                    std::thread::park_timeout(BLOCK_ON_WAIT);
                }
            }
        }
    }
}
