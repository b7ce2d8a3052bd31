#!/bin/bash
# make test-cuda: every op that has a CUDA implementation, run through
# `sp-op --device cpu` and `sp-op --device cuda` on the same inputs, forward
# and backward, compared by the normalised error
#     max |cpu - cuda| / max |cpu|      (per output tensor, over all batches)
# against the op's tolerance below.  The inputs are the golden cases of
# tests/golden/ops/ (random inputs drawn by tests/golden/make_ops_*.py, plus
# their edge cases: points on and outside the borders, 1x1 images, odd
# sizes, empty batches), SP_CUDA_JOBS golden files at a time (default the
# cores, at most 8: ~700 sp-op runs, mostly process and CUDA start-up; 105 s
# with 8 on the H200 machine).  Without a usable GPU it prints
# "skipped: no usable GPU (...)" and succeeds.  Ends with "N passed, M failed".
#
# On the GPU machine, from the repository root, after building there:
#     make test-cuda        (or: bash tests/cuda/run.sh)
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
BIN=${SP_BIN:-$ROOT/bin} # SP_BIN: another sp-op (the harness test uses a fake one)
OBJ=${OBJ:-build/obj-cuda}
TOOLS=$ROOT/$OBJ/tests/tools
GOLDEN=$ROOT/tests/golden/ops
T=$(mktemp -d "${TMPDIR:-/tmp}/sp-cuda.XXXXXX")
trap 'rm -rf "$T"' EXIT

# Tolerances of the normalised error, per op.  0: bit-identical expected
# (same float operations in the same order on both devices).
declare -A TOL=(
    [relu]=0 [add]=0 [clamp]=0 [mask_noise]=0 [uniform_noise]=0 [adam]=0 [tsf_identity]=0
    [sigmoid]=1e-6 [occlusion_grid]=1e-6 [mse]=1e-6
    [compose]=1e-5 [affine_grid]=1e-5 [homography_grid]=1e-5 [tps_grid]=1e-5
    [grid_sample]=1e-5 [warp_affine]=1e-5 [tsf_position]=1e-5 [tsf_similarity]=1e-5
    [tsf_affine]=1e-5 [tsf_projective]=1e-5 [tsf_tps]=1e-5
    [linear]=1e-5 [mlp]=1e-5 [conv2d]=1e-4 [batchnorm2d]=1e-4
)
# Backward tolerances where the parameter gradients are long sums in
# another order than the CPU's (per-pixel terms reduced by a tree).
declare -A TOL_BWD=(
    [affine_grid]=1e-4 [homography_grid]=1e-4 [tps_grid]=1e-4 [grid_sample]=1e-4
    [warp_affine]=1e-4 [tsf_position]=1e-4 [tsf_similarity]=1e-4 [tsf_affine]=1e-4
    [tsf_projective]=1e-4 [tsf_tps]=1e-4 [compose]=1e-4 [conv2d]=1e-4 [batchnorm2d]=1e-4
    [linear]=1e-4 [mlp]=1e-4 [mse]=1e-6
)

for f in "$BIN/sp-op" "$TOOLS/opsplit" "$TOOLS/opdiff"; do
    if [ ! -x "$f" ]; then
        echo "test-cuda: $f missing: run make first (OBJ=$OBJ)" >&2
        exit 1
    fi
done

# Is there a usable GPU?  (sp-op --device cuda refuses when there is none.)
if ! "$BIN/sp-op" relu --device cuda <"$GOLDEN/nn_relu.sp" >/dev/null 2>"$T/probe"; then
    echo "skipped: no usable GPU ($(head -n 1 "$T/probe" | sed 's/^sp-op: //'))"
    exit 0
fi

# The op list: name, outputs, gradients, CUDA coverage.
"$BIN/sp-op" --list | awk '
    /^[a-z0-9_]+: / { name = substr($1, 1, length($1) - 1) }
    /^  outputs: / { out[name] = $2 }
    /^  gradients: / { grad[name] = $2 }
    /^  cuda: / { sub(/^  cuda: /, ""); print name, out[name], grad[name], $0 }
' >"$T/ops"

# Each golden file's checks print "ok ..." / "FAIL ..." lines; they are
# counted at the end (the files run as parallel jobs).
check() { # NAME ERRFILE TOL
    local name=$1 errs=$2 tol=$3 bad
    bad=$(awk -v t="$tol" '$2 != "absent" && !($2 + 0 <= t + 0) { printf "%s=%s ", $1, $2 }' "$errs")
    if [ -z "$bad" ]; then
        echo "ok $name ($(tr '\n' ' ' <"$errs")<= $tol)"
    else
        echo "FAIL $name: $bad> $tol"
    fi
}

# How each CUDA run goes (tests/cuda/device.sh uses these on the GPU machine):
#   SP_CUDA_WRAP="compute-sanitizer --tool memcheck --error-exitcode 9
#       --log-file /dev/stderr": a command every CUDA run goes through; a
#       non-zero status (the tool's report) fails the case, its first lines
#       in the FAIL line.  The CPU runs are not wrapped.
#   SP_CUDA_REPEAT=1: every CUDA run twice, the outputs byte for byte (the
#       README's claim that results repeat run to run on one GPU).
#   SP_CUDA_FIRST=1: only the first case of each op in a golden file.
read -ra WRAP <<<"${SP_CUDA_WRAP:-}"
cuda_op() { # IN OUT ERR SP-OP-ARGS...: 0 when the CUDA run went (and repeated)
    local in=$1 out=$2 err=$3
    shift 3
    "${WRAP[@]}" "$BIN/sp-op" "$@" --device cuda <"$in" >"$out" 2>"$err" || return 1
    [ "${SP_CUDA_REPEAT:-0}" = 1 ] || return 0
    "${WRAP[@]}" "$BIN/sp-op" "$@" --device cuda <"$in" >"$out.again" 2>>"$err" || return 1
    cmp -s "$out" "$out.again" || { echo "a second run gave other bytes" >>"$err"; return 1; }
}

# SP_CUDA_GOLDEN="nn_relu compose_mse": only these golden files (quick runs).
files=()
if [ -n "${SP_CUDA_GOLDEN:-}" ]; then
    for n in $SP_CUDA_GOLDEN; do files+=("$GOLDEN/$n.sp"); done
else
    files=("$GOLDEN"/*.sp)
fi
check_file() { # GOLDEN-FILE
    local g=$1 d k op line cov outs grads tol c dn seen=" "
    d=$T/$(basename "$g" .sp)
    mkdir -p "$d"
    "$TOOLS/opsplit" "$d" <"$g" >"$d/list" || { echo "FAIL split $g"; return; }
    while read -r k op; do
        line=$(grep "^$op " "$T/ops") || continue
        cov=${line#* * * }
        case $cov in none*) continue ;; esac
        if [ "${SP_CUDA_FIRST:-0}" = 1 ]; then
            [[ $seen == *" $op "* ]] && continue
            seen="$seen$op "
        fi
        read -r _ outs grads _ <<<"$line"
        tol=${TOL[$op]:-1e-5}
        c=$d/$k.sp
        # forward
        if "$BIN/sp-op" "$op" --device cpu <"$c" >"$d/$k.cpu" 2>"$d/$k.err"; then
            if cuda_op "$c" "$d/$k.gpu" "$d/$k.err" "$op"; then
                "$TOOLS/opdiff" "$d/$k.cpu" "$d/$k.gpu" ${outs//,/ } >"$d/$k.diff" 2>&1 &&
                    check "$op forward $(basename "$g") case $k" "$d/$k.diff" "$tol" ||
                    echo "FAIL $op forward $(basename "$g") case $k: $(cat "$d/$k.diff")"
            else
                echo "FAIL $op forward $(basename "$g") case $k: cuda: $(head -c 300 "$d/$k.err")"
            fi
        fi
        # backward, where the case holds the output gradients (the CPU runs it)
        case $cov in *backward*) ;; *) continue ;; esac
        [ "$grads" = "(none)" ] && continue
        dn=$(echo "$grads" | tr ',' '\n' | sed 's/^/d/' | tr '\n' ' ')
        "$BIN/sp-op" "$op" --backward --device cpu <"$c" >"$d/$k.bcpu" 2>/dev/null || continue
        if cuda_op "$c" "$d/$k.bgpu" "$d/$k.err" "$op" --backward; then
            # shellcheck disable=SC2086
            "$TOOLS/opdiff" "$d/$k.bcpu" "$d/$k.bgpu" $dn >"$d/$k.bdiff" 2>&1 &&
                check "$op backward $(basename "$g") case $k" "$d/$k.bdiff" "${TOL_BWD[$op]:-$tol}" ||
                echo "FAIL $op backward $(basename "$g") case $k: $(cat "$d/$k.bdiff")"
        else
            echo "FAIL $op backward $(basename "$g") case $k: cuda: $(head -c 300 "$d/$k.err")"
        fi
    done <"$d/list"
}

# SP_CUDA_JOBS golden files at a time (default: the cores, at most 8); the
# output in file order.
njobs=${SP_CUDA_JOBS:-$(nproc)}
[ "$njobs" -gt 8 ] && njobs=8
i=0
for g in "${files[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$njobs" ]; do wait -n; done
    check_file "$g" >"$T/out.$(printf %03d $i)" 2>&1 &
    i=$((i + 1))
done
wait
cat "$T"/out.* 2>/dev/null >"$T/all"
cat "$T/all"
passed=$(grep -c '^ok ' "$T/all")
failed=$(grep -c '^FAIL ' "$T/all")

# Every op the table lists must have been checked at least once.
[ -n "${SP_CUDA_GOLDEN:-}" ] || for op in $(awk '$4 != "none" { print $1 }' "$T/ops"); do
    if ! grep -q " $op$" "$T"/*/list 2>/dev/null; then
        echo "FAIL $op: no golden case to compare on"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
