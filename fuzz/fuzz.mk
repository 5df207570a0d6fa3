# The libFuzzer harness (issue 8), included by the top Makefile.am.
# SPDX-License-Identifier: MIT
#
# make fuzz        build fuzz/fuzz-uvm and run it for FUZZ_SECONDS (600)
# make fuzz-smoke  replay the checked-in corpus (both backends), then fuzz
#                  for FUZZ_SMOKE_SECONDS (30)
#
# Not part of make check.  The harness is built with clang and
# -fsanitize=fuzzer,address,undefined from the library's sources directly
# (libtool's library is not instrumented), with invariant checks on.
# Inputs found go to fuzz/corpus in the build tree; crashes to
# fuzz/crash-*.  Needs clang and its libFuzzer runtime (Debian: clang,
# libclang-rt-dev or libclang-rt-14-dev).

FUZZ_CC = clang
FUZZ_SECONDS = 600
FUZZ_SMOKE_SECONDS = 30
FUZZ_FLAGS = -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -g -O1 -pthread
FUZZ_RUN_FLAGS = -timeout=20 -rss_limit_mb=4096 -max_len=512 \
	-artifact_prefix=fuzz/
EXTRA_DIST += fuzz/fuzz-uvm.c fuzz/README.md fuzz/corpus
CLEANFILES += fuzz/fuzz-uvm

.PHONY: fuzz fuzz-smoke fuzz-check-cc
fuzz-check-cc:
	@echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' \
	    > fuzz-probe.c; \
	if ! $(FUZZ_CC) -fsanitize=fuzzer fuzz-probe.c -o fuzz-probe \
	    >/dev/null 2>&1; then \
	    rm -f fuzz-probe.c fuzz-probe; \
	    echo "make fuzz: '$(FUZZ_CC) -fsanitize=fuzzer' does not work here;"; \
	    echo "install clang and its libFuzzer runtime (Debian: clang libclang-rt-14-dev)"; \
	    echo "or run make fuzz FUZZ_CC=/path/to/clang"; \
	    exit 1; \
	fi; rm -f fuzz-probe.c fuzz-probe

# Every .c file of the library, as listed in lib_libuvm_la_SOURCES.
fuzz/fuzz-uvm: fuzz/fuzz-uvm.c $(lib_libuvm_la_SOURCES) config.h
	@$(MAKE) $(AM_MAKEFLAGS) fuzz-check-cc
	@$(MKDIR_P) fuzz
	srcs=; for f in $(lib_libuvm_la_SOURCES); do \
	    case $$f in *.c) srcs="$$srcs $(srcdir)/$$f";; esac; done; \
	$(FUZZ_CC) $(FUZZ_FLAGS) -DUVM_DEBUG=1 -I$(top_srcdir)/include \
	    -I$(top_builddir) $(UNWIND_CFLAGS) -o $@ \
	    $(srcdir)/fuzz/fuzz-uvm.c $$srcs $(lib_libuvm_la_LIBADD)

fuzz: fuzz/fuzz-uvm
	@$(MKDIR_P) fuzz/corpus
	./fuzz/fuzz-uvm $(FUZZ_RUN_FLAGS) -max_total_time=$(FUZZ_SECONDS) \
	    -print_final_stats=1 fuzz/corpus $(srcdir)/fuzz/corpus

fuzz-smoke: fuzz/fuzz-uvm
	@$(MKDIR_P) fuzz/corpus
	./fuzz/fuzz-uvm $(FUZZ_RUN_FLAGS) -runs=0 $(srcdir)/fuzz/corpus
	UVM_BACKEND=mprotect ./fuzz/fuzz-uvm $(FUZZ_RUN_FLAGS) -runs=0 \
	    $(srcdir)/fuzz/corpus
	./fuzz/fuzz-uvm $(FUZZ_RUN_FLAGS) \
	    -max_total_time=$(FUZZ_SMOKE_SECONDS) -print_final_stats=1 \
	    fuzz/corpus $(srcdir)/fuzz/corpus
