# Snapshots (issue 7): sources, tests and benchmark.
# SPDX-License-Identifier: MIT

# lib/snap.c is listed in Makefile.am; the rest of the module is here.
lib_libuvm_la_SOURCES += lib/snap.h lib/snap-store.c lib/snap-fault.c \
	lib/snap-view.c lib/snap-redo.c

check_PROGRAMS += tests/test-snap
TESTS += tests/test-snap
tests_test_snap_SOURCES = tests/test-snap.c tests/testutil.h
tests_test_snap_CFLAGS = $(TEST_CFLAGS)
tests_test_snap_LDADD = $(TEST_LIBS)

# The tracked (redo) design's own cases (snap-redo.c).
check_PROGRAMS += tests/test-snap-redo
TESTS += tests/test-snap-redo
tests_test_snap_redo_SOURCES = tests/test-snap-redo.c tests/testutil.h
tests_test_snap_redo_CFLAGS = $(TEST_CFLAGS)
tests_test_snap_redo_LDADD = $(TEST_LIBS)

# The long randomized run (>= 10^5 operations).
.PHONY: check-long
check-long: tests/test-snap$(EXEEXT)
	UVM_SNAP_OPS=100000 ./tests/test-snap

# The snapshot benchmark, run by make bench (and alone by make bench-snap).
noinst_PROGRAMS += bench/uvm-bench-snap
bench_uvm_bench_snap_CFLAGS = $(AM_CFLAGS)
bench_uvm_bench_snap_LDADD = lib/libuvm.la
.PHONY: bench-snap
bench: bench-snap
bench-snap: bench/uvm-bench-snap$(EXEEXT) examples/kvsave/uvm-kvsave$(EXEEXT)
	./bench/uvm-bench-snap
	@echo "bench-snap: the forkless save, full size (examples/kvsave)"
	./examples/kvsave/uvm-kvsave --size 256M --plot kvsave-256M.png
	./examples/kvsave/uvm-kvsave --size 1G --plot kvsave-1G.png
