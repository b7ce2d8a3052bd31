#!/bin/bash
# make bench (I/O part): figures, never pass/fail.
#  1. sp-load on ../shared/data/gtsrb8 (10,650 PNGs, 32x32 -> 28x28) piped to sp-info: images/s
#  2. a generated 60,000-image Tetrominoes set: sp-gen time, sp-load | sp-info images/s,
#     and stream throughput of a reader (sp-info) and a reader+writer (sp-baseline) in MB/s
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${SP_DATA:-../shared/data}
B=build/bench
mkdir -p "$B"
# t CMD...: seconds the command took; calc EXPR: arithmetic with awk
t() { local s=$EPOCHREALTIME; "$@"; awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN {print b - a}'; }
calc() { awk "BEGIN {print $*}"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), OMP_NUM_THREADS=${OMP_NUM_THREADS:-default}"
if [ -d "$DATA/gtsrb8" ]; then
    s=$(t bash -c "bin/sp-load $DATA/gtsrb8 --size 28x28 --batch 128 | bin/sp-info --summary >/dev/null")
    printf 'sp-load gtsrb8 (10650 PNG, resize 28x28) | sp-info: %.2f s, %.0f images/s\n' "$s" "$(calc "10650 / $s")"
fi
s=$(t bin/sp-gen tetrominoes --count 60000 --seed 1 --out "$B/tetro60k" --force 2>/dev/null)
printf 'sp-gen tetrominoes 60000: %.2f s, %.0f images/s\n' "$s" "$(calc "60000 / $s")"
s=$(t bin/sp-gen multi-dsprites --count 60000 --seed 1 --out "$B/dsprites60k" --force 2>/dev/null)
printf 'sp-gen multi-dsprites 60000: %.2f s, %.0f images/s\n' "$s" "$(calc "60000 / $s")"
s=$(t bash -c "bin/sp-load $B/tetro60k --batch 64 >$B/tetro60k.sp")
printf 'sp-load tetrominoes 60000 (PNG decode, 3 entries) > file: %.2f s, %.0f images/s\n' "$s" "$(calc "60000 / $s")"
mb=$(calc "$(stat -c %s $B/tetro60k.sp) / 1048576")
cat "$B/tetro60k.sp" >/dev/null
s=$(t bash -c "bin/sp-info --summary <$B/tetro60k.sp >/dev/null")
printf 'read  (sp-info --summary on a %.0f MB stream): %.0f MB/s\n' "$mb" "$(calc "$mb / $s")"
s=$(t bash -c "bin/sp-baseline background <$B/tetro60k.sp >/dev/null")
printf 'read+write (sp-baseline background, in %.0f MB, out %.0f MB): %.0f MB/s in\n' "$mb" "$(calc "$mb * 1.67")" "$(calc "$mb / $s")"
rm -rf "$B/tetro60k" "$B/dsprites60k" "$B/tetro60k.sp"
