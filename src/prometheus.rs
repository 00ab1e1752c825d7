//! Prometheus exposition (feature `prometheus`): every metric of [`METRICS`]
//! through the `prometheus-client` crate's collector interface, per-ring values labelled
//! `ring="N"`, latency histograms with cumulative buckets, the exact `_sum` and `_count`, and
//! an `auraio_schema_info` metric.
//!
//! ```
//! let engine = auraio::LocalEngine::new()?;
//! let text = auraio::prometheus::text(&auraio::metrics::Snapshot::of(&engine));
//! assert!(text.contains("# TYPE auraio_ring_latency_seconds histogram"));
//! assert!(text.ends_with("# EOF\n"));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::metrics::{
    latency_bucket_counts, Kind, Read, Scope, Snapshot, LATENCY_BUCKETS, METRICS,
};

pub use crate::metrics::SCHEMA_VERSION;

/// A collector over a snapshot source: each scrape takes a fresh snapshot.
pub struct EngineCollector {
    source: Box<dyn Fn() -> Snapshot + Send + Sync>,
}

impl fmt::Debug for EngineCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EngineCollector")
    }
}

impl EngineCollector {
    /// A collector that calls `source` at each scrape (e.g. `move || Snapshot::of(&engine)`
    /// for an `Arc<SharedEngine>`).
    pub fn new(source: impl Fn() -> Snapshot + Send + Sync + 'static) -> Self {
        EngineCollector {
            source: Box::new(source),
        }
    }
}

impl Collector for EngineCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        encode(&(self.source)(), encoder)
    }
}

/// One value, as the metric's kind encodes it.
struct Value {
    kind: Kind,
    v: f64,
}

impl EncodeMetric for Value {
    fn encode(&self, mut e: MetricEncoder) -> Result<(), fmt::Error> {
        match self.kind {
            Kind::Counter => e.encode_counter::<NoLabelSet, _, f64>(&self.v, None),
            _ => e.encode_gauge(&self.v),
        }
    }
    fn metric_type(&self) -> MetricType {
        match self.kind {
            Kind::Counter => MetricType::Counter,
            _ => MetricType::Gauge,
        }
    }
}

fn finite(v: f64) -> f64 {
    // Prometheus accepts NaN and Inf, but no consumer of these metrics wants them.
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// Encodes a snapshot: every metric of the table, then the schema info.
pub fn encode(s: &Snapshot, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
    for m in METRICS {
        let unit = match m.unit {
            "" => None,
            "seconds" => Some(Unit::Seconds),
            "bytes" => Some(Unit::Bytes),
            other => Some(Unit::Other(other.to_string())),
        };
        let ty = match m.kind {
            Kind::Counter => MetricType::Counter,
            Kind::Gauge => MetricType::Gauge,
            Kind::Histogram => MetricType::Histogram,
        };
        let name = format!("auraio_{}", m.name);
        let mut me = encoder.encode_descriptor(&name, m.help, unit.as_ref(), ty)?;
        match (m.scope, m.read) {
            (Scope::Engine, Read::Engine(get)) => Value {
                kind: m.kind,
                v: finite(get(s)),
            }
            .encode(me)?,
            (Scope::Ring, Read::Ring(get)) => {
                for (i, r) in s.stats.rings.iter().enumerate() {
                    let labels = [("ring", i.to_string())];
                    let fam = me.encode_family(&labels)?;
                    Value {
                        kind: m.kind,
                        v: finite(get(r)),
                    }
                    .encode(fam)?;
                }
            }
            (_, Read::RingHistogram) => {
                for (i, h) in s.histograms.iter().enumerate() {
                    let labels = [("ring", i.to_string())];
                    let mut fam = me.encode_family(&labels)?;
                    let (counts, sum, count) = latency_bucket_counts(h);
                    // The encoder takes per-bucket counts and accumulates them itself; a bound
                    // of infinity is written as +Inf.
                    let bounds = LATENCY_BUCKETS.iter().copied().chain([f64::INFINITY]);
                    let b: Vec<(f64, u64)> = bounds.zip(counts).collect();
                    fam.encode_histogram::<NoLabelSet>(sum, count, &b, None)?;
                }
            }
            (scope, _) => unreachable!("metric table: {} has scope {scope:?}", m.name),
        }
    }
    let mut me = encoder.encode_descriptor(
        "auraio_schema",
        "Version of auraio's metric names and labels.",
        None,
        MetricType::Info,
    )?;
    me.encode_info(&[("version", SCHEMA_VERSION)])
}

/// The text exposition (OpenMetrics) of a snapshot.
pub fn text(s: &Snapshot) -> String {
    let snap = s.clone();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(EngineCollector::new(move || snap.clone())));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String does not fail");
    out
}
