// A library for a preset of one's own: round-robin rings, multi-thread, a custom tuning. The
// header and the symbols come out of one invocation.
auraio::tuning! {
    /// Slow network storage.
    pub Network { TICK_MS = 50, MAX_IN_FLIGHT = 1024 }
}

auraio_macros::c_abi!(Engine<RoundRobin, MultiThread, Network>);

fn main() {
    assert!(AURAIO_H.contains("AURA_API AURA_WARN_UNUSED aura_request_t *aura_read("));
    assert!(AURAIO_H.contains("RoundRobin/MultiThread/Network"));
    assert_eq!(PRESET, "RoundRobin/MultiThread/Network");
    // The generated symbols are real functions with the C signatures.
    let version: unsafe extern "C" fn() -> core::ffi::c_int = aura_version_int;
    assert_eq!(unsafe { version() }, 200);
    // SAFETY: NULL options request the defaults.
    let e = unsafe { aura_create_with_options(std::ptr::null()) };
    assert!(!e.is_null());
    assert!(unsafe { aura_get_ring_count(e) } >= 1);
    unsafe { aura_destroy(e) };
}
