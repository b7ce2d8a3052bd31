#!/bin/bash
# make eval DATASET=x: the eval split through sp-predict | sp-select |
# sp-compose | sp-eval with RUN/model.spm; prints the metrics as JSON
# (RUN/eval.json), ours beside the paper's, and draws RUN/decomposition.png.
# Multi-object sets are evaluated twice, as the paper does: ARI-FG with the
# background pixels given to the nearest layer (sp-compose --fg-reassign),
# ARI on the plain masks.  Environment from pipelines/run.mk.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -e "$MODEL" ]; then
    echo "eval: no model $MODEL: run make train DATASET=$DATASET first" >&2
    exit 1
fi
dev=()
[ -n "${DEVICE:-}" ] && dev=(--device "$DEVICE")
# shellcheck disable=SC2086
bin/sp-load $SRC_EVAL ${LOAD_OPTS:-} --split "$EVAL_SPLIT" --batch 32 |
    bin/sp-predict --model "$MODEL" "${dev[@]}" | bin/sp-select --gather "${dev[@]}" >"$RUN/selected.sp"
bin/sp-compose "${dev[@]}" --drop sel_layers,sel_masks,sel_background <"$RUN/selected.sp" >"$RUN/composed.sp"
rm -f "$RUN/selected.sp.fg"
if [ -n "${COMPOSE_OPTS:-}" ]; then
    bin/sp-compose "${dev[@]}" $COMPOSE_OPTS <"$RUN/selected.sp" | bin/sp-eval >"$RUN/eval-fg.json"
fi
bin/sp-eval <"$RUN/composed.sp" >"$RUN/eval.json"
# 8 images spread over the split (class-ordered sets would show one class)
n=$(bin/sp-info --summary <"$RUN/composed.sp" | sed -n 's/.* \([0-9]*\) images$/\1/p')
every=$(( ${n:-8} / 8 > 1 ? ${n:-8} / 8 : 1 ))
bin/sp-viz --out "$RUN/decomposition.png" --max 8 --every "$every" <"$RUN/composed.sp" 2>/dev/null
rm -f "$RUN/selected.sp"
# ours beside the paper's: ari_fg from the --fg-reassign run, the rest plain
python_free_get() { sed -n "s/.*\"$1\": \\([^,}]*\\).*/\\1/p" "$2"; }
echo "eval: $DATASET, model $MODEL ($EVAL_SPLIT split)"
cat "$RUN/eval.json"
for m in ${METRICS:-}; do
    f=$RUN/eval.json
    [ "$m" = ari_fg ] && [ -e "$RUN/eval-fg.json" ] && f=$RUN/eval-fg.json
    printf '  %-8s ours %s\n' "$m" "$(python_free_get "$m" "$f")"
done
echo "  paper:   ${PAPER:-}"
echo "picture: $RUN/decomposition.png"
