#!/bin/bash
# Shows: a stage written in Python (formats/sptensor.py; needs python3-msgpack
# and python3-numpy) placed between two C stages: it turns every image grey
# and passes everything else through, then sp-viz draws the result.
set -euo pipefail
PY=
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import msgpack, numpy' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "python-stage: needs a python3 with msgpack and numpy (apt-get install python3-msgpack python3-numpy)" >&2; exit 2; }
mkdir -p build/examples
bin/sp-load ../shared/data/tetrominoes-real10 --batch 4 \
    | "$PY" -c '
import sys
sys.path.insert(0, "formats")
import sptensor
for stream in sptensor.read(sys.stdin.buffer):
    w = sptensor.Writer(sys.stdout.buffer, dict(stream.meta, producer="python-grey"))
    for b in stream:
        b["image"] = b["image"].mean(axis=1, keepdims=True).repeat(3, axis=1)
        w.batch(b)
    w.end()
' \
    | bin/sp-viz --out build/examples/python-grey.png --max 4
