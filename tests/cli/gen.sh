# sp-gen: the DTI-Sprites layout, PNG kinds and sizes, determinism in the
# seed, identical output for any thread count, atomic output (no temporary
# left behind, --force only replaces a previous data set, a killed run leaves
# nothing), one-line errors for bad options.  The generated content itself is
# checked by tests/unit/test_gen.c.
source "$(dirname "$0")/lib.sh"
G=$BIN/sp-gen

# png_info FILE: "WIDTH HEIGHT COLOURTYPE" from the IHDR chunk (2 RGB, 0 grey).
png_info() {
    od -An -tu1 -j16 -N10 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8, $10}'
}
nfiles() { find "$1" -type f | wc -l; }

for kind in tetrominoes multi-dsprites; do
    case $kind in tetrominoes) size=35 ;; *) size=64 ;; esac
    d=$T/$kind
    expect_ok "$kind: generates 20 images" "$G $kind --count 20 --seed 5 --out $d --threads 2 2>$T/$kind.err"
    expect_eq "$kind: 20 images, masks, sem_masks" "20 20 20" \
        "$(nfiles $d/images) $(nfiles $d/masks) $(nfiles $d/sem_masks)"
    expect_eq "$kind: only the three folders" "images masks sem_masks" "$(ls $d | tr '\n' ' ' | sed 's/ $//')"
    expect_ok "$kind: files named 0..19.png" "test -f $d/images/0.png -a -f $d/images/19.png -a -f $d/masks/19.png -a -f $d/sem_masks/19.png -a ! -e $d/images/20.png"
    expect_eq "$kind: image is ${size}x$size RGB" "$size $size 2" "$(png_info $d/images/7.png)"
    expect_eq "$kind: mask is ${size}x$size grey" "$size $size 0" "$(png_info $d/masks/7.png)"
    expect_eq "$kind: sem mask is ${size}x$size grey" "$size $size 0" "$(png_info $d/sem_masks/7.png)"
    expect_ok "$kind: one summary line" "grep -Eq '^sp-gen: 20 $kind images in [0-9.]+ s \\([0-9]+/s\\) -> $d\$' $T/$kind.err && test \$(wc -l <$T/$kind.err) -eq 1"
    expect_absent "$kind: no temporary left" "$d".tmp.*

    expect_ok "$kind: --threads 1 gives the same files" "$G $kind --count 20 --seed 5 --out $T/$kind-t1 --threads 1 --quiet && diff -r $d $T/$kind-t1"
    expect_ok "$kind: same seed, same files" "$G $kind --count 20 --seed 5 --out $T/$kind-again --quiet && diff -r $d $T/$kind-again"
    expect_ok "$kind: first 10 of a longer set are the same" "$G $kind --count 30 --seed 5 --out $T/$kind-30 --quiet && for i in 0 3 9; do cmp $d/images/\$i.png $T/$kind-30/images/\$i.png || exit 1; done"
    $G $kind --count 20 --seed 6 --out $T/$kind-s6 --quiet
    differ=0
    for i in $(seq 0 19); do cmp -s $d/images/$i.png $T/$kind-s6/images/$i.png || differ=$((differ + 1)); done
    expect_eq "$kind: another seed, other images" 20 $differ
    expect_ok "$kind: --quiet prints nothing" "$G $kind --count 3 --out $T/$kind-q --quiet 2>$T/q.err && test ! -s $T/q.err"
done

# Output folder rules.
mkdir -p $T/empty
expect_ok "an empty --out folder is filled" "$G tetrominoes --count 3 --out $T/empty --quiet && test -f $T/empty/images/2.png"
expect_error "a non-empty --out is refused" "^sp-gen: $T/tetrominoes: exists and is not empty" \
    "$G tetrominoes --count 3 --out $T/tetrominoes"
expect_eq "the refused set is untouched" 20 "$(nfiles $T/tetrominoes/images)"
expect_ok "--force replaces a previous set" "$G tetrominoes --count 4 --seed 9 --out $T/tetrominoes --force --quiet"
expect_eq "the replaced set has the new images only" "4 4 4" \
    "$(nfiles $T/tetrominoes/images) $(nfiles $T/tetrominoes/masks) $(nfiles $T/tetrominoes/sem_masks)"
expect_absent "--force leaves no temporary" "$T"/tetrominoes.tmp.* "$T"/tetrominoes.old.*
mkdir -p $T/home && echo precious >$T/home/notes.txt
expect_error "--force refuses a folder that is not a data set" "^sp-gen: $T/home: --force refused: not a data set folder \\(has 'notes.txt'\\)" \
    "$G tetrominoes --count 3 --out $T/home --force"
expect_ok "the refused folder is untouched" "test \"\$(cat $T/home/notes.txt)\" = precious"
echo x >$T/afile
expect_error "--out naming a file is refused" "^sp-gen: $T/afile: exists and is not a directory" \
    "$G tetrominoes --count 3 --out $T/afile --force"
expect_ok "--out with missing parents and a trailing slash" "$G multi-dsprites --count 2 --out $T/a/b/c/ --quiet && test -f $T/a/b/c/images/1.png"
expect_absent "no temporary beside it" "$T"/a/b/c.tmp.* "$T"/a/b/c/.tmp.*

# A killed run leaves neither the set nor its temporary.
$G tetrominoes --count 5000000 --out $T/killed --quiet 2>/dev/null &
pid=$!
for _ in $(seq 50); do compgen -G "$T/killed.tmp.*/images/*.png" >/dev/null && break; sleep 0.1; done
kill -TERM $pid
wait $pid 2>/dev/null
expect_absent "SIGTERM removes the temporary" "$T"/killed "$T"/killed.tmp.*

# Progress lines on request (at most about one a second).
expect_ok "--progress prints progress lines" "$G tetrominoes --count 12000 --out $T/prog --progress --threads 2 2>$T/prog.err; grep -Eq '^sp-gen: [0-9]+/12000 images, [0-9]+/s, ETA [0-9]+ s' $T/prog.err"

# Bad options: one line, non-zero exit, nothing written.
expect_error "unknown kind" "^sp-gen: clevr6: unknown kind" "$G clevr6 --count 3 --out $T/bad1"
expect_error "missing kind" "^sp-gen: missing kind" "$G --count 3 --out $T/bad1"
expect_error "two kinds" "^sp-gen: too many arguments" "$G tetrominoes multi-dsprites --count 3 --out $T/bad1"
expect_error "--count 0" "^sp-gen: --count: 0 is not in 1\\.\\." "$G tetrominoes --count 0 --out $T/bad1"
expect_error "--count -4" "^sp-gen: --count: -4 is not in 1\\.\\." "$G tetrominoes --count -4 --out $T/bad1"
expect_error "--count missing" "^sp-gen: --count: missing" "$G tetrominoes --out $T/bad1"
expect_error "--count not a number" "^sp-gen: --count: 'ten' is not an integer" "$G tetrominoes --count ten --out $T/bad1"
expect_error "--out missing" "^sp-gen: --out: missing" "$G tetrominoes --count 3"
expect_error "--seed negative" "^sp-gen: --seed: -1 is negative" "$G tetrominoes --count 3 --seed -1 --out $T/bad1"
expect_error "--threads negative" "^sp-gen: --threads: -2 is not in" "$G tetrominoes --count 3 --threads -2 --out $T/bad1"
expect_error "unknown option" "^sp-gen: --size: unknown option" "$G tetrominoes --count 3 --size 9 --out $T/bad1"
expect_absent "bad options write nothing" "$T"/bad1 "$T"/bad1.tmp.*
expect_ok "--help" "$G --help | grep -q 'sem_masks'"
