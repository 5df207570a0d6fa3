/*
 * test-dirty.c: the DIRTY suite (uvm_dirty_start, uvm_dirty,
 * uvm_dirty_runs, uvm_dirty_stop, uvm_dirty_method).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * The scenarios of doc/dirty.md [dirty.scenarios] that apply to libuvm's
 * interface, run once per method (loop index 0: uffd, 1: mprotect), plus
 * the issue's own: concurrent writers against uvm_dirty with no write
 * lost, fallback when userfaultfd is denied (seccomp, unprivileged user),
 * and 1 GiB written in random order under UVM_DIRTY_AUTO.
 *
 * Randomized tests print their seed; UVM_TEST_SEED=n replays one.  When
 * the uffd method is unavailable its runs are left out, the reason is
 * printed, and the program exits 77 (skip) if everything else passed.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>

static size_t ps;
static int have_uffd;
static int nmethods;                       /* loop end: 1 or 2 */
static const int methods[2] = { UVM_DIRTY_UFFD, UVM_DIRTY_MPROTECT };
static const int method_order[2] = { UVM_DIRTY_MPROTECT, UVM_DIRTY_UFFD };

static void setup(void) { ps = uvm_pagesize(); }

/* Loop index -> method; the mprotect method runs first when uffd is
 * missing so that the loop can simply be shorter. */
static int method_of(int i)
{
    return have_uffd ? methods[i] : method_order[i];
}

static unsigned seed_get(const char *what)
{
    const char *e = getenv("UVM_TEST_SEED");
    unsigned s = e ? (unsigned)strtoul(e, NULL, 0) : (unsigned)getpid() ^
                                                         (unsigned)time(NULL);
    fprintf(stderr, "%s: seed %u (UVM_TEST_SEED=%u to replay)\n", what, s, s);
    return s;
}

static char *map_anon(size_t npages)
{
    char *p = mmap(NULL, npages * ps, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

static uvm_tracker *start(void *p, size_t npages, int method)
{
    uvm_tracker *t = uvm_dirty_start(p, npages * ps, method);
    ck_assert_msg(t != NULL, "uvm_dirty_start: %s", strerror(errno));
    return t;
}

/* ---- A. arguments and handles ---- */

START_TEST(start_rejects_bad_arguments)
{
    char *p = map_anon(4);
    errno = 0;
    ck_assert_ptr_null(uvm_dirty_start(p + 1, ps, UVM_DIRTY_AUTO));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(uvm_dirty_start(p, 0, UVM_DIRTY_AUTO));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(uvm_dirty_start(p, ps + 1, UVM_DIRTY_AUTO));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(uvm_dirty_start(p, ps, 42));
    ck_assert_int_eq(errno, EINVAL);
    munmap(p + 2 * ps, ps);
    errno = 0;                                   /* a hole in the range */
    ck_assert_ptr_null(uvm_dirty_start(p, 4 * ps, UVM_DIRTY_AUTO));
    ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

START_TEST(overlapping_trackers_are_eexist)
{
    int m = method_of(_i);
    char *p = map_anon(8);
    uvm_tracker *t = start(p, 4, m);
    errno = 0;
    ck_assert_ptr_null(uvm_dirty_start(p + 3 * ps, 2 * ps, UVM_DIRTY_AUTO));
    ck_assert_int_eq(errno, EEXIST);
    uvm_tracker *u = start(p + 4 * ps, 4, m);    /* adjacent is fine */
    ck_assert_int_eq(uvm_dirty_stop(u), 0);
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
}
END_TEST

START_TEST(null_buffer_with_nonzero_max_is_einval_and_max_zero_resets)
{
    int m = method_of(_i);
    char *p = map_anon(4);
    uvm_tracker *t = start(p, 4, m);
    p[0] = 1;
    errno = 0;
    ck_assert_int_eq(uvm_dirty(t, NULL, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(uvm_dirty_runs(t, NULL, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(uvm_dirty(t, NULL, 0), 0);          /* reset only */
    void *pages[4];
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 0);
    p[ps] = 1;
    ck_assert_int_eq(uvm_dirty_runs(t, NULL, 0), 0);
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 0);
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
}
END_TEST

START_TEST(stale_or_foreign_tracker_is_einval)
{
    int m = method_of(_i);
    char *p = map_anon(2);
    uvm_tracker *t = start(p, 2, m);
    ck_assert_str_eq(uvm_dirty_method(t),
                     m == UVM_DIRTY_UFFD ? "uffd-wp-async" : "mprotect");
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
    void *pages[2];
    errno = 0;
    ck_assert_int_eq(uvm_dirty(t, pages, 2), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(uvm_dirty_stop(t), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(uvm_dirty_method(t));
    ck_assert_int_eq(errno, EINVAL);
    long junk[64] = { 0 };
    errno = 0;
    ck_assert_int_eq(uvm_dirty((uvm_tracker *)junk, pages, 2), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(uvm_dirty_stop(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    p[0] = 1;                   /* the range is ordinary memory again */
}
END_TEST

START_TEST(softdirty_is_enotsup_where_it_does_not_work)
{
    char *p = map_anon(2);
    errno = 0;
    ck_assert_ptr_null(uvm_dirty_start(p, 2 * ps, UVM_DIRTY_SOFTDIRTY));
    ck_assert_int_eq(errno, ENOTSUP);
}
END_TEST

/* ---- B. basic correctness, small (10) and larger (5120) ranges ---- */

static const size_t sizes[2] = { 10, 5120 };

START_TEST(fresh_range_reports_nothing)
{
    for (int k = 0; k < 2; k++) {
        size_t n = sizes[k];
        char *p = map_anon(n);
        memset(p, 1, n * ps);                    /* populated before */
        uvm_tracker *t = start(p, n, method_of(_i));
        struct uvm_run r[4];
        ck_assert_int_eq(uvm_dirty_runs(t, r, 4), 0);
        uvm_dirty_stop(t);
        munmap(p, n * ps);
    }
}
END_TEST

START_TEST(every_page_written_is_one_run)
{
    for (int k = 0; k < 2; k++) {
        size_t n = sizes[k];
        char *p = map_anon(n);
        uvm_tracker *t = start(p, n, method_of(_i));
        for (size_t i = 0; i < n; i++)
            p[i * ps] = 1;
        struct uvm_run r[4];
        ck_assert_int_eq(uvm_dirty_runs(t, r, 4), 1);
        ck_assert_ptr_eq(r[0].start, p);
        ck_assert_uint_eq(r[0].npages, n);
        ck_assert_int_eq(uvm_dirty_runs(t, r, 4), 0);   /* then clean */
        uvm_dirty_stop(t);
        munmap(p, n * ps);
    }
}
END_TEST

START_TEST(all_but_first_and_last_is_one_run_of_n_minus_2)
{
    for (int k = 0; k < 2; k++) {
        size_t n = sizes[k];
        char *p = map_anon(n);
        uvm_tracker *t = start(p, n, method_of(_i));
        memset(p, 1, n * ps);
        ck_assert_int_eq(uvm_dirty(t, NULL, 0), 0);
        for (size_t i = 1; i + 1 < n; i++)
            p[i * ps] = 2;
        struct uvm_run r[4];
        ck_assert_int_eq(uvm_dirty_runs(t, r, 4), 1);
        ck_assert_ptr_eq(r[0].start, p + ps);
        ck_assert_uint_eq(r[0].npages, n - 2);
        ck_assert_int_eq(uvm_dirty_runs(t, r, 4), 0);    /* scenario 8 */
        uvm_dirty_stop(t);
        munmap(p, n * ps);
    }
}
END_TEST

START_TEST(single_page_alone_and_two_adjacent_pages_as_one_run)
{
    size_t n = 10;
    char *p = map_anon(n);
    uvm_tracker *t = start(p, n, method_of(_i));
    p[5 * ps] = 1;
    void *pages[10];
    ck_assert_int_eq(uvm_dirty(t, pages, 10), 1);
    ck_assert_ptr_eq(pages[0], p + 5 * ps);
    p[4 * ps + 7] = 1;
    p[5 * ps + 9] = 1;
    struct uvm_run r[2];
    ck_assert_int_eq(uvm_dirty_runs(t, r, 2), 1);
    ck_assert_ptr_eq(r[0].start, p + 4 * ps);
    ck_assert_uint_eq(r[0].npages, 2);
    uvm_dirty_stop(t);
}
END_TEST

START_TEST(alternating_pattern_gives_n_over_2_runs)
{
    size_t n = 5120;
    char *p = map_anon(n);
    uvm_tracker *t = start(p, n, method_of(_i));
    for (size_t i = 0; i < n; i += 2)
        p[i * ps] = 1;
    struct uvm_run *r = calloc(n, sizeof *r);
    ck_assert_int_eq(uvm_dirty_runs(t, r, n), (ssize_t)(n / 2));
    for (size_t i = 0; i < n / 2; i++) {
        ck_assert_ptr_eq(r[i].start, p + 2 * i * ps);
        ck_assert_uint_eq(r[i].npages, 1);
    }
    free(r);
    uvm_dirty_stop(t);
}
END_TEST

/* ---- C. partial reads and resumption ---- */

START_TEST(small_budget_collects_in_calls_that_sum_to_the_writes)
{
    size_t n = 5120, written = 0;
    char *p = map_anon(n);
    uvm_tracker *t = start(p, n, method_of(_i));
    for (size_t i = 0; i < n; i += 3, written++)
        p[i * ps] = 1;
    void *pages[100];
    size_t total = 0;
    void *last = NULL;
    ssize_t k;
    while ((k = uvm_dirty(t, pages, 100)) > 0) {
        for (ssize_t j = 0; j < k; j++) {
            ck_assert((char *)pages[j] > (char *)last);   /* ascending */
            last = pages[j];
        }
        total += (size_t)k;
        if ((size_t)k < 100)
            break;
    }
    ck_assert_int_ge(k, 0);
    ck_assert_uint_eq(total, written);
    ck_assert_int_eq(uvm_dirty(t, pages, 100), 0);
    uvm_dirty_stop(t);
}
END_TEST

/* Scenario 13 (and 14): tiny vectors over random patterns; every written
 * page exactly once, never twice (the walk_end quirk, doc/dirty.md [dirty.loop]). */
START_TEST(random_patterns_with_tiny_vectors_report_each_page_once)
{
    size_t n = 2048;
    char *p = map_anon(n);
    uvm_tracker *t = start(p, n, method_of(_i));
    unsigned seed = seed_get("random_patterns");
    unsigned char *want = calloc(n, 1), *got = calloc(n, 1);
    for (int round = 0; round < 100; round++) {
        memset(want, 0, n);
        memset(got, 0, n);
        size_t nw = 0;
        for (size_t i = 0; i < n; i++)
            if (rand_r(&seed) % 4 == 0) {
                p[i * ps] = (char)round;
                want[i] = 1;
                nw++;
            }
        size_t vec = 1 + (size_t)rand_r(&seed) % 7, seen = 0;
        struct uvm_run r[8];
        ssize_t k;
        do {
            k = uvm_dirty_runs(t, r, vec);
            ck_assert_int_ge(k, 0);
            for (ssize_t j = 0; j < k; j++)
                for (size_t q = 0; q < r[j].npages; q++) {
                    size_t idx = (size_t)((char *)r[j].start - p) / ps + q;
                    ck_assert_uint_lt(idx, n);
                    ck_assert_msg(!got[idx], "page %zu reported twice", idx);
                    ck_assert_msg(want[idx], "page %zu never written", idx);
                    got[idx] = 1;
                    seen++;
                }
        } while ((size_t)k == vec);
        ck_assert_uint_eq(seen, nw);
    }
    free(want);
    free(got);
    uvm_dirty_stop(t);
}
END_TEST

/* ---- D. isolation and repetition ---- */

START_TEST(two_trackers_are_independent)
{
    int m = method_of(_i);
    char *p = map_anon(8);
    uvm_tracker *a = start(p, 4, m), *b = start(p + 4 * ps, 4, m);
    p[0] = 1;
    p[5 * ps] = 1;
    ck_assert_int_eq(uvm_dirty(a, NULL, 0), 0);            /* reset a */
    void *pages[4];
    ck_assert_int_eq(uvm_dirty(b, pages, 4), 1);
    ck_assert_ptr_eq(pages[0], p + 5 * ps);
    ck_assert_int_eq(uvm_dirty(a, pages, 4), 0);
    uvm_dirty_stop(a);
    uvm_dirty_stop(b);
}
END_TEST

START_TEST(one_page_hundred_cycles_of_clean_write_dirty)
{
    char *p = map_anon(1);
    uvm_tracker *t = start(p, 1, method_of(_i));
    void *page;
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(uvm_dirty(t, &page, 1), 0);
        p[i] = (char)i;
        ck_assert_int_eq(uvm_dirty(t, &page, 1), 1);
        ck_assert_ptr_eq(page, p);
    }
    uvm_dirty_stop(t);
}
END_TEST

/* ---- E. other VM operations ---- */

START_TEST(protection_changes_alone_never_dirty_a_page)
{
    /* uffd only: under the mprotect method the tracker owns protection. */
    char *p = map_anon(4);
    memset(p, 1, 4 * ps);
    uvm_tracker *t = start(p, 4, UVM_DIRTY_UFFD);
    ck_assert_int_eq(uvm_protn(p, 4, PROT_NONE), 0);
    ck_assert_int_eq(uvm_protn(p, 4, PROT_READ), 0);
    ck_assert_int_eq(uvm_protn(p, 4, PROT_READ | PROT_WRITE), 0);
    void *pages[4];
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 0);
    p[2 * ps] = 3;
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 1);
    ck_assert_ptr_eq(pages[0], p + 2 * ps);
    uvm_dirty_stop(t);
}
END_TEST

START_TEST(madv_dontneed_reports_the_page_dirty)
{
    char *p = map_anon(4);
    memset(p, 1, 4 * ps);
    uvm_tracker *t = start(p, 4, UVM_DIRTY_UFFD);
    ck_assert_int_eq(madvise(p + ps, ps, MADV_DONTNEED), 0);
    void *pages[4];
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 1);     /* conservative */
    ck_assert_ptr_eq(pages[0], p + ps);
    uvm_dirty_stop(t);
}
END_TEST

START_TEST(reading_unpopulated_pages_is_not_a_write)
{
    char *p = map_anon(8);
    uvm_tracker *t = start(p, 8, method_of(_i));
    volatile char sum = 0;
    for (int i = 0; i < 8; i++)
        sum += p[i * ps];
    void *pages[8];
    ck_assert_int_eq(uvm_dirty(t, pages, 8), 0);
    p[7 * ps] = 1;                                   /* first write counts */
    ck_assert_int_eq(uvm_dirty(t, pages, 8), 1);
    ck_assert_ptr_eq(pages[0], p + 7 * ps);
    uvm_dirty_stop(t);
    (void)sum;
}
END_TEST

START_TEST(remapped_page_then_prot_cycles_then_writes_are_all_reported)
{
    /* Scenario 17: MAP_FIXED over a page, track again, cycle protection. */
    int m = method_of(_i);
    char *p = map_anon(4);
    ck_assert_ptr_eq(mmap(p + ps, ps, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                     p + ps);
    uvm_tracker *t = start(p, 4, m);
    if (m == UVM_DIRTY_UFFD) {
        ck_assert_int_eq(uvm_protn(p, 4, PROT_NONE), 0);
        ck_assert_int_eq(uvm_protn(p, 4, PROT_READ), 0);
        ck_assert_int_eq(uvm_protn(p, 4, PROT_READ | PROT_WRITE), 0);
    }
    for (int i = 0; i < 4; i++)
        p[i * ps] = 1;
    struct uvm_run r[4];
    ck_assert_int_eq(uvm_dirty_runs(t, r, 4), 1);
    ck_assert_uint_eq(r[0].npages, 4);
    uvm_dirty_stop(t);
}
END_TEST

START_TEST(fork_child_has_no_tracking_and_parent_is_unaffected)
{
    int m = method_of(_i);
    char *p = map_anon(4);
    uvm_tracker *t = start(p, 4, m);
    p[0] = 1;
    pid_t pid = fork();
    if (pid == 0) {
        void *pages[4];
        p[ps] = 1;
        ssize_t k = uvm_dirty(t, pages, 4);
        int ok = m == UVM_DIRTY_UFFD ? (k == -1 && errno == ECHILD)
                                     : k == 2;  /* inherited: sees both */
        ok = ok && uvm_dirty_stop(t) == 0;
        _exit(ok ? 0 : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed");
    void *pages[4];
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 1);     /* only the parent's */
    ck_assert_ptr_eq(pages[0], p);
    p[3 * ps] = 1;
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 1);
    ck_assert_ptr_eq(pages[0], p + 3 * ps);
    uvm_dirty_stop(t);
}
END_TEST

/* Scenario 28: read(2) into a tracked page. */
START_TEST(read_syscall_into_tracked_page_is_reported)
{
    int m = method_of(_i);
    char *p = map_anon(4);
    memset(p, 0, 4 * ps);
    uvm_tracker *t = start(p, 4, m);
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    ck_assert_int_eq(write(fd[1], "hello", 5), 5);
    if (m == UVM_DIRTY_MPROTECT) {
        errno = 0;            /* the kernel does not trap: EFAULT */
        ck_assert_int_eq(read(fd[0], p + 2 * ps, 5), -1);
        ck_assert_int_eq(errno, EFAULT);
        ck_assert_int_eq(uvm_touch(p + 2 * ps, 5, UVM_ACCESS_WRITE), 0);
    }
    ck_assert_int_eq(read(fd[0], p + 2 * ps, 5), 5);
    ck_assert_int_eq(memcmp(p + 2 * ps, "hello", 5), 0);
    void *pages[4];
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 1);
    ck_assert_ptr_eq(pages[0], p + 2 * ps);
    uvm_dirty_stop(t);
}
END_TEST

/* Scenario 31: MAP2, writes through the alias are not reported on the
 * tracked view; writes through the tracked view are. */
START_TEST(map2_alias_write_is_not_reported_on_tracked_view)
{
    int m = method_of(_i);
    char *a = uvm_alloc(4 * ps, PROT_READ | PROT_WRITE);
    char *b = uvm_map2(a, 4 * ps, PROT_READ | PROT_WRITE);
    ck_assert_ptr_nonnull(b);
    uvm_tracker *t = start(a, 4, m);
    b[ps] = 'b';
    ck_assert_int_eq(a[ps], 'b');
    void *pages[4];
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 0);
    a[3 * ps] = 'a';
    ck_assert_int_eq(b[3 * ps], 'a');
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 1);
    ck_assert_ptr_eq(pages[0], a + 3 * ps);
    uvm_dirty_stop(t);
    uvm_free(a, 4 * ps);
    uvm_free(b, 4 * ps);
}
END_TEST

START_TEST(uffd_keeps_the_mapping_count_constant)
{
    size_t n = 4096;
    char *p = map_anon(n);
    uvm_tracker *t = start(p, n, UVM_DIRTY_UFFD);
    size_t before = maps_count();
    for (size_t i = 0; i < n; i += 2)
        p[i * ps] = 1;
    ck_assert_uint_eq(maps_count(), before);
    ck_assert_int_eq(uvm_dirty(t, NULL, 0), 0);
    ck_assert_uint_eq(maps_count(), before);
    uvm_dirty_stop(t);
}
END_TEST

START_TEST(mprotect_method_fails_cleanly_beyond_the_mapping_budget)
{
    size_t n = 1u << 18;                              /* 1 GiB */
    char *p = map_anon(n);
    /* Warm up: the first fault maps the thread's record (thread.c). */
    uvm_tracker *w = start(p, 1, UVM_DIRTY_MPROTECT);
    p[0] = 1;
    uvm_dirty_stop(w);
    size_t before = maps_count_in(p, n * ps);
    errno = 0;
    ck_assert_ptr_null(uvm_dirty_start(p, n * ps, UVM_DIRTY_MPROTECT));
    ck_assert_int_eq(errno, ENOMEM);
    ck_assert_uint_eq(maps_count_in(p, n * ps), before);
    p[0] = 1;                                  /* nothing left protected */
    /* Within the budget, splits are undone by the next uvm_dirty. */
    uvm_tracker *t = start(p, 4096, UVM_DIRTY_MPROTECT);
    for (size_t i = 0; i < 4096; i += 2)
        p[i * ps] = 1;
    ck_assert_uint_gt(maps_count_in(p, n * ps), before + 1000);
    ck_assert_int_eq(uvm_dirty(t, NULL, 0), 0);
    ck_assert_uint_le(maps_count_in(p, n * ps), before + 2);
    uvm_dirty_stop(t);
    ck_assert_uint_le(maps_count_in(p, n * ps), before);
}
END_TEST

/* ---- F. concurrency (scenario 23) ---- */

#define WRITERS 6
#define PER_WRITER 8
#define ITERATIONS 1000

struct race {
    char *p;
    size_t n;
    pthread_barrier_t go, done;
    unsigned char written[WRITERS * 64];     /* per iteration */
    unsigned seed;
};

static void *race_writer(void *arg)
{
    struct race *r = arg;
    static _Atomic int next_id;
    int id = atomic_fetch_add(&next_id, 1) % WRITERS;
    unsigned seed = r->seed + (unsigned)id;
    for (int it = 0; it < ITERATIONS; it++) {
        pthread_barrier_wait(&r->go);
        for (int k = 0; k < PER_WRITER; k++) {
            size_t pg = (size_t)id * 64 + (size_t)rand_r(&seed) % 64;
            r->p[pg * ps + 8] = (char)it;
            r->written[pg] = 1;
        }
        pthread_barrier_wait(&r->done);
    }
    return NULL;
}

static void race_mark(struct race *r, void **pages, ssize_t k,
                      unsigned char *seen)
{
    for (ssize_t j = 0; j < k; j++)
        seen[((char *)pages[j] - r->p) / (ptrdiff_t)ps] = 1;
}

START_TEST(concurrent_writers_never_lose_a_write)
{
    static struct race r;
    r.n = WRITERS * 64;
    r.p = map_anon(r.n);
    r.seed = seed_get("concurrent_writers");
    pthread_barrier_init(&r.go, NULL, WRITERS + 1);
    pthread_barrier_init(&r.done, NULL, WRITERS + 1);
    uvm_tracker *t = start(r.p, r.n, method_of(_i));
    pthread_t th[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        pthread_create(&th[i], NULL, race_writer, &r);
    void *pages[WRITERS * 64];
    unsigned char seen[WRITERS * 64];
    unsigned long twice = 0;
    for (int it = 0; it < ITERATIONS; it++) {
        memset(r.written, 0, sizeof r.written);
        memset(seen, 0, sizeof seen);
        pthread_barrier_wait(&r.go);
        ssize_t k = uvm_dirty(t, pages, r.n);      /* races the writers */
        ck_assert_int_ge(k, 0);
        race_mark(&r, pages, k, seen);
        pthread_barrier_wait(&r.done);
        k = uvm_dirty(t, pages, r.n);
        ck_assert_int_ge(k, 0);
        for (ssize_t j = 0; j < k; j++) {
            size_t idx = (size_t)((char *)pages[j] - r.p) / ps;
            twice += seen[idx];
            seen[idx] = 1;
        }
        for (size_t i = 0; i < r.n; i++)
            ck_assert_msg(!r.written[i] || seen[i],
                          "iteration %d: write to page %zu lost", it, i);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    fprintf(stderr, "concurrent_writers(%s): %lu pages reported twice "
                    "(tolerated)\n", uvm_dirty_method(t), twice);
    uvm_dirty_stop(t);
}
END_TEST

/* ---- fallbacks ---- */

/* In the child: AUTO must give a working tracker of the expected method. */
static int child_tracks(const char *expect)
{
    char *p = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uvm_tracker *t = uvm_dirty_start(p, 4 * ps, UVM_DIRTY_AUTO);
    if (t == NULL || strcmp(uvm_dirty_method(t), expect) != 0)
        return 0;
    p[2 * ps] = 1;
    void *pages[4];
    return uvm_dirty(t, pages, 4) == 1 && pages[0] == p + 2 * ps &&
           uvm_dirty_stop(t) == 0;
}

static void run_body(int (*body)(void))
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(body() ? 0 : 1);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed");
}

static int seccomp_body(void)
{
    if (deny_syscall(SYS_userfaultfd, EPERM) != 0)
        return 0;
    char *p = mmap(NULL, ps, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    errno = 0;
    if (uvm_dirty_start(p, ps, UVM_DIRTY_UFFD) != NULL || errno != ENOTSUP)
        return 0;
    return child_tracks("mprotect");
}

START_TEST(auto_falls_back_to_mprotect_when_seccomp_denies_userfaultfd)
{
    run_body(seccomp_body);
}
END_TEST

static int unprivileged_body(void)
{
    if (become_unprivileged() != 0)
        return 0;
    return child_tracks(have_uffd ? "uffd-wp-async" : "mprotect");
}

START_TEST(unprivileged_process_tracks_with_user_mode_only_uffd)
{
    run_body(unprivileged_body);
}
END_TEST

/* ---- 1 GiB ---- */

START_TEST(one_gib_written_in_random_order_is_tracked_by_auto)
{
    size_t n = 1u << 18;
    char *p = map_anon(n);
    uvm_tracker *t = start(p, n, UVM_DIRTY_AUTO);
    unsigned seed = seed_get("one_gib");
    uint32_t *order = malloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rand_r(&seed) % (i + 1);
        uint32_t x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    for (size_t i = 0; i < n; i++)
        p[(size_t)order[i] * ps] = 1;
    free(order);
    void **pages = malloc(n * sizeof *pages);
    ck_assert_int_eq(uvm_dirty(t, pages, n), (ssize_t)n);
    for (size_t i = 0; i < n; i++)
        ck_assert_ptr_eq(pages[i], p + i * ps);
    ck_assert_int_eq(uvm_dirty(t, pages, n), 0);
    free(pages);
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
    munmap(p, n * ps);
}
END_TEST

/* The mprotect method owns its range's protection: a uvm_unprot behind
 * its back is undone by the next uvm_dirty, even one that finds nothing,
 * so later writes are seen again. */
START_TEST(mprotect_method_reprotects_after_a_foreign_unprot)
{
    size_t n = 4;
    char *p = map_anon(n);
    uvm_tracker *t = start(p, n, UVM_DIRTY_MPROTECT);
    void *pages[4];
    ck_assert_int_eq(uvm_unprot(p + ps, PROT_READ | PROT_WRITE), 0);
    p[ps] = 1;                      /* invisible to this method: no fault */
    __asm__ __volatile__("" : : : "memory");
    ck_assert_int_ge(uvm_dirty(t, pages, 4), 0);
    *(volatile char *)(p + ps) = 2; /* after the call: must be seen */
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 1);
    ck_assert_ptr_eq(pages[0], p + ps);
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
}
END_TEST

/* ---- seams (issue 13) ---- */



/* uvm_dirty_start(UVM_DIRTY_SOFTDIRTY) used to write "4" to
 * /proc/self/clear_refs, resetting the soft-dirty bits of the whole
 * process, before failing anyway.  open(2) is watched in this program
 * (where no sanitizer intercepts it) for a clear_refs opened to write. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WATCH_OPEN 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WATCH_OPEN 0
#endif
#endif
#ifndef WATCH_OPEN
#define WATCH_OPEN 1
#include <stdarg.h>
static atomic_int clear_refs_opened;
int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (strstr(path, "clear_refs") != NULL && (flags & O_ACCMODE) != O_RDONLY)
        atomic_store(&clear_refs_opened, 1);
    return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}
#endif

START_TEST(softdirty_start_never_writes_clear_refs)
{
    char *p = map_anon(2);
    p[0] = 1;
    errno = 0;
    ck_assert_ptr_null(uvm_dirty_start(p, 2 * ps, UVM_DIRTY_SOFTDIRTY));
    ck_assert_int_eq(errno, ENOTSUP);
#if WATCH_OPEN
    ck_assert_msg(!atomic_load(&clear_refs_opened),
                  "/proc/self/clear_refs was opened for writing");
#endif
}
END_TEST

/* A page of the range unmapped under the tracker: stopping must leave
 * every page still mapped writable (mprotect(2) stops at the hole, and
 * the pieces after it used to stay read-only with no trap: the next write
 * killed the process). */
START_TEST(stop_after_a_page_was_unmapped_leaves_the_rest_writable)
{
    int m = method_of(_i);
    char *p = map_anon(6);
    uvm_tracker *t = start(p, 6, m);
    p[4 * ps] = 1;
    ck_assert_int_eq(munmap(p + 2 * ps, ps), 0);
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
    for (size_t i = 0; i < 6; i++)
        if (i != 2)
            poke(p + i * ps, 2);           /* SIGSEGV before the fix */
    ck_assert(maps_range_is(p, 2 * ps, PROT_READ | PROT_WRITE));
    ck_assert(maps_range_is(p + 3 * ps, 3 * ps, PROT_READ | PROT_WRITE));
}
END_TEST

/* uvm_dirty_start failing part-way (the mprotect of the range stopped by
 * a sealed page after it changed the others) must leave the range as it
 * found it. */
START_TEST(failed_start_leaves_the_range_writable)
{
    char *p = map_anon(4);
    if (syscall(462 /* mseal, 6.10 */, p + 3 * ps, ps, 0) != 0) {
        fprintf(stderr, "failed_start_leaves_the_range_writable: no "
                        "mseal(2) here (%s): not run\n", strerror(errno));
        return;
    }
    errno = 0;
    ck_assert_ptr_null(uvm_dirty_start(p, 4 * ps, UVM_DIRTY_MPROTECT));
    ck_assert_int_eq(errno, EPERM);
    for (size_t i = 0; i < 4; i++)
        poke(p + i * ps, 1);               /* SIGSEGV before the fix */
    ck_assert(maps_range_is(p, 4 * ps, PROT_READ | PROT_WRITE));
}
END_TEST

/* A thread inside uvm_dirty holds the tracker's mutex; a fork at that
 * moment used to hand the child that mutex locked for ever, and the
 * child's first uvm_dirty or uvm_dirty_stop hung. */
struct spinner { uvm_tracker *t; char *p; atomic_int stop; };

static void *dirty_spin(void *arg)
{
    struct spinner *sp = arg;
    void *pages[8];
    /* No writes here: a thread inside the fault handler at the fork is
     * another matter (the child waits for its hazard pointer: see the
     * report of issue 13), and this test is about the tracker's mutex. */
    while (!atomic_load(&sp->stop))
        uvm_dirty(sp->t, pages, 8);
    return NULL;
}

START_TEST(fork_during_uvm_dirty_gives_a_child_that_does_not_hang)
{
    int m = method_of(_i);
    struct spinner sp = { .p = map_anon(8) };
    sp.t = start(sp.p, 8, m);
    sp.p[0] = 1;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, dirty_spin, &sp), 0);
    for (int round = 0; round < 40; round++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            die_in(5);
            void *pages[8];
            ssize_t k = uvm_dirty(sp.t, pages, 8);
            int ok = m == UVM_DIRTY_UFFD ? k == -1 && errno == ECHILD
                                         : k >= 0;
            _exit(ok && uvm_dirty_stop(sp.t) == 0 ? 0 : 1);
        }
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "round %d: child %s %d", round,
                      WIFSIGNALED(st) ? "killed by signal" : "exited",
                      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    }
    atomic_store(&sp.stop, 1);
    pthread_join(th, NULL);
    ck_assert_int_eq(uvm_dirty_stop(sp.t), 0);
}
END_TEST

/* Two threads racing the first start on one range: exactly one wins, the
 * other gets EEXIST, and the winner tracks as if alone. */
struct racer { char *p; int method; pthread_barrier_t *b; uvm_tracker *t;
               int err; };

static void *start_race_run(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->b);
    r->t = uvm_dirty_start(r->p, 8 * ps, r->method);
    r->err = r->t == NULL ? errno : 0;
    return NULL;
}

START_TEST(two_threads_racing_a_first_start_one_wins)
{
    int m = method_of(_i);
    for (int round = 0; round < 50; round++) {
        char *p = map_anon(8);
        pthread_barrier_t b;
        pthread_barrier_init(&b, NULL, 2);
        struct racer r[2] = { { p, m, &b, NULL, 0 }, { p, m, &b, NULL, 0 } };
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, start_race_run, &r[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&b);
        ck_assert_msg((r[0].t != NULL) + (r[1].t != NULL) == 1,
                      "round %d: %d winners", round,
                      (r[0].t != NULL) + (r[1].t != NULL));
        struct racer *win = r[0].t ? &r[0] : &r[1];
        ck_assert_int_eq((win == &r[0] ? r[1] : r[0]).err, EEXIST);
        p[3 * ps] = 1;
        void *pages[8];
        ck_assert_int_eq(uvm_dirty(win->t, pages, 8), 1);
        ck_assert_ptr_eq(pages[0], p + 3 * ps);
        ck_assert_int_eq(uvm_dirty_stop(win->t), 0);
        munmap(p, 8 * ps);
    }
}
END_TEST

/* A full runs array still takes pages that extend its last run: pages
 * 0-2 written and room for one run give {page 0, 3 pages} with either
 * method (the mprotect method used to stop at {page 0, 1 page}). */
START_TEST(full_runs_array_still_extends_its_last_run)
{
    alarm(20);
    int m = method_of(_i);
    char *p = map_anon(8);
    uvm_tracker *t = start(p, 8, m);
    p[0] = p[ps] = p[2 * ps] = 1;
    p[5 * ps] = 1;
    struct uvm_run run[1];
    ssize_t n = uvm_dirty_runs(t, run, 1);
    ck_assert_int_eq(n, 1);
    ck_assert_ptr_eq(run[0].start, p);
    ck_assert_uint_eq(run[0].npages, 3);
    /* the page that did not fit is still dirty */
    n = uvm_dirty_runs(t, run, 1);
    ck_assert_int_eq(n, 1);
    ck_assert_ptr_eq(run[0].start, p + 5 * ps);
    ck_assert_uint_eq(run[0].npages, 1);
    ck_assert_int_eq(uvm_dirty_runs(t, run, 1), 0);
    uvm_dirty_stop(t);
    munmap(p, 8 * ps);
    alarm(0);
}
END_TEST

static Suite *dirty_suite(void)
{
    Suite *s = suite_create("dirty");
    TCase *tc = tcase_create("dirty");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, start_rejects_bad_arguments);
    tcase_add_test(tc, softdirty_is_enotsup_where_it_does_not_work);
    tcase_add_loop_test(tc, overlapping_trackers_are_eexist, 0, nmethods);
    tcase_add_loop_test(tc, null_buffer_with_nonzero_max_is_einval_and_max_zero_resets, 0, nmethods);
    tcase_add_loop_test(tc, stale_or_foreign_tracker_is_einval, 0, nmethods);
    tcase_add_test(tc, mprotect_method_reprotects_after_a_foreign_unprot);
    tcase_add_loop_test(tc, fresh_range_reports_nothing, 0, nmethods);
    tcase_add_loop_test(tc, every_page_written_is_one_run, 0, nmethods);
    tcase_add_loop_test(tc, all_but_first_and_last_is_one_run_of_n_minus_2, 0, nmethods);
    tcase_add_loop_test(tc, single_page_alone_and_two_adjacent_pages_as_one_run, 0, nmethods);
    tcase_add_loop_test(tc, alternating_pattern_gives_n_over_2_runs, 0, nmethods);
    tcase_add_loop_test(tc, small_budget_collects_in_calls_that_sum_to_the_writes, 0, nmethods);
    tcase_add_loop_test(tc, random_patterns_with_tiny_vectors_report_each_page_once, 0, nmethods);
    tcase_add_loop_test(tc, two_trackers_are_independent, 0, nmethods);
    tcase_add_loop_test(tc, one_page_hundred_cycles_of_clean_write_dirty, 0, nmethods);
    tcase_add_loop_test(tc, reading_unpopulated_pages_is_not_a_write, 0, nmethods);
    tcase_add_loop_test(tc, remapped_page_then_prot_cycles_then_writes_are_all_reported, 0, nmethods);
    tcase_add_loop_test(tc, fork_child_has_no_tracking_and_parent_is_unaffected, 0, nmethods);
    tcase_add_loop_test(tc, read_syscall_into_tracked_page_is_reported, 0, nmethods);
    tcase_add_loop_test(tc, map2_alias_write_is_not_reported_on_tracked_view, 0, nmethods);
    tcase_add_loop_test(tc, concurrent_writers_never_lose_a_write, 0, nmethods);
    tcase_add_test(tc, mprotect_method_fails_cleanly_beyond_the_mapping_budget);
    tcase_add_test(tc, auto_falls_back_to_mprotect_when_seccomp_denies_userfaultfd);
    tcase_add_test(tc, unprivileged_process_tracks_with_user_mode_only_uffd);
    tcase_add_test(tc, softdirty_start_never_writes_clear_refs);
    tcase_add_loop_test(tc, stop_after_a_page_was_unmapped_leaves_the_rest_writable, 0, nmethods);
    tcase_add_test(tc, failed_start_leaves_the_range_writable);
    tcase_add_loop_test(tc, fork_during_uvm_dirty_gives_a_child_that_does_not_hang, 0, nmethods);
    tcase_add_loop_test(tc, two_threads_racing_a_first_start_one_wins, 0, nmethods);
    tcase_add_loop_test(tc, full_runs_array_still_extends_its_last_run, 0, nmethods);
    if (have_uffd) {
        tcase_add_test(tc, protection_changes_alone_never_dirty_a_page);
        tcase_add_test(tc, madv_dontneed_reports_the_page_dirty);
        tcase_add_test(tc, uffd_keeps_the_mapping_count_constant);
    }
    suite_add_tcase(s, tc);
    /* 2^18 pages: minutes, not seconds, on a loaded 2-core machine (it
     * timed out at 60 s there while other builds ran). */
    tc = tcase_create("large");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, one_gib_written_in_random_order_is_tracked_by_auto);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    ps = uvm_pagesize();
    /* Probe in a child, so that the test processes probe for themselves. */
    pid_t pid = fork();
    if (pid == 0) {
        char *p = mmap(NULL, ps, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        _exit(uvm_dirty_start(p, ps, UVM_DIRTY_UFFD) != NULL ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    have_uffd = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    nmethods = have_uffd ? 2 : 1;
    if (!have_uffd)
        fprintf(stderr, "test-dirty: the uffd method is unavailable here "
                        "(userfaultfd WP_ASYNC/PAGEMAP_SCAN, Linux 6.7); "
                        "only the mprotect method was tested\n");
    SRunner *sr = srunner_create(dirty_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (failed)
        return EXIT_FAILURE;
    return have_uffd ? EXIT_SUCCESS : 77;
}
