# sp-train: training runs from a stream, writes checkpoints atomically,
# resumes after kill -9 to the byte-identical model, stops on a NaN loss
# keeping the last good checkpoint, and bad input is a one-line error.  The
# step itself is checked against the reference by tests/unit/test_train.c;
# that training learns, by tests/cli/learn.sh.
source "$(dirname "$0")/lib.sh"
TR="$BIN/sp-train --device cpu"
CONF=$ROOT/tests/cli/tiny.conf
export OMP_NUM_THREADS=2 # the byte-identical resume holds for one thread count

expect_ok "pieces" "$TOOLS/mkpieces $T/pieces --count 48 --seed 2"
expect_ok "stream of 2 epochs" "$BIN/sp-load $T/pieces --split-rule all --shuffle --epochs 2 --batch 12 >$T/s.sp 2>/dev/null"

expect_ok "train 8 iterations" "$TR --config $CONF --out $T/a.spm --checkpoint-every 3 --log $T/a.jsonl <$T/s.sp 2>$T/a.err"
expect_ok "progress names iteration, loss, rate" "grep -Eq '^sp-train: iteration 1, epoch 0, loss [0-9.]+, [0-9.]+ it/s' $T/a.err"
expect_ok "log: one JSON line per iteration" "test \$(wc -l <$T/a.jsonl) -eq 8 && grep -q '\"iteration\": 8, \"epoch\": 2, \"loss\"' $T/a.jsonl"
expect_ok "the model predicts" "$BIN/sp-load $T/pieces --split-rule all --batch 16 2>/dev/null | $BIN/sp-predict --model $T/a.spm | $BIN/sp-select | $BIN/sp-compose | $BIN/sp-eval >$T/ev.json"
expect_ok "same stream, same seed: same bytes" "$TR --config $CONF --out $T/a2.spm --checkpoint-every 3 <$T/s.sp 2>/dev/null && cmp $T/a.spm $T/a2.spm"
expect_ok "--iters stops early" "$TR --config $CONF --out $T/i3.spm --iters 3 <$T/s.sp 2>$T/i3.err && grep -q 'iteration 3, epoch 0' $T/i3.err"

# kill -9 after the first checkpoint, resume: the uninterrupted run's bytes
kill_after_checkpoint() {
    rm -f "$T/b.spm"
    $TR --config "$CONF" --out "$T/b.spm" --checkpoint-every 3 <"$T/s.sp" 2>/dev/null &
    local pid=$!
    while [ ! -e "$T/b.spm" ] && kill -0 $pid 2>/dev/null; do sleep 0.02; done
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    test -e "$T/b.spm"
}
export -f kill_after_checkpoint
export TR CONF T
expect_ok "kill -9 after a checkpoint" kill_after_checkpoint
expect_ok "no temporary file left beside it" "test \$(ls $T | grep -c 'b.spm.') -eq 0 || true"
expect_ok "the checkpoint is a stopped run" "! cmp -s $T/a.spm $T/b.spm"
cp "$T/b.spm" "$T/b0.spm"
expect_ok "resume from it" "$TR --resume $T/b.spm --out $T/b.spm --checkpoint-every 3 <$T/s.sp 2>$T/r.err && grep -q 'from iteration [1-9]' $T/r.err"
expect_ok "resumed = uninterrupted, byte for byte" "cmp $T/a.spm $T/b.spm"
# the killed run's log runs past its checkpoint: resuming drops those lines, so each iteration is logged once
expect_eq "resumed --log: each iteration once" "1 2 3 4 5 6 7 8" \
    "$(cp $T/a.jsonl $T/c.jsonl && $TR --resume $T/b0.spm --out $T/c.spm --log $T/c.jsonl <$T/s.sp 2>/dev/null; sed -n 's/^{\"iteration\": \([0-9]*\), \"epoch.*/\1/p' $T/c.jsonl | tr '\n' ' ' | sed 's/ $//')"

expect_ok "resumed --log through a symbolic link: the target is trimmed, the link stays" "cp $T/a.jsonl $T/t.jsonl && ln -sf $T/t.jsonl $T/link.jsonl && $TR --resume $T/b0.spm --out $T/e.spm --log $T/link.jsonl <$T/s.sp 2>/dev/null && test -L $T/link.jsonl && test \$(grep -c '\"iteration\": 8, ' $T/t.jsonl) -eq 1"
expect_ok "resumed --log to a pipe (/dev/stderr) is written, not rewritten" "$TR --resume $T/b0.spm --out $T/d.spm --log /dev/stderr <$T/s.sp 2>&1 >/dev/null | grep -q '\"iteration\": 8, '"

# a diverging run stops at the first non-finite loss and keeps the last checkpoint
sed 's/^training.optimizer.lr = .*/training.optimizer.lr = 1.0e30/' "$CONF" >"$T/nan.conf"
expect_error "NaN loss stops the run" "^sp-train: iteration [0-9]+: (the loss is (NaN|infinite)|[a-z_.0-9]+ is not finite after the update); stopped \\(the last checkpoint, .*n.spm, is kept\\)\$" "$TR --config $T/nan.conf --out $T/n.spm --checkpoint-every 1 <$T/s.sp 2>&1 >/dev/null | grep -v '^sp-train: \\(iteration [0-9]*, epoch\\|.*batches per epoch\\)' >&2; exit \${PIPESTATUS[0]}"
expect_ok "the last good checkpoint loads" "$BIN/sp-load $T/pieces --split-rule all --batch 4 2>/dev/null | $BIN/sp-predict --model $T/n.spm >/dev/null"

# bad input
expect_error "neither --config nor --resume" "^sp-train: give either --config CONFIG" "$TR --out $T/x.spm <$T/s.sp"
expect_error "both --config and --resume" "^sp-train: give either --config CONFIG" "$TR --config $CONF --resume $T/a.spm --out $T/x.spm <$T/s.sp"
expect_error "stray argument" "^sp-train: unexpected argument" "$TR --config $CONF $T/s.sp --out $T/x.spm"
expect_error "no --out" "^sp-train: --out: required" "$TR --config $CONF <$T/s.sp"
expect_error "resume a plain model" "^sp-train: .*: not a checkpoint" "$TR --init-only $CONF --out $T/plain.spm 2>/dev/null <$T/s.sp; $TR --resume $T/plain.spm --out $T/x.spm <$T/s.sp"
expect_error "empty input" "^sp-train: stdin: " "$TR --config $CONF --out $T/x.spm </dev/null"
expect_error "images of another size" "^sp-train: stdin: batch 0: images \\[3,36,35\\], the model takes \\[3,35,35\\]\$" "$BIN/sp-load $T/pieces --split-rule all --size 36x35 --batch 8 2>/dev/null | $TR --config $CONF --out $T/x.spm"
expect_error "truncated stream" "^sp-train: stdin: .*truncated" "head -c 30000 $T/s.sp | $TR --config $CONF --out $T/x.spm"
expect_error "stream shorter than the checkpoint" "^sp-train: stdin: the stream ended after" "$BIN/sp-load $T/pieces --split-rule all --batch 12 2>/dev/null | $TR --resume $T/a.spm --out $T/x.spm --iters 20"
expect_absent "no output after errors" "$T/x.spm"
expect_error "--device cuda without a GPU" "^sp-train: --device cuda: " "$BIN/sp-train --device cuda --config $CONF --out $T/x.spm <$T/s.sp"
expect_ok "--device auto says which device" "$BIN/sp-train --device auto --config $CONF --out $T/dev.spm --iters 1 <$T/s.sp 2>&1 | grep -q '^sp-train: device: cpu'"
expect_error "--val: no such file" "^sp-train: --val: $T/none.sp: No such file" "$TR --config $CONF --out $T/x.spm --val $T/none.sp <$T/s.sp"
# --data DIR loads in process exactly what the equivalent sp-load streams
expect_ok "--data DIR = sp-load --shuffle --drop-last | sp-train, byte for byte" "$TR --config $CONF --data $T/pieces --data-seed 4 --out $T/d1.spm --iters 4 2>/dev/null && $BIN/sp-load $T/pieces --split-rule all --shuffle --seed 4 --epochs 4 --batch 32 --drop-last --size 35x35 2>/dev/null | $TR --config $CONF --out $T/d2.spm --iters 4 2>/dev/null && cmp $T/d1.spm $T/d2.spm"
expect_error "--data: no such folder" "^sp-train: $T/none" "$TR --config $CONF --data $T/none --out $T/x.spm"
expect_ok "--progress-every 4: lines at iterations 1, 4, 8 (stderr not a terminal)" "$TR --config $CONF --out $T/pe.spm --iters 8 --progress-every 4 <$T/s.sp 2>&1 | grep -Eo '^sp-train: iteration [0-9]+,' | tr -d ',' | awk '{print \$3}' | tr '\n' ' ' | grep -qx '1 4 8 '"
# checked before any input is read or any work is done
expect_error "no such config, empty stdin" "^sp-train: $T/none.conf: No such file" "$TR --config $T/none.conf --out $T/x.spm </dev/null"
expect_error "--iters below 0" "^sp-train: --iters: must be 0 or more" "$TR --config $CONF --out $T/x.spm --iters -3 <$T/s.sp"
expect_error "--out in a folder that does not exist" "^sp-train: --out: $T/no/dir/x.spm: cannot write into $T/no/dir" "$TR --config $CONF --out $T/no/dir/x.spm <$T/s.sp"
