# make data|train|eval DATASET=x: the per-dataset pipelines end to end on a
# tiny generated set (2 iterations), resume from the run's checkpoint, and
# the clear failures (unknown data set, data that cannot be had here, no model).
source "$(dirname "$0")/lib.sh"
M="make -s --no-print-directory -C $ROOT"
unset MAKEFLAGS MFLAGS
R="RUN=$T/run DATA=$T/tet COUNT=64 DEVICE=cpu"
expect_ok "make data generates" "$M data DATASET=tetrominoes $R >$T/d.out 2>&1 && test -e $T/tet/images/63.png"
expect_ok "make data again: nothing to do" "$M data DATASET=tetrominoes $R 2>&1 | grep -q 'nothing to do'"
expect_ok "make train (2 iterations)" "$M train DATASET=tetrominoes $R ITERS=2 EPOCHS=1 >$T/t.out 2>&1 && test -e $T/run/model.spm && test \$(grep -c loss $T/run/train.jsonl) -eq 2 && grep -q val_ari_fg $T/run/train.jsonl"
expect_ok "make train resumes" "$M train DATASET=tetrominoes $R ITERS=3 EPOCHS=2 >$T/t2.out 2>&1 && grep -q 'resuming from' $T/t2.out && test \$(grep -c loss $T/run/train.jsonl) -eq 3"
expect_ok "make eval prints ours and the paper's" "$M eval DATASET=tetrominoes $R >$T/e.out 2>&1 && grep -q '\"ari_fg\"' $T/e.out && grep -q 'paper: *ari_fg 0.996' $T/e.out && test -s $T/run/decomposition.png"
expect_ok "unknown DATASET" "! $M train DATASET=nope 2>$T/u.err && grep -q 'DATASET=nope is not one of' $T/u.err"
expect_ok "no DATASET" "! $M eval 2>$T/n.err && grep -q 'give DATASET=' $T/n.err"
expect_ok "CLEVR6 is not here: says where to put it" "! $M data DATASET=clevr6 2>$T/c.err && grep -q 'CLEVR6 is not included' $T/c.err"
expect_ok "a DATA folder that does not exist" "! $M data DATASET=gtsrb8 DATA=$T/none 2>$T/g.err && grep -q 'does not exist' $T/g.err"
expect_ok "make demo: a bad DEMO_SECONDS" "! DEMO_SECONDS=5s bash $ROOT/pipelines/demo.sh >/dev/null 2>$T/ds.err && grep -q 'DEMO_SECONDS=5s: not a positive' $T/ds.err"
expect_ok "make demo: a bad DEMO_ITERS" "! DEMO_ITERS=0 bash $ROOT/pipelines/demo.sh >/dev/null 2>$T/di.err && grep -q 'DEMO_ITERS=0: not a positive' $T/di.err"
expect_ok "make demo: a bad DEMO_BATCH" "! DEMO_BATCH=8x bash $ROOT/pipelines/demo.sh >/dev/null 2>$T/db.err && grep -q 'DEMO_BATCH=8x: not a positive' $T/db.err"
expect_ok "make demo end to end: 2 iterations into DEMO_DIR" "DEMO_DIR=$T/demo DEMO_ITERS=2 bash $ROOT/pipelines/demo.sh >$T/demo.out 2>&1 && grep -q 'after 2 iterations: ARI-FG 0\.[0-9]' $T/demo.out && test \$(grep -c loss $T/demo/train.jsonl) -eq 2 && test -s $T/demo/sprites.png && test -s $T/demo/decomposition.png && grep -q 'before iteration 10,000' $T/demo.out"
expect_ok "make demo: DEMO_SECONDS and DEMO_ITERS, the first reached stops" "DEMO_DIR=$T/demo2 DEMO_SECONDS=1 DEMO_ITERS=1000000 bash $ROOT/pipelines/demo.sh >$T/demo2.out 2>&1 && grep -q '1 s or 1000000 iterations' $T/demo2.out && grep -q 'time-limit 1 s reached' $T/demo2.out"
expect_ok "make bench-learn: a bad ITERS" "! bash $ROOT/pipelines/bench-learn.sh 0 1 >/dev/null 2>$T/bl.err && grep -q 'ITERS=0: not a positive' $T/bl.err"
expect_ok "make bench-learn: a bad SEED" "! bash $ROOT/pipelines/bench-learn.sh 5 -1 >/dev/null 2>$T/bs.err && grep -q 'SEED=-1: not a whole' $T/bs.err"
expect_ok "make demo: a DEMO_BATCH over the set" "! DEMO_BATCH=1601 bash $ROOT/pipelines/demo.sh >/dev/null 2>$T/dB.err && grep -q 'DEMO_BATCH=1601: more than the 1,600' $T/dB.err"
if [ -d "$DATA/weizmann-horse" ]; then
    expect_ok "eval without a model" "! $M eval DATASET=horse DATA=$DATA/weizmann-horse RUN=$T/empty >/dev/null 2>$T/h.err && grep -q 'no model' $T/h.err"
else
    ok "eval without a model # skipped: no data ($DATA/weizmann-horse absent)"
fi
# grey images with mask noise (colour, mask and canvas channels): Fashion-MNIST from the Debian package
if [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    expect_ok "fashion-mnist (grey) trains" "$M train DATASET=fashion-mnist RUN=$T/fm ITERS=2 VAL_EVERY=0 DEVICE=cpu >$T/fm.out 2>&1 && test \$(grep -c loss $T/fm/train.jsonl) -eq 2"
else
    ok "fashion-mnist (grey) trains: skipped, dataset-fashion-mnist is not installed"
fi
