# tests/tools/inferchain (make bench's in-process inference chain) computes
# what the pipe sp-load | sp-predict | sp-select | sp-compose | sp-eval does.
source "$(dirname "$0")/lib.sh"
R10=$DATA/tetrominoes-real10
need_data tetrominoes-real10
CH=$TOOLS/inferchain

expect_ok "init-only tetro model" "$BIN/sp-train --init-only $ROOT/pipelines/configs/tetro.conf --out $T/m.spm 2>/dev/null"
expect_ok "pipe" "$BIN/sp-load $R10 --batch 4 | $BIN/sp-predict --model $T/m.spm | $BIN/sp-select | $BIN/sp-compose --drop cand_layers,cand_masks | $BIN/sp-eval >$T/pipe.json"
expect_ok "chain" "$CH --model $T/m.spm --batch 4 $R10 >$T/chain.json 2>$T/chain.err"
expect_eq "same metrics" "$(cat $T/pipe.json)" "$(cat $T/chain.json)"
# --features: the chain of sp-predict --features | sp-select --model --gather
expect_ok "chain --features" "$CH --features --model $T/m.spm --batch 4 $R10 >$T/chainf.json 2>/dev/null"
expect_eq "--features: same metrics" "$(cat $T/pipe.json)" "$(cat $T/chainf.json)"
expect_ok "timings on stderr" "grep -Eq '^images 10 seconds [0-9.]+ load [0-9.]+ predict [0-9.]+ select [0-9.]+ compose [0-9.]+ eval [0-9.]+\$' $T/chain.err"
# a one-layer model with a background and labels: gtsrb8 (labels from the class folders)
if [ -d "$DATA/gtsrb8" ]; then
    L="$DATA/gtsrb8 --size 28x28 --batch 16 --limit 40"
    expect_ok "gtsrb8 model" "$BIN/sp-load $L | $BIN/sp-train --init-only $ROOT/pipelines/configs/gtsrb8.conf --out $T/g.spm 2>/dev/null"
    expect_ok "gtsrb8 pipe" "$BIN/sp-load $L | $BIN/sp-predict --model $T/g.spm | $BIN/sp-select | $BIN/sp-compose | $BIN/sp-eval >$T/gp.json"
    expect_ok "gtsrb8 chain" "$CH --model $T/g.spm $L >$T/gc.json 2>/dev/null"
    expect_eq "gtsrb8: same metrics" "$(cat $T/gp.json)" "$(cat $T/gc.json)"
    expect_ok "gtsrb8 chain --features" "$CH --features --model $T/g.spm $L >$T/gf.json 2>/dev/null"
    expect_eq "gtsrb8 --features: same metrics" "$(cat $T/gp.json)" "$(cat $T/gf.json)"
fi
expect_error "wrong image size" "^inferchain: images are 36x35, the model expects 35x35\$" "$CH --model $T/m.spm --size 36x35 $R10"
# --step S: the reference's protocol (one batch's inference repeated: 2 passes
# of warm-up, then at least 3 and S seconds) on the first batch, before the
# usual run, whose metrics are still the pipe's
expect_ok "pipe, first batch" "$BIN/sp-load $R10 --batch 4 --limit 4 | $BIN/sp-predict --model $T/m.spm | $BIN/sp-select | $BIN/sp-compose | $BIN/sp-eval >$T/pipe4.json"
expect_ok "chain --step" "$CH --step 0.01 --model $T/m.spm --batch 4 --limit 4 $R10 >$T/step.json 2>$T/step.err"
expect_eq "--step: the first batch's metrics" "$(cat $T/pipe4.json)" "$(cat $T/step.json)"
expect_ok "--step: its figure, then the run's" "grep -Eq '^step images/s [0-9.]+ passes ([3-9]|[1-9][0-9]+) seconds [0-9.]+ predict [0-9.]+ select [0-9.]+ compose [0-9.]+\$' $T/step.err && grep -Eq '^images 4 seconds' $T/step.err"
expect_ok "--features --step" "$CH --features --step 0.01 --model $T/m.spm --batch 4 --limit 4 $R10 >$T/stepf.json 2>/dev/null"
expect_eq "--features --step: the first batch's metrics" "$(cat $T/pipe4.json)" "$(cat $T/stepf.json)"
expect_error "--step: a bad value" "^inferchain: --step: -1 is not a number of seconds from 0 to 3600\$" "$CH --step -1 --model $T/m.spm $R10"
