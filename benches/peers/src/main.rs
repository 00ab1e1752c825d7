//! auraio beside what a Rust user would otherwise pick, on the same workloads: auraio's
//! callbacks (`LocalEngine`, `SharedEngine`), its futures under tokio (`SharedEngine` with the
//! driver task, and `LocalEngine` in a `LocalSet`) and under `LocalEngine::block_on`, `tokio::fs`-style reads (`spawn_blocking` of `pread`, as tokio
//! users do), the io_uring runtimes compio, tokio-uring and glommio (`runtimes`), a plain
//! `io-uring` loop, and fio (`ioengine=io_uring` with fixed files and buffers) as the
//! ceiling.
//!
//! `cargo run --release -p auraio-peers [-- --secs S --rounds N --only NAME,...]` prints one
//! markdown table per workload: medians over N alternating rounds (the peers' order turns
//! each round) of IOPS, mean and P99 completion latency, and CPU seconds per million
//! operations (user + system, the whole process: tokio's pools included).

use std::cell::RefCell;
use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auraio::AlignedBuf;

mod runtimes;

/// Where a workload's file lives.
#[derive(Clone, Copy, PartialEq)]
enum Dev {
    /// A file in /dev/shm, buffered.
    Tmpfs,
    /// The uncapped loop device (`../shared/tools/knee-device up 0`), O_DIRECT.
    Loop,
}

/// One workload.
#[derive(Clone, Copy)]
struct Load {
    name: &'static str,
    dev: Dev,
    bs: usize,
    depth: usize,
    threads: usize,
    /// Share of reads, percent (the rest writes).
    read_pct: u32,
    /// An fsync after every this many writes (0: none).
    fsync_every: u32,
    seq: bool,
}

#[rustfmt::skip]
const LOADS: &[Load] = &[
    Load { name: "4 KiB random reads, tmpfs, depth 1", dev: Dev::Tmpfs, bs: 4096, depth: 1, threads: 1, read_pct: 100, fsync_every: 0, seq: false },
    Load { name: "4 KiB random reads, tmpfs, depth 32", dev: Dev::Tmpfs, bs: 4096, depth: 32, threads: 1, read_pct: 100, fsync_every: 0, seq: false },
    Load { name: "4 KiB random reads, tmpfs, depth 128", dev: Dev::Tmpfs, bs: 4096, depth: 128, threads: 1, read_pct: 100, fsync_every: 0, seq: false },
    Load { name: "4 KiB random reads, tmpfs, depth 32, 2 threads", dev: Dev::Tmpfs, bs: 4096, depth: 32, threads: 2, read_pct: 100, fsync_every: 0, seq: false },
    Load { name: "4 KiB random reads, loop device O_DIRECT, depth 1", dev: Dev::Loop, bs: 4096, depth: 1, threads: 1, read_pct: 100, fsync_every: 0, seq: false },
    Load { name: "4 KiB random reads, loop device O_DIRECT, depth 32", dev: Dev::Loop, bs: 4096, depth: 32, threads: 1, read_pct: 100, fsync_every: 0, seq: false },
    Load { name: "4 KiB random reads, loop device O_DIRECT, depth 128", dev: Dev::Loop, bs: 4096, depth: 128, threads: 1, read_pct: 100, fsync_every: 0, seq: false },
    Load { name: "128 KiB sequential reads, tmpfs, depth 8", dev: Dev::Tmpfs, bs: 128 << 10, depth: 8, threads: 1, read_pct: 100, fsync_every: 0, seq: true },
    Load { name: "4 KiB 70/30 random read/write, fsync every 64 writes, tmpfs, depth 32", dev: Dev::Tmpfs, bs: 4096, depth: 32, threads: 1, read_pct: 70, fsync_every: 64, seq: false },
];

/// Size of each workload's file.
const FILE_BYTES: u64 = 256 << 20;

/// What one peer does on a thread until the deadline: the operations it completed and each
/// one's latency (submission to completion seen), ns.
#[derive(Default)]
struct Out {
    ops: u64,
    lat_ns: Vec<u64>,
}

/// The next operation of a workload: a read or write offset, or an fsync.
#[derive(Clone, Copy)]
enum Op {
    Read(u64),
    Write(u64),
    Fsync,
}

/// A workload's operation stream (one per thread or task). Stream `lane` of `lanes`:
/// random streams are seeded by their lane; sequential ones split one pass over the file
/// (blocks `lane`, `lane + lanes`, ...), where separate passes from the start would read the
/// same blocks, hot in the CPU's caches.
struct Gen {
    load: Load,
    x: u64,
    pos: u64,
    step: u64,
    writes: u32,
}

impl Gen {
    fn new(load: Load, lane: u64, lanes: u64) -> Self {
        Gen {
            load,
            x: (lane + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            pos: lane,
            step: lanes.max(1),
            writes: 0,
        }
    }

    fn next(&mut self) -> Op {
        if self.load.fsync_every > 0 && self.writes >= self.load.fsync_every {
            self.writes = 0;
            return Op::Fsync;
        }
        self.x ^= self.x << 13;
        self.x ^= self.x >> 7;
        self.x ^= self.x << 17;
        let blocks = FILE_BYTES / self.load.bs as u64;
        let off = if self.load.seq {
            let at = self.pos % blocks;
            self.pos += self.step;
            at * self.load.bs as u64
        } else {
            (self.x % blocks) * self.load.bs as u64
        };
        if (self.x >> 40) % 100 < u64::from(self.load.read_pct) {
            Op::Read(off)
        } else {
            self.writes += 1;
            Op::Write(off)
        }
    }
}

/// A file (or the device) opened for a workload.
struct Target {
    path: PathBuf,
    file: File,
    direct: bool,
}

/// User + system CPU seconds of this process (`RUSAGE_SELF`) or of its waited-for children
/// (`RUSAGE_CHILDREN`: fio, every thread of it, io-wq's workers included, as for the
/// in-process peers).
fn cpu_seconds(who: libc::c_int) -> f64 {
    // SAFETY: getrusage writes the struct it is given; all-zero is a valid initial value.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage; `who` is RUSAGE_SELF or RUSAGE_CHILDREN.
    unsafe { libc::getrusage(who, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn buffer(bs: usize) -> AlignedBuf {
    let mut b = AlignedBuf::zeroed(bs).expect("buffer");
    b.iter_mut().enumerate().for_each(|(i, v)| *v = i as u8);
    b
}

// ---- the plain io-uring loop ----

fn plain(t: &Target, load: Load, thread: u64, until: Instant) -> Out {
    use io_uring::{opcode, types, IoUring};
    // As benches/per_op.rs's loop: the flags a single-threaded io_uring program sets.
    let mut b = IoUring::builder();
    b.setup_coop_taskrun()
        .setup_single_issuer()
        .setup_defer_taskrun();
    let mut ring: IoUring = b
        .build((load.depth * 2).next_power_of_two() as u32)
        .expect("ring");
    let fd = types::Fd(t.file.as_raw_fd());
    // Freed only once every request has completed: on a panic with reads in flight they are
    // leaked rather than freed under the kernel.
    let mut bufs = std::mem::ManuallyDrop::new(
        (0..load.depth)
            .map(|_| buffer(load.bs))
            .collect::<Vec<AlignedBuf>>(),
    );
    let mut started = vec![Instant::now(); load.depth];
    // fsyncs are not counted (fio counts reads and writes): which slots hold one.
    let mut sync = vec![false; load.depth];
    let mut free: Vec<usize> = (0..load.depth).collect();
    let mut gen = Gen::new(load, thread, load.threads as u64);
    let mut out = Out::default();
    loop {
        let issuing = Instant::now() < until;
        while let Some(slot) = if issuing { free.pop() } else { None } {
            let b = &mut bufs[slot];
            let sqe = match gen.next() {
                Op::Read(off) => opcode::Read::new(fd, b.as_mut_ptr(), load.bs as u32)
                    .offset(off)
                    .build(),
                Op::Write(off) => opcode::Write::new(fd, b.as_ptr(), load.bs as u32)
                    .offset(off)
                    .build(),
                Op::Fsync => opcode::Fsync::new(fd).build(),
            };
            sync[slot] = sqe.get_opcode() == u32::from(opcode::Fsync::CODE);
            started[slot] = Instant::now();
            // SAFETY: the SQE points into `bufs[slot]`, which lives (unmoved: a heap buffer)
            // until this function has reaped every completion.
            unsafe { ring.submission().push(&sqe.user_data(slot as u64)) }.expect("SQ room");
        }
        if free.len() == load.depth {
            // No request is in flight: the kernel holds no buffer.
            drop(std::mem::ManuallyDrop::into_inner(bufs));
            return out;
        }
        ring.submit_and_wait(1).expect("submit");
        for cqe in ring.completion() {
            assert!(cqe.result() >= 0, "plain loop: errno {}", -cqe.result());
            let slot = cqe.user_data() as usize;
            if !sync[slot] {
                out.lat_ns.push(started[slot].elapsed().as_nanos() as u64);
                out.ops += 1;
            }
            free.push(slot);
        }
    }
}

// ---- auraio callbacks ----

thread_local! {
    static DONE: RefCell<(Out, Vec<AlignedBuf>)> = RefCell::new((Out::default(), Vec::new()));
}

/// A completion: a read or write (with its buffer) is counted; an fsync (none) is not, as
/// fio counts only reads and writes.
fn finish(r: std::io::Result<usize>, started: Instant, buf: Option<AlignedBuf>) {
    r.expect("auraio op");
    DONE.with(|d| {
        let mut d = d.borrow_mut();
        if let Some(b) = buf {
            d.0.lat_ns.push(started.elapsed().as_nanos() as u64);
            d.0.ops += 1;
            d.1.push(b);
        }
    });
}

macro_rules! callbacks {
    ($name:ident, $engine:ty) => {
        fn $name(t: &Target, load: Load, thread: u64, until: Instant) -> Out {
            let engine = <$engine>::new().expect("engine");
            let fd = t.file.as_raw_fd();
            DONE.with(|d| {
                *d.borrow_mut() = (
                    Out::default(),
                    (0..load.depth).map(|_| buffer(load.bs)).collect(),
                )
            });
            let mut gen = Gen::new(load, thread, load.threads as u64);
            let mut syncs = 0usize;
            loop {
                let issuing = Instant::now() < until;
                while issuing {
                    // One slot per request; fsyncs take a slot too, without a buffer.
                    let outstanding = load.depth - DONE.with(|d| d.borrow().1.len()) + syncs;
                    if outstanding >= load.depth {
                        break;
                    }
                    let t0 = Instant::now();
                    match gen.next() {
                        Op::Fsync => {
                            syncs += 1;
                            engine
                                .fsync(fd, move |r, ()| {
                                    finish(r, t0, None);
                                    SYNCS.with(|s| s.set(s.get() + 1));
                                })
                                .map_err(|e| e.into_parts().0)
                                .expect("fsync");
                        }
                        op => {
                            let b = DONE
                                .with(|d| d.borrow_mut().1.pop())
                                .expect("a free buffer");
                            let r = match op {
                                Op::Read(off) => {
                                    engine.read(fd, b, off, move |r, b| finish(r, t0, Some(b)))
                                }
                                _ => {
                                    let Op::Write(off) = op else { unreachable!() };
                                    engine.write(fd, b, off, move |r, b| finish(r, t0, Some(b)))
                                }
                            };
                            r.map_err(|e| e.into_parts().0).expect("submit");
                        }
                    }
                }
                syncs -= SYNCS.with(|s| s.replace(0));
                let idle = DONE.with(|d| d.borrow().1.len()) == load.depth && syncs == 0;
                if !issuing && idle {
                    return DONE.with(|d| std::mem::take(&mut d.borrow_mut().0));
                }
                engine.wait(Some(Duration::from_secs(5))).expect("wait");
                syncs -= SYNCS.with(|s| s.replace(0));
            }
        }
    };
}

thread_local! {
    static SYNCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

callbacks!(auraio_local, auraio::LocalEngine);
callbacks!(auraio_shared, auraio::SharedEngine);

// ---- auraio futures ----

macro_rules! task {
    ($name:ident, $engine:ty) => {
        /// One task of a futures peer: its share of the depth, one operation at a time.
        async fn $name(engine: &$engine, fd: RawFd, load: Load, lane: u64, until: Instant) -> Out {
            let mut gen = Gen::new(load, lane, (load.threads * load.depth) as u64);
            let mut buf = Some(buffer(load.bs));
            let mut out = Out::default();
            while Instant::now() < until {
                let t0 = Instant::now();
                match gen.next() {
                    Op::Read(off) => {
                        let (r, b) = engine.read_at(fd, buf.take().expect("buf"), off).await;
                        r.expect("read");
                        buf = Some(b);
                    }
                    Op::Write(off) => {
                        let (r, b) = engine.write_at(fd, buf.take().expect("buf"), off).await;
                        r.expect("write");
                        buf = Some(b);
                    }
                    Op::Fsync => {
                        engine.sync_all(fd).await.0.map(drop).expect("fsync");
                        continue;
                    }
                }
                out.lat_ns.push(t0.elapsed().as_nanos() as u64);
                out.ops += 1;
            }
            out
        }
    };
}

task!(task_local, auraio::LocalEngine);
task!(task_shared, auraio::SharedEngine);

/// One task's loop, whatever the runtime: `op` performs an operation (a read or write into
/// the task's buffer `buf`, or an fsync) and hands the buffer back; reads and writes are
/// counted, fsyncs not.
async fn task<B, F, Fut>(load: Load, lane_id: u64, until: Instant, buf: B, mut op: F) -> Out
where
    F: FnMut(Op, B) -> Fut,
    Fut: std::future::Future<Output = B>,
{
    let mut gen = Gen::new(load, lane_id, (load.threads * load.depth) as u64);
    let mut buf = Some(buf);
    let mut out = Out::default();
    while Instant::now() < until {
        let t0 = Instant::now();
        let o = gen.next();
        buf = Some(op(o, buf.take().expect("buf")).await);
        if !matches!(o, Op::Fsync) {
            out.lat_ns.push(t0.elapsed().as_nanos() as u64);
            out.ops += 1;
        }
    }
    out
}

/// The stream of task `task` on thread `thread`, among a workload's `threads x depth`.
fn lane(load: Load, thread: u64, task: usize) -> u64 {
    thread * load.depth as u64 + task as u64
}

fn merge(outs: Vec<Out>) -> Out {
    let mut all = Out::default();
    for o in outs {
        all.ops += o.ops;
        all.lat_ns.extend(o.lat_ns);
    }
    all
}

/// A task per unit of the depth on thread `thread`, each started by `spawn` with its stream
/// (`lane`) on the peer's runtime, which gives back a future of the task's figures; merged
/// once every task has ended.
async fn all_tasks<H: std::future::Future<Output = Out>>(
    load: Load,
    thread: u64,
    spawn: impl FnMut(u64) -> H,
) -> Out {
    let handles: Vec<H> = (0..load.depth)
        .map(|i| lane(load, thread, i))
        .map(spawn)
        .collect();
    let mut outs = Vec::new();
    for h in handles {
        outs.push(h.await);
    }
    merge(outs)
}

fn auraio_block_on(t: &Target, load: Load, thread: u64, until: Instant) -> Out {
    let engine = auraio::LocalEngine::new().expect("engine");
    let fd = t.file.as_raw_fd();
    let tasks =
        (0..load.depth).map(|i| task_local(&engine, fd, load, lane(load, thread, i), until));
    merge(engine.block_on(futures::future::join_all(tasks)))
}

fn auraio_tokio(t: &Target, load: Load, thread: u64, until: Instant) -> Out {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let engine = Arc::new(auraio::SharedEngine::new().expect("engine"));
    let fd = t.file.as_raw_fd();
    rt.block_on(async {
        let _driver = auraio::tokio::Driver::spawn(engine.clone());
        all_tasks(load, thread, |lane| {
            let engine = engine.clone();
            let h = tokio::spawn(async move { task_shared(&engine, fd, load, lane, until).await });
            async { h.await.expect("task") }
        })
        .await
    })
}

/// The single-thread engine on a current-thread runtime, as its docs show for one: a
/// `LocalSet`, the driver and the tasks spawned on it.
fn auraio_tokio_local(t: &Target, load: Load, thread: u64, until: Instant) -> Out {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let engine = std::rc::Rc::new(auraio::LocalEngine::new().expect("engine"));
    let fd = t.file.as_raw_fd();
    tokio::task::LocalSet::new().block_on(&rt, async {
        let _driver = auraio::tokio::Driver::spawn_local(engine.clone());
        all_tasks(load, thread, |lane| {
            let engine = engine.clone();
            let h = tokio::task::spawn_local(async move {
                task_local(&engine, fd, load, lane, until).await
            });
            async { h.await.expect("task") }
        })
        .await
    })
}

// ---- tokio's thread pool: what `tokio::fs` does ----

fn tokio_fs(t: &Target, load: Load, thread: u64, until: Instant) -> Out {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let file = Arc::new(t.file.try_clone().expect("clone the file"));
    rt.block_on(all_tasks(load, thread, |lane| {
        let file = file.clone();
        let h = tokio::spawn(task(load, lane, until, buffer(load.bs), move |o, mut b| {
            let f = file.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    match o {
                        Op::Read(off) => f.read_exact_at(&mut b[..], off),
                        Op::Write(off) => f.write_all_at(&b[..], off),
                        Op::Fsync => f.sync_all(),
                    }
                    .expect("blocking op");
                    b
                })
                .await
                .expect("blocking task")
            }
        }));
        async { h.await.expect("task") }
    }))
}

/// Figures of one run.
#[derive(Clone, Copy, Default)]
struct Figures {
    iops: f64,
    mean_us: f64,
    p99_us: f64,
    cpu_s_per_mop: f64,
}

/// A peer on one thread: the target, the workload, the thread index, when to stop.
type Runner = fn(&Target, Load, u64, Instant) -> Out;

/// Runs an in-process peer on `load.threads` threads for `secs`.
fn in_process(run: Runner, t: &Target, load: Load, secs: f64) -> Figures {
    let cpu0 = cpu_seconds(libc::RUSAGE_SELF);
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    let outs: Vec<Out> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..load.threads)
            .map(|i| s.spawn(move || run(t, load, i as u64, until)))
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("peer thread"))
            .collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds(libc::RUSAGE_SELF) - cpu0;
    let mut all = merge(outs);
    all.lat_ns.sort_unstable();
    let n = all.lat_ns.len().max(1);
    Figures {
        iops: all.ops as f64 / wall,
        mean_us: all.lat_ns.iter().sum::<u64>() as f64 / n as f64 / 1e3,
        p99_us: all.lat_ns[(n * 99 / 100).min(n - 1)] as f64 / 1e3,
        cpu_s_per_mop: cpu / (all.ops.max(1) as f64 / 1e6),
    }
}

/// fio on the same file: `ioengine=io_uring` with registered files and buffers.
fn fio(t: &Target, load: Load, secs: f64) -> Option<Figures> {
    let rw = match (load.read_pct, load.seq) {
        (100, true) => "read",
        (100, false) => "randread",
        _ => "randrw",
    };
    let mut args = vec![
        "--name=peer".to_string(),
        format!("--filename={}", t.path.display()),
        format!("--rw={rw}"),
        format!("--rwmixread={}", load.read_pct),
        format!("--bs={}", load.bs),
        format!("--iodepth={}", load.depth),
        format!("--numjobs={}", load.threads),
        "--group_reporting".into(),
        "--ioengine=io_uring".into(),
        "--fixedbufs=1".into(),
        "--registerfiles=1".into(),
        format!("--direct={}", u8::from(t.direct)),
        format!("--size={FILE_BYTES}"),
        format!("--runtime={}ms", (secs * 1e3) as u64),
        // Latency from submission, as the in-process peers measure it.
        "--lat_percentiles=1".into(),
        "--time_based".into(),
        "--output-format=json".into(),
    ];
    if load.fsync_every > 0 {
        args.push(format!("--fsync={}", load.fsync_every));
    }
    let cpu0 = cpu_seconds(libc::RUSAGE_CHILDREN);
    let out = Command::new("timeout")
        .arg(format!("{}", secs as u64 + 60))
        .arg("fio")
        .args(&args)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("fio failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let cpu = cpu_seconds(libc::RUSAGE_CHILDREN) - cpu0;
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&text[text.find('{')?..]).ok()?;
    let j = &v["jobs"][0];
    let (r, w) = (&j["read"], &j["write"]);
    let iops = r["iops"].as_f64()? + w["iops"].as_f64()?;
    let (ri, wi) = (r["total_ios"].as_f64()?, w["total_ios"].as_f64()?);
    let mean = |d: &serde_json::Value| d["lat_ns"]["mean"].as_f64().unwrap_or(0.0);
    let p99 = |d: &serde_json::Value| {
        d["lat_ns"]["percentile"]["99.000000"]
            .as_f64()
            .unwrap_or(0.0)
    };
    let ios = (ri + wi).max(1.0);
    Some(Figures {
        iops,
        mean_us: (mean(r) * ri + mean(w) * wi) / ios / 1e3,
        // fio keeps a distribution per direction: the mix's P99 is the larger of the two.
        p99_us: p99(r).max(p99(w)) / 1e3,
        cpu_s_per_mop: cpu / (ios / 1e6),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

const PEERS: &[(&str, Option<Runner>)] = &[
    ("plain io-uring loop", Some(plain)),
    ("auraio LocalEngine, callbacks", Some(auraio_local)),
    ("auraio SharedEngine, callbacks", Some(auraio_shared)),
    (
        "auraio futures, LocalEngine::block_on",
        Some(auraio_block_on),
    ),
    ("auraio futures, tokio (Driver)", Some(auraio_tokio)),
    (
        "auraio futures, tokio LocalSet (LocalEngine)",
        Some(auraio_tokio_local),
    ),
    ("tokio spawn_blocking (tokio::fs)", Some(tokio_fs)),
    ("compio (fs)", Some(runtimes::compio)),
    ("tokio-uring", Some(runtimes::tokio_uring)),
    (
        "glommio (DmaFile; BufferedFile on tmpfs)",
        Some(runtimes::glommio),
    ),
    ("fio io_uring, fixed files+buffers", None),
];

fn target(dev: Dev, loop_dev: &Option<String>) -> Option<Target> {
    match dev {
        Dev::Tmpfs => {
            let path = PathBuf::from("/dev/shm/auraio-peers.dat");
            if std::fs::metadata(&path).map_or(true, |m| m.len() < FILE_BYTES) {
                let block: Vec<u8> = (0..1 << 20).map(|i| (i * 7) as u8).collect();
                let f = File::create(&path).expect("create the tmpfs file");
                for i in 0..FILE_BYTES >> 20 {
                    f.write_all_at(&block, i << 20)
                        .expect("fill the tmpfs file");
                }
            }
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .expect("open");
            Some(Target {
                path,
                file,
                direct: false,
            })
        }
        Dev::Loop => {
            let path = PathBuf::from(loop_dev.as_ref()?);
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECT)
                .open(&path)
                .ok()?;
            Some(Target {
                path,
                file,
                direct: true,
            })
        }
    }
}

/// A dependency's version in the workspace's Cargo.lock.
fn locked_version(name: &str) -> String {
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"))
            .unwrap_or_default();
    let key = format!("name = \"{name}\"\nversion = \"");
    lock.find(&key)
        .and_then(|i| lock[i + key.len()..].split('"').next())
        .unwrap_or("?")
        .to_string()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut secs, mut rounds, mut only) = (2.0f64, 3usize, None::<Vec<String>>);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--secs" => secs = args.next().and_then(|v| v.parse().ok()).expect("--secs S"),
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--rounds N")
            }
            "--only" => {
                only = args
                    .next()
                    .map(|v| v.split(',').map(String::from).collect())
            }
            _ => panic!("usage: auraio-peers [--secs S] [--rounds N] [--only SUBSTRING,...]"),
        }
    }
    let knee = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/knee-device");
    let loop_dev = Command::new(&knee)
        .args(["up", "0"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    println!(
        "Peers, {secs} s runs, medians of {rounds} alternating rounds; auraio {}, tokio {}, compio {}, tokio-uring {}, glommio {}, fio {}",
        env!("CARGO_PKG_VERSION"),
        locked_version("tokio"),
        locked_version("compio"),
        locked_version("tokio-uring"),
        locked_version("glommio"),
        Command::new("fio")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|_| "not installed".into())
    );
    for load in LOADS {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|s| load.name.contains(s.as_str())))
        {
            continue;
        }
        println!("\n{}\n", load.name);
        let Some(t) = target(load.dev, &loop_dev) else {
            println!("(skipped: the loop device needs root and ../shared/tools/knee-device)");
            continue;
        };
        if load.dev == Dev::Loop && load.read_pct < 100 {
            continue;
        }
        let mut runs: Vec<Vec<Figures>> = vec![Vec::new(); PEERS.len()];
        for round in 0..rounds {
            for k in 0..PEERS.len() {
                let i = (k + round) % PEERS.len();
                let f = match PEERS[i].1 {
                    Some(run) => Some(in_process(run, &t, *load, secs)),
                    None => fio(&t, *load, secs),
                };
                runs[i].extend(f);
            }
        }
        println!("| peer | IOPS | mean µs | P99 µs | CPU s per M ops |");
        println!("|---|---:|---:|---:|---:|");
        for (i, (name, _)) in PEERS.iter().enumerate() {
            if runs[i].is_empty() {
                println!("| {name} | — | — | — | — |");
                continue;
            }
            let m = |f: fn(&Figures) -> f64| median(runs[i].iter().map(f).collect());
            println!(
                "| {name} | {:.0} | {:.1} | {:.1} | {:.2} |",
                m(|f| f.iops),
                m(|f| f.mean_us),
                m(|f| f.p99_us),
                m(|f| f.cpu_s_per_mop)
            );
        }
    }
}
