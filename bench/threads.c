/*
 * threads.c: fault throughput with 1 and 2 threads, each on its own
 * region.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Appel & Li's machines had one processor; their section 5 worries about
 * TLB shootdown on multiprocessors.  Here each thread owns BENCH_PAGES
 * pages registered as its own region and runs TRAP+PROTN+UNPROT through
 * libuvm (uvm_protn, a store per page, the handler's uvm_unprot) for
 * --rounds passes; the block's throughput is all threads' faults over the
 * wall time from a common start to the last join.  Nothing is shared but
 * the process: its mmap_lock (taken for writing by every mprotect, for
 * reading by every fault) and its TLB shootdowns.  Thread counts alternate
 * 1, 2, 2, 1 block by block; 2/1 is the median of per-pair ratios, 2.0
 * for perfect scaling.  Each thread checks its fault count.
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "bench.h"

#include <uvm.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_THREADS 2

struct worker {
    char *mem;
    uvm_region *region;
    volatile long faults;    /* counted by the handler, same thread */
    int rounds;
    pthread_barrier_t *start;
    pthread_t tid;
};

static int unprot_handler(const struct uvm_fault *f)
{
    struct worker *w = f->arg;
    w->faults++;
    return uvm_unprot(f->page, PROT_READ | PROT_WRITE) == 0 ? UVM_RETRY
                                                            : UVM_DECLINE;
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    size_t ps = uvm_pagesize();
    pthread_barrier_wait(w->start);
    for (int r = 0; r < w->rounds; r++) {
        if (uvm_protn(w->mem, BENCH_PAGES, PROT_NONE) != 0) {
            perror("uvm-bench: uvm_protn");
            exit(1);
        }
        /* Stride 37 (prime to 100): an order no prefetcher follows. */
        for (size_t i = 0; i < BENCH_PAGES; i++)
            *(volatile char *)(w->mem + (i * 37 % BENCH_PAGES) * ps) = 1;
    }
    return NULL;
}

/* One block with n threads: faults per second, all threads together. */
static double threads_block(struct worker *w, int n, int rounds)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        w[i].faults = 0;
        w[i].rounds = rounds;
        w[i].start = &start;
        if (pthread_create(&w[i].tid, NULL, worker_run, &w[i]) != 0) {
            perror("uvm-bench: pthread_create");
            exit(1);
        }
    }
    pthread_barrier_wait(&start);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++)
        pthread_join(w[i].tid, NULL);
    uint64_t dt = bench_now_ns() - t0;
    pthread_barrier_destroy(&start);
    for (int i = 0; i < n; i++)
        if (w[i].faults != (long)rounds * BENCH_PAGES) {
            fprintf(stderr, "uvm-bench: threads: %ld faults, expected %ld\n",
                    w[i].faults, (long)rounds * BENCH_PAGES);
            exit(1);
        }
    return (double)n * rounds * BENCH_PAGES / ((double)dt / 1e9);
}

static void workers_init(struct worker *w)
{
    size_t len = BENCH_PAGES * uvm_pagesize();
    for (int i = 0; i < MAX_THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (w[i].mem == MAP_FAILED) {
            perror("uvm-bench: mmap");
            exit(1);
        }
        memset(w[i].mem, 1, len);
        w[i].region = uvm_trap(w[i].mem, len, unprot_handler, &w[i]);
        if (w[i].region == NULL) {
            perror("uvm-bench: uvm_trap");
            exit(1);
        }
    }
}

void run_threads(const struct bench_row *row, const struct bench_opts *o)
{
    struct worker w[MAX_THREADS];
    double *t[2], *q = bench_calloc((size_t)o->blocks, sizeof *q);
    workers_init(w);
    loops_use(BENCH_UVM);
    for (int k = 0; k < 2; k++) {
        t[k] = bench_calloc((size_t)o->blocks, sizeof *t[k]);
        (void)threads_block(w, k + 1, o->rounds);          /* warm-up */
    }
    for (int b = 0; b < o->blocks; b++) {
        for (int k = 0; k < 2; k++) {
            int n = b % 2 == 0 ? k : 1 - k;
            t[n][b] = threads_block(w, n + 1, o->rounds);
        }
        q[b] = t[1][b] / t[0][b];
    }
    report_row(row->title, row->unit);
    static const char *const names[] = { "1 thread", "2 threads" };
    for (int k = 0; k < 2; k++) {
        struct bench_result r = {
            .row = row->name, .variant = names[k], .kind = BENCH_VALUE,
            .unit = row->unit, .v = bench_stats_of(t[k], o->blocks),
            .n = o->blocks,
        };
        report_result(&r);
    }
    struct bench_result r = {
        .row = row->name, .variant = "2/1 (2.0: perfect)",
        .kind = BENCH_RATIO, .v = bench_stats_of(q, o->blocks),
        .n = o->blocks,
    };
    report_result(&r);
    report_note("TRAP+PROTN+UNPROT through libuvm, each thread on its own "
                "100-page region");
    for (int i = 0; i < MAX_THREADS; i++) {
        uvm_untrap(w[i].region);
        munmap(w[i].mem, BENCH_PAGES * uvm_pagesize());
    }
    for (int k = 0; k < 2; k++)
        free(t[k]);
    free(q);
}
