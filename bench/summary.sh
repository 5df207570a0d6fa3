#!/bin/sh
# summary.sh FILE: the one summary `make bench` ends with, every target of
# every benchmark program of the run: its figure, its floor or peer, and
# met or missed.  FILE holds the lines the programs appended (target.h):
#   #host<TAB>program<TAB>host line
#   program<TAB>target<TAB>figure<TAB>floor or peer<TAB>ratio<TAB>bound<TAB>
#   verdict<TAB>information
# With --markdown, the same as a Markdown table (make bench-readme).
#
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The libuvm authors.  See LICENSE.
set -u
md=0
if [ "${1-}" = --markdown ]; then md=1; shift; fi
file=${1-}
if [ -z "$file" ] || [ ! -s "$file" ]; then
  echo "summary.sh: no targets were recorded (${file:-no file given})" >&2
  exit 1
fi
awk -F '\t' -v md="$md" '
  $1 == "#host" { if (!($3 in seen)) { seen[$3] = 1; hosts[++nh] = $3 }
                  progs[$2] = 1; next }
  { n++; prog[n] = $1; name[n] = $2; fig[n] = $3; flo[n] = $4
    ratio[n] = $5; bound[n] = $6; verdict[n] = $7; info[n] = $8
    if ($7 == "met") met++; else missed++ }
  END {
    if (md) {
      for (h = 1; h <= nh; h++) printf "Host: %s\n", hosts[h]
      if (nh > 1) printf "(more than one host line: the programs did not agree on the host)\n"
      printf "\n| program | target | figure | floor or peer | x | bound | verdict |\n"
      printf "|---|---|---|---|---|---|---|\n"
      for (i = 1; i <= n; i++)
        printf "| %s | %s | %s | %s | %s | %s | **%s** |\n", prog[i], name[i],
               fig[i], flo[i], ratio[i], bound[i], verdict[i]
      printf "\n%d met, %d missed.\n", met, missed
      exit
    }
    printf "\n==== Summary of every target of this make bench ====\n"
    for (h = 1; h <= nh; h++) printf "host: %s\n", hosts[h]
    for (i = 1; i <= n; i++) {
      printf "%-16s %-52s %s\n", prog[i], name[i], verdict[i]
      printf "    %s against %s: %s x, bound %s\n", fig[i], flo[i], ratio[i],
             bound[i]
      if (info[i] != "") printf "    %s\n", info[i]
    }
    printf "%d met, %d missed (shared or virtual hosts are noisy: a report, not a test).\n",
           met, missed
  }' "$file"
