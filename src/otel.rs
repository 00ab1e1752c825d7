//! OpenTelemetry metrics (feature `otel`): every metric of
//! [`METRICS`] as an OTLP/JSON `ExportMetricsServiceRequest` (sums
//! for counters, gauges, explicit-bucket histograms; per-ring points carry a `ring`
//! attribute), and a push of it over HTTP to a collector (`POST /v1/metrics`).
//!
//! Written against the OTLP protobuf JSON mapping (lowerCamelCase fields, 64-bit integers as
//! decimal strings, enums as numbers) rather than with the `opentelemetry` crates: those
//! bring an async runtime, an HTTP stack and protobuf code generation for what is one
//! document and one POST; the tests parse the document with the OTLP protobuf definitions
//! (Python `opentelemetry-proto`) to hold it to the spec.
//!
//! ```
//! let engine = auraio::LocalEngine::new()?;
//! let doc = auraio::otel::document(&auraio::metrics::Snapshot::of(&engine), 0, "my-service");
//! assert!(doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"].as_array().unwrap().len() > 20);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::metrics::{latency_bucket_counts, Kind, Read, Snapshot, LATENCY_BUCKETS, METRICS};

/// Aggregation temporality of every sum and histogram: cumulative since the engine started.
const CUMULATIVE: u32 = 2;

fn unit(u: &str) -> &str {
    match u {
        "seconds" => "s",
        "bytes" => "By",
        "" => "1",
        other => other,
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

fn ring_attr(i: usize) -> Value {
    json!([{ "key": "ring", "value": { "intValue": i.to_string() } }])
}

/// The OTLP/JSON document of a snapshot. `start_ns` is when the engine started (Unix ns; 0
/// if unknown), `service` the `service.name` resource attribute.
pub fn document(s: &Snapshot, start_ns: u64, service: &str) -> Value {
    let t = now_ns().to_string();
    let start = start_ns.to_string();
    let point = |v: f64, attrs: Value| {
        json!({
            "attributes": attrs,
            "startTimeUnixNano": start,
            "timeUnixNano": t,
            "asDouble": finite(v),
        })
    };
    let metrics: Vec<Value> = METRICS
        .iter()
        .map(|m| {
            let points: Vec<Value> = match m.read {
                Read::Engine(get) => vec![point(get(s), json!([]))],
                Read::Ring(get) => s
                    .stats
                    .rings
                    .iter()
                    .enumerate()
                    .map(|(i, r)| point(get(r), ring_attr(i)))
                    .collect(),
                Read::RingHistogram => s
                    .histograms
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        // OTLP counts per bucket, plus the overflow bucket past the last bound.
                        let (per_bucket, sum, count) = latency_bucket_counts(h);
                        let counts: Vec<String> = per_bucket.iter().map(u64::to_string).collect();
                        json!({
                            "attributes": ring_attr(i),
                            "startTimeUnixNano": start,
                            "timeUnixNano": t,
                            "count": count.to_string(),
                            "sum": finite(sum),
                            "bucketCounts": counts,
                            "explicitBounds": LATENCY_BUCKETS.to_vec(),
                        })
                    })
                    .collect(),
            };
            let name = format!("auraio.{}", m.name.replacen("ring_", "ring.", 1));
            let mut metric = json!({
                "name": name,
                "description": m.help,
                "unit": unit(m.unit),
            });
            let data = match m.kind {
                Kind::Counter => json!({
                    "dataPoints": points,
                    "aggregationTemporality": CUMULATIVE,
                    "isMonotonic": true,
                }),
                Kind::Gauge => json!({ "dataPoints": points }),
                Kind::Histogram => json!({
                    "dataPoints": points,
                    "aggregationTemporality": CUMULATIVE,
                }),
            };
            let key = match m.kind {
                Kind::Counter => "sum",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            metric[key] = data;
            metric
        })
        .collect();
    json!({
        "resourceMetrics": [{
            "resource": {
                "attributes": [
                    { "key": "service.name", "value": { "stringValue": service } },
                    { "key": "auraio.schema", "value": { "stringValue": crate::metrics::SCHEMA_VERSION } },
                ]
            },
            "scopeMetrics": [{
                "scope": { "name": "auraio", "version": env!("CARGO_PKG_VERSION") },
                "metrics": metrics,
            }]
        }]
    })
}

/// POSTs `doc` to an OTLP/HTTP collector, e.g. `http://127.0.0.1:4318/v1/metrics`
/// (plain HTTP; put a collector or proxy in front for TLS). Returns the HTTP status.
///
/// # Errors
///
/// `InvalidInput` for a URL that is not `http://host:port/path`; connection errors; `Other`
/// for a response that is not HTTP or a status outside 2xx.
pub fn push(url: &str, doc: &Value, timeout: Duration) -> io::Result<u16> {
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("auraio: not an http:// URL: {url}"),
        )
    };
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/v1/metrics"),
    };
    if host.is_empty() {
        return Err(bad());
    }
    let addr = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let body = serde_json::to_vec(doc).map_err(io::Error::other)?;
    let mut stream = TcpStream::connect(&addr)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    let mut resp = Vec::new();
    stream.read_to_end(&mut resp)?;
    let head = String::from_utf8_lossy(&resp[..resp.len().min(64)]).into_owned();
    let status: u16 = head
        .strip_prefix("HTTP/1.")
        .and_then(|s| s.get(2..5))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("auraio: not an HTTP response: {head:?}")))?;
    if !(200..300).contains(&status) {
        return Err(io::Error::other(format!(
            "auraio: collector answered {status}"
        )));
    }
    Ok(status)
}
