#!/bin/bash
# make fuzz [FUZZ_SECONDS=N] (bash tests/fuzz/run.sh [SECONDS [OBJDIR]]):
# builds the libFuzzer target on the stream reader with clang (ASan + UBSan)
# and runs it for N seconds on a corpus seeded with the broken streams of
# tests/tools/mkbad.  Crashes are written to build/fuzz/ and make this exit
# non-zero.
set -euo pipefail
export LC_ALL=C # sort and join agree on the order
cd "$(dirname "$0")/../.."
secs=${1:-30}
command -v clang >/dev/null || { echo "fuzz: clang is missing (apt-get install clang)"; exit 1; }
out=build/fuzz
mkdir -p "$out/corpus"
# The sources the target needs: the closure of its undefined symbols over
# the library's objects of a build (make builds them first), so a new
# dependency of the reader cannot be forgotten in a hand-kept list.
objs=${2:-$(ls -d build/obj-*/common 2>/dev/null | head -1)}
[ -n "$objs" ] && ls "$objs"/*.o >/dev/null 2>&1 || { echo "fuzz: no library objects in ${objs:-build/obj-*/common}: run make first"; exit 1; }
nm -A --defined-only -g "$objs"/*.o | awk '$(NF-1) ~ /^[TDRB]$/ {f = $1; sub(/:.*/, "", f); print $NF, f}' \
    | sort -u >"$out/defs"
gcc -std=c11 -c -Icommon $(pkg-config --cflags msgpack) tests/fuzz/fuzz_stream.c -o "$out/fuzz_stream.o"
have=" " todo="$out/fuzz_stream.o"
while [ -n "$todo" ]; do
    next=""
    # shellcheck disable=SC2086
    for o in $(nm -u $todo | awk '{print $NF}' | sort -u | join - "$out/defs" | awk '{print $2}' | sort -u); do
        case "$have" in *" $o "*) ;; *) have="$have$o " next="$next $o" ;; esac
    done
    todo=$next
done
SRC="tests/fuzz/fuzz_stream.c"
for o in $have; do SRC="$SRC common/$(basename "$o" .o).c"; done
echo "fuzz: $SRC"
clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -Icommon $(pkg-config --cflags msgpack) \
    $SRC $(pkg-config --libs msgpack) -o "$out/fuzz_stream"
mk=${objs%/common}/tests/tools/mkbad # the same build's
[ -x "$mk" ] || mk=
if [ -n "$mk" ]; then
    for k in $("$mk" --list); do "$mk" "$k" >"$out/corpus/$k.sp"; done
fi
# msgpack-c asks malloc for what hostile headers claim only if our scanner
# lets them through: allocator_may_return_null would hide that, so keep the
# default (an over-allocation is a crash here).  -rss_limit_mb bounds memory.
ASAN_OPTIONS=detect_leaks=1 "$out/fuzz_stream" -max_total_time="$secs" -rss_limit_mb=1024 \
    -max_len=65536 -timeout=10 -artifact_prefix="$out/" "$out/corpus" 2>&1 | tail -n 5
