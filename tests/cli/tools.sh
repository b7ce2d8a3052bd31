# sp-viz, sp-baseline, sp-op, sp-info options: good and bad use.
source "$(dirname "$0")/lib.sh"
G=$ROOT/tests/golden/png
mkdir -p "$T/d/images" "$T/d/masks"
for i in 0 1 2; do
    cp "$G/bil_17x23_10x31_in.png" "$T/d/images/$i.png"
    cp "$G/near_17x23_10x31_in.png" "$T/d/masks/$i.png"
done
$BIN/sp-load "$T/d" --batch 2 >"$T/d.sp"

# sp-viz: a PNG of the right size (3 rows, 2 columns of 17x23 cells at scale 1 + 2px padding)
expect_ok "sp-viz writes a PNG" "$BIN/sp-viz --out $T/v.png --scale 1 <$T/d.sp"
# PNG width and height: big-endian at bytes 16..23
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{print $3*256+$4 "x" $7*256+$8}'; }
expect_eq "sp-viz grid size (2 columns of 23 px, 3 rows of 17 px, 2 px gaps)" "52x59" "$(png_size $T/v.png)"
expect_ok "sp-viz --entries mask only" "$BIN/sp-viz --out $T/m.png --entries mask --scale 1 --max 1 <$T/d.sp 2>&1 | grep -q '1 rows x 1 columns (mask)'"
expect_ok "sp-viz --every 2: images 0 and 2 (across batches of 2)" "$BIN/sp-viz --out $T/e.png --every 2 <$T/d.sp 2>&1 | grep -q '^sp-viz: $T/e.png: 2 rows x'"
expect_ok "sp-viz --every 3: image 0 only" "$BIN/sp-viz --out $T/e.png --every 3 <$T/d.sp 2>&1 | grep -q '^sp-viz: $T/e.png: 1 rows x'"
expect_error "sp-viz bad --every" "^sp-viz: --every: must be at least 1" "$BIN/sp-viz --out $T/x.png --every 0 <$T/d.sp"
expect_ok "sp-viz reads a file argument" "$BIN/sp-viz --out $T/f.png $T/d.sp"
expect_error "sp-viz without --out" "^sp-viz: --out: required" "$BIN/sp-viz <$T/d.sp"
expect_error "sp-viz bad --max" "^sp-viz: --max: must be between" "$BIN/sp-viz --out $T/x.png --max 0 <$T/d.sp"
expect_error "sp-viz nothing to draw" "^sp-viz: stdin: batch 0: none of image" "$BIN/sp-viz --out $T/x.png --entries recon <$T/d.sp"
expect_error "sp-viz unwritable output" "^sp-viz: $T/nodir/x.png: cannot write" "$BIN/sp-viz --out $T/nodir/x.png <$T/d.sp"
expect_absent "sp-viz leaves nothing after errors" "$T/x.png" "$T"/x.png.tmp.*

# sp-baseline: adds predictions, passes the rest through
expect_ok "sp-baseline colour adds pred_mask, keeps mask" \
    "$BIN/sp-baseline colour <$T/d.sp | $BIN/sp-info | grep -q 'pred_mask    i32 \[2,17,23\]'"
expect_eq "sp-baseline background predicts nothing" "0" \
    "$($BIN/sp-baseline background <$T/d.sp | $BIN/sp-info --dump pred_mask | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/ $//')"
expect_eq "sp-baseline keeps the index" "$($BIN/sp-info --dump index <$T/d.sp)" "$($BIN/sp-baseline colour <$T/d.sp | $BIN/sp-info --dump index)"
expect_error "sp-baseline unknown method" "^sp-baseline: expected the method" "$BIN/sp-baseline magic <$T/d.sp"
expect_ok "sp-baseline | sp-eval" "$BIN/sp-baseline colour <$T/d.sp | $BIN/sp-eval | grep -q '\"n\": 3'"

# sp-op: every op reachable
expect_ok "sp-op --list names relu" "$BIN/sp-op --list | grep -q '^relu:'"
expect_error "sp-op unknown op" "^sp-op: nosuchop: unknown op" "$BIN/sp-op nosuchop <$T/d.sp"
expect_error "sp-op missing input" "^sp-op: relu: input 'x' is missing" "$BIN/sp-op relu --device cpu <$T/d.sp"
expect_error "sp-op unknown attribute" "^sp-op: relu: unknown attribute --bogus" "$BIN/sp-op relu --bogus 1 <$T/d.sp"
expect_error "sp-op no op" "^sp-op: expected an op name" "$BIN/sp-op <$T/d.sp"
expect_error "sp-op bad device" "^sp-op: --device: 'gpu' is not one of" "$BIN/sp-op relu --device gpu <$T/d.sp"
if [ -f "$ROOT/tests/golden/ops/nn_relu.sp" ]; then
    expect_eq "sp-op relu reproduces the golden y" "$($BIN/sp-info --dump y <$ROOT/tests/golden/ops/nn_relu.sp)" \
        "$($BIN/sp-op relu --device cpu <$ROOT/tests/golden/ops/nn_relu.sp | $BIN/sp-info --dump y)"
    expect_eq "sp-op relu --backward reproduces the golden dx" "$($BIN/sp-info --dump dx <$ROOT/tests/golden/ops/nn_relu.sp)" \
        "$($BIN/sp-op relu --backward --device cpu <$ROOT/tests/golden/ops/nn_relu.sp | $BIN/sp-info --dump dx)"
fi

# sp-info with head: a closed pipe ends it quietly
if [ -d "$DATA/gtsrb8" ]; then
    expect_ok "sp-info | head ends quietly" "$BIN/sp-load $DATA/gtsrb8 --batch 16 | $BIN/sp-info | head -n 3 >/dev/null"
fi
# --device auto falls back to the CPU and says so
expect_ok "--device auto says which device" "$BIN/sp-op relu --device auto <$ROOT/tests/golden/ops/nn_relu.sp 2>&1 >/dev/null | grep -q 'device: '"
