/*
 * snap.c: copy-on-write snapshots, Mach's shadow objects in user space.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: snapshot handles (signature UVM_SIG_SNAP), chains (one per
 * snapshotted range), the page store of each chain, the chain's trap
 * region and its write-protection (one userfaultfd in synchronous WP mode
 * with UFFD_FEATURE_SIGBUS, or uvm_protv/uvm_unprot when userfaultfd is
 * unavailable), and errno for the uvm_snap_* entry points.
 *
 * Design (see also uvm_snapshot(3)).  The strategy is Mach's asymmetric
 * "copy object" (push-on-write, QEMU's background snapshot): the live range
 * stays where it is and is never remapped; the old contents of a page are
 * pushed into the store at its first write after a snapshot that needs
 * them.
 *
 *  .obj.chain   All snapshots of one range form a chain, oldest to newest,
 *               each with a generation number gen (strictly increasing).
 *  .obj.version A stored copy of one page: a slot of the store plus the
 *               gen it was attached to, a = the newest live gen when the
 *               copy was made.  The versions of page p form a list,
 *               newest first, whose head is the owner table entry head[p]
 *               (the flattened shadow chain of DragonFly/UVM's amap:
 *               there is no object chain to walk).
 *  .lookup      Snapshot S (gen g) sees for page p the version with the
 *               smallest a >= g; if none, the live page, which is then
 *               write-protected and unchanged since S.  A read walks only
 *               p's versions with a >= g, at most one per live snapshot.
 *  .state       Each page is PROT (live contents needed by a snapshot and
 *               not stored: write-protected), BUSY (claimed: being pushed,
 *               or read by uvm_snap_read/save, writers wait) or LIVE
 *               (contents stored or needed by nobody: writable).  Pages
 *               made LIVE are queued in a ring; taking a snapshot
 *               re-protects exactly the queued pages, so its cost and what
 *               later writes pay grow with the pages written since the
 *               previous snapshot, never with the range.
 *  .collapse    Releasing a snapshot, in any order, keeps a version only if
 *               some live snapshot still sees it (a live gen in
 *               (a of the next older kept version, a]) and frees the rest:
 *               the version a released snapshot shared with its neighbour
 *               folds into the neighbour (4.4BSD's vm_object_collapse,
 *               done per page).  Hence versions per page <= live
 *               snapshots (.inv.bound) and bytes held = distinct preserved
 *               pages.
 *  .fault       The handler (snap_fault, AS-safe) claims the page
 *               PROT->BUSY, takes a slot from a ring refilled under the
 *               chain mutex (no malloc), copies, pushes the version with a
 *               CAS on head[p], write-enables the page, queues it, LIVE.
 *
 * Invariants (UVM_ASSERT in debug builds, chain_check):
 *  .inv.sig     every live handle has sig UVM_SIG_SNAP and a live chain;
 *  .inv.order   versions of a page have non-increasing a, newest first;
 *  .inv.bound   versions of a page <= live snapshots, and each is seen by
 *               some live snapshot (after every release);
 *  .inv.count   pages_stored equals the versions reachable from head[];
 *  .inv.room    the fault ring holds at least npages free slots when
 *               an entry point returns (a page faults at most once before
 *               the next entry point can refill it).
 *
 * Concurrency: every entry point takes the chain's mutex; fault handlers
 * take nothing and touch only state[], head[] (CAS), the fault ring and
 * the LIVE queue (atomics).  Operations that change which gens are live
 * publish the newest live gen first and then wait for handlers in flight
 * (inflight) so that every later push sees it.
 *
 * Must never: remap or copy the whole live range; allocate, lock or use
 * stdio in snap_fault; let a write reach a PROT page before its contents
 * are stored.
 */
#include "uvm-int.h"
#include "memobj.h"
#include "vma.h"
#include "compat.h"
#include "uffd.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

enum { PG_PROT = 0, PG_BUSY = 1, PG_LIVE = 2 };

#define CHUNK_SHIFT 12                 /* 4096 slots (16 MiB) per chunk */
#define CHUNK_SLOTS (1u << CHUNK_SHIFT)
#define MAX_CHUNKS  (1u << 18)         /* 2^30 slots */
#define NONE        0u                 /* head[] and next: slot + 1 */

struct vmeta {
    uint64_t a;                /* gen attached to */
    uint32_t next;             /* older version, slot + 1, or NONE */
};

struct chain {
    pthread_mutex_t mu;
    uintptr_t start, end;              /* (c) */
    size_t npages;                     /* (c) */
    int prot;                          /* (c) protection of the range */
    int uffd;                          /* (c) -1: uvm_protv fallback */
    int memobj;                        /* (c) range is uvm_alloc memory */
    uvm_region *region;                /* (c) our trap over the range */
    struct chain *next;                /* (g) list of chains */
    _Atomic unsigned char *state;      /* (a) per page, PG_* */
    _Atomic uint32_t *head;            /* (a) per page: newest version */
    /* the store */
    char **chunk;                      /* (mu) page slots by chunk */
    struct vmeta **meta;               /* (mu) metadata by chunk */
    uint32_t nslots;                   /* (mu) slots ever created */
    uint32_t *freed;                   /* (mu) freed slots */
    size_t nfreed, capfreed;           /* (mu) */
    /* the fault ring: free slots for handlers */
    _Atomic uint32_t *fring;           /* (a) slot + 1, 0: empty */
    size_t fring_len;                  /* (c) */
    atomic_size_t fcons, fprod;        /* (a) consumed, produced */
    /* the LIVE queue: pages made writable since the last snapshot */
    _Atomic uint32_t *lq;              /* (a) page + 1, 0: not yet stored */
    atomic_size_t lq_tail;             /* (a) appended */
    size_t lq_head;                    /* (mu) consumed */
    /* snapshots */
    _Atomic uint64_t newest;           /* (a) newest live gen, 0: none */
    uint64_t gen;                      /* (mu) last gen given out */
    struct uvm_snap *oldest, *newest_s;/* (mu) the chain */
    size_t nsnaps;                     /* (mu) */
    atomic_int inflight;               /* (a) handlers running */
    /* counters */
    atomic_size_t stored, cow, collapses;
};

struct uvm_snap {
    _Atomic uint32_t sig;              /* (g)(a) UVM_SIG_SNAP while live */
    struct chain *c;                   /* (c) */
    uint64_t gen;                      /* (c) */
    struct uvm_snap *older, *newer;    /* (mu) */
    void *view;                        /* (mu) uvm_snap_view's mapping */
};

/* Chains and handles; handles come from never-freed chunks so that a
 * stale pointer can be checked without touching foreign memory. */
static pthread_mutex_t gmu = PTHREAD_MUTEX_INITIALIZER;
static struct chain *chains;           /* (gmu) */
#define HPOOL 64
struct hchunk { struct hchunk *next; struct uvm_snap s[HPOOL]; };
static struct hchunk *hchunks;         /* (gmu) */
static struct uvm_snap *hfree;         /* (gmu), linked through newer */

static size_t PS(void) { return uvm__page_size; }

static void *map_zero(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* ---- the store ---- */

UVM_AS_SAFE static char *slot_mem(const struct chain *c, uint32_t s)
{
    return c->chunk[s >> CHUNK_SHIFT] + (size_t)(s & (CHUNK_SLOTS - 1)) * PS();
}

UVM_AS_SAFE static struct vmeta *slot_meta(const struct chain *c, uint32_t s)
{
    return &c->meta[s >> CHUNK_SHIFT][s & (CHUNK_SLOTS - 1)];
}

/* A free slot, under mu: a freed one or a new one. */
static int slot_get(struct chain *c, uint32_t *out)
{
    if (c->nfreed > 0) {
        *out = c->freed[--c->nfreed];
        return 0;
    }
    uint32_t s = c->nslots, k = s >> CHUNK_SHIFT;
    if (k >= MAX_CHUNKS)
        return -ENOMEM;
    if (c->chunk[k] == NULL) {
        c->chunk[k] = map_zero((size_t)CHUNK_SLOTS * PS());
        c->meta[k] = map_zero(CHUNK_SLOTS * sizeof(struct vmeta));
        if (c->chunk[k] == NULL || c->meta[k] == NULL)
            return -ENOMEM;
    }
    c->nslots++;
    *out = s;
    return 0;
}

/* Give back a slot, under mu: its memory goes back to the kernel. */
static int slot_put(struct chain *c, uint32_t s)
{
    if (c->nfreed == c->capfreed) {
        size_t n = c->capfreed ? 2 * c->capfreed : 1024;
        uint32_t *f = realloc(c->freed, n * sizeof *f);
        if (f == NULL)
            return -ENOMEM;
        c->freed = f;
        c->capfreed = n;
    }
    madvise(slot_mem(c, s), PS(), MADV_DONTNEED);
    c->freed[c->nfreed++] = s;
    return 0;
}

/* Top the fault ring up to npages free slots (.inv.room), under mu. */
static int fring_fill(struct chain *c)
{
    size_t prod = atomic_load(&c->fprod);
    while (prod - atomic_load(&c->fcons) < c->npages) {
        uint32_t s;
        int rc = slot_get(c, &s);
        if (rc < 0)
            return rc;
        atomic_store_explicit(&c->fring[prod % c->fring_len], s + 1,
                              memory_order_relaxed);
        atomic_store_explicit(&c->fprod, ++prod, memory_order_release);
    }
    return 0;
}

/* ---- protection: the narrow "pmap" of this module ---- */

UVM_AS_SAFE static int wp_set(const struct chain *c, uintptr_t a, size_t n,
                              int on)
{
    if (c->uffd >= 0) {
        struct uffdio_writeprotect wp = {
            .range = { .start = a, .len = n * PS() },
            .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
        };
        return ioctl(c->uffd, UFFDIO_WRITEPROTECT, &wp) == 0 ? 0 : -errno;
    }
    if (on)
        return uvm_protn((void *)a, n, c->prot & ~PROT_WRITE) == 0 ? 0
                                                                  : -errno;
    for (size_t i = 0; i < n; i++)
        if (uvm_unprot((void *)(a + i * PS()), c->prot) != 0)
            return -errno;
    return 0;
}

/* A userfaultfd in synchronous WP mode whose faults are SIGBUS in the
 * writing thread, registered over the range.  -ENOTSUP: use mprotect. */
static int uffd_open_wp(uintptr_t start, size_t len)
{
    if (uvm__env_backend() == UVM__BACKEND_MPROTECT)
        return -ENOTSUP;
    int fd = uvm__uffd_open(UFFD_FEATURE_SIGBUS |
                            UFFD_FEATURE_WP_UNPOPULATED);
    if (fd < 0)
        return -ENOTSUP;
    struct uffdio_register reg = {
        .range = { .start = start, .len = len },
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    int rc = 0;
    if (ioctl(fd, UFFDIO_REGISTER, &reg) != 0)
        rc = errno == EBUSY ? -EEXIST : -ENOTSUP;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* ---- lookup ---- */

/* The version snapshot gen g sees for page i, slot + 1, or NONE (.lookup). */
static uint32_t lookup(const struct chain *c, size_t i, uint64_t g)
{
    uint32_t v = atomic_load_explicit(&c->head[i], memory_order_acquire);
    uint32_t best = NONE;
    while (v != NONE) {
        const struct vmeta *m = slot_meta(c, v - 1);
        if (m->a < g)
            break;
        best = v;
        v = m->next;
    }
    return best;
}

/* Is the live contents of page i needed by a live snapshot (and not
 * stored)?  AS-safe. */
UVM_AS_SAFE static int live_needed(const struct chain *c, size_t i,
                                   uint64_t newest)
{
    uint32_t h = atomic_load_explicit(&c->head[i], memory_order_acquire);
    return newest != 0 && (h == NONE || slot_meta(c, h - 1)->a < newest);
}

/* Push a version holding the current contents of page i into slot s. */
UVM_AS_SAFE static void push_version(struct chain *c, size_t i, uint32_t s,
                                     uint64_t a)
{
    memcpy(slot_mem(c, s), (void *)(c->start + i * PS()), PS());
    struct vmeta *m = slot_meta(c, s);
    m->a = a;
    uint32_t h = atomic_load(&c->head[i]);
    do
        m->next = h;
    while (!atomic_compare_exchange_weak(&c->head[i], &h, s + 1));
    atomic_fetch_add_explicit(&c->stored, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->cow, 1, memory_order_relaxed);
}

UVM_AS_SAFE static void lq_append(struct chain *c, size_t i)
{
    size_t t = atomic_fetch_add(&c->lq_tail, 1);
    atomic_store_explicit(&c->lq[t % c->npages], (uint32_t)i + 1,
                          memory_order_release);
}

/* ---- the fault path ---- */

/* A write to a PROT page: push its contents (if a snapshot needs them),
 * write-enable it, queue it, LIVE. */
UVM_AS_SAFE static int snap_fault(const struct uvm_fault *f)
{
    struct chain *c = f->arg;
    size_t i = ((uintptr_t)f->page - c->start) / PS();
    _Atomic unsigned char *st = &c->state[i];
    atomic_fetch_add(&c->inflight, 1);
    unsigned char want = PG_PROT;
    if (!atomic_compare_exchange_strong(st, &want, PG_BUSY)) {
        atomic_fetch_sub(&c->inflight, 1);
        /* LIVE: another thread pushed it while this fault was on its way
         * (retry), unless the fault cannot be a write-protect one. */
        if (want == PG_LIVE)
            return (c->uffd >= 0 ? f->signo == SIGBUS
                                 : f->access != UVM_ACCESS_READ)
                       ? UVM_RETRY
                       : UVM_DECLINE;
        while (atomic_load(st) == PG_BUSY)
            sched_yield();          /* another thread pushes it, or a read */
        return UVM_RETRY;
    }
    uint64_t newest = atomic_load(&c->newest);
    if (live_needed(c, i, newest)) {
        size_t k = atomic_fetch_add(&c->fcons, 1);
        UVM_ASSERT(k < atomic_load(&c->fprod));          /* .inv.room */
        uint32_t s = atomic_load_explicit(&c->fring[k % c->fring_len],
                                          memory_order_acquire);
        UVM_ASSERT(s != 0);
        push_version(c, i, s - 1, newest);
    }
    int rc = wp_set(c, (uintptr_t)f->page, 1, 0);
    if (rc < 0) {
        atomic_store(st, PG_PROT);
        atomic_fetch_sub(&c->inflight, 1);
        return UVM_DECLINE;
    }
    lq_append(c, i);
    atomic_store(st, PG_LIVE);
    atomic_fetch_sub(&c->inflight, 1);
    return UVM_RETRY;
}

/* Publish a new newest live gen, then wait out the handlers that may have
 * read the old one. */
static void publish_newest(struct chain *c, uint64_t g)
{
    atomic_store(&c->newest, g);
    while (atomic_load(&c->inflight) != 0)
        sched_yield();
}

/* Claim a PROT page for reading it live (writers wait); under mu.
 * Returns 1 if claimed (then the caller must unclaim), 0 if the page is
 * not PROT (then a version serves the caller). */
static int claim(struct chain *c, size_t i)
{
    for (;;) {
        unsigned char want = PG_PROT;
        if (atomic_compare_exchange_strong(&c->state[i], &want, PG_BUSY))
            return 1;
        if (want == PG_LIVE)
            return 0;
        sched_yield();
    }
}

static void unclaim(struct chain *c, size_t i)
{
    atomic_store(&c->state[i], PG_PROT);
}

/* ---- checks (debug builds) ---- */

#ifdef UVM_DEBUG
static size_t live_gens_in(const struct chain *c, uint64_t lo, uint64_t hi)
{
    size_t n = 0;
    for (const struct uvm_snap *s = c->oldest; s != NULL; s = s->newer)
        n += s->gen > lo && s->gen <= hi;
    return n;
}

static void chain_check(const struct chain *c, int strict)
{
    size_t total = 0;
    for (size_t i = 0; i < c->npages; i++) {
        size_t n = 0;
        uint64_t prev = UINT64_MAX;
        for (uint32_t v = atomic_load(&c->head[i]); v != NONE;) {
            const struct vmeta *m = slot_meta(c, v - 1);
            UVM_ASSERT(m->a <= prev);                     /* .inv.order */
            prev = m->a;
            n++;
            uint32_t nx = m->next;
            uint64_t lo = nx != NONE ? slot_meta(c, nx - 1)->a : 0;
            if (strict)
                UVM_ASSERT(live_gens_in(c, lo, m->a) > 0); /* .inv.bound */
            v = nx;
        }
        UVM_ASSERT(n <= c->nsnaps + !strict);             /* .inv.bound */
        total += n;
    }
    UVM_ASSERT(total == atomic_load(&c->stored));         /* .inv.count */
    UVM_ASSERT(atomic_load(&c->fprod) - atomic_load(&c->fcons) >=
               c->npages);                                /* .inv.room */
}
#define CHAIN_CHECK(c, strict) chain_check(c, strict)
#else
#define CHAIN_CHECK(c, strict) ((void)0)
#endif

/* ---- handles ---- */

static struct uvm_snap *handle_new(void)
{
    if (hfree == NULL) {
        struct hchunk *h = calloc(1, sizeof *h);
        if (h == NULL)
            return NULL;
        for (int i = HPOOL - 1; i >= 0; i--) {
            h->s[i].newer = hfree;
            hfree = &h->s[i];
        }
        h->next = hchunks;
        hchunks = h;
    }
    struct uvm_snap *s = hfree;
    hfree = s->newer;
    memset((void *)s, 0, sizeof *s);
    return s;
}

/* s is one of our handles and live; under gmu. */
static int handle_ok(const uvm_snap *s)
{
    if (s == NULL)
        return 0;
    for (const struct hchunk *h = hchunks; h != NULL; h = h->next)
        if (s >= h->s && s < h->s + HPOOL)
            return atomic_load(&s->sig) == UVM_SIG_SNAP;
    return 0;
}

/* Validate s and lock its chain.  0 or -EINVAL. */
static int snap_enter(const uvm_snap *s, struct chain **out)
{
    pthread_mutex_lock(&gmu);
    if (!handle_ok(s)) {
        pthread_mutex_unlock(&gmu);
        return -EINVAL;
    }
    struct chain *c = s->c;
    pthread_mutex_lock(&c->mu);
    pthread_mutex_unlock(&gmu);
    UVM_ASSERT(c->nsnaps > 0);                            /* .inv.sig */
    *out = c;
    return 0;
}

/* ---- chains ---- */

static void chain_free(struct chain *c)
{
    if (c->chunk != NULL)
        for (size_t k = 0; k < MAX_CHUNKS && c->chunk[k] != NULL; k++) {
            munmap(c->chunk[k], (size_t)CHUNK_SLOTS * PS());
            if (c->meta[k] != NULL)
                munmap(c->meta[k], CHUNK_SLOTS * sizeof(struct vmeta));
        }
    if (c->chunk) munmap(c->chunk, MAX_CHUNKS * sizeof *c->chunk);
    if (c->meta) munmap(c->meta, MAX_CHUNKS * sizeof *c->meta);
    if (c->state) munmap((void *)c->state, c->npages);
    if (c->head) munmap((void *)c->head, c->npages * sizeof *c->head);
    if (c->lq) munmap((void *)c->lq, c->npages * sizeof *c->lq);
    if (c->fring) munmap((void *)c->fring, c->fring_len * sizeof *c->fring);
    free(c->freed);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* The range must be mapped, with one protection, and be private anonymous
 * memory or uvm_alloc memory (we cannot tell private anonymous from other
 * private mappings cheaply; the kernel refuses WP on what it cannot
 * protect). */
static int range_check(uintptr_t start, uintptr_t end, int *prot)
{
    struct uvm__vma v;
    *prot = -1;
    for (uintptr_t a = start; a < end; a = v.end) {
        int rc = uvm__vma_query(a, &v);
        if (rc < 0)
            return rc == -ENOMEM ? -ENOMEM : rc;
        if (v.start > a)
            return -ENOMEM;
        if (*prot >= 0 && v.prot != *prot)
            return -EINVAL;
        *prot = v.prot;
    }
    return (*prot & PROT_WRITE) && (*prot & PROT_READ) ? 0 : -EACCES;
}

static int chain_new(uintptr_t start, uintptr_t end, struct chain **out)
{
    int prot, rc = range_check(start, end, &prot);
    if (rc < 0)
        return rc;
    struct chain *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    c->start = start;
    c->end = end;
    c->npages = (end - start) / PS();
    c->prot = prot;
    c->uffd = -1;
    struct uvm__view view;
    c->memobj = uvm__memobj_lookup(start, &view) == 0 && view.end >= end;
    c->fring_len = 2 * c->npages + 1024;
    c->state = map_zero(c->npages);                 /* all PG_PROT */
    c->head = map_zero(c->npages * sizeof *c->head);
    c->lq = map_zero(c->npages * sizeof *c->lq);
    c->fring = map_zero(c->fring_len * sizeof *c->fring);
    c->chunk = map_zero(MAX_CHUNKS * sizeof *c->chunk);
    c->meta = map_zero(MAX_CHUNKS * sizeof *c->meta);
    if (!c->state || !c->head || !c->lq || !c->fring || !c->chunk ||
        !c->meta || fring_fill(c) < 0) {
        chain_free(c);
        return -ENOMEM;
    }
    c->region = uvm_trap((void *)start, end - start, snap_fault, c);
    if (c->region == NULL) {
        rc = -errno;
        chain_free(c);
        return rc;
    }
    c->gen = 1;                    /* the first snapshot's, seen by pushes */
    atomic_store(&c->newest, 1);
    int fd = uffd_open_wp(start, end - start);
    if (fd >= 0)
        c->uffd = fd;
    rc = fd == -EEXIST ? fd : 0;
    if (rc == 0)
        rc = wp_set(c, start, c->npages, 1);      /* the only whole-range WP */
    if (rc < 0) {
        if (c->uffd >= 0)
            close(c->uffd);
        else if (fd != -EEXIST)
            uvm_protn((void *)start, c->npages, prot);
        uvm_untrap(c->region);
        chain_free(c);
        return rc == -EBUSY ? -EEXIST : rc;
    }
    *out = c;
    return 0;
}

/* Take the chain down: write-enable everything, then untrap (which waits
 * for handlers in flight), then close. */
static void chain_destroy(struct chain *c)
{
    wp_set(c, c->start, c->npages, 0);
    if (c->uffd < 0)
        uvm_protn((void *)c->start, c->npages, c->prot);
    uvm_untrap(c->region);
    if (c->uffd >= 0)
        close(c->uffd);
    chain_free(c);
}

/* ---- taking a snapshot ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Re-protect the pages queued LIVE since the previous snapshot, in runs
 * (Appel & Li's PROTN batching).  Under mu, after the new gen is
 * published. */
static int reprotect_queued(struct chain *c)
{
    size_t tail = atomic_load(&c->lq_tail), n = tail - c->lq_head;
    if (n == 0)
        return 0;
    uint32_t *pg = malloc(n * sizeof *pg);
    if (pg == NULL)
        return -ENOMEM;
    for (size_t k = 0; k < n; k++) {
        _Atomic uint32_t *e = &c->lq[(c->lq_head + k) % c->npages];
        uint32_t v;
        while ((v = atomic_load_explicit(e, memory_order_acquire)) == 0)
            sched_yield();
        atomic_store_explicit(e, 0, memory_order_relaxed);
        pg[k] = v - 1;
        UVM_ASSERT(atomic_load(&c->state[pg[k]]) == PG_LIVE);
        atomic_store(&c->state[pg[k]], PG_PROT);
    }
    c->lq_head = tail;
    qsort(pg, n, sizeof *pg, cmp_u32);
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0;) {
        size_t j = k + 1;
        while (j < n && pg[j] == pg[j - 1] + 1)
            j++;
        rc = wp_set(c, c->start + (size_t)pg[k] * PS(), j - k, 1);
        k = j;
    }
    free(pg);
    return rc;
}

static void link_newest(struct chain *c, struct uvm_snap *s)
{
    s->older = c->newest_s;
    if (c->newest_s != NULL)
        c->newest_s->newer = s;
    else
        c->oldest = s;
    c->newest_s = s;
    c->nsnaps++;
}

uvm_snap *uvm_snapshot(void *addr, size_t len)
{
    uvm__init();
    if (addr == NULL || !uvm__aligned(addr) || len == 0 ||
        (len & uvm__page_mask) != 0 || (uintptr_t)addr + len < len ||
        len / uvm__page_size > UINT32_MAX - 1) {
        uvm__fail(-EINVAL);
        return NULL;
    }
    uintptr_t start = (uintptr_t)addr, end = start + len;
    pthread_mutex_lock(&gmu);
    struct chain *c = NULL;
    int rc = 0;
    for (struct chain *x = chains; x != NULL; x = x->next) {
        if (x->start == start && x->end == end)
            c = x;                             /* join its chain */
        else if (x->start < end && start < x->end)
            rc = -EEXIST;
    }
    struct uvm_snap *s = rc == 0 ? handle_new() : NULL;
    if (rc == 0 && s == NULL)
        rc = -ENOMEM;
    int fresh = 0;
    if (rc == 0 && c == NULL) {
        rc = chain_new(start, end, &c);
        fresh = rc == 0;
    }
    if (rc < 0) {
        if (s != NULL) {
            s->newer = hfree;
            hfree = s;
        }
        pthread_mutex_unlock(&gmu);
        uvm__fail(rc);
        return NULL;
    }
    pthread_mutex_lock(&c->mu);
    s->c = c;
    s->gen = fresh ? c->gen : ++c->gen;
    if (!fresh) {
        publish_newest(c, s->gen);
        rc = reprotect_queued(c);
        if (rc == 0)
            rc = fring_fill(c);
    }
    /* On failure the pages stay PROT: extra faults, never a lost page. */
    link_newest(c, s);
    if (fresh) {
        c->next = chains;
        chains = c;
    }
    atomic_store(&s->sig, UVM_SIG_SNAP);
    CHAIN_CHECK(c, 0);
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&gmu);
    if (rc < 0) {
        uvm_snap_release(s);
        uvm__fail(rc);
        return NULL;
    }
    return s;
}

/* ---- reading ---- */

/* Copy page i as snapshot gen g sees it into dst; under mu. */
static void read_page(struct chain *c, size_t i, uint64_t g, void *dst,
                      size_t off, size_t n)
{
    for (;;) {
        uint32_t v = lookup(c, i, g);
        if (v != NONE) {
            memcpy(dst, slot_mem(c, v - 1) + off, n);
            return;
        }
        if (claim(c, i)) {
            v = lookup(c, i, g);
            if (v == NONE)
                memcpy(dst, (char *)(c->start + i * PS()) + off, n);
            else
                memcpy(dst, slot_mem(c, v - 1) + off, n);
            unclaim(c, i);
            return;
        }
        /* LIVE with no version for g cannot happen: retry the lookup */
        UVM_ASSERT(lookup(c, i, g) != NONE);
    }
}

int uvm_snap_read(const uvm_snap *s, size_t off, void *buf, size_t len)
{
    struct chain *c;
    int rc = snap_enter(s, &c);
    if (rc < 0)
        return uvm__fail(rc);
    size_t size = c->end - c->start;
    if ((buf == NULL && len > 0) || off > size || len > size - off) {
        pthread_mutex_unlock(&c->mu);
        return uvm__fail(-EINVAL);
    }
    char *out = buf;
    while (len > 0) {
        size_t i = off / PS(), po = off % PS(), n = PS() - po;
        if (n > len)
            n = len;
        read_page(c, i, s->gen, out, po, n);
        out += n;
        off += n;
        len -= n;
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

ssize_t uvm_snap_diff(const uvm_snap *s, void **pages, size_t max)
{
    struct chain *c;
    if (pages == NULL && max > 0)
        return uvm__fail(-EINVAL);
    int rc = snap_enter(s, &c);
    if (rc < 0)
        return uvm__fail(rc);
    size_t n = 0;
    for (size_t i = 0; i < c->npages && n < max; i++) {
        uint32_t v = lookup(c, i, s->gen);
        char *live = (char *)(c->start + i * PS());
        if (v != NONE && memcmp(slot_mem(c, v - 1), live, PS()) != 0)
            pages[n++] = live;
    }
    pthread_mutex_unlock(&c->mu);
    return (ssize_t)n;
}

/* ---- restore ---- */

/* Make page i hold the contents of version v; under mu.  A PROT page is
 * first pushed, as a fault would, if a snapshot needs it. */
static int restore_page(struct chain *c, size_t i, uint32_t v)
{
    char *live = (char *)(c->start + i * PS());
    if (claim(c, i)) {
        if (live_needed(c, i, atomic_load(&c->newest))) {
            uint32_t s;
            int rc = slot_get(c, &s);
            if (rc < 0) {
                unclaim(c, i);
                return rc;
            }
            push_version(c, i, s, atomic_load(&c->newest));
        }
        int rc = wp_set(c, (uintptr_t)live, 1, 0);
        if (rc < 0) {
            unclaim(c, i);
            return rc;
        }
        memcpy(live, slot_mem(c, v - 1), PS());
        lq_append(c, i);
        atomic_store(&c->state[i], PG_LIVE);
        return 0;
    }
    if (memcmp(live, slot_mem(c, v - 1), PS()) != 0)
        memcpy(live, slot_mem(c, v - 1), PS());
    return 0;
}

int uvm_snap_restore(uvm_snap *s)
{
    struct chain *c;
    int rc = snap_enter(s, &c);
    if (rc < 0)
        return uvm__fail(rc);
    for (size_t i = 0; i < c->npages && rc == 0; i++) {
        uint32_t v = lookup(c, i, s->gen);
        if (v != NONE)
            rc = restore_page(c, i, v);
    }
    if (rc == 0)
        rc = fring_fill(c);
    CHAIN_CHECK(c, 1);
    pthread_mutex_unlock(&c->mu);
    return rc < 0 ? uvm__fail(rc) : 0;
}

/* ---- saving: Li, Naughton and Plank's concurrent checkpoint ---- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

#define SAVE_PAGES 256                 /* 1 MiB writes */

int uvm_snap_save(const uvm_snap *s, int fd)
{
    struct chain *c;
    if (fd < 0)
        return uvm__fail(-EBADF);
    int rc = snap_enter(s, &c);
    if (rc < 0)
        return uvm__fail(rc);
    char *buf = malloc(SAVE_PAGES * PS());
    if (buf == NULL)
        rc = -ENOMEM;
    for (size_t i = 0; i < c->npages && rc == 0; i += SAVE_PAGES) {
        size_t n = c->npages - i < SAVE_PAGES ? c->npages - i : SAVE_PAGES;
        for (size_t k = 0; k < n; k++)
            read_page(c, i + k, s->gen, buf + k * PS(), 0, PS());
        rc = write_all(fd, buf, n * PS());
    }
    free(buf);
    pthread_mutex_unlock(&c->mu);
    return rc < 0 ? uvm__fail(rc) : 0;
}

/* ---- view ---- */

/* A private read-only copy of the snapshot, made once: one mapping,
 * whatever the store looks like (no mosaic of per-page mappings). */
const void *uvm_snap_view(uvm_snap *s)
{
    struct chain *c;
    int rc = snap_enter(s, &c);
    if (rc < 0) {
        uvm__fail(rc);
        return NULL;
    }
    void *v = s->view;
    if (v == NULL && !c->memobj)
        rc = -ENOTSUP;
    if (v == NULL && rc == 0) {
        v = mmap(NULL, c->end - c->start, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (v == MAP_FAILED) {
            v = NULL;
            rc = -ENOMEM;
        } else {
            for (size_t i = 0; i < c->npages; i++)
                read_page(c, i, s->gen, (char *)v + i * PS(), 0, PS());
            mprotect(v, c->end - c->start, PROT_READ);
            ((uvm_snap *)s)->view = v;
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (rc < 0)
        uvm__fail(rc);
    return v;
}

/* ---- release and collapse ---- */

static int gen_live(const struct chain *c, uint64_t lo, uint64_t hi)
{
    for (const struct uvm_snap *s = c->oldest; s != NULL; s = s->newer)
        if (s->gen > lo && s->gen <= hi)
            return 1;
    return 0;
}

/* Keep the versions of page i some live snapshot sees, oldest first; free
 * the rest (.collapse).  Handlers may push at the head meanwhile; they
 * never touch an older version's next. */
static int collapse_page(struct chain *c, size_t i, uint32_t **tmpp,
                         size_t *cap)
{
    size_t n = 0;
    for (uint32_t v = atomic_load(&c->head[i]); v != NONE;
         v = slot_meta(c, v - 1)->next) {
        if (n == *cap) {
            uint32_t *t = realloc(*tmpp, 2 * *cap * sizeof *t);
            if (t == NULL)
                return -ENOMEM;
            *tmpp = t;
            *cap *= 2;
        }
        (*tmpp)[n++] = v;
    }
    uint32_t *tmp = *tmpp;
    uint64_t lo = 0;
    uint32_t keep_older = NONE;   /* newest kept version seen so far */
    for (size_t k = n; k-- > 0;) {
        uint32_t v = tmp[k];
        struct vmeta *m = slot_meta(c, v - 1);
        if (gen_live(c, lo, m->a)) {
            m->next = keep_older;
            keep_older = v;
            lo = m->a;
            continue;
        }
        atomic_fetch_sub(&c->stored, 1);
        int rc = slot_put(c, v - 1);
        if (rc < 0)
            return rc;
    }
    /* Re-point the head, or the newest version pushed meanwhile. */
    uint32_t h = tmp[0];
    if (!atomic_compare_exchange_strong(&c->head[i], &h, keep_older)) {
        uint32_t v = h;
        while (slot_meta(c, v - 1)->next != tmp[0])
            v = slot_meta(c, v - 1)->next;
        slot_meta(c, v - 1)->next = keep_older;
    }
    return 0;
}

int uvm_snap_release(uvm_snap *s)
{
    pthread_mutex_lock(&gmu);
    if (!handle_ok(s)) {
        pthread_mutex_unlock(&gmu);
        return uvm__fail(-EINVAL);
    }
    struct chain *c = s->c;
    pthread_mutex_lock(&c->mu);
    atomic_store(&s->sig, UVM_SIG_DEAD);
    if (s->older) s->older->newer = s->newer; else c->oldest = s->newer;
    if (s->newer) s->newer->older = s->older; else c->newest_s = s->older;
    c->nsnaps--;
    if (s->view != NULL)
        munmap(s->view, c->end - c->start);
    s->newer = hfree;
    hfree = s;
    int rc = 0;
    if (c->nsnaps == 0) {
        struct chain **pp = &chains;
        while (*pp != c)
            pp = &(*pp)->next;
        *pp = c->next;
        pthread_mutex_unlock(&c->mu);
        pthread_mutex_unlock(&gmu);
        chain_destroy(c);
        return 0;
    }
    pthread_mutex_unlock(&gmu);
    publish_newest(c, c->newest_s->gen);
    size_t cap = c->nsnaps + 8;
    uint32_t *tmp = malloc(cap * sizeof *tmp);
    if (tmp == NULL)
        rc = -ENOMEM;
    for (size_t i = 0; i < c->npages && rc == 0; i++)
        if (atomic_load(&c->head[i]) != NONE)
            rc = collapse_page(c, i, &tmp, &cap);
    free(tmp);
    if (rc == 0)
        rc = fring_fill(c);
    atomic_fetch_add(&c->collapses, 1);
    CHAIN_CHECK(c, rc == 0);
    pthread_mutex_unlock(&c->mu);
    return rc < 0 ? uvm__fail(rc) : 0;
}

int uvm_snap_stats(const uvm_snap *s, struct uvm_snap_stats *st)
{
    struct chain *c;
    if (st == NULL)
        return uvm__fail(-EINVAL);
    int rc = snap_enter(s, &c);
    if (rc < 0)
        return uvm__fail(rc);
    memset(st, 0, sizeof *st);
    st->pages_stored = atomic_load(&c->stored);
    st->chain_length = c->nsnaps;
    st->bytes_held = st->pages_stored * PS();
    st->cow_copies = atomic_load(&c->cow);
    st->collapses = atomic_load(&c->collapses);
    pthread_mutex_unlock(&c->mu);
    return 0;
}
