/*
 * test-coexist.c: libuvm and the other owners of SIGSEGV and SIGBUS in one
 * process (issue 8, "coexistence"; uvm(7) COEXISTENCE).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Built twice.  tests/test-coexist:
 *  (a) the program's own SA_SIGINFO handler, installed before libuvm,
 *      keeps the faults outside regions and gets the declined ones, with
 *      its siginfo, its ucontext and its sa_mask;
 *  (b) the same with libsigsegv's sigsegv_install_handler and its stack
 *      overflow handler (GPLv2+: only this test links libsigsegv);
 *  (c) a handler installed after libuvm that chains what it does not own
 *      to the action it replaced: regions, PROT through userfaultfd, DIRTY
 *      and snapshots keep working through it.
 * tests/test-coexist-gc (-DCOEXIST_GC, linked with Debian's libgc):
 *  (d) Boehm's collector in incremental mode (mprotect-based dirty bits,
 *      its own SIGSEGV handler) collecting a heap of linked objects while
 *      libuvm regions fault and DIRTY trackers run, in both orders of
 *      installation.  Exits 77 when configure found no libgc.
 */
#include "config.h"
#include "testutil.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <ucontext.h>

#define RW (PROT_READ | PROT_WRITE)

static volatile int handled, declined;

__attribute__((unused))
static int h_unprot(const struct uvm_fault *f)
{
    handled++;
    return uvm_unprot(f->page, RW) == 0 ? UVM_RETRY : UVM_DECLINE;
}

__attribute__((unused))
static int h_decline(const struct uvm_fault *f)
{
    declined++;
    return UVM_DECLINE;
}

__attribute__((unused))
static int in_range(const void *a, const char *base, size_t len)
{
    return (const char *)a >= base && (const char *)a < base + len;
}

#if !COEXIST_GC
#include <sigsegv.h>

/* ---- (a) the program's own handler, installed first ---- */

static volatile sig_atomic_t own_calls, own_sig, own_code, own_mask_ok,
                             own_uc_ok;
static void *volatile own_addr;
static int own_memfd = -1;          /* SIGBUS: grow this file */
static sigjmp_buf own_jb;
static volatile int own_jump;

static void own_handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    own_calls++;
    own_sig = sig;
    own_code = si->si_code;
    own_addr = si->si_addr;
    /* The kernel would have blocked sa_mask and the signal itself. */
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    own_mask_ok = sigismember(&cur, SIGUSR1) && sigismember(&cur, sig);
    /* The context is the fault's: a page fault (trap 14) at si_addr. */
    own_uc_ok = uc != NULL && uc->uc_mcontext.gregs[REG_TRAPNO] == 14 &&
                (uintptr_t)uc->uc_mcontext.gregs[REG_CR2] ==
                    (uintptr_t)si->si_addr;
    if (own_jump)
        siglongjmp(own_jb, 1);
    if (sig == SIGBUS)
        ftruncate(own_memfd, (off_t)(4 * PS));
    else
        mprotect((void *)((uintptr_t)si->si_addr & ~(PS - 1)), PS, RW);
}

static void install_own(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = own_handler;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR1);
    ck_assert_int_eq(sigaction(SIGSEGV, &sa, NULL), 0);
    ck_assert_int_eq(sigaction(SIGBUS, &sa, NULL), 0);
}

START_TEST(own_handler_installed_first_keeps_its_faults_and_gets_declined_ones)
{
    install_own(0);
    char *m = map_pages(3, PROT_NONE);
    ck_assert_ptr_nonnull(uvm_trap(m, PS, h_unprot, NULL));
    ck_assert_ptr_nonnull(uvm_trap(m + PS, PS, h_decline, NULL));

    poke(m + 2 * PS + 8, 1);                    /* no region: its own */
    ck_assert_int_eq(own_calls, 1);
    ck_assert_int_eq(own_sig, SIGSEGV);
    ck_assert_int_eq(own_code, SEGV_ACCERR);
    ck_assert_ptr_eq(own_addr, m + 2 * PS + 8);
    ck_assert(own_mask_ok);
    ck_assert(own_uc_ok);
    ck_assert_int_eq(handled, 0);

    poke(m + 5, 1);                             /* a region's */
    ck_assert_int_eq(handled, 1);
    ck_assert_int_eq(own_calls, 1);

    poke(m + PS + 3, 1);                        /* declined: its own again */
    ck_assert_int_eq(declined, 1);
    ck_assert_int_eq(own_calls, 2);
    ck_assert_ptr_eq(own_addr, m + PS + 3);
    ck_assert(own_mask_ok && own_uc_ok);

    struct uvm_stats st;
    uvm_stats(&st);
    ck_assert_uint_eq(st.chained, 2);
    ck_assert_uint_eq(st.declined, 1);
    ck_assert_uint_eq(st.handled, 1);
}
END_TEST

static int h_bus_grow(const struct uvm_fault *f)
{
    handled++;
    int *fd = f->arg;
    return f->signo == SIGBUS && ftruncate(*fd, (off_t)(4 * PS)) == 0
               ? UVM_RETRY
               : UVM_DECLINE;
}

/* A file mapping past the end of its file: SIGBUS (BUS_ADRERR). */
static char *map_past_eof(int *fd)
{
    *fd = memfd_create("coexist", MFD_CLOEXEC);
    ck_assert_int_ge(*fd, 0);
    ck_assert_int_eq(ftruncate(*fd, (off_t)PS), 0);
    char *p = mmap(NULL, 4 * PS, RW, MAP_SHARED, *fd, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

START_TEST(own_sigbus_handler_installed_first_keeps_its_faults)
{
    install_own(0);
    static int region_fd;
    char *own = map_past_eof(&own_memfd);
    char *reg = map_past_eof(&region_fd);
    ck_assert_ptr_nonnull(uvm_trap(reg, 4 * PS, h_bus_grow, &region_fd));

    poke(own + 2 * PS, 1);
    ck_assert_int_eq(own_calls, 1);
    ck_assert_int_eq(own_sig, SIGBUS);
    ck_assert_int_eq(own_code, BUS_ADRERR);
    ck_assert_ptr_eq(own_addr, own + 2 * PS);
    ck_assert(own_mask_ok && own_uc_ok);

    poke(reg + 3 * PS, 1);
    ck_assert_int_eq(handled, 1);
    ck_assert_int_eq(own_calls, 1);
}
END_TEST

/* A guard-page probe: the program's handler leaves by siglongjmp through
 * libuvm's frame, again and again; libuvm keeps working. */
START_TEST(own_handler_may_leave_by_siglongjmp)
{
    install_own(0);
    own_jump = 1;
    char *m = map_pages(2, PROT_NONE);
    uvm_region *r = uvm_trap(m, PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(r);
    for (int i = 0; i < 100; i++) {
        if (sigsetjmp(own_jb, 1) == 0) {
            poke(m + PS, 1);
            ck_abort_msg("the guard page was written");
        }
    }
    ck_assert_int_eq(own_calls, 100);
    /* The signal mask came back with siglongjmp. */
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    ck_assert(!sigismember(&cur, SIGSEGV) && !sigismember(&cur, SIGUSR1));
    poke(m, 1);
    ck_assert_int_eq(handled, 1);
    ck_assert_int_eq(uvm_untrap(r), 0);
}
END_TEST

static void resethand_child(void)
{
    install_own(SA_RESETHAND);
    char *m = map_pages(3, PROT_NONE);
    if (uvm_trap(m, PS, h_unprot, NULL) == NULL)
        _exit(3);
    poke(m + PS, 1);                   /* its own, once */
    if (own_calls != 1)
        _exit(4);
    poke(m, 1);                        /* regions are not affected */
    if (handled != 1)
        _exit(5);
    poke(m + 2 * PS, 1);               /* SA_RESETHAND: now the default */
    _exit(6);
}

START_TEST(own_handler_with_resethand_runs_once_then_the_default_kills)
{
    char err[8192];
    int st = run_child(resethand_child, err, sizeof err);
    ck_assert_msg(WIFSIGNALED(st), "child exited %d: %s", WEXITSTATUS(st),
                  err);
    ck_assert_int_eq(WTERMSIG(st), SIGSEGV);
}
END_TEST

/* ---- (b) libsigsegv, installed first ---- */

static volatile int sg_calls;
static void *volatile sg_addr;
static char *sg_own;            /* what the libsigsegv handler may fix */
static size_t sg_own_len;

static int sg_handler(void *addr, int serious)
{
    sg_calls++;
    sg_addr = addr;
    if (!in_range(addr, sg_own, sg_own_len))
        return 0;
    return mprotect((void *)((uintptr_t)addr & ~(PS - 1)), PS, RW) == 0;
}

START_TEST(libsigsegv_installed_first_keeps_its_faults_and_gets_declined_ones)
{
    char *m = map_pages(3, PROT_NONE);
    sg_own = m + PS;
    sg_own_len = 2 * PS;
    ck_assert_int_eq(sigsegv_install_handler(sg_handler), 0);
    ck_assert_ptr_nonnull(uvm_trap(m, PS, h_unprot, NULL));
    ck_assert_ptr_nonnull(uvm_trap(m + PS, PS, h_decline, NULL));

    poke(m + 2 * PS + 1, 1);
    ck_assert_int_eq(sg_calls, 1);
    ck_assert_ptr_eq(sg_addr, m + 2 * PS + 1);
    poke(m, 1);
    ck_assert_int_eq(handled, 1);
    ck_assert_int_eq(sg_calls, 1);
    poke(m + PS + 2, 1);
    ck_assert_int_eq(declined, 1);
    ck_assert_int_eq(sg_calls, 2);
    ck_assert_ptr_eq(sg_addr, m + PS + 2);
}
END_TEST

static void sg_refuses(void)
{
    char *m = map_pages(2, PROT_NONE);
    sg_own = NULL;
    sg_own_len = 0;
    if (sigsegv_install_handler(sg_handler) != 0 ||
        uvm_trap(m, PS, h_unprot, NULL) == NULL)
        _exit(3);
    poke(m, 1);
    if (handled != 1)
        _exit(4);
    poke(m + PS, 1);                  /* libsigsegv's handler says no */
    _exit(5);
}

START_TEST(libsigsegv_refusing_a_fault_still_kills_by_sigsegv)
{
    char err[8192];
    int st = run_child(sg_refuses, err, sizeof err);
    ck_assert_msg(WIFSIGNALED(st), "child exited %d: %s", WEXITSTATUS(st),
                  err);
    ck_assert_int_eq(WTERMSIG(st), SIGSEGV);
    ck_assert_int_eq(sg_calls, 0);           /* in the child, not here */
}
END_TEST

/* libsigsegv's stack overflow handler, installed first, still recovers a
 * thread whose stack overflowed: libuvm's action runs on the alternate
 * stack libsigsegv set up (SA_ONSTACK) and chains the fault to it. */
static sigjmp_buf so_jb;
static volatile int so_calls;
static char so_altstack[64 * 1024];

static void so_continue(void *a, void *b, void *c)
{
    siglongjmp(so_jb, 1);
}

static void so_handler(int emergency, stackoverflow_context_t scp)
{
    so_calls++;
    sigsegv_leave_handler(so_continue, NULL, NULL, NULL);
}

/* Recursion the compiler can neither see through nor turn into a loop. */
static int (*volatile recurse_ptr)(int);
static int recurse(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return recurse_ptr(n + 1) + pad[0];
}

static void overflow_child(void)
{
    struct rlimit rl = { 1 << 20, 1 << 20 };
    setrlimit(RLIMIT_STACK, &rl);
    char *m = map_pages(1, PROT_NONE);
    if (stackoverflow_install_handler(so_handler, so_altstack,
                                      sizeof so_altstack) != 0)
        _exit(3);
    if (uvm_trap(m, PS, h_unprot, NULL) == NULL)
        _exit(4);
    recurse_ptr = recurse;
    for (int i = 0; i < 3; i++) {
        if (sigsetjmp(so_jb, 1) == 0) {
            recurse(0);
            _exit(5);
        }
    }
    poke(m, 1);
    _exit(so_calls == 3 && handled == 1 ? 0 : 6);
}

START_TEST(libsigsegv_stack_overflow_handler_installed_first_still_recovers)
{
    char err[8192];
    int st = run_child(overflow_child, err, sizeof err);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "child status %#x: %s", st, err);
}
END_TEST

/* ---- (c) a handler installed after libuvm, which chains ---- */

static struct sigaction late_old[2];
static char *late_own;
static volatile int late_calls, late_chained;

static void late_handler(int sig, siginfo_t *si, void *uc)
{
    late_calls++;
    if (si->si_code > 0 && sig == SIGSEGV &&
        in_range(si->si_addr, late_own, PS)) {
        mprotect(late_own, PS, RW);
        return;
    }
    late_chained++;
    const struct sigaction *o = &late_old[sig == SIGBUS];
    if (o->sa_flags & SA_SIGINFO) {
        o->sa_sigaction(sig, si, uc);
    } else if (o->sa_handler == SIG_DFL || o->sa_handler == SIG_IGN) {
        signal(sig, SIG_DFL);          /* the fault comes back and kills */
    } else {
        o->sa_handler(sig);
    }
}

static void install_late(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = late_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGSEGV, &sa, &late_old[0]), 0);
    ck_assert_int_eq(sigaction(SIGBUS, &sa, &late_old[1]), 0);
    /* What it replaced is libuvm's. */
    ck_assert(late_old[0].sa_flags & SA_SIGINFO);
    ck_assert(late_old[1].sa_flags & SA_SIGINFO);
}

START_TEST(regions_keep_working_through_a_late_handler_that_chains)
{
    char *m = map_pages(2, PROT_NONE);
    char *w = map_pages(4, RW);
    late_own = m + PS;
    ck_assert_ptr_nonnull(uvm_trap(m, PS, h_unprot, NULL));
    ck_assert_ptr_nonnull(uvm_trap(w, 4 * PS, h_unprot, NULL));
    install_late();

    poke(m + 1, 1);                              /* mprotect: SIGSEGV */
    ck_assert_int_eq(handled, 1);
    ck_assert_int_eq(late_chained, 1);
    poke(m + PS, 1);                             /* the late handler's */
    ck_assert_int_eq(late_calls, 2);
    ck_assert_int_eq(late_chained, 1);

    /* Write-protection through userfaultfd: SIGBUS, chained too. */
    ck_assert_int_eq(uvm_protn(w, 4, PROT_READ), 0);
    for (int i = 0; i < 4; i++)
        poke(w + i * PS, 1);
    ck_assert_int_eq(handled, 5);
    ck_assert_int_eq(late_chained, 5);
    struct uvm_stats st;
    uvm_stats(&st);
    fprintf(stderr, "late handler: %lu protection changes through "
                    "userfaultfd\n", st.prot_uffd);
}
END_TEST

START_TEST(dirty_and_snapshots_work_through_a_late_handler_that_chains)
{
    char *d = map_pages(16, RW);
    char *s = map_pages(8, RW);
    memset(s, 'a', 8 * PS);
    uvm_tracker *t = uvm_dirty_start(d, 16 * PS, UVM_DIRTY_MPROTECT);
    ck_assert_ptr_nonnull(t);
    uvm_snap *sn = uvm_snapshot(s, 8 * PS);
    ck_assert_ptr_nonnull(sn);
    install_late();

    for (int round = 0; round < 3; round++) {
        /* Every first write to a tracked page is a fault, chained. */
        int before = late_chained;
        for (int i = round % 2; i < 16; i += 2)
            poke(d + i * PS, (char)round);
        ck_assert_int_eq(late_chained - before, 8);
        void *pages[16];
        ck_assert_int_eq(uvm_dirty(t, pages, 16), 8);
        for (int k = 0; k < 8; k++)
            ck_assert_ptr_eq(pages[k], d + (2 * k + round % 2) * PS);
        /* The first write to each page after the snapshot is a fault;
         * restored pages keep their stored copy and stay writable. */
        before = late_chained;
        for (int i = 0; i < 8; i++)
            poke(s + i * PS + round, 'b');
        ck_assert_int_eq(late_chained - before, round == 0 ? 8 : 0);
        ck_assert_int_eq(uvm_snap_restore(sn), 0);
        for (int i = 0; i < 8; i++)
            ck_assert_int_eq(peek(s + i * PS + round), 'a');
    }
    ck_assert_int_eq(uvm_snap_release(sn), 0);
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
}
END_TEST

static void late_foreign(void)
{
    char *m = map_pages(2, PROT_NONE);
    late_own = NULL;
    if (uvm_trap(m, PS, h_unprot, NULL) == NULL)
        _exit(3);
    install_late();
    poke(m, 1);
    if (handled != 1)
        _exit(4);
    poke(m + PS, 1);                        /* nobody's */
    _exit(5);
}

START_TEST(unclaimed_fault_through_a_late_handler_still_dies_by_sigsegv)
{
    char err[16384];
    int st = run_child(late_foreign, err, sizeof err);
    ck_assert_msg(WIFSIGNALED(st), "child exited %d: %s", WEXITSTATUS(st),
                  err);
    ck_assert_int_eq(WTERMSIG(st), SIGSEGV);
    ck_assert_ptr_nonnull(strstr(err, "no libuvm region"));
}
END_TEST

static Suite *coexist_suite(void)
{
    Suite *s = suite_create("coexist");
    TCase *tc = tcase_create("own-handler-first");
    tcase_add_test(tc,
        own_handler_installed_first_keeps_its_faults_and_gets_declined_ones);
    tcase_add_test(tc, own_sigbus_handler_installed_first_keeps_its_faults);
    tcase_add_test(tc, own_handler_may_leave_by_siglongjmp);
    tcase_add_test(tc,
        own_handler_with_resethand_runs_once_then_the_default_kills);
    suite_add_tcase(s, tc);
    tc = tcase_create("libsigsegv-first");
    tcase_add_test(tc,
        libsigsegv_installed_first_keeps_its_faults_and_gets_declined_ones);
    tcase_add_test(tc, libsigsegv_refusing_a_fault_still_kills_by_sigsegv);
    tcase_add_test(tc,
        libsigsegv_stack_overflow_handler_installed_first_still_recovers);
    suite_add_tcase(s, tc);
    tc = tcase_create("late-handler");
    tcase_add_test(tc, regions_keep_working_through_a_late_handler_that_chains);
    tcase_add_test(tc,
        dirty_and_snapshots_work_through_a_late_handler_that_chains);
    tcase_add_test(tc,
        unclaimed_fault_through_a_late_handler_still_dies_by_sigsegv);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (strcmp(uvm_fault_layer(), "native") != 0) {
        printf("test-coexist: the %s fault layer passes no fault on "
               "(uvm(7)): skipped\n", uvm_fault_layer());
        return 77;
    }
    return run_suite(coexist_suite());
}

#elif HAVE_LIBGC /* COEXIST_GC */
#include <gc.h>

/* ---- (d) Boehm's collector in incremental mode ---- */

/* A singly linked list of NODES objects in the collected heap; node id
 * holds check == id * K.  Each round replaces every STRIDE-th node by a
 * fresh copy: the write goes to an old node on a page the collector has
 * write-protected (its virtual dirty bit), the copy is reachable only
 * through it, and the garbage allocated next is poisoned, so a write the
 * collector missed would free a live copy and the walk would see poison. */
#define NODES   10000
#define STRIDE  7
#define ROUNDS  20
#define GARBAGE 5000
#define K       0x9e3779b97f4a7c15ull

struct node {
    struct node *next;
    uint64_t id, check;
    char pad[40];
};

static struct node *volatile head;        /* a root: static data */

static struct node *node_new(uint64_t id, struct node *next)
{
    struct node *n = GC_MALLOC(sizeof *n);
    ck_assert_ptr_nonnull(n);
    n->id = id;
    n->check = id * K;
    n->next = next;
    return n;
}

static void heap_build(void)
{
    struct node *h = NULL;
    for (uint64_t i = NODES; i-- > 0;)
        h = node_new(i, h);
    head = h;
}

static void heap_churn(int round)
{
    uint64_t i = 0;
    for (struct node *n = head; n != NULL && n->next != NULL; n = n->next, i++)
        if ((i + (uint64_t)round) % STRIDE == 0) {
            struct node *old = n->next;
            n->next = node_new(old->id, old->next);
        }
    for (int g = 0; g < GARBAGE; g++) {
        char *junk = GC_MALLOC_ATOMIC(sizeof(struct node));
        ck_assert_ptr_nonnull(junk);
        memset(junk, 0xdb, sizeof(struct node));
    }
}

static void heap_verify(void)
{
    uint64_t i = 0;
    for (struct node *n = head; n != NULL; n = n->next, i++) {
        ck_assert_msg(n->id == i && n->check == i * K,
                      "node %llu holds id %llx check %llx",
                      (unsigned long long)i, (unsigned long long)n->id,
                      (unsigned long long)n->check);
    }
    ck_assert_uint_eq(i, NODES);
}

/* libuvm's side: a write barrier region of RPAGES pages protected each
 * round (every write faults once), and two DIRTY trackers. */
#define RPAGES 16
#define DPAGES 32

struct uvm_side {
    char *r, *d1, *d2;
    uvm_tracker *t1, *t2;
    int expected;                          /* region faults so far */
};

static void uvm_side_start(struct uvm_side *u)
{
    u->r = map_pages(RPAGES, RW);
    u->d1 = map_pages(DPAGES, RW);
    u->d2 = map_pages(DPAGES, RW);
    ck_assert_ptr_nonnull(uvm_trap(u->r, RPAGES * PS, h_unprot, NULL));
    u->t1 = uvm_dirty_start(u->d1, DPAGES * PS, UVM_DIRTY_MPROTECT);
    u->t2 = uvm_dirty_start(u->d2, DPAGES * PS, UVM_DIRTY_AUTO);
    ck_assert_ptr_nonnull(u->t1);
    ck_assert_ptr_nonnull(u->t2);
    u->expected = 0;
}

static void uvm_side_round(struct uvm_side *u, int round)
{
    ck_assert_int_eq(uvm_protn(u->r, RPAGES, PROT_READ), 0);
    for (int i = 0; i < RPAGES; i++)
        poke(u->r + i * PS + round, (char)round);
    u->expected += RPAGES;
    ck_assert_int_eq(handled, u->expected);
    int step = 1 + round % 5;
    int want = 0;
    for (int i = round % 3; i < DPAGES; i += step, want++) {
        poke(u->d1 + i * PS, 1);
        poke(u->d2 + i * PS, 1);
    }
    void *p1[DPAGES], *p2[DPAGES];
    ck_assert_int_eq(uvm_dirty(u->t1, p1, DPAGES), want);
    ck_assert_int_eq(uvm_dirty(u->t2, p2, DPAGES), want);
    for (int k = 0; k < want; k++) {
        ck_assert_ptr_eq(p1[k], u->d1 + (round % 3 + k * step) * PS);
        ck_assert_ptr_eq(p2[k], u->d2 + (round % 3 + k * step) * PS);
    }
}

static void run_workload(struct uvm_side *u)
{
    heap_build();
    for (int round = 0; round < ROUNDS; round++) {
        heap_churn(round);
        uvm_side_round(u, round);
        for (int k = 0; k < 8; k++)
            GC_collect_a_little();
        if (round % 5 == 4)
            GC_gcollect();
        heap_verify();
    }
    ck_assert_uint_ge(GC_get_gc_no(), ROUNDS / 5);
}

START_TEST(gc_initialised_first_and_libuvm_share_the_faults)
{
    GC_INIT();
    GC_enable_incremental();
    ck_assert(GC_is_incremental_mode());
    int vdb = GC_incremental_protection_needs();
    ck_assert_msg(vdb != GC_PROTECTS_NONE, "libgc does not use mprotect "
                  "dirty bits here: nothing to share");
    struct sigaction gc_act;
    sigaction(SIGSEGV, NULL, &gc_act);

    struct uvm_side u;
    uvm_side_start(&u);
    struct sigaction now;
    sigaction(SIGSEGV, NULL, &now);
    ck_assert_ptr_ne((void *)now.sa_sigaction, (void *)gc_act.sa_sigaction);

    run_workload(&u);
    struct uvm_stats st;
    uvm_stats(&st);
    /* The collector's write faults went through libuvm to it. */
    ck_assert_uint_gt(st.chained, 0);
    fprintf(stderr, "gc first: %lu collections, %lu faults chained to the "
                    "collector, %lu handled by regions\n",
            (unsigned long)GC_get_gc_no(), st.chained, st.handled);
    ck_assert_int_eq(uvm_dirty_stop(u.t1), 0);
    ck_assert_int_eq(uvm_dirty_stop(u.t2), 0);
}
END_TEST

/* The other order works only without SIGBUS: on Linux bdwgc's handler
 * passes on the SIGSEGVs outside its heap (with siginfo and context) but
 * aborts on every SIGBUS, and userfaultfd write-protection (PROT, the
 * snapshots) raises SIGBUS.  UVM_BACKEND=mprotect avoids it. */
START_TEST(gc_initialised_after_libuvm_works_with_the_mprotect_backend)
{
    setenv("UVM_BACKEND", "mprotect", 1);
    struct uvm_side u;
    uvm_side_start(&u);
    struct sigaction uvm_act, now;
    sigaction(SIGSEGV, NULL, &uvm_act);
    GC_INIT();
    GC_enable_incremental();
    ck_assert(GC_is_incremental_mode());
    sigaction(SIGSEGV, NULL, &now);
    ck_assert_ptr_ne((void *)now.sa_sigaction, (void *)uvm_act.sa_sigaction);

    run_workload(&u);
    struct uvm_stats st;
    uvm_stats(&st);
    ck_assert_uint_eq(st.prot_uffd, 0);
    ck_assert_uint_eq(st.chained, 0);      /* the collector is in front */
    ck_assert_int_eq(uvm_dirty_stop(u.t1), 0);
    ck_assert_int_eq(uvm_dirty_stop(u.t2), 0);
}
END_TEST

static void gc_after_sigbus(void)
{
    char *r = map_pages(2, RW);
    if (uvm_trap(r, 2 * PS, h_unprot, NULL) == NULL)
        _exit(3);
    GC_INIT();
    GC_enable_incremental();
    if (uvm_protn(r, 2, PROT_READ) != 0)
        _exit(4);
    struct uvm_stats st;
    uvm_stats(&st);
    poke(r, 1);
    /* Survived: only if the change was made with mprotect (SIGSEGV). */
    _exit(st.prot_uffd == 0 && handled == 1 ? 10 : 5);
}

START_TEST(gc_initialised_after_libuvm_aborts_on_a_userfaultfd_sigbus)
{
    char err[16384];
    int st = run_child(gc_after_sigbus, err, sizeof err);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 10) {
        fprintf(stderr, "gc after libuvm: no userfaultfd here, the write "
                        "fault was a SIGSEGV and worked\n");
        return;
    }
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
                  "child status %#x: %s", st, err);
    ck_assert_ptr_nonnull(strstr(err, "Unexpected bus error"));
}
END_TEST

static Suite *coexist_gc_suite(void)
{
    Suite *s = suite_create("coexist-gc");
    TCase *tc = tcase_create("boehm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gc_initialised_first_and_libuvm_share_the_faults);
    tcase_add_test(tc,
        gc_initialised_after_libuvm_works_with_the_mprotect_backend);
    tcase_add_test(tc,
        gc_initialised_after_libuvm_aborts_on_a_userfaultfd_sigbus);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (strcmp(uvm_fault_layer(), "native") != 0) {
        printf("test-coexist-gc: the %s fault layer passes no fault on "
               "(uvm(7)): skipped\n", uvm_fault_layer());
        return 77;
    }
    return run_suite(coexist_gc_suite());
}

#else /* COEXIST_GC without libgc */

int main(void)
{
    fprintf(stderr, "test-coexist-gc: Boehm GC not found by configure "
                    "(Debian package libgc-dev): skipped\n");
    return 77;
}
#endif
