//! The io_uring runtimes a Rust user would pick instead of auraio: compio (its `fs`),
//! tokio-uring and glommio (`DmaFile` for O_DIRECT, `BufferedFile` on tmpfs), each used the
//! way its documentation shows: one runtime per thread, a task per unit of depth, each task
//! one operation at a time on the runtime's own file type, as the futures peers do.

use std::mem::MaybeUninit;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Instant;

use auraio::AlignedBuf;

use crate::{all_tasks, buffer, task, Load, Op, Out, Target};

/// An O_DIRECT-capable buffer (page-aligned, `AlignedBuf`) with the initialised length the
/// completion-based runtimes' buffer traits track: `Vec<u8>` is not aligned for O_DIRECT.
pub struct Aligned {
    buf: AlignedBuf,
    init: usize,
}

impl Aligned {
    fn new(bs: usize) -> Self {
        let buf = buffer(bs);
        let init = buf.len();
        Aligned { buf, init }
    }
}

impl compio::buf::IoBuf for Aligned {
    fn as_init(&self) -> &[u8] {
        &self.buf[..self.init]
    }
}

impl compio::buf::SetLen for Aligned {
    unsafe fn set_len(&mut self, len: usize) {
        self.init = len;
    }
}

impl compio::buf::IoBufMut for Aligned {
    fn as_uninit(&mut self) -> &mut [MaybeUninit<u8>] {
        let bytes: &mut [u8] = &mut self.buf[..];
        // SAFETY: MaybeUninit<u8> has u8's layout, and every byte here is initialised (the
        // buffer is zeroed at allocation). Through this view compio and the kernel write
        // only initialised bytes (what a read returns), never `MaybeUninit::uninit()`, so the
        // AlignedBuf's bytes stay initialised for its own `&[u8]` views.
        unsafe { &mut *(bytes as *mut [u8] as *mut [MaybeUninit<u8>]) }
    }
}

// SAFETY: the pointer is to the AlignedBuf's heap allocation, which does not move when the
// `Aligned` does and lives until it is dropped; `bytes_init <= bytes_total` (both within the
// allocation).
unsafe impl tokio_uring::buf::IoBuf for Aligned {
    fn stable_ptr(&self) -> *const u8 {
        self.buf.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.init
    }
    fn bytes_total(&self) -> usize {
        self.buf.len()
    }
}

// SAFETY: as for IoBuf: a stable pointer into the allocation; `set_init` only raises the
// initialised length within it (every byte of it is initialised anyway).
unsafe impl tokio_uring::buf::IoBufMut for Aligned {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        self.init = self.init.max(pos.min(self.buf.len()));
    }
}

fn flags(t: &Target) -> i32 {
    if t.direct {
        libc::O_DIRECT
    } else {
        0
    }
}

pub fn compio(t: &Target, load: Load, thread: u64, until: Instant) -> Out {
    use compio::io::{AsyncReadAt, AsyncWriteAt};
    let rt = compio::runtime::Runtime::new().expect("compio runtime");
    rt.block_on(async {
        let file = std::rc::Rc::new(
            compio::fs::OpenOptions::new()
                .read(true)
                .write(!t.direct)
                .custom_flags(flags(t))
                .open(&t.path)
                .await
                .expect("compio open"),
        );
        all_tasks(load, thread, |lane| {
            let file = file.clone();
            let buf = Aligned::new(load.bs);
            let h = compio::runtime::spawn(task(load, lane, until, buf, move |o, b| {
                let file = file.clone();
                async move {
                    match o {
                        Op::Read(off) => {
                            let compio::BufResult(r, b) = file.read_at(b, off).await;
                            r.expect("compio read");
                            b
                        }
                        Op::Write(off) => {
                            let compio::BufResult(r, b) = (&*file).write_at(b, off).await;
                            r.expect("compio write");
                            b
                        }
                        Op::Fsync => {
                            file.sync_all().await.expect("compio fsync");
                            b
                        }
                    }
                }
            }));
            async { h.await.expect("compio task") }
        })
        .await
    })
}

pub fn tokio_uring(t: &Target, load: Load, thread: u64, until: Instant) -> Out {
    tokio_uring::start(async {
        let file = std::rc::Rc::new(
            tokio_uring::fs::OpenOptions::new()
                .read(true)
                .write(!t.direct)
                .custom_flags(flags(t))
                .open(&t.path)
                .await
                .expect("tokio-uring open"),
        );
        all_tasks(load, thread, |lane| {
            let file = file.clone();
            let buf = Aligned::new(load.bs);
            let h = tokio_uring::spawn(task(load, lane, until, buf, move |o, b| {
                let file = file.clone();
                async move {
                    match o {
                        Op::Read(off) => {
                            let (r, b) = file.read_at(b, off).await;
                            r.expect("tokio-uring read");
                            b
                        }
                        Op::Write(off) => {
                            let (r, b) = file.write_at(b, off).submit().await;
                            r.expect("tokio-uring write");
                            b
                        }
                        Op::Fsync => {
                            file.sync_all().await.expect("tokio-uring fsync");
                            b
                        }
                    }
                }
            }));
            async { h.await.expect("tokio-uring task") }
        })
        .await
    })
}

/// glommio's file types return their own buffers (`ReadResult`) and take `DmaBuffer` /
/// `Vec<u8>` to write: the task's `Aligned` only stands in for the slot; the data is copied
/// out of each read, as a glommio user copies it where it is needed.
pub fn glommio(t: &Target, load: Load, thread: u64, until: Instant) -> Out {
    use glommio::io::OpenOptions;
    let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .make()
        .expect("glommio executor");
    ex.run(async {
        enum F {
            Dma(glommio::io::DmaFile),
            Buffered(glommio::io::BufferedFile),
        }
        let mut o = OpenOptions::new();
        o.read(true).write(!t.direct);
        let file = std::rc::Rc::new(if t.direct {
            F::Dma(o.dma_open(&t.path).await.expect("glommio dma_open"))
        } else {
            F::Buffered(
                o.buffered_open(&t.path)
                    .await
                    .expect("glommio buffered_open"),
            )
        });
        let bs = load.bs;
        all_tasks(load, thread, |lane| {
            let file = file.clone();
            let buf = Aligned::new(load.bs);
            glommio::spawn_local(task(load, lane, until, buf, move |o, mut b| {
                let file = file.clone();
                async move {
                    match (o, &*file) {
                        (Op::Read(off), F::Dma(f)) => {
                            let r = f.read_at(off, bs).await.expect("glommio read");
                            b.buf[..r.len()].copy_from_slice(&r);
                        }
                        (Op::Read(off), F::Buffered(f)) => {
                            let r = f.read_at(off, bs).await.expect("glommio read");
                            b.buf[..r.len()].copy_from_slice(&r);
                        }
                        (Op::Write(off), F::Dma(f)) => {
                            let mut d = f.alloc_dma_buffer(bs);
                            d.as_bytes_mut().copy_from_slice(&b.buf[..bs]);
                            f.write_at(d, off).await.expect("glommio write");
                        }
                        (Op::Write(off), F::Buffered(f)) => {
                            f.write_at(b.buf[..bs].to_vec(), off)
                                .await
                                .expect("glommio write");
                        }
                        (Op::Fsync, F::Dma(f)) => f.fdatasync().await.expect("glommio sync"),
                        (Op::Fsync, F::Buffered(f)) => f.fdatasync().await.expect("glommio sync"),
                    }
                    b
                }
            }))
        })
        .await
    })
}
