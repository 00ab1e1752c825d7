//! fio's I/O logs of what was issued (`write_iolog`) and their replay (`read_iolog`), in
//! fio's text formats: version 2 (`FILE ACTION [OFFSET LENGTH]`) and version 3, which fio
//! 3.33 writes (each line led by the milliseconds since the job began). Actions: `add`,
//! `open`, `close` (files), `read`, `write`, `trim`, `sync`, `datasync` (I/O), `wait`
//! (version 2: microseconds to pause). A replay issues the I/Os in order at the job's depth,
//! and, with timestamps, not before their time (unless `replay_no_stall`).

use std::fs::File;
use std::io::{self, BufWriter, Write};

use crate::stats::Dir;

/// What an I/O line does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Read,
    Write,
    Trim,
    Sync,
    Datasync,
}

impl Act {
    /// The direction of a read, write or trim (`None`: a sync).
    pub fn dir(self) -> Option<Dir> {
        match self {
            Act::Read => Some(Dir::Read),
            Act::Write => Some(Dir::Write),
            Act::Trim => Some(Dir::Trim),
            Act::Sync | Act::Datasync => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Act::Read => "read",
            Act::Write => "write",
            Act::Trim => "trim",
            Act::Sync => "sync",
            Act::Datasync => "datasync",
        }
    }
}

impl From<Dir> for Act {
    fn from(d: Dir) -> Act {
        match d {
            Dir::Read => Act::Read,
            Dir::Write => Act::Write,
            Dir::Trim => Act::Trim,
        }
    }
}

/// One I/O to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// When to issue it, ms since the job began (version 3; version 2: the waits before it).
    pub at_ms: u64,
    /// Index into [`Log::files`].
    pub file: usize,
    pub act: Act,
    pub offset: u64,
    pub len: u64,
}

/// A parsed I/O log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log {
    /// The files it names, in the order they were added.
    pub files: Vec<String>,
    pub entries: Vec<Entry>,
    /// Whether its times are the log's own (version 3) rather than summed waits.
    pub timed: bool,
}

impl Log {
    /// The largest read or write (a trim moves no data: it needs no buffer).
    pub fn max_len(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| matches!(e.act, Act::Read | Act::Write))
            .map(|e| e.len)
            .max()
            .unwrap_or(0)
    }
}

/// Parses an I/O log; errors name the line.
pub fn parse(text: &str) -> Result<Log, String> {
    let mut lines = text.lines().enumerate();
    let version = match lines.next().map(|(_, l)| l.trim()) {
        Some("fio version 2 iolog") => 2,
        Some("fio version 3 iolog") => 3,
        other => {
            return Err(format!(
                "line 1: `{}`: not a fio version 2 or 3 iolog",
                other.unwrap_or("")
            ))
        }
    };
    let mut log = Log {
        timed: version == 3,
        ..Log::default()
    };
    let mut waited_us = 0u64;
    for (n, line) in lines {
        let at = n + 1;
        let mut f = line.split_whitespace();
        let Some(first) = f.next() else { continue };
        let num = |s: Option<&str>, what: &str| -> Result<u64, String> {
            s.and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("line {at}: `{line}`: {what}"))
        };
        let (at_ms, name) = if version == 3 {
            (num(Some(first), "a timestamp")?, f.next())
        } else {
            (waited_us / 1000, Some(first))
        };
        let name = name.ok_or_else(|| format!("line {at}: `{line}`: a file name"))?;
        let action = f.next().unwrap_or("");
        if version == 2 && name == "wait" {
            // Version 2's pause: `wait USEC`, the second field the time.
            waited_us += num(Some(action), "microseconds to wait")?;
            continue;
        }
        let file = log.files.iter().position(|x| x == name);
        let act = match action {
            "add" => {
                if file.is_none() {
                    log.files.push(name.to_string());
                }
                continue;
            }
            "open" | "close" => continue,
            "read" => Act::Read,
            "write" => Act::Write,
            "trim" => Act::Trim,
            "sync" => Act::Sync,
            "datasync" => Act::Datasync,
            "wait" => {
                waited_us += num(f.next(), "microseconds to wait")?;
                continue;
            }
            other => return Err(format!("line {at}: `{line}`: unknown action `{other}`")),
        };
        let file = file.ok_or_else(|| format!("line {at}: `{name}` was not added"))?;
        let (offset, len) = match act {
            Act::Sync | Act::Datasync => (0, 0),
            _ => (num(f.next(), "an offset")?, num(f.next(), "a length")?),
        };
        if len == 0 && !matches!(act, Act::Sync | Act::Datasync) {
            return Err(format!("line {at}: `{line}`: a zero length"));
        }
        log.entries.push(Entry {
            at_ms,
            file,
            act,
            offset,
            len,
        });
    }
    Ok(log)
}

/// `write_iolog`: what a job thread issues, as fio 3.33 logs it (version 3).
pub struct Writer {
    out: BufWriter<File>,
    files: Vec<String>,
}

impl Writer {
    /// Creates `path` (appending, as fio opens it) and logs the files' `add` and `open`.
    pub fn create(path: &str, files: &[String], at_ms: u64) -> io::Result<Writer> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("write_iolog {path}: {e}")))?;
        let mut w = Writer {
            out: BufWriter::new(f),
            files: files.to_vec(),
        };
        writeln!(w.out, "fio version 3 iolog")?;
        for action in ["add", "open"] {
            for name in files {
                writeln!(w.out, "{at_ms} {name} {action}")?;
            }
        }
        Ok(w)
    }

    /// Logs one issued I/O.
    pub fn io(
        &mut self,
        at_ms: u64,
        file: usize,
        act: Act,
        offset: u64,
        len: u64,
    ) -> io::Result<()> {
        writeln!(
            self.out,
            "{at_ms} {} {} {offset} {len}",
            self.files[file],
            act.name()
        )
    }

    /// Logs the files' `close` and flushes.
    pub fn finish(mut self, at_ms: u64) -> io::Result<()> {
        for name in &self.files {
            writeln!(self.out, "{at_ms} {name} close")?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_3_as_fio_writes_it() {
        let log = parse(
            "fio version 3 iolog\n19 /f add\n239 /f open\n243 /f read 0 4096\n\
             332 /f write 28672 4096\n340 /f sync 0 0\n439 /f close\n",
        )
        .unwrap();
        assert_eq!(log.files, ["/f"]);
        assert!(log.timed);
        assert_eq!(
            log.entries,
            [
                Entry {
                    at_ms: 243,
                    file: 0,
                    act: Act::Read,
                    offset: 0,
                    len: 4096
                },
                Entry {
                    at_ms: 332,
                    file: 0,
                    act: Act::Write,
                    offset: 28672,
                    len: 4096
                },
                Entry {
                    at_ms: 340,
                    file: 0,
                    act: Act::Sync,
                    offset: 0,
                    len: 0
                },
            ]
        );
    }

    #[test]
    fn version_2_with_waits() {
        let log = parse(
            "fio version 2 iolog\n/a add\n/b add\n/a open\n/a read 4096 512\nwait 2500\n\
             /b write 0 8192\n/b trim 8192 4096\n",
        )
        .unwrap();
        assert_eq!(log.files, ["/a", "/b"]);
        assert!(!log.timed);
        assert_eq!(log.entries[1].at_ms, 2, "2.5 ms of waits before it");
        assert_eq!((log.entries[2].file, log.entries[2].act), (1, Act::Trim));
        assert_eq!(log.max_len(), 8192);
    }

    #[test]
    fn bad_logs_name_the_line() {
        for (text, says) in [
            ("not a log\n", "line 1"),
            ("fio version 2 iolog\n/a read 0 4096\n", "was not added"),
            ("fio version 2 iolog\n/a add\n/a read x 4096\n", "line 3"),
            (
                "fio version 3 iolog\n1 /a add\n2 /a frob 0 1\n",
                "unknown action",
            ),
            ("fio version 2 iolog\n/a add\n/a read 0 0\n", "zero length"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
