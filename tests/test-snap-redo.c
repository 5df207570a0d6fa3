/*
 * test-snap-redo.c: tracked-base (redo) snapshots (snap-redo.c).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * What only the tracked design has: its flags and the EBUSY of mixing
 * designs, the base counted in bytes_held, a restore that leaves nothing
 * for the next snapshot to copy, the guarantee for writes racing a take,
 * and an unprivileged process.  The model test and the concurrent-save
 * test run for both designs in test-snap.c, the fork matrix in
 * test-fork.c.  Every test case is audited when it ends (testutil.h).
 * Each test runs twice: with the default backend (userfaultfd WP_ASYNC
 * where the kernel has it) and with UVM_BACKEND=mprotect.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>

#define N 32

static void backend_of(int i)
{
    if (i == 1)
        setenv("UVM_BACKEND", "mprotect", 1);
}

static char *filled(size_t n, char c)
{
    char *m = map_pages(n, PROT_READ | PROT_WRITE);
    memset(m, c, n * PS);
    return m;
}

/* A tracked snapshot of the N pages at m; the test fails without one. */
static uvm_snap *tracked(char *m)
{
    uvm_snap *s = uvm_snapshot2(m, N * PS, UVM_SNAP_TRACKED);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Every page of snapshot s reads as its reference copy. */
static void reads_as(const uvm_snap *s, const char *ref, size_t n)
{
    char *buf = malloc(n * PS);
    ck_assert_int_eq(uvm_snap_read(s, 0, buf, n * PS), 0);
    ck_assert(memcmp(buf, ref, n * PS) == 0);
    free(buf);
}

START_TEST(flags_other_than_a_design_are_einval)
{
    backend_of(_i);
    char *m = filled(N, 'a');
    errno = 0;
    ck_assert_ptr_null(uvm_snapshot2(m, N * PS, 2));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(uvm_snapshot2(m, N * PS, ~0u));
    ck_assert_int_eq(errno, EINVAL);
    /* Nothing was left behind: both designs can still have the range. */
    uvm_snap *s = tracked(m);
    ck_assert_int_eq(uvm_snap_release(s), 0);
    s = uvm_snapshot2(m, N * PS, UVM_SNAP_UNDO);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(uvm_snap_release(s), 0);
}
END_TEST

START_TEST(a_chain_of_the_other_design_is_ebusy)
{
    backend_of(_i);
    char *m = filled(N, 'a');
    uvm_snap *u = uvm_snapshot(m, N * PS);
    ck_assert_ptr_nonnull(u);
    errno = 0;
    ck_assert_ptr_null(uvm_snapshot2(m, N * PS, UVM_SNAP_TRACKED));
    ck_assert_int_eq(errno, EBUSY);
    ck_assert_int_eq(uvm_snap_release(u), 0);
    uvm_snap *t = tracked(m);
    errno = 0;
    ck_assert_ptr_null(uvm_snapshot(m, N * PS));
    ck_assert_int_eq(errno, EBUSY);
    /* A part of the range is EEXIST, as for an undo chain; a tracker too. */
    errno = 0;
    ck_assert_ptr_null(uvm_snapshot2(m, PS, UVM_SNAP_TRACKED));
    ck_assert_int_eq(errno, EEXIST);
    errno = 0;
    ck_assert_ptr_null(uvm_dirty_start(m, N * PS, UVM_DIRTY_AUTO));
    ck_assert_int_eq(errno, EEXIST);
    ck_assert_int_eq(uvm_snap_release(t), 0);
    /* The last release gave the range back: a tracker may have it now. */
    uvm_tracker *tr = uvm_dirty_start(m, N * PS, UVM_DIRTY_AUTO);
    ck_assert_ptr_nonnull(tr);
    errno = 0;
    ck_assert_ptr_null(uvm_snapshot2(m, N * PS, UVM_SNAP_TRACKED));
    ck_assert_int_eq(errno, EEXIST);
    ck_assert_int_eq(uvm_dirty_stop(tr), 0);
}
END_TEST

START_TEST(bytes_held_is_the_range_plus_the_pages_stored)
{
    backend_of(_i);
    char *m = filled(N, 'a');
    uvm_snap *a = tracked(m);
    struct uvm_snap_stats st;
    ck_assert_int_eq(uvm_snap_stats(a, &st), 0);
    ck_assert_uint_eq(st.pages_stored, 0);
    ck_assert_uint_eq(st.bytes_held, N * PS);
    for (size_t p = 3; p < 6; p++)
        m[p * PS] = 'b';
    uvm_snap *b = tracked(m);
    ck_assert_int_eq(uvm_snap_stats(b, &st), 0);
    ck_assert_uint_eq(st.chain_length, 2);
    ck_assert_uint_eq(st.pages_stored, 3);     /* a's old pages */
    ck_assert_uint_eq(st.bytes_held, (N + 3) * PS);
    ck_assert_int_eq(uvm_snap_release(a), 0);  /* nobody sees them now */
    ck_assert_int_eq(uvm_snap_stats(b, &st), 0);
    ck_assert_uint_eq(st.pages_stored, 0);
    ck_assert_uint_eq(st.bytes_held, N * PS);
    ck_assert_int_eq(uvm_snap_release(b), 0);
}
END_TEST

START_TEST(release_in_any_order_keeps_the_others)
{
    backend_of(_i);
    enum { K = 5 };
    static const int order[K] = { 2, 0, 4, 1, 3 };
    char *m = filled(N, 0);
    char *ref[K];
    uvm_snap *s[K];
    for (int k = 0; k < K; k++) {
        for (size_t p = (size_t)k; p < N; p += 2)  /* overlapping writes */
            m[p * PS + (size_t)k] = (char)('a' + k);
        ref[k] = malloc(N * PS);
        memcpy(ref[k], m, N * PS);
        s[k] = tracked(m);
        m[(size_t)k * PS + 100] = 'x';             /* after it */
    }
    for (int r = 0; r < K; r++) {
        ck_assert_int_eq(uvm_snap_release(s[order[r]]), 0);
        s[order[r]] = NULL;
        for (int k = 0; k < K; k++)
            if (s[k] != NULL)
                reads_as(s[k], ref[k], N);
    }
    for (int k = 0; k < K; k++)
        free(ref[k]);
}
END_TEST

START_TEST(restore_to_older_snapshots_and_back)
{
    backend_of(_i);
    char *m = filled(N, 'a');
    char *ra = malloc(N * PS), *rb = malloc(N * PS);
    memcpy(ra, m, N * PS);
    uvm_snap *a = uvm_snapshot2(m, N * PS, UVM_SNAP_TRACKED);
    for (size_t p = 0; p < N; p += 3)
        m[p * PS + 7] = 'b';
    memcpy(rb, m, N * PS);
    uvm_snap *b = uvm_snapshot2(m, N * PS, UVM_SNAP_TRACKED);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    for (size_t p = 1; p < N; p += 4)              /* unsnapshotted writes */
        m[p * PS + 9] = 'c';
    void *pages[N];
    ssize_t nd = uvm_snap_diff(a, pages, N);
    ck_assert_int_gt(nd, 0);
    ck_assert_int_eq(uvm_snap_restore(a), 0);
    ck_assert(memcmp(m, ra, N * PS) == 0);
    ck_assert_int_eq(uvm_snap_diff(a, pages, N), 0);
    ck_assert_int_eq(uvm_snap_restore(b), 0);
    ck_assert(memcmp(m, rb, N * PS) == 0);
    ck_assert_int_eq(uvm_snap_diff(b, pages, N), 0);
    /* The restores' own writes are tracked: a snapshot now is b's bytes. */
    uvm_snap *c = tracked(m);
    reads_as(c, rb, N);
    ck_assert_int_eq(uvm_snap_restore(a), 0);
    ck_assert(memcmp(m, ra, N * PS) == 0);
    uvm_snap *d = uvm_snapshot2(m, N * PS, UVM_SNAP_TRACKED);
    reads_as(d, ra, N);
    reads_as(c, rb, N);
    reads_as(a, ra, N);
    ck_assert_int_eq(uvm_snap_release(b), 0);
    ck_assert_int_eq(uvm_snap_release(d), 0);
    ck_assert_int_eq(uvm_snap_release(a), 0);
    ck_assert_int_eq(uvm_snap_release(c), 0);
    free(ra);
    free(rb);
}
END_TEST

/* The restore loop: pages given their base back are clean, so a snapshot
 * taken right after a restore copies nothing and stores nothing. */
START_TEST(restore_leaves_nothing_for_the_next_snapshot_to_copy)
{
    backend_of(_i);
    char *m = filled(N, 'a');
    uvm_snap *a = tracked(m);
    for (int run = 0; run < 4; run++) {
        for (size_t p = (size_t)run; p < N; p += 5)
            m[p * PS + (size_t)run] = 'w';
        ck_assert_int_eq(uvm_snap_restore(a), 0);
        for (size_t i = 0; i < N * PS; i += 512)
            ck_assert_int_eq(m[i], 'a');
    }
    struct uvm_snap_stats st0, st;
    ck_assert_int_eq(uvm_snap_stats(a, &st0), 0);
    uvm_snap *b = tracked(m);
    ck_assert_int_eq(uvm_snap_stats(b, &st), 0);
    ck_assert_uint_eq(st.pages_stored, 0);
    ck_assert_uint_eq(st.cow_copies, st0.cow_copies);
    ck_assert_int_eq(uvm_snap_release(a), 0);
    ck_assert_int_eq(uvm_snap_release(b), 0);
}
END_TEST

/* A page the program unmapped is never read: the chain says ENOMEM
 * (mprotect) or skips it (userfaultfd), and the last release leaves the
 * rest writable. */
START_TEST(unmapping_a_page_of_a_tracked_range_is_no_crash)
{
    backend_of(_i);
    char *m = filled(N, 'a');
    uvm_snap *a = tracked(m);
    m[2 * PS] = 'b';
    ck_assert_int_eq(munmap(m + 5 * PS, PS), 0);
    for (int k = 0; k < 2; k++) {
        uvm_snap *b = uvm_snapshot2(m, N * PS, UVM_SNAP_TRACKED);
        ck_assert(b != NULL || errno == ENOMEM);
        if (b != NULL)
            ck_assert_int_eq(uvm_snap_release(b), 0);
    }
    char x = 0;
    ck_assert_int_eq(uvm_snap_read(a, 5 * PS, &x, 1), 0);
    ck_assert_int_eq(x, 'a');             /* the copy, not the hole */
    ck_assert_int_eq(uvm_snap_release(a), 0);
    for (size_t p = 0; p < N; p++)
        if (p != 5)
            poke(m + p * PS, 'c');
}
END_TEST

/* Review of the tracked design (each failed before its fix):
 * - a page with a version, then unmapped: uvm_snap_diff and
 *   uvm_snap_restore read or wrote the hole and killed the process;
 *   they pass it over now (the man page's promise). */
START_TEST(diff_and_restore_pass_over_a_hole_with_a_version)
{
    backend_of(_i);
    die_in(10);
    char *m = filled(N, 'a');
    uvm_snap *a = tracked(m);
    m[3 * PS] = 'b';                      /* page 3 gets a version for a */
    m[1 * PS] = 'c';
    uvm_snap *b = tracked(m);
    ck_assert_int_eq(munmap(m + 3 * PS, PS), 0);
    m[1 * PS] = 'd';
    void *pg[N];
    ssize_t d = uvm_snap_diff(a, pg, N);
    if (d >= 0) {
        ck_assert_int_eq(d, 1);            /* page 1; the hole passed over */
        ck_assert_ptr_eq(pg[0], m + PS);
        errno = 0;
        int rc = uvm_snap_restore(a);
        /* mprotect: the range cannot be re-protected past the hole */
        ck_assert(rc == 0 || (_i == 1 && errno == ENOMEM));
        if (rc == 0)
            ck_assert_int_eq(m[PS], 'a');
    } else {
        ck_assert_int_eq(errno, ENOMEM);   /* mprotect: while the hole lasts */
    }
    char x = 0;
    ck_assert_int_eq(uvm_snap_read(a, 3 * PS, &x, 1), 0);
    ck_assert_int_eq(x, 'a');
    ck_assert_int_eq(uvm_snap_release(b), 0);
    ck_assert_int_eq(uvm_snap_release(a), 0);
}
END_TEST

/* A page of the range mapped again by the program (MAP_FIXED) and
 * written: with mprotect its writes never fault, and the next snapshot
 * kept the old copy while diff and restore missed it; it counts as
 * written now.  With userfaultfd the new mapping is not registered and
 * the kernel refuses the scan: EIO (was an undocumented EPERM). */
START_TEST(a_page_mapped_over_the_range_is_never_missed)
{
    backend_of(_i);
    char *m = filled(N, 'A');
    uvm_snap *a = tracked(m);
    ck_assert_ptr_eq(mmap(m + 2 * PS, PS, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                     m + 2 * PS);
    m[2 * PS] = 'N';
    m[5 * PS] = 'W';
    errno = 0;
    uvm_snap *b = uvm_snapshot2(m, N * PS, UVM_SNAP_TRACKED);
    if (b == NULL) {
        ck_assert_int_eq(errno, EIO);
        void *pg[N];
        errno = 0;
        ck_assert_int_eq(uvm_snap_diff(a, pg, N), -1);
        ck_assert_int_eq(errno, EIO);
    } else {
        char c = 0;
        ck_assert_int_eq(uvm_snap_read(b, 2 * PS, &c, 1), 0);
        ck_assert_int_eq(c, 'N');
        ck_assert_int_eq(uvm_snap_read(b, 5 * PS, &c, 1), 0);
        ck_assert_int_eq(c, 'W');
        void *pg[N];
        ck_assert_int_eq(uvm_snap_diff(a, pg, N), 2);
        ck_assert_int_eq(uvm_snap_restore(a), 0);
        ck_assert_int_eq(m[2 * PS], 'A');
        ck_assert_int_eq(m[5 * PS], 'A');
        ck_assert_int_eq(uvm_snap_release(b), 0);
    }
    ck_assert_int_eq(uvm_snap_release(a), 0);
}
END_TEST

static int decline(const struct uvm_fault *f)
{
    (void)f;
    return UVM_DECLINE;
}

/* A trap region over part of the range is EEXIST, as for the undo
 * design, even when its pages are read-only (was EACCES); shared memory
 * not from uvm_alloc is EINVAL (another process's writes reach it
 * unseen; both designs). */
START_TEST(trap_regions_and_foreign_shared_memory_are_refused)
{
    backend_of(_i);
    char *m = filled(N, 'a');
    uvm_region *r = uvm_trap(m + 4 * PS, 2 * PS, decline, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(uvm_protn(m + 4 * PS, 2, PROT_READ), 0);
    errno = 0;
    ck_assert_ptr_null(uvm_snapshot2(m, N * PS, UVM_SNAP_TRACKED));
    ck_assert_int_eq(errno, EEXIST);
    ck_assert_int_eq(uvm_untrap(r), 0);
    char *sh = mmap(NULL, 4 * PS, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(sh, MAP_FAILED);
    errno = 0;
    ck_assert_ptr_null(uvm_snapshot2(sh, 4 * PS, UVM_SNAP_TRACKED));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(uvm_snapshot(sh, 4 * PS));
    ck_assert_int_eq(errno, EINVAL);
    munmap(sh, 4 * PS);
}
END_TEST

/* A write in flight when the process forks, with the mprotect tracker:
 * the handler makes the page writable, then marks it; a fork between the
 * two gave the child a writable page without its mark, whose writes the
 * child's next snapshot missed.  The child now counts every page of a
 * writable mapping as written.  (The page made writable behind the
 * tracker stands for the half-done handler.) */
START_TEST(a_fork_child_misses_no_write_a_handler_had_let_through)
{
    setenv("UVM_BACKEND", "mprotect", 1);
    char *m = filled(N, 'A');
    uvm_snap *a = tracked(m);
    ck_assert_int_eq(mprotect(m + 7 * PS, PS, PROT_READ | PROT_WRITE), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        die_in(5);
        m[7 * PS] = 'C';                  /* no fault: already writable */
        uvm_snap *b = uvm_snapshot2(m, N * PS, UVM_SNAP_TRACKED);
        char c = 0;
        _exit(b != NULL && uvm_snap_read(b, 7 * PS, &c, 1) == 0 && c == 'C'
              ? 0 : 2);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_int_eq(uvm_snap_release(a), 0);
    unsetenv("UVM_BACKEND");
}
END_TEST

/* ---- writes racing a take ---- */

struct counter { uint64_t *pages[N]; atomic_int stop; };

/* Each page's first word counts up, one page after another: an 8-byte
 * aligned store, never torn. */
static void *count_run(void *arg)
{
    struct counter *k = arg;
    for (uint64_t v = 1; !atomic_load(&k->stop); v++)
        for (size_t p = 0; p < N; p++)
            __atomic_store_n(k->pages[p], v, __ATOMIC_RELAXED);
    return NULL;
}

static uint64_t word_of(const char *m, size_t p)
{
    return __atomic_load_n((const uint64_t *)(m + p * PS), __ATOMIC_RELAXED);
}

/* uvm_snapshot(3): every page of a tracked snapshot holds contents it
 * had at some moment during the call. */
START_TEST(writes_racing_a_take_are_seen_from_some_moment_of_the_call)
{
    backend_of(_i);
    char *m = filled(N, 0);
    struct counter k = { .stop = 0 };
    for (size_t p = 0; p < N; p++)
        k.pages[p] = (uint64_t *)(m + p * PS);
    uvm_snap *first = tracked(m);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, count_run, &k), 0);
    for (int round = 0; round < 200; round++) {
        uint64_t before[N], after[N];
        for (size_t p = 0; p < N; p++)
            before[p] = word_of(m, p);
        uvm_snap *s = tracked(m);
        for (size_t p = 0; p < N; p++)
            after[p] = word_of(m, p);
        for (size_t p = 0; p < N; p++) {
            uint64_t got;
            ck_assert_int_eq(uvm_snap_read(s, p * PS, &got, sizeof got), 0);
            ck_assert_msg(got >= before[p] && got <= after[p],
                          "page %zu: %llu not in [%llu, %llu]", p,
                          (unsigned long long)got,
                          (unsigned long long)before[p],
                          (unsigned long long)after[p]);
        }
        ck_assert_int_eq(uvm_snap_release(s), 0);
    }
    atomic_store(&k.stop, 1);
    pthread_join(t, NULL);
    ck_assert_int_eq(uvm_snap_release(first), 0);
}
END_TEST

/* uvm_snapshot(3): a write racing a restore may be overwritten by it,
 * but whatever the range holds afterwards, the next snapshot holds. */
START_TEST(a_write_racing_a_restore_is_never_lost_to_the_next_snapshot)
{
    backend_of(_i);
    char *m = filled(N, 0);
    struct counter k = { .stop = 0 };
    for (size_t p = 0; p < N; p++)
        k.pages[p] = (uint64_t *)(m + p * PS + 64);
    uvm_snap *a = tracked(m);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, count_run, &k), 0);
    for (int round = 0; round < 100; round++)
        ck_assert_int_eq(uvm_snap_restore(a), 0);
    atomic_store(&k.stop, 1);
    pthread_join(t, NULL);
    uvm_snap *b = tracked(m);
    reads_as(b, m, N);
    ck_assert_int_eq(uvm_snap_release(a), 0);
    ck_assert_int_eq(uvm_snap_release(b), 0);
}
END_TEST

/* ---- views and processes ---- */

START_TEST(view_of_tracked_uvm_alloc_memory_is_the_snapshot)
{
    backend_of(_i);
    char *m = uvm_alloc(N * PS, PROT_READ | PROT_WRITE);
    memset(m, 'v', N * PS);
    uvm_snap *s = tracked(m);
    memset(m, 'w', N * PS);
    const char *v = uvm_snap_view(s);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < N * PS; i += 256)
        ck_assert_int_eq(v[i], 'v');
    ck_assert_int_eq(uvm_snap_release(s), 0);
    char *a = map_pages(N, PROT_READ | PROT_WRITE);
    s = uvm_snapshot2(a, N * PS, UVM_SNAP_TRACKED);
    errno = 0;
    ck_assert_ptr_null(uvm_snap_view(s));
    ck_assert_int_eq(errno, ENOTSUP);
    ck_assert_int_eq(uvm_snap_release(s), 0);
}
END_TEST

/* Another view's writes would escape the tracker: a tracked chain holds
 * its pages against uvm_map2 as an undo chain does. */
START_TEST(a_tracked_chain_of_uvm_alloc_memory_refuses_other_views)
{
    backend_of(_i);
    char *m = uvm_alloc(N * PS, PROT_READ | PROT_WRITE);
    ck_assert_ptr_nonnull(m);
    uvm_snap *s = tracked(m);
    errno = 0;
    ck_assert_ptr_null(uvm_map2(m, PS, PROT_READ | PROT_WRITE));
    ck_assert_int_eq(errno, EBUSY);
    ck_assert_int_eq(uvm_snap_release(s), 0);
    char *v = uvm_map2(m, PS, PROT_READ | PROT_WRITE);
    ck_assert_ptr_nonnull(v);
    errno = 0;
    ck_assert_ptr_null(uvm_snapshot2(m, N * PS, UVM_SNAP_TRACKED));
    ck_assert_int_eq(errno, EBUSY);
    ck_assert_int_eq(uvm_free(v, PS), 0);
    ck_assert_int_eq(uvm_free(m, N * PS), 0);
}
END_TEST

static void unprivileged_child(void)
{
    if (become_unprivileged() != 0)
        _exit(2);
    char *m = filled(N, 'u');
    uvm_snap *a = uvm_snapshot2(m, N * PS, UVM_SNAP_TRACKED);
    if (a == NULL)
        _exit(3);
    memset(m + 4 * PS, 'v', PS);
    uvm_snap *b = uvm_snapshot2(m, N * PS, UVM_SNAP_TRACKED);
    char x = 0, y = 0;
    if (b == NULL || uvm_snap_read(a, 4 * PS, &x, 1) != 0 ||
        uvm_snap_read(b, 4 * PS, &y, 1) != 0 || x != 'u' || y != 'v')
        _exit(4);
    if (uvm_snap_restore(a) != 0 || m[4 * PS] != 'u')
        _exit(5);
    _exit(uvm_snap_release(a) == 0 && uvm_snap_release(b) == 0 ? 0 : 6);
}

START_TEST(an_unprivileged_process_takes_tracked_snapshots)
{
    backend_of(_i);
    char out[256];
    int st = run_child(unprivileged_child, out, sizeof out);
    ck_assert_msg(st == 0, "child exited %d: %s", st, out);
}
END_TEST

static Suite *redo_suite(void)
{
    Suite *s = suite_create("snap-redo");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, flags_other_than_a_design_are_einval, 0, 2);
    tcase_add_loop_test(tc, a_chain_of_the_other_design_is_ebusy, 0, 2);
    tcase_add_loop_test(tc, bytes_held_is_the_range_plus_the_pages_stored,
                        0, 2);
    tcase_add_loop_test(tc, release_in_any_order_keeps_the_others, 0, 2);
    tcase_add_loop_test(tc, restore_to_older_snapshots_and_back, 0, 2);
    tcase_add_loop_test(tc,
        restore_leaves_nothing_for_the_next_snapshot_to_copy, 0, 2);
    tcase_add_loop_test(tc,
        writes_racing_a_take_are_seen_from_some_moment_of_the_call, 0, 2);
    tcase_add_loop_test(tc, unmapping_a_page_of_a_tracked_range_is_no_crash,
                        0, 2);
    tcase_add_loop_test(tc,
        a_write_racing_a_restore_is_never_lost_to_the_next_snapshot, 0, 2);
    tcase_add_loop_test(tc, view_of_tracked_uvm_alloc_memory_is_the_snapshot,
                        0, 2);
    tcase_add_loop_test(tc,
        a_tracked_chain_of_uvm_alloc_memory_refuses_other_views, 0, 2);
    tcase_add_loop_test(tc, diff_and_restore_pass_over_a_hole_with_a_version,
                        0, 2);
    tcase_add_loop_test(tc, a_page_mapped_over_the_range_is_never_missed, 0, 2);
    tcase_add_loop_test(tc, trap_regions_and_foreign_shared_memory_are_refused,
                        0, 2);
    tcase_add_test(tc, a_fork_child_misses_no_write_a_handler_had_let_through);
    tcase_add_loop_test(tc, an_unprivileged_process_takes_tracked_snapshots,
                        0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(redo_suite());
}
