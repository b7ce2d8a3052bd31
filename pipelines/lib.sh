# shellcheck shell=bash
# Shell functions shared by the pipelines (sourced, not run).

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
