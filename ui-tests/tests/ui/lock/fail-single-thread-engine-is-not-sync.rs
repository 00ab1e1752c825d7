fn require_sync<T: Sync>(_: &T) {}

fn main() {
    let engine = auraio::Engine::<auraio::RoundRobin, auraio::SingleThread>::new().unwrap();
    require_sync(&engine);
}
