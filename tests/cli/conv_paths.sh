# The convolution has two CPU paths: im2col + OpenBLAS sgemm (every shape) and
# a direct AVX2 / AVX-512 kernel for 3x3 stride-1 (the default where it applies, chosen
# for speed: see README).  test_ops covers the default; here the whole op
# suite runs again with SP_CONV_IM2COL=1 so that the GEMM path stays proven too.
source "$(dirname "$0")/lib.sh"

# op_suite VAR=VALUE: the whole op suite (goldens and finite differences) with that setting
op_suite() {
    local out rc fails oks
    out=$(env "$1" timeout 600 "$ROOT/$OBJ/tests/test_ops" 2>&1)
    rc=$?
    fails=$(echo "$out" | grep -c '^FAIL ')
    oks=$(echo "$out" | grep -c '^ok ')
    if [ $rc -eq 0 ] && [ "$fails" -eq 0 ] && [ "$oks" -gt 100 ]; then
        ok "all op goldens and finite differences with $1 ($oks checks)"
    else
        fail "op suite with $1" "rc $rc, $fails failed: $(echo "$out" | grep '^FAIL ' | head -3)"
    fi
}

op_suite SP_CONV_IM2COL=1
# The forward of 3x3 layers with 16+ channels goes through Winograd's
# F(2x2, 3x3) (sp_conv_winograd.c; test_winograd checks it against exact
# sums); SP_CONV_WINOGRAD=0 keeps the direct tiles, which must pass alone.
op_suite SP_CONV_WINOGRAD=0

# The AVX-512 tiles (where the CPU has AVX-512F; by default only where a
# timing probe finds them faster, SP_CONV_AVX512=1 forces them) must give
# the AVX2 tiles' numbers bit for bit: each output is the same chain of FMAs
# in the same order, only twice as many at once.  The op suite runs with
# each, and a whole encoder (tetro: 35x35, 18x18 and 9x9 maps, i.e. both
# tile widths) must write the same bytes both ways.
op_suite SP_CONV_AVX512=0
op_suite SP_CONV_AVX512=1
expect_ok "tetro images and model" "$BIN/sp-gen tetrominoes --count 12 --seed 3 --out $T/tetro --quiet && $BIN/sp-load $T/tetro --split-rule all --batch 6 >$T/in.sp 2>/dev/null && $BIN/sp-train --init-only $ROOT/pipelines/configs/tetro.conf --out $T/m.spm <$T/in.sp 2>/dev/null"
# Where the CPU has AVX-512VL, maps whose positions round up badly (9x9)
# go to a 16-position tile for two blocks of output channels at once; with
# SP_CONV_TILE16X2=0 the single-block tile: same chains, same bytes.
op_suite SP_CONV_TILE16X2=0
expect_ok "sp-predict: the same bytes with and without the pair tile" "SP_CONV_TILE16X2=0 $BIN/sp-predict --model $T/m.spm --features <$T/in.sp >$T/t1.sp && $BIN/sp-predict --model $T/m.spm --features <$T/in.sp >$T/t2.sp && cmp $T/t1.sp $T/t2.sp"
expect_ok "sp-predict: the same bytes with the AVX-512 and the AVX2 tiles" "SP_CONV_AVX512=0 $BIN/sp-predict --model $T/m.spm --features <$T/in.sp >$T/avx2.sp && SP_CONV_AVX512=1 $BIN/sp-predict --model $T/m.spm --features <$T/in.sp >$T/avx512.sp && cmp $T/avx2.sp $T/avx512.sp"
# The Winograd GEMM's 16-lane tiles (two blocks of 4 output channels, or
# one of 8 over 16 tiles, at once) must give the 8-lane tiles' bits on every
# shape of test_winograd (odd block counts, each GEMM tile width, chunks,
# groups, the batched forward): its digest of all forward outputs, both ways.
digest_with() { env "$1" timeout 600 "$ROOT/$OBJ/tests/test_winograd" 2>&1 | sed -n 's/^# forward outputs. FNV-1a \([0-9a-f]*\).*/\1/p'; }
d0=$(digest_with SP_CONV_AVX512=0)
d1=$(digest_with SP_CONV_AVX512=1)
if ! grep -qw avx512f /proc/cpuinfo || ! grep -qw avx512vl /proc/cpuinfo; then
    ok "winograd: 16-lane GEMM tiles # skipped: this CPU has no AVX-512F and VL"
elif [ -n "$d0" ] && [ "$d0" = "$d1" ]; then
    ok "winograd: the 16-lane GEMM tiles give the 8-lane tiles' bits on every test_winograd shape ($d0)"
else
    fail "winograd: 16-lane against 8-lane GEMM tiles" "digests '$d0' and '$d1'"
fi
# make bench's per-layer table (tests/tools/convbench): 11 layer rows, each
# with Winograd's outputs within 1e-5 (F(2x2)) and 5e-5 (F(4x4), measured
# up to 8e-6) of the layer's largest output from the direct tiles
expect_ok "convbench: 11 layers, Winograd F(2x2) within 1e-5 and F(4x4) within 5e-5 of the direct tiles'" "$ROOT/$OBJ/tests/tools/convbench | awk -F'|' '/x \|/ && \$10+0 < 1e-5 && \$11+0 < 5e-5 && \$10 ~ /e-/ && \$11 ~ /e-/ {n++} END {exit n != 11}'"
