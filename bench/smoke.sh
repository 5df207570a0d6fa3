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
# tests/sanitizers.mk leave out the 100,000-region row, 15 minutes there).
set -u
out=${TMPDIR:-/tmp}/uvm-bench-smoke.$$
trap 'rm -f "$out" "$out".*' EXIT
fail() { echo "smoke.sh: $*" >&2; exit 1; }

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

# shellcheck disable=SC2086
./bench/uvm-bench --quick --blocks 3 --rounds 3 ${UVM_BENCH_SMOKE_ROWS-} \
  > "$out" || fail "uvm-bench failed"
cat "$out"
check_profile "$out" uvm-bench
if [ -z "${UVM_BENCH_SMOKE_ROWS-}" ]; then
  check_summary "$out" uvm-bench 4
  # CSV and JSON carry the profile too.
  ./bench/uvm-bench --quick --blocks 1 --rounds 1 --csv add > "$out.csv" ||
    fail "uvm-bench --csv failed"
  for key in cpu kernel virtualisation null_syscall first_touch trap \
      mprotect_page uffd_wp_async_fault memcpy_page fork_64mib; do
    grep -q "^host\.$key," "$out.csv" || fail "--csv: no host.$key row"
  done
  ./bench/uvm-bench --quick --blocks 1 --rounds 1 --json add > "$out.json" ||
    fail "uvm-bench --json failed"
  grep -q '"host": {"cpu": ' "$out.json" || fail "--json: no host object"
  if command -v python3 >/dev/null 2>&1; then
    python3 -m json.tool "$out.json" >/dev/null || fail "--json: not JSON"
  fi
fi
exit 0
