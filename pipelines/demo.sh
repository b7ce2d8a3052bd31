#!/bin/bash
# make demo: the whole chain on a fresh machine, in seconds.
#   generate Tetrominoes -> load the eval split -> inspect -> a trivial
#   predictor (sp-baseline colour) -> draw -> evaluate.
# Training replaces the baseline once sp-train exists.
set -euo pipefail
cd "$(dirname "$0")/.."
D=build/demo
mkdir -p "$D"
echo "== sp-gen: 1000 Tetrominoes images"
bin/sp-gen tetrominoes --count 1000 --seed 1 --out "$D/tetrominoes" --force
echo "== sp-load the eval split (first 320 images) | sp-info --summary"
bin/sp-load "$D/tetrominoes" --split eval --batch 32 >"$D/eval.sp"
bin/sp-info --summary "$D/eval.sp"
echo "== sp-baseline colour (no learning: one instance per region of one hue)"
bin/sp-baseline colour <"$D/eval.sp" >"$D/baseline.sp"
bin/sp-viz --out "$D/decomposition.png" --max 8 <"$D/baseline.sp"
echo "== sp-eval"
bin/sp-eval <"$D/baseline.sp" | tee "$D/metrics.json"
echo "picture: $D/decomposition.png (one row per image; columns as sp-viz listed them)"
