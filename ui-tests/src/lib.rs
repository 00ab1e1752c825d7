//! trybuild harness crate (tests only).
