//! fio's I/O logs (`write_bw_log`, `write_lat_log`, `write_iops_log`), in fio's file names
//! and line format, so fio's plotting scripts and users' parsers read them unchanged.
//!
//! A line is `time (ms), value, direction (0 read, 1 write), block size, [offset,] priority`
//! `[, issue time (ns)]`:
//! one per measured I/O by default, or, with `log_avg_msec`, one per window and direction
//! seen in it (the average or, with `log_max_value`, the largest value; block size and
//! offset 0). Values: latencies in nanoseconds, bandwidth in KiB/s (per I/O: its bytes over
//! its total latency; per window: the window's bytes over its length), IOPS (per I/O: 1; per
//! window: its I/Os over its length). Times count from the end of `ramp_time`, as fio's;
//! I/Os of the ramp are not logged. Priorities are always 0 (bffio issues at the default
//! priority), written `0x0000` with `log_prio`, as fio writes them. `log_issue_time` (a later
//! fio's key, per-I/O lines only) appends when the I/O was issued, ns on the lines' clock.
//!
//! `write_hist_log` with `log_hist_msec`: completion-latency histograms, a line per interval
//! and direction: `time (ms), direction, block size, bins...`, the bins fio's (1856 of them,
//! log-linear, 64 per power of two; `log_hist_coarseness=N` sums each 2^N neighbours), the
//! counts of the interval only. Each direction has its own intervals on a fixed grid; the
//! completion that ends one writes that direction's line, at its time, as fio's; the last,
//! partial interval is not written (fio 3.33 does not).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};

/// What a job asked to log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogOptions {
    /// `write_bw_log`: the file name prefix (empty: the job's name).
    pub bw: Option<String>,
    /// `write_lat_log`.
    pub lat: Option<String>,
    /// `write_iops_log`.
    pub iops: Option<String>,
    /// `log_avg_msec` (0: every I/O).
    pub avg_msec: u64,
    /// `log_max_value`.
    pub max_value: bool,
    /// `log_offset`.
    pub offset: bool,
    /// `log_prio`.
    pub prio: bool,
    /// `log_issue_time`.
    pub issue_time: bool,
    /// `per_job_logs` (fio's default: on).
    pub per_job: bool,
    /// `write_hist_log`.
    pub hist: Option<String>,
    /// `log_hist_msec` (0: the histogram log stays empty).
    pub hist_msec: u64,
    /// `log_hist_coarseness`: bins summed 2^N at a time.
    pub hist_coarseness: u32,
}

impl LogOptions {
    /// fio's defaults: no logs, per-job file names.
    pub fn new() -> Self {
        LogOptions {
            per_job: true,
            ..LogOptions::default()
        }
    }

    /// The files the thread numbered `thread` (1-based over the run, as fio numbers them)
    /// of job `job_name` writes, with what each holds.
    pub fn files(&self, job_name: &str, thread: u32) -> Vec<(String, Kind)> {
        let name = |prefix: &str, kind: &str| {
            let prefix = if prefix.is_empty() { job_name } else { prefix };
            if self.per_job {
                format!("{prefix}_{kind}.{thread}.log")
            } else {
                format!("{prefix}_{kind}.log")
            }
        };
        let mut out = Vec::new();
        if let Some(p) = &self.bw {
            out.push((name(p, "bw"), Kind::Bw));
        }
        if let Some(p) = &self.lat {
            out.push((name(p, "slat"), Kind::Slat));
            out.push((name(p, "clat"), Kind::Clat));
            out.push((name(p, "lat"), Kind::Lat));
        }
        if let Some(p) = &self.iops {
            out.push((name(p, "iops"), Kind::Iops));
        }
        if let Some(p) = &self.hist {
            out.push((name(p, "clat_hist"), Kind::Hist));
        }
        out
    }
}

/// What a log holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bandwidth, KiB/s.
    Bw,
    /// Submission latency, ns.
    Slat,
    /// Completion latency, ns.
    Clat,
    /// Total latency, ns.
    Lat,
    /// IOPS.
    Iops,
    /// Completion-latency histograms (fio's bins).
    Hist,
}

/// fio's latency bins: 64 per power of two above the first 64 (exact) values, 29 groups.
const PLAT_BITS: u32 = 6;
const PLAT_VAL: u64 = 1 << PLAT_BITS;
const PLAT_NR: usize = 29 * PLAT_VAL as usize;

/// The fio bin of a latency in ns (fio's `plat_val_to_idx`: the top PLAT_BITS bits below the
/// most significant one pick the bin within its power of two; the last bin takes the rest).
fn plat_index(v: u64) -> usize {
    let msb = 63u32.saturating_sub(v.leading_zeros());
    if v == 0 || msb <= PLAT_BITS {
        return v as usize;
    }
    let error_bits = msb - PLAT_BITS;
    let base = u64::from(error_bits + 1) << PLAT_BITS;
    let offset = (PLAT_VAL - 1) & (v >> error_bits);
    ((base + offset) as usize).min(PLAT_NR - 1)
}

/// One measured I/O, as the logs see it.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Completion time since the measurement began, ns.
    pub t_ns: u64,
    /// Its direction.
    pub dir: crate::stats::Dir,
    /// Bytes moved.
    pub bytes: u64,
    /// Offset in the file.
    pub offset: u64,
    /// Issued (the I/O taken from the job, before its submit call) since the measurement
    /// began, ns.
    pub issue_ns: u64,
    pub slat_ns: u64,
    pub clat_ns: u64,
    pub lat_ns: u64,
}

/// A window's running figures for one direction.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    ios: u64,
    bytes: u64,
    sum: f64,
    max: f64,
}

/// One log file being written.
struct Log {
    kind: Kind,
    file: File,
    /// Whole lines not yet written: a file shared by threads (`per_job_logs=0`, opened for
    /// appending) gets whole lines only, one write each batch.
    buf: String,
    acc: [Acc; 3],
    /// A histogram log's current interval: bins per direction (empty for other kinds), the
    /// block size last seen per direction, and when the interval ends (ns).
    hist: Vec<[u64; 3]>,
    hist_bs: [u64; 3],
    hist_end_ns: [u64; 3],
}

/// A job thread's logs.
pub struct Logs {
    logs: Vec<Log>,
    opts: LogOptions,
    /// End of the current window, ns (windowed logging).
    window_end_ns: u64,
}

/// Bytes of lines a log gathers before it writes them.
const FLUSH_BYTES: usize = 64 << 10;

/// Creates (or empties) the log files of every thread before the jobs start: threads then
/// only append, so threads sharing a file (`per_job_logs=0`) never truncate each other's.
pub fn create(files: &[String]) -> io::Result<()> {
    for f in files {
        File::create(f).map_err(|e| io::Error::new(e.kind(), format!("{f}: {e}")))?;
    }
    Ok(())
}

impl Logs {
    /// Opens `files` (created by [`create`]) for appending.
    pub fn open(opts: &LogOptions, files: &[(String, Kind)]) -> io::Result<Logs> {
        let logs = files
            .iter()
            .map(|(name, kind)| {
                let file = OpenOptions::new()
                    .append(true)
                    .open(name)
                    .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?;
                Ok(Log {
                    kind: *kind,
                    file,
                    buf: String::new(),
                    acc: [Acc::default(); 3],
                    hist: if *kind == Kind::Hist {
                        vec![[0; 3]; PLAT_NR]
                    } else {
                        Vec::new()
                    },
                    hist_bs: [0; 3],
                    hist_end_ns: [opts.hist_msec * 1_000_000; 3],
                })
            })
            .collect::<io::Result<_>>()?;
        Ok(Logs {
            logs,
            opts: opts.clone(),
            window_end_ns: opts.avg_msec * 1_000_000,
        })
    }

    /// Logs one measured I/O.
    pub fn record(&mut self, e: &Entry) -> io::Result<()> {
        for log in self.logs.iter_mut().filter(|l| l.kind == Kind::Hist) {
            if self.opts.hist_msec > 0 {
                log.hist(&self.opts, e)?;
            }
        }
        if self.opts.avg_msec == 0 {
            for log in self.logs.iter_mut().filter(|l| l.kind != Kind::Hist) {
                let value = match log.kind {
                    Kind::Bw => e.bytes as f64 * 1e9 / e.lat_ns.max(1) as f64 / 1024.0,
                    Kind::Slat => e.slat_ns as f64,
                    Kind::Clat => e.clat_ns as f64,
                    Kind::Lat => e.lat_ns as f64,
                    Kind::Iops | Kind::Hist => 1.0,
                };
                line(
                    &mut log.buf,
                    &self.opts,
                    e.t_ns / 1_000_000,
                    value,
                    e.dir as u8,
                    e.bytes,
                    e.offset,
                );
                if self.opts.issue_time {
                    use std::fmt::Write as _;
                    let _ = write!(log.buf, ", {}", e.issue_ns);
                }
                log.buf.push('\n');
                log.flush_if_full()?;
            }
            return Ok(());
        }
        while e.t_ns >= self.window_end_ns {
            self.close_window(self.window_end_ns)?;
            self.window_end_ns += self.opts.avg_msec * 1_000_000;
        }
        for log in self.logs.iter_mut().filter(|l| l.kind != Kind::Hist) {
            let value = match log.kind {
                Kind::Bw | Kind::Iops | Kind::Hist => 0.0,
                Kind::Slat => e.slat_ns as f64,
                Kind::Clat => e.clat_ns as f64,
                Kind::Lat => e.lat_ns as f64,
            };
            let a = &mut log.acc[e.dir as usize];
            a.ios += 1;
            a.bytes += e.bytes;
            a.sum += value;
            a.max = a.max.max(value);
        }
        Ok(())
    }

    /// Writes the window ending at `end_ns` (of `len_ns`; shorter for the last one), one line
    /// per direction that completed something in it.
    fn close_window(&mut self, end_ns: u64) -> io::Result<()> {
        let window_ns = self.opts.avg_msec * 1_000_000;
        let len_ns = window_ns - (self.window_end_ns - end_ns).min(window_ns - 1);
        for log in self.logs.iter_mut().filter(|l| l.kind != Kind::Hist) {
            for (dir, a) in log.acc.iter_mut().enumerate() {
                if a.ios == 0 {
                    continue;
                }
                let secs = len_ns as f64 / 1e9;
                let value = match log.kind {
                    Kind::Bw => a.bytes as f64 / 1024.0 / secs,
                    Kind::Iops => a.ios as f64 / secs,
                    _ if self.opts.max_value => a.max,
                    _ => a.sum / a.ios as f64,
                };
                line(
                    &mut log.buf,
                    &self.opts,
                    end_ns / 1_000_000,
                    value,
                    dir as u8,
                    0,
                    0,
                );
                log.buf.push('\n');
                *a = Acc::default();
            }
            log.flush_if_full()?;
        }
        Ok(())
    }

    /// Ends the logs at `end_ns` since the measurement began: the last, partial window is
    /// written, and everything reaches the files.
    pub fn finish(mut self, end_ns: u64) -> io::Result<()> {
        if self.opts.avg_msec > 0 {
            self.close_window(end_ns.min(self.window_end_ns))?;
        }
        for log in &mut self.logs {
            log.flush()?;
        }
        Ok(())
    }
}

impl Log {
    /// Adds one completion to its direction's histogram interval; the completion that ends
    /// the interval writes that direction's line. Each direction keeps its own intervals on
    /// a fixed grid of `log_hist_msec`, as fio's.
    fn hist(&mut self, o: &LogOptions, e: &Entry) -> io::Result<()> {
        let d = e.dir as usize;
        self.hist[plat_index(e.clat_ns)][d] += 1;
        self.hist_bs[d] = e.bytes;
        if e.t_ns < self.hist_end_ns[d] {
            return Ok(());
        }
        use std::fmt::Write as _;
        let _ = write!(self.buf, "{}, {d}, {}", e.t_ns / 1_000_000, self.hist_bs[d]);
        for group in self.hist.chunks(1usize << o.hist_coarseness) {
            let n: u64 = group.iter().map(|b| b[d]).sum();
            let _ = write!(self.buf, ", {n}");
        }
        self.buf.push('\n');
        self.hist.iter_mut().for_each(|b| b[d] = 0);
        let step = o.hist_msec * 1_000_000;
        while self.hist_end_ns[d] <= e.t_ns {
            self.hist_end_ns[d] += step;
        }
        self.flush_if_full()
    }

    fn flush_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.write_all(self.buf.as_bytes())?;
        self.buf.clear();
        Ok(())
    }
}

/// Appends one line in fio's format, but for what may follow the priority and the newline.
fn line(out: &mut String, o: &LogOptions, ms: u64, value: f64, dir: u8, bs: u64, offset: u64) {
    use std::fmt::Write as _;
    let _ = write!(out, "{ms}, {}, {dir}, {bs}, ", value.round() as u64);
    if o.offset {
        let _ = write!(out, "{offset}, ");
    }
    out.push_str(if o.prio { "0x0000" } else { "0" });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(t_ms: u64, write: bool, lat_us: u64) -> Entry {
        Entry {
            t_ns: t_ms * 1_000_000,
            dir: if write {
                crate::stats::Dir::Write
            } else {
                crate::stats::Dir::Read
            },
            bytes: 4096,
            offset: 8192,
            issue_ns: (t_ms * 1_000_000).saturating_sub(lat_us * 1000),
            slat_ns: 1_000,
            clat_ns: lat_us * 1000 - 1_000,
            lat_ns: lat_us * 1000,
        }
    }

    fn read_lines(name: &str) -> Vec<String> {
        std::fs::read_to_string(name)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn latencies_fall_in_fios_bins() {
        // Exact up to 127 ns, then 64 bins per power of two; the last bin takes the rest.
        assert_eq!(
            (plat_index(0), plat_index(100), plat_index(127)),
            (0, 100, 127)
        );
        assert_eq!((plat_index(128), plat_index(255)), (128, 191));
        assert_eq!(
            (plat_index(256), plat_index(511), plat_index(512)),
            (192, 255, 256)
        );
        assert_eq!(plat_index(u64::MAX), PLAT_NR - 1);
        let mut last = 0;
        for v in (0..1u64 << 40).step_by(1 << 27).chain(0..5000) {
            let i = plat_index(v);
            assert!(i < PLAT_NR);
            if v >= 5000 {
                assert!(i >= last, "bins ordered");
                last = i;
            }
        }
    }

    #[test]
    fn histogram_lines_per_interval_and_direction() {
        let dir = std::env::temp_dir().join(format!("bffio-hist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let name = dir.join("h_clat_hist.1.log").display().to_string();
        create(std::slice::from_ref(&name)).unwrap();
        let opts = LogOptions {
            hist: Some(String::new()),
            hist_msec: 100,
            hist_coarseness: 2,
            ..LogOptions::new()
        };
        let mut logs = Logs::open(&opts, &[(name.clone(), Kind::Hist)]).unwrap();
        // Each direction its own intervals: the write at 120 ms ends the writes' first (one
        // write), the read at 150 ms the reads' (four reads); on the fixed grid the reads'
        // next interval ends at 200 ms: the reads at 180 ms and 190 ms are in it, and the run
        // ends before it is over.
        for (t, w, us) in [
            (10, false, 5),
            (20, false, 5),
            (30, false, 900),
            (120, true, 50),
            (150, false, 5),
            (180, false, 5),
            (190, false, 5),
        ] {
            logs.record(&entry(t, w, us)).unwrap();
        }
        logs.finish(195_000_000).unwrap();
        let lines = read_lines(&name);
        assert_eq!(
            lines.len(),
            2,
            "one line per direction's ended interval: {lines:?}"
        );
        let fields = |l: &str| {
            l.split(", ")
                .map(|f| f.parse::<u64>().unwrap())
                .collect::<Vec<_>>()
        };
        let (w, r) = (fields(&lines[0]), fields(&lines[1]));
        assert_eq!((w[0], w[1], w[2]), (120, 1, 4096));
        assert_eq!((r[0], r[1], r[2]), (150, 0, 4096));
        assert_eq!(
            r.len(),
            3 + PLAT_NR / 4,
            "coarseness 2: a quarter of the bins"
        );
        assert_eq!(w[3..].iter().sum::<u64>(), 1);
        assert_eq!(r[3..].iter().sum::<u64>(), 4);
        // 5 us three times in one merged bin, 900 us in a later one.
        let nonzero: Vec<u64> = r[3..].iter().copied().filter(|&n| n > 0).collect();
        assert_eq!(nonzero, [3, 1]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn file_names_follow_fio() {
        let mut o = LogOptions::new();
        o.bw = Some(String::new());
        o.lat = Some("x".into());
        let names: Vec<String> = o.files("job", 3).into_iter().map(|f| f.0).collect();
        assert_eq!(
            names,
            [
                "job_bw.3.log",
                "x_slat.3.log",
                "x_clat.3.log",
                "x_lat.3.log"
            ]
        );
        o.per_job = false;
        assert_eq!(o.files("job", 3)[0].0, "job_bw.log");
    }

    #[test]
    fn per_io_and_windowed_lines() {
        let dir = std::env::temp_dir().join(format!("bffio-iolog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let prefix = dir.join("t").to_string_lossy().into_owned();
        let mut o = LogOptions::new();
        o.iops = Some(prefix.clone());
        o.lat = Some(prefix.clone());
        o.offset = true;
        let files = o.files("j", 1);
        create(&files.iter().map(|f| f.0.clone()).collect::<Vec<_>>()).unwrap();
        let mut logs = Logs::open(&o, &files).unwrap();
        logs.record(&entry(0, false, 20)).unwrap();
        logs.record(&entry(7, true, 30)).unwrap();
        logs.finish(10_000_000).unwrap();
        assert_eq!(
            read_lines(&format!("{prefix}_iops.1.log")),
            ["0, 1, 0, 4096, 8192, 0", "7, 1, 1, 4096, 8192, 0"]
        );
        assert_eq!(
            read_lines(&format!("{prefix}_clat.1.log"))[1],
            "7, 29000, 1, 4096, 8192, 0"
        );
        o.issue_time = true;
        create(&files.iter().map(|f| f.0.clone()).collect::<Vec<_>>()).unwrap();
        let mut logs = Logs::open(&o, &files).unwrap();
        logs.record(&entry(7, true, 30)).unwrap();
        logs.finish(10_000_000).unwrap();
        assert_eq!(
            read_lines(&format!("{prefix}_lat.1.log")),
            ["7, 30000, 1, 4096, 8192, 0, 6970000"],
            "issued 30 us before its completion at 7 ms"
        );
        o.issue_time = false;

        // Windows of 100 ms: averages per direction, the last window cut at the end.
        o.avg_msec = 100;
        o.offset = false;
        o.prio = true;
        create(&files.iter().map(|f| f.0.clone()).collect::<Vec<_>>()).unwrap();
        let mut logs = Logs::open(&o, &files).unwrap();
        for (t, w, lat) in [
            (10, false, 20),
            (50, false, 40),
            (60, true, 100),
            (150, false, 10),
        ] {
            logs.record(&entry(t, w, lat)).unwrap();
        }
        logs.finish(150_000_000).unwrap();
        assert_eq!(
            read_lines(&format!("{prefix}_lat.1.log")),
            [
                "100, 30000, 0, 0, 0x0000",
                "100, 100000, 1, 0, 0x0000",
                "150, 10000, 0, 0, 0x0000"
            ]
        );
        assert_eq!(
            read_lines(&format!("{prefix}_iops.1.log")),
            [
                "100, 20, 0, 0, 0x0000",
                "100, 10, 1, 0, 0x0000",
                "150, 20, 0, 0, 0x0000"
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
