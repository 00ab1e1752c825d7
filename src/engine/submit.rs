//! Submission: single operations and chains into a ring chosen by the policy, fixed-file
//! rewriting, cancellation, and the wake-up of a blocked poller.

use super::*;

impl<L: LockMode, T: Tuning> Core<L, T> {
    #[inline]
    pub(crate) fn supported(&self, opcode: u8) -> bool {
        self.supported[usize::from(opcode >> 6)] & (1 << (opcode & 63)) != 0
    }

    /// Final touches on an operation's SQE before it is stored: a registered file's slot.
    /// Returns the SQE and whether it now uses a fixed slot.
    #[inline]
    pub(crate) fn prepare<O: Op>(&self, sqe: op::Sqe) -> (op::Sqe, bool) {
        let sqe = if self.async_issue.load(std::sync::atomic::Ordering::Relaxed) {
            sqe.flags(io_uring::squeue::Flags::ASYNC)
        } else {
            sqe
        };
        if !O::FIXED_FD {
            return (sqe, false);
        }
        if let Some(slot) = op::direct_slot(op::sqe_fd(&sqe)) {
            return (op::use_fixed_file(sqe, slot), true);
        }
        if self.files_on.is_set() {
            self.fixed_file(sqe)
        } else {
            (sqe, false)
        }
    }

    /// Rewrites an SQE to use the registered slot of its fd, if the fd is registered.
    fn fixed_file(&self, sqe: op::Sqe) -> (op::Sqe, bool) {
        let fd = op::sqe_fd(&sqe);
        match self.files.lock().get(&fd) {
            Some(&slot) => (op::use_fixed_file(sqe, slot), true),
            None => (sqe, false),
        }
    }

    /// Multi-thread submissions: a poller blocked in the kernel or on the eventfd does not see
    /// SQEs pushed after it flushed, so the submitter flushes them itself; a poller idle in
    /// `run` is woken. The fence pairs with the one the poller makes after raising `blocked`
    /// (or `idle`) and before it flushes (or looks at `pending`): of the two, at least one
    /// sees the other's write (the SQE in the poller's flush, or the flag here).
    #[inline]
    fn after_push(&self, ring: &Ring<L>) {
        if handoff::announced::<L>(&self.blocked) {
            ring.kick(&self.fatal);
        }
        if self.idle.is_set() {
            self.wake();
        }
    }

    /// Wakes a poller sleeping in [`run`](Self::run) with nothing in flight.
    pub(super) fn wake(&self) {
        write_one(&self.eventfd);
    }

    pub(crate) fn cancel(&self, id: RequestId) -> io::Result<()> {
        if id.engine != self.id {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        let ring = self.ring(id.ring())?;
        let mut batch = Batch::new();
        let r = ring.cancel(id.user_data, &mut batch, &self.fatal);
        if r.is_ok() {
            // Completed without the kernel (backlogged): run the callback now.
            self.run_callbacks(&mut batch);
        }
        r
    }

    pub(crate) fn is_pending(&self, id: RequestId) -> bool {
        id.engine == self.id
            && self
                .rings
                .get(id.ring())
                .is_some_and(|r| r.is_live(id.user_data))
    }

    pub(crate) fn set_async_issue(&self, on: bool) {
        self.async_issue
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn async_issue(&self) -> bool {
        self.async_issue.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl<P: Policy, L: LockMode, T: Tuning> Engine<P, L, T> {
    /// Submits any operation: the generic form behind [`read`](Self::read),
    /// [`write`](Self::write) and the other methods of the op table.
    ///
    /// The callback gets the result (`Ok(bytes)` or the kernel's error) and what the operation
    /// owned. It runs exactly once, on the polling thread, unless the submission is refused.
    ///
    /// # Errors
    ///
    /// A refused submission returns the buffer(s) in [`SubmitError`] and drops the callback
    /// uncalled: `EOPNOTSUPP` for an opcode the kernel lacks (probed at creation), `ESHUTDOWN`
    /// once the engine is being dropped, or the engine's latched fatal error. Errors of the operation itself (`EBADF`, `EINVAL` …) reach the callback.
    #[inline]
    pub fn submit<O, F>(&self, op: O, callback: F) -> Result<RequestId, SubmitError<O::Output>>
    where
        O: Op + Sendable<L>,
        F: FnOnce(io::Result<usize>, O::Output) + Sendable<L> + 'static,
    {
        // SAFETY: the bounds above are the contract of `submit_unchecked`.
        unsafe { self.submit_unchecked(op, callback) }
    }

    /// [`submit`](Self::submit) without the `Sendable` bounds, for callers that cannot name
    /// them on a closure (a generic closure's captures do not carry the bound).
    ///
    /// # Safety
    ///
    /// In multi-thread mode `op` and `callback` must be `Send`: the engine may complete or drop
    /// them on another thread.
    #[inline]
    pub(crate) unsafe fn submit_unchecked<O, F>(
        &self,
        mut op: O,
        callback: F,
    ) -> Result<RequestId, SubmitError<O::Output>>
    where
        O: Op,
        F: FnOnce(io::Result<usize>, O::Output) + 'static,
    {
        let fatal = self.core.fatal.get();
        if fatal != 0 {
            return Err(SubmitError::new(fatal as i32, op.into_output()));
        }
        if self.core.shutdown.is_set() {
            return Err(SubmitError::new(libc::ESHUTDOWN, op.into_output()));
        }
        if !self.core.supported(O::OPCODE) {
            return Err(SubmitError::new(libc::EOPNOTSUPP, op.into_output()));
        }
        let (sqe, fixed) = self.core.prepare::<O>(op.sqe());
        let payload = Payload::new(op, callback);
        let ring =
            <P as crate::policy::sealed::Sealed>::pick(&*self.core.rings, &self.core.selector);
        let sampled = !matches!(O::DIRECTION, op::Direction::None);
        let user_data = self.core.rings[ring].push(sqe, payload, sampled, fixed, &self.core.fatal);
        if L::MULTI_THREAD {
            self.core.after_push(&self.core.rings[ring]);
        }
        Ok(RequestId {
            engine: self.core.id,
            ring: ring as u32,
            user_data,
        })
    }

    /// Whether the kernel supports an io_uring opcode (probed once, at creation).
    #[inline]
    pub fn supported(&self, opcode: u8) -> bool {
        self.core.supported(opcode)
    }

    /// Starts a chain of linked operations (IOSQE_IO_LINK): each link starts when the one
    /// before it succeeded; after a failure the rest complete with `ECANCELED`. See
    /// [`Chain`](crate::Chain).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// let path = std::env::temp_dir().join(format!("auraio-chain-doc-{}", std::process::id()));
    /// let file = std::fs::File::create(&path)?;
    /// let fd = file.as_raw_fd();
    /// let engine = auraio::LocalEngine::new()?;
    /// let mut chain = engine.chain();
    /// chain
    ///     .push(auraio::op::Write::new(fd, b"durable".to_vec(), 0), |r, _| assert_eq!(r.unwrap(), 7))?
    ///     .push(auraio::op::Fsync::new(fd), |r, ()| r.map(drop).unwrap())?;
    /// chain.submit()?;
    /// engine.drain(std::time::Duration::from_secs(5))?;
    /// assert_eq!(std::fs::read(&path)?, b"durable");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn chain(&self) -> crate::Chain<'_, P, L, T> {
        crate::Chain::new(self)
    }

    pub(crate) fn submit_chain(
        &self,
        links: Vec<(op::Sqe, Payload, bool, bool)>,
    ) -> io::Result<Vec<RequestId>> {
        if links.is_empty() {
            return Ok(Vec::new());
        }
        let refused = match self.core.fatal.get() {
            0 if self.core.shutdown.is_set() => libc::ESHUTDOWN,
            0 => 0,
            e => e as i32,
        };
        if refused != 0 {
            let _scope = CallbackScope::enter(self.core.addr());
            for (_, payload, _, _) in links {
                payload.complete(-refused);
            }
            return Err(io::Error::from_raw_os_error(refused));
        }
        let ring =
            <P as crate::policy::sealed::Sealed>::pick(&*self.core.rings, &self.core.selector);
        let ids = self.core.rings[ring].push_chain(links, &self.core.fatal);
        if L::MULTI_THREAD {
            self.core.after_push(&self.core.rings[ring]);
        }
        Ok(ids
            .into_iter()
            .map(|user_data| RequestId {
                engine: self.core.id,
                ring: ring as u32,
                user_data,
            })
            .collect())
    }

    /// Cancels a request (IORING_OP_ASYNC_CANCEL). Its callback then runs with `ECANCELED`,
    /// or with its real result if it finished first; either way exactly once, with its
    /// buffer. A request still in the backlog never reaches the kernel: its callback runs
    /// with `ECANCELED` inside this call (on the calling thread).
    ///
    /// # Errors
    ///
    /// `ENOENT` if `id` names no pending request (it completed, or was never this engine's:
    /// ids are generation-checked and carry their engine, so a stale id or another engine's
    /// cannot cancel anything here); `InvalidInput` for a ring index out of range. When the
    /// ring's reserve of completion-queue room for cancels is in use, the cancel waits and
    /// goes out as earlier cancels complete: it is never refused or lost.
    #[inline]
    pub fn cancel(&self, id: RequestId) -> io::Result<()> {
        self.core.cancel(id)
    }

    /// Whether `id` names a request not yet completed.
    #[inline]
    pub fn is_pending(&self, id: RequestId) -> bool {
        self.core.is_pending(id)
    }

    /// Turns [`Options::async_issue`] on or off for the requests submitted from now on (those
    /// in flight keep how they were issued).
    #[inline]
    pub fn set_async_issue(&self, on: bool) {
        self.core.set_async_issue(on)
    }

    /// Whether requests are issued from io-wq ([`Options::async_issue`]).
    #[inline]
    pub fn async_issue(&self) -> bool {
        self.core.async_issue()
    }
}
