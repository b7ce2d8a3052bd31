# Helpers for CLI tests: source it, then call the checks.  Each check prints
# "ok NAME" or "FAIL NAME: why" (counted by tests/run.sh).  Every command runs
# under `timeout` so that a hang is a failure, not a stuck test run.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
BIN=$ROOT/bin
OBJ=${SP_TEST_OBJ:-build/obj-cpu}
TOOLS=$ROOT/$OBJ/tests/tools
DATA=${SP_DATA:-$ROOT/../shared/data}
T=$(mktemp -d "${TMPDIR:-/tmp}/sp-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
TIMEOUT=${SP_TEST_TIMEOUT:-120}

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }

# need_data SET: what follows reads the development data set $DATA/SET
# (../shared/data beside the checkout, or SP_DATA=DIR).  Without it the
# script says so in one "skipped" line and stops, as the GPU checks do
# without a GPU: a clone without that folder still runs make test.
need_data() {
    [ -d "$DATA/$1" ] || { ok "$(basename "$0") # skipped: no data ($DATA/$1 absent)"; exit 0; }
}

# expect_ok NAME CMD... : exit status 0 (stderr kept in $T/err)
expect_ok() {
    local name=$1
    shift
    if timeout "$TIMEOUT" bash -c "$*" 2>"$T/err"; then
        ok "$name"
    else
        fail "$name" "exit $? from: $* :: $(head -c 300 "$T/err")"
    fi
}

# expect_error NAME REGEX CMD... : non-zero exit below 128 (no crash or
# signal), stderr exactly one line, matching REGEX (grep -E).
expect_error() {
    local name=$1 re=$2
    shift 2
    timeout "$TIMEOUT" bash -c "$*" >/dev/null 2>"$T/err"
    local rc=$?
    local lines
    lines=$(wc -l <"$T/err")
    if [ "$rc" -eq 0 ]; then
        fail "$name" "exit 0, expected an error from: $*"
    elif [ "$rc" -ge 124 ]; then
        fail "$name" "exit $rc (timeout, crash or signal) from: $* :: $(head -c 300 "$T/err")"
    elif [ "$lines" -ne 1 ]; then
        fail "$name" "stderr has $lines lines, expected 1: $(head -c 300 "$T/err")"
    elif ! grep -Eq -- "$re" "$T/err"; then
        fail "$name" "stderr '$(cat "$T/err")' does not match /$re/"
    else
        ok "$name"
    fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}

# expect_absent NAME GLOB... : no such file exists (no partial output left)
expect_absent() {
    local name=$1
    shift
    local f
    for f in "$@"; do
        if [ -e "$f" ]; then
            fail "$name" "$f exists"
            return
        fi
    done
    ok "$name"
}
