//! The throughput curve a search measured: one point per window, and the choice of the
//! operating point on it.

use super::window::Measure;

/// Points a search keeps (a climb from 1 to 4096 in the smallest steps needs fewer).
pub(crate) const CURVE_POINTS: usize = 48;

/// Measured (limit, throughput, P99) points of one search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Curve {
    points: [Measure; CURVE_POINTS],
    len: usize,
}

impl Default for Curve {
    fn default() -> Self {
        Curve {
            points: [Measure::default(); CURVE_POINTS],
            len: 0,
        }
    }
}

impl Curve {
    /// A curve holding one measure.
    pub fn of(m: &Measure) -> Self {
        let mut c = Curve::default();
        c.push(m);
        c
    }

    /// Adds a point; returns false when the curve is full (the search must end).
    pub fn push(&mut self, m: &Measure) -> bool {
        if self.len == CURVE_POINTS {
            return false;
        }
        self.points[self.len] = *m;
        self.len += 1;
        self.len < CURVE_POINTS
    }

    /// The latest point's limit and throughput.
    pub fn last(&self) -> Option<(u32, f64)> {
        self.len
            .checked_sub(1)
            .map(|i| (self.points[i].limit, self.points[i].x))
    }

    /// Sets the latest point's throughput to a new measure of it (confirm: the mean of its
    /// two windows; redo: the newer window).
    pub fn relevel_last(&mut self, x: f64) {
        if let Some(i) = self.len.checked_sub(1) {
            self.points[i].x = x;
        }
    }

    /// Points held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Drops the latest point.
    pub fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }

    /// The operating point: among the points whose P99 meets `target_ns` (0: no target), the
    /// shallowest whose throughput is at least `share` of the best of them, and that best.
    /// By Little's law every request beyond it only adds latency. `None` when no point meets
    /// the target.
    pub fn choose(&self, share: f64, target_ns: u64) -> Option<(Measure, f64)> {
        let ok = |p: &&Measure| target_ns == 0 || p.p99 <= target_ns;
        let pts = &self.points[..self.len];
        let best = pts.iter().filter(ok).map(|p| p.x).fold(f64::NAN, f64::max);
        if best.is_nan() {
            return None;
        }
        pts.iter()
            .filter(ok)
            .filter(|p| p.x >= share * best)
            .min_by_key(|p| p.limit)
            .map(|p| (*p, best))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(limit: u32, x: f64, p99: u64) -> Measure {
        Measure {
            limit,
            x,
            p99,
            ..Measure::default()
        }
    }

    #[test]
    fn chooses_the_shallowest_point_near_the_best() {
        let mut c = Curve::default();
        for (n, x) in [(1, 40.0), (2, 41.0), (4, 76.0), (8, 99.0), (10, 100.0)] {
            c.push(&m(n, x, n as u64 * 10));
        }
        let limit = |c: Option<(Measure, f64)>| c.map(|(m, best)| (m.limit, best));
        assert_eq!(limit(c.choose(0.97, 0)), Some((8, 100.0)));
        assert_eq!(
            limit(c.choose(0.97, 45)),
            Some((4, 76.0)),
            "the target excludes 8 and 10"
        );
        assert_eq!(limit(c.choose(0.97, 5)), None);
    }

    #[test]
    fn a_full_curve_says_so() {
        let mut c = Curve::default();
        for n in 1..CURVE_POINTS as u32 {
            assert!(c.push(&m(n, 1.0, 0)));
        }
        assert!(!c.push(&m(99, 1.0, 0)));
        assert!(!c.push(&m(100, 1.0, 0)));
        assert_eq!(c.choose(0.5, 0).map(|c| c.0.limit), Some(1));
    }
}
