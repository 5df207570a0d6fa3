/*
 * report.c: uvm-bench's clock, statistics and output.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Medians, not means: on a shared virtual machine a block now and then
 * loses the CPU, and one such block would move a mean by more than the
 * few per cent the benchmark is there to see.  min and max show how noisy
 * the run was.  Text is for people; --csv prints one line per result,
 * name,variant,median_ns,min_ns,max_ns,ratio, and nothing else on stdout.
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void *bench_calloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL) {
        perror("uvm-bench: calloc");
        exit(1);
    }
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct bench_stats bench_stats_of(const double *v, int n)
{
    double *s = bench_calloc((size_t)n, sizeof *s);
    struct bench_stats st = { 0, 0, 0 };
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    st.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    st.min = s[0];
    st.max = s[n - 1];
    free(s);
    return st;
}

static int csv;
static int met, missed;        /* targets, for the closing line */

void report_begin(const struct bench_opts *o, const char *version,
                  size_t pagesize)
{
    csv = o->csv;
    if (csv) {
        printf("name,variant,median_ns,min_ns,max_ns,ratio\n");
        return;
    }
    printf("uvm-bench: libuvm %s, %zu-byte pages, %d pages, %d blocks x "
           "%d rounds per variant, seed %lu%s\n", version, pagesize,
           BENCH_PAGES, o->blocks, o->rounds, o->seed,
           o->quick ? " (quick)" : "");
    printf("Times: median [min - max] over the blocks.  Ratios: median "
           "[min - max] of the\nratios of blocks run together (a libuvm/raw "
           "pair, a cycle of region counts).\n");
}

void report_row(const char *title, const char *unit)
{
    if (!csv)
        printf("\n%s (%s)\n", title, unit);
}

static void report_text(const struct bench_result *r)
{
    printf("  %-8s %9.0f [%7.0f - %7.0f]", r->variant, r->ns.median,
           r->ns.min, r->ns.max);
    if (r->has_ratio) {
        printf("  %s %.3f [%.3f - %.3f]", r->ratio_name, r->ratio.median,
               r->ratio.min, r->ratio.max);
        if (r->target > 0)
            printf("  target <= %.2f: %s", r->target,
                   r->ratio.median <= r->target ? "met" : "missed");
    }
    printf("\n");
}

static void report_csv(const struct bench_result *r)
{
    printf("%s,%s,%.1f,%.1f,%.1f,", r->row, r->variant, r->ns.median,
           r->ns.min, r->ns.max);
    if (r->has_ratio)
        printf("%.4f", r->ratio.median);
    printf("\n");
}

void report_result(const struct bench_result *r)
{
    if (r->has_ratio && r->target > 0) {
        if (r->ratio.median <= r->target)
            met++;
        else
            missed++;
    }
    if (csv)
        report_csv(r);
    else
        report_text(r);
    fflush(stdout);     /* a long run shows each row as it completes */
}

void report_note(const char *text)
{
    if (!csv)
        printf("  %s\n", text);
}

void report_end(void)
{
    if (!csv && met + missed > 0)
        printf("\nTargets: %d met, %d missed (a report, not a test: the "
               "exit status ignores them).\n", met, missed);
    fflush(stdout);
}
