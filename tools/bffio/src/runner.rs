//! Runs jobs: lays out their files, then one thread per job clone, each with its own engine,
//! keeping the job's depth of requests outstanding from pre-allocated slots.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auraio::lock::{LockMode, MultiThread, SingleThread};
use auraio::policy::Policy;
use auraio::{Adaptive, AlignedBuf, CpuLocal, Engine, Options, RoundRobin};

use crate::engine_io::{Completion, Done, JobEngine, JobIo};
use crate::iolog;
use crate::job::{FileService, Job, Preset};
use crate::offsets::{Distribution, Picker, Rng};
use crate::random_map::RandomMap;
use crate::replay::{self, Act};
use crate::stats::{batch_class, depth_level, thread_usage, Dir, ThreadStats, TimePoint};
use crate::verify::Verify;
use crate::verify_state::{self, state_path, Written};

/// Live figures a job thread publishes for the status line.
#[derive(Default)]
pub struct Progress {
    /// Completed operations.
    pub ios: AtomicU64,
    /// Bytes moved per direction (read, write, trim): the status line shows their sum.
    pub dir_bytes: [AtomicU64; 3],
    /// Bytes moved per direction after `ramp_time`: what `--bandwidth-log` sums (fio's
    /// aggregate logs show no bandwidth while a job ramps).
    pub measured_bytes: [AtomicU64; 3],
    /// Current in-flight limit.
    pub depth: AtomicU64,
    /// Threads of the job still running.
    pub running: AtomicU64,
    /// Set when the job is to end now (another job's `exitall`).
    pub stop: std::sync::atomic::AtomicBool,
    /// `--status-interval`: bumped when a report of the values so far is wanted; each
    /// thread then leaves a copy of its figures in `snapshots` (and its final ones when it
    /// ends).
    pub status_epoch: AtomicU64,
    /// Per clone: (the epoch it answered, its figures then); `None` before its first answer.
    pub snapshots: std::sync::Mutex<Vec<Option<(u64, ThreadStats)>>>,
}

impl Progress {
    /// Adds what a thread moved since it last published: `now` against `published`, which
    /// becomes `now`.
    fn publish(&self, published: &mut Moved, now: Moved) {
        self.ios
            .fetch_add(now.ios - published.ios, Ordering::Relaxed);
        for d in 0..3 {
            self.dir_bytes[d].fetch_add(now.bytes[d] - published.bytes[d], Ordering::Relaxed);
            self.measured_bytes[d]
                .fetch_add(now.measured[d] - published.measured[d], Ordering::Relaxed);
        }
        *published = now;
    }

    /// Leaves clone `clone`'s figures for a status report (copied by the caller, outside the
    /// lock: the lock only swaps them in).
    fn snapshot(&self, clone: u32, epoch: u64, st: ThreadStats) {
        let mut s = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        let i = clone as usize;
        if s.len() <= i {
            s.resize_with(i + 1, || None);
        }
        s[i] = Some((epoch, st));
    }

    /// Whether the job is to end now: a signal, or another job's `exitall`.
    fn ending(&self) -> bool {
        SIGNALLED.load(Ordering::Relaxed) != 0 || self.stop.load(Ordering::Relaxed)
    }
}

/// What a thread has moved, as it publishes it in [`Progress`].
#[derive(Clone, Copy, Default)]
struct Moved {
    ios: u64,
    bytes: [u64; 3],
    measured: [u64; 3],
}

impl Moved {
    fn of(ios: u64, bytes: [u64; 3], st: &ThreadStats) -> Self {
        Moved {
            ios,
            bytes,
            measured: [st.read.bytes, st.write.bytes, st.trim.bytes],
        }
    }
}

/// Interval of the bandwidth/IOPS samples (fio's default `bwavgtime`/`iopsavgtime`).
const SAMPLE_NS: u64 = 500_000_000;
/// Marks a completion as a sync's.
const SYNC_BIT: u32 = 1 << 31;
/// Interval of the convergence timeline.
const TIMELINE_NS: u64 = 100_000_000;

/// How often a job thread publishes what it moved (`Progress`).
const PUBLISH_NS: u64 = 10_000_000;

/// The files of a job clone: path and size to use.
pub fn files_of(job: &Job, clone: u32) -> Vec<PathBuf> {
    let dir = job.directory.as_deref().map(PathBuf::from);
    if !job.filenames.is_empty() {
        return job
            .filenames
            .iter()
            .map(|f| match &dir {
                Some(d) if !f.starts_with('/') => d.join(f),
                _ => PathBuf::from(f),
            })
            .collect();
    }
    let d = dir.unwrap_or_else(|| PathBuf::from("."));
    (0..job.nrfiles)
        .map(|n| d.join(format!("{}.{}.{}", job.name, clone, n)))
        .collect()
}

/// Opens (making or extending it first when needed) one file of a job; returns it and the
/// size its I/O spans.
/// Opens a file an iolog names, as it is (a replay makes and lays out nothing); returns it
/// and its size.
fn open_for_replay(job: &Job, path: &PathBuf) -> io::Result<(File, u64)> {
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    if job.direct {
        o.custom_flags(libc::O_DIRECT);
    }
    let f = o.open(path).map_err(|e| at_path(e, path))?;
    // SAFETY: lseek on an open fd has no memory-safety preconditions.
    let end = unsafe { libc::lseek(f.as_raw_fd(), 0, libc::SEEK_END) };
    Ok((f, end.max(0) as u64))
}

fn open_file(job: &Job, path: &PathBuf, seed: u64, first: u64) -> io::Result<(File, u64)> {
    // The region starts at `first` (the job's offset for this clone) and spans the job's
    // file size: a file to make or extend needs both.
    let want = match job.file_size() {
        0 => 0,
        n => n + first,
    };
    let meta = std::fs::metadata(path);
    let is_dev = meta
        .as_ref()
        .map(|m| m.file_type().is_block_device())
        .unwrap_or(false);
    let have = meta.as_ref().map(|m| m.len()).unwrap_or(0);
    let writes_only = job.pattern.read_percent(job.rwmixread) == 0 && !job.verify;
    if job.verify_only && !is_dev && have < want {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{}: verify_only, but the file holds {have} bytes of the {want} the job's region needs (nothing written to verify)",
                path.display()
            ),
        ));
    }
    if !is_dev && want > 0 && have < want {
        if writes_only {
            // What a write job reads back is its own data: the file needs its blocks, not
            // contents (fio's `fallocate=native`). A device that cannot allocate them fails
            // the writes themselves, at their offsets.
            allocate(path, want)?;
        } else {
            let kind = job.verify_kind();
            let blocks = job.verify.then_some((&kind, job.verify_chunk()));
            lay_out(path, want, job.max_bs(), blocks, seed)?;
        }
    }
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    if job.direct {
        o.custom_flags(libc::O_DIRECT);
    }
    let f = o.open(path).map_err(|e| at_path(e, path))?;
    if job.invalidate && !job.direct {
        invalidate(&f, is_dev);
    }
    // SAFETY: lseek on an open fd has no memory-safety preconditions.
    let end = unsafe { libc::lseek(f.as_raw_fd(), 0, libc::SEEK_END) };
    let span = if want > 0 { want } else { end.max(0) as u64 };
    if span < job.max_bs() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: {span} bytes, smaller than bs={}",
                path.display(),
                job.max_bs()
            ),
        ));
    }
    Ok((f, span - span % job.align()))
}

/// Pins the calling thread to `cpus` (`cpus_allowed`).
fn pin_to(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data, valid when zeroed (the empty set).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: `c` is below CPU_SETSIZE (checked when the job was parsed), the bound
        // CPU_SET writes within.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t of the size passed; 0 is the calling thread.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if r == 0 {
        Ok(())
    } else {
        let e = io::Error::last_os_error();
        Err(io::Error::new(
            e.kind(),
            format!("cpus_allowed={cpus:?}: {e}"),
        ))
    }
}

/// `BLKFLSBUF` (linux/fs.h: `_IO(0x12, 97)`), which the libc crate does not name.
const BLKFLSBUF: u32 = 0x1261;

/// Drops the file's cached pages (fio's `invalidate`), so buffered reads start from the
/// device as in fio; advisory: a file whose pages cannot be dropped (tmpfs keeps them, a
/// device without the privilege) runs as it is.
fn invalidate(f: &File, is_dev: bool) {
    let fd = f.as_raw_fd();
    if is_dev {
        // SAFETY: BLKFLSBUF takes no argument memory; `fd` is an open block device.
        let _ = unsafe { libc::ioctl(fd, BLKFLSBUF as libc::Ioctl, 0) };
    } else {
        // SAFETY: posix_fadvise takes no pointers; `fd` is open for this call's duration.
        let _ = unsafe { libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED) };
    }
}

/// An error about a job's file: its errno (what the report shows as `err=`) and a message that
/// names the file.
#[derive(Debug)]
struct FileError {
    errno: i32,
    msg: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for FileError {}

/// `e` with the path it concerns, keeping its errno.
fn at_path(e: io::Error, path: &std::path::Path) -> io::Error {
    let errno = errno_of(&e);
    io::Error::new(
        e.kind(),
        FileError {
            errno,
            msg: format!("{}: {e}", path.display()),
        },
    )
}

/// The errno a job's error reports: the OS error, the one a [`FileError`] carries, EINVAL for
/// a job whose options do not fit its file, EIO otherwise.
pub fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error()
        .or_else(|| {
            e.get_ref()
                .and_then(|i| i.downcast_ref::<FileError>())
                .map(|f| f.errno)
        })
        .unwrap_or(match e.kind() {
            io::ErrorKind::InvalidInput => libc::EINVAL,
            _ => libc::EIO,
        })
}

/// Creates `path` if needed and allocates `size` bytes to it where the filesystem can; a
/// full device or one without fallocate is left to the job's writes to find.
fn allocate(path: &PathBuf, size: u64) -> io::Result<()> {
    let f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(|e| at_path(e, path))?;
    // SAFETY: fallocate on an fd this function owns; no memory is passed.
    let r = unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, size as libc::off_t) };
    if r != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOSPC) {
            eprintln!("bffio: {}: fallocate of {size} bytes: {e}", path.display());
        }
    }
    Ok(())
}

/// Writes a file of `size` bytes: verify blocks when verifying, else non-zero data (a sparse
/// file would read faster than a real one).
fn lay_out(
    path: &PathBuf,
    size: u64,
    bs: u64,
    verify_blocks: Option<(&Verify, usize)>,
    seed: u64,
) -> io::Result<()> {
    use std::io::Write;
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(|e| at_path(e, path))?;
    let chunk = bs.max(1 << 20) / bs * bs;
    let mut buf = vec![0u8; chunk as usize];
    let mut off = 0;
    while off < size {
        let n = chunk.min(size - off) as usize;
        if let Some((v, interval)) = verify_blocks {
            for (i, b) in buf[..n].chunks_mut(bs as usize).enumerate() {
                v.fill(b, off + i as u64 * bs, seed, interval);
            }
        } else {
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = ((off as usize + i) % 251) as u8 | 1;
            }
        }
        f.write_all(&buf[..n])?;
        off += n as u64;
    }
    f.sync_all()
}

struct Slot {
    buf: Option<AlignedBuf>,
    /// Bytes the I/O asked for.
    len: u64,
    start_ns: u64,
    submitted_ns: u64,
    offset: u64,
    /// Index of its file.
    file: usize,
    dir: Dir,
    measured: bool,
}

/// The signal that asked the run to stop (SIGINT, SIGTERM), 0 while none has.
pub static SIGNALLED: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    // Async-signal-safe: an atomic swap, and _exit for a second signal (a person who presses
    // Ctrl-C twice wants out now, report or not).
    if SIGNALLED.swap(sig, Ordering::Relaxed) != 0 {
        // SAFETY: _exit is async-signal-safe and takes no pointers.
        unsafe { libc::_exit(128 + sig) };
    }
}

/// SIGINT and SIGTERM stop the jobs (they end as at their runtime) and the report is still
/// printed, as fio does; a second signal exits at once.
pub fn stop_on_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: an all-zero sigaction is a valid value of the plain C struct; the handler
        // only touches an atomic and calls _exit, both async-signal-safe; `act` lives for the
        // call.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}

/// How long the end of a job waits for requests a stalled device still holds.
pub const DRAIN_BOUND: Duration = Duration::from_secs(3);

/// Whether `path` (or, before it exists, its directory) is on a FUSE filesystem.
fn on_fuse(path: &str) -> bool {
    const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;
    let p = std::path::Path::new(path);
    let at = if p.exists() {
        p
    } else {
        p.parent().unwrap_or(p)
    };
    let Ok(c) = std::ffi::CString::new(at.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: an all-zero statfs is a valid value of the plain C struct.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `s` is a writable statfs, both live for the call.
    unsafe { libc::statfs(c.as_ptr(), &mut s) == 0 && s.f_type as i64 == FUSE_SUPER_MAGIC }
}

/// The size of an open file or block device.
fn len_of(f: &File) -> u64 {
    // SAFETY: lseek on an open fd has no memory-safety preconditions (for a block device it
    // gives the device's size, which metadata does not).
    let end = unsafe { libc::lseek(f.as_raw_fd(), 0, libc::SEEK_END) };
    end.max(0) as u64
}

/// The size of the file or block device at `path` (0 when it is not there).
fn device_or_file_len(path: &Path) -> u64 {
    File::open(path).map_or(0, |f| len_of(&f))
}

/// Resolves `size=N%` to bytes: that share of the job's (first) file's size, or of the block
/// device's, rounded down to the block size.
pub fn resolve_size(job: &mut Job) -> io::Result<()> {
    let Some(pct) = job.size_percent else {
        return Ok(());
    };
    let Some(path) = job.filenames.first() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "job `{}`: size={pct}% needs a `filename` to take it of",
                job.name
            ),
        ));
    };
    let f = File::open(path).map_err(|e| at_path(e, std::path::Path::new(path)))?;
    let real = len_of(&f);
    // As fio, an offset caps the region at the file's end (`real_size - offset`).
    let first = job
        .offset_percent
        .map_or(job.offset, |p| real * u64::from(p) / 100);
    let len = (real * u64::from(pct) / 100).min(real.saturating_sub(first));
    let len = len - len % job.align();
    if len == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "job `{}`: {pct}% of {path} is less than one block",
                job.name
            ),
        ));
    }
    job.size = Some(len);
    Ok(())
}

/// Runs one job clone on the current thread with an engine of the job's preset.
pub fn run_clone(
    job: &Job,
    clone: u32,
    logs: &LogFiles,
    progress: &Progress,
) -> io::Result<ThreadStats> {
    match job.preset {
        Preset::Local => run_with::<CpuLocal, SingleThread>(job, clone, logs, progress),
        Preset::Shared => run_with::<Adaptive, MultiThread>(job, clone, logs, progress),
        Preset::RoundRobin => run_with::<RoundRobin, MultiThread>(job, clone, logs, progress),
        Preset::CpuLocal => run_with::<CpuLocal, MultiThread>(job, clone, logs, progress),
    }
}

/// The I/O log files of one job thread, and what each holds.
pub type LogFiles = Vec<(String, iolog::Kind)>;

fn run_with<P: Policy, L: LockMode>(
    job: &Job,
    clone: u32,
    logs: &LogFiles,
    progress: &Progress,
) -> io::Result<ThreadStats>
where
    Engine<P, L>: JobEngine,
{
    let depth = job.max_depth();
    let mut opts = Options::new()
        .queue_depth(depth.clamp(64, 32768))
        .ring_count(1)
        // A device that stalls holds the end of the run for this long at most; what it still
        // holds then is left to the kernel (leaked, never freed under it).
        .drain_timeout(DRAIN_BOUND)
        // The kernel issues FUSE reads and writes inline, blocking this thread in its submit
        // until the server answers: a stalled server would stall the job past its runtime.
        .async_issue(job.force_async || job.filenames.iter().any(|f| on_fuse(f)));
    if job.sqthread_poll {
        // fio's io_uring engine leaves the thread's idle time to the kernel's default; a
        // second keeps it polling through a job's pauses (rate limits, waits).
        opts = opts.sqpoll(1000);
    }
    if !job.aimd {
        opts = opts.initial_in_flight(depth.min(depth.clamp(64, 32768) * 2));
    }
    // Room for every slot and as many syncs (at most one per write).
    let io = JobIo::new(Engine::<P, L>::with_options(&opts)?, 2 * depth as usize + 1);
    if job.aimd {
        // iodepth is the adaptive run's upper bound: the job keeps no more than that queued,
        // and a limit over it would only be a depth the job cannot fill.
        io.engine.set_max_in_flight(depth)?;
        io.engine.set_max_p99(job.target_p99)?;
    } else {
        io.engine.set_in_flight_limit(depth)?;
    }
    if let Some(n) = job.iodepth_batch {
        io.engine.set_batch_threshold(Some(n))?;
    }
    let r = run_loop(&io.engine, io.sink(), job, clone, logs, progress);
    // What the engine's drop still delivers (requests left in flight when the loop bailed out
    // with an error) is only released: the run has failed already.
    drop(io.close());
    r
}

/// The job loop. `sink` is the completion queue, which outlives `engine`; it is only ever
/// reached through that pointer: by callbacks inside the engine's waits, and by this loop
/// between them.
fn run_loop<E: JobEngine>(
    engine: &E,
    sink: *mut Vec<Completion>,
    job: &Job,
    clone: u32,
    log_files: &LogFiles,
    progress: &Progress,
) -> io::Result<ThreadStats> {
    let seed = job.seed(clone);
    let mut logs = if log_files.is_empty() {
        None
    } else {
        Some(iolog::Logs::open(&job.logs, log_files)?)
    };
    // read_iolog: the log's files and I/O, in place of the job's.
    let replay_log: Option<replay::Log> = match &job.read_iolog {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| io::Error::new(e.kind(), format!("read_iolog {p}: {e}")))?;
            Some(replay::parse(&text).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("read_iolog {p}: {e}"))
            })?)
        }
    };
    let paths: Vec<PathBuf> = match &replay_log {
        Some(log) => log.files.iter().map(PathBuf::from).collect(),
        None => files_of(job, clone),
    };
    // Where each file's region starts: `offset` (bytes, or a share of the job's file size, or
    // of the existing file's) plus `offset_increment` per clone, aligned down to the block
    // size. As fio: the region is `size` bytes from there (to the file's end without a size).
    let firsts: Vec<u64> = paths
        .iter()
        .map(|p| {
            // A share of the existing file's (or device's) size, as fio; of the size it is
            // made with when it does not exist yet.
            let base = match device_or_file_len(p) {
                0 => job.file_size(),
                n => n,
            };
            let first = match job.offset_percent {
                Some(pct) => base * u64::from(pct) / 100,
                None => job.offset,
            } + u64::from(clone) * job.offset_increment;
            first - first % job.align()
        })
        .collect();
    // ioengine=null touches no file (fio's null engine is diskless): its NOPs name none, so
    // the regions are drawn over stand-ins the size of the job's files.
    let null_engine = job.ioengine == "null";
    let files: Vec<(File, u64)> = paths
        .iter()
        .zip(&firsts)
        .map(|(p, &first)| {
            if null_engine {
                Ok((
                    File::open("/dev/null")?,
                    first + job.file_size().max(job.max_bs()),
                ))
            } else if replay_log.is_some() {
                open_for_replay(job, p)
            } else {
                open_file(job, p, seed, first)
            }
        })
        .collect::<io::Result<_>>()?;
    // Trims discard on a block device (as fio's BLKDISCARD; the block layer's io_uring
    // command is kernel 6.12's), punch holes in a file (and on an older kernel's devices).
    let discards = kernel_at_least(6, 12);
    let block_dev: Vec<bool> = files
        .iter()
        .map(|(f, _)| discards && f.metadata().is_ok_and(|m| m.file_type().is_block_device()))
        .collect();
    let depth = job.max_depth() as usize;
    let align = job.align();
    let max_bs = job
        .max_bs()
        .max(replay_log.as_ref().map_or(0, replay::Log::max_len));
    // Each direction's I/O size when it has one (no draw per I/O).
    let fixed_len = job.sizes.each_ref().map(|b| (!b.varies()).then(|| b.min()));
    let fill = job.fill();
    let (verifier, chunk) = (job.verify_kind(), job.verify_chunk());
    let mut slots: Vec<Slot> = (0..depth)
        .map(|i| {
            let mut buf = AlignedBuf::zeroed(max_bs as usize)?;
            fill.init(
                &mut buf,
                seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            );
            Ok(Slot {
                buf: Some(buf),
                len: 0,
                start_ns: 0,
                submitted_ns: 0,
                offset: 0,
                file: 0,
                dir: Dir::Read,
                measured: false,
            })
        })
        .collect::<io::Result<_>>()?;
    // fixedbufs: the slots' buffers belong to the engine from here (slot i's is index i);
    // the null engine's NOPs take no buffer of the ring's, so it keeps them.
    let fixed = job.fixedbufs && !null_engine;
    if fixed {
        let bufs = slots
            .iter_mut()
            .map(|s| s.buf.take().expect("a new slot holds its buffer"))
            .collect();
        engine.register_slot_buffers(bufs)?;
        // With verify, each slot keeps a buffer its reads are copied into for the check.
        if job.verify {
            for s in &mut slots {
                s.buf = Some(AlignedBuf::zeroed(max_bs as usize)?);
            }
        }
    }
    if job.registerfiles && !null_engine {
        let fds: Vec<i32> = files.iter().map(|(f, _)| f.as_raw_fd()).collect();
        engine.register_job_files(&fds)?;
    }
    let mut free: Vec<u32> = (0..depth as u32).rev().collect();
    // Syncs are identified by SYNC_BIT | index into their start times.
    let mut sync_start: Vec<u64> = vec![0; depth + 1];
    let mut sync_free: Vec<u32> = (0..=depth as u32).rev().collect();

    let mut st = ThreadStats::default();
    let mut rng = Rng(seed | 1);
    let read_pct = u64::from(job.pattern.read_percent(job.rwmixread));
    let random = job.pattern.random();
    // Each file's I/O region: from `offset` (plus `offset_increment` per clone, rounded down to
    // the alignment) to its end, in bytes (a multiple of the alignment).
    let regions: Vec<(u64, u64)> = files
        .iter()
        .zip(&firsts)
        .map(|((_, span), &first)| {
            if replay_log.is_some() {
                return Ok((0, *span));
            }
            if first + job.max_bs() > *span {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "job `{}`: offset {first} leaves less than one block of the {span}-byte file",
                        job.name
                    ),
                ));
            }
            let len = span - first;
            Ok((first, len - len % align))
        })
        .collect::<io::Result<_>>()?;
    // Random positions per file: one picker for both directions when they draw alike (so a
    // pass of random reads and writes covers each block once, as fio's random map), else one
    // each.
    // Each direction's offsets are multiples of its own alignment, as fio's.
    let aligns = [0, 1, 2].map(|d| job.align_of(d));
    let shared = job.sizes[0] == job.sizes[1]
        && job.random_distribution[0] == job.random_distribution[1]
        && aligns[0] == aligns[1];
    let picker = |dir: usize, region: u64, rng: &mut Rng| {
        let places = region.saturating_sub(job.sizes[dir].min()) / aligns[dir] + 1;
        let cover = job.lfsr || (!job.norandommap && !job.sizes[dir].varies());
        // Trims draw as writes do (fio's trims take the writes' distribution).
        let dist = &job.random_distribution[dir.min(1)];
        Picker::new(places, dist, cover, aligns[dir], rng)
    };
    // fio's random map for reads and writes of mixed sizes aligned to the smallest (fio's
    // default `blockalign`): a bitmap per file in units of it, each unit done once a pass (a
    // permutation covers one size only). Another alignment draws with replacement.
    let map_unit = aligns[0];
    let mapped = random
        && !job.pattern.trims()
        && !job.norandommap
        && !job.lfsr
        && job.mixed_sizes()
        && aligns[0] == aligns[1]
        && aligns[0] == job.sizes[0].min().min(job.sizes[1].min())
        && job.random_distribution[..2]
            .iter()
            .all(Distribution::uniform);
    let mut maps: Vec<Option<RandomMap>> = regions
        .iter()
        .map(|&(_, region)| mapped.then(|| RandomMap::new(region / map_unit)))
        .collect();
    let mut pickers: Vec<[Picker; 2]> = regions
        .iter()
        .map(|&(_, region)| [0, 1].map(|dir| picker(dir, region, &mut rng)))
        .collect();
    // Trims (only in trim patterns, which issue no reads or writes of their own).
    let mut trim_pickers: Vec<Picker> = if job.pattern.trims() {
        regions
            .iter()
            .map(|&(_, region)| picker(2, region, &mut rng))
            .collect()
    } else {
        Vec::new()
    };
    let mut seq_off: Vec<u64> = vec![0; files.len()];
    let trims = job.pattern.trims();
    // trimwrite: blocks whose trim has completed (file, offset, length), written next in that
    // order; a block's write is issued only once its trim is done, as fio's, so the trim
    // cannot land after the write and punch it out.
    let mut trimmed: std::collections::VecDeque<(usize, u64, u64)> = Default::default();
    let mut file_turn = 0usize;
    let io_limit = if job.time_based || replay_log.is_some() {
        u64::MAX
    } else {
        // A pass: io_size when given; else `size`, or without one every file's region. As
        // fio, that many bytes are transferred whatever the pattern: rw=…:N wraps around
        // the region until they are.
        if job.io_limit.is_some() || job.size.is_some() {
            job.io_size()
        } else {
            let regions_bytes: u64 = regions.iter().map(|(_, len)| len).sum();
            regions_bytes.saturating_mul(u64::from(job.loops.max(1)))
        }
    };
    // startdelay: the job's clock starts after it (a signal still ends the wait).
    let delay_end = Instant::now() + job.startdelay;
    while Instant::now() < delay_end && !progress.ending() {
        std::thread::sleep(
            delay_end
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50)),
        );
    }
    let ramp_ns = job.ramp_time.as_nanos() as u64;
    let end_ns = job
        .runtime
        .map(|r| ramp_ns + r.as_nanos() as u64)
        .unwrap_or(u64::MAX);
    let mut issued: u64 = 0;
    let mut issued_ops: u64 = 0;
    // rate / rate_iops: bytes and I/Os issued per direction, each against its own budget.
    let mut issued_dir = [(0u64, 0u64); 3];
    // The directions the pattern issues by itself (a trimwrite's writes follow its trims).
    let possible: Vec<Dir> = if trims {
        vec![Dir::Trim]
    } else {
        [(Dir::Read, read_pct > 0), (Dir::Write, read_pct < 100)]
            .into_iter()
            .filter_map(|(d, on)| on.then_some(d))
            .collect()
    };
    // rate_process=poisson: when each direction's next I/O may be issued, ns on the job's
    // clock (each direction its own arrivals, as fio's).
    let mut next_arrival = [0u64; 3];
    // read_iolog: the next entry of the log to issue, and when it may be (ns; 0 at once).
    let mut cursor = 0usize;
    let not_before = |cursor: usize| match &replay_log {
        Some(l) if !job.replay_no_stall => l.entries.get(cursor).map_or(0, |e| e.at_ms * 1_000_000),
        _ => 0,
    };
    // rate_min / rate_iops_min: the current cycle's start and the (bytes, I/Os) completed
    // before it, per direction.
    let mut cycle = (0u64, [(0u64, 0u64); 3]);
    let mut outstanding: u64 = 0;
    let mut syncs_out: u64 = 0;
    let mut writes_since_sync: u32 = 0;
    // verify_only: no I/O of the job's own; its read-back below is the whole job.
    let mut stop = job.verify_only;
    // iodepth_low: the queue filled up and is draining to the low mark.
    let mut draining = false;
    // When the job stopped issuing (runtime over, error, I/O done): what is still outstanding
    // gets DRAIN_BOUND to complete.
    let mut stopped_at: Option<u64> = None;

    st.start_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let clock = Instant::now();
    // write_iolog: every I/O issued, in fio's iolog (version 3, times from the job's start).
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut iolog_out = match &job.write_iolog {
        Some(p) => Some(replay::Writer::create(p, &names, 0)?),
        None => None,
    };
    let now = || clock.elapsed().as_nanos() as u64;
    let usage0 = thread_usage();
    let mut measuring = ramp_ns == 0;
    let mut measure_start = 0u64;
    let mut next_sample = SAMPLE_NS;
    let (mut last_read, mut last_write, mut last_trim) = ((0, 0), (0, 0), (0, 0));
    let mut next_point = TIMELINE_NS;
    let mut last_point_ios = 0u64;
    let mut total_ios = 0u64;
    let mut dir_bytes = [0u64; 3];
    // verify: the blocks whose writes completed, what the read-back checks.
    let mut written = Written::new(paths.len(), job.max_bs());
    // verify_backlog: blocks written and not yet read back, oldest first (file, offset, len).
    let mut backlog: std::collections::VecDeque<(usize, u64, u64)> = Default::default();
    let mut published = Moved::default();
    let mut next_publish = PUBLISH_NS;
    let mut status_seen = progress.status_epoch.load(Ordering::Relaxed);
    // iodepth_batch_complete_max (never below the minimum, as fio) and the completions a reap
    // left for the next.
    let (complete_min, complete_max) = job.reap_bounds();
    let mut carry: Vec<Completion> = Vec::new();

    loop {
        // SIGINT/SIGTERM: the job ends as if its runtime were over; the report follows.
        if progress.ending() {
            stop = true;
        }
        // --status-interval: a report of the values so far is wanted (checked on every turn,
        // the rate limit's sleeps included).
        let epoch = progress.status_epoch.load(Ordering::Relaxed);
        if epoch != status_seen {
            status_seen = epoch;
            let mut so_far = st.clone();
            so_far.runtime_ns = if measuring { now() - measure_start } else { 0 };
            let usage = thread_usage();
            so_far.usr_us = usage.0 - usage0.0;
            so_far.sys_us = usage.1 - usage0.1;
            progress.snapshot(clone, epoch, so_far);
        }
        // Refill: up to the job's depth, and with AIMD no more than the engine admits, so no
        // request waits in a backlog (its latency would then include that wait).
        let allowed = if job.aimd {
            (depth as u64).min(engine.limit().max(1))
        } else {
            depth as u64
        };
        let mut t_prev = now();
        let before = outstanding;
        // iodepth_low: once the queue has filled up, no refill until it has drained to the
        // low mark.
        let mut hold_refill = false;
        if let Some(low) = job.iodepth_low {
            if outstanding >= allowed {
                draining = true;
            }
            if draining && outstanding > u64::from(low) {
                hold_refill = true;
            } else {
                draining = false;
            }
        }
        // verify_backlog: once that many written blocks wait, no more I/O until a batch of
        // them is read back and checked (with the queue empty, as the end's verify phase:
        // the check, not the benchmark).
        // Not once the job is ending (its runtime over, an error, a signal): the end's verify
        // phase reads what is left.
        if let Some(n) = job.verify_backlog.filter(|_| !stop && st.error == 0) {
            if backlog.len() as u64 >= n {
                hold_refill = true;
                if outstanding == 0 {
                    let batch = job.verify_backlog_batch.unwrap_or(n) as usize;
                    let take = batch.min(backlog.len());
                    let blocks: Vec<_> = backlog.drain(..take).collect();
                    match verify_blocks(&files, &paths, &blocks, job, &mut st) {
                        Ok(read) => dir_bytes[Dir::Read as usize] += read,
                        Err(e) => {
                            st.error = errno_of(&e);
                            stop = true;
                        }
                    }
                    stop |= job.verify_fatal && !st.verify_errors.is_empty();
                    hold_refill = false;
                }
            }
        }
        // rate / rate_iops: in each direction, no more I/O than its budget since the job's
        // start allows (with rate_process=poisson: not before its next arrival); an I/O may go
        // when some direction the pattern issues may. A replayed I/O goes at the log's time.
        let dir_ok = |issued_dir: &[(u64, u64); 3], arrivals: &[u64; 3], d: Dir, t: u64| {
            if job.rate_poisson {
                return t >= arrivals[d as usize];
            }
            let secs = t as f64 / 1e9;
            let (bytes, ops) = issued_dir[d as usize];
            job.rate_iops[d as usize].is_none_or(|r| (ops as f64) < r as f64 * secs + 1.0)
                && job.rate_bps[d as usize]
                    .is_none_or(|r| (bytes as f64) < r as f64 * secs + max_bs as f64)
        };
        // `more`: the pattern has I/O left to issue; `writes_due`: a trimwrite has trimmed
        // blocks waiting for their writes.
        // `replay_at`: when the next replayed I/O may go.
        let rate_ok = |issued_dir: &[(u64, u64); 3],
                       arrivals: &[u64; 3],
                       more: bool,
                       writes_due: bool,
                       replay_at: u64,
                       t: u64| {
            if replay_log.is_some() {
                return t >= replay_at;
            }
            (more && possible.iter().any(|&d| dir_ok(issued_dir, arrivals, d, t)))
                || (writes_due && dir_ok(issued_dir, arrivals, Dir::Write, t))
        };
        while !stop
            && !hold_refill
            && outstanding < allowed
            && (issued < io_limit || !trimmed.is_empty())
            && replay_log.as_ref().is_none_or(|l| cursor < l.entries.len())
            && rate_ok(
                &issued_dir,
                &next_arrival,
                issued < io_limit,
                !trimmed.is_empty(),
                not_before(cursor),
                t_prev,
            )
        {
            let Some(slot_id) = free.pop() else { break };
            // read_iolog: the next I/O of the log; its syncs go the way of the fsync option's.
            let entry = replay_log.as_ref().map(|l| l.entries[cursor]);
            if let Some(e) = entry.filter(|e| e.act.dir().is_none()) {
                free.push(slot_id);
                let Some(id) = sync_free.pop() else { break };
                cursor += 1;
                let fd = files[e.file].0.as_raw_fd();
                sync_start[id as usize] = now();
                let datasync = e.act == Act::Datasync;
                if let Some(w) = &mut iolog_out {
                    w.io(now() / 1_000_000, e.file, e.act, 0, 0)?;
                }
                if let Err(err) = engine.sync(fd, datasync, Done::new(sink, SYNC_BIT | id)) {
                    sync_free.push(id);
                    st.error = err.raw_os_error().unwrap_or(libc::EIO);
                    stop = true;
                } else {
                    syncs_out += 1;
                }
                continue;
            }
            // The I/O when the pattern does not decide it: the replayed log's, or (trimwrite)
            // the write of a block whose trim is done, whatever the file order: (file,
            // direction, offset, length).
            let given = match entry {
                Some(e) => {
                    cursor += 1;
                    e.act.dir().map(|d| (e.file, d, e.offset, e.len))
                }
                // A trimmed block's write waits while the writes are over budget; the trims
                // go on meanwhile if theirs allows.
                None if dir_ok(&issued_dir, &next_arrival, Dir::Write, t_prev) => {
                    trimmed.pop_front().map(|(f, o, l)| (f, Dir::Write, o, l))
                }
                None => None,
            };
            // The write that follows a trim is the same block's: the trims count the bytes.
            let after_trim = entry.is_none() && given.is_some();
            let drawn = if let Some(g) = given {
                g.1
            } else if trims {
                Dir::Trim
            } else if read_pct < 100 && (read_pct == 0 || rng.next() % 100 >= read_pct) {
                Dir::Write
            } else {
                Dir::Read
            };
            // A direction over its budget gives its turn to another the pattern issues that is
            // not (fio's rate_ddir); with none, the I/O waits for the budget. Replayed I/Os go
            // at the log's times instead.
            let rated = entry.is_none();
            let ok = |d| dir_ok(&issued_dir, &next_arrival, d, t_prev);
            let dir = if !rated || ok(drawn) {
                drawn
            } else if let Some(&d) = possible
                .iter()
                .find(|&&d| given.is_none() && d != drawn && ok(d))
            {
                d
            } else {
                free.push(slot_id);
                if let Some(g) = given {
                    trimmed.push_front((g.0, g.2, g.3));
                }
                break;
            };
            let fi = match (given, job.file_service) {
                (Some(g), _) => g.0,
                (None, FileService::RoundRobin) => {
                    file_turn = (file_turn + 1) % files.len();
                    file_turn
                }
                (None, FileService::Random) => (rng.next() % files.len() as u64) as usize,
                (None, FileService::Sequential) => file_turn,
            };
            let (file, _) = &files[fi];
            let (first, region) = regions[fi];
            let write = dir == Dir::Write;
            let d = dir as usize;
            let mut len = match (given, fixed_len[d]) {
                (Some(g), _) => g.3,
                (None, Some(n)) => n,
                (None, None) => job.sizes[d].draw(rng.next()),
            };
            let offset = if let Some(g) = given {
                g.2
            } else {
                first
                    + if let Some(map) = maps[fi].as_mut() {
                        // The I/O shortened to the free run it starts.
                        let (at, units) = map.take(&mut rng, len.div_ceil(map_unit));
                        len = len.min(units * map_unit);
                        at * map_unit
                    } else if random {
                        // Aligned, and the whole I/O within the region.
                        let picker = match dir {
                            Dir::Trim => &mut trim_pickers[fi],
                            _ if shared => &mut pickers[fi][0],
                            _ => &mut pickers[fi][d],
                        };
                        picker.next(&mut rng, (region - len) / aligns[d] + 1) * aligns[d]
                    } else {
                        let o = seq_off[fi];
                        // rw=…:N skips N bytes after each I/O; past the region's end it wraps.
                        let next = o + len + job.seq_gap;
                        seq_off[fi] = if next + max_bs > region { 0 } else { next };
                        if seq_off[fi] == 0 && job.file_service == FileService::Sequential {
                            file_turn = (file_turn + 1) % files.len();
                        }
                        o
                    }
            };
            let slot = &mut slots[slot_id as usize];
            let fd = file.as_raw_fd();
            let done = Done::new(sink, slot_id);
            // What a write's buffer holds: the verify block, or the job's buffer contents.
            let prepare = |b: &mut [u8]| {
                if job.verify {
                    verifier.fill(b, offset, seed ^ issued, chunk);
                } else {
                    fill.before_write(b, offset, issued_ops);
                }
            };
            st.depth_levels[depth_level(outstanding + 1)] += 1;
            let r = if dir == Dir::Trim && !null_engine {
                // A trim moves no data: the slot keeps its buffer.
                engine.trim(fd, offset, len, block_dev[fi], done)
            } else if fixed && write {
                let mut prepare = prepare;
                engine.write_fixed(
                    fd,
                    slot_id as usize,
                    len as usize,
                    offset,
                    &mut prepare,
                    done,
                )
            } else if fixed {
                let copy = slot.buf.take().filter(|_| job.verify);
                engine.read_fixed(fd, slot_id as usize, len as usize, offset, copy, done)
            } else {
                let mut buf = slot.buf.take().expect("free slot holds its buffer");
                if write {
                    prepare(&mut buf[..len as usize]);
                }
                if null_engine {
                    engine.nop(buf, len as usize, done)
                } else if write {
                    engine.write(fd, buf, len as usize, offset, done)
                } else {
                    engine.read(fd, buf, len as usize, offset, done)
                }
            };
            if let Err(e) = r {
                st.error = e.raw_os_error().unwrap_or(libc::EIO);
                stop = true;
                break;
            }
            let t = now();
            slot.start_ns = t_prev;
            slot.submitted_ns = t;
            slot.offset = offset;
            slot.file = fi;
            slot.len = len;
            slot.dir = dir;
            slot.measured = measuring;
            t_prev = t;
            outstanding += 1;
            if !after_trim {
                issued += len;
            }
            issued_ops += 1;
            issued_dir[dir as usize].0 += len;
            issued_dir[dir as usize].1 += 1;
            if let Some(w) = &mut iolog_out {
                w.io(t / 1_000_000, fi, dir.into(), offset, len)?;
            }
            if job.rate_poisson {
                // The next arrival an exponential gap later: the slower of its direction's two
                // rates' mean gaps for this I/O, so both hold on average.
                let d = dir as usize;
                let mean_ns = job.rate_iops[d]
                    .map_or(0.0, |r| 1e9 / r as f64)
                    .max(job.rate_bps[d].map_or(0.0, |r| len as f64 * 1e9 / r as f64));
                let u = ((rng.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
                next_arrival[d] += (-u.ln() * mean_ns) as u64;
            }
            if write {
                writes_since_sync += 1;
                let every = if job.fsync > 0 {
                    job.fsync
                } else {
                    job.fdatasync
                };
                if every > 0 && writes_since_sync >= every && !null_engine {
                    if let Some(id) = sync_free.pop() {
                        writes_since_sync = 0;
                        sync_start[id as usize] = t;
                        let r = engine.sync(fd, job.fsync == 0, Done::new(sink, SYNC_BIT | id));
                        if let Err(e) = r {
                            sync_free.push(id);
                            st.error = e.raw_os_error().unwrap_or(libc::EIO);
                            stop = true;
                        } else {
                            syncs_out += 1;
                            if let Some(w) = &mut iolog_out {
                                let act = if job.fsync == 0 {
                                    Act::Datasync
                                } else {
                                    Act::Sync
                                };
                                w.io(t / 1_000_000, fi, act, 0, 0)?;
                            }
                        }
                    }
                }
            }
        }
        if outstanding > before {
            st.submit_batches[batch_class(outstanding - before)] += 1;
        }
        if outstanding == 0 && syncs_out == 0 {
            let left = !stop
                && (issued < io_limit || !trimmed.is_empty())
                && replay_log.as_ref().is_none_or(|l| cursor < l.entries.len());
            if !left {
                break;
            }
            // I/O is left and nothing is in flight: the rate held it back when the refill
            // looked. Sleep while it still does (a little at a time, so the runtime's end and
            // signals are seen); once it allows, the next turn issues. The budget may free
            // between the refill's look and this one: that is never the job's end.
            if !rate_ok(
                &issued_dir,
                &next_arrival,
                issued < io_limit,
                !trimmed.is_empty(),
                not_before(cursor),
                now(),
            ) {
                std::thread::sleep(Duration::from_millis(1));
                if now() >= end_ns || progress.ending() {
                    stop = true;
                }
            }
            continue;
        }
        if stop || issued >= io_limit {
            let at = *stopped_at.get_or_insert_with(now);
            if now().saturating_sub(at) >= DRAIN_BOUND.as_nanos() as u64 {
                eprintln!(
                    "bffio: job `{}`: {} requests still outstanding {:?} after the job ended (a stalled device?); left to the kernel",
                    job.name,
                    outstanding + syncs_out,
                    DRAIN_BOUND
                );
                st.abandoned = outstanding + syncs_out;
                break;
            }
        }
        let in_flight = outstanding + syncs_out;
        if let Err(e) = reap(engine, sink, complete_min, carry.len(), in_flight, || {
            if stop {
                u64::MAX
            } else {
                end_ns.saturating_sub(now())
            }
        }) {
            st.error = e.raw_os_error().unwrap_or(libc::EIO);
            break;
        }
        // One timestamp for the whole batch of completions.
        let t = now();
        // SAFETY: between waits no callback runs, so this is the only reference to the queue
        // (callbacks reach it through `sink` only inside `wait_for`); it is taken out whole, so
        // no borrow of it outlives this statement.
        let mut batch = std::mem::take(unsafe { &mut *sink });
        // iodepth_batch_complete_max: what the last reap left is handled first, and no more
        // than the maximum now; the rest after the next refill.
        if !carry.is_empty() {
            carry.append(&mut batch);
            std::mem::swap(&mut carry, &mut batch);
        }
        if let Some(max) = complete_max {
            if batch.len() > max {
                carry = batch.split_off(max);
            }
        }
        if !batch.is_empty() {
            st.complete_batches[batch_class(batch.len() as u64)] += 1;
        }
        for c in batch.drain(..) {
            if c.slot & SYNC_BIT != 0 {
                let id = c.slot & !SYNC_BIT;
                sync_free.push(id);
                syncs_out -= 1;
                if c.result < 0 {
                    if job.continue_on.write {
                        st.errors_passed += 1;
                    } else if st.error == 0 {
                        st.error = -c.result as i32;
                        stop = true;
                    }
                }
                if measuring {
                    st.sync.ios += 1;
                    st.sync
                        .lat
                        .record(t.saturating_sub(sync_start[id as usize]));
                }
                continue;
            }
            let slot = &mut slots[c.slot as usize];
            if let Some(buf) = c.buf {
                slot.buf = Some(buf);
            }
            outstanding -= 1;
            total_ios += 1;
            dir_bytes[slot.dir as usize] += c.result.max(0) as u64;
            if job.verify && slot.dir == Dir::Write && c.result as u64 == slot.len {
                written.mark(slot.file, slot.offset, slot.len);
                if job.verify_backlog.is_some() {
                    backlog.push_back((slot.file, slot.offset, slot.len));
                }
            }
            // Trims count as writes for continue_on_error.
            let passed = if slot.dir == Dir::Read {
                job.continue_on.read
            } else {
                job.continue_on.write
            };
            if c.result < 0 && passed {
                st.errors_passed += 1;
            } else if c.result < 0 {
                if st.error == 0 {
                    st.error = -c.result as i32;
                    st.error_at = Some(crate::stats::ErrorAt {
                        dir: slot.dir,
                        offset: slot.offset,
                        len: slot.len,
                    });
                }
                stop = true;
            } else {
                let buf = slot.buf.as_deref().unwrap_or(&[]);
                if job.verify && slot.dir == Dir::Read && c.result as u64 == slot.len {
                    if let Err(msg) = verifier.check(&buf[..slot.len as usize], slot.offset, chunk)
                    {
                        let block = &buf[..slot.len as usize];
                        stop |= mismatch(job, &mut st, &paths[slot.file], block, slot.offset, msg);
                    }
                }
                if slot.measured && measuring {
                    let d = st.dir_mut(slot.dir);
                    d.ios += 1;
                    d.bytes += c.result as u64;
                    if (c.result as u64) < slot.len {
                        d.short_ios += 1;
                    }
                    let (slat_ns, clat_ns, lat_ns) = (
                        slot.submitted_ns - slot.start_ns,
                        t.saturating_sub(slot.submitted_ns),
                        t.saturating_sub(slot.start_ns),
                    );
                    d.slat.record(slat_ns);
                    d.clat.record(clat_ns);
                    d.lat.record(lat_ns);
                    if let Some(l) = &mut logs {
                        let e = iolog::Entry {
                            t_ns: t.saturating_sub(measure_start),
                            dir: slot.dir,
                            bytes: c.result as u64,
                            offset: slot.offset,
                            issue_ns: slot.start_ns.saturating_sub(measure_start),
                            slat_ns,
                            clat_ns,
                            lat_ns,
                        };
                        if let Err(e) = l.record(&e) {
                            st.error = errno_of(&e);
                            stop = true;
                        }
                    }
                }
            }
            if slot.dir == Dir::Trim && c.result >= 0 && job.pattern.writes_after_trim() {
                trimmed.push_back((slot.file, slot.offset, slot.len));
            }
            free.push(c.slot);
        }
        // Hand the emptied queue (its capacity) back for the next wait's callbacks.
        // SAFETY: as above: no callback runs between the waits.
        std::mem::swap(unsafe { &mut *sink }, &mut batch);
        if !measuring && t >= ramp_ns {
            measuring = true;
            measure_start = t;
            next_sample = t + SAMPLE_NS;
        }
        if measuring && t >= next_sample {
            let secs = SAMPLE_NS as f64 / 1e9;
            st.read.push_sample(&mut last_read, secs);
            st.write.push_sample(&mut last_write, secs);
            st.trim.push_sample(&mut last_trim, secs);
            next_sample += SAMPLE_NS;
        }
        if t >= next_point {
            let limit = engine.limit();
            st.timeline.push(TimePoint {
                t: t as f64 / 1e9,
                limit,
                iops: (total_ios - last_point_ios) as f64 * 1e9
                    / (t - (next_point - TIMELINE_NS)) as f64,
                p99_us: engine.p99_ns() as f64 / 1e3,
            });
            last_point_ios = total_ios;
            next_point = t + TIMELINE_NS;
            progress.depth.store(limit, Ordering::Relaxed);
        }
        // What moved, for the status line and --bandwidth-log: every 10 ms, so a half-second
        // interval of the aggregate log is off by at most a 10 ms share of each thread.
        if t >= next_publish {
            progress.publish(&mut published, Moved::of(total_ios, dir_bytes, &st));
            next_publish = t + PUBLISH_NS;
        }
        if t >= end_ns {
            stop = true;
        }
        // rate_min / rate_iops_min: in each cycle of rate_cycle ms (once measuring) each
        // direction with a minimum must complete at least that much, or the job ends with EIO,
        // as fio documents it.
        let cycle_ns = job.rate_cycle_ms * 1_000_000;
        let mins = job
            .rate_min_bps
            .iter()
            .chain(&job.rate_iops_min)
            .any(Option::is_some);
        if measuring && mins {
            let done = [&st.read, &st.write, &st.trim].map(|d| (d.bytes, d.ios));
            if cycle.0 == 0 {
                cycle = (t.max(1), done);
            } else if t - cycle.0 >= cycle_ns && st.error == 0 {
                let secs = (t - cycle.0) as f64 / 1e9;
                let mut short = None;
                // Only the directions the pattern issues (as fio, which checks those that
                // moved data): `rate_min=1m` on randread does not fail for want of writes.
                let issues = |d: Dir| {
                    possible.contains(&d) || (d == Dir::Write && job.pattern.writes_after_trim())
                };
                for d in [Dir::Read, Dir::Write, Dir::Trim]
                    .into_iter()
                    .filter(|&d| issues(d))
                {
                    let i = d as usize;
                    let bps = (done[i].0 - cycle.1[i].0) as f64 / secs;
                    let iops = (done[i].1 - cycle.1[i].1) as f64 / secs;
                    short = short
                        .or_else(|| {
                            job.rate_min_bps[i].filter(|&m| bps < m as f64).map(|m| {
                                format!("{} min rate {m} B/s not met, got {bps:.0} B/s", d.name())
                            })
                        })
                        .or_else(|| {
                            job.rate_iops_min[i].filter(|&m| iops < m as f64).map(|m| {
                                format!(
                                    "{} min rate {m} IOPS not met, got {iops:.0} IOPS",
                                    d.name()
                                )
                            })
                        });
                }
                if let Some(why) = short {
                    eprintln!("bffio: job `{}`: {why}", job.name);
                    st.error = libc::EIO;
                    stop = true;
                }
                cycle = (t, done);
            }
        }
    }
    let end = now();
    st.runtime_ns = end.saturating_sub(if measuring { measure_start } else { end });
    if let Some(w) = iolog_out.take() {
        if let Err(e) = w.finish(end / 1_000_000) {
            if st.error == 0 {
                st.error = errno_of(&e);
            }
        }
    }
    if let Some(l) = logs.take() {
        if let Err(e) = l.finish(st.runtime_ns) {
            if st.error == 0 {
                st.error = errno_of(&e);
            }
        }
    }
    let usage1 = thread_usage();
    st.usr_us = usage1.0 - usage0.0;
    st.sys_us = usage1.1 - usage0.1;
    st.ctx = usage1.2 - usage0.2;
    st.minf = usage1.3 - usage0.3;
    st.majf = usage1.4 - usage0.4;
    st.rings = engine.ring_ends();
    // Verify what was written: read every block of a write-only job back (fio's verify phase).
    // end_fsync: once the job's I/O is done, every file to stable storage (fio's last step).
    if job.end_fsync && st.error == 0 && st.abandoned == 0 && !null_engine {
        for (f, _) in &files {
            if let Err(e) = f.sync_all() {
                st.error = errno_of(&e);
                break;
            }
        }
    }
    // verify_state_save: what the writes completed, for a later verify_only run (a job that
    // only reads writes none, as fio).
    let writes = job.pattern.read_percent(job.rwmixread) < 100;
    if job.verify && job.verify_state_save && writes && !job.verify_only && !null_engine {
        let at = state_path(job.aux_path.as_deref(), &job.name, clone);
        if let Err(e) = verify_state::save(&at, &written, &paths) {
            eprintln!("bffio: job `{}`: {e}", job.name);
        }
    }
    // Not after requests were left to a stalled device: the read-back would wait on it too,
    // and blocks it still holds were never written.
    // With verify_backlog the blocks the pauses left are read whatever the mix, and after a
    // mismatch too (every block is checked unless verify_fatal ended the job).
    let backlog_mode = job.verify_backlog.is_some();
    if job.verify
        && job.do_verify
        && st.error == 0
        && st.abandoned == 0
        && (!job.verify_fatal || st.verify_errors.is_empty())
        && (backlog_mode
            || (st.verify_errors.is_empty() && job.pattern.read_percent(job.rwmixread) == 0))
    {
        // With verify_backlog, what the pauses left; else what the writes completed, in
        // offset order (fio's verify_sort); with verify_only, what the state file says was
        // written, or every block of the job's regions.
        let blocks: Vec<(usize, u64, u64)> = if job.verify_only {
            if job.verify_state_load {
                let at = state_path(job.aux_path.as_deref(), &job.name, clone);
                verify_state::load(&at, job.max_bs(), &paths)?.blocks()
            } else {
                let spans: Vec<(u64, u64)> = files
                    .iter()
                    .zip(&firsts)
                    .map(|((_, end), &first)| (first, end.saturating_sub(first)))
                    .collect();
                Written::all(job.max_bs(), &spans).blocks()
            }
        } else if backlog_mode {
            backlog.drain(..).collect()
        } else {
            written.blocks()
        };
        match verify_blocks(&files, &paths, &blocks, job, &mut st) {
            Ok(read) => dir_bytes[Dir::Read as usize] += read,
            Err(e) => st.error = errno_of(&e),
        }
    }
    if job.unlink && !null_engine {
        drop(files);
        // Files only: a job on a block device never removes its node.
        for p in &paths {
            if std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    progress.publish(&mut published, Moved::of(total_ios, dir_bytes, &st));
    // --status-interval: the reports from now on show this thread's final figures.
    progress.snapshot(clone, u64::MAX, st.clone());
    Ok(st)
}

/// Whether the running kernel is at least `major.minor` (`uname`).
/// Reaps completions into `sink`, as `iodepth_batch_complete_min` (`min`) asks: with 0 (or
/// completions `carried` from the last reap to handle) only those ready, without blocking;
/// otherwise waits until that many have arrived or every request in flight has (`in_flight`
/// counts those in the queue too), for at most 100 ms and never past `left_ns()` of the job's
/// runtime, so the loop still sees its end, signals and stalls.
fn reap<E: JobEngine>(
    engine: &E,
    sink: *mut Vec<Completion>,
    min: u32,
    carried: usize,
    in_flight: u64,
    left_ns: impl Fn() -> u64,
) -> io::Result<()> {
    if min == 0 || carried > 0 {
        return engine.poll_ready().map(drop);
    }
    let want = u64::from(min).min(in_flight).max(1) as usize;
    let start = Instant::now();
    let bound = Duration::from_millis(100);
    loop {
        let waited = start.elapsed();
        let slice = bound
            .saturating_sub(waited)
            .min(Duration::from_nanos(left_ns()));
        engine.wait_for(slice.max(Duration::from_micros(1)))?;
        // SAFETY: `wait_for` has returned, so no callback runs and none holds the queue;
        // this reads its length through the one pointer callbacks also use.
        let got = unsafe { (*sink).len() };
        if got >= want || start.elapsed() >= bound || left_ns() == 0 {
            return Ok(());
        }
    }
}

fn kernel_at_least(major: u32, minor: u32) -> bool {
    // SAFETY: uname fills the struct it is given; all-zero is a valid initial value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return false;
    }
    // SAFETY: uname NUL-terminates `release` within the array.
    let release = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }.to_string_lossy();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    version >= (major, minor)
}

/// Reads back `blocks` (file index, offset, length) synchronously (this is the check, not
/// the benchmark), counted as reads as fio counts its verify phase; mismatches are recorded
/// (and dumped with `verify_dump`), the first ends it with `verify_fatal`.
fn verify_blocks(
    files: &[(File, u64)],
    paths: &[PathBuf],
    blocks: &[(usize, u64, u64)],
    job: &Job,
    st: &mut ThreadStats,
) -> io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = AlignedBuf::zeroed(job.max_bs() as usize)?;
    let verifier = job.verify_kind();
    let mut read = 0;
    for &(fi, off, len) in blocks {
        let block = &mut buf[..len as usize];
        let t = Instant::now();
        files[fi].0.read_exact_at(block, off)?;
        let ns = t.elapsed().as_nanos() as u64;
        st.read.ios += 1;
        st.read.bytes += len;
        st.read.slat.record(0);
        st.read.clat.record(ns);
        st.read.lat.record(ns);
        read += len;
        if let Err(msg) = verifier.check(block, off, job.verify_chunk()) {
            if mismatch(job, st, &paths[fi], block, off, msg) {
                return Ok(read);
            }
        }
    }
    Ok(read)
}

/// A block that failed its check, read back at `offset` of `path`: recorded, dumped with
/// `verify_dump`, the job's error EILSEQ (fio's 84) if it had none. True when it ends the
/// job: always but with `continue_on_error=verify` (fio 3.33 ends a job at its first bad
/// block whatever `verify_fatal` says).
fn mismatch(
    job: &Job,
    st: &mut ThreadStats,
    path: &Path,
    block: &[u8],
    offset: u64,
    msg: String,
) -> bool {
    if job.verify_dump {
        dump_block(job, path, block, offset);
    }
    st.verify_errors.push(msg);
    if st.error == 0 {
        st.error = libc::EILSEQ;
    }
    if job.continue_on.verify {
        st.errors_passed += 1;
        return false;
    }
    true
}

/// `verify_dump`: what failed its check, as read and as it should have been, in
/// `NAME.OFFSET.received` and `NAME.OFFSET.expected` in `--aux-path` or the working directory
/// (fio's names and place):
/// each failing `verify_interval` chunk at its own offset, as fio dumps a failing header's
/// span (a pattern block whole).
fn dump_block(job: &Job, path: &Path, block: &[u8], offset: u64) {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let verifier = job.verify_kind();
    let chunk = match verifier {
        crate::verify::Verify::Sum(_) => job.verify_chunk().min(block.len()),
        crate::verify::Verify::Pattern(_) => block.len(),
    };
    for (i, got) in block.chunks(chunk).enumerate() {
        let at = offset + (i * chunk) as u64;
        if verifier.check(got, at, chunk).is_ok() {
            continue;
        }
        let want = verifier.expected(got, at, chunk);
        for (kind, data) in [("received", got), ("expected", &want[..])] {
            let file = format!("{name}.{at}.{kind}");
            let p = job
                .aux_path
                .as_ref()
                .map_or_else(|| PathBuf::from(&file), |d| d.join(&file));
            match std::fs::write(&p, data) {
                Ok(()) => eprintln!("bffio: verify: {kind} data dumped as {}", p.display()),
                Err(e) => eprintln!("bffio: verify_dump: {}: {e}", p.display()),
            }
        }
    }
}

/// Runs every job (each clone on its own thread) and returns per-job, per-clone results.
///
/// `tick` runs every 100 ms on the calling thread while jobs run (the live status line).
///
/// Results come back over a channel, not by joining the threads: a thread whose device still
/// holds a request once the job has ended (past [`DRAIN_BOUND`]) cannot exit, because the
/// kernel's thread exit waits for that thread's io_uring requests, and joining it would hold
/// the report until the device answers. Such a thread is left behind; the report is not.
pub fn run_all(
    jobs: &[Job],
    progress: &[Arc<Progress>],
    tick: &dyn Fn(),
) -> Vec<Vec<io::Result<ThreadStats>>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut results: Vec<Vec<Option<io::Result<ThreadStats>>>> = jobs
        .iter()
        .map(|j| (0..j.numjobs).map(|_| None).collect())
        .collect();
    // What each job waits for before it starts: every job before the last `stonewall` at or
    // above it (as fio, which starts no job past a stonewall before the stonewall's own turn),
    // and the one `wait_for` names (checked to exist before it when the jobs were parsed).
    let deps: Vec<Vec<usize>> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| {
            let wall = jobs[..=i].iter().rposition(|o| o.stonewall).unwrap_or(0);
            let mut d: Vec<usize> = (0..wall).collect();
            if let Some(name) = &j.wait_for {
                d.extend(jobs[..i].iter().position(|o| &o.name == name));
            }
            d
        })
        .collect();
    // The I/O logs of each thread, numbered 1.. over the run as fio numbers them; created
    // (emptied) here, before any thread appends to them.
    let mut number = 0u32;
    let log_files: Vec<Vec<LogFiles>> = jobs
        .iter()
        .map(|j| {
            (0..j.numjobs)
                .map(|_| {
                    number += 1;
                    j.logs.files(&j.name, number)
                })
                .collect()
        })
        .collect();
    let mut names: Vec<String> = log_files
        .iter()
        .flatten()
        .flatten()
        .map(|f| f.0.clone())
        .collect();
    names.sort();
    names.dedup();
    if let Err(e) = iolog::create(&names) {
        return jobs
            .iter()
            .map(|j| {
                (0..j.numjobs)
                    .map(|_| Err(io::Error::new(e.kind(), e.to_string())))
                    .collect()
            })
            .collect();
    }
    let mut left: Vec<u32> = jobs.iter().map(|j| j.numjobs).collect();
    let mut started = vec![false; jobs.len()];
    let mut pending = 0usize;
    let start = |ji: usize,
                 results: &mut Vec<Vec<Option<io::Result<ThreadStats>>>>,
                 left: &mut Vec<u32>,
                 pending: &mut usize| {
        let job = &jobs[ji];
        for clone in 0..job.numjobs {
            let (p, job, tx) = (progress[ji].clone(), job.clone(), tx.clone());
            let logs = log_files[ji][clone as usize].clone();
            // cpus_allowed: the whole set (shared), or one CPU of it per thread, numbered
            // over the run (split).
            let thread_number = jobs[..ji].iter().map(|j| j.numjobs).sum::<u32>() + clone;
            let cpus: Option<Vec<usize>> = job.cpus_allowed.as_ref().map(|set| {
                if job.cpus_split {
                    vec![set[thread_number as usize % set.len()]]
                } else {
                    set.clone()
                }
            });
            p.running.fetch_add(1, Ordering::Relaxed);
            let spawned = std::thread::Builder::new()
                .name(format!("{}.{clone}", job.name))
                .spawn(move || {
                    let r = cpus.as_deref().map_or(Ok(()), pin_to).and_then(|()| {
                        std::panic::catch_unwind(AssertUnwindSafe(|| {
                            run_clone(&job, clone, &logs, &p)
                        }))
                        .unwrap_or_else(|_| Err(io::Error::other("job thread panicked")))
                    });
                    p.running.fetch_sub(1, Ordering::Relaxed);
                    // The receiver lives until every clone has sent.
                    let _ = tx.send((ji, clone as usize, r));
                });
            match spawned {
                Ok(_) => *pending += 1,
                Err(e) => {
                    progress[ji].running.fetch_sub(1, Ordering::Relaxed);
                    results[ji][clone as usize] = Some(Err(e));
                    left[ji] -= 1;
                }
            }
        }
    };
    // 100 ms: the live status line, status reports, and --bandwidth-log's half seconds.
    let tick_every = Duration::from_millis(100);
    let mut next_tick = Instant::now() + tick_every;
    loop {
        // Start every job whose dependencies have all ended (a SIGINT starts nothing more).
        let stopping = SIGNALLED.load(Ordering::Relaxed) != 0;
        for ji in 0..jobs.len() {
            if !started[ji] && !stopping && deps[ji].iter().all(|&d| left[d] == 0) {
                started[ji] = true;
                start(ji, &mut results, &mut left, &mut pending);
            }
        }
        if pending == 0 {
            break;
        }
        let wait = next_tick.saturating_duration_since(Instant::now());
        let got = rx.recv_timeout(wait);
        if Instant::now() >= next_tick {
            tick();
            next_tick = Instant::now() + tick_every;
        }
        match got {
            Ok((ji, clone, r)) => {
                results[ji][clone] = Some(r);
                pending -= 1;
                left[ji] -= 1;
                // exitall: the job ended, so do the others of its group (or all).
                if jobs[ji].exitall {
                    for (k, other) in jobs.iter().enumerate() {
                        if jobs[ji].exit_all_groups || other.group == jobs[ji].group {
                            progress[k].stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            // Every sender is gone: each thread sent before dropping its sender.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(tx);
    results
        .into_iter()
        .map(|clones| {
            clones
                .into_iter()
                .map(|r| {
                    r.unwrap_or_else(|| {
                        Err(io::Error::new(
                            io::ErrorKind::Interrupted,
                            "job not run (stopped before its turn)",
                        ))
                    })
                })
                .collect()
        })
        .collect()
}
