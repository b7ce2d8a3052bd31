# The convolution has two CPU paths: im2col + OpenBLAS sgemm (every shape) and
# a direct AVX2 kernel for 3x3 stride-1 (the default where it applies, chosen
# for speed: see README).  test_ops covers the default; here the whole op
# suite runs again with SP_CONV_IM2COL=1 so that the GEMM path stays proven too.
source "$(dirname "$0")/lib.sh"
out=$(SP_CONV_IM2COL=1 timeout 600 "$ROOT/$OBJ/tests/test_ops" 2>&1)
rc=$?
fails=$(echo "$out" | grep -c '^FAIL ')
oks=$(echo "$out" | grep -c '^ok ')
if [ $rc -eq 0 ] && [ "$fails" -eq 0 ] && [ "$oks" -gt 100 ]; then
    ok "all op goldens and finite differences with SP_CONV_IM2COL=1 ($oks checks)"
else
    fail "op suite with SP_CONV_IM2COL=1" "rc $rc, $fails failed: $(echo "$out" | grep '^FAIL ' | head -3)"
fi
