#!/bin/bash
# Shows: sp-viz on a whole decomposition — image, reconstruction, true and
# predicted instance masks, predicted semantic masks — from Multi-dSprites
# through the model stages (a freshly initialised dsprites model).
set -euo pipefail
mkdir -p build/examples
MODEL=build/examples/dsprites-init.model
[ -f "$MODEL" ] || bin/sp-train --init-only pipelines/configs/dsprites.conf --out "$MODEL"
bin/sp-gen multi-dsprites --count 8 --seed 5 --out build/examples/dsprites8 --force --quiet
bin/sp-load build/examples/dsprites8 \
    | bin/sp-predict --model "$MODEL" | bin/sp-select | bin/sp-compose \
    | bin/sp-viz --out build/examples/dsprites-decomposition.png --entries image,recon,mask,pred_mask,pred_sem
