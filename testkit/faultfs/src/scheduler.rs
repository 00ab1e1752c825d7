//! Answers that are not sent at once: delayed ones (a timer thread sends them when due),
//! stalled ones (held until the test releases them) and the served-concurrency model's queue.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Sends one answer: `None` as scripted, `Some(errno)` fails the request instead (the mount is
/// going away).
pub(crate) type Job = Box<dyn FnOnce(Option<i32>) + Send>;

struct Timed {
    due: Instant,
    seq: u64,
    job: Job,
}

impl PartialEq for Timed {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Timed {}
impl PartialOrd for Timed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

#[derive(Default)]
struct State {
    timed: BinaryHeap<Reverse<Timed>>,
    stalled: Vec<Job>,
    seq: u64,
    closing: bool,
    /// When each server of the served-concurrency model is next free.
    servers: Vec<Instant>,
}

pub(crate) struct Scheduler {
    state: Mutex<State>,
    wake: Condvar,
}

impl Scheduler {
    /// A scheduler with `servers` servers for the concurrency model (0: no model), and its
    /// timer thread.
    pub(crate) fn start(servers: usize) -> (Arc<Scheduler>, JoinHandle<()>) {
        let s = Arc::new(Scheduler {
            state: Mutex::new(State {
                servers: vec![Instant::now(); servers],
                ..State::default()
            }),
            wake: Condvar::new(),
        });
        let t = Arc::clone(&s);
        let timer = std::thread::Builder::new()
            .name("faultfs-timer".into())
            .spawn(move || t.run())
            .expect("spawn the faultfs timer thread");
        (s, timer)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `job` at `due` (at once if that has passed).
    pub(crate) fn at(&self, due: Instant, job: Job) {
        let mut st = self.lock();
        if st.closing {
            drop(st);
            return job(Some(libc::EIO));
        }
        st.seq += 1;
        let seq = st.seq;
        st.timed.push(Reverse(Timed { due, seq, job }));
        drop(st);
        self.wake.notify_one();
    }

    /// Holds `job` until [`Scheduler::release`].
    pub(crate) fn stall(&self, job: Job) {
        let mut st = self.lock();
        if st.closing {
            drop(st);
            return job(Some(libc::EIO));
        }
        st.stalled.push(job);
    }

    /// Sends every held answer as scripted; returns how many there were.
    pub(crate) fn release(&self) -> usize {
        let held = std::mem::take(&mut self.lock().stalled);
        let n = held.len();
        held.into_iter().for_each(|j| j(None));
        n
    }

    /// How many answers are held.
    pub(crate) fn stalled(&self) -> usize {
        self.lock().stalled.len()
    }

    /// When a request arriving now finishes under the served-concurrency model: first come,
    /// first served by the earliest free of the servers, each taking `service` per request.
    /// Without a model, now.
    pub(crate) fn service_done(&self, service: Duration) -> Instant {
        let now = Instant::now();
        let mut st = self.lock();
        let Some(free) = st.servers.iter_mut().min() else {
            return now;
        };
        let done = (*free).max(now) + service;
        *free = done;
        done
    }

    /// Fails every pending answer with EIO and stops the timer thread.
    pub(crate) fn close(&self) {
        let (timed, stalled) = {
            let mut st = self.lock();
            st.closing = true;
            (
                std::mem::take(&mut st.timed),
                std::mem::take(&mut st.stalled),
            )
        };
        self.wake.notify_all();
        for Reverse(t) in timed {
            (t.job)(Some(libc::EIO));
        }
        stalled.into_iter().for_each(|j| j(Some(libc::EIO)));
    }

    fn run(&self) {
        let mut st = self.lock();
        loop {
            if st.closing {
                return;
            }
            let now = Instant::now();
            match st.timed.peek() {
                Some(Reverse(t)) if t.due <= now => {
                    let Some(Reverse(t)) = st.timed.pop() else {
                        continue;
                    };
                    drop(st);
                    (t.job)(None);
                    st = self.lock();
                }
                Some(Reverse(t)) => {
                    let wait = t.due - now;
                    st = self
                        .wake
                        .wait_timeout(st, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                None => {
                    // Woken by `at` or `close` (both notify after changing the state under this
                    // lock, so no wake is missed); the bound keeps every wait finite.
                    let wait = Duration::from_millis(100);
                    st = self
                        .wake
                        .wait_timeout(st, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn the_model_queues_requests_beyond_its_servers() {
        let (s, timer) = Scheduler::start(2);
        let t = Duration::from_millis(10);
        let start = Instant::now();
        let done: Vec<Duration> = (0..4).map(|_| s.service_done(t) - start).collect();
        // Two served at once, the next two behind them.
        assert!(done[0] >= t && done[1] >= t && done[0] < 2 * t && done[1] < 2 * t);
        assert!(done[2] >= 2 * t && done[3] >= 2 * t);
        s.close();
        timer.join().unwrap();
    }

    #[test]
    fn delayed_answers_go_in_due_order_and_close_fails_the_rest() {
        let (s, timer) = Scheduler::start(0);
        let (tx, rx) = mpsc::channel();
        let now = Instant::now();
        for (i, ms) in [(0u32, 30u64), (1, 10), (2, 3_600_000)] {
            let tx = tx.clone();
            s.at(
                now + Duration::from_millis(ms),
                Box::new(move |e| tx.send((i, e)).unwrap()),
            );
        }
        let held = tx.clone();
        s.stall(Box::new(move |e| held.send((9, e)).unwrap()));
        assert_eq!(rx.recv().unwrap(), (1, None));
        assert_eq!(rx.recv().unwrap(), (0, None));
        assert_eq!(s.stalled(), 1);
        s.close();
        let mut rest = vec![rx.recv().unwrap(), rx.recv().unwrap()];
        rest.sort();
        assert_eq!(rest, [(2, Some(libc::EIO)), (9, Some(libc::EIO))]);
        timer.join().unwrap();
    }
}
