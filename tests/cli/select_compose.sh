# sp-select and sp-compose: the full model pipeline load | predict | select |
# compose | eval on the real Tetrominoes, --exhaustive never worse than the
# greedy, the golden model's backgrounds and occlusion, and one-line errors.
# The selection's maths on hand-made cases: tests/unit/test_select.c.
source "$(dirname "$0")/lib.sh"
S=$BIN/sp-select
C=$BIN/sp-compose
G=$ROOT/tests/golden/predict
R10=$DATA/tetrominoes-real10
need_data tetrominoes-real10

expect_ok "init-only tetro model" "$BIN/sp-train --init-only $ROOT/pipelines/configs/tetro.conf --out $T/m.spm 2>/dev/null"
expect_ok "predict" "$BIN/sp-load $R10 --batch 4 | $BIN/sp-predict --model $T/m.spm >$T/p.sp"
expect_ok "select | compose | eval" "$S <$T/p.sp | $C | tee $T/c.sp | $BIN/sp-eval >$T/e.json"
expect_ok "JSON with ari and ari_fg" "grep -q '\"ari\": [0-9.]*' $T/e.json && grep -q '\"ari_fg\": ' $T/e.json"
expect_ok "stream entries" "$BIN/sp-info <$T/c.sp >$T/info.txt"
expect_eq "choice [N,L]" 3 "$(grep -c '^ *choice  *i32 \[[42],3\]' $T/info.txt)"
expect_eq "recon [N,C,H,W]" 3 "$(grep -c '^ *recon  *f32 \[[42],3,35,35\]' $T/info.txt)"
expect_eq "layer_images, layer_masks" 6 "$(grep -cE '^ *layer_(images  *f32 \[[42],3,3,35,35\]|masks  *f32 \[[42],3,1,35,35\])' $T/info.txt)"
expect_eq "pred_mask, pred_sem i32 [N,H,W]" 6 "$(grep -cE '^ *pred_(mask|sem)  *i32 \[[42],35,35\]' $T/info.txt)"
expect_eq "no bkg_choice without backgrounds" 0 "$(grep -c bkg_choice $T/info.txt)"
expect_eq "no pred_label for 3 layers" 0 "$(grep -c pred_label $T/info.txt)"
expect_ok "ground truth passes through" "grep -q '^ *mask  *u8 ' $T/info.txt"
expect_ok "--fg-reassign" "$S <$T/p.sp | $C --fg-reassign | $BIN/sp-eval | grep -q ari_fg"

# --exhaustive is the exact minimum: never a larger error than the greedy
expect_ok "greedy and exhaustive errors" "$S <$T/p.sp | $BIN/sp-info --dump select_error >$T/eg.txt && $S --exhaustive <$T/p.sp | $BIN/sp-info --dump select_error >$T/ee.txt"
expect_ok "exhaustive <= greedy (tetro init)" "paste -d' ' <(tr ' ' '\n' <$T/eg.txt | grep .) <(tr ' ' '\n' <$T/ee.txt | grep .) | awk '\$2 > \$1 * (1 + 1e-6) { bad = 1 } END { exit bad || NR != 10 }'"
# the golden model: empty sprite, one background, predicted occlusion
expect_ok "golden model predict" "$BIN/sp-predict --model $G/tetro-layer.spm <$G/tetro-layer.sp >$T/gp.sp"
expect_ok "golden: select | compose" "$S <$T/gp.sp | $C | $BIN/sp-info >$T/g.txt"
expect_ok "golden: bkg_choice [N]" "grep -q '^ *bkg_choice  *i32 \[3\]' $T/g.txt"
expect_ok "golden: greedy and exhaustive errors" "$S <$T/gp.sp | $BIN/sp-info --dump select_error >$T/gg.txt && $S --exhaustive <$T/gp.sp | $BIN/sp-info --dump select_error >$T/ge.txt"
expect_ok "golden: exhaustive <= greedy" "paste -d' ' <(tr ' ' '\n' <$T/gg.txt | grep .) <(tr ' ' '\n' <$T/ge.txt | grep .) | awk '\$2 > \$1 * (1 + 1e-6) { bad = 1 } END { exit bad || NR != 3 }'"
expect_ok "golden: a large empty penalty empties every layer" "$S --lambda-empty 100 <$T/gp.sp | $BIN/sp-info --dump choice | tr ' ' '\n' | grep . | sort -u | tr -d '\n' | grep -qx 3"
expect_ok "same bytes with 1 and 3 threads" "OMP_NUM_THREADS=1 $S <$T/gp.sp | OMP_NUM_THREADS=1 $C >$T/o1.sp && OMP_NUM_THREADS=3 $S <$T/gp.sp | OMP_NUM_THREADS=3 $C >$T/o3.sp && cmp -s $T/o1.sp $T/o3.sp"
expect_ok "concatenated streams" "cat $T/p.sp $T/p.sp | $S | $C | $BIN/sp-info --summary >$T/s.txt"
expect_eq "two output streams" 2 "$(grep -c '^stdin: stream [01],' $T/s.txt)"

# errors
expect_error "select without candidates" "^sp-select: stdin: batch 0: needs cand_layers \\(run sp-predict first\\)\$" "$BIN/sp-load $R10 --batch 4 | $S"
expect_error "compose without candidates" "^sp-compose: stdin: batch 0: needs cand_layers \\(run sp-predict first\\)\$" "$BIN/sp-load $R10 --batch 4 | $C"
expect_error "compose: gathered without its masks" "^sp-compose: stdin: batch 0: needs sel_masks \\(run sp-select --gather first\\)\$" "$S --gather --drop sel_masks <$T/p.sp | $C"
expect_error "compose without choice" "^sp-compose: stdin: batch 0: needs choice \\(run sp-select first\\)\$" "$C <$T/p.sp"
expect_error "--greedy with --exhaustive: one or the other" "^sp-select: --greedy and --exhaustive: one or the other\$" "$S --greedy 2 --exhaustive <$T/p.sp"
# the image is read only by --fg-reassign: a stream may drop it before sp-compose
expect_ok "compose with and without the image" "$S <$T/p.sp >$T/s.sp && $C --drop image <$T/s.sp >$T/c1.sp && $S --drop image <$T/p.sp | $C >$T/c2.sp && $S --gather --drop image <$T/p.sp | $C >$T/c3.sp && $S --gather <$T/p.sp | $C --drop image >$T/c4.sp"
expect_ok "without the image: the same bytes" "cmp $T/c1.sp $T/c2.sp && cmp $T/c3.sp $T/c4.sp"
expect_ok "without the image: the same masks gathered or not" "cmp <($BIN/sp-info --dump pred_mask <$T/c1.sp) <($BIN/sp-info --dump pred_mask <$T/c3.sp)"
expect_error "--fg-reassign without the image" "^sp-compose: stdin: batch 0: --fg-reassign needs image \\(the background's pixels go to the layer nearest it\\)\$" "$S --gather --drop image <$T/p.sp | $C --fg-reassign"
expect_error "exhaustive over the limit" "^sp-select: stdin: batch 0: --exhaustive: 19\\^3 x 1 assignments an image \\(--limit 1000\\)\$" "$S --exhaustive --limit 1000 <$T/p.sp"
expect_error "greedy 0 passes" "^sp-select: --greedy: 0 passes" "$S --greedy 0 <$T/p.sp"
expect_error "negative penalty" "^sp-select: --lambda-empty: " "$S --lambda-empty -1 <$T/p.sp"
expect_error "truncated input" "^sp-select: stdin: .*truncated" "head -c 20000 $T/p.sp | $S"
expect_error "unknown option" "^sp-compose: --bogus: unknown option" "$C --bogus"
expect_error "stray argument" "^sp-select: unexpected argument" "$S extra </dev/null"
expect_ok "select --help" "$S --help | grep -q bkg_choice"
expect_ok "compose --help" "$C --help | grep -q pred_sem"

# parity with the reference's greedy_algo_selection and transform() on the
# candidates of its own predict() (tests/golden/make_select_golden.py)
GS=$ROOT/tests/golden/select/tetro-layer.sp
expect_ok "golden: select | compose" "$S --lambda-empty 1e-4 <$GS | $C >$T/gs.sp && $S --lambda-empty 1e-4 <$GS | $C --fg-reassign >$T/gf.sp"
for e in choice pred_mask pred_sem; do
    expect_ok "reference parity: $e" "$TOOLS/spcmp $T/gs.sp $e=expect_$e >/dev/null"
done
expect_ok "reference parity: pred_mask with --fg-reassign" "$TOOLS/spcmp $T/gf.sp pred_mask=expect_pred_mask_fg >/dev/null"
expect_ok "reference parity: recon within 1e-6" "$TOOLS/spcmp --atol 1e-6 $T/gs.sp recon=expect_recon | grep -q '^recon=expect_recon: 11025 values'"
# the whole chain on paper configurations: tests/cli/chain.sh
