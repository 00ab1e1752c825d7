//! A watchdog for tests that could hang: the process fails with evidence instead.

use crate::abort_all;

/// A deadline for a test that could hang: unless dropped within `secs`, prints `what` and the
/// state `dump` gives (an engine's state dump, for instance), then
/// exits the test process with a failure. A lost wakeup thus fails with its evidence instead
/// of hanging CI.
pub struct Deadline {
    done: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Deadline {
    /// Starts the watchdog.
    pub fn new(what: &str, secs: u64, dump: impl Fn() -> String + Send + 'static) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let what = what.to_owned();
        let thread = std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                rx.recv_timeout(std::time::Duration::from_secs(secs))
            {
                eprintln!(
                    "DEADLINE: {what} did not finish within {secs} s\n{}",
                    dump()
                );
                // A thread blocked on this process's own fault filesystem would keep the
                // process from exiting: fail those requests first.
                abort_all();
                std::process::exit(3);
            }
        });
        Deadline {
            done: Some(tx),
            thread: Some(thread),
        }
    }

    /// A deadline with no engine to dump (single-thread engines cannot be reached from the
    /// watchdog thread).
    pub fn plain(what: &str, secs: u64) -> Self {
        Self::new(what, secs, || String::from("(no state dump for this test)"))
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
