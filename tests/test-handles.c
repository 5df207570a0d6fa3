/*
 * test-handles.c: the handles the API gives out (pool.c): regions, DIRTY
 * trackers and snapshots.  A handle that was released, even once its slot
 * holds a new object, and a handle of another kind, give EINVAL and change
 * nothing.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 */
#include "config.h"
#include "testutil.h"

static volatile int calls;
static uvm_region *seen_region;

static int h_unprot(const struct uvm_fault *f)
{
    calls++;
    seen_region = f->region;
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

#define EXPECT_EINVAL(call)                     \
    do {                                        \
        errno = 0;                              \
        ck_assert_int_eq((call), -1);           \
        ck_assert_int_eq(errno, EINVAL);        \
    } while (0)

/* ---- regions ---- */

START_TEST(region_double_untrap_is_einval)
{
    char *m = map_pages(1, PROT_NONE);
    uvm_region *r = uvm_trap(m, PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(uvm_untrap(r), 0);
    EXPECT_EINVAL(uvm_untrap(r));
}
END_TEST

/* The slot of an untrapped region is taken by the next one: the old
 * handle must not name the new region. */
START_TEST(region_stale_handle_never_untraps_the_slots_new_region)
{
    char *a = map_pages(1, PROT_NONE), *b = map_pages(1, PROT_NONE);
    uvm_region *old = uvm_trap(a, PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(old);
    ck_assert_int_eq(uvm_untrap(old), 0);
    uvm_region *now = uvm_trap(b, PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(now);
    ck_assert_ptr_ne(now, old);
    EXPECT_EINVAL(uvm_untrap(old));
    /* The new region still traps, and its faults name it. */
    poke(b, 1);
    ck_assert_int_eq(calls, 1);
    ck_assert_ptr_eq(seen_region, now);
    ck_assert_int_eq(uvm_untrap(now), 0);
}
END_TEST

START_TEST(region_handle_of_another_kind_is_einval)
{
    char *d = map_pages(2, PROT_READ | PROT_WRITE);
    uvm_tracker *t = uvm_dirty_start(d, 2 * PS, UVM_DIRTY_MPROTECT);
    ck_assert_ptr_nonnull(t);
    EXPECT_EINVAL(uvm_untrap((uvm_region *)t));
    void *pages[2];
    ck_assert_int_eq(uvm_dirty(t, pages, 2), 0);
    poke(d, 1);                      /* its trap region is still there */
    ck_assert_int_eq(uvm_dirty(t, pages, 2), 1);
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
}
END_TEST

/* ---- DIRTY trackers ---- */

START_TEST(tracker_double_stop_is_einval)
{
    char *d = map_pages(2, PROT_READ | PROT_WRITE);
    uvm_tracker *t = uvm_dirty_start(d, 2 * PS, UVM_DIRTY_AUTO);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
    EXPECT_EINVAL(uvm_dirty_stop(t));
}
END_TEST

START_TEST(tracker_stale_handle_never_reaches_the_slots_new_tracker)
{
    char *a = map_pages(2, PROT_READ | PROT_WRITE);
    char *b = map_pages(2, PROT_READ | PROT_WRITE);
    uvm_tracker *old = uvm_dirty_start(a, 2 * PS, UVM_DIRTY_MPROTECT);
    ck_assert_ptr_nonnull(old);
    ck_assert_int_eq(uvm_dirty_stop(old), 0);
    uvm_tracker *now = uvm_dirty_start(b, 2 * PS, UVM_DIRTY_MPROTECT);
    ck_assert_ptr_nonnull(now);
    ck_assert_ptr_ne(now, old);
    void *pages[2];
    /* Use after release: every call refuses the old handle. */
    EXPECT_EINVAL(uvm_dirty(old, pages, 2));
    struct uvm_run runs[2];
    EXPECT_EINVAL(uvm_dirty_runs(old, runs, 2));
    errno = 0;
    ck_assert_ptr_null(uvm_dirty_method(old));
    ck_assert_int_eq(errno, EINVAL);
    EXPECT_EINVAL(uvm_dirty_stop(old));
    /* The new tracker is untouched and still tracks. */
    ck_assert_str_eq(uvm_dirty_method(now), "mprotect");
    poke(b + PS, 1);
    ck_assert_int_eq(uvm_dirty(now, pages, 2), 1);
    ck_assert_ptr_eq(pages[0], b + PS);
    ck_assert_int_eq(uvm_dirty_stop(now), 0);
}
END_TEST

START_TEST(tracker_handle_of_another_kind_is_einval)
{
    char *m = map_pages(1, PROT_NONE);
    uvm_region *r = uvm_trap(m, PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(r);
    void *pages[1];
    EXPECT_EINVAL(uvm_dirty((uvm_tracker *)r, pages, 1));
    EXPECT_EINVAL(uvm_dirty_stop((uvm_tracker *)r));
    ck_assert_int_eq(uvm_untrap(r), 0);
}
END_TEST

/* ---- snapshots ---- */

START_TEST(snapshot_double_release_is_einval)
{
    char *m = map_pages(2, PROT_READ | PROT_WRITE);
    uvm_snap *s = uvm_snapshot(m, 2 * PS);
    ck_assert_msg(s != NULL, "uvm_snapshot: %s", strerror(errno));
    ck_assert_int_eq(uvm_snap_release(s), 0);
    EXPECT_EINVAL(uvm_snap_release(s));
}
END_TEST

START_TEST(snapshot_stale_handle_never_reaches_the_slots_new_snapshot)
{
    char *a = map_pages(2, PROT_READ | PROT_WRITE);
    char *b = map_pages(2, PROT_READ | PROT_WRITE);
    poke(b, 'x');
    uvm_snap *old = uvm_snapshot(a, 2 * PS);
    ck_assert_msg(old != NULL, "uvm_snapshot: %s", strerror(errno));
    ck_assert_int_eq(uvm_snap_release(old), 0);
    uvm_snap *now = uvm_snapshot(b, 2 * PS);
    ck_assert_msg(now != NULL, "uvm_snapshot: %s", strerror(errno));
    ck_assert_ptr_ne(now, old);
    char buf[1];
    void *pages[2];
    EXPECT_EINVAL(uvm_snap_read(old, 0, buf, 1));
    EXPECT_EINVAL((int)uvm_snap_diff(old, pages, 2));
    EXPECT_EINVAL(uvm_snap_restore(old));
    EXPECT_EINVAL(uvm_snap_release(old));
    /* The new snapshot is still there and still holds b's old byte. */
    poke(b, 'y');
    ck_assert_int_eq(uvm_snap_read(now, 0, buf, 1), 0);
    ck_assert_int_eq(buf[0], 'x');
    ck_assert_int_eq(uvm_snap_release(now), 0);
}
END_TEST

START_TEST(snapshot_handle_of_another_kind_is_einval)
{
    char *d = map_pages(2, PROT_READ | PROT_WRITE);
    uvm_tracker *t = uvm_dirty_start(d, 2 * PS, UVM_DIRTY_MPROTECT);
    ck_assert_ptr_nonnull(t);
    EXPECT_EINVAL(uvm_snap_release((uvm_snap *)t));
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
}
END_TEST

/* Handles are no addresses: junk words and pointers near a handle are
 * refused by every kind. */
START_TEST(junk_handles_are_einval)
{
    long junk[16] = { 0 };
    EXPECT_EINVAL(uvm_untrap((uvm_region *)junk));
    EXPECT_EINVAL(uvm_dirty_stop((uvm_tracker *)junk));
    EXPECT_EINVAL(uvm_snap_release((uvm_snap *)junk));
    char *m = map_pages(1, PROT_NONE);
    uvm_region *r = uvm_trap(m, PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(r);
    for (int d = 1; d < 64; d++)
        EXPECT_EINVAL(uvm_untrap((uvm_region *)((char *)r + d)));
    ck_assert_int_eq(uvm_untrap(r), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("handles");
    TCase *tc = tcase_create("stale");
    tcase_add_test(tc, region_double_untrap_is_einval);
    tcase_add_test(tc, region_stale_handle_never_untraps_the_slots_new_region);
    tcase_add_test(tc, region_handle_of_another_kind_is_einval);
    tcase_add_test(tc, tracker_double_stop_is_einval);
    tcase_add_test(tc, tracker_stale_handle_never_reaches_the_slots_new_tracker);
    tcase_add_test(tc, tracker_handle_of_another_kind_is_einval);
    tcase_add_test(tc, snapshot_double_release_is_einval);
    tcase_add_test(tc,
                   snapshot_stale_handle_never_reaches_the_slots_new_snapshot);
    tcase_add_test(tc, snapshot_handle_of_another_kind_is_einval);
    tcase_add_test(tc, junk_handles_are_einval);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
