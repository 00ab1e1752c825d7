//! The FUSE side: lookups and attributes of the scripted files, and reads, writes and fsyncs
//! answered as their rules say.

use std::ffi::OsStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, INodeNo, KernelConfig,
    LockOwner, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen,
    ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::scheduler::{Job, Scheduler};
use crate::script::{outcome, Op, Outcome, Rule};

/// One scripted file as the server holds it.
pub(crate) struct Node {
    pub name: String,
    pub data: RwLock<Vec<u8>>,
    pub capacity: Option<u64>,
    pub rules: Vec<Rule>,
}

impl Node {
    fn len(&self) -> u64 {
        self.data
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len() as u64
    }
}

/// Counts of what the server saw, readable by the test while it runs.
#[derive(Default)]
pub(crate) struct Counters {
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub fsyncs: AtomicU64,
    pub errors: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub outstanding: AtomicU64,
    pub max_outstanding: AtomicU64,
}

impl Counters {
    fn begin(&self, kind: &AtomicU64) {
        kind.fetch_add(1, Ordering::Relaxed);
        let now = self.outstanding.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_outstanding.fetch_max(now, Ordering::Relaxed);
    }

    fn end(&self, failed: bool) {
        self.outstanding.fetch_sub(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// State shared by the FUSE session thread, the timer thread and the test's [`crate::Mount`].
pub(crate) struct Shared {
    pub nodes: Vec<Arc<Node>>,
    pub counters: Arc<Counters>,
    pub scheduler: Arc<Scheduler>,
    pub service: Duration,
}

pub(crate) struct FaultFs(pub Arc<Shared>);

const ROOT: u64 = 1;
/// Attributes are not cached: a file's size changes with writes the kernel does not see
/// through the page cache (every file is opened direct_io).
const NO_CACHE: Duration = Duration::ZERO;

fn attr(ino: u64, kind: FileType, size: u64) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind,
        perm: if kind == FileType::Directory {
            0o755
        } else {
            0o644
        },
        nlink: if kind == FileType::Directory { 2 } else { 1 },
        // SAFETY: getuid and getgid cannot fail and touch no memory of ours.
        uid: unsafe { libc::getuid() },
        // SAFETY: as above.
        gid: unsafe { libc::getgid() },
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

impl FaultFs {
    fn node(&self, ino: INodeNo) -> Option<&Arc<Node>> {
        let i = u64::from(ino).checked_sub(ROOT + 1)?;
        self.0.nodes.get(usize::try_from(i).ok()?)
    }

    fn file_attr(&self, ino: INodeNo) -> Option<FileAttr> {
        if u64::from(ino) == ROOT {
            return Some(attr(ROOT, FileType::Directory, 0));
        }
        self.node(ino)
            .map(|n| attr(u64::from(ino), FileType::RegularFile, n.len()))
    }

    /// Sends `answer` as the outcome says: now, after its delay and the concurrency model's
    /// queue, or when released.
    fn dispatch(&self, o: Outcome, answer: Job) {
        let counters = Arc::clone(&self.0.counters);
        let scripted_error = o.errno.is_some();
        let job: Job = Box::new(move |fail| {
            counters.end(fail.is_some() || scripted_error);
            answer(fail);
        });
        if o.stall {
            return self.0.scheduler.stall(job);
        }
        let due = self.0.scheduler.service_done(self.0.service) + o.delay;
        if due <= Instant::now() {
            job(None);
        } else {
            self.0.scheduler.at(due, job);
        }
    }
}

impl Filesystem for FaultFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // The kernel's default of 12 background requests would cap the concurrency model.
        let _ = config.set_max_background(512);
        let _ = config.set_congestion_threshold(384);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let found = (u64::from(parent) == ROOT)
            .then(|| {
                self.0
                    .nodes
                    .iter()
                    .position(|n| OsStr::new(&n.name) == name)
            })
            .flatten();
        match found {
            Some(i) => {
                let ino = INodeNo(ROOT + 1 + i as u64);
                let a = self.file_attr(ino).expect("a listed node");
                reply.entry(&NO_CACHE, &a, fuser::Generation(0));
            }
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.file_attr(ino) {
            Some(a) => reply.attr(&NO_CACHE, &a),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        if let (Some(n), Some(size)) = (self.node(ino), size) {
            if n.capacity.is_some_and(|c| size > c) {
                return reply.error(Errno::ENOSPC);
            }
            let mut d = n.data.write().unwrap_or_else(PoisonError::into_inner);
            d.resize(usize::try_from(size).unwrap_or(usize::MAX), 0);
        }
        match self.file_attr(ino) {
            Some(a) => reply.attr(&NO_CACHE, &a),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.node(ino) {
            // direct_io: every read and write reaches the server, none is served or absorbed
            // by the page cache, so every fault is seen by the caller.
            Some(_) => reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let Some(node) = self.node(ino).cloned() else {
            return reply.error(Errno::ENOENT);
        };
        self.0.counters.begin(&self.0.counters.reads);
        let o = outcome(
            &node.rules,
            Op::Read,
            offset..offset.saturating_add(u64::from(size)),
        );
        let counters = Arc::clone(&self.0.counters);
        self.dispatch(
            o,
            Box::new(move |fail| {
                if let Some(e) = fail.or(o.errno) {
                    return reply.error(Errno::from_i32(e));
                }
                let d = node.data.read().unwrap_or_else(PoisonError::into_inner);
                let want = o.limit.map_or(size, |l| l.min(size)) as usize;
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(d.len());
                let end = start.saturating_add(want).min(d.len());
                counters
                    .bytes_read
                    .fetch_add((end - start) as u64, Ordering::Relaxed);
                reply.data(&d[start..end]);
            }),
        );
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let Some(node) = self.node(ino).cloned() else {
            return reply.error(Errno::ENOENT);
        };
        self.0.counters.begin(&self.0.counters.writes);
        let at = offset..offset.saturating_add(data.len() as u64);
        let o = outcome(&node.rules, Op::Write, at);
        let data = data.to_vec();
        let counters = Arc::clone(&self.0.counters);
        self.dispatch(
            o,
            Box::new(move |fail| {
                if let Some(e) = fail.or(o.errno) {
                    return reply.error(Errno::from_i32(e));
                }
                let mut n = o.limit.map_or(data.len(), |l| (l as usize).min(data.len()));
                // A full device takes what fits, then refuses (ENOSPC), as a filesystem does.
                if let Some(cap) = node.capacity {
                    if offset >= cap && n > 0 {
                        return reply.error(Errno::ENOSPC);
                    }
                    n = n.min(usize::try_from(cap - offset).unwrap_or(usize::MAX));
                }
                let mut d = node.data.write().unwrap_or_else(PoisonError::into_inner);
                let start = usize::try_from(offset).expect("offset fits memory");
                if d.len() < start + n {
                    d.resize(start + n, 0);
                }
                d[start..start + n].copy_from_slice(&data[..n]);
                counters
                    .bytes_written
                    .fetch_add(n as u64, Ordering::Relaxed);
                reply.written(n as u32);
            }),
        );
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let Some(node) = self.node(ino).cloned() else {
            return reply.error(Errno::ENOENT);
        };
        self.0.counters.begin(&self.0.counters.fsyncs);
        let o = outcome(&node.rules, Op::Fsync, 0..0);
        self.dispatch(
            o,
            Box::new(move |fail| match fail.or(o.errno) {
                Some(e) => reply.error(Errno::from_i32(e)),
                None => reply.ok(),
            }),
        );
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        if u64::from(ino) != ROOT {
            return reply.error(Errno::ENOENT);
        }
        let dots = [
            (ROOT, FileType::Directory, "."),
            (ROOT, FileType::Directory, ".."),
        ];
        let files = self
            .0
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (ROOT + 1 + i as u64, FileType::RegularFile, n.name.as_str()));
        for (i, (ino, kind, name)) in dots
            .into_iter()
            .chain(files)
            .enumerate()
            .skip(offset as usize)
        {
            if reply.add(INodeNo(ino), (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }
}
