//! The synchronisation primitives behind the multi-thread lock mode: the standard library's,
//! or, built with `RUSTFLAGS="--cfg auraio_loom"`, loom's, so the loom models in
//! [`handoff`](crate::handoff) explore every interleaving of the very code the engine runs.

#[cfg(not(auraio_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
#[cfg(not(auraio_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(auraio_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
#[cfg(auraio_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
