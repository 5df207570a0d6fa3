/*
 * snap-redo.c: tracked-base (redo) snapshots, the opt-in second design of
 * the snapshot module (uvm_snapshot2 with UVM_SNAP_TRACKED).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: a tracked chain's base (which slot holds each page's newest
 * copy), its DIRTY tracker, and the tracked variants of taking, restore
 * and diff.  Handles, buckets, lookup, collapse, read and save are
 * snap.c's and the store snap-store.c's, shared with the undo design.
 *
 * Design.  The undo design (snap.c) copies a page when it is first written
 * after a snapshot that needs it, in a synchronous fault; the live range
 * is what a snapshot sees of a page with no version.  Here the roles turn
 * round, as in a redo log: the first snapshot copies the whole range into
 * the base, writes are resolved by the kernel (the DIRTY module's
 * userfaultfd WP_ASYNC tracker, or its mprotect method where that is
 * refused), and the next entry point finds the pages written with one
 * PAGEMAP_SCAN and copies them.  What a snapshot sees of a page with no
 * version is the base.
 *
 *  .base      The base is made of store slots, one per page, base[p]
 *             naming the slot with p's newest copy.  The first snapshot's
 *             slots are the store's first npages, one contiguous memcpy.
 *  .sync      Bringing page p up to date copies it into a slot that
 *             becomes base[p]; the old base slot, if a live snapshot sees
 *             it, is linked unchanged at the head of p's versions, tagged
 *             with the newest live gen, exactly as the undo design's
 *             fault would have pushed it; if nobody sees it, the copy goes
 *             into it instead.  Either way one page copy per written page:
 *             a contiguous base would need two (the old base into the
 *             store, then the live page into the base).  The old base is
 *             seen iff p's newest version is tagged below the newest live
 *             gen (or p has none): the snapshots after that tag up to the
 *             newest read the base.  So the tags mean what they mean in
 *             snap.c, and lookup, buckets, collapse and their invariants
 *             carry over unchanged.
 *  .take      A take is a sync followed by the new gen: pages written
 *             since the previous snapshot, times (one copy), plus one
 *             scan; the write faults were the kernel's.
 *  .restore   Restore to S: (1) the written pages D, without re-arming
 *             them; (2) those S reads from the base get the base back,
 *             while still writable: no fault; (3) one scan re-arms the
 *             range, and every page it reports that is not one of (2)
 *             left equal to the base is synced, so that a write racing
 *             the restore is never lost to the next snapshot; (4) the
 *             pages with a version S sees get it, and their faults mark
 *             them for the next sync.  Cost: pages written plus pages
 *             with versions, never the range.
 *  .race      Writers are not stopped: a page written while it is copied
 *             may be copied with part of the write (the next sync copies
 *             it again, as it is marked written after its re-arming).
 *             uvm_snapshot(3) states that guarantee.
 *
 * Invariants: .inv.base every page has a base slot, which is in no bucket
 * and on no free list; a page the tracker does not report as written
 * equals its base, but for writes in flight.  The rest are snap.c's.
 *
 * Must never: re-arm a page without copying it or knowing it equals its
 * base; copy a page twice in one sync; walk the range but in the first
 * copy and the kernel's scan.
 */
#include "snap.h"
#include "region.h"
#include "thread.h"

#include <string.h>
#include <sys/mman.h>

#define PS() snap_ps()

/* A fault on the range of a userfaultfd-tracked chain: never ours (the
 * kernel resolves write-protection faults itself).  The region is there
 * so that the range cannot be trapped twice, as an undo chain's. */
UVM_AS_SAFE static int redo_decline(const struct uvm_fault *f)
{
    (void)f;
    return UVM_DECLINE;
}

/* Enough runs for any set of pages of the range: every other page. */
static size_t runs_cap(const struct snap_chain *c)
{
    return c->npages / 2 + 1;
}

int uvm__snap_redo_start(struct snap_chain *c)
{
    c->base = uvm__snap_map_zero(c->npages * sizeof *c->base);
    c->runs = uvm__snap_map_zero(runs_cap(c) * sizeof *c->runs);
    if (c->base == NULL || c->runs == NULL)
        return -ENOMEM;
    /* Tracking first, copy second: a write during the copy is reported
     * at the next sync (.race). */
    int rc = uvm__dirty_attach(&c->trk, c->start, c->end);
    if (rc < 0)
        return rc == -EBUSY ? -EEXIST : rc;
    if (c->trk.ops == &uvm__dirty_uffd) {
        c->region = uvm__trap((void *)c->start, c->end - c->start,
                              redo_decline, c, UVM__REGION_NO_UFFD);
        if (c->region == NULL) {
            rc = -errno;
            uvm__dirty_detach(&c->trk);
            return rc;
        }
    }
    /* .base: the first npages slots, contiguous (one mapping). */
    snap_live_read(snap_slot_mem(c, 0), (const void *)c->start,
                   c->end - c->start);
    atomic_store(&c->store.fresh, (uint32_t)c->npages);
    for (size_t i = 0; i < c->npages; i++)
        c->base[i] = (uint32_t)i + 1;
    return uvm__snap_store_room(c);
}

int uvm__snap_redo_attached(const struct snap_chain *c)
{
    return c->tracked && atomic_load(&c->trk.sig) == UVM_SIG_TRACKER;
}

void uvm__snap_redo_stop(struct snap_chain *c)
{
    if (!c->tracked)
        return;
    if (c->region != NULL)
        uvm__untrap(c->region);
    c->region = NULL;
    if (uvm__snap_redo_attached(c))
        uvm__dirty_detach(&c->trk);
    if (c->base) munmap(c->base, c->npages * sizeof *c->base);
    if (c->runs) munmap(c->runs, runs_cap(c) * sizeof *c->runs);
    c->base = NULL;
    c->runs = NULL;
}

uint32_t uvm__snap_redo_slot(const struct snap_chain *c, size_t i,
                             uint64_t g)
{
    uint32_t v = uvm__snap_lookup(c, i, g);
    return v != SNAP_NONE ? v : c->base[i];
}

static char *live_page(const struct snap_chain *c, size_t i)
{
    return (char *)(c->start + i * PS());
}

/* Is page i mapped at all (any backend)?  Pages with versions are not
 * found by a scan: restore and diff look before they touch them. */
static int page_here(const struct snap_chain *c, size_t i)
{
    unsigned char v;
    return mincore(live_page(c, i), PS(), &v) == 0;
}

/* .sync for page i (mu; the store has room for a slot). */
static void sync_page(struct snap_chain *c, size_t i, uint64_t newest)
{
    uint32_t b = c->base[i] - 1;
    uint32_t h = atomic_load(&c->head[i]);
    int seen = newest != 0 &&
               (h == SNAP_NONE || snap_slot_meta(c, h - 1)->a < newest);
    uint32_t s = seen ? uvm__snap_slot_take(c) : b;
    /* The page may be written meanwhile (.race). */
    snap_live_read(snap_slot_mem(c, s), live_page(c, i), PS());
    if (!seen) {
        c->cow++;                  /* (version_add counts the others) */
        return;
    }
    struct snap_vmeta *m = snap_slot_meta(c, b);
    m->a = newest;
    m->page = (uint32_t)i;
    m->lost = 0;
    atomic_store(&m->next, h);
    atomic_store(&c->head[i], b + 1);
    uvm__snap_version_add(c, b);
    c->base[i] = s + 1;
}

/* The written pages into c->runs: re-armed (collect) or not (peek).
 * Returns the runs, or a negative errno with *n the runs collected
 * before it (re-armed all the same). */
static int written(struct snap_chain *c, int rearm, size_t *n)
{
    struct uvm__dirty_sink sk = { NULL, c->runs, runs_cap(c), 0 };
    /* .replaced: a mapping put over part of the range behind the
     * chain's back.  mprotect: its pages are writable without a mark,
     * and count as written.  userfaultfd: it is not registered, and the
     * kernel refuses the scan (EPERM): nothing tells what it holds. */
    if (c->trk.ops == &uvm__dirty_mprotect)
        uvm__dirty_mp_reconcile(&c->trk);
    int rc = rearm ? c->trk.ops->collect(&c->trk, &sk)
                   : c->trk.ops->peek(&c->trk, &sk);
    *n = sk.n;
    return rc == -EPERM ? -EIO : rc;
}

static size_t run_first(const struct snap_chain *c, size_t r)
{
    return ((uintptr_t)c->runs[r].start - c->start) / PS();
}

/* Is page i mapped?  The mprotect method reports every page after it
 * failed to re-protect the range, holes the program unmapped included
 * (dirty-mprotect.c): those are skipped, not read (CAVEATS).  The
 * userfaultfd scan never reports a hole. */
static int page_mapped(const struct snap_chain *c, size_t i)
{
    return c->trk.ops != &uvm__dirty_mprotect || page_here(c, i);
}

int uvm__snap_redo_sync(struct snap_chain *c)
{
    int rc = uvm__snap_store_room(c);         /* a slot for every page */
    if (rc < 0)
        return rc;
    size_t n;
    rc = written(c, 1, &n);
    uint64_t newest = atomic_load(&c->newest);
    for (size_t r = 0; r < n; r++)
        for (size_t k = 0, i = run_first(c, r); k < c->runs[r].npages;
             k++, i++)
            if (rc == 0 || page_mapped(c, i))
                sync_page(c, i, newest);
    return rc;
}

/* ---- restore and diff ---- */

/* Marks in c->filled, which the tracked design does not use otherwise:
 * the page has a version g sees / was written / was given its base. */
enum { M_VER = 1, M_BASE = 2 };

static void mark_versions(struct snap_chain *c, const uint32_t *vpg,
                          size_t nv)
{
    for (size_t k = 0; k < nv; k++)
        c->filled[vpg[k]] |= M_VER;
}

int uvm__snap_redo_restore(struct snap_chain *c, uint64_t g,
                           const uint32_t *vpg, size_t nv)
{
    int rc = uvm__snap_store_room(c);
    size_t n = 0;
    if (rc == 0)
        rc = written(c, 0, &n);                          /* (1) */
    if (rc < 0)
        return rc;
    mark_versions(c, vpg, nv);
    for (size_t r = 0; r < n; r++)                       /* (2) */
        for (size_t k = 0, i = run_first(c, r); k < c->runs[r].npages;
             k++, i++)
            if (!(c->filled[i] & M_VER) && page_mapped(c, i)) {
                /* Writable: no fault.  A write racing it is the caller's
                 * own race (CAVEATS); (3) keeps it from being lost. */
                snap_live_write(live_page(c, i),
                                snap_slot_mem(c, c->base[i] - 1), PS());
                c->filled[i] |= M_BASE;
            }
    size_t nw;
    rc = written(c, 1, &nw);                             /* (3) */
    uint64_t newest = atomic_load(&c->newest);
    for (size_t r = 0; r < nw; r++)
        for (size_t k = 0, i = run_first(c, r); k < c->runs[r].npages;
             k++, i++) {
            if (c->filled[i] & M_VER)
                continue;                    /* (4) writes it, marked */
            if (rc < 0 && !page_mapped(c, i))
                continue;
            if ((c->filled[i] & M_BASE) &&
                !snap_live_differs(live_page(c, i),
                                   snap_slot_mem(c, c->base[i] - 1), PS()))
                continue;
            sync_page(c, i, newest);
        }
    /* The marks of (2) and (3) go by the pages they were set on: every
     * page marked M_BASE was written, so (3) reported it unless a scan
     * failed; clear the whole of them the cheap way when it did. */
    if (rc < 0)
        memset(c->filled, 0, c->npages);
    else
        for (size_t r = 0; r < nw; r++)
            memset(c->filled + run_first(c, r), 0, c->runs[r].npages);
    for (size_t k = 0; k < nv; k++) {                    /* (4) */
        uint32_t v = uvm__snap_lookup(c, vpg[k], g);
        if (page_here(c, vpg[k]))          /* a hole is passed over */
            snap_live_write(live_page(c, vpg[k]), snap_slot_mem(c, v - 1),
                            PS());
        c->filled[vpg[k]] = 0;
    }
    return rc;
}

ssize_t uvm__snap_redo_diff(struct snap_chain *c, uint64_t g,
                            const uint32_t *vpg, size_t nv, void **pages,
                            size_t max)
{
    size_t n;
    int rc = written(c, 0, &n);
    if (rc < 0)
        return rc;
    /* Merge the written runs with the pages with versions, ascending;
     * compare each with what g sees.  Nothing orders the reads of live
     * pages against the caller's writes meanwhile (CAVEATS). */
    size_t out = 0, k = 0, r = 0, j = 0;
    while (out < max && (k < nv || r < n)) {
        size_t i;
        size_t w = r < n ? run_first(c, r) + j : SIZE_MAX;
        if (k < nv && vpg[k] <= w) {
            i = vpg[k++];
            if (i == w && ++j == c->runs[r].npages)
                r++, j = 0;
        } else {
            i = w;
            if (++j == c->runs[r].npages)
                r++, j = 0;
        }
        uint32_t v = uvm__snap_redo_slot(c, i, g);
        if (page_here(c, i) &&             /* a hole is passed over */
            snap_live_differs(live_page(c, i), snap_slot_mem(c, v - 1),
                              PS()))
            pages[out++] = live_page(c, i);
    }
    return (ssize_t)out;
}
