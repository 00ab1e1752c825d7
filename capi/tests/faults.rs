//! The C ABI on the fault filesystem: what a C caller of libauraio sees when storage fails.
//! The calls go through the exported `aura_*` symbols, as a C program's would.

use std::ffi::c_void;
use std::os::fd::AsRawFd;
use std::sync::Mutex;

use auraio_capi_abi::types::{
    aura_buf_t, aura_buf_u, aura_engine_t, aura_request_t, AURA_BUF_UNREGISTERED,
};
use auraio_faultfs::{pattern_byte, Deadline, Fault, FaultFs, FileSpec, Rule};

// The staticlib's symbols, linked from this crate's rlib.
use auraio_capi as _;

extern "C" {
    fn aura_create() -> *mut aura_engine_t;
    fn aura_destroy(engine: *mut aura_engine_t);
    fn aura_read(
        engine: *mut aura_engine_t,
        fd: i32,
        buf: aura_buf_t,
        len: usize,
        offset: libc::off_t,
        callback: Option<unsafe extern "C" fn(*mut aura_request_t, isize, *mut c_void)>,
        user_data: *mut c_void,
    ) -> *mut aura_request_t;
    fn aura_wait(engine: *mut aura_engine_t, timeout_ms: i32) -> i32;
    fn aura_drain(engine: *mut aura_engine_t, timeout_ms: i32) -> i32;
    fn aura_flush(engine: *mut aura_engine_t) -> i32;
    fn aura_set_async_issue(engine: *mut aura_engine_t, on: bool) -> i32;
    fn aura_set_log_handler(
        handler: Option<unsafe extern "C" fn(i32, *const libc::c_char, *mut c_void)>,
        userdata: *mut c_void,
    );
}

fn buf(ptr: *mut u8) -> aura_buf_t {
    aura_buf_t {
        type_: AURA_BUF_UNREGISTERED,
        u: aura_buf_u { ptr: ptr.cast() },
    }
}

/// Results by request, as the callbacks saw them: (user tag, result).
static RESULTS: Mutex<Vec<(usize, isize)>> = Mutex::new(Vec::new());

unsafe extern "C" fn record(_req: *mut aura_request_t, result: isize, user: *mut c_void) {
    RESULTS.lock().unwrap().push((user as usize, result));
}

#[test]
fn errors_reach_the_callback_as_negative_errno_and_wait_and_drain_count_them() {
    let _deadline = Deadline::plain("C errors", 60);
    let m = FaultFs::new()
        .file(
            FileSpec::patterned("f", 64 << 10)
                .rule(Rule::read(0..4096, Fault::Errno(libc::EIO)))
                .rule(Rule::read(8192..12288, Fault::Errno(libc::ENOSPC)))
                .rule(Rule::read(16384..20480, Fault::Short(512))),
        )
        .mount()
        .unwrap();
    let f = std::fs::File::open(m.path("f")).unwrap();
    // SAFETY: no arguments; the engine is destroyed below.
    let e = unsafe { aura_create() };
    assert!(!e.is_null());
    let mut bufs = vec![vec![0u8; 4096]; 4];
    for (tag, (b, off)) in bufs.iter_mut().zip([0i64, 8192, 16384, 24576]).enumerate() {
        // SAFETY: `b` outlives the request (drained before the buffers drop); the callback
        // takes the tag by value.
        let r = unsafe {
            aura_read(
                e,
                f.as_raw_fd(),
                buf(b.as_mut_ptr()),
                4096,
                off,
                Some(record),
                tag as *mut c_void,
            )
        };
        assert!(!r.is_null(), "{}", std::io::Error::last_os_error());
    }
    // SAFETY: a live engine.
    let first = unsafe { aura_wait(e, 5000) };
    assert!(
        first >= 1,
        "aura_wait returns the completions it processed: {first}"
    );
    // SAFETY: as above.
    let rest = unsafe { aura_drain(e, 5000) };
    assert_eq!(first + rest, 4, "every completion counted once");
    // SAFETY: a live engine with nothing pending.
    let none = unsafe { aura_drain(e, 0) };
    assert_eq!(none, 0, "0 at once with nothing pending");
    // SAFETY: as above.
    let forever = unsafe { aura_wait(e, -1) };
    assert_eq!(forever, 0, "0 at once with nothing pending, even forever");
    let mut got = RESULTS.lock().unwrap().clone();
    got.sort();
    assert_eq!(got[0], (0, -(libc::EIO as isize)));
    assert_eq!(got[1], (1, -(libc::ENOSPC as isize)));
    assert!(got[2].0 == 2 && got[2].1 > 0 && got[2].1 <= 4096, "{got:?}");
    assert_eq!(got[3], (3, 4096));
    assert!(bufs[3]
        .iter()
        .enumerate()
        .all(|(i, b)| *b == pattern_byte(24576 + i as u64)));
    // SAFETY: created above, not used after.
    unsafe { aura_destroy(e) };
}

/// Log lines the library emitted, for the test that expects one.
static LOGS: Mutex<Vec<(i32, String)>> = Mutex::new(Vec::new());

unsafe extern "C" fn log_line(level: i32, msg: *const libc::c_char, _: *mut c_void) {
    // SAFETY: the library passes a NUL-terminated message valid for the call.
    let m = unsafe { std::ffi::CStr::from_ptr(msg) };
    LOGS.lock()
        .unwrap()
        .push((level, m.to_string_lossy().into_owned()));
}

/// `aura_destroy` with a read the device holds forever: returns within the drain bound (10 s,
/// then cancellation, which FUSE cannot honour), logs what it left, and never runs the
/// callback afterwards (the engine is gone). The buffer is the caller's and the kernel may
/// still write it, so the test leaks it, as the C contract asks of callers.
#[test]
fn destroy_with_a_request_held_forever_returns_within_its_bound_and_logs_it() {
    use std::time::{Duration, Instant};
    // Past the bound under test (10 s) with room: a destroy that hangs fails here.
    let _deadline = Deadline::plain("aura_destroy with a held request", 60);
    let m = FaultFs::new()
        .file(FileSpec::patterned("f", 64 << 10).rule(Rule::read(0..4096, Fault::Stall)))
        .mount()
        .unwrap();
    let f = std::fs::File::open(m.path("f")).unwrap();
    // SAFETY: a handler that only reads its message during the call.
    unsafe { aura_set_log_handler(Some(log_line), std::ptr::null_mut()) };
    // SAFETY: no arguments; destroyed below.
    let e = unsafe { aura_create() };
    assert!(!e.is_null());
    // Issued inline, the read would block this thread in aura_read until the device answers.
    // SAFETY: a live engine.
    assert_eq!(unsafe { aura_set_async_issue(e, true) }, 0);
    let held: &'static mut [u8] = Box::leak(vec![0u8; 4096].into_boxed_slice());
    const TAG: usize = 77;
    // SAFETY: the buffer is leaked, so it outlives anything the kernel does with it.
    let r = unsafe {
        aura_read(
            e,
            f.as_raw_fd(),
            buf(held.as_mut_ptr()),
            4096,
            0,
            Some(record),
            TAG as *mut c_void,
        )
    };
    assert!(!r.is_null(), "{}", std::io::Error::last_os_error());
    // A lone request waits for its batch; it goes to the kernel now.
    // SAFETY: a live engine.
    assert!(unsafe { aura_flush(e) } >= 0);
    assert!(
        m.wait_stalled(1, Duration::from_secs(10)),
        "the read never reached the device"
    );
    let start = Instant::now();
    // SAFETY: created above, not used after; no callback of it is running.
    unsafe { aura_destroy(e) };
    let took = start.elapsed();
    // SAFETY: uninstalls the handler before the test's statics could matter to anyone else.
    unsafe { aura_set_log_handler(None, std::ptr::null_mut()) };
    assert!(
        took < Duration::from_secs(10 + 5),
        "aura_destroy took {took:?} with a request held"
    );
    let logs = LOGS.lock().unwrap().clone();
    assert!(
        logs.iter()
            .any(|(l, m)| *l <= 4 && m.contains("requests pending after the")),
        "a warning names what was left: {logs:?}"
    );
    // The device answers now (the mount's teardown fails what it holds); the completion goes
    // to a ring nobody reaps, so the callback must never run.
    drop(m);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !RESULTS.lock().unwrap().iter().any(|(t, _)| *t == TAG),
        "a callback ran after aura_destroy"
    );
}
