//! Request ids and the engine-wide statistics snapshot.

use super::*;

/// Handle of a submitted request: its ring and a generation-checked slot id. A handle never
/// names a later request that reuses the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId {
    /// The engine's identity: an id never cancels or names another engine's request.
    pub(super) engine: u32,
    pub(super) ring: u32,
    pub(super) user_data: u64,
}

impl RequestId {
    /// Index of the ring the request went to.
    pub fn ring(&self) -> usize {
        self.ring as usize
    }

    /// The id as two integers (engine and ring, slot id), for storage in atomics.
    pub(crate) fn to_parts(self) -> (u64, u64) {
        (
            u64::from(self.engine) << 32 | u64::from(self.ring),
            self.user_data,
        )
    }

    /// The inverse of `to_parts`.
    pub(crate) fn from_parts(engine_ring: u64, user_data: u64) -> Self {
        RequestId {
            engine: (engine_ring >> 32) as u32,
            ring: engine_ring as u32,
            user_data,
        }
    }
}

/// Engine-wide statistics: a snapshot taken ring by ring (one short lock per ring).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Operations completed, all rings.
    pub ops_completed: u64,
    /// Of those, operations that completed with an error, all rings.
    pub ops_failed: u64,
    /// Bytes moved, all rings.
    pub bytes_transferred: u64,
    /// Requests in submission queues or the kernel, all rings.
    pub in_flight: u64,
    /// Requests waiting in backlogs for room under an in-flight limit, all rings.
    pub backlog: u64,
    /// Submissions the adaptive policy sent to a ring other than the local one.
    pub adaptive_spills: u64,
    /// Per-ring figures.
    pub rings: Vec<RingStats>,
}

impl Stats {
    /// Highest P99 of the rings' last windows, in nanoseconds (engine-level P99 is the max).
    pub fn p99_ns(&self) -> u64 {
        self.rings.iter().map(|r| r.p99_ns).max().unwrap_or(0)
    }

    /// Completions per second, all rings, over their last ticks.
    pub fn ops_per_sec(&self) -> f64 {
        self.rings.iter().map(|r| r.ops_per_sec).sum()
    }

    /// Sum of the rings' in-flight limits.
    pub fn in_flight_limit(&self) -> u64 {
        self.rings
            .iter()
            .map(|r| u64::from(r.in_flight_limit))
            .sum()
    }
}
