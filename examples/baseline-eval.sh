#!/bin/bash
# Shows: a whole chain with a swappable stage — generate Multi-dSprites, load
# the eval split, predict with a trivial rule (sp-baseline; any stage that
# adds pred_mask can take its place), save the stream once with tee, then
# evaluate and draw from it.
set -euo pipefail
mkdir -p build/examples
bin/sp-gen multi-dsprites --count 400 --seed 3 --out build/examples/dsprites --force --quiet
bin/sp-load build/examples/dsprites --split eval \
    | bin/sp-baseline colour \
    | tee build/examples/dsprites-pred.sp \
    | bin/sp-eval
bin/sp-viz --out build/examples/dsprites-pred.png --max 6 < build/examples/dsprites-pred.sp
