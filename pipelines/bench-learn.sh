#!/bin/bash
# Learning beside the reference: sp-train and the PyTorch reference's own
# model code (tests/bench/ref_learn.py) train the demo's recipe
# (pipelines/configs/tetro-demo.conf, batches of 16) from the same initial
# model on the same batches of the demo's 1,600 generated Tetrominoes for
# ITERS iterations; our pipeline then scores both final models on the eval
# split (ARI-FG) and draws their sprites.  It answers whether
# what the demo reaches in its minutes is what the method reaches, not a
# fault of the port.  Figures, never pass/fail; the random draws (mask
# noise, reassignment) differ between the two (ref_learn.py says why), so
# compare several seeds.  Usage: bench-learn.sh [ITERS (3000)] [SEED (1)]
# (or ITERS=, SEED= in the environment: make bench-learn ITERS=4000 SEED=2)
# Needs Debian's python3-torch and the reference (../shared/reference-bench).
# Takes about ITERS / 15 + ITERS / 4 seconds on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${1:-${ITERS:-3000}}
SEED=${2:-${SEED:-1}}
# shellcheck source=pipelines/lib.sh
. pipelines/lib.sh
positive "$ITERS" || { echo "bench-learn: ITERS=$ITERS: not a positive number of iterations" >&2; exit 2; }
whole "$SEED" || { echo "bench-learn: SEED=$SEED: not a whole number" >&2; exit 2; }
CONF=pipelines/configs/tetro-demo.conf
B=build/bench/learn
R=$B/seed$SEED
mkdir -p "$R"
export OMP_NUM_THREADS=${THREADS:-$(nproc)} OPENBLAS_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1
why=$(ref_missing "${SP_REFERENCE:-../shared/reference-bench}" msgpack)
[ -z "$why" ] || { echo "bench-learn: $why" >&2; exit 1; }
[ -d "$B/tetrominoes" ] || bin/sp-gen tetrominoes --count 1600 --seed 1 --out "$B/tetrominoes" --quiet
epochs=$((ITERS / 100 + 1))
batches() { bin/sp-load "$B/tetrominoes" --shuffle --seed 1 --epochs "$epochs" --batch 16 --drop-last 2>/dev/null; }

bin/sp-train --init-only "$CONF" --seed "$SEED" --out "$R/init.spm" </dev/null 2>/dev/null
s=$SECONDS
set +o pipefail # the trainers stop at ITERS: sp-load then gets SIGPIPE
batches | bin/sp-train --device cpu --config "$CONF" --seed "$SEED" --out "$R/ours.spm" --iters "$ITERS" \
    --checkpoint-every 1000 --progress-every 1000 2>"$R/ours.log"
t_ours=$((SECONDS - s))
s=$SECONDS
batches | "$PY" tests/bench/ref_learn.py "$R/init.spm" "$ITERS" "$R" --seed "$SEED" 2>"$R/ref.log"
t_ref=$((SECONDS - s))
set -o pipefail

score() {
    bin/sp-load "$B/tetrominoes" --split eval --batch 32 2>/dev/null | bin/sp-predict --model "$1" |
        bin/sp-select --gather | bin/sp-compose --fg-reassign --drop sel_layers,sel_masks | bin/sp-eval |
        sed -n 's/.*"ari_fg": \([0-9.]*\).*/\1/p'
}
last=$(printf '%06d' "$ITERS")
bin/sp-viz --model "$R/ours.spm" --out "$R/ours-sprites.png" 2>/dev/null
bin/sp-viz --model "$R/ref-$last.spm" --out "$R/ref-sprites.png" 2>/dev/null
echo "bench-learn: $CONF, batches of 16, seed $SEED, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| iterations | sp-train ARI-FG | reference ARI-FG | sp-train s | reference s |"
echo "|---|---|---|---|---|"
echo "| $ITERS | $(score "$R/ours.spm") | $(score "$R/ref-$last.spm") | $t_ours | $t_ref |"
echo
echo "sprites: $R/ours-sprites.png, $R/ref-sprites.png"
