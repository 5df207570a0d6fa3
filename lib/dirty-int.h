/*
 * dirty-int.h: trackers and the contract between dirty.c and a DIRTY
 * method (userfaultfd in dirty-uffd.c, mprotect in dirty-mprotect.c).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * dirty.c owns the handle (signature, pool, locking, overlap checks,
 * method selection); a method only arms, reads-and-rearms and disarms
 * its range.  Output goes through a sink that enforces the caller's
 * budget, in pages (uvm_dirty) or in runs (uvm_dirty_runs).
 */
#ifndef UVM_DIRTY_INT_H
#define UVM_DIRTY_INT_H

#include "uvm-int.h"

#include <pthread.h>


struct uvm__dirty_sink;

struct uvm__dirty_ops {
    const char *name;                 /* what uvm_dirty_method returns */
    /* Begin tracking t's range: every page clean.  0, -ENOTSUP (this
     * method cannot track this range here), or another negative errno. */
    int (*start)(struct uvm_tracker *t);
    /* Move written pages, in ascending order, into the sink, re-arming
     * exactly those; the rest stay dirty.  A sink with max 0 re-arms
     * everything.  Returns 0 or a negative errno; pages already in the
     * sink when an error occurs stay there (they were re-armed). */
    int (*collect)(struct uvm_tracker *t, struct uvm__dirty_sink *s);
    /* Stop tracking; never fails. */
    void (*stop)(struct uvm_tracker *t);
    /* Move written pages into the sink like collect, but leave them
     * written (nothing re-armed, nothing cleared). */
    int (*peek)(struct uvm_tracker *t, struct uvm__dirty_sink *s);
};

struct uvm_tracker {
    _Atomic uint32_t sig;          /* (w)(a) UVM_SIG_TRACKER while live */
    const struct uvm__dirty_ops *ops;   /* (c) */
    uintptr_t start, end;          /* (c) page-aligned, start < end */
    size_t npages;                 /* (c) */
    pid_t pid;                     /* (c) the process that started it */
    pthread_mutex_t mu;            /* serialises calls on this tracker */
    struct uvm_tracker *next;      /* (w) live list or pool free list */
    union {
        struct {                   /* dirty-uffd.c, (c) */
            int uffd;              /* registered WP_ASYNC over the range */
            int pagemap;           /* /proc/self/pagemap of pid */
        } uffd;
        struct {                   /* dirty-mprotect.c */
            uvm_region *region;    /* (c) our trap over the range */
            int prot;              /* (c) the range's protection */
            size_t nwords;         /* (c) */
            atomic_ulong *bits;    /* (a) one bit per page written */
            size_t reserved;       /* (c) mappings reserved (budget) */
        } mp;
    } u;
};

/* Where collected pages go. */
struct uvm__dirty_sink {
    void **pages;                  /* pages mode, or NULL */
    struct uvm_run *runs;          /* runs mode, or NULL */
    size_t max, n;                 /* budget and entries stored */
};

/* Pages the sink can still take (runs mode: no page limit). */
static inline size_t uvm__sink_room_pages(const struct uvm__dirty_sink *s)
{
    return s->runs != NULL ? SIZE_MAX : s->max - s->n;
}

/* Runs the sink can still take (pages mode: no run limit). */
static inline size_t uvm__sink_room_runs(const struct uvm__dirty_sink *s)
{
    return s->runs != NULL ? s->max - s->n : SIZE_MAX;
}

static inline int uvm__sink_full(const struct uvm__dirty_sink *s)
{
    return s->n == s->max;
}

/* Does a run starting at start extend the last run stored? */
static inline int uvm__sink_extends(const struct uvm__dirty_sink *s,
                                    uintptr_t start)
{
    return s->runs != NULL && s->n > 0 &&
           (uintptr_t)s->runs[s->n - 1].start +
                   s->runs[s->n - 1].npages * uvm__page_size == start;
}

/* Store a run of npages; the caller has checked the room. */
static inline void uvm__sink_put(struct uvm__dirty_sink *s, uintptr_t start,
                                 size_t npages)
{
    if (s->runs != NULL) {
        if (uvm__sink_extends(s, start)) {
            s->runs[s->n - 1].npages += npages;
        } else {
            s->runs[s->n].start = (void *)start;
            s->runs[s->n++].npages = npages;
        }
        return;
    }
    for (size_t i = 0; i < npages; i++)
        s->pages[s->n++] = (void *)(start + i * uvm__page_size);
}

UVM_HIDDEN extern const struct uvm__dirty_ops uvm__dirty_uffd;
UVM_HIDDEN extern const struct uvm__dirty_ops uvm__dirty_mprotect;

/* Does the uffd method work on this kernel, for this process?  A round
 * trip, run once and cached: 0 or -ENOTSUP.  Not AS-safe. */
UVM_HIDDEN int uvm__dirty_uffd_probe(void);

/* A tracker owned by another module (a tracked snapshot chain,
 * snap-redo.c) rather than by a handle: t is the caller's memory.  Attach
 * starts tracking [start, end) with the fastest method that works (as
 * UVM_DIRTY_AUTO) and lists it, so that uvm_dirty_start and uvm_snapshot
 * over the range fail with EEXIST as for any tracker, and fork() locks it.
 * 0, -EEXIST, -ENOMEM, or a method's error.  Detach stops it and unlists
 * it; never fails.  Neither is AS-safe.  Calls on t are the owner's to
 * serialise (t->mu is taken only by fork). */
UVM_HIDDEN int  uvm__dirty_attach(struct uvm_tracker *t, uintptr_t start,
                                  uintptr_t end);
UVM_HIDDEN void uvm__dirty_detach(struct uvm_tracker *t);

/* The mprotect method's check against the kernel: every page of t's
 * range in a writable mapping counts as written.  Such a page without
 * its mark is a mapping put over the range behind the tracker's back
 * (MAP_FIXED: its writes never fault), or, in a fork child, a write
 * whose handler had made the page writable but not yet marked it when
 * the process forked.  One query per mapping.  AS-safe. */
UVM_HIDDEN void uvm__dirty_mp_reconcile(struct uvm_tracker *t);

/* Give [start, end), made read-only by an mprotect method (DIRTY's, or a
 * snapshot chain's), protection prot back: every piece still mapped
 * read-only, past any hole the program made by unmapping pages of it.
 * Not AS-safe (reads /proc/self/maps when there is a hole). */
UVM_HIDDEN void uvm__unprotect_mapped(uintptr_t start, uintptr_t end,
                                      int prot);

#endif /* UVM_DIRTY_INT_H */
