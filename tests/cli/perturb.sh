# The stages allocate their large outputs without zeroing them first
# (sp_tensor_outv: the candidates, the features, the chosen layers, the
# composition), so every byte of those must be written.  glibc's
# MALLOC_PERTURB_ fills memory from malloc with a byte pattern: any byte a
# stage left unwritten would change its stream, so each pipe's streams
# must be the same bytes with it and without.  On the four paper
# configurations' shapes (candidates for several layers and sprites,
# occlusion and backgrounds, one layer with a background, ResNet-18).
source "$(dirname "$0")/lib.sh"
need_data tetrominoes-real10
R10=$DATA/tetrominoes-real10

# streams NAME MODEL LOAD...: each stage's output of the three forms of
# the chain into $T/NAME.P.*, with P the perturbation byte (0: none)
streams() {
    local name=$1 model=$2 p
    shift 2
    for p in 0 165; do
        local env="MALLOC_PERTURB_=$p"
        [ "$p" = 0 ] && env="MALLOC_PERTURB_="
        expect_ok "$name: the chain, MALLOC_PERTURB_=$p" "$*  >$T/in.sp &&
            env $env $BIN/sp-predict --model $model <$T/in.sp >$T/$name.$p.pred &&
            env $env $BIN/sp-select <$T/$name.$p.pred >$T/$name.$p.sel &&
            env $env $BIN/sp-select --gather <$T/$name.$p.pred >$T/$name.$p.gat &&
            env $env $BIN/sp-compose <$T/$name.$p.sel >$T/$name.$p.comp &&
            env $env $BIN/sp-compose <$T/$name.$p.gat >$T/$name.$p.compg &&
            env $env $BIN/sp-predict --model $model --features <$T/in.sp >$T/$name.$p.feat &&
            env $env $BIN/sp-select --model $model <$T/$name.$p.feat >$T/$name.$p.selm &&
            env $env $BIN/sp-select --model $model --gather <$T/$name.$p.feat >$T/$name.$p.gatm &&
            env $env $BIN/sp-compose <$T/$name.$p.gatm >$T/$name.$p.compm &&
            env $env $BIN/sp-select --model $model --params <$T/$name.$p.feat >$T/$name.$p.parm &&
            env $env $BIN/sp-compose --model $model <$T/$name.$p.parm >$T/$name.$p.compp"
    done
    local f same=1
    for f in pred sel gat comp compg feat selm gatm compm parm compp; do
        cmp -s "$T/$name.0.$f" "$T/$name.165.$f" || { same=0; fail "$name: $f" "other bytes with MALLOC_PERTURB_=165"; }
    done
    [ $same = 0 ] || ok "$name: every stream the same bytes with MALLOC_PERTURB_=165"
    rm -f "$T/$name".*
}

expect_ok "tetro model" "$BIN/sp-load $R10 --batch 4 | $BIN/sp-train --init-only $ROOT/pipelines/configs/tetro.conf --out $T/t.spm 2>/dev/null"
streams tetro "$T/t.spm" "$BIN/sp-load $R10 --batch 4 --limit 6"
expect_ok "dsprites data" "$BIN/sp-gen multi-dsprites --count 6 --seed 3 --out $T/ds 2>/dev/null"
expect_ok "dsprites model" "$BIN/sp-load $T/ds --split-rule all --batch 4 | $BIN/sp-train --init-only $ROOT/pipelines/configs/dsprites.conf --out $T/d.spm 2>/dev/null"
streams dsprites "$T/d.spm" "$BIN/sp-load $T/ds --split-rule all --batch 4"
if [ -d "$DATA/gtsrb8" ]; then
    L="$DATA/gtsrb8 --size 28x28 --batch 4 --limit 6"
    expect_ok "gtsrb8 model" "$BIN/sp-load $L | $BIN/sp-train --init-only $ROOT/pipelines/configs/gtsrb8.conf --out $T/g.spm 2>/dev/null"
    streams gtsrb8 "$T/g.spm" "$BIN/sp-load $L"
fi
if [ -d "$DATA/weizmann-horse" ]; then
    L="$DATA/weizmann-horse --batch 2 --limit 3"
    expect_ok "horse model" "$BIN/sp-load $L | $BIN/sp-train --init-only $ROOT/pipelines/configs/horse.conf --out $T/h.spm 2>/dev/null"
    streams horse "$T/h.spm" "$BIN/sp-load $L"
fi
