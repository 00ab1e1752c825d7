//! The engine operations a job thread uses, for every preset: one trait, implemented for both
//! lock modes, so the job loop is written once and monomorphized per preset.

use std::cell::UnsafeCell;
use std::io;
use std::time::Duration;

use auraio::lock::{MultiThread, SingleThread};
use auraio::policy::Policy;
use auraio::{AlignedBuf, Engine, IoBuf, SubmitError};

use crate::stats::RingEnd;

/// A finished operation, as the job loop sees it.
pub struct Completion {
    /// Slot of the operation (`u32::MAX` for a sync).
    pub slot: u32,
    /// Bytes, or -errno.
    pub result: i64,
    /// The slot's buffer, handed back.
    pub buf: Option<AlignedBuf>,
}

/// A job thread's engine together with the queue its callbacks fill, so the queue cannot be
/// freed while the engine may still deliver into it. Fields drop in declaration order: the
/// engine first (its drop runs the callbacks still pending after an error or a panic in the
/// job loop, and they push into the queue), then the queue.
pub struct JobIo<E> {
    /// The job's engine.
    pub engine: E,
    queue: Box<UnsafeCell<Vec<Completion>>>,
}

impl<E> JobIo<E> {
    /// `engine` with a queue that has room for `capacity` completions.
    pub fn new(engine: E, capacity: usize) -> Self {
        JobIo {
            engine,
            queue: Box::new(UnsafeCell::new(Vec::with_capacity(capacity))),
        }
    }

    /// The queue, for [`Done`]s and the job loop; valid for as long as `self` is.
    pub fn sink(&self) -> *mut Vec<Completion> {
        self.queue.get()
    }

    /// Drops the engine, then returns every completion queued and not yet taken, including
    /// those the engine's drop delivered.
    pub fn close(self) -> Vec<Completion> {
        drop(self.engine);
        self.queue.into_inner()
    }
}

/// Where a callback puts its completion: the job thread's pre-allocated queue.
pub struct Done {
    sink: *mut Vec<Completion>,
    slot: u32,
}

// SAFETY: each job thread owns its `JobIo` (engine and queue), and callbacks only run inside
// that thread's own wait calls and its engine's drop, so the queue is never touched by two
// threads; `JobIo` drops the engine before the queue, so the queue is alive for every callback.
unsafe impl Send for Done {}

impl Done {
    /// A completion target for `slot` in `sink`.
    pub fn new(sink: *mut Vec<Completion>, slot: u32) -> Self {
        Done { sink, slot }
    }

    fn push(self, r: io::Result<usize>, buf: Option<AlignedBuf>) {
        let result = match r {
            Ok(n) => n as i64,
            Err(e) => -i64::from(e.raw_os_error().unwrap_or(libc::EIO)),
        };
        // SAFETY: see the Send impl: the queue belongs to the thread running this callback,
        // which holds no other reference to it while the engine runs callbacks (its capacity
        // covers every outstanding operation, so this never reallocates).
        unsafe { &mut *self.sink }.push(Completion {
            slot: self.slot,
            result,
            buf,
        });
    }
}

/// What the job loop needs of an engine.
pub trait JobEngine {
    /// Reads `len` bytes into the start of `buf` at `offset`.
    fn read(&self, fd: i32, buf: AlignedBuf, len: usize, offset: u64, done: Done)
        -> io::Result<()>;
    /// Writes the first `len` bytes of `buf` at `offset`.
    fn write(
        &self,
        fd: i32,
        buf: AlignedBuf,
        len: usize,
        offset: u64,
        done: Done,
    ) -> io::Result<()>;
    /// fsync or fdatasync.
    fn sync(&self, fd: i32, datasync: bool, done: Done) -> io::Result<()>;
    /// `ioengine=null`: an IORING_OP_NOP standing for an I/O of `len` bytes, which it
    /// completes as if done in full (fio's null engine), handing `buf` back.
    fn nop(&self, buf: AlignedBuf, len: usize, done: Done) -> io::Result<()>;
    /// `fixedbufs`: registers `bufs` (slot `i`'s is index `i`) with the engine.
    fn register_slot_buffers(&self, bufs: Vec<AlignedBuf>) -> io::Result<()>;
    /// `registerfiles`: registers the job's files (their operations then use fixed slots).
    fn register_job_files(&self, fds: &[i32]) -> io::Result<()>;
    /// Reads `len` bytes into registered buffer `index` at `offset` (IORING_OP_READ_FIXED);
    /// with a `copy`, what was read is copied there and comes back in the completion (for
    /// `verify`: the registered buffer stays the engine's).
    fn read_fixed(
        &self,
        fd: i32,
        index: usize,
        len: usize,
        offset: u64,
        copy: Option<AlignedBuf>,
        done: Done,
    ) -> io::Result<()>;
    /// Writes `len` bytes of registered buffer `index` at `offset` (IORING_OP_WRITE_FIXED),
    /// once `fill` has prepared them.
    fn write_fixed(
        &self,
        fd: i32,
        index: usize,
        len: usize,
        offset: u64,
        fill: &mut dyn FnMut(&mut [u8]),
        done: Done,
    ) -> io::Result<()>;
    /// Trims `len` bytes at `offset`: on a block device (`block`) a discard (what fio's
    /// BLKDISCARD does, through io_uring), on a file fallocate(PUNCH_HOLE | KEEP_SIZE), which
    /// frees its blocks; completes as `len` bytes done.
    fn trim(&self, fd: i32, offset: u64, len: u64, block: bool, done: Done) -> io::Result<()>;
    /// Waits for completions (up to `timeout`).
    fn wait_for(&self, timeout: Duration) -> io::Result<usize>;
    /// Handles the completions that are ready, without blocking.
    fn poll_ready(&self) -> io::Result<usize>;
    /// Sum of the in-flight limits.
    fn limit(&self) -> u64;
    /// The tuner's state per ring.
    fn ring_ends(&self) -> Vec<RingEnd>;
    /// Highest ring P99 of the last window, nanoseconds.
    fn p99_ns(&self) -> u64;
}

/// A submission's result as the job loop takes it: accepted, or the errno (the job stops,
/// so a refused request's buffer is not needed back).
fn submitted<T, B>(r: Result<T, SubmitError<B>>) -> io::Result<()> {
    r.map(drop).map_err(|e| e.into_parts().0)
}

macro_rules! job_engine_for {
    ($L:ty) => {
        impl<P: Policy> JobEngine for Engine<P, $L> {
            fn read(
                &self,
                fd: i32,
                buf: AlignedBuf,
                len: usize,
                offset: u64,
                done: Done,
            ) -> io::Result<()> {
                let slice = buf.slice(..len);
                submitted(Engine::read(self, fd, slice, offset, move |r, b| {
                    done.push(r, Some(b.into_inner()))
                }))
            }
            fn write(
                &self,
                fd: i32,
                buf: AlignedBuf,
                len: usize,
                offset: u64,
                done: Done,
            ) -> io::Result<()> {
                let slice = buf.slice(..len);
                submitted(Engine::write(self, fd, slice, offset, move |r, b| {
                    done.push(r, Some(b.into_inner()))
                }))
            }
            fn sync(&self, fd: i32, datasync: bool, done: Done) -> io::Result<()> {
                if datasync {
                    submitted(self.fdatasync(fd, move |r, ()| done.push(r, None)))
                } else {
                    submitted(self.fsync(fd, move |r, ()| done.push(r, None)))
                }
            }
            fn register_slot_buffers(&self, bufs: Vec<AlignedBuf>) -> io::Result<()> {
                self.register_buffers(bufs)
            }
            fn register_job_files(&self, fds: &[i32]) -> io::Result<()> {
                self.register_files(fds)
            }
            fn read_fixed(
                &self,
                fd: i32,
                index: usize,
                len: usize,
                offset: u64,
                copy: Option<AlignedBuf>,
                done: Done,
            ) -> io::Result<()> {
                // The lease goes back to the engine when the completion drops it.
                let lease = self.fixed_buf(index, 0, len)?;
                submitted(Engine::read_fixed(
                    self,
                    fd,
                    lease,
                    offset,
                    move |r, lease| {
                        let copy = copy.map(|mut c| {
                            let n = *r.as_ref().unwrap_or(&0);
                            c[..n].copy_from_slice(&lease[..n]);
                            c
                        });
                        done.push(r, copy)
                    },
                ))
            }
            fn write_fixed(
                &self,
                fd: i32,
                index: usize,
                len: usize,
                offset: u64,
                fill: &mut dyn FnMut(&mut [u8]),
                done: Done,
            ) -> io::Result<()> {
                let mut lease = self.fixed_buf(index, 0, len)?;
                fill(&mut lease);
                submitted(Engine::write_fixed(self, fd, lease, offset, move |r, _| {
                    done.push(r, None)
                }))
            }
            fn trim(
                &self,
                fd: i32,
                offset: u64,
                len: u64,
                block: bool,
                done: Done,
            ) -> io::Result<()> {
                let finish =
                    move |r: io::Result<usize>, ()| done.push(r.map(|_| len as usize), None);
                if block {
                    return submitted(self.discard(fd, offset, len, finish));
                }
                let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
                submitted(self.fallocate(fd, mode, offset, len, finish))
            }
            fn nop(&self, buf: AlignedBuf, len: usize, done: Done) -> io::Result<()> {
                submitted(Engine::nop(self, move |r, ()| {
                    done.push(r.map(|_| len), Some(buf))
                }))
            }
            fn wait_for(&self, timeout: Duration) -> io::Result<usize> {
                self.wait(Some(timeout))
            }
            fn poll_ready(&self) -> io::Result<usize> {
                self.poll()
            }
            fn limit(&self) -> u64 {
                self.in_flight_limit()
            }
            fn ring_ends(&self) -> Vec<RingEnd> {
                (0..self.ring_count())
                    .filter_map(|i| self.ring_stats(i).ok())
                    .map(|r| RingEnd {
                        limit: r.in_flight_limit,
                        phase: r.phase.name(),
                        p99_ns: r.p99_ns,
                        converge_ms: r.ticks_to_converge * 10,
                        reprobes: u64::from(r.reprobes),
                    })
                    .collect()
            }
            fn p99_ns(&self) -> u64 {
                self.stats().p99_ns()
            }
        }
    };
}

job_engine_for!(SingleThread);
job_engine_for!(MultiThread);

#[cfg(test)]
mod tests {
    use super::*;
    use auraio::policy::CpuLocal;

    /// A read still in flight when the job loop bails out is delivered by the engine's drop,
    /// into a queue that is still alive.
    #[test]
    fn completions_from_the_engine_drop_land_in_the_live_queue() {
        let mut fds = [0i32; 2];
        // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let io = JobIo::new(Engine::<CpuLocal, SingleThread>::new().unwrap(), 4);
        let buf = AlignedBuf::new(4096, 4096).unwrap();
        // An empty pipe: the read stays in flight until the engine cancels it.
        JobEngine::read(&io.engine, fds[0], buf, 4096, 0, Done::new(io.sink(), 7)).unwrap();
        let left = io.close();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].slot, 7);
        assert_eq!(left[0].result, -i64::from(libc::ECANCELED));
        assert!(left[0].buf.is_some(), "the buffer comes back");
        for fd in fds {
            // SAFETY: both descriptors came from pipe(2) above and are closed once.
            unsafe { libc::close(fd) };
        }
    }
}
