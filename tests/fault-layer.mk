# The libsigsegv fault layer (issue 8): make check-libsigsegv builds the
# package again below $(abs_top_builddir)/layer/libsigsegv with
#   ./configure --enable-debug --with-fault-layer=libsigsegv
# and runs the whole make check there, so that CI checks both layers:
#   make check && make check-libsigsegv
# The logs stay in layer/libsigsegv (tests/*.log, test-suite.log); make
# clean removes them.  Included by the top-level Makefile.am.
# SPDX-License-Identifier: MIT

UVM_LAYER_DIR = $(abs_top_builddir)/layer

# Configure from the source tree, unless it is itself configured (an
# in-tree build, as in the README): configure refuses that, and VPATH would
# find the native layer's objects there.  Then from a copy made by make
# distdir into layer/src.
.PHONY: check-libsigsegv uvm-layer-clean
check-libsigsegv:
	@src='$(abs_top_srcdir)'; \
	if test -f "$$src/config.status"; then \
	  echo "  DISTDIR  $(UVM_LAYER_DIR)/src"; \
	  mkdir -p '$(UVM_LAYER_DIR)' && \
	  $(MAKE) $(AM_MAKEFLAGS) distdir distdir='$(UVM_LAYER_DIR)/src' \
	    >/dev/null || exit 1; \
	  src='$(UVM_LAYER_DIR)/src'; \
	fi; \
	d='$(UVM_LAYER_DIR)/libsigsegv'; \
	mkdir -p "$$d" && cd "$$d" && \
	{ test -f Makefile || { echo "  CONFIGURE $$d"; \
	  "$$src/configure" --enable-debug --with-fault-layer=libsigsegv \
	    CC='$(CC)' > configure.out 2>&1 || \
	  { tail -n 20 configure.out; exit 1; }; }; } && \
	echo "  CHECK    $$d" && $(MAKE) $(AM_MAKEFLAGS) check

clean-local: uvm-layer-clean
uvm-layer-clean:
	-rm -rf '$(UVM_LAYER_DIR)'
