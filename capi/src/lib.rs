//! `libauraio`: the C ABI of auraio for the default preset, `Engine<Adaptive, MultiThread>`
//! (any thread submits, one polls at a time). Build the C libraries with `make -C capi`.

auraio_macros::c_abi!(Engine<Adaptive, MultiThread>);
