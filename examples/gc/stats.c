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
 * A pause is bracketed by gc_pause_begin and gc_pause_end on the mutator's
 * thread; the end records it in the histograms and the interval log
 * (pauses.c).  With --breakdown each pause also measures its thread CPU
 * time (a preempted pause has wall >> CPU), the time spent in protection
 * calls and the minor faults it took (first touches of pages), and the
 * longest GC_NTOP are kept with that breakdown.
 *
 * Fault handler: gc_now_ns, gc_pause_begin, gc_pause_end and
 * gc_prot_timed run in it: clock_gettime, getrusage, plain stores to
 * thread-local or mutator-only data, relaxed atomics.
 */
#define _GNU_SOURCE 1   /* RUSAGE_THREAD */
#include "gc.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct gc_stats gcs;
int gc_breakdown;
int gc_rt_pauses;
static __thread int rt_on;

/* The pause in progress on this thread (--breakdown). */
static __thread struct {
    uint64_t cpu0, prot;
    unsigned nprot;
    long flt0;
} cur;

uint64_t gc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long minflt(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_minflt;
}

/* --rt-pauses: a collector pause (flip, increment, trap) runs SCHED_FIFO,
 * so that other processes on a busy host cannot preempt it and its wall
 * time is the collector's own.  A diagnostic, off by default: it needs
 * CAP_SYS_NICE (without it nothing changes), and it costs two system calls
 * a pause, so the soft barrier's slow paths (a few hundred ns) are left
 * out. */
uint64_t gc_pause_begin_rt(void)
{
    if (gc_rt_pauses) {
        struct sched_param sp = { .sched_priority = 1 };
        rt_on = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
    }
    return gc_pause_begin();
}

static void rt_leave(void)
{
    if (rt_on) {
        struct sched_param sp = { .sched_priority = 0 };
        (void)sched_setscheduler(0, SCHED_OTHER, &sp);
        rt_on = 0;
    }
}

/* A pause begun that turned out not to be one (a trap declined). */
void gc_pause_cancel(void)
{
    rt_leave();
}

uint64_t gc_pause_begin(void)
{
    if (gc_breakdown) {
        cur.prot = 0;
        cur.nprot = 0;
        cur.flt0 = minflt();
        cur.cpu0 = cpu_ns();
    }
    return gc_now_ns();
}

/* A protection call that began at t0 has returned. */
void gc_prot_timed(uint64_t t0)
{
    uint64_t d = gc_now_ns() - t0;
    cur.prot += d;
    cur.nprot++;
    __atomic_fetch_add(&gcs.nprot, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&gcs.prot_ns, d, __ATOMIC_RELAXED);
}

/* Keep the GC_NTOP longest pauses, longest first (mutator thread only). */
static void keep_top(int h, uint64_t t0, uint64_t wall)
{
    int i = GC_NTOP - 1;
    if (gcs.top[i].wall >= wall)
        return;
    struct gc_top t = {
        .hist = h, .nprot = cur.nprot, .at = t0, .wall = wall,
        .cpu = cpu_ns() - cur.cpu0, .prot = cur.prot,
        .minflt = minflt() - cur.flt0,
    };
    for (; i > 0 && gcs.top[i - 1].wall < wall; i--)
        gcs.top[i] = gcs.top[i - 1];
    gcs.top[i] = t;
}

static void record(int h, uint64_t ns);

void gc_pause_end(int h, uint64_t t0)
{
    uint64_t t1 = gc_now_ns();
    rt_leave();
    if (gc_breakdown)
        keep_top(h, t0, t1 - t0);
    record(h, t1 - t0);
    gc_pauses_add(t0, t1);
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

static void record(int h, uint64_t ns)
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

const char *gc_label(const struct gc_stats *s)
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
    fprintf(f, "latencies in microseconds: min/median/p99/max; MMU: minimum "
            "mutator utilization in any 1 ms / 10 ms window\n");
    fprintf(f, "%-8s %5s %-31s %-31s %9s %8s %10s %7s %7s %9s %7s %8s\n",
            "mode", "GCs", "flip pause", "trap/barrier slow path", "slow/GC",
            "max incr", "max pause", "MMU 1ms", "MMU10ms", "total ms",
            "CPU ms", "peak MB");
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
        fprintf(f, "%-8s %5lu %-31s %-31s %9.0f %8.1f %10.1f %7.3f %7.3f "
                "%9.0f %7.0f %8.1f\n", gc_label(x), x->collections, flip, slow,
                per, us(x->max[H_INCR]), us(x->max[H_ALL]), x->mmu_1ms,
                x->mmu_10ms, x->total_ms, x->cpu_ms, x->peak_rss_kb / 1024.0);
    }
    for (int i = 0; i < n; i++) {
        const struct gc_stats *x = &s[i];
        if (x->mode == GC_VM)
            fprintf(f, "%s: %lu traps, %lu increments, %lu pages scanned by "
                    "the background thread, %lu collections finished early, "
                    "%lu protection calls by the mutator (%.1f ms), %lu "
                    "duplicate copies, %lu flips waited for the background "
                    "thread (max %.1f us), %lu increments ended inside a "
                    "page\n",
                    gc_label(x), x->traps, x->increments, x->bg_pages,
                    x->finishes, x->nprot, (double)x->prot_ns / 1e6,
                    x->duplicates, x->flip_waits, us(x->flip_wait_max),
                    x->partial);
        if (x->mode == GC_SOFT)
            fprintf(f, "%s: %lu barrier slow paths, %lu increments, %lu "
                    "collections finished early\n", gc_label(x), x->slow_paths,
                    x->increments, x->finishes);
    }
}

void gc_report_csv(FILE *f, const struct gc_stats *s, int n)
{
    fprintf(f, "mode,collections,flip_min_us,flip_median_us,flip_p99_us,"
            "flip_max_us,slow_count,slow_min_us,slow_median_us,slow_p99_us,"
            "slow_max_us,slow_per_collection,incr_max_us,max_pause_us,"
            "mmu_1ms,mmu_10ms,total_ms,cpu_ms,peak_rss_kb\n");
    for (int i = 0; i < n; i++) {
        const struct gc_stats *x = &s[i];
        fprintf(f, "%s,%lu,", gc_label(x), x->collections);
        lat4(f, x, H_FLIP, ",");
        fprintf(f, ",%lu,", x->count[H_SLOW]);
        lat4(f, x, H_SLOW, ",");
        fprintf(f, ",%.1f,%.1f,%.1f,%.4f,%.4f,%.1f,%.1f,%ld\n",
                x->collections ? (double)x->count[H_SLOW] / x->collections : 0,
                us(x->max[H_INCR]), us(x->max[H_ALL]), x->mmu_1ms,
                x->mmu_10ms, x->total_ms, x->cpu_ms, x->peak_rss_kb);
    }
}

/* --breakdown: where the longest pauses' time went.  wall - cpu is time
 * the thread was not running (preempted on a busy host); minflt counts
 * first touches of pages. */
void gc_report_breakdown(FILE *f, const struct gc_stats *s, int n)
{
    static const char *kind[] = { "flip", "trap", "incr" };
    fprintf(f, "longest pauses: kind, at ms into the run, wall us, thread "
            "CPU us, off-CPU us, protection calls (us), minor faults\n");
    for (int i = 0; i < n; i++)
        for (int t = 0; t < GC_NTOP && s[i].top[t].wall > 0; t++) {
            const struct gc_top *p = &s[i].top[t];
            uint64_t off = p->wall > p->cpu ? p->wall - p->cpu : 0;
            fprintf(f, "%-8s %-4s %9.1f %9.1f %9.1f %9.1f %4u (%8.1f) %6ld\n",
                    gc_label(&s[i]), p->hist == H_SLOW && s[i].mode == GC_SOFT
                    ? "slow" : kind[p->hist], (double)p->at / 1e6,
                    us(p->wall), us(p->cpu), us(off), p->nprot, us(p->prot),
                    p->minflt);
        }
}

/* Two panels, each with every mode on the same axes: left, how many pauses
 * last at least x (a survival curve, log-log); right, the MMU curves
 * (window length, log, against minimum mutator utilization). */
static int plot_data(FILE *d, const struct gc_stats *s, int n)
{
    for (int i = 0; i < n; i++) {
        unsigned long left = s[i].count[H_ALL];
        if (left == 0) {
            fprintf(d, "1 1\n\n\n");          /* plotted as NaN */
            continue;
        }
        for (size_t b = 0; b < GC_HBUCKETS && left > 0; b++) {
            if (s[i].bucket[H_ALL][b] == 0)
                continue;
            fprintf(d, "%g %lu\n", us(bucket_low(b)) > 0 ? us(bucket_low(b))
                                                          : 0.001, left);
            left -= s[i].bucket[H_ALL][b];
        }
        fprintf(d, "%g 1\n\n\n", us(s[i].max[H_ALL]));
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < s[i].nmmu; k++)
            fprintf(d, "%g %g\n", s[i].mmu_w[k], s[i].mmu[k]);
        fprintf(d, "\n\n");
    }
    return ferror(d) ? -1 : 0;
}

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
    int bad = plot_data(d, s, n);
    if (fclose(d) != 0 || bad)
        return perror(dat), unlink(dat), -1;
    FILE *g = popen("gnuplot", "w");
    if (g == NULL)
        return perror("gnuplot"), unlink(dat), -1;
    uint64_t hi = 1000;
    for (int i = 0; i < n; i++)
        hi = s[i].max[H_ALL] > hi ? s[i].max[H_ALL] : hi;
    fprintf(g, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) "
               "{ set terminal pngcairo size 1200,480 noenhanced } "
               "else { set terminal png size 1200,480 noenhanced }\n"
               "set output '%s'\nset grid\n"
               "set multiplot layout 1,2 title 'uvm-gc: mutator pauses'\n"
               "set logscale xy\nset xrange [0.01:%g]\n"
               "set key top right\n"
               "set title 'pause distribution'\n"
               "set xlabel 'pause (us)'\nset ylabel 'pauses >= x'\n"
               "plot ", png, us(hi) * 2);
    for (int i = 0; i < n; i++)       /* a mode without pauses: a key only */
        fprintf(g, s[i].count[H_ALL] ? "%s'%s' index %d using 1:2 with steps "
                   "lw 2 title '%s (max %.0f us)'"
                   : "%s'%s' index %d using 1:(NaN) title '%s (no pauses)'",
                i ? ", " : "", dat, i, gc_label(&s[i]), us(s[i].max[H_ALL]));
    fprintf(g, "\nunset logscale y\nset logscale x\nset autoscale x\n"
               "set yrange [0:1.02]\nset key bottom right\n"
               "set title 'minimum mutator utilization'\n"
               "set xlabel 'window (ms)'\nset ylabel 'MMU'\nplot ");
    for (int i = 0; i < n; i++)
        fprintf(g, "%s'%s' index %d using 1:2 with linespoints lw 2 "
                   "title '%s (1 ms: %.2f, 10 ms: %.2f)'", i ? ", " : "", dat,
                n + i, gc_label(&s[i]), s[i].mmu_1ms, s[i].mmu_10ms);
    fprintf(g, "\nunset multiplot\n");
    int rc = pclose(g);
    unlink(dat);
    if (rc != 0) {
        fprintf(stderr, "uvm-gc: gnuplot failed (status %d)\n", rc);
        return -1;
    }
    fprintf(stderr, "uvm-gc: wrote %s\n", png);
    return 0;
}
