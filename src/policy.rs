//! Ring-selection policies: which ring a new request goes to.
//!
//! | policy | choice | cost per submission |
//! |---|---|---|
//! | [`Adaptive`] | the CPU-local ring; when it is at 75% of its in-flight limit, the lighter of two random rings, unless the local ring is an outlier (pending > 2x the average) | a TLS read; the spill test reads every ring's published load |
//! | [`CpuLocal`] | the ring of the CPU the thread runs on | a TLS read; `sched_getcpu()` every 32 submissions |
//! | [`RoundRobin`] | the next ring in turn | one counter increment (atomic only in multi-thread mode) |
//!
//! With a single ring every policy compiles down to "ring 0". A policy sees the rings only
//! through `RingLoads` (count, load, limit): configuration knows nothing of rings.

#![forbid(unsafe_code)]
#![allow(
    private_interfaces,
    private_bounds,
    reason = "the sealed trait cannot be named outside the crate, so neither can its arguments"
)]

use std::cell::Cell;

use crate::lock::{Counter, LockMode};
use crate::sys;

/// How often a thread refreshes its cached CPU number, in submissions.
pub const CPU_REFRESH_SUBMISSIONS: u32 = 32;

/// What a policy sees of an engine's rings: how many, and each one's published load
/// (requests in flight and in its backlog) and in-flight limit. The rings implement it; a
/// policy knows nothing else of them.
pub(crate) trait RingLoads {
    /// Number of rings (never 0).
    fn count(&self) -> usize;
    /// Ring `i`'s published load.
    fn load(&self, i: usize) -> u64;
    /// Ring `i`'s published in-flight limit.
    fn limit(&self, i: usize) -> u64;
}

pub(crate) mod sealed {
    use super::{RingLoads, Selector};
    use crate::lock::LockMode;

    pub trait Sealed {
        /// Index of the ring for the next submission.
        fn pick<L: LockMode, R: RingLoads + ?Sized>(rings: &R, sel: &Selector<L>) -> usize;
    }
}

/// A ring-selection policy. Sealed: [`Adaptive`], [`CpuLocal`] and [`RoundRobin`].
pub trait Policy: sealed::Sealed + 'static {
    /// Name of the policy, as shown in stats and benchmark output.
    const NAME: &'static str;
}

/// CPU-local ring with overflow spilling to the lighter of two random rings (the default).
#[derive(Debug)]
pub enum Adaptive {}

/// Always the ring of the submitting thread's CPU.
#[derive(Debug)]
pub enum CpuLocal {}

/// Rings in turn, regardless of CPU or load.
#[derive(Debug)]
pub enum RoundRobin {}

impl Policy for Adaptive {
    const NAME: &'static str = "adaptive";
}
impl Policy for CpuLocal {
    const NAME: &'static str = "cpu-local";
}
impl Policy for RoundRobin {
    const NAME: &'static str = "round-robin";
}

/// Engine-wide selection state.
pub struct Selector<L: LockMode> {
    next: L::Counter,
    spills: L::Counter,
}

impl<L: LockMode> Selector<L> {
    pub(crate) fn new() -> Self {
        Selector {
            next: L::Counter::new(0),
            spills: L::Counter::new(0),
        }
    }

    /// Submissions the [`Adaptive`] policy sent away from the local ring.
    pub(crate) fn spills(&self) -> u64 {
        self.spills.get()
    }
}

thread_local! {
    /// (cached CPU, submissions left before refreshing it)
    static CPU: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
    static RNG: Cell<u64> = const { Cell::new(0) };
}

fn local_cpu() -> usize {
    CPU.with(|c| {
        let (cpu, left) = c.get();
        if left == 0 {
            let cpu = sys::current_cpu() as u32;
            c.set((cpu, CPU_REFRESH_SUBMISSIONS - 1));
            cpu as usize
        } else {
            c.set((cpu, left - 1));
            cpu as usize
        }
    })
}

/// xorshift64* from a per-thread seed: cheap, and good enough to break ties between rings.
fn random() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            // Seed from the address of the thread-local, distinct per thread.
            x = (r as *const Cell<u64> as u64) | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

impl sealed::Sealed for CpuLocal {
    #[inline]
    fn pick<L: LockMode, R: RingLoads + ?Sized>(rings: &R, _: &Selector<L>) -> usize {
        if rings.count() == 1 {
            return 0;
        }
        local_cpu() % rings.count()
    }
}

impl sealed::Sealed for RoundRobin {
    #[inline]
    fn pick<L: LockMode, R: RingLoads + ?Sized>(rings: &R, sel: &Selector<L>) -> usize {
        if rings.count() == 1 {
            return 0;
        }
        (sel.next.add(1) % rings.count() as u64) as usize
    }
}

impl sealed::Sealed for Adaptive {
    #[inline]
    fn pick<L: LockMode, R: RingLoads + ?Sized>(rings: &R, sel: &Selector<L>) -> usize {
        let n = rings.count();
        if n == 1 {
            return 0;
        }
        spill_choice(rings, local_cpu() % n, random, sel)
    }
}

/// [`Adaptive`]'s choice for a thread on ring `local`; `random` gives the bits that pick the
/// two candidates, called only when a spill is considered (not on the common local path).
fn spill_choice<L: LockMode, R: RingLoads + ?Sized>(
    rings: &R,
    local: usize,
    random: impl FnOnce() -> u64,
    sel: &Selector<L>,
) -> usize {
    let n = rings.count();
    let pending = rings.load(local);
    if pending * 4 < rings.limit(local) * 3 {
        return local;
    }
    // The local ring is near its limit. If it is far busier than the rest, the load is this
    // thread's own burst and spilling would only spread it; stay local.
    let total: u64 = (0..n).map(|i| rings.load(i)).sum();
    if pending * n as u64 > 2 * total {
        return local;
    }
    let r = random();
    let a = (r % n as u64) as usize;
    let b = ((r >> 32) % n as u64) as usize;
    let lighter = if rings.load(a) <= rings.load(b) { a } else { b };
    if lighter != local {
        sel.spills.add(1);
    }
    lighter
}

#[cfg(test)]
mod tests {
    use super::sealed::Sealed;
    use super::*;

    #[test]
    fn cpu_cache_refreshes_every_32() {
        CPU.with(|c| c.set((7, 0)));
        local_cpu();
        let (_, left) = CPU.with(|c| c.get());
        assert_eq!(left, CPU_REFRESH_SUBMISSIONS - 1);
        for _ in 0..CPU_REFRESH_SUBMISSIONS - 1 {
            local_cpu();
        }
        assert_eq!(CPU.with(|c| c.get()).1, 0);
    }

    /// (load, limit) per ring.
    impl RingLoads for [(u64, u64)] {
        fn count(&self) -> usize {
            self.len()
        }
        fn load(&self, i: usize) -> u64 {
            self[i].0
        }
        fn limit(&self, i: usize) -> u64 {
            self[i].1
        }
    }

    #[test]
    fn adaptive_stays_local_under_three_quarters_and_for_its_own_burst() {
        let sel = Selector::<crate::lock::SingleThread>::new();
        // Ring 0 at 5/8: local.
        let rings = [(5, 8), (0, 8), (0, 8), (0, 8)];
        let never = || -> u64 { panic!("no spill is considered under 3/4") };
        assert_eq!(spill_choice(&rings[..], 0, never, &sel), 0);
        // At 6/8 but holding the whole load (its own burst): local.
        let rings = [(6, 8), (0, 8), (0, 8), (0, 8)];
        assert_eq!(spill_choice(&rings[..], 0, || 1 << 32 | 1, &sel), 0);
        assert_eq!(sel.spills(), 0);
    }

    #[test]
    fn adaptive_spills_to_the_lighter_of_two_when_every_ring_is_loaded() {
        let sel = Selector::<crate::lock::SingleThread>::new();
        let rings = [(8, 8), (7, 8), (2, 8), (6, 8)];
        // Candidates 1 and 2 (r's low and high words): the lighter, 2.
        assert_eq!(spill_choice(&rings[..], 0, || 2 << 32 | 1, &sel), 2);
        assert_eq!(sel.spills(), 1);
        // Candidates 0 and 3: ring 3 is lighter than the local ring 0.
        assert_eq!(spill_choice(&rings[..], 0, || 3 << 32, &sel), 3);
        // Both candidates the local ring itself: no spill counted.
        assert_eq!(spill_choice(&rings[..], 0, || 0, &sel), 0);
        assert_eq!(sel.spills(), 2);
    }

    #[test]
    fn round_robin_takes_turns_and_one_ring_is_ring_zero() {
        let sel = Selector::<crate::lock::SingleThread>::new();
        let rings = [(0, 1); 3];
        let picks: Vec<usize> = (0..6).map(|_| RoundRobin::pick(&rings[..], &sel)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        let one = [(100, 1)];
        assert_eq!(Adaptive::pick(&one[..], &sel), 0);
        assert_eq!(CpuLocal::pick(&one[..], &sel), 0);
    }

    #[test]
    fn random_varies() {
        let a = random();
        let b = random();
        assert_ne!(a, b);
    }
}
