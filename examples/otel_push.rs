//! Pushes the engine's metrics to an OpenTelemetry collector (OTLP/HTTP, JSON) every interval
//! while it reads.
//!
//! `cargo run --features otel --example otel_push -- [--dry-run] [--endpoint URL] [--count N]`
//! (default: two rounds with `--dry-run`, printing a summary of each document; with
//! `--endpoint http://127.0.0.1:4318/v1/metrics` it POSTs them).

use std::os::fd::AsRawFd;
use std::time::Duration;

use auraio::metrics::Snapshot;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut endpoint, mut dry_run, mut count, mut full) = (None, false, 2u32, false);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dry-run" => (dry_run, full) = (true, true),
            "--endpoint" => endpoint = args.next(),
            "--count" => count = args.next().and_then(|n| n.parse().ok()).unwrap_or(2),
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "usage: otel_push [--dry-run] [--endpoint URL] [--count N]",
                ))
            }
        }
    }
    let dry_run = dry_run || endpoint.is_none();
    let path = std::env::temp_dir().join(format!("auraio-otel-push-{}", std::process::id()));
    std::fs::write(&path, vec![7u8; 64 << 10])?;
    let file = std::fs::File::open(&path)?;
    std::fs::remove_file(&path)?;
    let engine = auraio::LocalEngine::with_options(&auraio::Options::new().ring_count(1))?;
    let start_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    for round in 0..count {
        for i in 0..100u64 {
            engine.read(
                file.as_raw_fd(),
                vec![0u8; 4096],
                (i % 16) * 4096,
                |r, _| {
                    r.expect("read");
                },
            )?;
        }
        engine.drain(Duration::from_secs(5))?;
        let doc = auraio::otel::document(&Snapshot::of(&engine), start_ns, "otel_push");
        let text = doc.to_string();
        if dry_run {
            if full {
                println!("{text}");
            } else {
                println!(
                    "round {round}: would POST {} bytes of OTLP/JSON ({}...)",
                    text.len(),
                    &text[..60.min(text.len())]
                );
            }
        } else if let Some(url) = &endpoint {
            let status = auraio::otel::push(url, &doc, Duration::from_secs(5))?;
            println!(
                "round {round}: POST {} bytes to {url}: {status}",
                text.len()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}
