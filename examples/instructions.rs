//! One read loop of `benches/support/loops.rs`, run for a given count: the program
//! `benches/instructions.sh` counts instructions of under callgrind, at two counts, to get a
//! stable cost per read (wall time on a shared machine swings by 20%; instruction counts do
//! not).
//!
//! `cargo run --release --example instructions -- VARIANT COUNT`, VARIANT one of `plain`
//! (a hand-written io-uring loop), `local` (`LocalEngine` callbacks), `local-static` (the
//! same with adaptation off at the loop's depth: what the tuner costs), `local-futures`
//! (`LocalEngine` futures under `futures::executor::block_on`), `shared` (`SharedEngine`
//! callbacks).

#[path = "../benches/support/loops.rs"]
mod loops;

use std::os::fd::AsRawFd;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "usage: instructions plain|local|local-static|local-futures|shared COUNT",
        )
    };
    let variant = args.next().ok_or_else(usage)?;
    let count: u64 = args.next().and_then(|c| c.parse().ok()).ok_or_else(usage)?;
    let (path, file) = loops::test_file();
    let fd = file.as_raw_fd();
    // No spinning before a wait: how many times a spin loop turns depends on timing, and the
    // figure is of the path a read takes, not of waiting.
    let opts = auraio::Options::new()
        .ring_count(1)
        .initial_in_flight(loops::DEPTH as u32)
        .spin(std::time::Duration::ZERO);
    let took = match variant.as_str() {
        "plain" => loops::plain_uring(fd, count),
        "local" => loops::local_loop(&auraio::LocalEngine::with_options(&opts)?, fd, count),
        "local-static" => {
            let engine = auraio::LocalEngine::with_options(&opts)?;
            engine.set_in_flight_limit(loops::DEPTH as u32)?;
            loops::local_loop(&engine, fd, count)
        }
        "local-futures" => {
            loops::local_futures(&auraio::LocalEngine::with_options(&opts)?, fd, count)
        }
        "shared" => loops::shared_loop(&auraio::SharedEngine::with_options(&opts)?, fd, count),
        _ => return Err(usage()),
    };
    let _ = std::fs::remove_file(path);
    println!("{variant}: {count} reads in {took:?}");
    Ok(())
}
