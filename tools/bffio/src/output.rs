//! Reports: fio's text layout and fio's JSON structure, plus what the tuner did.

use serde_json::{json, Map, Value};

use crate::diskutil::DiskUtil;
use crate::hist::LatHist;
use crate::job::Job;
use crate::stats::{sample_stats, DirStats, ThreadStats};

/// One reported entry: a job clone, or a job's clones merged (group_reporting).
pub struct Entry<'a> {
    /// The job.
    pub job: &'a Job,
    /// Clones merged into this entry.
    pub clones: u32,
    /// Merged figures.
    pub stats: ThreadStats,
}

/// Latency unit fio would print for a histogram: (name, divisor from ns).
fn unit_of(h: &LatHist) -> (&'static str, f64) {
    let m = h.mean();
    if m < 10_000.0 {
        ("nsec", 1.0)
    } else if m < 10_000_000.0 {
        ("usec", 1e3)
    } else {
        ("msec", 1e6)
    }
}

fn human_bytes(b: f64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1}{}", U[i])
}

fn human_si(b: f64) -> String {
    const U: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b;
    let mut i = 0;
    while v >= 1000.0 && i < U.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.1}{}", U[i])
}

fn human_count(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1e4 {
        format!("{:.0}k", n / 1e3)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

fn lat_line(out: &mut String, name: &str, h: &LatHist) {
    let (u, d) = unit_of(h);
    out.push_str(&format!(
        "    {name} ({u}): min={:.0}, max={:.0}, avg={:.2}, stdev={:.2}\n",
        h.min_or_zero() as f64 / d,
        h.max as f64 / d,
        h.mean() / d,
        h.stddev() / d
    ));
}

fn dir_text(out: &mut String, label: &str, d: &DirStats, runtime_ns: u64, percentiles: &[f64]) {
    if d.ios == 0 {
        return;
    }
    let secs = runtime_ns.max(1) as f64 / 1e9;
    let bw = d.bytes as f64 / secs;
    out.push_str(&format!(
        "  {label}: IOPS={}, BW={}/s ({}/s)({}/{}msec)\n",
        human_count(d.ios as f64 / secs),
        human_bytes(bw),
        human_si(bw),
        human_bytes(d.bytes as f64),
        runtime_ns / 1_000_000
    ));
    lat_line(out, "slat", &d.slat);
    lat_line(out, "clat", &d.clat);
    lat_line(out, " lat", &d.lat);
    let (u, div) = unit_of(&d.clat);
    out.push_str(&format!("    clat percentiles ({u}):\n"));
    for row in percentiles.chunks(4) {
        let cells: Vec<String> = row
            .iter()
            .map(|p| format!("{p:5.2}th=[{:>6.0}]", d.clat.percentile(*p) as f64 / div))
            .collect();
        out.push_str(&format!("     | {}\n", cells.join(", ")));
    }
    let (bmin, bmax, bmean, bdev) = sample_stats(&d.bw_samples);
    out.push_str(&format!(
        "   bw (  KiB/s): min={:.0}, max={:.0}, avg={:.2}, stdev={:.2}, samples={}\n",
        bmin / 1024.0,
        bmax / 1024.0,
        bmean / 1024.0,
        bdev / 1024.0,
        d.bw_samples.len()
    ));
    let (imin, imax, imean, idev) = sample_stats(&d.iops_samples);
    out.push_str(&format!(
        "   iops        : min={imin:.0}, max={imax:.0}, avg={imean:.2}, stdev={idev:.2}, samples={}\n",
        d.iops_samples.len()
    ));
}

/// fio's latency distribution classes, in ns: (map name, upper edges).
const LAT_NS: [u64; 10] = [2, 4, 10, 20, 50, 100, 250, 500, 750, 1000];
const LAT_MS: [u64; 11] = [2, 4, 10, 20, 50, 100, 250, 500, 750, 1000, 2000];

/// Percent of samples per latency class, keyed as fio keys them.
type Classes = Vec<(String, f64)>;

/// Shares (percent) of samples per class: ns, us and ms maps as fio names them.
fn lat_maps(h: &LatHist) -> (Classes, Classes, Classes) {
    let mut prev = 0u64;
    let mut class = |scale: u64, edges: &[u64]| -> Vec<(String, f64)> {
        edges
            .iter()
            .map(|&e| {
                let hi = e * scale;
                let share = h.share_between(prev, hi) * 100.0;
                prev = hi;
                (e.to_string(), share)
            })
            .collect()
    };
    let ns = class(1, &LAT_NS);
    let us = class(1000, &LAT_NS);
    let mut ms = class(1_000_000, &LAT_MS);
    ms.push((">=2000".into(), h.share_between(prev, u64::MAX) * 100.0));
    (ns, us, ms)
}

fn pct(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 * 100.0 / total as f64
    }
}

/// The self-tuning figures the reference tool reports: (final depth, phase, P99 ms of the
/// completions, target ms). The final depth is the rings' in-flight limits at the end: the
/// most concurrency the tuner kept (under the target when one was given).
fn tuning_figures(e: &Entry<'_>) -> (u64, &'static str, f64, Option<f64>) {
    let s = &e.stats;
    let depth: u64 = s.rings.iter().map(|r| u64::from(r.limit)).sum();
    let phase = s.rings.first().map_or("NONE", |r| r.phase);
    let d = if s.read.ios > 0 { &s.read } else { &s.write };
    let p99 = d.clat.percentile(99.0) as f64 / 1e6;
    (
        depth,
        phase,
        p99,
        e.job.target_p99.map(|t| t.as_secs_f64() * 1e3),
    )
}

/// fio's `time`: the local time in C's `ctime` layout (`Tue Dec  1 20:51:03 2026`).
fn ctime_now() -> String {
    // SAFETY: time(NULL) has no preconditions.
    let t = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: an all-zero tm is a valid value of the plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let mut buf = [0u8; 64];
    // SAFETY: `t` and `tm` are live locals; strftime writes at most `buf.len()` bytes into
    // `buf` and the format is NUL-terminated.
    let n = unsafe {
        libc::localtime_r(&t, &mut tm);
        libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%a %b %e %H:%M:%S %Y".as_ptr(),
            &tm,
        )
    };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The text report.
pub fn text(entries: &[Entry<'_>], disks: &[DiskUtil]) -> String {
    let mut out = String::new();
    for e in entries {
        let s = &e.stats;
        out.push_str(&format!(
            "{}: (groupid={}, jobs={}): err={:2}{}: pid={}\n",
            e.job.name,
            e.job.group,
            e.clones,
            s.error,
            if s.error != 0 {
                format!(
                    " (func=io_u error, error={})",
                    crate::stats::errno_text(s.error)
                )
            } else {
                String::new()
            },
            std::process::id()
        ));
        dir_text(&mut out, "read", &s.read, s.runtime_ns, &e.job.percentiles);
        dir_text(
            &mut out,
            "write",
            &s.write,
            s.runtime_ns,
            &e.job.percentiles,
        );
        dir_text(&mut out, "trim", &s.trim, s.runtime_ns, &e.job.percentiles);
        if s.sync.ios > 0 {
            out.push_str(&format!(
                "  fsync/fdatasync: {} syncs, lat avg={:.2}usec p99={:.0}usec\n",
                s.sync.ios,
                s.sync.lat.mean() / 1e3,
                s.sync.lat.percentile(99.0) as f64 / 1e3
            ));
        }
        let mut lat = s.read.lat.clone();
        lat.merge(&s.write.lat);
        lat.merge(&s.trim.lat);
        let (_, us, ms) = lat_maps(&lat);
        let fmt = |m: &[(String, f64)]| {
            m.iter()
                .filter(|(_, v)| *v >= 0.01)
                .map(|(k, v)| format!("{k}={v:.2}%"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (u, m) = (fmt(&us), fmt(&ms));
        if !u.is_empty() {
            out.push_str(&format!("  lat (usec)   : {u}\n"));
        }
        if !m.is_empty() {
            out.push_str(&format!("  lat (msec)   : {m}\n"));
        }
        let run_us = (s.runtime_ns / 1000).max(1) as f64 * f64::from(e.clones);
        out.push_str(&format!(
            "  cpu          : usr={:.2}%, sys={:.2}%, ctx={}, majf={}, minf={}\n",
            s.usr_us as f64 * 100.0 / run_us,
            s.sys_us as f64 * 100.0 / run_us,
            s.ctx,
            s.majf,
            s.minf
        ));
        let total: u64 = s.depth_levels.iter().sum();
        let names = ["1", "2", "4", "8", "16", "32", ">=64"];
        let lv: Vec<String> = names
            .iter()
            .zip(s.depth_levels)
            .map(|(n, c)| format!("{n}={:.1}%", pct(c, total)))
            .collect();
        out.push_str(&format!("  IO depths    : {}\n", lv.join(", ")));
        let aimd: Vec<String> = s
            .rings
            .iter()
            .map(|r| {
                format!(
                    "depth {} {} P99 {:.1}us{}{}",
                    r.limit,
                    r.phase,
                    r.p99_ns as f64 / 1e3,
                    if r.converge_ms > 0 {
                        format!(", converged in {} ms", r.converge_ms)
                    } else {
                        String::new()
                    },
                    if r.reprobes > 0 {
                        format!(", {} re-probes", r.reprobes)
                    } else {
                        String::new()
                    }
                )
            })
            .collect();
        out.push_str(&format!(
            "  auraio       : {} (iodepth {} {}){}\n",
            aimd.join("; "),
            e.job.max_depth(),
            if e.job.aimd {
                "is the upper bound, AIMD on"
            } else {
                "fixed, AIMD off"
            },
            match e.job.ioengine.as_str() {
                "auraio" => String::new(),
                "null" => "; ioengine=null: IORING_OP_NOP through auraio, no data moved".into(),
                other => format!("; ioengine={other} run through auraio (io_uring)"),
            }
        ));
        if let (depth, _, p99, Some(target)) = tuning_figures(e) {
            out.push_str(&format!(
                "  max concurrency={depth} at p99={p99:.2}ms (target: {target:.2}ms)\n"
            ));
        }
        for v in &s.verify_errors {
            out.push_str(&format!("  verify: {v}\n"));
        }
        out.push('\n');
    }
    // One summary per reporting group, as fio prints them.
    let mut groups: Vec<u32> = entries.iter().map(|e| e.job.group).collect();
    groups.dedup();
    for g in groups {
        let mut sum = ThreadStats::default();
        for e in entries.iter().filter(|e| e.job.group == g) {
            sum.merge(&e.stats);
        }
        out.push_str(&format!("Run status group {g} (all jobs):\n"));
        for (label, d) in [
            ("READ", &sum.read),
            ("WRITE", &sum.write),
            ("TRIM", &sum.trim),
        ] {
            if d.ios == 0 {
                continue;
            }
            let secs = sum.runtime_ns.max(1) as f64 / 1e9;
            let bw = d.bytes as f64 / secs;
            out.push_str(&format!(
                "{label:>6}: bw={}/s ({}/s), io={} ({}), run={}msec\n",
                human_bytes(bw),
                human_si(bw),
                human_bytes(d.bytes as f64),
                human_si(d.bytes as f64),
                sum.runtime_ns / 1_000_000
            ));
        }
    }
    if !disks.is_empty() {
        out.push_str("\nDisk stats (read/write):\n");
        for d in disks {
            out.push_str(&format!(
                "  {}: ios={}/{}, merge={}/{}, ticks={}/{}, in_queue={}, util={:.2}%\n",
                d.name,
                d.read_ios,
                d.write_ios,
                d.read_merges,
                d.write_merges,
                d.read_ticks,
                d.write_ticks,
                d.in_queue,
                d.util
            ));
        }
    }
    out
}

fn lat_json(h: &LatHist) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("min".into(), json!(h.min_or_zero()));
    m.insert("max".into(), json!(h.max));
    m.insert("mean".into(), json!(h.mean()));
    m.insert("stddev".into(), json!(h.stddev()));
    m.insert("N".into(), json!(h.n));
    m
}

/// `m` with fio's "percentile" map of `h` added (when anything was measured: `ios > 0`).
fn with_percentiles(
    mut m: Map<String, Value>,
    h: &LatHist,
    ios: u64,
    percentiles: &[f64],
) -> Map<String, Value> {
    if ios > 0 {
        let p: Map<String, Value> = percentiles
            .iter()
            .map(|p| (format!("{p:.6}"), json!(h.percentile(*p))))
            .collect();
        m.insert("percentile".into(), Value::Object(p));
    }
    m
}

/// fio's "bins" of a json+ latency: bucket value (ns) -> samples.
fn bins(h: &LatHist) -> Value {
    Value::Object(h.bins().map(|(ns, n)| (ns.to_string(), json!(n))).collect())
}

fn dir_json(d: &DirStats, runtime_ns: u64, percentiles: &[f64], plus: bool) -> Value {
    let runtime_ms = runtime_ns / 1_000_000;
    let secs = runtime_ns.max(1) as f64 / 1e9;
    let mut clat = with_percentiles(lat_json(&d.clat), &d.clat, d.ios, percentiles);
    if plus && d.ios > 0 {
        clat.insert("bins".into(), bins(&d.clat));
    }
    let (bmin, bmax, bmean, bdev) = sample_stats(&d.bw_samples);
    let (imin, imax, imean, idev) = sample_stats(&d.iops_samples);
    let bw_bytes = if d.ios > 0 {
        d.bytes as f64 / secs
    } else {
        0.0
    };
    json!({
        "io_bytes": d.bytes,
        "io_kbytes": d.bytes / 1024,
        "bw_bytes": bw_bytes.round() as u64,
        "bw": (bw_bytes / 1024.0).round() as u64,
        "iops": if d.ios > 0 { d.ios as f64 / secs } else { 0.0 },
        "runtime": if d.ios > 0 { runtime_ms } else { 0 },
        "total_ios": d.ios,
        "short_ios": d.short_ios,
        "drop_ios": 0,
        "slat_ns": Value::Object(lat_json(&d.slat)),
        "clat_ns": Value::Object(clat),
        "lat_ns": Value::Object(lat_json(&d.lat)),
        "bw_min": (bmin / 1024.0).round() as u64,
        "bw_max": (bmax / 1024.0).round() as u64,
        "bw_agg": if d.ios > 0 { 100.0 } else { 0.0 },
        "bw_mean": bmean / 1024.0,
        "bw_dev": bdev / 1024.0,
        "bw_samples": d.bw_samples.len(),
        "iops_min": imin.round() as u64,
        "iops_max": imax.round() as u64,
        "iops_mean": imean,
        "iops_stddev": idev,
        "iops_samples": d.iops_samples.len(),
    })
}

fn classes(counts: &[u64; 7], keys: [&str; 7]) -> Value {
    let total: u64 = counts.iter().sum();
    Value::Object(
        keys.iter()
            .zip(counts)
            .map(|(k, c)| (k.to_string(), json!(pct(*c, total))))
            .collect(),
    )
}

/// One direction's 41 fields of fio's terse format (version 3): KiB, KiB/s, IOPS, runtime,
/// slat/clat (µs), 20 clat percentiles, lat, bandwidth statistics.
fn terse_dir(out: &mut Vec<String>, d: &DirStats, runtime_ns: u64, percentiles: &[f64]) {
    let secs = runtime_ns.max(1) as f64 / 1e9;
    let (runtime_ms, bw, iops) = if d.ios > 0 {
        (
            runtime_ns / 1_000_000,
            d.bytes as f64 / secs / 1024.0,
            d.ios as f64 / secs,
        )
    } else {
        (0, 0.0, 0.0)
    };
    out.push((d.bytes / 1024).to_string());
    out.push(format!("{bw:.0}"));
    out.push(format!("{iops:.0}"));
    out.push(runtime_ms.to_string());
    let us = |h: &LatHist, out: &mut Vec<String>| {
        out.push((h.min_or_zero() / 1000).to_string());
        out.push((h.max / 1000).to_string());
        out.push(format!("{:.6}", h.mean() / 1e3));
        out.push(format!("{:.6}", h.stddev() / 1e3));
    };
    us(&d.slat, out);
    us(&d.clat, out);
    for i in 0..20 {
        out.push(match percentiles.get(i) {
            Some(p) if d.ios > 0 => format!("{p:.6}%={}", d.clat.percentile(*p) / 1000),
            Some(p) => format!("{p:.6}%=0"),
            None => "0%=0".into(),
        });
    }
    us(&d.lat, out);
    let (bmin, bmax, bmean, bdev) = sample_stats(&d.bw_samples);
    out.push(format!("{:.0}", bmin / 1024.0));
    out.push(format!("{:.0}", bmax / 1024.0));
    out.push(format!("{:.6}%", if d.ios > 0 { 100.0 } else { 0.0 }));
    out.push(format!("{:.6}", bmean / 1024.0));
    out.push(format!("{:.6}", bdev / 1024.0));
}

/// fio's terse format, version 3: one `;`-separated line of 121 fields per entry (no disk
/// utilisation fields: bffio does not read the block layer's statistics).
pub fn terse(entries: &[Entry<'_>]) -> String {
    let mut text = String::new();
    for e in entries {
        let s = &e.stats;
        let mut f: Vec<String> = vec![
            "3".into(),
            concat!("bffio-", env!("CARGO_PKG_VERSION")).into(),
            e.job.name.clone(),
            "0".into(),
            s.error.to_string(),
        ];
        terse_dir(&mut f, &s.read, s.runtime_ns, &e.job.percentiles);
        terse_dir(&mut f, &s.write, s.runtime_ns, &e.job.percentiles);
        let run_us = (s.runtime_ns / 1000).max(1) as f64 * f64::from(e.clones);
        f.push(format!("{:.6}%", s.usr_us as f64 * 100.0 / run_us));
        f.push(format!("{:.6}%", s.sys_us as f64 * 100.0 / run_us));
        f.push(s.ctx.to_string());
        f.push(s.majf.to_string());
        f.push(s.minf.to_string());
        let total: u64 = s.depth_levels.iter().sum();
        f.extend(
            s.depth_levels
                .iter()
                .map(|&c| format!("{:.1}%", pct(c, total))),
        );
        let mut lat = s.read.lat.clone();
        lat.merge(&s.write.lat);
        lat.merge(&s.trim.lat);
        let (_, us, ms) = lat_maps(&lat);
        f.extend(us.iter().chain(ms.iter()).map(|(_, v)| format!("{v:.2}%")));
        text.push_str(&f.join(";"));
        text.push('\n');
    }
    text
}

/// fio's JSON document; `plus`: json+ (completion-latency buckets as "bins").
pub fn json(entries: &[Entry<'_>], plus: bool, disks: &[DiskUtil]) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let jobs: Vec<Value> = entries
        .iter()
        .map(|e| {
            let s = &e.stats;
            let opts: Map<String, Value> = e
                .job
                .own_options()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let mut lat = s.read.lat.clone();
            lat.merge(&s.write.lat);
            lat.merge(&s.trim.lat);
            let (ns, us, ms) = lat_maps(&lat);
            let map = |m: Vec<(String, f64)>| Value::Object(m.into_iter().map(|(k, v)| (k, json!(v))).collect());
            let run_us = (s.runtime_ns / 1000).max(1) as f64 * f64::from(e.clones);
            let rings: Vec<Value> = s
                .rings
                .iter()
                .map(|r| {
                    json!({
                        "depth": r.limit,
                        "phase": r.phase,
                        "p99_ns": r.p99_ns,
                        "converge_ms": r.converge_ms,
                        "reprobes": r.reprobes,
                    })
                })
                .collect();
            let (final_depth, phase, p99_ms, target_p99_ms) = tuning_figures(e);
            let c = &e.job.continue_on;
            let first_error = (c.read || c.write || c.verify).then_some(s.error);
            let mut job = json!({
                "jobname": e.job.name,
                "groupid": e.job.group,
                "error": s.error,
                "total_err": s.errors_passed,
                "abandoned_ios": s.abandoned,
                "eta": 0,
                "job_start": s.start_ms,
                "elapsed": (s.runtime_ns + e.job.ramp_time.as_nanos() as u64) / 1_000_000_000,
                "job options": Value::Object(opts),
                "read": dir_json(&s.read, s.runtime_ns, &e.job.percentiles, plus),
                "write": dir_json(&s.write, s.runtime_ns, &e.job.percentiles, plus),
                "trim": dir_json(&s.trim, s.runtime_ns, &e.job.percentiles, plus),
                "sync": {
                    "total_ios": s.sync.ios,
                    "lat_ns": Value::Object(with_percentiles(lat_json(&s.sync.lat), &s.sync.lat, s.sync.ios, &e.job.percentiles)),
                },
                "job_runtime": s.runtime_ns / 1_000_000,
                "usr_cpu": s.usr_us as f64 * 100.0 / run_us,
                "sys_cpu": s.sys_us as f64 * 100.0 / run_us,
                "ctx": s.ctx,
                "majf": s.majf,
                "minf": s.minf,
                "iodepth_level": classes(&s.depth_levels, ["1", "2", "4", "8", "16", "32", ">=64"]),
                "iodepth_submit": classes(&s.submit_batches, ["0", "4", "8", "16", "32", "64", ">=64"]),
                "iodepth_complete": classes(&s.complete_batches, ["0", "4", "8", "16", "32", "64", ">=64"]),
                "latency_ns": map(ns),
                "latency_us": map(us),
                "latency_ms": map(ms),
                "latency_depth": e.job.max_depth(),
                "latency_target": 0,
                "latency_percentile": 100.0,
                "latency_window": 0,
                "AuraIO": {
                    "final_depth": final_depth,
                    "phase": phase,
                    "p99_ms": p99_ms,
                    "target_p99_ms": target_p99_ms,
                    "max_concurrency": final_depth,
                },
                "auraio": {
                    "aimd": e.job.aimd,
                    "preset": e.job.preset.name(),
                    "target_p99_ns": e.job.target_p99.map(|d| d.as_nanos() as u64),
                    "rings": rings,
                    "verify_errors": s.verify_errors,
                },
            });
            // fio writes the first error only for jobs that pass errors over.
            if let Some(first) = first_error {
                job["first_error"] = json!(first);
            }
            job
        })
        .collect();
    let mut doc = json!({
        "fio version": concat!("bffio-", env!("CARGO_PKG_VERSION")),
        "timestamp": now.as_secs(),
        "timestamp_ms": now.as_millis() as u64,
        "time": ctime_now(),
    });
    // As fio: the first job's global options, when there are any.
    if let Some(e) = entries.first().filter(|e| !e.job.global_options.is_empty()) {
        let g: Map<String, Value> = e
            .job
            .global_options
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        doc["global options"] = Value::Object(g);
    }
    doc["jobs"] = Value::Array(jobs);
    if !disks.is_empty() {
        doc["disk_util"] = Value::Array(
            disks
                .iter()
                .map(|d| {
                    json!({
                        "name": d.name,
                        "read_ios": d.read_ios,
                        "write_ios": d.write_ios,
                        "read_merges": d.read_merges,
                        "write_merges": d.write_merges,
                        "read_ticks": d.read_ticks,
                        "write_ticks": d.write_ticks,
                        "in_queue": d.in_queue,
                        "util": d.util,
                    })
                })
                .collect(),
        );
    }
    doc
}
