#!/bin/sh
# results.sh OUT [uvm-bench arguments]: run the three benchmark programs
# one after another, from the top build directory, and write OUT
# (bench/RESULTS.md), the tables the README quotes, each stamped with the
# host that made them.  Run by `make bench-readme`.  One run, one host: a
# table never mixes figures of two runs.  UVM_BENCH_DIRTY_CYCLES,
# UVM_BENCH_DIRTY_MIB and UVM_BENCH_SNAP_MAX_MIB (default here 1024) size
# the other two.
#
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The libuvm authors.  See LICENSE.
set -eu
out=$1
shift
here=$(dirname "$0")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uvm-bench-results.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
UVM_BENCH_SUMMARY=$tmp/summary.tsv
export UVM_BENCH_SUMMARY

echo "results.sh: uvm-bench $* (--markdown)" >&2
./bench/uvm-bench --markdown "$@" > "$tmp/table.md"
echo "results.sh: uvm-bench-dirty" >&2
./bench/uvm-bench-dirty > "$tmp/dirty.txt"
echo "results.sh: uvm-bench-snap" >&2
./bench/uvm-bench-snap "${UVM_BENCH_SNAP_MAX_MIB-1024}" > "$tmp/snap.txt"

host=$(awk -F '\t' '$1 == "#host" { print $3; exit }' "$tmp/summary.tsv")
when=$(date -u '+%Y-%m-%d %H:%M UTC')
version=$(sed -n 's/^uvm-bench: libuvm \([^,]*\),.*/\1/p' "$tmp/table.md")
stamp() {
  echo "*Host: $host; \`make bench-readme\`, $when, libuvm $version.  The"
  echo "full host profile (measured in the same run) heads the section's output.*"
  echo
}
{
  echo "# libuvm benchmark results"
  echo
  echo "Written by \`make bench-readme\` (bench/results.sh); re-run it to"
  echo "replace everything here.  Every table below comes from one run on one"
  echo "host, the three programs one after another; each program measured the"
  echo "host profile at its start.  Targets are judged against floors measured"
  echo "in the same run (uvm-bench(1)); timing on a shared or virtual host is"
  echo "noisy, and missed targets are reported, never hidden."
  echo
  echo "## Every target"
  echo
  stamp
  sh "$here/summary.sh" --markdown "$tmp/summary.tsv"
  echo
  echo "## uvm-bench: Appel & Li's Table 1 and the rows 1990 could not have"
  echo
  stamp
  cat "$tmp/table.md"
  echo
  echo "## uvm-bench-dirty: DIRTY per dirtied page against its floors"
  echo
  stamp
  echo '```'
  cat "$tmp/dirty.txt"
  echo '```'
  echo
  echo "## uvm-bench-snap: snapshots against their floor and fork()"
  echo
  stamp
  echo '```'
  cat "$tmp/snap.txt"
  echo '```'
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "results.sh: wrote $out" >&2
