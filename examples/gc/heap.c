/*
 * heap.c: the two semispaces, their two views, allocation, the shadow stack.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the heap (one uvm_alloc object of two semispaces, seen by the
 * mutator at gc.mut and by the collector at gc.gcv through uvm_map2), the
 * allocation pointer and the shadow stack of roots.
 *
 * Invariants: new objects are allocated from the top of to-space down,
 * copies go from the bottom up (Baker); neither crosses a page boundary.
 * During a collection new objects are black: they hold only to-space
 * pointers and are never scanned.  In vm mode the mutator allocates only
 * on pages at or above gc.alloc_low, which are unprotected, and copies
 * stay below it.  Allocation pays for the scanning (gc.k words per word),
 * so a collection ends before to-space fills.
 *
 * Fault handler: only gc_fatal runs there.
 */
#include "gc.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uvm.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23          /* Linux 5.14 */
#endif

struct gc_heap gc;
int gc_soft_active;
gc_obj **gc_roots[GC_MAX_ROOTS];
size_t gc_nroots;

void gc_fatal(const char *msg)
{
    /* write(2) and _exit(2): async-signal-safe. */
    ssize_t rc = write(2, "uvm-gc: ", 8);
    rc += write(2, msg, strlen(msg));
    rc += write(2, "\n", 1);
    (void)rc;
    _exit(3);
}

/* Keep the semispaces resident and mapped in both views, so that no pause
 * pays for a first touch (a page fault that allocates and zeroes a page
 * and then maps it in the second view: 10-16 us per page on a host with
 * costly faults, several per increment).  One madvise per view; on a
 * kernel without MADV_POPULATE_WRITE the faults simply stay where they
 * were.  Done for every mode so the comparison stays fair. */
static void populate(void)
{
    if (madvise(gc.gcv, 2 * gc.semi, MADV_POPULATE_WRITE) == 0)
        (void)madvise(gc.mut, 2 * gc.semi, MADV_POPULATE_WRITE);
}

int gc_init(int mode, int concurrent, size_t semi, unsigned k,
            unsigned batch, unsigned incr_us)
{
    memset(&gc, 0, sizeof gc);
    gc.mode = mode;
    gc.concurrent = concurrent && mode == GC_VM;
    gc.ps = uvm_pagesize();
    gc.semi = (semi + gc.ps - 1) & ~(gc.ps - 1);
    gc.k = k ? k : 1;
    gc.mut = uvm_alloc(2 * gc.semi, PROT_READ | PROT_WRITE);
    if (gc.mut == NULL)
        return -1;
    gc.gcv = uvm_map2(gc.mut, 2 * gc.semi, PROT_READ | PROT_WRITE);
    if (gc.gcv == NULL)
        return -1;
    gc.delta = gc.gcv - gc.mut;
    populate();
    /* vm mode scans whole pages: one page per (page words / k) allocated. */
    gc.quantum = mode == GC_VM ? (batch ? batch : 1) * gc.ps / 8 / gc.k : 64;
    if (gc.quantum == 0)
        gc.quantum = 1;
    gc.incr_ns = (uint64_t)incr_us * 1000;
    gc.to_lo = gc.mut;
    gc.to_hi = gc.mut + gc.semi;
    gc.from_lo = gc.to_hi;
    gc.copy = gc.scan = gc.to_lo;
    gc.top = gc.to_hi;
    gc.alloc_low = gc.to_lo;     /* nothing is protected before the flip */
    gc.epoch = 1;
    gc_nroots = 0;
    if (mode == GC_VM && gc_vm_init() != 0)
        return -1;
    return 0;
}

void gc_fini(void)
{
    if (gc.mode == GC_VM)
        gc_vm_fini();
    gc_large_fini();
    uvm_free(gc.gcv, 2 * gc.semi);
    uvm_free(gc.mut, 2 * gc.semi);
}

static char *page_floor(char *p)
{
    return (char *)((uintptr_t)p & ~(uintptr_t)(gc.ps - 1));
}

/* Where an object of bytes would go below gc.top without crossing a page. */
static char *alloc_spot(size_t bytes)
{
    char *t = gc.top - bytes;
    if (((uintptr_t)gc.top & (gc.ps - 1)) != 0 && t < page_floor(gc.top))
        t = page_floor(gc.top) - bytes;
    return t;
}

gc_obj *gc_alloc(size_t nptr, size_t nwords)
{
    size_t bytes = 8 * (nwords + 1);
    if (bytes > gc.ps) {
        if (nptr != 0)
            gc_fatal("large objects may hold raw data only");
        return gc_large_alloc(nwords);
    }
    if (gc.active && gc.debt >= gc.quantum)
        gc_increment();
    char *t;
    for (int tries = 0;; tries++) {
        t = alloc_spot(bytes);
        char *limit = gc.mode == GC_VM ? gc.alloc_low : gc.copy;
        if (t >= limit && t >= gc.to_lo)
            break;
        if (gc.mode == GC_VM && t >= gc.to_lo) {
            gc_vm_open_alloc(page_floor(t));
            if (t >= gc.alloc_low)
                break;
        }
        if (tries > 4)
            gc_fatal("heap exhausted: live data does not fit (try --heap)");
        gc_collect_until_room(bytes);
    }
    gc.top = t;
    if (gc.active)
        gc.debt += nwords + 1;
    gc_obj *o = (gc_obj *)t;
    o->hdr = GC_HDR(nptr, nwords, 0);
    memset(o->f, 0, 8 * nwords);
    return o;
}
