//! What write buffers hold, as fio fills them: random bytes by default (filled once, then
//! scrambled a little on each write so naive dedupe finds no two blocks alike:
//! `scramble_buffers`), fresh random bytes on every write (`refill_buffers`), zeros
//! (`zero_buffers`), or a pattern (`buffer_pattern`). Verified writes carry verify blocks
//! instead (`verify`).

/// A job's write-buffer contents.
#[derive(Debug, Clone, PartialEq)]
pub enum Fill {
    /// Random bytes (fio's default).
    Random {
        /// `refill_buffers`: new bytes on every write.
        refill: bool,
        /// `scramble_buffers` (default on): a few bytes changed on every write.
        scramble: bool,
    },
    /// `zero_buffers`.
    Zero,
    /// `buffer_pattern`: the bytes, repeated.
    Pattern(Vec<u8>),
}

impl Default for Fill {
    fn default() -> Self {
        Fill::Random {
            refill: false,
            scramble: true,
        }
    }
}

/// Random bytes into `buf` from `seed`.
fn random(buf: &mut [u8], seed: u64) {
    let mut x = seed | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

impl Fill {
    /// A slot's buffer as allocated; `seed` differs per slot.
    pub fn init(&self, buf: &mut [u8], seed: u64) {
        match self {
            Fill::Random { .. } => random(buf, seed),
            Fill::Zero => buf.fill(0),
            Fill::Pattern(p) => {
                for (b, v) in buf.iter_mut().zip(p.iter().cycle()) {
                    *b = *v;
                }
            }
        }
    }

    /// Before the `n`-th write, at `offset`, of `buf`.
    pub fn before_write(&self, buf: &mut [u8], offset: u64, n: u64) {
        match self {
            Fill::Random { refill: true, .. } => random(buf, n.wrapping_mul(0x9e37_79b9) ^ offset),
            Fill::Random { scramble: true, .. } => {
                // The first 8 bytes of each 512-byte sector: the write's offset and number,
                // mixed, so no two writes (and no two sectors of one) are alike.
                let stamp = (offset ^ n.rotate_left(32)).wrapping_mul(0x2545_f491_4f6c_dd1d);
                for (i, sector) in buf.chunks_mut(512).enumerate() {
                    let w = (stamp ^ i as u64).to_le_bytes();
                    let k = sector.len().min(8);
                    sector[..k].copy_from_slice(&w[..k]);
                }
            }
            _ => {}
        }
    }
}

/// fio's `buffer_pattern`: any sequence of `0x` hex bytes, `"strings"`, `'file names'` (the
/// file's bytes) and decimal numbers (the number's bytes, little-endian, as few as hold it:
/// `-12` is one byte, 0xf4), in any order.
pub fn parse_pattern(
    v: &str,
    read_file: impl Fn(&str) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut rest = v.trim();
    while !rest.is_empty() {
        if let Some(hex) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
            let end = hex
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(hex.len());
            let digits = &hex[..end];
            if digits.is_empty() {
                return Err(format!("`{v}`: 0x without hex digits"));
            }
            // An odd count: the first digit is a byte of its own (0xabc is 0a bc).
            let padded = if digits.len() % 2 == 1 {
                format!("0{digits}")
            } else {
                digits.to_string()
            };
            for i in (0..padded.len()).step_by(2) {
                out.push(u8::from_str_radix(&padded[i..i + 2], 16).map_err(|e| e.to_string())?);
            }
            rest = &hex[end..];
        } else if let Some(q) = rest.strip_prefix('"') {
            let end = q
                .find('"')
                .ok_or_else(|| format!("`{v}`: a string without its closing \""))?;
            out.extend_from_slice(&q.as_bytes()[..end]);
            rest = &q[end + 1..];
        } else if let Some(q) = rest.strip_prefix('\'') {
            let end = q
                .find('\'')
                .ok_or_else(|| format!("`{v}`: a file name without its closing '"))?;
            out.extend(read_file(&q[..end])?);
            rest = &q[end + 1..];
        } else {
            let end = rest
                .char_indices()
                .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
                .map_or(rest.len(), |(i, _)| i);
            let n: i64 = rest[..end].parse().map_err(|_| format!("`{v}`"))?;
            let bytes = n.to_le_bytes();
            // The fewest bytes that hold the number (with its sign).
            let len = (1..=8)
                .find(|&k| {
                    let bits = 8 * k as u32;
                    bits == 64 || (n >= -(1i64 << (bits - 1)) && n < (1i64 << bits))
                })
                .unwrap_or(8);
            out.extend_from_slice(&bytes[..len]);
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    if out.is_empty() {
        return Err(format!("`{v}`: an empty pattern"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_file(_: &str) -> Result<Vec<u8>, String> {
        Ok(b"FILE".to_vec())
    }

    #[test]
    fn patterns_combine_hex_strings_numbers_and_files() {
        assert_eq!(
            parse_pattern("0xdeadface", no_file).unwrap(),
            [0xde, 0xad, 0xfa, 0xce]
        );
        assert_eq!(parse_pattern("\"abcd\"", no_file).unwrap(), b"abcd");
        assert_eq!(parse_pattern("-12", no_file).unwrap(), [0xf4]);
        assert_eq!(parse_pattern("300", no_file).unwrap(), [0x2c, 0x01]);
        assert_eq!(
            parse_pattern("0xdeadface\"ab\"-12'f'", no_file).unwrap(),
            [0xde, 0xad, 0xfa, 0xce, b'a', b'b', 0xf4, b'F', b'I', b'L', b'E']
        );
        for bad in ["0x", "\"open", "'open", "12abc", ""] {
            assert!(parse_pattern(bad, no_file).is_err(), "{bad}");
        }
    }

    #[test]
    fn fills_and_scrambles() {
        let mut a = vec![1u8; 4096];
        Fill::Zero.init(&mut a, 1);
        assert!(a.iter().all(|&b| b == 0));
        Fill::Pattern(vec![1, 2, 3]).init(&mut a, 1);
        assert_eq!(&a[..7], [1, 2, 3, 1, 2, 3, 1]);
        let f = Fill::default();
        f.init(&mut a, 7);
        let before = a.clone();
        f.before_write(&mut a, 4096, 1);
        let changed = a.iter().zip(&before).filter(|(x, y)| x != y).count();
        assert!(
            (8..=64).contains(&changed),
            "a few bytes per sector: {changed}"
        );
        let first = a.clone();
        f.before_write(&mut a, 4096, 2);
        assert_ne!(a, first, "the next write differs");
        let refill = Fill::Random {
            refill: true,
            scramble: true,
        };
        refill.before_write(&mut a, 0, 3);
        let changed = a.iter().zip(&first).filter(|(x, y)| x != y).count();
        assert!(changed > 4000, "refilled: {changed} bytes changed");
    }
}
