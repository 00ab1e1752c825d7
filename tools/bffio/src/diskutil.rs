//! fio's "Disk stats": what the block devices under the jobs' files did during the run, from
//! `/sys/dev/block/MAJ:MIN/stat` read before and after it (I/Os, merges, ticks, time in
//! queue, and the share of the run the device was busy). Files on tmpfs (no block device)
//! have none, as in fio.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One device's figures over the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiskUtil {
    pub name: String,
    pub read_ios: u64,
    pub write_ios: u64,
    pub read_merges: u64,
    pub write_merges: u64,
    /// Milliseconds spent on reads and writes.
    pub read_ticks: u64,
    pub write_ticks: u64,
    /// Milliseconds of requests' time in the queue.
    pub in_queue: u64,
    /// Percent of the run the device was busy.
    pub util: f64,
}

/// The devices being watched and their counters at the start.
pub struct Watch {
    disks: Vec<(String, PathBuf, [u64; 11])>,
    start: Instant,
}

/// The stat file's first eleven counters (read I/Os, merges, sectors, ticks; the same for
/// writes; in flight, busy ms, queue ms).
fn counters(stat: &Path) -> Option<[u64; 11]> {
    let text = std::fs::read_to_string(stat).ok()?;
    let mut out = [0u64; 11];
    let mut fields = text.split_whitespace();
    for v in &mut out {
        *v = fields.next()?.parse().ok()?;
    }
    Some(out)
}

/// The block device a path lives on (the device itself for a device node), as its name and
/// stat file; `None` off block devices (tmpfs). A path not made yet is looked up by its
/// directory.
fn device_of(path: &Path) -> Option<(String, PathBuf)> {
    let parent = || {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    };
    let meta = std::fs::metadata(path)
        .or_else(|_| std::fs::metadata(parent()))
        .ok()?;
    let dev = if meta.file_type().is_block_device() {
        meta.rdev()
    } else {
        meta.dev()
    };
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let sys = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    let name = std::fs::canonicalize(&sys)
        .ok()?
        .file_name()?
        .to_string_lossy()
        .into_owned();
    let stat = sys.join("stat");
    stat.exists().then_some((name, stat))
}

impl Watch {
    /// Starts watching the devices under `paths` (each once).
    pub fn start(paths: &[PathBuf]) -> Watch {
        let mut disks: Vec<(String, PathBuf, [u64; 11])> = Vec::new();
        for p in paths {
            if let Some((name, stat)) = device_of(p) {
                if disks.iter().all(|d| d.0 != name) {
                    if let Some(c) = counters(&stat) {
                        disks.push((name, stat, c));
                    }
                }
            }
        }
        Watch {
            disks,
            start: Instant::now(),
        }
    }

    /// What each device did since the start.
    pub fn finish(&self) -> Vec<DiskUtil> {
        let ms = (self.start.elapsed().as_secs_f64() * 1e3).max(1.0);
        self.disks
            .iter()
            .filter_map(|(name, stat, a)| {
                let b = counters(stat)?;
                let d = |i: usize| b[i].saturating_sub(a[i]);
                Some(DiskUtil {
                    name: name.clone(),
                    read_ios: d(0),
                    read_merges: d(1),
                    read_ticks: d(3),
                    write_ios: d(4),
                    write_merges: d(5),
                    write_ticks: d(7),
                    in_queue: d(10),
                    util: (d(9) as f64 * 100.0 / ms).min(100.0),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_has_no_device_and_a_device_node_is_its_own() {
        assert_eq!(device_of(Path::new("/dev/shm")), None);
        // Any block device of the machine, by its node.
        let node = std::fs::read_dir("/sys/block")
            .expect("/sys/block")
            .filter_map(|e| Some(PathBuf::from("/dev").join(e.ok()?.file_name())))
            .find(|p| p.exists())
            .expect("a block device node in /dev");
        let (name, stat) = device_of(&node).expect("its stat file");
        assert_eq!(
            Some(name.as_str()),
            node.file_name().and_then(|n| n.to_str())
        );
        assert!(counters(&stat).is_some());
        let w = Watch::start(&[node.clone(), node]);
        assert_eq!(w.finish().len(), 1, "each device once");
    }
}
