//! The metrics an engine exposes, declared once: name, kind, unit, help and scope of each,
//! with how to read it from a [`Snapshot`]. Exporters iterate [`METRICS`], so none can forget
//! one; the C ABI's Prometheus exporter is the same code.
//!
//! ```
//! use auraio::metrics::{Scope, METRICS};
//! let per_ring = METRICS.iter().filter(|m| m.scope == Scope::Ring).count();
//! assert!(per_ring > 10);
//! assert!(METRICS.iter().any(|m| m.name == "ring_latency"));
//! ```

use crate::{BufferStats, Histogram, RingStats, Stats};

/// Version of the metric names and labels; bumped when they change (exported as
/// `auraio_schema_info{version}` and the `auraio.schema` resource attribute).
pub const SCHEMA_VERSION: &str = "1";

/// What a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only grows (reset only by a new engine).
    Counter,
    /// Goes up and down.
    Gauge,
    /// A latency distribution (cumulative buckets, exact sum and count).
    Histogram,
}

/// Whether a metric has one value per engine or one per ring (label `ring`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One value per engine.
    Engine,
    /// One value per ring.
    Ring,
}

/// How to read a metric from a snapshot.
#[derive(Clone, Copy)]
pub enum Read {
    /// From the engine-wide figures.
    Engine(fn(&Snapshot) -> f64),
    /// From one ring's figures.
    Ring(fn(&RingStats) -> f64),
    /// One ring's latency histogram (since creation).
    RingHistogram,
}

/// One metric of the table.
#[derive(Clone, Copy)]
pub struct Metric {
    /// Name without the `auraio_` prefix and without unit or `_total` suffixes.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// Unit (`seconds`, `bytes`, …), or "" for a plain count.
    pub unit: &'static str,
    /// One-line description.
    pub help: &'static str,
    /// Engine-wide or per ring.
    pub scope: Scope,
    /// Reader.
    pub read: Read,
}

impl std::fmt::Debug for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metric")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("unit", &self.unit)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Everything the exporters read, taken at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Engine and per-ring figures.
    pub stats: Stats,
    /// Each ring's latency histogram since creation.
    pub histograms: Vec<Histogram>,
    /// The buffer pool.
    pub buffers: BufferStats,
}

impl Snapshot {
    /// Takes a snapshot of `engine` (one short lock per ring).
    pub fn of<P: crate::policy::Policy, L: crate::lock::LockMode, T: crate::Tuning>(
        engine: &crate::Engine<P, L, T>,
    ) -> Self {
        let stats = engine.stats();
        let histograms = (0..engine.ring_count())
            .map(|i| engine.histogram(i).map(|h| h.1).unwrap_or_default())
            .collect();
        Snapshot {
            stats,
            histograms,
            buffers: engine.buffer_stats(),
        }
    }
}

fn ns_to_s(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// Declares the metric table (crate-internal; the table below is its use, and the tests of
/// this module exercise it).
///
/// Each entry: doc comment (the help text), scope (`engine` or `ring`), name, kind, unit in
/// brackets, and a reader in parentheses: `(|s| …)` over a [`Snapshot`] for engine metrics,
/// `(|r| …)` over a [`RingStats`] for ring metrics, or `(histogram)` for the ring's latency
/// histogram.
///
/// ```text
/// metrics! {
///     /// Operations completed.
///     engine ops_completed: Counter [""] = (|s| s.stats.ops_completed as f64);
///     /// Latency of completed operations.
///     ring latency: Histogram ["seconds"] = (histogram);
/// }
/// ```
macro_rules! metrics {
    (@read $scope:ident (histogram)) => { Read::RingHistogram };
    (@read engine (|$v:ident| $e:expr)) => { Read::Engine(|$v: &Snapshot| $e) };
    (@read ring (|$v:ident| $e:expr)) => { Read::Ring(|$v: &RingStats| $e) };
    (@scope engine) => { Scope::Engine };
    (@scope ring) => { Scope::Ring };
    ($(
        #[doc = $help:literal]
        $scope:ident $name:ident : $kind:ident [$unit:literal] = $read:tt;
    )*) => {
        /// Every metric, in exposition order.
        pub const METRICS: &[Metric] = &[$(
            Metric {
                name: stringify!($name),
                kind: Kind::$kind,
                unit: $unit,
                help: $help.trim_ascii(),
                scope: metrics!(@scope $scope),
                read: metrics!(@read $scope $read),
            }
        ),*];
    };
}

metrics! {
    /// Operations completed, all rings.
    engine ops_completed: Counter [""] = (|s| s.stats.ops_completed as f64);
    /// Operations completed with an error, all rings.
    engine ops_failed: Counter [""] = (|s| s.stats.ops_failed as f64);
    /// Bytes moved by completed operations, all rings.
    engine transferred: Counter ["bytes"] = (|s| s.stats.bytes_transferred as f64);
    /// Requests in submission queues or the kernel, all rings.
    engine in_flight: Gauge [""] = (|s| s.stats.in_flight as f64);
    /// Requests waiting for room under an in-flight limit, all rings.
    engine backlog: Gauge [""] = (|s| s.stats.backlog as f64);
    /// Submissions the adaptive policy sent to a ring other than the local one.
    engine adaptive_spills: Counter [""] = (|s| s.stats.adaptive_spills as f64);
    /// Sum of the rings' in-flight limits.
    engine in_flight_limit: Gauge [""] = (|s| s.stats.in_flight_limit() as f64);
    /// Highest ring P99 of the last controller window.
    engine p99_latency: Gauge ["seconds"] = (|s| ns_to_s(s.stats.p99_ns()));
    /// Bytes the buffer pool holds from the allocator.
    engine buffer_pool: Gauge ["bytes"] = (|s| s.buffers.bytes as f64);
    /// Pool buffers handed out and not yet returned.
    engine buffers_out: Gauge [""] = (|s| s.buffers.buffers as f64);
    /// Free-list shards of the buffer pool.
    engine buffer_pool_shards: Gauge [""] = (|s| f64::from(s.buffers.shards));
    /// Rings of the engine.
    engine rings: Gauge [""] = (|s| s.stats.rings.len() as f64);
    /// Operations completed by the ring.
    ring ring_ops_completed: Counter [""] = (|r| r.ops_completed as f64);
    /// Operations of the ring completed with an error.
    ring ring_ops_failed: Counter [""] = (|r| r.ops_failed as f64);
    /// Bytes moved by the ring's completed operations.
    ring ring_transferred: Counter ["bytes"] = (|r| r.bytes_transferred as f64);
    /// Requests in the ring's submission queue or in the kernel.
    ring ring_in_flight: Gauge [""] = (|r| f64::from(r.in_flight));
    /// Requests waiting in the ring's backlog.
    ring ring_backlog: Gauge [""] = (|r| f64::from(r.backlog));
    /// The ring's current in-flight limit (what the tuner chose).
    ring ring_in_flight_limit: Gauge [""] = (|r| f64::from(r.in_flight_limit));
    /// Highest in-flight count the ring has seen.
    ring ring_peak_in_flight: Gauge [""] = (|r| f64::from(r.peak_in_flight));
    /// SQEs the ring gathers before a submit syscall.
    ring ring_batch_threshold: Gauge [""] = (|r| f64::from(r.batch_threshold));
    /// Submission queue entries of the ring.
    ring ring_queue_depth: Gauge [""] = (|r| f64::from(r.queue_depth));
    /// Completion queue entries of the ring (the in-flight limit never exceeds them).
    ring ring_cq_entries: Gauge [""] = (|r| f64::from(r.cq_entries));
    /// io_uring_enter calls made to submit.
    ring ring_submit_calls: Counter [""] = (|r| r.submit_calls as f64);
    /// SQEs those calls submitted.
    ring ring_sqes_submitted: Counter [""] = (|r| r.sqes_submitted as f64);
    /// AIMD phase: 0 baseline, 1 probing, 2 backoff, 3 settling, 4 steady, 5 converged.
    ring ring_phase: Gauge [""] = (|r| f64::from(r.phase as u8));
    /// 1 while the controller moves the limit, 0 in static mode.
    ring ring_adaptive: Gauge [""] = (|r| if r.adaptive { 1.0 } else { 0.0 });
    /// P99 latency of the controller's last window.
    ring ring_p99_latency: Gauge ["seconds"] = (|r| ns_to_s(r.p99_ns));
    /// Baseline P99 latency (minimum over recent windows).
    ring ring_baseline_p99_latency: Gauge ["seconds"] = (|r| ns_to_s(r.baseline_p99_ns));
    /// P99 target (0: none).
    ring ring_target_p99_latency: Gauge ["seconds"] = (|r| ns_to_s(r.target_p99_ns));
    /// Completions per second over the last tick.
    ring ring_ops_per_second: Gauge [""] = (|r| r.ops_per_sec);
    /// Bytes per second over the last tick.
    ring ring_throughput: Gauge ["bytes"] = (|r| r.bytes_per_sec);
    /// Searches started again from STEADY or CONVERGED.
    ring ring_reprobes: Counter [""] = (|r| f64::from(r.reprobes));
    /// Time the controller took to first reach STEADY (0: not yet).
    ring ring_time_to_converge: Gauge ["seconds"] = (|r| r.ticks_to_converge as f64 * 0.01);
    /// Completions per second over the controller's last measurement window.
    ring ring_window_ops_per_second: Gauge [""] = (|r| r.window_ops_per_sec);
    /// Mean latency over the controller's last measurement window.
    ring ring_window_mean_latency: Gauge ["seconds"] = (|r| r.window_mean_ns / 1e9);
    /// Length of the controller's measurement windows.
    ring ring_window_length: Gauge ["seconds"] = (|r| ns_to_s(r.window_ns));
    /// Latency of the ring's sampled operations, from submission queue entry to completion.
    ring ring_latency: Histogram ["seconds"] = (histogram);
}

/// Upper bounds of the exported latency buckets, in seconds: 1-2-5 steps from 1 µs to 10 s.
pub const LATENCY_BUCKETS: [f64; 22] = [
    1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1,
    0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// Cumulative counts of `h` at each of [`LATENCY_BUCKETS`] (samples whose internal bucket
/// lies at or under the bound), the exact sum in seconds, and the count.
pub fn latency_buckets(h: &Histogram) -> (Vec<(f64, u64)>, f64, u64) {
    let mut out = Vec::with_capacity(LATENCY_BUCKETS.len());
    let mut it = h.buckets().peekable();
    let mut seen = 0;
    for &le in &LATENCY_BUCKETS {
        let le_ns = (le * 1e9) as u64;
        while let Some(&(_, high, c)) = it.peek() {
            if high > le_ns {
                break;
            }
            seen += c;
            it.next();
        }
        out.push((le, seen));
    }
    (out, h.sum_ns() as f64 / 1e9, h.count())
}

/// Per-bucket counts of `h`: one for each of [`LATENCY_BUCKETS`] (samples above the previous
/// bound, up to this one), then one for the samples past the last bound; with the exact sum in
/// seconds and the count. What the exporters encode (Prometheus accumulates them itself,
/// OTLP takes them as they are).
pub fn latency_bucket_counts(h: &Histogram) -> (Vec<u64>, f64, u64) {
    let (cumulative, sum, count) = latency_buckets(h);
    let mut counts = Vec::with_capacity(cumulative.len() + 1);
    let mut prev = 0;
    for (_, c) in cumulative {
        counts.push(c - prev);
        prev = c;
    }
    counts.push(count - prev);
    (counts, sum, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prometheus_safe() {
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate metric names");
        for m in METRICS {
            assert!(
                m.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                m.name
            );
            assert!(!m.help.is_empty());
            assert_eq!(
                m.scope == Scope::Ring,
                m.name.starts_with("ring_"),
                "{}",
                m.name
            );
            assert_eq!(
                matches!(m.read, Read::RingHistogram),
                m.kind == Kind::Histogram
            );
        }
    }

    /// Top-level field names of a struct's `Debug` output.
    fn fields(debug: &str) -> Vec<String> {
        let body = &debug[debug.find('{').unwrap() + 1..debug.rfind('}').unwrap()];
        let (mut depth, mut start, mut out) = (0, 0, Vec::new());
        for (i, c) in body.char_indices() {
            match c {
                '{' | '[' | '(' => depth += 1,
                '}' | ']' | ')' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(body[start..i].to_string());
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(body[start..].to_string());
        out.iter()
            .filter_map(|f| f.split(':').next())
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// A field added to the stats structs fails this test until it is exported (or said here
    /// why not): the exporters read the table, so the table must cover the structs.
    #[test]
    fn every_stats_field_is_in_the_table() {
        let exported = |name: &str| METRICS.iter().any(|m| m.name == name);
        let ring: &[(&str, &str)] = &[
            ("ops_completed", "ring_ops_completed"),
            ("ops_failed", "ring_ops_failed"),
            ("bytes_transferred", "ring_transferred"),
            ("in_flight", "ring_in_flight"),
            ("backlog", "ring_backlog"),
            ("in_flight_limit", "ring_in_flight_limit"),
            ("peak_in_flight", "ring_peak_in_flight"),
            ("batch_threshold", "ring_batch_threshold"),
            ("queue_depth", "ring_queue_depth"),
            ("cq_entries", "ring_cq_entries"),
            ("submit_calls", "ring_submit_calls"),
            ("sqes_submitted", "ring_sqes_submitted"),
            ("phase", "ring_phase"),
            ("adaptive", "ring_adaptive"),
            ("p99_ns", "ring_p99_latency"),
            ("baseline_p99_ns", "ring_baseline_p99_latency"),
            ("target_p99_ns", "ring_target_p99_latency"),
            ("ops_per_sec", "ring_ops_per_second"),
            ("bytes_per_sec", "ring_throughput"),
            ("reprobes", "ring_reprobes"),
            ("ticks_to_converge", "ring_time_to_converge"),
            ("window_ops_per_sec", "ring_window_ops_per_second"),
            ("window_mean_ns", "ring_window_mean_latency"),
            ("window_ns", "ring_window_length"),
            // Setup flags, fixed at creation: configuration, not a measurement.
            ("features", ""),
        ];
        let engine: &[(&str, &str)] = &[
            ("ops_completed", "ops_completed"),
            ("ops_failed", "ops_failed"),
            ("bytes_transferred", "transferred"),
            ("in_flight", "in_flight"),
            ("backlog", "backlog"),
            ("adaptive_spills", "adaptive_spills"),
            // Each ring's figures: the ring_* metrics, labelled by ring.
            ("rings", "rings"),
        ];
        let buffers: &[(&str, &str)] = &[
            ("bytes", "buffer_pool"),
            ("buffers", "buffers_out"),
            ("shards", "buffer_pool_shards"),
        ];
        for (debug, table) in [
            (format!("{:?}", RingStats::default()), ring),
            (format!("{:?}", Stats::default()), engine),
            (format!("{:?}", BufferStats::default()), buffers),
        ] {
            for f in fields(&debug) {
                let entry = table.iter().find(|(field, _)| *field == f);
                let Some((_, metric)) = entry else {
                    panic!("stats field `{f}` is neither exported nor listed in this test");
                };
                assert!(
                    metric.is_empty() || exported(metric),
                    "`{f}` maps to missing `{metric}`"
                );
            }
        }
    }

    #[test]
    fn buckets_are_cumulative_and_end_at_the_count() {
        let mut h = Histogram::new();
        for ns in [
            500u64,
            1_500,
            3_000,
            40_000,
            40_000,
            7_000_000,
            20_000_000_000,
        ] {
            h.record(ns);
        }
        let (b, sum, count) = latency_buckets(&h);
        assert!(b.windows(2).all(|w| w[0].1 <= w[1].1));
        assert_eq!(b[0], (1e-6, 1));
        assert_eq!(count, 7);
        assert!((sum - 20.007_085).abs() < 1e-9, "{sum}");
        // 20 s is past the last bound: only +Inf (the count) holds it.
        assert_eq!(b.last().unwrap().1, 6);
        let (per, psum, pcount) = latency_bucket_counts(&h);
        assert_eq!(
            (per.len(), psum, pcount),
            (LATENCY_BUCKETS.len() + 1, sum, count)
        );
        assert_eq!(per.iter().sum::<u64>(), count);
        assert_eq!(*per.last().unwrap(), 1);
    }
}
