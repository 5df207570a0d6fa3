#!/bin/sh
# smoke.sh: the benchmark runs and its self-checks hold (trap counts, one
# kernel call per primitive).  Times are not judged here: performance
# targets belong to `make bench`, never to timed unit tests.
#
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The libuvm authors.  See LICENSE.
# UVM_BENCH_SMOKE_ROWS, when set, names the rows (the sanitizer builds of
# tests/sanitizers.mk leave out the 100,000-region row, 15 minutes there).
exec ./bench/uvm-bench --quick --blocks 3 --rounds 3 ${UVM_BENCH_SMOKE_ROWS-}
