#!/bin/bash
# Shows: decomposing a folder of your own PNGs with a model — load (resized to
# the model's size), predict the candidate layers, select a sprite per layer,
# compose, and draw the result.  sp-select --gather hands sp-compose only the
# chosen candidate of each layer (the others are most of the stream's bytes).  Without a MODEL the paper's Tetrominoes
# configuration freshly initialised stands in (its decomposition means
# nothing); give a trained one (make demo, make train, or
# examples/train-then-decompose.sh write them):
#   examples/decompose-folder.sh DIR [MODEL]
set -euo pipefail
DIR=${1:-../shared/data/tetrominoes-real10/images}
MODEL=${2:-build/examples/tetro-init.model}
mkdir -p build/examples
[ -f "$MODEL" ] || bin/sp-train --init-only pipelines/configs/tetro.conf --out "$MODEL"
bin/sp-load "$DIR" --size 35x35 --limit 8 \
    | bin/sp-predict --model "$MODEL" \
    | bin/sp-select --gather \
    | bin/sp-compose \
    | bin/sp-viz --out build/examples/decomposition.png --max 8
