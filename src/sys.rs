//! Thin helpers over the few system calls the engine makes outside io_uring.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// Number of online CPUs (at least 1).
pub(crate) fn online_cpus() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(1)
}

/// The CPU the calling thread runs on (0 if the kernel cannot tell).
pub(crate) fn current_cpu() -> usize {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).unwrap_or(0)
}

/// CLOCK_MONOTONIC in nanoseconds (never 0 on a running system).
#[inline]
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// A non-blocking, close-on-exec eventfd.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd has no memory-safety preconditions.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Empties an eventfd's counter (non-blocking; an empty counter is not an error).
pub(crate) fn eventfd_drain(fd: &OwnedFd) {
    let mut value = 0u64;
    // SAFETY: the buffer is a valid, writable u64, the size eventfd reads require.
    let _ = unsafe {
        libc::read(
            fd.as_raw_fd(),
            (&mut value as *mut u64).cast(),
            std::mem::size_of::<u64>(),
        )
    };
}

/// Waits until `fd` is readable or `timeout` passes; `None` waits without bound.
/// Returns whether it became readable; EINTR counts as "not yet".
pub(crate) fn wait_readable(fd: &OwnedFd, timeout: Option<Duration>) -> io::Result<bool> {
    wait_readable_any(&[fd], timeout)
}

/// As [`wait_readable`], for whichever of `fds` becomes readable first.
pub(crate) fn wait_readable_any(fds: &[&OwnedFd], timeout: Option<Duration>) -> io::Result<bool> {
    let mut pfds = [libc::pollfd {
        fd: -1,
        events: libc::POLLIN,
        revents: 0,
    }; 2];
    let n = fds.len().min(2);
    for (p, fd) in pfds.iter_mut().zip(fds) {
        p.fd = fd.as_raw_fd();
    }
    let ms = match timeout {
        None => -1,
        // Rounded up: a wait cut short of its timeout would wake once more for the rest.
        Some(t) => i32::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX),
    };
    // SAFETY: `pfds` holds `n` (at most 2) valid pollfds.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), n as libc::nfds_t, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::EINTR) {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(r > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_joined_thread_is_gone_and_this_one_is_not() {
        assert!(!thread_gone(thread_id()));
        let tid = std::thread::spawn(thread_id).join().unwrap();
        assert_ne!(tid, thread_id());
        assert!(thread_gone(tid));
    }

    #[test]
    fn eventfd_round_trip() {
        let fd = eventfd().unwrap();
        assert!(!wait_readable(&fd, Some(Duration::from_millis(1))).unwrap());
        let one = 1u64;
        // SAFETY: writing one u64 from a valid location.
        let w = unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        assert_eq!(w, 8);
        assert!(wait_readable(&fd, Some(Duration::from_millis(100))).unwrap());
        eventfd_drain(&fd);
        assert!(!wait_readable(&fd, Some(Duration::ZERO)).unwrap());
    }

    #[test]
    fn cpu_queries_are_sane() {
        assert!(online_cpus() >= 1);
        assert!(current_cpu() < 4096);
    }
}

thread_local! {
    /// This thread's kernel thread id, asked once.
    static TID: u32 = {
        // SAFETY: gettid has no preconditions.
        (unsafe { libc::gettid() }) as u32
    };
}

/// The calling thread's kernel thread id.
#[inline]
pub(crate) fn thread_id() -> u32 {
    TID.with(|t| *t)
}

/// Whether thread `tid` of this process has exited or is exiting (its `/proc/self/task`
/// entry is gone, or its flags show PF_EXITING: the kernel cancels a thread's requests during
/// its exit, before the entry goes). Asked only on the rare path of a kernel-side cancel.
pub(crate) fn thread_gone(tid: u32) -> bool {
    /// PF_EXITING of include/linux/sched.h.
    const PF_EXITING: u64 = 0x4;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return true;
    };
    // Fields after the command name (which may hold spaces, hence the last ')'): state,
    // ppid, pgrp, session, tty_nr, tpgid, flags.
    let flags = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(6))
        .and_then(|f| f.parse::<u64>().ok());
    flags.is_none_or(|f| f & PF_EXITING != 0)
}
