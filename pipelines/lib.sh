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

# ref_missing REF: why the PyTorch reference at REF cannot run here, or
# nothing when it can (its bench.py and the reference's model code import
# torch, yaml, scipy and sklearn into Debian's python3).
ref_missing() {
    if [ ! -f "$1/bench.py" ]; then
        echo "the PyTorch reference ($1) is not here"
    elif ! /usr/bin/python3 -c 'import torch, yaml, scipy, sklearn' 2>/dev/null; then
        echo "needs Debian's python3-torch python3-yaml python3-scipy python3-sklearn"
    fi
}
