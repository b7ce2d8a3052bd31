#!/bin/bash
# make fuzz [FUZZ_SECONDS=N]: builds the libFuzzer target on the stream
# reader with clang (ASan + UBSan) and runs it for N seconds on a corpus
# seeded with the broken streams of tests/tools/mkbad.  Crashes are written
# to build/fuzz/ and make this exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
command -v clang >/dev/null || { echo "fuzz: clang is missing (apt-get install clang)"; exit 1; }
out=build/fuzz
mkdir -p "$out/corpus"
SRC="tests/fuzz/fuzz_stream.c common/sp_stream_read.c common/sp_msgscan.c common/sp_map.c common/sp_tensor.c common/sp_error.c common/sp_env.c"
clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -Icommon $(pkg-config --cflags msgpack) \
    $SRC $(pkg-config --libs msgpack) -o "$out/fuzz_stream"
mk=$(ls build/obj-*/tests/tools/mkbad 2>/dev/null | head -1)
if [ -n "$mk" ]; then
    for k in $("$mk" --list); do "$mk" "$k" >"$out/corpus/$k.sp"; done
fi
# msgpack-c asks malloc for what hostile headers claim only if our scanner
# lets them through: allocator_may_return_null would hide that, so keep the
# default (an over-allocation is a crash here).  -rss_limit_mb bounds memory.
ASAN_OPTIONS=detect_leaks=1 "$out/fuzz_stream" -max_total_time="$secs" -rss_limit_mb=1024 \
    -max_len=65536 -timeout=10 -artifact_prefix="$out/" "$out/corpus" 2>&1 | tail -n 5
