# sp_main_start (common/sp_start.h): where the kernel gives transparent huge
# pages only on request, a program restarts itself once with glibc's heap
# asking for them (GLIBC_TUNABLES=glibc.malloc.hugetlb=1); the user's own
# hugetlb setting is kept, SP_REEXEC=0 turns it off.  Checked through
# tests/tools/startenv (the start every program makes, then its environment
# and how much of 64 MiB of fresh heap landed on huge pages) and on a real
# program (/proc/PID/environ of a running sp-info: its latest exec).
source "$(dirname "$0")/lib.sh"
SE=$TOOLS/startenv
clean="env -u GLIBC_TUNABLES -u SP_REEXEC"

if ! grep -q '\[madvise\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
    # "always" gives huge pages anyway, "never" not at all: nothing to restart for
    expect_eq "no restart here (THP mode: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null))" \
        "GLIBC_TUNABLES=(unset) SP_REEXEC=(unset)" "$($clean $SE | tr '\n' ' ' | sed 's/ $//')"
    exit 0
fi

out=$($clean $SE 64)
expect_ok "restarted with the heap on huge pages ($(echo $out))" \
    "grep -qx 'GLIBC_TUNABLES=glibc.malloc.hugetlb=1' <<<'$out' && grep -qx 'SP_REEXEC=done' <<<'$out'"
huge=$(sed -n 's/^anon_huge_kb=//p' <<<"$out")
if [ "${SANITIZE:-0}" = 1 ]; then
    ok "heap pages: not checked under the sanitizers (their allocator, not glibc's)"
else
    expect_ok "64 MiB of fresh heap mostly on huge pages ($huge kB)" "[ '${huge:-0}' -ge 32768 ]"
fi

out=$($clean SP_REEXEC=0 $SE 64)
expect_ok "SP_REEXEC=0: no restart ($(echo $out))" \
    "grep -qx 'GLIBC_TUNABLES=(unset)' <<<'$out' && grep -qx 'SP_REEXEC=0' <<<'$out'"
huge=$(sed -n 's/^anon_huge_kb=//p' <<<"$out")
expect_ok "SP_REEXEC=0: the heap on 4 KiB pages ($huge kB on huge ones)" "[ '${huge:-1}' -lt 4096 ]"

out=$($clean GLIBC_TUNABLES=glibc.malloc.tcache_count=7 $SE)
expect_ok "the user's tunables kept, ours appended ($(echo $out))" \
    "grep -qx 'GLIBC_TUNABLES=glibc.malloc.tcache_count=7:glibc.malloc.hugetlb=1' <<<'$out'"
out=$($clean GLIBC_TUNABLES=glibc.malloc.hugetlb=0 $SE)
expect_ok "the user's hugetlb setting kept, no restart ($(echo $out))" \
    "grep -qx 'GLIBC_TUNABLES=glibc.malloc.hugetlb=0' <<<'$out' && grep -qx 'SP_REEXEC=(unset)' <<<'$out'"

if command -v valgrind >/dev/null && [ "${SANITIZE:-0}" != 1 ]; then
    out=$($clean valgrind -q --tool=none $SE 2>&1)
    expect_ok "under valgrind: no restart (it would run the new image natively)" "grep -qx 'SP_REEXEC=(unset)' <<<'$out'"
fi

# a real program: sp-info blocked on an empty pipe, seen from outside
mkfifo "$T/fifo"
exec 3<>"$T/fifo"
$clean "$BIN/sp-info" <"$T/fifo" >/dev/null 2>&1 3>&- &
pid=$!
for _ in $(seq 40); do
    grep -qz '^SP_REEXEC=done$' "/proc/$pid/environ" 2>/dev/null && break
    sleep 0.05
done
expect_ok "sp-info restarted itself, same pid" "grep -qz '^SP_REEXEC=done\$' /proc/$pid/environ"
exec 3>&-
wait "$pid" 2>/dev/null

# after the restart a filter still reads all of its stdin and writes the
# same bytes as one that never restarts
expect_ok "a stream" "$BIN/sp-load $DATA/tetrominoes-real10 --batch 4 >$T/in.sp 2>/dev/null"
expect_ok "restarted reader of a pipe: the whole stream" "cat $T/in.sp | $clean $BIN/sp-info --summary | grep -q '10 images'"
expect_ok "restarted filter: the same bytes" "$clean $BIN/sp-op relu <$ROOT/tests/golden/ops/nn_relu.sp >$T/a.sp && $clean SP_REEXEC=0 $BIN/sp-op relu <$ROOT/tests/golden/ops/nn_relu.sp >$T/b.sp && cmp -s $T/a.sp $T/b.sp"
