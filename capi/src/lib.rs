//! `libauraio`: the C ABI of auraio over every engine preset. `aura_create_with_options`
//! picks the preset from `ring_select` (Adaptive, CpuLocal, RoundRobin) and `single_thread`
//! (SingleThread, else MultiThread), as the C contract says; each later call dispatches once,
//! on the handle's preset, into that preset's monomorphized code. The first listed is the
//! default (`aura_create`). Build the C libraries with `make -C capi`.

auraio_macros::c_abi!(
    Engine<Adaptive, MultiThread>,
    Engine<CpuLocal, MultiThread>,
    Engine<RoundRobin, MultiThread>,
    Engine<Adaptive, SingleThread>,
    Engine<CpuLocal, SingleThread>,
    Engine<RoundRobin, SingleThread>,
);
