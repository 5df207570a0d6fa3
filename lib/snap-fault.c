/*
 * snap-fault.c: the fault path of snapshots and the protection it changes.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the chain's write-protection, its "pmap": one userfaultfd in
 * synchronous write-protect mode with UFFD_FEATURE_SIGBUS (a write to a
 * protected page is a SIGBUS in the writing thread, no handler thread), or
 * uvm_protn/uvm_unprot where userfaultfd is unavailable; the lock-free
 * lookup of versions; and the region handler uvm__snap_fault.
 *
 * The fault (Mach's push-on-write): claim the page PROT -> BUSY, and, as a
 * grace-period reader, push its contents into a free slot if a live
 * snapshot needs them, write-enable it, journal it, LIVE.  Measured steps
 * (release build, 1 GiB, this VM): the SIGBUS delivery and sigreturn
 * ~2.5-3 us, the write-enabling UFFDIO_WRITEPROTECT ~1-1.5 us, the 4 KiB
 * copy ~0.4 us into a populated slot (+1.8 us into a fresh one, hence the
 * store's reserve), the bookkeeping six locked instructions.  DONTWAKE on
 * the ioctl measured no difference (no thread ever waits on this
 * descriptor) and is not used.
 *
 * Whole-range protection changes are shared by two threads when the range
 * is large: UFFDIO_WRITEPROTECT takes mmap_lock for reading and page-table
 * locks per table, so chunks proceed in parallel when a core is free (see
 * SNAP_PAR_MIN_PAGES for the numbers).
 *
 * Must never: allocate, lock or use stdio in the functions marked
 * UVM_AS_SAFE; let a write reach a PROT page before its contents are
 * stored; leave a page BUSY.
 */
#include "snap.h"
#include "compat.h"
#include "uffd.h"
#include "prot-backend.h"
#include "vma.h"

#include <linux/userfaultfd.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- lookup ---- */

UVM_AS_SAFE uint32_t uvm__snap_lookup(const struct snap_chain *c, size_t i,
                                      uint64_t g)
{
    uint32_t v = atomic_load_explicit(&c->head[i], memory_order_acquire);
    uint32_t best = SNAP_NONE;
    while (v != SNAP_NONE) {
        const struct snap_vmeta *m = snap_slot_meta(c, v - 1);
        if (m->a < g)
            break;
        best = v;
        v = atomic_load_explicit(&m->next, memory_order_acquire);
    }
    return best;
}

UVM_AS_SAFE int uvm__snap_live_needed(const struct snap_chain *c, size_t i,
                                      uint64_t newest)
{
    uint32_t h = atomic_load_explicit(&c->head[i], memory_order_acquire);
    return newest != 0 &&
           (h == SNAP_NONE || snap_slot_meta(c, h - 1)->a < newest);
}

UVM_AS_SAFE int uvm__snap_entry_lost(const struct snap_chain *c, size_t i,
                                     uint64_t e)
{
    if (c->uffd >= 0)
        return !(e & UVM_PAGEMAP_UFFD_WP);
    /* mprotect: a page that held contents is a hole now.  Shared memory
     * keeps its pages in the page cache whatever its mappings drop. */
    return !c->memobj && c->filled[i] &&
           !(e & (SNAP_PAGEMAP_PRESENT | SNAP_PAGEMAP_SWAP));
}

/* mprotect: is the mapping at a no longer the chain's (.lost)?  A PROT
 * page is read-only; unmapped, or writable (a mapping made over it, or
 * the program's own mprotect), its contents are not the snapshot's.  The
 * extent of what was looked at goes to *to.  AS-safe. */
UVM_AS_SAFE int uvm__snap_mapping_lost(uintptr_t a, uintptr_t *to)
{
    struct uvm__vma v;
    int e = errno;
    int rc = uvm__vma_query(a, &v);
    errno = e;
    if (rc == -ENOMEM || (rc == 0 && v.start > a)) {
        *to = rc == 0 ? v.start : a + snap_ps();
        return 1;                 /* unmapped */
    }
    if (rc < 0) {
        *to = a + snap_ps();
        return 0;                 /* cannot tell: assume it is intact */
    }
    *to = v.end;
    return (v.prot & PROT_WRITE) != 0;
}

/* Page i's pagemap entry into *e: 0, or -1 when pagemap cannot tell. */
UVM_AS_SAFE static int pagemap_entry(const struct snap_chain *c, size_t i,
                                     uint64_t *e)
{
    off_t at = (off_t)((c->start / snap_ps() + i) * sizeof *e);
    return c->pagemap >= 0 &&
           pread(c->pagemap, e, sizeof *e, at) == (ssize_t)sizeof *e ? 0 : -1;
}

UVM_AS_SAFE int uvm__snap_hole_lost(const struct snap_chain *c, size_t i)
{
    uint64_t e;
    return pagemap_entry(c, i, &e) == 0 &&   /* else assume it intact */
           uvm__snap_entry_lost(c, i, e);
}

UVM_AS_SAFE int uvm__snap_live_lost(const struct snap_chain *c, size_t i)
{
    uintptr_t to;
    if (c->uffd < 0 && uvm__snap_mapping_lost(c->start + i * snap_ps(), &to))
        return 1;
    return uvm__snap_hole_lost(c, i);
}

/* A page that held nothing when the first snapshot protected it and
 * whose mark has gone: that snapshot's page is zeros whatever happened
 * since (a write with the mark would have pushed a version first).  A
 * later snapshot's is zeros only if the page is a hole still: any write
 * since the mark went would have populated it.  (The zero page a read
 * maps cannot be told from a page written with zeros here: pagemap's
 * PAGE_IS_PFNZERO is not reported on every kernel, measured on 6.18:
 * a read of an empty anonymous page mapped a page of its own.) */
int uvm__snap_live_empty(const struct snap_chain *c, size_t i, uint64_t g)
{
    if (c->pagemap < 0 || c->filled[i])
        return 0;
    if (g == 1)                        /* the chain's first snapshot */
        return 1;
    uint64_t e;
    return pagemap_entry(c, i, &e) == 0 &&
           !(e & (SNAP_PAGEMAP_PRESENT | SNAP_PAGEMAP_SWAP));  /* a hole */
}

void uvm__snap_fill_note(struct snap_chain *c, int after)
{
    enum { CH = 512 };
    uint64_t e[CH];
    if (c->pagemap < 0)
        return;
    if (c->memobj) {                   /* shared: the page cache holds it */
        memset(c->filled, 1, c->npages);
        return;
    }
    for (size_t i = 0; i < c->npages; i += CH) {
        size_t n = c->npages - i < CH ? c->npages - i : CH;
        off_t at = (off_t)((c->start / snap_ps() + i) * sizeof e[0]);
        if (pread(c->pagemap, e, n * sizeof e[0], at) !=
            (ssize_t)(n * sizeof e[0])) {
            memset(c->filled + i, 1, n);          /* cannot tell: filled */
            continue;
        }
        /* after: a marker reads as swapped, only present counts */
        uint64_t has = after ? SNAP_PAGEMAP_PRESENT
                             : SNAP_PAGEMAP_PRESENT | SNAP_PAGEMAP_SWAP;
        for (size_t k = 0; k < n; k++)
            if (e[k] & has)
                c->filled[i + k] = 1;
    }
}

UVM_AS_SAFE void uvm__snap_push(struct snap_chain *c, size_t i, uint32_t s,
                                uint64_t a, int lost)
{
    /* Page i is claimed (BUSY) and still write-protected: the kernel
     * ordered the application's last write before the protection, and
     * holds its next one until the page is write-enabled after this. */
    snap_live_read(snap_slot_mem(c, s), (void *)(c->start + i * snap_ps()),
                   snap_ps());
    struct snap_vmeta *m = snap_slot_meta(c, s);
    m->a = a;
    m->page = (uint32_t)i;
    m->lost = (uint32_t)lost; /* before it is published (.lost) */
    uint32_t h = atomic_load(&c->head[i]);
    do
        atomic_store_explicit(&m->next, h, memory_order_relaxed);
    while (!atomic_compare_exchange_weak(&c->head[i], &h, s + 1));
}

/* ---- protection ---- */

UVM_AS_SAFE int uvm__snap_wp(const struct snap_chain *c, uintptr_t a,
                             size_t n, int on)
{
    if (c->uffd >= 0)
        return uvm__uffd_wp(c->uffd, a, n * snap_ps(), on);
    if (on)
        return uvm__prot_change(a, n, c->prot & ~PROT_WRITE, 0);
    for (size_t i = 0; i < n; i++) {
        int rc = uvm__prot_change(a + i * snap_ps(), 1, c->prot, 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* When a second thread is worth its start (~100 us).  The whole range:
 * the first snapshot of 1 GiB, 11 ms instead of 18-19 when the other core
 * is idle.  On a busy machine, halves split up front were no better than
 * one thread (17.1 ms both, medians of 11; fork() 17.5), and 16 MiB chunks
 * taken by whichever thread is free are: medians of 11, 18.2-19.3 ms
 * against 20.5-29.4 ms for one thread (fork() 17.2-21.9), three
 * alternating runs at load 1.5-7.  Scattered runs: re-protecting 2621
 * pages took 3.7-5.1 ms with two threads against 3.2 ms with one (three
 * alternating runs), so only far larger batches are shared. */
#ifndef SNAP_PAR_MIN_PAGES
#define SNAP_PAR_MIN_PAGES (64u << 10)  /* the whole range: 256 MiB */
#endif
#ifndef SNAP_PAR_MIN_RUNS
#define SNAP_PAR_MIN_RUNS  (64u << 10)  /* pages of scattered runs */
#endif

/* A protection change shared by two threads: pages pg[0..n) in runs, or
 * pages [0, n) of the range when pg is NULL, taken a chunk at a time, so
 * that a helper which gets no core leaves its share to the caller. */
#define WP_CHUNK 4096u                 /* pages or entries: 16 MiB, ~1 ms */

struct wp_job {
    const struct snap_chain *c;
    const uint32_t *pg;
    size_t n;
    int on;
    atomic_size_t next;                /* chunks taken */
    atomic_int rc;
};

static void wp_chunk(struct wp_job *j, size_t from, size_t to)
{
    const struct snap_chain *c = j->c;
    int rc = 0;
    if (j->pg == NULL)
        rc = uvm__snap_wp(c, c->start + from * snap_ps(), to - from, j->on);
    else if (c->uffd >= 0)
        rc = uvm__uffd_wp_pages(c->uffd, c->start, j->pg + from, to - from,
                                j->on);
    for (size_t k = from; j->pg != NULL && c->uffd < 0 && k < to && rc == 0;) {
        size_t e = k + 1;
        while (e < to && j->pg[e] == j->pg[e - 1] + 1)
            e++;
        rc = uvm__snap_wp(c, c->start + (size_t)j->pg[k] * snap_ps(),
                          e - k, j->on);
        k = e;
    }
    if (rc < 0)
        atomic_store(&j->rc, rc);
}

static void *wp_job_run(void *arg)
{
    struct wp_job *j = arg;
    for (;;) {
        size_t k = atomic_fetch_add(&j->next, 1) * WP_CHUNK;
        if (k >= j->n || atomic_load(&j->rc) < 0)
            return NULL;
        wp_chunk(j, k, k + WP_CHUNK < j->n ? k + WP_CHUNK : j->n);
    }
}

/* Start a helper thread with every signal blocked (it makes system calls
 * only, and must not take the program's signals). */
static int helper_start(pthread_t *t, struct wp_job *j)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(t, NULL, wp_job_run, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int uvm__snap_wp_pages(const struct snap_chain *c, const uint32_t *pg,
                       size_t n, int on)
{
    if (pg == NULL)
        n = c->npages;
    struct wp_job j = { .c = c, .pg = pg, .n = n, .on = on };
    if (c->uffd < 0 ||
        n < (pg == NULL ? SNAP_PAR_MIN_PAGES : SNAP_PAR_MIN_RUNS)) {
        wp_chunk(&j, 0, n);
        return atomic_load(&j.rc);
    }
    pthread_t t;
    int par = helper_start(&t, &j) == 0;
    wp_job_run(&j);
    if (par)
        pthread_join(t, NULL);
    return atomic_load(&j.rc);
}

/* A userfaultfd in synchronous WP mode whose faults are SIGBUS in the
 * writing thread, registered over the range. */
int uvm__snap_uffd_open(uintptr_t start, size_t len)
{
    if (uvm__env_backend() == UVM__BACKEND_MPROTECT)
        return -ENOTSUP;
    int fd = uvm__uffd_open(UFFD_FEATURE_SIGBUS |
                            UFFD_FEATURE_WP_UNPOPULATED);
    if (fd < 0)
        return -ENOTSUP;
    int rc = uvm__uffd_register(fd, start, len, UFFDIO_REGISTER_MODE_WP);
    if (rc < 0) {
        rc = rc == -EEXIST ? -EEXIST : -ENOTSUP;
        uvm__uffd_close(fd);
        return rc;
    }
    return fd;
}

/* ---- claims ---- */

int uvm__snap_claim(struct snap_chain *c, size_t i)
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

/* ---- the fault path ---- */

/* Could this fault come from our write-protection (rather than a read of
 * an unmapped page, say)? */
UVM_AS_SAFE static int snap_wp_fault(const struct snap_chain *c,
                                     const struct uvm_fault *f)
{
    /* Not ready: nothing is protected by this chain yet, and a write can
     * only be a late fault of an earlier chain's protection (a write
     * with either backend). */
    if (!atomic_load_explicit(&c->ready, memory_order_acquire))
        return f->access != UVM_ACCESS_READ;
    return c->uffd >= 0 ? f->signo == SIGBUS
                        : f->access != UVM_ACCESS_READ;
}

/* A write to a PROT page: push its contents (if a snapshot needs them),
 * write-enable it, journal it, LIVE. */
UVM_AS_SAFE int uvm__snap_fault(const struct uvm_fault *f)
{
    struct snap_chain *c = f->arg;
    size_t i = ((uintptr_t)f->page - c->start) / snap_ps();
    _Atomic unsigned char *st = &c->state[i];
    /* A fork child's mapping of a shared range the parent snapshotted:
     * read-only so that no write of the child's reaches the parent's
     * snapshot unpreserved (snap.c, .fork): the write is the child's
     * crash, not a silent corruption. */
    if (atomic_load_explicit(&c->orphan, memory_order_relaxed))
        return UVM_DECLINE;
    /* Not a write-protection fault (a read of a page the program
     * unmapped, say): not ours, whatever the page's state, and never a
     * wait on a claim that its own thread may hold. */
    if (atomic_load_explicit(&c->ready, memory_order_acquire) &&
        !snap_wp_fault(c, f))
        return UVM_DECLINE;
    unsigned char want = PG_PROT;
    if (!atomic_compare_exchange_strong(st, &want, PG_BUSY)) {
        /* LIVE: another thread pushed it while this fault was on its way
         * (retry), unless the fault cannot be a write-protect one. */
        if (want == PG_LIVE)
            return snap_wp_fault(c, f) ? UVM_RETRY : UVM_DECLINE;
        while (atomic_load(st) == PG_BUSY)
            sched_yield();          /* another thread pushes it, or a read */
        return UVM_RETRY;
    }
    unsigned ph = snap_read_enter(c);
    uint64_t newest = atomic_load(&c->newest);
    uint32_t slot1 = SNAP_NONE;
    if (uvm__snap_live_needed(c, i, newest)) {
        /* With userfaultfd a fault proves the mark (.lost); with mprotect
         * a write to a page the kernel dropped faults all the same, and
         * the copy would be zeros: look before the copy maps a page. */
        int lost = c->uffd < 0 && uvm__snap_hole_lost(c, i);
        uint32_t s = uvm__snap_slot_take(c);
        uvm__snap_push(c, i, s, newest, lost);
        slot1 = s + 1;
    }
    int rc = uvm__snap_wp(c, (uintptr_t)f->page, 1, 0);
    if (rc < 0 && rc != -ENOENT) {      /* ENOENT: the chain is going */
        /* The version (if any) is right for the live snapshots and the
         * page stays PROT; journal the version, not the page. */
        if (slot1 != SNAP_NONE)
            uvm__snap_journal_append(c, i | SNAP_JOURNAL_KEPT, slot1);
        atomic_store(st, PG_PROT);
        snap_read_exit(c, ph);
        return UVM_DECLINE;
    }
    /* LIVE before the journal says so: an entry point that drains the
     * journal finds only LIVE pages in it.  A take that misses the entry
     * (appended after its drain) was published before this fault read
     * newest, so the page is rightly LIVE in the new epoch. */
    atomic_store_explicit(st, PG_LIVE, memory_order_release);
    uvm__snap_journal_append(c, i, slot1);
    snap_read_exit(c, ph);
    return UVM_RETRY;
}
