//! `--bandwidth-log`: fio's aggregate bandwidth logs, `agg-read_bw.log`, `agg-write_bw.log`
//! and `agg-trim_bw.log` in the working directory. Every `INTERVAL` (and once at the end),
//! each direction's bandwidth over the interval, summed over every job (what each moved after
//! its `ramp_time`: fio's lines are zeros during it), in KiB/s, as fio's log
//! lines (`msec, value, direction, 0, 0`). The end's line is left out when it would cover
//! under half an interval: the threads publish what they moved every 100 ms and at their end,
//! so a short last interval would show a burst that did not happen. fio 3.33 writes them only while it prints its ETA
//! line (`--eta=always`, or a terminal); bffio in every run.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::time::Duration;

/// Time between two lines of each log.
pub const INTERVAL: Duration = Duration::from_millis(500);

/// fio's file names, by direction (read, write, trim).
const NAMES: [&str; 3] = ["agg-read_bw.log", "agg-write_bw.log", "agg-trim_bw.log"];

/// The three logs and what their last lines counted.
pub struct AggLog {
    files: RefCell<[BufWriter<File>; 3]>,
    /// (seconds since the start, bytes per direction) at the last line.
    last: RefCell<(f64, [u64; 3])>,
}

impl AggLog {
    /// Creates (truncates) the three files.
    pub fn create() -> io::Result<Self> {
        let open = |name: &str| {
            File::create(name)
                .map(BufWriter::new)
                .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))
        };
        Ok(AggLog {
            files: RefCell::new([open(NAMES[0])?, open(NAMES[1])?, open(NAMES[2])?]),
            last: RefCell::new((0.0, [0; 3])),
        })
    }

    /// At `elapsed` seconds with `bytes` moved so far per direction: a line in each log if an
    /// interval has passed since the last ones (at the `end`, half of one).
    pub fn sample(&self, elapsed: f64, bytes: [u64; 3], end: bool) -> io::Result<()> {
        let (t0, before) = *self.last.borrow();
        let dt = elapsed - t0;
        let due = INTERVAL.as_secs_f64() * if end { 0.5 } else { 1.0 };
        if dt < due {
            if end {
                for f in self.files.borrow_mut().iter_mut() {
                    f.flush()?;
                }
            }
            return Ok(());
        }
        *self.last.borrow_mut() = (elapsed, bytes);
        let ms = (elapsed * 1000.0) as u64;
        for (d, f) in self.files.borrow_mut().iter_mut().enumerate() {
            let kib_s = (bytes[d] - before[d]) as f64 / 1024.0 / dt;
            writeln!(f, "{ms}, {}, {d}, 0, 0", kib_s as u64)?;
            if end {
                f.flush()?;
            }
        }
        Ok(())
    }
}
