auraio_macros::c_abi!(Engine<Adaptive>);

fn main() {}
