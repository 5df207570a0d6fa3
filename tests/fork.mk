# The fork matrix (issue 13): every kind of live object times what a child
# may do with it, while another thread of the parent is inside the library.
# SPDX-License-Identifier: MIT
check_PROGRAMS += tests/test-fork
TESTS += tests/test-fork
tests_test_fork_SOURCES = tests/test-fork.c tests/testutil.h
tests_test_fork_CFLAGS = $(TEST_CFLAGS)
tests_test_fork_LDADD = $(TEST_LIBS)
