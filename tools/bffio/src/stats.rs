//! Measurements of a job thread, merged per job (or per group) at the end.

use crate::hist::LatHist;

/// A data direction, numbered as fio numbers them in its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Read = 0,
    Write = 1,
    Trim = 2,
}

impl Dir {
    /// fio's name.
    pub fn name(self) -> &'static str {
        match self {
            Dir::Read => "read",
            Dir::Write => "write",
            Dir::Trim => "trim",
        }
    }
}

/// One direction (read, write, trim) or the syncs.
#[derive(Clone, Default)]
pub struct DirStats {
    /// Bytes moved.
    pub bytes: u64,
    /// Completed operations.
    pub ios: u64,
    /// Operations that moved fewer bytes than asked.
    pub short_ios: u64,
    /// Submission latency (time in the submit call).
    pub slat: LatHist,
    /// Completion latency (submitted to completion seen).
    pub clat: LatHist,
    /// Total latency.
    pub lat: LatHist,
    /// Bandwidth samples, bytes per second, one per sampling interval.
    pub bw_samples: Vec<f64>,
    /// IOPS samples, one per sampling interval.
    pub iops_samples: Vec<f64>,
}

impl DirStats {
    /// Appends one bandwidth and one IOPS sample: what moved since `prev` (bytes, ios), over
    /// `secs`; `prev` becomes the current totals.
    pub fn push_sample(&mut self, prev: &mut (u64, u64), secs: f64) {
        self.bw_samples.push((self.bytes - prev.0) as f64 / secs);
        self.iops_samples.push((self.ios - prev.1) as f64 / secs);
        *prev = (self.bytes, self.ios);
    }

    /// Adds another thread's figures.
    pub fn merge(&mut self, o: &DirStats) {
        self.bytes += o.bytes;
        self.ios += o.ios;
        self.short_ios += o.short_ios;
        self.slat.merge(&o.slat);
        self.clat.merge(&o.clat);
        self.lat.merge(&o.lat);
        // Samples of concurrent threads add up interval by interval.
        add_samples(&mut self.bw_samples, &o.bw_samples);
        add_samples(&mut self.iops_samples, &o.iops_samples);
    }
}

fn add_samples(a: &mut Vec<f64>, b: &[f64]) {
    if a.len() < b.len() {
        a.resize(b.len(), 0.0);
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// min, max, mean, population stddev of samples.
pub fn sample_stats(s: &[f64]) -> (f64, f64, f64, f64) {
    if s.is_empty() {
        return (0.0, 0.0, 0.0, 0.0);
    }
    let min = s.iter().copied().fold(f64::INFINITY, f64::min);
    let max = s.iter().copied().fold(0.0, f64::max);
    let mean = s.iter().sum::<f64>() / s.len() as f64;
    let var = s.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / s.len() as f64;
    (min, max, mean, var.sqrt())
}

/// One point of the convergence picture.
#[derive(Clone, Copy, Debug, Default)]
pub struct TimePoint {
    /// Seconds since the job started (ramp included).
    pub t: f64,
    /// Sum of the engine's in-flight limits.
    pub limit: u64,
    /// Completions per second over the interval.
    pub iops: f64,
    /// The engine's P99 (last window), microseconds.
    pub p99_us: f64,
}

/// What the engine's tuner ended with, per ring.
#[derive(Clone, Debug, Default)]
pub struct RingEnd {
    /// In-flight limit.
    pub limit: u32,
    /// Phase name.
    pub phase: &'static str,
    /// P99 of the last window, nanoseconds.
    pub p99_ns: u64,
    /// Ticks until the first STEADY/CONVERGED (10 ms each), 0 if never.
    pub converge_ms: u64,
    /// Re-probes after convergence.
    pub reprobes: u64,
}

/// Everything one job thread measured.
#[derive(Clone, Default)]
pub struct ThreadStats {
    /// Reads.
    pub read: DirStats,
    /// Writes.
    pub write: DirStats,
    /// Trims.
    pub trim: DirStats,
    /// fsync / fdatasync.
    pub sync: DirStats,
    /// Measured time (after ramp), nanoseconds.
    pub runtime_ns: u64,
    /// User CPU time, microseconds.
    pub usr_us: u64,
    /// System CPU time, microseconds.
    pub sys_us: u64,
    /// Context switches.
    pub ctx: u64,
    /// Minor page faults.
    pub minf: u64,
    /// Major page faults.
    pub majf: u64,
    /// Submissions by outstanding depth at submission: 1, 2, 4, 8, 16, 32, >= 64.
    pub depth_levels: [u64; 7],
    /// Submissions per refill round: 1-4, 5-8, 9-16, 17-32, 33-64, > 64 (fio's
    /// `iodepth_submit` keys 4, 8, 16, 32, 64, >=64; index 0 is unused).
    pub submit_batches: [u64; 7],
    /// Completions per wait, in the same classes (`iodepth_complete`).
    pub complete_batches: [u64; 7],
    /// The engine at the end, per ring.
    pub rings: Vec<RingEnd>,
    /// Convergence picture.
    pub timeline: Vec<TimePoint>,
    /// First error (errno), 0 if none.
    pub error: i32,
    /// Where the first error of a read or write struck.
    pub error_at: Option<ErrorAt>,
    /// Errors passed over under `continue_on_error` (fio's `total_err`).
    pub errors_passed: u64,
    /// Verification failures (each with its offset).
    pub verify_errors: Vec<String>,
    /// Requests a device still held [`crate::runner::DRAIN_BOUND`] after the job ended: left
    /// to the kernel, never completed in the report.
    pub abandoned: u64,
    /// When the job's I/O began (after `startdelay`), ms since the Unix epoch (fio's
    /// `job_start`).
    pub start_ms: u64,
}

impl ThreadStats {
    /// Adds another thread's figures.
    /// The figures of direction `d`.
    pub fn dir_mut(&mut self, d: Dir) -> &mut DirStats {
        match d {
            Dir::Read => &mut self.read,
            Dir::Write => &mut self.write,
            Dir::Trim => &mut self.trim,
        }
    }

    pub fn merge(&mut self, o: &ThreadStats) {
        self.read.merge(&o.read);
        self.write.merge(&o.write);
        self.trim.merge(&o.trim);
        self.sync.merge(&o.sync);
        self.runtime_ns = self.runtime_ns.max(o.runtime_ns);
        self.usr_us += o.usr_us;
        self.sys_us += o.sys_us;
        self.ctx += o.ctx;
        self.minf += o.minf;
        self.majf += o.majf;
        for (a, b) in self.depth_levels.iter_mut().zip(o.depth_levels) {
            *a += b;
        }
        for (a, b) in self.submit_batches.iter_mut().zip(o.submit_batches) {
            *a += b;
        }
        for (a, b) in self.complete_batches.iter_mut().zip(o.complete_batches) {
            *a += b;
        }
        self.rings.extend(o.rings.iter().cloned());
        if self.timeline.is_empty() {
            self.timeline = o.timeline.clone();
        }
        if self.error == 0 {
            self.error = o.error;
            self.error_at = o.error_at;
        }
        self.errors_passed += o.errors_passed;
        self.abandoned += o.abandoned;
        self.start_ms = match (self.start_ms, o.start_ms) {
            (0, b) => b,
            (a, 0) => a,
            (a, b) => a.min(b),
        };
        self.verify_errors.extend(o.verify_errors.iter().cloned());
    }
}

/// Index into `depth_levels` for a depth.
pub fn depth_level(d: u64) -> usize {
    match d {
        0..=1 => 0,
        2 => 1,
        3..=4 => 2,
        5..=8 => 3,
        9..=16 => 4,
        17..=32 => 5,
        _ => 6,
    }
}

/// Index into `submit_batches`/`complete_batches` for a batch of `n` (n >= 1).
pub fn batch_class(n: u64) -> usize {
    match n {
        0 => 0,
        1..=4 => 1,
        5..=8 => 2,
        9..=16 => 3,
        17..=32 => 4,
        33..=64 => 5,
        _ => 6,
    }
}

/// CPU time and faults of the calling thread.
pub fn thread_usage() -> (u64, u64, u64, u64, u64) {
    // SAFETY: an all-zero rusage is valid, and getrusage fills it for the calling thread.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is a valid out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    (
        us(ru.ru_utime),
        us(ru.ru_stime),
        (ru.ru_nvcsw + ru.ru_nivcsw) as u64,
        ru.ru_minflt as u64,
        ru.ru_majflt as u64,
    )
}

/// The request that failed first: fio names it as `read offset=…, buflen=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorAt {
    /// Its direction.
    pub dir: Dir,
    /// Its file offset.
    pub offset: u64,
    /// Its length.
    pub len: u64,
}

/// The errno's message without Rust's " (os error N)" suffix, as fio prints it.
pub fn errno_text(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
