# --device auto|cpu|cuda on sp-predict, sp-select, sp-compose (no CUDA path
# yet: the work stays on the CPU and they say so), and --drop, which the
# shared filter loop gives every filter stage.
source "$(dirname "$0")/lib.sh"
R10=$DATA/tetrominoes-real10
need_data tetrominoes-real10

expect_ok "init-only tetro model" "$BIN/sp-train --init-only $ROOT/pipelines/configs/tetro.conf --out $T/m.spm 2>/dev/null"
expect_ok "load" "$BIN/sp-load $R10 --batch 4 >$T/in.sp"
expect_ok "predict" "$BIN/sp-predict --model $T/m.spm <$T/in.sp >$T/p.sp"
expect_ok "select" "$BIN/sp-select <$T/p.sp >$T/s.sp"
# is a GPU usable here? (sp-op's auto says which device it picked)
gpu=0
if $BIN/sp-op relu --device auto <$ROOT/tests/golden/ops/nn_relu.sp 2>&1 >/dev/null | grep -q 'device: cuda'; then gpu=1; fi

# stage-name, the command with its input redirection
stages=("sp-predict|$BIN/sp-predict --model $T/m.spm <$T/in.sp"
        "sp-select|$BIN/sp-select <$T/p.sp"
        "sp-compose|$BIN/sp-compose <$T/s.sp")
for st in "${stages[@]}"; do
    name=${st%%|*} cmd=${st#*|}
    # default and --device cpu: silent, same bytes
    expect_ok "$name: default" "$cmd >$T/d.sp 2>$T/d.err && ! [ -s $T/d.err ]"
    expect_ok "$name --device cpu: silent, same output" "$cmd --device cpu >$T/c.sp 2>$T/c.err && ! [ -s $T/c.err ] && cmp -s $T/d.sp $T/c.sp"
    # auto: one line saying it runs on the CPU (no GPU here, or no CUDA path yet)
    expect_ok "$name --device auto: runs" "$cmd --device auto >$T/a.sp 2>$T/a.err && cmp -s $T/d.sp $T/a.sp"
    expect_eq "$name --device auto: one stderr line" 1 "$(wc -l <$T/a.err)"
    expect_ok "$name --device auto: says the CPU" "grep -Eq '^$name: device: cpu \\((no usable GPU: |$name has no CUDA path yet)' $T/a.err"
    if [ $gpu = 0 ]; then
        expect_error "$name --device cuda: no GPU is an error" "^$name: --device cuda: no usable GPU: " "$cmd --device cuda"
    else
        expect_ok "$name --device cuda: runs on the CPU" "$cmd --device cuda >$T/g.sp 2>$T/g.err && cmp -s $T/d.sp $T/g.sp"
        expect_ok "$name --device cuda: says so in one line" "[ \$(wc -l <$T/g.err) = 1 ] && grep -q '^$name: --device cuda: $name has no CUDA path yet; running on the CPU' $T/g.err"
    fi
    expect_error "$name --device gpu" "^$name: --device: 'gpu' is not one of auto, cpu, cuda\$" "$cmd --device gpu"
    expect_ok "$name --help names --device and --drop" "${cmd%% *} --help | grep -q -- '--device' && ${cmd%% *} --help | grep -q -- '--drop'"
done

# In a CUDA build the three stages count the GPUs through the runtime opened
# at run time (common/sp_device_stage.c): they do not need it, nor libstdc++,
# at start; sp-op, which has a CUDA path, does
if grep -q '^cuda' "$ROOT/build/variant" 2>/dev/null && command -v readelf >/dev/null; then
    for name in sp-predict sp-select sp-compose; do
        expect_ok "$name: no CUDA runtime or libstdc++ loaded at start" \
            "! readelf -d $BIN/$name | grep -E 'NEEDED.*(libcudart|libcublas|libcudnn|libstdc)'"
    done
    expect_ok "sp-op links the CUDA runtime" "readelf -d $BIN/sp-op | grep -q 'NEEDED.*libcudart'"
fi

# --drop: the stage still uses what it drops; the other entries are intact
expect_ok "compose --drop" "$BIN/sp-compose --drop cand_layers,cand_masks,backgrounds <$T/s.sp >$T/dropped.sp"
expect_ok "compose, no --drop" "$BIN/sp-compose <$T/s.sp >$T/full.sp"
expect_ok "dropped stream reads" "$BIN/sp-info <$T/dropped.sp >$T/di.txt"
expect_eq "cand_layers, cand_masks gone" 0 "$(grep -cE '^ +cand_(layers|masks) ' $T/di.txt)"
expect_eq "recon, pred_mask, choice, image, mask kept" 15 "$(grep -cE '^ +(recon|pred_mask|choice|image|mask) ' $T/di.txt)"
for e in recon pred_mask pred_sem choice image mask; do
    expect_ok "dropped stream: $e unchanged" "cmp -s <($BIN/sp-info --dump $e <$T/dropped.sp) <($BIN/sp-info --dump $e <$T/full.sp)"
done
expect_ok "much smaller" "[ \$(stat -c %s $T/dropped.sp) -lt \$(( \$(stat -c %s $T/full.sp) / 10 )) ]"
expect_ok "dropped stream evaluates" "$BIN/sp-eval <$T/dropped.sp | grep -q '\"ari\"'"
expect_ok "a name in no batch is ignored" "$BIN/sp-select --drop nothing_here <$T/p.sp | cmp -s - $T/s.sp"
expect_ok "predict --drop of its own output" "$BIN/sp-predict --model $T/m.spm --drop cand_masks <$T/in.sp | $BIN/sp-info | grep -c '^ *cand_masks ' | grep -qx 0"
expect_ok "predict --drop of an input entry" "$BIN/sp-predict --model $T/m.spm --drop mask <$T/in.sp | $BIN/sp-info >$T/pi.txt && ! grep -q '^ *mask ' $T/pi.txt && grep -q '^ *cand_layers ' $T/pi.txt"
expect_ok "baseline --drop" "$BIN/sp-baseline colour --drop image,sem_mask <$T/in.sp | $BIN/sp-info >$T/bi.txt && ! grep -qE '^ *(image|sem_mask) ' $T/bi.txt && grep -q '^ *pred_mask ' $T/bi.txt"
expect_ok "sp-op --drop" "$BIN/sp-op relu --device cpu --drop x <$ROOT/tests/golden/ops/nn_relu.sp | $BIN/sp-info >$T/oi.txt && ! grep -q '^ *x ' $T/oi.txt && grep -q '^ *y ' $T/oi.txt"
expect_error "empty name" "^sp-compose: --drop: 'a,,b': an empty entry name\$" "$BIN/sp-compose --drop a,,b <$T/s.sp"
expect_error "trailing comma" "^sp-select: --drop: 'choice,': an empty entry name\$" "$BIN/sp-select --drop choice, <$T/p.sp"
expect_error "no value" "^sp-op: --drop: missing value" "$BIN/sp-op relu --drop"
