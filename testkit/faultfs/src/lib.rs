//! A FUSE filesystem whose files fail on a script: the fault apparatus of auraio's tests.
//!
//! Storage fails in ways no tmpfs file ever does: a sector returns EIO, a network filesystem
//! returns short reads, a disk fills up, a device stalls and then recovers. This crate mounts
//! a filesystem (FUSE, as root, through `mount(2)`: no libfuse, no setuid helper) whose files
//! do exactly what a test scripts, so the real kernel path — io_uring, io-wq, the VFS, FUSE —
//! hands those faults to the code under test.
//!
//! ```no_run
//! use auraio_faultfs::{FaultFs, FileSpec, Fault, Rule};
//! use std::time::Duration;
//!
//! let mount = FaultFs::new()
//!     .file(
//!         FileSpec::patterned("data", 1 << 20)
//!             // The second 4 KiB block fails twice with EIO, then heals.
//!             .rule(Rule::read(4096..8192, Fault::Errno(libc::EIO)).times(2))
//!             // One read in 100 takes half a second.
//!             .rule(Rule::read(0..u64::MAX, Fault::Delay(Duration::from_millis(500))).every(100)),
//!     )
//!     .mount()
//!     .unwrap();
//! let bytes = std::fs::read(mount.path("data"));
//! drop(mount); // unmounts, failing whatever is still held with EIO
//! ```
//!
//! # What can be scripted
//! Per file ([`FileSpec`]): its contents (a known pattern, [`pattern_byte`], or given bytes),
//! a capacity after which writes fail with ENOSPC (a write that crosses it is short), and
//! [`Rule`]s. A rule names the requests it acts on (reads, writes, fsyncs; a byte range), how
//! often (every request, or one in N: [`Rule::every`]), how many times before it heals
//! ([`Rule::times`]), and the [`Fault`]: an errno, a short count, a delay, or a stall held
//! until [`Mount::release`]. Faults of several rules on one request combine: the first errno
//! wins, the smallest short count, the sum of delays, any stall. So a slow drip is a short
//! count and a delay on the same requests; a spike is a delay on one request in N; an
//! interrupted request is `Fault::Errno(libc::EINTR)` (the kernel passes the server's errno
//! through).
//!
//! Per filesystem: a served-concurrency model ([`FaultFs::served_by`]): K servers, each taking
//! S per request, first come first served, so the filesystem is a device with a known knee
//! (K / S requests per second, reached at K in flight). What the kernel lets through sits in
//! front of it: every file is opened `direct_io` (nothing is served from the page cache), and
//! io_uring issues FUSE reads and writes inline, in the submitting thread, which then sleeps
//! until the answer, so a ring has one in service at a time; with IOSQE_ASYNC they go to io-wq
//! workers, which hand them to the server without waiting for the answer, so every request
//! in flight reaches it (auraio's `Options::async_issue`).
//!
//! Every answer that is not sent at once (delayed, queued, stalled) is sent by a timer thread,
//! so the FUSE session thread never blocks and one slow request never holds up another.
//! Dropping the [`Mount`] fails everything still held with EIO, unmounts (lazily, so a test that
//! panics with files open still unmounts) and removes the mount point.
//!
//! # Adding a behaviour
//! A new kind of fault is a [`Fault`] variant, its field in `script::Outcome` (how it combines
//! with the others) and its effect where `fs.rs` answers the request; a new kind of request is
//! an [`Op`] and a `Filesystem` method in `fs.rs` that calls `script::outcome` and
//! `FaultFs::dispatch` like `read` does.
//!
//! # Limits
//! FUSE interrupts are not served (`fuser` answers them ENOSYS, and the kernel then stops
//! sending them), so a request the server holds cannot be interrupted: cancelling it gets the
//! kernel's answer for work already running (EALREADY) and the request ends when the server
//! answers — which is what a user of a hung FUSE or network filesystem sees.

#![deny(unsafe_op_in_unsafe_fn)]

mod child;
mod deadline;
mod fs;
mod scheduler;
mod script;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use child::{wait_output, wait_status};
pub use deadline::Deadline;
pub use script::{Fault, Op, Rule};

use fs::{Counters, Node, Shared};
use scheduler::Scheduler;

/// The byte at `offset` of a [`FileSpec::patterned`] file: known to the test without a copy.
pub fn pattern_byte(offset: u64) -> u8 {
    let x = offset.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x >> 56) as u8 ^ (offset >> 12) as u8
}

/// One file of the filesystem: its name, contents, capacity and rules.
#[derive(Debug)]
pub struct FileSpec {
    name: String,
    data: Vec<u8>,
    capacity: Option<u64>,
    rules: Vec<Rule>,
}

impl FileSpec {
    /// A file holding `data`.
    pub fn new(name: &str, data: Vec<u8>) -> Self {
        FileSpec {
            name: name.to_owned(),
            data,
            capacity: None,
            rules: Vec::new(),
        }
    }

    /// A file of `len` bytes of [`pattern_byte`].
    pub fn patterned(name: &str, len: u64) -> Self {
        FileSpec::new(name, (0..len).map(pattern_byte).collect())
    }

    /// An empty file.
    pub fn empty(name: &str) -> Self {
        FileSpec::new(name, Vec::new())
    }

    /// Writes past `bytes` fail with ENOSPC; one that crosses it is short.
    pub fn capacity(mut self, bytes: u64) -> Self {
        self.capacity = Some(bytes);
        self
    }

    /// Adds a rule (rules apply in the order added).
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }
}

/// A filesystem to mount: its files and its concurrency model.
#[derive(Debug, Default)]
pub struct FaultFs {
    files: Vec<FileSpec>,
    servers: usize,
    service: Duration,
}

impl FaultFs {
    /// An empty filesystem with no concurrency model (every answer as soon as its rules allow).
    pub fn new() -> Self {
        FaultFs::default()
    }

    /// Adds a file.
    pub fn file(mut self, spec: FileSpec) -> Self {
        self.files.push(spec);
        self
    }

    /// Serves reads, writes and fsyncs by `servers` servers taking `service` each, first come
    /// first served: a device of `servers / service` requests per second whose knee is at
    /// `servers` in flight. Scripted delays add to the service time.
    pub fn served_by(mut self, servers: usize, service: Duration) -> Self {
        self.servers = servers;
        self.service = service;
        self
    }

    /// Mounts the filesystem on a new directory under the system's temporary directory.
    pub fn mount(self) -> io::Result<Mount> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "auraio-faultfs-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let (scheduler, timer) = Scheduler::start(self.servers);
        let nodes = self
            .files
            .into_iter()
            .map(|f| {
                Arc::new(Node {
                    name: f.name,
                    data: RwLock::new(f.data),
                    capacity: f.capacity,
                    rules: f.rules,
                })
            })
            .collect();
        let shared = Arc::new(Shared {
            nodes,
            counters: Arc::new(Counters::default()),
            scheduler,
            service: self.service,
        });
        let mut config = fuser::Config::default();
        config.mount_options = vec![
            fuser::MountOption::FSName("auraio-faultfs".into()),
            fuser::MountOption::Subtype("auraio-faultfs".into()),
            fuser::MountOption::RW,
        ];
        let session = match fuser::spawn_mount(fs::FaultFs(Arc::clone(&shared)), &dir, &config) {
            Ok(s) => s,
            Err(e) => {
                shared.scheduler.close();
                let _ = timer.join();
                let _ = std::fs::remove_dir(&dir);
                return Err(io::Error::new(
                    e.kind(),
                    format!("mounting the fault filesystem on {}: {e}", dir.display()),
                ));
            }
        };
        let connection = connection_of(&dir);
        if let Some(c) = connection {
            LIVE.lock().unwrap_or_else(PoisonError::into_inner).push(c);
        }
        Ok(Mount {
            dir,
            session: Some(session),
            timer: Some(timer),
            shared,
            connection,
        })
    }
}

/// What the server has seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Read requests received.
    pub reads: u64,
    /// Write requests received.
    pub writes: u64,
    /// Fsync requests received.
    pub fsyncs: u64,
    /// Requests answered with an error (scripted or at teardown).
    pub errors: u64,
    /// Bytes sent by reads.
    pub bytes_read: u64,
    /// Bytes taken by writes.
    pub bytes_written: u64,
    /// Requests received and not answered yet.
    pub outstanding: u64,
    /// The most requests outstanding at once: the concurrency the kernel let through.
    pub max_outstanding: u64,
}

/// A mounted fault filesystem; dropping it unmounts.
pub struct Mount {
    dir: PathBuf,
    session: Option<fuser::BackgroundSession>,
    timer: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    /// The FUSE connection's number under /sys/fs/fuse/connections.
    connection: Option<u64>,
}

/// Connections of this process's live mounts, for [`abort_all`].
static LIVE: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

const FUSECTL: &str = "/sys/fs/fuse/connections";

/// The connection number of the FUSE mount at `dir` (the minor of its device), mounting the
/// fusectl filesystem that lists connections if it is not mounted.
fn connection_of(dir: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(dir).ok()?.dev();
    if std::fs::read_dir(FUSECTL).is_ok_and(|mut d| d.next().is_none()) {
        let (none, fstype, target) = (c"none", c"fusectl", c"/sys/fs/fuse/connections");
        // SAFETY: three NUL-terminated strings that outlive the call and no data argument.
        unsafe {
            libc::mount(
                none.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
    }
    Some(u64::from(libc::minor(dev)))
}

fn abort_connection(c: u64) {
    let _ = std::fs::write(format!("{FUSECTL}/{c}/abort"), "1");
}

/// Aborts every fault filesystem this process has mounted: requests the kernel holds on them
/// fail at once (ENOTCONN), so no thread stays blocked in the kernel on a server that will
/// never answer. A test's watchdog calls it before exiting the process: a thread sleeping
/// uninterruptibly on its own process's FUSE server would otherwise keep the process from
/// ever exiting.
pub fn abort_all() {
    for c in LIVE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(..)
    {
        abort_connection(c);
    }
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mount")
            .field("dir", &self.dir)
            .field("stats", &self.stats())
            .field("stalled", &self.stalled())
            .finish()
    }
}

impl Mount {
    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the file called `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Answers every stalled request as scripted; returns how many there were.
    pub fn release(&self) -> usize {
        self.shared.scheduler.release()
    }

    /// How many requests are stalled now.
    pub fn stalled(&self) -> usize {
        self.shared.scheduler.stalled()
    }

    /// Waits until at least `n` requests are stalled or `timeout` passes; returns whether they
    /// are.
    pub fn wait_stalled(&self, n: usize, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while self.stalled() < n {
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// The server's counts so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            reads: l(&c.reads),
            writes: l(&c.writes),
            fsyncs: l(&c.fsyncs),
            errors: l(&c.errors),
            bytes_read: l(&c.bytes_read),
            bytes_written: l(&c.bytes_written),
            outstanding: l(&c.outstanding),
            max_outstanding: l(&c.max_outstanding),
        }
    }

    /// The contents of the file called `name` as the server holds them (what writes left).
    pub fn contents(&self, name: &str) -> Option<Vec<u8>> {
        let n = self.shared.nodes.iter().find(|n| n.name == name)?;
        Some(
            n.data
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }

    /// Aborts the connection, as a crashed server would: every request pending on the mount
    /// fails with ENOTCONN, and so does every later one.
    pub fn abort(&self) {
        if let Some(c) = self.connection {
            abort_connection(c);
        }
    }

    /// How many times rule `index` (in the order added) of file `name` has fired.
    pub fn fired(&self, name: &str, index: usize) -> u64 {
        self.shared
            .nodes
            .iter()
            .find(|n| n.name == name)
            .and_then(|n| n.rules.get(index))
            .map_or(0, Rule::fired)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Held answers first: a request blocked in the kernel on this filesystem would keep
        // the mount busy.
        self.shared.scheduler.close();
        if let Some(timer) = self.timer.take() {
            let _ = timer.join();
        }
        // Then the connection: whatever the kernel still has in flight (a request it sent and
        // we never answered, one it queued after the close) fails now rather than waiting on
        // a server about to go.
        if let Some(c) = self.connection.take() {
            LIVE.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|x| *x != c);
            abort_connection(c);
        }
        // A lazy unmount: it succeeds even while a test (one that panicked, say) still has files
        // open on the mount; the connection ends, and the session thread with it, when the last
        // of them is closed. The session's own unmount then finds nothing to do.
        if let Ok(dir) = std::ffi::CString::new(self.dir.as_os_str().as_encoded_bytes()) {
            // SAFETY: `dir` is a NUL-terminated path that outlives the call.
            unsafe { libc::umount2(dir.as_ptr(), libc::MNT_DETACH) };
        }
        drop(self.session.take());
        let _ = std::fs::remove_dir(&self.dir);
    }
}
