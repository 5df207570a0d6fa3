/*
 * test-prot.c: PROT1, PROTN, PROTV, UNPROT: arguments, errors, batching
 * and all-or-nothing changes at the mapping limit.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 */
#include "testutil.h"

#define RW (PROT_READ | PROT_WRITE)

START_TEST(prot_rejects_bad_arguments)
{
    char *m = map_pages(2, RW);
    errno = 0;
    ck_assert_int_eq(uvm_prot1(m + 1, PROT_READ), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(uvm_unprot(m + 8, PROT_READ), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(uvm_prot1(m, 0x80), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(uvm_protn(m, 0, PROT_READ), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(uvm_protn(m + 1, 1, PROT_READ), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(uvm_protn(m, SIZE_MAX / 2, PROT_READ), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(uvm_protv(NULL, 1, PROT_READ), -1);
    ck_assert_int_eq(errno, EINVAL);
    void *pv[2] = { m, m + 3 };
    errno = 0;
    ck_assert_int_eq(uvm_protv(pv, 0, PROT_READ), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(uvm_protv(pv, 2, PROT_READ), -1);
    ck_assert_int_eq(errno, EINVAL);
    /* Nothing changed. */
    ck_assert_int_eq(maps_prot(m, NULL, NULL), MAPPED_WITH(RW));
}
END_TEST

START_TEST(prot_of_unmapped_pages_is_enomem)
{
    char *u = unmapped_pages(4);
    errno = 0;
    ck_assert_int_eq(uvm_prot1(u, PROT_READ), -1);
    ck_assert_int_eq(errno, ENOMEM);
    errno = 0;
    ck_assert_int_eq(uvm_protn(u, 4, PROT_READ), -1);
    ck_assert_int_eq(errno, ENOMEM);
    void *pv[1] = { u + PS };
    errno = 0;
    ck_assert_int_eq(uvm_protv(pv, 1, PROT_READ), -1);
    ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

START_TEST(protn_across_a_hole_changes_nothing)
{
    char *m = map_pages(3, RW);
    ck_assert_int_eq(munmap(m + 2 * PS, PS), 0);
    errno = 0;
    ck_assert_int_eq(uvm_protn(m, 3, PROT_READ), -1);
    ck_assert_int_eq(errno, ENOMEM);
    ck_assert_int_eq(maps_prot(m, NULL, NULL), MAPPED_WITH(RW));
    ck_assert_int_eq(maps_prot(m + PS, NULL, NULL), MAPPED_WITH(RW));
}
END_TEST

START_TEST(prot_write_on_readonly_file_mapping_is_eacces)
{
    char path[] = "/tmp/uvm-test-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)PS), 0);
    close(fd);
    fd = open(path, O_RDONLY);
    unlink(path);
    char *m = mmap(NULL, PS, PROT_READ, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(m, MAP_FAILED);
    errno = 0;
    ck_assert_int_eq(uvm_prot1(m, RW), -1);
    ck_assert_int_eq(errno, EACCES);
    errno = 0;
    ck_assert_int_eq(uvm_protn(m, 1, RW), -1);
    ck_assert_int_eq(errno, EACCES);
    close(fd);
}
END_TEST

START_TEST(prot1_protn_unprot_set_the_protection)
{
    char *m = map_pages(4, RW);
    ck_assert_int_eq(uvm_prot1(m + PS, PROT_NONE), 0);
    ck_assert_int_eq(maps_prot(m + PS, NULL, NULL), MAPPED_WITH(PROT_NONE));
    ck_assert_int_eq(maps_prot(m, NULL, NULL), MAPPED_WITH(RW));
    ck_assert_int_eq(uvm_protn(m, 4, PROT_READ), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(maps_prot(m + i * PS, NULL, NULL),
                         MAPPED_WITH(PROT_READ));
    ck_assert_int_eq(uvm_unprot(m + 2 * PS, RW), 0);
    ck_assert_int_eq(maps_prot(m + 2 * PS, NULL, NULL), MAPPED_WITH(RW));
}
END_TEST

START_TEST(protv_sorts_dedups_and_makes_one_call_per_run)
{
    char *m = map_pages(10, RW);
    /* Pages 7, 1, 2, 3, 2, 8, 1: runs {1-3} and {7-8}. */
    void *pv[] = { m + 7 * PS, m + PS, m + 2 * PS, m + 3 * PS, m + 2 * PS,
                   m + 8 * PS, m + PS };
    struct uvm_stats a, b;
    uvm_stats(&a);
    ck_assert_int_eq(uvm_protv(pv, 7, PROT_READ), 0);
    uvm_stats(&b);
    ck_assert_uint_eq(b.prot_calls - a.prot_calls, 2);
    ck_assert_uint_eq(b.prot_pages - a.prot_pages, 5);
    const int want[10] = { RW, PROT_READ, PROT_READ, PROT_READ, RW, RW, RW,
                           PROT_READ, PROT_READ, RW };
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(maps_prot(m + i * PS, NULL, NULL),
                         MAPPED_WITH(want[i]));
}
END_TEST

START_TEST(protv_with_many_pages_spills_beyond_the_stack)
{
    enum { N = 5000 };
    char *m = map_pages(N, RW);
    static void *pv[N];
    for (int i = 0; i < N; i++)
        pv[i] = m + (size_t)(N - 1 - i) * PS;     /* reverse order */
    struct uvm_stats a, b;
    uvm_stats(&a);
    ck_assert_int_eq(uvm_protv(pv, N, PROT_READ), 0);
    uvm_stats(&b);
    ck_assert_uint_eq(b.prot_calls - a.prot_calls, 1);
    uintptr_t lo, hi;
    ck_assert_int_eq(maps_prot(m, &lo, &hi), MAPPED_WITH(PROT_READ));
    ck_assert_uint_eq(lo, (uintptr_t)m);
    ck_assert_uint_eq(hi, (uintptr_t)m + N * PS);
}
END_TEST

/* Alternating pages need two new mappings each: with more of them than the
 * mapping limit leaves, the kernel fails part-way.  uvm_protv must undo
 * what it changed, and the process must go on. */
START_TEST(protv_changes_nothing_on_enomem_at_the_map_limit)
{
    long limit = read_long_file("/proc/sys/vm/max_map_count", 65530);
    /* libuvm's own first-use mappings (thread records) come first. */
    char *warm = map_pages(1, RW);
    ck_assert_int_eq(uvm_prot1(warm, RW), 0);
    size_t have = maps_count();
    size_t runs = (size_t)limit - have;          /* needs 2 * runs maps */
    size_t npages = 2 * runs + 2;
    char *m = map_pages(npages, RW);
    void **pv = malloc(runs * sizeof *pv);
    ck_assert_ptr_nonnull(pv);
    for (size_t i = 0; i < runs; i++)
        pv[i] = m + (2 * i + 1) * PS;
    struct uvm_stats a, b;
    uvm_stats(&a);
    errno = 0;
    ck_assert_int_eq(uvm_protv(pv, runs, PROT_READ), -1);
    ck_assert_int_eq(errno, ENOMEM);
    uvm_stats(&b);
    ck_assert_uint_eq(b.prot_rollbacks - a.prot_rollbacks, 1);
    /* All read-write again, and writable in fact, and the mappings the
     * failed change split are merged again. */
    ck_assert(maps_range_is(m, npages * PS, RW));
    for (size_t i = 0; i < npages; i += 97)
        poke(m + i * PS, 1);
    ck_assert_uint_eq(maps_count_in(m, npages * PS), 1);
    free(pv);
}
END_TEST

static Suite *prot_suite(void)
{
    Suite *s = suite_create("prot");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, prot_rejects_bad_arguments);
    tcase_add_test(tc, prot_of_unmapped_pages_is_enomem);
    tcase_add_test(tc, protn_across_a_hole_changes_nothing);
    tcase_add_test(tc, prot_write_on_readonly_file_mapping_is_eacces);
    tcase_add_test(tc, prot1_protn_unprot_set_the_protection);
    tcase_add_test(tc, protv_sorts_dedups_and_makes_one_call_per_run);
    tcase_add_test(tc, protv_with_many_pages_spills_beyond_the_stack);
    suite_add_tcase(s, tc);
    tc = tcase_create("limit");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, protv_changes_nothing_on_enomem_at_the_map_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(prot_suite());
}
