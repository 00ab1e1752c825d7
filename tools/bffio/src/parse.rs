//! fio's job syntax: `.fio` files (`[global]` sections that apply to the jobs below them,
//! `include`, `${ENV}`, valueless flags, size and time suffixes) and the command line
//! (`--key=value`, each `--name=` starting a job). Every error names the key, where it was
//! written, and what is accepted.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::job::{BlockSizes, FileService, Format, Job, Pattern, Preset, RunOptions};

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
    (
        "size",
        false,
        "a size such as 256m, 1g, or a percentage of the file's size such as 50%",
        |j, v| {
            if let Some(p) = v.trim().strip_suffix('%') {
                j.size_percent = Some(parse_u32(p, 1, 100)?);
                j.size = None;
                return Ok(());
            }
            j.size = Some(nonzero(parse_size_base(v, j.kb_base)?)?);
            j.size_percent = None;
            Ok(())
        },
    ),
    ("filesize", false, "a size such as 64m", |j, v| {
        j.filesize = Some(nonzero(parse_size_base(v, j.kb_base)?)?);
        Ok(())
    }),
    (
        "io_size",
        false,
        "a size such as 1g: the I/O done, when not `size`",
        set_io_limit,
    ),
    (
        "io_limit",
        false,
        "a size such as 1g (as io_size)",
        set_io_limit,
    ),
    (
        "kb_base",
        false,
        "1024 (k = 1024, kib = 1000, as fio) or 1000 (the reverse)",
        |j, v| {
            j.kb_base = match v.trim() {
                "1024" => 1024,
                "1000" => 1000,
                _ => return Err(format!("`{v}`")),
            };
            Ok(())
        },
    ),
    ("loops", false, "a number of passes >= 1", |j, v| {
        j.loops = parse_u32(v, 1, 1 << 30)?;
        Ok(())
    }),
    (
        "randrepeat",
        true,
        "0 or 1 (or no value): the same random offsets every run (fio's default: 1)",
        |j, v| {
            j.randrepeat = parse_bool(v)?;
            Ok(())
        },
    ),
    ("randseed", false, "a seed (an integer)", |j, v| {
        j.randseed = Some(v.trim().parse::<u64>().map_err(|_| format!("`{v}`"))?);
        Ok(())
    }),
    (
        "norandommap",
        true,
        "0 or 1 (or no value): random offsets drawn with replacement (else each block once a pass)",
        |j, v| {
            j.norandommap = parse_bool(v)?;
            Ok(())
        },
    ),
    (
        "random_generator",
        false,
        "tausworthe, tausworthe64 (bffio's own generator), lfsr (each block once a pass, even with norandommap)",
        |j, v| {
            j.lfsr = match v.trim() {
                "tausworthe" | "tausworthe64" => false,
                "lfsr" => true,
                _ => return Err(format!("`{v}`")),
            };
            Ok(())
        },
    ),
    (
        "random_distribution",
        false,
        "random, zipf:THETA[:BASE], pareto:H[:BASE], normal:DEV[:BASE], zoned:P/R:..., zoned_abs:P/SIZE:... (R,W as bs)",
        |j, v| {
            let kb = j.kb_base;
            let parsed = per_direction(v, |d| {
                crate::offsets::Distribution::parse(d, |s| parse_size_base(s, kb))
            })?;
            set_directions(&mut j.random_distribution, parsed);
            Ok(())
        },
    ),
    (
        "thread",
        true,
        "0 or 1 (or no value); bffio runs every job as a thread either way",
        accept_bool,
    ),
    (
        "gtod_reduce",
        true,
        "0 or 1 (or no value); bffio always takes its timestamps (one per batch)",
        accept_bool,
    ),
    (
        "lat_percentiles",
        true,
        PERCENTILES_ACCEPTS,
        accept_bool,
    ),
    (
        "clat_percentiles",
        true,
        PERCENTILES_ACCEPTS,
        accept_bool,
    ),
    (
        "overwrite",
        true,
        "0 or 1 (or no value); bffio lays a job's files out in full before it writes either way",
        accept_bool,
    ),
    (
        "fallocate",
        false,
        "none, native, posix, keep, truncate, 0 or 1; bffio lays files out by writing them either way",
        |_, v| match v {
            "none" | "native" | "posix" | "keep" | "truncate" | "0" | "1" => Ok(()),
            _ => Err(format!("`{v}` (none, native, posix, keep, truncate)")),
        },
    ),
    (
        "verify_async",
        false,
        "a number of threads; bffio checks each block on the job's thread as it completes",
        |_, v| parse_u32(v, 0, 1024).map(drop),
    ),
    ("end_fsync", true, "0 or 1 (or no value)", |j, v| {
        j.end_fsync = parse_bool(v)?;
        Ok(())
    }),
    (
        "fsync_on_close",
        true,
        "0 or 1 (or no value): as end_fsync",
        |j, v| {
            j.end_fsync |= parse_bool(v)?;
            Ok(())
        },
    ),
    (
        "stonewall",
        true,
        "0 or 1 (or no value): start once every job before has ended; a new group",
        set_stonewall,
    ),
    (
        "wait_for_previous",
        true,
        "0 or 1 (or no value): as stonewall",
        set_stonewall,
    ),
    ("new_group", true, "0 or 1 (or no value)", |j, v| {
        j.new_group = parse_bool(v)?;
        Ok(())
    }),
    (
        "wait_for",
        false,
        "the name of a job before this one",
        |j, v| {
            j.wait_for = Some(v.trim().to_string());
            Ok(())
        },
    ),
    (
        "write_bw_log",
        true,
        "a file name prefix (no value: the job's name); writes PREFIX_bw.N.log",
        |j, v| {
            j.logs.bw = Some(v.trim().to_string());
            Ok(())
        },
    ),
    (
        "write_lat_log",
        true,
        "a file name prefix (no value: the job's name); writes PREFIX_{slat,clat,lat}.N.log",
        |j, v| {
            j.logs.lat = Some(v.trim().to_string());
            Ok(())
        },
    ),
    (
        "write_iops_log",
        true,
        "a file name prefix (no value: the job's name); writes PREFIX_iops.N.log",
        |j, v| {
            j.logs.iops = Some(v.trim().to_string());
            Ok(())
        },
    ),
    (
        "write_hist_log",
        true,
        "a file name prefix (no value: the job's name); writes PREFIX_clat_hist.N.log (empty unless log_hist_msec is set)",
        |j, v| {
            j.logs.hist = Some(v.trim().to_string());
            Ok(())
        },
    ),
    (
        "log_hist_msec",
        false,
        "milliseconds per histogram line (0: no lines)",
        |j, v| {
            j.logs.hist_msec = u64::from(parse_u32(v, 0, 86_400_000)?);
            Ok(())
        },
    ),
    (
        "log_hist_coarseness",
        false,
        "0-6: each step halves the histogram's bins (1856 at 0)",
        |j, v| {
            j.logs.hist_coarseness = parse_u32(v, 0, 6)?;
            Ok(())
        },
    ),
    (
        "log_avg_msec",
        false,
        "milliseconds per log line (0: a line per I/O)",
        |j, v| {
            j.logs.avg_msec = u64::from(parse_u32(v, 0, 86_400_000)?);
            Ok(())
        },
    ),
    ("log_max_value", true, "0 or 1 (or no value)", |j, v| {
        j.logs.max_value = parse_bool(v)?;
        Ok(())
    }),
    ("log_offset", true, "0 or 1 (or no value)", |j, v| {
        j.logs.offset = parse_bool(v)?;
        Ok(())
    }),
    (
        "log_prio",
        true,
        "0 or 1 (or no value); bffio's priorities are all 0",
        |j, v| {
            j.logs.prio = parse_bool(v)?;
            Ok(())
        },
    ),
    (
        "log_issue_time",
        true,
        "0 or 1 (or no value): per-I/O log lines end with the I/O's issue time, ns",
        |j, v| {
            j.logs.issue_time = parse_bool(v)?;
            Ok(())
        },
    ),
    ("per_job_logs", true, "0 or 1 (or no value)", |j, v| {
        j.logs.per_job = parse_bool(v)?;
        Ok(())
    }),
    (
        "zero_buffers",
        true,
        "0 or 1 (or no value): write buffers of zeros",
        |j, v| {
            j.zero_buffers = parse_bool(v)?;
            Ok(())
        },
    ),
    (
        "refill_buffers",
        true,
        "0 or 1 (or no value): new random bytes on every write",
        |j, v| {
            j.refill_buffers = parse_bool(v)?;
            Ok(())
        },
    ),
    (
        "scramble_buffers",
        true,
        "0 or 1 (or no value; default 1): a few bytes changed on every write",
        |j, v| {
            j.scramble_buffers = parse_bool(v)?;
            Ok(())
        },
    ),
    (
        "buffer_pattern",
        false,
        "0xHEX, \"string\", 'file', a decimal number, or several of them in a row",
        |j, v| {
            j.buffer_pattern = Some(pattern(v)?);
            Ok(())
        },
    ),
    (
        "exitall",
        true,
        "0 or 1 (or no value): when this job ends, end the others of its group (exit_what)",
        |j, v| {
            j.exitall = parse_bool(v)?;
            Ok(())
        },
    ),
    (
        "exit_what",
        false,
        "group (the jobs of its reporting group), all (every job)",
        |j, v| {
            j.exit_all_groups = match v.trim() {
                "group" => false,
                "all" => true,
                _ => return Err(format!("`{v}`")),
            };
            Ok(())
        },
    ),
    (
        "invalidate",
        true,
        "0 or 1 (default 1): drop the files' cached pages before the job (buffered I/O)",
        |j, v| {
            j.invalidate = parse_bool(v)?;
            Ok(())
        },
    ),
    (
        "create_on_open",
        true,
        "0 or 1 (or no value); bffio makes a job's files when the job starts either way",
        accept_bool,
    ),
    (
        "cpus_allowed",
        false,
        "CPUs such as 0,5,8-15",
        |j, v| {
            j.cpus_allowed = Some(parse_cpus(v)?);
            Ok(())
        },
    ),
    (
        "cpus_allowed_policy",
        false,
        "shared (every thread on the whole set), split (one CPU of the set each)",
        |j, v| {
            j.cpus_split = match v.trim() {
                "shared" => false,
                "split" => true,
                _ => return Err(format!("`{v}`")),
            };
            Ok(())
        },
    ),
    (
        "fixedbufs",
        true,
        "0 or 1 (or no value): the I/O buffers registered with the ring (READ/WRITE_FIXED)",
        |j, v| {
            j.fixedbufs = parse_bool(v)?;
            Ok(())
        },
    ),
    (
        "registerfiles",
        true,
        "0 or 1 (or no value): the job's files registered with the ring (fixed files)",
        |j, v| {
            j.registerfiles = parse_bool(v)?;
            Ok(())
        },
    ),
    (
        "sqthread_poll",
        true,
        "0 or 1 (or no value): a kernel thread polls the submission queue (SQPOLL)",
        |j, v| {
            j.sqthread_poll = parse_bool(v)?;
            Ok(())
        },
    ),
    (
        "force_async",
        false,
        "0 or 1: every request issued asynchronously (IOSQE_ASYNC); every N-th is not supported",
        |j, v| {
            j.force_async = match parse_u32(v, 0, u32::MAX)? {
                0 => false,
                1 => true,
                _ => return Err(format!("`{v}`: only 0 or 1 (every request)")),
            };
            Ok(())
        },
    ),
    (
        "nonvectored",
        true,
        "0 or 1 (or no value); bffio's reads and writes are not vectored either way",
        accept_bool,
    ),
    (
        "write_iolog",
        false,
        "a file: every issued I/O logged in fio's iolog format (version 3)",
        |j, v| {
            j.write_iolog = Some(v.trim().to_string());
            Ok(())
        },
    ),
    (
        "read_iolog",
        false,
        "a file in fio's iolog format (version 2 or 3): its I/O replayed instead of the pattern",
        |j, v| {
            j.read_iolog = Some(v.trim().to_string());
            Ok(())
        },
    ),
    (
        "replay_no_stall",
        true,
        "0 or 1 (or no value): replay at the depth's pace, not at the log's times",
        |j, v| {
            j.replay_no_stall = parse_bool(v)?;
            Ok(())
        },
    ),
    ("unlink", true, "0 or 1 (or no value)", |j, v| {
        j.unlink = parse_bool(v)?;
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
        "read, write, randread, randwrite, rw, readwrite, randrw, trim, randtrim, trimwrite, randtrimwrite; a sequential one with :N skips N bytes after each I/O",
        set_pattern,
    ),
    (
        "readwrite",
        false,
        "read, write, randread, randwrite, rw, readwrite, randrw, trim, randtrim, trimwrite, randtrimwrite (as rw)",
        set_pattern,
    ),
    (
        "offset",
        false,
        "a size such as 1m, or a percentage of the file's size such as 50%",
        |j, v| {
            if let Some(p) = v.trim().strip_suffix('%') {
                j.offset_percent = Some(parse_u32(p, 0, 99)?);
                j.offset = 0;
            } else {
                j.offset = parse_size_base(v, j.kb_base)?;
                j.offset_percent = None;
            }
            Ok(())
        },
    ),
    ("offset_increment", false, "a size such as 1m", |j, v| {
        j.offset_increment = parse_size_base(v, j.kb_base)?;
        Ok(())
    }),
    (
        "startdelay",
        false,
        "a time such as 2 (seconds), 500ms",
        |j, v| {
            j.startdelay = parse_time(v, Duration::from_secs(1))?;
            Ok(())
        },
    ),
    (
        "rate_iops",
        false,
        "I/Os per second >= 1, READ[,WRITE[,TRIM]] (each direction its own budget, as fio)",
        |j, v| {
            let parsed = per_direction3(v, |p| Ok(u64::from(parse_u32(p, 1, u32::MAX)?)))?;
            set_directions(&mut j.rate_iops, parsed.map(|p| p.map(Some)));
            Ok(())
        },
    ),
    (
        "rate",
        false,
        "bytes per second such as 10m, READ[,WRITE[,TRIM]] (each direction its own budget)",
        |j, v| {
            let kb = j.kb_base;
            let parsed = per_direction3(v, |p| nonzero(parse_size_base(p, kb)?))?;
            set_directions(&mut j.rate_bps, parsed.map(|p| p.map(Some)));
            Ok(())
        },
    ),
    (
        "rate_min",
        false,
        "bytes per second such as 1m, READ[,WRITE[,TRIM]]: a rate cycle in which a direction completes less ends the job (EIO)",
        |j, v| {
            let kb = j.kb_base;
            let parsed = per_direction3(v, |p| nonzero(parse_size_base(p, kb)?))?;
            set_directions(&mut j.rate_min_bps, parsed.map(|p| p.map(Some)));
            Ok(())
        },
    ),
    (
        "rate_iops_min",
        false,
        "I/Os per second >= 1, READ[,WRITE[,TRIM]]: a rate cycle in which a direction completes fewer ends the job (EIO)",
        |j, v| {
            let parsed = per_direction3(v, |p| Ok(u64::from(parse_u32(p, 1, u32::MAX)?)))?;
            set_directions(&mut j.rate_iops_min, parsed.map(|p| p.map(Some)));
            Ok(())
        },
    ),
    (
        "rate_cycle",
        false,
        "milliseconds over which rate_min and rate_iops_min are averaged (default 1000)",
        |j, v| {
            j.rate_cycle_ms = u64::from(parse_u32(v, 1, 3_600_000)?);
            Ok(())
        },
    ),
    (
        "rate_process",
        false,
        "linear (even gaps), poisson (exponential gaps around the rate)",
        |j, v| {
            j.rate_poisson = match v.trim() {
                "linear" => false,
                "poisson" => true,
                _ => return Err(format!("`{v}`")),
            };
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
        BS_ACCEPTS,
        set_bs,
    ),
    ("blocksize", false, BS_ACCEPTS, set_bs),
    ("bsrange", false, BSRANGE_ACCEPTS, set_bsrange),
    ("blocksize_range", false, BSRANGE_ACCEPTS, set_bsrange),
    (
        "bssplit",
        false,
        "SIZE/PERCENT:SIZE/PERCENT...[,...[,...]] (reads, writes, trims); a PERCENT left out shares what is left",
        |j, v| {
            let kb = j.kb_base;
            let parsed = per_direction3(v, |s| parse_bssplit(s, kb))?;
            set_directions(&mut j.sizes, parsed);
            Ok(())
        },
    ),
    ("blockalign", false, BLOCKALIGN_ACCEPTS, set_blockalign),
    ("ba", false, BLOCKALIGN_ACCEPTS, set_blockalign),
    ("iodepth", false, "a depth 1-32768", |j, v| {
        j.iodepth = Some(parse_u32(v, 1, 32768)?);
        Ok(())
    }),
    (
        "iodepth_batch",
        false,
        "SQEs per submit system call >= 1 (pins the engine's batch threshold; 0: the engine tunes it)",
        set_batch,
    ),
    ("iodepth_batch_submit", false, "as iodepth_batch", set_batch),
    (
        "iodepth_low",
        false,
        "a depth: once full, refill only when the queue has drained to it",
        |j, v| {
            j.iodepth_low = Some(parse_u32(v, 0, 32768)?);
            Ok(())
        },
    ),
    (
        "iodepth_batch_complete_min",
        false,
        COMPLETE_MIN_ACCEPTS,
        set_complete_min,
    ),
    (
        "iodepth_batch_complete",
        false,
        COMPLETE_MIN_ACCEPTS,
        set_complete_min,
    ),
    (
        "iodepth_batch_complete_max",
        false,
        "completions handled per reap before refilling, 1-32768 (default: all that are ready)",
        |j, v| {
            j.complete_max = Some(parse_u32(v, 1, 32768)?);
            Ok(())
        },
    ),
    ("numjobs", false, "a number of jobs 1-1024", |j, v| {
        j.numjobs = parse_u32(v, 1, 1024)?;
        Ok(())
    }),
    ("runtime", false, RUNTIME_ACCEPTS, set_runtime),
    ("timeout", false, RUNTIME_ACCEPTS, set_runtime),
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
    (
        "verify",
        false,
        "md5, crc64, crc32c (crc32c-intel; meta: its header's offset check), crc32, sha1, sha256, sha512, xxhash, pattern (verify_pattern), 0, none",
        |j, v| {
            if let Some((_, d)) = crate::verify::DIGESTS.iter().find(|(n, _)| *n == v) {
                (j.verify, j.verify_digest) = (true, Some(*d));
                return Ok(());
            }
            match v {
                "pattern" => (j.verify, j.verify_digest) = (true, None),
                "0" | "none" => j.verify = false,
                "crc16" | "crc7" | "sha3-224" | "sha3-256" | "sha3-384" | "sha3-512" => {
                    return Err(format!("`{v}` (not implemented: md5, crc64, crc32c, crc32, sha1, sha256, sha512 and xxhash are)"))
                }
                _ => return Err(format!("`{v}`")),
            }
            Ok(())
        },
    ),
    (
        "verify_pattern",
        false,
        "as buffer_pattern: 0xHEX, \"string\", 'file', numbers",
        |j, v| {
            j.verify_pattern = Some(pattern(v)?);
            Ok(())
        },
    ),
    (
        "verify_interval",
        false,
        "bytes per checksummed chunk, a divisor of the block size of at least 32",
        |j, v| {
            j.verify_interval = Some(nonzero(parse_size_base(v, j.kb_base)?)?);
            Ok(())
        },
    ),
    ("verify_fatal", true, "0 or 1 (or no value)", |j, v| {
        j.verify_fatal = parse_bool(v)?;
        Ok(())
    }),
    (
        "verify_backlog",
        false,
        "a number of blocks >= 1 written before they are verified",
        |j, v| {
            j.verify_backlog = Some(nonzero(parse_size_base(v, j.kb_base)?)?);
            Ok(())
        },
    ),
    (
        "verify_backlog_batch",
        false,
        "a number of blocks >= 1 verified at each backlog check",
        |j, v| {
            j.verify_backlog_batch = Some(nonzero(parse_size_base(v, j.kb_base)?)?);
            Ok(())
        },
    ),
    ("verify_dump", true, "0 or 1 (or no value)", |j, v| {
        j.verify_dump = parse_bool(v)?;
        Ok(())
    }),
    ("do_verify", true, "0 or 1 (default 1)", |j, v| {
        j.do_verify = parse_bool(v)?;
        Ok(())
    }),
    (
        "verify_only",
        true,
        "0 or 1 (or no value): no writes, only the read-back of an earlier run's",
        |j, v| {
            j.verify_only = parse_bool(v)?;
            Ok(())
        },
    ),
    (
        "verify_state_save",
        true,
        "0 or 1 (default 1): bffio-NAME-N-verify.state, the blocks written",
        |j, v| {
            j.verify_state_save = parse_bool(v)?;
            Ok(())
        },
    ),
    (
        "verify_state_load",
        true,
        "0 or 1 (or no value): verify_only checks the blocks the state file names",
        |j, v| {
            j.verify_state_load = parse_bool(v)?;
            Ok(())
        },
    ),
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
        "io_uring, libaio, psync, sync, pvsync, pvsync2, posixaio (all run through auraio, as the report says), or null (IORING_OP_NOP through auraio: the engine's own cost)",
        |j, v| {
            const THROUGH_AURAIO: &[&str] = &[
                "io_uring", "libaio", "psync", "sync", "pvsync", "pvsync2", "posixaio", "auraio",
                "null",
            ];
            if !THROUGH_AURAIO.contains(&v.trim()) {
                return Err(format!("`{v}` (not an engine bffio can stand in for)"));
            }
            j.ioengine = v.trim().to_string();
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

/// Options of the run rather than of a job: name, whether it may be written without a value,
/// what it accepts.
const RUN_KEYS: &[(&str, bool, &str)] = &[
    (
        "output-format",
        false,
        "normal, json, terse, or several separated by commas",
    ),
    ("minimal", true, "no value (as --output-format=terse)"),
    ("output", false, "a file name"),
    ("plot", false, "an .svg file name"),
    ("eta", false, "always, never, auto"),
    ("eta-newline", false, "a time such as 5 (seconds), 500ms"),
    (
        "status-interval",
        false,
        "a time such as 5 (seconds), 500ms: a full report of the values so far at that interval",
    ),
    ("section", false, "a section name of the job files"),
    ("parse-only", true, "no value"),
    ("showcmd", true, "no value"),
    ("bandwidth-log", true, "no value"),
    (
        "max-jobs",
        false,
        "a number of job threads >= 1 (accepted; as fio 3.33, every job runs)",
    ),
    (
        "aux-path",
        false,
        "a directory: where verify dumps and verify state files go",
    ),
];

/// Options fio has that bffio refuses rather than ignores, and why.
const REFUSED: &[(&str, &str)] = &[
    (
        "hipri",
        "polled completions (IORING_SETUP_IOPOLL) are not implemented by the engine",
    ),
    (
        "sqthread_poll_cpu",
        "pinning the SQPOLL thread is not implemented; sqthread_poll leaves it to the kernel",
    ),
    ("nowait", "RWF_NOWAIT requests are not implemented"),
    (
        "uncached",
        "uncached (RWF_DONTCACHE) requests are not implemented",
    ),
];

/// Every key of a job or of the run, for help and suggestions.
fn all_keys() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|k| k.0).chain(RUN_KEYS.iter().map(|k| k.0))
}

/// The known key nearest `key` (edit distance at most a third of its length), for "did you
/// mean".
fn nearest(key: &str) -> Option<&'static str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    }
    all_keys()
        .map(|k| (distance(key, k), k))
        .filter(|(d, _)| *d <= (key.len() / 3).max(1))
        .min()
        .map(|(_, k)| k)
}

/// Help for one key (`--cmdhelp=KEY`), or every key (`--cmdhelp`).
pub fn cmdhelp(key: Option<&str>) -> Result<String, ParseError> {
    let line = |k: &str, accepted: &str| format!("{k:<20} {accepted}\n");
    let mut out = String::new();
    for (k, _, accepted, _) in KEYS {
        if key.is_none_or(|want| want == *k) {
            out += &line(k, accepted);
        }
    }
    for (k, _, accepted) in RUN_KEYS {
        if key.is_none_or(|want| want == *k) {
            out += &line(&format!("--{k}"), accepted);
        }
    }
    if out.is_empty() {
        let k = key.unwrap_or_default();
        return Err(ParseError(match nearest(k) {
            Some(n) => format!("no option `{k}`; did you mean `{n}`?"),
            None => format!("no option `{k}`"),
        }));
    }
    Ok(out)
}

fn nonzero(v: u64) -> Result<u64, String> {
    if v == 0 {
        Err("zero".into())
    } else {
        Ok(v)
    }
}

fn set_io_limit(j: &mut Job, v: &str) -> Result<(), String> {
    j.io_limit = Some(nonzero(parse_size_base(v, j.kb_base)?)?);
    Ok(())
}

/// `0,5,8-15`: CPU numbers and ranges, sorted, each once.
fn parse_cpus(v: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |s: &str| {
            s.trim()
                .parse::<usize>()
                .ok()
                .filter(|&c| c < libc::CPU_SETSIZE as usize)
                .ok_or_else(|| format!("`{s}` (a CPU number below {})", libc::CPU_SETSIZE))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a {
                    return Err(format!("`{part}`: the range runs backwards"));
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(num(part)?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    if cpus.is_empty() {
        return Err(format!("`{v}`: no CPU"));
    }
    Ok(cpus)
}

fn set_stonewall(j: &mut Job, v: &str) -> Result<(), String> {
    j.stonewall = parse_bool(v)?;
    Ok(())
}

/// A flag bffio checks and accepts, doing what it asks (or what makes it moot) anyway.
fn accept_bool(_: &mut Job, v: &str) -> Result<(), String> {
    parse_bool(v).map(drop)
}

const PERCENTILES_ACCEPTS: &str =
    "0 or 1 (or no value); bffio reports the percentiles of slat, clat and lat either way";

const COMPLETE_MIN_ACCEPTS: &str =
    "completions a reap waits for, 0-32768 (default 1; 0: poll, never wait)";

fn set_complete_min(j: &mut Job, v: &str) -> Result<(), String> {
    j.complete_min = Some(parse_u32(v, 0, 32768)?);
    Ok(())
}

const RUNTIME_ACCEPTS: &str = "a time such as 10 (seconds), 500ms, 2m (`timeout` is fio's alias)";

fn set_runtime(j: &mut Job, v: &str) -> Result<(), String> {
    j.runtime = Some(parse_time(v, Duration::from_secs(1))?);
    Ok(())
}

fn set_batch(j: &mut Job, v: &str) -> Result<(), String> {
    j.iodepth_batch = match parse_u32(v, 0, 32768)? {
        0 => None,
        n => Some(n),
    };
    Ok(())
}

fn set_pattern(j: &mut Job, v: &str) -> Result<(), String> {
    let (name, gap) = match v.split_once(':') {
        Some((n, g)) => (n, Some(g)),
        None => (v, None),
    };
    j.pattern = parse_pattern(name)?;
    j.seq_gap = match gap {
        // fio: for a random pattern `:N` is how many I/Os share one random offset, which
        // bffio does not do; for a sequential one the bytes skipped after each I/O.
        Some(_) if j.pattern.random() => {
            return Err(format!("`{v}` (`:N` on a random pattern is not supported)"))
        }
        Some(g) => parse_size_base(g, j.kb_base)?,
        None => 0,
    };
    Ok(())
}

fn parse_pattern(v: &str) -> Result<Pattern, String> {
    Ok(match v {
        "read" => Pattern::Read,
        "write" => Pattern::Write,
        "randread" => Pattern::RandRead,
        "randwrite" => Pattern::RandWrite,
        "rw" | "readwrite" => Pattern::ReadWrite,
        "randrw" => Pattern::RandRw,
        "trim" => Pattern::Trim,
        "randtrim" => Pattern::RandTrim,
        "trimwrite" => Pattern::TrimWrite,
        "randtrimwrite" => Pattern::RandTrimWrite,
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

const BS_ACCEPTS: &str =
    "a block size such as 4k (a multiple of 512 with direct), or R,W[,T]: reads', writes' (and trims'; else the writes') (any may be left out)";
const BSRANGE_ACCEPTS: &str =
    "LO-HI[,LO-HI[,LO-HI]] (reads, writes, trims): sizes that are multiples of LO up to HI";
const BLOCKALIGN_ACCEPTS: &str =
    "an alignment such as 4k for random offsets, R[,W[,T]] (default: each direction's smallest block size)";

fn set_bs(j: &mut Job, v: &str) -> Result<(), String> {
    let kb = j.kb_base;
    let parsed = per_direction3(v, |s| parse_bs(s, kb).map(BlockSizes::Fixed))?;
    set_directions(&mut j.sizes, parsed);
    Ok(())
}

fn set_bsrange(j: &mut Job, v: &str) -> Result<(), String> {
    let kb = j.kb_base;
    let parsed = per_direction3(v, |r| {
        let (lo, hi) = r
            .split_once(['-', ':'])
            .ok_or_else(|| format!("`{r}` (LO-HI)"))?;
        let (lo, hi) = (parse_bs(lo, kb)?, parse_bs(hi, kb)?);
        if hi < lo {
            return Err(format!("`{r}`: HI below LO"));
        }
        Ok(BlockSizes::Range { lo, hi })
    })?;
    set_directions(&mut j.sizes, parsed);
    Ok(())
}

fn set_blockalign(j: &mut Job, v: &str) -> Result<(), String> {
    let kb = j.kb_base;
    let parsed = per_direction3(v, |p| parse_bs(p, kb))?;
    set_directions(&mut j.blockalign, parsed.map(|p| p.map(Some)));
    Ok(())
}

/// A `buffer_pattern`/`verify_pattern` value; `'file'` parts are read from disk.
fn pattern(v: &str) -> Result<Vec<u8>, String> {
    let read = |f: &str| std::fs::read(f).map_err(|e| format!("'{f}': {e}"));
    crate::buffers::parse_pattern(v, read)
}

/// `READ[,WRITE[,TRIM]]` for keys with a value for reads and writes only (distributions): as
/// `per_direction3`, the trim part checked and not used (trims draw as the writes do).
fn per_direction<T: Clone>(
    v: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<[Option<T>; 2], String> {
    let [r, w, _] = per_direction3(v, parse)?;
    Ok([r, w])
}

/// `READ[,WRITE[,TRIM]]` for keys where all three directions count (rates, block sizes), with
/// fio's rule: a value not followed by a comma applies to the directions after it too (`10m`
/// is all three, `1m,2m` gives trims 2m, `1m,2m,` leaves trims); an empty part (`None`) leaves
/// that direction as it was.
fn per_direction3<T: Clone>(
    v: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<[Option<T>; 3], String> {
    let parts: Vec<&str> = v.split(',').map(str::trim).collect();
    if parts.len() > 3 || parts.iter().all(|p| p.is_empty()) {
        return Err(format!("`{v}`"));
    }
    let mut out: [Option<T>; 3] = [None, None, None];
    for (i, slot) in out.iter_mut().enumerate() {
        let part = parts.get(i).copied().or_else(|| parts.last().copied());
        if let Some(p) = part.filter(|p| !p.is_empty()) {
            *slot = Some(parse(p)?);
        }
    }
    Ok(out)
}

/// Sets the directions `per_direction` (or `per_direction3`) gave a value.
fn set_directions<T, const N: usize>(slot: &mut [T; N], parsed: [Option<T>; N]) {
    for (s, p) in slot.iter_mut().zip(parsed) {
        if let Some(p) = p {
            *s = p;
        }
    }
}

/// `4k/10:64k/50:32k`: sizes and percentages; those without one share what is left.
fn parse_bssplit(v: &str, kb: u32) -> Result<BlockSizes, String> {
    let mut entries: Vec<(u64, Option<u32>)> = Vec::new();
    for e in v.split(':').filter(|e| !e.trim().is_empty()) {
        let (size, pct) = match e.split_once('/') {
            Some((s, p)) if !p.trim().is_empty() => (s, Some(parse_u32(p, 0, 100)?)),
            Some((s, _)) => (s, None),
            None => (e, None),
        };
        entries.push((parse_bs(size, kb)?, pct));
    }
    if entries.is_empty() {
        return Err(format!("`{v}`"));
    }
    let given: u32 = entries.iter().filter_map(|e| e.1).sum();
    let blanks = entries.iter().filter(|e| e.1.is_none()).count() as u32;
    if given > 100 || (blanks == 0 && given != 100) {
        return Err(format!("`{v}`: the percentages add up to {given}, not 100"));
    }
    // With no blank, `given` is 100 and nothing is left to share.
    let share = (100 - given).checked_div(blanks).unwrap_or(0);
    // The rounding's remainder goes to the first entries without a percentage.
    let mut left = (100 - given) - share * blanks;
    let mut cumulative = 0;
    let mut out = Vec::new();
    for (size, pct) in entries {
        let p = pct.unwrap_or_else(|| {
            let extra = u32::from(left > 0);
            left -= extra;
            share + extra
        });
        cumulative += p;
        if p > 0 {
            out.push((size, cumulative));
        }
    }
    if out.is_empty() {
        return Err(format!("`{v}`: every percentage is 0"));
    }
    Ok(BlockSizes::Split(out))
}

fn parse_bs(v: &str, kb_base: u32) -> Result<u64, String> {
    let n = parse_size_base(v, kb_base)?;
    // Any size for buffered I/O, as fio; O_DIRECT's multiple of 512 is checked per job.
    if n == 0 || n > 128 << 20 {
        return Err(format!("`{v}`"));
    }
    Ok(n)
}

/// A size with fio's suffixes, as fio reads them: with `kb_base=1024` (its default) `k`, `kb`,
/// `m`, `mb`, ... are powers of 2 and the IEC spellings `kib`, `mib`, ... powers of 10 (so `4kib` is 4000 bytes, as in fio); with `kb_base=1000` the other way round. Plain
/// numbers are bytes.
pub fn parse_size_base(v: &str, kb_base: u32) -> Result<u64, String> {
    let s = v.trim().to_ascii_lowercase();
    let digits = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(digits);
    // Only the three-letter IEC spellings (`kib`, `mib`, ...) are IEC, as in fio: `4ki` is
    // `4k`.
    let (unit, iec) = match suffix.strip_suffix("ib") {
        Some(prefix) => (power_of(prefix), true),
        None => match suffix.strip_suffix('b').unwrap_or(suffix) {
            "" => (0, false),
            u => (power_of(u.strip_suffix('i').unwrap_or(u)), false),
        },
    };
    if unit == u32::MAX {
        return Err(format!("`{v}`"));
    }
    // kb_base=1024: the plain prefix is binary, the IEC one decimal; kb_base=1000: reversed.
    let binary = (kb_base == 1024) != iec;
    let mult: u64 = if binary {
        1u64 << (10 * unit)
    } else {
        10u64.pow(3 * unit)
    };
    let n: f64 = num.parse().map_err(|_| format!("`{v}`"))?;
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 / 2.0 {
        return Err(format!("`{v}`"));
    }
    Ok(bytes.round() as u64)
}

/// The power of 1000 (or 1024) a size prefix names: k 1, m 2, g 3, t 4, p 5; `u32::MAX` for
/// none of them.
fn power_of(prefix: &str) -> u32 {
    match prefix {
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => u32::MAX,
    }
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
    if let Some((_, why)) = REFUSED.iter().find(|(k, _)| *k == key) {
        return Err(ParseError(format!("{at}: `{key}` is not supported: {why}")));
    }
    if let Some((_, valueless, accepted)) = RUN_KEYS.iter().find(|(k, _, _)| *k == key) {
        let v = match value {
            Some(v) => v,
            None if *valueless => "",
            None => {
                return Err(ParseError(format!(
                    "{at}: `{key}` needs a value ({accepted})"
                )))
            }
        };
        let bad = || {
            ParseError(format!(
                "{at}: bad value `{v}` for `{key}`; accepted: {accepted}"
            ))
        };
        match key {
            "output-format" => {
                run.formats = v
                    .split(',')
                    .map(|f| match f.trim() {
                        "normal" => Ok(Format::Normal),
                        "json" => Ok(Format::Json),
                        "json+" => Ok(Format::JsonPlus),
                        "terse" => Ok(Format::Terse),
                        _ => Err(bad()),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "minimal" => run.formats = vec![Format::Terse],
            "output" => run.output = Some(v.to_string()),
            "plot" => run.plot = Some(v.to_string()),
            "eta" => {
                run.eta = match v {
                    "always" => crate::job::Eta::Always,
                    "never" => crate::job::Eta::Never,
                    "auto" => crate::job::Eta::Auto,
                    _ => return Err(bad()),
                }
            }
            "eta-newline" => {
                run.eta_newline = Some(parse_time(v, Duration::from_secs(1)).map_err(|_| bad())?)
            }
            "status-interval" => {
                let t = parse_time(v, Duration::from_secs(1)).map_err(|_| bad())?;
                if t.is_zero() {
                    return Err(bad());
                }
                run.status_interval = Some(t)
            }
            "section" => run.sections.push(v.to_string()),
            "parse-only" => run.parse_only = true,
            "showcmd" => run.showcmd = true,
            "bandwidth-log" => run.bandwidth_log = true,
            // Checked and accepted: fio 3.33 runs every job whatever it says.
            "max-jobs" => drop(parse_u32(v, 1, 1 << 20).map_err(|_| bad())?),
            "aux-path" => run.aux_path = Some(v.into()),
            _ => {}
        }
        return Ok(());
    }
    let Some((_, valueless, accepted, set)) = KEYS.iter().find(|k| k.0 == key) else {
        return Err(ParseError(match nearest(key) {
            Some(n) => format!(
                "{at}: unknown option `{key}`; did you mean `{n}`? (`bffio --cmdhelp` lists them all)"
            ),
            None => format!("{at}: unknown option `{key}` (`bffio --cmdhelp` lists them all)"),
        }));
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
    // fio reads a section's kb_base before its other options (whatever their order), so a
    // size written above it follows it too: each section's kb_base, applied at its header.
    let mut kb_bases: Vec<Option<(String, String)>> = Vec::new();
    for (at, line) in &lines {
        if line.starts_with('[') {
            kb_bases.push(None);
        } else if let (Some(last), Some(("kb_base", v))) = (
            kb_bases.last_mut(),
            line.split_once('=').map(|(k, v)| (k.trim(), v.trim())),
        ) {
            *last = Some((at.clone(), v.to_string()));
        }
    }
    let mut section_no = 0usize;
    let mut global = base.clone();
    let mut jobs: Vec<Job> = Vec::new();
    // Which section the next key goes to: None = global.
    let mut current: Option<usize> = None;
    let mut in_section = false;
    for (at, line) in lines {
        if let Some(section) = line.strip_prefix('[') {
            let name = section
                .strip_suffix(']')
                .ok_or_else(|| ParseError(format!("{at}: section header `{line}` lacks `]`")))?
                .trim();
            if name.is_empty() {
                return Err(ParseError(format!("{at}: empty section name")));
            }
            in_section = true;
            if name == "global" {
                current = None;
            } else {
                let mut j = global.clone();
                j.global_options = global.options.clone();
                j.name = name.to_string();
                jobs.push(j);
                current = Some(jobs.len() - 1);
            }
            if let Some((kb_at, v)) = kb_bases.get(section_no).cloned().flatten() {
                let target = match current {
                    Some(i) => &mut jobs[i],
                    None => &mut global,
                };
                apply(target, run, "kb_base", Some(&v), &kb_at)?;
            }
            section_no += 1;
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (line.trim(), None),
        };
        if !in_section {
            // As fio: "option outside of [] job section".
            return Err(ParseError(format!(
                "{at}: `{line}` outside of any section (put it under [global] or a job)"
            )));
        }
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
    /// `--cmdhelp` (`Some(None)`) or `--cmdhelp=KEY`.
    pub cmdhelp: Option<Option<String>>,
}

/// Whether `key` takes a value (so `--key value` reads the next argument as it).
fn takes_value(key: &str) -> bool {
    KEYS.iter().any(|k| k.0 == key && !k.1) || RUN_KEYS.iter().any(|k| k.0 == key && !k.1)
}

/// Parses the arguments (without the program name).
pub fn parse_args(args: &[String]) -> Result<CommandLine, ParseError> {
    let mut cl = CommandLine::default();
    let mut current: Option<usize> = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let at = format!("argument {}", i + 1);
        i += 1;
        if arg == "-h" {
            cl.help = true;
            continue;
        }
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
            "cmdhelp" => {
                cl.cmdhelp = Some(None);
                continue;
            }
            _ => {}
        }
        if let Some(k) = opt.strip_prefix("cmdhelp=") {
            cl.cmdhelp = Some(Some(k.to_string()));
            continue;
        }
        let (key, value) = match opt.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            // fio's other spelling: `--key value`, for keys that take one.
            None if takes_value(opt) && i < args.len() && !args[i].starts_with("--") => {
                i += 1;
                (opt, Some(args[i - 1].as_str()))
            }
            None => (opt, None),
        };
        if key == "name" {
            let mut j = cl.global.clone();
            j.global_options = cl.global.options.clone();
            cl.jobs.push(j);
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
    if job.read_iolog.is_some() {
        // The log names the files and the I/O.
        return Ok(());
    }
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
    if job.ioengine == "null" && job.verify {
        return Err(ParseError(format!(
            "{who}: `verify` with `ioengine=null`: a NOP moves no data to verify"
        )));
    }
    if job.verify && (job.mixed_sizes() || job.align() != job.max_bs()) {
        return Err(ParseError(format!(
            "{who}: `verify` needs one block size for reads and writes and offsets aligned to it (bsrange, bssplit, bs=R,W and blockalign make blocks overlap)"
        )));
    }
    if job.logs.issue_time && job.logs.avg_msec > 0 {
        return Err(ParseError(format!(
            "{who}: `log_issue_time` with `log_avg_msec`: a window's line stands for many I/Os, issued at many times"
        )));
    }
    let over = |min: Option<u64>, max: Option<u64>| min.zip(max).is_some_and(|(a, b)| a > b);
    if (0..3).any(|d| {
        over(job.rate_min_bps[d], job.rate_bps[d]) || over(job.rate_iops_min[d], job.rate_iops[d])
    }) {
        return Err(ParseError(format!(
            "{who}: the minimum rate exceeds the rate (as fio refuses it)"
        )));
    }
    if job.verify_only && (!job.verify || job.time_based) {
        return Err(ParseError(format!(
            "{who}: `verify_only` needs a `verify` and no `time_based` (as fio: the writes it checks are bounded by size)"
        )));
    }
    if job.verify && job.verify_digest.is_none() && job.verify_pattern.is_none() {
        return Err(ParseError(format!(
            "{who}: `verify=pattern` needs a `verify_pattern`"
        )));
    }
    if job.verify {
        // A chunk too short for its header could not be checked: refused, not skipped.
        let header = job.verify_kind().header() as u64;
        if let Some(i) = job.verify_interval {
            if i < header.max(32) || job.max_bs() % i != 0 {
                return Err(ParseError(format!(
                    "{who}: `verify_interval={i}` must divide the block size ({}) and be at least {} (a chunk holds its header)",
                    job.max_bs(),
                    header.max(32)
                )));
            }
        }
        let smallest = job.sizes.iter().map(|b| b.min()).min().unwrap_or(0);
        if smallest < header {
            return Err(ParseError(format!(
                "{who}: blocks of {smallest} bytes cannot hold the {header}-byte header of verify={}",
                job.verify_digest.map_or("?", crate::verify::Digest::name)
            )));
        }
    }
    if job.direct
        && job
            .sizes
            .iter()
            .any(|b| b.min() % 512 != 0 || b.max() % 512 != 0)
    {
        return Err(ParseError(format!(
            "{who}: `direct` needs block sizes that are multiples of 512"
        )));
    }
    if job.verify && job.pattern.trims() {
        return Err(ParseError(format!(
            "{who}: `verify` with trims: trimmed blocks hold no data to verify"
        )));
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
