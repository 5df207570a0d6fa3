#!/bin/sh
# smoke.sh: the benchmark runs and its self-checks hold (trap counts, one
# kernel call per primitive).  Times are not judged here: performance
# targets belong to `make bench`, never to timed unit tests.
#
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The libuvm authors.  See LICENSE.
exec ./bench/uvm-bench --quick --blocks 3 --rounds 3
