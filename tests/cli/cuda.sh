# The CUDA backend as far as it shows without a GPU: sp-op --list says which
# ops have CUDA code, --device auto falls back and says so, --device cuda
# refuses, make test-cuda skips with a clear line, and its harness works
# (checked with an sp-op whose "cuda" is the CPU).  On a GPU machine the
# same checks accept the GPU answers; make test-cuda compares the kernels.
source "$(dirname "$0")/lib.sh"
G=$ROOT/tests/golden/ops

nops=$("$BIN/sp-op" --list | grep -c '^[a-z0-9_]*: ')
ncuda=$("$BIN/sp-op" --list | grep -c '^  cuda: ')
expect_eq "sp-op --list: one cuda line per op" "$nops" "$ncuda"
if "$BIN/sp-op" --list | grep -q '^  cuda: none (this build has no CUDA)'; then
    expect_eq "CPU-only build: no op has CUDA code" "$nops" \
        "$("$BIN/sp-op" --list | grep -c '^  cuda: none (this build has no CUDA)')"
else
    expect_ok "CUDA build: relu has CUDA forward and backward" \
        "$BIN/sp-op --list | grep -A6 '^relu:' | grep -q '^  cuda: forward, backward$'"
    expect_ok "CUDA build: maxpool2d has no CUDA code" \
        "$BIN/sp-op --list | grep -A8 '^maxpool2d:' | grep -q '^  cuda: none$'"
fi

if "$BIN/sp-op" relu --device cuda <"$G/nn_relu.sp" >/dev/null 2>"$T/probe"; then
    expect_ok "--device auto picks the GPU" \
        "$BIN/sp-op relu --device auto <$G/nn_relu.sp 2>&1 >/dev/null | grep -q 'device: cuda'"
    expect_ok "--device cuda on an op without CUDA code runs it on the CPU and says so" \
        "$BIN/sp-op maxpool2d --device cuda <$G/nn_maxpool2d.sp 2>&1 >/dev/null | grep -q 'no CUDA implementation of its forward; running on the CPU'"
else
    expect_eq "--device cuda without a GPU: one line" "1" "$(wc -l <"$T/probe")"
    expect_ok "--device cuda without a GPU: says why" "grep -q '^sp-op: --device cuda: no usable GPU: ' $T/probe"
    expect_ok "--device auto without a GPU falls back and says so" \
        "$BIN/sp-op relu --device auto <$G/nn_relu.sp 2>&1 >/dev/null | grep -q '^sp-op: device: cpu (no usable GPU: '"
    expect_eq "--device auto without a GPU: the CPU's result" \
        "$("$BIN/sp-op" relu --device cpu <"$G/nn_relu.sp" | "$BIN/sp-info" --dump y)" \
        "$("$BIN/sp-op" relu --device auto <"$G/nn_relu.sp" 2>/dev/null | "$BIN/sp-info" --dump y)"
    expect_ok "make test-cuda without a GPU: skipped line, success" \
        "OBJ=$OBJ bash $ROOT/tests/cuda/run.sh | grep -q '^skipped: no usable GPU ('"
fi

# The harness itself, with an sp-op that runs "cuda" on the CPU: every
# comparison must pass with error 0 (in a CPU-only build nothing is compared).
mkdir -p "$T/fake"
cat >"$T/fake/sp-op" <<EOS
#!/bin/bash
args=()
for a in "\$@"; do [ "\$a" = cuda ] && a=cpu; args+=("\$a"); done
exec "$BIN/sp-op" "\${args[@]}"
EOS
chmod +x "$T/fake/sp-op"
OBJ=$OBJ SP_BIN=$T/fake SP_CUDA_GOLDEN="nn_relu compose_mse geom_sample" \
    bash "$ROOT/tests/cuda/run.sh" >"$T/harness" 2>&1
last=$(tail -n 1 "$T/harness")
if [ "$ncuda" = "$("$BIN/sp-op" --list | grep -c '^  cuda: none (this build')" ]; then
    expect_eq "test-cuda harness (CPU-only build) compares nothing" "0 passed, 0 failed" "$last"
else
    expect_ok "test-cuda harness compares relu, mse, grid_sample forward and backward" \
        "echo '$last' | grep -Eq '^[1-9][0-9]* passed, 0 failed$' && grep -q '^ok grid_sample backward' $T/harness && grep -q '^ok mse forward' $T/harness"
fi

# ... and one whose "cuda" add fails: every add case is a FAIL line, the
# files run in parallel still print in order, and the status is non-zero.
if [ "$ncuda" != "$("$BIN/sp-op" --list | grep -c '^  cuda: none (this build')" ]; then
    cat >"$T/fake/sp-op-broken" <<EOS
#!/bin/bash
if [ "\$1" = add ] && [[ " \$* " == *" cuda "* ]]; then echo "sp-op: broken" >&2; exit 1; fi
exec "$T/fake/sp-op" "\$@"
EOS
    mkdir -p "$T/broken"
    mv "$T/fake/sp-op-broken" "$T/broken/sp-op"
    chmod +x "$T/broken/sp-op"
    OBJ=$OBJ SP_BIN=$T/broken SP_CUDA_JOBS=2 SP_CUDA_GOLDEN="nn_add nn_relu" \
        bash "$ROOT/tests/cuda/run.sh" >"$T/broken.out" 2>&1
    expect_eq "test-cuda harness: a failing op fails the run" "1" "$?"
    expect_eq "test-cuda harness: add's 3 cases, forward and backward, counted as failed" "6 failed" \
        "$(tail -n 1 "$T/broken.out" | sed 's/.*, //')"
    expect_eq "test-cuda harness: output in file order (add's lines before relu's)" "add relu" \
        "$(grep -oE '^(ok|FAIL) [a-z]+' "$T/broken.out" | awk '{print $2}' | uniq | tr '\n' ' ' | sed 's/ $//')"
fi

# ... and the knobs tests/cuda/device.sh turns on the GPU machine: a wrapper
# every CUDA run goes through (compute-sanitizer there), whose failure fails
# the case; the repeat check, which must catch a second run giving other
# bytes; the first case of each op only.
if [ "$ncuda" != "$("$BIN/sp-op" --list | grep -c '^  cuda: none (this build')" ]; then
    H="OBJ=$OBJ SP_BIN=$T/fake SP_CUDA_GOLDEN=nn_relu"
    expect_ok "test-cuda harness: a wrapper that passes changes nothing" \
        "env $H SP_CUDA_WRAP=env bash $ROOT/tests/cuda/run.sh | tail -n 1 | grep -Eq '^[1-9][0-9]* passed, 0 failed$'"
    expect_ok "test-cuda harness: a wrapper that fails fails every case" \
        "! env $H SP_CUDA_WRAP=false bash $ROOT/tests/cuda/run.sh >$T/wrap.out && ! grep -q '^ok ' $T/wrap.out"
    mkdir -p "$T/flaky"
    cat >"$T/flaky/sp-op" <<EOS
#!/bin/bash
# every second CUDA run answers with the whole golden file's output
if [[ " \$* " == *" cuda "* ]] && [ -e "$T/flaky/odd" ]; then
    rm -f "$T/flaky/odd"
    exec "$T/fake/sp-op" "\$@" <"$ROOT/tests/golden/ops/nn_relu.sp"
fi
[[ " \$* " == *" cuda "* ]] && touch "$T/flaky/odd"
exec "$T/fake/sp-op" "\$@"
EOS
    chmod +x "$T/flaky/sp-op"
    expect_ok "test-cuda harness: SP_CUDA_REPEAT catches a second run with other bytes" \
        "! OBJ=$OBJ SP_BIN=$T/flaky SP_CUDA_GOLDEN=nn_relu SP_CUDA_REPEAT=1 bash $ROOT/tests/cuda/run.sh >$T/rep.out && grep -q 'a second run gave other bytes' $T/rep.out"
    expect_eq "test-cuda harness: SP_CUDA_FIRST checks one case of each op" "ok relu forward nn_relu.sp case 0000" \
        "$(env $H SP_CUDA_FIRST=1 bash "$ROOT/tests/cuda/run.sh" | grep forward | cut -d' ' -f1-6)"
fi
