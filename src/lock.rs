//! Locking modes: whether an engine may be shared between threads.
//!
//! The mode is a type parameter of [`Engine`](crate::Engine), so the choice is made at compile
//! time and the unused machinery is not compiled at all:
//!
//! | mode | `Send`/`Sync` | ring state | counters | poll exclusivity |
//! |---|---|---|---|---|
//! | [`SingleThread`] | neither | [`LocalCell`]: a borrow flag, no mutex | `Cell<u64>` | `Cell<bool>` |
//! | [`MultiThread`] | both | `std::sync::Mutex` | `AtomicU64` | `AtomicBool` |
//!
//! `SingleThread` therefore has no mutex and no atomic read-modify-write anywhere on its submit
//! and completion paths; its only shared-memory accesses are the plain loads and stores of the
//! io_uring rings themselves.

use core::cell::{Cell, UnsafeCell};
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use std::sync::PoisonError;

use crate::sync::{AtomicBool, AtomicU64, Mutex, MutexGuard, Ordering};

mod sealed {
    pub trait Sealed {}
}

/// How an engine's internal state is protected. Sealed: implemented by [`SingleThread`] and
/// [`MultiThread`] only.
pub trait LockMode: sealed::Sealed + Sized + 'static {
    /// Name of the mode, as shown in stats and benchmark output.
    const NAME: &'static str;
    /// Whether several threads may use the engine at once.
    const MULTI_THREAD: bool;
    /// Exclusive-access wrapper around one ring's mutable state.
    type Lock<T>: RingLock<T>;
    /// A counter readable without taking the ring lock (published load figures, stats).
    type Counter: Counter;
    /// A flag taken by the thread that reaps completions.
    type Flag: Flag;
    /// Zero-sized marker that removes `Send`/`Sync` from the engine in single-thread mode.
    type Marker: Default + 'static;
    /// Shared ownership: `Rc` in single-thread mode (no atomic counts), `Arc` otherwise.
    type Shared<T: 'static>: Clone + Deref<Target = T> + From<T>;
}

/// The engine is used from the thread that created it only: it is neither `Send` nor `Sync`.
///
/// Compiles out every mutex and every atomic read-modify-write of the engine. Callbacks and
/// buffers need not be `Send`.
#[derive(Debug)]
pub enum SingleThread {}

/// The engine is `Send + Sync`: any thread may submit concurrently, one thread at a time reaps
/// completions, and submitters never wait for that poller (its callbacks run with no lock held).
///
/// Callbacks and buffers must be `Send`, since they run or are dropped on the polling thread.
#[derive(Debug)]
pub enum MultiThread {}

impl sealed::Sealed for SingleThread {}
impl sealed::Sealed for MultiThread {}

impl LockMode for SingleThread {
    const NAME: &'static str = "single-thread";
    const MULTI_THREAD: bool = false;
    type Lock<T> = LocalCell<T>;
    type Counter = Cell<u64>;
    type Flag = Cell<bool>;
    type Marker = PhantomData<*const ()>;
    type Shared<T: 'static> = std::rc::Rc<T>;
}

impl LockMode for MultiThread {
    const NAME: &'static str = "multi-thread";
    const MULTI_THREAD: bool = true;
    type Lock<T> = Mutex<T>;
    type Counter = AtomicU64;
    type Flag = AtomicBool;
    type Marker = ();
    type Shared<T: 'static> = std::sync::Arc<T>;
}

/// Values the engine may hold for an engine of mode `L`: every type for [`SingleThread`], only
/// `Send` types for [`MultiThread`] (they may be completed or dropped on another thread).
///
/// Implemented automatically; it is the bound on callbacks and buffers.
pub trait Sendable<L: LockMode> {}
impl<T: ?Sized> Sendable<SingleThread> for T {}
impl<T: ?Sized + Send> Sendable<MultiThread> for T {}

/// Exclusive access to a value. Implemented by [`LocalCell`] and `std::sync::Mutex`.
pub trait RingLock<T> {
    /// Guard giving `&mut T` while alive.
    type Guard<'a>: DerefMut<Target = T>
    where
        Self: 'a,
        T: 'a;
    /// Wraps `value`.
    fn new(value: T) -> Self;
    /// Takes exclusive access.
    fn lock(&self) -> Self::Guard<'_>;
    /// Takes exclusive access if nobody holds it.
    fn try_lock(&self) -> Option<Self::Guard<'_>>;
}

impl<T> RingLock<T> for Mutex<T> {
    type Guard<'a>
        = MutexGuard<'a, T>
    where
        T: 'a;
    fn new(value: T) -> Self {
        Mutex::new(value)
    }
    #[inline]
    fn lock(&self) -> MutexGuard<'_, T> {
        // The engine never runs user code while holding a ring lock, so a poisoned lock can only
        // come from an internal panic; the state it protects is still consistent for reading.
        Mutex::lock(self).unwrap_or_else(PoisonError::into_inner)
    }
    fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        match Mutex::try_lock(self) {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

/// The single-thread "lock": a value plus a borrow flag, like a `RefCell` without its counts.
///
/// The engine never calls user code while a guard is alive, so the flag never trips; it turns
/// what would be aliasing into a panic should that rule ever be broken.
#[derive(Debug)]
pub struct LocalCell<T> {
    busy: Cell<bool>,
    value: UnsafeCell<T>,
}

/// Guard of a [`LocalCell`].
#[derive(Debug)]
pub struct LocalGuard<'a, T> {
    cell: &'a LocalCell<T>,
}

impl<T> RingLock<T> for LocalCell<T> {
    type Guard<'a>
        = LocalGuard<'a, T>
    where
        T: 'a;
    fn new(value: T) -> Self {
        LocalCell {
            busy: Cell::new(false),
            value: UnsafeCell::new(value),
        }
    }
    #[inline]
    fn lock(&self) -> LocalGuard<'_, T> {
        assert!(!self.busy.replace(true), "auraio: ring state re-entered");
        LocalGuard { cell: self }
    }
    fn try_lock(&self) -> Option<LocalGuard<'_, T>> {
        (!self.busy.replace(true)).then_some(LocalGuard { cell: self })
    }
}

impl<T> Deref for LocalGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `busy` was false when this guard was made and stays true until it drops, so
        // this guard is the only path to the value; `LocalCell` is `!Sync`, so no other thread
        // can reach it.
        unsafe { &*self.cell.value.get() }
    }
}

impl<T> DerefMut for LocalGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this borrow unique among the guard's borrows.
        unsafe { &mut *self.cell.value.get() }
    }
}

impl<T> Drop for LocalGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.cell.busy.set(false);
    }
}

/// A `u64` counter. Relaxed atomics in multi-thread mode, a `Cell` in single-thread mode.
pub trait Counter {
    /// Makes a counter.
    fn new(v: u64) -> Self;
    /// Current value.
    fn get(&self) -> u64;
    /// Stores a value (a plain store, never a read-modify-write).
    fn set(&self, v: u64);
    /// Adds `v`, returning the previous value.
    fn add(&self, v: u64) -> u64;
    /// Subtracts `v` (wrapping), returning the previous value.
    fn sub(&self, v: u64) -> u64;
    /// Stores `v` if the counter holds 0; returns whether it did.
    fn set_if_zero(&self, v: u64) -> bool;
    /// Drops one reference of a reference count; returns whether it was the last. Release on
    /// every decrement and acquire on the last (multi-thread mode), so the holder that frees
    /// or recycles the object sees every other holder's writes to it.
    fn release_ref(&self) -> bool;
}

impl Counter for Cell<u64> {
    fn new(v: u64) -> Self {
        Cell::new(v)
    }
    #[inline]
    fn get(&self) -> u64 {
        Cell::get(self)
    }
    #[inline]
    fn set(&self, v: u64) {
        Cell::set(self, v)
    }
    #[inline]
    fn add(&self, v: u64) -> u64 {
        let old = Cell::get(self);
        Cell::set(self, old.wrapping_add(v));
        old
    }
    #[inline]
    fn sub(&self, v: u64) -> u64 {
        let old = Cell::get(self);
        Cell::set(self, old.wrapping_sub(v));
        old
    }
    fn set_if_zero(&self, v: u64) -> bool {
        let zero = Cell::get(self) == 0;
        if zero {
            Cell::set(self, v);
        }
        zero
    }
    fn release_ref(&self) -> bool {
        self.sub(1) == 1
    }
}

impl Counter for AtomicU64 {
    fn new(v: u64) -> Self {
        AtomicU64::new(v)
    }
    #[inline]
    fn get(&self) -> u64 {
        self.load(Ordering::Relaxed)
    }
    #[inline]
    fn set(&self, v: u64) {
        self.store(v, Ordering::Relaxed)
    }
    #[inline]
    fn add(&self, v: u64) -> u64 {
        self.fetch_add(v, Ordering::Relaxed)
    }
    #[inline]
    fn sub(&self, v: u64) -> u64 {
        self.fetch_sub(v, Ordering::Relaxed)
    }
    fn set_if_zero(&self, v: u64) -> bool {
        self.compare_exchange(0, v, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
    fn release_ref(&self) -> bool {
        if self.fetch_sub(1, Ordering::Release) != 1 {
            return false;
        }
        crate::sync::fence(Ordering::Acquire);
        true
    }
}

/// A boolean taken by one holder at a time, without blocking.
pub trait Flag {
    /// Makes a cleared flag.
    fn new() -> Self;
    /// Sets the flag; returns false if it was already set.
    fn try_take(&self) -> bool;
    /// Clears the flag.
    fn release(&self);
    /// Whether the flag is set.
    fn is_set(&self) -> bool;
    /// Sets or clears the flag without taking it.
    fn store(&self, v: bool);
    /// Sets the flag as a read-modify-write (so every raise joins one release sequence: the
    /// thread that [`take_raised`](Flag::take_raised)s it sees what each raiser saw).
    fn raise(&self);
    /// Clears the flag, returning whether it was set (acquiring what the raisers released).
    fn take_raised(&self) -> bool;
}

impl Flag for Cell<bool> {
    fn new() -> Self {
        Cell::new(false)
    }
    #[inline]
    fn try_take(&self) -> bool {
        !self.replace(true)
    }
    #[inline]
    fn release(&self) {
        self.set(false)
    }
    #[inline]
    fn is_set(&self) -> bool {
        self.get()
    }
    fn store(&self, v: bool) {
        self.set(v)
    }
    fn raise(&self) {
        self.set(true)
    }
    fn take_raised(&self) -> bool {
        self.replace(false)
    }
}

impl Flag for AtomicBool {
    fn new() -> Self {
        AtomicBool::new(false)
    }
    #[inline]
    fn try_take(&self) -> bool {
        self.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }
    #[inline]
    fn release(&self) {
        AtomicBool::store(self, false, Ordering::Release)
    }
    #[inline]
    fn is_set(&self) -> bool {
        self.load(Ordering::Acquire)
    }
    fn store(&self, v: bool) {
        AtomicBool::store(self, v, Ordering::Release)
    }
    fn raise(&self) {
        self.swap(true, Ordering::AcqRel);
    }
    fn take_raised(&self) -> bool {
        self.swap(false, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_cell_gives_exclusive_access() {
        let c = <LocalCell<u32> as RingLock<u32>>::new(1);
        {
            let mut g = c.lock();
            *g += 1;
        }
        assert_eq!(*c.lock(), 2);
    }

    #[test]
    #[should_panic(expected = "re-entered")]
    fn local_cell_rejects_reentry() {
        let c = <LocalCell<u32> as RingLock<u32>>::new(1);
        let _a = c.lock();
        let _b = c.lock();
    }

    #[test]
    fn counters_and_flags_agree_across_modes() {
        fn exercise<C: Counter, F: Flag>() {
            let c = C::new(5);
            assert_eq!(c.add(3), 5);
            assert_eq!(c.get(), 8);
            assert_eq!(c.sub(2), 8);
            assert_eq!(c.get(), 6);
            c.set(8);
            assert!(!c.set_if_zero(1));
            c.set(0);
            assert!(c.set_if_zero(7));
            assert_eq!(c.get(), 7);
            let f = F::new();
            assert!(f.try_take());
            assert!(!f.try_take());
            assert!(f.is_set());
            f.release();
            assert!(!f.is_set());
        }
        exercise::<Cell<u64>, Cell<bool>>();
        exercise::<AtomicU64, AtomicBool>();
    }
}
