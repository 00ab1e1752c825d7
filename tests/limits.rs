//! The in-flight bounds a user sets (`set_max_in_flight`, `set_min_in_flight`) hold on a real
//! ring while the controller adapts: reads kept queued far past the bound never have more in
//! flight than it allows.

mod common;

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use auraio::{LocalEngine, Options};
use common::TestFile;

const BLOCK: u64 = 4096;
const BLOCKS: u64 = 256;

/// Keeps `queued` reads submitted for `run` (the controller ticks and adapts meanwhile);
/// returns how many completed, each checked for a full block.
fn keep_reading(engine: &LocalEngine, fd: i32, queued: u32, run: Duration) -> u64 {
    let done = Rc::new(Cell::new(0u64));
    let mut submitted = 0u64;
    let end = Instant::now() + run;
    while Instant::now() < end {
        while engine.pending() < u64::from(queued) {
            let d = done.clone();
            let off = (submitted * 7 % BLOCKS) * BLOCK;
            engine
                .read(fd, vec![0u8; BLOCK as usize], off, move |r, _| {
                    assert_eq!(r.unwrap(), BLOCK as usize);
                    d.set(d.get() + 1);
                })
                .unwrap();
            submitted += 1;
        }
        engine.wait(Some(Duration::from_millis(100))).unwrap();
    }
    engine.drain(Duration::from_secs(10)).unwrap();
    assert_eq!(done.get(), submitted, "every read completed once");
    done.get()
}

#[test]
fn a_maximum_bounds_the_adaptive_limit_and_a_minimum_raises_it() {
    let f = TestFile::new(
        Path::new("/dev/shm"),
        "limits",
        (BLOCK * BLOCKS) as usize,
        false,
    );
    let engine =
        LocalEngine::with_options(&Options::new().queue_depth(128).initial_in_flight(64)).unwrap();
    assert_eq!(
        engine.set_max_in_flight(0).unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );

    engine.set_max_in_flight(3).unwrap();
    let s = engine.ring_stats(0).unwrap();
    assert_eq!(
        s.in_flight_limit, 3,
        "the start limit 64 drops to the bound at once"
    );
    keep_reading(&engine, f.fd(), 64, Duration::from_millis(400));
    let s = engine.ring_stats(0).unwrap();
    assert!(s.adaptive);
    assert!(s.in_flight_limit <= 3, "limit {}", s.in_flight_limit);
    assert!(
        s.peak_in_flight <= 3,
        "peak {} over the bound",
        s.peak_in_flight
    );

    // A minimum over the maximum is capped by it; raising the maximum restores the minimum.
    engine.set_min_in_flight(8).unwrap();
    assert!(engine.ring_stats(0).unwrap().in_flight_limit <= 3);
    engine.set_max_in_flight(1_000_000).unwrap();
    keep_reading(&engine, f.fd(), 64, Duration::from_millis(200));
    let s = engine.ring_stats(0).unwrap();
    assert!(
        s.in_flight_limit >= 8,
        "limit {} under the minimum",
        s.in_flight_limit
    );
    assert!(
        s.in_flight_limit <= s.cq_entries,
        "limit {}",
        s.in_flight_limit
    );

    // A static limit is the user's explicit choice: the adaptive bound does not cut it,
    // whichever comes first.
    engine.set_max_in_flight(2).unwrap();
    engine.set_in_flight_limit(16).unwrap();
    assert_eq!(engine.ring_stats(0).unwrap().in_flight_limit, 16);
    engine.set_in_flight_limit(12).unwrap();
    engine.set_max_in_flight(4).unwrap();
    let s = engine.ring_stats(0).unwrap();
    assert_eq!(s.in_flight_limit, 12);
    assert!(!s.adaptive);
    // Adaptation on again: within the bound at once.
    engine.set_adaptive(true);
    assert!(engine.ring_stats(0).unwrap().in_flight_limit <= 4);
}
