#!/bin/bash
# model.sh CASE IMAGES OUT: makes the model of a chain parity case
# (tests/golden/make_chain_golden.py, tests/cli/chain.sh) on our side, so that
# no model file is committed: the case's configuration (a paper
# configuration of pipelines/configs/, with the overrides below), bin/sp-train
# --init-only with a fixed seed (IMAGES: a stream whose images feed the 'mean'
# initialisations), then tests/tools/perturb with a fixed seed.  Both steps are
# deterministic: the golden records the sha256 of OUT and the test checks it.
#
# Needs bin/sp-train and $OBJ/tests/tools/perturb built (OBJ defaults to the
# build/obj-* directory that holds perturb).
set -eu
[ $# -eq 3 ] || { echo "usage: model.sh CASE IMAGES OUT" >&2; exit 2; }
case_=$1 images=$2 out=$3
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
PERTURB=${SP_TEST_OBJ:+$ROOT/$SP_TEST_OBJ/tests/tools/perturb}
if [ -z "$PERTURB" ] || [ ! -x "$PERTURB" ]; then
    PERTURB=$(ls "$ROOT"/build/obj-*/tests/tools/perturb 2>/dev/null | head -n 1)
fi
[ -x "$PERTURB" ] || { echo "model.sh: tests/tools/perturb not built (make)" >&2; exit 1; }
# base configuration, overrides (key=value; replaced or appended), init seed, perturbation seed and
# --head-scale
case $case_ in
    dsprites) base=dsprites over="model.n_objects=3" seeds="11 111 0.1" ;;
    gtsrb8) base=gtsrb8 over="" seeds="12 112 1" ;;
    gtsrb8-m2) base=gtsrb8 over="model.n_sprites=4 model.n_backgrounds=2" seeds="13 113 1" ;;
    horse) base=horse over="" seeds="14 214 1" ;;
    fashion-mnist) # no colour modules: on one-channel images the reference's ColorModule computes
        # 3 (1 + w) x + b (x.expand to 3 channels, then its einsum sums the copies); ours computes
        # (1 + w) x + b on purpose (common/sp_tsf.h), so colour is left out of the grey case
        base=fashion-mnist over="model.transformation_sequence=affine_tps model.curriculum_learning=10 model.transformation_sequence_bkg=identity" seeds="15 115 1" ;;
    *) echo "model.sh: unknown case '$case_'" >&2; exit 2 ;;
esac
set -- $seeds
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sp-chain-model.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
conf=$tmp/$case_.conf
cp "$ROOT/pipelines/configs/$base.conf" "$conf"
for kv in $over; do
    k=${kv%%=*} v=${kv#*=}
    if grep -q "^$k *=" "$conf"; then
        sed -i "s/^$k *=.*/$k = $v/" "$conf"
    else
        echo "$k = $v" >>"$conf"
    fi
done
# run in the temporary folder: the model meta records config_file as given ("CASE.conf")
(cd "$tmp" && "$ROOT/bin/sp-train" --init-only "$case_.conf" --out init.spm --seed "$1") <"$images" 2>/dev/null
"$PERTURB" --seed "$2" --head-scale "$3" "$tmp/init.spm" "$out"
