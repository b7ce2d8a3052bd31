#!/bin/bash
# make bench (ops part): our CPU ops against PyTorch on the same cores, in the
# same run (tests/bench/ops_bench.py).  Needs Debian's python3-torch to make
# the inputs with the reference's modules and to time the reference.
set -euo pipefail
cd "$(dirname "$0")/.."
OBJ=${1:?object directory}
THREADS=${THREADS:-$(nproc)}
# the 3x3 layers' forward, direct tiles against Winograd (no PyTorch needed)
echo "3x3 stride-1 forward, one image on one thread (tests/tools/convbench, $(date -u '+%Y-%m-%d %H:%M UTC')):"
"$OBJ/tests/tools/convbench"
echo
# shellcheck source=pipelines/lib.sh
. pipelines/lib.sh
if ! "$PY" -c 'import torch, numpy, msgpack' 2>/dev/null; then
    echo "bench-ops: skipped: needs Debian's python3-torch python3-numpy python3-msgpack (apt-get install -y python3-torch python3-msgpack)"
    exit 0
fi
if [ ! -d "${SP_REFERENCE:-../shared/reference-bench}" ]; then
    echo "bench-ops: skipped: the PyTorch reference (../shared/reference-bench) is not here"
    exit 0
fi
# OPENBLAS_NUM_THREADS=1 is PyTorch's fastest setting on this machine (see
# ../shared/REFERENCE-NOTES.md).  Both sides with the heap our programs
# restart with (common/sp_start.h; PyTorch gains from it too): the last of
# pipelines/lib.sh's ref_heap_envs.
# shellcheck disable=SC2046
env $(ref_heap_envs | tail -n 1) OPENBLAS_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1 "$PY" tests/bench/ops_bench.py "$OBJ" "$THREADS"
