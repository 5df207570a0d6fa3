/*
 * regions.c: the fault cost with 1 to 100,000 regions registered.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * libuvm finds the region of a fault in a B+tree (lib/region.c); this row
 * checks that a fault with 100,000 regions costs no more than with one.
 * The loop is TRAP+PROT1+UNPROT through libuvm (loops.c), on the same
 * pages and in the same process for every count, so that nothing differs
 * but libuvm's table.
 *
 * Extra regions: one page each, every other page of one PROT_NONE
 * MAP_NORESERVE reservation.  One mapping however many regions, so the
 * kernel's vm.max_map_count and its own VMA lookup are the same for every
 * count: only libuvm's table grows.
 *
 * Order.  Registering 100,000 regions takes about 0.2 s and unregistering
 * them as long, so the count cannot alternate block by block as libuvm and
 * raw do in the other rows.  The counts are visited up and back down,
 * 1, 10, ..., 100k, 100k, ..., 10, 1, a few blocks per visit, and the
 * cycle is
 * repeated: every count runs as much early as late, so a drift cancels
 * in its median.  (One process per count would alternate faster, but three
 * processes with the same count in each were measured 0.97 to 1.04 apart,
 * a bias that no number of blocks averages out.)
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "bench.h"

#include <uvm.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* The region counts compared, the benchmark's own region included. */
static const long counts[] = { 1, 10, 100, 1000, 10000, 100000 };
#define NCOUNTS ((int)(sizeof counts / sizeof counts[0]))
#define MAX_EXTRA (100000L - 1)

/* Up-and-down cycles, an odd number so that the median ratio is one
 * cycle's: a burst of noise that spoils a whole visit spoils one cycle. */
#define CYCLES_FULL 5
#define CYCLES_QUICK 3

struct extra_regions {
    char *base;              /* 2 * MAX_EXTRA pages, PROT_NONE */
    size_t pagesize;
    uvm_region **r;          /* r[0..n-1] registered, the last out first */
    long n;
    uint64_t trap_ns, untrap_ns;     /* for the note under the row */
    long trapped, untrapped;
};

static int decline_fault(const struct uvm_fault *f)
{
    return UVM_DECLINE;      /* never called: nothing touches these pages */
}

static void extras_init(struct extra_regions *x)
{
    x->pagesize = uvm_pagesize();
    x->base = mmap(NULL, 2 * MAX_EXTRA * x->pagesize, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (x->base == MAP_FAILED) {
        perror("uvm-bench: mmap of the region reservation");
        exit(1);
    }
    x->r = bench_calloc(MAX_EXTRA, sizeof *x->r);
}

static void extras_fini(struct extra_regions *x)
{
    free(x->r);
    munmap(x->base, 2 * MAX_EXTRA * x->pagesize);
}

static void extras_add(struct extra_regions *x, long want)
{
    for (; x->n < want; x->n++) {
        char *p = x->base + 2 * (size_t)x->n * x->pagesize;
        x->r[x->n] = uvm_trap(p, x->pagesize, decline_fault, NULL);
        if (x->r[x->n] == NULL) {
            fprintf(stderr, "uvm-bench: uvm_trap of extra region %ld: %s\n",
                    x->n + 1, strerror(errno));
            exit(1);
        }
    }
}

static void extras_remove(struct extra_regions *x, long want)
{
    for (; x->n > want; x->n--) {
        if (uvm_untrap(x->r[x->n - 1]) != 0) {
            fprintf(stderr, "uvm-bench: uvm_untrap: %s\n", strerror(errno));
            exit(1);
        }
    }
}

/* Register or unregister extra regions until `total` regions exist, the
 * benchmark's own included, timing either direction.  libuvm's own count
 * must agree. */
static void extras_set(struct extra_regions *x, long total)
{
    long was = x->n;
    uint64_t t0 = bench_now_ns();
    extras_add(x, total - 1);
    extras_remove(x, total - 1);
    uint64_t dt = bench_now_ns() - t0;
    if (x->n > was) {
        x->trap_ns += dt;
        x->trapped += x->n - was;
    } else if (x->n < was) {
        x->untrap_ns += dt;
        x->untrapped += was - x->n;
    }
    struct uvm_stats s;
    uvm_stats(&s);
    if ((long)s.regions != total) {
        fprintf(stderr, "uvm-bench: libuvm reports %lu regions, expected "
                "%ld\n", s.regions, total);
        exit(1);
    }
}

/* t[c][cy * 2 * per_visit + i]: count c's block i in cycle cy. */
static void regions_measure(struct extra_regions *x,
                            const struct bench_row *row,
                            const struct bench_opts *o, double *t[],
                            int cycles, int per_visit)
{
    int nt[NCOUNTS] = { 0 };
    for (int cy = 0; cy < cycles; cy++) {
        for (int step = 0; step < 2 * NCOUNTS; step++) {
            int c = step < NCOUNTS ? step : 2 * NCOUNTS - 1 - step;
            extras_set(x, counts[c]);
            for (int b = 0; b < per_visit; b++)
                t[c][nt[c]++] = loops_block(row->loop, o->rounds);
        }
    }
}

/* Count c's median over the 1-region median, cycle by cycle, and the
 * median of those: within a cycle the counts ran close together in time,
 * as the blocks of a pair do in the other rows. */
static struct bench_stats regions_ratio(double *t[], int c, int cycles,
                                        int per_cycle)
{
    double *q = bench_calloc((size_t)cycles, sizeof *q);
    for (int cy = 0; cy < cycles; cy++)
        q[cy] = bench_stats_of(t[c] + cy * per_cycle, per_cycle).median /
                bench_stats_of(t[0] + cy * per_cycle, per_cycle).median;
    struct bench_stats r = bench_stats_of(q, cycles);
    free(q);
    return r;
}

/* The target: a fault with 100,000 regions against the floor of the
 * same loop with one region, visited in the same cycles. */
static void regions_judge(const struct bench_row *row, double *t[], int n,
                          const struct bench_stats *ratio)
{
    char name[96], figure[64], floor[96];
    snprintf(name, sizeof name, "fault with %ld regions <= %.2f x one",
             counts[NCOUNTS - 1], row->target);
    snprintf(figure, sizeof figure, "%.0f ns per page",
             bench_stats_of(t[NCOUNTS - 1], n).median);
    snprintf(floor, sizeof floor, "%.0f ns (1 region)",
             bench_stats_of(t[0], n).median);
    struct bench_target g = {
        .name = name, .figure = figure, .floor = floor,
        .ratio = ratio->median, .bound = row->target,
        .info = "TRAP+PROT1+UNPROT through libuvm; median of per-cycle "
                "ratios",
    };
    (void)target_judge(&g);
}

static void regions_report(const struct bench_row *row, double *t[],
                           int cycles, int per_cycle)
{
    int n = cycles * per_cycle;
    report_row(row->title, row->unit);
    for (int c = 0; c < NCOUNTS; c++) {
        char name[24];
        snprintf(name, sizeof name, "%ld regions", counts[c]);
        struct bench_result r = {
            .row = row->name, .variant = name, .kind = BENCH_VALUE,
            .unit = row->unit, .v = bench_stats_of(t[c], n), .n = n,
        };
        report_result(&r);
    }
    for (int c = 1; c < NCOUNTS; c++) {
        char name[24];
        snprintf(name, sizeof name, "%ld/1", counts[c]);
        struct bench_result r = {
            .row = row->name, .variant = name, .kind = BENCH_RATIO,
            .v = regions_ratio(t, c, cycles, per_cycle), .n = cycles,
            .target = c == NCOUNTS - 1 ? row->target : 0,
        };
        report_result(&r);
        if (r.target > 0)
            regions_judge(row, t, n, &r.v);
    }
}

static void regions_note(const struct extra_regions *x, int cycles,
                         int per_visit)
{
    char buf[240];
    snprintf(buf, sizeof buf, "%d cycles of %d block(s) per visit; "
             "uvm_trap %.2f us and uvm_untrap %.2f us per region "
             "(%ld calls each, up to %ld regions)", cycles, per_visit,
             x->trap_ns / 1e3 / (double)(x->trapped ? x->trapped : 1),
             x->untrap_ns / 1e3 / (double)(x->untrapped ? x->untrapped : 1),
             x->trapped, MAX_EXTRA + 1);
    report_note(buf);
}

void run_regions(const struct bench_row *row, const struct bench_opts *o)
{
    struct extra_regions x = { 0 };
    int cycles = o->quick ? CYCLES_QUICK : CYCLES_FULL;
    int per_visit = (o->blocks + 2 * cycles - 1) / (2 * cycles);
    int per_cycle = 2 * per_visit;
    double *t[NCOUNTS];
    for (int c = 0; c < NCOUNTS; c++)
        t[c] = bench_calloc((size_t)(cycles * per_cycle), sizeof *t[c]);
    extras_init(&x);
    loops_use(BENCH_UVM);
    (void)loops_block(row->loop, o->rounds);            /* warm-up */
    regions_measure(&x, row, o, t, cycles, per_visit);
    extras_set(&x, 1);
    regions_report(row, t, cycles, per_cycle);
    regions_note(&x, cycles, per_visit);
    for (int c = 0; c < NCOUNTS; c++)
        free(t[c]);
    extras_fini(&x);
}
