// Two presets that differ only in their tuning: the C options (`ring_select`,
// `single_thread`) could not choose between them.
auraio::tuning! {
    pub Slow { TICK_MS = 50 }
}

auraio_macros::c_abi!(Engine<Adaptive, MultiThread>, Engine<Adaptive, MultiThread, Slow>);

fn main() {}
