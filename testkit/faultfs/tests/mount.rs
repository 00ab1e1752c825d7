//! The fault filesystem through plain system calls: each scripted behaviour is what a reader
//! or writer of the mounted file sees.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use auraio_faultfs::{pattern_byte, Fault, FaultFs, FileSpec, Rule};

fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

#[test]
fn reads_return_the_pattern_and_scripted_errors_heal() {
    let m = FaultFs::new()
        .file(
            FileSpec::patterned("data", 64 << 10)
                .rule(Rule::read(8192..12288, Fault::Errno(libc::EIO)).times(2)),
        )
        .mount()
        .unwrap();
    let f = std::fs::File::open(m.path("data")).unwrap();
    let mut buf = vec![0u8; 4096];
    assert_eq!(f.read_at(&mut buf, 0).unwrap(), 4096);
    assert!(buf
        .iter()
        .enumerate()
        .all(|(i, b)| *b == pattern_byte(i as u64)));
    for _ in 0..2 {
        assert_eq!(errno(&f.read_at(&mut buf, 8192).unwrap_err()), libc::EIO);
    }
    assert_eq!(f.read_at(&mut buf, 8192).unwrap(), 4096, "healed");
    assert_eq!(buf[0], pattern_byte(8192));
    assert_eq!(m.fired("data", 0), 2);
    assert_eq!(m.stats().errors, 2);
}

#[test]
fn short_reads_short_writes_and_a_full_device() {
    let m = FaultFs::new()
        .file(FileSpec::patterned("r", 16 << 10).rule(Rule::read(0..4096, Fault::Short(100))))
        .file(
            FileSpec::empty("w")
                .capacity(10_000)
                .rule(Rule::write(0..4096, Fault::Short(1000))),
        )
        .mount()
        .unwrap();
    let r = std::fs::File::open(m.path("r")).unwrap();
    let mut buf = vec![0u8; 4096];
    assert_eq!(r.read_at(&mut buf, 0).unwrap(), 100);
    let w = OpenOptions::new().write(true).open(m.path("w")).unwrap();
    assert_eq!(w.write_at(&[1u8; 4096], 0).unwrap(), 1000);
    assert_eq!(
        w.write_at(&[2u8; 4096], 8192).unwrap(),
        10_000 - 8192,
        "crosses the capacity"
    );
    assert_eq!(
        errno(&w.write_at(&[3u8; 4096], 10_000).unwrap_err()),
        libc::ENOSPC
    );
    let c = m.contents("w").unwrap();
    assert_eq!(c.len(), 10_000);
    assert!(c[..1000].iter().all(|b| *b == 1) && c[8192..].iter().all(|b| *b == 2));
}

#[test]
fn a_stalled_read_waits_for_release_and_teardown_fails_what_is_held() {
    let m = FaultFs::new()
        .file(FileSpec::patterned("s", 8192).rule(Rule::read(0..4096, Fault::Stall).times(1)))
        .file(FileSpec::patterned("forever", 8192).rule(Rule::read(0..8192, Fault::Stall)))
        .mount()
        .unwrap();
    let path = m.path("s");
    let reader = std::thread::spawn(move || {
        let f = std::fs::File::open(path).unwrap();
        let mut buf = vec![0u8; 4096];
        f.read_at(&mut buf, 0).map(|n| (n, buf[0]))
    });
    assert!(m.wait_stalled(1, Duration::from_secs(10)), "{m:?}");
    assert!(!reader.is_finished());
    assert_eq!(m.release(), 1);
    assert_eq!(reader.join().unwrap().unwrap(), (4096, pattern_byte(0)));

    let path = m.path("forever");
    let reader = std::thread::spawn(move || {
        let f = std::fs::File::open(path).unwrap();
        f.read_at(&mut [0u8; 512], 0)
    });
    assert!(m.wait_stalled(1, Duration::from_secs(10)), "{m:?}");
    drop(m);
    assert_eq!(errno(&reader.join().unwrap().unwrap_err()), libc::EIO);
}

#[test]
fn delays_are_served_concurrently_and_the_model_queues_beyond_its_servers() {
    // 4 servers of 20 ms: 8 concurrent readers take two service times, not eight.
    let m = FaultFs::new()
        .file(FileSpec::patterned("d", 1 << 20))
        .served_by(4, Duration::from_millis(20))
        .mount()
        .unwrap();
    let start = Instant::now();
    let readers: Vec<_> = (0..8u64)
        .map(|i| {
            let path = m.path("d");
            std::thread::spawn(move || {
                let f = std::fs::File::open(path).unwrap();
                f.read_at(&mut [0u8; 4096], i * 4096).unwrap()
            })
        })
        .collect();
    for r in readers {
        assert_eq!(r.join().unwrap(), 4096);
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(40),
        "8 requests on 4 servers: {took:?}"
    );
    assert!(m.stats().max_outstanding >= 5, "{:?}", m.stats());
}
