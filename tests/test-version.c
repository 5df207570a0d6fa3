/*
 * test-version.c: the library itself (version, page size, counters) and
 * the honest failure of what is not implemented yet (ENOSYS).
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

#define ENOSYS_PTR(call)                     \
    do {                                     \
        errno = 0;                           \
        ck_assert_ptr_null(call);            \
        ck_assert_int_eq(errno, ENOSYS);     \
    } while (0)
#define ENOSYS_INT(call)                     \
    do {                                     \
        errno = 0;                           \
        ck_assert_int_eq((call), -1);        \
        ck_assert_int_eq(errno, ENOSYS);     \
    } while (0)

START_TEST(snapshots_are_not_implemented_yet)
{
    char *m = map_pages(1, PROT_READ | PROT_WRITE);
    char buf[8];
    void *pages[1];
    struct uvm_snap_stats st;
    ENOSYS_PTR(uvm_snapshot(m, PS));
    ENOSYS_INT(uvm_snap_read(NULL, 0, buf, sizeof buf));
    ENOSYS_INT(uvm_snap_diff(NULL, pages, 1));
    ENOSYS_INT(uvm_snap_restore(NULL));
    ENOSYS_INT(uvm_snap_save(NULL, 1));
    ENOSYS_PTR(uvm_snap_view(NULL));
    ENOSYS_INT(uvm_snap_release(NULL));
    ENOSYS_INT(uvm_snap_stats(NULL, &st));
}
END_TEST

/* Until issue 3 lands. */
START_TEST(dirty_and_map2_are_not_implemented_yet)
{
    char *m = map_pages(1, PROT_READ | PROT_WRITE);
    void *pages[1];
    struct uvm_run runs[1];
    ENOSYS_PTR(uvm_dirty_start(m, PS, UVM_DIRTY_AUTO));
    ENOSYS_INT(uvm_dirty(NULL, pages, 1));
    ENOSYS_INT(uvm_dirty_runs(NULL, runs, 1));
    ENOSYS_INT(uvm_dirty_stop(NULL));
    ENOSYS_PTR(uvm_dirty_method(NULL));
    ENOSYS_PTR(uvm_alloc(PS, PROT_READ));
    ENOSYS_PTR(uvm_map2(m, PS, PROT_READ));
    ENOSYS_INT(uvm_free(m, PS));
}
END_TEST

static Suite *version_suite(void)
{
    Suite *s = suite_create("version");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, version_matches_the_header);
    tcase_add_test(tc, pagesize_is_the_system_page_size);
    tcase_add_test(tc, stats_rejects_null);
    tcase_add_test(tc, snapshots_are_not_implemented_yet);
    tcase_add_test(tc, dirty_and_map2_are_not_implemented_yet);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(version_suite());
}
