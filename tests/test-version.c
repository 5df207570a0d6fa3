/*
 * test-version.c: the library itself (version, page size, counters).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 */
#include "testutil.h"

START_TEST(version_matches_the_header)
{
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", UVM_VERSION_MAJOR,
             UVM_VERSION_MINOR, UVM_VERSION_PATCH);
    ck_assert_str_eq(uvm_version(), want);
}
END_TEST

START_TEST(pagesize_is_the_system_page_size)
{
    ck_assert_uint_eq(uvm_pagesize(), (size_t)sysconf(_SC_PAGESIZE));
}
END_TEST

START_TEST(stats_rejects_null)
{
    errno = 0;
    ck_assert_int_eq(uvm_stats(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    struct uvm_stats st;
    ck_assert_int_eq(uvm_stats(&st), 0);
    ck_assert_uint_eq(st.regions, 0);
}
END_TEST

/* ---- the environment, parsed strictly ---- */

static int h_nop(const struct uvm_fault *f)
{
    return UVM_DECLINE;
}

static void trap_twice_with_bogus_backend(void)
{
    setenv("UVM_BACKEND", "turbo", 1);
    char *m = map_pages(2, PROT_NONE);
    if (uvm_trap(m, PS, h_nop, NULL) == NULL ||
        uvm_trap(m + PS, PS, h_nop, NULL) == NULL)
        _exit(3);
    _exit(0);
}

START_TEST(unknown_backend_is_ignored_with_one_warning)
{
    char err[4096];
    int st = run_child(trap_twice_with_bogus_backend, err, sizeof err);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    const char *w = strstr(err, "UVM_BACKEND=turbo");
    ck_assert_msg(w != NULL, "stderr: %s", err);
    ck_assert_ptr_null(strstr(w + 1, "UVM_BACKEND=turbo"));
}
END_TEST

START_TEST(backend_mprotect_forces_the_mprotect_dirty_method)
{
    setenv("UVM_BACKEND", "mprotect", 1);
    char *m = map_pages(4, PROT_READ | PROT_WRITE);
    uvm_tracker *t = uvm_dirty_start(m, 4 * PS, UVM_DIRTY_AUTO);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(uvm_dirty_method(t), "mprotect");
    poke(m + PS, 1);
    void *pages[4];
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 1);
    ck_assert_ptr_eq(pages[0], m + PS);
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
}
END_TEST

static Suite *version_suite(void)
{
    Suite *s = suite_create("version");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, version_matches_the_header);
    tcase_add_test(tc, pagesize_is_the_system_page_size);
    tcase_add_test(tc, stats_rejects_null);
    suite_add_tcase(s, tc);
    tc = tcase_create("env");
    tcase_add_test(tc, unknown_backend_is_ignored_with_one_warning);
    tcase_add_test(tc, backend_mprotect_forces_the_mprotect_dirty_method);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(version_suite());
}
