#!/bin/bash
# make data DATASET=x: makes sure the data set is there: generates it with
# sp-gen (DATA_GEN="kind count"; COUNT=N overrides the count), checks a
# folder given or known, or says where to get it.  Environment from
# pipelines/run.mk.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${DATA_GEN:-}" ]; then
    read -r kind count <<<"$DATA_GEN"
    have=0
    [ -d "$DATA/images" ] && have=$(ls "$DATA/images" | wc -l)
    # a set made before (maybe with COUNT=) is kept unless COUNT asks for more
    [ -z "${COUNT:-}" ] && [ "$have" -gt 0 ] && count=$have
    count=${COUNT:-$count}
    if [ "$have" -ge "$count" ]; then
        echo "data: $DATA: $(ls "$DATA/images" | wc -l) images, nothing to do"
        exit 0
    fi
    echo "data: sp-gen $kind --count $count -> $DATA"
    mkdir -p "$(dirname "$DATA")"
    bin/sp-gen "$kind" --count "$count" --seed "${SEED:-0}" --out "$DATA" --force --progress
    exit 0
fi
if [ -z "${DATA:-}" ]; then
    echo "data: $DATASET: ${DATA_HELP:-give DATA=DIR}" >&2
    exit 1
fi
if [ ! -e "$DATA" ]; then
    echo "data: $DATASET: $DATA does not exist; ${DATA_HELP:-give DATA=DIR}" >&2
    exit 1
fi
echo "data: $DATASET: $DATA"
