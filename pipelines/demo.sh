#!/bin/bash
# make demo: DTI-Sprites learning on a fresh machine in about 5 minutes on 2
# cores:
#   generate 1,600 Tetrominoes -> train the Tetrominoes model on them
#   (pipelines/configs/tetro-demo.conf: the paper's, with faster learning
#   rates) for 11,000 iterations in batches of 8 -> decompose the eval split
#   -> evaluate (ARI-FG as the paper, ARI) -> draw the sprites, the
#   reconstructions and the decompositions as PNGs under build/demo/.
# The schedule counts epochs of 100 batches whatever the batch size, so the
# config's milestone (epoch 100) drops the networks' learning rate 10x at
# iteration 10,000, and the soft masks close onto the pieces in the next
# ~1,000 iterations.  Batches of 8 reach it in half the time of the 16 of
# earlier demos (the same images per second), with softer masks;
# DEMO_BATCH=16 DEMO_ITERS=12000 is that recipe (~9 minutes, sharp masks).
# DEMO_ITERS=N trains N iterations; DEMO_SECONDS=S stops after S seconds
# instead (whichever comes first when both are given); DEMO_DIR=DIR writes
# there instead of build/demo (relative to the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=pipelines/lib.sh
. pipelines/lib.sh
D=${DEMO_DIR:-build/demo}
COUNT=1600 # generated images (the messages say 1,600)
BATCH=${DEMO_BATCH:-8}
positive "$BATCH" || { echo "demo: DEMO_BATCH=$BATCH: not a positive number of images" >&2; exit 2; }
[ "$BATCH" -le $COUNT ] || { echo "demo: DEMO_BATCH=$BATCH: more than the 1,600 images" >&2; exit 2; }
stop=() what=
if [ -n "${DEMO_SECONDS:-}" ]; then
    positive "$DEMO_SECONDS" || { echo "demo: DEMO_SECONDS=$DEMO_SECONDS: not a positive number of seconds" >&2; exit 2; }
    stop+=(--time-limit "$DEMO_SECONDS") what="$DEMO_SECONDS s"
fi
if [ -n "${DEMO_ITERS:-}" ] || [ -z "${DEMO_SECONDS:-}" ]; then
    ITERS=${DEMO_ITERS:-11000}
    positive "$ITERS" || { echo "demo: DEMO_ITERS=$ITERS: not a positive number of iterations" >&2; exit 2; }
    stop+=(--iters "$ITERS") what="${what:+$what or }$ITERS iterations"
fi
mkdir -p "$D"
rm -rf "$D/train-viz"
echo "== sp-gen: 1,600 Tetrominoes images (35x35, three pieces each)"
bin/sp-gen tetrominoes --count $COUNT --seed 1 --out "$D/tetrominoes" --force --quiet
echo "== sp-load --shuffle | sp-train: $what in batches of $BATCH (the first 100 with frozen sprites)"
# sp-train stops at its iteration or time limit: sp-load then gets SIGPIPE
# (status 141), which is how a producer learns that its reader is done.  The
# stream holds the config's 210 epochs of images, more than any demo reads.
set +o pipefail
bin/sp-load "$D/tetrominoes" --shuffle --seed 1 --epochs 210 --batch "$BATCH" --drop-last 2>/dev/null |
    bin/sp-train --device cpu --config pipelines/configs/tetro-demo.conf --out "$D/model.spm" \
        "${stop[@]}" --epoch-batches 100 --checkpoint-every 500 --log "$D/train.jsonl" \
        --viz "$D/train-viz" --viz-every 250
load_train_status "demo: training failed" "${PIPESTATUS[@]}"
echo "== the eval split (first 320 images) | sp-predict | sp-select | sp-compose | sp-eval"
bin/sp-load "$D/tetrominoes" --split eval --batch 32 2>/dev/null |
    bin/sp-predict --model "$D/model.spm" | bin/sp-select --gather >"$D/selected.sp"
bin/sp-compose --drop sel_layers,sel_masks <"$D/selected.sp" >"$D/decomposed.sp"
bin/sp-compose --fg-reassign --drop sel_layers,sel_masks <"$D/selected.sp" | bin/sp-eval >"$D/metrics-fg.json"
bin/sp-eval <"$D/decomposed.sp" >"$D/metrics.json"
rm -f "$D/selected.sp"
bin/sp-viz --model "$D/model.spm" --out "$D/sprites.png"
bin/sp-viz --out "$D/decomposition.png" --max 8 --entries image,recon,mask,pred_mask,sem_mask,pred_sem <"$D/decomposed.sp"
ari_fg=$(sed -n 's/.*"ari_fg": \([0-9.]*\).*/\1/p' "$D/metrics-fg.json")
ari=$(sed -n 's/.*"ari": \([0-9.]*\).*/\1/p' "$D/metrics.json")
its=$(tail -n 1 "$D/train.jsonl" | sed -n 's/.*"iteration": \([0-9]*\).*/\1/p')
echo "== after $its iterations: ARI-FG $ari_fg (background given to the nearest layer), ARI $ari"
echo "   (the paper, after 394k iterations on 60k images: ARI-FG 0.996, ARI 0.998)"
echo "pictures: $D/sprites.png (the 19 sprites over grey, their masks),"
echo "          $D/decomposition.png (image, reconstruction, true / predicted instances, true / predicted sprites),"
echo "          $D/train-viz/ (sprites and reconstructions every 250 iterations)"
if [ "${its:-0}" -lt 10500 ]; then
    echo "the masks are still soft before iteration 10,000, where the networks' learning rate drops;"
    echo "make demo DEMO_ITERS=11000 trains past it, whatever the time"
fi
