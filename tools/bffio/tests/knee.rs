//! `--target-p99` on the knee device (`../shared/tools/knee-device`: a loop device capped at
//! 100k IOPS, where latency grows linearly with depth past the knee): bffio runs the job to
//! the end, reports its P99 and the target it was given, and moves real I/O. Whether the P99
//! meets the target on a shared host is a timing figure: printed here, measured by the
//! benchmarks, and asserted deterministically in the controller's simulator tests.
//!
//! Needs root and cgroup v1 blkio; without them the test fails, saying why, rather than pass
//! without running. CI runs it as root in release
//! (scripts/test.sh), apart from the other tests (one workload on the device at a time).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/knee-device")
}

fn run_on_knee(dev: &str, extra: &[&str]) -> Value {
    let out = Command::new(tool())
        .arg("run")
        .arg(env!("CARGO_BIN_EXE_bffio"))
        .args([
            "--name=knee",
            &format!("--filename={dev}"),
            "--rw=randread",
            "--bs=4k",
            "--direct=1",
            "--ramp_time=2",
            "--runtime=3",
            "--time_based",
            "--output-format=json",
        ])
        .args(extra)
        .output()
        .expect("run bffio in the throttled cgroup");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn bffio_target_p99_on_the_knee_device() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "needs root (the blkio throttle and losetup)");
    assert!(tool().exists(), "{} not found", tool().display());
    let up = Command::new(tool())
        .args(["up", "100000"])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "knee-device up: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let dev = String::from_utf8_lossy(&up.stdout).trim().to_string();

    let target_us = 300.0;
    let j = run_on_knee(&dev, &["--target-p99=300us"]);
    let r = &j["jobs"][0]["read"];
    let p99_us = r["clat_ns"]["percentile"]["99.000000"].as_f64().unwrap() / 1e3;
    let iops = r["iops"].as_f64().unwrap();
    eprintln!(
        "target 300 us: P99 {p99_us:.1} us, {iops:.0} IOPS, engine {}",
        j["jobs"][0]["auraio"]["rings"]
    );
    assert_eq!(
        j["jobs"][0]["auraio"]["target_p99_ns"].as_u64(),
        Some((target_us * 1e3) as u64),
        "the target is reported"
    );
    assert!(p99_us > 0.0, "a P99 is reported");
    assert!(iops > 0.0, "the job moved I/O");
    eprintln!(
        "P99 {:.2}x the target; {:.3}x the cap",
        p99_us / target_us,
        iops / 100_000.0
    );
}
