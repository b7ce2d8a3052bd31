#!/bin/bash
# Shows: one stream of predictions saved once with tee, then two selection
# stages swapped on it — the reference's greedy selection and the exact
# minimum over all assignments — each composed and evaluated with sp-eval.
set -euo pipefail
mkdir -p build/examples
MODEL=build/examples/tetro-init.model
[ -f "$MODEL" ] || bin/sp-train --init-only pipelines/configs/tetro.conf --out "$MODEL"
bin/sp-load ../shared/data/tetrominoes-real10 \
    | bin/sp-predict --model "$MODEL" \
    | tee build/examples/pred.sp >/dev/null
echo "greedy:     $(bin/sp-select < build/examples/pred.sp | bin/sp-compose --fg-reassign | bin/sp-eval)"
echo "exhaustive: $(bin/sp-select --exhaustive < build/examples/pred.sp | bin/sp-compose --fg-reassign | bin/sp-eval)"
