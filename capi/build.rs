//! Compiles the C shim (`aura_log_emit`, which is variadic: stable Rust cannot define it) and
//! bundles it into this crate's staticlib, so `libauraio.a` needs no post-processing.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn run(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (a C compiler and ar are needed)"));
    assert!(status.success(), "{cmd:?} failed with {status}");
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    // Both preset crates use this script; the shim lives next to it.
    let shim = [
        manifest.join("shim/log_emit.c"),
        manifest.join("../shim/log_emit.c"),
    ]
    .into_iter()
    .find(|p| p.exists())
    .expect("shim/log_emit.c");
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let obj = out.join("log_emit.o");
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    run(Command::new(&cc)
        .args([
            "-std=c11",
            "-O2",
            "-fPIC",
            "-fvisibility=hidden",
            "-Wall",
            "-Wextra",
            "-c",
        ])
        .arg(&shim)
        .arg("-o")
        .arg(&obj));
    let lib = out.join("libauraio_shim.a");
    let _ = std::fs::remove_file(&lib);
    run(Command::new("ar").arg("rcs").arg(&lib).arg(&obj));
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=auraio_shim");
    println!("cargo:rerun-if-changed={}", shim.display());
    println!("cargo:rerun-if-env-changed=CC");
}
