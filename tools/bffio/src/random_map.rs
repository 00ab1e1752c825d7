//! fio's random map for I/O of mixed sizes: each unit of a file's region is done once per pass.
//!
//! With one block size the offsets are a permutation ([`crate::offsets`]); with several
//! (`bsrange`, `bssplit`, `bs=R,W`) a permutation of positions would overlap, so fio keeps a
//! bitmap of the region in units of the smallest block and, as here: draws a unit at random,
//! takes the first free one from there if it is done already (wrapping at the end), and
//! shortens the I/O to the free run that starts there. A pass then moves exactly the region's
//! bytes; when every unit is done the map is cleared for the next pass.

use crate::offsets::Rng;

/// The units of one region done in this pass, and a word-level summary to find free ones.
pub struct RandomMap {
    /// A bit per unit, set once done.
    used: Vec<u64>,
    /// A bit per word of `used`, set when that word is all done.
    full: Vec<u64>,
    /// Units in the region.
    n: u64,
    /// Units done in this pass.
    done: u64,
}

impl RandomMap {
    /// A map of `n` units (at least 1), all free.
    pub fn new(n: u64) -> Self {
        let n = n.max(1);
        let words = n.div_ceil(64) as usize;
        RandomMap {
            used: vec![0; words],
            full: vec![0; words.div_ceil(64)],
            n,
            done: 0,
        }
    }

    /// A place for an I/O of up to `want` units (at least 1): `(first unit, units)`, the
    /// units marked done. A full map starts a new pass first.
    pub fn take(&mut self, rng: &mut Rng, want: u64) -> (u64, u64) {
        if self.done == self.n {
            self.used.fill(0);
            self.full.fill(0);
            self.done = 0;
        }
        let drawn = rng.next() % self.n;
        let start = self
            .free_from(drawn)
            .or_else(|| self.free_from(0))
            .expect("a map that is not full has a free unit");
        let mut len = 0;
        while len < want.max(1) && start + len < self.n && !self.is_used(start + len) {
            self.mark(start + len);
            len += 1;
        }
        (start, len)
    }

    fn is_used(&self, u: u64) -> bool {
        self.used[(u / 64) as usize] & (1 << (u % 64)) != 0
    }

    fn mark(&mut self, u: u64) {
        let w = (u / 64) as usize;
        self.used[w] |= 1 << (u % 64);
        self.done += 1;
        // The last word's bits past `n` never get set: it is full when its units are.
        let units_in_word = (self.n - w as u64 * 64).min(64);
        let all = if units_in_word == 64 {
            u64::MAX
        } else {
            (1 << units_in_word) - 1
        };
        if self.used[w] == all {
            self.full[w / 64] |= 1 << (w % 64);
        }
    }

    /// The first free unit at or after `u`, if any before the end.
    fn free_from(&self, u: u64) -> Option<u64> {
        let mut w = (u / 64) as usize;
        // Within the first word, the units from `u` on.
        let free = !self.used[w] & (u64::MAX << (u % 64));
        if free != 0 {
            return Some(w as u64 * 64 + u64::from(free.trailing_zeros())).filter(|&f| f < self.n);
        }
        w += 1;
        // Then the first word not full, found through the summary a word of it at a time.
        while w < self.used.len() {
            let s = w / 64;
            let open = !self.full[s] & (u64::MAX << (w % 64));
            if open == 0 {
                w = (s + 1) * 64;
                continue;
            }
            let w2 = s * 64 + open.trailing_zeros() as usize;
            if w2 >= self.used.len() {
                return None;
            }
            let free = !self.used[w2];
            return Some(w2 as u64 * 64 + u64::from(free.trailing_zeros())).filter(|&f| f < self.n);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Passes of I/Os of random sizes cover every unit exactly once each, for sizes of
    /// region that do and do not fill their last word and summary word.
    #[test]
    fn a_pass_does_every_unit_once_with_mixed_sizes() {
        for n in [1u64, 7, 64, 65, 1000, 4096, 4097, 70_000] {
            let mut map = RandomMap::new(n);
            let mut rng = Rng(n * 7 + 1);
            for pass in 0..2 {
                let mut seen = vec![0u8; n as usize];
                let mut total = 0;
                while total < n {
                    let want = 1 + rng.next() % 16;
                    let (at, len) = map.take(&mut rng, want);
                    assert!(
                        len >= 1 && len <= want && at + len <= n,
                        "n {n}: {at}+{len}"
                    );
                    for u in at..at + len {
                        seen[u as usize] += 1;
                    }
                    total += len;
                }
                assert_eq!(total, n, "n {n} pass {pass}: a pass moves the region");
                assert!(
                    seen.iter().all(|&s| s == 1),
                    "n {n} pass {pass}: each unit once"
                );
            }
        }
    }

    #[test]
    fn the_next_free_unit_is_found_past_full_words() {
        let mut map = RandomMap::new(64 * 130 + 5);
        // Everything done but unit 3 and the last word's unit 64 * 130 + 2.
        for u in 0..map.n {
            if u != 3 && u != 64 * 130 + 2 {
                map.mark(u);
            }
        }
        assert_eq!(map.free_from(0), Some(3));
        assert_eq!(map.free_from(4), Some(64 * 130 + 2), "past 129 full words");
        assert_eq!(map.free_from(64 * 130 + 3), None);
        // A draw past the last free unit wraps to the first; the run stops at a done unit.
        let mut rng = Rng(1);
        let (at, len) = map.take(&mut rng, 8);
        assert!(
            (at, len) == (3, 1) || (at, len) == (64 * 130 + 2, 1),
            "{at} {len}"
        );
    }
}
