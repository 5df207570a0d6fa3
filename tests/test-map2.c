/*
 * test-map2.c: the MAP2 suite (uvm_alloc, uvm_map2, uvm_free).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Each test proves one property of the contract (uvm_map2(3)) or
 * of issue 3: zeroed page-aligned memory, writes seen through every view
 * whatever its protection, EINVAL for memory that is not ours, partial
 * unmapping, and the object dying with its last view.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uvm.h>

static size_t ps;

static void setup(void) { ps = uvm_pagesize(); }

/* Open descriptors of this process that are memfds made by libuvm. */
static int count_uvm_memfds(int *fd_out)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    char path[300], link[256];
    while ((e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(path, link, sizeof link - 1);
        if (k <= 0)
            continue;
        link[k] = 0;
        if (strncmp(link, "/memfd:uvm", 10) == 0) {
            n++;
            if (fd_out)
                *fd_out = atoi(e->d_name);
        }
    }
    closedir(d);
    return n;
}

START_TEST(alloc_is_zeroed_page_aligned_and_rounds_up)
{
    unsigned char *p = uvm_alloc(3 * ps + 1, PROT_READ | PROT_WRITE);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % ps, 0);
    for (size_t i = 0; i < 4 * ps; i++)
        ck_assert_uint_eq(p[i], 0);
    p[4 * ps - 1] = 1;                    /* the rounded-up page exists */
    ck_assert_int_eq(uvm_free(p, 4 * ps), 0);
}
END_TEST

/* A memory object is a file: growing it past RLIMIT_FSIZE would raise
 * SIGXFSZ and kill the process.  uvm_alloc refuses first. */
START_TEST(alloc_past_the_file_size_limit_is_enomem_not_sigxfsz)
{
    struct rlimit rl = { 16 * ps, RLIM_INFINITY };
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    errno = 0;
    ck_assert_ptr_null(uvm_alloc(64 * ps, PROT_READ | PROT_WRITE));
    ck_assert_int_eq(errno, ENOMEM);
    void *p = uvm_alloc(16 * ps, PROT_READ | PROT_WRITE);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(uvm_free(p, 16 * ps), 0);
}
END_TEST

START_TEST(alloc_rejects_zero_length_and_bad_prot)
{
    errno = 0;
    ck_assert_ptr_null(uvm_alloc(0, PROT_READ));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(uvm_alloc(ps, 0x100));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(uvm_alloc(SIZE_MAX, PROT_READ));
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(map2_writes_are_seen_through_both_views)
{
    char *a = uvm_alloc(4 * ps, PROT_READ | PROT_WRITE);
    ck_assert_ptr_nonnull(a);
    char *b = uvm_map2(a, 4 * ps, PROT_READ | PROT_WRITE);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    strcpy(a + ps, "through a");
    ck_assert_str_eq(b + ps, "through a");
    strcpy(b + 3 * ps, "through b");
    ck_assert_str_eq(a + 3 * ps, "through b");
    ck_assert_int_eq(uvm_free(a, 4 * ps), 0);
    ck_assert_str_eq(b + ps, "through a");    /* pages outlive view a */
    ck_assert_int_eq(uvm_free(b, 4 * ps), 0);
}
END_TEST

/* The collector/mutator set-up: one view PROT_NONE, the other writable. */
static int unprotect_handler(const struct uvm_fault *f)
{
    return uvm_unprot(f->page, PROT_READ | PROT_WRITE) == 0 ? UVM_RETRY
                                                            : UVM_DECLINE;
}

START_TEST(map2_visibility_both_ways_with_one_view_prot_none)
{
    char *a = uvm_alloc(2 * ps, PROT_READ | PROT_WRITE);
    ck_assert_ptr_nonnull(a);
    char *b = uvm_map2(a, 2 * ps, PROT_NONE);
    ck_assert_ptr_nonnull(b);
    uvm_region *r = uvm_trap(b, 2 * ps, unprotect_handler, NULL);
    ck_assert_ptr_nonnull(r);
    /* a -> b: written through the open view, read through the closed one
     * (the read traps, the handler opens the page). */
    strcpy(a, "mutator");
    ck_assert_str_eq(b, "mutator");
    /* b -> a: written through the other view while a is PROT_NONE. */
    ck_assert_int_eq(uvm_protn(b, 2, PROT_NONE), 0);
    ck_assert_int_eq(uvm_protn(a, 2, PROT_NONE), 0);
    ck_assert_int_eq(uvm_protn(b + ps, 1, PROT_READ | PROT_WRITE), 0);
    strcpy(b + ps, "collector");
    ck_assert_int_eq(uvm_protn(a, 2, PROT_READ), 0);
    ck_assert_str_eq(a + ps, "collector");
    ck_assert_int_eq(uvm_untrap(r), 0);
    ck_assert_int_eq(uvm_free(a, 2 * ps), 0);
    ck_assert_int_eq(uvm_free(b, 2 * ps), 0);
}
END_TEST

START_TEST(map2_of_memory_not_ours_is_einval)
{
    char *anon = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(anon, MAP_FAILED);
    errno = 0;
    ck_assert_ptr_null(uvm_map2(anon, ps, PROT_READ));
    ck_assert_int_eq(errno, EINVAL);
    char *a = uvm_alloc(2 * ps, PROT_READ | PROT_WRITE);
    errno = 0;                                       /* runs past the end */
    ck_assert_ptr_null(uvm_map2(a, 3 * ps, PROT_READ));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;                                       /* misaligned */
    ck_assert_ptr_null(uvm_map2(a + 1, ps, PROT_READ));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(uvm_map2(a, 0, PROT_READ));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(uvm_free(anon, ps), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(anon[0], 0);                  /* still mapped */
    ck_assert_int_eq(uvm_free(a, 2 * ps), 0);
    errno = 0;
    ck_assert_int_eq(uvm_free(a, 2 * ps), -1);     /* twice */
    ck_assert_int_eq(errno, EINVAL);
    munmap(anon, 2 * ps);
}
END_TEST

START_TEST(map2_of_a_window_of_a_view_maps_the_right_offset)
{
    char *a = uvm_alloc(8 * ps, PROT_READ | PROT_WRITE);
    for (int i = 0; i < 8; i++)
        a[i * ps] = (char)('A' + i);
    char *b = uvm_map2(a + 2 * ps, 4 * ps, PROT_READ | PROT_WRITE);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(b[0], 'C');
    char *c = uvm_map2(b + ps, 2 * ps, PROT_READ);   /* a view of a view */
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c[0], 'D');
    ck_assert_int_eq(c[ps], 'E');
    b[ps] = 'x';
    ck_assert_int_eq(a[3 * ps], 'x');
    ck_assert_int_eq(c[0], 'x');
    ck_assert_int_eq(uvm_free(a, 8 * ps), 0);
    ck_assert_int_eq(uvm_free(b, 4 * ps), 0);
    ck_assert_int_eq(uvm_free(c, 2 * ps), 0);
}
END_TEST

START_TEST(partial_free_keeps_the_rest_of_the_view)
{
    char *a = uvm_alloc(6 * ps, PROT_READ | PROT_WRITE);
    char *b = uvm_map2(a, 6 * ps, PROT_READ);
    ck_assert_int_eq(uvm_free(a + 2 * ps, 2 * ps), 0);   /* the middle */
    a[ps] = 'l';
    a[4 * ps] = 'r';
    ck_assert_int_eq(b[ps], 'l');
    ck_assert_int_eq(b[4 * ps], 'r');
    errno = 0;                     /* the hole is no longer ours */
    ck_assert_ptr_null(uvm_map2(a + 2 * ps, ps, PROT_READ));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;                     /* across the hole: not one view */
    ck_assert_ptr_null(uvm_map2(a + ps, 4 * ps, PROT_READ));
    ck_assert_int_eq(errno, EINVAL);
    char *c = uvm_map2(a + 4 * ps, 2 * ps, PROT_READ);    /* right part */
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c[0], 'r');
    ck_assert_int_eq(uvm_free(a, 2 * ps), 0);
    ck_assert_int_eq(uvm_free(a + 4 * ps, 2 * ps), 0);
    ck_assert_int_eq(uvm_free(b, 6 * ps), 0);
    ck_assert_int_eq(uvm_free(c, 2 * ps), 0);
}
END_TEST

START_TEST(free_may_span_adjacent_views)
{
    char *a = uvm_alloc(4 * ps, PROT_READ | PROT_WRITE);
    ck_assert_int_eq(uvm_free(a + ps, ps), 0);
    ck_assert_int_eq(uvm_free(a + 2 * ps, ps), 0);
    errno = 0;                     /* covers the hole: not ours */
    ck_assert_int_eq(uvm_free(a, 4 * ps), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(a[0], 0);
    ck_assert_int_eq(uvm_free(a, ps), 0);
    ck_assert_int_eq(uvm_free(a + 3 * ps, ps), 0);
}
END_TEST

START_TEST(object_goes_away_with_its_last_view)
{
    int before = count_uvm_memfds(NULL);
    char *a = uvm_alloc(2 * ps, PROT_READ | PROT_WRITE);
    char *b = uvm_map2(a, 2 * ps, PROT_READ);
    ck_assert_int_eq(count_uvm_memfds(NULL), before + 1);
    ck_assert_int_eq(uvm_free(a, 2 * ps), 0);
    ck_assert_int_eq(count_uvm_memfds(NULL), before + 1);
    ck_assert_int_eq(uvm_free(b, ps), 0);
    ck_assert_int_eq(count_uvm_memfds(NULL), before + 1);
    ck_assert_int_eq(uvm_free(b + ps, ps), 0);
    ck_assert_int_eq(count_uvm_memfds(NULL), before);
}
END_TEST

START_TEST(object_cannot_be_truncated_and_is_close_on_exec)
{
    int fd = -1;
    char *a = uvm_alloc(2 * ps, PROT_READ | PROT_WRITE);
    ck_assert_int_eq(count_uvm_memfds(&fd), 1);
    ck_assert_int_eq(ftruncate(fd, 0), -1);
    ck_assert_int_eq(errno, EPERM);
    ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    a[2 * ps - 1] = 1;                /* still there */
    ck_assert_int_eq(uvm_free(a, 2 * ps), 0);
}
END_TEST

/* Registry updates from several threads while others use their views. */
static void *churn(void *arg)
{
    size_t n = 1 + (size_t)(uintptr_t)arg % 3;
    for (int i = 0; i < 200; i++) {
        char *a = uvm_alloc(n * ps, PROT_READ | PROT_WRITE);
        char *b = a ? uvm_map2(a, n * ps, PROT_READ) : NULL;
        if (a == NULL || b == NULL)
            return (void *)1;
        a[n * ps - 1] = (char)i;
        if (b[n * ps - 1] != (char)i)
            return (void *)2;
        if (uvm_free(b, n * ps) != 0 || uvm_free(a, n * ps) != 0)
            return (void *)3;
    }
    return NULL;
}

START_TEST(concurrent_alloc_map2_free_keep_registry_consistent)
{
    pthread_t th[4];
    for (uintptr_t i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, churn, (void *)i);
    for (int i = 0; i < 4; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        ck_assert_ptr_null(rv);
    }
    ck_assert_int_eq(count_uvm_memfds(NULL), 0);
}
END_TEST

static Suite *map2_suite(void)
{
    Suite *s = suite_create("map2");
    TCase *tc = tcase_create("map2");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, alloc_is_zeroed_page_aligned_and_rounds_up);
    tcase_add_test(tc, alloc_rejects_zero_length_and_bad_prot);
    tcase_add_test(tc, alloc_past_the_file_size_limit_is_enomem_not_sigxfsz);
    tcase_add_test(tc, map2_writes_are_seen_through_both_views);
    tcase_add_test(tc, map2_visibility_both_ways_with_one_view_prot_none);
    tcase_add_test(tc, map2_of_memory_not_ours_is_einval);
    tcase_add_test(tc, map2_of_a_window_of_a_view_maps_the_right_offset);
    tcase_add_test(tc, partial_free_keeps_the_rest_of_the_view);
    tcase_add_test(tc, free_may_span_adjacent_views);
    tcase_add_test(tc, object_goes_away_with_its_last_view);
    tcase_add_test(tc, object_cannot_be_truncated_and_is_close_on_exec);
    tcase_add_test(tc, concurrent_alloc_map2_free_keep_registry_consistent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(map2_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
