auraio_macros::c_abi!(Engine<Adaptive, Sometimes>);

fn main() {}
