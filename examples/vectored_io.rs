//! Scatter-gather: write a header and a body with one writev, read them back into two
//! buffers with one readv.
//!
//! `cargo run --release --example vectored_io`

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let path = std::env::temp_dir().join("auraio-vectored.bin");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    let fd = file.as_raw_fd();
    let engine = auraio::LocalEngine::new()?;

    let header = b"AURA\x01\x00\x00\x00".to_vec();
    let body = (0..1000u32)
        .flat_map(|i| i.to_le_bytes())
        .collect::<Vec<u8>>();
    let expected = [header.clone(), body.clone()].concat();

    engine.writev(fd, vec![header, body], 0, |res, bufs| {
        let n = res.expect("writev");
        println!("writev: {n} bytes from {} buffers", bufs.len());
    })?;
    engine.drain(Duration::from_secs(5))?;

    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    engine.readv(
        fd,
        vec![vec![0u8; 8], vec![0u8; 4000]],
        0,
        move |res, bufs| {
            let n = res.expect("readv");
            println!(
                "readv: {n} bytes into buffers of {} and {} bytes",
                bufs[0].len(),
                bufs[1].len()
            );
            g.borrow_mut().extend(bufs.into_iter().flatten());
        },
    )?;
    engine.drain(Duration::from_secs(5))?;

    assert_eq!(*got.borrow(), expected, "scatter-gather round trip");
    println!(
        "header {:?}, body checksum {}",
        &got.borrow()[..4],
        got.borrow()[8..].iter().map(|&b| b as u64).sum::<u64>()
    );
    std::fs::remove_file(path)?;
    Ok(())
}
