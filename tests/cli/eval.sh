# sp-eval end to end: streams written by tests/tools/mkeval from the cases of
# tests/golden/metrics/eval.txt (expected values from scikit-learn / scipy /
# the reference's formulas, see tests/golden/make_metrics_golden.py), split
# into batches and streams in several ways, then bad input.  Values are
# compared with a tolerance of 2e-6 (sp-eval prints 6 decimals); keys and
# their order exactly.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

EVAL=$BIN/sp-eval
MK=$TOOLS/mkeval
G=$ROOT/tests/golden/metrics/eval.txt
for f in "$EVAL" "$MK"; do
    if [ ! -x "$f" ]; then
        fail eval_setup "$f is not built (make; SP_TEST_OBJ=$OBJ)"
        exit 1
    fi
done

# expected CASE TAG [C]: the "key value ..." pairs of line TAG of CASE
# (expect, expect_skip_empty, or expect_classes C).
expected() {
    awk -v c="$1" -v tag="$2" -v cls="${3:-}" '
        $1 == "case" { in_case = ($2 == c); next }
        in_case && $1 == tag {
            s = 2
            if (tag == "expect_classes") { if ($2 != cls) next; s = 3 }
            out = ""
            for (i = s; i <= NF; i++) out = out (out == "" ? "" : " ") $i
            print out
            exit
        }' "$G"
}

# keep PAIRS KEY...: only the listed keys of a "key value ..." list.
keep() {
    local pairs=$1
    shift
    awk -v p="$pairs" -v k=" $* " 'BEGIN {
        n = split(p, a, " "); out = ""
        for (i = 1; i < n; i += 2)
            if (index(k, " " a[i] " ")) out = out (out == "" ? "" : " ") a[i] " " a[i + 1]
        print out }'
}

# json_diff JSON PAIRS: empty when the one-line JSON object has exactly the
# keys of PAIRS in that order with values within 2e-6 (null only for null).
json_diff() {
    awk -v got="$1" -v want="$2" 'BEGIN {
        g = got
        if (g !~ /^\{.*\}$/) { print "not one JSON object: " got; exit }
        gsub(/[{}" ]/, "", g)
        ng = split(g, ga, ",")
        nw = split(want, wa, " ")
        if (nw != 2 * ng) { print "keys differ: got " got ", expected " want; exit }
        for (i = 1; i <= ng; i++) {
            split(ga[i], kv, ":")
            k = wa[2 * i - 1]; v = wa[2 * i]
            if (kv[1] != k) { print "key " i " is " kv[1] ", expected " k " (" got ")"; exit }
            if (v == "null" || kv[2] == "null") {
                if (v != kv[2]) { print k ": got " kv[2] ", expected " v; exit }
                continue
            }
            if (kv[2] !~ /^-?[0-9]+(\.[0-9]+)?$/) { print k ": not a number: " kv[2]; exit }
            d = kv[2] - v
            if (d < 0) d = -d
            if (d > 2e-6) { print k ": got " kv[2] ", expected " v; exit }
        }
    }'
}

# check NAME PAIRS CMD...: runs CMD (a pipeline), compares its stdout.
check() {
    local name=$1 want=$2
    shift 2
    local out
    if ! out=$(timeout "$TIMEOUT" bash -c "$*" 2>"$T/err"); then
        fail "$name" "exit $? from: $* :: $(head -c 300 "$T/err")"
        return
    fi
    if [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ]; then
        fail "$name" "stdout is not one line: $out"
        return
    fi
    if [ -s "$T/err" ]; then
        fail "$name" "stderr not empty: $(head -c 300 "$T/err")"
        return
    fi
    local d
    d=$(json_diff "$out" "$want")
    if [ -z "$d" ]; then ok "$name"; else fail "$name" "$d"; fi
}

# --- the golden cases, whole and split ---------------------------------
for c in multi horse labels no_foreground one_cluster; do
    want=$(expected "$c" expect)
    if [ -z "$want" ]; then
        fail "golden_$c" "no expect line for case $c in $G"
        continue
    fi
    check "eval_${c}" "$want" "'$MK' '$G' $c | '$EVAL'"
    check "eval_${c}_batch1_3streams" "$want" "'$MK' --batch 1 --streams 3 '$G' $c | '$EVAL'"
    check "eval_${c}_one_batch" "$want" "'$MK' --batch 1000 '$G' $c | '$EVAL'"
    check "eval_${c}_empty_first_batch" "$want" "'$MK' --empty-batch '$G' $c | '$EVAL'"
done

m=$(expected multi expect)
check eval_dtypes_u8_i64 "$m" "'$MK' --dtype mask=u8,pred_mask=i64,sem_mask=i64,pred_sem=u8,label=u8,pred_label=i64 '$G' multi | '$EVAL'"
check eval_dtypes_i64 "$m" "'$MK' --dtype mask=i64,pred_mask=i64,sem_mask=i64,pred_sem=i64,label=i64,pred_label=i64 '$G' multi | '$EVAL'"
check eval_skip_empty "$(expected multi expect_skip_empty)" "'$MK' '$G' multi | '$EVAL' --ari-fg-skip-empty"
check eval_sem_classes_5 "$(expected multi expect_classes 5)" "'$MK' '$G' multi | '$EVAL' --sem-classes 5"
check eval_horse_sem_classes_2 "$(expected horse expect_classes 2)" "'$MK' '$G' horse | '$EVAL' --sem-classes 2"
check eval_no_fg_skip_null "$(expected no_foreground expect_skip_empty)" "'$MK' '$G' no_foreground | '$EVAL' --ari-fg-skip-empty"

# half pairs are ignored when another pair is complete
check eval_only_mask_pair "$(keep "$m" n ari ari_fg)" "'$MK' --drop sem_mask,pred_label '$G' multi | '$EVAL'"
check eval_only_sem_pair "$(keep "$m" n macc miou macc_fg miou_fg)" "'$MK' --drop pred_mask,label,pred_label '$G' multi | '$EVAL'"

# files as arguments; '-' is stdin; two copies of a set: n doubles, the
# means stay
"$MK" "$G" multi >"$T/multi.sp"
check eval_file_arg "$m" "'$EVAL' '$T/multi.sp'"
check eval_dash_stdin "$m" "'$EVAL' - < '$T/multi.sp'"
m2=$(echo "$m" | awk '{ $2 = 2 * $2; print }')
check eval_two_files "$m2" "'$EVAL' '$T/multi.sp' '$T/multi.sp'"
check eval_concatenated "$m2" "cat '$T/multi.sp' '$T/multi.sp' | '$EVAL'"

# --- bad input: one line on stderr naming the batch, non-zero exit -------
E="sp-eval: stdin: batch"
expect_error eval_float_mask "^$E 0: mask is f32 \[5,9,10\]: ids must be u8, i32 or i64$" \
    "'$MK' --bad float-mask '$G' multi | '$EVAL'"
expect_error eval_shape_mismatch "^$E 1: pred_mask i32 \[5,9,9\] does not match mask i32 \[5,9,10\]$" \
    "'$MK' --bad shape --bad-batch 1 '$G' multi | '$EVAL'"
expect_error eval_shape_second_stream "^sp-eval: stdin: stream 2, batch 0: pred_mask i32 \[2,9,9\] does not match mask" \
    "'$MK' --streams 2 --bad shape --bad-batch 2 '$G' multi | '$EVAL'"
expect_error eval_negative_id "^$E 0: pred_mask: id -1 at \[0,1,2\] is negative \(ids are 0..65535\)$" \
    "'$MK' --bad negative '$G' multi | '$EVAL'"
expect_error eval_id_too_large "^$E 0: sem_mask: id 70000 at \[4,8,9\] is too large" \
    "'$MK' --bad big-id '$G' multi | '$EVAL'"
expect_error eval_image_count "^$E 0: sem_mask i32 \[5,9,10\] and label i32 \[4\] disagree on the number of images$" \
    "'$MK' --bad nlabel '$G' multi | '$EVAL'"
expect_error eval_ndim "^$E 0: mask is i32 \[5,90\]: expected \[N,H,W\]$" \
    "'$MK' --bad ndim '$G' multi | '$EVAL'"
expect_error eval_not_tensor "^$E 0: mask is not a tensor$" \
    "'$MK' --bad raw '$G' multi | '$EVAL'"
expect_error eval_pair_disappears "^$E 2: no pred_mask \(stdin: batch 0 had mask and pred_mask\)$" \
    "'$MK' --bad drop-pred --bad-batch 2 '$G' multi | '$EVAL'"
expect_error eval_no_pred_entries "^$E 0: nothing to evaluate: mask without pred_mask, sem_mask without pred_sem, label without pred_label" \
    "'$MK' --drop pred_mask,pred_sem,pred_label '$G' multi | '$EVAL'"
expect_error eval_no_pairs_at_all "^$E 0: nothing to evaluate \(needs" \
    "'$MK' --drop mask,pred_mask,sem_mask,pred_sem,label,pred_label '$G' multi | '$EVAL'"
expect_error eval_sem_classes_too_few "^$E 0: sem_mask has class 3, but --sem-classes is 3$" \
    "'$MK' '$G' multi | '$EVAL' --sem-classes 3"
expect_error eval_no_batches "^sp-eval: stdin: no batch to evaluate$" \
    "'$MK' --no-batches '$G' multi | '$EVAL'"
expect_error eval_no_images "^sp-eval: stdin: no image to evaluate" \
    "'$MK' --no-batches --empty-batch '$G' multi | '$EVAL'"
expect_error eval_truncated "^sp-eval: stdin: " \
    "head -c 3000 '$T/multi.sp' | '$EVAL'"
expect_error eval_garbage "^sp-eval: stdin: " "echo hello | '$EVAL'"
expect_error eval_empty_input "^sp-eval: stdin: " "'$EVAL' < /dev/null"
expect_error eval_missing_file "^sp-eval: $T/nope.sp: cannot open" "'$EVAL' '$T/nope.sp'"
expect_error eval_unknown_option "^sp-eval: --bogus: unknown option" "'$EVAL' --bogus < '$T/multi.sp'"
expect_error eval_negative_classes "^sp-eval: --sem-classes: -1 is negative" "'$EVAL' --sem-classes -1 < '$T/multi.sp'"

# nothing on stdout when it fails; --help works
"$MK" --bad shape --bad-batch 2 "$G" multi | "$EVAL" >"$T/out" 2>/dev/null
expect_eq eval_error_no_stdout 0 "$(wc -c <"$T/out")"
expect_ok eval_help "'$EVAL' --help | grep -q ari-fg-skip-empty"
