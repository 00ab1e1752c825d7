//! Every preset (policy x lock mode) does 10,000 random 4 KiB reads from a real file, each
//! checked byte for byte against pread(2), with a bounded number in flight, plus a burst of
//! 4x the queue depth submitted at once.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{locations, pread, TestFile};

const FILE_LEN: usize = 8 << 20;
const READS: usize = 10_000;
const BLOCK: usize = 4096;

macro_rules! preset_tests {
    ($($name:ident => $policy:ty, $lock:ty;)*) => {$(
        mod $name {
            use super::*;
            type E = auraio::Engine<$policy, $lock>;

            #[test]
            fn ten_thousand_random_reads_match_pread() {
                for (place, dir) in locations() {
                    let f = TestFile::new(&dir, "presets", FILE_LEN, false);
                    let expected = Arc::new(f.data.clone());
                    let engine = E::with_options(&auraio::Options::new().ring_count(2)).unwrap();
                    let done = Arc::new(AtomicUsize::new(0));
                    let bad = Arc::new(AtomicUsize::new(0));
                    let mut x: u64 = 0x1234_5678;
                    let mut submitted = 0;
                    while done.load(Ordering::SeqCst) < READS {
                        while submitted < READS && engine.pending() < 64 {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            let off = (x % (FILE_LEN / BLOCK) as u64) * BLOCK as u64;
                            let (d, b, e) = (done.clone(), bad.clone(), expected.clone());
                            engine
                                .read(f.fd(), vec![0u8; BLOCK], off, move |res, buf| {
                                    let o = off as usize;
                                    if res.ok() != Some(BLOCK) || buf[..] != e[o..o + BLOCK] {
                                        b.fetch_add(1, Ordering::SeqCst);
                                    }
                                    d.fetch_add(1, Ordering::SeqCst);
                                })
                                .unwrap();
                            submitted += 1;
                        }
                        engine.wait(Some(Duration::from_secs(5))).unwrap();
                    }
                    assert_eq!(bad.load(Ordering::SeqCst), 0, "{place}: mismatched reads");
                    assert_eq!(done.load(Ordering::SeqCst), READS);
                    let st = engine.stats();
                    assert_eq!(st.ops_completed, READS as u64, "{place}");
                    assert_eq!(st.bytes_transferred, (READS * BLOCK) as u64, "{place}");
                    // pread agrees with what the test wrote, so the comparison above is real.
                    assert_eq!(pread(f.fd(), BLOCK, 4096), f.data[4096..8192]);
                }
            }

            #[test]
            fn four_times_queue_depth_each_completes_once() {
                let dir = &locations()[0].1;
                let f = TestFile::new(dir, "burst", 1 << 20, false);
                let engine = E::with_options(&auraio::Options::new().queue_depth(16)).unwrap();
                let n = 4 * 16 * engine.ring_count();
                let counts: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
                for i in 0..n {
                    let c = counts.clone();
                    engine
                        .read(f.fd(), vec![0u8; 512], (i * 512) as u64, move |res, _| {
                            assert_eq!(res.unwrap(), 512);
                            c[i].fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                }
                engine.drain(Duration::from_secs(10)).unwrap();
                for (i, c) in counts.iter().enumerate() {
                    assert_eq!(c.load(Ordering::SeqCst), 1, "request {i}");
                }
                assert_eq!(engine.pending(), 0);
                let st = engine.stats();
                assert!(st.rings.iter().all(|r| r.peak_in_flight <= r.in_flight_limit.max(r.cq_entries)));
            }
        }
    )*};
}

preset_tests! {
    adaptive_single => auraio::Adaptive, auraio::SingleThread;
    adaptive_multi => auraio::Adaptive, auraio::MultiThread;
    cpulocal_single => auraio::CpuLocal, auraio::SingleThread;
    cpulocal_multi => auraio::CpuLocal, auraio::MultiThread;
    roundrobin_single => auraio::RoundRobin, auraio::SingleThread;
    roundrobin_multi => auraio::RoundRobin, auraio::MultiThread;
}
