//! Linked operations: a chain of requests submitted with IOSQE_IO_LINK, so each starts only
//! when the one before it succeeded (write → fsync, read → write …).
//!
//! The chain enters a ring whole: all its links go into the submission queue under one lock
//! hold, with every link flag set before any of them can be flushed, and a chain that does not
//! fit under the in-flight limit waits in the backlog as a unit. (The reference could flush a
//! link before its flag was set, silently running the rest unlinked.)
//!
//! When a link fails, the kernel completes the links after it with `ECANCELED`; for reads and
//! writes a short transfer counts as a failure. Every link's callback runs exactly once, in
//! chain order, with its own result and buffer.

use std::io;

use crate::engine::{Engine, RequestId};
use crate::error::SubmitError;
use crate::lock::{LockMode, Sendable};
use crate::op::{Direction, Op, Sqe};
use crate::policy::Policy;
use crate::ring::slab::Payload;
use crate::ring::MAX_CHAIN;
use crate::tuning::Tuning;

/// A chain being built; see [`Engine::chain`]. Dropping it unsubmitted drops its operations
/// and callbacks without calling them (the kernel never saw them).
pub struct Chain<'e, P: Policy, L: LockMode, T: Tuning> {
    engine: &'e Engine<P, L, T>,
    links: Vec<(Sqe, Payload, bool, bool)>,
}

impl<P: Policy, L: LockMode, T: Tuning> std::fmt::Debug for Chain<'_, P, L, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("links", &self.links.len())
            .finish()
    }
}

impl<'e, P: Policy, L: LockMode, T: Tuning> Chain<'e, P, L, T> {
    pub(crate) fn new(engine: &'e Engine<P, L, T>) -> Self {
        Chain {
            engine,
            links: Vec::new(),
        }
    }

    /// Appends an operation and its callback.
    ///
    /// # Errors
    ///
    /// Hands the operation's buffers back: `E2BIG` past [`Engine::max_chain`] links
    /// ([`MAX_CHAIN`], or fewer on an engine whose queue depth is smaller), `EOPNOTSUPP` for an
    /// opcode the kernel lacks.
    pub fn push<O, F>(
        &mut self,
        mut op: O,
        callback: F,
    ) -> Result<&mut Self, SubmitError<O::Output>>
    where
        O: Op + Sendable<L>,
        F: FnOnce(io::Result<usize>, O::Output) + Sendable<L> + 'static,
    {
        if self.links.len() >= self.engine.max_chain() {
            return Err(SubmitError::new(libc::E2BIG, op.into_output()));
        }
        if !self.engine.supported(O::OPCODE) {
            return Err(SubmitError::new(libc::EOPNOTSUPP, op.into_output()));
        }
        let (sqe, fixed) = self.engine.core.prepare::<O>(op.sqe());
        let sampled = !matches!(O::DIRECTION, Direction::None);
        self.links
            .push((sqe, Payload::new(op, callback), sampled, fixed));
        Ok(self)
    }

    /// Links so far.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether no link was pushed.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// Submits the chain to one ring; returns the links' ids, in order.
    ///
    /// # Errors
    ///
    /// `ESHUTDOWN` while the engine is being dropped, or the engine's latched fatal error:
    /// then every link's callback has already run with that error (its buffer handed back
    /// through it), since a chain's buffers cannot be returned as one value.
    pub fn submit(self) -> io::Result<Vec<RequestId>> {
        self.engine.submit_chain(self.links)
    }
}

const _: () = assert!(
    MAX_CHAIN <= crate::ring::BATCH,
    "a chain's completions fit one batch"
);
