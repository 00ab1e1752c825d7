//! bffio on the fault filesystem: an I/O error stops the job as fio stops it and says where;
//! `continue_on_error` counts and passes over; short reads are counted; the other jobs are
//! still reported.

use std::process::{Command, Output};

use auraio_faultfs::{Fault, FaultFs, FileSpec, Mount, Rule};
use serde_json::Value;

fn bffio(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bffio"))
        .args(args)
        .output()
        .expect("run bffio")
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
