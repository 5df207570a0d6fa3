/*
 * test-fork.c: fork() with live objects (the fork matrix).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Every kind of live object the library hands out -- a trap region whose
 * page is protected through mprotect (PROT_NONE), one protected write-only
 * (the userfaultfd path where the kernel has it), a DIRTY tracker of each
 * method, a snapshot chain of each design, a MAP2 object -- times each thing a child may
 * do with it: nothing, use it, release it.  While the parent forks, a busy
 * thread of the parent is inside the library on objects of its own (trap
 * churn, write-only protection with faults, DIRTY scans of both methods,
 * snapshots taken and released, MAP2 allocation), so that some forks land
 * while it holds a lock or a hazard pointer.
 *
 * What must hold:
 *   - the child never hangs (each child runs under alarm(); the parent
 *     kills and fails a child that outlives its deadline);
 *   - the child can use the library afresh (a new region, protection
 *     change, tracker, snapshot and MAP2 object work in it);
 *   - what the child does with an inherited object either works on the
 *     child's own memory or fails with ECHILD, and a release in the child
 *     returns 0 (uvm(7), FORK);
 *   - the parent's object is untouched: its protections still trap, its
 *     tracker still reports the parent's writes and no other, its snapshot
 *     still reads what the range held, its MAP2 views still share pages.
 *
 * The whole matrix runs twice: with the default backend and with
 * UVM_BACKEND=mprotect (Check runs each test in a process of its own, so
 * the variable is read afresh).
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define ITERS       12     /* forks per cell */
#define CHILD_SECS  10     /* a child's deadline */

enum kind { K_REGION_NONE, K_REGION_RO, K_TRACK_UFFD, K_TRACK_MPROTECT,
            K_SNAP, K_SNAP_TRACKED, K_MAP2, NKINDS };
enum act  { A_NOTHING, A_USE, A_RELEASE, NACTS };

static const char *const kind_name[NKINDS] = {
    "region PROT_NONE", "region PROT_READ", "tracker uffd",
    "tracker mprotect", "snapshot", "tracked snapshot", "MAP2"
};
static const char *const act_name[NACTS] = { "nothing", "use", "release" };

/* ---- a child's verdicts: it exits with 0, or writes why and exits 1 ---- */

#define CHILD_CHECK(cond)                                                   \
    do {                                                                    \
        if (!(cond)) {                                                      \
            dprintf(2, "child: %s:%d: %s (errno %d)\n", __FILE__,          \
                    __LINE__, #cond, errno);                                \
            _exit(1);                                                       \
        }                                                                   \
    } while (0)

/* An operation on an inherited object: it works, or it says ECHILD. */
#define CHILD_OK_OR_ECHILD(rc) ((rc) == 0 || errno == ECHILD)

/* ---- region handlers: count, then open the page ---- */

static atomic_long region_faults;     /* the objects under test */
static atomic_long busy_faults;       /* the busy thread's region */

static int h_open(const struct uvm_fault *f)
{
    atomic_fetch_add((atomic_long *)f->arg, 1);
    return uvm_unprot(f->page, PROT_READ | PROT_WRITE) == 0 ? UVM_RETRY
                                                            : UVM_DECLINE;
}

/* ---- the object under test ---- */

struct obj {
    enum kind kind;
    char *mem;            /* the range (the first view, for MAP2) */
    char *view;           /* MAP2: the second view */
    size_t npages;
    uvm_region *region;
    uvm_tracker *tracker;
    uvm_snap *snap;
    int iter;
};

static void obj_setup(struct obj *o, enum kind k)
{
    memset(o, 0, sizeof *o);
    o->kind = k;
    o->npages = 8;
    if (k == K_MAP2) {
        o->mem = uvm_alloc(o->npages * PS, PROT_READ | PROT_WRITE);
        ck_assert_ptr_nonnull(o->mem);
        o->view = uvm_map2(o->mem, o->npages * PS, PROT_READ);
        ck_assert_ptr_nonnull(o->view);
        return;
    }
    o->mem = map_pages(o->npages, PROT_READ | PROT_WRITE);
    memset(o->mem, 'p', o->npages * PS);
    switch (k) {
    case K_REGION_NONE:
    case K_REGION_RO:
        o->region = uvm_trap(o->mem, o->npages * PS, h_open, &region_faults);
        ck_assert_ptr_nonnull(o->region);
        break;
    case K_TRACK_UFFD:
    case K_TRACK_MPROTECT:
        o->tracker = uvm_dirty_start(o->mem, o->npages * PS,
                                     k == K_TRACK_UFFD ? UVM_DIRTY_UFFD
                                                       : UVM_DIRTY_MPROTECT);
        if (o->tracker == NULL) {
            /* userfaultfd may be missing (unprivileged, seccomp, the
             * mprotect backend forced): the cell then has nothing to test */
            ck_assert(k == K_TRACK_UFFD);
            return;
        }
        ck_assert_int_eq(uvm_dirty(o->tracker, NULL, 0), 0);
        break;
    case K_SNAP: case K_SNAP_TRACKED:
        o->snap = uvm_snapshot2(o->mem, o->npages * PS,
                                o->kind == K_SNAP_TRACKED ? UVM_SNAP_TRACKED
                                                          : UVM_SNAP_UNDO);
        ck_assert_ptr_nonnull(o->snap);
        break;
    default:
        break;
    }
}

static int obj_absent(const struct obj *o)
{
    return o->kind == K_TRACK_UFFD && o->tracker == NULL;
}

/* The parent's state before each fork. */
static void obj_before_fork(struct obj *o)
{
    switch (o->kind) {
    case K_REGION_NONE:
        ck_assert_int_eq(uvm_prot1(o->mem, PROT_NONE), 0);
        break;
    case K_REGION_RO:
        ck_assert_int_eq(uvm_prot1(o->mem, PROT_READ), 0);
        break;
    case K_TRACK_UFFD:
    case K_TRACK_MPROTECT:
        poke(o->mem, 'a');                 /* page 0 is dirty at the fork */
        break;
    case K_SNAP: case K_SNAP_TRACKED:
        poke(o->mem, 'q');                 /* page 0 preserved at the fork */
        break;
    default:
        break;
    }
}

/* In the child: use the inherited object. */
static void child_use(struct obj *o)
{
    char buf[64];
    long before = atomic_load(&region_faults);
    switch (o->kind) {
    case K_REGION_NONE:
        /* the child inherits the protection and the handler */
        CHILD_CHECK(peek(o->mem) == 'p');
        CHILD_CHECK(atomic_load(&region_faults) == before + 1);
        CHILD_CHECK(uvm_prot1(o->mem, PROT_NONE) == 0);
        poke(o->mem, 'c');
        CHILD_CHECK(atomic_load(&region_faults) == before + 2);
        break;
    case K_REGION_RO: {
        /* like mprotect, a write-only protection stays in the child: a
         * write traps there too */
        poke(o->mem, 'c');
        CHILD_CHECK(atomic_load(&region_faults) == before + 1);
        int rc = uvm_prot1(o->mem, PROT_READ);
        CHILD_CHECK(CHILD_OK_OR_ECHILD(rc));
        if (rc == 0) {
            poke(o->mem, 'd');
            CHILD_CHECK(atomic_load(&region_faults) == before + 2);
        }
        break;
    }
    case K_TRACK_UFFD:
    case K_TRACK_MPROTECT: {
        void *pages[8];
        poke(o->mem + 3 * PS, 'c');
        ssize_t n = uvm_dirty(o->tracker, pages, 8);
        CHILD_CHECK(n >= 0 || errno == ECHILD);
        break;
    }
    case K_SNAP: case K_SNAP_TRACKED: {
        poke(o->mem + 2 * PS, 'c');
        int rc = uvm_snap_read(o->snap, 2 * PS, buf, sizeof buf);
        CHILD_CHECK(CHILD_OK_OR_ECHILD(rc));
        if (rc == 0)
            for (size_t i = 0; i < sizeof buf; i++)
                CHILD_CHECK(buf[i] == 'p');
        rc = uvm_snap_restore(o->snap);
        CHILD_CHECK(CHILD_OK_OR_ECHILD(rc));
        if (rc == 0) {
            CHILD_CHECK(o->mem[0] == 'p');
            CHILD_CHECK(o->mem[2 * PS] == 'p');
        }
        break;
    }
    case K_MAP2: {
        poke(o->mem, 'c');
        CHILD_CHECK(peek(o->view) == 'c');
        char *v = uvm_map2(o->mem, o->npages * PS, PROT_READ | PROT_WRITE);
        CHILD_CHECK(v != NULL);
        poke(v + PS, 'd');
        CHILD_CHECK(peek(o->view + PS) == 'd');
        CHILD_CHECK(uvm_free(v, o->npages * PS) == 0);
        break;
    }
    default:
        break;
    }
}

/* In the child: release the inherited object. */
static void child_release(struct obj *o)
{
    switch (o->kind) {
    case K_REGION_NONE:
    case K_REGION_RO:
        CHILD_CHECK(uvm_untrap(o->region) == 0);
        break;
    case K_TRACK_UFFD:
    case K_TRACK_MPROTECT:
        CHILD_CHECK(uvm_dirty_stop(o->tracker) == 0);
        /* a write after the stop must not kill the child */
        poke(o->mem + 5 * PS, 'c');
        break;
    case K_SNAP: case K_SNAP_TRACKED:
        CHILD_CHECK(uvm_snap_release(o->snap) == 0);
        poke(o->mem + 5 * PS, 'c');
        break;
    case K_MAP2:
        CHILD_CHECK(uvm_free(o->view, o->npages * PS) == 0);
        CHILD_CHECK(uvm_free(o->mem, o->npages * PS) == 0);
        break;
    default:
        break;
    }
}

/* In the parent, after the child is gone: the object is as it was. */
static void parent_check(struct obj *o)
{
    long before = atomic_load(&region_faults);
    char buf[PS];
    switch (o->kind) {
    case K_REGION_NONE:
        ck_assert_msg(peek(o->mem) == 'p', "the child wrote the parent");
        ck_assert_msg(atomic_load(&region_faults) == before + 1,
                      "the parent's PROT_NONE page no longer traps");
        break;
    case K_REGION_RO:
        poke(o->mem, 'p');
        ck_assert_msg(atomic_load(&region_faults) == before + 1,
                      "the parent's read-only page no longer traps");
        break;
    case K_TRACK_UFFD:
    case K_TRACK_MPROTECT: {
        void *pages[8];
        poke(o->mem + PS, 'b');
        ssize_t n = uvm_dirty(o->tracker, pages, 8);
        ck_assert_msg(n == 2, "the parent's tracker saw %zd pages, not 2",
                      n);
        ck_assert_ptr_eq(pages[0], o->mem);
        ck_assert_ptr_eq(pages[1], o->mem + PS);
        break;
    }
    case K_SNAP: case K_SNAP_TRACKED: {
        poke(o->mem + PS, 'r');
        for (size_t pg = 0; pg < o->npages; pg++) {
            ck_assert_int_eq(uvm_snap_read(o->snap, pg * PS, buf, PS), 0);
            for (size_t i = 0; i < PS; i += 512)
                ck_assert_msg(buf[i] == 'p',
                              "the parent's snapshot changed at page %zu",
                              pg);
        }
        ck_assert_msg(o->mem[0] == 'q' && o->mem[2 * PS] == 'p',
                      "the child's restore reached the parent");
        ck_assert_int_eq(uvm_snap_restore(o->snap), 0);
        for (size_t pg = 0; pg < o->npages; pg++)
            ck_assert_int_eq(o->mem[pg * PS], 'p');
        /* the range is still protected: a write is preserved */
        poke(o->mem + 4 * PS, 's');
        ck_assert_int_eq(uvm_snap_read(o->snap, 4 * PS, buf, 1), 0);
        ck_assert_int_eq(buf[0], 'p');
        ck_assert_int_eq(uvm_snap_restore(o->snap), 0);
        break;
    }
    case K_MAP2:
        poke(o->mem + 2 * PS, (char)('A' + o->iter % 26));
        ck_assert_int_eq(peek(o->view + 2 * PS), 'A' + o->iter % 26);
        break;
    default:
        break;
    }
}

static void obj_teardown(struct obj *o)
{
    switch (o->kind) {
    case K_REGION_NONE:
    case K_REGION_RO:
        ck_assert_int_eq(uvm_untrap(o->region), 0);
        break;
    case K_TRACK_UFFD:
    case K_TRACK_MPROTECT:
        if (o->tracker)
            ck_assert_int_eq(uvm_dirty_stop(o->tracker), 0);
        break;
    case K_SNAP: case K_SNAP_TRACKED:
        ck_assert_int_eq(uvm_snap_release(o->snap), 0);
        break;
    case K_MAP2:
        ck_assert_int_eq(uvm_free(o->view, o->npages * PS), 0);
        ck_assert_int_eq(uvm_free(o->mem, o->npages * PS), 0);
        return;
    default:
        break;
    }
    munmap(o->mem, o->npages * PS);
}

/* ---- in the child: the library works afresh ---- */

static void child_fresh_use(void)
{
    char *m = mmap(NULL, 4 * PS, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(m != MAP_FAILED);
    long before = atomic_load(&region_faults);
    uvm_region *r = uvm_trap(m, 4 * PS, h_open, &region_faults);
    CHILD_CHECK(r != NULL);
    CHILD_CHECK(uvm_prot1(m, PROT_READ) == 0);
    poke(m, 'x');
    CHILD_CHECK(atomic_load(&region_faults) == before + 1);
    CHILD_CHECK(uvm_prot1(m + PS, PROT_NONE) == 0);
    poke(m + PS, 'x');
    CHILD_CHECK(atomic_load(&region_faults) == before + 2);
    CHILD_CHECK(uvm_untrap(r) == 0);

    uvm_tracker *t = uvm_dirty_start(m, 4 * PS, UVM_DIRTY_AUTO);
    CHILD_CHECK(t != NULL);
    CHILD_CHECK(uvm_dirty(t, NULL, 0) == 0);
    poke(m + 2 * PS, 'y');
    void *pages[4];
    CHILD_CHECK(uvm_dirty(t, pages, 4) == 1 && pages[0] == m + 2 * PS);
    CHILD_CHECK(uvm_dirty_stop(t) == 0);

    memset(m, 'f', 4 * PS);
    uvm_snap *s = uvm_snapshot(m, 4 * PS);
    CHILD_CHECK(s != NULL);
    poke(m + PS, 'g');
    char c;
    CHILD_CHECK(uvm_snap_read(s, PS, &c, 1) == 0 && c == 'f');
    CHILD_CHECK(uvm_snap_release(s) == 0);
    munmap(m, 4 * PS);

    char *a = uvm_alloc(PS, PROT_READ | PROT_WRITE);
    CHILD_CHECK(a != NULL);
    char *b = uvm_map2(a, PS, PROT_READ);
    CHILD_CHECK(b != NULL);
    poke(a, 'z');
    CHILD_CHECK(peek(b) == 'z');
    CHILD_CHECK(uvm_free(b, PS) == 0 && uvm_free(a, PS) == 0);
}

/* ---- the busy thread: inside the library on objects of its own ---- */

static atomic_int busy_stop;
static atomic_long busy_rounds;

static void *busy_run(void *arg)
{
    (void)arg;
    char *m = mmap(NULL, 16 * PS, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return (void *)"mmap";
    char *w = m, *tu = m + 4 * PS, *tm = m + 8 * PS, *sn = m + 12 * PS;
    uvm_region *rw = uvm_trap(w, 4 * PS, h_open, &busy_faults);
    uvm_tracker *t1 = uvm_dirty_start(tu, 4 * PS, UVM_DIRTY_AUTO);
    uvm_tracker *t2 = uvm_dirty_start(tm, 4 * PS, UVM_DIRTY_MPROTECT);
    if (rw == NULL || t1 == NULL || t2 == NULL)
        return (void *)"setup";
    char *q = unmapped_pages(1);
    void *pages[4];
    const char *err = NULL;
    while (!atomic_load(&busy_stop) && err == NULL) {
        uvm_region *r = uvm_trap(q, PS, h_open, &busy_faults);
        if (r == NULL || uvm_untrap(r) != 0)
            err = "trap churn";
        if (uvm_protn(w, 4, PROT_READ) != 0)
            err = "protn";
        for (int i = 0; i < 4; i++)
            poke(w + (size_t)i * PS, 'w');
        poke(tu, 'u');
        poke(tm + PS, 'm');
        if (uvm_dirty(t1, pages, 4) < 0 || uvm_dirty(t2, pages, 4) < 0)
            err = "dirty";
        uvm_snap *s = uvm_snapshot(sn, 4 * PS);
        if (s == NULL)
            err = "snapshot";
        else {
            poke(sn + PS, 's');
            if (uvm_snap_release(s) != 0)
                err = "release";
        }
        char *a = uvm_alloc(PS, PROT_READ | PROT_WRITE);
        if (a == NULL || uvm_free(a, PS) != 0)
            err = "alloc";
        atomic_fetch_add(&busy_rounds, 1);
    }
    uvm_untrap(rw);
    uvm_dirty_stop(t1);
    uvm_dirty_stop(t2);
    return (void *)err;
}

/* ---- the matrix ---- */

static pid_t fork_child(struct obj *o, enum act a)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL);        /* not the test runner's handler */
        alarm(CHILD_SECS);
        child_fresh_use();
        if (a == A_USE)
            child_use(o);
        else if (a == A_RELEASE)
            child_release(o);
        child_fresh_use();               /* and still works afterwards */
        _exit(0);
    }
    return pid;
}

/* Wait for the child, killing it past its deadline; returns its status. */
static int reap(pid_t pid)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        ck_assert_int_ge(w, 0);
        if (w == pid)
            return st;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > CHILD_SECS + 5) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(1000);
    }
}

static void run_cell(enum kind k, enum act a)
{
    struct obj o;
    obj_setup(&o, k);
    if (obj_absent(&o))
        return;
    for (o.iter = 0; o.iter < ITERS; o.iter++) {
        obj_before_fork(&o);
        long rounds = atomic_load(&busy_rounds);
        pid_t pid = fork_child(&o, a);
        int st = reap(pid);
        ck_assert_msg(st != -1, "%s, child does %s: the child hung",
                      kind_name[k], act_name[a]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "%s, child does %s: the child failed (status %#x)",
                      kind_name[k], act_name[a], st);
        parent_check(&o);
        /* let the busy thread move on, so forks land at other points */
        for (int spin = 0; spin < 1000 &&
                           atomic_load(&busy_rounds) == rounds; spin++)
            usleep(50);
    }
    obj_teardown(&o);
}

static void run_matrix(void)
{
    pthread_t busy;
    atomic_store(&busy_stop, 0);
    ck_assert_int_eq(pthread_create(&busy, NULL, busy_run, NULL), 0);
    while (atomic_load(&busy_rounds) == 0)
        usleep(100);
    for (int k = 0; k < NKINDS; k++)
        for (int a = 0; a < NACTS; a++)
            run_cell((enum kind)k, (enum act)a);
    atomic_store(&busy_stop, 1);
    void *err;
    ck_assert_int_eq(pthread_join(busy, &err), 0);
    ck_assert_msg(err == NULL, "busy thread: %s", (const char *)err);
}

START_TEST(fork_matrix_default_backend)
{
    run_matrix();
}
END_TEST

START_TEST(fork_matrix_mprotect_backend)
{
    setenv("UVM_BACKEND", "mprotect", 1);
    run_matrix();
}
END_TEST

static Suite *fork_suite(void)
{
    Suite *s = suite_create("fork");
    TCase *tc = tcase_create("matrix");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, fork_matrix_default_backend);
    tcase_add_test(tc, fork_matrix_mprotect_backend);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(fork_suite());
}
