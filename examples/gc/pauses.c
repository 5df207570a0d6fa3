/*
 * pauses.c: every mutator pause as a time interval, and the minimum
 * mutator utilization computed from them (Cheng and Blelloch, PLDI 2001).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the interval log of this process (an anonymous mapping made before
 * the workload starts, so recording never allocates).
 *
 * MMU(w) is the least fraction of any window of length w in which the
 * mutator ran.  A pause histogram says how long pauses are; MMU says
 * whether they bunch up: a thousand 10 us traps in one millisecond leave
 * the mutator nothing, though none of them is long.
 *
 * Invariants: intervals are appended by the mutator's thread only (the
 * trap handler runs on it and never interrupts collector code, so appends
 * do not nest), in time order, disjoint.  A pause that starts less than
 * GC_MERGE_NS after the previous one ended is merged into it, and when the
 * log is full the last interval is stretched to the new end: both count
 * a little mutator time as pause, so the MMU reported is never higher
 * than the true one.
 *
 * Fault handler: gc_pauses_add runs in it (plain stores, no calls).
 */
#include "gc.h"

#include <math.h>
#include <stdlib.h>
#include <sys/mman.h>

#define GC_MAX_PAUSES ((size_t)1 << 20)
#define GC_MERGE_NS 1000

static struct gc_pause *log_;
static size_t nlog;

int gc_pauses_init(void)
{
    void *p = mmap(NULL, GC_MAX_PAUSES * sizeof *log_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    log_ = p;
    nlog = 0;
    return 0;
}

void gc_pauses_add(uint64_t start, uint64_t end)
{
    if (log_ == NULL)
        return;
    if (nlog > 0 && (start < log_[nlog - 1].end + GC_MERGE_NS ||
                     nlog == GC_MAX_PAUSES)) {
        if (end > log_[nlog - 1].end)
            log_[nlog - 1].end = end;
        gcs.merged++;
        return;
    }
    log_[nlog].start = start;
    log_[nlog].end = end;
    nlog++;
}

const struct gc_pause *gc_pauses(size_t *n)
{
    *n = nlog;
    return log_;
}

/* Pause time in [t0, t] given prefix sums cum (cum[i]: pauses before
 * interval i); k: the first interval starting at or after t, kept by the
 * caller so that a sweep with growing t costs O(1) per step. */
static uint64_t paused_until(const struct gc_pause *p, const uint64_t *cum,
                             size_t n, uint64_t t, size_t *k)
{
    while (*k < n && p[*k].start < t)
        (*k)++;
    while (*k > 0 && p[*k - 1].start >= t)
        (*k)--;
    uint64_t v = cum[*k];
    if (*k > 0 && p[*k - 1].end > t)
        v -= p[*k - 1].end - t;
    return v;
}

/* The pause time in the window [a, a + w]. */
static uint64_t window(const struct gc_pause *p, const uint64_t *cum,
                       size_t n, uint64_t a, uint64_t w, size_t *ka,
                       size_t *kb)
{
    return paused_until(p, cum, n, a + w, kb) - paused_until(p, cum, n, a, ka);
}

/* The worst window either starts where a pause starts or ends where one
 * ends (the pause time in [a, a + w] is piecewise linear in a), or lies at
 * an end of the run. */
static double mmu_with(const struct gc_pause *p, const uint64_t *cum,
                       size_t n, uint64_t t0, uint64_t t1, uint64_t w)
{
    if (w >= t1 - t0)
        return 1.0 - (double)cum[n] / (double)(t1 - t0);
    size_t ka = 0, kb = 0;
    uint64_t worst = window(p, cum, n, t0, w, &ka, &kb);
    uint64_t x = window(p, cum, n, t1 - w, w, &ka, &kb);
    worst = x > worst ? x : worst;
    ka = kb = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i].start < t0 || p[i].start + w > t1)
            continue;
        x = window(p, cum, n, p[i].start, w, &ka, &kb);
        worst = x > worst ? x : worst;
    }
    ka = kb = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i].end < t0 + w || p[i].end > t1)
            continue;
        x = window(p, cum, n, p[i].end - w, w, &ka, &kb);
        worst = x > worst ? x : worst;
    }
    if (worst > w)
        worst = w;
    return 1.0 - (double)worst / (double)w;
}

static uint64_t *prefix(const struct gc_pause *p, size_t n)
{
    uint64_t *cum = malloc((n + 1) * sizeof *cum);
    if (cum == NULL)
        return NULL;
    cum[0] = 0;
    for (size_t i = 0; i < n; i++)
        cum[i + 1] = cum[i] + (p[i].end - p[i].start);
    return cum;
}

double gc_mmu(const struct gc_pause *p, size_t n, uint64_t t0, uint64_t t1,
              uint64_t w)
{
    uint64_t *cum = prefix(p, n);
    if (cum == NULL || t1 <= t0 || w == 0) {
        free(cum);
        return 0;
    }
    double m = mmu_with(p, cum, n, t0, t1, w);
    free(cum);
    return m;
}

/* The curve: GC_NMMU windows spaced evenly on a log scale from 10 us to
 * the whole run, and the two windows the reports quote. */
void gc_mmu_curve(struct gc_stats *s, const struct gc_pause *p, size_t n,
                  uint64_t t0, uint64_t t1)
{
    uint64_t *cum = prefix(p, n);
    s->nmmu = 0;
    if (cum == NULL || t1 <= t0 + 10000) {
        free(cum);
        return;
    }
    double lo = 10e3, hi = (double)(t1 - t0);
    for (int i = 0; i < GC_NMMU; i++) {
        uint64_t w = (uint64_t)(lo * pow(hi / lo, (double)i / (GC_NMMU - 1)));
        s->mmu_w[i] = (double)w / 1e6;
        s->mmu[i] = mmu_with(p, cum, n, t0, t1, w);
    }
    s->nmmu = GC_NMMU;
    s->mmu_1ms = mmu_with(p, cum, n, t0, t1, 1000000);
    s->mmu_10ms = mmu_with(p, cum, n, t0, t1, 10000000);
    free(cum);
}
