//! The operation table and the operation types generated from it.
//!
//! Every operation is declared once, in [`__op_table!`](crate::__op_table): its method name,
//! arguments, what it hands back, the op type, the buffer direction, how it becomes an SQE and
//! what the callback receives. Generator macros turn the table into the op types (here), the
//! engine's callback methods ([`Engine`](crate::Engine)), and in later layers the futures and
//! the C ABI, so no layer can forget an operation.

pub use io_uring::squeue::Entry as Sqe;

mod iovec;
mod with_file;

#[doc(hidden)]
pub use iovec::{IoVecArray, StatxBuf};
pub use with_file::WithFile;

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
    /// The io_uring opcode, checked against the kernel's probe at submission.
    const OPCODE: u8;
    /// Whether the SQE's `fd` field names the file the operation works on, so a registered
    /// file can stand in for it (IOSQE_FIXED_FILE).
    const FIXED_FD: bool = false;
    /// What the callback gets back besides the result: the buffer(s), or `()`.
    type Output;
    /// Builds the submission entry. Called once, before the op is stored.
    fn sqe(&mut self) -> Sqe;
    /// Records a successful completion's byte count before the output is given back: a read
    /// marks the bytes the kernel wrote as initialised
    /// ([`IoBufMut::set_init`](crate::IoBufMut::set_init)). The default does nothing; an op
    /// that wraps another forwards it.
    ///
    /// # Safety
    ///
    /// `n` is the kernel's result for this op's SQE (a byte count, not an error).
    unsafe fn complete(&mut self, n: usize) {
        let _ = n;
    }
    /// Gives back what the op owned.
    fn into_output(self) -> Self::Output;
}

/// Largest registered-file slot a direct descriptor can name.
pub const MAX_DIRECT_SLOT: u32 = 1 << 30;

/// The fd value that names registered-file slot `slot` (a *direct descriptor*, such as one
/// [`Engine::openat_direct`](crate::Engine::openat_direct) installs): pass it wherever an
/// operation takes an fd. It is negative, so it can never be mistaken for a real fd.
///
/// # Panics
///
/// If `slot` exceeds [`MAX_DIRECT_SLOT`].
pub const fn direct(slot: u32) -> std::os::fd::RawFd {
    assert!(
        slot <= MAX_DIRECT_SLOT,
        "direct descriptor slot out of range"
    );
    -(slot as i32) - 2
}

/// The slot a direct-descriptor fd value names, if it is one.
pub const fn direct_slot(fd: std::os::fd::RawFd) -> Option<u32> {
    if fd <= -2 {
        Some((-(fd as i64) - 2) as u32)
    } else {
        None
    }
}

/// Points an SQE's `fd` at registered file slot `index` (IOSQE_FIXED_FILE).
pub(crate) fn use_fixed_file(sqe: Sqe, index: u32) -> Sqe {
    let mut sqe = sqe.flags(io_uring::squeue::Flags::FIXED_FILE);
    // SAFETY: `Entry` is a repr(C) wrapper of the kernel's `io_uring_sqe`, whose ABI puts the
    // 32-bit `fd` at byte 4 (opcode u8, flags u8, ioprio u16, fd i32); the entry is 64 bytes.
    unsafe {
        (&mut sqe as *mut Sqe)
            .cast::<u8>()
            .add(4)
            .cast::<i32>()
            .write_unaligned(index as i32)
    };
    sqe
}

static_assertions::assert_eq_size!(Sqe, [u8; 64]);

/// The `fd` field of an SQE.
pub(crate) fn sqe_fd(sqe: &Sqe) -> i32 {
    // SAFETY: as in `use_fixed_file`: byte 4 of the 64-byte kernel SQE is the i32 `fd`.
    unsafe {
        (sqe as *const Sqe)
            .cast::<u8>()
            .add(4)
            .cast::<i32>()
            .read_unaligned()
    }
}

/// The block layer's io_uring command discarding a range (`BLOCK_URING_CMD_DISCARD`,
/// `_IO(0x12, 0)` in `linux/blkdev.h`): the range's start in the SQE's `addr`, its length in
/// the first 8 bytes of the command area.
pub const BLOCK_URING_CMD_DISCARD: u32 = 0x12 << 8;

/// A 16-byte io_uring command area holding `v` in its first 8 bytes (the SQE's `addr3`).
#[doc(hidden)]
pub fn uring_cmd_u64(v: u64) -> [u8; 16] {
    let mut cmd = [0u8; 16];
    cmd[..8].copy_from_slice(&v.to_ne_bytes());
    cmd
}

/// Clamps a buffer length to what one SQE can carry.
#[doc(hidden)]
#[inline]
pub fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// The operation table. Each entry reads:
///
/// ```text
/// /// docs
/// method<Generic: Bound>(arg: Type, ...) -> Output {
///     op OpType { extra_field: Type, ... };   // extra fields start as Default::default()
///     future async_method_name;                // the engine's future-returning form
///     direction Read | Write | None;
///     code IoUringOpcodeType;                  // io_uring::opcode::<this>::CODE
///     fixed_file true | false;                 // the SQE's fd is the file worked on, so a
///                                              // registered file may stand in (FIXED_FILE)
///     sqe(op) = expression building the SQE from `op: &mut OpType`;
///     complete(op, n) = expression;            // optional: on success, with the byte count
///     output(op) = expression giving back the Output from `op: OpType`;
///     c AURA_OP_NAME = value;                  // optional: the op in the C contract, its
///                                              // aura_op_type_t value; with
///     c AURA_OP_NAME = value fn [group, doc, prototype] args(SOURCES)
///         [out PARAM] [or ENTRY if CONDITION];  // also the C function submitting it
/// }
/// ```
///
/// Types and bounds name their items by absolute path (`$crate::__private::…`); the
/// expressions see `$crate::__private` as a prelude. In a `c` line, `args` gives, per argument,
/// the C parameters making it (`fd`, `buf len`, `offset as u64`, `len via positive`), `out` the
/// pointer parameter the output is copied to, `or` the entry submitted instead when the
/// condition (over the C parameters) holds: `aura_read` submits `read`, or `read_fixed` for a
/// registered buffer.
/// `docs/architecture.md` ("Adding an operation") has the rules.
///
/// Invoke it with a generator macro's path: `__op_table!(my_generator)`; the generator
/// receives the entries verbatim. `__op_table!(path, [tokens])` passes `[tokens]` first: the
/// C ABI's proc macros forward their own input this way, and `__op_table!(__op_each, [gen])`
/// calls `gen!` once per entry in a fixed order.
#[doc(hidden)]
#[macro_export]
macro_rules! __op_table {
    ($gen:path $(, [$($pass:tt)*])?) => {
        $gen! {
            $([$($pass)*])?
            /// Reads from `fd` at `offset` into the whole of `buf`; completes with the number of
            /// bytes read, which is short at end of file.
            read<B: $crate::__private::IoBufMut>(fd: $crate::__private::RawFd, buf: B, offset: u64) -> B {
                op Read {};
                future read_at;
                direction Read;
                code Read;
                fixed_file true;
                sqe(op) = opcode::Read::new(types::Fd(op.fd), op.buf.io_mut_ptr(), len32(op.buf.io_capacity()))
                    .offset(op.offset)
                    .build();
                // SAFETY: `n` is the kernel's byte count for this read into `buf`.
                complete(op, n) = unsafe { op.buf.set_init(n) };
                output(op) = op.buf;
                c AURA_OP_READ = 0 fn [
                    "I/O submission",
                    "Reads len bytes at offset into buf; the callback gets the byte count or -errno.",
                    "AURA_WARN_UNUSED aura_request_t *aura_read(aura_engine_t *engine, int fd, aura_buf_t buf, size_t len, off_t offset, aura_callback_t callback, void *user_data)",
                ] args(fd, buf len, offset as u64) or read_fixed if buf.type_ == AURA_BUF_REGISTERED;
            }
            /// Writes the whole of `buf` to `fd` at `offset`; completes with the number of bytes
            /// written.
            write<B: $crate::__private::IoBuf>(fd: $crate::__private::RawFd, buf: B, offset: u64) -> B {
                op Write {};
                future write_at;
                direction Write;
                code Write;
                fixed_file true;
                sqe(op) = opcode::Write::new(types::Fd(op.fd), op.buf.io_ptr(), len32(op.buf.io_len()))
                    .offset(op.offset)
                    .build();
                output(op) = op.buf;
                c AURA_OP_WRITE = 1 fn [
                    "I/O submission",
                    "Writes len bytes from buf at offset.",
                    "AURA_WARN_UNUSED aura_request_t *aura_write(aura_engine_t *engine, int fd, aura_buf_t buf, size_t len, off_t offset, aura_callback_t callback, void *user_data)",
                ] args(fd, buf len, offset as u64) or write_fixed if buf.type_ == AURA_BUF_REGISTERED;
            }
            /// Reads from `fd` at `offset` into `bufs` in order (scatter); completes with the
            /// total number of bytes read.
            readv<B: $crate::__private::IoBufMut>(fd: $crate::__private::RawFd, bufs: Vec<B>, offset: u64) -> Vec<B> {
                op Readv { iovecs: $crate::__private::IoVecArray };
                future readv_at;
                direction Read;
                code Readv;
                fixed_file true;
                sqe(op) = {
                    op.iovecs = IoVecArray::for_reading(&mut op.bufs);
                    opcode::Readv::new(types::Fd(op.fd), op.iovecs.as_ptr(), op.iovecs.count())
                        .offset(op.offset)
                        .build()
                };
                // SAFETY: `n` is the kernel's byte count for the read through these iovecs.
                complete(op, n) = unsafe { IoVecArray::complete_reading(&mut op.bufs, n) };
                output(op) = op.bufs;
                c AURA_OP_READV = 2 fn [
                    "I/O submission",
                    "Vectored read; iov and its buffers stay valid until the callback.",
                    "AURA_WARN_UNUSED aura_request_t *aura_readv(aura_engine_t *engine, int fd, const struct iovec *iov, int iovcnt, off_t offset, aura_callback_t callback, void *user_data)",
                ] args(fd, iov iovcnt, offset as u64);
            }
            /// Writes `bufs` in order to `fd` at `offset` (gather); completes with the total
            /// number of bytes written.
            writev<B: $crate::__private::IoBuf>(fd: $crate::__private::RawFd, bufs: Vec<B>, offset: u64) -> Vec<B> {
                op Writev { iovecs: $crate::__private::IoVecArray };
                future writev_at;
                direction Write;
                code Writev;
                fixed_file true;
                sqe(op) = {
                    op.iovecs = IoVecArray::for_writing(&op.bufs);
                    opcode::Writev::new(types::Fd(op.fd), op.iovecs.as_ptr(), op.iovecs.count())
                        .offset(op.offset)
                        .build()
                };
                output(op) = op.bufs;
                c AURA_OP_WRITEV = 3 fn [
                    "I/O submission",
                    "Vectored write; iov and its buffers stay valid until the callback.",
                    "AURA_WARN_UNUSED aura_request_t *aura_writev(aura_engine_t *engine, int fd, const struct iovec *iov, int iovcnt, off_t offset, aura_callback_t callback, void *user_data)",
                ] args(fd, iov iovcnt, offset as u64);
            }
            /// Does nothing, through the whole engine and the kernel (IORING_OP_NOP): completes
            /// at once with 0. What it costs is the engine's own cost per operation.
            nop() -> () {
                op Nop {};
                future no_op;
                direction None;
                code Nop;
                fixed_file false;
                sqe(op) = {
                    let _ = op;
                    opcode::Nop::new().build()
                };
                output(op) = { let _ = op; };
            }
            /// Flushes `fd`'s data and metadata to stable storage (`fsync`).
            fsync(fd: $crate::__private::RawFd) -> () {
                op Fsync {};
                future sync_all;
                direction None;
                code Fsync;
                fixed_file true;
                sqe(op) = opcode::Fsync::new(types::Fd(op.fd)).build();
                output(op) = { let _ = op; };
                c AURA_OP_FSYNC = 4 fn [
                    "I/O submission",
                    "fsync (AURA_FSYNC_DEFAULT) or fdatasync (AURA_FSYNC_DATASYNC).",
                    "AURA_WARN_UNUSED aura_request_t *aura_fsync(aura_engine_t *engine, int fd, aura_fsync_flags_t flags, aura_callback_t callback, void *user_data)",
                ] args(fd) or fdatasync if flags & AURA_FSYNC_DATASYNC != 0;
            }
            /// Flushes `fd`'s data, and only the metadata needed to read it back (`fdatasync`).
            fdatasync(fd: $crate::__private::RawFd) -> () {
                op Fdatasync {};
                future sync_data;
                direction None;
                code Fsync;
                fixed_file true;
                sqe(op) = opcode::Fsync::new(types::Fd(op.fd))
                    .flags(types::FsyncFlags::DATASYNC)
                    .build();
                output(op) = { let _ = op; };
                c AURA_OP_FDATASYNC = 5;
            }
            /// Reads from `fd` at `offset` into a leased slice of a registered buffer
            /// ([`Engine::fixed_buf`](crate::Engine::fixed_buf)); hands the lease back.
            read_fixed<B: $crate::__private::FixedIo>(fd: $crate::__private::RawFd, buf: B, offset: u64) -> B {
                op ReadFixed {};
                future read_fixed_at;
                direction Read;
                code ReadFixed;
                fixed_file true;
                sqe(op) = opcode::ReadFixed::new(
                    types::Fd(op.fd),
                    op.buf.io_mut_ptr(),
                    len32(op.buf.io_len()),
                    op.buf.buf_index(),
                )
                .offset(op.offset)
                .build();
                output(op) = op.buf;
                c AURA_OP_READ_FIXED = 7;
            }
            /// Writes a leased slice of a registered buffer to `fd` at `offset`; hands the
            /// lease back.
            write_fixed<B: $crate::__private::FixedIo>(fd: $crate::__private::RawFd, buf: B, offset: u64) -> B {
                op WriteFixed {};
                future write_fixed_at;
                direction Write;
                code WriteFixed;
                fixed_file true;
                sqe(op) = opcode::WriteFixed::new(
                    types::Fd(op.fd),
                    op.buf.io_ptr(),
                    len32(op.buf.io_len()),
                    op.buf.buf_index(),
                )
                .offset(op.offset)
                .build();
                output(op) = op.buf;
                c AURA_OP_WRITE_FIXED = 8;
            }
            /// Opens `path` relative to `dirfd` (`libc::AT_FDCWD`: the working directory) with
            /// `flags` (`O_CLOEXEC` is always added) and `mode`; completes with the new fd, and
            /// hands the path back. Kernel 5.6.
            openat(dirfd: $crate::__private::RawFd, path: $crate::__private::CString, flags: i32, mode: u32) -> $crate::__private::CString {
                op OpenAt {};
                future open_at;
                direction None;
                code OpenAt;
                fixed_file false;
                sqe(op) = opcode::OpenAt::new(types::Fd(op.dirfd), op.path.as_ptr())
                    .flags(op.flags | libc::O_CLOEXEC)
                    .mode(op.mode)
                    .build();
                output(op) = op.path;
                c AURA_OP_OPENAT = 9 fn [
                    "Metadata operations",
                    "Opens pathname relative to dirfd; the callback gets the new fd. pathname stays valid until the callback.",
                    "AURA_WARN_UNUSED aura_request_t *aura_openat(aura_engine_t *engine, int dirfd, const char *pathname, int open_flags, mode_t mode, aura_submit_flags_t flags, aura_callback_t callback, void *user_data)",
                ] args(dirfd, pathname, open_flags, mode);
            }
            /// Closes `fd`, or a direct descriptor ([`direct`](crate::op::direct)). Kernel 5.6
            /// (direct descriptors: 5.15).
            close(fd: $crate::__private::RawFd) -> () {
                op Close {};
                future close_async;
                direction None;
                code Close;
                fixed_file false;
                sqe(op) = match direct_slot(op.fd) {
                    Some(slot) => opcode::Close::new(types::Fixed(slot)).build(),
                    None => opcode::Close::new(types::Fd(op.fd)).build(),
                };
                output(op) = { let _ = op; };
                c AURA_OP_CLOSE = 10 fn [
                    "Metadata operations",
                    "Closes fd; the callback gets 0 or -errno.",
                    "AURA_WARN_UNUSED aura_request_t *aura_close(aura_engine_t *engine, int fd, aura_submit_flags_t flags, aura_callback_t callback, void *user_data)",
                ] args(fd);
            }
            /// Opens `path` like [`openat`](crate::Engine::openat) but installs the file in registered
            /// slot `slot` (a direct descriptor, usable as [`direct(slot)`](crate::op::direct)
            /// by later operations, linked ones included) instead of a new fd; completes with
            /// 0. Needs registered files with that slot (`register_files(&[-1; n])`). Kernel
            /// 5.15.
            openat_direct(dirfd: $crate::__private::RawFd, path: $crate::__private::CString, flags: i32, mode: u32, slot: u32) -> $crate::__private::CString {
                op OpenAtDirect {};
                future open_direct;
                direction None;
                code OpenAt;
                fixed_file false;
                // The kernel refuses O_CLOEXEC here: a direct descriptor is no fd to inherit.
                sqe(op) = opcode::OpenAt::new(types::Fd(op.dirfd), op.path.as_ptr())
                    .flags(op.flags & !libc::O_CLOEXEC)
                    .mode(op.mode)
                    // A slot the SQE cannot carry (u32::MAX - 1 and up) must not fall back to
                    // a plain open, whose fd nobody would close: it asks for slot
                    // u32::MAX - 2 instead, past any file table (the kernel caps them at 2^20),
                    // which the kernel refuses.
                    .file_index(Some(
                        types::DestinationSlot::try_from_slot_target(op.slot)
                            .or_else(|_| types::DestinationSlot::try_from_slot_target(u32::MAX - 2))
                            .expect("u32::MAX - 2 is a valid slot target"),
                    ))
                    .build();
                output(op) = op.path;
            }
            /// Reads the metadata of `path` relative to `dirfd` (an empty path with
            /// `libc::AT_EMPTY_PATH` in `flags`: of `dirfd` itself) for the fields in `mask`;
            /// hands back the filled `statx`. Kernel 5.6.
            statx(dirfd: $crate::__private::RawFd, path: $crate::__private::CString, flags: i32, mask: u32) -> Box<$crate::__private::libc::statx> {
                op Statx { buf: $crate::__private::StatxBuf };
                future statx_at;
                direction None;
                code Statx;
                fixed_file false;
                sqe(op) = opcode::Statx::new(types::Fd(op.dirfd), op.path.as_ptr(), op.buf.as_mut_ptr())
                    .flags(op.flags)
                    .mask(op.mask)
                    .build();
                output(op) = op.buf.into_inner();
                c AURA_OP_STATX = 11 fn [
                    "Metadata operations",
                    "statx; the kernel fills *statxbuf before the callback.",
                    "AURA_WARN_UNUSED aura_request_t *aura_statx(aura_engine_t *engine, int dirfd, const char *pathname, int statx_flags, unsigned int mask, struct statx *statxbuf, aura_submit_flags_t flags, aura_callback_t callback, void *user_data)",
                ] args(dirfd, pathname, statx_flags, mask) out statxbuf;
            }
            /// Allocates (or with `mode` flags, punches or zeroes) `len` bytes of `fd` from
            /// `offset`. Kernel 5.6.
            fallocate(fd: $crate::__private::RawFd, mode: i32, offset: u64, len: u64) -> () {
                op Fallocate {};
                future allocate;
                direction None;
                code Fallocate;
                fixed_file true;
                sqe(op) = opcode::Fallocate::new(types::Fd(op.fd), op.len)
                    .offset(op.offset)
                    .mode(op.mode)
                    .build();
                output(op) = { let _ = op; };
                c AURA_OP_FALLOCATE = 12 fn [
                    "Metadata operations",
                    "fallocate with an AURA_FALLOC_* mode.",
                    "AURA_WARN_UNUSED aura_request_t *aura_fallocate(aura_engine_t *engine, int fd, int mode, off_t offset, off_t len, aura_submit_flags_t flags, aura_callback_t callback, void *user_data)",
                ] args(fd, mode, offset, len via positive);
            }
            /// Discards `len` bytes of the block device `fd` from `offset` (what `BLKDISCARD`
            /// does, through io_uring), both multiples of the device's logical block size: the
            /// device may drop the data, and reads of the range then return what the device
            /// documents (a loop device over a file punches a hole: zeros). `fd` must be open
            /// for writing. A file that is no block device fails with `EOPNOTSUPP`; punch a
            /// hole with [`fallocate`](crate::Engine::fallocate) there. Kernel 6.12.
            discard(fd: $crate::__private::RawFd, offset: u64, len: u64) -> () {
                op Discard {};
                future discard_range;
                direction None;
                code UringCmd16;
                fixed_file true;
                sqe(op) = opcode::UringCmd16::new(types::Fd(op.fd), BLOCK_URING_CMD_DISCARD)
                    .addr(Some(op.offset))
                    .cmd(uring_cmd_u64(op.len))
                    .build();
                output(op) = { let _ = op; };
            }
            /// Sets the length of `fd` to `len`. Kernel 6.9.
            ftruncate(fd: $crate::__private::RawFd, len: u64) -> () {
                op Ftruncate {};
                future set_len;
                direction None;
                code Ftruncate;
                fixed_file true;
                sqe(op) = opcode::Ftruncate::new(types::Fd(op.fd), op.len).build();
                output(op) = { let _ = op; };
                c AURA_OP_FTRUNCATE = 13 fn [
                    "Metadata operations",
                    "ftruncate (kernel 6.9+; -EINVAL or -EOPNOTSUPP before).",
                    "AURA_WARN_UNUSED aura_request_t *aura_ftruncate(aura_engine_t *engine, int fd, off_t length, aura_submit_flags_t flags, aura_callback_t callback, void *user_data)",
                ] args(fd, length);
            }
            /// Removes `path` relative to `dirfd` (a directory with `libc::AT_REMOVEDIR`).
            /// Kernel 5.11.
            unlinkat(dirfd: $crate::__private::RawFd, path: $crate::__private::CString, flags: i32) -> $crate::__private::CString {
                op UnlinkAt {};
                future unlink_at;
                direction None;
                code UnlinkAt;
                fixed_file false;
                sqe(op) = opcode::UnlinkAt::new(types::Fd(op.dirfd), op.path.as_ptr())
                    .flags(op.flags)
                    .build();
                output(op) = op.path;
            }
            /// Renames `old` (relative to `olddirfd`) to `new` (relative to `newdirfd`), with
            /// `renameat2` flags. Kernel 5.11.
            renameat(olddirfd: $crate::__private::RawFd, old: $crate::__private::CString, newdirfd: $crate::__private::RawFd, new: $crate::__private::CString, flags: u32) -> ($crate::__private::CString, $crate::__private::CString) {
                op RenameAt {};
                future rename_at;
                direction None;
                code RenameAt;
                fixed_file false;
                sqe(op) = opcode::RenameAt::new(
                    types::Fd(op.olddirfd),
                    op.old.as_ptr(),
                    types::Fd(op.newdirfd),
                    op.new.as_ptr(),
                )
                .flags(op.flags)
                .build();
                output(op) = (op.old, op.new);
            }
            /// Creates the directory `path` relative to `dirfd` with `mode`. Kernel 5.15.
            mkdirat(dirfd: $crate::__private::RawFd, path: $crate::__private::CString, mode: u32) -> $crate::__private::CString {
                op MkDirAt {};
                future mkdir_at;
                direction None;
                code MkDirAt;
                fixed_file false;
                sqe(op) = opcode::MkDirAt::new(types::Fd(op.dirfd), op.path.as_ptr())
                    .mode(op.mode)
                    .build();
                output(op) = op.path;
            }
            /// Flushes the byte range `offset..offset + len` of `fd` (`sync_file_range`, with
            /// its `SYNC_FILE_RANGE_*` flags). Kernel 5.2.
            sync_file_range(fd: $crate::__private::RawFd, offset: u64, len: u32, flags: u32) -> () {
                op SyncFileRange {};
                future sync_range;
                direction None;
                code SyncFileRange;
                fixed_file true;
                sqe(op) = opcode::SyncFileRange::new(types::Fd(op.fd), op.len)
                    .offset(op.offset)
                    .flags(op.flags)
                    .build();
                output(op) = { let _ = op; };
                c AURA_OP_SYNC_FILE_RANGE = 14 fn [
                    "Metadata operations",
                    "sync_file_range with AURA_SYNC_RANGE_* flags; nbytes 0 means to the end of the file.",
                    "AURA_WARN_UNUSED aura_request_t *aura_sync_file_range(aura_engine_t *engine, int fd, off_t offset, off_t nbytes, unsigned int range_flags, aura_submit_flags_t flags, aura_callback_t callback, void *user_data)",
                ] args(fd, offset, nbytes, range_flags);
            }
        }
    };
}

/// The op table's one reader: invoked as `__op_table!($crate::__op_each, [generator])`, it
/// matches the table's syntax and calls `generator!` once per entry with the entry in a fixed,
/// bracketed order, so a generator matches the prefix it needs and ignores the rest:
///
/// ```text
/// method NAME [ATTRS] generics [G: BOUND] args [ARG: TYPE, ...] out [OUTPUT]
/// op OP future FUTURE_METHOD fields [EXTRA: TYPE, ...] direction DIR code CODE fixed_file BOOL
/// sqe [OP => EXPR] complete [OP, N => EXPR] output [OP => EXPR]
/// ```
///
/// (`generics` and `complete` may be empty.) An entry's `c` line (the C ABI's, read by the
/// proc macros of `auraio-macros`) is not passed on: it is whatever follows `output` in the
/// entry.
#[doc(hidden)]
#[macro_export]
macro_rules! __op_each {
    ([$gen:path] $(
        $(#[$doc:meta])*
        $method:ident $(<$g:ident : $bound:path>)? ( $($arg:ident : $aty:ty),* ) -> $out:ty {
            op $Op:ident { $($extra:ident : $ety:ty),* };
            future $fut:ident;
            direction $dir:ident;
            code $Code:ident;
            fixed_file $fixed:literal;
            sqe($s:ident) = $sqe:expr;
            $(complete($c:ident, $cn:ident) = $complete:expr;)?
            output($o:ident) = $output:expr;
            $($cline:tt)*
        }
    )*) => {$(
        $gen! {
            method $method [$(#[$doc])*] generics [$($g: $bound)?] args [$($arg: $aty),*]
            out [$out] op $Op future $fut fields [$($extra: $ety),*] direction $dir
            code $Code fixed_file $fixed sqe [$s => $sqe]
            complete [$($c, $cn => $complete)?] output [$o => $output]
        }
    )*};
}

/// Generator: one op type per table entry, with a constructor and its [`Op`] impl.
macro_rules! define_ops {
    (
        method $method:ident [$(#[$doc:meta])*] generics [$($g:ident : $bound:path)?]
        args [$($arg:ident : $aty:ty),*] out [$out:ty] op $Op:ident future $fut:ident
        fields [$($extra:ident : $ety:ty),*] direction $dir:ident code $Code:ident
        fixed_file $fixed:literal sqe [$s:ident => $sqe:expr]
        complete [$($c:ident, $cn:ident => $complete:expr)?] output [$o:ident => $output:expr]
    ) => {
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
        unsafe impl $(<$g: $bound>)? $crate::op::Op for $Op $(<$g>)? {
            const DIRECTION: $crate::op::Direction = $crate::op::Direction::$dir;
            const OPCODE: u8 = $crate::__private::opcode::$Code::CODE;
            const FIXED_FD: bool = $fixed;
            type Output = $out;
            #[inline]
            fn sqe(&mut self) -> $crate::op::Sqe {
                // The table's expressions name what they use through this prelude.
                #[allow(unused_imports)]
                use $crate::__private::*;
                let $s = self;
                $sqe
            }
            $(
                #[inline]
                unsafe fn complete(&mut self, $cn: usize) {
                    #[allow(unused_imports)]
                    use $crate::__private::*;
                    let $c = self;
                    $complete
                }
            )?
            #[inline]
            fn into_output(self) -> $out {
                #[allow(unused_imports)]
                use $crate::__private::*;
                let $o = self;
                $output
            }
        }
    };
}

crate::__op_table!(crate::__op_each, [define_ops]);
