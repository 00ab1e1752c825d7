//! Ring-selection policies: which ring a new request goes to.
//!
//! | policy | choice | cost per submission |
//! |---|---|---|
//! | [`Adaptive`] | the CPU-local ring; when it is at 75% of its in-flight limit, the lighter of two random rings, unless the local ring is an outlier (pending > 2x the average) | a TLS read; the spill test reads every ring's published load |
//! | [`CpuLocal`] | the ring of the CPU the thread runs on | a TLS read; `sched_getcpu()` every 32 submissions |
//! | [`RoundRobin`] | the next ring in turn | one counter increment (atomic only in multi-thread mode) |
//!
//! With a single ring every policy compiles down to "ring 0".

#![forbid(unsafe_code)]
#![allow(
    private_interfaces,
    reason = "the sealed trait cannot be named outside the crate, so neither can its arguments"
)]

use std::cell::Cell;

use crate::lock::{Counter, LockMode};
use crate::ring::Ring;
use crate::sys;

/// How often a thread refreshes its cached CPU number, in submissions.
pub const CPU_REFRESH_SUBMISSIONS: u32 = 32;

pub(crate) mod sealed {
    use super::Selector;
    use crate::lock::LockMode;
    use crate::ring::Ring;

    pub trait Sealed {
        /// Index of the ring for the next submission; `rings` is never empty.
        fn pick<L: LockMode>(rings: &[Ring<L>], sel: &Selector<L>) -> usize;
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
    fn pick<L: LockMode>(rings: &[Ring<L>], _: &Selector<L>) -> usize {
        if rings.len() == 1 {
            return 0;
        }
        local_cpu() % rings.len()
    }
}

impl sealed::Sealed for RoundRobin {
    #[inline]
    fn pick<L: LockMode>(rings: &[Ring<L>], sel: &Selector<L>) -> usize {
        if rings.len() == 1 {
            return 0;
        }
        (sel.next.add(1) % rings.len() as u64) as usize
    }
}

impl sealed::Sealed for Adaptive {
    #[inline]
    fn pick<L: LockMode>(rings: &[Ring<L>], sel: &Selector<L>) -> usize {
        let n = rings.len();
        if n == 1 {
            return 0;
        }
        let local = local_cpu() % n;
        let pending = rings[local].load.get();
        let limit = rings[local].limit.get();
        if pending * 4 < limit * 3 {
            return local;
        }
        // The local ring is near its limit. If it is far busier than the rest, the load is this
        // thread's own burst and spilling would only spread it; stay local.
        let total: u64 = rings.iter().map(|r| r.load.get()).sum();
        if pending * n as u64 > 2 * total {
            return local;
        }
        let r = random();
        let a = (r % n as u64) as usize;
        let b = ((r >> 32) % n as u64) as usize;
        let lighter = if rings[a].load.get() <= rings[b].load.get() {
            a
        } else {
            b
        };
        if lighter != local {
            sel.spills.add(1);
        }
        lighter
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn random_varies() {
        let a = random();
        let b = random();
        assert_ne!(a, b);
    }
}
