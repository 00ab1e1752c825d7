//! Latency histograms: log-linear buckets from 1 ns to ~17 s with 32 sub-buckets per power of
//! two, so every bucket is within 3.2% of its lower edge. A tmpfs P99 of 20 µs and a network
//! P99 of 2 s are both resolved; a P99 read from a histogram is exact to its bucket (the
//! bucket's upper edge, never below the true value).
//!
//! Each ring keeps a pair: the window being recorded (swapped out at every controller tick)
//! and a cumulative one for exporters, so a rate over time is right (the reference exported
//! only the last window). Recording happens on the reaping path under the ring's own lock, so
//! no atomic is needed.

#![forbid(unsafe_code)]

/// Sub-buckets per power of two (2^5).
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Values below 2 x SUB nanoseconds get one bucket each.
const LINEAR: u64 = 2 * SUB;
/// Highest power of two covered: 2^34 ns ≈ 17 s.
const MAX_EXP: u32 = 34;
/// Number of buckets; the last one also takes every larger value.
pub const BUCKETS: usize = (LINEAR + (MAX_EXP as u64 - SUB_BITS as u64) * SUB) as usize;

static_assertions::const_assert!(BUCKETS < 1024);

/// Bucket index of a latency in nanoseconds.
#[inline]
pub fn bucket_of(ns: u64) -> usize {
    if ns < LINEAR {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros();
    if exp > MAX_EXP {
        return BUCKETS - 1;
    }
    let mantissa = (ns >> (exp - SUB_BITS)) & (SUB - 1);
    (LINEAR + u64::from(exp - SUB_BITS - 1) * SUB + mantissa) as usize
}

/// Smallest value (ns) that falls in bucket `i`.
pub fn bucket_low(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let exp = (i - LINEAR) / SUB + u64::from(SUB_BITS) + 1;
    let mantissa = (i - LINEAR) % SUB;
    (SUB + mantissa) << (exp - u64::from(SUB_BITS))
}

/// Largest value (ns) that falls in bucket `i` (the last bucket is open-ended: `u64::MAX`).
pub fn bucket_high(i: usize) -> u64 {
    if i + 1 >= BUCKETS {
        u64::MAX
    } else {
        bucket_low(i + 1) - 1
    }
}

/// A latency histogram with an exact count, sum, minimum and maximum.
#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    count: u64,
    sum_ns: u64,
    min_ns: u64,
    max_ns: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("mean_ns", &self.mean_ns())
            .field("p50_ns", &self.percentile(50.0))
            .field("p99_ns", &self.percentile(99.0))
            .field("max_ns", &self.max_ns)
            .finish()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            count: 0,
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }

    /// Records one latency.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.counts[bucket_of(ns)] += 1;
        self.count += 1;
        self.sum_ns = self.sum_ns.saturating_add(ns);
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.sum_ns = self.sum_ns.saturating_add(other.sum_ns);
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// Empties the histogram.
    pub fn clear(&mut self) {
        if self.count > 0 {
            self.counts.fill(0);
        }
        self.count = 0;
        self.sum_ns = 0;
        self.min_ns = u64::MAX;
        self.max_ns = 0;
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact sum of the samples, in nanoseconds (saturating).
    pub fn sum_ns(&self) -> u64 {
        self.sum_ns
    }

    /// Exact mean, in nanoseconds (0 when empty).
    pub fn mean_ns(&self) -> u64 {
        self.sum_ns.checked_div(self.count).unwrap_or(0)
    }

    /// Smallest sample (0 when empty).
    pub fn min_ns(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min_ns
        }
    }

    /// Largest sample (0 when empty).
    pub fn max_ns(&self) -> u64 {
        self.max_ns
    }

    /// Count in bucket `i`.
    pub fn bucket_count(&self, i: usize) -> u64 {
        self.counts.get(i).copied().unwrap_or(0)
    }

    /// The `p`-th percentile (0 < p <= 100), as the upper edge of the bucket holding the
    /// sample of that rank, capped by the largest sample: never below the true value, and at
    /// most one bucket (3.2%) above it. `percentile(100)` is the maximum. 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.count == 0 || p.is_nan() {
            return 0;
        }
        let p = p.clamp(0.0, 100.0);
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_high(i).min(self.max_ns);
            }
        }
        self.max_ns
    }

    /// Non-empty buckets as `(low_ns, high_ns, count)`, in order.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| (bucket_low(i), bucket_high(i), c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_tile_the_range() {
        for i in 0..BUCKETS - 1 {
            assert_eq!(bucket_of(bucket_low(i)), i, "low edge of {i}");
            assert_eq!(bucket_of(bucket_high(i)), i, "high edge of {i}");
            assert_eq!(bucket_high(i) + 1, bucket_low(i + 1));
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert!(bucket_low(BUCKETS - 1) > 10_000_000_000, "covers 10 s");
    }

    proptest! {
        #[test]
        fn bucket_width_within_a_few_percent(ns in 1_000u64..20_000_000_000) {
            let i = bucket_of(ns);
            prop_assert!(bucket_low(i) <= ns && ns <= bucket_high(i));
            if i + 1 < BUCKETS {
                let width = (bucket_high(i) - bucket_low(i) + 1) as f64;
                prop_assert!(width / bucket_low(i) as f64 <= 1.0 / 32.0 + 1e-12);
            }
        }

        #[test]
        fn percentile_never_below_truth_and_within_a_bucket(mut v in proptest::collection::vec(1u64..5_000_000_000, 1..400), p in 1.0f64..100.0) {
            let mut h = Histogram::new();
            for &x in &v { h.record(x); }
            v.sort_unstable();
            let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
            let truth = v[rank - 1];
            let got = h.percentile(p);
            prop_assert!(got >= truth, "p{p}: {got} < {truth}");
            prop_assert!(got as f64 <= truth as f64 * (1.0 + 1.0 / 32.0) + 1.0);
        }
    }

    #[test]
    fn tmpfs_scale_p99_is_resolved() {
        let mut h = Histogram::new();
        for i in 0..1000u64 {
            h.record(20_000 + i * 20); // 20..40 µs
        }
        let p99 = h.percentile(99.0);
        assert!((39_000..=40_500).contains(&p99), "{p99}");
        assert_eq!(
            h.percentile(100.0),
            h.max_ns(),
            "p100 is the maximum, not a bucket ceiling"
        );
        assert_eq!(h.mean_ns(), (20_000 + 39_980) / 2);
    }

    #[test]
    fn merge_and_clear() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        a.record(100);
        b.record(1_000_000);
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert_eq!(a.sum_ns(), 1_000_100);
        assert_eq!(a.min_ns(), 100);
        a.clear();
        assert_eq!((a.count(), a.percentile(99.0), a.min_ns()), (0, 0, 0));
    }
}
