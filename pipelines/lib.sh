# shellcheck shell=bash
# Shell functions shared by the pipelines (sourced, not run).

# whole N: N is a whole number (digits only) that shell arithmetic and
# our programs' 64-bit options hold (18 digits past leading zeros);
# positive N: and not all zeros.  For the numbers users give the scripts in
# the environment.
whole() {
    case "$1" in '' | *[!0-9]*) return 1 ;; esac
    local d=${1#"${1%%[!0]*}"}
    [ ${#d} -le 18 ]
}
positive() { whole "$1" && [ -n "${1//0/}" ]; }

# load_train_status MESSAGE LOAD_STATUS TRAIN_STATUS: after an
# `sp-load ... | sp-train ...` run under `set +o pipefail`, called as
#   load_train_status "what: failed" "${PIPESTATUS[@]}"
# turns pipefail back on and exits 1 with "MESSAGE (sp-load N, sp-train M)"
# unless sp-train succeeded and sp-load succeeded or got SIGPIPE (141): when
# sp-train stops before the stream ends, that is how sp-load learns it.
load_train_status() {
    set -o pipefail
    if [ "$3" -ne 0 ] || { [ "$2" -ne 0 ] && [ "$2" -ne 141 ]; }; then
        echo "$1 (sp-load $2, sp-train $3)" >&2
        exit 1
    fi
}

# The Python that runs the PyTorch reference and the bench scripts: Debian's
# python3 (python3-torch), or SP_PYTHON (a machine whose torch lives in a
# virtual environment, such as the GPU machine's).
PY=${SP_PYTHON:-/usr/bin/python3}

# ref_heap_envs: the env(1) settings under which the benches run the PyTorch
# reference, one per line (assignments only, so that they can follow a
# "-u NAME" on env's command line; an empty GLIBC_TUNABLES sets nothing);
# they keep its fastest.  Our programs restart with
# glibc's heap on transparent huge pages where the kernel gives them only on
# request (common/sp_start.h); the reference gains as much or more from the
# same setting (tetro inference 91 -> 172 images/s here), so it is tried
# both ways.
ref_heap_envs() {
    echo "GLIBC_TUNABLES="
    if grep -q '\[madvise\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
        echo "GLIBC_TUNABLES=glibc.malloc.hugetlb=1"
    fi
}

# ref_missing REF [MODULE...]: why the PyTorch reference at REF cannot run
# here, or nothing when it can (its bench.py and the reference's model code
# import torch, yaml, scipy and sklearn into Debian's python3; a caller's
# own script may need more MODULEs, python3-MODULE each).
ref_missing() {
    local ref=$1 mods m
    shift
    mods=$(echo torch yaml scipy sklearn "$@")
    if [ ! -f "$ref/bench.py" ]; then
        echo "the PyTorch reference ($ref) is not here"
    elif ! "$PY" -c "import ${mods// /, }" 2>/dev/null; then
        echo "needs Debian's$(for m in $mods; do printf ' python3-%s' "$m"; done)"
    fi
}

# ref_best PROG CFG MODE KEY POLICY...: the PyTorch reference's fastest KEY
# figure of `$REF/bench.py CFG MODE` (THREADS, REF_SECONDS and PYPATH as
# the caller set them) over each setting of ref_heap_envs times each POLICY
# (env(1) arguments, split on spaces; "" for none); "-" and a line on
# stderr naming PROG when no run gave one.  With REF_RSS_FILE set, the
# fastest run's peak memory (bench.py's peak_rss_MiB) is written there.
# With REF_BESIDE set, that command runs (bash -c) right after each of the
# reference's runs: a figure of ours measured beside each of its runs meets
# the same drift of this machine's speed.
ref_best() {
    local prog=$1 cfg=$2 mode=$3 key=$4 best=0 h p r out
    shift 4
    while read -r h; do
        for p in "$@"; do
            # shellcheck disable=SC2086 # $p and $h are env(1) arguments
            out=$(env $p $h OPENBLAS_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$PYPATH "$PY" \
                "$REF/bench.py" "$cfg" "$mode" --threads "$THREADS" --min-seconds "$REF_SECONDS" --warmup 2 2>/dev/null) ||
                out=
            [ -z "${REF_BESIDE:-}" ] || bash -c "$REF_BESIDE"
            r=$(echo "$out" | sed -n "s/.*\"$key\": \([0-9.e+-]*\).*/\1/p")
            [ -z "$r" ] || [ "$(awk "BEGIN {print ($r > $best) ? 1 : 0}")" = 0 ] || {
                best=$r
                # the best run's peak memory, for a caller that asks (REF_RSS_FILE)
                [ -z "${REF_RSS_FILE:-}" ] || echo "$out" | sed -n 's/.*"peak_rss_MiB": \([0-9.e+-]*\).*/\1/p' >"$REF_RSS_FILE"
            }
        done
    done < <(ref_heap_envs)
    if [ "$best" = 0 ]; then
        echo "$prog: $cfg: the reference gave no figure (run $REF/bench.py $cfg $mode to see why)" >&2
        best=-
    fi
    echo "$best"
}

