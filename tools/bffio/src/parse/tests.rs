use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn no_files(p: &Path) -> std::io::Result<String> {
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("{} (test)", p.display()),
    ))
}

fn file(text: &str) -> Result<Vec<Job>, ParseError> {
    parse_job_file(
        text,
        Path::new("t.fio"),
        &Job::default(),
        &mut RunOptions::default(),
        &no_env,
        &no_files,
    )
}

fn parse_size(v: &str) -> Result<u64, String> {
    parse_size_base(v, 1024)
}

fn one(text: &str) -> Job {
    let mut jobs = file(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(jobs.len(), 1, "{text}");
    jobs.remove(0)
}

#[test]
fn sizes_use_fio_suffix_rules() {
    assert_eq!(parse_size("4k"), Ok(4096));
    assert_eq!(parse_size("4K"), Ok(4096));
    assert_eq!(
        parse_size("4KiB"),
        Ok(4000),
        "fio: IEC prefixes are decimal under kb_base=1024"
    );
    assert_eq!(parse_size("4kb"), Ok(4096));
    assert_eq!(parse_size("1m"), Ok(1 << 20));
    assert_eq!(parse_size("2MiB"), Ok(2_000_000));
    assert_eq!(parse_size_base("4KiB", 1000), Ok(4096));
    assert_eq!(parse_size_base("4kb", 1000), Ok(4000));
    assert_eq!(parse_size_base("4k", 1000), Ok(4000));
    assert_eq!(parse_size("4ki"), Ok(4096), "fio: only `kib` is IEC");
    assert_eq!(parse_size("1g"), Ok(1 << 30));
    assert_eq!(parse_size("1t"), Ok(1 << 40));
    assert_eq!(parse_size("1.5m"), Ok(3 << 19));
    assert_eq!(parse_size("512"), Ok(512));
    assert!(parse_size("4x").is_err());
    assert!(parse_size("").is_err());
    assert!(parse_size("k").is_err());
}

#[test]
fn times_use_fio_suffixes() {
    let s = Duration::from_secs(1);
    assert_eq!(parse_time("10", s), Ok(Duration::from_secs(10)));
    assert_eq!(parse_time("500ms", s), Ok(Duration::from_millis(500)));
    assert_eq!(parse_time("2m", s), Ok(Duration::from_secs(120)));
    assert_eq!(parse_time("1h", s), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_time("250us", s), Ok(Duration::from_micros(250)));
    assert_eq!(
        parse_time("250", Duration::from_micros(1)),
        Ok(Duration::from_micros(250))
    );
    assert!(parse_time("10 parsecs", s).is_err());
}

#[test]
fn each_key_sets_its_field() {
    let j = one(
        "[j]\nname=renamed\nfilename=/a:/b\ndirectory=/d\nsize=64m\nfilesize=8m\nnrfiles=2\n\
         file_service_type=random\nrw=randrw\nrwmixread=70\nbs=16k\niodepth=32\nnumjobs=3\n\
         runtime=5\ntime_based\nramp_time=1\ndirect=1\nfsync=8\nfdatasync=4\ngroup_reporting\n\
         verify=crc32c\nioengine=libaio\npercentile_list=50:99:99.9\naimd=off\npreset=shared\n",
    );
    assert_eq!(j.name, "renamed");
    assert_eq!(j.filenames, vec!["/a", "/b"]);
    assert_eq!(j.directory.as_deref(), Some("/d"));
    assert_eq!(j.size, Some(64 << 20));
    assert_eq!(j.filesize, Some(8 << 20));
    assert_eq!(j.nrfiles, 2);
    assert_eq!(j.file_service, FileService::Random);
    assert_eq!(j.pattern, Pattern::RandRw);
    assert_eq!(j.rwmixread, 70);
    assert_eq!(j.max_bs(), 16384);
    assert_eq!(j.iodepth, Some(32));
    assert_eq!(j.numjobs, 3);
    assert_eq!(j.runtime, Some(Duration::from_secs(5)));
    assert!(j.time_based && j.direct && j.group_reporting && j.verify);
    assert_eq!(j.ramp_time, Duration::from_secs(1));
    assert_eq!((j.fsync, j.fdatasync), (8, 4));
    assert_eq!(j.ioengine, "libaio");
    assert_eq!(j.percentiles, vec![50.0, 99.0, 99.9]);
    assert!(!j.aimd);
    assert_eq!(j.preset, Preset::Shared);
    assert_eq!(j.max_depth(), 32);
    let k = one("[k]\nrw=read\nrwmixwrite=30\ntarget_p99=2ms\n");
    assert_eq!(k.rwmixread, 70);
    assert_eq!(k.target_p99, Some(Duration::from_millis(2)));
    for (v, p) in [
        ("read", Pattern::Read),
        ("write", Pattern::Write),
        ("randread", Pattern::RandRead),
        ("randwrite", Pattern::RandWrite),
        ("rw", Pattern::ReadWrite),
        ("readwrite", Pattern::ReadWrite),
        ("randrw", Pattern::RandRw),
    ] {
        assert_eq!(one(&format!("[x]\nrw={v}\n")).pattern, p);
    }
}

#[test]
fn depth_defaults_follow_the_aimd_mode() {
    assert_eq!(one("[a]\n").max_depth(), 256);
    assert_eq!(one("[a]\naimd=off\n").max_depth(), 1);
    assert_eq!(one("[a]\naimd=off\niodepth=8\n").max_depth(), 8);
    assert_eq!(one("[a]\niodepth=8\n").max_depth(), 8);
}

#[test]
fn global_sections_apply_to_the_jobs_below_them() {
    let jobs = file(
        "; comment\n# another\n[global]\nbs=8k\nrw=randread\n\n[first]\nsize=1m\n\
         [global]\nbs=16k\n[second]\nsize=2m\n[third]\nbs=4k\n",
    )
    .unwrap();
    let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["first", "second", "third"]);
    assert_eq!(jobs[0].max_bs(), 8192);
    assert_eq!(jobs[1].max_bs(), 16384);
    assert_eq!(jobs[2].max_bs(), 4096);
    assert!(jobs.iter().all(|j| j.pattern == Pattern::RandRead));
    assert_eq!(jobs[1].size, Some(2 << 20));
}

#[test]
fn env_and_include_expand() {
    let env = |k: &str| (k == "SIZE").then(|| "3m".to_string());
    let load = |p: &Path| {
        if p.ends_with("common.fio") {
            Ok("[global]\nbs=${SIZE}\n".replace("${SIZE}", "8k"))
        } else {
            no_files(p)
        }
    };
    let jobs = parse_job_file(
        "include common.fio\n[j]\nsize=${SIZE}\n",
        Path::new("/x/t.fio"),
        &Job::default(),
        &mut RunOptions::default(),
        &env,
        &load,
    )
    .unwrap();
    assert_eq!(jobs[0].size, Some(3 << 20));
    assert_eq!(jobs[0].max_bs(), 8192);
    let e = parse_job_file(
        "[j]\nsize=${NOPE}\n",
        Path::new("t.fio"),
        &Job::default(),
        &mut RunOptions::default(),
        &env,
        &load,
    )
    .unwrap_err();
    assert!(e.0.contains("NOPE") && e.0.contains("t.fio:2"), "{e}");
    let e = file("include missing.fio\n").unwrap_err();
    assert!(e.0.contains("missing.fio"), "{e}");
}

#[test]
fn errors_name_the_key_the_line_and_what_is_accepted() {
    let e = file("[j]\nsize=1m\nbogus_key=3\n").unwrap_err();
    assert!(
        e.0.contains("t.fio:3") && e.0.contains("bogus_key") && e.0.contains("--cmdhelp"),
        "{e}"
    );
    let e = file("[j]\nrw=sideways\n").unwrap_err();
    assert!(
        e.0.contains("t.fio:2") && e.0.contains("sideways") && e.0.contains("randread"),
        "{e}"
    );
    let e = file("[j]\nbs=0\n").unwrap_err();
    assert!(
        e.0.contains("bs") && e.0.contains("multiple of 512 with direct"),
        "{e}"
    );
    let e = file("[j]\nsize\n").unwrap_err();
    assert!(e.0.contains("needs a value"), "{e}");
    let e = file("[j\n").unwrap_err();
    assert!(e.0.contains("lacks `]`"), "{e}");
    let e = file("[j]\niodepth=0\n").unwrap_err();
    assert!(e.0.contains("iodepth") && e.0.contains("1-32768"), "{e}");
    let e = file("[j]\nverify=sha3-256\n").unwrap_err();
    assert!(
        e.0.contains("not implemented") && e.0.contains("sha256"),
        "{e}"
    );
    let e = file("[j]\nverify=md6\n").unwrap_err();
    assert!(e.0.contains("md5, crc64"), "{e}");
    let mut run = RunOptions::default();
    let e = parse_job_file(
        "[global]\noutput-format=xml\n",
        Path::new("t.fio"),
        &Job::default(),
        &mut run,
        &no_env,
        &no_files,
    )
    .unwrap_err();
    assert!(e.0.contains("normal, json, terse"), "{e}");
}

#[test]
fn the_command_line_starts_a_job_at_each_name() {
    let args: Vec<String> = [
        "--bs=8k",
        "--output-format=json",
        "--name=a",
        "--rw=randread",
        "--size=1m",
        "--name=b",
        "--rw=write",
        "--size=2m",
        "--time_based",
        "--runtime=1",
        "jobs.fio",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let cl = parse_args(&args).unwrap();
    assert_eq!(cl.jobs.len(), 2);
    assert_eq!(cl.jobs[0].name, "a");
    assert_eq!(cl.jobs[0].max_bs(), 8192);
    assert_eq!(cl.jobs[0].pattern, Pattern::RandRead);
    assert!(!cl.jobs[0].time_based);
    assert_eq!(cl.jobs[1].pattern, Pattern::Write);
    assert!(cl.jobs[1].time_based);
    assert_eq!(cl.jobs[1].max_bs(), 8192);
    assert_eq!(cl.run.formats, [Format::Json]);
    assert_eq!(cl.files, vec![PathBuf::from("jobs.fio")]);
    let e = parse_args(&["--name=a".into(), "--depth=3".into()]).unwrap_err();
    assert!(e.0.contains("argument 2") && e.0.contains("depth"), "{e}");
}

#[test]
fn validation_catches_jobs_that_cannot_run() {
    assert!(validate(&one("[j]\n")).is_err());
    assert!(validate(&one("[j]\nsize=1m\n")).is_ok());
    assert!(validate(&one("[j]\nfilename=/dev/null\n")).is_ok());
    assert!(validate(&one("[j]\nsize=1m\ntime_based\n")).is_err());
    assert!(validate(&one("[j]\nsize=1m\naimd=off\ntarget-p99=1ms\n")).is_err());
}

proptest::proptest! {
    #[test]
    fn arbitrary_job_files_give_a_job_or_an_error(text in "(\\PC|\n|=|\\[|\\]|\\$\\{)*") {
        let _ = file(&text);
    }

    #[test]
    fn arbitrary_key_value_lines_give_a_job_or_an_error(
        lines in proptest::collection::vec(("[a-z_-]{1,16}", "[0-9a-zA-Z:.%$-]{0,12}"), 0..12)
    ) {
        let mut text = String::from("[global]\n");
        for (k, v) in &lines {
            text.push_str(&format!("{k}={v}\n"));
        }
        text.push_str("[job]\n");
        if let Ok(jobs) = file(&text) {
            proptest::prop_assert_eq!(jobs.len(), 1);
            let _ = validate(&jobs[0]);
        }
    }

    #[test]
    fn arbitrary_arguments_give_a_command_line_or_an_error(args in proptest::collection::vec("--?[a-z_=0-9.:-]{0,20}", 0..10)) {
        let _ = parse_args(&args);
    }
}

#[test]
fn kb_base_applies_to_the_sizes_after_it() {
    let j = one("[a]\nkb_base=1000\nsize=4k\nbs=4KiB\n");
    assert_eq!((j.size, j.max_bs()), (Some(4000), 4096));
    let j = one("[a]\nsize=4kib\nbs=4k\n");
    assert_eq!((j.size, j.max_bs()), (Some(4000), 4096));
    assert!(file("[a]\nkb_base=1010\n").is_err());
}

#[test]
fn new_job_keys() {
    let j = one("[a]\nloops=3\nio_size=8m\nrandrepeat=0\nrandseed=42\nthread\nnorandommap\ngtod_reduce=1\nend_fsync\nunlink=1\nsize=50%\n");
    assert_eq!(j.loops, 3);
    assert_eq!(j.io_limit, Some(8 << 20));
    assert!(!j.randrepeat && j.randseed == Some(42) && j.end_fsync && j.unlink);
    assert_eq!((j.size, j.size_percent), (None, Some(50)));
    assert_eq!(j.io_size(), 3 * (8 << 20), "io_size times loops");
    let j = one("[a]\nfsync_on_close=1\nio_limit=1m\n");
    assert!(j.end_fsync && j.io_limit == Some(1 << 20));
    // randrepeat (the default): the same offsets every run; randseed moves them.
    let (a, b) = (Job::default(), Job::default());
    assert_eq!(a.seed(0), b.seed(0));
    assert_ne!(a.seed(0), a.seed(1), "clones differ");
    let c = one("[a]\nrandseed=7\n");
    assert_ne!(c.seed(0), a.seed(0));
    assert!(file("[a]\nsize=0%\n").is_err() && file("[a]\nsize=101%\n").is_err());
}

#[test]
fn refused_and_misspelt_keys_say_why() {
    let e = file("[a]\nhipri=1\n").unwrap_err().0;
    assert!(
        e.contains("`hipri` is not supported: polled completions"),
        "{e}"
    );
    let j = one("[a]\nverify=md5\nverify_only\nverify_state_load=1\nverify_state_save=0\n");
    assert!(j.verify_only && j.verify_state_load && !j.verify_state_save);
    assert!(validate(&one("[a]\nsize=1m\nverify_only\n")).is_err());
    assert!(validate(&one(
        "[a]\nsize=1m\nverify=md5\nverify_only\ntime_based\nruntime=1\n"
    ))
    .is_err());
    for (name, d) in crate::verify::DIGESTS {
        let j = one(&format!("[a]\nverify={name}\n"));
        assert!(j.verify && j.verify_digest == Some(*d), "{name}");
    }
    let j = one("[a]\nverify=pattern\nverify_pattern=0xab\n");
    assert!(j.verify && j.verify_digest.is_none());
    // A chunk must hold its header: sha512's is 88 bytes.
    let e = validate(&one("[a]\nsize=1m\nverify=sha512\nverify_interval=64\n"))
        .unwrap_err()
        .0;
    assert!(e.contains("at least 88"), "{e}");
    let e = validate(&one("[a]\nsize=1m\nverify=sha512\nbs=64\n"))
        .unwrap_err()
        .0;
    assert!(e.contains("cannot hold the 88-byte header"), "{e}");
    assert!(validate(&one(
        "[a]\nsize=1m\nverify=crc32c\nverify_interval=32\nbs=512\n"
    ))
    .is_ok());
    let j = one("[a]\nverify=crc32c\nverify_backlog=1k\nverify_backlog_batch=8\nverify_dump\n");
    assert_eq!(
        (j.verify_backlog, j.verify_backlog_batch, j.verify_dump),
        (Some(1024), Some(8), true)
    );
    assert!(file("[a]\nverify_backlog=0\n").is_err());
    let e = file("[a]\nrate_iop=5\n").unwrap_err().0;
    assert!(
        e.contains("unknown option `rate_iop`") && e.contains("--cmdhelp"),
        "{e}"
    );
    let e = file("[a]\nrandsed=5\n").unwrap_err().0;
    assert!(e.contains("did you mean `randseed`?"), "{e}");
    assert!(cmdhelp(Some("loops")).unwrap().starts_with("loops"));
    assert!(cmdhelp(Some("--eta")).is_err());
    assert!(cmdhelp(Some("eta"))
        .unwrap()
        .contains("always, never, auto"));
    assert!(cmdhelp(None).unwrap().lines().count() > 40);
    assert!(cmdhelp(Some("runtme"))
        .unwrap_err()
        .0
        .contains("did you mean `runtime`?"));
}

#[test]
fn command_line_forms_of_fio() {
    let args = |a: &[&str]| parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let cl = args(&["-h"]).unwrap();
    assert!(cl.help && cl.files.is_empty(), "-h is help, not a job file");
    let cl = args(&["--name", "x", "--rw", "randread", "--bs", "8k", "job.fio"]).unwrap();
    assert_eq!(cl.jobs[0].name, "x");
    assert_eq!(
        (cl.jobs[0].pattern, cl.jobs[0].max_bs()),
        (Pattern::RandRead, 8192)
    );
    assert_eq!(cl.files, [PathBuf::from("job.fio")]);
    let cl = args(&[
        "--output-format=json,normal",
        "--max-jobs=16",
        "--eta=never",
        "--eta-newline=2",
        "--section=a",
        "--section",
        "b",
        "--parse-only",
        "--aux-path=/tmp",
    ])
    .unwrap();
    assert_eq!(cl.run.formats, [Format::Json, Format::Normal]);
    assert_eq!(cl.run.eta, crate::job::Eta::Never);
    assert_eq!(cl.run.eta_newline, Some(Duration::from_secs(2)));
    assert_eq!(cl.run.sections, ["a", "b"]);
    assert!(cl.run.parse_only);
    let cl = args(&["--minimal", "--showcmd", "--cmdhelp=bs"]).unwrap();
    assert_eq!(cl.run.formats, [Format::Terse]);
    assert!(cl.run.showcmd && cl.cmdhelp == Some(Some("bs".into())));
    let cl = args(&["--status-interval=500ms"]).unwrap();
    assert_eq!(cl.run.status_interval, Some(Duration::from_millis(500)));
    assert!(args(&["--status-interval=0"]).is_err());
    assert!(args(&["--bandwidth-log"]).unwrap().run.bandwidth_log);
    assert!(args(&["--eta=sometimes"]).is_err());
    // A valueless flag does not swallow the next argument.
    let cl = args(&["--time_based", "job.fio"]).unwrap();
    assert_eq!(cl.files, [PathBuf::from("job.fio")]);
}

#[test]
fn region_rate_and_delay_keys() {
    let j = one("[a]\noffset=1m\noffset_increment=512k\nstartdelay=250ms\nrate_iops=500\nrate=10m\nrw=read:4k\n");
    assert_eq!((j.offset, j.offset_increment), (1 << 20, 512 << 10));
    assert_eq!(j.startdelay, Duration::from_millis(250));
    // One value: every direction its own budget of it, as fio.
    assert_eq!(j.rate_iops, [Some(500); 3]);
    assert_eq!(j.rate_bps, [Some(10 << 20); 3]);
    // READ,WRITE: trims take the last value; a trailing comma leaves them; an empty part
    // leaves that direction; a later key sets only what it names.
    let j = one("[a]\nrate=1m,2m\nrate_iops=,300,\nrate_min=512k\nrate_min=,,1k\n");
    assert_eq!(j.rate_bps, [Some(1 << 20), Some(2 << 20), Some(2 << 20)]);
    assert_eq!(j.rate_iops, [None, Some(300), None]);
    assert_eq!(
        j.rate_min_bps,
        [Some(512 << 10), Some(512 << 10), Some(1 << 10)]
    );
    assert!(file("[a]\nrate=1m,2m,3m,4m\n").is_err() && file("[a]\nrate=,\n").is_err());
    // A minimum over the rate, in any direction, is refused (as fio).
    assert!(validate(&one("[a]\nsize=1m\nrate=1m,2m\nrate_min=,3m\n")).is_err());
    assert!(validate(&one("[a]\nsize=1m\nrate=1m,2m\nrate_min=,1m\n")).is_ok());
    let j = one("[a]\noffset=1m\noffset_increment=512k\nstartdelay=250ms\nrate_iops=500\nrate=10m\nrw=read:4k\n");
    assert_eq!((j.pattern, j.seq_gap), (Pattern::Read, 4096));
    let j = one("[a]\noffset=25%\n");
    assert_eq!((j.offset, j.offset_percent), (0, Some(25)));
    assert!(file("[a]\nrw=randread:8\n")
        .unwrap_err()
        .0
        .contains("not supported"));
    assert!(file("[a]\nrate_iops=0\n").is_err() && file("[a]\noffset=100%\n").is_err());
}

#[test]
fn batching_keys() {
    let j = one("[a]\niodepth_batch=8\niodepth_low=4\n");
    assert_eq!((j.iodepth_batch, j.iodepth_low), (Some(8), Some(4)));
    let j = one("[a]\niodepth_batch_submit=0\n");
    assert_eq!(j.iodepth_batch, None, "0: the engine tunes it");
    let bounds = |text: &str| one(&format!("[a]\n{text}")).reap_bounds();
    assert_eq!(
        bounds(""),
        (1, None),
        "one awaited, every ready one handled"
    );
    assert_eq!(
        bounds("iodepth_batch_complete_min=0\niodepth_batch_complete_max=16\n"),
        (0, Some(16))
    );
    assert_eq!(
        bounds("iodepth_batch_complete=4\n"),
        (4, Some(4)),
        "the maximum defaults to the minimum"
    );
    assert_eq!(
        bounds("iodepth_batch_complete_max=8\niodepth_batch_complete_min=16\n"),
        (16, Some(16)),
        "never below it"
    );
    assert_eq!(bounds("iodepth_batch_complete_max=8\n"), (1, Some(8)));
    assert_eq!(
        bounds("iodepth_batch_complete_min=0\n"),
        (0, None),
        "0: all"
    );
    // A global minimum and a job's own: the job's maximum follows its own minimum.
    let j = &file("[global]\niodepth_batch_complete_min=8\n[a]\niodepth_batch_complete_min=2\n")
        .unwrap()[0];
    assert_eq!(j.reap_bounds(), (2, Some(2)));
    let e = file("[a]\niodepth_batch_complete_max=0\n").unwrap_err().0;
    assert!(e.contains("iodepth_batch_complete_max"), "{e}");
}

#[test]
fn block_sizes_per_direction_ranges_and_splits() {
    use crate::job::BlockSizes::{Fixed, Range, Split};
    // READ,WRITE: trims take the writes' size (a value not followed by a comma applies on).
    let j = one("[a]\nfilename=f\nbs=4k,16k\n");
    assert_eq!(j.sizes, [Fixed(4096), Fixed(16384), Fixed(16384)]);
    assert_eq!(
        (j.align(), j.max_bs(), j.mixed_sizes()),
        (4096, 16384, true)
    );
    let j = one("[a]\nfilename=f\nbs=8k\nbs=,64k\n");
    assert_eq!(
        j.sizes,
        [Fixed(8192), Fixed(65536), Fixed(65536)],
        "an empty part keeps that direction"
    );
    let j = one("[a]\nfilename=f\nbsrange=1k-8k,4k:4k\n");
    assert_eq!(
        j.sizes,
        [
            Range { lo: 1024, hi: 8192 },
            Range { lo: 4096, hi: 4096 },
            Range { lo: 4096, hi: 4096 }
        ]
    );
    // Trims' own size, and alignment per direction (each its own block size by default).
    let j = one("[a]\nfilename=f\nrw=randtrim\nbs=4k,8k,1m\n");
    assert_eq!(j.sizes[2], Fixed(1 << 20));
    assert_eq!(
        (j.max_bs(), j.align()),
        (1 << 20, 1 << 20),
        "a trim pattern sizes by its trims"
    );
    let j = one("[a]\nfilename=f\nrw=randrw\nbs=4k,64k\n");
    assert_eq!(
        (j.align_of(0), j.align_of(1), j.align()),
        (4096, 65536, 4096)
    );
    let j = one("[a]\nfilename=f\nbs=16k\nblockalign=4k,8k\n");
    assert_eq!(
        (j.align_of(0), j.align_of(1), j.align_of(2)),
        (4096, 8192, 8192)
    );
    let j = one("[a]\nfilename=f\nbssplit=4k/10:64k/50:32k/40\n");
    assert_eq!(
        j.sizes[1],
        Split(vec![(4096, 10), (65536, 60), (32768, 100)])
    );
    // Sizes without a percentage share what is left (the remainder to the first of them).
    let j = one("[a]\nfilename=f\nbssplit=4k/50:8k/:16k\n");
    assert_eq!(
        j.sizes[0],
        Split(vec![(4096, 50), (8192, 75), (16384, 100)])
    );
    let j = one("[a]\nfilename=f\nbssplit=4k:8k:16k\n");
    assert_eq!(
        j.sizes[0],
        Split(vec![(4096, 34), (8192, 67), (16384, 100)])
    );
    let j = one("[a]\nfilename=f\nbs=16k\nblockalign=4k\n");
    assert_eq!((j.align(), j.max_bs()), (4096, 16384));
    for bad in [
        "bssplit=4k/50:8k/40",
        "bssplit=4k/70:8k/40",
        "bsrange=8k-4k",
        "bsrange=4k",
        "bs=4k,8k,16k,32k",
        "bs=0",
        "blockalign=4k,8k,16k,32k",
    ] {
        let e = file(&format!("[a]\nfilename=f\n{bad}\n")).unwrap_err().0;
        assert!(e.contains("bad value"), "{bad}: {e}");
    }
    let e = validate(&one(
        "[a]\nfilename=f\nbssplit=4k/50:8k/50\nverify=crc32c\n",
    ))
    .unwrap_err()
    .0;
    assert!(e.contains("`verify` needs one block size"), "{e}");
}

#[test]
fn block_size_draws_follow_the_split() {
    use crate::job::BlockSizes::{Range, Split};
    let s = Split(vec![(4096, 25), (65536, 100)]);
    let small = (0..1000u64).filter(|&r| s.draw(r) == 4096).count();
    assert_eq!(small, 250, "25% of the draws");
    let r = Range {
        lo: 4096,
        hi: 16384,
    };
    let mut seen: Vec<u64> = (0..100u64).map(|x| r.draw(x)).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen, [4096, 8192, 12288, 16384], "multiples of LO up to HI");
}

#[test]
fn random_distributions_and_generators() {
    use crate::offsets::Distribution;
    let j = one("[a]\nfilename=f\nrandom_distribution=zipf:1.2\n");
    assert_eq!(
        j.random_distribution[1],
        Distribution::Zipf {
            theta: 1.2,
            base: None
        }
    );
    let j = one("[a]\nfilename=f\nrandom_distribution=random,normal:10:0.25\n");
    assert_eq!(j.random_distribution[0], Distribution::Uniform);
    assert_eq!(
        j.random_distribution[1],
        Distribution::Normal {
            dev_pct: 10.0,
            base: 0.25
        }
    );
    let j = one("[a]\nfilename=f\nrandom_distribution=zoned_abs:60/1m:40/3m\n");
    assert_eq!(
        j.random_distribution[0],
        Distribution::ZonedAbs(vec![(60, 1 << 20), (100, 4 << 20)])
    );
    assert!(one("[a]\nfilename=f\nrandom_generator=lfsr\n").lfsr);
    assert!(one("[a]\nfilename=f\nnorandommap\n").norandommap);
    for bad in ["random_distribution=zipf:1", "random_generator=mt19937"] {
        let e = file(&format!("[a]\nfilename=f\n{bad}\n")).unwrap_err().0;
        assert!(e.contains("bad value"), "{bad}: {e}");
    }
}

#[test]
fn keys_outside_any_section_are_errors() {
    let e = file("rw=read\n[a]\nfilename=f\n").unwrap_err().0;
    assert!(
        e.contains("t.fio:1") && e.contains("outside of any section"),
        "{e}"
    );
    // Comments and blank lines before the first section are fine.
    assert_eq!(file("; a comment\n\n[a]\nfilename=f\n").unwrap().len(), 1);
}

#[test]
fn kb_base_applies_to_its_whole_section_and_odd_sizes_are_buffered_only() {
    // fio reads a section's kb_base first: the size above it is 8000 bytes, as in fio 3.33.
    let j = one("[a]\nfilename=f\nbs=1000\nsize=8k\nkb_base=1000\n");
    assert_eq!((j.size, j.max_bs()), (Some(8000), 1000));
    // A [global] kb_base reaches the jobs below it.
    let j = one("[global]\nsize=8k\nkb_base=1000\n[a]\nfilename=f\n");
    assert_eq!(j.size, Some(8000));
    assert!(
        validate(&one("[a]\nfilename=f\nbs=1000\n")).is_ok(),
        "buffered: any size"
    );
    let e = validate(&one("[a]\nfilename=f\nbs=1000\ndirect=1\n"))
        .unwrap_err()
        .0;
    assert!(e.contains("multiples of 512"), "{e}");
}

#[test]
fn keys_accepted_for_what_bffio_does_anyway() {
    let j = one("[a]\nfilename=f\ntimeout=3\n");
    assert_eq!(
        j.runtime,
        Some(Duration::from_secs(3)),
        "timeout: fio's alias of runtime"
    );
    for k in [
        "lat_percentiles=1",
        "clat_percentiles=0",
        "overwrite=1",
        "fallocate=none",
        "fallocate=posix",
        "verify_async=2",
    ] {
        one(&format!("[a]\nfilename=f\n{k}\n"));
    }
    let e = file("[a]\nfilename=f\nfallocate=sometimes\n")
        .unwrap_err()
        .0;
    assert!(e.contains("sometimes"), "{e}");
}
