#!/bin/sh
# smoke.sh: the benchmarks run, their self-checks hold (trap counts, one
# kernel call per primitive, pages reported), and their output has the
# structure readers and `make bench-readme` rely on: the host profile
# first, the summary of the targets last.  Times and verdicts are not
# judged here: performance targets belong to `make bench`, never to timed
# unit tests.
#
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The libuvm authors.  See LICENSE.
# UVM_BENCH_SMOKE_ROWS, when set, names the rows (the sanitizer builds of
# tests/sanitizers.mk leave out the 100,000-region row, 15 minutes there),
# and then only uvm-bench runs, as before the other two had outputs to
# check.
set -u
out=${TMPDIR:-/tmp}/uvm-bench-smoke.$$
trap 'rm -f "$out" "$out".*' EXIT
fail() { echo "smoke.sh: $*" >&2; exit 1; }
# A program that hangs (a trap that never stops) fails the test instead of
# the whole make check: timeout(1) where there is one.  Generous: the
# sanitizer builds run uvm-bench several times slower.
bounded() {   # seconds command...
  limit=$1
  shift
  if command -v timeout >/dev/null 2>&1; then
    timeout "$limit" "$@"
  else
    "$@"
  fi
}

# The host profile: three facts and seven items, each a value or "n/a (why)".
check_profile() {   # file program
  for fact in 'cpu ' 'kernel ' 'virtualisation '; do
    grep -q "^host: $fact" "$1" || fail "$2: no 'host: $fact' line"
  done
  for item in 'null system call' 'first-touch page fault' \
      'signal round trip (TRAP)' 'one-page mprotect' \
      'kernel-resolved uffd write fault (WP_ASYNC)' 'one-page memcpy' \
      'fork() of 64 MiB populated'; do
    line=$(grep -F "host: $item" "$1") || fail "$2: no profile line '$item'"
    echo "$line" | grep -Eq ' [0-9]+ (ns|us) per [a-z]+ \[| n/a \(' ||
      fail "$2: profile line '$item' has neither a value nor n/a (why): $line"
  done
  grep -q '^host: (raw system calls' "$1" || fail "$2: profile not closed"
}

# The summary: its heading, and a met/missed verdict per target.
check_summary() {   # file program
  grep -q "^Summary of $2's targets" "$1" || fail "$2: no summary"
  n=$(sed -n "/^Summary of $2's targets/,\$p" "$1" | grep -Ec ' (met|missed)$')
  [ "$n" -ge "$3" ] || fail "$2: $n verdicts in the summary, expected >= $3"
  grep -iq 'warm' "$1" || fail "$2: does not say how it warms up"
}

# Wherever libuvm's uffd-wp-async method runs, its raw floors open too
# (profile_uffd_open_async), and its three targets are judged.
check_uffd_targets() {   # file label
  if grep -q '^uffd-wp-async .*not available here' "$1"; then
    echo "smoke.sh: $2: libuvm's uffd-wp-async method is not available" \
      "here; its targets are not checked"
    return 0
  fi
  for t in 'DIRTY uffd-wp-async, 10% written' \
      'DIRTY uffd-wp-async, 100% written' 'clean uvm_dirty of .* (uffd)'; do
    sed -n "/^Summary of uvm-bench-dirty's targets/,\$p" "$1" |
      grep -q "^  $t" || fail "$2: no target '$t' although the method works"
  done
}

# Every program appends its verdicts here; summary.sh prints them.
UVM_BENCH_SUMMARY=$out.tsv
export UVM_BENCH_SUMMARY

# shellcheck disable=SC2086
bounded 1800 ./bench/uvm-bench --quick --blocks 3 --rounds 3 \
  ${UVM_BENCH_SMOKE_ROWS-} > "$out" || fail "uvm-bench failed"
cat "$out"
check_profile "$out" uvm-bench
if [ -z "${UVM_BENCH_SMOKE_ROWS-}" ]; then
  check_summary "$out" uvm-bench 4
  # CSV and JSON carry the profile too.
  bounded 120 ./bench/uvm-bench --quick --blocks 1 --rounds 1 --csv add \
    > "$out.csv" ||
    fail "uvm-bench --csv failed"
  for key in cpu kernel virtualisation null_syscall first_touch trap \
      mprotect_page uffd_wp_async_fault memcpy_page fork_64mib; do
    grep -q "^host\.$key," "$out.csv" || fail "--csv: no host.$key row"
  done
  bounded 120 ./bench/uvm-bench --quick --blocks 1 --rounds 1 --json add \
    > "$out.json" ||
    fail "uvm-bench --json failed"
  grep -q '"host": {"cpu": ' "$out.json" || fail "--json: no host object"
  if command -v python3 >/dev/null 2>&1; then
    python3 -m json.tool "$out.json" >/dev/null || fail "--json: not JSON"
  fi
else
  exit 0
fi

# The other two programs, small: the same profile, their own summaries.
# uvm-bench-dirty: 1 cycle on 2 MiB (32 MiB clean); uvm-bench-snap: up to
# 16 MiB, the smallest size at which its fixed draw sequence, taken with
# replacement, repeated a page (3 of 400; none at 1 and 4 MiB).
bounded 300 ./bench/uvm-bench-dirty 1 2 > "$out.dirty" || fail "uvm-bench-dirty failed"
cat "$out.dirty"
check_profile "$out.dirty" uvm-bench-dirty
check_summary "$out.dirty" uvm-bench-dirty 1
check_uffd_targets "$out.dirty" uvm-bench-dirty
# Again as nobody: with vm.unprivileged_userfaultfd = 0 only a
# user-mode-only userfaultfd is allowed, which libuvm's method takes and
# the floors once did not.  Not added to the summary file.
# (A command, not a function: timeout(1) runs it.)
nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1; then
  echo "smoke.sh: not root, or no setpriv(1): uvm-bench-dirty is not" \
    "checked unprivileged"
elif ! $nobody test -x ./bench/uvm-bench-dirty; then
  echo "smoke.sh: nobody cannot run ./bench/uvm-bench-dirty from this" \
    "build directory: not checked unprivileged"
else
  # shellcheck disable=SC2086
  bounded 300 $nobody env -u UVM_BENCH_SUMMARY ./bench/uvm-bench-dirty 1 2 \
    > "$out.dirty-nobody" || fail "uvm-bench-dirty failed as nobody"
  check_uffd_targets "$out.dirty-nobody" "uvm-bench-dirty as nobody"
fi
# uvm-bench-snap's command line: --help exits 0; a bad option or number
# exits 2 naming it, never runs no size or the wrong one (strtoul once
# ran "1g" as 1 MiB and "--quick" as nothing, exit 0).
bounded 60 ./bench/uvm-bench-snap --help > "$out.help" ||
  fail "uvm-bench-snap --help did not exit 0"
grep -q '^usage: uvm-bench-snap' "$out.help" || fail "snap --help: no usage"
snap_usage_error() {   # bad-word command... (any of the programs)
  bad=$1
  shift
  bounded 60 "$@" > "$out.use" 2> "$out.use.err"
  rc=$?
  [ "$rc" -eq 2 ] || fail "snap: '$bad': exit $rc, expected 2 (usage)"
  grep -qF "'$bad'" "$out.use.err" ||
    fail "snap: '$bad': the message does not name it: $(head -1 "$out.use.err")"
}
for bad in --quick 1g 0x10 0; do
  snap_usage_error "$bad" ./bench/uvm-bench-snap "$bad"
done
snap_usage_error 2 ./bench/uvm-bench-snap 1 2
snap_usage_error 1g env UVM_BENCH_SNAP_MAX_MIB=1g ./bench/uvm-bench-snap
grep -q UVM_BENCH_SNAP_MAX_MIB "$out.use.err" ||
  fail "snap: a bad UVM_BENCH_SNAP_MAX_MIB is not named"
# uvm-bench-dirty's too (atoi ran "1g" as 1 and "--quick" as 0 cycles).
bounded 60 ./bench/uvm-bench-dirty --help > "$out.help" ||
  fail "uvm-bench-dirty --help did not exit 0"
grep -q '^usage: uvm-bench-dirty' "$out.help" || fail "dirty --help: no usage"
for bad in --quick 1g 0; do
  snap_usage_error "$bad" ./bench/uvm-bench-dirty "$bad"
done
snap_usage_error 1x ./bench/uvm-bench-dirty 1 1x
snap_usage_error 4 ./bench/uvm-bench-dirty 1 2 4
snap_usage_error 2k env UVM_BENCH_DIRTY_MIB=2k ./bench/uvm-bench-dirty
# Memory it cannot map is named with its errno: the 40 MiB of baselines
# cannot fit in 32 MiB of address space, and once exited 1 without a word.
# shellcheck disable=SC3045   # not POSIX: tried first, skipped if absent
if (ulimit -v 32768) 2>/dev/null; then
  # shellcheck disable=SC3045
  (ulimit -v 32768 && LC_ALL=C exec ./bench/uvm-bench-snap 1) \
    > "$out.nomem" 2> "$out.nomem.err"
  rc=$?
  [ "$rc" -eq 1 ] || fail "snap in 32 MiB: exit $rc, expected 1"
  grep -q '^uvm-bench-snap: mmap .*: Cannot allocate memory$' \
    "$out.nomem.err" || fail "snap in 32 MiB: no message naming the mmap" \
    "and ENOMEM: $(cat "$out.nomem.err")"
else
  echo "smoke.sh: this shell has no ulimit -v: the failed mmap of" \
    "uvm-bench-snap's baselines is not checked"
fi
bounded 300 ./bench/uvm-bench-snap 16 > "$out.snap" || fail "uvm-bench-snap failed"
cat "$out.snap"
check_profile "$out.snap" uvm-bench-snap
check_summary "$out.snap" uvm-bench-snap 3
grep -Eq '^  redo first snapshot, .* (met|missed)$' "$out.snap" ||
  fail "snap: the tracked design's targets are not judged"
# The undo floor counts the pages written; each must fault exactly once
# (libuvm's counter), or the floor is off by the pages drawn twice.
line=$(grep '^undo floor: ' "$out.snap") || fail "snap: no 'undo floor:' line"
written=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) pages written.*/\1/p')
faults=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) faults taken.*/\1/p')
case "$written,$faults" in
  [0-9]*,[0-9]*) ;;
  *) fail "snap: unreadable: $line" ;;
esac
if [ "$written" -eq 0 ] || [ "$written" -ne "$faults" ]; then
  fail "snap: $written pages written but $faults faults: a page drawn twice?"
fi

# make bench's one summary: every program's verdicts and its host.
sh "$(dirname "$0")/summary.sh" "$UVM_BENCH_SUMMARY" > "$out.sum" ||
  fail "summary.sh failed"
cat "$out.sum"
for prog in uvm-bench-dirty uvm-bench-snap; do
  grep -Eq "^$prog .* (met|missed)$" "$out.sum" || fail "summary: no $prog"
done
grep -q '^host: ' "$out.sum" || fail "summary: no host line"
grep -Eq '^[0-9]+ met, [0-9]+ missed' "$out.sum" || fail "summary: no count"
sh "$(dirname "$0")/summary.sh" --markdown "$UVM_BENCH_SUMMARY" |
  grep -q '^| program | target |' || fail "summary --markdown: no table"
exit 0
