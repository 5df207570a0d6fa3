/*
 * stress.c: every libuvm primitive at once, from many threads, with exact
 * checks after every step and every round.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Usage: stress [seconds [seed]]   (or UVM_STRESS_SECONDS, UVM_STRESS_SEED)
 * Default 3 seconds (make check); make check-long runs it for minutes.
 * Exit 0 when every check held, 1 with a message on the first violation.
 *
 * Threads, each on memory of its own, all running at once:
 *
 *  fault (2)    each owns a trap region of FPAGES pages and changes its
 *               protection with uvm_prot1, uvm_protn, uvm_protv and
 *               uvm_unprot (PROT_NONE, and PROT_READ, which goes through
 *               userfaultfd write-protection where the kernel has it), then
 *               reads or writes the pages.  The handler counts faults per
 *               (region, page, thread) and checks the fault it is given
 *               (region, arg, address, access, signal); the thread knows
 *               exactly which accesses must fault, so after every step the
 *               counts must match exactly: no fault misrouted, lost or
 *               invented.  Every value written is read back: no write lost.
 *  churn (1)    registers and unregisters small regions continuously over
 *               an area of its own (uvm_trap/uvm_untrap, EEXIST for
 *               overlaps), faults on them (exactly one call of the right
 *               region's handler) and on pages no region covers (uvm_touch
 *               must give EFAULT and no handler runs).
 *  toucher (1)  uvm_touch on the churn area's odd pages while the regions
 *               come and go: handlers run concurrently with uvm_untrap,
 *               and a handler must never run for a region after its
 *               uvm_untrap returned.
 *  dirty (2+1)  two writers write disjoint pages of a tracked range while a
 *               collector calls uvm_dirty/uvm_dirty_runs.  A writer notes
 *               the number of completed calls E before each write; the
 *               write must be reported by one of the calls E+1 .. the first
 *               call that starts after the write completed ("reported by
 *               this call or the next, never by neither").
 *  snap (2+1)   two writers rewrite disjoint pages of a range, whole pages
 *               of (page, version) words in ascending order, while a
 *               thread takes snapshots, reads them back, saves them,
 *               diffs them, reads their views (uvm_alloc memory, odd
 *               seeds), and releases them in random order.  A snapshot
 *               taken while page p is being written holds, for p, a prefix
 *               of version v+1 over a suffix of version v, with v no older
 *               than what was complete before uvm_snapshot was called and
 *               v+1 no newer than what had started when it returned; and it
 *               reads back byte-identical for as long as it lives.
 *
 * After every round (ROUND_MS) all threads stop and the main thread
 * checks: every dirty write reported, each live snapshot still reads back
 * its first reading, uvm_snap_restore makes the range equal to it (and the
 * other snapshots stay valid), the handlers of unregistered regions were
 * not called again, and uvm_stats counts exactly the regions registered.
 */
#define _GNU_SOURCE 1
#include <uvm.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define ROUND_MS 250
#define NFAULT 2
#define FPAGES 64                 /* pages per fault thread's region */
#define CPAGES 512                /* the churn area */
#define CREGS 48                  /* churn region records */
#define DPAGES 64                 /* the dirty range */
#define SPAGES 64                 /* the snapshot range */
#define MAXSNAPS 4
#define NTHREADS (NFAULT + 2 + 3 + 3)

static size_t PS;
static unsigned long seed;
static atomic_int failed;
static atomic_int round_no;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    if (atomic_exchange(&failed, 1))
        _exit(1);                 /* someone else is reporting */
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "stress: FAIL (seed %lu, round %d): ", seed,
            atomic_load(&round_no));
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    _exit(1);
}

/* From a handler: no stdio. */
static void fail_as(const char *msg)
{
    if (!atomic_exchange(&failed, 1)) {
        const char *pre = "stress: FAIL in a region handler: ";
        (void)!write(2, pre, strlen(pre));
        (void)!write(2, msg, strlen(msg));
        (void)!write(2, "\n", 1);
    }
    _exit(1);
}

/* xorshift64*, one per thread */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void *map_rw(size_t pages)
{
    void *p = mmap(NULL, pages * PS, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        fail("mmap: %s", strerror(errno));
    return p;
}

/* Accesses that may fault: volatile, and a compiler barrier after, so that
 * counters changed by the handler are read again. */
static inline uint64_t peek64(const void *p)
{
    uint64_t v = *(const volatile uint64_t *)p;
    __asm__ __volatile__("" ::: "memory");
    return v;
}

static inline void poke64(void *p, uint64_t v)
{
    *(volatile uint64_t *)p = v;
    __asm__ __volatile__("" ::: "memory");
}

/* ---- rounds ---- */

static atomic_int running = 1;     /* workers may work */
static atomic_int quitting;
static pthread_barrier_t bar;      /* NTHREADS workers + main */

/* A worker calls this between steps; it parks while the main thread
 * checks.  Returns 0 when the program ends. */
static int keep_going(void)
{
    if (atomic_load_explicit(&running, memory_order_acquire))
        return 1;
    pthread_barrier_wait(&bar);    /* stopped */
    pthread_barrier_wait(&bar);    /* checked: go on, or quit */
    return !atomic_load(&quitting);
}

/* ---- statistics printed at the end ---- */

static atomic_ulong n_faults, n_steps, n_traps, n_untraps, n_eexist,
    n_notouch, n_touches, n_dirty_calls, n_dirty_writes, n_dirty_checked,
    n_snaps, n_snap_reads, n_snap_saves, n_snap_diffs, n_releases,
    n_restores, n_snap_writes, n_views;
#define BUMP(c, n) atomic_fetch_add_explicit(&(c), (n), memory_order_relaxed)

/* ======================================================================
 * fault threads: PROT1/PROTN/PROTV/UNPROT and exact fault counting
 * ====================================================================== */

struct fregion {
    uvm_region *h;
    char *base;
    atomic_ulong count[FPAGES];    /* faults per page */
};
static struct fregion freg[NFAULT];

/* What the faulting thread is doing (the handler runs in that thread). */
static __thread volatile uintptr_t want_addr;
static __thread volatile int want_access;
/* The libsigsegv fault layer reports no access type (uvm_trap(3)). */
static int access_known;

static int fault_handler(const struct uvm_fault *f)
{
    struct fregion *r = f->arg;
    if (r < freg || r >= freg + NFAULT)
        fail_as("fault handler: arg is not a fault region");
    uintptr_t a = (uintptr_t)f->addr, base = (uintptr_t)r->base;
    if (f->region != r->h)
        fail_as("fault handler: fault->region is not the region of arg");
    if (a < base || a >= base + FPAGES * PS)
        fail_as("fault handler: address outside the region (misrouted)");
    if (a != want_addr)
        fail_as("fault handler: not the address this thread accessed");
    if ((uintptr_t)f->page != (a & ~(PS - 1)))
        fail_as("fault handler: fault->page is not addr's page");
    if (f->signo != SIGSEGV)
        fail_as("fault handler: signo is not SIGSEGV");
    if (f->access != (access_known ? want_access : UVM_ACCESS_UNKNOWN))
        fail_as("fault handler: access differs from the access made");
    atomic_fetch_add(&r->count[(a - base) / PS], 1);
    if (uvm_unprot(f->page, PROT_READ | PROT_WRITE) != 0)
        fail_as("fault handler: uvm_unprot failed");
    return UVM_RETRY;
}

/* One access to page i of r; fault says whether it must fault. */
struct fstate {
    struct fregion *r;
    uint64_t rng;
    uint64_t shadow[FPAGES];       /* the word at offset 8*i of page i */
    unsigned long seen[FPAGES];    /* faults counted so far */
};

static void faccess(struct fstate *s, size_t i, int write, int must_fault)
{
    char *p = s->r->base + i * PS + 8 * (i % 64);
    want_addr = (uintptr_t)p;
    want_access = write ? UVM_ACCESS_WRITE : UVM_ACCESS_READ;
    if (write) {
        uint64_t v = rnd(&s->rng) | 1;
        poke64(p, v);
        s->shadow[i] = v;
    }
    uint64_t got = peek64(p);
    want_addr = 0;
    if (got != s->shadow[i])
        fail("fault region %td page %zu: read %#llx, wrote %#llx (write "
             "lost)", s->r - freg, i, (unsigned long long)got,
             (unsigned long long)s->shadow[i]);
    unsigned long c = atomic_load(&s->r->count[i]);
    if (c != s->seen[i] + (unsigned long)must_fault)
        fail("fault region %td page %zu: %lu faults counted, expected %lu "
             "(%s after protection change)", s->r - freg, i,
             c - s->seen[i], (unsigned long)must_fault,
             write ? "write" : "read");
    s->seen[i] = c;
    BUMP(n_faults, must_fault);
}

static void *fault_thread(void *arg)
{
    struct fstate s;
    memset(&s, 0, sizeof s);
    s.r = arg;
    s.rng = seed * 31 + (uint64_t)(s.r - freg) + 1;
    while (keep_going()) {
        size_t i = rnd(&s.rng) % FPAGES;
        int kind = (int)(rnd(&s.rng) % 6);
        int rc = 0;
        switch (kind) {
        case 0:     /* PROT1 none: a read faults once */
            rc = uvm_prot1(s.r->base + i * PS, PROT_NONE);
            if (rc == 0)
                faccess(&s, i, 0, 1);
            break;
        case 1:     /* PROT1 read-only (uffd write-protect): a write faults */
            rc = uvm_prot1(s.r->base + i * PS, PROT_READ);
            if (rc == 0) {
                faccess(&s, i, 0, 0);
                faccess(&s, i, 1, 1);
            }
            break;
        case 2: {   /* PROTN over a run, then touch each page */
            size_t n = 1 + rnd(&s.rng) % 8;
            if (i + n > FPAGES)
                n = FPAGES - i;
            int ro = rnd(&s.rng) & 1;
            rc = uvm_protn(s.r->base + i * PS, n, ro ? PROT_READ : PROT_NONE);
            for (size_t k = 0; rc == 0 && k < n; k++)
                faccess(&s, i + k, ro, 1);
            break;
        }
        case 3: {   /* PROTV over scattered pages, duplicates included */
            void *v[12];
            unsigned char hit[FPAGES] = { 0 };
            size_t n = 1 + rnd(&s.rng) % 12;
            for (size_t k = 0; k < n; k++) {
                size_t j = rnd(&s.rng) % FPAGES;
                v[k] = s.r->base + j * PS;
                hit[j] = 1;
            }
            int ro = rnd(&s.rng) & 1;
            rc = uvm_protv(v, n, ro ? PROT_READ : PROT_NONE);
            for (size_t j = 0; rc == 0 && j < FPAGES; j++)
                if (hit[j])
                    faccess(&s, j, ro, 1);
            break;
        }
        case 4:     /* read-only then read: no fault */
            rc = uvm_prot1(s.r->base + i * PS, PROT_READ);
            if (rc == 0) {
                faccess(&s, i, 0, 0);
                rc = uvm_unprot(s.r->base + i * PS, PROT_READ | PROT_WRITE);
            }
            break;
        case 5:     /* UNPROT undoes a change: no fault */
            rc = uvm_unprot(s.r->base + i * PS, PROT_NONE);
            if (rc == 0)
                rc = uvm_unprot(s.r->base + i * PS, PROT_READ | PROT_WRITE);
            if (rc == 0)
                faccess(&s, i, rnd(&s.rng) & 1, 0);
            break;
        }
        if (rc != 0)
            fail("protection change (step %d) failed: %s", kind,
                 strerror(errno));
        BUMP(n_steps, 1);
    }
    return NULL;
}

/* ======================================================================
 * churn: regions registered and unregistered continuously
 * ====================================================================== */

enum { C_FREE = 0, C_PENDING = 1, C_LIVE = 2 };

struct creg {
    _Atomic int state;
    _Atomic(uvm_region *) h;
    size_t first, n;               /* pages of the churn area */
    atomic_ulong by_churn, by_toucher;
    unsigned long frozen;          /* calls when it was unregistered */
    int dead_once;
};
static struct creg cregs[CREGS];
static char *carea;
static __thread int i_am_churn;

static int churn_handler(const struct uvm_fault *f)
{
    struct creg *r = f->arg;
    if (r < cregs || r >= cregs + CREGS)
        fail_as("churn handler: arg is not a churn record");
    int st = atomic_load(&r->state);
    if (st == C_FREE)
        fail_as("churn handler: called for a region after uvm_untrap "
                "returned");
    uvm_region *h = atomic_load(&r->h);
    if (st == C_LIVE && f->region != h)
        fail_as("churn handler: fault->region is not the record's region");
    uintptr_t a = (uintptr_t)f->addr, lo = (uintptr_t)carea + r->first * PS;
    if (a < lo || a >= lo + r->n * PS)
        fail_as("churn handler: address outside the region (misrouted)");
    if (uvm_unprot(f->page, PROT_READ | PROT_WRITE) != 0)
        fail_as("churn handler: uvm_unprot failed");
    if (!i_am_churn)             /* widen the race with uvm_untrap */
        for (volatile int spin = 0; spin < 20000; spin++)
            ;
    /* Counted last: a call still running when uvm_untrap returned would
     * change the count frozen then. */
    if (i_am_churn)
        atomic_fetch_add(&r->by_churn, 1);
    else
        atomic_fetch_add(&r->by_toucher, 1);
    if (atomic_load(&r->state) == C_FREE)
        fail_as("churn handler: still running after uvm_untrap returned");
    return UVM_RETRY;
}

static struct creg *creg_at(size_t page)
{
    for (int i = 0; i < CREGS; i++) {
        struct creg *r = &cregs[i];
        if (atomic_load(&r->state) != C_FREE && page >= r->first &&
            page < r->first + r->n)
            return r;
    }
    return NULL;
}

static unsigned long churn_calls(void)
{
    unsigned long n = 0;
    for (int i = 0; i < CREGS; i++)
        n += atomic_load(&cregs[i].by_churn);
    return n;
}

static void churn_trap(uint64_t *rng)
{
    size_t first = rnd(rng) % CPAGES, n = 1 + rnd(rng) % 8;
    if (first + n > CPAGES)
        n = CPAGES - first;
    int overlap = 0;
    for (size_t p = first; p < first + n; p++)
        overlap |= creg_at(p) != NULL;
    struct creg *r = NULL;
    for (int i = 0; i < CREGS && r == NULL; i++)
        if (atomic_load(&cregs[i].state) == C_FREE)
            r = &cregs[i];
    if (r == NULL)
        return;
    r->first = first;
    r->n = n;
    r->frozen = 0;
    atomic_store(&r->by_churn, 0);
    atomic_store(&r->by_toucher, 0);
    if (!overlap)
        atomic_store(&r->state, C_PENDING);
    uvm_region *h = uvm_trap(carea + first * PS, n * PS, churn_handler, r);
    if (overlap) {
        if (h != NULL || errno != EEXIST)
            fail("uvm_trap over a registered region: %s, expected EEXIST",
                 h ? "succeeded" : strerror(errno));
        BUMP(n_eexist, 1);
        return;
    }
    if (h == NULL)
        fail("uvm_trap of a free range: %s", strerror(errno));
    atomic_store(&r->h, h);
    atomic_store(&r->state, C_LIVE);
    /* its pages start inaccessible */
    if (uvm_protn(carea + first * PS, n, PROT_NONE) != 0)
        fail("uvm_protn on the churn area: %s", strerror(errno));
    BUMP(n_traps, 1);
}

static atomic_size_t touching = CPAGES;   /* the toucher's page now */

static void churn_untrap(uint64_t *rng)
{
    struct creg *r = &cregs[rnd(rng) % CREGS];
    if (rnd(rng) & 1) {            /* the region the toucher is in: a race */
        struct creg *t = creg_at(atomic_load(&touching));
        if (t != NULL)
            r = t;
    }
    if (atomic_load(&r->state) != C_LIVE)
        return;
    if (uvm_untrap(atomic_load(&r->h)) != 0)
        fail("uvm_untrap of a live region: %s", strerror(errno));
    r->frozen = atomic_load(&r->by_churn) + atomic_load(&r->by_toucher);
    atomic_store(&r->state, C_FREE);
    BUMP(n_untraps, 1);
}

/* An even page: only this thread touches even pages. */
static void churn_fault(uint64_t *rng)
{
    size_t p = (rnd(rng) % (CPAGES / 2)) * 2;
    char *a = carea + p * PS;
    struct creg *r = creg_at(p);
    if (uvm_prot1(a, PROT_NONE) != 0)
        fail("uvm_prot1 on the churn area: %s", strerror(errno));
    unsigned long before = churn_calls();
    if (r != NULL) {
        unsigned long mine = atomic_load(&r->by_churn);
        (void)peek64(a);
        if (atomic_load(&r->by_churn) != mine + 1 ||
            churn_calls() != before + 1)
            fail("churn page %zu: %lu calls of its region's handler and %lu "
                 "in all, expected 1", p, atomic_load(&r->by_churn) - mine,
                 churn_calls() - before);
        BUMP(n_faults, 1);
    } else {
        if (uvm_touch(a, 1, UVM_ACCESS_READ) != -1 || errno != EFAULT)
            fail("uvm_touch of a protected page no region covers did not "
                 "fail with EFAULT");
        if (churn_calls() != before)
            fail("a fault outside every region ran a region's handler");
        if (uvm_unprot(a, PROT_READ | PROT_WRITE) != 0)
            fail("uvm_unprot: %s", strerror(errno));
        BUMP(n_notouch, 1);
    }
}

static void *churn_thread(void *arg)
{
    (void)arg;
    uint64_t rng = seed * 77 + 5;
    i_am_churn = 1;
    while (keep_going()) {
        unsigned k = rnd(&rng) % 8;
        if (k < 3)
            churn_trap(&rng);
        else if (k < 5)
            churn_untrap(&rng);
        else
            churn_fault(&rng);
    }
    return NULL;
}

/* uvm_touch on odd pages while regions come and go. */
static void *toucher_thread(void *arg)
{
    (void)arg;
    uint64_t rng = seed * 13 + 7;
    while (keep_going()) {
        size_t p = (rnd(&rng) % (CPAGES / 2)) * 2 + 1;
        if (uvm_prot1(carea + p * PS, PROT_NONE) != 0)
            fail("uvm_prot1: %s", strerror(errno));
        atomic_store(&touching, p);
        int rc = uvm_touch(carea + p * PS, PS, UVM_ACCESS_READ);
        if (rc != 0 && errno != EFAULT)
            fail("uvm_touch on the churn area: %s", strerror(errno));
        if (rc == 0)
            BUMP(n_touches, 1);
    }
    return NULL;
}

/* ======================================================================
 * DIRTY: concurrent writers and collector
 * ====================================================================== */

static char *darea;
static uvm_tracker *dtrk;
static char dmethod[32];
static atomic_ulong dcalls;                 /* completed uvm_dirty calls */
static atomic_ulong dpending[DPAGES];       /* E + 1 of the last write */
static unsigned long dlastrep[DPAGES];      /* collector's */

static void *dirty_writer(void *arg)
{
    int me = (int)(intptr_t)arg;
    uint64_t rng = seed * 101 + (uint64_t)me;
    while (keep_going()) {
        size_t p = (rnd(&rng) % (DPAGES / 2)) * 2 + (size_t)me;
        unsigned long e = atomic_load(&dcalls);
        poke64(darea + p * PS + 8 * (rnd(&rng) % 512), rnd(&rng));
        atomic_store(&dpending[p], e + 1);
        BUMP(n_dirty_writes, 1);
        if ((rnd(&rng) & 15) == 0)
            sched_yield();
    }
    return NULL;
}

/* One collection; returns the pages pending before it, all checked. */
static void dirty_collect(uint64_t *rng)
{
    static unsigned long pend[DPAGES];
    for (size_t p = 0; p < DPAGES; p++)
        pend[p] = atomic_exchange(&dpending[p], 0);
    unsigned long k = atomic_load(&dcalls) + 1;
    void *pages[DPAGES];
    struct uvm_run runs[DPAGES];
    int use_runs = rnd(rng) & 1;
    ssize_t n = use_runs ? uvm_dirty_runs(dtrk, runs, DPAGES)
                         : uvm_dirty(dtrk, pages, DPAGES);
    if (n < 0)
        fail("uvm_dirty%s: %s", use_runs ? "_runs" : "", strerror(errno));
    uintptr_t prev = 0;
    for (ssize_t i = 0; i < n; i++) {
        uintptr_t a = use_runs ? (uintptr_t)runs[i].start
                               : (uintptr_t)pages[i];
        size_t cnt = use_runs ? runs[i].npages : 1;
        if (a < prev || (a - (uintptr_t)darea) % PS ||
            a < (uintptr_t)darea ||
            a + cnt * PS > (uintptr_t)darea + DPAGES * PS || cnt == 0)
            fail("uvm_dirty reported %#lx (+%zu pages): out of order or "
                 "outside the range", (unsigned long)a, cnt);
        for (size_t j = 0; j < cnt; j++)
            dlastrep[(a - (uintptr_t)darea) / PS + j] = k;
        prev = a + cnt * PS;
    }
    atomic_store(&dcalls, k);
    BUMP(n_dirty_calls, 1);
    for (size_t p = 0; p < DPAGES; p++) {
        if (pend[p] == 0)
            continue;
        if (dlastrep[p] < pend[p])
            fail("dirty page %zu written after call %lu completed was not "
                 "reported by calls %lu..%lu (last reported by %lu)", p,
                 pend[p] - 1, pend[p], k, dlastrep[p]);
        BUMP(n_dirty_checked, 1);
    }
}

static void *dirty_collector(void *arg)
{
    (void)arg;
    uint64_t rng = seed * 7 + 3;
    while (keep_going()) {
        dirty_collect(&rng);
        struct timespec ts = { 0, (long)(rnd(&rng) % 2000000) };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* ======================================================================
 * snapshots under concurrent writers
 * ====================================================================== */

static char *sarea;
static int salloc;                 /* sarea is uvm_alloc memory */
static _Atomic uint64_t sstarted[SPAGES], sdone[SPAGES];

struct sref {
    uvm_snap *h;
    unsigned char *ref;            /* the first reading */
    int viewed;                    /* uvm_snap_view was called */
};
static struct sref sref[MAXSNAPS];
static int memfd = -1;

static uint64_t sword(size_t p, uint64_t v)
{
    return v == 0 ? 0 : ((uint64_t)(p + 1) << 40) | v;
}

static void swrite_page(size_t p, uint64_t v)
{
    atomic_store(&sstarted[p], v);
    uint64_t *w = (uint64_t *)(sarea + p * PS);
    for (size_t i = 0; i < PS / 8; i++)
        poke64(&w[i], sword(p, v));
    atomic_store(&sdone[p], v);
}

static void *snap_writer(void *arg)
{
    int me = (int)(intptr_t)arg;
    uint64_t rng = seed * 1009 + (uint64_t)me;
    while (keep_going()) {
        size_t p = (rnd(&rng) % (SPAGES / 2)) * 2 + (size_t)me;
        swrite_page(p, atomic_load(&sdone[p]) + 1);
        BUMP(n_snap_writes, 1);
    }
    return NULL;
}

/* Page p of a snapshot: a prefix of version a over a suffix of a - 1 (or
 * all one version), lo <= suffix version, prefix version <= hi. */
static void snap_check_page(const unsigned char *pg, size_t p, uint64_t lo,
                            uint64_t hi)
{
    const uint64_t *w = (const uint64_t *)pg;
    uint64_t a = w[0] & 0xffffffffffULL;
    if (w[0] != sword(p, a))
        fail("snapshot page %zu: word 0 is %#llx, not a word of this page",
             p, (unsigned long long)w[0]);
    size_t j = 0;
    while (j < PS / 8 && w[j] == sword(p, a))
        j++;
    uint64_t b = a;
    if (j < PS / 8) {
        b = w[j] & 0xffffffffffULL;
        if (b + 1 != a)
            fail("snapshot page %zu: version %llu over version %llu at word "
                 "%zu (not consecutive)", p, (unsigned long long)a,
                 (unsigned long long)b, j);
        for (size_t i = j; i < PS / 8; i++)
            if (w[i] != sword(p, b))
                fail("snapshot page %zu: word %zu is %#llx, not version "
                     "%llu of this page", p, i, (unsigned long long)w[i],
                     (unsigned long long)b);
    }
    if (b < lo || a > hi)
        fail("snapshot page %zu holds versions %llu..%llu, but %llu was "
             "complete before uvm_snapshot and only %llu had started when "
             "it returned", p, (unsigned long long)b, (unsigned long long)a,
             (unsigned long long)lo, (unsigned long long)hi);
}

static void snap_read_all(uvm_snap *h, unsigned char *buf)
{
    if (uvm_snap_read(h, 0, buf, SPAGES * PS) != 0)
        fail("uvm_snap_read: %s", strerror(errno));
    BUMP(n_snap_reads, 1);
}

static void snap_take(void)
{
    int i = 0;
    while (i < MAXSNAPS && sref[i].h != NULL)
        i++;
    if (i == MAXSNAPS)
        return;
    static uint64_t lo[SPAGES], hi[SPAGES];
    for (size_t p = 0; p < SPAGES; p++)
        lo[p] = atomic_load(&sdone[p]);
    uvm_snap *h = uvm_snapshot(sarea, SPAGES * PS);
    if (h == NULL)
        fail("uvm_snapshot: %s", strerror(errno));
    for (size_t p = 0; p < SPAGES; p++)
        hi[p] = atomic_load(&sstarted[p]);
    sref[i].h = h;
    sref[i].viewed = 0;
    snap_read_all(h, sref[i].ref);
    for (size_t p = 0; p < SPAGES; p++)
        snap_check_page(sref[i].ref + p * PS, p, lo[p], hi[p]);
    BUMP(n_snaps, 1);
}

static void snap_verify(int i, const char *when)
{
    static unsigned char buf[SPAGES * 4096];
    snap_read_all(sref[i].h, buf);
    for (size_t p = 0; p < SPAGES; p++)
        if (memcmp(buf + p * PS, sref[i].ref + p * PS, PS) != 0)
            fail("snapshot %d page %zu changed %s", i, p, when);
}

static void snap_save_check(int i)
{
    static unsigned char buf[SPAGES * 4096];
    if (ftruncate(memfd, 0) != 0 || lseek(memfd, 0, SEEK_SET) != 0)
        fail("memfd: %s", strerror(errno));
    if (uvm_snap_save(sref[i].h, memfd) != 0)
        fail("uvm_snap_save: %s", strerror(errno));
    if (pread(memfd, buf, SPAGES * PS, 0) != (ssize_t)(SPAGES * PS) ||
        memcmp(buf, sref[i].ref, SPAGES * PS) != 0)
        fail("uvm_snap_save wrote something else than the snapshot");
    BUMP(n_snap_saves, 1);
}

static int snap_live(void)
{
    int n = 0;
    for (int i = 0; i < MAXSNAPS; i++)
        n += sref[i].h != NULL;
    return n;
}

static void snap_step(uint64_t *rng)
{
    int i = (int)(rnd(rng) % MAXSNAPS);
    switch (rnd(rng) % 7) {
    case 0:
    case 1:
        snap_take();
        break;
    case 2:
        if (sref[i].h != NULL) {
            if (uvm_snap_release(sref[i].h) != 0)
                fail("uvm_snap_release: %s", strerror(errno));
            sref[i].h = NULL;
            BUMP(n_releases, 1);
            for (int j = 0; j < MAXSNAPS; j++)
                if (sref[j].h != NULL)
                    snap_verify(j, "when another snapshot was released");
        }
        break;
    case 3:
        if (sref[i].h != NULL)
            snap_verify(i, "while the range was being written");
        break;
    case 4:
        if (sref[i].h != NULL)
            snap_save_check(i);
        break;
    case 5:
        if (sref[i].h != NULL) {
            void *pages[SPAGES];
            ssize_t n = uvm_snap_diff(sref[i].h, pages, SPAGES);
            if (n < 0)
                fail("uvm_snap_diff: %s", strerror(errno));
            for (ssize_t k = 0; k < n; k++)
                if ((char *)pages[k] < sarea ||
                    (char *)pages[k] >= sarea + SPAGES * PS ||
                    ((char *)pages[k] - sarea) % PS ||
                    (k > 0 && pages[k] <= pages[k - 1]))
                    fail("uvm_snap_diff: page %p out of order or range",
                         pages[k]);
            BUMP(n_snap_diffs, 1);
        }
        break;
    case 6:     /* the view, filled while the range is being written */
        if (sref[i].h != NULL) {
            const unsigned char *v = uvm_snap_view(sref[i].h);
            if (!salloc) {
                if (v != NULL || errno != ENOTSUP)
                    fail("uvm_snap_view of private memory: %s, expected "
                         "ENOTSUP", v ? "succeeded" : strerror(errno));
                break;
            }
            if (v == NULL)
                fail("uvm_snap_view: %s", strerror(errno));
            size_t p = rnd(rng) % SPAGES;
            if (memcmp(v + p * PS, sref[i].ref + p * PS, PS) != 0)
                fail("snapshot %d: page %zu of its view differs from the "
                     "snapshot", i, p);
            if ((rnd(rng) & 3) == 0 && memcmp(v, sref[i].ref, SPAGES * PS))
                fail("snapshot %d: its view differs from the snapshot", i);
            sref[i].viewed = 1;
            BUMP(n_views, 1);
        }
        break;
    }
    struct uvm_snap_stats st;
    for (int j = 0; j < MAXSNAPS; j++)
        if (sref[j].h != NULL) {
            if (uvm_snap_stats(sref[j].h, &st) != 0)
                fail("uvm_snap_stats: %s", strerror(errno));
            if (st.chain_length != (size_t)snap_live())
                fail("uvm_snap_stats: chain of %zu, %d snapshots live",
                     st.chain_length, snap_live());
            if (st.pages_stored > SPAGES * st.chain_length)
                fail("uvm_snap_stats: %zu pages stored for %zu snapshots of "
                     "%d pages", st.pages_stored, st.chain_length, SPAGES);
            break;
        }
}

static void *snap_thread(void *arg)
{
    (void)arg;
    uint64_t rng = seed * 17 + 11;
    while (keep_going())
        snap_step(&rng);
    return NULL;
}

/* Round end, writers stopped: restore one snapshot, check the range and
 * every other snapshot, then write every page afresh. */
static void snap_round_end(uint64_t *rng)
{
    for (int i = 0; i < MAXSNAPS; i++)
        if (sref[i].h != NULL)
            snap_verify(i, "between rounds");
    if (snap_live() > 0) {
        int i;
        do
            i = (int)(rnd(rng) % MAXSNAPS);
        while (sref[i].h == NULL);
        if (uvm_snap_restore(sref[i].h) != 0)
            fail("uvm_snap_restore: %s", strerror(errno));
        if (memcmp(sarea, sref[i].ref, SPAGES * PS) != 0)
            fail("the range differs from the snapshot it was restored to");
        for (int j = 0; j < MAXSNAPS; j++)
            if (sref[j].h != NULL)
                snap_verify(j, "by uvm_snap_restore");
        BUMP(n_restores, 1);
    }
    for (size_t p = 0; p < SPAGES; p++)
        swrite_page(p, atomic_load(&sdone[p]) + 1);
}

/* ======================================================================
 * main
 * ====================================================================== */

static size_t expected_regions(void)
{
    size_t n = NFAULT;
    for (int i = 0; i < CREGS; i++)
        n += atomic_load(&cregs[i].state) == C_LIVE;
    n += snap_live() > 0;                         /* the chain's region */
    const char *m = uvm_dirty_method(dtrk);
    n += m != NULL && strcmp(m, "mprotect") == 0; /* the tracker's region */
    return n;
}

static size_t live_views(void)
{
    size_t n = 0;
    for (int i = 0; i < MAXSNAPS; i++)
        n += sref[i].h != NULL && sref[i].viewed;
    return n;
}

static void round_end(uint64_t *rng)
{
    /* DIRTY: everything written in the round is reported now */
    dirty_collect(rng);
    dirty_collect(rng);
    for (size_t p = 0; p < DPAGES; p++)
        if (atomic_load(&dpending[p]) != 0)
            fail("dirty: a write is still pending after the round");
    /* churn: unregistered regions' handlers never ran again */
    for (int i = 0; i < CREGS; i++) {
        struct creg *r = &cregs[i];
        if (atomic_load(&r->state) == C_FREE && r->frozen !=
            atomic_load(&r->by_churn) + atomic_load(&r->by_toucher))
            fail("the handler of an unregistered region ran again");
    }
    snap_round_end(rng);
    struct uvm_stats st;
    if (uvm_stats(&st) != 0)
        fail("uvm_stats: %s", strerror(errno));
    /* a view filled at fault time has a region of its own */
    if (st.regions < expected_regions() ||
        st.regions > expected_regions() + live_views())
        fail("uvm_stats counts %lu regions, %zu are registered (+ up to %zu "
             "for views)", st.regions, expected_regions(), live_views());
}

static void setup(void)
{
    for (int i = 0; i < NFAULT; i++) {
        freg[i].base = map_rw(FPAGES);
        freg[i].h = uvm_trap(freg[i].base, FPAGES * PS, fault_handler,
                             &freg[i]);
        if (freg[i].h == NULL)
            fail("uvm_trap: %s", strerror(errno));
    }
    carea = map_rw(CPAGES);
    darea = map_rw(DPAGES);
    dtrk = uvm_dirty_start(darea, DPAGES * PS, UVM_DIRTY_AUTO);
    if (dtrk == NULL)
        fail("uvm_dirty_start: %s", strerror(errno));
    snprintf(dmethod, sizeof dmethod, "%s", uvm_dirty_method(dtrk));
    /* odd seeds: uvm_alloc memory, whose snapshots have views; even
     * seeds: private anonymous memory */
    salloc = seed & 1;
    sarea = salloc ? uvm_alloc(SPAGES * PS, PROT_READ | PROT_WRITE)
                   : map_rw(SPAGES);
    if (sarea == NULL)
        fail("uvm_alloc: %s", strerror(errno));
    for (int i = 0; i < MAXSNAPS; i++)
        sref[i].ref = malloc(SPAGES * PS);
    memfd = memfd_create("stress-save", MFD_CLOEXEC);
    if (memfd < 0)
        fail("memfd_create: %s", strerror(errno));
}

static void teardown(void)
{
    for (int i = 0; i < MAXSNAPS; i++)
        if (sref[i].h != NULL && uvm_snap_release(sref[i].h) != 0)
            fail("uvm_snap_release: %s", strerror(errno));
    if (uvm_dirty_stop(dtrk) != 0)
        fail("uvm_dirty_stop: %s", strerror(errno));
    if (salloc && uvm_free(sarea, SPAGES * PS) != 0)
        fail("uvm_free: %s", strerror(errno));
    for (int i = 0; i < CREGS; i++)
        if (atomic_load(&cregs[i].state) == C_LIVE &&
            uvm_untrap(atomic_load(&cregs[i].h)) != 0)
            fail("uvm_untrap: %s", strerror(errno));
    for (int i = 0; i < NFAULT; i++)
        if (uvm_untrap(freg[i].h) != 0)
            fail("uvm_untrap: %s", strerror(errno));
    struct uvm_stats st;
    if (uvm_stats(&st) != 0 || st.regions != 0)
        fail("%lu regions left after everything was unregistered",
             st.regions);
}

int main(int argc, char **argv)
{
    access_known = strcmp(uvm_fault_layer(), "native") == 0;
    double seconds = 3;
    const char *e = getenv("UVM_STRESS_SECONDS");
    if (argc > 1)
        seconds = atof(argv[1]);
    else if (e != NULL)
        seconds = atof(e);
    e = getenv("UVM_STRESS_SEED");
    seed = argc > 2 ? strtoul(argv[2], NULL, 0)
           : e != NULL ? strtoul(e, NULL, 0)
                       : (unsigned long)time(NULL) ^ (unsigned long)getpid();
    if (seed == 0)
        seed = 1;
    PS = uvm_pagesize();
    if (PS != 4096) {
        printf("stress: written for 4 KiB pages, this machine has %zu: "
               "skipped\n", PS);
        return 77;
    }
    printf("stress: %.1f s, seed %lu (rerun: tests/stress %.1f %lu)\n",
           seconds, seed, seconds, seed);
    fflush(stdout);
    setup();

    pthread_barrier_init(&bar, NULL, NTHREADS + 1);
    pthread_t th[NTHREADS];
    int t = 0;
    atomic_store(&running, 0);     /* hold everyone at the first barrier */
    for (int i = 0; i < NFAULT; i++)
        pthread_create(&th[t++], NULL, fault_thread, &freg[i]);
    pthread_create(&th[t++], NULL, churn_thread, NULL);
    pthread_create(&th[t++], NULL, toucher_thread, NULL);
    pthread_create(&th[t++], NULL, dirty_writer, (void *)0);
    pthread_create(&th[t++], NULL, dirty_writer, (void *)1);
    pthread_create(&th[t++], NULL, dirty_collector, NULL);
    pthread_create(&th[t++], NULL, snap_writer, (void *)0);
    pthread_create(&th[t++], NULL, snap_writer, (void *)1);
    pthread_create(&th[t++], NULL, snap_thread, NULL);
    if (t != NTHREADS)
        fail("thread count");
    pthread_barrier_wait(&bar);    /* all started and parked */

    uint64_t rng = seed * 3 + 1;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rounds = 0;
    for (;;) {
        atomic_store(&running, 1);
        pthread_barrier_wait(&bar);                  /* go */
        struct timespec rt = { 0, ROUND_MS * 1000000L };
        nanosleep(&rt, NULL);
        atomic_store_explicit(&running, 0, memory_order_release);
        pthread_barrier_wait(&bar);                  /* all stopped */
        round_end(&rng);
        rounds++;
        atomic_store(&round_no, rounds);
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - t0.tv_sec) +
                    (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        if (el >= seconds) {
            atomic_store(&quitting, 1);
            pthread_barrier_wait(&bar);              /* release to quit */
            break;
        }
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    teardown();

    printf("stress: PASS, %d rounds\n"
           "  faults counted exactly:            %lu (%lu protection steps)\n"
           "  regions trapped/untrapped:         %lu/%lu, EEXIST %lu, "
           "unclaimed faults %lu\n"
           "  concurrent uvm_touch successes:    %lu\n"
           "  dirty writes / calls / checked:    %lu / %lu / %lu\n"
           "  snapshot page writes:              %lu\n"
           "  snapshots taken/released/restored: %lu/%lu/%lu, "
           "reads %lu, saves %lu, diffs %lu, views %lu\n",
           rounds, atomic_load(&n_faults), atomic_load(&n_steps),
           atomic_load(&n_traps), atomic_load(&n_untraps),
           atomic_load(&n_eexist), atomic_load(&n_notouch),
           atomic_load(&n_touches), atomic_load(&n_dirty_writes),
           atomic_load(&n_dirty_calls), atomic_load(&n_dirty_checked),
           atomic_load(&n_snap_writes), atomic_load(&n_snaps),
           atomic_load(&n_releases), atomic_load(&n_restores),
           atomic_load(&n_snap_reads), atomic_load(&n_snap_saves),
           atomic_load(&n_snap_diffs), atomic_load(&n_views));
    printf("  dirty method:                      %s\n", dmethod);
    printf("  snapshot area:                     %s\n",
           salloc ? "uvm_alloc (views)" : "private anonymous");
    return 0;
}
