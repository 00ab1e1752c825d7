fn require_send<T: Send>(_: &T) {}

fn main() {
    let engine = auraio::LocalEngine::new().unwrap();
    require_send(&engine);
}
