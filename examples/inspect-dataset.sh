#!/bin/bash
# Shows: loading a dataset folder (here the 10 real Tetrominoes), the stream
# it becomes (sp-info), and a picture of images and masks (sp-viz).
# Usage: examples/inspect-dataset.sh [DIR]   (from the repository root, after make)
set -euo pipefail
DIR=${1:-../shared/data/tetrominoes-real10}
mkdir -p build/examples
bin/sp-load "$DIR" --batch 4 | tee build/examples/inspect.sp | bin/sp-info
bin/sp-viz --out build/examples/inspect.png --max 6 < build/examples/inspect.sp
