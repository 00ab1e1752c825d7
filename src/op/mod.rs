//! The operation table and the operation types generated from it.
//!
//! Every operation is declared once, in [`__op_table!`](crate::__op_table): its method name,
//! arguments, what it hands back, the op type, the buffer direction, how it becomes an SQE and
//! what the callback receives. Generator macros turn the table into the op types (here), the
//! engine's callback methods ([`Engine`](crate::Engine)), and in later layers the futures and
//! the C ABI, so no layer can forget an operation.

use std::io;

pub use io_uring::squeue::Entry as Sqe;

mod iovec;

pub(crate) use iovec::IoVecArray;

/// Which way data moves, for statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The kernel fills the caller's buffer.
    Read,
    /// The kernel reads the caller's buffer.
    Write,
    /// No data buffer (sync, metadata).
    None,
}

/// An operation the engine can submit.
///
/// Implemented by the generated op types; implement it yourself to submit an opcode the table
/// lacks through [`Engine::submit`](crate::Engine::submit).
///
/// # Safety
///
/// The entry returned by [`sqe`](Op::sqe) may only point at memory owned by `self` that stays
/// valid and at the same address while `self` lives, even when `self` is moved (heap memory,
/// such as the bytes of an [`IoBuf`](crate::IoBuf)); the engine keeps `self` alive until the
/// kernel's completion for the entry has been reaped.
pub unsafe trait Op: 'static {
    /// Data direction.
    const DIRECTION: Direction;
    /// What the callback gets back besides the result: the buffer(s), or `()`.
    type Output;
    /// Builds the submission entry. Called once, before the op is stored.
    fn sqe(&mut self) -> Sqe;
    /// Gives back what the op owned.
    fn into_output(self) -> Self::Output;
}

/// Clamps a buffer length to what one SQE can carry.
#[inline]
pub(crate) fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// The operation table. Each entry reads:
///
/// ```text
/// /// docs
/// method<Generic: Bound>(arg: Type, ...) -> Output {
///     op OpType { extra_field: Type, ... };   // extra fields start as Default::default()
///     direction Read | Write | None;
///     sqe(op) = expression building the SQE from `op: &mut OpType`;
///     output(op) = expression giving back the Output from `op: OpType`;
/// }
/// ```
///
/// Invoke it with the name of a generator macro in scope: `__op_table!(my_generator)`; the
/// generator receives the entries verbatim.
#[doc(hidden)]
#[macro_export]
macro_rules! __op_table {
    ($gen:ident) => {
        $gen! {
            /// Reads from `fd` at `offset` into the whole of `buf`; completes with the number of
            /// bytes read, which is short at end of file.
            read<B: IoBufMut>(fd: RawFd, buf: B, offset: u64) -> B {
                op Read {};
                direction Read;
                sqe(op) = opcode::Read::new(types::Fd(op.fd), op.buf.io_mut_ptr(), len32(op.buf.io_len()))
                    .offset(op.offset)
                    .build();
                output(op) = op.buf;
            }
            /// Writes the whole of `buf` to `fd` at `offset`; completes with the number of bytes
            /// written.
            write<B: IoBuf>(fd: RawFd, buf: B, offset: u64) -> B {
                op Write {};
                direction Write;
                sqe(op) = opcode::Write::new(types::Fd(op.fd), op.buf.io_ptr(), len32(op.buf.io_len()))
                    .offset(op.offset)
                    .build();
                output(op) = op.buf;
            }
            /// Reads from `fd` at `offset` into `bufs` in order (scatter); completes with the
            /// total number of bytes read.
            readv<B: IoBufMut>(fd: RawFd, bufs: Vec<B>, offset: u64) -> Vec<B> {
                op Readv { iovecs: IoVecArray };
                direction Read;
                sqe(op) = {
                    op.iovecs = IoVecArray::for_reading(&mut op.bufs);
                    opcode::Readv::new(types::Fd(op.fd), op.iovecs.as_ptr(), op.iovecs.count())
                        .offset(op.offset)
                        .build()
                };
                output(op) = op.bufs;
            }
            /// Writes `bufs` in order to `fd` at `offset` (gather); completes with the total
            /// number of bytes written.
            writev<B: IoBuf>(fd: RawFd, bufs: Vec<B>, offset: u64) -> Vec<B> {
                op Writev { iovecs: IoVecArray };
                direction Write;
                sqe(op) = {
                    op.iovecs = IoVecArray::for_writing(&op.bufs);
                    opcode::Writev::new(types::Fd(op.fd), op.iovecs.as_ptr(), op.iovecs.count())
                        .offset(op.offset)
                        .build()
                };
                output(op) = op.bufs;
            }
            /// Flushes `fd`'s data and metadata to stable storage (`fsync`).
            fsync(fd: RawFd) -> () {
                op Fsync {};
                direction None;
                sqe(op) = opcode::Fsync::new(types::Fd(op.fd)).build();
                output(op) = { let _ = op; };
            }
            /// Flushes `fd`'s data, and only the metadata needed to read it back (`fdatasync`).
            fdatasync(fd: RawFd) -> () {
                op Fdatasync {};
                direction None;
                sqe(op) = opcode::Fsync::new(types::Fd(op.fd))
                    .flags(types::FsyncFlags::DATASYNC)
                    .build();
                output(op) = { let _ = op; };
            }
        }
    };
}

/// Generator: one op type per table entry, with a constructor and its [`Op`] impl.
macro_rules! define_ops {
    ($(
        $(#[$doc:meta])*
        $method:ident $(<$g:ident : $bound:ident>)? ( $($arg:ident : $aty:ty),* ) -> $out:ty {
            op $Op:ident { $($extra:ident : $ety:ty),* };
            direction $dir:ident;
            sqe($s:ident) = $sqe:expr;
            output($o:ident) = $output:expr;
        }
    )*) => {$(
        #[doc = concat!("The `", stringify!($method), "` operation; see [`Engine::",
            stringify!($method), "`](crate::Engine::", stringify!($method), ").")]
        ///
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $Op $(<$g>)? {
            $($arg: $aty,)*
            $($extra: $ety,)*
        }

        impl $(<$g: $bound>)? $Op $(<$g>)? {
            /// Makes the operation from its arguments.
            #[allow(clippy::new_without_default)]
            pub fn new($($arg: $aty),*) -> Self {
                $Op { $($arg,)* $($extra: Default::default(),)* }
            }
        }

        // SAFETY: the SQE points only into the op's buffers (`IoBuf`/`IoBufMut`: heap memory that
        // does not move with the value) and into its own boxed iovec array, all owned by the op.
        unsafe impl $(<$g: $bound>)? Op for $Op $(<$g>)? {
            const DIRECTION: Direction = Direction::$dir;
            type Output = $out;
            #[inline]
            fn sqe(&mut self) -> Sqe {
                let $s = self;
                $sqe
            }
            #[inline]
            fn into_output(self) -> $out {
                let $o = self;
                $output
            }
        }
    )*};
}

mod generated {
    use super::{len32, Direction, IoVecArray, Op, Sqe};
    use crate::buffer::{IoBuf, IoBufMut};
    use io_uring::{opcode, types};
    use std::os::fd::RawFd;

    crate::__op_table!(define_ops);
}

pub use generated::*;

/// Result type of a completion callback.
pub type OpResult = io::Result<usize>;
