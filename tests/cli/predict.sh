# sp-predict: adds the candidate layers / masks (and backgrounds, occlusion
# when the model has them) to every batch, passes the rest through; bad
# models, bad images and bad options are one-line errors.  Numerical parity
# with the reference is tests/unit/test_predict.c.
source "$(dirname "$0")/lib.sh"
P=$BIN/sp-predict
G=$ROOT/tests/golden/predict
R10=$DATA/tetrominoes-real10
need_data tetrominoes-real10

expect_ok "init-only tetro model" "$BIN/sp-train --init-only $ROOT/pipelines/configs/tetro.conf --out $T/m.spm 2>/dev/null"
expect_ok "predict the real Tetrominoes" "$BIN/sp-load $R10 --batch 4 | $P --model $T/m.spm >$T/p.sp"
expect_ok "stream is complete" "$BIN/sp-info <$T/p.sp >$T/info.txt"
expect_eq "cand_layers [N,L,K,C,H,W]" 3 "$(grep -c 'cand_layers  *f32 \[[42],3,19,3,35,35\]' $T/info.txt)"
expect_eq "cand_masks [N,L,K,1,H,W]" 3 "$(grep -c 'cand_masks  *f32 \[[42],3,19,1,35,35\]' $T/info.txt)"
expect_eq "no backgrounds, no occlusion for tetro" 0 "$(grep -cE '^ +(backgrounds|occlusion) ' $T/info.txt)"
expect_eq "ground truth passes through" 3 "$(grep -c '^ *mask  *u8 ' $T/info.txt)"
expect_ok "producer and model in the meta" "grep -q 'producer *\"sp-predict\"' $T/info.txt && grep -q 'meta model .*m.spm' $T/info.txt"
# the golden model has an empty sprite, a background and an occlusion predictor
expect_ok "golden model: every entry" "$P --model $G/tetro-layer.spm <$G/tetro-layer.sp | $BIN/sp-info >$T/g.txt"
expect_ok "empty sprite last: K' = 4" "grep -q 'cand_layers  *f32 \[3,3,4,3,35,35\]' $T/g.txt && grep -q 'cand_masks  *f32 \[3,3,4,1,35,35\]' $T/g.txt"
expect_ok "backgrounds [N,M,C,H,W]" "grep -q '^ *backgrounds  *f32 \[3,1,3,35,35\]' $T/g.txt"
expect_ok "occlusion [N,L,L]" "grep -q '^ *occlusion  *f32 \[3,3,3\]' $T/g.txt"
expect_ok "concatenated streams" "{ $BIN/sp-load $R10 --batch 8; $BIN/sp-load $R10 --batch 8; } | $P --model $T/m.spm | $BIN/sp-info --summary >$T/s.txt"
expect_eq "two output streams" 2 "$(grep -c '^stdin: stream [01],' $T/s.txt)"

# errors
expect_error "no such model" "^sp-predict: $T/nope.spm: No such file" "$P --model $T/nope.spm </dev/null"
head -c 5000 $T/m.spm >$T/trunc.spm
expect_error "truncated model" "^sp-predict: $T/trunc.spm: truncated model file" "$P --model $T/trunc.spm </dev/null"
expect_error "images of another size" "^sp-predict: stdin: batch 0: image is \\[4,3,36,35\\], the model expects 3x35x35\$" "$BIN/sp-load $R10 --batch 4 --size 36x35 | $P --model $T/m.spm"
expect_error "images of another channel count" "^sp-predict: stdin: batch 0: image is \\[4,1,35,35\\], the model expects 3x35x35\$" "$BIN/sp-load $R10 --batch 4 --channels 1 | $P --model $T/m.spm"
# a stage that refuses its first batch writes nothing at all (sp_filter_run:
# the header goes out with the first batch), not a header-only stream
$BIN/sp-load $R10 --batch 4 --size 36x35 2>/dev/null | $P --model $T/m.spm >$T/refused.sp 2>/dev/null
expect_eq "a refused first batch: nothing on stdout" 0 "$(wc -c <$T/refused.sp)"
expect_error "truncated input stream" "^sp-predict: stdin: .*truncated" "$BIN/sp-load $R10 | head -c 20000 | $P --model $T/m.spm"
expect_error "unknown option" "^sp-predict: --bogus: unknown option" "$P --model $T/m.spm --bogus 1"
expect_error "no --model" "^sp-predict: --model: required" "$P </dev/null"
expect_error "stray argument" "^sp-predict: unexpected argument" "$P --model $T/m.spm extra </dev/null"
expect_ok "--help" "$P --help | grep -q cand_layers"
# deterministic whatever the thread count (one task per (layer, sprite) head)
expect_ok "same bytes with 1 and 3 threads" "$BIN/sp-load $R10 --batch 4 >$T/in.sp && OMP_NUM_THREADS=1 $P --model $G/tetro-layer.spm <$T/in.sp >$T/o1.sp && OMP_NUM_THREADS=3 $P --model $G/tetro-layer.spm <$T/in.sp >$T/o3.sp && cmp -s $T/o1.sp $T/o3.sp"
# every paper configuration predicts on images of its size (init-only models)
expect_ok "generate images" "$BIN/sp-gen tetrominoes --count 8 --seed 3 --out $T/tet 2>/dev/null"
for conf in "$ROOT"/pipelines/configs/*.conf; do
    name=$(basename "$conf" .conf)
    case $name in
        gtsrb8) sz="28x28 3" ;; svhn) sz="32x32 3" ;; fashion-mnist) sz="28x28 1" ;;
        clevr6 | horse | instagram) sz="128x128 3" ;; dsprites) sz="64x64 3" ;; *) sz="35x35 3" ;;
    esac
    set -- $sz
    expect_ok "$name: predicts" "$BIN/sp-load $T/tet --split-rule all --size $1 --channels $2 --batch 4 >$T/in_$name.sp && $BIN/sp-train --init-only $conf --out $T/$name.spm <$T/in_$name.sp 2>/dev/null && $P --model $T/$name.spm <$T/in_$name.sp | $BIN/sp-info | grep -q 'cand_masks  *f32 \\[4,'"
done
# fewer (layer, sprite) heads than threads: the warps' loops over images run in parallel instead
# in a pipe sp-predict binds its threads one per CPU (sp_pin.h): the same bytes bound or free, and SP_PIN checked
expect_ok "in a pipe, threads bound (SP_PIN=1) or free (SP_PIN=0): the same bytes" "cat $T/in.sp | SP_PIN=1 $P --model $G/tetro-layer.spm | cat >$T/pin1.sp && cat $T/in.sp | SP_PIN=0 $P --model $G/tetro-layer.spm | cat >$T/pin0.sp && cmp -s $T/pin1.sp $T/pin0.sp && cmp -s $T/pin1.sp $T/o1.sp"
expect_error "SP_PIN=2: one line naming the variable" "^sp-predict: environment: SP_PIN=2: expected one of 0, 1 \\(or unset\\)\$" "cat $T/in.sp | SP_PIN=2 $P --model $G/tetro-layer.spm"
expect_ok "same bytes with 1 and 8 threads (image-parallel path)" "OMP_NUM_THREADS=1 $P --model $G/tetro-sprite.spm <$T/in.sp >$T/s1.sp && OMP_NUM_THREADS=8 $P --model $G/tetro-sprite.spm <$T/in.sp >$T/s8.sp && cmp -s $T/s1.sp $T/s8.sp"

# --features: the encoder's output only; sp-select --model makes the
# candidates from it, byte for byte what sp-predict adds (the golden model
# has every entry: empty sprite, background, occlusion)
expect_ok "--features: features f32 [N,F] and no candidates" "$P --model $G/tetro-layer.spm --features <$G/tetro-layer.sp >$T/f.sp && $BIN/sp-info <$T/f.sp >$T/f.txt && grep -q '^ *features  *f32 \[3,[0-9]*\]' $T/f.txt && ! grep -qE '^ +(cand_layers|cand_masks|backgrounds|occlusion) ' $T/f.txt"
# (--gather makes the candidates a group of images at a time, the group as
# large as the threads: 1 thread, groups of 2; 8 threads, one group)
for g in "" "--gather" "--gather --exhaustive"; do
    for t in 1 2 8; do
        expect_ok "sp-select --model $g, $t threads: the same bytes as from sp-predict's candidates" "$P --model $G/tetro-layer.spm <$G/tetro-layer.sp | $BIN/sp-select $g >$T/sa.sp && OMP_NUM_THREADS=$t $BIN/sp-select --model $G/tetro-layer.spm $g --drop features <$T/f.sp >$T/sb.sp && cmp -s $T/sa.sp $T/sb.sp"
    done
done
expect_ok "the whole chain: the same metrics" "a=\$($BIN/sp-load $R10 --batch 4 | $P --model $T/m.spm | $BIN/sp-select --gather | $BIN/sp-compose | $BIN/sp-eval) && b=\$($BIN/sp-load $R10 --batch 4 | $P --model $T/m.spm --features | $BIN/sp-select --model $T/m.spm --gather | $BIN/sp-compose | $BIN/sp-eval) && [ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ]"
# --params: the chosen candidates' parameters cross instead of their layers,
# sp-compose --model makes the layers: the bytes of the --gather form
for t in 1 2 8; do
    expect_ok "select --model --params | compose --model, $t threads: the bytes of --gather" "$P --model $G/tetro-layer.spm <$G/tetro-layer.sp | $BIN/sp-select --gather | $BIN/sp-compose --drop sel_layers,sel_masks,sel_background >$T/ga.sp && OMP_NUM_THREADS=$t $BIN/sp-select --model $G/tetro-layer.spm --params --drop features <$T/f.sp | OMP_NUM_THREADS=$t $BIN/sp-compose --model $G/tetro-layer.spm --drop sel_params,sel_bkg_params >$T/gb.sp && cmp -s $T/ga.sp $T/gb.sp"
done
expect_ok "--params: sel_params [N,L,P], sel_bkg_params [N,Pb], no layers" "$BIN/sp-select --model $G/tetro-layer.spm --params <$T/f.sp | $BIN/sp-info >$T/q.txt && grep -q '^ *sel_params  *f32 \[3,3,[0-9]*\]' $T/q.txt && grep -q '^ *sel_bkg_params  *f32 \[3,[0-9]*\]' $T/q.txt && ! grep -qE '^ +(sel_layers|sel_masks|sel_background|cand_layers) ' $T/q.txt"
expect_ok "--params: the sprite and layer parameters, not zeros" "$BIN/sp-select --model $G/tetro-layer.spm --params <$T/f.sp | $BIN/sp-info --dump sel_params | tr ' ' '\n' | grep . | grep -qv '^-*0\(\.0*\)*\$'"
expect_error "--params without --model" "^sp-select: --params needs --model \(the parameters are made with the candidates\)\$" "$BIN/sp-select --params <$T/f.sp"
expect_error "--params with --gather" "^sp-select: --gather and --params: one or the other\$" "$BIN/sp-select --model $G/tetro-layer.spm --params --gather <$T/f.sp"
expect_error "compose without --model after --params" "^sp-compose: stdin: batch 0: only sel_params \\(sp-select --params\\): the layers need --model M\$" "$BIN/sp-select --model $G/tetro-layer.spm --params <$T/f.sp | $BIN/sp-compose"
expect_error "compose --model without sel_params" "^sp-compose: stdin: batch 0: needs sel_params \(run sp-select --model M --params first\)\$" "$BIN/sp-select --model $G/tetro-layer.spm --gather <$T/f.sp | $BIN/sp-compose --model $G/tetro-layer.spm"
expect_error "compose --model without sel_bkg_params" "^sp-compose: stdin: batch 0: needs sel_bkg_params \(run sp-select --model M --params first\)\$" "$BIN/sp-select --model $G/tetro-layer.spm --params --drop sel_bkg_params <$T/f.sp | $BIN/sp-compose --model $G/tetro-layer.spm"
expect_error "compose --model without the occlusion its model predicts" "^sp-compose: stdin: batch 0: needs occlusion \(the model predicts one; sp-select --model adds it\)\$" "$BIN/sp-select --model $G/tetro-layer.spm --params --drop occlusion <$T/f.sp | $BIN/sp-compose --model $G/tetro-layer.spm"
expect_ok "dsprites features" "$P --model $T/dsprites.spm --features <$T/in_dsprites.sp >$T/fd.sp"
expect_error "compose --model of another model" "^sp-compose: stdin: batch 0: sel_params must be f32 \[N,3,[0-9]*\] \(the model's layers and parameters\)\$" "$BIN/sp-select --model $T/dsprites.spm --params <$T/fd.sp | $BIN/sp-compose --model $T/m.spm"
expect_error "sp-select --model without features" "^sp-select: stdin: batch 0: needs features \\(run sp-predict --features first\\)\$" "$BIN/sp-load $R10 --batch 4 | $BIN/sp-select --model $T/m.spm"
{ cat $ROOT/pipelines/configs/tetro.conf; echo 'model.with_pool = 2, 2'; } >$T/pool.conf
expect_ok "a model with a wider encoder output" "$BIN/sp-train --init-only $T/pool.conf --out $T/pool.spm <$T/in_tetro.sp 2>/dev/null"
expect_error "features of another model" "^sp-select: stdin: batch 0: features must be f32 \\[4,64\\] \\(the model's encoder width\\)\$" "$P --model $T/pool.spm --features <$T/in_tetro.sp | $BIN/sp-select --model $T/m.spm"
expect_error "sp-select --model: images of another size" "^sp-select: stdin: batch 0: image is \\[4,3,64,64\\], the model expects 3x35x35\$" "$P --model $T/dsprites.spm --features <$T/in_dsprites.sp | $BIN/sp-select --model $T/m.spm"
