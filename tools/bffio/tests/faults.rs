//! bffio on the fault filesystem: an I/O error stops the job as fio stops it and says where;
//! `continue_on_error` counts and passes over; short reads are counted; the other jobs are
//! still reported.

use std::process::{Command, Output};

use auraio_faultfs::{Fault, FaultFs, FileSpec, Mount, Rule};
use serde_json::Value;

/// Runs bffio to its end, at most 120 s: past that the run is killed and the test fails.
fn bffio(args: &[String]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_bffio"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run bffio");
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(120)) {
        Ok(out) => out.expect("bffio's output"),
        Err(_) => {
            // SAFETY: kill(2) has no memory preconditions. The pid is the child this function
            // started, which its waiter has not reported as exited; had it been reaped in the
            // instant since, the signal could reach only a process that took the pid since.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            auraio_faultfs::abort_all();
            panic!("bffio {args:?} still running after 120 s");
        }
    }
}

fn job(m: &Mount, name: &str, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        format!("--name={name}"),
        format!("--filename={}", m.path("f").display()),
        "--rw=read".into(),
        "--bs=4k".into(),
        "--size=2m".into(),
        "--iodepth=4".into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

const MIB: u64 = 1 << 20;

#[test]
fn an_io_error_stops_the_job_and_names_the_offset_and_errno() {
    let m = FaultFs::new()
        .file(
            FileSpec::patterned("f", 2 * MIB)
                .rule(Rule::read(MIB..MIB + 4096, Fault::Errno(libc::EIO))),
        )
        .mount()
        .unwrap();
    let out = bffio(&job(&m, "e", &[]));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("Input/output error: read offset=1048576, buflen=4096"),
        "{stderr}"
    );
    assert!(
        stdout.contains("err= 5 (func=io_u error, error=Input/output error)"),
        "{stdout}"
    );
    let mut a = job(&m, "e", &[]);
    a.push("--output-format=json".into());
    let out = bffio(&a);
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON even on error");
    assert_eq!(v["jobs"][0]["error"], 5, "{v}");
}

#[test]
fn the_other_jobs_are_still_reported() {
    let m = FaultFs::new()
        .file(FileSpec::patterned("f", 2 * MIB).rule(Rule::read(0..4096, Fault::Errno(libc::EIO))))
        .file(FileSpec::patterned("g", 2 * MIB))
        .mount()
        .unwrap();
    let mut a = job(&m, "bad", &[]);
    a.extend([
        "--name=good".to_string(),
        format!("--filename={}", m.path("g").display()),
        "--rw=read".into(),
        "--bs=4k".into(),
        "--size=2m".into(),
        "--output-format=json".into(),
    ]);
    let out = bffio(&a);
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let jobs = v["jobs"].as_array().unwrap();
    let by = |n: &str| {
        jobs.iter()
            .find(|j| j["jobname"] == n)
            .unwrap_or_else(|| panic!("{n} in {v}"))
    };
    assert_eq!(by("bad")["error"], 5);
    assert_eq!(by("good")["error"], 0);
    assert_eq!(by("good")["read"]["io_bytes"], 2 * MIB, "{v}");
}

#[test]
fn continue_on_error_counts_and_goes_on_and_short_reads_are_counted() {
    let m = FaultFs::new()
        .file(
            FileSpec::patterned("f", 2 * MIB)
                .rule(Rule::read(MIB..MIB + 8192, Fault::Errno(libc::EIO)))
                .rule(Rule::read(4096..8192, Fault::Short(1000))),
        )
        .mount()
        .unwrap();
    let out = bffio(&job(
        &m,
        "c",
        &["--continue_on_error=read", "--output-format=json"],
    ));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(out.status.success(), "{v}\n{}", text(&out.stderr));
    let j = &v["jobs"][0];
    assert_eq!(j["error"], 0, "{j}");
    assert_eq!(j["total_err"], 2, "{j}");
    assert_eq!(j["read"]["short_ios"], 1, "{j}");
    let ios = j["read"]["total_ios"].as_u64().unwrap() + j["total_err"].as_u64().unwrap();
    assert_eq!(
        ios, 512,
        "every block issued once, the failed ones counted apart: {j}"
    );
}

/// A device that holds requests past the job's end: the report comes out within the runtime
/// plus the drain bounds (the loop's and the engine's, 3 s each), names what was left behind
/// and exits non-zero. The process itself ends only once the device answers: the kernel's
/// thread exit waits for the thread's io_uring requests, and a FUSE request the server has
/// taken cannot be interrupted.
#[test]
fn a_stalled_device_does_not_hold_the_report() {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let m = FaultFs::new()
        .file(FileSpec::patterned("f", 2 * MIB).rule(Rule::read(MIB..MIB + 4096, Fault::Stall)))
        .mount()
        .unwrap();
    let mut a = job(
        &m,
        "s",
        &["--time_based", "--runtime=1", "--output-format=json"],
    );
    a.push("--aimd=off".into());
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bffio"))
        .args(&a)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bffio");
    let (tx, rx) = std::sync::mpsc::channel();
    let mut stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
            if let Ok(v) = serde_json::from_slice::<Value>(&got) {
                let _ = tx.send(v);
                return;
            }
        }
    });
    // Runtime 1 s, two drain bounds of 3 s, and room for a slow machine.
    let bound = Duration::from_secs(1 + 2 * 3 + 8);
    let report = rx.recv_timeout(bound);
    let elapsed = start.elapsed();
    let stalled = m.stalled();
    // Whatever happened, the device answers now so the process can end.
    m.release();
    let status = auraio_faultfs::wait_status(&mut child, 30, "bffio after the device answered");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let v = report.unwrap_or_else(|_| {
        panic!("no report {elapsed:?} after the start ({stalled} requests held)\n{stderr}")
    });
    assert!(stalled >= 1, "the device held a request: {stalled}");
    let j = &v["jobs"][0];
    assert!(j["abandoned_ios"].as_u64().unwrap() >= 1, "{j}");
    assert!(j["read"]["io_bytes"].as_u64().unwrap() > 0, "{j}");
    assert!(
        stderr.contains("still outstanding") && stderr.contains("left to the kernel"),
        "{stderr}"
    );
    assert!(
        !status.success(),
        "abandoned requests fail the run: {status:?}"
    );
}

/// A full device and an interrupted read stop their jobs with the errno, as EIO does.
#[test]
fn enospc_and_eintr_stop_their_jobs_with_the_errno() {
    let m = FaultFs::new()
        .file(FileSpec::empty("full").capacity(MIB))
        .file(
            FileSpec::patterned("f", 2 * MIB)
                .rule(Rule::read(MIB..MIB + 4096, Fault::Errno(libc::EINTR))),
        )
        .mount()
        .unwrap();
    let mut a = vec![
        "--name=w".to_string(),
        format!("--filename={}", m.path("full").display()),
        "--rw=write".into(),
        "--bs=4k".into(),
        "--size=2m".into(),
        "--iodepth=4".into(),
    ];
    a.extend(job(&m, "r", &["--output-format=json"]));
    let out = bffio(&a);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON: {e}\n{}\n{stderr}", text(&out.stdout)));
    let jobs = v["jobs"].as_array().unwrap();
    let by = |n: &str| {
        jobs.iter()
            .find(|j| j["jobname"] == n)
            .unwrap_or_else(|| panic!("{n} in {v}"))
    };
    assert_eq!(by("w")["error"], libc::ENOSPC, "{v}");
    assert_eq!(by("r")["error"], libc::EINTR, "{v}");
    assert!(
        stderr.contains("No space left on device: write offset="),
        "{stderr}"
    );
    assert!(
        stderr.contains("Interrupted system call: read offset=1048576"),
        "{stderr}"
    );
}

/// A job that cannot start (its file cannot be created) is reported with that errno; the
/// other jobs still run.
#[test]
fn a_job_that_cannot_start_is_reported_with_its_errno() {
    let m = FaultFs::new()
        .file(FileSpec::patterned("f", 2 * MIB))
        .mount()
        .unwrap();
    let mut a = vec![
        "--name=lost".to_string(),
        format!("--filename={}/no/such/dir/file", m.dir().display()),
        "--rw=read".into(),
        "--size=1m".into(),
    ];
    a.extend(job(&m, "ok", &["--output-format=json"]));
    let out = bffio(&a);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{stderr}"));
    let jobs = v["jobs"].as_array().unwrap();
    let by = |n: &str| {
        jobs.iter()
            .find(|j| j["jobname"] == n)
            .unwrap_or_else(|| panic!("{n} in {v}"))
    };
    assert_eq!(by("lost")["error"], libc::ENOENT, "{v}");
    assert_eq!(by("ok")["error"], 0, "{v}");
    assert_eq!(by("ok")["read"]["io_bytes"], 2 * MIB, "{v}");
    assert!(stderr.contains("No such file or directory"), "{stderr}");
}
