use auraio::Tuning;

auraio::tuning! {
    /// Network storage preset.
    pub Network { TICK_MS = 50, BACKOFF_PERMILLE = 900, MAX_IN_FLIGHT = 1024 }
}

fn main() {
    assert_eq!(Network::TICK_MS, 50);
    assert_eq!(Network::MIN_IN_FLIGHT, 1);
    let e = auraio::Engine::<auraio::CpuLocal, auraio::SingleThread, Network>::new().unwrap();
    assert_eq!(e.ring_count(), 1);
}
