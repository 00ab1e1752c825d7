//! `verify=crc32c`: every written block carries a header (magic, CRC32C, offset, seed) and a
//! seeded pattern; every verified read recomputes the CRC and checks the offset.

/// Header magic ("BFIO").
const MAGIC: u32 = 0x4246_494f;
/// Header bytes: magic u32, crc u32, offset u64, seed u64.
pub const HEADER: usize = 24;

static TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

fn crc32c_soft(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn crc32c_sse42(mut crc: u32, data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};
    let mut chunks = data.chunks_exact(8);
    let mut c64 = u64::from(crc);
    for ch in &mut chunks {
        let v = u64::from_le_bytes(ch.try_into().expect("8 bytes"));
        c64 = _mm_crc32_u64(c64, v);
    }
    crc = c64 as u32;
    for &b in chunks.remainder() {
        crc = _mm_crc32_u8(crc, b);
    }
    crc
}

/// CRC32C (Castagnoli) of `data`; SSE4.2 when the CPU has it.
pub fn crc32c(data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the CPU supports SSE4.2 (checked just above).
            return !unsafe { crc32c_sse42(!0, data) };
        }
    }
    !crc32c_soft(!0, data)
}

/// Fills `block` (written at `offset`) with the header and a pattern derived from `seed`.
pub fn fill(block: &mut [u8], offset: u64, seed: u64) {
    let mut x = seed ^ offset.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for chunk in block[HEADER..].chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    block[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    block[8..16].copy_from_slice(&offset.to_le_bytes());
    block[16..24].copy_from_slice(&seed.to_le_bytes());
    let crc = crc32c(&block[8..]);
    block[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// Checks a block read from `offset`; describes the mismatch.
pub fn check(block: &[u8], offset: u64) -> Result<(), String> {
    let word = |r: std::ops::Range<usize>| {
        u64::from_le_bytes({
            let mut b = [0u8; 8];
            b[..r.len()].copy_from_slice(&block[r]);
            b
        })
    };
    let magic = word(0..4) as u32;
    if magic != MAGIC {
        return Err(format!("offset {offset}: bad header magic {magic:#010x} (block never written by a verify job, or overwritten)"));
    }
    let stored = word(4..8) as u32;
    let actual = crc32c(&block[8..]);
    if stored != actual {
        return Err(format!(
            "offset {offset}: crc32c mismatch: header says {stored:#010x}, data gives {actual:#010x}"
        ));
    }
    let at = word(8..16);
    if at != offset {
        return Err(format!("offset {offset}: block belongs at offset {at}"));
    }
    Ok(())
}

/// What a verifying job writes into its blocks and checks in them.
#[derive(Debug, Clone, PartialEq)]
pub enum Verify {
    /// `verify=crc32c` (and `meta`, whose offset check the header carries): each chunk a
    /// header (magic, CRC32C, offset, seed) and seeded data.
    Crc32c,
    /// `verify=pattern`: each block `verify_pattern`, repeated.
    Pattern(Vec<u8>),
}

impl Verify {
    /// Fills `block` (written at `offset`), a chunk of `interval` bytes at a time (each
    /// its own header).
    pub fn fill(&self, block: &mut [u8], offset: u64, seed: u64, interval: usize) {
        match self {
            Verify::Crc32c => {
                for (i, chunk) in block.chunks_mut(interval).enumerate() {
                    if chunk.len() >= HEADER {
                        fill(chunk, offset + (i * interval) as u64, seed);
                    }
                }
            }
            Verify::Pattern(p) => {
                for (b, v) in block.iter_mut().zip(p.iter().cycle()) {
                    *b = *v;
                }
            }
        }
    }

    /// What `block` (read from `offset`) should have held, for `verify_dump`: the pattern, or
    /// each chunk refilled from the seed its own header names (a corrupted seed gives a block
    /// unlike the one written; the `.received` file shows it).
    pub fn expected(&self, block: &[u8], offset: u64, interval: usize) -> Vec<u8> {
        let mut want = block.to_vec();
        match self {
            Verify::Crc32c => {
                for (i, chunk) in want.chunks_mut(interval).enumerate() {
                    if chunk.len() >= HEADER {
                        let seed = u64::from_le_bytes(chunk[16..24].try_into().expect("8 bytes"));
                        fill(chunk, offset + (i * interval) as u64, seed);
                    }
                }
            }
            Verify::Pattern(_) => self.fill(&mut want, offset, 0, interval),
        }
        want
    }

    /// Checks `block` read from `offset`, a chunk at a time; describes the first mismatch.
    pub fn check(&self, block: &[u8], offset: u64, interval: usize) -> Result<(), String> {
        match self {
            Verify::Crc32c => {
                for (i, chunk) in block.chunks(interval).enumerate() {
                    if chunk.len() >= HEADER {
                        check(chunk, offset + (i * interval) as u64)?;
                    }
                }
                Ok(())
            }
            Verify::Pattern(p) => {
                match block.iter().zip(p.iter().cycle()).position(|(a, b)| a != b) {
                    None => Ok(()),
                    Some(i) => Err(format!(
                        "offset {}: byte {:#04x}, the pattern's is {:#04x}",
                        offset + i as u64,
                        block[i],
                        p[i % p.len()]
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_patterns() {
        let mut b = vec![0u8; 4096];
        Verify::Crc32c.fill(&mut b, 8192, 1, 512);
        assert_eq!(Verify::Crc32c.check(&b, 8192, 512), Ok(()));
        // Each 512-byte chunk carries its own header: a flip in the seventh is named there.
        b[6 * 512 + 100] ^= 1;
        let e = Verify::Crc32c.check(&b, 8192, 512).unwrap_err();
        assert!(e.starts_with(&format!("offset {}", 8192 + 6 * 512)), "{e}");
        let p = Verify::Pattern(vec![0xde, 0xad]);
        p.fill(&mut b, 0, 0, 4096);
        assert_eq!(p.check(&b, 4096, 4096), Ok(()));
        b[11] = 0;
        assert_eq!(
            p.check(&b, 4096, 4096),
            Err("offset 4107: byte 0x00, the pattern's is 0xad".into())
        );
    }

    #[test]
    fn crc32c_known_answers() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(!crc32c_soft(!0, b"123456789"), 0xE306_9283);
        let long: Vec<u8> = (0..10_000u32).map(|i| (i * 31) as u8).collect();
        assert_eq!(crc32c(&long), !crc32c_soft(!0, &long));
    }

    #[test]
    fn a_flipped_byte_or_a_moved_block_is_caught() {
        let mut b = vec![0u8; 4096];
        fill(&mut b, 8192, 42);
        assert_eq!(check(&b, 8192), Ok(()));
        assert!(check(&b, 4096)
            .unwrap_err()
            .contains("belongs at offset 8192"));
        for pos in [5usize, 10, 100, 4095] {
            let mut c = b.clone();
            c[pos] ^= 0x20;
            assert!(check(&c, 8192).is_err(), "flip at {pos} not caught");
        }
        assert!(check(&[0u8; 4096], 0).unwrap_err().contains("magic"));
    }
}
