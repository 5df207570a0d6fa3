/*
 * gc.h: the interface between the modules of uvm-gc, libuvm's flagship
 * example: one copying collector run three ways (stop, soft, vm).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Objects.  An object is a header word followed by nwords payload words,
 * the first nptr of which are pointers (or NULL), the rest raw data.  A
 * header is never 0 (GC_HDR_OBJ is always set): in stop and soft modes a
 * 0 word after the last object of a page ends the page (vm mode keeps each
 * page's committed fill instead), so a page can be scanned on its own
 * (Appel, Ellis and Li scan to-space in arbitrary page order).  A header
 * with bit 0 set is a forwarding pointer (mutator-view address | 1).
 * Objects in the semispaces never cross a page boundary; bigger ones live
 * in the large-object space (large.c), do not move, and hold raw data only.
 *
 * Pointers held by the program are always mutator-view addresses; the
 * collector reaches the same pages through its own view (MAP2), which
 * stays read-write while the mutator's view of unscanned pages is
 * PROT_NONE.
 *
 * Roots are precise: every C variable that holds an object pointer across
 * an allocation is registered on the shadow stack with GC_PUSH.
 */
#ifndef GC_H
#define GC_H

#ifdef HAVE_CONFIG_H
#include "config.h"             /* UVM_DEBUG: --enable-debug */
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Invariants, checked in --enable-debug builds; AS-safe (gc_fatal). */
#ifdef UVM_DEBUG
#define GC_ASSERT(c) \
    ((c) ? (void)0 : gc_fatal("invariant failed: " #c " (" __FILE__ ")"))
#else
#define GC_ASSERT(c) ((void)0)
#endif

typedef uint64_t gc_word;
typedef struct gc_obj { gc_word hdr; gc_word f[]; } gc_obj;

#define GC_HDR_FWD   ((gc_word)1)     /* forwarded: hdr & ~1 is the copy */
#define GC_HDR_LARGE ((gc_word)2)     /* lives in the large-object space */
#define GC_HDR_OBJ   ((gc_word)4)     /* always set in a real header */
#define GC_HDR(nptr, nwords, flags) \
    (((gc_word)(nwords) << 32) | ((gc_word)(nptr) << 8) | GC_HDR_OBJ | (flags))
#define GC_NWORDS(h) ((size_t)((h) >> 32))
#define GC_NPTR(h)   ((size_t)(((h) >> 8) & 0xffffff))

enum gc_mode { GC_STOP, GC_SOFT, GC_VM, GC_NMODES };

/* The collector's global state.  Key: (c) constant after gc_init;
 * (m) mutator thread only (its trap handler included: it never interrupts
 * collector code, which touches only the collector view); (f) changed only
 * by the flip, while the --concurrent background thread is between pages
 * (gc_vm_quiesce); (a) atomic, read by the background thread, written as
 * the note says.  Fields the trap handler reads are marked (h). */
struct gc_heap {
    int mode;                 /* (c) enum gc_mode */
    int concurrent;           /* (c) vm mode: a background scanner thread */
    size_t ps;                /* (c) page size */
    size_t semi;              /* (c) bytes per semispace */
    char *mut;                /* (c) mutator view of both semispaces */
    char *gcv;                /* (c) collector view (MAP2), always RW */
    long delta;               /* (c) gcv - mut */
    unsigned k;               /* (c) words scanned per word allocated */
    size_t quantum;           /* (c) words allocated between increments */
    uint64_t incr_ns;         /* (c) vm: time budget of one increment */
    char *from_lo;            /* (f,h) from-space, mutator view */
    char *to_lo, *to_hi;      /* (f,h) to-space, mutator view */
    char *copy;               /* (a,h) copy frontier, grows up (vm: whole
                               * pages, taken with CAS by both threads) */
    char *scan;               /* (m) Cheney scan pointer (stop, soft) */
    char *top;                /* (m) allocation pointer, grows down */
    char *alloc_low;          /* (m,h) vm: lowest page open for allocation */
    char *prot_hi;            /* (a,h) vm: copy pages below are protected;
                               * moved by the mutator only */
    int active;               /* (a,h) a collection is in progress; set by
                               * the mutator only */
    size_t debt;              /* (m) words allocated, not yet paid for */
    unsigned epoch;           /* (f) large-object mark epoch */
    size_t cursor;            /* (m) vm: lowest page maybe unscanned */
    size_t part;              /* (m) vm: page an increment left half done */
    uint32_t cursor_off;      /* (m) vm: bytes of it scanned so far */
    unsigned char *pstate;    /* (a,h) vm: per to-space page state */
    uint32_t *pfill;          /* (a,h) vm: committed bytes | closed bit */
};
/* vm page states: unscanned copies (protected); scanned but still
 * protected; scanned and open to the mutator. */
enum { PAGE_UNSCANNED = 0, PAGE_SCANNED = 1, PAGE_OPEN = 2, PAGE_BUSY = 3 };

extern struct gc_heap gc;
extern int gc_soft_active;    /* soft mode, collecting: barrier armed */

/* ---- shadow stack (heap.c) ---- */
#define GC_MAX_ROOTS 4096
extern gc_obj **gc_roots[GC_MAX_ROOTS];
extern size_t gc_nroots;
#define GC_PUSH(v) (gc_roots[gc_nroots++] = (gc_obj **)&(v))
#define GC_POP(n)  (gc_nroots -= (n))

/* ---- heap.c: spaces, allocation, views ---- */
int gc_init(int mode, int concurrent, size_t semi_bytes, unsigned k,
            unsigned batch, unsigned incr_us);
void gc_fini(void);
gc_obj *gc_alloc(size_t nptr, size_t nwords);
static inline gc_word *gc_view(const void *mut_addr)
{
    return (gc_word *)((char *)mut_addr + gc.delta);
}
static inline int gc_in_from(const void *p)
{
    return (uintptr_t)((const char *)p - gc.from_lo) < gc.semi;
}
static inline int gc_in_heap(const void *p)
{
    return (uintptr_t)((const char *)p - gc.mut) < 2 * gc.semi;
}
void gc_fatal(const char *msg);                 /* AS-safe; exits */

/* ---- collect.c: the copying core ---- */
gc_obj *gc_forward(gc_obj *p);                  /* AS-safe */
void gc_scan_object(char *obj);                 /* AS-safe */
char *gc_copy_alloc(size_t bytes);              /* AS-safe */
void gc_flip(void);
void gc_end_collection(void);
int gc_scan_linear(size_t budget_words);        /* 1: nothing left */
void gc_collect_until_room(size_t bytes);
void gc_increment(void);

/* ---- barrier-soft.c: Baker's read barrier ---- */
gc_obj *gc_soft_slow(gc_obj *o, size_t i);
static inline gc_obj *gc_ld(gc_obj *o, size_t i)
{
    gc_obj *p = (gc_obj *)o->f[i];
    if (__builtin_expect(gc_soft_active, 0) && gc_in_from(p))
        p = gc_soft_slow(o, i);
    return p;
}
static inline void gc_st(gc_obj *o, size_t i, gc_obj *v)
{
    o->f[i] = (gc_word)v;    /* no write barrier: v is a to-space pointer */
}

/* ---- barrier-vm.c: the Appel-Ellis-Li VM barrier ---- */
int gc_vm_init(void);
void gc_vm_fini(void);
void gc_vm_flip(void);                          /* protect to-space */
size_t gc_vm_scan_pages(size_t npages, uint64_t deadline, int *done);
                                                /* words scanned */
void gc_vm_open_alloc(char *low);               /* let the mutator in */
gc_obj *gc_vm_forward(gc_obj *p);               /* AS-safe */
void gc_vm_quiesce(void);                       /* before the flip */
void gc_vm_end(void);                           /* a collection ended */
void gc_vm_wake(void);
extern unsigned gc_vm_prot_chunk;               /* (c) 0: the default */
void gc_vm_close_copy_room(size_t bytes);       /* AS-safe */
void gc_vm_cover(char *end);                    /* AS-safe */

/* ---- large.c: the non-moving large-object space ---- */
gc_obj *gc_large_alloc(size_t nwords);
void gc_large_mark(gc_obj *p);                  /* AS-safe */
void gc_large_sweep(void);
void gc_large_fini(void);

/* ---- stats.c: what the program reports ---- */
enum gc_hist { H_FLIP, H_SLOW, H_INCR, H_ALL, GC_NHIST };
#define GC_HBUCKETS 1024
#define GC_NTOP 8               /* --breakdown: the longest pauses kept */
#define GC_NMMU 32              /* points on an MMU curve */
/* One pause of --breakdown: where its wall time went. */
struct gc_top {
    int hist;                   /* H_FLIP, H_SLOW or H_INCR */
    unsigned nprot;             /* protection calls made in it */
    uint64_t at;                /* start, ns after the run began */
    uint64_t wall, cpu;         /* wall and thread CPU time, ns */
    uint64_t prot;              /* ns inside protection calls */
    long minflt;                /* minor faults (first touches) in it */
};
struct gc_stats {
    int mode, concurrent;
    unsigned long collections, traps, slow_paths, increments, bg_pages;
    unsigned long finishes;       /* collections completed synchronously */
    unsigned long duplicates;     /* vm: copies that lost a forwarding race */
    unsigned long partial;        /* vm: increments ended inside a page */
    unsigned long flip_waits;     /* vm+conc: flips that waited for bg */
    uint64_t flip_wait_max;       /* ns */
    double total_ms;
    double cpu_ms;                /* user + system, all threads */
    long peak_rss_kb;
    unsigned long count[GC_NHIST];
    uint64_t min[GC_NHIST], max[GC_NHIST];
    unsigned long bucket[GC_NHIST][GC_HBUCKETS];
    struct gc_top top[GC_NTOP];   /* longest first; --breakdown only */
    unsigned long merged;         /* pauses merged into their neighbour */
    unsigned long nprot;          /* protection calls by the mutator */
    uint64_t prot_ns;             /* and their total time */
    /* Filled by the parent from the pause intervals (pauses.c). */
    double mmu_1ms, mmu_10ms;
    double mmu_w[GC_NMMU], mmu[GC_NMMU];    /* window ms, MMU */
    int nmmu;
};
extern struct gc_stats gcs;            /* this process's run */
extern int gc_breakdown;               /* (c) --breakdown */
uint64_t gc_now_ns(void);                       /* AS-safe */
uint64_t gc_pause_begin(void);                  /* AS-safe */
uint64_t gc_pause_begin_rt(void);               /* AS-safe; --rt-pauses */
void gc_pause_cancel(void);                     /* AS-safe */
extern int gc_rt_pauses;                        /* (c) */
void gc_pause_end(int hist, uint64_t t0);       /* AS-safe */
void gc_prot_timed(uint64_t t0);                /* AS-safe */
uint64_t gc_percentile(const struct gc_stats *s, int hist, double q);
void gc_report_text(FILE *f, const struct gc_stats *s, int n);
void gc_report_csv(FILE *f, const struct gc_stats *s, int n);
void gc_report_breakdown(FILE *f, const struct gc_stats *s, int n);
int gc_plot(const char *png, const struct gc_stats *s, int n);
const char *gc_mode_name(int mode);
const char *gc_label(const struct gc_stats *s);

/* ---- pauses.c: every mutator pause as an interval, for MMU ---- */
struct gc_pause { uint64_t start, end; };       /* ns, CLOCK_MONOTONIC */
int gc_pauses_init(void);
void gc_pauses_add(uint64_t start, uint64_t end);   /* AS-safe */
const struct gc_pause *gc_pauses(size_t *n);
double gc_mmu(const struct gc_pause *p, size_t n, uint64_t t0, uint64_t t1,
              uint64_t w);
void gc_mmu_curve(struct gc_stats *s, const struct gc_pause *p, size_t n,
                  uint64_t t0, uint64_t t1);

/* ---- workloads.c ---- */
int gc_gcbench(FILE *out, int stretch, int longlived, int maxdepth,
               long arraysize);
int gc_binary_trees(FILE *out, unsigned n);
int gc_graph(FILE *out, unsigned long n, unsigned long steps);

#endif /* GC_H */
