//! The public phase of a controller: a coarse name for its state, as the reference reports it.

/// Controller phase, derived from the controller's state (see the module docs' diagram).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Phase {
    /// The first measurement of a search, at the starting limit.
    #[default]
    Baseline = 0,
    /// Raising the limit: the search's climb, or a probe above the operating point.
    Probing = 1,
    /// Lowering the limit: a probe below the operating point, or relieving a P99 target.
    Backoff = 2,
    /// Measuring a new limit before holding it (after a cut for a capacity fall, or when the
    /// device turned out to be throttled).
    Settling = 3,
    /// Holding the operating point, watching for change, probing now and then.
    Steady = 4,
    /// STEADY for `CONVERGE_MS` without a change.
    Converged = 5,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 6] = [
        Phase::Baseline,
        Phase::Probing,
        Phase::Backoff,
        Phase::Settling,
        Phase::Steady,
        Phase::Converged,
    ];

    /// Upper-case name, as in the reference.
    pub const fn name(self) -> &'static str {
        match self {
            Phase::Baseline => "BASELINE",
            Phase::Probing => "PROBING",
            Phase::Backoff => "BACKOFF",
            Phase::Settling => "SETTLING",
            Phase::Steady => "STEADY",
            Phase::Converged => "CONVERGED",
        }
    }

    /// Whether `next` may follow `self` (staying is always legal). Any phase may go back to
    /// BASELINE: a control call (a new P99 target, adaptation switched on) starts a new search.
    pub const fn can_become(self, next: Phase) -> bool {
        use Phase::*;
        if self as u8 == next as u8 {
            return true;
        }
        matches!(
            (self, next),
            (_, Baseline)
                | (Baseline, Probing)
                | (Baseline, Settling)
                | (Baseline, Backoff)
                | (Baseline, Steady)
                | (Probing, Settling)
                | (Probing, Steady)
                | (Probing, Backoff)
                | (Probing, Converged)
                | (Backoff, Steady)
                | (Backoff, Backoff)
                | (Backoff, Settling)
                | (Backoff, Converged)
                | (Settling, Steady)
                | (Settling, Probing)
                | (Settling, Backoff)
                | (Steady, Converged)
                | (Converged, Steady)
                | (Steady | Converged, Probing)
                | (Steady | Converged, Backoff)
                | (Steady | Converged, Settling)
        )
    }

    /// Whether the controller considers the limit found (STEADY or CONVERGED).
    pub const fn is_stable(self) -> bool {
        matches!(self, Phase::Steady | Phase::Converged)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
