//! Who is running what on this thread: the poll lock's owner, the callback scope and the
//! list of batches being run (for nested polls), and the thread's token.

use super::*;

thread_local! {
    /// Address of the engine whose callbacks this thread is running (0: none).
    pub(super) static IN_CALLBACKS: Cell<usize> = const { Cell::new(0) };
    /// A byte whose address names this thread among the live threads (never 0).
    pub(super) static THREAD_TOKEN: u8 = const { 0 };
}

/// This thread's token: the owner recorded in an engine's poll lock.
pub(crate) fn thread_token() -> u64 {
    THREAD_TOKEN.with(|t| t as *const u8 as u64)
}

/// Source of engine identities for [`RequestId`]s.
pub(super) static NEXT_ENGINE_ID: std::sync::atomic::AtomicU32 =
    std::sync::atomic::AtomicU32::new(1);

/// The poll lock, held: records the owning thread (so a nested poll, wait, drain or run on this
/// thread is refused with `Deadlock` instead of blocking on itself) until dropped.
pub(super) struct PollGuard<'a, L: LockMode> {
    pub(super) _lock: <L::Lock<()> as RingLock<()>>::Guard<'a>,
    pub(super) owner: &'a L::Counter,
}

impl<L: LockMode> Drop for PollGuard<'_, L> {
    fn drop(&mut self) {
        // Cleared before the lock itself (a field) is released.
        self.owner.set(0);
    }
}

/// One batch whose callbacks this thread is running: a node of a list threaded through the
/// stack frames of the `run_callbacks` calls, innermost first.
pub(super) struct RunningBatch {
    pub(super) engine: usize,
    pub(super) batch: *mut Batch,
    pub(super) outer: *const RunningBatch,
}

thread_local! {
    /// The innermost running batch (null: none). A `Cell` of a pointer has no destructor, so
    /// it stays usable while the thread's other thread-locals (an engine among them, whose
    /// drop runs callbacks) are destroyed.
    pub(super) static RUNNING_BATCH: Cell<*const RunningBatch> = const { Cell::new(std::ptr::null()) };
}

/// Unlinks a [`RunningBatch`] node when its `run_callbacks` returns or unwinds.
pub(super) struct Unlink(pub(super) *const RunningBatch);

impl Drop for Unlink {
    fn drop(&mut self) {
        RUNNING_BATCH.with(|r| r.set(self.0));
    }
}

/// Marks the current thread as running `addr`'s callbacks while alive; nests.
pub(super) struct CallbackScope(usize);

impl CallbackScope {
    pub(super) fn enter(addr: usize) -> Self {
        CallbackScope(IN_CALLBACKS.with(|c| c.replace(addr)))
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        IN_CALLBACKS.with(|c| c.set(self.0));
    }
}

/// Adds one to an eventfd of the engine's.
pub(super) fn write_one(fd: &OwnedFd) {
    let one = 1u64;
    // SAFETY: writes one u64 from a valid location to an eventfd the engine owns.
    let _ = unsafe {
        libc::write(
            fd.as_raw_fd(),
            (&one as *const u64).cast(),
            std::mem::size_of::<u64>(),
        )
    };
}

pub(super) fn deadlock() -> io::Error {
    io::Error::new(
        io::ErrorKind::Deadlock,
        "auraio: poll/wait/run/drain called on a thread that is already polling this engine \
         (from inside one of its callbacks, directly or through another engine's)",
    )
}

/// Whether this thread is running callbacks of any engine.
pub(crate) fn in_any_callback() -> bool {
    IN_CALLBACKS.with(|c| c.get()) != 0
}
