//! Measurement windows: ticks at one held limit summed into one [`Measure`].
//!
//! The first tick after a limit change is left out (requests admitted under the old limit are
//! still completing); behind a throttle, so are the ticks before the first tick after a
//! hold. Off a throttle, throughput is the median of the ticks' rates; behind one, the
//! completions over the window's whole cycles. Mean latency is Little's law on
//! counted occupancy (requests in flight at each reap, over throughput), which has no
//! sampling bias: on a device that stalls, the cost of depth lies in the few requests held
//! through a stall, which 1-in-8 latency sampling catches only by chance. The sampled mean
//! stands in where nothing was counted. A window's P99 is the 80th percentile of its ticks'
//! P99s: one tick's P99 comes from a hundred-odd samples, so one stall fills its top 1%.

use super::TickInput;
use crate::tuning::Tuning;

/// One window's measurement at a held limit.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Measure {
    /// The limit held through the window.
    pub limit: u32,
    /// Completions per second.
    pub x: f64,
    /// Bytes per completion (0: no completions).
    pub op_bytes: f64,
    /// Mean latency, ns (0: unknown).
    pub lat: f64,
    /// The window's P99, ns (0: too few samples).
    pub p99: u64,
    /// Mean requests in flight (0: not counted).
    pub occupancy: f64,
    /// Share of the window's time spent in holds: ticks with requests pending and no
    /// completion (a throttle waiting for its next time slice).
    pub held: f64,
    /// The window's length, ns.
    pub ns: u64,
}

impl Measure {
    /// Whether the application, not the limit, bounded the window's occupancy: then the
    /// window says nothing about what the device does at the limit.
    pub fn app_limited<T: Tuning>(&self) -> bool {
        self.occupancy > 0.0
            && self.occupancy < f64::from(self.limit) * f64::from(T::APP_LIMITED_PERMILLE) / 1000.0
    }
}

/// Per-tick P99s and rates a window keeps (the latest, when it has more ticks).
const WINDOW_TICKS: usize = 64;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    skip: bool,
    /// Time spent skipping ticks while waiting for the first tick after a hold to start the
    /// window on, ns.
    waited_ns: u64,
    /// The previous tick was a hold (carried from one window to the next at a held limit).
    last_held: bool,
    /// Time since the latest hold ended (0: none seen), ns; carried like `last_held`.
    since_hold_ns: u64,
    /// The longest time between two holds ending in the window: the cycle, ns.
    pub cycle_ns: u64,
    ns: u64,
    completions: u64,
    bytes: u64,
    lat_sum: f64,
    samples: u64,
    p99s: [u64; WINDOW_TICKS],
    p99_count: usize,
    /// Completions per second of each tick.
    rates: [f32; WINDOW_TICKS],
    rate_count: usize,
    occupancy_sum: f64,
    occupancy_samples: u64,
    held_ns: u64,
    /// The current run of consecutive hold ticks, ns.
    hold_run_ns: u64,
    /// The longest run of hold ticks in the window, ns.
    pub longest_hold_ns: u64,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            skip: false,
            waited_ns: 0,
            last_held: false,
            since_hold_ns: 0,
            cycle_ns: 0,
            ns: 0,
            completions: 0,
            bytes: 0,
            lat_sum: 0.0,
            samples: 0,
            p99s: [0; WINDOW_TICKS],
            p99_count: 0,
            rates: [0.0; WINDOW_TICKS],
            rate_count: 0,
            occupancy_sum: 0.0,
            occupancy_samples: 0,
            held_ns: 0,
            hold_run_ns: 0,
            longest_hold_ns: 0,
        }
    }
}

impl Window {
    /// A fresh window that leaves out its first tick.
    pub fn after_change() -> Self {
        Window {
            skip: true,
            ..Window::default()
        }
    }

    /// Starts over after a limit change, leaving out the first tick; the device's cycle
    /// (the time since the latest hold ended) is the device's, not the limit's, so it
    /// carries over.
    pub fn restart(&mut self) {
        *self = Window {
            skip: true,
            last_held: self.last_held,
            since_hold_ns: self.since_hold_ns,
            ..Window::default()
        };
    }

    /// Adds a tick; returns true when the window is complete: it spans `len_ns`, and, when
    /// `cycles` (the device has been holding lately), it also ends on the first tick after
    /// a hold, as it began: then it holds whole burst-and-hold cycles, which a throttle fills
    /// with the same budget each. Waiting for a hold, at the
    /// start or the end, is bounded by `len_ns` (a throttle whose holds are shorter than a
    /// tick shows none).
    pub fn add<T: Tuning>(&mut self, t: &TickInput, len_ns: u64, cycles: bool) -> bool {
        let hold = t.hold_ns > 0;
        // The first tick that completes requests after a hold: where the throttle's next
        // time slice began, the same point of every burst-and-hold cycle. (Where a hold
        // begins moves with the device's speed: a burst that a stall slows ends later.)
        let hold_starts = self.last_held && t.completions > 0;
        self.last_held = hold;
        if hold_starts {
            if self.since_hold_ns > 0 {
                self.cycle_ns = self.cycle_ns.max(self.since_hold_ns);
            }
            self.since_hold_ns = t.elapsed_ns.max(1);
        } else if self.since_hold_ns > 0 {
            self.since_hold_ns = self.since_hold_ns.saturating_add(t.elapsed_ns);
        }
        if self.skip {
            self.skip = cycles && !hold_starts && self.waited_ns < len_ns;
            self.waited_ns = if self.skip {
                self.waited_ns.saturating_add(t.elapsed_ns)
            } else {
                0
            };
            return false;
        }
        self.ns = self.ns.saturating_add(t.elapsed_ns);
        self.completions = self.completions.saturating_add(t.completions);
        self.bytes = self.bytes.saturating_add(t.bytes);
        self.lat_sum += t.mean_ns as f64 * t.samples as f64;
        self.samples = self.samples.saturating_add(t.samples);
        self.occupancy_sum += t.in_flight_sum as f64;
        self.occupancy_samples = self.occupancy_samples.saturating_add(t.in_flight_samples);
        if t.samples >= u64::from(T::MIN_P99_SAMPLES) {
            self.p99s[self.p99_count % WINDOW_TICKS] = t.p99_ns;
            self.p99_count += 1;
        }
        if t.elapsed_ns > 0 {
            self.rates[self.rate_count % WINDOW_TICKS] =
                (t.completions as f64 * 1e9 / t.elapsed_ns as f64) as f32;
            self.rate_count += 1;
        }
        self.held_ns = self.held_ns.saturating_add(t.hold_ns.min(t.elapsed_ns));
        if hold {
            self.hold_run_ns = self.hold_run_ns.saturating_add(t.hold_ns);
            self.longest_hold_ns = self.longest_hold_ns.max(self.hold_run_ns);
        } else {
            self.hold_run_ns = 0;
        }
        // A window that saw nothing complete measured nothing: it goes on.
        let max_ns = u64::from(T::WINDOW_MAX_MS) * 1_000_000;
        (self.completions > 0 || self.ns >= max_ns)
            && self.ns >= len_ns
            && (!cycles || hold_starts || self.ns >= len_ns.saturating_mul(2))
    }

    fn p99_of_ticks(&self) -> u64 {
        let n = self.p99_count.min(WINDOW_TICKS);
        if n == 0 {
            return 0;
        }
        let mut p99s = self.p99s;
        *p99s[..n].select_nth_unstable(n * 4 / 5).1
    }

    /// The median of the ticks' rates (0: no tick).
    fn median_rate(&self) -> f64 {
        let n = self.rate_count.min(WINDOW_TICKS);
        if n == 0 {
            return 0.0;
        }
        let mut rates = self.rates;
        f64::from(*rates[..n].select_nth_unstable_by(n / 2, f32::total_cmp).1)
    }

    /// The window's measure at `limit`; the window starts over. `robust`: throughput is the
    /// median of the ticks' rates rather than the window's total over its length. A device
    /// that is not throttled serves at an even rate but for short stalls (other work on
    /// the machine takes its CPUs for a tick or two: measured on the loop device at a fixed
    /// depth, 10 ms rates of 250k with dips to 80-130k every half second or so), which the
    /// median ignores and the total does not; a throttle's ticks alternate bursts and holds,
    /// where only the total over whole cycles means anything.
    pub fn take(&mut self, limit: u32, robust: bool) -> Measure {
        let secs = self.ns as f64 / 1e9;
        let x = if self.ns == 0 {
            0.0
        } else if robust {
            self.median_rate()
        } else {
            self.completions as f64 / secs
        };
        let occupancy = if self.occupancy_samples == 0 {
            0.0
        } else {
            self.occupancy_sum / self.occupancy_samples as f64
        };
        let sampled = if self.samples == 0 {
            0.0
        } else {
            self.lat_sum / self.samples as f64
        };
        let m = Measure {
            limit,
            x,
            op_bytes: if self.completions == 0 {
                0.0
            } else {
                self.bytes as f64 / self.completions as f64
            },
            lat: if x > 0.0 && occupancy > 0.0 {
                occupancy / x * 1e9
            } else {
                sampled
            },
            p99: self.p99_of_ticks(),
            occupancy,
            held: if self.ns == 0 {
                0.0
            } else {
                self.held_ns as f64 / self.ns as f64
            },
            ns: self.ns,
        };
        *self = Window {
            last_held: self.last_held,
            since_hold_ns: self.since_hold_ns,
            ..Window::default()
        };
        m
    }
}
