#!/usr/bin/env bash
# auraio against fio at fixed queue depths: 4 KiB O_DIRECT random reads, one thread, on a
# tmpfs file and on the knee device (a loop device capped at 100k IOPS, ../shared/tools).
# Runs alternate fio / auraio in one sitting and the table shows medians.
#
#   benches/vs_fio.sh [SECONDS_PER_RUN] [ROUNDS] [DEPTHS...]
#
# Needs fio (installed when missing) and, for the knee device, root and cgroup v1 blkio.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
rounds=${2:-3}
shift $(( $# > 2 ? 2 : $# )) || true
depths=${*:-1 2 4 8 16 32 64}
knee_tool=${KNEE_DEVICE:-../shared/tools/knee-device}

command -v fio >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fio; }
cargo build --quiet --release --example randread
bin=target/release/examples/randread

tmpfs_file=/dev/shm/auraio-vs-fio.bin
[ -f "$tmpfs_file" ] || head -c $((256 << 20)) /dev/urandom > "$tmpfs_file"

fio_iops() { # target depth [prefix...]
  local t=$1 d=$2; shift 2
  "$@" fio --name=vs --filename="$t" --rw=randread --bs=4k --iodepth="$d" --ioengine=io_uring \
    --direct=1 --time_based --runtime="$secs" --norandommap --randrepeat=0 \
    --output-format=json 2>/dev/null |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["jobs"][0]["read"]["iops"]))'
}
auraio_iops() { # target depth [prefix...]
  local t=$1 d=$2; shift 2
  "$@" "$bin" "$t" "$d" "$secs" direct | sed -n 's/^iops=\([0-9]*\).*/\1/p'
}
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

targets=("tmpfs:$tmpfs_file")
if knee=$("$knee_tool" up 100000 2>/dev/null); then
  targets+=("knee:$knee")
else
  echo "(knee device unavailable: needs root and cgroup v1 blkio; tmpfs only)" >&2
fi

echo "date: $(date -u +%Y-%m-%d), kernel $(uname -r), $(nproc) CPUs, ${secs}s per run, median of $rounds alternating runs"
printf '| %-6s | %5s | %10s | %10s | %6s |\n' target depth "fio IOPS" "auraio IOPS" ratio
printf '|--------|-------|------------|------------|--------|\n'
for entry in "${targets[@]}"; do
  name=${entry%%:*}; path=${entry#*:}
  prefix=()
  [ "$name" = knee ] && prefix=("$knee_tool" run)
  for d in $depths; do
    f=(); a=()
    for _ in $(seq "$rounds"); do
      f+=("$(fio_iops "$path" "$d" "${prefix[@]}")")
      a+=("$(auraio_iops "$path" "$d" "${prefix[@]}")")
    done
    fm=$(echo "${f[*]}" | median); am=$(echo "${a[*]}" | median)
    printf '| %-6s | %5s | %10s | %10s | %6.3f |\n' "$name" "$d" "$fm" "$am" "$(echo "$am / $fm" | bc -l)"
  done
done
