// A library of two presets: the options choose one at create, and every later call
// dispatches on the handle's preset.
auraio_macros::c_abi!(Engine<Adaptive, MultiThread>, Engine<RoundRobin, SingleThread>);

fn main() {
    assert_eq!(
        PRESET,
        "Adaptive/MultiThread/DefaultTuning, RoundRobin/SingleThread/DefaultTuning"
    );
    let mut o = core::mem::MaybeUninit::<auraio_capi_abi::types::aura_options_t>::zeroed();
    // SAFETY: a writable options struct.
    unsafe { aura_options_init(o.as_mut_ptr()) };
    // SAFETY: initialised just above.
    let mut o = unsafe { o.assume_init() };
    o.ring_count = 3;
    o.ring_select = auraio_capi_abi::types::AURA_SELECT_ROUND_ROBIN;
    o.single_thread = true;
    // SAFETY: valid options.
    let e = unsafe { aura_create_with_options(&o) };
    assert!(!e.is_null());
    assert_eq!(unsafe { aura_get_ring_count(e) }, 3);
    unsafe { aura_destroy(e) };
    // No preset of this library is CpuLocal: the default serves (and notes it).
    o.ring_select = auraio_capi_abi::types::AURA_SELECT_CPU_LOCAL;
    o.single_thread = false;
    let e = unsafe { aura_create_with_options(&o) };
    assert!(!e.is_null());
    unsafe { aura_destroy(e) };
}
