//! Latency histogram for the report: every I/O recorded, percentiles within 0.4%.
//!
//! Log-linear: values below 256 ns exactly, then 256 sub-buckets per power of two, so a
//! bucket is at most 1/256 of its value wide. Fixed memory (about 120 KiB), no allocation
//! when recording.

const SUB_BITS: u32 = 8;
const SUB: usize = 1 << SUB_BITS;
/// Powers of two above the exact range, up to 2^56 ns (over two years).
const GROUPS: usize = 48;

/// A latency histogram in nanoseconds, with exact count, sum, sum of squares, min and max.
#[derive(Clone)]
pub struct LatHist {
    counts: Box<[u64]>,
    /// Samples.
    pub n: u64,
    sum: f64,
    sum_sq: f64,
    /// Smallest sample.
    pub min: u64,
    /// Largest sample.
    pub max: u64,
}

impl Default for LatHist {
    fn default() -> Self {
        Self::new()
    }
}

fn index(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = msb - SUB_BITS;
    let group = (msb - SUB_BITS + 1) as usize;
    let sub = ((v >> shift) as usize) - SUB;
    (group * SUB + sub).min(SUB * (GROUPS + 1) - 1)
}

/// Upper edge (inclusive) of bucket `i`.
fn high(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let group = (i / SUB) as u32;
    let sub = (i % SUB) as u64;
    let shift = group - 1;
    ((SUB as u64 + sub + 1) << shift) - 1
}

impl LatHist {
    /// Empty.
    pub fn new() -> Self {
        LatHist {
            counts: vec![0; SUB * (GROUPS + 1)].into_boxed_slice(),
            n: 0,
            sum: 0.0,
            sum_sq: 0.0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// The non-empty buckets, as (the bucket's upper edge in ns, samples), in order: fio's
    /// json+ "bins".
    pub fn bins(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (high(i), *c))
    }

    /// Records one sample.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.n += 1;
        let f = v as f64;
        self.sum += f;
        self.sum_sq += f * f;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Adds another histogram.
    pub fn merge(&mut self, o: &LatHist) {
        for (a, b) in self.counts.iter_mut().zip(o.counts.iter()) {
            *a += b;
        }
        self.n += o.n;
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    /// Mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }

    /// Population standard deviation, as fio reports it.
    pub fn stddev(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let m = self.mean();
        (self.sum_sq / self.n as f64 - m * m).max(0.0).sqrt()
    }

    /// Smallest sample, 0 when empty.
    pub fn min_or_zero(&self) -> u64 {
        if self.n == 0 {
            0
        } else {
            self.min
        }
    }

    /// The value at percentile `p` (0-100): the upper edge of the bucket holding the sample of
    /// that rank, capped by the maximum; at most 0.4% above the true value.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.n as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return high(i).min(self.max);
            }
        }
        self.max
    }

    /// Share of samples (0-1) with value in `lo..hi` nanoseconds (bucket-resolved).
    pub fn share_between(&self, lo: u64, hi: u64) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let c: u64 = self
            .counts
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let h = high(*i);
                h >= lo && h < hi
            })
            .map(|(_, c)| c)
            .sum();
        c as f64 / self.n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_narrow() {
        let mut prev = None;
        for v in (0..2_000_000u64)
            .step_by(7)
            .chain([u64::from(u32::MAX), 1 << 50])
        {
            let i = index(v);
            assert!(high(i) >= v, "bucket of {v} ends at {}", high(i));
            if v >= 256 {
                let width_ok = (high(i) - v) as f64 <= v as f64 / 256.0 + 1.0;
                assert!(width_ok, "bucket of {v} too wide: ends at {}", high(i));
            }
            if let Some(p) = prev {
                assert!(i >= p);
            }
            prev = Some(i);
        }
    }

    #[test]
    fn percentiles_are_within_half_a_percent_of_exact() {
        let mut h = LatHist::new();
        let mut exact: Vec<u64> = (0..100_000u64)
            .map(|i| 1000 + (i * i) % 9_000_000)
            .collect();
        for &v in &exact {
            h.record(v);
        }
        exact.sort_unstable();
        for p in [1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0] {
            let rank = ((p / 100.0) * exact.len() as f64).ceil() as usize;
            let truth = exact[rank.max(1) - 1] as f64;
            let got = h.percentile(p) as f64;
            assert!(
                got >= truth && got <= truth * 1.004 + 1.0,
                "p{p}: {got} vs {truth}"
            );
        }
        assert_eq!(h.percentile(100.0), h.max);
        assert_eq!(h.min, 1000);
        let mean = exact.iter().sum::<u64>() as f64 / exact.len() as f64;
        assert!((h.mean() - mean).abs() < 1e-6 * mean);
    }
}
