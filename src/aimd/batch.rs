//! The batch threshold: SQEs gathered before a submit syscall.
//!
//! Fewer than `BATCH_LOW_SQES` SQEs per submit syscall raise it by one (up to `BATCH_MAX`),
//! more than `BATCH_HIGH_SQES` lower it (down to `BATCH_MIN`); it never exceeds the in-flight
//! limit, since a ring never holds more than that many SQEs to gather. Pinning holds it;
//! unpinning tunes again from the pinned value (the reference stuck at "never").

use super::TickInput;
use crate::tuning::Tuning;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Batch {
    pub threshold: u32,
    pinned: bool,
}

impl Batch {
    pub fn new<T: Tuning>() -> Self {
        Batch {
            threshold: T::BATCH_INITIAL,
            pinned: false,
        }
    }

    pub fn pin<T: Tuning>(&mut self, threshold: Option<u32>) {
        match threshold {
            Some(n) => {
                self.threshold = n.max(1);
                self.pinned = true;
            }
            None => {
                self.pinned = false;
                self.threshold = self.threshold.clamp(T::BATCH_MIN, T::BATCH_MAX);
            }
        }
    }

    pub fn tune<T: Tuning>(&mut self, t: &TickInput) {
        if self.pinned || t.submits == 0 {
            return;
        }
        let per = t.sqes / t.submits;
        if per < u64::from(T::BATCH_LOW_SQES) {
            self.threshold = (self.threshold + 1).min(T::BATCH_MAX);
        } else if per > u64::from(T::BATCH_HIGH_SQES) {
            self.threshold = self.threshold.saturating_sub(1).max(T::BATCH_MIN);
        }
    }

    /// The threshold in effect at `limit`.
    pub fn at(&self, limit: u32) -> u32 {
        if self.pinned {
            self.threshold
        } else {
            self.threshold.min(limit.max(1))
        }
    }
}
