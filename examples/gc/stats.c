/*
 * stats.c: pause histograms and the report (text, CSV, gnuplot).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: gcs, this process's counters and histograms.  Histograms are
 * log-linear (32 buckets per power of two, so a percentile is within about
 * 3% of the true value); min and max are exact.
 *
 * Fault handler: gc_now_ns and gc_record run in it: clock_gettime and
 * relaxed atomics only.
 */
#include "gc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct gc_stats gcs;

uint64_t gc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t bucket_of(uint64_t v)
{
    if (v < 32)
        return (size_t)v;
    int e = 63 - __builtin_clzll(v);
    size_t b = 32 + (size_t)(e - 5) * 32 + ((v >> (e - 5)) & 31);
    return b < GC_HBUCKETS ? b : GC_HBUCKETS - 1;
}

static uint64_t bucket_low(size_t b)
{
    if (b < 32)
        return b;
    size_t e = (b - 32) / 32 + 5, sub = (b - 32) % 32;
    return (uint64_t)(32 + sub) << (e - 5);
}

static void record1(int h, uint64_t ns)
{
    if (__atomic_fetch_add(&gcs.count[h], 1, __ATOMIC_RELAXED) == 0)
        __atomic_store_n(&gcs.min[h], ns, __ATOMIC_RELAXED);
    __atomic_fetch_add(&gcs.bucket[h][bucket_of(ns)], 1, __ATOMIC_RELAXED);
    uint64_t m = __atomic_load_n(&gcs.min[h], __ATOMIC_RELAXED);
    while (ns < m && !__atomic_compare_exchange_n(&gcs.min[h], &m, ns, 1,
                         __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    m = __atomic_load_n(&gcs.max[h], __ATOMIC_RELAXED);
    while (ns > m && !__atomic_compare_exchange_n(&gcs.max[h], &m, ns, 1,
                         __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

void gc_record(int h, uint64_t ns)
{
    record1(h, ns);
    record1(H_ALL, ns);                 /* every mutator pause */
}

uint64_t gc_percentile(const struct gc_stats *s, int h, double q)
{
    if (s->count[h] == 0)
        return 0;
    if (q >= 1.0)
        return s->max[h];
    unsigned long want = (unsigned long)(q * (double)s->count[h]), seen = 0;
    for (size_t b = 0; b < GC_HBUCKETS; b++) {
        seen += s->bucket[h][b];
        if (seen > want) {
            uint64_t v = bucket_low(b);
            if (v < s->min[h])
                v = s->min[h];
            return v > s->max[h] ? s->max[h] : v;
        }
    }
    return s->max[h];
}

const char *gc_mode_name(int mode)
{
    static const char *names[] = { "stop", "soft", "vm" };
    return mode >= 0 && mode < GC_NMODES ? names[mode] : "?";
}

static const char *label(const struct gc_stats *s)
{
    return s->mode == GC_VM && s->concurrent ? "vm+conc" : gc_mode_name(s->mode);
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static void lat4(FILE *f, const struct gc_stats *s, int h, const char *sep)
{
    fprintf(f, "%.1f%s%.1f%s%.1f%s%.1f", us(s->count[h] ? s->min[h] : 0), sep,
            us(gc_percentile(s, h, 0.5)), sep, us(gc_percentile(s, h, 0.99)),
            sep, us(s->max[h]));
}

void gc_report_text(FILE *f, const struct gc_stats *s, int n)
{
    fprintf(f, "latencies in microseconds: min/median/p99/max\n");
    fprintf(f, "%-8s %5s %-31s %-31s %9s %8s %10s %9s %8s\n", "mode", "GCs",
            "flip pause", "trap/barrier slow path", "slow/GC", "max incr",
            "max pause", "total ms", "peak MB");
    for (int i = 0; i < n; i++) {
        const struct gc_stats *x = &s[i];
        char flip[64], slow[64];
        FILE *m = fmemopen(flip, sizeof flip, "w");
        lat4(m, x, H_FLIP, "/");
        fclose(m);
        if (x->mode == GC_STOP)
            snprintf(slow, sizeof slow, "-");
        else {
            m = fmemopen(slow, sizeof slow, "w");
            lat4(m, x, H_SLOW, "/");
            fclose(m);
        }
        double per = x->collections ? (double)x->count[H_SLOW] / x->collections
                                    : 0;
        fprintf(f, "%-8s %5lu %-31s %-31s %9.0f %8.1f %10.1f %9.0f %8.1f\n",
                label(x), x->collections, flip, slow, per, us(x->max[H_INCR]),
                us(x->max[H_ALL]), x->total_ms, x->peak_rss_kb / 1024.0);
    }
    for (int i = 0; i < n; i++) {
        const struct gc_stats *x = &s[i];
        if (x->mode == GC_VM)
            fprintf(f, "%s: %lu traps, %lu increments, %lu pages scanned by "
                    "the background thread, %lu collections finished early\n",
                    label(x), x->traps, x->increments, x->bg_pages,
                    x->finishes);
        if (x->mode == GC_SOFT)
            fprintf(f, "%s: %lu barrier slow paths, %lu increments, %lu "
                    "collections finished early\n", label(x), x->slow_paths,
                    x->increments, x->finishes);
    }
}

void gc_report_csv(FILE *f, const struct gc_stats *s, int n)
{
    fprintf(f, "mode,collections,flip_min_us,flip_median_us,flip_p99_us,"
            "flip_max_us,slow_count,slow_min_us,slow_median_us,slow_p99_us,"
            "slow_max_us,slow_per_collection,incr_max_us,max_pause_us,"
            "total_ms,peak_rss_kb\n");
    for (int i = 0; i < n; i++) {
        const struct gc_stats *x = &s[i];
        fprintf(f, "%s,%lu,", label(x), x->collections);
        lat4(f, x, H_FLIP, ",");
        fprintf(f, ",%lu,", x->count[H_SLOW]);
        lat4(f, x, H_SLOW, ",");
        fprintf(f, ",%.1f,%.1f,%.1f,%.1f,%ld\n",
                x->collections ? (double)x->count[H_SLOW] / x->collections : 0,
                us(x->max[H_INCR]), us(x->max[H_ALL]), x->total_ms,
                x->peak_rss_kb);
    }
}

/* Pause distributions side by side: for each mode, how many pauses last
 * at least x (a survival curve, log-log), one panel per mode. */
int gc_plot(const char *png, const struct gc_stats *s, int n)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "uvm-gc: gnuplot not found: --plot %s skipped "
                "(install gnuplot, e.g. apt-get install gnuplot-nox)\n", png);
        return 0;
    }
    char dat[] = "/tmp/uvm-gc-plot-XXXXXX";
    int fd = mkstemp(dat);
    if (fd < 0)
        return perror("mkstemp"), -1;
    FILE *d = fdopen(fd, "w");
    for (int i = 0; i < n; i++) {
        unsigned long left = s[i].count[H_ALL];
        for (size_t b = 0; b < GC_HBUCKETS && left > 0; b++) {
            if (s[i].bucket[H_ALL][b] == 0)
                continue;
            fprintf(d, "%g %lu\n", us(bucket_low(b)) > 0 ? us(bucket_low(b))
                                                          : 0.001, left);
            left -= s[i].bucket[H_ALL][b];
        }
        fprintf(d, "%g 1\n\n\n", us(s[i].max[H_ALL]));
    }
    fclose(d);
    FILE *g = popen("gnuplot", "w");
    if (g == NULL)
        return perror("gnuplot"), unlink(dat), -1;
    fprintf(g, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) "
               "{ set terminal pngcairo size %d,420 noenhanced } "
               "else { set terminal png size %d,420 noenhanced }\n"
               "set output '%s'\nset logscale xy\nset grid\n"
               "set xlabel 'pause (us)'\nset ylabel 'pauses >= x'\n"
               "set multiplot layout 1,%d title 'uvm-gc: mutator pauses'\n",
            420 * n, 420 * n, png, n);
    uint64_t hi = 1000;
    for (int i = 0; i < n; i++)
        hi = s[i].max[H_ALL] > hi ? s[i].max[H_ALL] : hi;
    fprintf(g, "set xrange [0.01:%g]\n", us(hi) * 2);   /* one scale */
    for (int i = 0; i < n; i++)
        fprintf(g, "set title '%s (max %.0f us)'\n"
                   "plot '%s' index %d using 1:2 with steps lw 2 notitle\n",
                label(&s[i]), us(s[i].max[H_ALL]), dat, i);
    fprintf(g, "unset multiplot\n");
    int rc = pclose(g);
    unlink(dat);
    if (rc != 0) {
        fprintf(stderr, "uvm-gc: gnuplot failed (status %d)\n", rc);
        return -1;
    }
    fprintf(stderr, "uvm-gc: wrote %s\n", png);
    return 0;
}
