//! A simulator in virtual time: a closed loop of requests, a device model serving them, and
//! the controller moving the loop's limit, ticked as the engine ticks it. Deterministic: the
//! same device and seed give the same run, so the zoo's goals are asserted exactly.
//!
//! Device models, calibrated to the devices of the zoo on this project's machine:
//! - a **backend** whose service rate with `n` requests in service is `xmax (1 - e^(-n/n0))`
//!   completions per second, shared equally by the requests in service (processor sharing):
//!   `n0` small is a CPU-bound device (tmpfs: depth barely helps), `n0` large a multi-queue
//!   device (the loop device: 43k at depth 1, 246k at 16, 268k at 64); large blocks add
//!   `bytes / bw` to each request's service;
//! - a **throttle** in front of it, as the block layer's: each time slice grants a budget of
//!   `iops x slice` requests and `bps x slice` bytes; requests past the budget wait for the
//!   next slice. Measured on the knee device at 100k IOPS, depth 16: ~50 ms bursts at twice
//!   the cap, then ~50 ms holds with nothing completing, period 100 ms (`Throttle`
//!   also models a fixed delay in the throttle's dispatch path);
//! - **noise**: the backend's rate scaled by a random factor redrawn every millisecond (a
//!   disk shared with others);
//! - **changes** at chosen times: caps, a neighbour taking a share of the budget, block size.

use std::collections::VecDeque;

use super::{Controller, Phase, TickInput};
use crate::tuning::Tuning;

/// A token-bucket throttle in time slices (0: no cap).
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    pub iops: f64,
    pub bps: f64,
    pub slice_ns: u64,
    /// Time a request spends in the throttle's dispatch path even within budget, ns (0 for
    /// the knee device as measured on 2026-12-01: 53k IOPS at depth 1, the 100k cap reached
    /// at depth 2, like the bare loop device; an older measurement in the spec found 41k at
    /// depth 2 and 76k at 4, which a dispatch delay of about 20 µs reproduces).
    pub dispatch_ns: u64,
}

/// A change applied at a point of virtual time.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// New throttle caps (IOPS, bytes/s).
    Caps(f64, f64),
    /// A neighbour takes this share of the throttle's budget (or of the backend's rate).
    Neighbour(f64),
    /// The workload's block size, bytes.
    BlockSize(u64),
    /// The backend stops serving for this long, ns (requests in service stay there; a
    /// throttle in front keeps dispatching into it within its budget), then resumes as it
    /// was.
    Stall(u64),
}

#[derive(Debug, Clone)]
pub struct Device {
    pub name: &'static str,
    /// Backend saturation rate, completions/s (for small blocks).
    pub xmax: f64,
    /// Backend concurrency scale.
    pub n0: f64,
    /// Share of `xmax` one request in service gets (0: the plain `1 - e^(-n/n0)` curve);
    /// above one, the rest of the curve rises as `1 - e^(-(n-1)/n0)`.
    pub floor: f64,
    /// Backend bandwidth, bytes/s (0: not a bound).
    pub bw: f64,
    pub throttle: Option<Throttle>,
    /// Amplitude of the per-millisecond rate noise (0: none).
    pub noise: f64,
    /// Amplitude of the level shifts of the rate (0: none): the whole device runs faster or
    /// slower by up to this share for a while, as this shared 2-core VM does (measured on the
    /// page cache at a fixed depth with fio, 10 ms samples: levels apart by up to ~20% that
    /// last tens to hundreds of milliseconds, ~2% jitter between adjacent samples).
    pub regime: f64,
    /// Mean time a level lasts, ns.
    pub regime_ns: u64,
    /// Short stalls: the rate falls to this share (1: none) for 10-30 ms, about every
    /// `dip_every_ns` (measured on the loop device at a fixed depth: 10 ms rates of 250k with
    /// dips to 80-130k every half second or so, other work taking the CPUs).
    pub dip: f64,
    pub dip_every_ns: u64,
    /// Time between a completion and its reap, ns (the engine's own path).
    pub reap_ns: u64,
    pub block: u64,
    /// Latency spikes: every `.0`-th completion (0: none) is held `.1` ns more before it is
    /// reaped, keeping its slot (a device whose requests now and then take far longer).
    pub spikes: (u64, u64),
    pub changes: Vec<(u64, Change)>,
    pub seed: u64,
}

impl Device {
    fn base(name: &'static str, xmax: f64, n0: f64) -> Self {
        Device {
            name,
            xmax,
            n0,
            floor: 0.0,
            bw: 0.0,
            throttle: None,
            noise: 0.0,
            regime: 0.10,
            regime_ns: 150_000_000,
            dip: 1.0,
            dip_every_ns: 500_000_000,
            reap_ns: 2_000,
            block: 4096,
            spikes: (0, 0),
            changes: Vec::new(),
            seed: 0x2545_f491_4f6c_dd1d,
        }
    }

    /// The uncapped loop device: an SSD-like curve.
    pub fn loop_device() -> Self {
        Device {
            bw: 2.0e9,
            dip: 0.45,
            ..Device::base("loop", 275_000.0, 5.9)
        }
    }

    /// The knee device: the loop device behind a block-layer throttle at `iops`.
    pub fn knee(iops: f64) -> Self {
        Device {
            name: "knee",
            throttle: Some(Throttle {
                iops,
                bps: 0.0,
                slice_ns: 100_000_000,
                dispatch_ns: 0,
            }),
            ..Device::loop_device()
        }
    }

    /// The knee device with no IOPS cap and a byte cap, serving 128 KiB requests.
    pub fn byte_capped(bps: f64) -> Self {
        Device {
            name: "bytes",
            throttle: Some(Throttle {
                iops: 0.0,
                bps,
                slice_ns: 100_000_000,
                dispatch_ns: 0,
            }),
            block: 128 << 10,
            ..Device::loop_device()
        }
    }

    /// tmpfs (or the page cache), buffered: CPU-bound, depth buys little. Measured with
    /// bffio at fixed depths, 4 KiB random reads: 0.66 of the best at depth 1, 0.79 at 2, 0.94
    /// at 4, the best from 8.
    pub fn tmpfs() -> Self {
        Device {
            reap_ns: 200,
            floor: 0.66,
            ..Device::base("tmpfs", 600_000.0, 2.1)
        }
    }

    /// A disk shared with others: a deep curve and a noisy rate.
    pub fn noisy_disk() -> Self {
        Device {
            noise: 0.3,
            reap_ns: 5_000,
            ..Device::base("disk", 80_000.0, 12.0)
        }
    }

    pub fn with(mut self, at_ns: u64, c: Change) -> Self {
        self.changes.push((at_ns, c));
        self
    }

    /// The device without its speed shifts and stalls.
    pub fn quiet(mut self) -> Self {
        self.regime = 0.0;
        self.dip = 1.0;
        self
    }

    /// The device with one completion in `every` held `ns` longer.
    pub fn spiky(mut self, every: u64, ns: u64) -> Self {
        self.spikes = (every, ns);
        self
    }

    pub fn seeded(mut self, seed: u64) -> Self {
        self.seed = seed | 1;
        self
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Run {
    pub ops: u64,
    pub ns: u64,
    pub mean_ns: f64,
    pub p99_ns: u64,
    /// Virtual time of the first STEADY or CONVERGED tick (None: never).
    pub stable_ns: Option<u64>,
    /// Per tick: (time, completions, limit, phase).
    pub ticks: Vec<(u64, u64, u32, Phase)>,
}

impl Run {
    pub fn iops(&self) -> f64 {
        self.ops as f64 * 1e9 / self.ns as f64
    }

    /// Completions per second between two times.
    pub fn iops_between(&self, from_ns: u64, to_ns: u64) -> f64 {
        let n: u64 = self
            .ticks
            .iter()
            .filter(|t| t.0 > from_ns && t.0 <= to_ns)
            .map(|t| t.1)
            .sum();
        n as f64 * 1e9 / (to_ns - from_ns) as f64
    }

    /// The limit at time `ns`.
    pub fn limit_at(&self, ns: u64) -> u32 {
        self.ticks
            .iter()
            .take_while(|t| t.0 <= ns)
            .last()
            .map_or(0, |t| t.2)
    }
}

/// Latency histogram: 250 ns buckets up to 100 ms.
struct Histogram {
    buckets: Vec<u32>,
    count: u64,
    sum: f64,
}

const BUCKET_NS: u64 = 250;

impl Histogram {
    fn new() -> Self {
        Histogram {
            buckets: vec![0; 400_001],
            count: 0,
            sum: 0.0,
        }
    }

    fn add(&mut self, ns: u64) {
        let i = ((ns / BUCKET_NS) as usize).min(self.buckets.len() - 1);
        self.buckets[i] += 1;
        self.count += 1;
        self.sum += ns as f64;
    }

    fn quantile(&self, q: f64) -> u64 {
        let want = (self.count as f64 * q).ceil() as u64;
        let mut seen = 0u64;
        for (i, &b) in self.buckets.iter().enumerate() {
            seen += u64::from(b);
            if seen >= want.max(1) {
                return (i as u64 + 1) * BUCKET_NS;
            }
        }
        0
    }
}

struct Rng(u64);

impl Rng {
    /// Uniform in [-1, 1).
    fn signed(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

fn pending_now<A, B, C, D>(
    a: &VecDeque<A>,
    b: &VecDeque<B>,
    c: &VecDeque<C>,
    d: &VecDeque<D>,
) -> usize {
    a.len() + b.len() + c.len() + d.len()
}

/// How the run's limit is set.
pub enum Limit<'a, T: Tuning> {
    Fixed(u32),
    Adaptive(&'a mut Controller<T>),
}

/// Runs `dev` for `ns` of virtual time with the application keeping at most `app_depth`
/// requests pending.
pub fn run<T: Tuning>(dev: &Device, mut limit: Limit<'_, T>, ns: u64, app_depth: u32) -> Run {
    let tick_ns = u64::from(T::TICK_MS) * 1_000_000;
    let sample_mask = (1u64 << T::SAMPLE_SHIFT) - 1;
    let mut rng = Rng(dev.seed);
    let mut changes = dev.changes.clone();
    changes.sort_by_key(|c| c.0);
    let mut changes: VecDeque<_> = changes.into();
    let mut throttle = dev.throttle;
    let mut neighbour = 0.0f64;
    let mut block = dev.block;
    // The speed factors: per-millisecond noise, level shifts and stalls; the device runs at
    // their product.
    let mut rate_noise = 1.0f64;
    let mut next_noise_ns = 0u64;
    let mut level = 1.0f64;
    let mut next_level_ns = 0u64;
    // The current stall's factor, and when the stall (or the wait for the next) ends.
    let mut dip = 1.0f64;
    let mut next_dip_ns = dev.dip_every_ns;
    // A stall in progress ends then (0: none); spikes: one completion in `spike_every` is held
    // `spike_ns` more.
    let mut stalled_until = 0u64;
    let (spike_every, spike_ns) = dev.spikes;
    let mut served = 0u64;

    let mut now = 0u64;
    // Requests waiting at the throttle (submit times), in service (submit time, progress at
    // entry), and completed but not yet reaped (submit time, visible time).
    let mut waiting: VecDeque<u64> = VecDeque::new();
    let mut dispatching: VecDeque<(u64, u64)> = VecDeque::new();
    let mut service: VecDeque<(u64, f64)> = VecDeque::new();
    let mut done: VecDeque<(u64, u64)> = VecDeque::new();
    let mut progress = 0.0f64;
    let (mut budget_ops, mut budget_bytes) = (f64::INFINITY, f64::INFINITY);
    let mut next_slice_ns = 0u64;

    let mut cur_limit = match &limit {
        Limit::Fixed(n) => *n,
        Limit::Adaptive(c) => c.decision().limit,
    };
    let mut hist = Histogram::new();
    let mut tick = TickInput::default();
    let mut samples: Vec<u64> = Vec::new();
    let mut next_tick_ns = tick_ns;
    let mut last_tick_ns = 0u64;
    let mut reaped = 0u64;
    let mut reaped_at_tick = 0u64;
    let mut reaped_at_check = 0u64;
    let mut run = Run {
        ops: 0,
        ns,
        mean_ns: 0.0,
        p99_ns: 0,
        stable_ns: None,
        ticks: Vec::new(),
    };

    let rate = |n: usize, block: u64, noise: f64, neighbour: f64, throttled: bool| -> f64 {
        if n == 0 {
            return 0.0;
        }
        let x = if dev.floor > 0.0 {
            let rise = 1.0 - (-(n as f64 - 1.0) / dev.n0).exp();
            dev.xmax * (dev.floor + (1.0 - dev.floor) * rise)
        } else {
            dev.xmax * (1.0 - (-(n as f64) / dev.n0).exp())
        };
        let per_op = 1.0 / x
            + if dev.bw > 0.0 {
                block.saturating_sub(4096) as f64 / dev.bw
            } else {
                0.0
            };
        let share = if throttled { 1.0 } else { 1.0 - neighbour };
        (share * noise / per_op).max(1.0)
    };

    loop {
        let pending = waiting.len() + dispatching.len() + service.len() + done.len();
        // Fill to the limit.
        let want = cur_limit.min(app_depth) as usize;
        for _ in pending..want {
            waiting.push_back(now);
        }
        // Dispatch through the throttle.
        if let Some(th) = throttle {
            if now >= next_slice_ns {
                let share = 1.0 - neighbour;
                let slice = th.slice_ns as f64 / 1e9;
                budget_ops = if th.iops > 0.0 {
                    th.iops * slice * share
                } else {
                    f64::INFINITY
                };
                budget_bytes = if th.bps > 0.0 {
                    th.bps * slice * share
                } else {
                    f64::INFINITY
                };
                next_slice_ns = (now / th.slice_ns + 1) * th.slice_ns;
            }
        }
        while let Some(&t0) = waiting.front() {
            if budget_ops < 1.0 || budget_bytes < block as f64 {
                break;
            }
            budget_ops -= 1.0;
            budget_bytes -= block as f64;
            waiting.pop_front();
            dispatching.push_back((t0, now + throttle.map_or(0, |t| t.dispatch_ns)));
        }
        while dispatching.front().is_some_and(|d| d.1 <= now) {
            let (t0, _) = dispatching.pop_front().unwrap();
            service.push_back((t0, progress));
        }
        let r = rate(
            service.len(),
            block,
            rate_noise * level * dip,
            neighbour,
            throttle.is_some(),
        ) / service.len().max(1) as f64;
        let stalled = now < stalled_until;
        let r = if stalled { 0.0 } else { r };
        // The next event.
        let t_service = service
            .front()
            .filter(|_| !stalled)
            .map(|&(_, v)| now + (((v + 1.0 - progress) / r * 1e9).ceil().max(1.0) as u64));
        let t_unstall = stalled.then_some(stalled_until);
        let t_done = done.front().map(|&(_, vis)| vis);
        let t_dispatch = dispatching.front().map(|d| d.1);
        let t_slice = (throttle.is_some() && !waiting.is_empty()).then_some(next_slice_ns);
        let t_noise = (dev.noise > 0.0).then_some(next_noise_ns);
        let t_level = (dev.regime > 0.0).then_some(next_level_ns);
        let t_dip = (dev.dip < 1.0).then_some(next_dip_ns);
        let t_change = changes.front().map(|c| c.0);
        let next = [
            t_service,
            t_done,
            t_dispatch,
            t_slice,
            t_noise,
            t_level,
            t_dip,
            t_change,
            t_unstall,
            Some(next_tick_ns),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(next_tick_ns)
        .max(now);
        if next >= ns {
            break;
        }
        progress += r * (next - now) as f64 / 1e9;
        now = next;
        // Completions from service (the head's progress is due; float error aside).
        while let Some(&(t0, v)) = service.front() {
            if progress + 1e-9 >= v + 1.0 {
                service.pop_front();
                served += 1;
                let mut vis = now + dev.reap_ns;
                if spike_every > 0 && served % spike_every == 0 {
                    vis += spike_ns;
                }
                // `done` stays ordered by the time each entry becomes visible.
                let at = done.partition_point(|d| d.1 <= vis);
                done.insert(at, (t0, vis));
            } else {
                break;
            }
        }
        // Reaps: the engine counts what is in flight once per reap, before it.
        if done.front().is_some_and(|d| d.1 <= now) {
            tick.in_flight_sum +=
                (waiting.len() + dispatching.len() + service.len() + done.len()) as u64;
            tick.in_flight_samples += 1;
        }
        while let Some(&(t0, vis)) = done.front() {
            if vis > now {
                break;
            }
            done.pop_front();
            let lat = now - t0;
            hist.add(lat);
            reaped += 1;
            tick.completions += 1;
            tick.bytes += block;
            if reaped & sample_mask == 0 {
                samples.push(lat);
            }
        }
        if dev.noise > 0.0 && now >= next_noise_ns {
            rate_noise = (1.0 + dev.noise * rng.signed()).max(0.05);
            next_noise_ns = now + 1_000_000;
        }
        if dev.dip < 1.0 && now >= next_dip_ns {
            if dip < 1.0 {
                dip = 1.0;
                next_dip_ns = now + (dev.dip_every_ns as f64 * (1.0 + 0.5 * rng.signed())) as u64;
            } else {
                dip = dev.dip;
                next_dip_ns = now + (20_000_000.0 + 10_000_000.0 * rng.signed()) as u64;
            }
        }
        if dev.regime > 0.0 && now >= next_level_ns {
            level = 1.0 + dev.regime * rng.signed();
            // Dwell uniform in [0.25, 1.75] x the mean.
            let dwell = dev.regime_ns as f64 * (1.0 + 0.75 * rng.signed());
            next_level_ns = now + dwell as u64;
        }
        while changes.front().is_some_and(|c| c.0 <= now) {
            match changes.pop_front().unwrap().1 {
                Change::Caps(iops, bps) => {
                    if let Some(th) = &mut throttle {
                        th.iops = iops;
                        th.bps = bps;
                    }
                }
                Change::Neighbour(share) => neighbour = share,
                Change::BlockSize(b) => block = b,
                Change::Stall(d) => stalled_until = now + d,
            }
        }
        if now >= next_tick_ns {
            next_tick_ns += tick_ns;
            // The engine's per-interval hold accounting.
            let held = reaped == reaped_at_check
                && pending_now(&waiting, &dispatching, &service, &done) > 0;
            if held {
                tick.hold_ns += tick_ns;
            }
            reaped_at_check = reaped;
            tick.elapsed_ns = now - last_tick_ns;
            tick.pending = (waiting.len() + dispatching.len() + service.len() + done.len()) as u32;
            tick.samples = samples.len() as u64;
            if !samples.is_empty() {
                samples.sort_unstable();
                let i = ((samples.len() as f64 * 0.99).ceil() as usize).clamp(1, samples.len());
                tick.p99_ns = samples[i - 1];
                tick.mean_ns = samples.iter().sum::<u64>() / samples.len() as u64;
            }
            let completions = reaped - reaped_at_tick;
            reaped_at_tick = reaped;
            let phase = match &mut limit {
                Limit::Fixed(_) => Phase::Steady,
                Limit::Adaptive(c) => {
                    if super::defer_tick::<T>(tick.samples, tick.elapsed_ns, held) {
                        c.decision().phase
                    } else {
                        let d = c.tick(&tick);
                        cur_limit = d.limit;
                        tick = TickInput::default();
                        samples.clear();
                        last_tick_ns = now;
                        d.phase
                    }
                }
            };
            if matches!(limit, Limit::Fixed(_)) {
                tick = TickInput::default();
                samples.clear();
                last_tick_ns = now;
            }
            if phase.is_stable() && run.stable_ns.is_none() {
                run.stable_ns = Some(now);
            }
            run.ticks.push((now, completions, cur_limit, phase));
        }
    }
    run.ops = hist.count;
    run.mean_ns = if hist.count == 0 {
        0.0
    } else {
        hist.sum / hist.count as f64
    };
    run.p99_ns = hist.quantile(0.99);
    run
}

/// A fixed-depth point of a sweep.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub depth: u32,
    pub iops: f64,
    pub mean_ns: f64,
    pub p99_ns: u64,
}

/// Depths of a fixed-depth sweep.
pub const SWEEP: [u32; 16] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256];

/// The device's fixed-depth sweep (the device's changes are not applied).
pub fn sweep<T: Tuning>(dev: &Device, ns: u64) -> Vec<Point> {
    let dev = Device {
        changes: Vec::new(),
        ..dev.clone()
    };
    SWEEP
        .iter()
        .map(|&d| {
            let r = run::<T>(&dev, Limit::Fixed(d), ns, u32::MAX);
            Point {
                depth: d,
                iops: r.iops(),
                mean_ns: r.mean_ns,
                p99_ns: r.p99_ns,
            }
        })
        .collect()
}

/// The best point of a sweep, and its knee: the shallowest depth reaching 95% of the best.
pub fn best_and_knee(points: &[Point]) -> (Point, Point) {
    let best = *points
        .iter()
        .max_by(|a, b| a.iops.total_cmp(&b.iops))
        .expect("a sweep has points");
    let knee = *points
        .iter()
        .find(|p| p.iops >= 0.95 * best.iops)
        .expect("the best point qualifies");
    (best, knee)
}
