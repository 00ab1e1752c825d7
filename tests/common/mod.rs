//! Helpers shared by the integration tests: files with known contents on tmpfs and on disk,
//! and an instrumented buffer that counts its drops and poisons its bytes when dropped.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Where test files live: tmpfs and a disk-backed directory. Both must exist; a test that
/// cannot make its file fails rather than skipping.
pub fn locations() -> Vec<(&'static str, PathBuf)> {
    let shm = PathBuf::from("/dev/shm");
    assert!(shm.is_dir(), "/dev/shm (tmpfs) is required by the tests");
    vec![
        ("tmpfs", shm),
        ("disk", PathBuf::from(env!("CARGO_TARGET_TMPDIR"))),
    ]
}

/// A seeded xorshift generator: reproducible offsets and choices for the tests.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value: a zero state is avoided).
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// A file filled with `pattern(len, seed)`, removed on drop.
pub struct TestFile {
    pub path: PathBuf,
    pub file: File,
    pub data: Vec<u8>,
}

impl TestFile {
    pub fn new(dir: &Path, tag: &str, len: usize, direct: bool) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = dir.join(format!(
            "auraio-test-{}-{}-{}",
            std::process::id(),
            tag,
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let data = pattern(len, len as u64 ^ 0x9e37_79b9);
        std::fs::write(&path, &data).expect("write test file");
        let mut o = OpenOptions::new();
        o.read(true).write(true);
        if direct {
            o.custom_flags(libc::O_DIRECT);
        }
        let file = o.open(&path).expect("open test file");
        TestFile { path, file, data }
    }

    pub fn fd(&self) -> i32 {
        self.file.as_raw_fd()
    }

    /// The file's current contents, read with plain std I/O.
    pub fn contents(&self) -> Vec<u8> {
        std::fs::read(&self.path).expect("read back")
    }
}

impl Drop for TestFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// pread(2), as the reference to check the engine against.
pub fn pread(fd: i32, len: usize, offset: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    // SAFETY: `v` is valid for `len` writable bytes.
    let n = unsafe { libc::pread(fd, v.as_mut_ptr().cast(), len, offset as libc::off_t) };
    assert!(n >= 0, "pread failed: {}", std::io::Error::last_os_error());
    v.truncate(n as usize);
    v
}

/// A buffer that counts its drops in a shared counter and overwrites its bytes with 0xDD when
/// dropped, so a use after the engine freed it early shows up as poisoned data.
pub struct Tracked {
    data: Box<[u8]>,
    drops: Arc<AtomicUsize>,
}

impl Tracked {
    pub fn new(len: usize, drops: &Arc<AtomicUsize>) -> Self {
        Tracked {
            data: vec![0u8; len].into_boxed_slice(),
            drops: drops.clone(),
        }
    }
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.data.fill(0xDD);
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: the bytes live in a boxed slice owned by the value: stable across moves, valid for
// `len` bytes until drop.
unsafe impl auraio::IoBuf for Tracked {
    fn io_ptr(&self) -> *const u8 {
        self.data.as_ptr()
    }
    fn io_len(&self) -> usize {
        self.data.len()
    }
}

// SAFETY: as above; the box is uniquely owned, so the kernel's writes alias nothing.
unsafe impl auraio::IoBufMut for Tracked {
    fn io_mut_ptr(&mut self) -> *mut u8 {
        self.data.as_mut_ptr()
    }
}

/// A pipe whose read end never has data unless written: a request that cannot finish by itself.
pub struct Pipe {
    pub read: i32,
    pub write: i32,
}

impl Pipe {
    pub fn new() -> Self {
        let mut fds = [0i32; 2];
        // SAFETY: `fds` is a valid array of two ints.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        Pipe {
            read: fds[0],
            write: fds[1],
        }
    }
    pub fn feed(&self, bytes: &[u8]) {
        // SAFETY: writing from a valid slice.
        let n = unsafe { libc::write(self.write, bytes.as_ptr().cast(), bytes.len()) };
        assert_eq!(n as usize, bytes.len());
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // SAFETY: closing fds this struct owns.
        unsafe {
            libc::close(self.read);
            libc::close(self.write);
        }
    }
}

/// Runs one of the project's Python checkers (`scripts/NAME`) on `input`, with `args`; fails
/// the test with the checker's output when it rejects the input.
#[allow(dead_code)]
pub fn python_check(script: &str, args: &[String], input: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let path = format!("{}/scripts/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(&path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (scripts/test.sh installs it and the parsers the checkers use)");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())
        .expect("write to the checker");
    let out = child.wait_with_output().expect("checker runs");
    assert!(
        out.status.success(),
        "{script} rejected the input:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Prints the library's log records at or above `$AURAIO_LOG` (error, warn, info, debug,
/// trace) to stderr, with the time since the first call; nothing when it is unset. The
/// controller logs each limit or phase change at debug level.
pub fn log_from_env() {
    struct Stderr(std::time::Instant);
    impl log::Log for Stderr {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, r: &log::Record) {
            eprintln!(
                "{:>8.3} {:<5} {}",
                self.0.elapsed().as_secs_f64(),
                r.level(),
                r.args()
            );
        }
        fn flush(&self) {}
    }
    let Some(level) = std::env::var("AURAIO_LOG")
        .ok()
        .and_then(|v| v.parse::<log::LevelFilter>().ok())
    else {
        return;
    };
    let logger = Box::leak(Box::new(Stderr(std::time::Instant::now())));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

#[allow(unused_imports, reason = "each test binary uses a different subset")]
pub use auraio_faultfs::Deadline;

/// A loop block device over a patterned file in /dev/shm, detached and removed on drop.
/// Needs root (as CI runs); without it the test fails saying so.
pub struct LoopDevice {
    pub path: String,
    pub backing: TestFile,
}

impl LoopDevice {
    pub fn new(len: usize) -> Self {
        use std::process::{Command, Stdio};
        let backing = TestFile::new(Path::new("/dev/shm"), "loop", len, false);
        let child = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&backing.path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run losetup (util-linux)");
        let out = auraio_faultfs::wait_output(child, 30, "losetup -f");
        assert!(
            out.status.success(),
            "a loop device is needed (root): losetup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        LoopDevice { path, backing }
    }
}

impl Drop for LoopDevice {
    /// Detaches the device. Never panics (a test may be unwinding already): a detach that
    /// fails or takes over 30 s is reported on stderr, naming the device left behind.
    fn drop(&mut self) {
        use std::process::{Command, Stdio};
        let child = Command::new("losetup")
            .args(["-d", &self.path])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let ok = child.is_ok_and(|mut c| {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                match c.try_wait() {
                    Ok(Some(st)) => return st.success(),
                    Ok(None) if std::time::Instant::now() < until => {
                        std::thread::sleep(std::time::Duration::from_millis(20))
                    }
                    _ => {
                        let _ = c.kill();
                        let _ = c.wait();
                        return false;
                    }
                }
            }
        });
        if !ok {
            eprintln!("LoopDevice: could not detach {}: left attached", self.path);
        }
    }
}
