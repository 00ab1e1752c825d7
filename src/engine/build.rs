//! Making an engine: rings, eventfd, tuners and the options that size them.

use super::*;

impl<L: LockMode, T: Tuning> Core<L, T> {
    /// The core an engine of any policy is made of ([`Engine::with_options`]).
    fn build(opts: &Options) -> io::Result<Self> {
        const { tuning::validate::<T>() };
        opts.validate()?;
        let count = opts.ring_count.unwrap_or(if L::MULTI_THREAD {
            sys::online_cpus()
        } else {
            1
        });
        let cfg = RingConfig {
            queue_depth: opts.queue_depth,
            initial_limit: opts.resolved_initial(T::START_IN_FLIGHT),
            max_limit: T::MAX_IN_FLIGHT,
            batch_threshold: T::BATCH_INITIAL,
            sqpoll: opts.sqpoll_idle_ms,
            single_issuer: !L::MULTI_THREAD,
            only_ring: count == 1,
            sample_shift: T::SAMPLE_SHIFT,
            coop_taskrun: opts.coop_taskrun.unwrap_or(!L::MULTI_THREAD),
        };
        let eventfd = sys::eventfd()?;
        let rings = (0..count)
            .map(|_| Ring::new(&cfg, &eventfd))
            .collect::<io::Result<Vec<_>>>()?
            .into_boxed_slice();
        let now = sys::now_ns();
        let tuners: Box<[L::Lock<Tuner<T>>]> = rings
            .iter()
            .map(|r| {
                let controller = Controller::<T>::new(cfg.initial_limit, r.max_limit());
                let d = controller.decision();
                r.apply(d.limit, d.batch_threshold, &L::Counter::new(0));
                L::Lock::new(Tuner {
                    controller,
                    last: TickSnapshot::default(),
                    last_ns: now,
                    check_ops: 0,
                    check_ns: now,
                    hold_ns: 0,
                })
            })
            .collect();
        let supported = rings[0].probe();
        let max_chain = rings
            .iter()
            .map(|r| r.max_chain())
            .min()
            .unwrap_or(1)
            .min(crate::ring::MAX_CHAIN);
        Ok(Core {
            poll_owner: L::Counter::new(0),
            repoll: L::Flag::new(),
            eventfd_waiters: L::Lock::new(0),
            id: NEXT_ENGINE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            max_chain,
            fixed: L::Lock::new(None),
            fixed_draining: L::Flag::new(),
            files: L::Lock::new(std::collections::HashMap::new()),
            files_on: L::Flag::new(),
            pool: L::Shared::from(crate::pool::Pool::new(
                opts.buffer_alignment,
                sys::online_cpus(),
            )),
            supported,
            tuners,
            next_tick_ns: L::Counter::new(now + u64::from(T::TICK_MS) * 1_000_000),
            rings,
            selector: Selector::new(),
            fatal: L::Counter::new(0),
            shutdown: L::Flag::new(),
            drained: L::Flag::new(),
            stop: L::Flag::new(),
            idle: L::Flag::new(),
            blocked: L::Flag::new(),
            eventfd_sleeper: L::Flag::new(),
            waiter_fd: sys::eventfd()?,
            poll_lock: L::Lock::new(()),
            eventfd,
            drain_timeout: opts.drain_timeout,
            alignment: opts.buffer_alignment,
            spin_ns: opts.spin.as_nanos() as u64,
            cancel_on_drop: opts.cancel_on_drop,
            async_issue: std::sync::atomic::AtomicBool::new(opts.async_issue),
            notify: L::Flag::new(),
            spin_skip: L::Counter::new(0),
            spin_backoff: L::Counter::new(0),
            _tuning: PhantomData,
            _mode: L::Marker::default(),
        })
    }

    /// Whether dropping an unfinished future cancels its operation.
    pub(crate) fn cancel_on_drop(&self) -> bool {
        self.cancel_on_drop
    }

    /// This engine's identity (the one its request ids carry).
    pub(crate) fn engine_id(&self) -> u32 {
        self.id
    }
}

impl<P: Policy, L: LockMode, T: Tuning> Engine<P, L, T> {
    /// Name of the preset, `policy/lock-mode/tuning`.
    pub fn preset_name() -> String {
        format!("{}/{}/{}", P::NAME, L::NAME, T::NAME)
    }

    /// An engine with default [`Options`].
    ///
    /// # Errors
    ///
    /// As for [`with_options`](Self::with_options).
    pub fn new() -> io::Result<Self> {
        Self::with_options(&Options::new())
    }

    /// An engine sized by `opts`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the option for invalid options; the OS error if io_uring setup
    /// fails (e.g. `ENOSYS` without io_uring, `EPERM` where it is disabled, `ENOMEM` past the
    /// locked-memory limit).
    pub fn with_options(opts: &Options) -> io::Result<Self> {
        Core::build(opts).map(Self::of)
    }
}
