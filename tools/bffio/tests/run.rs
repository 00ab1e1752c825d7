//! bffio end to end: the binary on real files (tmpfs and disk, buffered and O_DIRECT), its
//! JSON against fio's own, verify against a corrupted block, several jobs and job files.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// bffio run in the build's scratch directory, where what it writes unasked (verify state
/// files, as fio) stays out of the source tree.
fn bffio(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bffio"))
        .args(args)
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("run bffio")
}

fn ok_json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--output-format=json");
    let out = bffio(&a);
    assert!(
        out.status.success(),
        "bffio {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("bffio prints JSON")
}

/// A fresh directory on tmpfs, or on the disk the build runs on.
fn dir(on_disk: bool, name: &str) -> PathBuf {
    let base = if on_disk {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
    } else {
        PathBuf::from("/dev/shm")
    };
    let d = base.join(format!("bffio-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn num(v: &Value, path: &str) -> f64 {
    path.split('/')
        .fold(v, |v, k| &v[k])
        .as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number in {v}"))
}

/// Checks one direction's figures for sanity: I/O done, latencies ordered and plausible.
fn check_dir(job: &Value, dir: &str, bytes: u64) {
    let d = &job[dir];
    assert_eq!(num(d, "io_bytes") as u64, bytes, "{dir} io_bytes");
    let ios = num(d, "total_ios");
    assert!(ios > 0.0);
    assert!(num(d, "iops") > 0.0 && num(d, "bw_bytes") > 0.0);
    let (min, mean, max) = (
        num(d, "clat_ns/min"),
        num(d, "clat_ns/mean"),
        num(d, "clat_ns/max"),
    );
    assert!(
        min > 0.0 && min <= mean && mean <= max,
        "clat {min} {mean} {max}"
    );
    assert!(num(d, "lat_ns/mean") >= mean, "lat includes clat");
    assert!(num(d, "slat_ns/N") == ios && num(d, "clat_ns/N") == ios);
    let p = d["clat_ns"]["percentile"].as_object().expect("percentiles");
    let vals: Vec<f64> = p.values().map(|v| v.as_f64().unwrap()).collect();
    assert!(
        vals.windows(2).all(|w| w[0] <= w[1]),
        "percentiles ordered: {vals:?}"
    );
    assert!(vals.iter().all(|&v| v >= min && v <= max));
}

#[test]
fn every_rw_mode_runs_on_tmpfs_and_on_disk_with_o_direct() {
    for (on_disk, direct) in [(false, "0"), (true, "1")] {
        let d = dir(on_disk, "modes");
        for rw in ["read", "write", "randread", "randwrite", "rw", "randrw"] {
            let f = d.join(format!("{rw}.dat"));
            let j = ok_json(&[
                "--name=m",
                &format!("--filename={}", f.display()),
                "--size=4m",
                &format!("--rw={rw}"),
                "--bs=4k",
                &format!("--direct={direct}"),
                "--iodepth=16",
            ]);
            let job = &j["jobs"][0];
            assert_eq!(job["error"], 0, "{rw}: {job}");
            let r = num(job, "read/io_bytes") as u64;
            let w = num(job, "write/io_bytes") as u64;
            assert_eq!(r + w, 4 << 20, "{rw}: all of size is done");
            match rw {
                "read" | "randread" => check_dir(job, "read", 4 << 20),
                "write" | "randwrite" => check_dir(job, "write", 4 << 20),
                _ => {
                    check_dir(job, "read", r);
                    check_dir(job, "write", w);
                    assert!(r > 0 && w > 0, "{rw}: both directions");
                }
            }
            let depth = job["auraio"]["rings"][0]["depth"].as_u64().unwrap();
            assert!(
                (1..=16).contains(&depth),
                "{rw}: engine depth {depth} within iodepth"
            );
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}

#[test]
fn fixed_depth_mode_keeps_the_depth_given() {
    let d = dir(false, "fixed");
    let j = ok_json(&[
        "--name=f",
        &format!("--filename={}", d.join("f.dat").display()),
        "--size=8m",
        "--rw=randread",
        "--iodepth=8",
        "--aimd=off",
    ]);
    let job = &j["jobs"][0];
    assert_eq!(job["auraio"]["rings"][0]["depth"], 8);
    assert_eq!(job["auraio"]["aimd"], false);
    // Nearly every submission found 7 others outstanding.
    assert!(
        num(job, "iodepth_level/8") > 50.0,
        "{}",
        job["iodepth_level"]
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn adaptive_mode_stays_within_the_depth_given() {
    // tmpfs gains a little with every doubling: unbounded, the search goes past 3.
    let d = dir(false, "bounded");
    let j = ok_json(&[
        "--name=b",
        &format!("--filename={}", d.join("b.dat").display()),
        "--size=8m",
        "--rw=randread",
        "--iodepth=3",
        "--runtime=1",
        "--time_based",
    ]);
    let job = &j["jobs"][0];
    assert_eq!(job["auraio"]["aimd"], true);
    let depth = job["auraio"]["rings"][0]["depth"].as_f64().unwrap();
    assert!((1.0..=3.0).contains(&depth), "limit {depth} outside 1..=3");
    assert!(num(job, "AuraIO/max_concurrency") <= 3.0);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn numjobs_with_and_without_group_reporting() {
    let d = dir(false, "numjobs");
    let base = [
        "--name=n".to_string(),
        format!("--directory={}", d.display()),
        "--size=2m".into(),
        "--rw=randread".into(),
        "--numjobs=3".into(),
    ];
    let args: Vec<&str> = base.iter().map(String::as_str).collect();
    let j = ok_json(&args);
    let jobs = j["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 3, "one entry per clone");
    for job in jobs {
        assert_eq!(num(job, "read/io_bytes") as u64, 2 << 20);
    }
    let mut g = args.clone();
    g.push("--group_reporting");
    let j = ok_json(&g);
    let jobs = j["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "clones merged");
    assert_eq!(num(&jobs[0], "read/io_bytes") as u64, 3 * (2 << 20));
    assert_eq!(num(&jobs[0], "read/clat_ns/N") as u64, 3 * 512);
    // Each clone had its own files (fio's name.clone.file naming).
    for c in 0..3 {
        assert!(d.join(format!("n.{c}.0")).exists());
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// Every key path under a value, as "a/b/c" (percentile keys included).
fn key_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            let p = format!("{prefix}/{k}");
            out.push(p.clone());
            key_paths(child, &p, out);
        }
    }
}

#[test]
fn json_has_every_key_fio_has_under_read_and_write() {
    let fio = Command::new("fio").arg("--version").output();
    assert!(
        fio.is_ok_and(|o| o.status.success()),
        "this test compares with fio: install it (apt-get install fio; scripts/test.sh does)"
    );
    let d = dir(false, "json");
    let f = d.join("j.dat");
    let common = [
        "--name=j".to_string(),
        format!("--filename={}", f.display()),
        "--size=4m".into(),
        "--rw=randrw".into(),
        "--bs=4k".into(),
        "--iodepth=8".into(),
        "--output-format=json".into(),
    ];
    let out = Command::new("fio")
        .args(&common)
        .arg("--ioengine=io_uring")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fio: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fio_json: Value = serde_json::from_slice(&out.stdout).expect("fio JSON");
    let args: Vec<&str> = common[..6].iter().map(String::as_str).collect();
    let ours = ok_json(&args);
    for dir in ["read", "write"] {
        let mut want = Vec::new();
        key_paths(&fio_json["jobs"][0][dir], dir, &mut want);
        let mut have = Vec::new();
        key_paths(&ours["jobs"][0][dir], dir, &mut have);
        let missing: Vec<&String> = want.iter().filter(|k| !have.contains(k)).collect();
        assert!(
            missing.is_empty(),
            "keys fio has and bffio lacks: {missing:?}"
        );
    }
    let mut want = Vec::new();
    key_paths(&fio_json["jobs"][0], "", &mut want);
    let mut have = Vec::new();
    key_paths(&ours["jobs"][0], "", &mut have);
    let top: Vec<&String> = want
        .iter()
        .filter(|k| k.matches('/').count() == 1 && !have.contains(k))
        .collect();
    assert!(
        top.is_empty(),
        "job-level keys fio has and bffio lacks: {top:?}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// Every checksum `verify=` names, on disk with O_DIRECT and on tmpfs buffered: a job writes
/// and verifies, a random read verifies again, then one flipped byte fails the run and is named
/// at its block.
#[test]
fn verify_catches_a_block_corrupted_behind_its_back() {
    for (on_disk, direct) in [(true, "--direct=1"), (false, "--direct=0")] {
        for sum in [
            "md5", "crc64", "crc32c", "crc32", "sha1", "sha256", "sha512", "xxhash",
        ] {
            verify_round(on_disk, direct, sum, "--fixedbufs=0");
        }
        // Registered buffers: written from them, read into them and checked from there.
        for sum in ["crc32c", "sha256"] {
            verify_round(on_disk, direct, sum, "--fixedbufs=1");
        }
    }
}

fn verify_round(on_disk: bool, direct: &str, sum: &str, fixed: &str) {
    let d = dir(on_disk, &format!("verify-{sum}"));
    let f = d.join("v.dat");
    let fname = format!("--filename={}", f.display());
    let verify = format!("--verify={sum}");
    let args = [
        "--name=v",
        &fname,
        "--size=1m",
        "--bs=4k",
        &verify,
        "--iodepth=8",
        direct,
        fixed,
    ];
    let run = |rw: &str| bffio(&[&args[..], &[rw]].concat());
    let what = format!("verify={sum} {direct} {fixed}");
    let out = run("--rw=write");
    assert!(
        out.status.success(),
        "write+verify, {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run("--rw=randread");
    assert!(
        out.status.success(),
        "clean read+verify, {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Flip one byte in block 37, behind bffio's back.
    let corrupt_at = 37 * 4096 + 1000;
    {
        use std::os::unix::fs::FileExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&f)
            .unwrap();
        let mut b = [0u8; 1];
        file.read_exact_at(&mut b, corrupt_at).unwrap();
        b[0] ^= 0x01;
        file.write_all_at(&b, corrupt_at).unwrap();
        file.sync_all().unwrap();
    }
    let out = run("--rw=read");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the run fails, {what}: {err}");
    assert!(
        err.contains(&format!("offset {}", 37 * 4096)) && err.contains(&format!("{sum} mismatch")),
        "the report names the block, {what}: {err}"
    );
    // Blocks written with one checksum, read with another, are named as such.
    let other = if sum == "md5" { "sha1" } else { "md5" };
    let out = bffio(&[&args[..], &["--rw=read", &format!("--verify={other}")]].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("another `verify=`"),
        "{what}, read as {other}: {err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_fio_job_file_runs_unchanged() {
    let d = dir(false, "jobfile");
    let inc = d.join("common.fio");
    std::fs::write(&inc, "ioengine=io_uring\nbs=4k\nsize=${BFFIO_TEST_SIZE}\n").unwrap();
    let jf = d.join("jobs.fio");
    std::fs::write(
        &jf,
        format!(
            "; a job file written for fio\n[global]\ninclude common.fio\ndirectory={}\n\
             iodepth=16\ngroup_reporting\n\n[rand-read]\nrw=randread\nnumjobs=2\n\n\
             [seq-write]\nrw=write\nfdatasync=16\n",
            d.display()
        ),
    )
    .unwrap();
    // fio accepts it too (parse only).
    let fio = Command::new("fio")
        .arg("--parse-only")
        .arg(&jf)
        .env("BFFIO_TEST_SIZE", "2m")
        .output()
        .expect("fio is installed (scripts/test.sh installs it)");
    assert!(
        fio.status.success(),
        "fio rejects the file: {}",
        String::from_utf8_lossy(&fio.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_bffio"))
        .arg(&jf)
        .arg("--output-format=json")
        .env("BFFIO_TEST_SIZE", "2m")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let jobs = j["jobs"].as_array().unwrap();
    // group_reporting in [global] and no stonewall: one reporting group, reported as one entry
    // named after its first job, as fio 3.33 reports this file (checked: 1 job, read 4 MiB,
    // write 2 MiB).
    assert_eq!(jobs.len(), 1, "{j}");
    assert_eq!(jobs[0]["jobname"], "rand-read");
    assert_eq!(num(&jobs[0], "read/io_bytes") as u64, 2 * (2 << 20));
    assert_eq!(num(&jobs[0], "write/io_bytes") as u64, 2 << 20);
    assert_eq!(num(&jobs[0], "sync/total_ios") as u64, 512 / 16);
    // As fio: what [global] set is reported once, as "global options"; each job's own keys
    // as its "job options".
    assert_eq!(j["global options"]["ioengine"], "io_uring");
    assert_eq!(jobs[0]["job options"]["rw"], "randread");
    assert!(jobs[0]["job options"].get("ioengine").is_none());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_input_is_a_clear_error() {
    // fio's exit code for a job it cannot parse or find: 1.
    let out = bffio(&["--name=x", "--size=1m", "--rw=sideways"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sideways") && err.contains("randread"),
        "{err}"
    );
    let out = bffio(&["/nonexistent/job.fio"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/job.fio"));
}

#[test]
fn text_report_and_plot() {
    let d = dir(false, "text");
    let plot = d.join("p.svg");
    let out = bffio(&[
        "--name=t",
        &format!("--filename={}", d.join("t.dat").display()),
        "--size=16m",
        "--rw=randread",
        "--runtime=1",
        "--time_based",
        &format!("--plot={}", plot.display()),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "read: IOPS=",
        "slat (",
        "clat (",
        " lat (",
        "clat percentiles",
        "99.00th=[",
        "bw (",
        "iops        :",
        "cpu          :",
        "IO depths",
        "auraio       : depth",
        "Run status group 0",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.matches("<polyline").count() == 3,
        "{svg}"
    );
    // Every job is drawn: a line per job in each of the three panels, and a legend entry.
    let file = format!("--filename={}", d.join("t.dat").display());
    let out = bffio(&[
        &file,
        "--size=16m",
        "--runtime=1",
        "--time_based",
        &format!("--plot={}", plot.display()),
        "--name=first",
        "--rw=randread",
        "--name=second",
        "--rw=read",
        "--stonewall",
    ]);
    assert!(out.status.success());
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert_eq!(svg.matches("<polyline").count(), 6, "{svg}");
    assert!(
        svg.contains(">first (randread") && svg.contains(">second (read"),
        "{svg}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn every_io_is_recorded_and_the_percentile_list_is_honoured() {
    // The histogram's accuracy (within 0.4% of the exact percentile) is a unit test of
    // src/hist.rs; here: N is the number of I/Os, so no sampling.
    let d = dir(false, "pct");
    let j = ok_json(&[
        "--name=p",
        &format!("--filename={}", d.join("p.dat").display()),
        "--size=8m",
        "--rw=randread",
        "--percentile_list=50:90:99:99.9",
    ]);
    let r = &j["jobs"][0]["read"];
    assert_eq!(num(r, "clat_ns/N") as u64, num(r, "total_ios") as u64);
    assert_eq!(num(r, "total_ios") as u64, 2048);
    let p = r["clat_ns"]["percentile"].as_object().unwrap();
    let keys: Vec<&str> = p.keys().map(String::as_str).collect();
    assert_eq!(keys, ["50.000000", "90.000000", "99.000000", "99.900000"]);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn terse_output_has_fios_version_3_fields() {
    let d = dir(false, "terse");
    let f = d.join("t.dat");
    let common = [
        "--name=t".to_string(),
        format!("--filename={}", f.display()),
        "--size=4m".into(),
        "--rw=randrw".into(),
        "--bs=4k".into(),
        "--output-format=terse".into(),
    ];
    let out = Command::new("fio")
        .args(&common)
        .arg("--ioengine=io_uring")
        .output()
        .expect("fio is installed (scripts/test.sh installs it)");
    assert!(out.status.success());
    let fio_fields: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(';')
        .map(String::from)
        .collect();
    let args: Vec<&str> = common.iter().map(String::as_str).collect();
    let out = bffio(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let ours: Vec<&str> = text.trim().split(';').collect();
    assert_eq!(
        ours.len(),
        fio_fields.len(),
        "field count vs fio's:\n{text}"
    );
    assert_eq!(ours[0], "3");
    assert_eq!(ours[2], "t");
    // Read KiB + write KiB = the job's size; percentile fields keep fio's "P%=V" shape.
    let kib = |i: usize| ours[i].parse::<u64>().unwrap();
    assert_eq!(kib(5) + kib(46), 4096);
    assert!(ours[17].starts_with("1.000000%="), "{}", ours[17]);
    assert!(fio_fields[17].starts_with("1.000000%="));
    std::fs::remove_dir_all(&d).unwrap();
}
