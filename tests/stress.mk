# The stress test (issue 8), included by the top Makefile.am.
# SPDX-License-Identifier: MIT
#
# tests/stress runs every primitive from ten threads at once with exact
# checks (see its header).  make check runs it for a few seconds;
# make check-long for STRESS_LONG_SECONDS.  Rerun a failure with the seed
# it prints: tests/stress SECONDS SEED.

check_PROGRAMS += tests/stress
TESTS += tests/stress
tests_stress_SOURCES = tests/stress.c
tests_stress_CFLAGS = $(AM_CFLAGS)
tests_stress_LDADD = lib/libuvm.la

STRESS_LONG_SECONDS = 300
.PHONY: check-long stress-long
check-long: stress-long
stress-long: tests/stress$(EXEEXT)
	./tests/stress $(STRESS_LONG_SECONDS)
	UVM_BACKEND=mprotect ./tests/stress 60
