//! The OTLP/JSON document of a live engine, parsed with the OTLP protobuf definitions
//! (Python opentelemetry-proto, installed by scripts/test.sh), and pushed to an HTTP server on
//! loopback that receives it.
#![cfg(feature = "otel")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use auraio::metrics::{Kind, Snapshot, METRICS};

fn busy_engine() -> auraio::SharedEngine {
    let f = common::TestFile::new(std::path::Path::new("/dev/shm"), "otel", 16 * 4096, false);
    let engine = auraio::SharedEngine::with_options(&auraio::Options::new().ring_count(2)).unwrap();
    for i in 0..200u64 {
        engine
            .read(f.fd(), vec![0u8; 4096], (i % 16) * 4096, |r, _| {
                r.unwrap();
            })
            .unwrap();
    }
    engine.drain(Duration::from_secs(5)).unwrap();
    engine
}

fn check(doc: &str) {
    let expected: Vec<String> = METRICS
        .iter()
        .map(|m| {
            let kind = match m.kind {
                Kind::Counter => "sum",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            format!("auraio.{}:{kind}", m.name.replacen("ring_", "ring.", 1))
        })
        .collect();
    common::python_check("check_otlp.py", &expected, doc);
}

#[test]
fn the_document_parses_with_the_otlp_protobuf_definitions() {
    let engine = busy_engine();
    let doc = auraio::otel::document(&Snapshot::of(&engine), 1, "otel-test");
    let text = doc.to_string();
    assert!(!text.contains("NaN") && !text.contains("inf"));
    let rings = &doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
    let ops = rings
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "auraio.ops_completed")
        .unwrap();
    assert_eq!(ops["sum"]["dataPoints"][0]["asDouble"], 200.0);
    assert_eq!(ops["sum"]["isMonotonic"], true);
    check(&text);
}

#[test]
fn a_push_reaches_an_http_server_on_loopback() {
    let engine = busy_engine();
    let doc = auraio::otel::document(&Snapshot::of(&engine), 1, "otel-push");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/metrics", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut request = String::new();
        r.read_line(&mut request).unwrap();
        let mut len = 0usize;
        let mut ctype = String::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            if h == "\r\n" {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            if let Some(v) = lower.strip_prefix("content-type:") {
                ctype = v.trim().to_string();
            }
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).unwrap();
        let mut s = stream;
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            .unwrap();
        (request, ctype, body)
    });
    let status = auraio::otel::push(&url, &doc, Duration::from_secs(5)).unwrap();
    assert_eq!(status, 200);
    let (request, ctype, body) = server.join().unwrap();
    assert!(
        request.starts_with("POST /v1/metrics HTTP/1.1"),
        "{request}"
    );
    assert_eq!(ctype, "application/json");
    let received: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(received, doc);
    check(&String::from_utf8(body).unwrap());
    // Refusals are errors, not panics.
    assert!(auraio::otel::push("https://example.invalid/", &doc, Duration::from_secs(1)).is_err());
}
