# Sanitizers (issue 8): make check-sanitizers builds the package twice more,
# below $(abs_top_builddir)/san, and runs
#   san/asan   ./configure --enable-debug --enable-sanitizers   make check
#              (ASan + UBSan, the whole suite)
#   san/tsan   ./configure --enable-debug --enable-tsan
#              make check TESTS="$(UVM_TSAN_TESTS)"
# make check-asan and make check-tsan run one of them.  The logs stay in
# san/asan and san/tsan (tests/*.log, test-suite.log, ...); make clean
# removes them.  Included by the top-level Makefile.am.
# SPDX-License-Identifier: MIT

# Only the tests that start threads run under TSan: a race needs two
# threads, and the rest of the suite would only take longer.  Each one is
# here for its threads:
#   tests/test-dispatch   faulting threads against uvm_trap/uvm_untrap churn
#                         (the hazard pointers and call slots of thread.c)
#   tests/test-dirty      writers racing a DIRTY scan
#   tests/test-map2       threads churning uvm_alloc/uvm_free
#   tests/test-stackoverflow  threads' alternate stacks, made and reused
#   tests/test-security   the environment read and signals sent from threads
#   examples/gc/check.sh  the collector's --concurrent background thread
#   bench/smoke.sh        the benchmark's threaded row (bench/threads.c)
#   tests/test-snap       writers during snapshots, saves, restores and the
#                         last release (the chain's publication, the store's
#                         slots and grace periods, the journal)
#   tests/stress          every primitive from ten threads at once
# The snapshot module copies live pages that other threads write, ordered
# only by page protection, which TSan cannot see (and uvm_snap_restore and
# uvm_snap_diff touch writable pages that a caller may write at the same
# time, the caller's own race): those accesses, and only those, are
# annotated where they happen (lib/sanitizer.h), not suppressed.
UVM_TSAN_TESTS = tests/test-dispatch tests/test-dirty tests/test-map2 \
	tests/test-stackoverflow tests/test-security tests/test-snap \
	tests/stress examples/gc/check.sh bench/smoke.sh

# The run-time options, exported to every test of a sanitizer build (and to
# the programs the tests start).  halt_on_error: every report fails the
# test that caused it.  The suppression files say why each of their entries
# is a false positive.
#  - handle_segv=0, handle_sigbus=0 (both): libuvm installs its own
#    SIGSEGV/SIGBUS action, and the faults that reach it are its job;
#    unclaimed ones it hands to the default action, which must then kill
#    the process as it would without a sanitizer.  allow_user_segv_handler=1
#    (ASan): let the library install its action.
#  - use_sigaltstack=0 (both): the sanitizers give each thread a small
#    alternate signal stack (about 54 KiB here); libuvm keeps a stack it
#    finds rather than install its own 256 KiB one (lib/thread.c), and
#    UVM_MAX_NESTING nested faults overflowed it ("overflowed sigaltstack").
#  - detect_stack_use_after_return=1 (ASan): locals whose address is taken
#    live on a heap "fake stack", so a pointer to a dead frame's local is
#    caught.  libuvm and its tests therefore compare stack pointers with
#    __builtin_frame_address(0), never with the address of a local.
#  - CK_TIMEOUT_MULTIPLIER: the Check suites' time limits are for builds
#    without a sanitizer, which run several times faster.
# TSan delays asynchronous signals to the next interceptor, but not the
# synchronous faults: they reach libuvm at once.  lib/sanitizer.h has what
# the fault path itself does for each sanitizer.
UVM_SAN_SUPP = $(abs_top_srcdir)/tests/sanitizers
EXTRA_DIST += tests/sanitizers/lsan.supp tests/sanitizers/tsan.supp
if UVM_ASAN
export ASAN_OPTIONS = handle_segv=0:handle_sigbus=0:allow_user_segv_handler=1:use_sigaltstack=0:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:halt_on_error=1
export LSAN_OPTIONS = suppressions=$(UVM_SAN_SUPP)/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS = print_stacktrace=1:halt_on_error=1
export CK_TIMEOUT_MULTIPLIER = 4
endif
if UVM_TSAN
export TSAN_OPTIONS = handle_segv=0:handle_sigbus=0:use_sigaltstack=0:halt_on_error=1:history_size=7:second_deadlock_stack=1:suppressions=$(UVM_SAN_SUPP)/tsan.supp:print_suppressions=0
export CK_TIMEOUT_MULTIPLIER = 4
endif
# bench/smoke.sh runs these rows of the benchmark.  Not the regions row: in
# a debug build every uvm_trap checks the whole region tree, and with
# 100,000 regions and ASan's 10x that took 15 minutes; region.c is covered
# by the Check suites.  Under TSan, only the row with threads.
if UVM_ASAN
export UVM_BENCH_SMOKE_ROWS = add trap prot1 protn map2 table1 dirty threads \
	snapshot efault maplimit
endif
if UVM_TSAN
export UVM_BENCH_SMOKE_ROWS = threads
endif

# What the fault path tells the sanitizers (empty in other builds).
lib_libuvm_la_SOURCES += lib/sanitizer.h

UVM_SAN_DIR = $(abs_top_builddir)/san
# The sanitizer builds configure from the source tree, unless that tree is
# itself configured (an in-tree build, as in the README): configure refuses
# that, and VPATH would find the uninstrumented objects there.  Then they
# configure from a copy, made by make distdir into san/src (cp -p: the copy
# keeps the times, so a second run rebuilds only what changed).
uvm_san_srcdir = if test -f '$(abs_top_srcdir)/config.status'; then \
	echo '$(UVM_SAN_DIR)/src'; else echo '$(abs_top_srcdir)'; fi

.PHONY: check-sanitizers check-asan check-tsan uvm-san-src uvm-san-clean
check-sanitizers:
	@st=0; \
	$(MAKE) $(AM_MAKEFLAGS) check-asan || st=1; \
	$(MAKE) $(AM_MAKEFLAGS) check-tsan || st=1; \
	if test $$st = 0; then echo "check-sanitizers: ASan+UBSan and TSan clean"; \
	else echo "check-sanitizers: FAILED; see $(UVM_SAN_DIR)/asan and $(UVM_SAN_DIR)/tsan: test-suite.log, tests/*.log"; fi; \
	exit $$st

uvm-san-src:
	@if test -f '$(abs_top_srcdir)/config.status'; then \
	  echo "  DISTDIR  $(UVM_SAN_DIR)/src"; \
	  mkdir -p '$(UVM_SAN_DIR)' && \
	  $(MAKE) $(AM_MAKEFLAGS) distdir distdir='$(UVM_SAN_DIR)/src' >/dev/null; \
	fi

# The shell function run: the build directory below san/, the configure
# option, then the arguments for make check.
uvm_san_check = run() { src=`$(uvm_san_srcdir)`; d='$(UVM_SAN_DIR)'/$$1; \
	opt=$$2; shift 2; mkdir -p "$$d" && cd "$$d" && \
	{ test -f Makefile || { echo "  CONFIGURE $$d"; \
	  "$$src/configure" --enable-debug $$opt CC='$(CC)' > configure.out 2>&1 || \
	  { tail -n 20 configure.out; exit 1; }; }; } && \
	echo "  CHECK    $$d" && $(MAKE) $(AM_MAKEFLAGS) check "$$@"; }; run

check-asan: uvm-san-src
	@$(uvm_san_check) asan --enable-sanitizers
check-tsan: uvm-san-src
	@$(uvm_san_check) tsan --enable-tsan TESTS='$(UVM_TSAN_TESTS)'

clean-local: uvm-san-clean
uvm-san-clean:
	-rm -rf '$(UVM_SAN_DIR)'
