use std::rc::Rc;
use std::sync::Arc;

fn require_send_sync<T: Send + Sync>(_: &T) {}

fn main() {
    let shared = Arc::new(auraio::SharedEngine::new().unwrap());
    require_send_sync(&*shared);
    let s = shared.clone();
    std::thread::spawn(move || s.poll().unwrap()).join().unwrap();

    // A single-thread engine accepts callbacks that are not Send.
    let local = auraio::LocalEngine::new().unwrap();
    let rc = Rc::new(0);
    local.fsync(-1, move |_, ()| drop(rc)).unwrap();
    local.drain(std::time::Duration::from_secs(1)).unwrap();
}
