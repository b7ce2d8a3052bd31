# Every stream-reading program on broken input: one line on stderr naming
# the input and batch, a non-zero exit, no crash, no hang.  Truncation is
# tried at every byte of a small good stream.
source "$(dirname "$0")/lib.sh"
MK=$TOOLS/mkbad
READERS="sp-info"
for p in sp-eval sp-viz; do [ -x "$BIN/$p" ] && READERS="$READERS $p"; done

expect_ok "mkbad good stream reads" "$MK good | $BIN/sp-info >/dev/null"
expect_ok "concatenated streams read" "$MK two-streams | $BIN/sp-info | grep -c 'end: 2 batches' | grep -qx 2"
expect_ok "empty stream (no batches) reads" "$MK empty-stream | $BIN/sp-info | grep -q 'end: 0 batches'"

declare -A WHY=(
    [wrong-dtype]="unknown dtype" [size-mismatch]="data has 10 bytes" [negative-dim]="negative"
    [huge-dim]="too large" [huge-shape]="too large" [too-many-dims]="dimensions"
    [no-trailer]="truncated" [wrong-count]="trailer says 5 batches" [out-of-order]="out of order"
    [huge-map]="exceeds the limit" [huge-array]="exceeds the limit" [huge-bin]="truncated"
    [huge-str]="exceeds the limit" [not-a-map]="expected a msgpack map" [no-header]="not a sprites stream"
    [version-2]="version" [deep-nesting]="nesting" [int-key]="key is not a string"
    [tensor-extra-key]="exactly the keys" [data-not-bin]="not a msgpack bin" [garbage]=""
    [header-twice]="new header before the trailer" [duplicate-entry]="appears twice")
for kind in "${!WHY[@]}"; do
    $MK "$kind" >"$T/$kind.sp"
    for p in $READERS; do
        case $p in
        sp-viz) cmd="$BIN/sp-viz --out $T/viz-$kind.png <$T/$kind.sp" ;;
        *) cmd="$BIN/$p <$T/$kind.sp" ;;
        esac
        expect_error "$p rejects $kind" "^$p: stdin: .*${WHY[$kind]}" "$cmd"
    done
done
expect_absent "sp-viz leaves no partial PNG" "$T"/viz-*.png "$T"/viz-*.png.tmp.*
expect_error "sp-info: empty input" "^sp-info: stdin: empty input" "$BIN/sp-info </dev/null"
expect_error "sp-info: missing file" "^sp-info: $T/nope: cannot open" "$BIN/sp-info $T/nope"
expect_error "sp-info: unknown option" "^sp-info: --frobnicate: unknown option" "$BIN/sp-info --frobnicate"

# Truncation at every byte of a good stream (and of a real one every 97 bytes).
$MK good >"$T/good.sp"
n=$(stat -c %s "$T/good.sp")
bad=0 total=0
for ((i = 0; i < n; i++)); do
    head -c "$i" "$T/good.sp" >"$T/cut.sp"
    for p in $READERS; do
        total=$((total + 1))
        case $p in
        sp-viz) timeout 20 "$BIN/sp-viz" --out "$T/cut.png" <"$T/cut.sp" >/dev/null 2>"$T/err" ;;
        *) timeout 20 "$BIN/$p" <"$T/cut.sp" >/dev/null 2>"$T/err" ;;
        esac
        rc=$?
        if [ $rc -eq 0 ] || [ $rc -ge 124 ] || [ "$(wc -l <"$T/err")" -ne 1 ]; then
            bad=$((bad + 1))
            [ $bad -le 3 ] && echo "    $p on $i of $n bytes: rc=$rc $(head -c 200 "$T/err")"
        fi
    done
done
expect_eq "truncation at each of $n bytes rejected by: $READERS ($total runs)" 0 "$bad"
expect_absent "no partial output after truncation" "$T/cut.png" "$T"/cut.png.tmp.*

if [ -d "$DATA/tetrominoes-real10" ]; then
    $BIN/sp-load "$DATA/tetrominoes-real10" --batch 3 >"$T/real.sp"
    n=$(stat -c %s "$T/real.sp")
    bad=0
    for ((i = 1; i < n; i += 97)); do
        head -c "$i" "$T/real.sp" | timeout 20 "$BIN/sp-info" >/dev/null 2>"$T/err"
        rc=$?
        { [ $rc -eq 0 ] || [ $rc -ge 124 ] || [ "$(wc -l <"$T/err")" -ne 1 ]; } && bad=$((bad + 1))
    done
    expect_eq "truncated real stream rejected at every 97th byte" 0 "$bad"
fi

# Closed pipes: a reader that stops early must not make the writer hang or
# complain; head on sp-info's output must not make sp-info fail loudly.
if [ -d "$DATA/gtsrb8" ]; then
    expect_ok "sp-load into a closed pipe ends quietly" \
        "set -o pipefail; $BIN/sp-load $DATA/gtsrb8 --batch 8 | head -c 1000 >/dev/null; test \${PIPESTATUS[0]} -eq 141 -o \${PIPESTATUS[0]} -eq 0"
fi

# A full disk: a stage's output is written by its writer thread
# (sp_writer_async.c), whose error must still come out as the stage's one
# line and exit status, at the trailer's flush (a small stream) or at a
# batch (one larger than stdio's buffer).
$MK good >"$T/good.sp"
expect_error "a filter stage into a full disk, small stream" "^sp-baseline: stdout: write failed" \
    "$BIN/sp-baseline background <$T/good.sp >/dev/full"
if [ -d "$DATA/tetrominoes-real10" ]; then
    $BIN/sp-load "$DATA/tetrominoes-real10" --batch 2 >"$T/real2.sp"
    expect_error "a filter stage into a full disk, at a batch" "^sp-baseline: stdout: write failed" \
        "$BIN/sp-baseline background <$T/real2.sp >/dev/full"
    expect_error "sp-load into a full disk" "^sp-load: stdout: write failed" \
        "$BIN/sp-load $DATA/tetrominoes-real10 --batch 2 >/dev/full"
    expect_ok "a filter stage into a closed pipe ends quietly" \
        "set -o pipefail; $BIN/sp-baseline background <$T/real2.sp | head -c 1000 >/dev/null; test \${PIPESTATUS[0]} -eq 141 -o \${PIPESTATUS[0]} -eq 0 && test ! -s $T/err"
fi
