//! What a file does to the requests that touch it: the rules a test scripts, and how a
//! request's outcome follows from them.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Which requests a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// FUSE_READ.
    Read,
    /// FUSE_WRITE.
    Write,
    /// FUSE_FSYNC (its range is ignored: an fsync touches the whole file).
    Fsync,
    /// Reads and writes.
    ReadWrite,
}

impl Op {
    fn covers(self, op: Op) -> bool {
        self == op || (self == Op::ReadWrite && matches!(op, Op::Read | Op::Write))
    }
}

/// What happens to a request a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request fails with this errno (positive, as `libc::EIO`).
    Errno(i32),
    /// At most this many bytes are read or written (a short read or write).
    Short(u32),
    /// The answer is sent after this delay (the filesystem keeps serving others meanwhile).
    Delay(Duration),
    /// The answer waits until the test calls [`Mount::release`](crate::Mount::release) (or
    /// the mount is dropped, which answers EIO).
    Stall,
}

/// One scripted behaviour: `fault` for requests of kind `op` overlapping `range`, on every
/// `every`-th such request, `times` times at most (then the file heals).
#[derive(Debug)]
pub struct Rule {
    op: Op,
    range: Range<u64>,
    fault: Fault,
    every: u64,
    times: u64,
    seen: AtomicU64,
    fired: AtomicU64,
}

impl Rule {
    /// `fault` for reads overlapping `range`.
    pub fn read(range: Range<u64>, fault: Fault) -> Self {
        Rule::new(Op::Read, range, fault)
    }

    /// `fault` for writes overlapping `range`.
    pub fn write(range: Range<u64>, fault: Fault) -> Self {
        Rule::new(Op::Write, range, fault)
    }

    /// `fault` for every fsync of the file.
    pub fn fsync(fault: Fault) -> Self {
        Rule::new(Op::Fsync, 0..u64::MAX, fault)
    }

    /// `fault` for requests of kind `op` overlapping `range`.
    pub fn new(op: Op, range: Range<u64>, fault: Fault) -> Self {
        Rule {
            op,
            range,
            fault,
            every: 1,
            times: u64::MAX,
            seen: AtomicU64::new(0),
            fired: AtomicU64::new(0),
        }
    }

    /// Applies to one matching request in `n` only (the `n`-th, `2n`-th, …).
    pub fn every(mut self, n: u64) -> Self {
        self.every = n.max(1);
        self
    }

    /// Fires `n` times, then no more: a transient fault.
    pub fn times(mut self, n: u64) -> Self {
        self.times = n;
        self
    }

    /// How many requests this rule has acted on so far.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::Relaxed)
    }

    fn applies(&self, op: Op, at: &Range<u64>) -> bool {
        let overlaps = op == Op::Fsync || (at.start < self.range.end && self.range.start < at.end);
        if !self.op.covers(op) || !overlaps {
            return false;
        }
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if n % self.every != 0 {
            return false;
        }
        // Counting up to `times` with a CAS keeps the bound exact under concurrent requests.
        self.fired
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |f| {
                (f < self.times).then_some(f + 1)
            })
            .is_ok()
    }
}

/// The combined outcome of every rule that fired on one request.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub errno: Option<i32>,
    pub limit: Option<u32>,
    pub delay: Duration,
    pub stall: bool,
}

/// Applies `rules` in order to a request: the first errno wins, short limits take the
/// smallest, delays add up, any stall stalls.
pub(crate) fn outcome(rules: &[Rule], op: Op, at: Range<u64>) -> Outcome {
    let mut o = Outcome::default();
    for r in rules.iter().filter(|r| r.applies(op, &at)) {
        match r.fault {
            Fault::Errno(e) => {
                o.errno.get_or_insert(e);
            }
            Fault::Short(n) => o.limit = Some(o.limit.map_or(n, |l| l.min(n))),
            Fault::Delay(d) => o.delay += d,
            Fault::Stall => o.stall = true,
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transient_rule_fires_its_count_then_heals() {
        let rules = [Rule::read(4096..8192, Fault::Errno(libc::EIO)).times(2)];
        let hit = |at: Range<u64>| outcome(&rules, Op::Read, at).errno;
        assert_eq!(hit(0..4096), None, "no overlap");
        assert_eq!(hit(4000..4100), Some(libc::EIO));
        assert_eq!(hit(8191..9000), Some(libc::EIO));
        assert_eq!(hit(4096..8192), None, "healed after two");
        assert_eq!(rules[0].fired(), 2);
    }

    #[test]
    fn every_nth_and_combined_faults() {
        let rules = [
            Rule::read(0..u64::MAX, Fault::Delay(Duration::from_millis(5))).every(3),
            Rule::new(Op::ReadWrite, 0..100, Fault::Short(10)),
            Rule::new(Op::ReadWrite, 0..100, Fault::Short(7)),
            Rule::write(0..100, Fault::Stall),
        ];
        let delays: Vec<_> = (0..6)
            .map(|_| outcome(&rules, Op::Read, 200..300).delay)
            .collect();
        let five = Duration::from_millis(5);
        let zero = Duration::ZERO;
        assert_eq!(delays, [zero, zero, five, zero, zero, five]);
        let w = outcome(&rules, Op::Write, 0..50);
        assert_eq!((w.limit, w.stall, w.errno), (Some(7), true, None));
        assert!(
            !outcome(&rules, Op::Fsync, 0..0).stall,
            "a write rule is not an fsync rule"
        );
    }
}
