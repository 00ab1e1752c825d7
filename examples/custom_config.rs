//! Five engine configurations for five workloads: presets chosen by type, sizes by `Options`,
//! and a tuning preset of our own defined with `tuning!`.
//!
//! `cargo run --release --example custom_config`

use auraio::{Adaptive, CpuLocal, Engine, MultiThread, Options, RoundRobin, SingleThread};
use std::time::Duration;

auraio::tuning! {
    /// Slow network storage: long ticks and a gentler backoff.
    pub NetworkStorage {
        TICK_MS = 50,
        BACKOFF_PERMILLE = 900,
        MAX_IN_FLIGHT = 1024,
    }
}

fn show<P: auraio::policy::Policy, L: auraio::lock::LockMode, T: auraio::Tuning>(
    what: &str,
    e: &Engine<P, L, T>,
) {
    let st = e.stats();
    let r = &st.rings[0];
    println!(
        "{what:<28} {:<40} rings {:>2}  queue depth {:>5}  in-flight limit {:>4}  features {:?}",
        Engine::<P, L, T>::preset_name(),
        e.ring_count(),
        r.queue_depth,
        r.in_flight_limit,
        r.features
    );
}

fn main() -> std::io::Result<()> {
    // 1. A single-threaded tool: no locks, no atomics.
    let e = Engine::<CpuLocal, SingleThread>::new()?;
    show("single-threaded tool", &e);

    // 2. A multi-threaded server: one ring per CPU, adaptive spilling.
    let e = Engine::<Adaptive, MultiThread>::new()?;
    show("multi-threaded server", &e);

    // 3. A deep-queue batch job: big rings, high starting depth.
    let e = Engine::<RoundRobin, MultiThread>::with_options(
        &Options::new()
            .ring_count(2)
            .queue_depth(1024)
            .initial_in_flight(512),
    )?;
    show("deep batch job", &e);

    // 4. Latency-sensitive: shallow start, the controller grows it.
    let e = Engine::<CpuLocal, SingleThread>::with_options(
        &Options::new()
            .queue_depth(64)
            .initial_in_flight(4)
            .drain_timeout(Duration::from_secs(2)),
    )?;
    show("latency-sensitive", &e);

    // 5. Network storage with a custom tuning preset and SQPOLL (falls back if refused).
    let e = Engine::<Adaptive, MultiThread, NetworkStorage>::with_options(
        &Options::new().ring_count(1).sqpoll(100),
    )?;
    show("network storage + sqpoll", &e);

    // Invalid options are refused with a message naming the option.
    let err =
        Engine::<CpuLocal, SingleThread>::with_options(&Options::new().queue_depth(0)).unwrap_err();
    println!("queue_depth(0) -> {err}");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    Ok(())
}
