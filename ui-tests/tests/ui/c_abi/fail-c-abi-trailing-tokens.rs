auraio_macros::c_abi!(Engine<Adaptive, MultiThread> and more);

fn main() {}
