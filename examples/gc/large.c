/*
 * large.c: the large-object space: objects bigger than a page, which never
 * move (Johnson's remedy for long trap latencies: a trap never copies them).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the list of large objects, each a malloc'd block whose header word
 * sits just before its payload like any object's, flagged GC_HDR_LARGE.
 *
 * Invariants: a large object holds raw data only (no pointers), so it never
 * needs scanning and never needs a barrier.  It is live in this cycle when
 * its epoch equals gc.epoch: the flip bumps the epoch, forwarding marks
 * what it reaches, objects allocated during a collection are born marked,
 * and the end of a collection frees the unmarked ones.  Large allocations
 * do not trigger collections (the workloads make few).
 *
 * Fault handler: gc_large_mark runs in it (one relaxed atomic store).
 */
#include "gc.h"

#include <stddef.h>
#include <stdlib.h>

struct large {
    struct large *next;       /* (m) the list */
    unsigned epoch;           /* (a) marked in this epoch */
    unsigned pad;
    gc_obj obj;               /* header, then payload */
};

static struct large *all;     /* (m) */

gc_obj *gc_large_alloc(size_t nwords)
{
    struct large *l = calloc(1, sizeof *l + 8 * nwords);
    if (l == NULL)
        gc_fatal("out of memory for a large object");
    l->epoch = gc.epoch;
    l->obj.hdr = GC_HDR(0, nwords, GC_HDR_LARGE);
    l->next = all;
    all = l;
    return &l->obj;
}

void gc_large_mark(gc_obj *p)
{
    struct large *l = (struct large *)((char *)p - offsetof(struct large, obj));
    __atomic_store_n(&l->epoch, gc.epoch, __ATOMIC_RELAXED);
}

void gc_large_sweep(void)
{
    for (struct large **pp = &all; *pp != NULL;) {
        struct large *l = *pp;
        if (__atomic_load_n(&l->epoch, __ATOMIC_RELAXED) != gc.epoch) {
            *pp = l->next;
            free(l);
        } else {
            pp = &l->next;
        }
    }
}

void gc_large_fini(void)
{
    while (all != NULL) {
        struct large *l = all;
        all = l->next;
        free(l);
    }
}
