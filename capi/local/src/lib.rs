//! `libauraio_local`: the C ABI of auraio for `Engine<CpuLocal, SingleThread>`: no mutex and
//! no atomic read-modify-write inside the engine. Linking it is the promise that one thread
//! does all submitting and polling (the C option `single_thread`, made at link time).

auraio_macros::c_abi!(Engine<CpuLocal, SingleThread>);
