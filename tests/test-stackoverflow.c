/*
 * test-stackoverflow.c: a stack overflow in a program using libuvm ends in
 * one report line and death by SIGSEGV, never a hang; libuvm's alternate
 * signal stacks (thread.c, .altstack) and the overflow test of the
 * dispatcher (dispatch.c, .overflow).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Every overflow happens in a child (run_child) whose death is checked,
 * within a time limit.  Passes with either fault layer; the native one
 * also reports the stack pointer.
 */
#include "testutil.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>

#define THREAD_STACK (256 * 1024)
/* A child that has not died this long after it started is hung. */
#define DEATH_LIMIT_S 10

static volatile int depth_sink;

/* Unbounded recursion the compiler cannot turn into a loop: work after
 * the call, a frame it cannot drop, a bound it cannot prove unreached. */
static int __attribute__((noinline)) recurse(volatile int *n)
{
    volatile char pad[200];
    pad[0] = (char)*n;
    if (++*n == INT_MAX)
        return 0;
    return recurse(n) + pad[0];
}

static void overflow_now(void)
{
    volatile int n = 0;
    depth_sink = recurse(&n);
}

static pid_t gettid_(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static void say_tid(const char *who)
{
    fprintf(stderr, "%s tid %d\n", who, (int)gettid_());
    fflush(stderr);
}

static int h_unprot(const struct uvm_fault *f)
{
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

/* Start libuvm: the installing thread gets its alternate stack. */
static void trap_something(void)
{
    char *m = map_pages(1, PROT_NONE);
    ck_assert_ptr_nonnull(uvm_trap(m, PS, h_unprot, NULL));
    poke(m, 1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run fn in a child; it must die by SIGSEGV within DEATH_LIMIT_S.  The
 * child's stderr is in err. */
static void assert_dies_by_sigsegv(void (*fn)(void), char *err, size_t cap)
{
    double t0 = now_s();
    alarm(DEATH_LIMIT_S + 5);        /* a hang fails the test, not the run */
    int st = run_child(fn, err, cap);
    alarm(0);
    double took = now_s() - t0;
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
                  "child status %#x, stderr:\n%s", st, err);
    ck_assert_msg(took < DEATH_LIMIT_S, "took %.1f s to die", took);
}

/* The report: exactly one libuvm line, naming the thread. */
static void assert_one_report(const char *err, int tid)
{
    char want[64];
    snprintf(want, sizeof want, "libuvm: stack overflow in thread %d, "
                                "fault at 0x", tid);
    ck_assert_msg(strstr(err, want) != NULL, "no \"%s\" in:\n%s", want, err);
    size_t lines = 0;
    for (const char *p = err; (p = strstr(p, "libuvm:")) != NULL; p++)
        lines++;
    ck_assert_msg(lines == 1, "%zu libuvm lines:\n%s", lines, err);
    if (strcmp(uvm_fault_layer(), "native") == 0)
        ck_assert_ptr_nonnull(strstr(err, ", stack pointer 0x"));
}

static int tid_in(const char *err, const char *who)
{
    char key[32];
    snprintf(key, sizeof key, "%s tid ", who);
    const char *p = strstr(err, key);
    ck_assert_msg(p != NULL, "no %s tid in:\n%s", who, err);
    return atoi(p + strlen(key));
}

/* ---- the main thread ---- */

static void main_overflows(void)
{
    struct rlimit rl = { 2 << 20, 2 << 20 };
    setrlimit(RLIMIT_STACK, &rl);
    trap_something();
    say_tid("main");
    overflow_now();
    _exit(4);
}

START_TEST(main_thread_overflow_is_reported_and_dies_by_sigsegv)
{
    char err[8192];
    assert_dies_by_sigsegv(main_overflows, err, sizeof err);
    assert_one_report(err, tid_in(err, "main"));
}
END_TEST

/* ---- threads ---- */

static pthread_t start_small_thread(void *(*fn)(void *), void *arg)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, THREAD_STACK);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, &a, fn, arg), 0);
    pthread_attr_destroy(&a);
    return t;
}

static void *worker_calls_then_overflows(void *p)
{
    char *m = p;
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);   /* libuvm meets it */
    say_tid("worker");
    overflow_now();
    return NULL;
}

static void worker_overflows(void)
{
    char *m = map_pages(1, PROT_READ | PROT_WRITE);
    trap_something();
    pthread_join(start_small_thread(worker_calls_then_overflows, m), NULL);
    _exit(4);
}

START_TEST(thread_that_called_libuvm_is_reported_and_dies_by_sigsegv)
{
    char err[8192];
    assert_dies_by_sigsegv(worker_overflows, err, sizeof err);
    assert_one_report(err, tid_in(err, "worker"));
}
END_TEST

/* A thread created before libuvm whose first contact is a fault on a
 * region: its alternate stack comes when that handler returns (written
 * into the ucontext, which sigreturn restores).  The libsigsegv layer has
 * no ucontext: such a thread gets no alternate stack and dies unreported
 * (uvm_trap(3)). */
static atomic_int go;
static char *early_page;

static void *early_thread(void *p)
{
    while (!atomic_load(&go))
        usleep(1000);
    poke(early_page, 1);                 /* region fault, handler returns */
    say_tid("early");
    overflow_now();
    return NULL;
}

static void early_thread_overflows(void)
{
    pthread_t t = start_small_thread(early_thread, NULL);
    early_page = map_pages(1, PROT_NONE);
    ck_assert_ptr_nonnull(uvm_trap(early_page, PS, h_unprot, NULL));
    atomic_store(&go, 1);
    pthread_join(t, NULL);
    _exit(4);
}

START_TEST(thread_whose_first_contact_is_a_fault_is_reported)
{
    char err[8192];
    assert_dies_by_sigsegv(early_thread_overflows, err, sizeof err);
    if (strcmp(uvm_fault_layer(), "native") == 0)
        assert_one_report(err, tid_in(err, "early"));
    else
        ck_assert_msg(strstr(err, "stack overflow") == NULL, "%s", err);
}
END_TEST

/* A thread libuvm never met has no alternate stack: the kernel cannot
 * push the signal frame and kills the process, so no report and no
 * hang. */
static void *stranger(void *p)
{
    overflow_now();
    return NULL;
}

static void stranger_overflows(void)
{
    trap_something();
    pthread_join(start_small_thread(stranger, NULL), NULL);
    _exit(4);
}

START_TEST(thread_libuvm_never_met_dies_by_sigsegv_without_a_hang)
{
    char err[8192];
    assert_dies_by_sigsegv(stranger_overflows, err, sizeof err);
    ck_assert_msg(strstr(err, "stack overflow") == NULL, "%s", err);
}
END_TEST

/* ---- the program's own alternate stack ---- */

#define OWN_ALT (512 * 1024)
static char *own_alt;
static volatile uintptr_t handler_local;

static int h_where(const struct uvm_fault *f)
{
    handler_local = (uintptr_t)__builtin_frame_address(0);  /* not a local's
                               * address: ASan may move locals off the stack */
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

static void install_own_altstack(void)
{
    own_alt = map_pages(OWN_ALT / 4096, PROT_READ | PROT_WRITE);
    stack_t ss = { .ss_sp = own_alt, .ss_size = OWN_ALT, .ss_flags = 0 };
    ck_assert_int_eq(sigaltstack(&ss, NULL), 0);
}

START_TEST(own_alternate_stack_is_kept_and_used)
{
    install_own_altstack();
    char *m = map_pages(2, PROT_NONE);
    ck_assert_ptr_nonnull(uvm_trap(m, 2 * PS, h_where, NULL));
    ck_assert_int_eq(uvm_prot1(m + PS, PROT_READ), 0);
    poke(m, 1);
    stack_t cur;
    ck_assert_int_eq(sigaltstack(NULL, &cur), 0);
    ck_assert_ptr_eq(cur.ss_sp, own_alt);
    ck_assert_uint_eq(cur.ss_size, OWN_ALT);
    ck_assert(handler_local >= (uintptr_t)own_alt &&
              handler_local < (uintptr_t)own_alt + OWN_ALT);
}
END_TEST

static void own_altstack_overflows(void)
{
    install_own_altstack();
    trap_something();
    say_tid("own");
    overflow_now();
    _exit(4);
}

START_TEST(overflow_on_a_thread_with_its_own_alternate_stack_is_reported)
{
    char err[8192];
    assert_dies_by_sigsegv(own_altstack_overflows, err, sizeof err);
    assert_one_report(err, tid_in(err, "own"));
}
END_TEST

/* ---- regions on libuvm's alternate stacks ---- */

struct where {
    char *mem;
    int faults;
    int on_alt;          /* every handler ran on the thread's alt stack */
    int nested_ok;
    stack_t alt;
};

#define NEST 10
static _Thread_local int nest_left;

static int h_nest(const struct uvm_fault *f)
{
    struct where *w = f->arg;
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);   /* as h_where */
    stack_t ss;
    if (sigaltstack(NULL, &ss) != 0 || !(ss.ss_flags & SS_ONSTACK) ||
        here < (uintptr_t)ss.ss_sp ||
        here >= (uintptr_t)ss.ss_sp + ss.ss_size)
        w->on_alt = 0;
    w->faults++;
    /* Fault on the next page from inside the handler: nesting on the
     * alternate stack. */
    char *next = (char *)f->page + PS;
    if (--nest_left > 0 && next < w->mem + NEST * PS)
        (void)peek(next);
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

static void *region_user(void *p)
{
    struct where *w = p;
    w->on_alt = 1;
    w->mem = map_pages(NEST, PROT_NONE);
    uvm_region *r = uvm_trap(w->mem, NEST * PS, h_nest, w);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(sigaltstack(NULL, &w->alt), 0);
    nest_left = NEST;
    poke(w->mem, 1);
    w->nested_ok = w->faults == NEST;
    for (int i = 0; i < NEST; i++)
        ck_assert_int_eq(peek(w->mem + (size_t)i * PS), i == 0 ? 1 : 0);
    ck_assert_int_eq(uvm_untrap(r), 0);
    return NULL;
}

START_TEST(regions_work_on_libuvms_alternate_stacks_in_threads)
{
    struct where w[3];
    memset(w, 0, sizeof w);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        t[i] = start_small_thread(region_user, &w[i]);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(w[i].faults, NEST);
        ck_assert(w[i].nested_ok);
        ck_assert_msg(w[i].on_alt, "thread %d: a handler ran off the "
                                   "alternate stack", i);
        /* libuvm's: at least 256 KiB, a guard page below, one per
         * thread. */
        ck_assert(!(w[i].alt.ss_flags & SS_DISABLE));
        ck_assert_uint_ge(w[i].alt.ss_size, 256 * 1024);
        ck_assert_int_eq(maps_prot((char *)w[i].alt.ss_sp - 1, NULL, NULL),
                         MAPPED_WITH(PROT_NONE));
        for (int j = 0; j < i; j++)
            ck_assert_ptr_ne(w[i].alt.ss_sp, w[j].alt.ss_sp);
    }
}
END_TEST

/* Threads come and go: their alternate stacks are reused with their
 * records, not mapped anew for every thread. */
static void *touch_libuvm(void *p)
{
    ck_assert_int_eq(uvm_prot1(p, PROT_READ | PROT_WRITE), 0);
    stack_t ss;
    ck_assert_int_eq(sigaltstack(NULL, &ss), 0);
    ck_assert(!(ss.ss_flags & SS_DISABLE));
    return NULL;
}

static void run_batch(char *page, int n)
{
    for (int i = 0; i < n; i++)
        pthread_join(start_small_thread(touch_libuvm, page), NULL);
}

START_TEST(alternate_stacks_of_exited_threads_are_reused)
{
    enum { BATCH = 300 };
    char *page = map_pages(1, PROT_READ | PROT_WRITE);
    trap_something();
    run_batch(page, 4);
    /* Count libuvm's own stacks (uvm_stats), not all mappings: a
     * sanitizer's per-thread mappings come and go with the threads. */
    struct uvm_stats st;
    uvm_stats(&st);
    unsigned long base = st.altstacks;
    run_batch(page, BATCH);
    uvm_stats(&st);
    unsigned long first = st.altstacks;
    run_batch(page, BATCH);
    uvm_stats(&st);
    unsigned long second = st.altstacks;
    fprintf(stderr, "alternate stacks: %lu, after %d threads %lu, after %d "
                    "more %lu\n", base, BATCH, first, BATCH, second);
    /* Fewer stacks than threads, and none new in the second batch. */
    ck_assert_uint_gt(base, 0);
    ck_assert_uint_lt(first - base, BATCH);
    ck_assert_uint_le(second, first + 1);
}
END_TEST

/* ---- handlers that recurse ---- */

static int h_recurse(const struct uvm_fault *f)
{
    overflow_now();                    /* overflows the alternate stack */
    return UVM_RETRY;
}

static void handler_overflows(void)
{
    char *m = map_pages(1, PROT_NONE);
    if (uvm_trap(m, PS, h_recurse, NULL) == NULL)
        _exit(3);
    poke(m, 1);
    _exit(4);
}

START_TEST(handler_that_overflows_its_stack_dies_without_a_hang)
{
    char err[8192];
    assert_dies_by_sigsegv(handler_overflows, err, sizeof err);
}
END_TEST

static volatile int self_faults;

static int h_fault_again(const struct uvm_fault *f)
{
    self_faults++;
    (void)peek(f->page);        /* its own page, still PROT_NONE: nests */
    return UVM_RETRY;
}

static void handler_faults_forever(void)
{
    char *m = map_pages(1, PROT_NONE);
    if (uvm_trap(m, PS, h_fault_again, NULL) == NULL)
        _exit(3);
    poke(m, 1);
    _exit(4);
}

START_TEST(handler_that_faults_on_its_own_page_stops_at_max_nesting)
{
    char err[16384];
    assert_dies_by_sigsegv(handler_faults_forever, err, sizeof err);
    ck_assert_ptr_nonnull(strstr(err, "no libuvm region"));
    ck_assert_ptr_null(strstr(err, "stack overflow"));
}
END_TEST

static Suite *stackoverflow_suite(void)
{
    Suite *s = suite_create("stackoverflow");
    TCase *tc = tcase_create("overflow");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, main_thread_overflow_is_reported_and_dies_by_sigsegv);
    tcase_add_test(tc, thread_that_called_libuvm_is_reported_and_dies_by_sigsegv);
    tcase_add_test(tc, thread_whose_first_contact_is_a_fault_is_reported);
    tcase_add_test(tc, thread_libuvm_never_met_dies_by_sigsegv_without_a_hang);
    tcase_add_test(tc, overflow_on_a_thread_with_its_own_alternate_stack_is_reported);
    suite_add_tcase(s, tc);

    tc = tcase_create("altstack");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, own_alternate_stack_is_kept_and_used);
    tcase_add_test(tc, regions_work_on_libuvms_alternate_stacks_in_threads);
    tcase_add_test(tc, alternate_stacks_of_exited_threads_are_reused);
    suite_add_tcase(s, tc);

    tc = tcase_create("recursion");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, handler_that_overflows_its_stack_dies_without_a_hang);
    tcase_add_test(tc, handler_that_faults_on_its_own_page_stops_at_max_nesting);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(stackoverflow_suite());
}
