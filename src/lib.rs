//! # auraio — io_uring that tunes itself
//!
//! An asynchronous file I/O engine on Linux io_uring. Each ring keeps its own in-flight limit
//! and batch threshold, which an AIMD controller (driven by measured throughput and P99
//! latency) moves to where the device gives the most for the least latency.
//!
//! - [`Engine`]`<P, L, T>`: ring-selection [policy], [lock mode](lock) and
//!   [tuning](mod@tuning) are type parameters, so every preset is monomorphized:
//!   [`LocalEngine`] (`CpuLocal` + `SingleThread`) has no mutex and no atomic
//!   read-modify-write on its submit and completion paths.
//! - Operations take their buffer by value and give it back to the callback with the result,
//!   so the engine owns a buffer exactly while the kernel may touch it.
//! - Requests beyond a ring's in-flight limit wait in a backlog instead of failing.
//! - Every operation is declared once in an op table, from which the op types and the engine's
//!   methods are generated.
//!
//! ## Example
//!
//! ```
//! use std::os::fd::AsRawFd;
//! use std::rc::Rc;
//! use std::cell::Cell;
//!
//! let path = std::env::temp_dir().join(format!("auraio-doc-{}", std::process::id()));
//! std::fs::write(&path, b"hello, io_uring")?;
//! let file = std::fs::File::open(&path)?;
//!
//! let engine = auraio::LocalEngine::new()?;
//! let got = Rc::new(Cell::new(None));
//! let g = got.clone();
//! engine.read(file.as_raw_fd(), vec![0u8; 64], 0, move |res, buf| {
//!     let n = res.expect("read");
//!     g.set(Some(String::from_utf8_lossy(&buf[..n]).into_owned()));
//! })?;
//! while engine.pending() > 0 {
//!     engine.wait(None)?;
//! }
//! assert_eq!(got.take().as_deref(), Some("hello, io_uring"));
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Lock modes
//!
//! [`SingleThread`]: the engine is neither `Send` nor `Sync`; callbacks and buffers need not be
//! `Send`. Rings use SINGLE_ISSUER, COOP_TASKRUN and (with one ring) DEFER_TASKRUN when the
//! kernel has them.
//!
//! [`MultiThread`]: `Send + Sync`; share it in an `Arc`. Any thread submits; one thread at a
//! time polls, and runs callbacks with no lock held. A poll that finds another thread polling
//! hands its wake-up to it, so no completion is left unreaped; rings are set up without
//! COOP_TASKRUN unless [`Options::coop_taskrun`] says otherwise, so a completion never waits
//! for a submitting thread that is busy elsewhere. The argument, with its loom models, is in
//! the source of the engine's `handoff` module.
//!
//! ## Policies
//!
//! [`Adaptive`] (CPU-local, spilling when the local ring nears its limit), [`CpuLocal`],
//! [`RoundRobin`].
//!
//! ## Features
//!
//! - `tokio`: `auraio::tokio::Driver` runs the futures' reactor on tokio (stops when dropped).
//! - `prometheus`: Prometheus exposition of every [`metrics`] entry.
//! - `otel`: OTLP/JSON metrics and an HTTP push.
//! - `syslog`: forwarding `log` records to syslog.
//! - `bytes`: `bytes::Bytes` and `bytes::BytesMut` as operation buffers.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod aimd;
mod block_on;
pub mod buffer;
mod chain;
mod engine;
mod error;
pub mod fixed;
pub mod future;
mod handoff;
pub mod histogram;
pub mod lock;
pub mod metrics;
pub mod op;
pub mod options;
#[cfg(feature = "otel")]
#[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
pub mod otel;
pub mod policy;
pub mod pool;
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod prometheus;
pub mod raw;
mod ring;
mod sync;
mod sys;
#[cfg(feature = "syslog")]
#[cfg_attr(docsrs, doc(cfg(feature = "syslog")))]
pub mod syslog;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;
pub mod tuning;

pub use aimd::Phase;
pub use block_on::BLOCK_ON_WAIT;
pub use buffer::{AlignedBuf, IoBuf, IoBufMut, Slice};
pub use chain::Chain;
pub use engine::{
    CpuLocalEngine, Engine, LocalEngine, RequestId, RoundRobinEngine, SharedEngine, Stats,
};
pub use error::SubmitError;
pub use fixed::{FixedBuf, FixedIo};
pub use future::OpFuture;
pub use histogram::Histogram;
pub use lock::{MultiThread, SingleThread};
pub use options::Options;
pub use policy::{Adaptive, CpuLocal, RoundRobin};
pub use pool::{Buffer, BufferStats};
pub use ring::{RingFeatures, RingStats, MAX_CHAIN};
pub use tuning::{DefaultTuning, Tuning};

/// What the op table's entries name, by absolute path (`$crate::__private::…`), wherever a
/// generator expands them. Not an API.
#[doc(hidden)]
pub mod __private {
    pub use crate::buffer::{IoBuf, IoBufMut};
    pub use crate::fixed::FixedIo;
    pub use crate::op::{
        direct_slot, len32, uring_cmd_u64, IoVecArray, StatxBuf, BLOCK_URING_CMD_DISCARD,
    };
    pub use io_uring::{opcode, types};
    pub use libc;
    pub use std::ffi::CString;
    pub use std::os::fd::RawFd;
}
