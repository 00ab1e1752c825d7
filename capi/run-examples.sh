#!/bin/sh
# Runs the built C and C++ examples (each exits non-zero on a failed check).
# Usage: run-examples.sh OUT "c examples" "cpp examples"
set -e
out=$1
export LD_LIBRARY_PATH="$out/prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export TMPDIR="${TMPDIR:-/tmp}"
for lang in c cpp; do
    if [ "$lang" = c ]; then list=$2; else list=$3; fi
    for ex in $list; do
        echo "== examples/$lang/$ex"
        timeout 120 "$out/examples/$lang/$ex"
    done
done
