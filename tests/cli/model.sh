# sp-train --init-only: every config of pipelines/configs builds and writes a
# model (the ones whose init reads images get a stream of the right size on
# stdin), deterministic in the seed; config errors name file and line; model
# files are written atomically; bad input is a one-line error.  Model
# contents (names, shapes, values, validation) are checked by
# tests/unit/test_model.c.
source "$(dirname "$0")/lib.sh"
TR=$BIN/sp-train
C=$ROOT/pipelines/configs

expect_ok "generate images" "$BIN/sp-gen tetrominoes --count 12 --seed 3 --out $T/tet 2>/dev/null"
# images of size HxW with C channels: stream SIZE CHANNELS
stream() { echo "$BIN/sp-load $T/tet --split-rule all --size $1 --channels $2 --batch 5"; }

for conf in "$C"/*.conf; do
    name=$(basename "$conf" .conf)
    case $name in
        gtsrb8) src="$(stream 28x28 3)" ;;
        svhn) src="$(stream 32x32 3)" ;;
        fashion-mnist) src="$(stream 28x28 1)" ;;
        clevr6 | horse | instagram) src="$(stream 128x128 3)" ;;
        *) src="true" ;;
    esac
    expect_ok "$name: init-only writes a model" "$src | $TR --init-only $conf --out $T/$name.spm 2>$T/$name.err"
    expect_ok "$name: one summary line" "grep -Eq '^sp-train: .*$name.spm: [0-9]+ tensors, [0-9]+ parameters, seed [0-9]+\$' $T/$name.err && test \$(wc -l <$T/$name.err) -eq 1"
done

expect_ok "same seed, same file" "$TR --init-only $C/tetro.conf --out $T/a.spm --seed 5 2>/dev/null && $TR --init-only $C/tetro.conf --out $T/b.spm --seed 5 2>/dev/null && cmp -s $T/a.spm $T/b.spm"
expect_ok "another seed, another file" "$TR --init-only $C/tetro.conf --out $T/c.spm --seed 6 2>/dev/null && ! cmp -s $T/a.spm $T/c.spm"
expect_ok "default seed is training.seed" "$TR --init-only $C/tetro.conf --out $T/d.spm --seed 65176 2>/dev/null && cmp -s $T/d.spm $T/tetro.spm"

# configuration errors: file and line
printf 'dataset.name = tetrominoes\nmodel.n_sprite = 19\n' >$T/bad1.conf
expect_error "unknown key" "^sp-train: $T/bad1.conf:2: model.n_sprite: unknown key\$" "$TR --init-only $T/bad1.conf --out $T/x.spm"
printf 'model.n_sprites = 3\n# again\nmodel.n_sprites = 4\n' >$T/bad2.conf
expect_error "duplicate key" "^sp-train: $T/bad2.conf:3: model.n_sprites: duplicate key\$" "$TR --init-only $T/bad2.conf --out $T/x.spm"
printf 'model.n_objects = two\n' >$T/bad3.conf
expect_error "bad value" "^sp-train: $T/bad3.conf:1: model.n_objects: 'two' is not an integer\$" "$TR --init-only $T/bad3.conf --out $T/x.spm"
printf 'model.n_sprites 3\n' >$T/bad4.conf
expect_error "no equals sign" "bad4.conf:1: expected 'key = value'" "$TR --init-only $T/bad4.conf --out $T/x.spm"
sed 's/^model.transformation_sequence = identity$/model.transformation_sequence = identity_warp/' $C/tetro.conf >$T/bad5.conf
expect_error "unknown transformation" "model.transformation_sequence: unknown transformation sequence 'identity_warp'" "$TR --init-only $T/bad5.conf --out $T/x.spm"
sed 's/^model.curriculum_learning = 100, 350$/model.curriculum_learning = 100/' $C/gtsrb8.conf >$T/bad6.conf
expect_error "curriculum length" "model.curriculum_learning: 1 milestones for the 3 transformations" "$TR --init-only $T/bad6.conf --out $T/x.spm"
sed 's/^dataset.name = .*/dataset.name = imagenet/' $C/tetro.conf >$T/bad7.conf
expect_error "unknown dataset" "dataset.name: unknown dataset 'imagenet'" "$TR --init-only $T/bad7.conf --out $T/x.spm"
expect_error "missing config" "nope.conf: No such file" "$TR --init-only $T/nope.conf --out $T/x.spm"
expect_absent "no model left by config errors" "$T/x.spm" "$T"/.x.spm*

# options
expect_error "CONFIG without --init-only" "^sp-train: unexpected argument" "$TR $C/tetro.conf --out $T/x.spm </dev/null"
expect_error "unknown option" "^sp-train: --bogus" "$TR --init-only $C/tetro.conf --out $T/x.spm --bogus 1"
expect_error "no --out" "^sp-train: --out: required" "$TR --init-only $C/tetro.conf"
expect_ok "--help" "$TR --help | grep -q init-only"

# data for 'mean' initialisations
expect_error "mean init without images" "^sp-train: stdin: empty input" "$TR --init-only $C/gtsrb8.conf --out $T/x.spm </dev/null"
expect_error "mean init, images of another size" "images \\[3,35,35\\], the config's dataset has \\[3,28,28\\]" "$BIN/sp-load $T/tet --split-rule all | $TR --init-only $C/gtsrb8.conf --out $T/x.spm"
expect_error "mean init, truncated stream" "stdin" "$(stream 28x28 3) | head -c 3000 | $TR --init-only $C/gtsrb8.conf --out $T/x.spm"
expect_absent "no model left by data errors" "$T/x.spm"

# writing: atomic, unwritable place
expect_error "unwritable output" "^sp-train: $T/nodir/m.spm" "$TR --init-only $C/tetro.conf --out $T/nodir/m.spm"
expect_absent "nothing left behind" "$T/nodir"
