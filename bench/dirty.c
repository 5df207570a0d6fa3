/*
 * dirty.c: DIRTY per dirtied page, each method of libuvm against the
 * others, in one process.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Appel & Li list DIRTY apart because the kernel might provide it more
 * cheaply than PROTN+TRAP+UNPROT; 1990 had no such call to time.  Here
 * each method libuvm has (uvm_dirty_start: userfaultfd WP_ASYNC, mprotect,
 * soft-dirty) tracks its own 16 MiB, populated, without huge pages; a
 * block writes 10% or 100% of the pages once in random order (a partial
 * Fisher-Yates, as uvm-bench-dirty) and calls uvm_dirty, and the time of
 * both is divided by the pages written.  The methods alternate block by
 * block (ABC CBA ...), and method/method is the median of per-group
 * ratios.  Every block checks that uvm_dirty reported exactly the pages
 * written.  Only the public header is used.
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "bench.h"

#include <uvm.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define DIRTY_PAGES 4096       /* 16 MiB of 4 KiB pages */

static const int methods[] = { UVM_DIRTY_UFFD, UVM_DIRTY_MPROTECT,
                               UVM_DIRTY_SOFTDIRTY };
static const char *const method_names[] = { "uffd-wp-async", "mprotect",
                                            "soft-dirty" };
#define NMETHODS 3

struct tracked {
    char *mem;
    uvm_tracker *t;
    int err;                 /* uvm_dirty_start's errno, or 0 */
};

static uint64_t rng(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void tracked_start(struct tracked *k, int method, size_t len)
{
    k->mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (k->mem == MAP_FAILED) {
        perror("uvm-bench: mmap");
        exit(1);
    }
    (void)madvise(k->mem, len, MADV_NOHUGEPAGE);
    memset(k->mem, 1, len);
    k->t = uvm_dirty_start(k->mem, len, method);
    k->err = k->t == NULL ? errno : 0;
}

/* One block: write npages random pages of k, then uvm_dirty.  ns per
 * dirtied page. */
static double dirty_block(struct tracked *k, size_t npages, uint32_t *perm,
                          void **pages, uint64_t *seed)
{
    size_t ps = uvm_pagesize();
    for (size_t i = 0; i < npages; i++) {         /* partial Fisher-Yates */
        size_t j = i + (size_t)(rng(seed) % (DIRTY_PAGES - i));
        uint32_t x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < npages; i++)
        *(volatile uint64_t *)(k->mem + (size_t)perm[i] * ps) = i;
    ssize_t got = uvm_dirty(k->t, pages, DIRTY_PAGES);
    uint64_t dt = bench_now_ns() - t0;
    if (got != (ssize_t)npages) {
        fprintf(stderr, "uvm-bench: DIRTY (%s): %zd pages reported, %zu "
                "written\n", uvm_dirty_method(k->t), got, npages);
        exit(1);
    }
    return (double)dt / (double)npages;
}

/* t[m][b] for the methods that started, in groups ordered ABC CBA. */
static void dirty_measure(struct tracked *k, int *live, int nlive,
                          size_t npages, const struct bench_opts *o,
                          double *t[])
{
    uint32_t *perm = bench_calloc(DIRTY_PAGES, sizeof *perm);
    void **pages = bench_calloc(DIRTY_PAGES, sizeof *pages);
    uint64_t seed = o->seed * 0x9e3779b97f4a7c15ull + 7;
    for (uint32_t i = 0; i < DIRTY_PAGES; i++)
        perm[i] = i;
    for (int i = 0; i < nlive; i++)                       /* warm-up */
        (void)dirty_block(&k[live[i]], npages, perm, pages, &seed);
    for (int b = 0; b < o->blocks; b++)
        for (int i = 0; i < nlive; i++) {
            int m = live[b % 2 == 0 ? i : nlive - 1 - i];
            t[m][b] = dirty_block(&k[m], npages, perm, pages, &seed);
        }
    free(perm);
    free(pages);
}

static void dirty_report(const struct bench_row *row,
                         const struct bench_opts *o, int pct, double *t[],
                         const int *live, int nlive)
{
    char name[48];
    for (int i = 0; i < nlive; i++) {
        snprintf(name, sizeof name, "%s, %d%%", method_names[live[i]], pct);
        struct bench_result r = {
            .row = row->name, .variant = name, .kind = BENCH_VALUE,
            .unit = row->unit, .v = bench_stats_of(t[live[i]], o->blocks),
            .n = o->blocks,
        };
        report_result(&r);
    }
    /* Each method against the first (uffd-wp-async when it works). */
    double *q = bench_calloc((size_t)o->blocks, sizeof *q);
    for (int i = 1; i < nlive; i++) {
        for (int b = 0; b < o->blocks; b++)
            q[b] = t[live[i]][b] / t[live[0]][b];
        snprintf(name, sizeof name, "%s/%s, %d%%", method_names[live[i]],
                 method_names[live[0]], pct);
        struct bench_result r = {
            .row = row->name, .variant = name, .kind = BENCH_RATIO,
            .v = bench_stats_of(q, o->blocks), .n = o->blocks,
        };
        report_result(&r);
    }
    free(q);
}

void run_dirty(const struct bench_row *row, const struct bench_opts *o)
{
    size_t len = DIRTY_PAGES * uvm_pagesize();
    struct tracked k[NMETHODS];
    int live[NMETHODS], nlive = 0;
    double *t[NMETHODS];
    report_row(row->title, row->unit);
    for (int m = 0; m < NMETHODS; m++) {
        tracked_start(&k[m], methods[m], len);
        t[m] = bench_calloc((size_t)o->blocks, sizeof *t[m]);
        if (k[m].t != NULL) {
            live[nlive++] = m;
            continue;
        }
        char text[120];
        snprintf(text, sizeof text, "n/a: uvm_dirty_start: %s",
                 strerror(k[m].err));
        struct bench_result r = { .row = row->name,
                                  .variant = method_names[m],
                                  .kind = BENCH_TEXT, .text = text };
        report_result(&r);
    }
    static const int pcts[] = { 10, 100 };
    for (int p = 0; p < 2 && nlive > 0; p++) {
        dirty_measure(k, live, nlive, DIRTY_PAGES * (size_t)pcts[p] / 100,
                      o, t);
        dirty_report(row, o, pcts[p], t, live, nlive);
    }
    report_note("write phase (with its faults) plus the uvm_dirty call, "
                "per page written, on 16 MiB");
    for (int m = 0; m < NMETHODS; m++) {
        if (k[m].t != NULL)
            uvm_dirty_stop(k[m].t);
        munmap(k[m].mem, len);
        free(t[m]);
    }
}
