/*
 * writer.c: the writer thread, which updates random keys at full speed,
 * logs every update and records how long each one took.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the writer's seq counter, its log, its latency histograms (one
 * per phase: before, during, after the save) and its trace (worst
 * latency per millisecond, for --plot).  An operation's latency is the
 * time between the ends of two consecutive operations, so a stall of any
 * cause (a park for the snapshot instant, a fault, being descheduled)
 * lands on the operation it delayed.  The saver parks the writer between
 * two operations to take a snapshot, as Redis's single-threaded server is
 * between two commands when it forks.  Must never: write the store while
 * parked, or allocate memory while running (the memory probes would see
 * it): the log and the trace are touched before the writer starts.
 */
#include "kvsave.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t kv_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- histogram: 64 linear buckets per power of two (1.6% error) ---- */

static unsigned bucket(uint64_t ns)
{
    if (ns < 128)
        return (unsigned)ns;
    unsigned msb = 63 - (unsigned)__builtin_clzll(ns);
    unsigned i = 128 + (msb - 7) * 64 + (unsigned)((ns >> (msb - 6)) - 64);
    return i < KV_HBUCKETS ? i : KV_HBUCKETS - 1;
}

static uint64_t bucket_top(unsigned i)
{
    if (i < 128)
        return i;
    unsigned msb = (i - 128) / 64 + 7, m = (i - 128) % 64 + 64;
    return ((uint64_t)(m + 1) << (msb - 6)) - 1;
}

void kv_hist_add(struct kv_hist *h, uint64_t ns)
{
    h->n++;
    h->sum_ns += ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
    h->b[bucket(ns)]++;
}

/* The upper edge of the bucket holding the q-quantile, capped at max. */
uint64_t kv_hist_quantile(const struct kv_hist *h, double q)
{
    uint64_t want = (uint64_t)(q * (double)h->n), seen = 0;
    for (unsigned i = 0; i < KV_HBUCKETS; i++) {
        seen += h->b[i];
        if (seen > want)
            return bucket_top(i) < h->max_ns ? bucket_top(i) : h->max_ns;
    }
    return h->max_ns;
}

/* Known inputs, known quantiles: 1..100000 ns once each.  Run at every
 * start (a few hundred microseconds), so that a wrong p99 cannot be
 * reported quietly. */
int kv_hist_selftest(void)
{
    static struct kv_hist h;
    memset(&h, 0, sizeof h);
    for (uint64_t ns = 1; ns <= 100000; ns++)
        kv_hist_add(&h, ns);
    uint64_t p50 = kv_hist_quantile(&h, 0.50), p99 = kv_hist_quantile(&h, 0.99);
    return h.n == 100000 && h.max_ns == 100000 &&
           p50 >= 50000 && p50 <= 50000 * 1.016 &&
           p99 >= 99000 && p99 <= 100000 &&
           kv_hist_quantile(&h, 1.0) == 100000 ? 0 : -1;
}

/* ---- the thread ---- */

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return *s = x;
}

/* One update, logged; -1 (nothing written) once the log is full. */
static int update(struct kv_writer *w)
{
    struct kv_store *kv = w->kv;
    uint32_t i = (uint32_t)((xorshift(&w->rng) >> 11) % kv->nkeys);
    uint64_t key = kv_key(i);
    uint32_t vi = kv_lookup(kv, key);
    uint32_t seq = atomic_load_explicit(&w->seq, memory_order_relaxed) + 1;
    size_t n = atomic_load_explicit(&w->log_n, memory_order_relaxed);
    if (w->logging && n == w->log_cap) {
        atomic_store(&w->overflow, 1);  /* an unlogged update would make */
        return -1;                      /* the image unverifiable: stop */
    }
    if (w->logging) {
        w->log[n].vindex = vi;
        w->log[n].prev = kv_seq_of(kv, vi);
        atomic_store_explicit(&w->log_n, n + 1, memory_order_relaxed);
    }
    kv_fill(kv->values + (size_t)vi * KV_VWORDS, key, seq);
    atomic_store_explicit(&w->seq, seq, memory_order_release);
    return 0;
}

static void park_here(struct kv_writer *w)
{
    atomic_store_explicit(&w->parked, 1, memory_order_release);
    /* Sleep rather than spin: on a small machine a spinning writer would
     * take a CPU from the take itself (fork's page-table copy, or the
     * library's protection threads), which Redis's main thread, busy in
     * fork(), does not.  The futex's wake-up adds a few microseconds to
     * the stall of every way alike. */
    while (atomic_load_explicit(&w->pause, memory_order_acquire))
        syscall(SYS_futex, &w->pause, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
    atomic_store_explicit(&w->parked, 0, memory_order_relaxed);
}

static void record(struct kv_writer *w, uint64_t lat, uint64_t t)
{
    int ph = atomic_load_explicit(&w->phase, memory_order_relaxed);
    kv_hist_add(&w->hist[ph], lat);
    w->ops[ph]++;
    size_t ms = (size_t)((t - w->t0) / 1000000u);
    if (ms < w->trace_len) {
        uint32_t l = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
        if (l > w->trace[ms])
            w->trace[ms] = l;
    }
}

static void *writer_main(void *arg)
{
    struct kv_writer *w = arg;
    if (w->nice != 0 &&                 /* this thread only (Linux) */
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), w->nice) < 0)
        perror("uvm-kvsave: setpriority (the writer keeps its nice)");
    uint64_t prev = kv_now_ns();
    while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
        if (atomic_load_explicit(&w->pause, memory_order_acquire))
            park_here(w);
        if (update(w) < 0) {
            sched_yield();              /* wait for stop, writing nothing */
            continue;
        }
        uint64_t t = kv_now_ns();
        record(w, t - prev, t);
        prev = t;
    }
    return NULL;
}

/* ---- the saver's side ---- */

/* Resident before the writer starts, and not inherited by a fork()
 * child: what the writer records during a fork save must not be charged
 * to fork as copy-on-write copies, since Redis has no such record. */
static void *touched(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (madvise(p, bytes, MADV_DONTFORK) < 0) {
        munmap(p, bytes);
        return NULL;
    }
    return p;
}

struct kv_writer *kv_writer_new(struct kv_store *kv, size_t log_cap,
                                double max_seconds, uint64_t seed, int nice)
{
    struct kv_writer *w = touched(sizeof *w);
    if (w == NULL)
        return NULL;
    w->kv = kv;
    w->nice = nice;
    w->rng = seed | 1;
    w->log_cap = log_cap;
    w->trace_len = (size_t)(max_seconds * 1000) + 1;
    w->log = touched(log_cap * sizeof *w->log);
    w->trace = touched(w->trace_len * sizeof *w->trace);
    if (w->log == NULL || w->trace == NULL) {
        kv_writer_delete(w);
        return NULL;
    }
    return w;
}

void kv_writer_delete(struct kv_writer *w)
{
    if (w->log != NULL)
        munmap(w->log, w->log_cap * sizeof *w->log);
    if (w->trace != NULL)
        munmap(w->trace, w->trace_len * sizeof *w->trace);
    munmap(w, sizeof *w);
}

/* Starts at the store's newest seq, so that seqs stay unique in it. */
int kv_writer_start(struct kv_writer *w)
{
    uint32_t top = 0;
    for (uint32_t i = 0; i < w->kv->nkeys; i++)
        if (kv_seq_of(w->kv, i) > top)
            top = kv_seq_of(w->kv, i);
    atomic_store(&w->seq, top);
    w->t0 = kv_now_ns();
    int rc = pthread_create(&w->thread, NULL, writer_main, w);
    return rc == 0 ? 0 : (errno = rc, -1);
}

uint32_t kv_writer_park(struct kv_writer *w)
{
    atomic_store_explicit(&w->pause, 1, memory_order_release);
    while (!atomic_load_explicit(&w->parked, memory_order_acquire))
        sched_yield();
    return atomic_load_explicit(&w->seq, memory_order_acquire);
}

void kv_writer_mark_and_go(struct kv_writer *w)
{
    KV_ASSERT(atomic_load(&w->parked));
    w->log_base = atomic_load(&w->seq);
    atomic_store(&w->log_n, 0);
    w->logging = 1;
    kv_writer_go(w);
}

/* Waits until the writer has left its park, so that a park right after
 * cannot mistake the old one for a new one. */
void kv_writer_go(struct kv_writer *w)
{
    atomic_store_explicit(&w->pause, 0, memory_order_release);
    syscall(SYS_futex, &w->pause, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    while (atomic_load_explicit(&w->parked, memory_order_acquire))
        sched_yield();
}

void kv_writer_stop(struct kv_writer *w)
{
    atomic_store(&w->stop, 1);
    pthread_join(w->thread, NULL);
}
