#!/bin/bash
# make train DATASET=x: sp-load (shuffled, EPOCHS passes) | sp-train, into
# RUN/model.spm with its log RUN/train.jsonl.  When RUN holds a checkpoint
# the run resumes from it (the same stream is replayed and the batches it
# has seen are skipped) unless FRESH=1.  The val split is scored every
# VAL_EVERY iterations (500; 0: never).  Environment from pipelines/run.mk.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=pipelines/lib.sh
. pipelines/lib.sh
mkdir -p "$RUN"
args=(--out "$MODEL" --log "$RUN/train.jsonl" --checkpoint-every "${CHECKPOINT_EVERY:-500}")
# the val split, scored in process every VAL_EVERY iterations (in the log)
# shellcheck disable=SC2086
if [ "${VAL_EVERY:-500}" -gt 0 ] && bin/sp-load $SRC_TRAIN ${LOAD_OPTS:-} --split val --batch 50 >"$RUN/val.sp.tmp" 2>/dev/null; then
    mv "$RUN/val.sp.tmp" "$RUN/val.sp"
    args+=(--val "$RUN/val.sp" --val-every "${VAL_EVERY:-500}")
else
    rm -f "$RUN/val.sp.tmp"
fi
[ -n "${ITERS:-}" ] && args+=(--iters "$ITERS")
[ -n "${DEVICE:-}" ] && args+=(--device "$DEVICE")
if [ -e "$MODEL" ] && [ -z "${FRESH:-}" ]; then
    echo "train: resuming from $MODEL (FRESH=1 starts over)"
    args+=(--resume "$MODEL")
else
    rm -f "$RUN/train.jsonl"
    args+=(--config "$CONFIG" --seed "$SEED")
fi
# sp-train may stop before the stream ends (ITERS): sp-load then gets
# SIGPIPE (141), which is not a failure
set +o pipefail
# shellcheck disable=SC2086  # SRC_TRAIN and LOAD_OPTS are word lists
bin/sp-load $SRC_TRAIN ${LOAD_OPTS:-} --split train --shuffle --seed "$SEED" --epochs "$EPOCHS" \
    --batch "$BATCH" --drop-last | bin/sp-train "${args[@]}"
load_train_status "train: failed" "${PIPESTATUS[@]}"
echo "train: $MODEL (log: $RUN/train.jsonl)"
