#!/bin/sh
# check.sh: make check for uvm-kvsave.  Saves a 16 MiB store in the
# background in every way this build has, and verifies every image byte
# for byte against the store at the snapshot instant (uvm-kvsave does the
# verification and exits 3 when an image is wrong).  Then runs the
# negative control, which writes the live range with no snapshot: its
# image must fail verification, or the verification proves nothing.
# Timing targets are never judged here.
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The libuvm authors.  See LICENSE.
set -u
kv=examples/kvsave/uvm-kvsave
tmp=${TMPDIR:-/tmp}/uvm-kvsave-check.$$
mkdir -p "$tmp" || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0
small="--size 16M --warm 50 --tail 20 --timeout 120 --dir $tmp"

$kv $small --ways fork,undo,redo --plot "$tmp/kv.png" > "$tmp/all.out" 2>&1
rc=$?
cat "$tmp/all.out"
if [ $rc -eq 0 ]; then echo "ok   every image verified"
else echo "FAIL uvm-kvsave exited $rc"; fail=1; fi
for w in fork undo redo; do
    if grep -q "^$w .* yes\$" "$tmp/all.out"; then echo "ok   $w verified"
    else echo "FAIL $w not verified"; fail=1; fi
    # The writer changed keys after the instant, so the image differs from
    # the store's end state: the comparison could have failed.
    if grep -q "^  $w: .*; [1-9][0-9]* keys changed" "$tmp/all.out"
    then echo "ok   $w: writes after the instant"
    else echo "FAIL $w: no write after the instant"; fail=1; fi
done
if command -v gnuplot >/dev/null 2>&1; then
    if [ -s "$tmp/kv.png" ]; then echo "ok   plot"
    else echo "FAIL plot"; fail=1; fi
else
    echo "skip plot (gnuplot not installed)"
fi

$kv $small --ways live > "$tmp/live.out" 2>&1
rc=$?
if [ $rc -eq 3 ] && grep -q "^live: image differs" "$tmp/live.out"
then echo "ok   the live control fails verification"
else echo "FAIL the live control exited $rc"; cat "$tmp/live.out"; fail=1; fi
exit $fail
