//! Procedural macros of auraio.
//!
//! This crate will hold the generator of the C ABI (one `extern "C"` function per operation of
//! auraio's op table, plus the text of `auraio.h`) for a chosen engine preset. It exports
//! nothing yet: the C ABI is a later issue, and no placeholder macro pretends to exist.
