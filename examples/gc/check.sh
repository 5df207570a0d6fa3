#!/bin/sh
# check.sh: make check for uvm-gc.  Runs both workloads at small sizes in
# every mode (stop, soft, vm, vm --concurrent) and compares the outputs with
# each other and, for binary-trees 10, with the committed expected output,
# which the malloc-based reference must also reproduce.
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The libuvm authors.  See LICENSE.
set -u
srcdir=${srcdir:-.}
here=examples/gc
exp=$srcdir/examples/gc/binary-trees-10.expected
tmp=${TMPDIR:-/tmp}/uvm-gc-check.$$
mkdir -p "$tmp" || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0

# Every run is bounded: a collector that hangs (a flip waiting forever for
# the background thread, say) fails instead of stalling make check.
bound=
command -v timeout > /dev/null 2>&1 && bound="timeout 120"
run() {    # name, then the command
    name=$1; shift
    if $bound "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"; then
        echo "ok   $name"
    else
        echo "FAIL $name (exit $?)"; cat "$tmp/$name.err"; fail=1
    fi
}
same() {   # name, file, reference
    if cmp -s "$2" "$3"; then echo "ok   $1"
    else echo "FAIL $1"; diff "$3" "$2" | head -20; fail=1; fi
}

run ref $here/binary-trees-ref 10
same ref-matches-expected "$tmp/ref.out" "$exp"
for m in stop soft vm; do
    run bt-$m $here/uvm-gc --mode $m --heap 0.25 binary-trees 10
    same bt-$m-matches-expected "$tmp/bt-$m.out" "$exp"
    run gcb-$m $here/uvm-gc --mode $m --heap 4 gcbench 14 12 12 50000
done
run bt-vm-conc $here/uvm-gc --mode vm --concurrent --heap 0.25 binary-trees 10
same bt-vm-conc-matches-expected "$tmp/bt-vm-conc.out" "$exp"
run gcb-vm-conc $here/uvm-gc --mode vm --concurrent --heap 4 gcbench 14 12 12 50000
for m in soft vm vm-conc; do
    same gcb-$m-matches-stop "$tmp/gcb-$m.out" "$tmp/gcb-stop.out"
done
# The graph walk, small: 4096 nodes in a 1.5 MB semispace, so that several
# collections copy the graph while it is being read.
for m in stop soft vm; do
    run graph-$m $here/uvm-gc --mode $m --heap 1.5 graph 4096 1200000
done
run graph-vm-conc $here/uvm-gc --mode vm --concurrent --heap 1.5 graph 4096 1200000
for m in soft vm vm-conc; do
    same graph-$m-matches-stop "$tmp/graph-$m.out" "$tmp/graph-stop.out"
done
grep -q '^graph walk done$' "$tmp/graph-stop.out" ||
    { echo "FAIL graph walk did not finish"; fail=1; }
if grep -q '^vm  .* 0 traps' "$tmp/graph-vm.err" ||
   ! awk '$1 == "vm" && $2 >= 2 { ok = 1 } END { exit !ok }' \
        "$tmp/graph-vm.err"; then
    echo "FAIL graph-vm-collects (wants 2+ collections while walking)"
    cat "$tmp/graph-vm.err"; fail=1
else
    echo "ok   graph-vm-collects"
fi
grep -q '^Completed$' "$tmp/gcb-stop.out" && grep -q intact "$tmp/gcb-stop.out" ||
    { echo "FAIL gcbench did not complete intact"; fail=1; }

# Increments bounded by time stop inside pages and resume there: with a
# 1 us budget nearly every increment does, and the output must not change.
for m in vm vm-conc; do
    conc=; [ $m = vm-conc ] && conc=--concurrent
    run incr1-$m $here/uvm-gc --mode vm $conc --incr-us 1 --batch 64 \
        --heap 4 gcbench 14 12 12 50000
    same incr1-$m-output "$tmp/incr1-$m.out" "$tmp/gcb-stop.out"
    if grep -q 'increments, .* [1-9][0-9]* increments ended inside a page' \
            "$tmp/incr1-$m.err"; then echo "ok   incr1-$m-stops-mid-page"
    else echo "FAIL incr1-$m-stops-mid-page"; cat "$tmp/incr1-$m.err"; fail=1; fi
done

# --concurrent: a trap never waits for the background thread.  The test
# knob stalls that thread for 300 ms inside every page it claims, as a
# busy host may; the longest trap must stay far below that.
UVM_GC_TEST_BG_STALL_MS=300 run stall-vm-conc $here/uvm-gc --mode vm \
    --concurrent --csv --heap 4 gcbench 14 12 12 50000
same stall-vm-conc-output "$tmp/stall-vm-conc.out" "$tmp/gcb-stop.out"
if awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
            { exit !($c["slow_count"] > 0 && $c["slow_max_us"] < 150000) }' \
        "$tmp/stall-vm-conc.err"; then echo "ok   stall-trap-does-not-wait"
else echo "FAIL stall-trap-does-not-wait"; cat "$tmp/stall-vm-conc.err"; fail=1; fi

# The command line (GNU convention): options after the workload name work,
# and a workload argument that is not a number is a usage error naming it.
run cli-late-options $here/uvm-gc gcbench 14 12 12 50000 --mode stop \
    --heap 4 --plot "$tmp/late.png"
same cli-late-options-output "$tmp/cli-late-options.out" "$tmp/gcb-stop.out"
if command -v gnuplot >/dev/null 2>&1; then
    if [ -s "$tmp/late.png" ]; then echo "ok   cli-late-plot"
    else echo "FAIL cli-late-plot"; fail=1; fi
fi
usage_error() {   # name, the word the message must name, then the command
    name=$1; word=$2; shift 2
    $bound "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"; rc=$?
    if [ $rc -eq 2 ] && grep -qF "'$word'" "$tmp/$name.err"; then
        echo "ok   $name"
    else
        echo "FAIL $name (exit $rc, want 2 naming '$word')"
        head -3 "$tmp/$name.err"; fail=1
    fi
}
usage_error cli-not-a-number f.png $here/uvm-gc gcbench f.png
usage_error cli-bt-not-a-number 1x $here/uvm-gc binary-trees 1x
usage_error cli-unknown-workload nosuch $here/uvm-gc --mode vm nosuch 3
usage_error cli-heap-suffix 1g $here/uvm-gc --heap 1g gcbench
usage_error cli-negative-batch -1 $here/uvm-gc gcbench --batch -1
if $bound $here/uvm-gc --help > "$tmp/help.out" 2>&1 &&
   grep -q '^usage: uvm-gc' "$tmp/help.out"; then
    echo "ok   cli-help"
else
    echo "FAIL cli-help (want usage on stdout, exit 0)"; fail=1
fi

# All modes in one run, with the CSV report and (when gnuplot exists) a plot.
run all $here/uvm-gc --csv --report "$tmp/all.csv" --plot "$tmp/all.png" \
    --heap 0.25 binary-trees 10
same all-matches-expected "$tmp/all.out" "$exp"
if [ "$(wc -l < "$tmp/all.csv")" -eq 4 ]; then echo "ok   csv-has-three-rows"
else echo "FAIL csv-has-three-rows"; cat "$tmp/all.csv"; fail=1; fi
# MMU columns: present, within [0, 1], and stop's 1 ms MMU is 0 whenever
# its longest pause is 1 ms or more (a window inside that pause).
if awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i
                      if (!c["mmu_1ms"] || !c["mmu_10ms"]) exit 1; next }
            { m1 = $c["mmu_1ms"]; m10 = $c["mmu_10ms"]
              if (m1 < 0 || m1 > 1 || m10 < 0 || m10 > 1)
                  exit 1
              if ($c["max_pause_us"] >= 1000 && m1 != 0) exit 1 }' \
        "$tmp/all.csv"; then echo "ok   csv-mmu"
else echo "FAIL csv-mmu"; cat "$tmp/all.csv"; fail=1; fi
if command -v gnuplot >/dev/null 2>&1; then
    if [ -s "$tmp/all.png" ]; then echo "ok   plot"
    else echo "FAIL plot"; cat "$tmp/all.err"; fail=1; fi
else
    echo "skip plot (gnuplot not installed)"
fi
exit $fail
