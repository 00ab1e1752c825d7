//! What a job is: fio's options (the subset bffio runs) and auraio's own, with fio's defaults.

use std::path::PathBuf;
use std::time::Duration;

/// The I/O pattern (`rw=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Sequential reads.
    Read,
    /// Sequential writes.
    Write,
    /// Random reads.
    RandRead,
    /// Random writes.
    RandWrite,
    /// Sequential mixed reads and writes.
    ReadWrite,
    /// Random mixed reads and writes.
    RandRw,
    /// Sequential trims.
    Trim,
    /// Random trims.
    RandTrim,
    /// Sequential trims, each block written after its trim.
    TrimWrite,
    /// Random trims, each block written after its trim.
    RandTrimWrite,
}

impl Pattern {
    /// fio's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Read => "read",
            Pattern::Write => "write",
            Pattern::RandRead => "randread",
            Pattern::RandWrite => "randwrite",
            Pattern::ReadWrite => "rw",
            Pattern::RandRw => "randrw",
            Pattern::Trim => "trim",
            Pattern::RandTrim => "randtrim",
            Pattern::TrimWrite => "trimwrite",
            Pattern::RandTrimWrite => "randtrimwrite",
        }
    }

    /// Whether offsets are random.
    pub fn random(self) -> bool {
        matches!(
            self,
            Pattern::RandRead
                | Pattern::RandWrite
                | Pattern::RandRw
                | Pattern::RandTrim
                | Pattern::RandTrimWrite
        )
    }

    /// Whether the pattern trims.
    pub fn trims(self) -> bool {
        matches!(
            self,
            Pattern::Trim | Pattern::RandTrim | Pattern::TrimWrite | Pattern::RandTrimWrite
        )
    }

    /// Whether each trimmed block is written after its trim.
    pub fn writes_after_trim(self) -> bool {
        matches!(self, Pattern::TrimWrite | Pattern::RandTrimWrite)
    }

    /// Share of reads, in percent, given `rwmixread`.
    pub fn read_percent(self, rwmixread: u32) -> u32 {
        match self {
            Pattern::Read | Pattern::RandRead => 100,
            Pattern::Write
            | Pattern::RandWrite
            | Pattern::Trim
            | Pattern::RandTrim
            | Pattern::TrimWrite
            | Pattern::RandTrimWrite => 0,
            Pattern::ReadWrite | Pattern::RandRw => rwmixread,
        }
    }
}

/// How a job with several files picks the file of the next I/O (`file_service_type=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileService {
    /// Files in turn.
    RoundRobin,
    /// A random file each time.
    Random,
    /// One file after the other.
    Sequential,
}

/// Engine preset a job's thread uses (`--preset=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// `Engine<CpuLocal, SingleThread>`: the job thread owns its engine (the default).
    Local,
    /// `Engine<Adaptive, MultiThread>`.
    Shared,
    /// `Engine<RoundRobin, MultiThread>`.
    RoundRobin,
    /// `Engine<CpuLocal, MultiThread>`.
    CpuLocal,
}

impl Preset {
    /// Accepted spellings.
    pub const NAMES: &'static str = "local, shared, round-robin, cpu-local";

    /// bffio's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Local => "local",
            Preset::Shared => "shared",
            Preset::RoundRobin => "round-robin",
            Preset::CpuLocal => "cpu-local",
        }
    }
}

/// Output format (`--output-format=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// fio's human-readable report.
    Normal,
    /// fio's JSON structure plus an "auraio" section.
    Json,
    /// json+: the JSON with each completion-latency histogram's buckets ("bins").
    JsonPlus,
    /// fio's terse format, version 3.
    Terse,
}

/// One job, fully resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// `name`.
    pub name: String,
    /// `filename`: explicit files (`:`-separated in fio's syntax).
    pub filenames: Vec<String>,
    /// `directory`.
    pub directory: Option<String>,
    /// `size`: bytes of I/O per job (and the size of its files when they are made).
    pub size: Option<u64>,
    /// `filesize`: size of each file.
    pub filesize: Option<u64>,
    /// `nrfiles`.
    pub nrfiles: u32,
    /// `file_service_type`.
    pub file_service: FileService,
    /// `rw`.
    pub pattern: Pattern,
    /// `rwmixread`.
    pub rwmixread: u32,
    /// I/O sizes of reads (`[0]`), writes (`[1]`) and trims (`[2]`): `bs=R,W,T`, `bsrange`,
    /// `bssplit`.
    pub sizes: [BlockSizes; 3],
    /// `exitall`: when this job ends, the others of its group (or, `exit_what=all`, every
    /// job) end too.
    pub exitall: bool,
    /// `exit_what=all`.
    pub exit_all_groups: bool,
    /// `invalidate` (fio's default: on): the files' cached pages dropped before the job.
    pub invalidate: bool,
    /// `cpus_allowed`: the CPUs the job's threads run on.
    pub cpus_allowed: Option<Vec<usize>>,
    /// `cpus_allowed_policy=split`: one CPU of the set per thread.
    pub cpus_split: bool,
    /// io_uring's `fixedbufs`: the slots' buffers registered, I/O through READ/WRITE_FIXED.
    pub fixedbufs: bool,
    /// io_uring's `registerfiles`.
    pub registerfiles: bool,
    /// io_uring's `sqthread_poll`: a kernel thread polls the submission queue (SQPOLL).
    pub sqthread_poll: bool,
    /// io_uring's `force_async=1`: every request issued asynchronously (IOSQE_ASYNC).
    pub force_async: bool,
    /// `write_iolog`: what the job issues, logged in fio's iolog format.
    pub write_iolog: Option<String>,
    /// `read_iolog`: the I/O to replay instead of the job's pattern.
    pub read_iolog: Option<String>,
    /// `replay_no_stall`: replay as fast as the depth allows, not at the log's times.
    pub replay_no_stall: bool,
    /// `zero_buffers`.
    pub zero_buffers: bool,
    /// `refill_buffers`.
    pub refill_buffers: bool,
    /// `scramble_buffers` (fio's default: on).
    pub scramble_buffers: bool,
    /// `buffer_pattern`, as bytes.
    pub buffer_pattern: Option<Vec<u8>>,
    /// `random_distribution` of reads (`[0]`) and writes (`[1]`).
    pub random_distribution: [crate::offsets::Distribution; 2],
    /// `norandommap`: random offsets drawn with replacement (by default a pass visits each
    /// block once).
    pub norandommap: bool,
    /// `random_generator=lfsr`: each block once per pass, even with `norandommap`.
    pub lfsr: bool,
    /// `blockalign`, per direction: where random offsets fall (a multiple of it; default:
    /// that direction's smallest block size, as fio).
    pub blockalign: [Option<u64>; 3],
    /// `iodepth`, if given.
    pub iodepth: Option<u32>,
    /// `numjobs`.
    pub numjobs: u32,
    /// `runtime`.
    pub runtime: Option<Duration>,
    /// `time_based`.
    pub time_based: bool,
    /// `ramp_time`.
    pub ramp_time: Duration,
    /// `direct`.
    pub direct: bool,
    /// `fsync`: an fsync after every N writes (0: never).
    pub fsync: u32,
    /// `fdatasync`: an fdatasync after every N writes (0: never).
    pub fdatasync: u32,
    /// `group_reporting`.
    pub group_reporting: bool,
    /// `verify=`: verify blocks written and read back.
    pub verify: bool,
    /// What `verify=` named: a checksum, or `None` for `pattern` (the blocks hold
    /// `verify_pattern`).
    pub verify_digest: Option<crate::verify::Digest>,
    /// `verify_pattern`.
    pub verify_pattern: Option<Vec<u8>>,
    /// `verify_interval`: bytes per checksummed chunk (default: the block size).
    pub verify_interval: Option<u64>,
    /// `verify_only`: no I/O of the job's own, only the read-back of what an earlier run
    /// wrote.
    pub verify_only: bool,
    /// `verify_state_save` (default on, as fio): the blocks written, saved at the job's end.
    pub verify_state_save: bool,
    /// `verify_state_load`: `verify_only` checks the blocks the saved state names.
    pub verify_state_load: bool,
    /// `--aux-path` (a run option, copied into every job): where verify dumps and state
    /// files go (else the working directory).
    pub aux_path: Option<PathBuf>,
    /// `verify_fatal`: the first mismatch ends the job (else every block is checked).
    pub verify_fatal: bool,
    /// `verify_backlog`: after this many blocks written, writing pauses while they are read
    /// back and checked (else every block is checked once the writes are done).
    pub verify_backlog: Option<u64>,
    /// `verify_backlog_batch`: how many of the waiting blocks each pause checks (default:
    /// all of the backlog); those left wait for the next pause or the end.
    pub verify_backlog_batch: Option<u64>,
    /// `verify_dump`: a mismatched block is written to `NAME.OFFSET.received` and what was
    /// expected to `NAME.OFFSET.expected`, in the working directory.
    pub verify_dump: bool,
    /// `do_verify` (default 1): the read-back after a write job.
    pub do_verify: bool,
    /// `continue_on_error`: which errors are counted and passed over instead of stopping the
    /// job (read, write, verify), as fio's `none`, `read`, `write`, `io`, `verify`, `all`.
    pub continue_on: ContinueOn,
    /// `ioengine` (accepted and recorded: bffio always runs auraio).
    pub ioengine: String,
    /// `percentile_list`.
    pub percentiles: Vec<f64>,
    /// `--aimd`: let the engine find the depth (iodepth is then the upper bound).
    pub aimd: bool,
    /// `--target-p99`.
    pub target_p99: Option<Duration>,
    /// `--preset`.
    pub preset: Preset,
    /// `randrepeat` (fio's default: on): the same random offsets every run.
    pub randrepeat: bool,
    /// `randseed`: the seed of the random offsets (and of `randrepeat=0`'s per-run seeds).
    pub randseed: Option<u64>,
    /// `loops`: the workload this many times over (not with `time_based`).
    pub loops: u32,
    /// `io_size` / `io_limit`: bytes of I/O, when not the whole `size`.
    pub io_limit: Option<u64>,
    /// `size=N%`: that share of the existing file's (or device's) size, resolved before the
    /// run.
    pub size_percent: Option<u32>,
    /// `kb_base`: 1024 (fio's default: k/m/g are powers of 2, ki/mi/gi powers of 10) or 1000
    /// (the other way round).
    pub kb_base: u32,
    /// `end_fsync`: an fsync of every file when the job's I/O ends.
    pub end_fsync: bool,
    /// `unlink`: remove the job's files when it ends.
    pub unlink: bool,
    /// `offset`: where the I/O region starts in each file (bytes, or a percentage of the
    /// file's size when `offset_percent` is set).
    pub offset: u64,
    /// `offset=N%`.
    pub offset_percent: Option<u32>,
    /// fio's I/O logs: `write_bw_log`, `write_lat_log`, `write_iops_log` and their options.
    pub logs: crate::iolog::LogOptions,
    /// `offset_increment`: added to the offset for each clone of the job (`numjobs`).
    pub offset_increment: u64,
    /// `startdelay`: the job's I/O starts this long after the job does.
    pub startdelay: Duration,
    /// `rate_iops`: at most this many I/Os per second, per direction (read, write, trim), as
    /// fio: each direction has its own budget.
    pub rate_iops: [Option<u64>; 3],
    /// `rate`: at most this many bytes per second, per direction.
    pub rate_bps: [Option<u64>; 3],
    /// `rate_min`: bytes per second a rate cycle must complete in that direction, or the job
    /// ends (EIO).
    pub rate_min_bps: [Option<u64>; 3],
    /// `rate_iops_min`: I/Os per second a rate cycle must complete in that direction.
    pub rate_iops_min: [Option<u64>; 3],
    /// `rate_cycle`: the cycle, ms.
    pub rate_cycle_ms: u64,
    /// `rate_process=poisson`: I/Os issued at exponential gaps around the rate.
    pub rate_poisson: bool,
    /// `rw=…:N` for a sequential pattern: bytes skipped after each I/O.
    pub seq_gap: u64,
    /// `stonewall` / `wait_for_previous`: starts once every job before it has ended, and
    /// begins a new reporting group.
    pub stonewall: bool,
    /// `new_group`: begins a new reporting group.
    pub new_group: bool,
    /// `wait_for`: starts once the named job has ended.
    pub wait_for: Option<String>,
    /// The reporting group (fio's `groupid`), counted from the `stonewall`s and `new_group`s
    /// before it.
    pub group: u32,
    /// `iodepth_batch` / `iodepth_batch_submit`: SQEs gathered before a submit system call
    /// (the engine's batch threshold, pinned; none: the engine tunes it).
    pub iodepth_batch: Option<u32>,
    /// `iodepth_low`: once the queue is full, refill only when it has drained to this.
    pub iodepth_low: Option<u32>,
    /// `iodepth_batch_complete_min` as written; see [`reap_bounds`](Self::reap_bounds).
    pub complete_min: Option<u32>,
    /// `iodepth_batch_complete_max` as written; see [`reap_bounds`](Self::reap_bounds).
    pub complete_max: Option<u32>,
    /// Options as written (key, value): the global ones and the job's own.
    pub options: Vec<(String, String)>,
    /// The global options (command line before the job, `[global]` sections) the job began
    /// with: fio's JSON reports them as "global options", the rest as "job options".
    pub global_options: Vec<(String, String)>,
}

/// fio's default percentile list.
pub const DEFAULT_PERCENTILES: [f64; 17] = [
    1.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95,
    99.99,
];

/// Upper bound of the depth the engine may choose when iodepth is not given.
pub const AIMD_DEFAULT_MAX_DEPTH: u32 = 256;

impl Default for Job {
    fn default() -> Self {
        Job {
            name: "job".into(),
            filenames: Vec::new(),
            directory: None,
            size: None,
            filesize: None,
            nrfiles: 1,
            file_service: FileService::RoundRobin,
            pattern: Pattern::Read,
            rwmixread: 50,
            sizes: [
                BlockSizes::Fixed(4096),
                BlockSizes::Fixed(4096),
                BlockSizes::Fixed(4096),
            ],
            blockalign: [None; 3],
            random_distribution: [
                crate::offsets::Distribution::Uniform,
                crate::offsets::Distribution::Uniform,
            ],
            norandommap: false,
            exitall: false,
            exit_all_groups: false,
            invalidate: true,
            cpus_allowed: None,
            cpus_split: false,
            fixedbufs: false,
            registerfiles: false,
            sqthread_poll: false,
            force_async: false,
            write_iolog: None,
            read_iolog: None,
            replay_no_stall: false,
            zero_buffers: false,
            refill_buffers: false,
            scramble_buffers: true,
            buffer_pattern: None,
            lfsr: false,
            iodepth: None,
            numjobs: 1,
            logs: crate::iolog::LogOptions::new(),
            runtime: None,
            time_based: false,
            ramp_time: Duration::ZERO,
            direct: false,
            fsync: 0,
            fdatasync: 0,
            group_reporting: false,
            verify: false,
            verify_digest: Some(crate::verify::Digest::Crc32c),
            verify_only: false,
            verify_state_save: true,
            verify_state_load: false,
            aux_path: None,
            verify_pattern: None,
            verify_interval: None,
            verify_fatal: false,
            verify_backlog: None,
            verify_backlog_batch: None,
            verify_dump: false,
            do_verify: true,
            continue_on: ContinueOn::default(),
            ioengine: "auraio".into(),
            percentiles: DEFAULT_PERCENTILES.to_vec(),
            aimd: true,
            target_p99: None,
            preset: Preset::Local,
            randrepeat: true,
            randseed: None,
            loops: 1,
            io_limit: None,
            size_percent: None,
            kb_base: 1024,
            end_fsync: false,
            unlink: false,
            offset: 0,
            offset_percent: None,
            offset_increment: 0,
            startdelay: Duration::ZERO,
            rate_iops: [None; 3],
            rate_bps: [None; 3],
            rate_min_bps: [None; 3],
            rate_iops_min: [None; 3],
            rate_cycle_ms: 1000,
            rate_poisson: false,
            seq_gap: 0,
            stonewall: false,
            new_group: false,
            wait_for: None,
            group: 0,
            iodepth_batch: None,
            iodepth_low: None,
            complete_min: None,
            complete_max: None,
            options: Vec::new(),
            global_options: Vec::new(),
        }
    }
}

impl Job {
    /// Requests the job keeps outstanding at most: iodepth, or with AIMD and no iodepth, 256.
    pub fn max_depth(&self) -> u32 {
        // fio's synchronous engines have one I/O in flight whatever iodepth says.
        if self.sync_engine() {
            return 1;
        }
        match (self.iodepth, self.aimd) {
            (Some(d), _) => d.max(1),
            (None, true) => AIMD_DEFAULT_MAX_DEPTH,
            (None, false) => 1,
        }
    }

    /// Whether `ioengine` names one of fio's synchronous engines (one I/O at a time).
    pub fn sync_engine(&self) -> bool {
        matches!(
            self.ioengine.as_str(),
            "psync" | "sync" | "pvsync" | "pvsync2"
        )
    }

    /// Size of each file.
    /// Where direction `d`'s random offsets fall (a multiple of it): its `blockalign`, else
    /// its smallest block size.
    pub fn align_of(&self, d: usize) -> u64 {
        self.blockalign[d].unwrap_or_else(|| self.sizes[d].min())
    }

    /// The job's unit of offsets: the smallest of the directions' alignments. Regions and the
    /// lengths of files are multiples of it.
    pub fn align(&self) -> u64 {
        self.directions()
            .map(|d| self.align_of(d))
            .min()
            .unwrap_or(4096)
    }

    /// The directions whose sizes the pattern uses: reads and writes, or with trims the trims
    /// (and a trimwrite's writes, which take the trims' sizes).
    fn directions(&self) -> impl Iterator<Item = usize> {
        if self.pattern.trims() {
            2..3
        } else {
            0..2
        }
    }

    /// What a reap waits for and how many completions it hands on before the queue is
    /// refilled (none: every one that is ready). Neither key written: wait for one, hand on
    /// all, as the engine reaps its completion queue in one pass. Either written: fio's rule,
    /// the maximum is at least the minimum (by default equal to it), and 0 means all.
    pub fn reap_bounds(&self) -> (u32, Option<usize>) {
        let min = self.complete_min.unwrap_or(1);
        if self.complete_min.is_none() && self.complete_max.is_none() {
            return (min, None);
        }
        let max = self.complete_max.unwrap_or(0).max(min);
        (min, (max > 0).then_some(max as usize))
    }

    /// The largest I/O the job issues (its buffers' size).
    pub fn max_bs(&self) -> u64 {
        self.directions()
            .map(|d| self.sizes[d].max())
            .max()
            .unwrap_or(4096)
    }

    /// Whether its I/Os come in more than one size.
    pub fn mixed_sizes(&self) -> bool {
        self.sizes[0] != self.sizes[1] || self.sizes[..2].iter().any(BlockSizes::varies)
    }

    /// What its write buffers hold: a pattern if given, else zeros if asked, else random
    /// bytes (refilled or scrambled per write as asked).
    pub fn fill(&self) -> crate::buffers::Fill {
        use crate::buffers::Fill;
        match (&self.buffer_pattern, self.zero_buffers) {
            (Some(p), _) => Fill::Pattern(p.clone()),
            (None, true) => Fill::Zero,
            (None, false) => Fill::Random {
                refill: self.refill_buffers,
                scramble: self.scramble_buffers,
            },
        }
    }

    /// What verification writes and checks (when `verify` is on).
    pub fn verify_kind(&self) -> crate::verify::Verify {
        match (&self.verify_pattern, self.verify_digest) {
            (_, Some(d)) => crate::verify::Verify::Sum(d),
            (Some(p), None) => crate::verify::Verify::Pattern(p.clone()),
            (None, None) => unreachable!("the parser refuses verify=pattern without a pattern"),
        }
    }

    /// The bytes each checksummed chunk covers.
    pub fn verify_chunk(&self) -> usize {
        self.verify_interval.unwrap_or(self.max_bs()) as usize
    }

    /// The options set for this job itself (fio's "job options"), not inherited.
    pub fn own_options(&self) -> impl Iterator<Item = &(String, String)> {
        self.options
            .iter()
            .filter(|o| !self.global_options.contains(o))
    }

    pub fn file_size(&self) -> u64 {
        match (self.filesize, self.size) {
            (Some(f), _) => f,
            (None, Some(s)) => s / u64::from(self.nrfiles.max(1)),
            (None, None) => 0,
        }
    }

    /// Bytes of I/O the job does (when not time based): `io_size`, else `size` (or all its
    /// files), times `loops`.
    pub fn io_size(&self) -> u64 {
        let once = self.io_limit.unwrap_or_else(|| {
            self.size
                .unwrap_or(self.file_size() * u64::from(self.nrfiles.max(1)))
        });
        once.saturating_mul(u64::from(self.loops.max(1)))
    }

    /// The seed of clone `clone`'s random offsets: from `randseed` when given (as fio, even
    /// with `randrepeat=0`), else fixed unless `randrepeat=0`, which draws a new one each run.
    pub fn seed(&self, clone: u32) -> u64 {
        let base = self.randseed.unwrap_or(0x5eed_0000_0000_0000);
        let run = if self.randrepeat || self.randseed.is_some() {
            0
        } else {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            t ^ u64::from(std::process::id()).rotate_left(32)
        };
        base ^ (u64::from(clone) << 32) ^ run
    }
}

/// When the live status line is shown (`--eta`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eta {
    /// When stderr is a terminal and the report is text.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Options of the run as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// `--output-format`: one or more (comma-separated), reported in that order.
    pub formats: Vec<Format>,
    /// `--eta`: the live status line (`Auto`: when stderr is a terminal and the report is
    /// text).
    pub eta: Eta,
    /// `--eta-newline`: end the status line with a newline this often.
    pub eta_newline: Option<Duration>,
    /// `--status-interval`: a full report of the values so far, at this interval.
    pub status_interval: Option<Duration>,
    /// `--section`: run only these sections of the job files (none: all).
    pub sections: Vec<String>,
    /// `--parse-only`.
    pub parse_only: bool,
    /// `--showcmd`: print each job as command-line options and exit.
    pub showcmd: bool,
    /// `--bandwidth-log`: write fio's aggregate bandwidth logs (`agglog`).
    pub bandwidth_log: bool,
    /// `--output`.
    pub output: Option<String>,
    /// `--plot`.
    pub plot: Option<String>,
    /// `--aux-path`.
    pub aux_path: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            formats: vec![Format::Normal],
            eta: Eta::Auto,
            eta_newline: None,
            status_interval: None,
            sections: Vec::new(),
            parse_only: false,
            showcmd: false,
            bandwidth_log: false,
            output: None,
            plot: None,
            aux_path: None,
        }
    }
}

/// The job bffio runs with no arguments: 4 KiB random reads from a 256 MiB file under
/// $TMPDIR for 10 s, the depth found by the engine.
pub fn default_job() -> Job {
    let dir = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
    Job {
        name: "default".into(),
        filenames: vec![format!("{dir}/bffio-default.dat")],
        size: Some(256 << 20),
        pattern: Pattern::RandRead,
        runtime: Some(Duration::from_secs(10)),
        time_based: true,
        // The default run measures the engine on the page cache (the file it lays out, or
        // reuses, is cached); fio's invalidate would make its first seconds a disk test.
        invalidate: false,
        options: vec![
            ("rw".into(), "randread".into()),
            ("bs".into(), "4k".into()),
            ("size".into(), "256m".into()),
            ("runtime".into(), "10".into()),
            ("time_based".into(), String::new()),
            ("invalidate".into(), "0".into()),
        ],
        ..Job::default()
    }
}

/// The errors `continue_on_error` passes over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContinueOn {
    /// Read errors.
    pub read: bool,
    /// Write errors (and fsync errors).
    pub write: bool,
    /// Verification failures.
    pub verify: bool,
}

impl ContinueOn {
    /// fio's values: `none`/`0`, `read`, `write`, `io` (read and write), `verify`, `all`/`1`.
    pub fn parse(v: &str) -> Option<Self> {
        let (read, write, verify) = match v {
            "none" | "0" => (false, false, false),
            "read" => (true, false, false),
            "write" => (false, true, false),
            "io" => (true, true, false),
            "verify" => (false, false, true),
            "all" | "1" => (true, true, true),
            _ => return None,
        };
        Some(ContinueOn {
            read,
            write,
            verify,
        })
    }
}

/// The I/O sizes of one direction.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockSizes {
    /// `bs`: one size.
    Fixed(u64),
    /// `bsrange=LO-HI`: multiples of `lo` up to `hi`, equally likely.
    Range { lo: u64, hi: u64 },
    /// `bssplit`: sizes with their cumulative percentages (the last is 100).
    Split(Vec<(u64, u32)>),
}

impl BlockSizes {
    /// The smallest size.
    pub fn min(&self) -> u64 {
        match self {
            BlockSizes::Fixed(n) => *n,
            BlockSizes::Range { lo, .. } => *lo,
            BlockSizes::Split(v) => v.iter().map(|e| e.0).min().unwrap_or(0),
        }
    }

    /// The largest size.
    pub fn max(&self) -> u64 {
        match self {
            BlockSizes::Fixed(n) => *n,
            BlockSizes::Range { hi, .. } => *hi,
            BlockSizes::Split(v) => v.iter().map(|e| e.0).max().unwrap_or(0),
        }
    }

    /// Whether more than one size is issued.
    pub fn varies(&self) -> bool {
        self.min() != self.max()
    }

    /// The size of one I/O, from a random number `r`.
    pub fn draw(&self, r: u64) -> u64 {
        match self {
            BlockSizes::Fixed(n) => *n,
            BlockSizes::Range { lo, hi } => lo * (1 + r % (hi / lo)),
            BlockSizes::Split(v) => {
                let pct = (r % 100) as u32;
                v.iter()
                    .find(|e| pct < e.1)
                    .map_or(v[v.len() - 1].0, |e| e.0)
            }
        }
    }
}
