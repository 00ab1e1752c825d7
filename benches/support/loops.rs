//! The read loops measured by `benches/per_op.rs` (criterion, wall time) and counted by
//! `examples/instructions.rs` (callgrind, instructions): 4 KiB random reads from a tmpfs file,
//! 32 in flight, one thread, through a plain io-uring loop and through auraio's presets.
//! Included by both with `#[path]`, so both measure the same code.

#![allow(dead_code, reason = "each includer uses a subset")]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use io_uring::{opcode, types, IoUring};

pub const DEPTH: usize = 32;
pub const BLOCK: usize = 4096;
pub const FILE_LEN: u64 = 64 << 20;

pub struct Rng(pub u64);
impl Rng {
    pub fn offset(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % (FILE_LEN / BLOCK as u64)) * BLOCK as u64
    }
}

pub fn test_file() -> (std::path::PathBuf, std::fs::File) {
    let path = std::path::PathBuf::from(format!("/dev/shm/auraio-bench-{}", std::process::id()));
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(FILE_LEN).unwrap();
    std::fs::write(&path, vec![0xA5u8; FILE_LEN as usize]).unwrap();
    (path.clone(), std::fs::File::open(&path).unwrap())
}

pub fn plain_uring(fd: i32, ops: u64) -> Duration {
    let mut b = IoUring::builder();
    b.setup_coop_taskrun()
        .setup_single_issuer()
        .setup_defer_taskrun();
    let mut ring: IoUring = b.build(256).unwrap();
    let mut bufs: Vec<Vec<u8>> = (0..DEPTH).map(|_| vec![0u8; BLOCK]).collect();
    let mut free: Vec<usize> = (0..DEPTH).collect();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let (mut submitted, mut done) = (0u64, 0u64);
    let start = Instant::now();
    while done < ops {
        {
            let mut sq = ring.submission();
            while submitted < ops {
                let Some(slot) = free.pop() else { break };
                let e = opcode::Read::new(types::Fd(fd), bufs[slot].as_mut_ptr(), BLOCK as u32)
                    .offset(rng.offset())
                    .build()
                    .user_data(slot as u64);
                // SAFETY: the buffer stays allocated and unused until its CQE is reaped.
                unsafe { sq.push(&e).unwrap() };
                submitted += 1;
            }
        }
        ring.submit_and_wait(1).unwrap();
        for cqe in ring.completion() {
            assert_eq!(cqe.result(), BLOCK as i32);
            free.push(cqe.user_data() as usize);
            done += 1;
        }
    }
    start.elapsed()
}

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

macro_rules! auraio_loop {
    ($name:ident, $engine:ty) => {
        pub fn $name(engine: &$engine, fd: i32, ops: u64) -> Duration {
            FREE.with(|f| *f.borrow_mut() = (0..DEPTH).map(|_| vec![0u8; BLOCK]).collect());
            let done = Rc::new(std::cell::Cell::new(0u64));
            let mut rng = Rng(0x9e3779b97f4a7c15);
            let mut submitted = 0u64;
            let start = Instant::now();
            while done.get() < ops {
                while submitted < ops {
                    let Some(buf) = FREE.with(|f| f.borrow_mut().pop()) else {
                        break;
                    };
                    engine
                        .read(fd, buf, rng.offset(), |r, buf| {
                            assert_eq!(r.unwrap(), BLOCK);
                            FREE.with(|f| f.borrow_mut().push(buf));
                        })
                        .unwrap();
                    submitted += 1;
                }
                let n = engine.wait(None).unwrap();
                done.set(done.get() + n as u64);
            }
            start.elapsed()
        }
    };
}

auraio_loop!(local_loop, auraio::LocalEngine);

/// The same reads as futures: 32 in a `FuturesUnordered` under `block_on`, each completed one
/// replaced by a new one.
pub fn local_futures(engine: &auraio::LocalEngine, fd: i32, ops: u64) -> Duration {
    use futures::stream::{FuturesUnordered, StreamExt};
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let start = Instant::now();
    futures::executor::block_on(async {
        let mut set = FuturesUnordered::new();
        let mut submitted = 0u64;
        while submitted < ops.min(DEPTH as u64) {
            set.push(engine.read_at(fd, vec![0u8; BLOCK], rng.offset()));
            submitted += 1;
        }
        while let Some((r, buf)) = set.next().await {
            assert_eq!(r.unwrap(), BLOCK);
            if submitted < ops {
                set.push(engine.read_at(fd, buf, rng.offset()));
                submitted += 1;
            }
        }
    });
    start.elapsed()
}
auraio_loop!(shared_loop, auraio::SharedEngine);
