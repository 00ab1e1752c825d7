//! What a verifying job has written, and its state file.
//!
//! A verify job's read-back reads the blocks its writes completed, in offset order (fio's
//! default `verify_sort`): a bit per block, so a run that ends early (its runtime, a signal, an
//! error) checks only what it wrote. `verify_state_save` (on by default, as fio) writes those
//! bits when the job ends, `verify_state_load` with `verify_only` reads back exactly them.
//!
//! The state file is bffio's own, text, and named apart from fio's (fio's
//! `local-NAME-N-verify.state` holds fio's write sequence, which bffio does not replay):
//! `bffio-NAME-N-verify.state` in `--aux-path` (else the working directory):
//!
//! ```text
//! bffio-verify-state 1
//! block_size 4096
//! file /mnt/data/v.dat 0-255,300,512-1023
//! ```
//!
//! one `file` line per file of the job, in its order, with the ranges of block numbers
//! (offset / block size) written.

use std::io;
use std::path::{Path, PathBuf};

const MAGIC: &str = "bffio-verify-state 1";

/// Blocks written, per file of the job: a bit per block of `bs` bytes, at offset / `bs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    bs: u64,
    bits: Vec<Vec<u64>>,
}

impl Written {
    /// Nothing written yet, in `files` files of `bs`-byte blocks.
    pub fn new(files: usize, bs: u64) -> Self {
        Written {
            bs: bs.max(1),
            bits: vec![Vec::new(); files],
        }
    }

    /// Every block of each file's `spans` (first offset, bytes): what `verify_only` checks
    /// without a state file.
    pub fn all(bs: u64, spans: &[(u64, u64)]) -> Self {
        let mut w = Written::new(spans.len(), bs);
        for (file, &(first, len)) in spans.iter().enumerate() {
            w.mark(file, first, len / w.bs * w.bs);
        }
        w
    }

    /// The blocks `[offset, offset + len)` of `file` were written (whole blocks only).
    pub fn mark(&mut self, file: usize, offset: u64, len: u64) {
        let first = offset.div_ceil(self.bs);
        let end = (offset + len) / self.bs;
        let words = &mut self.bits[file];
        for b in first..end {
            let (w, bit) = ((b / 64) as usize, b % 64);
            if words.len() <= w {
                words.resize(w + 1, 0);
            }
            words[w] |= 1 << bit;
        }
    }

    /// The blocks written, as (file, offset, length), each file's in offset order.
    pub fn blocks(&self) -> Vec<(usize, u64, u64)> {
        let mut out = Vec::new();
        for (file, words) in self.bits.iter().enumerate() {
            for (w, &word) in words.iter().enumerate() {
                let mut rest = word;
                while rest != 0 {
                    let bit = u64::from(rest.trailing_zeros());
                    rest &= rest - 1;
                    out.push((file, (w as u64 * 64 + bit) * self.bs, self.bs));
                }
            }
        }
        out
    }

    /// Ranges of block numbers written in `file`, ascending, each `start..end`.
    fn ranges(&self, file: usize) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (_, off, _) in self.blocks().into_iter().filter(|b| b.0 == file) {
            let b = off / self.bs;
            match out.last_mut() {
                Some(r) if r.1 == b => r.1 = b + 1,
                _ => out.push((b, b + 1)),
            }
        }
        out
    }

    /// The state file's text, for the job's files `paths`.
    pub fn to_text(&self, paths: &[PathBuf]) -> String {
        let mut s = format!("{MAGIC}\nblock_size {}\n", self.bs);
        for (file, p) in paths.iter().enumerate() {
            let r: Vec<String> = self
                .ranges(file)
                .iter()
                .map(|&(a, b)| match b - a {
                    1 => a.to_string(),
                    _ => format!("{a}-{}", b - 1),
                })
                .collect();
            s += &format!("file {} {}\n", p.display(), r.join(","));
        }
        s
    }

    /// Reads a state file's text, written for a job of block size `bs` over `paths`.
    ///
    /// # Errors
    ///
    /// Anything that is not such a file, or is one for other files or another block size.
    pub fn from_text(text: &str, bs: u64, paths: &[PathBuf]) -> Result<Self, String> {
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(format!(
                "not a bffio verify state file (it does not start `{MAGIC}`)"
            ));
        }
        let saved_bs = lines
            .next()
            .and_then(|l| l.strip_prefix("block_size "))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or("no `block_size` line")?;
        if saved_bs != bs {
            return Err(format!(
                "saved with block size {saved_bs}, the job's is {bs}"
            ));
        }
        let mut w = Written::new(paths.len(), bs);
        let mut seen = 0;
        for (n, line) in lines.enumerate() {
            let rest = line
                .strip_prefix("file ")
                .ok_or_else(|| format!("line {}: not a `file` line", n + 3))?;
            // The path may hold spaces; the ranges never do.
            let (path, ranges) = rest.rsplit_once(' ').unwrap_or((rest, ""));
            if paths.get(seen).map(|p| p.as_path()) != Some(Path::new(path)) {
                return Err(format!(
                    "saved for file `{path}` where the job's file {} is {:?}",
                    seen + 1,
                    paths.get(seen)
                ));
            }
            for r in ranges.split(',').filter(|r| !r.is_empty()) {
                let (a, b) = r.split_once('-').unwrap_or((r, r));
                let (a, b) = a
                    .parse::<u64>()
                    .ok()
                    .zip(b.parse::<u64>().ok())
                    .filter(|(a, b)| a <= b)
                    .ok_or_else(|| format!("line {}: bad range `{r}`", n + 3))?;
                w.mark(seen, a * bs, (b - a + 1) * bs);
            }
            seen += 1;
        }
        if seen != paths.len() {
            return Err(format!(
                "saved for {seen} files, the job has {}",
                paths.len()
            ));
        }
        Ok(w)
    }
}

/// Where a job clone's state file goes: `bffio-NAME-CLONE-verify.state` in `aux_path`, else
/// the working directory.
pub fn state_path(aux_path: Option<&Path>, name: &str, clone: u32) -> PathBuf {
    let file = format!("bffio-{name}-{clone}-verify.state");
    aux_path.map_or_else(|| PathBuf::from(&file), |d| d.join(&file))
}

/// Saves `written` for `paths` at `path`.
pub fn save(path: &Path, written: &Written, paths: &[PathBuf]) -> io::Result<()> {
    std::fs::write(path, written.to_text(paths)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("verify_state_save {}: {e}", path.display()),
        )
    })
}

/// Loads the state saved at `path` for a job of block size `bs` over `paths`.
pub fn load(path: &Path, bs: u64, paths: &[PathBuf]) -> io::Result<Written> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("verify_state_load {}: {e}", path.display()),
        )
    })?;
    Written::from_text(&text, bs, paths).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("verify_state_load {}: {e}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip_through_the_text() {
        let paths = [PathBuf::from("/a b/x.dat"), PathBuf::from("/y")];
        let mut w = Written::new(2, 4096);
        w.mark(0, 0, 4096 * 3);
        w.mark(0, 4096 * 100, 4096);
        w.mark(0, 4096 * 64, 4096 * 2);
        // A partial block is not a written block.
        w.mark(1, 100, 4096);
        w.mark(1, 4096 * 7, 100);
        let text = w.to_text(&paths);
        assert_eq!(
            text,
            "bffio-verify-state 1\nblock_size 4096\nfile /a b/x.dat 0-2,64-65,100\nfile /y \n"
        );
        assert_eq!(Written::from_text(&text, 4096, &paths), Ok(w.clone()));
        let offsets: Vec<u64> = w.blocks().iter().map(|b| b.1 / 4096).collect();
        assert_eq!(offsets, [0, 1, 2, 64, 65, 100]);
    }

    #[test]
    fn a_state_for_another_job_is_refused() {
        let paths = [PathBuf::from("/x")];
        let text = Written::all(4096, &[(0, 1 << 20)]).to_text(&paths);
        assert!(Written::from_text(&text, 8192, &paths)
            .unwrap_err()
            .contains("block size 4096"));
        assert!(Written::from_text(&text, 4096, &[PathBuf::from("/z")])
            .unwrap_err()
            .contains("`/x`"));
        assert!(Written::from_text("local 3\n", 4096, &paths)
            .unwrap_err()
            .contains("not a bffio"));
        assert_eq!(
            Written::from_text(&text, 4096, &paths).map(|w| w.blocks().len()),
            Ok(256)
        );
    }
}
