//! bffio: fio's jobs, run through auraio, with the queue depth found by the engine.
//!
//! `bffio` with no arguments runs the default job (4 KiB random reads from a 256 MiB file
//! under $TMPDIR for 10 s, adaptive depth). Otherwise it takes fio's command-line options
//! (`--name=` starting each job) and `.fio` job files; see `--help`.

mod agglog;
mod buffers;
mod diskutil;
mod engine_io;
mod hist;
mod iolog;
mod job;
mod offsets;
mod output;
mod parse;
mod plot;
mod random_map;
mod replay;
mod runner;
mod stats;
mod verify;
mod verify_state;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use job::{Format, Job};
use output::Entry;
use runner::Progress;
use stats::ThreadStats;

const HELP: &str = "\
bffio: a FIO-compatible benchmark powered by auraio

usage: bffio [--option=value ...] [jobfile.fio ...]
       bffio                      (the default job: 4k randread, 256 MiB file in $TMPDIR, 10 s)

fio options: --name (starts a job) --filename --directory --size --filesize --nrfiles
  --file_service_type --rw --rwmixread --bs --iodepth --numjobs --runtime --time_based
  --ramp_time --direct --fsync --fdatasync --group_reporting --output-format=normal|json|terse
  --output --percentile_list --verify=md5|crc32c|sha256|... --ioengine (recorded; auraio runs the I/O)
auraio options:
  --aimd=on|off     on (default): the engine finds the depth, iodepth is the upper bound
                    (256 when not given); off: iodepth is the fixed depth, as in fio (default 1)
  --target-p99=T    P99 ceiling the engine keeps (e.g. 500us, 2ms)
  --preset=P        engine preset: local (CpuLocal, SingleThread; default), shared
                    (Adaptive, MultiThread), round-robin, cpu-local (CpuLocal, MultiThread)
  --plot=FILE.svg   the convergence picture: in-flight limit, IOPS and P99 over time
";

/// RUST_LOG (as env_logger reads it: `debug`, `auraio=trace`, ...): the engine's log records
/// (the tuner's decisions at debug, each tick at trace) on stderr. Without it, warnings only.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn main() -> ExitCode {
    init_logging();
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        // fio exits 1 for a job it cannot parse or run as for one that failed.
        Err(e) => {
            eprintln!("bffio: {e}");
            ExitCode::from(1)
        }
    }
}

fn load_jobs() -> Result<(Vec<Job>, job::RunOptions), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cl = parse::parse_args(&args)?;
    if cl.help {
        print!("{HELP}");
        std::process::exit(0);
    }
    if cl.version {
        println!("bffio {} (auraio)", env!("CARGO_PKG_VERSION"));
        std::process::exit(0);
    }
    if let Some(key) = &cl.cmdhelp {
        print!("{}", parse::cmdhelp(key.as_deref())?);
        std::process::exit(0);
    }
    let mut jobs = std::mem::take(&mut cl.jobs);
    let env = |k: &str| std::env::var(k).ok();
    let load = |p: &Path| std::fs::read_to_string(p);
    for f in &cl.files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let found = parse::parse_job_file(&text, f, &cl.global, &mut cl.run, &env, &load)?;
        if found.is_empty() {
            // As fio: a file of global options only is a mistake, not a default run.
            return Err(format!("{}: no job(s) defined (only [global])", f.display()).into());
        }
        jobs.extend(found);
    }
    if jobs.is_empty() && cl.files.is_empty() {
        // No job named: the default job, with the options given applied over it.
        let mut d = job::default_job();
        parse::apply_options(&mut d, &cl.global.options)?;
        jobs.push(d);
    }
    if !cl.run.sections.is_empty() {
        let all: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();
        jobs.retain(|j| cl.run.sections.contains(&j.name));
        if let Some(missing) = cl.run.sections.iter().find(|s| !all.contains(s)) {
            return Err(format!("--section={missing}: no such job section").into());
        }
    }
    for j in &mut jobs {
        j.aux_path = cl.run.aux_path.clone();
        runner::resolve_size(j)?;
        // The null engine's NOPs have no latency the tuner could read, and a synchronous
        // engine is one I/O at a time: both run at a fixed depth, as in fio.
        if j.ioengine == "null" || j.sync_engine() {
            j.aimd = false;
        }
        parse::validate(j)?;
    }
    // Reporting groups: a stonewall or new_group after the first job begins the next one.
    let mut group = 0;
    for i in 0..jobs.len() {
        if i > 0 && (jobs[i].stonewall || jobs[i].new_group) {
            group += 1;
        }
        jobs[i].group = group;
        if let Some(w) = &jobs[i].wait_for {
            if !jobs[..i].iter().any(|o| &o.name == w) {
                return Err(format!(
                    "job `{}`: wait_for={w}: no job of that name before it",
                    jobs[i].name
                )
                .into());
            }
        }
    }
    if cl.run.showcmd {
        for j in &jobs {
            let opts: Vec<String> = j
                .options
                .iter()
                .filter(|(k, _)| k != "name")
                .map(|(k, v)| {
                    if v.is_empty() {
                        format!("--{k}")
                    } else {
                        format!("--{k}={v}")
                    }
                })
                .collect();
            println!("bffio --name={} {}", j.name, opts.join(" "));
        }
        std::process::exit(0);
    }
    if cl.run.parse_only {
        std::process::exit(0);
    }
    Ok((jobs, cl.run))
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let (jobs, run) = load_jobs()?;
    let progress: Vec<Arc<Progress>> = jobs.iter().map(|_| Arc::new(Progress::default())).collect();
    let live = match run.eta {
        job::Eta::Always => true,
        job::Eta::Never => false,
        job::Eta::Auto => std::io::stderr().is_terminal() && run.formats == [Format::Normal],
    };
    let longest = jobs
        .iter()
        .map(|j| j.ramp_time + j.runtime.unwrap_or(Duration::ZERO))
        .max()
        .unwrap_or_default();
    let start = Instant::now();
    let agg_log = if run.bandwidth_log {
        Some(agglog::AggLog::create()?)
    } else {
        None
    };
    // Bytes moved so far by every job, per direction (after the jobs' ramps: `measured`).
    let sum = |of: fn(&runner::Progress) -> &[AtomicU64; 3]| -> [u64; 3] {
        std::array::from_fn(|d| {
            progress
                .iter()
                .map(|p| of(p)[d].load(Ordering::Relaxed))
                .sum()
        })
    };
    let moved = || sum(|p| &p.dir_bytes);
    let agg_sample = |end: bool| {
        let Some(log) = &agg_log else { return };
        let measured = sum(|p| &p.measured_bytes);
        if let Err(e) = log.sample(start.elapsed().as_secs_f64(), measured, end) {
            eprintln!("bffio: --bandwidth-log: {e}");
        }
    };
    // The rates shown are over the last second, not averages since the start.
    let last = std::cell::Cell::new((0.0f64, 0u64, 0u64));
    let newline_every = run.eta_newline.map(|d| d.as_secs_f64());
    let last_newline = std::cell::Cell::new(0.0f64);
    // --status-interval: when a report of the values so far is due, every job's threads are
    // asked for their figures (epoch); the report is written once each running thread has
    // answered, or 300 ms later with what is there.
    let next_report = std::cell::Cell::new(run.status_interval.map(|d| d.as_secs_f64()));
    let asked: std::cell::Cell<Option<(u64, f64)>> = std::cell::Cell::new(None);
    let epoch = std::cell::Cell::new(0u64);
    let status_report = |watch: &diskutil::Watch| {
        let el = start.elapsed().as_secs_f64();
        if let Some(at) = next_report.get().filter(|&at| el >= at) {
            let every = run.status_interval.map_or(1.0, |d| d.as_secs_f64());
            next_report.set(Some(at + every));
            epoch.set(epoch.get() + 1);
            for p in &progress {
                p.status_epoch.store(epoch.get(), Ordering::Relaxed);
            }
            asked.set(Some((epoch.get(), el)));
        }
        let Some((e, since)) = asked.get() else {
            return;
        };
        let answered = progress.iter().all(|p| {
            let running = p.running.load(Ordering::Relaxed) as usize;
            let snaps = p.snapshots.lock().unwrap_or_else(|x| x.into_inner());
            snaps
                .iter()
                .flatten()
                .filter(|(seen, _)| *seen == e)
                .count()
                >= running
        });
        if !answered && el - since < 0.3 {
            return;
        }
        asked.set(None);
        let per_job: Vec<Vec<ThreadStats>> = progress
            .iter()
            .map(|p| {
                let snaps = p.snapshots.lock().unwrap_or_else(|x| x.into_inner());
                snaps.iter().flatten().map(|(_, st)| st.clone()).collect()
            })
            .collect();
        let entries = grouped(&jobs, per_job);
        if entries.is_empty() {
            return;
        }
        match render(&run.formats, &entries, &watch.finish()) {
            Ok(text) => {
                if live && run.output.is_none() {
                    // Off the live status line (stderr) before the report (stdout).
                    eprintln!();
                }
                write_out(run.output.as_deref(), &text)
            }
            Err(err) => eprintln!("bffio: status report: {err}"),
        }
    };
    let status = |final_line: bool| {
        if !live {
            return;
        }
        let sum = |f: fn(&Progress) -> &std::sync::atomic::AtomicU64| -> u64 {
            progress.iter().map(|p| f(p).load(Ordering::Relaxed)).sum()
        };
        let bytes: u64 = moved().iter().sum();
        let ios = sum(|p| &p.ios);
        let (depth, running) = (sum(|p| &p.depth), sum(|p| &p.running));
        let el = start.elapsed().as_secs_f64();
        let (t0, ios0, bytes0) = last.get();
        if el - t0 < 1.0 && !final_line {
            return;
        }
        last.set((el, ios, bytes));
        let dt = (el - t0).max(1e-3);
        let eta = longest.as_secs_f64() - el;
        // --eta-newline: keep a line every so often instead of overwriting it.
        let newline = final_line
            || newline_every.is_some_and(|every| {
                let due = el - last_newline.get() >= every;
                if due {
                    last_newline.set(el);
                }
                due
            });
        eprint!(
            "\rJobs: {running} [{el:.0}s elapsed{}] [{:.0} MiB/s] [{:.0} IOPS] [depth {depth}]   {}",
            if eta > 0.0 { format!(", eta {eta:.0}s") } else { String::new() },
            (bytes - bytes0) as f64 / dt / 1048576.0,
            (ios - ios0) as f64 / dt,
            if newline { "\n" } else { "" }
        );
        let _ = std::io::stderr().flush();
    };
    runner::stop_on_signals();
    // fio's Disk stats: the block devices under the jobs' files, over the run.
    let watched: Vec<std::path::PathBuf> = jobs
        .iter()
        .filter(|j| j.ioengine != "null")
        .flat_map(|j| {
            let mut p: Vec<std::path::PathBuf> = j.filenames.iter().map(Into::into).collect();
            p.extend(j.directory.iter().map(Into::into));
            p
        })
        .collect();
    let watch = diskutil::Watch::start(&watched);
    if let Some(p) = &run.output {
        // Emptied now: the status reports, then the final one, are appended.
        std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?;
    }
    let results = runner::run_all(&jobs, &progress, &|| {
        status_report(&watch);
        agg_sample(false);
        status(false)
    });
    let disks = watch.finish();
    agg_sample(true);
    status(true);
    let sig = runner::SIGNALLED.load(Ordering::Relaxed);
    if sig != 0 {
        eprintln!("bffio: terminating on signal {sig}");
    }

    let mut ok = true;
    let per_job: Vec<Vec<ThreadStats>> = jobs
        .iter()
        .zip(results)
        .map(|(job, clones)| {
            clones
                .into_iter()
                .map(|r| {
                    // A job that could not start (its file could not be laid out or opened)
                    // is reported with that errno, as fio reports it; the other jobs still are.
                    let s = r.unwrap_or_else(|e| {
                        if e.kind() == std::io::ErrorKind::Interrupted {
                            // Stopped by a signal before its turn: no I/O, no error of its own.
                            return ThreadStats::default();
                        }
                        eprintln!("bffio: job `{}`: {e}", job.name);
                        ThreadStats {
                            error: runner::errno_of(&e),
                            ..ThreadStats::default()
                        }
                    });
                    if s.error != 0 || !s.verify_errors.is_empty() || s.abandoned != 0 {
                        ok = false;
                    }
                    s
                })
                .collect()
        })
        .collect();
    let entries = grouped(&jobs, per_job);
    let report = render(&run.formats, &entries, &disks)?;
    match &run.output {
        // After the status reports written there, if any.
        Some(p) => std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p)
            .and_then(|mut f| f.write_all(report.as_bytes()))
            .map_err(|e| format!("{p}: {e}"))?,
        None => {
            // Out now, whole: the process may outlive this report by as long as a stalled
            // device holds a request (see `runner::run_all`).
            let mut out = std::io::stdout().lock();
            // A reader that went away (`bffio | head`) is no error of the run: stop quietly.
            match out.write_all(report.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ok),
                r => r?,
            }
        }
    }
    if let Some(p) = &run.plot {
        // Every job, each labelled with what it ran.
        let lines: Vec<(String, &[stats::TimePoint])> = entries
            .iter()
            .map(|e| {
                let label = format!(
                    "{} ({} {}, {})",
                    e.job.name,
                    e.job.pattern.name(),
                    e.job.max_bs(),
                    if e.job.aimd { "AIMD" } else { "fixed" }
                );
                (label, &e.stats.timeline[..])
            })
            .collect();
        let title = format!("bffio: {} job(s)", lines.len());
        std::fs::write(p, plot::svg(&title, &lines)).map_err(|e| format!("{p}: {e}"))?;
    }
    for e in &entries {
        for v in &e.stats.verify_errors {
            eprintln!("bffio: verify failed in job `{}`: {v}", e.job.name);
        }
        if e.stats.error != 0 {
            let at = e.stats.error_at.map_or(String::new(), |a| {
                format!(": {} offset={}, buflen={}", a.dir.name(), a.offset, a.len)
            });
            eprintln!(
                "bffio: io_u error on file {}: {}{at} (job `{}` stopped, err={})",
                e.job.filenames.join(":"),
                stats::errno_text(e.stats.error),
                e.job.name,
                e.stats.error
            );
        }
    }
    Ok(ok)
}

/// The report's entries: a job's clones each, or one for a reporting group whose jobs ask
/// for `group_reporting` (named after the first of them), as fio.
fn grouped(jobs: &[Job], per_job: Vec<Vec<ThreadStats>>) -> Vec<Entry<'_>> {
    let mut entries: Vec<Entry> = Vec::new();
    for (job, clones) in jobs.iter().zip(per_job) {
        for s in clones {
            if !job.group_reporting {
                entries.push(Entry {
                    job,
                    clones: 1,
                    stats: s,
                });
                continue;
            }
            match entries
                .iter_mut()
                .find(|e| e.job.group == job.group && e.job.group_reporting)
            {
                Some(e) => {
                    e.stats.merge(&s);
                    e.clones += 1;
                }
                None => entries.push(Entry {
                    job,
                    clones: 1,
                    stats: s,
                }),
            }
        }
    }
    entries
}

/// The report in every format asked for, in order.
fn render(
    formats: &[Format],
    entries: &[Entry],
    disks: &[diskutil::DiskUtil],
) -> Result<String, Box<dyn std::error::Error>> {
    let mut report = String::new();
    for f in formats {
        report += &match f {
            Format::Normal => output::text(entries, disks),
            Format::Json => {
                serde_json::to_string_pretty(&output::json(entries, false, disks))? + "\n"
            }
            Format::JsonPlus => {
                serde_json::to_string_pretty(&output::json(entries, true, disks))? + "\n"
            }
            Format::Terse => output::terse(entries),
        };
    }
    Ok(report)
}

/// Writes a status report where the final one goes: appended to `--output`, or stdout (a
/// closed pipe is not an error here; the final report notices it).
fn write_out(output: Option<&str>, text: &str) {
    let r = match output {
        Some(p) => std::fs::OpenOptions::new()
            .append(true)
            .open(p)
            .and_then(|mut f| f.write_all(text.as_bytes())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        }
    };
    if let Err(e) = r {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("bffio: status report: {e}");
        }
    }
}
