/*
 * test-prot-uffd.c: write-only protection changes through userfaultfd
 * (prot-uffd.c): same results as mprotect, constant mapping count.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Exits 77 (skip) when the running kernel or the process cannot use
 * userfaultfd write-protection (seccomp, old kernel).
 */
#include "testutil.h"

#define RW (PROT_READ | PROT_WRITE)

static volatile int calls, last_signo, last_access;
static void *volatile last_addr;

static int h_unprot(const struct uvm_fault *f)
{
    calls++;
    last_signo = f->signo;
    last_access = f->access;
    last_addr = f->addr;
    uvm_unprot(f->page, RW);
    return UVM_RETRY;
}

static unsigned long uffd_changes(void)
{
    struct uvm_stats st;
    uvm_stats(&st);
    return st.prot_uffd;
}

START_TEST(write_only_changes_use_uffd_and_keep_the_map_count)
{
    enum { N = 64 };
    char *m = map_pages(N, RW);
    ck_assert_ptr_nonnull(uvm_trap(m, N * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);     /* registers */
    poke(m, 1);
    size_t maps = maps_count_in(m, N * PS);   /* not the allocator's */
    unsigned long before = uffd_changes();
    for (int i = 0; i < 400; i++) {
        char *p = m + (size_t)((i * 7) % N) * PS;
        ck_assert_int_eq(uvm_prot1(p, PROT_READ), 0);
        (void)peek(p + 5);                           /* reads do not trap */
        int c = calls;
        poke(p + 9, (char)i);
        ck_assert_int_eq(calls, c + 1);
        ck_assert_int_eq(last_signo, SIGSEGV);
        ck_assert_int_eq(last_access, UVM_ACCESS_WRITE);
        ck_assert_ptr_eq(last_addr, p + 9);
        ck_assert_int_eq(peek(p + 9), (char)i);
    }
    ck_assert_uint_eq(uffd_changes() - before, 800);  /* 400 PROT1 + UNPROT */
    ck_assert_uint_eq(maps_count_in(m, N * PS), maps);
    /* The mapping stayed read-write all along. */
    ck_assert_int_eq(maps_prot(m + 3 * PS, NULL, NULL), MAPPED_WITH(RW));
}
END_TEST

START_TEST(protn_write_protects_a_run_with_one_call)
{
    enum { N = 32 };
    char *m = map_pages(N, RW);
    ck_assert_ptr_nonnull(uvm_trap(m, N * PS, h_unprot, NULL));
    unsigned long before = uffd_changes();
    ck_assert_int_eq(uvm_protn(m, N, PROT_READ), 0);
    ck_assert_uint_eq(uffd_changes() - before, 1);
    for (int i = 0; i < N; i++)
        poke(m + (size_t)i * PS, 1);
    ck_assert_int_eq(calls, N);
    for (int i = 0; i < N; i++)
        poke(m + (size_t)i * PS, 2);                 /* all writable now */
    ck_assert_int_eq(calls, N);
}
END_TEST

START_TEST(mprotect_and_uffd_changes_mix)
{
    char *m = map_pages(4, RW);
    ck_assert_ptr_nonnull(uvm_trap(m, 4 * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_prot1(m + PS, PROT_READ), 0);     /* uffd */
    ck_assert_int_eq(uvm_prot1(m + PS, PROT_NONE), 0);     /* mprotect */
    ck_assert_int_eq(maps_prot(m + PS, NULL, NULL), MAPPED_WITH(PROT_NONE));
    (void)peek(m + PS);                                  /* read traps */
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_access, UVM_ACCESS_READ);
    /* The handler's UNPROT restored read-write with mprotect: no
     * write-protection left behind. */
    poke(m + PS, 3);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(uvm_prot1(m + PS, PROT_READ), 0);
    poke(m + PS, 4);
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(last_signo, SIGSEGV);
}
END_TEST

START_TEST(read_syscall_into_a_write_protected_page_is_efault)
{
    char *m = map_pages(2, RW);
    ck_assert_ptr_nonnull(uvm_trap(m, 2 * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    ck_assert_int_eq(write(pfd[1], "abcd", 4), 4);
    errno = 0;
    ck_assert_int_eq(read(pfd[0], m, 4), -1);
    ck_assert_int_eq(errno, EFAULT);
    ck_assert_int_eq(uvm_touch(m, 4, UVM_ACCESS_WRITE), 0);
    ck_assert_int_eq(read(pfd[0], m, 4), 4);
    ck_assert_int_eq(memcmp(m, "abcd", 4), 0);
}
END_TEST

START_TEST(untrap_leaves_write_protected_pages_read_only)
{
    char *m = map_pages(4, RW);
    uvm_region *r = uvm_trap(m, 4 * PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(uvm_prot1(m + 2 * PS, PROT_READ), 0);
    ck_assert_int_eq(maps_prot(m + 2 * PS, NULL, NULL), MAPPED_WITH(RW));
    ck_assert_int_eq(uvm_untrap(r), 0);
    ck_assert_int_eq(maps_prot(m + 2 * PS, NULL, NULL),
                     MAPPED_WITH(PROT_READ));
    ck_assert_int_eq(maps_prot(m, NULL, NULL), MAPPED_WITH(RW));
    poke(m, 1);                                  /* still writable */
}
END_TEST

START_TEST(a_fork_child_keeps_the_protection)
{
    char *m = map_pages(2, RW);
    ck_assert_ptr_nonnull(uvm_trap(m, 2 * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int ok = maps_prot(m, NULL, NULL) == MAPPED_WITH(PROT_READ);
        poke(m, 7);                    /* traps, through mprotect now */
        ok = ok && calls == 1 && peek(m) == 7;
        ok = ok && uvm_prot1(m, PROT_READ) == 0;
        poke(m, 8);
        _exit(ok && calls == 2 ? 0 : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    /* The parent still uses userfaultfd. */
    poke(m, 9);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_signo, SIGSEGV);
}
END_TEST

START_TEST(backend_mprotect_in_the_environment_forces_mprotect)
{
    setenv("UVM_BACKEND", "mprotect", 1);
    char *m = map_pages(8, RW);
    ck_assert_ptr_nonnull(uvm_trap(m, 8 * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_protn(m, 8, RW), 0);   /* libuvm's first-use maps */
    size_t maps = maps_count();
    ck_assert_int_eq(uvm_prot1(m + 3 * PS, PROT_READ), 0);
    ck_assert_uint_eq(uffd_changes(), 0);
    ck_assert_uint_eq(maps_count(), maps + 2);         /* split by mprotect */
    poke(m + 3 * PS, 1);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_signo, SIGSEGV);
}
END_TEST

START_TEST(regions_that_are_not_all_read_write_use_mprotect)
{
    char *m = map_pages(4, RW);
    ck_assert_int_eq(mprotect(m + PS, PS, PROT_NONE), 0);
    ck_assert_ptr_nonnull(uvm_trap(m, 4 * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_prot1(m + 2 * PS, PROT_READ), 0);
    ck_assert_uint_eq(uffd_changes(), 0);
    ck_assert_int_eq(maps_prot(m + 2 * PS, NULL, NULL),
                     MAPPED_WITH(PROT_READ));
}
END_TEST

/* The libsigsegv fault layer delivers no SIGBUS, so the userfaultfd
 * backend, whose write faults are SIGBUS, is never used: write-only
 * changes go to mprotect and still trap (uvm_trap(3), FAULT LAYERS). */
START_TEST(libsigsegv_layer_makes_write_only_changes_with_mprotect)
{
    char *m = map_pages(8, RW);
    ck_assert_ptr_nonnull(uvm_trap(m, 8 * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_protn(m, 8, RW), 0);
    size_t maps = maps_count();
    ck_assert_int_eq(uvm_prot1(m + 3 * PS, PROT_READ), 0);
    ck_assert_uint_eq(uffd_changes(), 0);
    ck_assert_uint_eq(maps_count(), maps + 2);         /* split by mprotect */
    ck_assert_int_eq(maps_prot(m + 3 * PS, NULL, NULL),
                     MAPPED_WITH(PROT_READ));
    poke(m + 3 * PS + 9, 1);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_signo, SIGSEGV);
    ck_assert_int_eq(last_access, UVM_ACCESS_UNKNOWN);
    ck_assert_ptr_eq(last_addr, m + 3 * PS + 9);
    ck_assert_int_eq(peek(m + 3 * PS + 9), 1);
}
END_TEST

/* Can this process write-protect with userfaultfd at all? */
static int uffd_usable(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *m = mmap(NULL, PS, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (uvm_trap(m, PS, h_unprot, NULL) == NULL ||
            uvm_prot1(m, PROT_READ) != 0)
            _exit(2);
        _exit(uffd_changes() == 1 ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void)
{
    if (strcmp(uvm_fault_layer(), "native") != 0) {
        Suite *s = suite_create("prot-uffd");
        TCase *tc = tcase_create("libsigsegv");
        tcase_add_test(tc,
                       libsigsegv_layer_makes_write_only_changes_with_mprotect);
        suite_add_tcase(s, tc);
        return run_suite(s);
    }
    if (!uffd_usable()) {
        printf("userfaultfd write-protection is not available here: skip\n");
        return 77;
    }
    Suite *s = suite_create("prot-uffd");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, write_only_changes_use_uffd_and_keep_the_map_count);
    tcase_add_test(tc, protn_write_protects_a_run_with_one_call);
    tcase_add_test(tc, mprotect_and_uffd_changes_mix);
    tcase_add_test(tc, read_syscall_into_a_write_protected_page_is_efault);
    tcase_add_test(tc, untrap_leaves_write_protected_pages_read_only);
    tcase_add_test(tc, a_fork_child_keeps_the_protection);
    tcase_add_test(tc, backend_mprotect_in_the_environment_forces_mprotect);
    tcase_add_test(tc, regions_that_are_not_all_read_write_use_mprotect);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
