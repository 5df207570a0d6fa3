/*
 * test-thread.c: the per-thread records (thread.c): in-flight handler
 * calls left by siglongjmp, alternate stacks that disarm themselves,
 * threads whose id the kernel reused, and the records a fork()ed child
 * inherits from threads it does not have.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Every test runs in its own process (Check's fork mode) and bounds what
 * could hang with alarm(2): a hang is the failure these tests look for.
 * The tid-reuse test needs to steer the kernel's next thread id
 * (/proc/sys/kernel/ns_last_pid, root); without that it is left out, said
 * so, and the program exits 77 if everything else passed.
 */
#include "config.h"
#include "testutil.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>

static int native_layer(void)
{
    return strcmp(uvm_fault_layer(), "native") == 0;
}

static void nap_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&ts, NULL);
}

/* Wait (bounded) until *flag is nonzero. */
static int wait_flag(atomic_int *flag, long max_ms)
{
    for (long i = 0; i < max_ms * 10 && !atomic_load(flag); i++)
        nap_us(100);
    return atomic_load(flag);
}

static pid_t my_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* ---- siglongjmp in a thread libuvm never met (issue 13, item 10) ---- */

static __thread sigjmp_buf lj_jb;
static atomic_int lj_calls;

static int h_longjmp(const struct uvm_fault *f)
{
    (void)f;
    atomic_fetch_add(&lj_calls, 1);
    siglongjmp(lj_jb, 1);
}

/* Fault on p from depth frames further down the stack, each of 1 KiB. */
static __attribute__((noinline)) void fault_deep(char *p, int depth)
{
    volatile char pad[1024];
    pad[0] = (char)depth;
    if (depth > 0)
        fault_deep(p, depth - 1);
    else
        poke(p, pad[0]);
    __asm__ __volatile__("" : : "r"(pad) : "memory");
}

static char *lj_main_mem;
static atomic_int lj_thread_done, lj_thread_rc, lj_thread_errno;

#define LJ_ROUNDS (2 * UVM_MAX_NESTING + 8)

static void *lj_thread(void *arg)
{
    (void)arg;
    /* Its own region, faulted on ever deeper after each siglongjmp: more
     * than UVM_MAX_NESTING of them, every one handled. */
    char *m = map_pages(1, PROT_NONE);
    volatile int handled = 0;
    /* The first fault is on the main thread's region: a thread libuvm
     * meets first in a fault. */
    if (sigsetjmp(lj_jb, 1) == 0)
        fault_deep(lj_main_mem, 1);
    else
        handled++;
    uvm_region *mine = uvm_trap(m, PS, h_longjmp, NULL);
    for (int i = 0; i < LJ_ROUNDS && mine != NULL; i++) {
        if (sigsetjmp(lj_jb, 1) == 0)
            fault_deep(m, 4 + 4 * i);
        else
            handled++;
    }
    /* Deeper again than every fault before, as the caller of untrap. */
    int rc = -1, err = 0;
    if (handled == LJ_ROUNDS + 1) {
        volatile char pad[64 * 1024];
        pad[0] = 0;
        rc = uvm_untrap(mine);
        err = errno;
        __asm__ __volatile__("" : : "r"(pad) : "memory");
    }
    atomic_store(&lj_thread_rc, rc);
    atomic_store(&lj_thread_errno, err);
    atomic_store(&lj_thread_done, 1);
    return NULL;
}

START_TEST(siglongjmp_in_a_new_thread_leaves_no_call_behind)
{
    alarm(20);
    lj_main_mem = map_pages(1, PROT_NONE);
    uvm_region *r = uvm_trap(lj_main_mem, PS, h_longjmp, NULL);
    ck_assert_ptr_nonnull(r);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, lj_thread, NULL), 0);
    ck_assert(wait_flag(&lj_thread_done, 15000));
    ck_assert_int_eq(atomic_load(&lj_calls), LJ_ROUNDS + 1);
    /* From the thread itself: its abandoned calls are not "in flight". */
    int rc = atomic_load(&lj_thread_rc);
    ck_assert_msg(rc == 0, "uvm_untrap in the thread: %d, %s", rc,
                  strerror(atomic_load(&lj_thread_errno)));
    /* From another thread: no wait for a call that left long ago. */
    ck_assert_int_eq(uvm_untrap(r), 0);
    pthread_join(t, NULL);
    alarm(0);
}
END_TEST

/* ---- an alternate stack armed with SS_AUTODISARM (item 11) ---- */

static uvm_region *ad_region;
static char *ad_mem, *ad_inner;
static atomic_int ad_rc, ad_errno, ad_nested;

static int h_unprot(const struct uvm_fault *f)
{
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

/* Runs on the disarmed stack: a nested fault, then untrap of its own
 * region, which must see this call as live. */
static int h_autodisarm(const struct uvm_fault *f)
{
    if (ad_inner != NULL) {
        poke(ad_inner, 1);
        atomic_store(&ad_nested, 1);
    }
    int rc = uvm_untrap(ad_region);
    atomic_store(&ad_errno, errno);
    atomic_store(&ad_rc, rc);
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

static void set_autodisarm_stack(void)
{
    size_t len = 256 * 1024;
    stack_t ss = { .ss_sp = map_pages(len / PS, PROT_READ | PROT_WRITE),
                   .ss_size = len, .ss_flags = (int)(1U << 31) };
    if (sigaltstack(&ss, NULL) != 0) {
        /* SS_AUTODISARM needs Linux 4.7. */
        ck_assert_msg(errno == EINVAL, "sigaltstack: %s", strerror(errno));
        ck_abort_msg("SS_AUTODISARM not supported by this kernel");
    }
}

static void autodisarm_untrap_from_handler(int nested)
{
    alarm(10);
    set_autodisarm_stack();
    ad_mem = map_pages(1, PROT_NONE);
    if (nested) {
        ad_inner = map_pages(1, PROT_NONE);
        ck_assert_ptr_nonnull(uvm_trap(ad_inner, PS, h_unprot, NULL));
    }
    ad_region = uvm_trap(ad_mem, PS, h_autodisarm, NULL);
    ck_assert_ptr_nonnull(ad_region);
    atomic_store(&ad_rc, 99);
    poke(ad_mem, 1);
    ck_assert_int_eq(atomic_load(&ad_nested), nested);
    ck_assert_int_eq(atomic_load(&ad_rc), -1);
    ck_assert_int_eq(atomic_load(&ad_errno), EDEADLK);
    ck_assert_int_eq(uvm_untrap(ad_region), 0);
    alarm(0);
}

START_TEST(autodisarm_stack_untrap_in_own_handler_is_edeadlk)
{
    autodisarm_untrap_from_handler(0);
}
END_TEST

START_TEST(autodisarm_stack_nested_fault_keeps_the_outer_call)
{
    autodisarm_untrap_from_handler(1);
}
END_TEST

/* Another thread's uvm_untrap probes the handler's thread; the probe
 * arrives on the disarmed stack and must not forget the call. */
static atomic_int slow_in, slow_out, slow_release;
static char *slow_mem;

static int h_slow(const struct uvm_fault *f)
{
    atomic_store(&slow_in, 1);
    for (int i = 0; i < 5000 && !atomic_load(&slow_release); i++)
        nap_us(1000);
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    atomic_store(&slow_out, 1);
    return UVM_RETRY;
}

static void *slow_thread(void *arg)
{
    (void)arg;
    set_autodisarm_stack();
    poke(slow_mem, 1);
    return NULL;
}

static void *release_later(void *arg)
{
    (void)arg;
    nap_us(300 * 1000);        /* long past uvm_untrap's first probes */
    atomic_store(&slow_release, 1);
    return NULL;
}

START_TEST(autodisarm_stack_probe_keeps_the_call_in_flight)
{
    alarm(20);
    slow_mem = map_pages(1, PROT_NONE);
    uvm_region *r = uvm_trap(slow_mem, PS, h_slow, NULL);
    ck_assert_ptr_nonnull(r);
    pthread_t t, rel;
    ck_assert_int_eq(pthread_create(&t, NULL, slow_thread, NULL), 0);
    ck_assert(wait_flag(&slow_in, 10000));
    ck_assert_int_eq(pthread_create(&rel, NULL, release_later, NULL), 0);
    ck_assert_int_eq(uvm_untrap(r), 0);
    /* The handler returned before uvm_untrap did: its arg may be freed. */
    ck_assert_int_eq(atomic_load(&slow_out), 1);
    pthread_join(t, NULL);
    pthread_join(rel, NULL);
    alarm(0);
}
END_TEST

/* ---- a thread id the kernel gave again (item 13) ---- */

static atomic_int dead_tid;

/* Leaves a handler by siglongjmp, then exits: nothing made it prune the
 * call, which its record keeps. */
static void *dying_thread(void *arg)
{
    atomic_store(&dead_tid, my_tid());
    if (sigsetjmp(lj_jb, 1) == 0)
        poke(arg, 1);
    return NULL;
}

static atomic_int reuse_tid, reuse_stop;

static void *reusing_thread(void *arg)
{
    (void)arg;
    atomic_store(&reuse_tid, my_tid());
    while (!atomic_load(&reuse_stop))
        nap_us(1000);
    return NULL;
}

/* Start a thread with id tid (ns_last_pid = tid - 1; other processes may
 * take it first: try again).  1 if done, 0 if not. */
static int start_thread_with_tid(pid_t tid, pthread_t *t)
{
    for (int tries = 0; tries < 500; tries++) {
        FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
        if (f == NULL)
            return 0;
        fprintf(f, "%d", (int)tid - 1);
        if (fclose(f) != 0)
            return 0;
        atomic_store(&reuse_tid, 0);
        atomic_store(&reuse_stop, 0);
        ck_assert_int_eq(pthread_create(t, NULL, reusing_thread, NULL), 0);
        while (atomic_load(&reuse_tid) == 0)
            nap_us(100);
        if (atomic_load(&reuse_tid) == tid)
            return 1;
        atomic_store(&reuse_stop, 1);
        pthread_join(*t, NULL);
    }
    return 0;
}

START_TEST(untrap_is_not_fooled_by_a_reused_thread_id)
{
    alarm(25);
    char *m = map_pages(1, PROT_NONE);
    uvm_region *r = uvm_trap(m, PS, h_longjmp, NULL);
    ck_assert_ptr_nonnull(r);
    pthread_t a, b;
    ck_assert_int_eq(pthread_create(&a, NULL, dying_thread, m), 0);
    pthread_join(a, NULL);           /* the kernel clears its tid on exit */
    pid_t tid = (pid_t)atomic_load(&dead_tid);
    nap_us(50 * 1000);               /* B starts clock ticks after A */
    ck_assert_msg(start_thread_with_tid(tid, &b),
                  "could not start a thread with id %d", (int)tid);
    /* A died with r's call recorded; B has its id.  uvm_untrap must find
     * A dead. */
    ck_assert_int_eq(uvm_untrap(r), 0);
    atomic_store(&reuse_stop, 1);
    pthread_join(b, NULL);
    alarm(0);
}
END_TEST

static int can_set_next_tid(void)
{
    return geteuid() == 0 && access("/proc/sys/kernel/ns_last_pid", W_OK) == 0;
}

/* ---- fork() with other threads inside libuvm (item 3) ---- */

static atomic_int busy_stop, busy_started;
static char *busy_mem;

static void *prot_busy(void *arg)
{
    (void)arg;
    atomic_store(&busy_started, 1);
    while (!atomic_load(&busy_stop)) {
        uvm_prot1(busy_mem, PROT_READ);
        uvm_prot1(busy_mem, PROT_READ | PROT_WRITE);
    }
    return NULL;
}

/* In the child: a region table update and a removal, both bounded. */
static void child_trap_untrap(uvm_region *inherited)
{
    signal(SIGALRM, SIG_DFL);        /* not Check's: it kills the group */
    alarm(5);
    char *m = mmap(NULL, PS, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uvm_region *r = uvm_trap(m, PS, h_unprot, NULL);
    if (r == NULL || uvm_untrap(r) != 0)
        _exit(2);
    if (inherited != NULL && uvm_untrap(inherited) != 0)
        _exit(3);
    _exit(0);
}

static void assert_child_ok(pid_t pid)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "child: %s %d", WIFSIGNALED(st) ? "signal" : "exit",
                  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

START_TEST(fork_child_forgets_other_threads_hazards)
{
    alarm(60);
    busy_mem = map_pages(1, PROT_READ | PROT_WRITE);
    ck_assert_ptr_nonnull(uvm_trap(map_pages(1, PROT_NONE), PS, h_unprot,
                                   NULL));
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, prot_busy, NULL), 0);
    ck_assert(wait_flag(&busy_started, 5000));
    /* Each fork may catch the thread inside uvm_prot1, holding a hazard
     * on the region table: the child must not wait for it. */
    for (int i = 0; i < 40; i++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            child_trap_untrap(NULL);
        assert_child_ok(pid);
    }
    atomic_store(&busy_stop, 1);
    pthread_join(t, NULL);
    alarm(0);
}
END_TEST

static atomic_int fk_in, fk_release;

static int h_block(const struct uvm_fault *f)
{
    atomic_store(&fk_in, 1);
    for (int i = 0; i < 10000 && !atomic_load(&fk_release); i++)
        nap_us(1000);
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

static void *fault_block(void *arg)
{
    poke(arg, 1);
    return NULL;
}

START_TEST(fork_child_forgets_other_threads_calls)
{
    alarm(20);
    char *m = map_pages(1, PROT_NONE);
    uvm_region *r = uvm_trap(m, PS, h_block, NULL);
    ck_assert_ptr_nonnull(r);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fault_block, m), 0);
    ck_assert(wait_flag(&fk_in, 10000));
    /* The child has no thread in r's handler: its untrap returns. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        child_trap_untrap(r);
    assert_child_ok(pid);
    atomic_store(&fk_release, 1);
    pthread_join(t, NULL);
    ck_assert_int_eq(uvm_untrap(r), 0);
    alarm(0);
}
END_TEST

/* ---- a thread that keeps the probe signal blocked (.blocked) ---- */

static char *blk_mem;
static sigjmp_buf blk_jb;
static atomic_int blk_ready, blk_done;

static int h_jump_out(const struct uvm_fault *f)
{
    (void)f;
    siglongjmp(blk_jb, 1);
}

/* Leaves the handler by siglongjmp, then blocks every signal and sleeps,
 * the way a signal-handling thread about to sigwait would. */
static void *blocking_thread(void *arg)
{
    (void)arg;
    if (sigsetjmp(blk_jb, 1) == 0)
        (void)peek(blk_mem);
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    atomic_store(&blk_ready, 1);
    while (!atomic_load(&blk_done))
        nap_us(1000);
    return NULL;
}

START_TEST(untrap_does_not_wait_for_a_blocked_thread_that_left_by_siglongjmp)
{
    alarm(20);
    blk_mem = map_pages(1, PROT_NONE);
    uvm_region *r = uvm_trap(blk_mem, PS, h_jump_out, NULL);
    ck_assert_ptr_nonnull(r);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, blocking_thread, NULL), 0);
    ck_assert(wait_flag(&blk_ready, 10000));
    ck_assert_int_eq(uvm_untrap(r), 0);          /* hung before */
    atomic_store(&blk_done, 1);
    pthread_join(t, NULL);
    alarm(0);
}
END_TEST

/* The other side: a live handler blocked in a system call (on libuvm's
 * alternate stack, in a thread with none of its own) is still waited
 * for. */
static atomic_int nap_in, nap_out;
static char *nap_mem;

static int h_nap(const struct uvm_fault *f)
{
    atomic_store(&nap_in, 1);
    nap_us(300 * 1000);
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    atomic_store(&nap_out, 1);
    return UVM_RETRY;
}

static void *nap_thread(void *arg)
{
    (void)arg;
    poke(nap_mem, 1);
    return NULL;
}

START_TEST(untrap_waits_for_a_handler_blocked_in_a_system_call)
{
    alarm(20);
    nap_mem = map_pages(1, PROT_NONE);
    uvm_region *r = uvm_trap(nap_mem, PS, h_nap, NULL);
    ck_assert_ptr_nonnull(r);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, nap_thread, NULL), 0);
    ck_assert(wait_flag(&nap_in, 10000));
    ck_assert_int_eq(uvm_untrap(r), 0);
    ck_assert_int_eq(atomic_load(&nap_out), 1);
    pthread_join(t, NULL);
    alarm(0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("thread");
    TCase *tc = tcase_create("records");
    tcase_set_timeout(tc, 90);
    if (native_layer()) {
        tcase_add_test(tc, siglongjmp_in_a_new_thread_leaves_no_call_behind);
        tcase_add_test(tc,
            untrap_does_not_wait_for_a_blocked_thread_that_left_by_siglongjmp);
    } else {
        /* thread.c .calls, dispatch.c .onalt: the libsigsegv layer cannot
         * move a handler onto an alternate stack. */
        printf("siglongjmp_in_a_new_thread_leaves_no_call_behind: "
               "native layer only (uvm_trap(3)): left out\n");
    }
    tcase_add_test(tc, autodisarm_stack_untrap_in_own_handler_is_edeadlk);
    tcase_add_test(tc, autodisarm_stack_nested_fault_keeps_the_outer_call);
    tcase_add_test(tc, autodisarm_stack_probe_keeps_the_call_in_flight);
    tcase_add_test(tc, untrap_waits_for_a_handler_blocked_in_a_system_call);
    tcase_add_test(tc, fork_child_forgets_other_threads_hazards);
    tcase_add_test(tc, fork_child_forgets_other_threads_calls);
    int tid_test = can_set_next_tid();
    if (tid_test)
        tcase_add_test(tc, untrap_is_not_fooled_by_a_reused_thread_id);
    else
        printf("untrap_is_not_fooled_by_a_reused_thread_id needs root and "
               "/proc/sys/kernel/ns_last_pid: skipped\n");
    suite_add_tcase(s, tc);
    int rc = run_suite(s);
    return rc == EXIT_SUCCESS && !tid_test ? 77 : rc;
}
