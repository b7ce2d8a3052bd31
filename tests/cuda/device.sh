#!/bin/bash
# The GPU machine's check, as one call of the device tool (README, CUDA):
# build there, make test-cuda (every CUDA run twice, byte for byte), the
# CLI's CUDA checks, make test-cuda's harness again under compute-sanitizer
# (tests/cuda/run.sh: SP_CUDA_REPEAT, SP_CUDA_WRAP, SP_CUDA_FIRST), and make
# test's suite.  Logs go to $OUT (the device tool's folder that comes back;
# build/device elsewhere).
#
# Here, before the call:  bash pipelines/cuda-carry.sh build/deps
# The call:  run command="bash tests/cuda/device.sh" carry=["build/deps"]
#
# That machine has nvcc and the CUDA runtime, cuDNN and cuBLAS as PyTorch's
# pip packages (site-packages/nvidia/*/lib), which ship only versioned
# sonames (libcudnn.so.9): the linker's -lcudnn needs a libcudnn.so, so the
# script links against symlinks in a folder of its own.
# SP_DEVICE_STEPS="build test-cuda cli repeat memcheck racecheck initcheck
# synccheck suite bench": which steps (all by default; repeat goes with
# test-cuda).  bench: make bench's inference part on that machine's CPU cores
# against the PyTorch reference there (its python3 has torch): carry a copy
# of ../shared/reference-bench as build/refbench and the data as
# build/shared-data (SP_BENCH_CONFIGS, default "tetro dsprites horse").
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-build/device}
mkdir -p "$OUT"
STEPS=${SP_DEVICE_STEPS:-build test-cuda cli repeat memcheck racecheck initcheck synccheck suite bench}
step() { case " $STEPS " in *" $1 "*) return 0 ;; esac; return 1; }
t0=$(date +%s)
stamp() { echo "== $* ($(($(date +%s) - t0)) s)"; }

stamp "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
echo "cores: $(nproc)"
NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
echo "nvcc: $NVCC ($("$NVCC" --version 2>&1 | tail -n 1))"
NV=$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])' 2>/dev/null)
echo "pip nvidia: ${NV:-none}"
CUDA_HOME=${NVCC%/bin/nvcc}

# One folder with an unversioned name for each library the link needs.
L=/tmp/sp-cudalibs
mkdir -p "$L"
for lib in cudart cublas cublasLt cudnn; do
    f=""
    for c in "$CUDA_HOME/lib64/lib$lib.so" "$CUDA_HOME/targets/x86_64-linux/lib/lib$lib.so" \
        ${NV:+"$NV"/*/lib/lib"$lib".so.[0-9]*}; do
        [ -e "$c" ] && { f=$c; break; }
    done
    [ -n "$f" ] && ln -sf "$f" "$L/lib$lib.so"
    echo "lib$lib: ${f:-NOT FOUND}"
done
INC=""
for c in "$CUDA_HOME/include" "$NV/cudnn/include"; do
    [ -e "$c/cudnn.h" ] && { INC=$c; break; }
done
echo "cudnn.h: ${INC:-NOT FOUND}/cudnn.h"
# The versioned sonames at run time (cuDNN also opens its engine libraries).
[ -n "$NV" ] && for d in "$NV"/*/lib; do LD_LIBRARY_PATH=$d:${LD_LIBRARY_PATH:-}; done
export LD_LIBRARY_PATH

if step build; then
    stamp "build"
    if ! make -j"$(nproc)" NVCC="$NVCC" DEPS_DIR=build/deps CUDNN_INC="$INC" \
        CUDNN_LIB="$L" CUBLAS_LIB="$L" all >"$OUT/build.log" 2>&1; then
        grep -m 20 -iE 'error|undefined' "$OUT/build.log"
        tail -n 20 "$OUT/build.log"
        stamp "build FAILED"
        exit 1
    fi
    ldd bin/sp-op | grep -E 'cud|cublas|not found'
fi

if step test-cuda; then
    # with repeat: every CUDA run twice, byte for byte, in the same pass
    rep=0
    step repeat && rep=1
    stamp "make test-cuda (SP_CUDA_REPEAT=$rep)"
    SP_CUDA_REPEAT=$rep timeout 400 bash tests/cuda/run.sh >"$OUT/test-cuda.log" 2>&1
    echo "rc $?"
    grep -v '^ok ' "$OUT/test-cuda.log" | head -n 60
fi

if step cli; then
    stamp "tests/cli/cuda.sh"
    SP_TEST_OBJ=build/obj-cuda timeout 120 bash tests/cli/cuda.sh 2>&1 | tail -n 15
fi

# The same harness under compute-sanitizer: memcheck on every case,
# racecheck, initcheck and synccheck on the first case of each op in each
# golden file (they are slower).  Its report goes to stderr, not into the
# stream sp-op writes; all four in one log (what comes back is 8 files).
for tool in memcheck racecheck initcheck synccheck; do
    if ! step "$tool" || ! command -v compute-sanitizer >/dev/null; then continue; fi
    first=1
    [ "$tool" = memcheck ] && first=0
    stamp "compute-sanitizer $tool (SP_CUDA_FIRST=$first)"
    echo "== $tool" >>"$OUT/sanitize.log"
    SP_CUDA_WRAP="compute-sanitizer --tool $tool --error-exitcode 9 --log-file /dev/stderr" SP_CUDA_FIRST=$first \
        timeout 500 bash tests/cuda/run.sh >"$OUT/$tool.tmp" 2>&1
    echo "rc $?: $(tail -n 1 "$OUT/$tool.tmp")"
    grep '^FAIL' "$OUT/$tool.tmp" | head -n 20
    cat "$OUT/$tool.tmp" >>"$OUT/sanitize.log"
    rm -f "$OUT/$tool.tmp"
done

if step suite; then
    # make test's suite with this GPU present (tests that take the GPU branch).
    # Its data tests read ../shared/data, which does not travel: carry a copy
    # of the small sets (cp -r ../shared/data/tetrominoes-real10 build/shared-data/)
    # and it is linked there.
    if [ -d build/shared-data ] && [ ! -e ../shared/data ]; then
        mkdir -p ../shared && ln -s "$PWD/build/shared-data" ../shared/data
    fi
    stamp "tests/run.sh (make test's suite)"
    OBJ=build/obj-cuda timeout "${SP_SUITE_SECONDS:-240}" bash tests/run.sh >"$OUT/suite.log" 2>&1
    echo "rc $?"
    grep -E '^FAIL|^    ' "$OUT/suite.log" | head -n 40
    tail -n 1 "$OUT/suite.log"
fi
if step bench; then
    # The PyTorch reference beside ours on this machine's CPU: its python3
    # (torch, yaml, scipy, sklearn, torchvision from pip) runs bench.py.
    stamp "bench-infer on the CPU (${SP_BENCH_CONFIGS:-tetro dsprites horse})"
    # shellcheck disable=SC2086 # the configs are words
    SP_PYTHON=$(command -v python3) SP_DATA=build/shared-data SP_REFERENCE=build/refbench \
        REPS=${REPS:-2} REF_SECONDS=${REF_SECONDS:-2} LONG=${LONG:-0} \
        timeout "${SP_BENCH_TIMEOUT:-240}" bash pipelines/bench-infer.sh build/obj-cuda \
        ${SP_BENCH_CONFIGS:-tetro dsprites horse} >"$OUT/bench-infer.log" 2>&1
    echo "rc $?"
    tail -n 40 "$OUT/bench-infer.log"
fi
stamp "done"
