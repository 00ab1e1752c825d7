#!/usr/bin/env bash
# bffio against fio (ioengine=io_uring) on the same jobs, run alternately; prints a markdown
# table of medians: IOPS, P99 and mean completion latency, and the bffio/fio IOPS ratio.
#
#   tools/bffio/compare.sh              # tmpfs, O_DIRECT disk, and the knee device (as root)
#   RUNS=5 RUNTIME=5 tools/bffio/compare.sh
#
# Scenarios (4 KiB random reads, 1 job):
#   tmpfs      each depth of DEPTHS (default "1 32"): fio fixed, bffio fixed (--aimd=off),
#              bffio adaptive (iodepth as the upper bound)
#   disk       O_DIRECT, the same
#   knee       ../shared/tools/knee-device (100k IOPS cap): fio at depths 1..64, bffio adaptive
#              without a depth; the knee is fio's smallest depth within 95% of its best IOPS
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-3}
DEPTHS=${DEPTHS:-1 32}
RUNTIME=${RUNTIME:-4}
RAMP=${RAMP:-1}
command -v fio >/dev/null || { echo "compare.sh needs fio (apt-get install fio)" >&2; exit 2; }
cargo build --release -q -p bffio
BFFIO=$PWD/target/release/bffio
TMPFS_FILE=/dev/shm/bffio-compare.dat
DISK_FILE=${DISK_FILE:-$PWD/target/bffio-compare-disk.dat}

# One run; prints "iops p99_ns mean_ns". $1: fio|bffio; the rest: job options.
measure() {
  local tool=$1; shift
  local out
  if [ "$tool" = fio ]; then
    out=$(fio --output-format=json --ioengine=io_uring "$@" 2>/dev/null)
  else
    out=$("$BFFIO" --output-format=json "$@")
  fi
  python3 -c '
import json, sys
j = json.loads(sys.stdin.read())["jobs"][0]["read"]
print(round(j["iops"]), j["clat_ns"]["percentile"]["99.000000"], round(j["clat_ns"]["mean"]))' <<<"$out"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Alternating runs of several variants; prints "variant iops p99 mean" medians.
# $1: prefix for the file list; following arguments: "label|tool|options..." entries.
compare() {
  local -a labels=() ; local tmp; tmp=$(mktemp -d)
  for spec in "$@"; do labels+=("${spec%%|*}"); done
  for ((r = 0; r < RUNS; r++)); do
    for spec in "$@"; do
      IFS='|' read -r label tool opts <<<"$spec"
      # shellcheck disable=SC2086
      measure "$tool" $opts >>"$tmp/$label"
    done
  done
  for label in "${labels[@]}"; do
    printf '%s %s %s %s\n' "$label" \
      "$(cut -d' ' -f1 "$tmp/$label" | median)" \
      "$(cut -d' ' -f2 "$tmp/$label" | median)" \
      "$(cut -d' ' -f3 "$tmp/$label" | median)"
  done
  rm -rf "$tmp"
}

row() { # scenario label iops p99 mean ref_iops
  awk -v s="$1" -v l="$2" -v i="$3" -v p="$4" -v m="$5" -v ref="$6" 'BEGIN {
    printf "| %s | %s | %d | %.1f | %.1f | %s |\n", s, l, i, p / 1000, m / 1000,
      (ref > 0 ? sprintf("%.2f", i / ref) : "-") }'
}

echo "bffio vs fio $(fio --version), $(date -u +%Y-%m-%d), $(nproc) CPUs, median of $RUNS alternating runs of ${RUNTIME}s (+${RAMP}s ramp)"
echo
echo "| scenario | run | IOPS | P99 clat (us) | mean clat (us) | IOPS / fio |"
echo "|---|---|---:|---:|---:|---:|"

common="--name=cmp --rw=randread --bs=4k --runtime=$RUNTIME --ramp_time=$RAMP --time_based --size=256m"

for scenario in tmpfs disk; do
  if [ $scenario = tmpfs ]; then f=$TMPFS_FILE; d=0; else f=$DISK_FILE; d=1; fi
  [ -f "$f" ] || "$BFFIO" --name=mk --filename="$f" --size=256m --rw=write --bs=1m --aimd=off >/dev/null
  opts="$common --filename=$f --direct=$d"
  for qd in $DEPTHS; do
    results=$(compare \
      "fio-qd$qd|fio|$opts --iodepth=$qd" \
      "bffio-qd$qd|bffio|$opts --iodepth=$qd --aimd=off" \
      "bffio-adaptive-max$qd|bffio|$opts --iodepth=$qd")
    ref=$(awk -v l="fio-qd$qd" '$1==l{print $2}' <<<"$results")
    while read -r label i p m; do row "$scenario" "$label" "$i" "$p" "$m" "$ref"; done <<<"$results"
  done
done

KNEE=../shared/tools/knee-device
if [ "$(id -u)" = 0 ] && [ -x "$KNEE" ] && [ -d /sys/fs/cgroup/blkio ]; then
  dev=$("$KNEE" up 100000)
  opts="$common --filename=$dev --direct=1"
  specs=()
  for qd in 1 2 4 8 16 32 64; do specs+=("fio-qd$qd|fio|$opts --iodepth=$qd"); done
  specs+=("bffio-adaptive|bffio|$opts")
  # Everything inside the throttled cgroup: this shell joins it.
  echo $$ > /sys/fs/cgroup/blkio/auraio-knee/cgroup.procs
  results=$(compare "${specs[@]}")
  best=$(awk '$1 ~ /^fio/ {if ($2 > b) b = $2} END {print b}' <<<"$results")
  knee=$(awk -v b="$best" '$1 ~ /^fio/ && $2 >= 0.95 * b {print $1; exit}' <<<"$results")
  knee_mean=$(awk -v k="$knee" '$1 == k {print $4}' <<<"$results")
  while read -r label i p m; do row "knee 100k" "$label" "$i" "$p" "$m" "$best"; done <<<"$results"
  echo
  awk -v k="$knee" -v km="$knee_mean" '$1 == "bffio-adaptive" {
    printf "knee device: fio knee at %s (mean clat %.1f us); bffio adaptive mean clat %.1f us = %.2fx the knee'"'"'s\n", k, km / 1000, $4 / 1000, $4 / km }' <<<"$results"
fi
