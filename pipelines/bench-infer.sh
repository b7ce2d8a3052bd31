#!/bin/bash
# make bench (inference part): figures, never pass/fail.  For the configs
# tetro, dsprites, gtsrb8, horse (batch sizes as the reference's: 32, 32,
# 128, 32), with an initialised model (sp-train --init-only):
#   pipe   images/s of  sp-load | sp-predict | sp-select | sp-compose | sp-eval
#          (and with sp-predict --features | sp-select --model M: the
#          candidates made after the pipe instead of crossing it)
#   chain  images/s of the same work in one process (tests/tools/inferchain,
#          the faster of its default and --features forms:
#          the library calls of those stages, no streams)
#   ref    images/s of the PyTorch reference's inference step on the same
#          cores in the same run (../shared/reference-bench/bench.py infer)
#   step   ours measured as the reference measures itself (inferchain
#          --step: one batch's inference repeated, warm-up left out), run
#          right after each of the reference's runs: like for like
# and where the time goes: the chain's own split (load, predict, select,
# compose, eval) against each stage run alone on a pre-recorded stream; the
# peak memory of each stage alone, of the chain and of the reference.
# Each of ours is the fastest of REPS runs (another job on the machine only
# ever makes a run slower).  Usage: bench-infer.sh OBJDIR [CONFIG...]
# Each process of a pipe also has fixed costs (start, model load, the first
# batch's fresh pages), which a short stream shows as overhead: the
# --features pipe and the chain run again on a longer stream (LONG times the
# images, as far as the data goes) and the last table gives the overhead of
# the long run and the marginal one, per extra image.
# Environment: REPS (3), REF_SECONDS (5: bench.py --min-seconds), THREADS
# (nproc), SP_BENCH_IMAGES_SCALE (1: multiplies the image counts), LONG (4;
# 0: no long runs), PAIRS (8: back-to-back pipe and chain runs on the long
# stream for the paired overhead).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=pipelines/lib.sh
. pipelines/lib.sh
OBJ=${1:?object directory}
shift
CONFIGS=${*:-tetro dsprites gtsrb8 horse}
DATA=${SP_DATA:-../shared/data}
REF=${SP_REFERENCE:-../shared/reference-bench}
REPS=${REPS:-3}
REF_SECONDS=${REF_SECONDS:-5}
THREADS=${THREADS:-$(nproc)}
SCALE=${SP_BENCH_IMAGES_SCALE:-1}
LONG=${LONG:-4}
PAIRS=${PAIRS:-8}
CHAIN=$OBJ/tests/tools/inferchain
B=build/bench/infer
# recorded streams are large (600 MB for 512 tetro images): RAM if possible
S=$(mktemp -d "$( [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/sp-bench-infer.XXXXXX")
trap 'rm -rf "$S"' EXIT
mkdir -p "$B"
# The stages of a pipe share the cores, and OpenMP's default spin-waiting
# lets idle threads take CPU from busy ones: a pipe (or anything, when
# another job shares the machine) can run 3-6x slower at random.  So each of
# ours runs REPS times with OMP_WAIT_POLICY=passive and REPS times with the
# variable unset, and the fastest counts (our stages make the unset case
# passive themselves at start, common/sp_start.h; the chain, a program that
# runs alone, makes it a short spin, GOMP_SPINCOUNT=20000, as sp-train does;
# the reference gets both policies too).  OpenBLAS one thread,
# as in every figure of ours (the code asks for it anyway).
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=1
unset OMP_WAIT_POLICY

have_ref=1
why=$(ref_missing "$REF")
if [ -n "$why" ]; then
    echo "bench-infer: reference column skipped: $why"
    have_ref=0
fi
# the reference's dataset modules import torchvision, which Debian's python3 lacks: a stub
PYPATH=
"$PY" -c 'import torchvision' 2>/dev/null || PYPATH=$PWD/tests/bench/stubs

calc() { awk "BEGIN {print $*}"; }
# best_each CMD...: the fastest wall time of each command over REPS runs of
# bash -c CMD with OMP_WAIT_POLICY=passive and REPS with the default,
# alternating; several commands have their runs interleaved (A B C A B C ...)
# so that a drift of this machine's speed (±10-25% within
# minutes here) does not favour whichever was measured in a fast phase;
# prints their fastest wall times in order
# timed POLICY CMD: the wall seconds of bash -c CMD with OMP_WAIT_POLICY=POLICY
# (empty: the variable unset); CMD's failure is timed's (and, through set -e,
# the bench's)
timed() {
    local s=$EPOCHREALTIME
    if [ -n "$1" ]; then OMP_WAIT_POLICY=$1 bash -c "$2" >/dev/null || return; else bash -c "$2" >/dev/null || return; fi
    calc "$EPOCHREALTIME - $s"
}
best_each() {
    local -a b=()
    local i t p c
    for ((i = 0; i < $#; i++)); do b[i]=1e30; done
    for _ in $(seq "$REPS"); do
        for p in passive ""; do
            i=0
            for c in "$@"; do
                t=$(timed "$p" "$c")
                b[i]=$(calc "(${t} < ${b[i]}) ? $t : ${b[i]}")
                i=$((i + 1))
            done
        done
    done
    echo "${b[@]}"
}
# paired A B: PAIRS rounds of four timed runs, each command twice in a row:
# A A B B, then B B A A, and so on (the wait policy alternating every two
# rounds).  A run's speed here depends on the run before it: a fresh page
# costs from ~0.1 ms a MB (freed moments ago) to ~1.5 (freed seconds ago,
# when this VM's host has taken it back), and a run that needs more memory
# than the one before it freed pays the difference at the higher price
# (horse, 4 rounds: the pipe 1.23 s after the chain, 1.10 s after itself;
# the chain 1.00 s after the pipe, 1.05 s after itself).  So each command
# is measured after itself (what running either again and again gives; the
# two runs of a round that follow their own kind) and, apart, after the
# other (the third run of each round).  Prints the median over the rounds
# of A's time over B's, both after themselves, with the lower and upper
# quartiles; then the median time of A after B over that of B after A.
paired() {
    local i p a1 a2 b1 b2
    for ((i = 0; i < PAIRS; i++)); do
        p=passive
        ((i % 4 >= 2)) && p=
        if ((i % 2)); then
            b1=$(timed "$p" "$2") b2=$(timed "$p" "$2") a1=$(timed "$p" "$1") a2=$(timed "$p" "$1")
            echo "ab $a1"
        else
            a1=$(timed "$p" "$1") a2=$(timed "$p" "$1") b1=$(timed "$p" "$2") b2=$(timed "$p" "$2")
            echo "ba $b1"
        fi
        echo "self $(calc "$a2 / $b2")"
    done >"$S/paired"
    local ab ba
    ab=$(median_of "$S/paired" ab) ba=$(median_of "$S/paired" ba)
    echo "$(median_of "$S/paired" self quartiles) $([ -n "$ab" ] && [ -n "$ba" ] && calc "$ab / $ba" || echo -)"
}
# median_of FILE KEY [quartiles]: the median of the values on FILE's lines
# "KEY value" (and with a third word the lower and upper quartiles after
# it); nothing when there is no such line (PAIRS 1 has no pipe after the
# chain)
median_of() {
    grep "^$2 " "$1" | cut -d' ' -f2 | sort -g | awk -v q="${3:-}" '{r[NR] = $1} END {
        n = NR
        if (!n) exit
        printf "%.6f", (r[int((n + 1) / 2)] + r[int(n / 2) + 1]) / 2
        if (q) printf " %.6f %.6f", r[int((n + 3) / 4)], r[n + 1 - int((n + 3) / 4)] }' || true
}
# best CMD: best_each of one command
best() { best_each "$1"; }
# mb X: X (MiB) as a whole number, or "-"
mb() { [ "$1" = - ] && echo - || printf '%.0f' "$1"; }
# peak CMD: the peak resident memory (MiB) of bash -c CMD, a single program
# with its redirections (GNU time's %M: the largest of the process and its
# children), "-" without /usr/bin/time
peak() {
    if [ -x /usr/bin/time ] && /usr/bin/time -f %M -o "$S/rss" bash -c "$1" >/dev/null 2>&1; then
        mb "$(calc "$(tail -1 "$S/rss") / 1024")"
    else
        echo -
    fi
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "ours: OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=1, fastest of $REPS runs with OMP_WAIT_POLICY=passive and $REPS with the default (the --features and --params pipes and the chain's two forms interleaved run by run)"
echo "reference: bench.py CONFIG infer --threads $THREADS --min-seconds $REF_SECONDS --warmup 2, OPENBLAS_NUM_THREADS=1 (its mean images/s), the fastest of OMP_WAIT_POLICY=passive and the default, each with: $(ref_heap_envs | paste -sd '|' | sed 's/|/ and with /')"
table=$S/table
breakdown=$S/breakdown
steady=$S/steady
memory=$S/memory
: >"$memory"
: >"$table"
: >"$breakdown"
: >"$steady"
roof=$S/roof
: >"$roof"
like=$S/like
: >"$like"
for cfg in $CONFIGS; do
    case $cfg in
        tetro)
            n=$((384 * SCALE)) bs=32 avail=4096
            [ -d "$B/tetro-data-4k" ] || bin/sp-gen tetrominoes --count 4096 --seed 1 --out "$B/tetro-data-4k" 2>/dev/null
            src="$B/tetro-data-4k" load="--split-rule all" ;;
        dsprites)
            n=$((128 * SCALE)) bs=32 avail=1024
            [ -d "$B/dsprites-data" ] || bin/sp-gen multi-dsprites --count 1024 --seed 1 --out "$B/dsprites-data" 2>/dev/null
            src="$B/dsprites-data" load="--split-rule all" ;;
        gtsrb8)
            n=$((768 * SCALE)) bs=128 avail=10650
            src="$DATA/gtsrb8" load="--size 28x28" ;;
        horse)
            n=$((128 * SCALE)) bs=32 avail=328
            src="$DATA/weizmann-horse" load="" ;;
        *) echo "bench-infer: $cfg: unknown config (tetro dsprites gtsrb8 horse)"; continue ;;
    esac
    if [ ! -d "$src" ]; then
        echo "bench-infer: $cfg: skipped: no data at $src"
        continue
    fi
    load0=$load
    load="$load --batch $bs --limit $n"
    model=$B/$cfg.spm
    bin/sp-load "$src" $load >"$S/in.sp"
    n=$(bin/sp-info --summary <"$S/in.sp" | sed -n 's/.* \([0-9]*\) images$/\1/p')
    bin/sp-train --init-only "pipelines/configs/$cfg.conf" --out "$model" <"$S/in.sp" 2>/dev/null
    # sp-select --gather hands on only the chosen candidates (1/K' of them);
    # the pipe without it is measured too
    # sp-eval reads only the label maps: what sp-compose consumed or made for
    # other readers (layer images and masks, recon) is dropped before it, and
    # what no later stage reads (the image, read by sp-compose only for
    # --fg-reassign, and the features) after sp-select, as a user's pipe
    # would (computed all the same, as in the chain, which serializes
    # nothing; dsprites: 254 of the 263 MB that crossed the last pipe)
    early="--drop image,features"
    unread="layer_images,layer_masks,recon"
    # and the predicted maps whose truth the data lacks (sp-eval scores a
    # pair only when both are there: horse has no semantic masks, gtsrb8 no
    # masks at all; horse: 21 of the 47 MB that crossed the last pipe)
    first=$(bin/sp-info <"$S/in.sp" | sed -n '/^  batch 0$/,/^  batch 1$/p')
    for pair in mask:pred_mask sem_mask:pred_sem label:pred_label; do
        grep -q "^    ${pair%%:*} " <<<"$first" || unread="$unread,${pair#*:}"
    done
    drop="--drop sel_layers,sel_masks,sel_background,occlusion,$unread"
    pipe="bin/sp-load $src $load | bin/sp-predict --model $model | bin/sp-select --gather $early | bin/sp-compose $drop | bin/sp-eval"
    pipe_full="bin/sp-load $src $load | bin/sp-predict --model $model | bin/sp-select $early | bin/sp-compose --drop cand_layers,cand_masks,backgrounds,occlusion,$unread | bin/sp-eval"
    # sp-predict --features: the encoder's output crosses the pipe and
    # sp-select --model makes the candidates from it
    feat_pipe() { echo "bin/sp-load $src $1 | bin/sp-predict --model $model --features | bin/sp-select --model $model --gather $early | bin/sp-compose $drop | bin/sp-eval"; }
    pipe_feat=$(feat_pipe "$load")
    # sp-select --params: only the chosen candidates' parameters cross to
    # sp-compose --model, which makes their layers again
    pipe_par="bin/sp-load $src $load | bin/sp-predict --model $model --features | bin/sp-select --model $model --params $early | bin/sp-compose --model $model --drop sel_params,sel_bkg_params,occlusion,$unread | bin/sp-eval"
    # the chain in its two forms (the library calls of the default pipe, and
    # of the --features pipe: candidates made a group of images at a time,
    # only the chosen kept); the faster is "the chain"
    chain_u="$CHAIN --model $model $load $src"
    chain_f="$CHAIN --features --model $model $load $src"
    # all must compute the same metrics
    m_pipe=$(bash -c "$pipe")
    m_feat=$(bash -c "$pipe_feat")
    m_chain=$($chain_u 2>/dev/null)
    m_chainf=$($chain_f 2>/dev/null)
    m_par=$(bash -c "$pipe_par")
    same=yes
    [ "$m_pipe" = "$m_chain" ] && [ "$m_feat" = "$m_chain" ] && [ "$m_chainf" = "$m_chain" ] && [ "$m_par" = "$m_chain" ] ||
        same="NO: pipe $m_pipe, --features $m_feat, --params $m_par, chain $m_chain, chain --features $m_chainf"
    t_pipe=$(best "$pipe")
    t_full=$(best "$pipe_full")
    read -r t_feat t_cu t_cf t_par < <(best_each "$pipe_feat" "$chain_u 2>/dev/null" "$chain_f 2>/dev/null" "$pipe_par")
    if [ "$(calc "($t_cf < $t_cu) ? 1 : 0")" = 1 ]; then
        chain=$chain_f t_chain=$t_cf form="--features"
    else
        chain=$chain_u t_chain=$t_cu form="default"
    fi
    # the chain's own split (its fastest run)
    split=$(for _ in $(seq "$REPS"); do $chain 2>&1 >/dev/null; OMP_WAIT_POLICY=passive $chain 2>&1 >/dev/null; done |
        sort -t' ' -k4 -g | head -1)
    # each stage alone: input from a recorded stream (page cache / RAM), output to /dev/null
    bin/sp-predict --model "$model" <"$S/in.sp" >"$S/p.sp"
    bin/sp-select --gather $early <"$S/p.sp" >"$S/s.sp"
    bin/sp-compose $drop <"$S/s.sp" >"$S/c.sp"
    mb_p=$(calc "$(stat -c %s "$S/p.sp") / 1048576")
    t_load=$(best "bin/sp-load $src $load")
    t_pred=$(best "bin/sp-predict --model $model <$S/in.sp")
    t_sel=$(best "bin/sp-select --gather $early <$S/p.sp")
    t_comp=$(best "bin/sp-compose $drop <$S/s.sp")
    t_eval=$(best "bin/sp-eval <$S/c.sp")
    # peak memory of each stage alone on the same streams (the --features
    # pipe's two middle stages on its own), and of the chain in its faster form
    bin/sp-predict --model "$model" --features <"$S/in.sp" >"$S/f.sp"
    m_load=$(peak "bin/sp-load $src $load") m_pred=$(peak "bin/sp-predict --model $model <$S/in.sp")
    m_predf=$(peak "bin/sp-predict --model $model --features <$S/in.sp")
    m_self=$(peak "bin/sp-select --model $model --gather $early <$S/f.sp") m_sel=$(peak "bin/sp-select --gather $early <$S/p.sp")
    m_comp=$(peak "bin/sp-compose $drop <$S/s.sp") m_eval=$(peak "bin/sp-eval <$S/c.sp") m_chain=$(peak "$chain")
    rm -f "$S/p.sp" "$S/s.sp" "$S/c.sp" "$S/in.sp" "$S/f.sp"
    ref=-
    # the reference suffers from spinning as much as ours (under load, 5x
    # slower with the default policy): the faster of the two policies
    : >"$S/ref_rss"
    # like for like: the chain's two forms under the reference's protocol
    # (the first batch's inference repeated for REF_SECONDS after 2 passes
    # of warm-up), beside each of the reference's runs (REF_BESIDE)
    : >"$S/step_u"
    : >"$S/step_f"
    step_of() { echo "$CHAIN $1 --step $REF_SECONDS --model $model $load0 --batch $bs --limit $bs $src 2>&1 >/dev/null | sed -n 's/^step images\/s \([0-9.]*\) .*/\1/p' >>$2"; }
    beside="$(step_of "" "$S/step_u"); $(step_of --features "$S/step_f")"
    if [ $have_ref = 0 ]; then
        bash -c "$beside"
    else
        ref=$(REF_BESIDE=$beside REF_RSS_FILE=$S/ref_rss ref_best bench-infer "$cfg" infer imgs_per_s OMP_WAIT_POLICY=passive "-u OMP_WAIT_POLICY")
    fi
    step_u=$(sort -g "$S/step_u" | tail -1) step_f=$(sort -g "$S/step_f" | tail -1)
    step=$(calc "($step_f > $step_u) ? $step_f : $step_u")
    r_step=-
    [ "$ref" = - ] || r_step=$(printf '%.2fx' "$(calc "$step / $ref")")
    printf '| %s | %d | %.0f | %.0f | %s | %s | %s |\n' "$cfg" "$bs" "$step_u" "$step_f" \
        "$( [ "$ref" = - ] && echo - || printf '%.0f' "$ref")" "$r_step" "$(wc -l <"$S/step_u")" >>"$like"

    m_ref=$(cat "$S/ref_rss")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$cfg" "$m_load" "$m_pred" "$m_predf" "$m_sel" \
        "$m_self" "$m_comp" "$m_eval" "$m_chain" "$(mb "${m_ref:--}")" >>"$memory"
    ips_pipe=$(calc "$n / $t_pipe")
    ips_chain=$(calc "$n / $t_chain")
    over=$(calc "100 * ($t_pipe / $t_chain - 1)")
    over_full=$(calc "100 * ($t_full / $t_chain - 1)")
    over_feat=$(calc "100 * ($t_feat / $t_chain - 1)")
    ips_feat=$(calc "$n / $t_feat")
    ips_par=$(calc "$n / $t_par")
    if [ "$ref" != - ]; then
        r_pipe=$(calc "$ips_pipe / $ref") r_chain=$(calc "$ips_chain / $ref") r_feat=$(calc "$ips_feat / $ref")
    else
        r_pipe=- r_chain=- r_feat=-
    fi
    ratio() { [ "$1" = - ] && echo - || printf '%.2fx' "$1"; }
    printf '| %s | %d x %d | %.0f | %.0f | %.0f | %.0f | %.0f%% | %.0f%% | %.0f%% | %.0f%% | %s | %s | %s | %s |\n' "$cfg" "$((n / bs))" "$bs" \
        "$ips_pipe" "$ips_feat" "$ips_par" "$ips_chain" "$over" "$over_full" "$over_feat" "$(calc "100 * ($t_par / $t_chain - 1)")" \
        "$( [ "$ref" = - ] && echo - || printf '%.0f' "$ref")" \
        "$(ratio "$r_pipe")" "$(ratio "$r_feat")" "$(ratio "$r_chain")" >>"$table"
    set -- $split # images N seconds T load L predict P select S compose C eval E
    printf '| %s | pipe %.2f s, chain %.2f s | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.0f MB |\n' \
        "$cfg" "$t_pipe" "$t_chain" "$t_load" "$6" "$t_pred" "$8" "$t_sel" "${10}" "$t_comp" "${12}" "$t_eval" "${14}" "$mb_p" >>"$breakdown"
    # the long run: whole batches, at most what the data has
    nl=$(( (LONG * n < avail ? LONG * n : avail) / bs * bs ))
    if [ "$LONG" -gt 0 ] && [ "$nl" -gt "$n" ]; then
        loadl="$load0 --batch $bs --limit $nl"
        read -r t_featl t_cul t_cfl < <(best_each "$(feat_pipe "$loadl")" "$CHAIN --model $model $loadl $src 2>/dev/null" \
            "$CHAIN --features --model $model $loadl $src 2>/dev/null")
        chainl="$CHAIN --model $model $loadl $src 2>/dev/null" t_chainl=$t_cul
        if [ "$(calc "($t_cfl < $t_cul) ? 1 : 0")" = 1 ]; then
            chainl="$CHAIN --features --model $model $loadl $src 2>/dev/null" t_chainl=$t_cfl
        fi
        read -r pm pq1 pq3 px < <(paired "$(feat_pipe "$loadl")" "$chainl")
        # the chain's steady rate: the extra images over the extra time (its
        # start, model read and first touches cancel, as the reference's
        # figure leaves out its start-up and warm-up steps)
        ips_steady=$(calc "($nl - $n) / ($t_chainl - $t_chain)")
        r_steady=-
        [ "$ref" != - ] && r_steady=$(printf '%.2fx' "$(calc "$ips_steady / $ref")")
        printf '| %s | %d: %.2f s / %.2f s, %.0f%% | %d: %.2f s / %.2f s, %.0f%% | %.0f%% | %.1f%% (%.1f to %.1f%%) | %s | %.0f | %s |\n' "$cfg" "$n" \
            "$t_feat" "$t_chain" "$over_feat" "$nl" "$t_featl" "$t_chainl" "$(calc "100 * ($t_featl / $t_chainl - 1)")" \
            "$(calc "100 * (($t_featl - $t_feat) / ($t_chainl - $t_chain) - 1)")" "$(calc "100 * ($pm - 1)")" \
            "$(calc "100 * ($pq1 - 1)")" "$(calc "100 * ($pq3 - 1)")" "$([ "$px" = - ] && echo - || printf '%.1f%%' "$(calc "100 * ($px - 1)")")" "$ips_steady" "$r_steady" >>"$steady"
    fi
    echo "$cfg $model $ref $ips_chain" >>"$roof"
    [ "$same" = yes ] || echo "bench-infer: $cfg: pipe and chain metrics differ: $same"
    echo "$cfg done: pipe $ips_pipe images/s, chain $ips_chain ($form form; default $(calc "$n / $t_cu"), --features $(calc "$n / $t_cf")), reference $ref (load average $(cut -d' ' -f1 /proc/loadavg))" >&2
done
echo
echo "Inference images/s (initialised models; pipe: sp-load | sp-predict | sp-select --gather $early | sp-compose $drop | sp-eval; without --gather: sp-select $early | sp-compose --drop cand_layers,cand_masks,backgrounds,occlusion,$unread; --features: sp-predict --features | sp-select --model M --gather $early; --params: sp-predict --features | sp-select --model M --params $early | sp-compose --model M)"
echo
echo "| config | batches x size | pipe | pipe --features | pipe --params | chain (one process) | pipe overhead | without --gather | with --features | with --params | reference | pipe / ref | --features / ref | chain / ref |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
cat "$table"
echo
echo "Like for like, the reference's own protocol (bench.py infer: one batch in memory, its inference step repeated for $REF_SECONDS s after 2 passes of warm-up, images/s of the timed passes): ours is tests/tools/inferchain --step on the data's first batch (predict, select and compose: the encoder, every transformation, the selection, the composition and the masks; no process start, model load, decoding or scoring, none of which the reference's figure has either), its default and --features forms each run right after each of the reference's runs (so both meet the same phases of this machine's speed), the fastest of each; ours / reference with the faster form"
echo
echo "| config | batch | ours, default form | ours, --features form | reference | ours / reference | runs each |"
echo "|---|---|---|---|---|---|---|"
cat "$like"
echo
echo "Where the time goes, seconds: each stage alone on a recorded stream (input from RAM, output to /dev/null) / the same part inside the chain; last column: the candidate stream sp-predict writes"
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (2 would be this bench alone on 2 cores)"
echo
echo "| config | whole | load | predict | select | compose | eval | candidates |"
echo "|---|---|---|---|---|---|---|---|"
cat "$breakdown"
echo
echo "Peak memory, MiB (resident, the largest of each program): each stage alone on the streams above; sp-predict --features and sp-select --model M --gather, the --features pipe's middle stages; the chain in its faster form; the reference's inference process (bench.py's peak_rss_MiB: Python, torch and its model included) in its fastest run"
echo
echo "| config | sp-load | sp-predict | sp-predict --features | sp-select --gather | sp-select --model M --gather | sp-compose | sp-eval | chain | reference |"
echo "|---|---|---|---|---|---|---|---|---|---|"
cat "$memory"
if [ -s "$steady" ]; then
    echo
    echo "Short and long streams, sp-load | sp-predict --features | sp-select --model M --gather | sp-compose | sp-eval against the chain (images: pipe s / chain s, overhead); marginal: the overhead of the extra images alone (the fixed costs of the pipe's processes cancel); long, paired: the median (and quartiles) over $PAIRS rounds of the long pipe's time over the chain's, each run right after a run of its own kind (rounds of pipe pipe chain chain, then chain chain pipe pipe, the wait policy alternating every two); after the other: the pipe's median time right after the chain over the chain's right after the pipe (in this VM a page freed seconds ago costs up to 15x one freed moments ago, so a run after one that used less memory pays for the difference); chain steady: the chain's images/s on the extra images alone (its start-up cancels, as the reference's figure leaves out its own start-up and warm-up; the chain still loads and decodes the images and scores them, which the reference's step does not), and that over the reference's"
    echo
    echo "| config | short | long | marginal overhead | long, paired | after the other | chain steady images/s | chain steady / ref |"
    echo "|---|---|---|---|---|---|---|---|"
    cat "$steady"
fi
if [ -s "$roof" ]; then
    # the roofline: what any program could reach on these cores
    # (tests/tools/roofline: the FMA peak measured with THREADS threads,
    # the encoder's multiply-adds per image counted from the model)
    r=$(OMP_NUM_THREADS=$THREADS "$OBJ/tests/tools/roofline" --seconds 2 $(cut -d' ' -f2 "$roof"))
    peak=$(echo "$r" | sed -n 's/^peak GFLOPS \([0-9.]*\) .*/\1/p')
    echo
    echo "The roofline: this CPU's measured FMA peak with $THREADS threads: $peak GFLOP/s ($(echo "$r" | head -1 | sed 's/.* isa //')). The encoder's convolutions alone, at 2 flops a multiply-add, at the reference's and the chain's images/s, as GFLOP/s and share of that peak; direct bound: the most any program computing those convolutions directly (as ours and oneDNN do) could be faster than the reference (its encoder alone at the peak, everything else free); Winograd bound: the same with every 3x3 stride-1 convolution done by Winograd F(4x4, 3x3), 4x fewer multiplies, its transforms free."
    echo
    echo "| config | encoder GFLOP / image (3x3 stride 1) | reference | chain | direct bound | Winograd bound |"
    echo "|---|---|---|---|---|---|"
    while read -r cfg model ref ips; do
        set -- $(echo "$r" | grep "^$model " | sed 's/.* macs \([0-9]*\) macs3x3 \([0-9]*\)/\1 \2/')
        gf=$(calc "2 * $1 / 1e9") gw=$(calc "2 * ($1 - $2 + $2 / 4) / 1e9")
        if [ "$ref" = - ]; then
            printf '| %s | %.3f (%.0f%%) | - | %.0f GFLOP/s, %.0f%% | - | - |\n' "$cfg" "$gf" "$(calc "100 * $2 / $1")" \
                "$(calc "$ips * $gf")" "$(calc "100 * $ips * $gf / $peak")"
        else
            printf '| %s | %.3f (%.0f%%) | %.0f GFLOP/s, %.0f%% | %.0f GFLOP/s, %.0f%% | %.2fx | %.2fx |\n' "$cfg" "$gf" \
                "$(calc "100 * $2 / $1")" "$(calc "$ref * $gf")" "$(calc "100 * $ref * $gf / $peak")" \
                "$(calc "$ips * $gf")" "$(calc "100 * $ips * $gf / $peak")" "$(calc "$peak / ($ref * $gf)")" \
                "$(calc "$peak / ($ref * $gw)")"
        fi
    done <"$roof"
fi
