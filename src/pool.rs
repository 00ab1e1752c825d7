//! The buffer pool: aligned buffers in power-of-two size classes from 4 KiB to 128 MiB,
//! recycled instead of freed.
//!
//! Single-thread engines keep plain free lists (no atomics, `Rc` ownership). Multi-thread
//! engines put a per-thread cache in front of sharded, mutex-guarded free lists: a thread
//! allocates and frees from its own cache with no lock, refills and spills in batches of 16
//! from its shard, and frees its cache when it exits. A thread caches for the first pool it
//! uses (one engine per thread is the common case); other pools go to their shards directly.
//!
//! A [`Buffer`] keeps its pool alive, so dropping one after its engine is gone is safe. Fresh
//! blocks are zeroed; recycled ones hold what their last user left (always initialised bytes).

use std::alloc::{self, Layout};
use std::cell::RefCell;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::buffer::{IoBuf, IoBufMut};
use crate::lock::{Counter, LockMode, RingLock};

/// Smallest size class: 4 KiB.
pub const MIN_CLASS_BYTES: usize = 4096;
/// Number of size classes (4 KiB … 128 MiB).
pub const CLASSES: usize = 16;
/// Largest buffer the pool hands out: 128 MiB.
pub const MAX_BUFFER_BYTES: usize = MIN_CLASS_BYTES << (CLASSES - 1);
/// Blocks a shard keeps per class before freeing to the allocator.
const SHARD_KEEP: usize = 256;
/// Blocks a thread cache keeps per class; it spills and refills half of that at a time.
const CACHE_KEEP: usize = 32;
const CACHE_BATCH: usize = 16;

static_assertions::const_assert_eq!(MAX_BUFFER_BYTES, 128 << 20);
static_assertions::assert_impl_all!(Buffer<crate::lock::MultiThread>: Send, Sync);
static_assertions::assert_not_impl_any!(Buffer<crate::lock::SingleThread>: Send, Sync);

/// Size class of a request (`None` past 128 MiB).
fn class_of(len: usize) -> Option<usize> {
    let c = len
        .max(MIN_CLASS_BYTES)
        .next_power_of_two()
        .trailing_zeros() as usize
        - MIN_CLASS_BYTES.trailing_zeros() as usize;
    (c < CLASSES).then_some(c)
}

fn class_bytes(class: usize) -> usize {
    MIN_CLASS_BYTES << class
}

/// Bytes a buffer of `len` bytes takes from the pool: its size class's (`None` past
/// [`MAX_BUFFER_BYTES`]).
pub fn class_bytes_of(len: usize) -> Option<usize> {
    class_of(len).map(class_bytes)
}

/// A free block: its address (blocks are handed between threads as plain addresses).
type Block = usize;

/// Pool statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferStats {
    /// Bytes the pool holds from the allocator (in use, pooled and cached).
    pub bytes: u64,
    /// Buffers handed out and not yet dropped.
    pub buffers: u64,
    /// Free-list shards.
    pub shards: u32,
}

struct Totals {
    bytes: AtomicU64,
    /// Cleared when the pool drops, so a thread cache bound to it lets go.
    alive: std::sync::atomic::AtomicBool,
}

struct Shard {
    free: [Vec<Block>; CLASSES],
}

/// A pool of one engine. Generic over the lock mode: a `LocalCell` shard and `Cell` counters
/// for single-thread engines.
pub(crate) struct Pool<L: LockMode> {
    id: u64,
    align: usize,
    shards: Box<[L::Lock<Shard>]>,
    outstanding: L::Counter,
    /// Shared with thread caches, which outlive nothing but may outlive the pool.
    totals: Arc<Totals>,
}

fn layout(class: usize, align: usize) -> Layout {
    Layout::from_size_align(class_bytes(class), align).expect("class sizes and alignment are valid")
}

fn dealloc_block(block: Block, class: usize, align: usize) {
    // SAFETY: every block was allocated by `alloc_block` with this class's layout.
    unsafe { alloc::dealloc(block as *mut u8, layout(class, align)) }
}

/// The calling thread's cache, for one multi-thread pool.
struct ThreadCache {
    pool_id: u64,
    align: usize,
    totals: Arc<Totals>,
    free: [Vec<Block>; CLASSES],
}

impl Drop for ThreadCache {
    fn drop(&mut self) {
        for (class, list) in self.free.iter_mut().enumerate() {
            for block in list.drain(..) {
                dealloc_block(block, class, self.align);
                self.totals
                    .bytes
                    .fetch_sub(class_bytes(class) as u64, Ordering::Relaxed);
            }
        }
    }
}

thread_local! {
    static CACHE: RefCell<Option<ThreadCache>> = const { RefCell::new(None) };
}

static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

impl<L: LockMode> Pool<L> {
    pub(crate) fn new(align: usize, threads_hint: usize) -> Self {
        let shards = if L::MULTI_THREAD {
            // About four threads a shard, a power of two between 2 and 256.
            (threads_hint / 4).clamp(2, 256).next_power_of_two()
        } else {
            1
        };
        Pool {
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            align,
            shards: (0..shards)
                .map(|_| {
                    L::Lock::new(Shard {
                        free: Default::default(),
                    })
                })
                .collect(),
            outstanding: L::Counter::new(0),
            totals: Arc::new(Totals {
                bytes: AtomicU64::new(0),
                alive: std::sync::atomic::AtomicBool::new(true),
            }),
        }
    }

    pub(crate) fn stats(&self) -> BufferStats {
        BufferStats {
            bytes: self.totals.bytes.load(Ordering::Relaxed),
            buffers: self.outstanding.get(),
            shards: self.shards.len() as u32,
        }
    }

    fn shard(&self) -> &L::Lock<Shard> {
        if self.shards.len() == 1 {
            return &self.shards[0];
        }
        thread_local! { static SHARD_SEED: usize = {
            let x = 0u8;
            (&x as *const u8 as usize) >> 6
        } }
        let i = SHARD_SEED.with(|s| *s) & (self.shards.len() - 1);
        &self.shards[i]
    }

    fn alloc_block(&self, class: usize) -> io::Result<Block> {
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { alloc::alloc_zeroed(layout(class, self.align)) };
        if p.is_null() {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "auraio: buffer pool allocation failed",
            ));
        }
        self.add_bytes(class_bytes(class) as i64);
        Ok(p as Block)
    }

    fn take(&self, class: usize) -> io::Result<Block> {
        if L::MULTI_THREAD {
            let cached = CACHE.with(|c| {
                let mut c = c.borrow_mut();
                if c.as_ref()
                    .is_some_and(|c| !c.totals.alive.load(Ordering::Acquire))
                {
                    // The cached pool is gone: free its blocks, serve this pool instead.
                    *c = None;
                }
                let cache = c.get_or_insert_with(|| ThreadCache {
                    pool_id: self.id,
                    align: self.align,
                    totals: self.totals.clone(),
                    free: Default::default(),
                });
                if cache.pool_id != self.id {
                    return None;
                }
                if cache.free[class].is_empty() {
                    let mut shard = self.shard().lock();
                    let list = &mut shard.free[class];
                    let n = list.len().min(CACHE_BATCH);
                    let at = list.len() - n;
                    cache.free[class].extend(list.drain(at..));
                }
                cache.free[class].pop()
            });
            if let Some(b) = cached {
                return Ok(b);
            }
        }
        if let Some(b) = self.shard().lock().free[class].pop() {
            return Ok(b);
        }
        self.alloc_block(class)
    }

    fn give(&self, block: Block, class: usize) {
        if L::MULTI_THREAD {
            let kept = CACHE.with(|c| {
                let mut c = c.borrow_mut();
                let Some(cache) = c.as_mut().filter(|c| c.pool_id == self.id) else {
                    return false;
                };
                cache.free[class].push(block);
                if cache.free[class].len() > CACHE_KEEP {
                    let spill: Vec<Block> = cache.free[class].drain(..CACHE_BATCH).collect();
                    let mut shard = self.shard().lock();
                    for b in spill {
                        if shard.free[class].len() < SHARD_KEEP {
                            shard.free[class].push(b);
                        } else {
                            dealloc_block(b, class, self.align);
                            self.totals
                                .bytes
                                .fetch_sub(class_bytes(class) as u64, Ordering::Relaxed);
                        }
                    }
                }
                true
            });
            if kept {
                return;
            }
        }
        let mut shard = self.shard().lock();
        if shard.free[class].len() < SHARD_KEEP {
            shard.free[class].push(block);
        } else {
            drop(shard);
            dealloc_block(block, class, self.align);
            self.add_bytes(-(class_bytes(class) as i64));
        }
    }
}

impl<L: LockMode> Pool<L> {
    /// Moves the byte total. Single-thread pools are only ever touched by their own thread
    /// (their blocks never go to a thread cache), so a load and a store do: the lock mode
    /// promises no atomic read-modify-write.
    fn add_bytes(&self, delta: i64) {
        let b = &self.totals.bytes;
        if L::MULTI_THREAD {
            b.fetch_add(delta as u64, Ordering::Relaxed);
        } else {
            b.store(
                b.load(Ordering::Relaxed).wrapping_add(delta as u64),
                Ordering::Relaxed,
            );
        }
    }
}

impl<L: LockMode> Drop for Pool<L> {
    fn drop(&mut self) {
        self.totals.alive.store(false, Ordering::Release);
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            for (class, list) in s.free.iter_mut().enumerate() {
                for block in list.drain(..) {
                    dealloc_block(block, class, self.align);
                    self.add_bytes(-(class_bytes(class) as i64));
                }
            }
        }
    }
}

/// An aligned buffer from an engine's pool; returns to the pool when dropped. Usable with
/// every operation ([`IoBuf`], [`IoBufMut`]); its length is what was asked for, its block
/// the next power of two from 4 KiB.
pub struct Buffer<L: LockMode> {
    ptr: NonNull<u8>,
    len: usize,
    class: u8,
    pool: L::Shared<Pool<L>>,
}

// SAFETY: a Buffer uniquely owns its block. It is Send exactly when its pool handle is (an
// `Arc` of a pool whose shards are mutex-guarded and counters atomic, in multi-thread mode;
// never the single-thread `Rc`).
unsafe impl<L: LockMode> Send for Buffer<L> where L::Shared<Pool<L>>: Send {}
// SAFETY: shared access only hands out `&[u8]`.
unsafe impl<L: LockMode> Sync for Buffer<L> where L::Shared<Pool<L>>: Sync {}
// SAFETY: blocks are plain addresses owned by the shard's lists; the multi-thread shard is
// only reached through its mutex.
unsafe impl Send for Shard {}

impl<L: LockMode> Buffer<L> {
    pub(crate) fn new(pool: &L::Shared<Pool<L>>, len: usize) -> io::Result<Self> {
        let class = class_of(len).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("auraio: buffer of {len} bytes exceeds the pool's largest class ({MAX_BUFFER_BYTES} bytes)"),
            )
        })?;
        let block = pool.take(class)?;
        pool.outstanding.add(1);
        Ok(Buffer {
            ptr: NonNull::new(block as *mut u8).expect("blocks are non-null"),
            len,
            class: class as u8,
            pool: pool.clone(),
        })
    }

    /// Bytes of the block behind the buffer (its size class).
    pub fn capacity(&self) -> usize {
        class_bytes(usize::from(self.class))
    }
}

impl<L: LockMode> Drop for Buffer<L> {
    fn drop(&mut self) {
        self.pool.outstanding.sub(1);
        self.pool
            .give(self.ptr.as_ptr() as Block, usize::from(self.class));
    }
}

impl<L: LockMode> Deref for Buffer<L> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the block holds at least `len` initialised bytes (zeroed when allocated,
        // written only through `&mut [u8]` or the kernel since) and is owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<L: LockMode> DerefMut for Buffer<L> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<L: LockMode> fmt::Debug for Buffer<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer")
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

// SAFETY: the block is a heap allocation owned by the buffer: moving the Buffer moves only the
// pointer, and the block stays allocated until the buffer drops.
unsafe impl<L: LockMode> IoBuf for Buffer<L> {
    fn io_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
    fn io_len(&self) -> usize {
        self.len
    }
}

// SAFETY: as for `IoBuf`; the block is uniquely owned, so the kernel's writes alias nothing.
unsafe impl<L: LockMode> IoBufMut for Buffer<L> {
    fn io_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{MultiThread, SingleThread};
    use std::rc::Rc;

    #[test]
    fn classes() {
        assert_eq!(class_of(1), Some(0));
        assert_eq!(class_of(4096), Some(0));
        assert_eq!(class_of(4097), Some(1));
        assert_eq!(class_of(MAX_BUFFER_BYTES), Some(CLASSES - 1));
        assert_eq!(class_of(MAX_BUFFER_BYTES + 1), None);
    }

    #[test]
    fn single_thread_recycles() {
        let pool: Rc<Pool<SingleThread>> = Rc::new(Pool::new(4096, 1));
        let a = Buffer::<SingleThread>::new(&pool, 5000).unwrap();
        let addr = a.as_ptr() as usize;
        assert_eq!(addr % 4096, 0);
        assert_eq!((a.len(), a.capacity()), (5000, 8192));
        assert_eq!(pool.stats().buffers, 1);
        drop(a);
        let b = Buffer::<SingleThread>::new(&pool, 8000).unwrap();
        assert_eq!(b.as_ptr() as usize, addr, "the freed block came back");
        assert_eq!(
            pool.stats(),
            BufferStats {
                bytes: 8192,
                buffers: 1,
                shards: 1
            }
        );
        assert!(Buffer::<SingleThread>::new(&pool, MAX_BUFFER_BYTES + 1).is_err());
    }

    #[test]
    fn multi_thread_caches_and_spills() {
        let pool: Arc<Pool<MultiThread>> = Arc::new(Pool::new(4096, 16));
        assert_eq!(pool.stats().shards, 4);
        let bufs: Vec<_> = (0..100)
            .map(|_| Buffer::<MultiThread>::new(&pool, 4096).unwrap())
            .collect();
        assert_eq!(pool.stats().buffers, 100);
        drop(bufs);
        assert_eq!(pool.stats().buffers, 0);
        assert_eq!(pool.stats().bytes, 100 * 4096, "kept for reuse");
        let p = pool.clone();
        std::thread::spawn(move || {
            let b = Buffer::<MultiThread>::new(&p, 100).unwrap();
            drop(b);
        })
        .join()
        .unwrap();
        let b = Buffer::<MultiThread>::new(&pool, 4096).unwrap();
        drop(b);
        assert!(pool.stats().bytes >= 4096);
    }

    #[test]
    fn buffer_outlives_its_pool_handle() {
        let pool: Arc<Pool<MultiThread>> = Arc::new(Pool::new(4096, 2));
        let mut b = Buffer::<MultiThread>::new(&pool, 10).unwrap();
        drop(pool);
        b[0] = 1;
        assert_eq!(b[0], 1);
        drop(b);
    }
}
