//! The Prometheus exposition of a live engine, parsed by a real OpenMetrics parser (Python's
//! prometheus_client, installed by scripts/test.sh): every metric of the table present with
//! its type, histogram buckets cumulative and ending with +Inf = count, no NaN or Inf.
#![cfg(feature = "prometheus")]

mod common;

use std::time::Duration;

use auraio::metrics::{Kind, Snapshot, METRICS};

/// `name:type` arguments for scripts/check_metrics.py, from the metric table.
fn expected() -> Vec<String> {
    let mut v: Vec<String> = METRICS
        .iter()
        .map(|m| {
            let unit = if m.unit.is_empty() {
                String::new()
            } else {
                format!("_{}", m.unit)
            };
            let ty = match m.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            format!("auraio_{}{unit}:{ty}", m.name)
        })
        .collect();
    v.push("auraio_schema:info".into());
    v
}

fn check(text: &str) {
    common::python_check("check_metrics.py", &expected(), text);
}

#[test]
fn every_metric_parses_with_its_type_on_a_busy_multi_ring_engine() {
    let f = common::TestFile::new(std::path::Path::new("/dev/shm"), "prom", 64 * 4096, false);
    let engine = auraio::SharedEngine::with_options(&auraio::Options::new().ring_count(2)).unwrap();
    for round in 0..50u64 {
        for i in 0..32u64 {
            engine
                .read(
                    f.fd(),
                    vec![0u8; 4096],
                    ((round + i) % 64) * 4096,
                    |r, _| {
                        r.unwrap();
                    },
                )
                .unwrap();
        }
        engine.drain(Duration::from_secs(5)).unwrap();
    }
    let snap = Snapshot::of(&engine);
    assert_eq!(snap.stats.ops_completed, 1600);
    let text = auraio::prometheus::text(&snap);
    assert!(text.contains("auraio_ops_completed_total 1600"), "{text}");
    assert!(text.contains("ring=\"1\""), "per-ring labels");
    // The exact sum: the histogram's sum in seconds, not an estimate from buckets.
    let sum: u64 = snap.histograms.iter().map(|h| h.sum_ns()).sum();
    assert!(sum > 0);
    check(&text);
}

#[test]
fn an_idle_engine_exports_zeros_not_nan() {
    let engine = auraio::LocalEngine::new().unwrap();
    let text = auraio::prometheus::text(&Snapshot::of(&engine));
    check(&text);
}
