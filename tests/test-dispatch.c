/*
 * test-dispatch.c: the dispatcher (TRAP): uvm_trap, uvm_untrap, routing,
 * the fault description, nesting, siglongjmp, chaining, forged signals.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Every test runs in its own process (Check's fork mode), so each starts
 * with libuvm's action not yet installed.  Randomised tests print their
 * seed; UVM_TEST_SEED=N replays one.
 *
 * Built with either fault layer (uvm_trap(3), FAULT LAYERS): where they
 * differ (access type, context, SIGBUS, chaining, forged signals) a test
 * asserts what the layer it runs on documents.
 */
#include "config.h"
#include "testutil.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>

static unsigned test_seed(void)
{
    const char *s = getenv("UVM_TEST_SEED");
    unsigned seed = s ? (unsigned)strtoul(s, NULL, 0) : (unsigned)getpid();
    fprintf(stderr, "seed %u (UVM_TEST_SEED=%u to replay)\n", seed, seed);
    return seed;
}

/* The native layer reports the access and the context, delivers SIGBUS
 * and chains; the libsigsegv layer reports the address only, SIGSEGV only,
 * and unclaimed faults take the default action. */
static int native_layer(void)
{
    return strcmp(uvm_fault_layer(), "native") == 0;
}

/* ---- a handler that unprotects the page and records the fault ---- */

static struct uvm_fault last;
static volatile int calls;

static int h_unprot(const struct uvm_fault *f)
{
    last = *f;
    calls++;
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

static int h_decline(const struct uvm_fault *f)
{
    calls++;
    return UVM_DECLINE;
}

/* ---- argument errors ---- */

START_TEST(trap_rejects_bad_arguments)
{
    char *m = map_pages(4, PROT_READ | PROT_WRITE);
    errno = 0;
    ck_assert_ptr_null(uvm_trap(m, PS, NULL, NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(uvm_trap(m, 0, h_unprot, NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(uvm_trap(m + 1, PS, h_unprot, NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(uvm_trap(m, PS + 1, h_unprot, NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(uvm_trap((void *)(UINTPTR_MAX & ~(uintptr_t)(PS - 1)),
                                2 * PS, h_unprot, NULL));
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(trap_rejects_overlap_with_eexist)
{
    char *m = map_pages(16, PROT_NONE);
    uvm_region *r = uvm_trap(m + 4 * PS, 4 * PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(r);
    struct { size_t off, len; } bad[] = {
        { 4, 4 }, { 2, 3 }, { 7, 2 }, { 5, 1 }, { 0, 16 }, { 6, 10 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        ck_assert_ptr_null(uvm_trap(m + bad[i].off * PS, bad[i].len * PS,
                                    h_unprot, NULL));
        ck_assert_int_eq(errno, EEXIST);
    }
    /* Adjacent ranges do not overlap. */
    uvm_region *a = uvm_trap(m, 4 * PS, h_unprot, NULL);
    uvm_region *b = uvm_trap(m + 8 * PS, 8 * PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(uvm_untrap(a), 0);
    ck_assert_int_eq(uvm_untrap(b), 0);
    ck_assert_int_eq(uvm_untrap(r), 0);
    /* And the range is free again. */
    r = uvm_trap(m, 16 * PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(uvm_untrap(r), 0);
}
END_TEST

START_TEST(untrap_rejects_foreign_and_stale_handles)
{
    char *m = unmapped_pages(1);
    errno = 0;
    ck_assert_int_eq(uvm_untrap(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    long junk[16] = { 0 };
    errno = 0;
    ck_assert_int_eq(uvm_untrap((uvm_region *)junk), -1);
    ck_assert_int_eq(errno, EINVAL);
    uvm_region *r = uvm_trap(m, PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(uvm_untrap(r), 0);
    errno = 0;
    ck_assert_int_eq(uvm_untrap(r), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(uvm_untrap((uvm_region *)((char *)r + 8)), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* Region handles are reused after uvm_untrap.  A stale handle whose slot
 * now holds one of libuvm's own regions (here a DIRTY tracker's) must not
 * unregister it. */
START_TEST(a_stale_handle_never_unregisters_a_library_region)
{
    char *m = map_pages(1, PROT_NONE), *d = map_pages(4, PROT_READ | PROT_WRITE);
    uvm_region *r = uvm_trap(m, PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(uvm_untrap(r), 0);
    uvm_tracker *t = uvm_dirty_start(d, 4 * PS, UVM_DIRTY_MPROTECT);
    ck_assert_ptr_nonnull(t);
    errno = 0;
    ck_assert_int_eq(uvm_untrap(r), -1);
    ck_assert_int_eq(errno, EINVAL);
    void *pages[4];
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 0);
    poke(d + 2 * PS, 1);                     /* the tracker still traps */
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 1);
    ck_assert_ptr_eq(pages[0], d + 2 * PS);
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
}
END_TEST

START_TEST(fault_layer_is_the_configured_one)
{
    ck_assert_str_eq(uvm_fault_layer(), UVM_FAULT_LAYER);
    ck_assert(strcmp(UVM_FAULT_LAYER, "native") == 0 ||
              strcmp(UVM_FAULT_LAYER, "libsigsegv") == 0);
}
END_TEST

/* ---- the fault description ---- */

START_TEST(fault_reports_address_page_access_and_arg)
{
    char *m = map_pages(2, PROT_NONE);
    int tag;
    uvm_region *r = uvm_trap(m, 2 * PS, h_unprot, &tag);
    ck_assert_ptr_nonnull(r);

    volatile char *p = m + PS + 0x678;
    (void)peek((const char *)p);                 /* read of PROT_NONE */
    ck_assert_int_eq(calls, 1);
    ck_assert_ptr_eq(last.addr, (void *)p);
    ck_assert_ptr_eq(last.page, m + PS);
    ck_assert_int_eq(last.access, native_layer() ? UVM_ACCESS_READ
                                                 : UVM_ACCESS_UNKNOWN);
    ck_assert_int_eq(last.signo, SIGSEGV);
    ck_assert_ptr_eq(last.region, r);
    ck_assert_ptr_eq(last.arg, &tag);
    if (native_layer())
        ck_assert_ptr_nonnull(last.ucontext);
    else
        ck_assert_ptr_null(last.ucontext);

    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);
    poke(m + 10, 1);  /* write to PROT_READ */
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(last.access, native_layer() ? UVM_ACCESS_WRITE
                                                 : UVM_ACCESS_UNKNOWN);
    ck_assert_ptr_eq(last.addr, m + 10);
    poke(m + 11, 2);  /* no fault any more */
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(uvm_untrap(r), 0);
}
END_TEST

static int h_make_exec(const struct uvm_fault *f)
{
    last = *f;
    calls++;
    uvm_unprot(f->page, PROT_READ | PROT_EXEC);
    return UVM_RETRY;
}

START_TEST(fault_reports_exec_access)
{
    char *m = map_pages(1, PROT_READ | PROT_WRITE);
    poke(m + (0), (char)((char)0xc3));                           /* ret */
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);
    uvm_region *r = uvm_trap(m, PS, h_make_exec, NULL);
    ck_assert_ptr_nonnull(r);
    void (*fn)(void);
    memcpy(&fn, &m, sizeof fn);
    fn();
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last.access, native_layer() ? UVM_ACCESS_EXEC
                                                 : UVM_ACCESS_UNKNOWN);
    ck_assert_ptr_eq(last.addr, m);
}
END_TEST

static int h_errno_clobber(const struct uvm_fault *f)
{
    errno = 4321;
    calls++;
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

START_TEST(handler_leaves_errno_unchanged)
{
    char *m = map_pages(1, PROT_NONE);
    ck_assert_ptr_nonnull(uvm_trap(m, PS, h_errno_clobber, NULL));
    errno = 77;
    poke(m + (0), (char)(1));
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(errno, 77);
}
END_TEST

static int h_bus_extend(const struct uvm_fault *f)
{
    last = *f;
    calls++;
    int fd = *(int *)f->arg;
    return ftruncate(fd, 2 * (off_t)PS) == 0 ? UVM_RETRY : UVM_DECLINE;
}

static void sigbus_past_eof(void)
{
    int fd = memfd_create("uvm-test", MFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)PS), 0);
    char *m = mmap(NULL, 2 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(m, MAP_FAILED);
    ck_assert_ptr_nonnull(uvm_trap(m, 2 * PS, h_bus_extend, &fd));
    poke(m + PS + 5, 9);  /* past EOF: SIGBUS */
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last.signo, SIGBUS);
    ck_assert_ptr_eq(last.addr, m + PS + 5);
    ck_assert_int_eq(peek(m + PS + 5), 9);
}

/* The libsigsegv layer catches SIGSEGV only (libsigsegv on Linux): a
 * SIGBUS keeps the kernel's default action and no handler runs. */
START_TEST(sigbus_reaches_the_region_handler)
{
    if (native_layer()) {
        sigbus_past_eof();
        return;
    }
    char err[4096];
    int st = run_child(sigbus_past_eof, err, sizeof err);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS,
                  "status %#x: %s", st, err);
}
END_TEST

/* ---- routing ---- */

#define NROUTE 10000
static uvm_region *route_region[NROUTE];
static unsigned route_hits[NROUTE];

static int h_route(const struct uvm_fault *f)
{
    size_t i = (size_t)(uintptr_t)f->arg;
    if (f->region != route_region[i])
        return UVM_DECLINE;
    route_hits[i]++;
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

START_TEST(routing_with_10000_regions_reaches_the_right_handler)
{
    unsigned seed = test_seed();
    char *m = map_pages(NROUTE, PROT_READ | PROT_WRITE);
    /* Register in random order, so the table is built out of order. */
    static size_t order[NROUTE];
    for (size_t i = 0; i < NROUTE; i++)
        order[i] = i;
    for (size_t i = NROUTE - 1; i > 0; i--) {
        size_t j = (size_t)rand_r(&seed) % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t k = 0; k < NROUTE; k++) {
        size_t i = order[k];
        route_region[i] = uvm_trap(m + i * PS, PS, h_route, (void *)i);
        ck_assert_ptr_nonnull(route_region[i]);
    }
    struct uvm_stats st;
    ck_assert_int_eq(uvm_stats(&st), 0);
    ck_assert_uint_eq(st.regions, NROUTE);
    ck_assert_int_eq(uvm_protn(m, NROUTE, PROT_NONE), 0);
    for (size_t k = 0; k < NROUTE; k++)
        poke(m + order[NROUTE - 1 - k] * PS + 1, 1);
    for (size_t i = 0; i < NROUTE; i++)
        ck_assert_uint_eq(route_hits[i], 1);
    /* Unregister half, in random order; the others still route. */
    for (size_t k = 0; k < NROUTE; k += 2)
        ck_assert_int_eq(uvm_untrap(route_region[order[k]]), 0);
    ck_assert_int_eq(uvm_protn(m, NROUTE, PROT_NONE), 0);
    for (size_t k = 1; k < NROUTE; k += 2)
        poke(m + order[k] * PS, 2);
    for (size_t k = 1; k < NROUTE; k += 2)
        ck_assert_uint_eq(route_hits[order[k]], 2);
    for (size_t k = 0; k < NROUTE; k += 2)
        ck_assert_uint_eq(route_hits[order[k]], 1);
}
END_TEST

/* The first byte after a region and the last byte before it belong to
 * whatever handled faults before libuvm. */
static volatile sig_atomic_t prior_calls;
static void *prior_addr;
static int prior_code;
static void prior_info(int sig, siginfo_t *si, void *uc)
{
    prior_calls++;
    prior_addr = si->si_addr;
    prior_code = si->si_code;
    if (si->si_code > 0)
        mprotect((void *)((uintptr_t)si->si_addr & ~(uintptr_t)(PS - 1)), PS,
                 PROT_READ | PROT_WRITE);
}

static void install_prior_info(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = prior_info;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGSEGV, &sa, NULL), 0);
}

/* libsigsegv layer: a fault outside every region ends the process. */
static char *bounds_mem;
static void poke_bounds_mem(void)
{
    poke(bounds_mem, 1);
    _exit(4);
}

static void region_bounds_by_death(void)
{
    char *m = map_pages(3, PROT_NONE);
    ck_assert_ptr_nonnull(uvm_trap(m + PS, PS, h_unprot, NULL));
    char *outside[2] = { m + PS - 1, m + 2 * PS };
    for (int i = 0; i < 2; i++) {
        char err[4096];
        bounds_mem = outside[i];
        int st = run_child(poke_bounds_mem, err, sizeof err);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
                      "status %#x", st);
        ck_assert_ptr_nonnull(strstr(err, "no libuvm region"));
    }
    ck_assert_int_eq(calls, 0);
    poke(m + (PS), (char)(1));
    poke(m + 2 * PS - 1, 1);  /* inside: ours */
    ck_assert_int_eq(calls, 1);
}

START_TEST(region_bounds_are_exact)
{
    if (!native_layer()) {
        region_bounds_by_death();
        return;
    }
    install_prior_info(0);
    char *m = map_pages(3, PROT_NONE);
    ck_assert_ptr_nonnull(uvm_trap(m + PS, PS, h_unprot, NULL));
    poke(m + PS - 1, 1);  /* before: prior */
    ck_assert_int_eq(prior_calls, 1);
    ck_assert_ptr_eq(prior_addr, m + PS - 1);
    poke(m + 2 * PS, 1);  /* after: prior */
    ck_assert_int_eq(prior_calls, 2);
    poke(m + (PS), (char)(1));
    poke(m + 2 * PS - 1, 1);  /* inside: ours */
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(prior_calls, 2);
}
END_TEST

/* ---- threads ---- */

#define NFAULTERS 2
#define FAULT_ROUNDS 4000
static atomic_int stop_churn;
static atomic_ulong churn_ops;

struct faulter {
    char *mem;
    uvm_region *r;
    unsigned long hits;
    unsigned long wrong;
    int id;
};

static int h_faulter(const struct uvm_fault *f)
{
    struct faulter *fa = f->arg;
    if (f->region != fa->r || (char *)f->page < fa->mem ||
        (char *)f->page >= fa->mem + 8 * PS)
        fa->wrong++;
    fa->hits++;
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

static void *faulter_main(void *p)
{
    struct faulter *fa = p;
    for (int i = 0; i < FAULT_ROUNDS; i++) {
        uvm_protn(fa->mem, 8, PROT_NONE);
        poke(fa->mem + (size_t)(i % 8) * PS, (char)i);
    }
    return NULL;
}

static int h_never(const struct uvm_fault *f)
{
    abort();
}

static void *churn_main(void *p)
{
    char *space = p;
    uvm_region *rs[64] = { 0 };
    unsigned seed = 1;
    while (!atomic_load(&stop_churn)) {
        int i = (int)(rand_r(&seed) % 64);
        if (rs[i] != NULL) {
            ck_assert_int_eq(uvm_untrap(rs[i]), 0);
            rs[i] = NULL;
        } else {
            rs[i] = uvm_trap(space + (size_t)i * 2 * PS, PS, h_never, NULL);
            ck_assert_ptr_nonnull(rs[i]);
        }
        atomic_fetch_add(&churn_ops, 1);
    }
    for (int i = 0; i < 64; i++)
        if (rs[i] != NULL)
            ck_assert_int_eq(uvm_untrap(rs[i]), 0);
    return NULL;
}

START_TEST(threads_fault_while_regions_come_and_go)
{
    struct faulter fa[NFAULTERS];
    char *space = map_pages(128, PROT_NONE);   /* reserved, not unmapped */
    for (int t = 0; t < NFAULTERS; t++) {
        fa[t] = (struct faulter){ .mem = map_pages(8, PROT_READ | PROT_WRITE),
                                  .id = t };
        fa[t].r = uvm_trap(fa[t].mem, 8 * PS, h_faulter, &fa[t]);
        ck_assert_ptr_nonnull(fa[t].r);
    }
    pthread_t churn, th[NFAULTERS];
    ck_assert_int_eq(pthread_create(&churn, NULL, churn_main, space), 0);
    for (int t = 0; t < NFAULTERS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, faulter_main, &fa[t]), 0);
    for (int t = 0; t < NFAULTERS; t++)
        pthread_join(th[t], NULL);
    atomic_store(&stop_churn, 1);
    pthread_join(churn, NULL);
    for (int t = 0; t < NFAULTERS; t++) {
        ck_assert_uint_eq(fa[t].hits, FAULT_ROUNDS);
        ck_assert_uint_eq(fa[t].wrong, 0);
    }
    ck_assert_uint_gt(atomic_load(&churn_ops), 0);
    struct uvm_stats st;
    uvm_stats(&st);
    ck_assert_uint_eq(st.handled, (unsigned long)NFAULTERS * FAULT_ROUNDS);
}
END_TEST

/* uvm_untrap waits for a handler call in flight in another thread. */
static atomic_int in_handler, release_handler, untrap_returned;

static int h_slow(const struct uvm_fault *f)
{
    atomic_store(&in_handler, 1);
    while (!atomic_load(&release_handler))
        ;
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

static void *slow_faulter(void *p)
{
    poke(p, 1);
    return NULL;
}

static void *untrapper(void *p)
{
    ck_assert_int_eq(uvm_untrap(p), 0);
    atomic_store(&untrap_returned, 1);
    return NULL;
}

START_TEST(untrap_waits_for_handlers_in_flight)
{
    char *m = map_pages(1, PROT_NONE);
    uvm_region *r = uvm_trap(m, PS, h_slow, NULL);
    ck_assert_ptr_nonnull(r);
    pthread_t f, u;
    ck_assert_int_eq(pthread_create(&f, NULL, slow_faulter, m), 0);
    while (!atomic_load(&in_handler))
        ;
    ck_assert_int_eq(pthread_create(&u, NULL, untrapper, r), 0);
    usleep(100000);
    ck_assert_int_eq(atomic_load(&untrap_returned), 0);
    atomic_store(&release_handler, 1);
    pthread_join(f, NULL);
    pthread_join(u, NULL);
    ck_assert_int_eq(atomic_load(&untrap_returned), 1);
}
END_TEST

/* ---- untrap from a handler ---- */

static uvm_region *self_region;
static volatile int self_rc, self_errno;

static int h_untrap_self(const struct uvm_fault *f)
{
    self_rc = uvm_untrap(self_region);
    self_errno = errno;
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

START_TEST(untrap_from_own_handler_is_edeadlk)
{
    char *m = map_pages(1, PROT_NONE);
    self_region = uvm_trap(m, PS, h_untrap_self, NULL);
    ck_assert_ptr_nonnull(self_region);
    poke(m + (0), (char)(1));
    ck_assert_int_eq(self_rc, -1);
    ck_assert_int_eq(self_errno, EDEADLK);
    ck_assert_int_eq(uvm_untrap(self_region), 0);
}
END_TEST

/* ---- nesting ---- */

#define CHAIN (UVM_MAX_NESTING + 1)
static char *chain_mem;
static int chain_order[CHAIN + 1], chain_n;

/* Region i's handler first touches region i+1 (while still in the
 * handler), then unprotects its own page. */
static int h_chain(const struct uvm_fault *f)
{
    int i = (int)(uintptr_t)f->arg;
    chain_order[chain_n++] = i;
    if (i + 1 < CHAIN)
        (void)*(volatile char *)(chain_mem + (size_t)(i + 1) * PS + 100);
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    return UVM_RETRY;
}

static void chain_setup(int depth)
{
    chain_mem = map_pages(CHAIN, PROT_READ | PROT_WRITE);
    for (int i = 0; i < CHAIN; i++)
        ck_assert_ptr_nonnull(uvm_trap(chain_mem + (size_t)i * PS, PS, h_chain,
                                       (void *)(uintptr_t)i));
    /* Protect the first depth pages: the nest goes depth deep. */
    ck_assert_int_eq(uvm_protn(chain_mem, (size_t)depth, PROT_NONE), 0);
}

START_TEST(nested_faults_work_to_max_nesting)
{
    chain_setup(UVM_MAX_NESTING);
    poke(chain_mem + (0), (char)(1));
    ck_assert_int_eq(chain_n, UVM_MAX_NESTING);
    for (int i = 0; i < UVM_MAX_NESTING; i++)
        ck_assert_int_eq(chain_order[i], i);
    struct uvm_stats st;
    uvm_stats(&st);
    ck_assert_uint_eq(st.handled, UVM_MAX_NESTING);
}
END_TEST

static void nest_too_deep(void)
{
    chain_setup(UVM_MAX_NESTING + 1);
    poke(chain_mem + (0), (char)(1));
}

START_TEST(nesting_deeper_than_max_dies_by_the_signal)
{
    char err[8192];
    int st = run_child(nest_too_deep, err, sizeof err);
    ck_assert(WIFSIGNALED(st));
    ck_assert_int_eq(WTERMSIG(st), SIGSEGV);
    ck_assert_ptr_nonnull(strstr(err, "no libuvm region"));
}
END_TEST

/* ---- siglongjmp out of a handler ---- */

static sigjmp_buf jb;

static int h_longjmp(const struct uvm_fault *f)
{
    calls++;
    uvm_unprot(f->page, PROT_READ | PROT_WRITE);
    siglongjmp(jb, 1);
}

START_TEST(siglongjmp_out_of_a_handler_twice_then_untrap)
{
    char *m = map_pages(2, PROT_NONE);
    uvm_region *r = uvm_trap(m, 2 * PS, h_longjmp, NULL);
    ck_assert_ptr_nonnull(r);
    volatile int jumped = 0;
    if (sigsetjmp(jb, 1) == 0)
        poke(m + (0), (char)(1));
    else
        jumped++;
    if (sigsetjmp(jb, 1) == 0)
        poke(m + (PS), (char)(1));
    else
        jumped++;
    ck_assert_int_eq(jumped, 2);
    ck_assert_int_eq(calls, 2);
    /* The abandoned calls must not make uvm_untrap wait or say EDEADLK. */
    ck_assert_int_eq(uvm_untrap(r), 0);
}
END_TEST

static atomic_int lj_done, lj_release;
static char *lj_mem;

static void *longjmp_thread(void *p)
{
    if (sigsetjmp(jb, 1) == 0)
        poke(lj_mem + (0), (char)(1));
    atomic_store(&lj_done, 1);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    pthread_mutex_lock(&mu);
    while (!atomic_load(&lj_release)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&cv, &mu, &ts);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

START_TEST(untrap_survives_siglongjmp_in_another_thread)
{
    lj_mem = map_pages(1, PROT_NONE);
    uvm_region *r = uvm_trap(lj_mem, PS, h_longjmp, NULL);
    ck_assert_ptr_nonnull(r);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, longjmp_thread, NULL), 0);
    while (!atomic_load(&lj_done))
        ;
    /* The thread left its handler by siglongjmp and now waits: untrap
     * must find out (probe) and return, not wait forever. */
    ck_assert_int_eq(uvm_untrap(r), 0);
    atomic_store(&lj_release, 1);
    pthread_join(t, NULL);
}
END_TEST

/* ---- chaining ---- */

/* The libsigsegv layer keeps no previous action (sigsegv_install_handler
 * discards it): a declined or foreign fault takes the default action and
 * the prior handler never runs. */
static void prior_then_declined_fault(void)
{
    install_prior_info(0);
    char *m = map_pages(2, PROT_NONE);
    if (uvm_trap(m, PS, h_decline, NULL) == NULL)
        _exit(3);
    poke(m + 1, 1);
    _exit(prior_calls == 0 ? 4 : 5);
}

static void prior_then_foreign_fault(void)
{
    install_prior_info(0);
    char *m = map_pages(2, PROT_NONE);
    if (uvm_trap(m, PS, h_unprot, NULL) == NULL)
        _exit(3);
    poke(m, 1);
    if (calls != 1)
        _exit(6);
    poke(m + PS, 1);
    _exit(prior_calls == 0 ? 4 : 5);
}

static void assert_prior_replaced(void (*fn)(void))
{
    char err[16384];
    int st = run_child(fn, err, sizeof err);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
                  "status %#x: %s", st, err);
    ck_assert_ptr_nonnull(strstr(err, "no libuvm region"));
}

START_TEST(decline_and_foreign_faults_go_to_the_prior_siginfo_handler)
{
    if (!native_layer()) {
        assert_prior_replaced(prior_then_declined_fault);
        assert_prior_replaced(prior_then_foreign_fault);
        return;
    }
    install_prior_info(0);
    char *m = map_pages(2, PROT_NONE);
    ck_assert_ptr_nonnull(uvm_trap(m, PS, h_decline, NULL));
    poke(m + 1, 1);  /* declined: prior fixes */
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(prior_calls, 1);
    ck_assert_ptr_eq(prior_addr, m + 1);
    ck_assert_int_eq(prior_code, SEGV_ACCERR);
    poke(m + PS, 1);  /* no region: prior */
    ck_assert_int_eq(prior_calls, 2);
    struct uvm_stats st;
    uvm_stats(&st);
    ck_assert_uint_eq(st.declined, 1);
    ck_assert_uint_eq(st.chained, 2);
}
END_TEST

/* A fault no region claims in a region unregistered lately runs once more
 * (uvm_trap(3), Unregistering): whoever removed the region may have made
 * the page accessible meanwhile.  A fault that comes back is passed on. */
START_TEST(fault_in_a_just_removed_region_runs_once_more_then_chains)
{
    if (!native_layer())
        return;                    /* no prior action to observe */
    install_prior_info(0);
    char *m = map_pages(2, PROT_NONE);
    struct uvm_stats a, b;
    for (int round = 1; round <= 2; round++) {
        uvm_region *r = uvm_trap(m, 2 * PS, h_decline, NULL);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(uvm_untrap(r), 0);
        ck_assert_int_eq(mprotect(m, 2 * PS, PROT_NONE), 0);
        uvm_stats(&a);
        poke(m + 8, 1);            /* run again, faults again: prior */
        uvm_stats(&b);
        ck_assert_int_eq(prior_calls, 2 * round - 1);
        ck_assert_uint_eq(b.retried - a.retried, 1);
        ck_assert_uint_eq(b.chained - a.chained, 1);
        ck_assert_uint_eq(b.faults - a.faults, 2);
        poke(m + PS, 1);           /* another page: once more too */
        uvm_stats(&a);
        ck_assert_int_eq(prior_calls, 2 * round);
        ck_assert_uint_eq(a.retried - b.retried, 1);
    }
    ck_assert_int_eq(calls, 0);    /* the removed handler never ran */
    /* Outside every region removed lately: passed on at once. */
    char *o = map_pages(1, PROT_NONE);
    uvm_stats(&a);
    poke(o, 1);
    uvm_stats(&b);
    ck_assert_uint_eq(b.retried, a.retried);
    ck_assert_int_eq(prior_calls, 5);
}
END_TEST

static volatile sig_atomic_t plain_calls;
static char *plain_page;
static void prior_plain(int sig)
{
    plain_calls++;
    mprotect(plain_page, PS, PROT_READ | PROT_WRITE);
}

static void plain_prior_then_foreign_fault(void)
{
    signal(SIGSEGV, prior_plain);
    char *m = map_pages(2, PROT_NONE);
    plain_page = m + PS;
    if (uvm_trap(m, PS, h_unprot, NULL) == NULL)
        _exit(3);
    poke(m + PS, 1);
    _exit(plain_calls == 0 ? 4 : 5);
}

START_TEST(foreign_faults_go_to_a_prior_plain_handler)
{
    if (!native_layer()) {
        assert_prior_replaced(plain_prior_then_foreign_fault);
        return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = prior_plain;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGSEGV, &sa, NULL), 0);
    char *m = map_pages(2, PROT_NONE);
    plain_page = m + PS;
    ck_assert_ptr_nonnull(uvm_trap(m, PS, h_unprot, NULL));
    poke(m + (PS), (char)(1));
    ck_assert_int_eq(plain_calls, 1);
    poke(m + (0), (char)(1));
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(plain_calls, 1);
}
END_TEST

static void fault_outside_regions(void)
{
    char *m = map_pages(2, PROT_NONE);
    if (uvm_trap(m, PS, h_unprot, NULL) == NULL)
        _exit(3);
    poke(m + (PS + 16), (char)(1));
    _exit(4);                                  /* must not get here */
}

START_TEST(unclaimed_fault_dies_by_sigsegv_with_a_diagnostic)
{
    char err[16384];
    int st = run_child(fault_outside_regions, err, sizeof err);
    ck_assert_msg(WIFSIGNALED(st), "child exited %d", WEXITSTATUS(st));
    ck_assert_int_eq(WTERMSIG(st), SIGSEGV);
    ck_assert_ptr_nonnull(strstr(err, "no libuvm region"));
    if (!native_layer()) {
        /* No access type, no context to walk from. */
        ck_assert_ptr_nonnull(strstr(err, "(unknown access)"));
        ck_assert_ptr_null(strstr(err, "backtrace"));
        return;
    }
    ck_assert_ptr_nonnull(strstr(err, "(write)"));
    ck_assert_ptr_nonnull(strstr(err, "backtrace"));
    /* The backtrace walks out of the signal frame up to main(). */
    ck_assert_msg(strstr(err, " main+0x") != NULL, "%s", err);
}
END_TEST

static void declined_fault_ignored_prior(void)
{
    signal(SIGSEGV, SIG_IGN);
    char *m = map_pages(1, PROT_NONE);
    if (uvm_trap(m, PS, h_decline, NULL) == NULL)
        _exit(3);
    poke(m + (0), (char)(1));
    _exit(4);
}

START_TEST(fault_with_sig_ign_prior_still_dies_by_sigsegv)
{
    char err[16384];
    int st = run_child(declined_fault_ignored_prior, err, sizeof err);
    ck_assert(WIFSIGNALED(st));
    ck_assert_int_eq(WTERMSIG(st), SIGSEGV);
}
END_TEST

/* ---- forged signals ---- */

/* libsigsegv passes no si_code: a forged SIGSEGV looks like a fault at the
 * sender's pid and uid, which no region covers here, so the libsigsegv
 * layer ends the process as the default action would; no handler runs. */
static int h_tell(const struct uvm_fault *f)
{
    write(2, "handler ran\n", 12);
    return UVM_DECLINE;
}

static void forged_sigqueue(void)
{
    char *m = map_pages(1, PROT_READ | PROT_WRITE);
    if (uvm_trap(m, PS, h_tell, NULL) == NULL)
        _exit(3);
    union sigval v;
    v.sival_ptr = m;
    sigqueue(getpid(), SIGSEGV, v);
    _exit(4);
}

static void forged_raise(void)
{
    char *m = map_pages(1, PROT_READ | PROT_WRITE);
    if (uvm_trap(m, PS, h_tell, NULL) == NULL)
        _exit(3);
    raise(SIGSEGV);
    _exit(4);
}

START_TEST(forged_signals_never_reach_region_handlers)
{
    if (!native_layer()) {
        void (*fns[])(void) = { forged_sigqueue, forged_raise };
        for (int i = 0; i < 2; i++) {
            char err[4096];
            int st = run_child(fns[i], err, sizeof err);
            ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
                          "status %#x: %s", st, err);
            ck_assert_ptr_null(strstr(err, "handler ran"));
        }
        return;
    }
    install_prior_info(0);
    char *m = map_pages(1, PROT_READ | PROT_WRITE);
    ck_assert_ptr_nonnull(uvm_trap(m, PS, h_unprot, NULL));
    union sigval v;
    v.sival_ptr = m;
    ck_assert_int_eq(sigqueue(getpid(), SIGSEGV, v), 0);
    ck_assert_int_eq(raise(SIGSEGV), 0);
    ck_assert_int_eq(kill(getpid(), SIGSEGV), 0);
    ck_assert_int_eq(calls, 0);
    ck_assert_int_eq(prior_calls, 3);
    ck_assert_int_le(prior_code, 0);
    struct uvm_stats st;
    uvm_stats(&st);
    ck_assert_uint_eq(st.forged, 3);
}
END_TEST

static void forged_with_default_prior(void)
{
    char *m = map_pages(1, PROT_READ | PROT_WRITE);
    if (uvm_trap(m, PS, h_unprot, NULL) == NULL)
        _exit(3);
    kill(getpid(), SIGSEGV);
    _exit(4);
}

START_TEST(forged_signal_with_default_prior_kills)
{
    char err[4096];
    int st = run_child(forged_with_default_prior, err, sizeof err);
    ck_assert(WIFSIGNALED(st));
    ck_assert_int_eq(WTERMSIG(st), SIGSEGV);
    ck_assert_int_eq(calls, 0);
}
END_TEST

static void forged_with_ignored_prior(void)
{
    signal(SIGSEGV, SIG_IGN);
    char *m = map_pages(1, PROT_READ | PROT_WRITE);
    if (uvm_trap(m, PS, h_unprot, NULL) == NULL)
        _exit(3);
    kill(getpid(), SIGSEGV);
    _exit(4);
}

START_TEST(forged_signal_with_ignored_prior_is_ignored)
{
    if (!native_layer()) {
        char err[4096];
        int st = run_child(forged_with_ignored_prior, err, sizeof err);
        ck_assert(WIFSIGNALED(st));
        ck_assert_int_eq(WTERMSIG(st), SIGSEGV);
        return;
    }
    signal(SIGSEGV, SIG_IGN);
    char *m = map_pages(1, PROT_READ | PROT_WRITE);
    ck_assert_ptr_nonnull(uvm_trap(m, PS, h_unprot, NULL));
    ck_assert_int_eq(kill(getpid(), SIGSEGV), 0);
    ck_assert_int_eq(calls, 0);
}
END_TEST

/* ---- fork ---- */

START_TEST(regions_keep_working_in_a_forked_child)
{
    char *m = map_pages(1, PROT_NONE);
    uvm_region *r = uvm_trap(m, PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(r);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        poke(m + (0), (char)(1));
        _exit(calls == 1 && uvm_untrap(r) == 0 ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    ck_assert_int_eq(uvm_untrap(r), 0);
}
END_TEST

static Suite *dispatch_suite(void)
{
    Suite *s = suite_create("dispatch");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, fault_layer_is_the_configured_one);
    tcase_add_test(tc, trap_rejects_bad_arguments);
    tcase_add_test(tc, trap_rejects_overlap_with_eexist);
    tcase_add_test(tc, untrap_rejects_foreign_and_stale_handles);
    tcase_add_test(tc, a_stale_handle_never_unregisters_a_library_region);
    tcase_add_test(tc, fault_reports_address_page_access_and_arg);
    tcase_add_test(tc, fault_reports_exec_access);
    tcase_add_test(tc, handler_leaves_errno_unchanged);
    tcase_add_test(tc, sigbus_reaches_the_region_handler);
    tcase_add_test(tc, region_bounds_are_exact);
    tcase_add_test(tc, untrap_from_own_handler_is_edeadlk);
    suite_add_tcase(s, tc);

    tc = tcase_create("routing");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, routing_with_10000_regions_reaches_the_right_handler);
    tcase_add_test(tc, threads_fault_while_regions_come_and_go);
    tcase_add_test(tc, untrap_waits_for_handlers_in_flight);
    suite_add_tcase(s, tc);

    tc = tcase_create("nesting");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, nested_faults_work_to_max_nesting);
    tcase_add_test(tc, nesting_deeper_than_max_dies_by_the_signal);
    tcase_add_test(tc, siglongjmp_out_of_a_handler_twice_then_untrap);
    tcase_add_test(tc, untrap_survives_siglongjmp_in_another_thread);
    suite_add_tcase(s, tc);

    tc = tcase_create("chaining");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, decline_and_foreign_faults_go_to_the_prior_siginfo_handler);
    tcase_add_test(tc, fault_in_a_just_removed_region_runs_once_more_then_chains);
    tcase_add_test(tc, foreign_faults_go_to_a_prior_plain_handler);
    tcase_add_test(tc, unclaimed_fault_dies_by_sigsegv_with_a_diagnostic);
    tcase_add_test(tc, fault_with_sig_ign_prior_still_dies_by_sigsegv);
    tcase_add_test(tc, forged_signals_never_reach_region_handlers);
    tcase_add_test(tc, forged_signal_with_default_prior_kills);
    tcase_add_test(tc, forged_signal_with_ignored_prior_is_ignored);
    tcase_add_test(tc, regions_keep_working_in_a_forked_child);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(dispatch_suite());
}
