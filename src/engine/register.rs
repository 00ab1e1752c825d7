//! Registration: files, the engine's own buffers and caller-owned memory, with one deferred
//! unregister; the buffer pool.

use super::*;

impl<L: LockMode, T: Tuning> Core<L, T> {
    pub(crate) fn set_iowq_max_workers(
        &self,
        bounded: u32,
        unbounded: u32,
    ) -> io::Result<[u32; 2]> {
        let mut first = None;
        for ring in self.rings.iter() {
            let prev = ring.iowq_max_workers([bounded, unbounded])?;
            first.get_or_insert(prev);
        }
        Ok(first.unwrap_or_default())
    }

    pub(crate) fn register_files(&self, fds: &[RawFd]) -> io::Result<()> {
        let mut table = self.files.lock();
        if self.files_on.is_set() || self.rings.iter().any(|r| r.files_draining()) {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        for (i, ring) in self.rings.iter().enumerate() {
            if let Err(e) = ring.register_files(fds) {
                for r in &self.rings[..i] {
                    let _ = r.unregister_files();
                }
                return Err(e);
            }
        }
        table.clear();
        for (slot, &fd) in fds.iter().enumerate() {
            if fd >= 0 {
                table.insert(fd, slot as u32);
            }
        }
        self.files_on.store(true);
        Ok(())
    }

    pub(crate) fn update_file(&self, slot: u32, fd: RawFd) -> io::Result<()> {
        let mut table = self.files.lock();
        if !self.files_on.is_set() {
            return Err(io::Error::from_raw_os_error(libc::ENXIO));
        }
        for (i, ring) in self.rings.iter().enumerate() {
            if let Err(e) = ring.update_file(slot, fd) {
                return Err(if i == 0 {
                    e
                } else {
                    io::Error::new(
                        e.kind(),
                        format!(
                            "auraio: slot {slot} updated on {i} of {} rings only: {e}",
                            self.rings.len()
                        ),
                    )
                });
            }
        }
        table.retain(|_, s| *s != slot);
        if fd >= 0 {
            table.insert(fd, slot);
        }
        Ok(())
    }

    pub(crate) fn unregister_files(&self) -> io::Result<()> {
        let mut table = self.files.lock();
        if !self.files_on.is_set() {
            return Err(io::Error::from_raw_os_error(libc::ENXIO));
        }
        self.files_on.store(false);
        table.clear();
        let mut first = Ok(());
        for ring in self.rings.iter() {
            if let Err(e) = ring.unregister_files() {
                first = first.and(Err(e));
            }
        }
        first
    }

    pub(crate) fn register_buffers(&self, bufs: Vec<AlignedBuf>) -> io::Result<()> {
        // SAFETY: the iovecs describe AlignedBufs owned by the registry, which the engine
        // keeps (and leases keep) alive until every ring has unregistered them.
        unsafe { self.install(Registry::<L>::new(bufs)) }
    }

    /// Registers `registry`'s memory with every ring and keeps the registry until
    /// `finish_unregister` drops it; on failure nothing stays registered.
    ///
    /// # Safety
    ///
    /// The memory `registry.iovecs()` describes stays valid until the registry is dropped.
    unsafe fn install(&self, registry: Registry<L>) -> io::Result<()> {
        // An unregister whose last lease dropped since the last round finishes first.
        self.finish_unregister();
        let mut slot = self.fixed.lock();
        if slot.is_some() {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        let iovecs = registry.iovecs();
        for (i, ring) in self.rings.iter().enumerate() {
            // SAFETY: valid until the registry drops (the caller), which `finish_unregister`
            // does only after every ring has unregistered it.
            if let Err(e) = unsafe { ring.register_buffers(&iovecs) } {
                for r in &self.rings[..i] {
                    let _ = r.unregister_buffers();
                }
                return Err(e);
            }
        }
        *slot = Some(L::Shared::from(registry));
        Ok(())
    }

    pub(crate) fn buffers_registered(&self) -> bool {
        self.finish_unregister();
        self.fixed.lock().is_some()
    }

    pub(crate) fn fixed_buf(
        &self,
        index: usize,
        offset: usize,
        len: usize,
    ) -> io::Result<FixedBuf<L>> {
        let slot = self.fixed.lock();
        match slot.as_ref() {
            None => Err(io::Error::from_raw_os_error(libc::ENXIO)),
            Some(r) => FixedBuf::lease(r, index, offset, len),
        }
    }

    pub(crate) fn unregister_buffers(&self) -> io::Result<()> {
        {
            let slot = self.fixed.lock();
            match slot.as_ref() {
                None => return Err(io::Error::from_raw_os_error(libc::ENXIO)),
                Some(r) => r.draining.store(true),
            }
        }
        self.fixed_draining.store(true);
        self.finish_unregister();
        Ok(())
    }

    /// Registers caller-owned memory ([`crate::raw::register_buffers`]).
    ///
    /// # Safety
    ///
    /// As [`crate::raw::register_buffers`].
    pub(crate) unsafe fn register_raw_buffers(&self, iovecs: &[libc::iovec]) -> io::Result<()> {
        // SAFETY: the caller keeps the memory valid while it is registered, and the registry
        // lives no longer than that (it drops once unregistered and every slice is back).
        unsafe { self.install(Registry::<L>::borrowed(iovecs)) }
    }

    /// A slice of caller-owned registered memory ([`crate::raw::fixed_buf`]).
    pub(crate) fn raw_fixed_buf(
        &self,
        index: usize,
        offset: usize,
        len: usize,
    ) -> io::Result<RawFixedBuf<L>> {
        match self.fixed.lock().as_ref() {
            None => Err(io::Error::from_raw_os_error(libc::ENXIO)),
            Some(r) => RawFixedBuf::share(r, index, offset, len),
        }
    }

    /// Completes a deferred buffer unregister once no lease is out.
    pub(super) fn finish_unregister(&self) {
        if !self.fixed_draining.is_set() {
            return;
        }
        let mut slot = self.fixed.lock();
        if slot.as_ref().is_some_and(|r| r.leases() == 0) {
            for ring in self.rings.iter() {
                if let Err(e) = ring.unregister_buffers() {
                    log::warn!("auraio: unregistering buffers failed: {e}");
                }
            }
            *slot = None;
            self.fixed_draining.store(false);
        }
    }

    pub(crate) fn alloc_buffer(&self, len: usize) -> io::Result<crate::Buffer<L>> {
        crate::Buffer::new(&self.pool, len)
    }

    pub(crate) fn buffer_stats(&self) -> crate::BufferStats {
        self.pool.stats()
    }
}

impl<P: Policy, L: LockMode, T: Tuning> Engine<P, L, T> {
    /// Sets the most io-wq workers each ring may run: `bounded` for requests on regular files
    /// and block devices, `unbounded` for the others (sockets, pipes); 0 leaves a limit as it
    /// is (IORING_REGISTER_IOWQ_MAX_WORKERS). Returns the first ring's previous limits.
    ///
    /// Requests the kernel cannot complete without blocking run in io-wq workers (fsyncs,
    /// many buffered writes, every request with [`Options::async_issue`]). The bounded pool
    /// defaults to min(SQ entries, 4 × CPUs) workers per ring; a worker that blocks for the
    /// whole request holds its place, so for such requests the pool caps what a ring has in
    /// service whatever its in-flight limit. Not every file blocks its worker: FUSE direct
    /// I/O hands the request to the server and frees it (measured: 16 reads in service on a
    /// 2-CPU machine with the default limit of 8).
    ///
    /// # Errors
    ///
    /// The kernel's (`EINVAL` before 5.15). Not atomic across rings: the rings before the
    /// failing one keep their new limits.
    #[inline]
    pub fn set_iowq_max_workers(&self, bounded: u32, unbounded: u32) -> io::Result<[u32; 2]> {
        self.core.set_iowq_max_workers(bounded, unbounded)
    }

    /// Registers `fds` with every ring (IORING_REGISTER_FILES). From then on, operations on a
    /// registered fd use its fixed slot transparently (no per-request file lookup in the
    /// kernel). The slot of `fds[i]` is `i`; `-1` leaves a slot empty for
    /// [`update_file`](Self::update_file).
    ///
    /// # Errors
    ///
    /// `EBUSY` if files are registered, or an unregister is still draining; the kernel's
    /// error otherwise (`EBADF`,
    /// `EMFILE` …), with nothing left registered.
    #[inline]
    pub fn register_files(&self, fds: &[RawFd]) -> io::Result<()> {
        self.core.register_files(fds)
    }

    /// Replaces registered slot `slot` with `fd` (`-1` empties it), on every ring.
    ///
    /// # Errors
    ///
    /// `ENXIO` without registered files; `EINVAL` for a slot out of range. Not atomic across
    /// rings: on a partial failure the rings disagree and the error says so; unregister and
    /// register again to recover.
    #[inline]
    pub fn update_file(&self, slot: u32, fd: RawFd) -> io::Result<()> {
        self.core.update_file(slot, fd)
    }

    /// Unregisters the files. Later operations use plain fds again at once; the kernel-side
    /// unregister is deferred, per ring, until the requests already using a fixed slot
    /// (backlogged, queued or in flight) have completed, and `register_files` fails with
    /// `EBUSY` until then. Callable from inside a callback.
    ///
    /// # Errors
    ///
    /// `ENXIO` without registered files.
    #[inline]
    pub fn unregister_files(&self) -> io::Result<()> {
        self.core.unregister_files()
    }

    /// Registers `bufs` with every ring (IORING_REGISTER_BUFFERS); the engine owns them until
    /// they are unregistered. Lease slices with [`fixed_buf`](Self::fixed_buf) for
    /// [`read_fixed`](Self::read_fixed) and [`write_fixed`](Self::write_fixed).
    ///
    /// # Errors
    ///
    /// `EBUSY` if buffers are registered (or still draining); the kernel's error otherwise
    /// (`ENOMEM` past the locked-memory limit, `EINVAL` for more than 16384 buffers …), with
    /// nothing left registered.
    #[inline]
    pub fn register_buffers(&self, bufs: Vec<AlignedBuf>) -> io::Result<()> {
        self.core.register_buffers(bufs)
    }

    /// Whether buffers are registered: from a registration until its unregister has finished
    /// (it waits for the leases, see [`unregister_buffers`](Self::unregister_buffers)).
    #[inline]
    pub fn buffers_registered(&self) -> bool {
        self.core.buffers_registered()
    }

    /// Leases `len` bytes at `offset` of registered buffer `index`, exclusively, for fixed
    /// operations (and as an ordinary buffer).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an index out of range or a slice outside the buffer (checked
    /// without overflow: `offset >= size || len > size - offset`), before anything is
    /// submitted; `EBUSY` if the buffer is leased already or an unregister is draining;
    /// `ENXIO` without registered buffers.
    #[inline]
    pub fn fixed_buf(&self, index: usize, offset: usize, len: usize) -> io::Result<FixedBuf<L>> {
        self.core.fixed_buf(index, offset, len)
    }

    /// Unregisters the buffers. New leases fail with `EBUSY` at once; the kernel-side
    /// unregister runs when the last lease is back (at once if none is out, else at a later
    /// poll or wait), and the buffers are freed after it. Callable from inside a callback.
    ///
    /// # Errors
    ///
    /// `ENXIO` without registered buffers.
    #[inline]
    pub fn unregister_buffers(&self) -> io::Result<()> {
        self.core.unregister_buffers()
    }

    /// A buffer of `len` bytes from the engine's pool, aligned to
    /// [`Options::buffer_alignment`] (4 KiB by default: fit for `O_DIRECT`). It returns to the
    /// pool when dropped, and may outlive the engine.
    ///
    /// # Errors
    ///
    /// `InvalidInput` past 128 MiB; `OutOfMemory` if the allocator fails.
    #[inline]
    pub fn alloc_buffer(&self, len: usize) -> io::Result<crate::Buffer<L>> {
        self.core.alloc_buffer(len)
    }

    /// Statistics of the engine's buffer pool.
    #[inline]
    pub fn buffer_stats(&self) -> crate::BufferStats {
        self.core.buffer_stats()
    }
}
