# sp-load: layouts, splits (the reference's indices), shuffling, resizing,
# channels, IDX files, and one-line errors for bad folders and options.
source "$(dirname "$0")/lib.sh"
L=$BIN/sp-load
INFO=$BIN/sp-info

# --- a tiny DTI-Sprites folder and class folders made from committed PNGs
G=$ROOT/tests/golden/png
mkdir -p "$T/dti/images" "$T/dti/masks" "$T/cls/b" "$T/cls/a" "$T/plain"
for i in 0 1 2 10; do
    cp "$G/bil_17x23_10x31_in.png" "$T/dti/images/$i.png"
    cp "$G/near_17x23_10x31_in.png" "$T/dti/masks/$i.png"
done
cp "$G/bil_32x32_28x28_in.png" "$T/cls/a/x.png"
cp "$G/bil_32x32_28x28_out.png" "$T/cls/b/y.png"
cp "$G/bil_32x32_28x28_in.png" "$T/cls/b/z.png"
cp "$G/rgb.png" "$G/grey8.png" "$T/plain/"

expect_ok "DTI layout: image, index, mask" \
    "$L $T/dti --batch 3 | $INFO | grep -q 'mask         u8 \[3,17,23\]'"
expect_eq "DTI layout: index = position" "0 1 2 3" "$($L $T/dti --batch 8 | $INFO --dump index)"
expect_eq "class folders: sorted class names give labels" "0 1 1" "$($L $T/cls --size 28x28 | $INFO --dump label)"
expect_ok "class folders: class names in meta" "$L $T/cls --size 28 | $INFO | grep -q 'class_names  \[\"a\", \"b\"\]'"
expect_error "plain folder of mixed sizes: error names the file" "^sp-load: .*rgb.png: image is 9x7, the first was 6x5 \(give --size" \
    "$L $T/plain"
expect_ok "plain folder with --size, --channels 1" "$L $T/plain --size 4x4 --channels 1 | $INFO | grep -q 'image        f32 \[2,1,4,4\]'"
expect_eq "batches of 3 over 4 items" "3 1" "$($L $T/dti --batch 3 | $INFO | awk '$1 == "image" {print $3}' | sed 's/\[\([0-9]*\),.*/\1/' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "--drop-last" "1" "$($L $T/dti --batch 3 --drop-last | $INFO | grep -c 'image ')"
expect_eq "--limit" "0 1" "$($L $T/dti --limit 2 | $INFO --dump index)"

# --- shuffling: reproducible from --seed, a new order each epoch
a=$($L $T/dti --shuffle --seed 5 --epochs 3 --batch 4 | $INFO --dump index)
b=$($L $T/dti --shuffle --seed 5 --epochs 3 --batch 4 | $INFO --dump index)
c=$($L $T/dti --shuffle --seed 6 --epochs 3 --batch 4 | $INFO --dump index)
expect_eq "shuffle reproducible from --seed" "$a" "$b"
[ "$a" != "$c" ] && ok "another seed, another order" || fail "another seed, another order" "same"
[ "$(echo "$a" | sort -u | wc -l)" -gt 1 ] && ok "each epoch reshuffled" || fail "each epoch reshuffled" "$a"
expect_eq "every epoch holds every item once" "0 1 2 3" "$(echo "$a" | sed -n 2p | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')"

# --- resizing matches PIL (golden PNGs): image bilinear, mask nearest
expect_ok "--size resizes images and masks" "$L $T/dti --size 10x31 | $INFO | grep -q 'mask         u8 \[4,10,31\]'"
# ids travel as u8 while they fit; a 16-bit mask with ids above 255 stays
# i32, every id as the PNG holds it (golden values from the PNG's own bytes)
mkdir -p "$T/d16/images" "$T/d16/masks"
cp "$G/grey16.png" "$T/d16/images/0.png"
cp "$G/grey16.png" "$T/d16/masks/0.png"
expect_ok "ids above 255: mask stays i32" "$L $T/d16 | $INFO | grep -q 'mask         i32 \[1,4,3\]'"
expect_eq "ids above 255: every id kept" "$(od -An -tu2 -v "$G/grey16.u16" | xargs)" "$($L $T/d16 | $INFO --dump mask | xargs)"

# --- splits on the real data: the reference's indices
if [ -d "$DATA/gtsrb8" ]; then
    want=$(awk '$1==46 && $2==10650 {for (i=4;i<=NF;i++) printf "%s%s", $i, (i<NF?" ":"")}' "$ROOT/tests/golden/numpy_choice.txt")
    expect_eq "gtsrb val = numpy seed 46 choice of 100" "$want" "$($L $DATA/gtsrb8 --split val --batch 100 | $INFO --dump index)"
    expect_eq "gtsrb train = all 10650, 8 classes" "10650" "$($L $DATA/gtsrb8 --size 28x28 --batch 1000 | $INFO --summary | awk '/end:/ {print $4}')"
fi
if [ -d "$DATA/weizmann-horse" ]; then
    expect_eq "horse val = first 30" "$(seq -s ' ' 0 29)" "$($L $DATA/weizmann-horse --split val --split-rule horse | $INFO --dump index)"
fi
# multi-object: eval = first 320, val = numpy seed 42 (a folder of 330 links)
mkdir -p "$T/mo/images"
for i in $(seq 0 329); do ln -s "$G/grey8.png" "$T/mo/images/$i.png"; done
expect_eq "multi-object eval = first 320" "$(seq -s ' ' 0 319)" "$($L $T/mo --split eval --batch 320 | $INFO --dump index)"
want=$(awk '$1==42 && $2==320 {for (i=4;i<=NF;i++) printf "%s%s", $i, (i<NF?" ":"")}' "$ROOT/tests/golden/numpy_choice.txt")
mkdir -p "$T/mo320/images"
for i in $(seq 0 319); do ln -s "$G/grey8.png" "$T/mo320/images/$i.png"; done
expect_eq "multi-object val = numpy seed 42 choice" "$want" "$($L $T/mo320 --split val --batch 100 | $INFO --dump index)"

# --- IDX files, plain and gzip'd
printf '\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x40\x80\xff\x01\x02\x03\x04\x05\x06\x07\x08' >"$T/img.idx"
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x07\x00\x02' >"$T/lab.idx"
gzip -c "$T/img.idx" >"$T/img.idx.gz"
expect_eq "IDX labels" "7 0 2" "$($L --idx $T/img.idx.gz $T/lab.idx --channels 1 | $INFO --dump label)"
expect_eq "IDX pixels / 255" "0 0.250980407 0.501960814 1 0.00392156886 0.00784313772 0.0117647061 0.0156862754 0.0196078438 0.0235294122 0.0274509806 0.0313725509" \
    "$($L --idx $T/img.idx --channels 1 | $INFO --dump image)"
expect_ok "IDX grey to 3 channels" "$L --idx $T/img.idx | $INFO | grep -q 'image        f32 \[3,3,2,2\]'"
head -c 20 "$T/img.idx" >"$T/short.idx"
expect_error "IDX size mismatch" "^sp-load: .*short.idx: IDX header .* does not match the file size" "$L --idx $T/short.idx"
expect_error "IDX wrong magic" "^sp-load: .*lab.idx: not an IDX file of unsigned-byte images" "$L --idx $T/lab.idx"
FM=/usr/share/datasets/fashion-mnist
if [ -f "$FM/t10k-images-idx3-ubyte.gz" ]; then
    expect_ok "Fashion-MNIST t10k: 10000 images 28x28, 10 classes" \
        "$L --idx $FM/t10k-images-idx3-ubyte.gz $FM/t10k-labels-idx1-ubyte.gz --channels 1 --batch 1000 | $INFO --summary | grep -q 'end: 10 batches, 10000 images'"
fi

# --- bad input: one line, non-zero exit
cp -r "$T/dti" "$T/nomask" && rm "$T/nomask/masks/2.png"
expect_error "missing mask names the file" "^sp-load: .*nomask/masks/2.png: missing" "$L $T/nomask"
# the masks folder is listed once (not a stat per image): a directory of
# the mask's name is no mask, a link to one is
mkdir "$T/nomask/masks/2.png"
expect_error "a directory named as the mask is no mask" "^sp-load: .*nomask/masks/2.png: missing \(images/2.png has no mask\)" "$L $T/nomask"
cp -r "$T/dti" "$T/linkmask" && rm "$T/linkmask/masks/1.png" && ln -s "$T/dti/masks/1.png" "$T/linkmask/masks/1.png"
expect_eq "a mask that is a link to one" "$($L $T/dti | $INFO --dump mask | md5sum)" "$($L $T/linkmask | $INFO --dump mask | md5sum)"
cp -r "$T/dti" "$T/nosem" && mkdir "$T/nosem/sem_masks" && cp "$T/dti/masks/"*.png "$T/nosem/sem_masks/" && rm "$T/nosem/sem_masks/10.png"
expect_error "missing semantic mask names the file" "^sp-load: .*nosem/sem_masks/10.png: missing \(images/10.png has no semantic mask\)" "$L $T/nosem"
cp -r "$T/dti" "$T/corrupt" && head -c 60 "$G/rgb.png" >"$T/corrupt/images/1.png"
expect_error "corrupt PNG names the file" "^sp-load: .*corrupt/images/1.png: corrupt PNG" "$L $T/corrupt"
cp -r "$T/dti" "$T/notpng" && echo hello >"$T/notpng/images/2.png"
expect_error "non-PNG file names the file" "^sp-load: .*notpng/images/2.png: not a PNG file" "$L $T/notpng"
cp -r "$T/dti" "$T/badmask" && cp "$G/grey8.png" "$T/badmask/masks/0.png"
expect_error "mask of another size" "^sp-load: .*badmask/masks/0.png: 6x5, its image is 17x23" "$L $T/badmask"
mkdir -p "$T/jpg" && touch "$T/jpg/a.jpg"
expect_error "JPEG folder refused" "^sp-load: .*jpg: 1 images are not PNG" "$L $T/jpg"
mkdir -p "$T/empty"
expect_error "empty folder" "^sp-load: .*empty: no images/ folder" "$L $T/empty"
expect_error "missing folder" "^sp-load: .*nothere: not a directory" "$L $T/nothere"
expect_error "unknown option" "^sp-load: --bogus: unknown option" "$L --bogus $T/dti"
expect_error "bad --batch" "^sp-load: --batch: must be at least 1" "$L --batch 0 $T/dti"
expect_error "non-numeric --batch" "^sp-load: --batch: 'x' is not an integer" "$L --batch x $T/dti"
expect_error "bad --size" "^sp-load: --size: '3y4' is not HxW" "$L --size 3y4 $T/dti"
expect_error "bad --split" "^sp-load: --split: 'test' is not one of" "$L --split test $T/dti"
expect_error "bad --split-rule" "^sp-load: --split-rule: 'x' is not one of" "$L --split-rule x $T/dti"
expect_error "bad --channels" "^sp-load: --channels: must be 1 or 3" "$L --channels 2 $T/dti"
expect_error "missing value" "^sp-load: --batch: missing value" "$L $T/dti --batch"
expect_error "no folder" "^sp-load: expected one dataset folder" "$L"
expect_ok "--help" "$L --help | grep -q '^usage: sp-load'"
cp -r "$T/dti" "$T/colourmask" && cp "$G/rgb.png" "$T/colourmask/masks/0.png"
expect_error "colour mask refused" "^sp-load: .*colourmask/masks/0.png: label image is in colour" "$L $T/colourmask"
