#!/bin/bash
# make bench (training part): training iterations per second of sp-train
# and of the PyTorch reference's training step (../shared/reference-bench/
# bench.py CONFIG train: Trainer.single_train_batch_run's forward, greedy
# selection, backward and Adam step) on the same cores in the same run, for
# the configs tetro, dsprites, gtsrb8, horse at their batch sizes (32, 32,
# 128, 32).  Both sides run the final stage: the reference's harness
# activates every curriculum module and unfreezes the sprites, so ours
# trains a copy of the config with model.freeze_sprite = 0 and no
# curriculum.  Ours: sp-train's own it/s over ITERS iterations after one
# warm-up iteration, OMP_NUM_THREADS=THREADS OPENBLAS_NUM_THREADS=1;
# reference: bench.py --threads THREADS --min-seconds REF_SECONDS, its mean
# (the faster with and without glibc's heap on huge pages: lib.sh).
# Figures, never pass/fail.  Usage: bench-train.sh [CONFIG...]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=pipelines/lib.sh
. pipelines/lib.sh
CONFIGS=${*:-tetro dsprites gtsrb8 horse}
DATA=${SP_DATA:-../shared/data}
REF=${SP_REFERENCE:-../shared/reference-bench}
THREADS=${THREADS:-$(nproc)}
REF_SECONDS=${REF_SECONDS:-20}
B=build/bench/train
mkdir -p "$B"
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=1
have_ref=1
why=$(ref_missing "$REF")
if [ -n "$why" ]; then
    echo "bench-train: reference column skipped: $why"
    have_ref=0
fi
PYPATH=
"$PY" -c 'import torchvision' 2>/dev/null || PYPATH=$PWD/tests/bench/stubs
calc() { awk "BEGIN {print $*}"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "| config | batch | ours it/s | reference it/s | ours / reference |"
echo "|---|---|---|---|---|"
for cfg in $CONFIGS; do
    case $cfg in
        tetro) bs=32 iters=${ITERS:-40}
            [ -d "$B/tetro-data" ] || bin/sp-gen tetrominoes --count 1024 --seed 1 --out "$B/tetro-data" --quiet
            src="$B/tetro-data" load="--split-rule all" ;;
        dsprites) bs=32 iters=${ITERS:-20}
            [ -d "$B/dsprites-data" ] || bin/sp-gen multi-dsprites --count 1024 --seed 1 --out "$B/dsprites-data" --quiet
            src="$B/dsprites-data" load="--split-rule all" ;;
        gtsrb8) bs=128 iters=${ITERS:-30} src="$DATA/gtsrb8" load="--size 28x28" ;;
        horse) bs=32 iters=${ITERS:-10} src="$DATA/weizmann-horse" load="" ;;
        *) echo "bench-train: $cfg: unknown config"; continue ;;
    esac
    [ -d "$src" ] || { echo "bench-train: $cfg: skipped: no data at $src"; continue; }
    sed -e 's/^model.freeze_sprite *=.*/model.freeze_sprite = 0/' \
        -e 's/^model.curriculum_learning\(_bkg\|_layer\)\? *=.*/model.curriculum_learning\1 = false/' \
        "pipelines/configs/$cfg.conf" >"$B/$cfg.conf"
    rm -f "$B/$cfg.jsonl"
    set +o pipefail
    bin/sp-load "$src" $load --shuffle --epochs 50 --batch "$bs" --drop-last 2>/dev/null |
        bin/sp-train --device cpu --config "$B/$cfg.conf" --out "$B/$cfg.spm" --iters $((iters + 1)) \
            --log "$B/$cfg.jsonl" 2>/dev/null
    set -o pipefail
    # rate over iterations 2..iters+1 (the first one allocates everything)
    t1=$(sed -n '1s/.*"it_per_s": \([0-9.e+-]*\).*/\1/p' "$B/$cfg.jsonl")
    tn=$(tail -n1 "$B/$cfg.jsonl" | sed -n 's/.*"it_per_s": \([0-9.e+-]*\).*/\1/p')
    ours=$(calc "$iters / (($iters + 1) / $tn - 1 / $t1)")
    ref=-
    [ $have_ref = 0 ] || ref=$(ref_best bench-train "$cfg" train iters_per_s "")
    ratio=-
    if [ "$ref" != - ]; then
        ratio=$(printf '%.2fx' "$(calc "$ours / $ref")")
        ref=$(printf '%.2f' "$ref")
    fi
    printf '| %s | %d | %.2f | %s | %s |\n' "$cfg" "$bs" "$ours" "$ref" "$ratio"
done
