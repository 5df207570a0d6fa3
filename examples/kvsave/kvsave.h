/*
 * kvsave.h: the pieces of the forkless-save example (see main.c for what
 * it does and how to run it).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Modules: store.c (the key-value store and the undo of the writer's log),
 * writer.c (the writer thread, its log and its latency record), ways.c
 * (the table of ways to save), mem.c (memory probes), main.c (driver,
 * verification, report, plot).  Nothing here runs in a fault handler.
 */
#ifndef KVSAVE_H
#define KVSAVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"                     /* UVM_DEBUG for --enable-debug */

#ifdef UVM_DEBUG
#include <assert.h>
#define KV_ASSERT(x) assert(x)
#else
#define KV_ASSERT(x) ((void)0)
#endif

/* ---- the store (store.c) ---- */

#define KV_VSIZE 128                    /* bytes per value */
#define KV_VWORDS (KV_VSIZE / 8)

/* One range holds everything the save must capture: a header page, the
 * open-addressing table (linear probing, key 0 = empty) and the values,
 * page-aligned so that a value never straddles two pages.  Every value
 * is a function of (key, seq), seq being the writer operation that wrote
 * it (0 = the initial fill): word 0 is seq, word 1 the key, the rest
 * derived from both.  That is what lets the writer's log be undone. */
struct kv_slot { uint64_t key; uint64_t vindex; };
struct kv_store {
    unsigned char *base;                /* the whole range */
    size_t len;                         /* bytes, page multiple */
    struct kv_slot *table;              /* nslots entries */
    size_t nslots;                      /* power of two >= 2 * nkeys */
    uint64_t *values;                   /* nkeys * KV_VWORDS words */
    size_t values_off;                  /* offset of values in base */
    uint32_t nkeys;
};

int  kv_plan(struct kv_store *kv, size_t len);    /* layout, no memory */
int  kv_create(struct kv_store *kv, size_t len);
void kv_destroy(struct kv_store *kv);
uint64_t kv_key(uint32_t i);            /* the i-th key, never 0 */
uint32_t kv_lookup(const struct kv_store *kv, uint64_t key);
void kv_fill(uint64_t *v, uint64_t key, uint32_t seq);
static inline uint32_t kv_seq_of(const struct kv_store *kv, uint32_t vi)
{
    return (uint32_t)kv->values[(size_t)vi * KV_VWORDS];
}
static inline size_t kv_page_of(const struct kv_store *kv, uint32_t vi,
                                size_t ps)
{
    return (kv->values_off + (size_t)vi * KV_VSIZE) / ps;
}

/* One logged operation: which value, and the seq it held before.  The
 * operation's own seq is the log's base seq + its index + 1. */
struct kv_logent { uint32_t vindex; uint32_t prev; };

/* Undo ents[n-1] .. ents[0] (seqs base+n .. base+1) on the live store,
 * checking that each value holds the seq the log says it wrote.  -1 (and
 * *bad_seq) if the log and the store disagree, else 0. */
int kv_undo(struct kv_store *kv, const struct kv_logent *ents, size_t n,
            uint32_t base, uint32_t *bad);

/* ---- latency histogram (writer.c) ---- */

#define KV_HBUCKETS 2560
struct kv_hist {
    uint64_t n, max_ns, sum_ns;
    uint32_t b[KV_HBUCKETS];
};
void     kv_hist_add(struct kv_hist *h, uint64_t ns);
uint64_t kv_hist_quantile(const struct kv_hist *h, double q);
int      kv_hist_selftest(void);        /* 0 if the quantiles are right */

/* ---- the writer thread (writer.c) ---- */

enum { KV_BEFORE, KV_DURING, KV_AFTER, KV_NPHASES };

/* Fields: (w) the writer only; (s) the saver only, or the saver while
 * the writer is parked; (a) atomics both use. */
struct kv_writer {
    struct kv_store *kv;
    pthread_t thread;
    uint64_t rng;                       /* (w) */
    _Atomic uint32_t seq;               /* (a) last seq written */
    _Atomic int pause;                  /* (a) saver asks the writer to park */
    _Atomic int parked;                 /* (a) writer says it is parked */
    _Atomic int stop;                   /* (a) */
    _Atomic int phase;                  /* (a) which record ops go to */
    _Atomic int overflow;               /* (a) the log filled up */
    struct kv_logent *log;              /* (w) entries; (s) base when parked */
    size_t log_cap;
    _Atomic size_t log_n;               /* (a) entries logged */
    uint32_t log_base;                  /* (s) seq before log[0] */
    int logging;                        /* (s) log only after an instant */
    struct kv_hist hist[KV_NPHASES];    /* (w) */
    uint64_t ops[KV_NPHASES];           /* (w) */
    int nice;                           /* (c) the writer thread's nice */
    uint64_t t0;                        /* (c) ns, start of the trace */
    uint32_t *trace;                    /* (w) worst op latency per ms, ns */
    size_t trace_len;
};

struct kv_writer *kv_writer_new(struct kv_store *kv, size_t log_cap,
                                double max_seconds, uint64_t seed, int nice);
void kv_writer_delete(struct kv_writer *w);
int  kv_writer_start(struct kv_writer *w);
/* Park the writer between two operations; returns its last seq. */
uint32_t kv_writer_park(struct kv_writer *w);
/* Start a fresh log at the parked writer's last seq, then let it go. */
void kv_writer_mark_and_go(struct kv_writer *w);
void kv_writer_go(struct kv_writer *w);
void kv_writer_stop(struct kv_writer *w);
uint64_t kv_now_ns(void);

/* ---- memory probes (mem.c) ---- */

size_t kv_rss_bytes(void);              /* this process, /proc/self/statm */
/* Private_Dirty of /proc/self/smaps_rollup and VmPTE of /proc/self/status,
 * in bytes; raw system calls only (fork child). */
int kv_self_private(size_t *private_dirty, size_t *pte);

/* Samples this process's RSS every millisecond while running. */
struct kv_monitor {
    pthread_t thread;
    _Atomic int run;
    _Atomic size_t peak;
};
int  kv_monitor_start(struct kv_monitor *m);
size_t kv_monitor_stop(struct kv_monitor *m);   /* the peak RSS seen */

/* ---- ways to save (ways.c) ---- */

/* What one save measured, beyond the writer's own record. */
struct kv_result {
    uint32_t instant;                   /* seq at the snapshot instant */
    uint32_t end_seq;                   /* writer seq when the save ended */
    double take_ms, save_ms;            /* stall of the take; whole save */
    double release_ms;                  /* undo, redo: uvm_snap_release */
    size_t rss_before;                  /* this process, before the save */
    size_t rss_peak;                    /* this process, during the save */
    size_t child_private, child_pte;    /* fork: the child's own memory */
    size_t lib_held;                    /* undo, redo: uvm_snap_stats */
    size_t extra;                       /* peak extra memory, bytes */
};

struct kv_way {
    const char *name;
    const char *what;
    /* NULL: not available in this build, and why is in `missing`. */
    int (*save)(struct kv_store *kv, struct kv_writer *w, int fd,
                int do_fsync, struct kv_result *r);
    const char *missing;
    int control;                        /* a negative control: must fail */
};
extern const struct kv_way kv_ways[];
extern const size_t kv_nways;

#endif
