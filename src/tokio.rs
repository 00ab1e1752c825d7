//! tokio integration (cargo feature `tokio`): a driver that sleeps in tokio's reactor on the
//! engine's eventfd and polls the engine when completions arrive.
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! let engine = std::sync::Arc::new(auraio::SharedEngine::new()?);
//! // Runs until dropped.
//! let _driver = auraio::tokio::Driver::spawn(engine.clone());
//! let file = std::fs::File::open("/etc/hostname")?;
//! use std::os::fd::AsRawFd;
//! let (res, buf) = engine.read_at(file.as_raw_fd(), vec![0u8; 64], 0).await;
//! println!("{} bytes: {:?}", res?, &buf[..8]);
//! # Ok(()) }
//! ```
//!
//! The driver is the engine's only reactor; futures also poll the engine themselves when they
//! are polled. Whoever finds another thread polling asks it to poll once more before it lets
//! go (see [`Engine::poll`]), so a completion whose eventfd wake-up reached the driver while a
//! future's task was polling is reaped by that task's poll, not lost.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::engine::Engine;
use crate::lock::{LockMode, MultiThread, SingleThread};
use crate::policy::Policy;
use crate::tuning::Tuning;

/// The engine's eventfd, borrowed for the reactor.
struct Notify(RawFd);

impl AsRawFd for Notify {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Drives `engine` from tokio's reactor until an error: turns
/// [notifications](Engine::set_notifications) on, then each time the eventfd becomes readable
/// drains it and [polls](Engine::poll) the engine, which runs callbacks and wakes futures.
/// [`Driver::spawn`] / [`Driver::spawn_local`] run it as a task that stops when the `Driver`
/// is dropped; spawned by hand, abort it when done. Notifications are turned off again when
/// the future is dropped.
///
/// # Errors
///
/// The engine's fatal error, or the reactor's.
pub async fn drive<P: Policy, L: LockMode, T: Tuning>(engine: &Engine<P, L, T>) -> io::Result<()> {
    struct Off<'a, P: Policy, L: LockMode, T: Tuning>(&'a Engine<P, L, T>);
    impl<P: Policy, L: LockMode, T: Tuning> Drop for Off<'_, P, L, T> {
        fn drop(&mut self) {
            self.0.set_notifications(false);
        }
    }
    // SAFETY: the eventfd belongs to `engine`, which this future borrows: it stays open, and is
    // neither replaced nor closed, for as long as the AsyncFd (dropped with this future) lives.
    let fd = unsafe {
        AsyncFd::register_with_interest(Notify(engine.notify_fd().as_raw_fd()), Interest::READABLE)
    }
    .map_err(io::Error::from)?;
    engine.set_notifications(true);
    let _off = Off(engine);
    loop {
        engine.poll()?;
        let mut ready = fd.readable().await?;
        let mut value = 0u64;
        // SAFETY: reading one u64 from the engine's non-blocking eventfd into a valid u64.
        let _ = unsafe {
            libc::read(
                ready.get_inner().0,
                (&mut value as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        ready.clear_ready();
    }
}

/// A running [`drive`] task that stops when dropped.
#[derive(Debug)]
#[must_use = "dropping the driver stops it"]
pub struct Driver {
    task: tokio::task::JoinHandle<io::Result<()>>,
}

impl Driver {
    /// Spawns [`drive`] for a multi-thread engine on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (as `tokio::spawn`).
    pub fn spawn<P: Policy, T: Tuning>(engine: std::sync::Arc<Engine<P, MultiThread, T>>) -> Self {
        Driver {
            task: tokio::spawn(async move { drive(&engine).await }),
        }
    }

    /// Spawns [`drive`] for a single-thread engine on the current `LocalSet`.
    ///
    /// # Panics
    ///
    /// Outside a `LocalSet` (as `tokio::task::spawn_local`).
    pub fn spawn_local<P: Policy, T: Tuning>(
        engine: std::rc::Rc<Engine<P, SingleThread, T>>,
    ) -> Self {
        Driver {
            task: tokio::task::spawn_local(async move { drive(&engine).await }),
        }
    }

    /// Whether the driver stopped (on the engine's fatal error or the reactor's).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
