//! A running engine whose metrics Prometheus can scrape: `GET /metrics` on 127.0.0.1:9091
//! (`AURAIO_METRICS_ADDR` to change it) while a thread keeps random reads going. Serves for
//! `AURAIO_SERVE_SECONDS` (default 3) and exits; `0` serves until killed.
//!
//! `cargo run --release --features prometheus --example prometheus_server`, then
//! `curl -s 127.0.0.1:9091/metrics`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auraio::metrics::Snapshot;
use auraio::prometheus::EngineCollector;
use prometheus_client::registry::Registry;

fn main() -> std::io::Result<()> {
    let addr = std::env::var("AURAIO_METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:9091".into());
    let secs: u64 = std::env::var("AURAIO_SERVE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let engine = Arc::new(auraio::SharedEngine::with_options(
        &auraio::Options::new().ring_count(2),
    )?);

    // What Prometheus scrapes: a registry with the engine's collector.
    let mut registry = Registry::default();
    let e = engine.clone();
    registry.register_collector(Box::new(EngineCollector::new(move || Snapshot::of(&e))));

    // Load: random 4 KiB reads from a 16 MiB file in $TMPDIR.
    let path = std::env::temp_dir().join("auraio-prometheus-example.dat");
    std::fs::write(&path, vec![7u8; 16 << 20])?;
    let file = std::fs::File::open(&path)?;
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || -> std::io::Result<()> {
            use std::os::fd::AsRawFd;
            let mut x = 1u64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..32 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let off = (x >> 33) % 4096 * 4096;
                    engine
                        .read(file.as_raw_fd(), vec![0u8; 4096], off, |r, _| {
                            r.expect("read");
                        })
                        .map_err(|e| e.into_parts().0)?;
                }
                engine.drain(Duration::from_secs(5))?;
            }
            Ok(())
        })
    };

    let listener = TcpListener::bind(&addr)?;
    listener.set_nonblocking(true)?;
    println!("serving metrics on http://{addr}/metrics");
    let start = Instant::now();
    let mut scrapes = 0;
    while secs == 0 || start.elapsed() < Duration::from_secs(secs) {
        let (stream, _) = match listener.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(e) => return Err(e),
        };
        stream.set_nonblocking(false)?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut request = String::new();
        reader.read_line(&mut request)?;
        // Skip the headers.
        let mut line = String::new();
        while reader.read_line(&mut line)? > 2 {
            line.clear();
        }
        let (status, ctype, body) = if request.starts_with("GET /metrics") {
            let mut body = String::new();
            prometheus_client::encoding::text::encode(&mut body, &registry)
                .expect("encoding into a String");
            scrapes += 1;
            (
                "200 OK",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                body,
            )
        } else {
            ("404 Not Found", "text/plain", "try /metrics\n".to_string())
        };
        let mut s = stream;
        write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
    }
    stop.store(true, Ordering::Relaxed);
    load.join().expect("load thread")?;
    let _ = std::fs::remove_file(&path);
    println!(
        "served {scrapes} scrapes; {} reads done",
        engine.stats().ops_completed
    );
    Ok(())
}
