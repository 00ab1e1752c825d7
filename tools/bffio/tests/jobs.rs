//! Realistic fio job files (`tests/jobs/`, in the style of fio's documentation examples) run
//! through fio and through bffio side by side, each in a directory of its own on tmpfs: both
//! parse them (`--parse-only`), both run them, and what they report is compared — the jobs,
//! the I/O each did (for jobs bounded by size, not time), every JSON key path fio writes, and
//! the log files' names, line shapes and, for per-I/O logs of jobs bounded by size, lengths;
//! and fio's own log readers (`fio2gnuplot`, `fio_generate_plots`, and from fio's docs
//! `fio-histo-log-pctiles.py` and `fiologparser.py`) read bffio's logs as they read fio's.
//! Every run is bounded: a tool that hangs is killed and fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// Runs `cmd` for at most `secs` (see `wait_output`).
fn bounded(mut cmd: Command, secs: u64, what: &str) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    auraio_faultfs::wait_output(child, secs, what)
}

/// Runs `tool` on `job` in `dir` (the job files name their files under `${JOBDIR}`, and
/// take `direct=${DIRECT}`).
fn run(tool: &str, job: &Path, dir: &Path, direct: bool, extra: &[&str]) -> Output {
    let mut cmd = Command::new(tool);
    cmd.arg(job)
        .args(extra)
        .current_dir(dir)
        .env("JOBDIR", dir)
        .env("DIRECT", if direct { "1" } else { "0" });
    let out = bounded(cmd, 120, &format!("{tool} {}", job.display()));
    assert!(
        out.status.success(),
        "{tool} {} {extra:?}: {}{}",
        job.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The script `name` of fio's documentation (Debian ships them gzipped), unpacked into
/// `root`.
fn fio_doc_script(root: &Path, name: &str) -> PathBuf {
    let to = root.join(name);
    if !to.exists() {
        let gz = Path::new("/usr/share/doc/fio").join(format!("{name}.gz"));
        let mut cmd = Command::new("gzip");
        cmd.arg("-dc").arg(&gz);
        let out = bounded(cmd, 30, "gzip");
        assert!(
            out.status.success(),
            "{}: fio's package ships it; reinstall fio with its docs",
            gz.display()
        );
        std::fs::create_dir_all(root).unwrap();
        std::fs::write(&to, out.stdout).unwrap();
    }
    to
}

/// The rows of fio-histo-log-pctiles.py's table: samples, then min, the percentiles and max
/// (the leading time left out).
fn percentile_rows(text: &str) -> Vec<Vec<f64>> {
    text.lines()
        .skip_while(|l| !l.starts_with("msec-since-start"))
        .skip(1)
        .filter_map(|l| {
            let v: Vec<f64> = l
                .split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            (v.len() > 2).then(|| v[1..].to_vec())
        })
        .collect()
}

/// Every key path of a JSON value (array elements collapsed to `[]`).
fn paths(v: &Value, at: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                paths(x, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for x in a {
                paths(x, &format!("{at}[]"), out);
            }
        }
        _ => {
            out.insert(at.to_string());
        }
    }
}

/// The log files of a directory: name -> lines split into fields.
fn logs(dir: &Path) -> BTreeMap<String, Vec<Vec<String>>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let lines = text
                .lines()
                .map(|l| l.split(',').map(|f| f.trim().to_string()).collect())
                .collect();
            (p.file_name().unwrap().to_string_lossy().into_owned(), lines)
        })
        .collect()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The corpus, buffered on tmpfs.
#[test]
fn fio_job_files_run_alike_in_fio_and_bffio_on_tmpfs() {
    corpus(
        &PathBuf::from(format!("/dev/shm/bffio-jobs-{}", std::process::id())),
        false,
    );
}

/// The corpus with O_DIRECT on the disk the build is on.
#[test]
fn fio_job_files_run_alike_in_fio_and_bffio_with_o_direct_on_disk() {
    corpus(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("bffio-jobs"),
        true,
    );
}

fn corpus(root: &Path, direct: bool) {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jobs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&here)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "fio"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "the corpus: {files:?}");
    let bffio = env!("CARGO_BIN_EXE_bffio");
    let _ = std::fs::remove_dir_all(root);
    let mut failures = Vec::new();
    for job in &files {
        let name = job.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(job).unwrap();
        let time_based = text.contains("time_based");
        // What the I/O amounts must agree on (`; bffio-compare: MODE` in the job file):
        // `exact` (the default) each direction's bytes and I/Os; `total` reads and writes
        // together (a random mix); `bytes` the bytes, to within the last I/Os in flight
        // (random sizes).
        let mode = text
            .lines()
            .find_map(|l| l.strip_prefix("; bffio-compare:"))
            .and_then(|m| m.split_whitespace().next())
            .unwrap_or("exact")
            .to_string();
        let dirs = ["fio", "bffio"].map(|t| root.join(&name).join(t));
        for d in &dirs {
            std::fs::create_dir_all(d).unwrap();
        }
        run("fio", job, &dirs[0], direct, &["--parse-only"]);
        run(bffio, job, &dirs[1], direct, &["--parse-only"]);
        let reports = [("fio", &dirs[0]), (bffio, &dirs[1])].map(|(tool, d)| {
            let out = run(tool, job, d, direct, &["--output-format=json"]);
            serde_json::from_slice::<Value>(&out.stdout)
                .unwrap_or_else(|e| panic!("{tool} {name}: JSON: {e}"))
        });
        let mut problems = Vec::new();
        // The same JSON key paths: every one fio writes, bffio writes too.
        let [mut fio_paths, mut bffio_paths] = [BTreeSet::new(), BTreeSet::new()];
        paths(&reports[0], "", &mut fio_paths);
        paths(&reports[1], "", &mut bffio_paths);
        let missing: Vec<&String> = fio_paths.difference(&bffio_paths).collect();
        if !missing.is_empty() {
            problems.push(format!("JSON paths fio has and bffio not: {missing:?}"));
        }
        // The same jobs, and the same I/O when a size bounds it.
        let jobs = reports
            .each_ref()
            .map(|r| r["jobs"].as_array().unwrap().clone());
        let names = jobs
            .each_ref()
            .map(|j| j.iter().map(|x| x["jobname"].clone()).collect::<Vec<_>>());
        if names[0] != names[1] {
            problems.push(format!("jobs: fio {:?}, bffio {:?}", names[0], names[1]));
        } else if !time_based {
            for (f, b) in jobs[0].iter().zip(&jobs[1]) {
                let get = |j: &Value, dir: &str, key: &str| match dir {
                    "both" => u(&j["read"][key]) + u(&j["write"][key]),
                    d => u(&j[d][key]),
                };
                let (dirs, keys): (&[&str], &[&str]) = match mode.as_str() {
                    "total" => (&["both"], &["io_bytes", "total_ios"]),
                    "bytes" => (&["both"], &["io_bytes"]),
                    _ => (&["read", "write"], &["io_bytes", "total_ios"]),
                };
                for dir in dirs {
                    for key in keys {
                        let (x, y) = (get(f, dir, key), get(b, dir, key));
                        // Random sizes: each tool stops once the bytes are reached, so they
                        // may overshoot by what was in flight: at most the job's depth (8) of
                        // its largest I/Os (64 KiB).
                        let slack = if mode == "bytes" { 8 * (64 << 10) } else { 0 };
                        if x.abs_diff(y) > slack {
                            problems
                                .push(format!("{} {dir} {key}: fio {x}, bffio {y}", f["jobname"]));
                        }
                    }
                }
            }
        }
        // The same log files, lines of the same shape; per I/O, as many lines.
        let [fio_logs, bffio_logs] = dirs.each_ref().map(|d| logs(d));
        let fio_names: Vec<&String> = fio_logs.keys().collect();
        let bffio_names: Vec<&String> = bffio_logs.keys().collect();
        if fio_names != bffio_names {
            problems.push(format!("logs: fio {fio_names:?}, bffio {bffio_names:?}"));
        } else {
            for (log, f) in &fio_logs {
                let b = &bffio_logs[log];
                let shape = |l: &Vec<Vec<String>>| l.first().map(Vec::len);
                if shape(f) != shape(b) {
                    problems.push(format!(
                        "{log}: fields fio {:?}, bffio {:?}",
                        f.first(),
                        b.first()
                    ));
                }
                let windowed = text.contains("log_avg_msec");
                if !time_based && !windowed && f.len() != b.len() {
                    problems.push(format!("{log}: fio {} lines, bffio {}", f.len(), b.len()));
                }
            }
        }
        // fio's shipped log reader (fio2gnuplot: bandwidth and IOPS logs) takes bffio's logs
        // as it takes fio's: as many values from each.
        for (flag, suffix) in [("-b", "_bw."), ("-i", "_iops.")] {
            if !fio_logs.keys().any(|l| l.contains(suffix)) {
                continue;
            }
            let values = dirs.each_ref().map(|d| {
                let out_dir = d.join(format!("plot{flag}"));
                let mut cmd = Command::new("fio2gnuplot");
                cmd.args([flag, "-d"]).arg(&out_dir).current_dir(d);
                let out = bounded(cmd, 60, "fio2gnuplot");
                let global =
                    std::fs::read_to_string(out_dir.join("result.global")).unwrap_or_default();
                let n = global
                    .lines()
                    .find_map(|l| l.strip_prefix("values_count="))
                    .and_then(|n| n.trim().parse::<u64>().ok());
                (out.status.success(), n)
            });
            let [(fio_ok, fio_n), (ok, n)] = values;
            if !(fio_ok && ok && n.is_some() && fio_n.is_some()) || n < fio_n.map(|f| f / 2) {
                problems.push(format!(
                    "fio2gnuplot {flag}: on fio's logs {fio_ok} {fio_n:?} values, on bffio's {ok} {n:?}"
                ));
            }
        }
        // fio's shipped plot script (fio_generate_plots: gnuplot over the lat, slat, clat, bw
        // and iops logs) draws the same graphs from bffio's logs as from fio's, every data
        // file read (gnuplot warns of one with no valid points).
        let plotted = ["_lat.", "_slat.", "_clat.", "_bw.", "_iops."]
            .iter()
            .all(|k| fio_logs.keys().any(|l| l.contains(k)));
        if plotted {
            let plots = dirs.each_ref().map(|d| {
                let mut cmd = Command::new("fio_generate_plots");
                cmd.arg("plot").current_dir(d);
                let out = bounded(cmd, 120, "fio_generate_plots");
                let svgs: BTreeMap<String, u64> = std::fs::read_dir(d)
                    .unwrap()
                    .filter_map(|e| {
                        let e = e.ok()?;
                        let n = e.file_name().into_string().ok()?;
                        n.ends_with(".svg")
                            .then(|| (n, e.metadata().map_or(0, |m| m.len())))
                    })
                    .collect();
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                (out.status.success(), svgs, stderr)
            });
            let [(fio_ok, fio_svgs, _), (ok, svgs, stderr)] = &plots;
            let names = |m: &BTreeMap<String, u64>| m.keys().cloned().collect::<Vec<_>>();
            if !(*fio_ok && *ok) || names(fio_svgs) != names(svgs) || svgs.len() != 5 {
                problems.push(format!(
                    "fio_generate_plots: on fio's logs {fio_ok} {:?}, on bffio's {ok} {:?}: {stderr}",
                    names(fio_svgs),
                    names(svgs)
                ));
            }
            if stderr.contains("no valid points") || svgs.values().any(|&n| n < 4096) {
                problems.push(format!(
                    "fio_generate_plots on bffio's logs: {svgs:?} {stderr}"
                ));
            }
        }
        // fio's histogram reader (fio-histo-log-pctiles.py, shipped in fio's docs) makes the
        // same table of percentiles from bffio's histogram logs as from fio's, and finds
        // samples in each row.
        let setting = |key: &str| -> Option<u32> {
            text.lines().find_map(|l| {
                l.trim()
                    .strip_prefix(key)?
                    .strip_prefix('=')?
                    .trim()
                    .parse()
                    .ok()
            })
        };
        for log in fio_logs.keys().filter(|l| l.contains("_hist.")) {
            let bits = 6 - setting("log_hist_coarseness").unwrap_or(0);
            let msec = setting("log_hist_msec").unwrap_or(0);
            let tables = dirs.each_ref().map(|d| {
                let mut cmd = Command::new("python3");
                cmd.arg(fio_doc_script(root, "fio-histo-log-pctiles.py"))
                    .args(["--bucket-bits", &bits.to_string()])
                    .args(["--log-hist-msec", &msec.to_string()])
                    .arg(log)
                    .current_dir(d);
                let out = bounded(cmd, 60, "fio-histo-log-pctiles.py");
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                (out.status.success(), percentile_rows(&text), text)
            });
            let [(fio_ok, fio_rows, _), (ok, rows, out)] = &tables;
            let sane = rows
                .iter()
                .all(|r| r[0] > 0.0 && r[1..].windows(2).all(|w| w[0] <= w[1]));
            if !(*fio_ok && *ok) || fio_rows.is_empty() || rows.is_empty() || !sane {
                problems.push(format!(
                    "fio-histo-log-pctiles.py {log}: on fio's {fio_ok} {fio_rows:?}, on bffio's {ok}: {out}"
                ));
            }
        }
        // fio's line-log reader (fiologparser.py, shipped in fio's docs) fares the same on
        // bffio's logs as on fio's. (Its 3.33 release reads the four fields of older fio's
        // lines, so it fails on both tools' five-field lines alike.)
        for log in fio_logs.keys().filter(|l| !l.contains("_hist.")) {
            let ok = dirs.each_ref().map(|d| {
                let mut cmd = Command::new("python3");
                cmd.arg(fio_doc_script(root, "fiologparser.py"))
                    .arg("-s")
                    .arg(log)
                    .current_dir(d);
                bounded(cmd, 60, "fiologparser.py").status.success()
            });
            if ok[0] != ok[1] {
                problems.push(format!(
                    "fiologparser.py {log}: fio's {}, bffio's {}",
                    ok[0], ok[1]
                ));
            }
        }
        if problems.is_empty() {
            println!("ok   {name}");
        } else {
            println!("FAIL {name}:\n  {}", problems.join("\n  "));
            failures.push(name);
        }
    }
    let _ = std::fs::remove_dir_all(root);
    assert!(failures.is_empty(), "job files that differ: {failures:?}");
}
