// A hand-written impl skips the macro's check; the engine checks again when instantiated.
enum Sneaky {}
impl auraio::Tuning for Sneaky {
    const BATCH_MIN: u32 = 0;
}

fn main() {
    let _ = auraio::Engine::<auraio::CpuLocal, auraio::SingleThread, Sneaky>::new();
}
