#!/usr/bin/env bash
# The tuner on the device zoo: for each device a fixed-depth sweep with `bffio --aimd=off`,
# then bffio told no depth, and one table of the ratios the tuner's goals are stated in:
# adaptive IOPS over the best fixed depth's, mean and P99 completion latency over the knee's
# (the shallowest depth reaching 95% of the best), time to STEADY. Runs alternate; figures are
# medians over RUNS rounds.
#
#   benches/adaptive_zoo.sh            # every device, RUNS=3, 8 s adaptive runs (as root)
#   QUICK=1 benches/adaptive_zoo.sh    # one round, short runs: checks the bench runs
#   ONLY="loop,tmpfs" DEPTHS="1 4 16" benches/adaptive_zoo.sh   # some devices, some depths
#   BFFIO=/path/to/bffio benches/adaptive_zoo.sh                  # another build's controller
#   COMPARE=/path/to/bffio benches/adaptive_zoo.sh   # also that build's adaptive runs, alternating
#                                                    # with this one's, judged on the same sweep
#
# Devices: the knee device (../shared/tools/knee-device) at 20k, 100k and 200k IOPS (4 KiB
# random reads, O_DIRECT), with no IOPS cap and a 100 MiB/s byte cap (128 KiB reads), and
# uncapped (the loop device's own curve); tmpfs, buffered 4 KiB random reads.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then RUNS=${RUNS:-1}; SWEEP_S=1; ADAPT_S=3; DEPTHS="1 4 16 64"
else RUNS=${RUNS:-3}; SWEEP_S=2; ADAPT_S=8; DEPTHS=${DEPTHS:-"1 2 3 4 6 8 12 16 24 32 48 64 128 256"}; fi
KNEE=$PWD/../shared/tools/knee-device
# BFFIO=path runs another build (to compare controllers); by default this tree's.
if [ -z "${BFFIO:-}" ]; then cargo build --release -q -p bffio; BFFIO=$PWD/target/release/bffio; fi
DEV=$("$KNEE" up 100000)
TMPFS_FILE=/dev/shm/auraio-zoo.dat
trap '"$KNEE" set 0 0 >/dev/null 2>&1 || true; rm -f "$TMPFS_FILE"' EXIT

python3 - "$BFFIO" "$KNEE" "$DEV" "$TMPFS_FILE" "$RUNS" "$SWEEP_S" "$ADAPT_S" "$DEPTHS" "${COMPARE:-}" <<'EOF'
import json, os, statistics, subprocess, sys
bffio, knee, dev, tmpfs, runs, sweep_s, adapt_s, depths, compare = sys.argv[1:]
runs, sweep_s, adapt_s = int(runs), int(sweep_s), int(adapt_s)
depths = [int(d) for d in depths.split()]

def run(filename, bs, direct, cgroup, seconds, depth=None, size=None, binary=None):
    args = [binary or bffio, "--name=zoo", f"--filename={filename}", "--rw=randread", f"--bs={bs}",
            f"--direct={direct}", f"--runtime={seconds}", "--time_based",
            "--output-format=json"]
    if size:
        args.append(f"--size={size}")
    if depth is not None:
        args += [f"--iodepth={depth}", "--aimd=off"]
    if cgroup:
        args = [knee, "run"] + args
    out = subprocess.run(args, check=True, capture_output=True, timeout=seconds + 60).stdout
    job = json.loads(out)["jobs"][0]
    r = job["read"]
    rings = job["auraio"]["rings"]
    return dict(iops=r["iops"], mean=r["clat_ns"]["mean"] / 1e3,
                p99=r["clat_ns"]["percentile"]["99.000000"] / 1e3,
                depth=rings[0]["depth"] if rings else None,
                steady=rings[0].get("converge_ms") if rings else None)

zoo = [
    ("knee 20k", ("20000", "0"), "4k", 1, True),
    ("knee 100k", ("100000", "0"), "4k", 1, True),
    ("knee 200k", ("200000", "0"), "4k", 1, True),
    ("100 MiB/s, 128k", ("0", str(100 << 20)), "128k", 1, True),
    ("loop", ("0", "0"), "4k", 1, True),
    ("tmpfs", None, "4k", 0, False),
]
print("| device | best depth | best IOPS | knee | knee mean µs | adaptive IOPS | x best | mean µs | x knee | P99 µs | x knee | depth found | STEADY ms |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
only = [o.strip() for o in os.environ.get("ONLY", "").split(",") if o.strip()]
for name, caps, bs, direct, cgroup in zoo:
    if only and not any(o in name for o in only):
        continue
    if caps:
        subprocess.run([knee, "set", *caps], check=True)
    target, size = (dev, None) if cgroup else (tmpfs, "256m")
    sweep = {d: [] for d in depths}
    adaptive = []
    other = []
    for _ in range(runs):
        for d in depths:
            sweep[d].append(run(target, bs, direct, cgroup, sweep_s, depth=d, size=size))
        adaptive.append(run(target, bs, direct, cgroup, adapt_s, size=size))
        if compare:
            other.append(run(target, bs, direct, cgroup, adapt_s, size=size, binary=compare))
    med = lambda xs, k: statistics.median(x[k] for x in xs if x[k] is not None)
    pts = [(d, med(sweep[d], "iops"), med(sweep[d], "mean"), med(sweep[d], "p99")) for d in depths]
    best = max(pts, key=lambda p: p[1])
    knee_pt = next(p for p in pts if p[1] >= 0.95 * best[1])
    for label, runs_ in ((name, adaptive), (f"{name} (compared)", other)):
        if not runs_:
            continue
        a = {k: med(runs_, k) for k in ("iops", "mean", "p99", "depth", "steady")}
        print(f"| {label} | {best[0]} | {best[1]:.0f} | {knee_pt[0]} | {knee_pt[2]:.1f} | {a['iops']:.0f} | "
              f"{a['iops'] / best[1]:.3f} | {a['mean']:.1f} | {a['mean'] / knee_pt[2]:.2f} | {a['p99']:.1f} | "
              f"{a['p99'] / knee_pt[3]:.2f} | {a['depth']} | {a['steady']} |", flush=True)
EOF
