#!/bin/sh
# bench.sh: make bench-gc.  Runs GCBench, binary-trees 16 and the graph
# walk in all four modes (stop, soft, vm, vm --concurrent) RUNS times
# (default 5), keeps every CSV report, draws the pause and MMU figures of
# the first run, and checks issue 16's targets in every run:
#   vm max pause <= stop max pause / 20          (GCBench, binary-trees 16)
#   vm+conc max pause <= vm max pause, and vm+conc total <= vm total
#   vm total <= 1.15 x soft total                 (GCBench)
#   vm total < soft total                         (graph)
# Wall-clock times: on a shared host they include time other processes
# took; the load average before each run is printed beside it, and CPU
# times (user + system) are printed too.
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The libuvm authors.  See LICENSE.
set -u
gc=${1:-./examples/gc/uvm-gc}
runs=${2:-5}
out=${3:-bench-gc-results}
flags=${4:-}       # e.g. --rt-pauses (make bench-gc BENCH_GC_FLAGS=...)
mkdir -p "$out" || exit 1
: > "$out/load.txt"
r=1
while [ "$r" -le "$runs" ]; do
    echo "run $r: load average $(cut -d' ' -f1-3 /proc/loadavg)" |
        tee -a "$out/load.txt"
    for w in gcbench bt16 graph; do
        case $w in
            gcbench) args=gcbench ;;
            bt16) args="binary-trees 16" ;;
            graph) args=graph ;;
        esac
        plot=
        [ "$r" -eq 1 ] && plot="--plot $out/$w.png"
        # shellcheck disable=SC2086
        "$gc" --quiet --concurrent --csv --report "$out/run$r-$w.csv" \
            $flags $plot $args || exit 1
    done
    r=$((r + 1))
done

# One line per run and workload, then the targets.
awk -F, -v runs="$runs" '
FNR == 1 { for (i = 1; i <= NF; i++) c[$i] = i
           np = split(FILENAME, p, "/"); f = p[np]
           sub(/\.csv$/, "", f); split(f, q, "-"); run = substr(q[1], 4)
           w = q[2]; next }
{ m = $c["mode"]; key = run SUBSEP w SUBSEP m
  max[key] = $c["max_pause_us"]; tot[key] = $c["total_ms"]
  cpu[key] = $c["cpu_ms"]; mmu1[key] = $c["mmu_1ms"]; mmu10[key] = $c["mmu_10ms"]
  seen[run SUBSEP w] = 1 }
function v(r, w, m, a) { return a[r SUBSEP w SUBSEP m] + 0 }
function held(name, ok) { if (!(name in t)) { order[++nt] = name; t[name] = 0 }
                          t[name] += ok }
END {
  printf "%-4s %-8s %-8s %10s %10s %10s %9s %9s %8s %8s\n", "run", "workload",
         "mode", "max us", "total ms", "CPU ms", "MMU 1ms", "MMU 10ms", "", ""
  for (r = 1; r <= runs; r++)
    for (wi = 1; wi <= 3; wi++) {
      w = wi == 1 ? "gcbench" : wi == 2 ? "bt16" : "graph"
      if (!((r SUBSEP w) in seen)) continue
      for (mi = 1; mi <= 4; mi++) {
        m = mi == 1 ? "stop" : mi == 2 ? "soft" : mi == 3 ? "vm" : "vm+conc"
        printf "%-4d %-8s %-8s %10.1f %10.1f %10.1f %9.3f %9.3f\n", r, w, m,
               v(r, w, m, max), v(r, w, m, tot), v(r, w, m, cpu),
               v(r, w, m, mmu1), v(r, w, m, mmu10)
      }
    }
  print ""
  print "targets (held in how many runs):"
  for (r = 1; r <= runs; r++) {
    for (wi = 1; wi <= 2; wi++) {
      w = wi == 1 ? "gcbench" : "bt16"
      ratio = v(r, w, "vm", max) / v(r, w, "stop", max)
      held("vm/stop max pause <= 1/20, " w, ratio <= 0.05)
      rat[w] = rat[w] sprintf(" %.3f", ratio)
    }
    for (wi = 1; wi <= 3; wi++) {
      w = wi == 1 ? "gcbench" : wi == 2 ? "bt16" : "graph"
      held("vm+conc max pause <= vm, " w, v(r, w, "vm+conc", max) <= v(r, w, "vm", max))
      held("vm+conc total <= vm total, " w, v(r, w, "vm+conc", tot) <= v(r, w, "vm", tot))
    }
    g = v(r, "gcbench", "vm", tot) / v(r, "gcbench", "soft", tot)
    held("vm total <= 1.15 x soft, gcbench", g <= 1.15)
    gs = gs sprintf(" %.2f", g)
    h = v(r, "graph", "vm", tot) / v(r, "graph", "soft", tot)
    held("vm total < soft total, graph", h < 1)
    hs = hs sprintf(" %.2f", h)
    hc = hc sprintf(" %.2f", v(r, "graph", "vm", cpu) / v(r, "graph", "soft", cpu))
  }
  for (i = 1; i <= nt; i++) printf "  %-40s %d/%d\n", order[i], t[order[i]], runs
  print "  vm/stop max pause, gcbench:" rat["gcbench"]
  print "  vm/stop max pause, bt16:   " rat["bt16"]
  print "  vm/soft total, gcbench:    " gs
  print "  vm/soft total, graph:      " hs
  print "  vm/soft CPU, graph:        " hc
}' "$out"/run*-*.csv | tee "$out/summary.txt"
# Where the longest pauses went (one more run of each workload, with the
# per-pause breakdown; not part of the targets: it costs two system calls
# a pause).
for w in gcbench bt16 graph; do
    case $w in
        gcbench) args=gcbench ;;
        bt16) args="binary-trees 16" ;;
        graph) args=graph ;;
    esac
    # shellcheck disable=SC2086
    "$gc" --quiet --concurrent --breakdown --report "$out/breakdown-$w.txt" \
        $flags $args || exit 1
done
echo "CSV reports, figures, breakdown-*.txt and summary.txt in $out/"
