/*
 * uvm-bench-dirty.c: the DIRTY benchmark (make bench-dirty, part of make
 * bench).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Measures, side by side in one run, for each DIRTY method that works
 * here: the cost per dirtied page (write phase with its faults, plus the
 * uvm_dirty call) on 64 MiB with 10% and 100% of the pages written once in
 * random order; the cost of uvm_dirty on a clean 64 MiB and 1 GiB range;
 * the process's mapping count before, at the peak and after; and the
 * write-protect TRAP round trip (uvm_trap + PROT_READ + handler UNPROT),
 * through userfaultfd against raw mprotect.
 * Method after dirty-tracking.md 6.1: populated region, MADV_NOHUGEPAGE,
 * partial Fisher-Yates, every cycle verified, medians.  Only the public
 * header is used.
 *
 * Usage: uvm-bench-dirty [cycles]     (default 7; UVM_BENCH_SEED=n)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <uvm.h>

#define MIB (1024 * 1024UL)

static size_t ps;
static unsigned seed;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static size_t map_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static char *map_region(size_t len, int populate)
{
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    madvise(p, len, MADV_NOHUGEPAGE);
    if (populate)
        memset(p, 1, len);
    return p;
}

struct result {
    double per_page[2];          /* 10 %, 100 % */
    double clean64, clean1g;     /* ns; clean1g < 0: not trackable */
    int clean1g_errno;
    size_t maps_before, maps_peak, maps_after;
};

/* One method: per-page cost at 10 % and 100 %, and the mapping counts. */
static int bench_writes(int method, int cycles, struct result *res)
{
    size_t len = 64 * MIB, n = len / ps;
    char *p = map_region(len, 1);
    uint32_t *perm = malloc(n * sizeof *perm);
    void **pages = malloc(n * sizeof *pages);
    double *samples = malloc((size_t)cycles * sizeof *samples);
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    res->maps_before = map_count();
    uvm_tracker *t = uvm_dirty_start(p, len, method);
    if (t == NULL)
        return -errno;
    res->maps_peak = 0;
    static const int pct[2] = { 10, 100 };
    for (int m = 0; m < 2; m++) {
        size_t k = n * (size_t)pct[m] / 100;
        for (int c = -1; c < cycles; c++) {           /* c = -1: warm-up */
            for (size_t i = 0; i < k; i++) {          /* partial F-Y */
                size_t j = i + (size_t)rand_r(&seed) % (n - i);
                uint32_t x = perm[i];
                perm[i] = perm[j];
                perm[j] = x;
            }
            double t0 = now_ns();
            for (size_t i = 0; i < k; i++)
                *(volatile uint64_t *)(p + (size_t)perm[i] * ps) = (uint64_t)c;
            if (c == 0 && m == 0) {               /* outside timing */
                double pause = now_ns();
                size_t mc = map_count();
                if (mc > res->maps_peak)
                    res->maps_peak = mc;
                t0 += now_ns() - pause;
            }
            ssize_t got = uvm_dirty(t, pages, n);
            double t1 = now_ns();
            if (got != (ssize_t)k) {
                fprintf(stderr, "%s: %zd pages reported, %zu written\n",
                        uvm_dirty_method(t), got, k);
                return -EIO;
            }
            if (c >= 0)
                samples[c] = (t1 - t0) / (double)k;
        }
        res->per_page[m] = median(samples, cycles);
    }
    res->maps_after = map_count();
    for (int c = 0; c < cycles; c++) {
        double t0 = now_ns();
        uvm_dirty(t, pages, n);
        samples[c] = now_ns() - t0;
    }
    res->clean64 = median(samples, cycles);
    uvm_dirty_stop(t);
    munmap(p, len);
    free(perm);
    free(pages);
    free(samples);
    return 0;
}

static void bench_clean_1g(int method, struct result *res)
{
    size_t len = 1024 * MIB;
    char *p = map_region(len, 1);          /* populated: every PTE walked */
    uvm_tracker *t = uvm_dirty_start(p, len, method);
    res->clean1g = -1;
    if (t == NULL) {
        res->clean1g_errno = errno;
    } else {
        double s[31];
        void *page;
        for (int c = 0; c < 31; c++) {
            double t0 = now_ns();
            uvm_dirty(t, &page, 1);
            s[c] = now_ns() - t0;
        }
        res->clean1g = median(s, 31);
        uvm_dirty_stop(t);
    }
    munmap(p, len);
}

/* ---- the write-protect TRAP round trip, with and without userfaultfd ----
 *
 * PROTN to PROT_READ over n pages, then a write to each page; the handler
 * makes its page read-write again (Appel & Li's TRAP+PROTN+UNPROT with
 * write-only changes).  Through libuvm, whose trap region is read-write
 * memory, the changes go through userfaultfd write-protection and the
 * faults arrive as SIGBUS; the raw baseline is a hand-written SIGSEGV
 * handler with mprotect.  Blocks alternate in one process (the SIGSEGV
 * action is swapped between them), and the ratio is the median of the
 * per-pair ratios. */

static int unprot_handler(const struct uvm_fault *f)
{
    return uvm_unprot(f->page, PROT_READ | PROT_WRITE) == 0 ? UVM_RETRY
                                                            : UVM_DECLINE;
}

static void raw_wp_handler(int sig, siginfo_t *si, void *uc)
{
    uintptr_t pg = (uintptr_t)si->si_addr & ~(uintptr_t)(ps - 1);
    mprotect((void *)pg, ps, PROT_READ | PROT_WRITE);
}

static double wp_block(char *p, size_t n, int uvm)
{
    if (uvm)
        uvm_protn(p, n, PROT_READ);
    else
        mprotect(p, n * ps, PROT_READ);
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        ((volatile char *)p)[i * ps] = 2;
    return (now_ns() - t0) / (double)n;
}

static void bench_trap(int cycles)
{
    size_t n = 1024;
    int blocks = 4 * cycles + 1;
    char *p = map_region(n * ps, 1), *q = map_region(n * ps, 1);
    uvm_region *r = uvm_trap(p, n * ps, unprot_handler, NULL);
    struct sigaction uvm_act, raw_act;
    sigaction(SIGSEGV, NULL, &uvm_act);
    memset(&raw_act, 0, sizeof raw_act);
    raw_act.sa_sigaction = raw_wp_handler;
    raw_act.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&raw_act.sa_mask);
    double *u = malloc((size_t)blocks * sizeof *u);
    double *w = malloc((size_t)blocks * sizeof *w);
    double *ratio = malloc((size_t)blocks * sizeof *ratio);
    struct uvm_stats s0, s1;
    uvm_stats(&s0);
    wp_block(p, n, 1);                                  /* warm-up */
    size_t maps_uvm = map_count();
    for (int b = 0; b < blocks; b++) {
        for (int k = 0; k < 2; k++) {
            int uvm = (b + k) % 2 == 0;
            sigaction(SIGSEGV, uvm ? &uvm_act : &raw_act, NULL);
            if (uvm) {
                u[b] = wp_block(p, n, 1);
                size_t m = map_count();
                if (m > maps_uvm)
                    maps_uvm = m;
            } else {
                w[b] = wp_block(q, n, 0);
            }
        }
        ratio[b] = u[b] / w[b];
    }
    sigaction(SIGSEGV, &uvm_act, NULL);
    uvm_stats(&s1);
    double mu = median(u, blocks), mw = median(w, blocks);
    double mr = median(ratio, blocks);
    printf("\nwrite-protect TRAP+PROTN+UNPROT round trip, %zu pages, %d "
           "blocks each, alternating:\n", n, blocks);
    printf("  libuvm (%s): %.0f ns per page\n",
           s1.prot_uffd > s0.prot_uffd ? "userfaultfd" : "mprotect", mu);
    printf("  raw mprotect:  %.0f ns per page\n", mw);
    printf("  libuvm/raw %.3f (median of per-pair ratios; target <= 1: "
           "%s)\n", mr, mr <= 1.0 ? "met" : "missed");
    printf("  userfaultfd changes %lu; mappings while libuvm's blocks ran: "
           "at most %zu\n", s1.prot_uffd - s0.prot_uffd, maps_uvm);
    uvm_untrap(r);
    munmap(p, n * ps);
    munmap(q, n * ps);
    free(u);
    free(w);
    free(ratio);
}

int main(int argc, char **argv)
{
    int cycles = argc > 1 ? atoi(argv[1]) : 7;
    if (cycles < 1)
        cycles = 1;
    ps = uvm_pagesize();
    const char *e = getenv("UVM_BENCH_SEED");
    seed = e ? (unsigned)strtoul(e, NULL, 0) : (unsigned)time(NULL);
    printf("uvm-bench-dirty: libuvm %s, %d cycles, medians, seed %u "
           "(UVM_BENCH_SEED)\n\n", uvm_version(), cycles, seed);
    static const struct { int method; const char *name; } ms[] = {
        { UVM_DIRTY_UFFD, "uffd-wp-async" },
        { UVM_DIRTY_MPROTECT, "mprotect" },
        { UVM_DIRTY_SOFTDIRTY, "soft-dirty" },
    };
    struct result res[3];
    int ok[3];
    printf("%-14s %12s %12s %12s %12s %20s\n", "method", "10% ns/page",
           "100% ns/page", "clean 64MiB", "clean 1GiB", "maps before/peak/after");
    for (int i = 0; i < 3; i++) {
        memset(&res[i], 0, sizeof res[i]);
        int rc = bench_writes(ms[i].method, cycles, &res[i]);
        ok[i] = rc == 0;
        if (!ok[i]) {
            printf("%-14s not available here: %s\n", ms[i].name,
                   strerror(-rc));
            continue;
        }
        bench_clean_1g(ms[i].method, &res[i]);
        char c1g[32];
        if (res[i].clean1g >= 0)
            snprintf(c1g, sizeof c1g, "%.1f us", res[i].clean1g / 1e3);
        else
            snprintf(c1g, sizeof c1g, "%s", strerror(res[i].clean1g_errno));
        printf("%-14s %12.0f %12.0f %9.1f us %12s %8zu/%zu/%zu\n", ms[i].name,
               res[i].per_page[0], res[i].per_page[1], res[i].clean64 / 1e3,
               c1g, res[i].maps_before, res[i].maps_peak, res[i].maps_after);
    }
    bench_trap(cycles);
    if (ok[0] && ok[1]) {
        double r10 = res[1].per_page[0] / res[0].per_page[0];
        double r100 = res[1].per_page[1] / res[0].per_page[1];
        printf("\nmprotect / uffd-wp-async per dirtied page: %.1fx at 10%%, "
               "%.1fx at 100%% (target >= 5x): %s\n", r10, r100,
               r10 >= 5 && r100 >= 5 ? "met" : "NOT met");
    }
    if (ok[0])
        printf("clean uvm_dirty on 1 GiB (uffd-wp-async): %.3f ms "
               "(target <= 1 ms): %s\n", res[0].clean1g / 1e6,
               res[0].clean1g >= 0 && res[0].clean1g <= 1e6 ? "met"
                                                             : "NOT met");
    return 0;
}
