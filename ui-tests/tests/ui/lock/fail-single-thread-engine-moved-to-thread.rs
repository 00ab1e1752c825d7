fn main() {
    let engine = auraio::LocalEngine::new().unwrap();
    std::thread::spawn(move || engine.poll()).join().unwrap().unwrap();
}
