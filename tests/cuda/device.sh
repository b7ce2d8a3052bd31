#!/bin/bash
# The GPU machine's check, as one call of the device tool (README, CUDA):
# build there, make test-cuda, the CLI's CUDA checks, determinism and
# compute-sanitizer over the golden cases, and make test's suite.  Logs go to $OUT (the device
# tool's folder that comes back; build/device elsewhere).
#
# Here, before the call:  bash pipelines/cuda-carry.sh build/deps
# The call:  run command="bash tests/cuda/device.sh" carry=["build/deps"]
#
# That machine has nvcc and the CUDA runtime, cuDNN and cuBLAS as PyTorch's
# pip packages (site-packages/nvidia/*/lib), which ship only versioned
# sonames (libcudnn.so.9): the linker's -lcudnn needs a libcudnn.so, so the
# script links against symlinks in a folder of its own.
# SP_DEVICE_STEPS="build test-cuda cli repeat memcheck racecheck initcheck
# synccheck suite": which steps (all by default; see per_case and suite).
# Independent golden files run in parallel (up to 8 jobs).
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-build/device}
mkdir -p "$OUT"
STEPS=${SP_DEVICE_STEPS:-build test-cuda cli repeat memcheck racecheck initcheck synccheck suite}
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

S=$(mktemp -d)
J=$(( $(nproc) > 8 ? 8 : $(nproc) ))
goldens=$(for g in tests/golden/ops/*.sp; do basename "$g" .sp; done)

if step test-cuda; then
    stamp "make test-cuda"
    timeout 400 bash tests/cuda/run.sh >"$OUT/test-cuda.log" 2>&1
    echo "rc $?"
    grep -v '^ok ' "$OUT/test-cuda.log" | head -n 60
fi

if step cli; then
    stamp "tests/cli/cuda.sh"
    SP_TEST_OBJ=build/obj-cuda timeout 120 bash tests/cli/cuda.sh 2>&1 | tail -n 15
fi

# Per case of a golden file, for each op with CUDA code (forward, and
# backward where the CPU's backward runs on the case):
#   repeat     the CUDA output twice, byte for byte (README: results repeat
#              run to run on one GPU)
#   memcheck   compute-sanitizer's memcheck, every case
#   racecheck, initcheck, synccheck: the first case of each op in the file
per_case() { # GOLDEN-NAME
    local d=$S/pc-$1 k op b rc cov tool seen=" "
    mkdir -p "$d"
    build/obj-cuda/tests/tools/opsplit "$d" <"tests/golden/ops/$1.sp" >"$d/list" || return 0
    while read -r k op; do
        cov=$(grep "^$op " "$S/ops") || continue
        for b in "" --backward; do
            if [ -n "$b" ]; then
                [[ $cov == *backward* ]] || continue
                bin/sp-op "$op" $b --device cpu <"$d/$k.sp" >/dev/null 2>&1 || continue
            fi
            if step repeat; then
                bin/sp-op "$op" $b --device cuda <"$d/$k.sp" >"$d/r1" 2>/dev/null
                bin/sp-op "$op" $b --device cuda <"$d/$k.sp" >"$d/r2" 2>/dev/null
                if cmp -s "$d/r1" "$d/r2" && [ -s "$d/r1" ]; then echo "repeat $op ${b:-forward} ($1 $k): identical"
                else echo "repeat $op ${b:-forward} ($1 $k): DIFFERENT"; fi
            fi
            for tool in memcheck racecheck initcheck synccheck; do
                step "$tool" || continue
                [ "$tool" = memcheck ] || [[ $seen != *" $op$b "* ]] || continue
                timeout 120 compute-sanitizer --tool "$tool" --error-exitcode 9 \
                    bin/sp-op "$op" $b --device cuda <"$d/$k.sp" >/dev/null 2>"$d/san.log"
                rc=$?
                echo "$tool $op ${b:-forward} ($1 $k): rc $rc"
                [ $rc -eq 0 ] || grep -m 8 -E '=====|sp-op' "$d/san.log"
            done
            seen="$seen$op$b "
        done
    done <"$d/list"
}
if command -v compute-sanitizer >/dev/null || step repeat; then
    stamp "per case: $STEPS; $J golden files at a time"
    bin/sp-op --list | awk '/^[a-z0-9_]+: / { n = substr($1, 1, length($1) - 1) }
        /^  cuda: / && $2 != "none" { print n, $0 }' >"$S/ops"
    export S STEPS
    export -f per_case step
    echo "$goldens" | xargs -P "$J" -I{} bash -c 'per_case {}' >"$OUT/cases.log" 2>&1
    grep -vE ': rc 0$|: identical$' "$OUT/cases.log" | head -n 80
    for w in repeat memcheck racecheck initcheck synccheck; do
        n=$(grep -c "^$w " "$OUT/cases.log")
        [ "$n" -gt 0 ] && echo "$w: $n runs, $(grep -cE "^$w .*(: rc 0|: identical)$" "$OUT/cases.log") clean"
    done
fi

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
stamp "done"
