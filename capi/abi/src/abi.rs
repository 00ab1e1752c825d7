//! One method per C function that submits no operation: argument checks, errno conventions,
//! and the call into the engine (those that submit one are generated: `ops`).
//! `auraio_macros::c_abi!` generates the `extern "C"` wrappers that call these.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::marker::PhantomData;
use std::time::Duration;

use super::engine::{CEngine, Req};
use super::types::*;
use super::{errno_of, log, set_errno};
use auraio::lock::{Counter, Flag, LockMode};
use auraio::policy::Policy;
use auraio::tuning::Tuning;
use auraio::{Engine, Options, Phase};

/// The C functions for engine preset `Engine<P, L, T>`; see the [module docs](super).
///
/// Every method is `unsafe`: its safety contract is the C contract of the function of the
/// same name (pointers NULL or valid, handles from this preset's library, memory passed to a
/// submission valid until its callback).
pub struct Abi<P, L, T>(PhantomData<(P, L, T)>);

/// Largest managed buffer: the pool's.
const MAX_BUFFER: usize = auraio::pool::MAX_BUFFER_BYTES;
/// Largest ring count and queue depth: the engine's limits.
const MAX_RINGS: c_int = auraio::options::MAX_RINGS as c_int;
const MAX_QUEUE_DEPTH: c_int = auraio::options::MAX_QUEUE_DEPTH as c_int;
/// Default queue depth: the engine's (the C contract's too).
const DEFAULT_QUEUE_DEPTH: c_int = auraio::options::DEFAULT_QUEUE_DEPTH as c_int;
/// The tuner's floor by default. The C contract fixes it at 4 (the reference library's
/// default), where the Rust engine's is `Tuning::MIN_IN_FLIGHT` (1): programs written against
/// the reference expect a ring never to drop below 4 in flight.
const C_MIN_IN_FLIGHT: c_int = 4;
/// The initial in-flight limit by default, as the C contract fixes it: a quarter of the queue
/// depth, at least `C_MIN_IN_FLIGHT` (the Rust engine starts its search at
/// `Tuning::START_IN_FLIGHT`, 1, unless told otherwise).
fn c_initial_in_flight(queue_depth: u32) -> u32 {
    (queue_depth / 4)
        .max(C_MIN_IN_FLIGHT as u32)
        .min(queue_depth)
}

static_assertions::const_assert!(auraio::options::MAX_RINGS <= c_int::MAX as usize);
static_assertions::const_assert!(auraio::options::MAX_QUEUE_DEPTH <= c_int::MAX as u32);

thread_local! {
    /// The last engine lookup on this thread refused a single-thread engine used from a
    /// thread other than its creator: the failure it causes reports EPERM.
    static WRONG_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `r`, with errno `e` (EPERM after a refused wrong-thread lookup).
pub(crate) fn fail<R>(e: c_int, r: R) -> R {
    set_errno(if WRONG_THREAD.with(|w| w.replace(false)) {
        libc::EPERM
    } else {
        e
    });
    r
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// C phase numbering (BASELINE, PROBING, STEADY, BACKOFF, SETTLING, CONVERGED).
fn c_phase(p: Phase) -> c_int {
    match p {
        Phase::Baseline => AURA_PHASE_BASELINE,
        Phase::Probing => AURA_PHASE_PROBING,
        Phase::Steady => AURA_PHASE_STEADY,
        Phase::Backoff => AURA_PHASE_BACKOFF,
        Phase::Settling => AURA_PHASE_SETTLING,
        Phase::Converged => AURA_PHASE_CONVERGED,
    }
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn clamp_int(v: u64) -> c_int {
    c_int::try_from(v).unwrap_or(c_int::MAX)
}

/// Bytes a managed buffer counts for in the pool statistics: its size class's (the pool's).
fn class_of(size: usize) -> u64 {
    auraio::pool::class_bytes_of(size).unwrap_or(size) as u64
}

impl<P: Policy, L: LockMode, T: Tuning> Abi<P, L, T> {
    /// The engine behind a handle, or None for NULL.
    ///
    /// # Safety
    ///
    /// `e` is NULL or a live handle from this preset's `create`.
    ///
    /// A single-thread engine used from a thread other than the one that made it is refused
    /// here (as if NULL, with errno EPERM and a logged error): its rings accept submissions
    /// from their creator only.
    pub(crate) unsafe fn eng<'a>(e: *const aura_engine_t) -> Option<&'a CEngine<P, L, T>> {
        // SAFETY: per the caller, a non-null handle points at our CEngine.
        let c = unsafe { e.cast::<CEngine<P, L, T>>().as_ref() }?;
        if !L::MULTI_THREAD && c.creator != auraio::raw::thread_token() {
            WRONG_THREAD.with(|w| w.set(true));
            set_errno(libc::EPERM);
            log::emit(
                log::ERR,
                "auraio: a libauraio_local engine was used from a thread other than the one \
                 that created it; refused (EPERM)",
            );
            return None;
        }
        WRONG_THREAD.with(|w| w.set(false));
        Some(c)
    }

    /// # Safety
    ///
    /// `r` is NULL or a handle from this preset's library, not recycled.
    unsafe fn req<'a>(r: *const aura_request_t) -> Option<&'a Req<L>> {
        // SAFETY: per the caller.
        unsafe { r.cast::<Req<L>>().as_ref() }
    }

    // ---- Lifecycle ----

    /// `aura_options_init`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn options_init(o: *mut aura_options_t) {
        // SAFETY: per the contract o is NULL or writable.
        if let Some(o) = unsafe { o.as_mut() } {
            *o = aura_options_t {
                struct_size: std::mem::size_of::<aura_options_t>(),
                queue_depth: DEFAULT_QUEUE_DEPTH,
                min_in_flight: C_MIN_IN_FLIGHT,
                buffer_alignment: page_size(),
                sqpoll_idle_ms: 1000,
                ring_select: AURA_SELECT_ADAPTIVE,
                ..Default::default()
            };
        }
    }

    /// `aura_create`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn create() -> *mut aura_engine_t {
        // SAFETY: NULL asks for the defaults.
        unsafe { Self::create_with_options(std::ptr::null()) }
    }

    /// `aura_create_with_options`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn create_with_options(o: *const aura_options_t) -> *mut aura_engine_t {
        // SAFETY: the caller's contract is this function's.
        unsafe { Self::create_with_options_tagged(o, 0) }
    }

    /// `aura_create_with_options` in a library of several presets, where this one is preset
    /// `tag` (stamped on the engine and its requests for the dispatch of later calls).
    ///
    /// # Safety
    ///
    /// The C contract of `aura_create_with_options`.
    pub unsafe fn create_with_options_tagged(
        o: *const aura_options_t,
        tag: u32,
    ) -> *mut aura_engine_t {
        let mut defaults = aura_options_t::default();
        // SAFETY: a local, writable struct.
        unsafe { Self::options_init(&mut defaults) };
        // SAFETY: per the contract o is NULL or readable.
        let o = unsafe { o.as_ref() }.unwrap_or(&defaults);
        let null = std::ptr::null_mut();
        if o.struct_size != std::mem::size_of::<aura_options_t>()
            || o._reserved.iter().any(|&r| r != 0)
            || !(0..=MAX_QUEUE_DEPTH).contains(&o.queue_depth)
            || !(0..=MAX_RINGS).contains(&o.ring_count)
            || !(0..=2).contains(&o.ring_select)
            || (o.buffer_alignment != 0 && !o.buffer_alignment.is_power_of_two())
            || o.max_p99_latency_ms.is_nan()
        {
            return fail(libc::EINVAL, null);
        }
        let qd = if o.queue_depth == 0 {
            DEFAULT_QUEUE_DEPTH
        } else {
            o.queue_depth
        } as u32;
        let initial = if o.initial_in_flight > 0 {
            (o.initial_in_flight as u32).min(qd)
        } else {
            c_initial_in_flight(qd)
        };
        let alignment = if o.buffer_alignment == 0 {
            page_size()
        } else {
            o.buffer_alignment
        };
        let mut opts = Options::new()
            .queue_depth(qd)
            .initial_in_flight(initial)
            .buffer_alignment(alignment);
        if o.ring_count > 0 {
            opts = opts.ring_count(o.ring_count as usize);
        } else if L::MULTI_THREAD {
            opts = opts.ring_count(auraio::raw::online_cpus().min(MAX_RINGS as usize));
        }
        let policy = match P::NAME {
            "cpu-local" => AURA_SELECT_CPU_LOCAL,
            "round-robin" => AURA_SELECT_ROUND_ROBIN,
            _ => AURA_SELECT_ADAPTIVE,
        };
        // The defaults (ADAPTIVE, not single-thread) ask for nothing in particular; only a
        // request this library cannot honour is noted.
        if o.ring_select != policy && o.ring_select != AURA_SELECT_ADAPTIVE {
            log::emit(
                log::NOTICE,
                &format!(
                    "auraio: ring_select {} asked, but this library was built for the {} preset; \
                     using its policy",
                    o.ring_select,
                    Engine::<P, L, T>::preset_name()
                ),
            );
        }
        if o.single_thread && L::MULTI_THREAD {
            log::emit(
                log::NOTICE,
                &format!(
                    "auraio: single_thread {} asked, but this library was built for the {} \
                     preset; using its lock mode",
                    o.single_thread,
                    Engine::<P, L, T>::preset_name()
                ),
            );
        }
        let engine = if o.enable_sqpoll {
            let idle = if o.sqpoll_idle_ms <= 0 {
                1000
            } else {
                o.sqpoll_idle_ms as u32
            };
            // SQPOLL needs privileges some systems refuse: fall back to ordinary rings.
            Engine::<P, L, T>::with_options(&opts.clone().sqpoll(idle))
                .or_else(|_| Engine::with_options(&opts))
        } else {
            Engine::with_options(&opts)
        };
        let engine = match engine {
            Ok(e) => e,
            Err(e) => return fail(errno_of(&e), null),
        };
        if o.disable_adaptive {
            engine.set_adaptive(false);
        }
        // The C contract bounds the adaptive limit by queue_depth (Rust's rings allow up to
        // their completion queue, twice that). qd is at least 1 here.
        let _ = engine.set_max_in_flight(qd);
        if o.min_in_flight > 0 {
            let _ = engine.set_min_in_flight(o.min_in_flight as u32);
        }
        if o.max_p99_latency_ms > 0.0 {
            let _ = engine.set_max_p99(Some(Duration::from_secs_f64(
                o.max_p99_latency_ms.min(1e9) / 1e3,
            )));
        }
        Box::into_raw(Box::new(CEngine::new(tag, engine, qd, alignment))).cast()
    }

    /// `aura_destroy`.
    ///
    /// # Safety
    ///
    /// The C contract: `e` is NULL or live, and not used afterwards.
    pub unsafe fn destroy(e: *mut aura_engine_t) {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return;
        };
        if auraio::raw::in_own_callbacks(&c.engine) {
            // Freeing here would free the engine under the poll that runs this callback.
            log::emit(
                log::ERR,
                "auraio: aura_destroy called from one of the engine's own callbacks; refused \
                 (EDEADLK), the engine is left as it was",
            );
            set_errno(libc::EDEADLK);
            return;
        }
        // Drain through a shared reference first: the callbacks it runs reach the engine
        // through shared references too (their completions' owner pointers), which a `&mut`
        // from Box::from_raw would invalidate.
        auraio::raw::shut_down(&c.engine);
        // SAFETY: made by Box::into_raw in create; the caller gives it up, and the drain above
        // left no callback that could still reach it.
        drop(unsafe { Box::from_raw(e.cast::<CEngine<P, L, T>>()) });
    }

    // ---- Requests ----

    /// `aura_cancel`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn cancel(e: *mut aura_engine_t, r: *mut aura_request_t) -> c_int {
        // SAFETY: per the contract.
        let (Some(c), Some(req)) = (unsafe { Self::eng(e) }, unsafe { Self::req(r) }) else {
            return fail(libc::EINVAL, -1);
        };
        if !req.pending.is_set() {
            return fail(libc::EALREADY, -1);
        }
        match c.engine.cancel(req.id()) {
            Ok(()) => 0,
            Err(err) => match errno_of(&err) {
                libc::ENOENT | libc::EINVAL => fail(libc::EALREADY, -1),
                libc::EAGAIN => fail(libc::EBUSY, -1),
                n => fail(n, -1),
            },
        }
    }

    /// `aura_request_pending`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn request_pending(r: *const aura_request_t) -> bool {
        // SAFETY: per the contract.
        unsafe { Self::req(r) }.is_some_and(|r| r.pending.is_set())
    }

    /// `aura_request_fd`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn request_fd(r: *const aura_request_t) -> c_int {
        // SAFETY: per the contract.
        match unsafe { Self::req(r) } {
            Some(r) => r.fd,
            None => fail(libc::EINVAL, -1),
        }
    }

    /// `aura_request_user_data`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn request_user_data(r: *const aura_request_t) -> *mut c_void {
        // SAFETY: per the contract.
        match unsafe { Self::req(r) } {
            Some(r) => r.user_data,
            None => fail(libc::EINVAL, std::ptr::null_mut()),
        }
    }

    /// `aura_request_op_type`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn request_op_type(r: *const aura_request_t) -> aura_op_type_t {
        // SAFETY: per the contract.
        unsafe { Self::req(r) }.map_or(-1, |r| r.op)
    }

    /// `aura_request_set_linked`: no ring-selection mode of these presets pins a thread to a
    /// ring, which linking needs, so it is refused (use a chain in Rust).
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn request_set_linked(_r: *mut aura_request_t) -> c_int {
        fail(libc::EINVAL, -1)
    }

    /// `aura_request_is_linked`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn request_is_linked(_r: *const aura_request_t) -> bool {
        false
    }

    // ---- Event loop ----

    /// `aura_get_poll_fd`. The first call turns on eventfd notifications.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn get_poll_fd(e: *const aura_engine_t) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        if !c.notify_on.is_set() {
            c.notify_on.store(true);
            c.engine.set_notifications(true);
        }
        use std::os::fd::AsRawFd;
        c.engine.as_raw_fd()
    }

    fn loop_result(r: std::io::Result<usize>) -> c_int {
        match r {
            Ok(n) => clamp_int(n as u64),
            Err(err) => fail(errno_of(&err), -1),
        }
    }

    /// `aura_poll`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn poll(e: *mut aura_engine_t) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return 0;
        };
        Self::loop_result(c.engine.poll())
    }

    /// `aura_wait`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn wait(e: *mut aura_engine_t, timeout_ms: c_int) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        let r = match timeout_ms {
            0 => c.engine.poll(),
            t if t < 0 => c.engine.wait(None),
            t => c.engine.wait(Some(Duration::from_millis(t as u64))),
        };
        Self::loop_result(r)
    }

    /// `aura_run`: runs until stopped, then until drained.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn run(e: *mut aura_engine_t) {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return;
        };
        if c.engine.run().is_ok() {
            // SAFETY: same engine.
            let _ = unsafe { Self::drain(e, -1) };
        }
    }

    /// `aura_stop`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn stop(e: *mut aura_engine_t) {
        // SAFETY: per the contract.
        if let Some(c) = unsafe { Self::eng(e) } {
            c.engine.stop();
        }
    }

    /// `aura_drain`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn drain(e: *mut aura_engine_t, timeout_ms: c_int) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        let r = match timeout_ms {
            0 => c.engine.poll(),
            t if t > 0 => c.engine.drain(Duration::from_millis(t as u64)),
            _ => {
                // No deadline: drain in bounded slices, forever if need be.
                let mut total = 0;
                loop {
                    match c.engine.drain(Duration::from_secs(1)) {
                        Ok(n) => break Ok(total + n),
                        Err(err) if err.kind() == std::io::ErrorKind::TimedOut => {
                            total += 1;
                        }
                        Err(err) => break Err(err),
                    }
                }
            }
        };
        Self::loop_result(r)
    }

    /// `aura_flush`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn flush(e: *mut aura_engine_t) -> c_int {
        // SAFETY: per the contract.
        match unsafe { Self::eng(e) } {
            Some(c) => {
                auraio::raw::flush(&c.engine);
                0
            }
            None => fail(libc::EINVAL, -1),
        }
    }

    /// `aura_pending_count`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn pending_count(e: *const aura_engine_t) -> c_int {
        // SAFETY: per the contract.
        unsafe { Self::eng(e) }.map_or(-1, |c| clamp_int(c.engine.pending()))
    }

    // ---- Managed buffers ----

    /// `aura_buffer_alloc`: each buffer is its own `posix_memalign` block, so a C++ `Buffer`
    /// that outlives the engine can give it back with `free()`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn buffer_alloc(e: *mut aura_engine_t, size: usize) -> *mut c_void {
        let null = std::ptr::null_mut();
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, null);
        };
        if size == 0 || size > MAX_BUFFER {
            return fail(libc::EINVAL, null);
        }
        let mut p = null;
        let align = c.alignment.max(std::mem::size_of::<*mut c_void>());
        // SAFETY: p is a valid out-pointer; align is a power of two multiple of the pointer
        // size.
        if unsafe { libc::posix_memalign(&mut p, align, size) } != 0 || p.is_null() {
            return fail(libc::ENOMEM, null);
        }
        c.pool_bytes.add(class_of(size));
        c.pool_buffers.add(1);
        p
    }

    /// `aura_buffer_free`.
    ///
    /// # Safety
    ///
    /// The C contract: `buf` came from `aura_buffer_alloc(e, size)`.
    pub unsafe fn buffer_free(e: *mut aura_engine_t, buf: *mut c_void, size: usize) {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return;
        };
        if buf.is_null() {
            return;
        }
        // SAFETY: per the contract, a block from posix_memalign not freed yet.
        unsafe { libc::free(buf) };
        c.pool_bytes.sub(class_of(size));
        c.pool_buffers.sub(1);
    }

    // ---- Registration ----

    /// `aura_register_buffers`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn register_buffers(
        e: *mut aura_engine_t,
        iovs: *const iovec,
        count: c_int,
    ) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        if iovs.is_null() || count <= 0 {
            return fail(libc::EINVAL, -1);
        }
        // SAFETY: count readable iovecs, per the contract.
        let v = unsafe { std::slice::from_raw_parts(iovs, count as usize) };
        // SAFETY: the caller keeps the memory valid until it unregisters or destroys the
        // engine (the contract). The slices the C layer takes live only inside a request (a
        // CFixed is dropped with its completion, or at once when the submission fails), so
        // none outlives the registration; the synchronous unregister returns once the last
        // one is back. What a destroy past its drain bound leaks is held for the process's
        // life, as every buffer of a request the kernel still holds (logged).
        match unsafe { auraio::raw::register_buffers(&c.engine, v) } {
            Ok(()) => 0,
            Err(err) => fail(errno_of(&err), -1),
        }
    }

    /// `aura_request_unregister_buffers`: the engine's deferred unregister (it finishes when
    /// the last fixed-buffer request is back, at a later poll, wait or run round).
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn request_unregister_buffers(e: *mut aura_engine_t) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        match c.engine.unregister_buffers() {
            // Nothing registered is success in the contract.
            Err(err) if err.raw_os_error() != Some(libc::ENXIO) => fail(errno_of(&err), -1),
            _ => 0,
        }
    }

    /// `aura_unregister_buffers`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn unregister_buffers(e: *mut aura_engine_t) -> c_int {
        // SAFETY: per the contract.
        let r = unsafe { Self::request_unregister_buffers(e) };
        if r != 0 || auraio::raw::in_any_callback() {
            return r;
        }
        // SAFETY: non-null, checked by request_unregister_buffers.
        let c = unsafe { Self::eng(e) }.expect("checked above");
        // Polls instead of waiting: another thread may be the engine's poller (`aura_run`),
        // and a wait would block on it until it stops; its rounds finish the unregister once
        // the last fixed-buffer request is back, and so do this loop's polls.
        while c.engine.buffers_registered() {
            match c.engine.poll() {
                Ok(0) => std::thread::sleep(Duration::from_millis(1)),
                Ok(_) => {}
                Err(err) => return fail(errno_of(&err), -1),
            }
        }
        0
    }

    /// `aura_register_files`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn register_files(e: *mut aura_engine_t, fds: *const c_int, count: c_int) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        if fds.is_null() || count <= 0 {
            return fail(libc::EINVAL, -1);
        }
        // SAFETY: count readable ints, per the contract.
        let fds = unsafe { std::slice::from_raw_parts(fds, count as usize) };
        match c.engine.register_files(fds) {
            Ok(()) => 0,
            Err(err) => fail(errno_of(&err), -1),
        }
    }

    /// `aura_update_file`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn update_file(e: *mut aura_engine_t, index: c_int, fd: c_int) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        if index < 0 || fd < -1 {
            return fail(libc::EINVAL, -1);
        }
        match c.engine.update_file(index as u32, fd) {
            Ok(()) => 0,
            Err(err) => match errno_of(&err) {
                libc::ENXIO => fail(libc::ENOENT, -1),
                n => fail(n, -1),
            },
        }
    }

    /// `aura_request_unregister_files`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn request_unregister_files(e: *mut aura_engine_t) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        match c.engine.unregister_files() {
            Ok(()) => 0,
            Err(err) => match errno_of(&err) {
                libc::ENXIO => 0,
                n => fail(n, -1),
            },
        }
    }

    /// `aura_unregister_files`: the engine defers the kernel-side unregister until requests
    /// using the slots complete; later operations stop using the slots at once.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn unregister_files(e: *mut aura_engine_t) -> c_int {
        // SAFETY: same contract.
        unsafe { Self::request_unregister_files(e) }
    }

    /// `aura_unregister`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn unregister(e: *mut aura_engine_t, t: aura_reg_type_t) -> c_int {
        // SAFETY: same contract.
        unsafe {
            match t {
                AURA_REG_BUFFERS => Self::unregister_buffers(e),
                AURA_REG_FILES => Self::unregister_files(e),
                _ => fail(libc::EINVAL, -1),
            }
        }
    }

    /// `aura_request_unregister`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn request_unregister(e: *mut aura_engine_t, t: aura_reg_type_t) -> c_int {
        // SAFETY: same contract.
        unsafe {
            match t {
                AURA_REG_BUFFERS => Self::request_unregister_buffers(e),
                AURA_REG_FILES => Self::request_unregister_files(e),
                _ => fail(libc::EINVAL, -1),
            }
        }
    }

    // ---- Runtime control ----

    /// `aura_set_max_p99_latency`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn set_max_p99_latency(e: *mut aura_engine_t, latency_ms: f64) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        if !latency_ms.is_finite() || latency_ms < 0.0 {
            return fail(libc::EINVAL, -1);
        }
        let target = if latency_ms == 0.0 {
            None
        } else {
            match Duration::try_from_secs_f64(latency_ms / 1e3) {
                Ok(d) => Some(d),
                // Past what a Duration holds (about 5.8e11 years): no meaningful ceiling.
                Err(_) => return fail(libc::EINVAL, -1),
            }
        };
        match c.engine.set_max_p99(target) {
            Ok(()) => 0,
            Err(err) => fail(errno_of(&err), -1),
        }
    }

    /// `aura_set_min_in_flight`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn set_min_in_flight(e: *mut aura_engine_t, n: c_int) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        if n < 1 || n as u32 > c.queue_depth {
            return fail(libc::EINVAL, -1);
        }
        match c.engine.set_min_in_flight(n as u32) {
            Ok(()) => 0,
            Err(err) => fail(errno_of(&err), -1),
        }
    }

    /// `aura_set_batch_threshold`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn set_batch_threshold(e: *mut aura_engine_t, n: c_int) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        let pin = match n {
            -1 => None,
            n if n > 0 => Some(n as u32),
            _ => return fail(libc::EINVAL, -1),
        };
        match c.engine.set_batch_threshold(pin) {
            Ok(()) => 0,
            Err(err) => fail(errno_of(&err), -1),
        }
    }

    /// `aura_set_async_issue`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn set_async_issue(e: *mut aura_engine_t, on: bool) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        c.engine.set_async_issue(on);
        0
    }

    /// `aura_get_fatal_error`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn get_fatal_error(e: *const aura_engine_t) -> c_int {
        // SAFETY: per the contract.
        match unsafe { Self::eng(e) } {
            Some(c) => c.engine.fatal_error().map_or(0, |e| errno_of(&e)),
            None => fail(libc::EINVAL, -1),
        }
    }

    /// `aura_in_callback_context`.
    ///
    /// # Safety
    ///
    /// None beyond the C contract.
    pub unsafe fn in_callback_context() -> bool {
        auraio::raw::in_any_callback()
    }

    // ---- Observability ----

    /// `aura_get_stats`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn get_stats(e: *const aura_engine_t, out: *mut aura_stats_t) {
        // SAFETY: per the contract.
        let (Some(c), Some(out)) = (unsafe { Self::eng(e) }, unsafe { out.as_mut() }) else {
            return;
        };
        let s = c.engine.stats();
        let n = s.rings.len().max(1) as u64;
        *out = aura_stats_t {
            ops_completed: s.ops_completed as i64,
            bytes_transferred: s.bytes_transferred as i64,
            current_throughput_bps: s.rings.iter().map(|r| r.bytes_per_sec).sum(),
            p99_latency_ms: ms(s.p99_ns()),
            current_in_flight: clamp_int(s.in_flight + s.backlog),
            optimal_in_flight: clamp_int(s.in_flight_limit()),
            peak_in_flight: clamp_int(s.rings.iter().map(|r| u64::from(r.peak_in_flight)).sum()),
            optimal_batch_size: clamp_int(
                s.rings
                    .iter()
                    .map(|r| u64::from(r.batch_threshold))
                    .sum::<u64>()
                    / n,
            ),
            adaptive_spills: s.adaptive_spills,
            ..Default::default()
        };
    }

    /// `aura_get_ring_count`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn get_ring_count(e: *const aura_engine_t) -> c_int {
        // SAFETY: per the contract.
        unsafe { Self::eng(e) }.map_or(0, |c| clamp_int(c.engine.ring_count() as u64))
    }

    /// `aura_get_ring_stats`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn get_ring_stats(
        e: *const aura_engine_t,
        i: c_int,
        out: *mut aura_ring_stats_t,
    ) -> c_int {
        // SAFETY: per the contract.
        let (Some(c), Some(out)) = (unsafe { Self::eng(e) }, unsafe { out.as_mut() }) else {
            return -1;
        };
        *out = aura_ring_stats_t::default();
        let Some(r) = usize::try_from(i)
            .ok()
            .and_then(|i| c.engine.ring_stats(i).ok())
        else {
            return -1;
        };
        *out = aura_ring_stats_t {
            ops_completed: r.ops_completed as i64,
            bytes_transferred: r.bytes_transferred as i64,
            pending_count: clamp_int(u64::from(r.in_flight) + u64::from(r.backlog)),
            peak_in_flight: clamp_int(u64::from(r.peak_in_flight)),
            in_flight_limit: clamp_int(u64::from(r.in_flight_limit)),
            batch_threshold: clamp_int(u64::from(r.batch_threshold)),
            p99_latency_ms: ms(r.p99_ns),
            throughput_bps: r.bytes_per_sec,
            aimd_phase: c_phase(r.phase),
            queue_depth: clamp_int(u64::from(c.queue_depth)),
            ..Default::default()
        };
        0
    }

    /// `aura_get_histogram`: the ring's latency samples since creation, mapped onto the
    /// contract's 200 buckets of 50 µs (each internal bucket, 3% wide, goes where its lower
    /// edge falls).
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn get_histogram(
        e: *const aura_engine_t,
        i: c_int,
        out: *mut aura_histogram_t,
    ) -> c_int {
        // SAFETY: per the contract.
        let (Some(c), Some(out)) = (unsafe { Self::eng(e) }, unsafe { out.as_mut() }) else {
            return -1;
        };
        *out = aura_histogram_t::default();
        let Some((_, h)) = usize::try_from(i)
            .ok()
            .and_then(|i| c.engine.histogram(i).ok())
        else {
            return -1;
        };
        let width_ns = AURA_HISTOGRAM_BUCKET_WIDTH_US as u64 * 1000;
        let n = AURA_HISTOGRAM_BUCKETS as usize;
        let sat = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        for (low, _high, count) in h.buckets() {
            let idx = (low / width_ns) as usize;
            let slot = if idx < n {
                &mut out.buckets[idx]
            } else {
                &mut out.overflow
            };
            *slot = slot.saturating_add(sat(count));
        }
        out.total_count = sat(h.count());
        out.bucket_width_us = AURA_HISTOGRAM_BUCKET_WIDTH_US;
        out.max_tracked_us = AURA_HISTOGRAM_BUCKET_WIDTH_US * AURA_HISTOGRAM_BUCKETS;
        0
    }

    /// `aura_get_buffer_stats`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn get_buffer_stats(
        e: *const aura_engine_t,
        out: *mut aura_buffer_stats_t,
    ) -> c_int {
        // SAFETY: per the contract.
        let (Some(c), Some(out)) = (unsafe { Self::eng(e) }, unsafe { out.as_mut() }) else {
            return -1;
        };
        *out = aura_buffer_stats_t {
            total_allocated_bytes: c.pool_bytes.get() as usize,
            total_buffers: c.pool_buffers.get() as usize,
            // Each buffer is its own allocator block: the allocator's arenas are the shards.
            shard_count: 1,
            ..Default::default()
        };
        0
    }

    /// `aura_phase_name`.
    ///
    /// # Safety
    ///
    /// None beyond the C contract.
    pub unsafe fn phase_name(phase: c_int) -> *const c_char {
        let s: &'static CStr = match phase {
            AURA_PHASE_BASELINE => c"BASELINE",
            AURA_PHASE_PROBING => c"PROBING",
            AURA_PHASE_STEADY => c"STEADY",
            AURA_PHASE_BACKOFF => c"BACKOFF",
            AURA_PHASE_SETTLING => c"SETTLING",
            AURA_PHASE_CONVERGED => c"CONVERGED",
            _ => c"UNKNOWN",
        };
        s.as_ptr()
    }

    /// `aura_histogram_percentile`: the upper edge of the bucket holding the percentile, in
    /// ms (the maximum tracked latency if it falls in the overflow).
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn histogram_percentile(h: *const aura_histogram_t, p: f64) -> f64 {
        // SAFETY: per the contract.
        let Some(h) = (unsafe { h.as_ref() }) else {
            return -1.0;
        };
        let total: u64 =
            h.buckets.iter().map(|&b| u64::from(b)).sum::<u64>() + u64::from(h.overflow);
        if total == 0 || !(0.0..=100.0).contains(&p) {
            return -1.0;
        }
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let width = f64::from(h.bucket_width_us.max(1));
        let mut seen = 0;
        for (i, &b) in h.buckets.iter().enumerate() {
            seen += u64::from(b);
            if seen >= rank {
                return (i as f64 + 1.0) * width / 1e3;
            }
        }
        f64::from(h.max_tracked_us) / 1e3
    }

    /// `aura_histogram_bucket_upper_bound_us`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn histogram_bucket_upper_bound_us(
        h: *const aura_histogram_t,
        bucket: c_int,
    ) -> c_int {
        // SAFETY: per the contract.
        match unsafe { h.as_ref() } {
            Some(h) if (0..AURA_HISTOGRAM_BUCKETS).contains(&bucket) => {
                (bucket + 1) * h.bucket_width_us
            }
            _ => 0,
        }
    }

    /// Writes `text` and a NUL into `buf`: the bytes written, or minus the size needed with
    /// ENOBUFS when `buf` is NULL or too small.
    ///
    /// # Safety
    ///
    /// `buf` is NULL or writable for `size` bytes.
    unsafe fn export(text: &str, buf: *mut c_char, size: usize) -> c_int {
        let need = text.len() + 1;
        if buf.is_null() || size < need {
            return fail(libc::ENOBUFS, -clamp_int(need as u64));
        }
        // SAFETY: buf has room for `need` bytes (checked above); the text has no NUL inside.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
            *buf.add(text.len()) = 0;
        }
        clamp_int(text.len() as u64)
    }

    /// `aura_metrics_prometheus`.
    ///
    /// # Safety
    ///
    /// The C contract: `buf` is NULL or writable for `size` bytes.
    pub unsafe fn metrics_prometheus(
        e: *const aura_engine_t,
        buf: *mut c_char,
        size: usize,
    ) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        let text = auraio::prometheus::text(&auraio::metrics::Snapshot::of(&c.engine));
        // SAFETY: per the contract.
        unsafe { Self::export(&text, buf, size) }
    }

    /// `aura_metrics_otel`.
    ///
    /// # Safety
    ///
    /// The C contract: `buf` is NULL or writable for `size` bytes.
    pub unsafe fn metrics_otel(e: *const aura_engine_t, buf: *mut c_char, size: usize) -> c_int {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { Self::eng(e) }) else {
            return fail(libc::EINVAL, -1);
        };
        let doc = auraio::otel::document(
            &auraio::metrics::Snapshot::of(&c.engine),
            c.started_ns,
            "auraio",
        );
        // SAFETY: per the contract.
        unsafe { Self::export(&doc.to_string(), buf, size) }
    }

    // ---- Logging and version ----

    /// `aura_set_log_handler`.
    ///
    /// # Safety
    ///
    /// The C contract.
    pub unsafe fn set_log_handler(handler: aura_log_fn, userdata: *mut c_void) {
        log::set_handler(handler, userdata);
    }

    /// `aura_syslog_install`.
    ///
    /// # Safety
    ///
    /// The C contract: `ident` is NULL or a NUL-terminated string.
    pub unsafe fn syslog_install(ident: *const c_char, facility: c_int) -> c_int {
        let ident = if ident.is_null() {
            "auraio".to_string()
        } else {
            // SAFETY: per the contract.
            unsafe { CStr::from_ptr(ident) }
                .to_string_lossy()
                .into_owned()
        };
        match log::syslog_install(&ident, facility) {
            Ok(()) => 0,
            Err(err) => fail(errno_of(&err), -1),
        }
    }

    /// `aura_syslog_remove`.
    ///
    /// # Safety
    ///
    /// None beyond the C contract.
    pub unsafe fn syslog_remove() {
        log::syslog_remove();
    }

    /// `aura_version`.
    ///
    /// # Safety
    ///
    /// None beyond the C contract.
    pub unsafe fn version() -> *const c_char {
        AURA_VERSION_STRING.as_ptr()
    }

    /// `aura_version_int`.
    ///
    /// # Safety
    ///
    /// None beyond the C contract.
    pub unsafe fn version_int() -> c_int {
        AURA_VERSION
    }
}
