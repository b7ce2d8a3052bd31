#!/bin/bash
# Shows: training from a stream, resuming, and using the result — generate
# Tetrominoes, train the demo configuration for a few iterations with a
# log and pictures, continue the same run with --resume (the same stream
# again: the batches it has seen are skipped), then decompose new images
# with the trained model and draw its sprites.  Give ITERS for a longer run
# (make demo trains for minutes; make train DATASET=tetrominoes the paper's
# whole schedule).
set -euo pipefail
ITERS=${ITERS:-6}
E=build/examples/train
mkdir -p "$E"
rm -f "$E/model.spm" "$E/log.jsonl"
bin/sp-gen tetrominoes --count 320 --seed 5 --out "$E/tetrominoes" --force --quiet
stream() { bin/sp-load "$E/tetrominoes" --split-rule all --shuffle --seed 1 --epochs 4 --batch 32 --drop-last 2>/dev/null; }
# first half; sp-load stops (SIGPIPE) when sp-train has had enough
{ stream || true; } | bin/sp-train --device cpu --config pipelines/configs/tetro-demo.conf --out "$E/model.spm" \
    --iters $((ITERS / 2)) --log "$E/log.jsonl" --viz "$E/viz" --viz-every 2
# the rest, resumed from the checkpoint
{ stream || true; } | bin/sp-train --device cpu --resume "$E/model.spm" --out "$E/model.spm" \
    --iters "$ITERS" --log "$E/log.jsonl"
bin/sp-gen tetrominoes --count 8 --seed 99 --out "$E/new" --force --quiet
bin/sp-load "$E/new" --split-rule all | bin/sp-predict --model "$E/model.spm" | bin/sp-select \
    | bin/sp-compose --drop cand_layers,cand_masks | bin/sp-viz --out "$E/decomposition.png"
bin/sp-viz --model "$E/model.spm" --out "$E/sprites.png"
echo "log: $E/log.jsonl ($(grep -c loss "$E/log.jsonl") iterations); pictures: $E/viz/, $E/decomposition.png, $E/sprites.png"
