# tests/tools/roofline (pipelines/bench-infer.sh's bound on any speed-up):
# the multiply-adds it counts per image are checked against the layer lists
# written out here by hand (torchvision's ResNet-18, the CIFAR ResNet-32),
# and its peak must be a plausible positive figure.
source "$(dirname "$0")/lib.sh"
RL=$ROOT/$OBJ/tests/tools/roofline
TR=$BIN/sp-train
C=$ROOT/pipelines/configs

# ResNet-18 on 3x128x128: a config like horse.conf whose initialisation
# needs no images (constant background)
sed -e 's/^model.bkg_init = .*/model.bkg_init = constant/' "$C/horse.conf" >"$T/r18.conf"
expect_ok "resnet18 model" "$TR --init-only $T/r18.conf --out $T/r18.spm 2>/dev/null"
expect_ok "tetro model" "$TR --init-only $C/tetro.conf --out $T/r32.spm 2>/dev/null"
out=$(OMP_NUM_THREADS=1 timeout "$TIMEOUT" "$RL" --seconds 0.2 "$T/r18.spm" "$T/r32.spm" 2>&1)

# ResNet-18, 128x128: stem 7x7/2 3->64 at 64x64; layer1 4 convs 64->64 at
# 32x32; layers 2-4 each: a 3x3/2 conv C->2C, three 3x3 2C->2C, a 1x1/2
# downsample C->2C, at 16x16, 8x8, 4x4 (C*2C*9*S = 2C*2C*9*S/2 ...)
r18=$(awk 'BEGIN {
    all = 64*3*49*64*64; k3 = 0
    l1 = 4*64*64*9*32*32; all += l1; k3 += l1
    c = 64; s = 16
    for (i = 0; i < 3; i++) {
        o = 2*c; hw = s*s
        all += o*c*9*hw + o*c*hw; same = 3*o*o*9*hw; all += same; k3 += same
        c = o; s = s/2
    }
    printf "macs %d macs3x3 %d", all, k3 }')
case "$out" in
    *"r18.spm arch resnet18 $r18"*) ok "resnet18 128x128: $r18" ;;
    *) fail "resnet18 multiply-adds" "expected '$r18' in: $out" ;;
esac
# ResNet-32 (CIFAR), 35x35: stem 3x3 3->16; 5 blocks of two 16->16 at
# 35x35; then 32 channels at 18x18 and 64 at 9x9, the first conv of each
# stride 2 (not 3x3 stride 1), the shortcut option A (no conv)
r32=$(awk 'BEGIN {
    all = 16*3*9*35*35; k3 = all
    s1 = 10*16*16*9*35*35; all += s1; k3 += s1
    all += 32*16*9*18*18; s2 = 9*32*32*9*18*18; all += s2; k3 += s2
    all += 64*32*9*9*9; s3 = 9*64*64*9*9*9; all += s3; k3 += s3
    printf "macs %d macs3x3 %d", all, k3 }')
case "$out" in
    *"r32.spm arch resnet32 $r32"*) ok "resnet32 35x35: $r32" ;;
    *) fail "resnet32 multiply-adds" "expected '$r32' in: $out" ;;
esac
peak=$(echo "$out" | sed -n 's/^peak GFLOPS \([0-9.]*\) threads 1 isa avx[0-9]*$/\1/p')
if [ -n "$peak" ] && awk "BEGIN {exit !($peak > 1 && $peak < 10000)}"; then
    ok "peak: $peak GFLOP/s on one thread"
else
    fail "peak" "no plausible 'peak GFLOPS G threads 1 isa I' line in: $out"
fi
expect_error "a missing model" "^roofline: " "$RL --seconds 0.1 $T/none.spm"
