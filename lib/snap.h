/*
 * snap.h: what the files of the snapshot module share (snap.c, the chains
 * and the entry points; snap-store.c, the page store and the journal;
 * snap-fault.c, the fault path and the protection it changes; snap-view.c,
 * views; snap-redo.c, the tracked design's base).  Included by nothing else.  The design is in snap.c's header.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Field legend (uvm-int.h, plus): (mu) the chain's mutex; (g) the module's
 * global mutex; (h) written by the one handler or mu holder that took the
 * slot, before the version is published, then only under mu.
 */
#ifndef UVM_SNAP_H
#define UVM_SNAP_H

#include "uvm-int.h"
#include "dirty-int.h"
#include "sanitizer.h"

#include <pthread.h>
#include <string.h>
#include <sys/types.h>

/* pagemap: the entry's uffd-wp bit (present, swapped or marker entry),
 * Linux 5.19.  (Belongs in compat.h with the other pagemap bits.) */
#ifndef UVM_PAGEMAP_UFFD_WP
#define UVM_PAGEMAP_UFFD_WP (1ULL << 57)
#endif
/* pagemap: a page is mapped (present) or swapped out; a uffd-wp marker on
 * a page that was never populated reads as swapped too. */
#define SNAP_PAGEMAP_PRESENT (1ULL << 63)
#define SNAP_PAGEMAP_SWAP    (1ULL << 62)

/* Page states.  LIVE is 0: a new chain's pages are LIVE until its first
 * protection is in place (.inv.prot in snap.c). */
enum { PG_LIVE = 0, PG_BUSY = 1, PG_PROT = 2 };

#define SNAP_NONE 0u             /* head[], next, journal: index + 1 */
#define SNAP_MAX_PAGES 0x7fffffffu
/* A journal entry's page with this bit: a version was pushed but the page
 * stayed PROT (its write-enabling failed). */
#define SNAP_JOURNAL_KEPT 0x80000000u

/* ---- the store: page-sized slots, each one version of a page ---- */

#define SNAP_CHUNK_SHIFT 12                   /* 4096 slots (16 MiB) */
#define SNAP_CHUNK_SLOTS (1u << SNAP_CHUNK_SHIFT)
#define SNAP_MAX_CHUNKS  (1u << 18)           /* 2^30 slots */

struct snap_vmeta {
    uint64_t a;          /* (h) tag: the newest live gen when pushed */
    _Atomic uint32_t next;   /* (h, then mu) older version of the page, or
                                NONE; free slots: the next free one */
    uint32_t page;       /* (h) page index in the range */
    uint32_t bnext;      /* (mu) next in its bucket or in limbo, or NONE */
    _Atomic uint32_t lost; /* (h, a) the live page had lost its contents when
                            this version was pushed (.lost): reads of it
                            fail with EIO */
};

/* A list of slots linked through bnext (a bucket, limbo), under mu:
 * adding and moving never allocate, so collapse cannot fail half-way. */
struct snap_list {
    uint32_t first;      /* slot + 1, or NONE */
    size_t n;
};

/* An array of pages, under mu. */
struct snap_vec {
    uint32_t *v;
    size_t n, cap;
};

struct snap_store {
    char **chunk;                     /* (c) table; entries (mu), then (c) */
    struct snap_vmeta **meta;         /* (c) table; entries (mu), then (c) */
    _Atomic uint32_t mapped;          /* (a) slots below this have memory */
    _Atomic uint32_t fresh;           /* (a) next never-used slot */
    /* Free slots: stacks pushed under mu, popped lock-free by anyone who
     * pushes a version; tag << 32 | (slot + 1). */
    _Atomic uint64_t warm;            /* (a) populated */
    _Atomic uint64_t cold;            /* (a) memory given back */
    struct snap_list limbo;           /* (mu) freed, waiting for a grace */
    size_t reserve;                   /* (mu) slots on the warm stack */
    size_t taken;                     /* (mu) slots taken since the refill */
};

/* ---- chains and handles ---- */

struct snap_chain {
    pthread_mutex_t mu;
    uintptr_t start, end;             /* (c) */
    size_t npages;                    /* (c) */
    /* prot and uffd are set after the chain's region is registered (its
     * handler may run from then on) and published by ready. */
    int prot;                         /* (c, ready) protection of range */
    int uffd;                         /* (c, ready) -1: uvm_protv
                                         fallback */
    int pagemap;                      /* (c) /proc/self/pagemap with uffd,
                                         else -1 (.lost) */
    atomic_int ready;                 /* (a) 1 once prot and uffd are
                                         set: release, handlers acquire */
    size_t budget;                    /* (c) mappings reserved for it */
    pid_t pid;                        /* (c) the process whose uffd it is;
                                         an mprotect chain's is the
                                         process's own copy (fork: child) */
    int dying;                        /* (g) the last release is taking it
                                         down: still listed, so that a new
                                         chain of the range waits (gcv) */
    atomic_int pins;                  /* (a) threads waiting for mu
                                         without gmu: not freed before 0 */
    int memobj;                       /* (c) range is uvm_alloc memory */
    atomic_int orphan;                /* (a) a fork child's copy of a chain
                                         of shared memory: its handler
                                         declines every fault (.fork) */
    atomic_int down;                  /* (a) chain_destroy has begun to
                                         close and give back (.fork) */
    uvm_region *region;               /* (c) our trap over the range */
    struct snap_chain *next;          /* (g) list of chains */
    _Atomic unsigned char *state;     /* (a) per page, PG_* */
    _Atomic uint32_t *head;           /* (a) per page: newest version */
    struct snap_store store;
    /* The journal: what handlers did since the last entry point, one
     * entry per page made LIVE: (page + 1) << 32 | (slot + 1 or 0). */
    _Atomic uint64_t *jr;             /* (a) 0: not written yet */
    atomic_size_t jtail;              /* (a) appended */
    size_t jhead;                     /* (mu) drained */
    struct snap_vec relive;           /* (mu) pages LIVE since the last
                                         snapshot; room for npages */
    unsigned char *filled;            /* (mu) per page, userfaultfd: it
                                         held contents when last
                                         protected (.lost) */
    uint32_t *seen;                   /* (mu) scratch for restore and diff:
                                         room for npages, so that neither
                                         allocates (nor fails half-way) */
    char *bounce;                     /* (mu) one page: a live page read
                                         into the range itself (below) */
    /* Grace periods (an SRCU of two counters): readers of versions and
     * of newest are counted in readers[phase & 1]. */
    atomic_uint phase;                /* (a) */
    atomic_int readers[2];            /* (a) */
    /* snapshots */
    _Atomic uint64_t newest;          /* (a) newest live gen, 0: none */
    uint64_t gen;                     /* (mu) last gen given out */
    struct uvm_snap *oldest, *newest_s;   /* (mu) the chain */
    size_t nsnaps;                    /* (mu) */
    /* counters */
    size_t stored;                    /* (mu) versions in buckets */
    size_t cow, collapses;            /* (mu) */
    size_t epoch_pushes, last_pushes; /* (mu) versions pushed this / last
                                         epoch: the reserve's size */
    /* The tracked (redo) design, snap-redo.c: */
    int tracked;                      /* (c) 1: a tracked chain */
    uint32_t *base;                   /* (mu) per page: slot + 1 of its
                                         newest copy, the base */
    struct uvm_tracker trk;           /* (c) what was written since the
                                         base was brought up to date;
                                         calls under mu */
    struct uvm_run *runs;             /* (mu) scratch: room for every run
                                         of the range */
};

struct uvm_snap {
    _Atomic uint32_t sig;             /* (g)(a) UVM_SIG_SNAP while live */
    struct snap_chain *c;             /* (c) */
    uint64_t gen;                     /* (c) */
    struct uvm_snap *older, *newer;   /* (mu) */
    struct snap_list own;             /* (mu) the versions it owns: tags
                                         in [gen, newer->gen) */
    char *view;                       /* (mu) uvm_snap_view's mapping */
    uvm_region *view_region;          /* (mu) its resolver, or NULL */
};

static inline size_t snap_ps(void) { return uvm__page_size; }

/* Copies and compares with a page of the live range, the application's
 * memory.  TSan is told only about the other side (sanitizer.h): the live
 * page's order is made by its write-protection, which TSan cannot see, or
 * by nothing when the page is writable and the caller writes it meanwhile
 * (its own race; uvm_snap_restore, uvm_snap_diff).  Every caller says
 * which. */
UVM_AS_SAFE static inline void snap_live_read(void *dst, const void *live,
                                              size_t n)
{
    uvm__san_ignore_begin();
    memcpy(dst, live, n);
    uvm__san_ignore_end();
    uvm__san_write(dst, n);
}

static inline void snap_live_write(void *live, const void *src, size_t n)
{
    uvm__san_ignore_begin();
    memcpy(live, src, n);
    uvm__san_ignore_end();
    uvm__san_read(src, n);
}

/* memcmp(live, other, n) != 0 */
static inline int snap_live_differs(const void *live, const void *other,
                                    size_t n)
{
    uvm__san_ignore_begin();
    int d = memcmp(live, other, n) != 0;
    uvm__san_ignore_end();
    uvm__san_read(other, n);
    return d;
}


/* ---- snap-store.c ---- */

UVM_AS_SAFE static inline char *snap_slot_mem(const struct snap_chain *c,
                                              uint32_t s)
{
    return c->store.chunk[s >> SNAP_CHUNK_SHIFT] +
           (size_t)(s & (SNAP_CHUNK_SLOTS - 1)) * snap_ps();
}

UVM_AS_SAFE static inline struct snap_vmeta *
snap_slot_meta(const struct snap_chain *c, uint32_t s)
{
    return &c->store.meta[s >> SNAP_CHUNK_SHIFT][s & (SNAP_CHUNK_SLOTS - 1)];
}

/* Private zeroed memory, touched only where used (NULL if none). */
UVM_HIDDEN void *uvm__snap_map_zero(size_t bytes);
UVM_HIDDEN int  uvm__snap_store_init(struct snap_chain *c);
UVM_HIDDEN void uvm__snap_store_fini(struct snap_chain *c);
/* A free slot, lock-free: a populated one from the ring, else a fresh one.
 * AS-safe; never fails while .inv.room holds. */
UVM_HIDDEN uint32_t uvm__snap_slot_take(struct snap_chain *c);
/* Add slot s to list l (mu). */
static inline void snap_list_add(const struct snap_chain *c,
                                 struct snap_list *l, uint32_t s)
{
    snap_slot_meta(c, s)->bnext = l->first;
    l->first = s + 1;
    l->n++;
}
/* Give back a slot whose version is unlinked (mu): it is reused only after
 * the next grace period (uvm__snap_store_refill). */
static inline void snap_slot_free(struct snap_chain *c, uint32_t s)
{
    snap_list_add(c, &c->store.limbo, s);
}
/* Make the slots freed since the last call reusable, after a grace period:
 * the reserve on top, the memory of the rest given back (mu). */
UVM_HIDDEN void uvm__snap_store_refill(struct snap_chain *c);
/* Map never-used slots for npages more pushes (.inv.room), after the
 * pages of a new snapshot are protected (mu).  0 or -ENOMEM. */
UVM_HIDDEN int uvm__snap_store_room(struct snap_chain *c);

/* Grace periods.  Readers: handlers, for the length of one fault. */
UVM_AS_SAFE static inline unsigned snap_read_enter(struct snap_chain *c)
{
    for (;;) {
        unsigned p = atomic_load(&c->phase) & 1;
        atomic_fetch_add(&c->readers[p], 1);
        if ((atomic_load(&c->phase) & 1) == p)
            return p;
        atomic_fetch_sub(&c->readers[p], 1);   /* the phase flipped */
    }
}

UVM_AS_SAFE static inline void snap_read_exit(struct snap_chain *c,
                                              unsigned p)
{
    atomic_fetch_sub(&c->readers[p], 1);
}

/* Wait until every reader that may have seen the state before the call
 * has left (mu). */
UVM_HIDDEN void uvm__snap_grace(struct snap_chain *c);

/* The journal (mu): move what handlers appended to relive and to the
 * buckets of the snapshots owning the versions.  Never fails. */
UVM_HIDDEN void uvm__snap_journal_drain(struct snap_chain *c);
/* The same in a fork child (one thread, mu held): entries that a thread
 * the child does not have claimed and never wrote are skipped (the
 * child's repair finds their pages by their state, snap.c .fork). */
UVM_HIDDEN void uvm__snap_journal_adopt(struct snap_chain *c);
/* Account for a version pushed in slot s (mu): its bucket, counters. */
UVM_HIDDEN void uvm__snap_version_add(struct snap_chain *c, uint32_t s);

/* ---- snap-fault.c ---- */

/* The version snapshot gen g sees for page i (slot + 1) or NONE.  Lock
 * free: the caller is a reader (grace) or holds mu.  AS-safe. */
UVM_HIDDEN uint32_t uvm__snap_lookup(const struct snap_chain *c, size_t i,
                                     uint64_t g);
/* Do live snapshots need the live contents of page i (none stored)? */
UVM_HIDDEN int uvm__snap_live_needed(const struct snap_chain *c, size_t i,
                                     uint64_t newest);
/* Push the current contents of page i as a version tagged a into slot s,
 * marked lost (.lost) or not. */
UVM_HIDDEN void uvm__snap_push(struct snap_chain *c, size_t i, uint32_t s,
                               uint64_t a, int lost);
UVM_HIDDEN void uvm__snap_journal_append(struct snap_chain *c, size_t i,
                                         uint32_t slot1);
/* Write-protect (on) or write-enable n pages at a.  AS-safe. */
UVM_HIDDEN int uvm__snap_wp(const struct snap_chain *c, uintptr_t a,
                            size_t n, int on);
/* The same for the n pages pg (ascending), in runs of neighbours, or for
 * the whole range (pg NULL); split over two threads when that pays. */
UVM_HIDDEN int uvm__snap_wp_pages(const struct snap_chain *c,
                                  const uint32_t *pg, size_t n, int on);
/* The region handler of a chain's range. */
UVM_HIDDEN int uvm__snap_fault(const struct uvm_fault *f);
/* Open and register the chain's userfaultfd: fd, -ENOTSUP (use mprotect)
 * or -EEXIST (another userfaultfd has the range). */
UVM_HIDDEN int uvm__snap_uffd_open(uintptr_t start, size_t len);
/* Has PROT page i lost its contents behind the chain's back (.lost)?
 * With userfaultfd the write-protection lives in the page table entry,
 * and whatever drops the page (MADV_DONTNEED, say) drops the mark with
 * it; with mprotect a page unmapped, or one that held contents and is a
 * hole now, is lost (one read since maps a page of zeros, and then
 * nothing tells).  AS-safe. */
UVM_HIDDEN int uvm__snap_live_lost(const struct snap_chain *c, size_t i);
/* The pagemap half of it (a fault proves the mapping).  AS-safe. */
UVM_HIDDEN int uvm__snap_hole_lost(const struct snap_chain *c, size_t i);
/* The mapping half, for mprotect chains: is the mapping at a unmapped or
 * writable?  *to: the end of what the answer covers.  AS-safe. */
UVM_HIDDEN int uvm__snap_mapping_lost(uintptr_t a, uintptr_t *to);
/* The same, from page i's pagemap entry e.  AS-safe. */
UVM_HIDDEN int uvm__snap_entry_lost(const struct snap_chain *c, size_t i,
                                    uint64_t e);
/* Page i lost its mark (.lost) and snapshot gen g reads it live: is its
 * page zeros all the same (it held nothing when it was protected, and it
 * is g's first protection, or it holds nothing still)?  Under mu. */
UVM_HIDDEN int uvm__snap_live_empty(const struct snap_chain *c, size_t i,
                                    uint64_t g);
/* Record which pages of the range hold contents (filled), before and
 * after the whole range is protected (mu or not yet shared). */
UVM_HIDDEN void uvm__snap_fill_note(struct snap_chain *c, int after);
/* Claim page i (PROT -> BUSY) for reading it live: 1 claimed, 0 LIVE. */
UVM_HIDDEN int uvm__snap_claim(struct snap_chain *c, size_t i);

/* ---- snap-view.c ---- */

UVM_HIDDEN int  uvm__snap_view_make(struct uvm_snap *s);
UVM_HIDDEN void uvm__snap_view_drop(struct uvm_snap *s);

/* ---- snap-redo.c: the tracked (redo) design ---- */

/* Start tracking the chain's range and copy it into the base (mu, or not
 * yet shared).  0, -EEXIST (a tracker, trap region or userfaultfd has the
 * range), -ENOMEM.  On failure the caller frees the chain. */
UVM_HIDDEN int  uvm__snap_redo_start(struct snap_chain *c);
/* Stop tracking; the memory is chain_free's. */
UVM_HIDDEN void uvm__snap_redo_stop(struct snap_chain *c);
/* Is the tracker still attached (a fork child: the parent's thread may
 * have stopped it before fork)? */
UVM_HIDDEN int  uvm__snap_redo_attached(const struct snap_chain *c);
/* Bring the base up to date with the live range (mu): the pages written
 * since the last call are copied, one copy each.  0 or a negative errno
 * (what was collected before the error is copied). */
UVM_HIDDEN int  uvm__snap_redo_sync(struct snap_chain *c);
/* The slot (+ 1) holding page i as snapshot gen g sees it (mu). */
UVM_HIDDEN uint32_t uvm__snap_redo_slot(const struct snap_chain *c,
                                        size_t i, uint64_t g);
/* uvm_snap_restore and uvm_snap_diff of a tracked chain (mu); vpg, nv:
 * the pages with a version that gen g sees (seen_pages in snap.c). */
UVM_HIDDEN int  uvm__snap_redo_restore(struct snap_chain *c, uint64_t g,
                                       const uint32_t *vpg, size_t nv);
UVM_HIDDEN ssize_t uvm__snap_redo_diff(struct snap_chain *c, uint64_t g,
                                       const uint32_t *vpg, size_t nv,
                                       void **pages, size_t max);

/* ---- snap.c ---- */

/* Copy page i as gen g sees it into dst (mu): 0, or -EIO when its
 * contents were lost (.lost). */
UVM_HIDDEN int uvm__snap_read_page(struct snap_chain *c, size_t i,
                                    uint64_t g, void *dst, size_t off,
                                    size_t n);

#endif /* UVM_SNAP_H */
