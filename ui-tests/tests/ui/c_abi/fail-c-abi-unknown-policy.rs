auraio_macros::c_abi!(Engine<Fastest, MultiThread>);

fn main() {}
