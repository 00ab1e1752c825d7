//! fio's job syntax: `.fio` files (`[global]` sections that apply to the jobs below them,
//! `include`, `${ENV}`, valueless flags, size and time suffixes) and the command line
//! (`--key=value`, each `--name=` starting a job). Every error names the key, where it was
//! written, and what is accepted.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::job::{FileService, Format, Job, Pattern, Preset, RunOptions};

/// A job description that cannot run.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

type Setter = fn(&mut Job, &str) -> Result<(), String>;

/// Keys a job accepts: name, whether it may be written without a value, what it accepts.
const KEYS: &[(&str, bool, &str, Setter)] = &[
    ("name", false, "a job name", |j, v| {
        j.name = v.to_string();
        Ok(())
    }),
    ("filename", false, "file names separated by ':'", |j, v| {
        j.filenames = v
            .split(':')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if j.filenames.is_empty() {
            return Err("an empty file name".into());
        }
        Ok(())
    }),
    ("directory", false, "a directory", |j, v| {
        j.directory = Some(v.to_string());
        Ok(())
    }),
    ("size", false, "a size such as 256m, 4GiB, 1g", |j, v| {
        j.size = Some(nonzero(parse_size(v)?)?);
        Ok(())
    }),
    ("filesize", false, "a size such as 64m", |j, v| {
        j.filesize = Some(nonzero(parse_size(v)?)?);
        Ok(())
    }),
    ("nrfiles", false, "a number of files >= 1", |j, v| {
        j.nrfiles = parse_u32(v, 1, 1 << 20)?;
        Ok(())
    }),
    (
        "file_service_type",
        false,
        "roundrobin, random, sequential",
        |j, v| {
            j.file_service = match v {
                "roundrobin" => FileService::RoundRobin,
                "random" => FileService::Random,
                "sequential" => FileService::Sequential,
                _ => return Err(format!("`{v}`")),
            };
            Ok(())
        },
    ),
    (
        "rw",
        false,
        "read, write, randread, randwrite, rw, readwrite, randrw",
        |j, v| {
            j.pattern = parse_pattern(v)?;
            Ok(())
        },
    ),
    (
        "readwrite",
        false,
        "read, write, randread, randwrite, rw, readwrite, randrw",
        |j, v| {
            j.pattern = parse_pattern(v)?;
            Ok(())
        },
    ),
    ("rwmixread", false, "a percentage 0-100", |j, v| {
        j.rwmixread = parse_u32(v, 0, 100)?;
        Ok(())
    }),
    ("rwmixwrite", false, "a percentage 0-100", |j, v| {
        j.rwmixread = 100 - parse_u32(v, 0, 100)?;
        Ok(())
    }),
    (
        "bs",
        false,
        "a block size such as 4k (a multiple of 512)",
        |j, v| {
            j.bs = parse_bs(v)?;
            Ok(())
        },
    ),
    (
        "blocksize",
        false,
        "a block size such as 4k (a multiple of 512)",
        |j, v| {
            j.bs = parse_bs(v)?;
            Ok(())
        },
    ),
    ("iodepth", false, "a depth 1-32768", |j, v| {
        j.iodepth = Some(parse_u32(v, 1, 32768)?);
        Ok(())
    }),
    ("numjobs", false, "a number of jobs 1-1024", |j, v| {
        j.numjobs = parse_u32(v, 1, 1024)?;
        Ok(())
    }),
    (
        "runtime",
        false,
        "a time such as 10 (seconds), 500ms, 2m",
        |j, v| {
            j.runtime = Some(parse_time(v, Duration::from_secs(1))?);
            Ok(())
        },
    ),
    ("time_based", true, "0 or 1 (or no value)", |j, v| {
        j.time_based = parse_bool(v)?;
        Ok(())
    }),
    (
        "ramp_time",
        false,
        "a time such as 2 (seconds), 500ms",
        |j, v| {
            j.ramp_time = parse_time(v, Duration::from_secs(1))?;
            Ok(())
        },
    ),
    ("direct", true, "0 or 1 (or no value)", |j, v| {
        j.direct = parse_bool(v)?;
        Ok(())
    }),
    ("buffered", true, "0 or 1 (or no value)", |j, v| {
        j.direct = !parse_bool(v)?;
        Ok(())
    }),
    (
        "fsync",
        false,
        "a number of writes between fsyncs (0: never)",
        |j, v| {
            j.fsync = parse_u32(v, 0, u32::MAX)?;
            Ok(())
        },
    ),
    (
        "fdatasync",
        false,
        "a number of writes between fdatasyncs (0: never)",
        |j, v| {
            j.fdatasync = parse_u32(v, 0, u32::MAX)?;
            Ok(())
        },
    ),
    ("group_reporting", true, "0 or 1 (or no value)", |j, v| {
        j.group_reporting = parse_bool(v)?;
        Ok(())
    }),
    ("verify", false, "crc32c, 0, none", |j, v| {
        j.verify = match v {
            "crc32c" | "crc32c-intel" => true,
            "0" | "none" => false,
            _ => return Err(format!("`{v}`")),
        };
        Ok(())
    }),
    (
        "continue_on_error",
        false,
        "none, read, write, io, verify, all (or 0, 1)",
        |j, v| {
            j.continue_on = crate::job::ContinueOn::parse(v).ok_or_else(|| format!("`{v}`"))?;
            Ok(())
        },
    ),
    (
        "ioengine",
        false,
        "any fio engine name (recorded; bffio always runs auraio)",
        |j, v| {
            j.ioengine = v.to_string();
            Ok(())
        },
    ),
    (
        "percentile_list",
        false,
        "percentiles separated by ':' such as 50:99:99.9",
        |j, v| {
            let list: Result<Vec<f64>, _> = v.split(':').map(str::parse::<f64>).collect();
            match list {
                Ok(l) if !l.is_empty() && l.iter().all(|p| (0.0..=100.0).contains(p)) => {
                    j.percentiles = l;
                    Ok(())
                }
                _ => Err(format!("`{v}`")),
            }
        },
    ),
    ("aimd", false, "on, off", |j, v| {
        j.aimd = match v {
            "on" | "1" => true,
            "off" | "0" => false,
            _ => return Err(format!("`{v}`")),
        };
        Ok(())
    }),
    (
        "target-p99",
        false,
        "a latency such as 500us, 2ms",
        |j, v| {
            j.target_p99 = Some(parse_time(v, Duration::from_micros(1))?);
            Ok(())
        },
    ),
    (
        "target_p99",
        false,
        "a latency such as 500us, 2ms",
        |j, v| {
            j.target_p99 = Some(parse_time(v, Duration::from_micros(1))?);
            Ok(())
        },
    ),
    ("preset", false, Preset::NAMES, |j, v| {
        j.preset = match v {
            "local" => Preset::Local,
            "shared" => Preset::Shared,
            "round-robin" => Preset::RoundRobin,
            "cpu-local" => Preset::CpuLocal,
            _ => return Err(format!("`{v}`")),
        };
        Ok(())
    }),
];

/// Options of the run rather than of a job.
const RUN_KEYS: &[(&str, &str)] = &[
    ("output-format", "normal, json, terse"),
    ("output", "a file name"),
    ("plot", "an .svg file name"),
];

fn accepted_keys() -> String {
    KEYS.iter()
        .map(|k| k.0)
        .chain(RUN_KEYS.iter().map(|k| k.0))
        .collect::<Vec<_>>()
        .join(", ")
}

fn nonzero(v: u64) -> Result<u64, String> {
    if v == 0 {
        Err("zero".into())
    } else {
        Ok(v)
    }
}

fn parse_pattern(v: &str) -> Result<Pattern, String> {
    Ok(match v {
        "read" => Pattern::Read,
        "write" => Pattern::Write,
        "randread" => Pattern::RandRead,
        "randwrite" => Pattern::RandWrite,
        "rw" | "readwrite" => Pattern::ReadWrite,
        "randrw" => Pattern::RandRw,
        _ => return Err(format!("`{v}`")),
    })
}

fn parse_u32(v: &str, min: u32, max: u32) -> Result<u32, String> {
    match v.trim().parse::<u64>() {
        Ok(n) if n >= u64::from(min) && n <= u64::from(max) => Ok(n as u32),
        _ => Err(format!("`{v}`")),
    }
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "" | "1" | "true" | "on" => Ok(true),
        "0" | "false" | "off" => Ok(false),
        _ => Err(format!("`{v}`")),
    }
}

fn parse_bs(v: &str) -> Result<u64, String> {
    let n = parse_size(v)?;
    if n == 0 || n % 512 != 0 || n > 128 << 20 {
        return Err(format!("`{v}`"));
    }
    Ok(n)
}

/// A size with fio's suffixes: k/m/g/t/p with an optional `i`/`b`/`ib` (all base 2, fio's
/// default `kb_base=1024`), or plain bytes.
pub fn parse_size(v: &str) -> Result<u64, String> {
    let s = v.trim().to_ascii_lowercase();
    let digits = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(digits);
    let mult: u64 = match suffix {
        "" | "b" => 1,
        "k" | "kb" | "kib" | "ki" => 1 << 10,
        "m" | "mb" | "mib" | "mi" => 1 << 20,
        "g" | "gb" | "gib" | "gi" => 1 << 30,
        "t" | "tb" | "tib" | "ti" => 1 << 40,
        "p" | "pb" | "pib" | "pi" => 1 << 50,
        _ => return Err(format!("`{v}`")),
    };
    let n: f64 = num.parse().map_err(|_| format!("`{v}`"))?;
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 / 2.0 {
        return Err(format!("`{v}`"));
    }
    Ok(bytes.round() as u64)
}

/// A time with fio's suffixes (us, ms, s, m, h, d); a bare number is in `unit`.
pub fn parse_time(v: &str, unit: Duration) -> Result<Duration, String> {
    let s = v.trim().to_ascii_lowercase();
    let digits = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(digits);
    let n: f64 = num.parse().map_err(|_| format!("`{v}`"))?;
    let secs = match suffix {
        "" => n * unit.as_secs_f64(),
        "ns" => n / 1e9,
        "us" | "usec" => n / 1e6,
        "ms" | "msec" => n / 1e3,
        "s" | "sec" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return Err(format!("`{v}`")),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("`{v}`"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Applies `key=value` to a job or to the run options. `at` says where it was written.
fn apply(
    job: &mut Job,
    run: &mut RunOptions,
    key: &str,
    value: Option<&str>,
    at: &str,
) -> Result<(), ParseError> {
    if let Some((_, accepted)) = RUN_KEYS.iter().find(|(k, _)| *k == key) {
        let v =
            value.ok_or_else(|| ParseError(format!("{at}: `{key}` needs a value ({accepted})")))?;
        match key {
            "output-format" => {
                run.format = match v {
                    "normal" => Format::Normal,
                    "json" => Format::Json,
                    "terse" => Format::Terse,
                    _ => {
                        return Err(ParseError(format!(
                            "{at}: bad value `{v}` for `{key}`; accepted: {accepted}"
                        )))
                    }
                }
            }
            "output" => run.output = Some(v.to_string()),
            _ => run.plot = Some(v.to_string()),
        }
        return Ok(());
    }
    let Some((_, valueless, accepted, set)) = KEYS.iter().find(|k| k.0 == key) else {
        return Err(ParseError(format!(
            "{at}: unknown option `{key}`; accepted: {}",
            accepted_keys()
        )));
    };
    let v = match value {
        Some(v) => v,
        None if *valueless => "",
        None => {
            return Err(ParseError(format!(
                "{at}: `{key}` needs a value ({accepted})"
            )))
        }
    };
    set(job, v).map_err(|e| {
        ParseError(format!(
            "{at}: bad value {e} for `{key}`; accepted: {accepted}"
        ))
    })?;
    job.options.retain(|(k, _)| k != key);
    job.options.push((key.to_string(), v.to_string()));
    Ok(())
}

/// Applies options recorded on another job (as `key=value` pairs) to `job`.
pub fn apply_options(job: &mut Job, options: &[(String, String)]) -> Result<(), ParseError> {
    let mut run = RunOptions::default();
    for (k, v) in options {
        apply(job, &mut run, k, Some(v), "command line")?;
    }
    Ok(())
}

/// Expands `${NAME}` from the environment.
fn expand_env(
    line: &str,
    env: &dyn Fn(&str) -> Option<String>,
    at: &str,
) -> Result<String, ParseError> {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| ParseError(format!("{at}: unterminated `${{` in `{line}`")))?;
        let name = &after[..end];
        let val = env(name)
            .ok_or_else(|| ParseError(format!("{at}: environment variable `{name}` is not set")))?;
        out.push_str(&val);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Reads files for `include` (tests substitute their own).
pub type Loader<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

/// Parses a job file's text. `base` holds the options given before it (the command line's
/// global options); each `[global]` section updates the defaults of the jobs after it.
pub fn parse_job_file(
    text: &str,
    origin: &Path,
    base: &Job,
    run: &mut RunOptions,
    env: &dyn Fn(&str) -> Option<String>,
    load: Loader<'_>,
) -> Result<Vec<Job>, ParseError> {
    let mut lines = Vec::new();
    collect_lines(text, origin, env, load, &mut lines, 0)?;
    let mut global = base.clone();
    let mut jobs: Vec<Job> = Vec::new();
    // Which section the next key goes to: None = global.
    let mut current: Option<usize> = None;
    for (at, line) in lines {
        if let Some(section) = line.strip_prefix('[') {
            let name = section
                .strip_suffix(']')
                .ok_or_else(|| ParseError(format!("{at}: section header `{line}` lacks `]`")))?
                .trim();
            if name.is_empty() {
                return Err(ParseError(format!("{at}: empty section name")));
            }
            if name == "global" {
                current = None;
            } else {
                let mut j = global.clone();
                j.name = name.to_string();
                jobs.push(j);
                current = Some(jobs.len() - 1);
            }
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (line.trim(), None),
        };
        let target = match current {
            Some(i) => &mut jobs[i],
            None => &mut global,
        };
        apply(target, run, key, value, &at)?;
    }
    Ok(jobs)
}

fn collect_lines(
    text: &str,
    origin: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    load: Loader<'_>,
    out: &mut Vec<(String, String)>,
    depth: u32,
) -> Result<(), ParseError> {
    for (n, raw) in text.lines().enumerate() {
        let at = format!("{}:{}", origin.display(), n + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let line = expand_env(line, env, &at)?;
        if let Some(path) = line.strip_prefix("include ") {
            if depth >= 16 {
                return Err(ParseError(format!(
                    "{at}: includes nested more than 16 deep"
                )));
            }
            let p = origin.parent().unwrap_or(Path::new(".")).join(path.trim());
            let inc = load(&p)
                .map_err(|e| ParseError(format!("{at}: cannot include {}: {e}", p.display())))?;
            collect_lines(&inc, &p, env, load, out, depth + 1)?;
            continue;
        }
        out.push((at, line));
    }
    Ok(())
}

/// What the command line asks for.
#[derive(Debug, Default)]
pub struct CommandLine {
    /// Jobs defined on the command line (each `--name=` starts one).
    pub jobs: Vec<Job>,
    /// Options given before the first `--name=`: defaults of every job.
    pub global: Job,
    /// Job files to read.
    pub files: Vec<PathBuf>,
    /// Run options.
    pub run: RunOptions,
    /// `--help`.
    pub help: bool,
    /// `--version`.
    pub version: bool,
}

/// Parses the arguments (without the program name).
pub fn parse_args(args: &[String]) -> Result<CommandLine, ParseError> {
    let mut cl = CommandLine::default();
    let mut current: Option<usize> = None;
    for (i, arg) in args.iter().enumerate() {
        let at = format!("argument {}", i + 1);
        let Some(opt) = arg.strip_prefix("--") else {
            cl.files.push(PathBuf::from(arg));
            continue;
        };
        match opt {
            "help" => {
                cl.help = true;
                continue;
            }
            "version" => {
                cl.version = true;
                continue;
            }
            _ => {}
        }
        let (key, value) = match opt.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (opt, None),
        };
        if key == "name" {
            cl.jobs.push(cl.global.clone());
            current = Some(cl.jobs.len() - 1);
        }
        let target = match current {
            Some(n) => &mut cl.jobs[n],
            None => &mut cl.global,
        };
        apply(target, &mut cl.run, key, value, &at)?;
    }
    Ok(cl)
}

/// Checks what parsing cannot: a job needs a file (or a directory and a size) and a size to
/// make its files or a runtime to bound its work.
pub fn validate(job: &Job) -> Result<(), ParseError> {
    let who = format!("job `{}`", job.name);
    if job.filenames.is_empty() && job.directory.is_none() && job.size.is_none() {
        return Err(ParseError(format!(
            "{who}: no `filename`, `directory` or `size`: nothing to do I/O on"
        )));
    }
    if job.filenames.is_empty() && job.size.is_none() && job.filesize.is_none() {
        return Err(ParseError(format!(
            "{who}: files to create need a `size` (or `filesize`)"
        )));
    }
    if job.time_based && job.runtime.is_none() {
        return Err(ParseError(format!("{who}: `time_based` needs a `runtime`")));
    }
    if job.target_p99.is_some() && !job.aimd {
        return Err(ParseError(format!(
            "{who}: `target-p99` needs `aimd=on` (the engine meets it by choosing the depth)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
