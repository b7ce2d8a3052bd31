# sp_main_start (common/sp_start.h): a program puts OPENBLAS_NUM_THREADS=1 in
# its environment (OpenBLAS is opened at the first sgemm, common/sp_blas.h,
# and runs on one thread).  A filter (sp_main_start) restarts no more: its
# idle OpenMP threads sleep at once because it let libgomp start seeing one
# CPU (then gets its CPUs and its thread count back), and, where the kernel
# gives transparent huge pages only on request, it advises its heap for
# them itself.  A program that runs alone (sp_main_start_alone, sp-train)
# restarts itself once with GOMP_SPINCOUNT=20000 and glibc's heap asking for
# huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1).  The user's own
# settings are kept, SP_REEXEC=0 turns it all off.  Checked through
# tests/tools/startenv (the start every program makes, then its environment,
# how its idle threads wait, and how much of 64 MiB, or of the first 1 MiB,
# of fresh heap landed on huge pages) and on a real program (sp-info
# running: /proc/PID/environ and its CPUs).
source "$(dirname "$0")/lib.sh"
SE=$TOOLS/startenv
clean="env -u GLIBC_TUNABLES -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u OPENBLAS_NUM_THREADS -u SP_REEXEC"
# built with OpenBLAS linked (make STATIC_DEPS=1, DEPS_DIR=...): in every program from the start
blas0=0
grep -q 'blas-linked' "$ROOT/build/variant" 2>/dev/null && blas0=1
thp=0
grep -q '\[madvise\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null && thp=1
# "always" gives huge pages anyway, "never" not at all: no tunable then
tun_expect="GLIBC_TUNABLES=(unset)"
[ $thp = 1 ] && tun_expect="GLIBC_TUNABLES=glibc.malloc.hugetlb=1"

out=$($clean $SE 64)
expect_eq "a filter: no restart, OPENBLAS_NUM_THREADS=1 and nothing else added; no OpenBLAS yet" \
    "GLIBC_TUNABLES=(unset) OMP_WAIT_POLICY=(unset) GOMP_SPINCOUNT=(unset) OPENBLAS_NUM_THREADS=1 SP_REEXEC=(unset) blas_loaded=$blas0" "$(grep -v anon_huge <<<"$out" | paste -sd ' ')"
# how a filter's idle threads wait: every CPU and as many threads after
# libgomp's start, and 200 short loops with 1 ms pauses cost about their
# work, not the pauses spun through (libgomp's default, SP_REEXEC=0)
ncpu=$(nproc)
idle=$($clean -u OMP_NUM_THREADS $SE --idle)
spin=$($clean -u OMP_NUM_THREADS SP_REEXEC=0 $SE --idle)
expect_ok "a filter: its CPUs and threads back after libgomp's start ($(grep cpus= <<<"$idle"), nproc $ncpu)" "grep -qx 'cpus=$ncpu threads=$ncpu' <<<'$idle'"
if [ "$ncpu" -ge 2 ]; then
    ms=$(sed -n 's/^idle_cpu_ms=//p' <<<"$idle") sms=$(sed -n 's/^idle_cpu_ms=//p' <<<"$spin")
    expect_ok "a filter: idle threads sleep ($ms ms of CPU against $sms spinning with SP_REEXEC=0)" "[ -n '$ms' ] && [ -n '$sms' ] && [ \$(( 2 * $ms )) -lt '$sms' ]"
fi
expect_eq "a filter: the user's OMP_NUM_THREADS kept" "cpus=$ncpu threads=1" "$($clean OMP_NUM_THREADS=1 $SE --idle | grep cpus=)"
expect_eq "OpenBLAS opened when asked for, on one thread" "blas_threads=1" "$($clean $SE --blas | grep blas_threads)"
expect_eq "the user's OPENBLAS_NUM_THREADS=2 kept, sgemm on one thread all the same" "blas_threads=1" "$($clean OPENBLAS_NUM_THREADS=2 $SE --blas | grep blas_threads)"
# a program that runs alone (sp-train): a short spin instead of passive
alone=$($clean $SE --alone | paste -sd ' ')
expect_eq "alone: restarted with GOMP_SPINCOUNT=20000, no wait policy" \
    "$tun_expect OMP_WAIT_POLICY=(unset) GOMP_SPINCOUNT=20000 OPENBLAS_NUM_THREADS=1 SP_REEXEC=done blas_loaded=$blas0" "$alone"
alone=$($clean GOMP_SPINCOUNT=5 $SE --alone | paste -sd ' ')
expect_ok "alone: the user's GOMP_SPINCOUNT kept ($alone)" "grep -q 'OMP_WAIT_POLICY=(unset) GOMP_SPINCOUNT=5 ' <<<'$alone'"
huge=$(sed -n 's/^anon_huge_kb=//p' <<<"$out")
if [ $thp = 0 ]; then
    ok "heap pages: not checked, THP mode here: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
elif [ "${SANITIZE:-0}" = 1 ]; then
    ok "heap pages: not checked under the sanitizers (their allocator, not glibc's)"
else
    expect_ok "64 MiB of fresh heap mostly on huge pages ($huge kB)" "[ '${huge:-0}' -ge 32768 ]"
    # the first blocks a program writes (sp_start.c's heap_start): before,
    # they fell in the heap's first, unaligned 2 MiB and got 4 KiB pages
    small=$($clean $SE 1 | sed -n 's/^anon_huge_kb=//p')
    expect_ok "the first 1 MiB of heap a program writes on a huge page ($small kB)" "[ '${small:-0}' -ge 1024 ]"
    # an OpenMP thread's blocks come from its own arena (sp_start.c's
    # sp_heap_advise_thread: advised as the main heap is)
    if [ "$(nproc)" -ge 2 ]; then
        th=$($clean $SE --thread 16 | sed -n 's/^anon_huge_kb=//p')
        expect_ok "16 MiB a worker thread writes mostly on huge pages ($th kB)" "[ '${th:-0}' -ge 8192 ]"
    fi
fi

# OMP_PROC_BIND or OMP_PLACES: libgomp binds the first image's thread to one
# CPU before main; the new image of a program that restarts (alone) must
# still find every CPU the first one found (its OMP_PLACES as libgomp prints
# them: the same, not '{0}'); a filter, left to libgomp then, has them all
places() { $clean "$@" OMP_DISPLAY_ENV=true $SE --alone 2>&1 >/dev/null | sed -n "s/^ *OMP_PLACES = //p" | paste -sd ' '; }
for v in OMP_PROC_BIND=true OMP_PROC_BIND=spread OMP_PLACES=cores; do
    p=$(places $v)
    expect_ok "$v: the restarted image has the first one's places ($p)" "[ \"\$(echo $p | wc -w)\" = 2 ] && [ \"\${p%% *}\" = \"\${p#* }\" ]"
    f=$($clean $v OMP_DISPLAY_ENV=true $BIN/sp-eval </dev/null 2>&1 | sed -n "s/^ *OMP_PLACES = //p")
    expect_eq "$v: a filter's places are the restarted image's" "${p%% *}" "$f"
done
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    p=$(places taskset -c 1 env OMP_PROC_BIND=true)
    expect_eq "taskset -c 1 with OMP_PROC_BIND=true: CPU 1 in both images" "'{1}' '{1}'" "$p"
    expect_eq "taskset -c 1: a filter gets CPU 1 back, one thread" "cpus=1 threads=1" "$($clean -u OMP_NUM_THREADS taskset -c 1 $SE --idle | grep cpus=)"
fi

out=$($clean SP_REEXEC=0 $SE 64)
expect_eq "SP_REEXEC=0: no restart, nothing added" \
    "GLIBC_TUNABLES=(unset) OMP_WAIT_POLICY=(unset) GOMP_SPINCOUNT=(unset) OPENBLAS_NUM_THREADS=(unset) SP_REEXEC=0 blas_loaded=$blas0" "$(grep -v anon_huge <<<"$out" | paste -sd ' ')"
huge=$(sed -n 's/^anon_huge_kb=//p' <<<"$out")
if [ $thp = 1 ] && [ "${SANITIZE:-0}" != 1 ]; then
    expect_ok "SP_REEXEC=0: the heap on 4 KiB pages ($huge kB on huge ones)" "[ '${huge:-1}' -lt 4096 ]"
fi

out=$($clean OMP_WAIT_POLICY=active OPENBLAS_NUM_THREADS=2 $SE | paste -sd ' ')
expect_ok "the user's OMP_WAIT_POLICY and OPENBLAS_NUM_THREADS kept ($out)" "grep -q 'OMP_WAIT_POLICY=active GOMP_SPINCOUNT=(unset) OPENBLAS_NUM_THREADS=2 ' <<<'$out'"
if [ $thp = 1 ]; then
    out=$($clean GLIBC_TUNABLES=glibc.malloc.tcache_count=7 $SE --alone | paste -sd ' ')
    expect_ok "alone: the user's tunables kept, ours appended ($out)" \
        "grep -q 'GLIBC_TUNABLES=glibc.malloc.tcache_count=7:glibc.malloc.hugetlb=1 ' <<<'$out'"
    out=$($clean GLIBC_TUNABLES=glibc.malloc.tcache_count=7 $SE 64 | paste -sd ' ')
    huge=$(sed -n 's/.*anon_huge_kb=//p' <<<"$out")
    if [ "${SANITIZE:-0}" != 1 ]; then
        expect_ok "a filter: the user's tunables as given, its heap on huge pages all the same ($out)" \
            "grep -q 'GLIBC_TUNABLES=glibc.malloc.tcache_count=7 ' <<<'$out' && [ '${huge:-0}' -ge 32768 ]"
        huge=$($clean GLIBC_TUNABLES=glibc.malloc.hugetlb=0 $SE 64 | sed -n 's/^anon_huge_kb=//p')
        expect_ok "a filter: the user's glibc.malloc.hugetlb=0 kept: 4 KiB pages ($huge kB on huge ones)" "[ '${huge:-1}' -lt 4096 ]"
    fi
fi
out=$($clean GLIBC_TUNABLES=glibc.malloc.hugetlb=0 OMP_WAIT_POLICY=active $SE | paste -sd ' ')
expect_eq "the user's wait and heap settings: kept, no restart (OPENBLAS_NUM_THREADS added without one)" \
    "GLIBC_TUNABLES=glibc.malloc.hugetlb=0 OMP_WAIT_POLICY=active GOMP_SPINCOUNT=(unset) OPENBLAS_NUM_THREADS=1 SP_REEXEC=(unset) blas_loaded=$blas0" "$out"

if command -v valgrind >/dev/null && [ "${SANITIZE:-0}" != 1 ]; then
    out=$($clean valgrind -q --tool=none $SE 2>&1 | paste -sd ' ')
    expect_ok "under valgrind: no restart (the new image would run without it) ($out)" "grep -q 'SP_REEXEC=(unset)' <<<'$out'"
fi

# a real program: sp-info blocked on an empty pipe, seen from outside
mkfifo "$T/fifo"
exec 3<>"$T/fifo"
$clean "$BIN/sp-info" <"$T/fifo" >/dev/null 2>&1 3>&- &
pid=$!
for _ in $(seq 40); do
    grep -q "^Cpus_allowed_list:" "/proc/$pid/status" 2>/dev/null && [ "$(grep -c . "/proc/$pid/maps" 2>/dev/null)" -gt 0 ] && break
    sleep 0.05
done
sleep 0.2 # past its start
expect_ok "sp-info did not restart (its environment as given)" "[ -r /proc/$pid/environ ] && ! grep -qz '^SP_REEXEC=' /proc/$pid/environ && ! grep -qz '^OMP_WAIT_POLICY=' /proc/$pid/environ"
expect_eq "sp-info runs on every CPU (given back after libgomp's start)" "$(sed -n 's/^Cpus_allowed_list:\s*//p' /proc/$$/status)" "$(sed -n 's/^Cpus_allowed_list:\s*//p' /proc/$pid/status)"
expect_ok "sp-info: no OpenBLAS in the process" "[ -r /proc/$pid/maps ] && ! grep -q openblas /proc/$pid/maps"
exec 3>&-
wait "$pid" 2>/dev/null
if [ "${SANITIZE:-0}" != 1 ] && command -v ldd >/dev/null; then
    expect_ok "no program is linked to libopenblas (opened at the first sgemm)" "! ldd $BIN/sp-predict $BIN/sp-train $BIN/sp-select | grep -q libopenblas"
fi

# a filter started so writes the same bytes as one started with nothing
# of sp_main_start's
expect_ok "a filter: the same bytes as with SP_REEXEC=0" "$clean $BIN/sp-op relu <$ROOT/tests/golden/ops/nn_relu.sp >$T/a.sp && $clean SP_REEXEC=0 $BIN/sp-op relu <$ROOT/tests/golden/ops/nn_relu.sp >$T/b.sp && cmp -s $T/a.sp $T/b.sp"
need_data tetrominoes-real10 # the rest
expect_ok "a stream" "$BIN/sp-load $DATA/tetrominoes-real10 --batch 4 >$T/in.sp 2>/dev/null"
expect_ok "a reader of a pipe: the whole stream" "cat $T/in.sp | $clean $BIN/sp-info --summary | grep -q '10 images'"

# The environment switches (common/sp_env.h): a value a switch does not take
# is a one-line error naming it, not a silent default.  The conv switches
# are read when the first convolution runs, so a model that convolves.
expect_ok "env: a tetro model" "$BIN/sp-gen tetrominoes --count 4 --seed 2 --out $T/envt --quiet && $BIN/sp-load $T/envt --split-rule all --batch 4 >$T/env.sp 2>/dev/null && $BIN/sp-train --init-only $ROOT/pipelines/configs/tetro.conf --out $T/env.spm <$T/env.sp 2>/dev/null"
for bad in SP_CONV_WINOGRAD=3 SP_CONV_WINOGRAD=on SP_CONV_IM2COL=yes SP_CONV_AVX512=2 SP_CONV_TILE16X2=off; do
    expect_error "env: $bad is an error" "^sp-predict: environment: ${bad%%=*}=${bad#*=}: expected one of" \
        "$bad $BIN/sp-predict --model $T/env.spm --features <$T/env.sp"
done
for good in SP_CONV_WINOGRAD=0 SP_CONV_WINOGRAD=1 SP_CONV_WINOGRAD=2 SP_CONV_WINOGRAD=4 SP_CONV_IM2COL=0 SP_CONV_IM2COL=1 SP_CONV_AVX512=0 SP_CONV_TILE16X2=1 SP_CONV_WINOGRAD=; do
    expect_ok "env: $good is taken" "$good $BIN/sp-predict --model $T/env.spm --features <$T/env.sp >/dev/null"
done
expect_error "env: SP_PROGRESS=2 is an error" "^sp-load: environment: SP_PROGRESS=2: expected one of 0, 1" "SP_PROGRESS=2 $BIN/sp-load $T/envt"
for bad in 10k -5 0 99999999999999999999999; do
    expect_error "env: SP_MAX_BYTES=$bad is an error" "^sp-info: environment: SP_MAX_BYTES=.*: expected a positive integer" \
        "SP_MAX_BYTES=$bad $BIN/sp-info <$T/env.sp"
done
expect_error "env: SP_MAX_BYTES=1000 refuses a larger tensor" "^sp-info: .*(too large|exceeds|limit)" "SP_MAX_BYTES=1000 $BIN/sp-info <$T/env.sp"
expect_ok "env: SP_MAX_BYTES=100000000 reads it" "SP_MAX_BYTES=100000000 $BIN/sp-info <$T/env.sp >/dev/null"
