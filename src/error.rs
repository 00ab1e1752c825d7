//! Errors of the submission path.

#![forbid(unsafe_code)]

use std::fmt;
use std::io;

/// A submission the engine refused, with what the operation owned handed back.
///
/// Converts into `io::Error` (so `?` works); [`into_inner`](SubmitError::into_inner) recovers
/// the buffer. The callback of a refused submission is dropped without being called.
pub struct SubmitError<T> {
    error: io::Error,
    value: T,
}

impl<T> SubmitError<T> {
    pub(crate) fn new(errno: i32, value: T) -> Self {
        SubmitError {
            error: io::Error::from_raw_os_error(errno),
            value,
        }
    }

    /// Why the submission was refused: `ESHUTDOWN` once the engine is being dropped, or the
    /// latched fatal error of the engine.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The buffer(s) the operation owned.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// Both parts.
    pub fn into_parts(self) -> (io::Error, T) {
        (self.error, self.value)
    }
}

impl<T> fmt::Debug for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubmitError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "submission refused: {}", self.error)
    }
}

impl<T> std::error::Error for SubmitError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<T> From<SubmitError<T>> for io::Error {
    fn from(e: SubmitError<T>) -> io::Error {
        e.error
    }
}
