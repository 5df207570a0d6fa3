/*
 * collect.c: the copying core shared by the three modes: forwarding,
 * Cheney scanning, the flip, and the policy that decides when to scan.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the copy frontier gc.copy, the Cheney scan pointer gc.scan, the
 * collection cycle (gc.active, gc.debt, gc.epoch).
 *
 * Invariants (Baker 1978): the mutator holds only to-space pointers once
 * the flip has forwarded the roots; scanned and new objects hold only
 * to-space pointers; unscanned copies may hold both.  A page the copy
 * frontier has left ends with a 0 word unless it is full, so any page
 * below the frontier can be scanned alone.  All collector reads and writes
 * go through the collector view (gc_view): the collector never faults.
 *
 * Fault handler: nothing here runs in it (vm mode's trap handler uses
 * barrier-vm.c's own lock-free scanning); gc_forward, gc_scan_object and
 * gc_copy_alloc still use no locks, no malloc and no stdio.
 */
#include "gc.h"

#include <stdint.h>

/* Stop and soft modes; vm mode copies to per-thread pages (barrier-vm.c). */
char *gc_copy_alloc(size_t bytes)
{
    char *c = gc.copy, *start = c;
    size_t off = (uintptr_t)c & (gc.ps - 1);
    if (off != 0 && off + bytes > gc.ps)
        start = c - off + gc.ps;
    if (start + bytes > gc.top)
        gc_fatal("to-space overflow: live data does not fit (try --heap)");
    if (start != c)
        *gc_view(c) = 0;                    /* end of this page's objects */
    gc.copy = start + bytes;
    return start;
}

gc_obj *gc_forward(gc_obj *p)
{
    if (p == NULL)
        return p;
    if (gc_in_from(p) && gc.mode == GC_VM)
        return gc_vm_forward(p);            /* the mutator: never NULL */
    if (gc_in_from(p)) {
        gc_word *g = gc_view(p), h = g[0];
        if (h & GC_HDR_FWD)
            return (gc_obj *)(h & ~GC_HDR_FWD);
        size_t n = GC_NWORDS(h) + 1;
        char *dst = gc_copy_alloc(8 * n);
        gc_word *d = gc_view(dst);
        for (size_t i = 0; i < n; i++)      /* no memcpy: AS-safe by hand */
            d[i] = g[i];
        g[0] = (gc_word)dst | GC_HDR_FWD;
        return (gc_obj *)dst;
    }
    if (!gc_in_heap(p))
        gc_large_mark(p);
    return p;
}

void gc_scan_object(char *obj)
{
    gc_word *g = gc_view(obj);
    size_t np = GC_NPTR(g[0]);
    for (size_t i = 0; i < np; i++)
        g[1 + i] = (gc_word)gc_forward((gc_obj *)g[1 + i]);
}

/* Cheney's scan, at most budget words; 1 when scan meets copy. */
int gc_scan_linear(size_t budget)
{
    while (gc.scan < gc.copy) {
        if (budget == 0)
            return 0;
        gc_word h = *gc_view(gc.scan);
        if (h == 0) {                        /* rest of the page is empty */
            gc.scan = (char *)(((uintptr_t)gc.scan | (gc.ps - 1)) + 1);
            continue;
        }
        size_t n = GC_NWORDS(h) + 1;
        gc_scan_object(gc.scan);
        gc.scan += 8 * n;
        budget = budget > n ? budget - n : 0;
    }
    return 1;
}

void gc_end_collection(void)
{
    __atomic_store_n(&gc.active, 0, __ATOMIC_SEQ_CST);
    if (gc.mode == GC_VM)
        gc_vm_end();
    gc_soft_active = 0;
    gc.debt = 0;
    if (!gc.concurrent)
        gc_large_sweep();
}

/* The flip: swap the semispaces and forward the roots.  In stop mode the
 * whole collection happens here; the pause is recorded either way. */
void gc_flip(void)
{
    uint64_t t0 = gc_pause_begin_rt();
    if (gc.concurrent) {
        /* The background thread may still mark large objects of the cycle
         * that ended: sweep once it is quiescent. */
        gc_vm_quiesce();
        gc_large_sweep();
    }
    char *old_to = gc.to_lo;
    gc.to_lo = gc.from_lo;
    gc.to_hi = gc.to_lo + gc.semi;
    gc.from_lo = old_to;
    gc.copy = gc.scan = gc.to_lo;
    gc.top = gc.to_hi;
    gc.epoch++;
    if (gc.mode == GC_VM)
        gc_vm_flip();
    /* In vm mode the copies of the roots land on pages gc_copy_alloc
     * protects first, with one PROTN (gc_vm_cover). */
    for (size_t i = 0; i < gc_nroots; i++)
        *gc_roots[i] = gc_forward(*gc_roots[i]);
    __atomic_store_n(&gc.active, 1, __ATOMIC_SEQ_CST);
    gc.debt = 0;
    __atomic_fetch_add(&gcs.collections, 1, __ATOMIC_RELAXED);  /* bg_main */
    if (gc.mode == GC_SOFT)
        gc_soft_active = 1;
    if (gc.mode == GC_VM)
        gc_vm_wake();
    if (gc.mode == GC_STOP) {
        gc_scan_linear(SIZE_MAX);
        gc_end_collection();
    }
    gc_pause_end(H_FLIP, t0);
}

/* Allocation pays for scanning: k words per word allocated. */
void gc_increment(void)
{
    uint64_t t0 = gc_pause_begin_rt();
    int done;
    if (gc.mode == GC_SOFT) {
        done = gc_scan_linear(gc.k * gc.debt);
        gc.debt = 0;
    } else {
        size_t per_page = gc.ps / 8;
        size_t pages = gc.k * gc.debt / per_page;
        size_t got = gc_vm_scan_pages(pages ? pages : 1, t0 + gc.incr_ns,
                                      &done);
        size_t paid = got / gc.k;             /* the rest stays owed */
        gc.debt = paid >= gc.debt ? 0 : gc.debt - paid;
        if (done)
            gc_end_collection();
    }
    if (done && gc.mode == GC_SOFT)
        gc_end_collection();
    gcs.increments++;
    gc_pause_end(H_INCR, t0);
}

/* To-space is full: finish the collection in progress (a long pause that
 * a large enough k avoids), or flip. */
void gc_collect_until_room(size_t bytes)
{
    (void)bytes;
    if (!gc.active) {
        gc_flip();
        return;
    }
    uint64_t t0 = gc_pause_begin_rt();
    if (gc.mode == GC_SOFT) {
        gc_scan_linear(SIZE_MAX);
        gc_end_collection();
    } else {
        int done;
        gc_vm_scan_pages(SIZE_MAX, 0, &done);
        gc_end_collection();
    }
    gcs.finishes++;
    gc_pause_end(H_INCR, t0);
}
