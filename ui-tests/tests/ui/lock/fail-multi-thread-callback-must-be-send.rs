use std::rc::Rc;

fn main() {
    let engine = auraio::SharedEngine::new().unwrap();
    let not_send = Rc::new(0);
    let _ = engine.fsync(0, move |_, ()| drop(not_send));
}
