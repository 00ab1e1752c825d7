//! What fio users bring: its command-line forms, job keys and habits (Ctrl-C, `| head`),
//! end to end on tmpfs. Every run is bounded: a bffio that hangs is killed and fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use auraio_faultfs::wait_output as bounded;

/// Runs `program` with `args` (in `dir` if given), bounded to `secs`, with its output.
fn run(program: &str, args: &[&str], dir: Option<&Path>, secs: u64) -> Output {
    let mut c = Command::new(program);
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let child = c.spawn().unwrap_or_else(|e| panic!("{program}: {e}"));
    bounded(child, secs, &format!("{program} {args:?}"))
}

/// bffio run in the build's scratch directory, where what it writes unasked (verify state
/// files, as fio) stays out of the source tree.
fn bffio(args: &[&str]) -> Output {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
    run(env!("CARGO_BIN_EXE_bffio"), args, Some(scratch), 120)
}

/// bffio run in `dir` (where it writes its logs and dumps).
fn bffio_in(dir: &Path, args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_bffio"), args, Some(dir), 120)
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--output-format=json");
    let out = bffio(&a);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bffio {args:?}: {err}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON: {e}: {err}"))
}

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(format!("/dev/shm/bffio-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn arg(k: &str, p: &Path) -> String {
    format!("--{k}={}", p.display())
}

#[test]
fn loops_and_io_size_set_the_io_done() {
    let d = dir("loops");
    let f = d.join("f");
    let base = [
        arg("filename", &f),
        "--rw=read".into(),
        "--bs=4k".into(),
        "--size=1m".into(),
    ];
    let base: Vec<&str> = base.iter().map(String::as_str).collect();
    let v = json(&[&["--name=l"], &base[..], &["--loops=3"]].concat());
    assert_eq!(
        v["jobs"][0]["read"]["io_bytes"],
        3 << 20,
        "three passes of 1 MiB"
    );
    let v = json(&[&["--name=i"], &base[..], &["--io_size=512k"]].concat());
    assert_eq!(v["jobs"][0]["read"]["io_bytes"], 512 << 10);
    // A percentage of the file's size: half of the 1 MiB file laid out above.
    let v = json(&[
        "--name=p",
        &arg("filename", &f),
        "--rw=read",
        "--bs=4k",
        "--size=50%",
    ]);
    assert_eq!(v["jobs"][0]["read"]["io_bytes"], 512 << 10);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn unlink_removes_the_files_and_end_fsync_is_accepted() {
    let d = dir("unlink");
    let f = d.join("f");
    json(&[
        "--name=u",
        &arg("filename", &f),
        "--rw=write",
        "--bs=4k",
        "--size=256k",
        "--unlink=1",
        "--end_fsync=1",
    ]);
    assert!(!f.exists(), "unlink=1 removed {}", f.display());
    json(&[
        "--name=k",
        &arg("filename", &f),
        "--rw=write",
        "--bs=4k",
        "--size=256k",
    ]);
    assert!(f.exists(), "without unlink the file stays");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn sections_parse_only_and_showcmd() {
    let d = dir("sections");
    let jobfile = d.join("two.fio");
    std::fs::write(
        &jobfile,
        format!(
            "[global]\nrw=read\nbs=4k\nsize=256k\ndirectory={}\n[first]\n[second]\nrw=randread\n",
            d.display()
        ),
    )
    .unwrap();
    let jf = jobfile.to_str().unwrap();
    let v = json(&["--section=second", jf]);
    let jobs = v["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["jobname"], "second");
    let out = bffio(&["--parse-only", jf]);
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
    let out = bffio(&["--parse-only", "--section=third", jf]);
    assert!(
        !out.status.success(),
        "a section that is not there is an error"
    );
    let out = bffio(&["--showcmd", jf]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("bffio --name={name} ")))
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .to_string()
    };
    let has = |name: &str, opt: &str| line(name).split(' ').any(|t| t == opt);
    assert!(
        has("first", "--rw=read") && has("second", "--rw=randread"),
        "{text}"
    );
    let out = bffio(&["-h"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("usage"));
    let out = bffio(&["--cmdhelp=loops"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("loops"));
    // --max-jobs, as scripts pass it: fio 3.33 runs every job whatever it says, and so does bffio.
    let v = json(&[
        "--name=x",
        "--max-jobs=2",
        "--numjobs=3",
        "--size=1m",
        &arg("directory", &d),
    ]);
    assert_eq!(v["jobs"].as_array().map(Vec::len), Some(3), "{v}");
    let _ = std::fs::remove_dir_all(&d);
}

/// Ctrl-C (SIGINT) ends the jobs and still prints the report, as fio does.
#[test]
fn sigint_stops_the_jobs_and_prints_the_report() {
    let d = dir("sigint");
    let f = d.join("f");
    let child = Command::new(env!("CARGO_BIN_EXE_bffio"))
        .args([
            "--name=s",
            &arg("filename", &f),
            "--rw=randread",
            "--bs=4k",
            "--size=4m",
            "--time_based",
            "--runtime=60",
            "--output-format=json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Running: its data file exists once it has been laid out.
    let end = Instant::now() + Duration::from_secs(30);
    while !(f.exists() && std::fs::metadata(&f).unwrap().len() == 4 << 20) {
        assert!(Instant::now() < end, "bffio never laid out its file");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    // SAFETY: kill(2) to the child this test started and has not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    // Well within its 60 s runtime: the signal, not the runtime, ended it.
    let out = bounded(child, 20, "after SIGINT");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("terminating on signal 2"), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert!(
        v["jobs"][0]["read"]["io_bytes"].as_u64().unwrap() > 0,
        "{v}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// `bffio ... | head`: a reader that goes away ends the run quietly.
#[test]
fn a_closed_pipe_ends_quietly() {
    let d = dir("pipe");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bffio"))
        .args([
            "--name=p",
            &arg("filename", &d.join("f")),
            "--rw=read",
            "--bs=4k",
            "--size=256k",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = bounded(child, 60, "with a closed pipe");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn offset_gaps_rate_and_startdelay() {
    let d = dir("region");
    let f = d.join("f");
    let base = [arg("filename", &f), "--bs=4k".into(), "--size=1m".into()];
    let base: Vec<&str> = base.iter().map(String::as_str).collect();
    // As fio: the region is `size` bytes from the offset (the file grows to hold it).
    let v = json(&[&["--name=o", "--rw=read", "--offset=768k"], &base[..]].concat());
    assert_eq!(v["jobs"][0]["read"]["io_bytes"], 1 << 20, "{v}");
    assert_eq!(
        std::fs::metadata(&f).unwrap().len(),
        (1 << 20) + (768 << 10)
    );
    let v = json(
        &[
            &["--name=p", "--rw=read", "--offset=50%", "--io_size=64k"],
            &base[..],
        ]
        .concat(),
    );
    assert_eq!(v["jobs"][0]["read"]["io_bytes"], 64 << 10, "{v}");
    // A percentage offset is of the existing file's size (1.75 MiB), as fio: 896 KiB, and the
    // region of `size` from there grows the file to 1.875 MiB.
    assert_eq!(
        std::fs::metadata(&f).unwrap().len(),
        (896 << 10) + (1 << 20)
    );
    // fio's disjoint segments: size=S offset_increment=S numjobs=2, of one file.
    let seg = [
        arg("filename", &d.join("g")),
        "--bs=4k".into(),
        "--size=512k".into(),
    ];
    let seg: Vec<&str> = seg.iter().map(String::as_str).collect();
    let v = json(
        &[
            &[
                "--name=i",
                "--rw=write",
                "--numjobs=2",
                "--offset_increment=512k",
                "--group_reporting",
            ],
            &seg[..],
        ]
        .concat(),
    );
    assert_eq!(v["jobs"][0]["write"]["io_bytes"], 1 << 20, "{v}");
    assert_eq!(
        std::fs::metadata(d.join("g")).unwrap().len(),
        1 << 20,
        "two segments, one file"
    );
    // Without a size the region runs to the file's end; past it is an error.
    let whole = [arg("filename", &f), "--bs=4k".into()];
    let whole: Vec<&str> = whole.iter().map(String::as_str).collect();
    // The file is 1.875 MiB by now: 50% of its 1.75 MiB, plus the 1 MiB read there (fio grows
    // it alike).
    let v = json(&[&["--name=w", "--rw=read", "--offset=1m"], &whole[..]].concat());
    assert_eq!(v["jobs"][0]["read"]["io_bytes"], 896 << 10, "{v}");
    let out = bffio(&[&["--name=x", "--rw=read", "--offset=4m"], &whole[..]].concat());
    assert!(!out.status.success(), "an offset past the file is an error");
    // rw=read:4k: every other block, wrapping around the region until `size` bytes moved
    // (as fio 3.33 does: 1024 reads of a 4 MiB file with size=4m).
    let v = json(
        &[
            &["--name=g", "--rw=read:4k", "--startdelay=200ms"],
            &base[..],
        ]
        .concat(),
    );
    assert_eq!(v["jobs"][0]["read"]["io_bytes"], 1 << 20, "{v}");
    // rate_iops: a ceiling; a slow machine can only do fewer.
    let v = json(
        &[
            &[
                "--name=r",
                "--rw=randread",
                "--rate_iops=200",
                "--time_based",
                "--runtime=1",
            ],
            &base[..],
        ]
        .concat(),
    );
    // Only the ceiling is the rate's: how far below it a loaded machine stays is timing, which
    // no test here decides.
    let ios = v["jobs"][0]["read"]["total_ios"].as_u64().unwrap();
    assert!((1..=221).contains(&ios), "200 IOPS for 1 s gave {ios}");
    // Per direction, as fio: READ,WRITE budgets of their own on a 50/50 mix. Reads rated,
    // writes not (`100,` leaves them): the writes are not held to the reads' budget (a write
    // over it never waits for one), so they pass it.
    let mix = |rate: &str| {
        // After `base`: its rw=read would win otherwise.
        let v = json(
            &[
                &["--name=m"],
                &base[..],
                &["--rw=randrw", rate, "--time_based", "--runtime=1"],
            ]
            .concat(),
        );
        let n = |d: &str| v["jobs"][0][d]["total_ios"].as_u64().unwrap();
        (n("read"), n("write"))
    };
    let (r, w) = mix("--rate_iops=100,50");
    assert!(
        r <= 111 && w <= 61,
        "100,50 IOPS for 1 s gave {r} reads, {w} writes"
    );
    let (r, w) = mix("--rate_iops=100,");
    assert!(r <= 111, "100 read IOPS for 1 s gave {r}");
    assert!(
        w > 111,
        "unrated writes were held to the reads' budget: {w}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// stonewall: the job starts once every job before it has ended, in a new reporting group;
/// wait_for: once the named one has.
#[test]
fn stonewall_and_wait_for_order_the_jobs() {
    let d = dir("stonewall");
    let jobfile = d.join("phases.fio");
    std::fs::write(
        &jobfile,
        format!(
            "[global]\nbs=4k\nsize=1m\ndirectory={}\n\
             [first]\nrw=randread\ntime_based\nruntime=1\n\
             [second]\nstonewall\nrw=read\n\
             [third]\nwait_for=second\nrw=read\n\
             [fourth]\nrw=randread\n",
            d.display()
        ),
    )
    .unwrap();
    let v = json(&[jobfile.to_str().unwrap()]);
    let jobs = v["jobs"].as_array().unwrap();
    let by = |n: &str| jobs.iter().find(|j| j["jobname"] == n).unwrap();
    let start = |n: &str| by(n)["job_start"].as_u64().unwrap();
    assert!(start("second") >= start("first") + 1000, "{v}");
    assert!(start("third") >= start("second"), "{v}");
    // A job after a stonewall waits with it, as fio: not before `first` has ended.
    assert!(start("fourth") >= start("first") + 1000, "{v}");
    assert_eq!(
        (
            by("first")["groupid"].as_u64(),
            by("second")["groupid"].as_u64(),
            by("third")["groupid"].as_u64()
        ),
        (Some(0), Some(1), Some(1))
    );
    let out = bffio(&[jobfile.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Run status group 0") && text.contains("Run status group 1"),
        "{text}"
    );
    std::fs::write(&jobfile, "[a]\nsize=1m\nwait_for=nobody\n").unwrap();
    let out = bffio(&[&arg("directory", &d), jobfile.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no job of that name"));
    let _ = std::fs::remove_dir_all(&d);
}

/// ioengine: fio's engines run through auraio and the report says so; `null` runs NOPs
/// (full-size I/Os with nothing moved); an engine bffio cannot stand in for is an error.
#[test]
fn ioengines_run_through_auraio() {
    let d = dir("engines");
    let f = d.join("f");
    let base = [
        arg("filename", &f),
        "--bs=4k".into(),
        "--size=256k".into(),
        "--rw=randread".into(),
    ];
    let base: Vec<&str> = base.iter().map(String::as_str).collect();
    // fio's batching keys: iodepth_batch pins the engine's batch threshold, iodepth_low holds
    // refills until the queue has drained.
    let v = json(
        &[
            &[
                "--name=b",
                "--iodepth=16",
                "--aimd=off",
                "--iodepth_batch=8",
                "--iodepth_low=4",
            ],
            &base[..],
        ]
        .concat(),
    );
    assert_eq!(v["jobs"][0]["read"]["io_bytes"], 256 << 10, "{v}");
    let out = bffio(&[&["--name=l", "--ioengine=libaio"], &base[..]].concat());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("ioengine=libaio run through auraio"),
        "{text}"
    );
    let null_file = d.join("never");
    let v = json(&[
        "--name=n",
        "--ioengine=null",
        &arg("filename", &null_file),
        "--bs=4k",
        "--size=256k",
        "--rw=randwrite",
        "--fsync=4",
    ]);
    assert_eq!(v["jobs"][0]["write"]["io_bytes"], 256 << 10, "{v}");
    assert!(!null_file.exists(), "the null engine touches no file");
    let out = bffio(&[
        "--name=nv",
        "--ioengine=null",
        &arg("filename", &null_file),
        "--size=256k",
        "--verify=crc32c",
        "--rw=write",
    ]);
    assert!(
        !out.status.success(),
        "verify with the null engine is refused"
    );
    // A synchronous engine is one I/O at a time, as in fio.
    let v = json(&[&["--name=s", "--ioengine=psync", "--iodepth=32"], &base[..]].concat());
    let levels = &v["jobs"][0]["iodepth_level"];
    assert_eq!(levels["1"], 100.0, "{levels}");
    let out = bffio(&[&["--name=x", "--ioengine=spdk"], &base[..]].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("ioengine") && err.contains("spdk"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// What scripts written against the reference tool read: the `AuraIO` JSON section, the
/// `max concurrency=` line under a P99 target; fio's `time` layout.
#[test]
fn the_reference_tools_tuning_output() {
    let d = dir("auraio-output");
    let f = d.join("f");
    let a = [
        "--name=t".to_string(),
        arg("filename", &f),
        "--bs=4k".into(),
        "--size=1m".into(),
        "--rw=randread".into(),
        "--target-p99=5ms".into(),
    ];
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let v = json(&a);
    let t = &v["jobs"][0]["AuraIO"];
    for k in [
        "final_depth",
        "phase",
        "p99_ms",
        "target_p99_ms",
        "max_concurrency",
    ] {
        assert!(!t[k].is_null(), "{k} in {t}");
    }
    assert_eq!(t["target_p99_ms"], 5.0);
    assert!(t["final_depth"].as_u64().unwrap() >= 1);
    // fio's `time`: "Tue Dec  1 20:51:31 2026".
    let time = v["time"].as_str().unwrap();
    let words: Vec<&str> = time.split_whitespace().collect();
    assert!(
        words.len() == 5 && words[3].matches(':').count() == 2,
        "{time}"
    );
    let out = bffio(&a);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("max concurrency=") && text.contains("(target: 5.00ms)"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// group_reporting merges the whole reporting group, as fio does: two jobs (three threads)
/// reported as one; a stonewall after them starts a group of its own.
#[test]
fn group_reporting_merges_the_whole_group() {
    let d = dir("groups");
    let jobfile = d.join("g.fio");
    std::fs::write(
        &jobfile,
        format!(
            "[global]\nbs=4k\nsize=256k\nrw=read\ndirectory={}\ngroup_reporting\n\
             [a]\nnumjobs=2\n[b]\n[c]\nstonewall\n",
            d.display()
        ),
    )
    .unwrap();
    let v = json(&[jobfile.to_str().unwrap()]);
    let jobs = v["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "{v}");
    assert_eq!(jobs[0]["jobname"], "a");
    assert_eq!(
        jobs[0]["read"]["io_bytes"],
        3 * (256 << 10),
        "a's two clones and b: {v}"
    );
    assert_eq!(
        (jobs[1]["jobname"].as_str(), jobs[1]["groupid"].as_u64()),
        (Some("c"), Some(1))
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// Lines of an I/O log, split into their numeric fields (priority as written).
fn log_lines(p: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .map(|l| l.split(", ").map(String::from).collect())
        .collect()
}

#[test]
fn io_logs_in_fios_names_and_format() {
    let d = dir("logs");
    let job = format!(
        "[global]\nfilename={f}\nsize=1m\nbs=4k\nrw=randrw\n\
         [a]\nnumjobs=2\nwrite_iops_log=p\nwrite_lat_log=p\nlog_offset=1\n\
         [b]\nwrite_bw_log\nlog_avg_msec=5\nper_job_logs=0\nlog_prio=1\nio_size=4m\n
         [c]\nwrite_lat_log=q\nlog_issue_time=1\n",
        f = d.join("data").display()
    );
    std::fs::write(d.join("j.fio"), job).unwrap();
    let out = bffio_in(&d, &["j.fio", "--output-format=json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ios = |name: &str| -> u64 {
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["jobname"] == name)
            .map(|j| {
                j["read"]["total_ios"].as_u64().unwrap() + j["write"]["total_ios"].as_u64().unwrap()
            })
            .sum()
    };
    // Job a: one line per I/O in each log, threads 1 and 2 (fio numbers threads over the run).
    let mut lines = 0;
    for t in [1, 2] {
        let iops = log_lines(&d.join(format!("p_iops.{t}.log")));
        let clat = log_lines(&d.join(format!("p_clat.{t}.log")));
        let lat = log_lines(&d.join(format!("p_lat.{t}.log")));
        let slat = log_lines(&d.join(format!("p_slat.{t}.log")));
        assert!(!iops.is_empty());
        assert_eq!(
            (clat.len(), lat.len(), slat.len()),
            (iops.len(), iops.len(), iops.len())
        );
        let mut last_ms = 0u64;
        for (i, l) in iops.iter().enumerate() {
            assert_eq!(
                l.len(),
                6,
                "time, value, direction, bs, offset, prio: {l:?}"
            );
            let ms: u64 = l[0].parse().unwrap();
            assert!(ms >= last_ms, "times never go back: {l:?}");
            last_ms = ms;
            assert_eq!(l[1], "1");
            assert!(l[2] == "0" || l[2] == "1");
            assert_eq!(l[3], "4096");
            let off: u64 = l[4].parse().unwrap();
            assert!(off % 4096 == 0 && off < 1 << 20, "offset {off}");
            assert_eq!(l[5], "0");
            // The same I/O on the same line of each latency log: total = submit + complete.
            let n = |v: &Vec<String>| v[1].parse::<u64>().unwrap();
            assert_eq!(clat[i][4], l[4]);
            let (s, c, t) = (n(&slat[i]), n(&clat[i]), n(&lat[i]));
            assert!(
                s + c >= t.saturating_sub(1) && s + c <= t + 1,
                "slat {s} + clat {c} != lat {t}"
            );
        }
        lines += iops.len() as u64;
    }
    assert_eq!(lines, ios("a"), "a line per measured I/O");
    // Job b: the job's name as prefix, no thread number, a line per 5 ms window and direction.
    let bw = log_lines(&d.join("b_bw.log"));
    assert!(!bw.is_empty());
    assert!(!d.join("b_bw.3.log").exists());
    for l in &bw {
        assert_eq!(l.len(), 5, "no offset: {l:?}");
        assert_eq!((l[3].as_str(), l[4].as_str()), ("0", "0x0000"));
        assert!(l[1].parse::<u64>().unwrap() > 0, "KiB/s: {l:?}");
    }
    let ms: Vec<u64> = bw.iter().map(|l| l[0].parse().unwrap()).collect();
    // Windows end on multiples of 5 ms, but for the last, cut at the job's end.
    let end = *ms.iter().max().unwrap();
    assert!(
        ms.iter().all(|m| m % 5 == 0 || *m == end),
        "windows end on 5 ms: {ms:?}"
    );
    // Job c (thread 4, after a's two and b): log_issue_time ends each line with the issue time (ns), which with the I/O's
    // total latency makes its completion time, the line's first field.
    let lat = log_lines(&d.join("q_lat.4.log"));
    assert_eq!(lat.len() as u64, ios("c"));
    for l in &lat {
        assert_eq!(
            l.len(),
            6,
            "time, value, direction, bs, prio, issue time: {l:?}"
        );
        let n = |i: usize| l[i].parse::<u64>().unwrap();
        assert_eq!((n(5) + n(1)) / 1_000_000, n(0), "{l:?}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// Runs the job file `text` in `d` (JSON report), failing on an error.
fn run_in(d: &Path, text: &str) -> Value {
    std::fs::write(d.join("j.fio"), text).unwrap();
    let out = bffio_in(d, &["j.fio", "--output-format=json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn block_size_splits_ranges_and_alignment() {
    let d = dir("bs");
    let f = d.join("data");
    // Each I/O's direction, size and offset, from the IOPS log.
    let ios = |d: &Path| -> Vec<(u8, u64, u64)> {
        log_lines(&d.join("s_iops.1.log"))
            .iter()
            .map(|l| {
                (
                    l[2].parse().unwrap(),
                    l[3].parse().unwrap(),
                    l[4].parse().unwrap(),
                )
            })
            .collect()
    };
    let common = format!(
        "[global]\nfilename={}\nsize=1m\nio_size=4m\nwrite_iops_log=s\nlog_offset=1\n",
        f.display()
    );
    // bssplit: a quarter 4 KiB, the rest 16 KiB; every I/O within the file, 4 KiB aligned.
    let v = run_in(
        &d,
        &format!("{common}[a]\nrw=randread\nbssplit=4k/25:16k/75\n"),
    );
    let got = ios(&d);
    let small = got.iter().filter(|i| i.1 == 4096).count() as f64 / got.len() as f64;
    // As fio's random map, an I/O drawn where units are done already is shortened to the free
    // run it starts (fio 3.33 on this job: 8k and 12k reads beside the 4k and 16k ones).
    assert!(
        got.iter().all(|i| i.1 % 4096 == 0 && i.1 <= 16384),
        "sizes: {got:?}"
    );
    assert!((0.15..0.50).contains(&small), "4 KiB share {small}");
    assert!(got.iter().all(|i| i.2 % 4096 == 0 && i.2 + i.1 <= 1 << 20));
    let bytes: u64 = got.iter().map(|i| i.1).sum();
    assert_eq!(v["jobs"][0]["read"]["io_bytes"].as_u64(), Some(bytes));
    // bs=R,W: reads of 4 KiB and writes of 16 KiB.
    run_in(&d, &format!("{common}[a]\nrw=randrw\nbs=4k,16k\n"));
    let got = ios(&d);
    assert!(got.iter().any(|i| i.0 == 0) && got.iter().any(|i| i.0 == 1));
    assert!(got
        .iter()
        .all(|i| i.1 == if i.0 == 0 { 4096 } else { 16384 }));
    // bsrange with blockalign: multiples of 2 KiB up to 8 KiB, at 512-byte offsets.
    run_in(
        &d,
        &format!("{common}[a]\nrw=randread\nbsrange=2k-8k\nblockalign=512\n"),
    );
    let got = ios(&d);
    let mut sizes: Vec<u64> = got.iter().map(|i| i.1).collect();
    sizes.sort_unstable();
    sizes.dedup();
    assert_eq!(sizes, [2048, 4096, 6144, 8192]);
    assert!(got.iter().all(|i| i.2 % 512 == 0 && i.2 + i.1 <= 1 << 20));
    assert!(
        got.iter().any(|i| i.2 % 2048 != 0),
        "offsets at 512, not only at 2 KiB"
    );
    // Sequential with mixed sizes: each I/O starts where the one before ended (one at a
    // time, so the log's completion order is the issue order).
    run_in(
        &d,
        &format!("{common}[a]\nrw=read\nbssplit=4k/50:8k/50\niodepth=1\n"),
    );
    let got = ios(&d);
    for w in got.windows(2).take(100) {
        assert!(w[1].2 == w[0].2 + w[0].1 || w[1].2 == 0, "{w:?}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn random_map_generators_and_distributions() {
    let d = dir("dist");
    let f = d.join("data");
    let offsets = |d: &Path| -> Vec<u64> {
        log_lines(&d.join("s_iops.1.log"))
            .iter()
            .map(|l| l[4].parse().unwrap())
            .collect()
    };
    let common = format!(
        "[global]\nfilename={}\nsize=1m\nbs=4k\nwrite_iops_log=s\nlog_offset=1\n",
        f.display()
    );
    // fio's random map: one pass of random writes writes each block once.
    run_in(&d, &format!("{common}[a]\nrw=randwrite\n"));
    let mut got = offsets(&d);
    got.sort_unstable();
    assert_eq!(
        got,
        (0..256).map(|b| b * 4096).collect::<Vec<_>>(),
        "each block once"
    );
    // Mixed sizes, in fio and in bffio: two passes (loops) of random reads of 4k-64k each
    // read every 4k unit exactly twice, an I/O shortened where it would reach a unit done
    // already; and with norandommap some units are read more often than others.
    for (keys, exact) in [
        ("bsrange=4k-64k\n", true),
        ("bssplit=4k/50:64k/50\n", true),
        ("bsrange=4k-64k\nnorandommap\n", false),
    ] {
        let job = format!("{common}[a]\nrw=randread\nloops=2\n{keys}");
        std::fs::write(d.join("mixed.fio"), &job).unwrap();
        let theirs = run("fio", &["mixed.fio", "--output-format=json"], Some(&d), 60);
        assert!(theirs.status.success(), "fio: {keys}");
        let fio_log = log_lines(&d.join("s_iops.1.log"));
        run_in(&d, &job);
        let our_log = log_lines(&d.join("s_iops.1.log"));
        for (who, log) in [("fio", fio_log), ("bffio", our_log)] {
            let mut units = vec![0u32; 256];
            for l in &log {
                let (off, len): (usize, usize) = (l[4].parse().unwrap(), l[3].parse().unwrap());
                assert!(
                    len % 4096 == 0 && off + len <= 1 << 20,
                    "{who} {keys}: {l:?}"
                );
                for c in &mut units[off / 4096..(off + len) / 4096] {
                    *c += 1;
                }
            }
            if exact {
                assert!(units.iter().all(|&c| c == 2), "{who} {keys}: {units:?}");
            } else {
                assert!(units.iter().any(|&c| c != 2), "{who} {keys}: {units:?}");
            }
        }
    }
    // norandommap: with replacement (256 draws of 256 blocks repeat some).
    run_in(&d, &format!("{common}[a]\nrw=randread\nnorandommap\n"));
    let mut got = offsets(&d);
    got.sort_unstable();
    got.dedup();
    assert!(got.len() < 256, "{} distinct blocks", got.len());
    // lfsr: each block once even with norandommap; and over two loops, twice.
    run_in(
        &d,
        &format!("{common}[a]\nrw=randread\nnorandommap\nrandom_generator=lfsr\nloops=2\n"),
    );
    let got = offsets(&d);
    let mut counts = std::collections::HashMap::new();
    for o in &got {
        *counts.entry(*o).or_insert(0) += 1;
    }
    assert_eq!(got.len(), 512);
    assert!(counts.len() == 256 && counts.values().all(|&c| c == 2));
    // zipf: most of the I/O on a few blocks.
    run_in(
        &d,
        &format!("{common}[a]\nrw=randread\nio_size=4m\nrandom_distribution=zipf:1.2\n"),
    );
    let got = offsets(&d);
    let mut counts: Vec<u32> = {
        let mut m = std::collections::HashMap::new();
        for o in &got {
            *m.entry(*o).or_insert(0u32) += 1;
        }
        m.into_values().collect()
    };
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: u32 = counts.iter().take(26).sum();
    assert!(
        f64::from(top) > 0.5 * got.len() as f64,
        "{top} of {} I/Os on the hottest tenth of the blocks",
        got.len()
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_file_without_jobs_or_with_stray_keys_fails_as_in_fio() {
    let d = dir("nojobs");
    let only_global = d.join("g.fio");
    std::fs::write(&only_global, "[global]\nsize=1m\n").unwrap();
    let stray = d.join("s.fio");
    std::fs::write(&stray, "rw=read\n[a]\nsize=1m\n").unwrap();
    for (f, says) in [
        (&only_global, "no job(s) defined"),
        (&stray, "outside of any section"),
    ] {
        let out = bffio(&[f.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(says),
            "{}: {err}",
            f.display()
        );
        // fio refuses both too (before any I/O: "No job(s) defined", "option outside of []
        // job section").
        let child = Command::new("fio")
            .arg(f)
            .current_dir(&d)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let fio = bounded(child, 60, "fio on a file without jobs");
        assert!(!fio.status.success(), "fio accepted {}", f.display());
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn write_buffers_hold_what_fio_puts_there() {
    let d = dir("buffers");
    let f = d.join("data");
    let write = |extra: &[&str]| {
        let _ = std::fs::remove_file(&f);
        let base = [
            "--name=w".to_string(),
            arg("filename", &f),
            "--rw=write".into(),
            "--bs=4k".into(),
            "--size=64k".into(),
        ];
        let mut a: Vec<&str> = base.iter().map(String::as_str).collect();
        a.extend_from_slice(extra);
        json(&a);
        std::fs::read(&f).unwrap()
    };
    let data = write(&["--buffer_pattern=0xdeadbeef\"ab\""]);
    let pattern = [0xde, 0xad, 0xbe, 0xef, b'a', b'b'];
    // Each buffer holds the pattern from its start, as fio fills them.
    assert!(data
        .chunks(4096)
        .all(|blk| blk.iter().zip(pattern.iter().cycle()).all(|(a, b)| a == b)));
    assert!(write(&["--zero_buffers"]).iter().all(|&b| b == 0));
    // fio's default: random bytes, scrambled per write, so no two blocks are alike.
    let data = write(&[]);
    let blocks: std::collections::HashSet<&[u8]> = data.chunks(4096).collect();
    assert_eq!(blocks.len(), 16, "16 distinct blocks");
    assert!(data.iter().filter(|&&b| b == 0).count() < data.len() / 64);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn exitall_ends_the_group_and_cpus_allowed_pins() {
    let d = dir("exitall");
    // `long` would run 30 s; `short` ends after 256 reads and, with exitall, ends `long` too.
    let v = run_in(
        &d,
        &format!(
            "[global]\nfilename={}\nsize=1m\nbs=4k\nrw=randread\n\
             [long]\ntime_based\nruntime=30\n[short]\nexitall\n",
            d.join("data").display()
        ),
    );
    let long = &v["jobs"][0];
    assert_eq!(long["jobname"], "long");
    assert!(
        long["job_runtime"].as_u64().unwrap() < 20_000,
        "long ended with short: {} ms",
        long["job_runtime"]
    );
    assert_eq!(v["jobs"][1]["read"]["total_ios"], 256);
    // cpus_allowed: a CPU this process may run on (shared and split), and a CPU the machine
    // lacks is the job's error.
    // SAFETY: cpu_set_t is plain data (zeroed: the empty set); sched_getaffinity writes at
    // most its size into it, for this process (0).
    let cpu = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set),
            0
        );
        (0..libc::CPU_SETSIZE as usize)
            .find(|&c| libc::CPU_ISSET(c, &set))
            .unwrap()
    };
    let job = |cpus: &str| {
        format!(
            "[a]\nfilename={}\nsize=256k\nbs=4k\nrw=read\nnumjobs=2\n{cpus}\n",
            d.join("data").display()
        )
    };
    for cpus in [
        format!("cpus_allowed={cpu}"),
        format!("cpus_allowed={cpu}\ncpus_allowed_policy=split"),
    ] {
        let v = run_in(&d, &job(&cpus));
        assert_eq!(v["jobs"][0]["read"]["io_bytes"], 256 << 10, "{cpus}");
    }
    std::fs::write(d.join("j.fio"), job("cpus_allowed=1000")).unwrap();
    let out = bffio(&[d.join("j.fio").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("cpus_allowed=[1000]"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn trims_punch_holes_in_files() {
    use std::os::unix::fs::MetadataExt;
    let d = dir("trim");
    let f = d.join("data");
    let job = |rw: &str| {
        let a = [
            "--name=t".to_string(),
            arg("filename", &f),
            format!("--rw={rw}"),
            "--bs=4k".into(),
            "--size=1m".into(),
            "--iodepth=8".into(),
        ];
        json(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    // The file is laid out (1 MiB of data), then every block trimmed once: its size stays,
    // its blocks are freed.
    for rw in ["trim", "randtrim"] {
        let _ = std::fs::remove_file(&f);
        let v = job(rw);
        let t = &v["jobs"][0]["trim"];
        assert_eq!(
            (t["io_bytes"].as_u64(), t["total_ios"].as_u64()),
            (Some(1 << 20), Some(256)),
            "{rw}"
        );
        let m = std::fs::metadata(&f).unwrap();
        assert_eq!(m.len(), 1 << 20, "{rw}: the size is kept");
        assert_eq!(m.blocks(), 0, "{rw}: every block freed");
    }
    // trimwrite: each block trimmed, then (once the trim is done) written: fio's 1 MiB
    // trimmed and 1 MiB written, and no block left a hole; also under a rate, whose wait
    // must not drop the last block's write.
    for rw in ["trimwrite", "randtrimwrite", "trimwrite --rate_iops=4000"] {
        let _ = std::fs::remove_file(&f);
        let mut parts = rw.split(' ');
        let a = [
            "--name=t".to_string(),
            arg("filename", &f),
            format!("--rw={}", parts.next().unwrap()),
            "--bs=4k".into(),
            "--size=1m".into(),
            "--iodepth=8".into(),
        ];
        let mut a: Vec<&str> = a.iter().map(String::as_str).collect();
        a.extend(parts);
        let v = json(&a);
        let j = &v["jobs"][0];
        assert_eq!(j["trim"]["io_bytes"], 1 << 20, "{rw}");
        assert_eq!(j["write"]["io_bytes"], 1 << 20, "{rw}");
        let data = std::fs::read(&f).unwrap();
        let holes = data
            .chunks(4096)
            .filter(|b| b.iter().all(|&x| x == 0))
            .count();
        assert_eq!(holes, 0, "{rw}: every block written back");
    }
    let out = bffio(&[
        "--name=x",
        &arg("filename", &f),
        "--rw=trim",
        "--verify=crc32c",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("`verify` with trims"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn rust_log_shows_the_tuners_decisions() {
    let d = dir("rustlog");
    let run = |log: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bffio"));
        cmd.args([
            "--name=l",
            &arg("filename", &d.join("f")),
            "--rw=randread",
            "--bs=4k",
            "--size=4m",
            "--io_size=64m",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        match log {
            Some(l) => cmd.env("RUST_LOG", l),
            None => cmd.env_remove("RUST_LOG"),
        };
        let out = bounded(cmd.spawn().unwrap(), 120, "RUST_LOG");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let debug = run(Some("debug"));
    assert!(
        debug.contains("DEBUG auraio::engine::control: ring 0: BASELINE limit"),
        "the search's first step is logged: {debug}"
    );
    let quiet = run(None);
    assert!(!quiet.contains("DEBUG"), "without RUST_LOG: {quiet}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn io_uring_options_map_to_the_engine() {
    let d = dir("uring");
    let f = d.join("data");
    let base = [
        "--name=u".to_string(),
        arg("filename", &f),
        "--bs=4k".into(),
        "--size=1m".into(),
        "--iodepth=8".into(),
        "--ioengine=io_uring".into(),
    ];
    let with = |extra: &[&str]| {
        let mut a: Vec<&str> = base.iter().map(String::as_str).collect();
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    // Registered buffers and files, SQPOLL, IOSQE_ASYNC: the same I/O, the data written.
    for extra in [
        &["--fixedbufs", "--registerfiles"][..],
        &["--sqthread_poll"],
        &["--force_async=1", "--fixedbufs"],
    ] {
        let _ = std::fs::remove_file(&f);
        let a = with(&[&["--rw=write", "--buffer_pattern=0xab"], extra].concat());
        let v = json(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(v["jobs"][0]["write"]["io_bytes"], 1 << 20, "{extra:?}");
        let data = std::fs::read(&f).unwrap();
        assert!(
            data.iter().all(|&b| b == 0xab),
            "{extra:?}: the buffers' bytes written"
        );
        let a = with(&[&["--rw=randread"], extra].concat());
        let v = json(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(v["jobs"][0]["read"]["io_bytes"], 1 << 20, "{extra:?}");
    }
    for (bad, says) in [
        ("--hipri", "IORING_SETUP_IOPOLL"),
        ("--force_async=4", "only 0 or 1"),
        ("--nowait", "RWF_NOWAIT"),
    ] {
        let a = with(&["--rw=read", bad]);
        let out = bffio(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{bad}: {err}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn json_plus_bins_read_by_fios_converter() {
    let d = dir("jsonplus");
    let out = bffio(&[
        "--name=p",
        &arg("filename", &d.join("f")),
        "--rw=randrw",
        "--bs=4k",
        "--size=4m",
        "--output-format=json+",
    ]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for dir in ["read", "write"] {
        let d = &v["jobs"][0][dir];
        let bins = d["clat_ns"]["bins"].as_object().expect("json+ bins");
        let n: u64 = bins.values().map(|c| c.as_u64().unwrap()).sum();
        assert_eq!(
            Some(n),
            d["total_ios"].as_u64(),
            "{dir}: every I/O in a bin"
        );
    }
    // fio's json+ converter makes its CSV of them, and checks it against them.
    std::fs::write(d.join("plus.json"), &out.stdout).unwrap();
    for extra in [&[][..], &["--validate"]] {
        let child = Command::new("fio_jsonplus_clat2csv")
            .args(extra)
            .args(["plus.json", "out.csv"])
            .current_dir(&d)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let r = bounded(child, 60, "fio_jsonplus_clat2csv");
        assert!(
            r.status.success() && String::from_utf8_lossy(&r.stdout).contains("out_job0.csv"),
            "{extra:?}: {}{}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn rate_min_and_the_poisson_process() {
    let d = dir("ratemin");
    let f = arg("filename", &d.join("f"));
    // 20 IOPS of 4 KiB is 80 KB/s: a 1 MB/s minimum fails the first 200 ms cycle.
    let out = bffio(&[
        "--name=m",
        &f,
        "--rw=randread",
        "--bs=4k",
        "--size=1m",
        "--rate_iops=20",
        "--rate_min=1m",
        "--rate_cycle=200",
        "--time_based",
        "--runtime=30",
        "--output-format=json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("min rate 1048576 B/s not met"), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["jobs"][0]["error"], libc::EIO, "{v}");
    let e = bffio(&[
        "--name=x",
        &f,
        "--size=1m",
        "--rate_iops=10",
        "--rate_iops_min=20",
    ]);
    assert!(String::from_utf8_lossy(&e.stderr).contains("minimum rate exceeds the rate"));
    // Poisson arrivals: at most the rate (a ceiling; a loaded machine only does fewer), at
    // gaps that vary (an even process would space them alike).
    let v = json(&[
        "--name=p",
        &f,
        "--rw=randread",
        "--bs=4k",
        "--size=1m",
        "--rate_iops=200",
        "--rate_process=poisson",
        "--time_based",
        "--runtime=1",
        &format!("--write_iops_log={}", d.join("p").display()),
    ]);
    let ios = v["jobs"][0]["read"]["total_ios"].as_u64().unwrap();
    assert!((1..=280).contains(&ios), "200 IOPS for 1 s gave {ios}");
    let times: Vec<u64> = log_lines(&d.join("p_iops.1.log"))
        .iter()
        .map(|l| l[0].parse().unwrap())
        .collect();
    let mut gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).take(50).collect();
    gaps.sort_unstable();
    gaps.dedup();
    assert!(gaps.len() >= 5, "gaps (ms) {gaps:?}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn iologs_written_and_replayed_both_ways_with_fio() {
    let d = dir("iolog");
    let data = d.join("data");
    let fio = |args: &[&str]| fio_json(&d, args);
    let counts = |v: &Value| {
        let j = &v["jobs"][0];
        (
            j["read"]["total_ios"].as_u64().unwrap(),
            j["write"]["total_ios"].as_u64().unwrap(),
        )
    };
    let log_counts = |p: &Path| {
        let t = std::fs::read_to_string(p).unwrap();
        let n = |a: &str| t.lines().filter(|l| l.split(' ').nth(2) == Some(a)).count() as u64;
        (n("read"), n("write"))
    };
    let file = arg("filename", &data);
    let common = ["--bs=4k", "--size=64k", "--rw=randrw"];
    // bffio writes the log (fio's version 3), fio replays it: the same I/O.
    let mine = d.join("bffio.log");
    let v = json(
        &[
            &["--name=w", &file, &arg("write_iolog", &mine)],
            &common[..],
        ]
        .concat(),
    );
    let text = std::fs::read_to_string(&mine).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "fio version 3 iolog");
    assert!(lines[1].ends_with(" add") && lines[2].ends_with(" open"));
    assert!(lines.last().unwrap().ends_with(" close"));
    assert_eq!(log_counts(&mine), counts(&v), "a line per I/O");
    let replayed = fio(&["--name=r", &arg("read_iolog", &mine), "--ioengine=io_uring"]);
    assert_eq!(counts(&replayed), counts(&v), "fio replays bffio's log");
    // fio writes one, bffio replays it: the same I/O, not before the log's times.
    let theirs = d.join("fio.log");
    fio(&[
        &[
            "--name=w",
            &file,
            &arg("write_iolog", &theirs),
            "--ioengine=io_uring",
        ],
        &common[..],
    ]
    .concat());
    let v = json(&["--name=r", &arg("read_iolog", &theirs)]);
    assert_eq!(counts(&v), log_counts(&theirs), "bffio replays fio's log");
    let last_ms: u64 = std::fs::read_to_string(&theirs)
        .unwrap()
        .lines()
        .filter(|l| l.contains(" read ") || l.contains(" write "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .max()
        .unwrap();
    assert!(
        v["jobs"][0]["job_runtime"].as_u64().unwrap() + 1 >= last_ms,
        "the last I/O waits for its time ({last_ms} ms): {}",
        v["jobs"][0]["job_runtime"]
    );
    let v = json(&["--name=r", &arg("read_iolog", &theirs), "--replay_no_stall"]);
    assert_eq!(counts(&v), log_counts(&theirs));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn verify_patterns_intervals_and_fatal() {
    use std::os::unix::fs::FileExt;
    let d = dir("verify");
    let f = d.join("data");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "--name=v".to_string(),
            arg("filename", &f),
            "--bs=4k".into(),
            "--size=64k".into(),
            "--output-format=json".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        let out = bffio(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.success(), v)
    };
    let errors = |v: &Value| -> Vec<String> {
        v["jobs"][0]["auraio"]["verify_errors"]
            .as_array()
            .map(|a| a.iter().map(|e| e.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let corrupt = |at: u64| {
        let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
        file.write_all_at(&[0x00], at).unwrap();
    };
    // verify=pattern: written, read back, the pattern checked.
    let (ok, v) = run(&["--rw=write", "--verify=pattern", "--verify_pattern=0x5a"]);
    assert!(ok && errors(&v).is_empty(), "{v}");
    assert_eq!(
        v["jobs"][0]["read"]["io_bytes"],
        64 << 10,
        "the read-back is counted"
    );
    assert!(std::fs::read(&f).unwrap().iter().all(|&b| b == 0x5a));
    corrupt(5000);
    let (ok, v) = run(&["--rw=read", "--verify=pattern", "--verify_pattern=0x5a"]);
    assert!(
        !ok && errors(&v) == ["offset 5000: byte 0x00, the pattern's is 0x5a"],
        "{v}"
    );
    // verify_interval=512: a chunk's own header names where it went wrong.
    let (ok, _) = run(&["--rw=write", "--verify=crc32c", "--verify_interval=512"]);
    assert!(ok);
    corrupt(8192 + 2 * 512 + 100);
    corrupt(16384 + 100);
    // As fio 3.33: the first bad block ends the job with EILSEQ (84), verify_fatal or not.
    let (ok, v) = run(&[
        "--rw=read",
        "--verify=crc32c",
        "--verify_interval=512",
        "--iodepth=1",
    ]);
    let e = errors(&v);
    assert!(!ok && e.len() == 1, "the first ends it: {e:?}");
    assert!(
        e[0].starts_with(&format!("offset {}", 8192 + 1024)),
        "{e:?}"
    );
    let j = &v["jobs"][0];
    assert_eq!(
        (j["error"].as_i64(), j["read"]["io_bytes"].as_u64()),
        (Some(84), Some(12288))
    );
    assert!(
        j.get("first_error").is_none(),
        "only with continue_on_error, as fio"
    );
    // continue_on_error=verify: every block checked, each failure counted, the job's error
    // still 84 (fio's error, first_error and total_err).
    let (ok, v) = run(&[
        "--rw=read",
        "--verify=crc32c",
        "--verify_interval=512",
        "--continue_on_error=verify",
    ]);
    let j = &v["jobs"][0];
    assert!(!ok && errors(&v).len() == 2, "{v}");
    assert_eq!(
        (
            j["error"].as_i64(),
            j["first_error"].as_i64(),
            j["total_err"].as_i64()
        ),
        (Some(84), Some(84), Some(2))
    );
    assert_eq!(j["read"]["io_bytes"], 64 << 10);
    let (_, v) = run(&[
        "--rw=read",
        "--verify=crc32c",
        "--verify_interval=512",
        "--verify_fatal=1",
        "--iodepth=1",
    ]);
    assert_eq!(errors(&v).len(), 1, "verify_fatal: the first ends it");
    // do_verify=0: no read-back.
    let (ok, v) = run(&["--rw=write", "--verify=crc32c", "--do_verify=0"]);
    assert!(ok && v["jobs"][0]["read"]["io_bytes"] == 0, "{v}");
    let (ok, _) = run(&["--rw=write", "--verify=pattern"]);
    assert!(!ok, "verify=pattern needs a verify_pattern");
    let _ = std::fs::remove_dir_all(&d);
}

/// Each direction has its own block size and alignment, as fio: `bs=4k,64k` puts 64k writes
/// at 64k offsets (and 4k reads at 4k ones); `bs=R,W,T` gives trims theirs.
#[test]
fn block_sizes_and_alignment_per_direction() {
    let d = dir("perdir");
    let log = d.join("io.log");
    json(&[
        "--name=m",
        &arg("filename", &d.join("f")),
        "--size=1m",
        "--rw=randrw",
        "--bs=4k,64k",
        &arg("write_iolog", &log),
    ]);
    let text = std::fs::read_to_string(&log).unwrap();
    let ios: Vec<(&str, u64, u64)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            match f.as_slice() {
                [_, _, dir @ ("read" | "write"), off, len] => {
                    Some((*dir, off.parse().unwrap(), len.parse().unwrap()))
                }
                _ => None,
            }
        })
        .collect();
    let (reads, writes): (Vec<&(&str, u64, u64)>, Vec<_>) =
        ios.iter().partition(|io| io.0 == "read");
    assert!(!reads.is_empty() && !writes.is_empty());
    assert!(
        writes.iter().all(|w| w.2 == 65536 && w.1 % 65536 == 0),
        "{writes:?}"
    );
    assert!(reads.iter().all(|r| r.2 == 4096 && r.1 % 4096 == 0));
    assert!(
        reads.iter().any(|r| r.1 % 65536 != 0),
        "reads keep their own 4k alignment"
    );
    // Trims' own size: 16 trims of 64k cover the 1 MiB region.
    let v = json(&[
        "--name=t",
        &arg("filename", &d.join("g")),
        "--size=1m",
        "--rw=randtrim",
        "--bs=4k,4k,64k",
    ]);
    let trim = &v["jobs"][0]["trim"];
    assert_eq!(trim["io_bytes"], 1 << 20, "{trim}");
    assert_eq!(trim["total_ios"], 16, "{trim}");
    let _ = std::fs::remove_dir_all(&d);
}

/// --status-interval: a full report of the values so far at each interval (cumulative, as
/// fio's), then the final one; with JSON, documents one after another, as fio writes them.
#[test]
fn status_interval_writes_reports_so_far() {
    let d = dir("status");
    let out = d.join("report.json");
    let o = bffio(&[
        "--name=s",
        &arg("filename", &d.join("f")),
        "--size=1m",
        "--rw=randread",
        "--time_based",
        "--runtime=2",
        "--status-interval=1",
        "--output-format=json",
        &arg("output", &out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let docs: Vec<Value> = serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        docs.len() >= 2,
        "a report at 1 s and the final one: {}",
        docs.len()
    );
    let ios: Vec<u64> = docs
        .iter()
        .map(|v| v["jobs"][0]["read"]["total_ios"].as_u64().unwrap())
        .collect();
    assert!(ios.windows(2).all(|w| w[0] <= w[1]), "cumulative: {ios:?}");
    let last = &docs[docs.len() - 1]["jobs"][0];
    assert!(last["job_runtime"].as_u64().unwrap() >= 2000, "{last}");
    assert!(docs[0]["jobs"][0]["job_runtime"].as_u64().unwrap() < 2000);
    let _ = std::fs::remove_dir_all(&d);
}

/// Per-direction rates where a direction the pattern does not issue, or a slower direction,
/// must not decide: a minimum given once checks only the directions issued; a trimwrite whose
/// writes have the smaller budget still writes every trimmed block; Poisson arrivals of a rated
/// direction do not hold back an unrated one.
#[test]
fn per_direction_rates_hold_only_their_direction() {
    let d = dir("ratedir");
    let f = arg("filename", &d.join("f"));
    // rate_iops_min=1 (all three directions, by fio's comma rule) on reads alone: met.
    let v = json(&[
        "--name=m",
        &f,
        "--rw=randread",
        "--size=1m",
        "--rate_iops_min=1",
        "--rate_cycle=200",
        "--time_based",
        "--runtime=1",
    ]);
    assert_eq!(v["jobs"][0]["error"], 0, "{v}");
    // trimwrite: trims at 4000 IOPS, writes at 400: every block trimmed and written.
    let v = json(&[
        "--name=t",
        &f,
        "--rw=trimwrite",
        "--size=256k",
        "--rate_iops=,400,4000",
    ]);
    let job = &v["jobs"][0];
    assert_eq!(job["trim"]["io_bytes"], 256 << 10, "{job}");
    assert_eq!(job["write"]["io_bytes"], 256 << 10, "{job}");
    // Poisson, writes rated at 50 IOPS, reads not: the reads are not spaced by the writes.
    let v = json(&[
        "--name=p",
        &f,
        "--rw=randrw",
        "--size=1m",
        "--rate_process=poisson",
        "--rate_iops=,50",
        "--time_based",
        "--runtime=1",
    ]);
    let n = |dir: &str| v["jobs"][0][dir]["total_ios"].as_u64().unwrap();
    assert!(
        n("write") <= 100,
        "50 write IOPS (Poisson) for 1 s gave {}",
        n("write")
    );
    assert!(
        n("read") > 100,
        "unrated reads held to the writes' arrivals: {}",
        n("read")
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// `--bandwidth-log`: fio's three aggregate logs in the working directory, in fio's line format
/// (`msec, KiB/s, direction, 0, 0`), a line per direction every half second, summed over the
/// jobs; fio 3.33 writes the same names and fields (with `--eta=always`).
#[test]
fn bandwidth_log_writes_fios_aggregate_logs() {
    let d = dir("agglog");
    let f = d.join("data");
    let out = bffio_in(
        &d,
        &[
            "--bandwidth-log",
            "--name=a",
            &arg("filename", &f),
            "--size=4m",
            "--rw=randrw",
            "--numjobs=2",
            "--ramp_time=1",
            "--runtime=2",
            "--time_based",
            "--output-format=json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (dir, (name, key)) in [
        ("agg-read_bw.log", "read"),
        ("agg-write_bw.log", "write"),
        ("agg-trim_bw.log", "trim"),
    ]
    .iter()
    .enumerate()
    {
        let lines = log_lines(&d.join(name));
        assert!(lines.len() >= 2, "{name}: {lines:?}");
        let mut last_ms = 0;
        let mut logged = 0.0;
        for l in &lines {
            assert_eq!(l.len(), 5, "{name}: {l:?}");
            let ms: u64 = l[0].parse().unwrap();
            assert!(ms > last_ms, "{name}: times increase: {lines:?}");
            // KiB/s over the interval since the previous line: the bytes it stands for.
            logged += l[1].parse::<f64>().unwrap() * 1024.0 * (ms - last_ms) as f64 / 1e3;
            last_ms = ms;
            assert_eq!(l[2], dir.to_string(), "{name}");
            assert_eq!(&l[3..], ["0", "0"], "{name}");
            // The ramp moves nothing in the logs, as in fio's (its lines there are zeros).
            if ms < 1000 {
                assert_eq!(l[1], "0", "{name}: during the ramp: {lines:?}");
            }
        }
        let moved: f64 = v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j[key]["io_bytes"].as_f64().unwrap())
            .sum();
        if dir == 2 {
            assert_eq!(logged, 0.0, "a random mix of reads and writes: no trims");
        } else {
            // The logs stand for what the jobs moved: all of it but the last lines' share
            // (a line covers at least half a second; the run's tail under that is left out).
            assert!(
                logged <= moved * 1.05 && logged >= moved * 0.6,
                "{name}: the lines stand for {logged:.0} bytes, the jobs moved {moved}: {lines:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// `verify_dump`: a block that fails its check is written as read and as expected, in fio's
/// names (`FILE.OFFSET.received`, `FILE.OFFSET.expected`) in the working directory.
#[test]
fn verify_dump_writes_the_received_and_expected_blocks() {
    let d = dir("dump");
    std::fs::write(d.join("data"), vec![0u8; 65536]).unwrap();
    let out = bffio_in(
        &d,
        &[
            "--name=v",
            "--filename=data",
            "--rw=read",
            "--bs=4k",
            "--size=64k",
            "--iodepth=1",
            "--verify=pattern",
            "--verify_pattern=0xdeadbeef",
            "--verify_dump=1",
            "--verify_fatal=1",
            "--output-format=json",
        ],
    );
    assert!(!out.status.success(), "a mismatch fails the job");
    let received = std::fs::read(d.join("data.0.received")).unwrap();
    let expected = std::fs::read(d.join("data.0.expected")).unwrap();
    assert_eq!(received, vec![0u8; 4096]);
    let want: Vec<u8> = [0xde, 0xad, 0xbe, 0xef].repeat(1024);
    assert_eq!(expected, want);
    let _ = std::fs::remove_dir_all(&d);
}

/// The read-back checks what the writes completed, as fio's: a random write job bounded by
/// `io_size` to a quarter of its region reads back that quarter (before, the whole region).
/// `verify_state_save` records those blocks (in `--aux-path`), and a later `verify_only` run
/// with `verify_state_load` checks exactly them, finds a block corrupted in between, and
/// dumps it into `--aux-path`; `verify_only` on a file that is not there is an error.
#[test]
fn verify_state_save_load_and_verify_only() {
    use std::os::unix::fs::FileExt;
    let d = dir("vstate");
    let aux = d.join("aux");
    std::fs::create_dir_all(&aux).unwrap();
    let f = d.join("data");
    let base = [
        "--name=s".to_string(),
        arg("filename", &f),
        "--rw=randwrite".into(),
        "--bs=4k".into(),
        "--size=8m".into(),
        "--verify=md5".into(),
        arg("aux-path", &aux),
        "--output-format=json".into(),
    ];
    let run = |extra: &[&str]| {
        let a: Vec<&str> = base
            .iter()
            .map(String::as_str)
            .chain(extra.iter().copied())
            .collect();
        let out = bffio_in(&d, &a);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out, v)
    };
    let bytes = |v: &Value, dir: &str| v["jobs"][0][dir]["io_bytes"].as_u64();

    let (out, v) = run(&["--io_size=2m"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        (bytes(&v, "write"), bytes(&v, "read")),
        (Some(2 << 20), Some(2 << 20))
    );
    let state = aux.join("bffio-s-0-verify.state");
    let text = std::fs::read_to_string(&state).unwrap();
    let written: Vec<u64> = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("file {} ", f.display())))
        .unwrap()
        .split(',')
        .flat_map(|r| {
            let (a, b) = r.split_once('-').unwrap_or((r, r));
            a.parse::<u64>().unwrap()..=b.parse::<u64>().unwrap()
        })
        .collect();
    assert_eq!(written.len(), 512, "{text}");
    assert!(
        !d.join("bffio-s-0-verify.state").exists(),
        "the state goes to --aux-path"
    );

    // verify_only with the saved state: exactly the written blocks, no writes.
    let (out, v) = run(&["--verify_only", "--verify_state_load=1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        (bytes(&v, "write"), bytes(&v, "read")),
        (Some(0), Some(2 << 20))
    );
    // Without it, every block of the region.
    let (out, v) = run(&["--verify_only"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(bytes(&v, "read"), Some(8 << 20));

    // A written block corrupted between the runs: found, named, dumped into --aux-path.
    let victim = written[written.len() / 2] * 4096;
    let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
    file.write_all_at(b"XX", victim + 2000).unwrap();
    let (out, v) = run(&["--verify_only", "--verify_state_load=1", "--verify_dump=1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{v}");
    assert!(
        err.contains(&format!("offset {victim}: md5 mismatch")),
        "{err}"
    );
    assert!(
        aux.join(format!("data.{victim}.received")).exists(),
        "{err}"
    );
    assert!(
        aux.join(format!("data.{victim}.expected")).exists(),
        "{err}"
    );

    // A state saved for other files is refused; verify_only has to find the file.
    let other = d.join("data2");
    std::fs::write(&other, vec![0u8; 8 << 20]).unwrap();
    let (out, _) = run(&[
        "--verify_only",
        "--verify_state_load=1",
        &arg("filename", &other),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("verify_state_load")
            && err.contains("saved for file"),
        "{err}"
    );
    std::fs::remove_file(&f).unwrap();
    let (out, _) = run(&["--verify_only"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("verify_only, but the file holds 0 bytes"),
        "{err}"
    );
    // A job that only reads saves no state, as fio.
    for (name, rw) in [("--name=w", "--rw=write"), ("--name=r", "--rw=randread")] {
        let out = bffio_in(
            &d,
            &[
                name,
                &arg("filename", &f),
                rw,
                "--bs=4k",
                "--size=1m",
                "--verify=md5",
                &arg("aux-path", &aux),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(aux.join("bffio-w-0-verify.state").exists());
    assert!(!aux.join("bffio-r-0-verify.state").exists());
    let _ = std::fs::remove_dir_all(&d);
}

/// fio's JSON from `args`, run in `d`.
fn fio_json(d: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--output-format=json");
    let out = run("fio", &a, Some(d), 60);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "fio {args:?}: {err}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    serde_json::from_str(&text[text.find('{').expect("fio's JSON")..]).unwrap()
}

/// iodepth_batch_complete_min/max: how many completions each reap waits for and hands on,
/// seen in the `iodepth_complete` distribution (fio's buckets: "4" is 1-4, "8" 5-8), beside
/// fio's on the same job.
#[test]
fn completion_batches_as_fio_retrieves_them() {
    let d = dir("reap");
    let f = d.join("f");
    let base = [
        arg("filename", &f),
        "--rw=randread".into(),
        "--bs=4k".into(),
        "--size=8m".into(),
        "--iodepth=32".into(),
        "--ioengine=io_uring".into(),
    ];
    let base: Vec<&str> = base.iter().map(String::as_str).collect();
    for (keys, bucket) in [
        (&["--iodepth_batch_complete_min=8"][..], "8"),
        (&["--iodepth_batch_complete_max=4"][..], "4"),
        (
            &[
                "--iodepth_batch_complete=8",
                "--iodepth_batch_complete_max=8",
            ][..],
            "8",
        ),
    ] {
        let args = [&["--name=r"], keys, &base[..]].concat();
        let theirs = fio_json(&d, &args);
        let ours = json(&[&args[..], &["--aimd=off"]].concat());
        for (who, v) in [("fio", &theirs), ("bffio", &ours)] {
            let j = &v["jobs"][0];
            assert_eq!(j["read"]["io_bytes"], 8 << 20, "{who} {keys:?}");
            let share = j["iodepth_complete"][bucket].as_f64().unwrap();
            // The last reaps of the job find fewer in flight (a few of 256 or more).
            assert!(share > 97.0, "{who} {keys:?}: {} ", j["iodepth_complete"]);
        }
    }
    // 0: never wait, poll (up to the whole depth each time); the job still does all its I/O.
    let v = json(
        &[
            &[
                "--name=p",
                "--aimd=off",
                "--iodepth_batch_complete_min=0",
                "--iodepth_batch_complete_max=32",
            ],
            &base[..],
        ]
        .concat(),
    );
    assert_eq!(v["jobs"][0]["read"]["io_bytes"], 8 << 20, "{v}");
    let _ = std::fs::remove_dir_all(&d);
}
