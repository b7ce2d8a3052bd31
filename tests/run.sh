#!/bin/bash
# Runs every unit test binary ($OBJ/tests/test_*) and every CLI script
# (tests/cli/*.sh), counts their "ok NAME" / "FAIL NAME: why" lines, and ends
# with "N passed, M failed".  A test program that dies without saying FAIL
# (crash, sanitizer report, non-zero exit) counts as one failure.
set -u
cd "$(dirname "$0")/.."
OBJ=${OBJ:?set OBJ to the build object directory}
export SP_TEST_OBJ=$OBJ
if [ "${SANITIZE:-0}" = 1 ]; then
    # Errors exit through sp_fatal() without freeing; leaks are checked by the
    # unit tests, not by the one-line-error CLI tests.
    export ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=0
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
passed=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run_one() {
    local name=$1
    shift
    local start=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    local p f
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^FAIL ' "$log")
    grep '^FAIL ' "$log"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited with status $rc"
        tail -n 5 "$log" | sed 's/^/    /'
        f=1
    fi
    printf '%-40s %4d ok %3d failed %4ds\n' "$name" "$p" "$f" $((SECONDS - start)) >&2
    passed=$((passed + p))
    failed=$((failed + f))
}
for t in "$OBJ"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for s in tests/cli/*.sh; do
    [ "$(basename "$s")" = lib.sh ] && continue
    run_one "$(basename "$s")" bash "$s"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
