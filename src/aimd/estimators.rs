//! The device model's two estimates, filtered over windows as TCP BBR filters its own:
//! capacity is a windowed **max** of delivered throughput (a lower window rarely means the
//! device got slower, a higher one cannot be faked), base latency a windowed **min** of mean
//! latency (queueing only ever adds to it). By Little's law the depth that fills the device
//! is their product; the controller never cuts below it.

/// Windowed extremum over the last `N` values pushed (older values age out, so a device that
/// changes is followed within `N` windows).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Filter<const N: usize> {
    values: [f64; N],
    len: usize,
    pos: usize,
}

impl<const N: usize> Default for Filter<N> {
    fn default() -> Self {
        Filter {
            values: [0.0; N],
            len: 0,
            pos: 0,
        }
    }
}

impl<const N: usize> Filter<N> {
    const NONEMPTY: () = assert!(N > 0, "a filter needs room for one value");

    /// Adds a value (non-positive values are "unknown" and ignored).
    pub fn push(&mut self, v: f64) {
        let () = Self::NONEMPTY;
        if v > 0.0 && v.is_finite() {
            self.values[self.pos] = v;
            self.pos = (self.pos + 1) % N;
            self.len = (self.len + 1).min(N);
        }
    }

    /// The largest value held (0: none).
    pub fn max(&self) -> f64 {
        self.values[..self.len].iter().copied().fold(0.0, f64::max)
    }

    /// The smallest value held (0: none).
    pub fn min(&self) -> f64 {
        let m = self.values[..self.len]
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        if m.is_finite() {
            m
        } else {
            0.0
        }
    }

    /// Forgets every value.
    pub fn clear(&mut self) {
        *self = Filter::default();
    }
}

/// Windows the capacity estimate spans (BBR's bandwidth filter spans ten round trips).
pub(crate) const CAPACITY_WINDOWS: usize = 10;
/// Windows the base-latency estimate spans: long enough to keep the latency of the shallow
/// depths a search or a drain probe visited, short enough to forget a device that got slower.
pub(crate) const BASE_LATENCY_WINDOWS: usize = 64;

/// How far over a whole number the Little's-law product may be and still round down to it,
/// in requests (see [`Model::fill_depth`]).
const FILL_SLACK: f64 = 0.05;

/// The device model: capacity and base latency.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Model {
    capacity: Filter<CAPACITY_WINDOWS>,
    base_latency: Filter<BASE_LATENCY_WINDOWS>,
}

impl Model {
    /// Takes a window's throughput (ops/s) and mean latency (ns).
    pub fn observe(&mut self, x: f64, lat_ns: f64) {
        self.capacity.push(x);
        self.base_latency.push(lat_ns);
    }

    /// Capacity, completions per second (0: unknown).
    pub fn capacity(&self) -> f64 {
        self.capacity.max()
    }

    /// Base latency, ns (0: unknown).
    pub fn base_latency_ns(&self) -> f64 {
        self.base_latency.min()
    }

    /// The depth that fills the device by Little's law, rounded up (0: unknown). Below it
    /// the device cannot deliver its capacity, whatever its curve: a drain probe there (on a
    /// throttle at 100k with 19 µs requests, from 2 to 1) would halve throughput for a whole
    /// window. A product at most `FILL_SLACK` (0.05 requests) over a whole number rounds
    /// down to it (the estimates are a max and a min of noisy windows).
    pub fn fill_depth(&self) -> u32 {
        let n = self.capacity() * self.base_latency_ns() / 1e9;
        (n - FILL_SLACK).ceil().max(0.0) as u32
    }

    /// Forgets both estimates (the workload changed: a new block size is a new device).
    pub fn clear(&mut self) {
        self.capacity.clear();
        self.base_latency.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_age_out_and_ignore_unknowns() {
        let mut f = Filter::<3>::default();
        assert_eq!((f.max(), f.min()), (0.0, 0.0));
        for v in [5.0, 0.0, -1.0, f64::NAN, 1.0, 3.0] {
            f.push(v);
        }
        assert_eq!((f.max(), f.min()), (5.0, 1.0));
        f.push(2.0);
        assert_eq!((f.max(), f.min()), (3.0, 1.0), "5 aged out");
    }

    #[test]
    fn fill_depth_is_littles_law() {
        let mut m = Model::default();
        m.observe(100_000.0, 30_000.0);
        m.observe(50_000.0, 25_000.0);
        assert_eq!(m.fill_depth(), 3, "100k/s x 25 us = 2.5");
        m.observe(100_000.0, 20_300.0);
        assert_eq!(m.fill_depth(), 2, "100k/s x 20.3 us = 2.03: noise over 2");
    }
}
