//! `verify=md5|crc64|crc32c|crc32|sha1|sha256|sha512|xxhash|meta`: every written chunk carries
//! a header (magic, the checksum's kind and length, offset, seed, then the checksum) and a
//! seeded pattern; every verified read recomputes the checksum over the chunk (all of it but
//! the checksum's own bytes) and checks the offset. `verify=pattern` fills blocks with
//! `verify_pattern` instead. The checksums come from their crates (RustCrypto's md-5, sha1,
//! sha2; crc; crc32c with its SSE4.2 / ARMv8 paths; xxhash-rust), none hand-written.
//!
//! The header is bffio's own (fio's has fields bffio has no use for): fio cannot verify
//! bffio's blocks, nor bffio fio's.

/// Header magic ("BFIO").
const MAGIC: u32 = 0x4246_494f;
/// Header bytes before the checksum: magic u32, kind u8, checksum length u8, 0 u16,
/// offset u64, seed u64.
const FIXED: usize = 24;

/// A checksum `verify=` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// MD5 (16 bytes).
    Md5,
    /// CRC-64/XZ (the ECMA-182 polynomial, reflected; 8 bytes).
    Crc64,
    /// CRC-32C, Castagnoli (4 bytes).
    Crc32c,
    /// CRC-32, the ISO-HDLC polynomial of zlib and Ethernet (4 bytes).
    Crc32,
    /// SHA-1 (20 bytes).
    Sha1,
    /// SHA-256 (32 bytes).
    Sha256,
    /// SHA-512 (64 bytes).
    Sha512,
    /// XXH32, seed 0 (4 bytes; fio's `xxhash` is XXH32 too).
    Xxhash,
}

/// `verify=` values that name a checksum, and which: fio's names. `meta` is the crc32c header,
/// whose offset and seed fields are fio's meta check; `crc32c-intel` is fio's name for the
/// hardware path, which the crc32c crate picks by itself.
pub const DIGESTS: &[(&str, Digest)] = &[
    ("md5", Digest::Md5),
    ("crc64", Digest::Crc64),
    ("crc32c", Digest::Crc32c),
    ("crc32c-intel", Digest::Crc32c),
    ("meta", Digest::Crc32c),
    ("crc32", Digest::Crc32),
    ("sha1", Digest::Sha1),
    ("sha256", Digest::Sha256),
    ("sha512", Digest::Sha512),
    ("xxhash", Digest::Xxhash),
];

const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_XZ);
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

impl Digest {
    /// Bytes of the checksum.
    pub const fn len(self) -> usize {
        match self {
            Digest::Md5 => 16,
            Digest::Crc64 => 8,
            Digest::Crc32c | Digest::Crc32 | Digest::Xxhash => 4,
            Digest::Sha1 => 20,
            Digest::Sha256 => 32,
            Digest::Sha512 => 64,
        }
    }

    /// Bytes of a chunk's header with this checksum: the smallest chunk it can verify.
    pub const fn header(self) -> usize {
        FIXED + self.len()
    }

    /// The header's kind byte.
    fn id(self) -> u8 {
        self as u8 + 1
    }

    /// The checksum of `head` then `tail`, into `out` (`len()` bytes).
    fn sum(self, head: &[u8], tail: &[u8], out: &mut [u8]) {
        fn rust_crypto<D: sha2::Digest>(head: &[u8], tail: &[u8], out: &mut [u8]) {
            out.copy_from_slice(&D::new().chain_update(head).chain_update(tail).finalize());
        }
        match self {
            Digest::Md5 => rust_crypto::<md5::Md5>(head, tail, out),
            Digest::Sha1 => rust_crypto::<sha1::Sha1>(head, tail, out),
            Digest::Sha256 => rust_crypto::<sha2::Sha256>(head, tail, out),
            Digest::Sha512 => rust_crypto::<sha2::Sha512>(head, tail, out),
            Digest::Crc64 => {
                let mut d = CRC64.digest();
                d.update(head);
                d.update(tail);
                out.copy_from_slice(&d.finalize().to_le_bytes());
            }
            Digest::Crc32 => {
                let mut d = CRC32.digest();
                d.update(head);
                d.update(tail);
                out.copy_from_slice(&d.finalize().to_le_bytes());
            }
            Digest::Crc32c => {
                let c = crc32c::crc32c_append(crc32c::crc32c(head), tail);
                out.copy_from_slice(&c.to_le_bytes());
            }
            Digest::Xxhash => {
                let mut h = xxhash_rust::xxh32::Xxh32::new(0);
                h.update(head);
                h.update(tail);
                out.copy_from_slice(&h.digest().to_le_bytes());
            }
        }
    }

    /// The name `verify=` gives it (the first of [`DIGESTS`]).
    pub fn name(self) -> &'static str {
        DIGESTS
            .iter()
            .find(|(_, d)| *d == self)
            .map_or("?", |(n, _)| n)
    }

    /// Fills `chunk` (written at `offset`, at least `header()` bytes) with the header and a
    /// pattern derived from `seed`.
    pub fn fill(self, chunk: &mut [u8], offset: u64, seed: u64) {
        let h = self.header();
        let mut x = seed ^ offset.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        for word in chunk[h..].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes()[..word.len()]);
        }
        chunk[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        chunk[4] = self.id();
        chunk[5] = self.len() as u8;
        chunk[6..8].fill(0);
        chunk[8..16].copy_from_slice(&offset.to_le_bytes());
        chunk[16..24].copy_from_slice(&seed.to_le_bytes());
        let (head, rest) = chunk.split_at_mut(FIXED);
        let (sum, tail) = rest.split_at_mut(self.len());
        self.sum(head, tail, sum);
    }

    /// Checks a chunk read from `offset`; describes the mismatch.
    pub fn check(self, chunk: &[u8], offset: u64) -> Result<(), String> {
        let word = |r: std::ops::Range<usize>| {
            let mut b = [0u8; 8];
            b[..r.len()].copy_from_slice(&chunk[r]);
            u64::from_le_bytes(b)
        };
        let magic = word(0..4) as u32;
        if magic != MAGIC {
            return Err(format!("offset {offset}: bad header magic {magic:#010x} (block never written by a verify job, or overwritten)"));
        }
        if (chunk[4], chunk[5]) != (self.id(), self.len() as u8) {
            return Err(format!(
                "offset {offset}: the header's checksum is kind {} of {} bytes, not {} (written by a job with another `verify=`?)",
                chunk[4],
                chunk[5],
                self.name()
            ));
        }
        let (head, rest) = chunk.split_at(FIXED);
        let (stored, tail) = rest.split_at(self.len());
        let mut actual = [0u8; 64];
        let actual = &mut actual[..self.len()];
        self.sum(head, tail, actual);
        if stored != actual {
            return Err(format!(
                "offset {offset}: {} mismatch: header says {}, data gives {}",
                self.name(),
                hex(stored),
                hex(actual)
            ));
        }
        let at = word(8..16);
        if at != offset {
            return Err(format!("offset {offset}: block belongs at offset {at}"));
        }
        Ok(())
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|v| format!("{v:02x}")).collect()
}

/// What a verifying job writes into its blocks and checks in them.
#[derive(Debug, Clone, PartialEq)]
pub enum Verify {
    /// A checksum: each `verify_interval` chunk a header and seeded data.
    Sum(Digest),
    /// `verify=pattern`: each block `verify_pattern`, repeated.
    Pattern(Vec<u8>),
}

impl Verify {
    /// The bytes a chunk's header takes (0 for patterns): the smallest `verify_interval`.
    pub fn header(&self) -> usize {
        match self {
            Verify::Sum(d) => d.header(),
            Verify::Pattern(_) => 0,
        }
    }

    /// Fills `block` (written at `offset`), a chunk of `interval` bytes at a time (each
    /// its own header).
    pub fn fill(&self, block: &mut [u8], offset: u64, seed: u64, interval: usize) {
        match self {
            Verify::Sum(d) => {
                for (i, chunk) in block.chunks_mut(interval).enumerate() {
                    if chunk.len() >= d.header() {
                        d.fill(chunk, offset + (i * interval) as u64, seed);
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
            Verify::Sum(d) => {
                for (i, chunk) in want.chunks_mut(interval).enumerate() {
                    if chunk.len() >= d.header() {
                        let seed = u64::from_le_bytes(chunk[16..24].try_into().expect("8 bytes"));
                        d.fill(chunk, offset + (i * interval) as u64, seed);
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
            Verify::Sum(d) => {
                for (i, chunk) in block.chunks(interval).enumerate() {
                    if chunk.len() >= d.header() {
                        d.check(chunk, offset + (i * interval) as u64)?;
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

    const ALL: [Digest; 8] = [
        Digest::Md5,
        Digest::Crc64,
        Digest::Crc32c,
        Digest::Crc32,
        Digest::Sha1,
        Digest::Sha256,
        Digest::Sha512,
        Digest::Xxhash,
    ];

    #[test]
    fn intervals_and_patterns() {
        let v = Verify::Sum(Digest::Crc32c);
        let mut b = vec![0u8; 4096];
        v.fill(&mut b, 8192, 1, 512);
        assert_eq!(v.check(&b, 8192, 512), Ok(()));
        // Each 512-byte chunk carries its own header: a flip in the seventh is named there.
        b[6 * 512 + 100] ^= 1;
        let e = v.check(&b, 8192, 512).unwrap_err();
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

    /// Each checksum as its standard's check value ("123456789"), through the same two-part
    /// path the header uses.
    #[test]
    fn known_answers() {
        let want = [
            (Digest::Md5, "25f9e794323b453885f5181f1b624d0b"),
            (Digest::Crc64, "fa3919dfbbc95d99"), // 0x995dc9bbdf1939fa, little-endian
            (Digest::Crc32c, "839206e3"),         // 0xe3069283
            (Digest::Crc32, "2639f4cb"),          // 0xcbf43926
            (Digest::Sha1, "f7c3bc1d808e04732adf679965ccc34ca7ae3441"),
            (Digest::Sha256, "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"),
            (Digest::Sha512, "d9e6762dd1c8eaf6d61b3c6192fc408d4d6d5f1176d0c29169bc24e71c3f274ad27fcd5811b313d681f7e55ec02d73d499c95455b6b5bb503acf574fba8ffe85"),
            (Digest::Xxhash, "67ad7b93"), // 0x937bad67
        ];
        for (d, hexsum) in want {
            let mut out = vec![0u8; d.len()];
            d.sum(b"1234", b"56789", &mut out);
            assert_eq!(hex(&out), hexsum, "{d:?}");
        }
    }

    #[test]
    fn a_flipped_byte_or_a_moved_block_is_caught_by_every_checksum() {
        for d in ALL {
            let mut b = vec![0u8; 4096];
            d.fill(&mut b, 8192, 42);
            assert_eq!(d.check(&b, 8192), Ok(()), "{d:?}");
            assert!(d
                .check(&b, 4096)
                .unwrap_err()
                .contains("belongs at offset 8192"));
            for pos in [5usize, 10, 20, d.header() - 1, d.header(), 4095] {
                let mut c = b.clone();
                c[pos] ^= 0x20;
                assert!(
                    d.check(&c, 8192).is_err(),
                    "{d:?}: flip at {pos} not caught"
                );
            }
            assert!(d.check(&[0u8; 4096], 0).unwrap_err().contains("magic"));
            // A block another checksum wrote is named as such, not as corrupt data.
            let other = ALL[(ALL.iter().position(|x| *x == d).unwrap() + 1) % ALL.len()];
            let e = other.check(&b, 8192).unwrap_err();
            assert!(e.contains("another `verify=`"), "{e}");
        }
    }

    #[test]
    fn names_round_trip_and_headers_fit() {
        for d in ALL {
            assert_eq!(
                DIGESTS.iter().find(|(n, _)| *n == d.name()).map(|x| x.1),
                Some(d)
            );
            assert!(d.header() <= 88);
        }
    }
}
