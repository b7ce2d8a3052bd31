#!/bin/bash
# make demo: DTI-Sprites learning on a fresh machine in about 5 minutes on 2
# cores (DEMO_SECONDS of training, 270 by default; or DEMO_ITERS iterations,
# whatever time they take: DEMO_ITERS=12000 passes epoch 100 on any machine):
#   generate 1,600 Tetrominoes -> train the Tetrominoes model on them (batches of 16)
#   (pipelines/configs/tetro-demo.conf: the paper's, with faster learning
#   rates) for a fixed time -> decompose the eval split -> evaluate
#   (ARI-FG as the paper, ARI) -> draw the sprites, the reconstructions and
#   the decompositions as PNGs under build/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=pipelines/lib.sh
. pipelines/lib.sh
D=build/demo
SECONDS_TRAIN=${DEMO_SECONDS:-270}
ITERS=${DEMO_ITERS:-}
# a positive whole number (digits only, not all zeros)
positive() { case "$1" in '' | *[!0-9]*) return 1 ;; esac; [ -n "${1//0/}" ]; }
positive "$SECONDS_TRAIN" || { echo "demo: DEMO_SECONDS=$SECONDS_TRAIN: not a positive number of seconds" >&2; exit 2; }
if [ -n "$ITERS" ]; then
    positive "$ITERS" || { echo "demo: DEMO_ITERS=$ITERS: not a positive number of iterations" >&2; exit 2; }
    stop=(--iters "$ITERS") what="$ITERS iterations"
else
    stop=(--time-limit "$SECONDS_TRAIN") what="$SECONDS_TRAIN s"
fi
mkdir -p "$D"
rm -rf "$D/train-viz"
echo "== sp-gen: 1,600 Tetrominoes images (35x35, three pieces each)"
bin/sp-gen tetrominoes --count 1600 --seed 1 --out "$D/tetrominoes" --force --quiet
echo "== sp-load --shuffle | sp-train for $what (the first epoch, 100 iterations, with frozen sprites)"
# sp-train stops at the time limit: sp-load then gets SIGPIPE (status 141),
# which is how a producer learns that its reader is done.  The stream holds
# the config's whole schedule (210 epochs), so a longer DEMO_SECONDS reaches
# epoch 100 (iteration 10,000), where the networks' learning rate drops 10x
# and the soft masks snap to the pieces (DEMO_SECONDS=600: ~13,000
# iterations here; DEMO_ITERS=12000 on any machine); the first epochs are
# the same stream whatever the count
set +o pipefail
bin/sp-load "$D/tetrominoes" --shuffle --seed 1 --epochs 210 --batch ${DEMO_BATCH:-16} --drop-last 2>/dev/null |
    bin/sp-train --device cpu --config pipelines/configs/tetro-demo.conf --out "$D/model.spm" \
        "${stop[@]}" --checkpoint-every 100 --log "$D/train.jsonl" \
        --viz "$D/train-viz" --viz-every 100
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
echo "          $D/train-viz/ (sprites and reconstructions every 100 iterations)"
if [ "${its:-0}" -lt 10500 ]; then
    echo "the masks are still soft before epoch 100 (iteration 10,000), where the networks' learning rate drops;"
    echo "make demo DEMO_ITERS=12000 trains past it (~9 minutes on 2 cores) and they snap to the pieces"
fi
