//! Which requests sit in the submission queue unconsumed: the user_data of every entry pushed,
//! by push number, in a ring the size of the SQ.
//!
//! The kernel consumes SQ entries in order, so the last `queued` pushed (`queued` the SQ's
//! length now) are the ones it has not read. The entries from `from` on are those not yet
//! forgotten: a push forgets what the kernel consumed before it, and the multi-thread rings'
//! submit hands the consumed ones to `consumed` first, to note their submitter. Neither
//! reaches further back than the SQ holds, so a ring of its size is enough: one store a push.

/// The ring of pushed entries' user_data.
pub(crate) struct SqIds {
    ids: Box<[u64]>,
    mask: u64,
    /// Entries pushed so far.
    pushed: u64,
    /// Push number of the oldest entry not forgotten.
    from: u64,
}

impl SqIds {
    /// A ring for an SQ of `entries` (rounded up to a power of two).
    pub(crate) fn new(entries: u32) -> Self {
        let n = entries.max(1).next_power_of_two() as usize;
        SqIds {
            ids: vec![0; n].into_boxed_slice(),
            mask: n as u64 - 1,
            pushed: 0,
            from: 0,
        }
    }

    /// Notes an entry pushed, before the SQ's length is read.
    #[inline]
    pub(crate) fn push(&mut self, user_data: u64) {
        self.ids[(self.pushed & self.mask) as usize] = user_data;
        self.pushed += 1;
    }

    /// Forgets the entries the kernel consumed: all but the last `queued` (the SQ's length).
    #[inline]
    pub(crate) fn trim(&mut self, queued: usize) {
        self.from = self.from.max(self.pushed - queued as u64);
        debug_assert!(
            self.pushed - self.from <= self.mask + 1,
            "more queued than the SQ holds"
        );
    }

    /// The entries the kernel consumed since they were last forgotten (given the SQ's length
    /// `queued`), oldest first; forgotten by this call.
    pub(crate) fn consumed(&mut self, queued: usize) -> impl Iterator<Item = u64> + '_ {
        let to = self.pushed - queued as u64;
        let from = self.from;
        self.from = from.max(to);
        (from..to).map(move |i| self.ids[(i & self.mask) as usize])
    }

    /// The entries the kernel has not consumed, given the SQ's length `queued`, oldest first.
    pub(crate) fn unconsumed(&self, queued: usize) -> impl Iterator<Item = u64> + '_ {
        let start = self.from.max(self.pushed - queued as u64);
        (start..self.pushed).map(move |i| self.ids[(i & self.mask) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Against the obvious model (a queue: push, drop all but the last `queued`): random
    /// pushes, consumption by the kernel, submits that record what was consumed.
    #[test]
    fn matches_a_queue_of_the_pushed_entries() {
        let entries = 8u32;
        let mut ring = SqIds::new(entries);
        let mut model: VecDeque<u64> = VecDeque::new();
        let (mut in_sq, mut next, mut x) = (0usize, 1u64, 0x2545_f491u64);
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 4 {
                0 | 1 if in_sq < entries as usize => {
                    ring.push(next);
                    model.push_back(next);
                    in_sq += 1;
                    next += 1;
                    ring.trim(in_sq);
                    while model.len() > in_sq {
                        model.pop_front();
                    }
                }
                2 => in_sq -= (x as usize / 4) % (in_sq + 1),
                _ => {
                    let got: Vec<u64> = ring.consumed(in_sq).collect();
                    let mut want = Vec::new();
                    while model.len() > in_sq {
                        want.push(model.pop_front().unwrap());
                    }
                    assert_eq!(got, want);
                }
            }
            let skip = model.len().saturating_sub(in_sq);
            let want: Vec<u64> = model.iter().skip(skip).copied().collect();
            assert_eq!(ring.unconsumed(in_sq).collect::<Vec<_>>(), want);
        }
    }
}
