//! [`WithFile`]: an operation that owns the file it acts on, as it owns its buffer.

use std::os::fd::{AsFd, AsRawFd, RawFd};

use super::{Direction, Op, Sqe};

/// An operation that holds its file open until its completion is reaped.
///
/// Operations name their file by fd number, and the kernel resolves the number only when the
/// request is submitted, which for a request waiting in the backlog or in a batched SQ is
/// after the call returned: if the caller closes the fd meanwhile and an `open` reuses the
/// number, a plain request acts on the new file. A `WithFile` owns the file (an `Arc<File>`,
/// an `OwnedFd`, any `AsFd` value) for the whole request, so the number cannot be reused
/// before the kernel is done, and hands it back with the operation's output.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use auraio::op::{WithFile, Write};
/// let path = std::env::temp_dir().join(format!("auraio-withfile-doc-{}", std::process::id()));
/// let file = Arc::new(std::fs::File::create(&path)?);
/// let engine = auraio::LocalEngine::new()?;
/// let op = WithFile::new(file.clone(), |fd| Write::new(fd, b"kept open".to_vec(), 0));
/// engine.submit(op, |r, (_buf, _file)| assert_eq!(r.unwrap(), 9))?;
/// drop(file); // the request still holds it
/// engine.drain(std::time::Duration::from_secs(5))?;
/// assert_eq!(std::fs::read(&path)?, b"kept open");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct WithFile<O, F> {
    op: O,
    file: F,
}

impl<O: Op, F: AsFd + 'static> WithFile<O, F> {
    /// The operation `make` builds for `file`'s fd, holding `file` until completion.
    pub fn new(file: F, make: impl FnOnce(RawFd) -> O) -> Self {
        let op = make(file.as_fd().as_raw_fd());
        WithFile { op, file }
    }
}

// SAFETY: the entry is the inner operation's, which points only at memory the inner operation
// owns (its own `Op` contract); `WithFile` adds the file, which the entry does not point at.
unsafe impl<O: Op, F: AsFd + 'static> Op for WithFile<O, F> {
    const DIRECTION: Direction = O::DIRECTION;
    const OPCODE: u8 = O::OPCODE;
    const FIXED_FD: bool = O::FIXED_FD;
    type Output = (O::Output, F);
    fn sqe(&mut self) -> Sqe {
        self.op.sqe()
    }
    unsafe fn complete(&mut self, n: usize) {
        // SAFETY: `n` is the kernel's result for the inner op's SQE (this op's is the same).
        unsafe { self.op.complete(n) }
    }
    fn into_output(self) -> Self::Output {
        (self.op.into_output(), self.file)
    }
}
