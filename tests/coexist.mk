# Issue 8: living with other fault handlers (test-coexist, and with Boehm's
# collector test-coexist-gc), security (test-security) and degraded kernels
# (test-degraded).  Included by the top Makefile.am.
# SPDX-License-Identifier: MIT

check_PROGRAMS += tests/test-coexist tests/test-coexist-gc \
	tests/test-security tests/test-degraded
TESTS += tests/test-coexist tests/test-coexist-gc \
	tests/test-security tests/test-degraded

# libsigsegv is GPLv2+: only this test links it, never the library.
tests_test_coexist_SOURCES = tests/test-coexist.c tests/testutil.h
tests_test_coexist_CFLAGS = $(TEST_CFLAGS)
tests_test_coexist_LDADD = $(TEST_LIBS) $(SIGSEGV_LIBS)

# The same source, Boehm GC part only; exits 77 when configure found no
# libgc (bdw-gc.pc).
tests_test_coexist_gc_SOURCES = tests/test-coexist.c tests/testutil.h
tests_test_coexist_gc_CFLAGS = $(TEST_CFLAGS) $(GC_CFLAGS) -DCOEXIST_GC=1
tests_test_coexist_gc_LDADD = $(TEST_LIBS) $(GC_LIBS)

tests_test_security_SOURCES = tests/test-security.c tests/testutil.h
tests_test_security_CFLAGS = $(TEST_CFLAGS)
tests_test_security_LDADD = $(TEST_LIBS)

tests_test_degraded_SOURCES = tests/test-degraded.c tests/testutil.h
tests_test_degraded_CFLAGS = $(TEST_CFLAGS)
tests_test_degraded_LDADD = $(TEST_LIBS)
