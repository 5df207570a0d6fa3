/*
 * uvm-bench-dirty.c: the DIRTY benchmark (make bench-dirty, part of make
 * bench).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Prints the host profile (profile.c) first, then measures, side by side
 * in one run, for each DIRTY method that works here: the cost per dirtied
 * page (write phase with its faults, plus the uvm_dirty call) on 64 MiB
 * with 10% and 100% of the pages written once in random order; the cost
 * of uvm_dirty on a clean 64 MiB and 1 GiB range; the process's mapping
 * count before, at the peak and after; and the write-protect TRAP round
 * trip (uvm_trap + PROT_READ + handler UNPROT), through userfaultfd
 * against raw mprotect.  Populated ranges, MADV_NOHUGEPAGE, a partial
 * Fisher-Yates shuffle picking the pages, every cycle verified, medians.
 *
 * Floors.  Each method is judged against the same work done with the raw
 * kernel mechanism under it, in blocks alternating with the method's
 * (ABBA), on its own 64 MiB:
 *   uffd-wp-async  writes resolved by the kernel (userfaultfd WP_ASYNC),
 *                  then one PAGEMAP_SCAN that reports and re-protects the
 *                  written pages: kernel-resolved fault + share of the scan;
 *   mprotect       writes trapped by a hand-written SIGSEGV handler that
 *                  mprotects the page writable (TRAP+UNPROT), then one
 *                  mprotect of the range back to read-only: TRAP+UNPROT +
 *                  share of the re-protection.
 * Target: per dirtied page <= 1.25 x floor.  mprotect/uffd-wp-async, the
 * peer ratio, is printed as information, not judged: it is a fact about
 * the host's fault costs.  The clean 1 GiB uvm_dirty is judged against a
 * raw PAGEMAP_SCAN of the same clean GiB, and the write-protect round trip
 * through libuvm against raw mprotect (<= 1.05 x).
 * Warm-up: every range is written before tracking starts, and every
 * method and floor runs one untimed cycle before its timed ones.
 * Only the public header is used, except the raw floors.
 *
 * Usage: uvm-bench-dirty [cycles [MiB]]   (default 7 cycles, 64 MiB
 * tracked and 16 x that, 1 GiB, for the clean uvm_dirty; or from
 * UVM_BENCH_DIRTY_CYCLES and UVM_BENCH_DIRTY_MIB; UVM_BENCH_SEED=n).
 * bench/smoke.sh runs it small; the figures it quotes are at the defaults.
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "profile.h"
#include "target.h"
#include "../lib/compat.h"     /* kernel constants the headers may lack */

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <uvm.h>

#define MIB (1024 * 1024UL)

static size_t ps;
static size_t range_mib = 64;   /* the written ranges; clean: 16 x */
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

/* ---- the floors: the same work through the raw kernel mechanisms ---- */

/* A raw tracker: 64 MiB tracked with userfaultfd WP_ASYNC and
 * PAGEMAP_SCAN, or with a SIGSEGV handler and mprotect.  The fields the
 * handler reads are written between blocks only. */
struct floor {
    int method;                  /* UVM_DIRTY_UFFD or UVM_DIRTY_MPROTECT */
    char *mem;
    size_t len;
    int uffd, pagemap;           /* uffd method */
    struct page_region *vec;     /* uffd method: one entry per page */
    const char *na;              /* why there is no floor, or NULL */
};

static struct {
    char *lo, *hi;
    volatile long traps;
    struct sigaction raw, saved;
} mp_floor;

/* TRAP+UNPROT without libuvm: make the page writable and count.  A fault
 * elsewhere is a bug of the benchmark: say so, AS-safely, and stop.
 * Async-signal-safe: mprotect, write and _exit only, errno restored. */
static void floor_segv(int sig, siginfo_t *si, void *uc)
{
    char *a = si->si_addr;
    if (a < mp_floor.lo || a >= mp_floor.hi) {
        static const char m[] = "uvm-bench-dirty: stray fault in a floor\n";
        (void)!write(2, m, sizeof m - 1);
        _exit(1);
    }
    int saved = errno;
    mp_floor.traps++;
    mprotect((void *)((uintptr_t)a & ~(uintptr_t)(ps - 1)), ps,
             PROT_READ | PROT_WRITE);
    errno = saved;
}

/* The descriptor comes from the profile's opener: unprivileged, with
 * vm.unprivileged_userfaultfd = 0, only a user-mode-only userfaultfd is
 * allowed, and libuvm's method runs on one; a floor opened otherwise would
 * be missing exactly where the method works. */
static int floor_uffd_init(struct floor *f)
{
    char why[128];
    f->uffd = profile_uffd_open_async(why, sizeof why);
    f->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (f->uffd < 0 || f->pagemap < 0)
        return -1;
    struct uffdio_register reg = {
        .range = { (unsigned long)f->mem, f->len },
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    struct uffdio_writeprotect wp = {
        .range = { (unsigned long)f->mem, f->len },
        .mode = UFFDIO_WRITEPROTECT_MODE_WP,
    };
    f->vec = malloc(f->len / ps * sizeof *f->vec);
    if (f->vec == NULL || ioctl(f->uffd, UFFDIO_REGISTER, &reg) != 0 ||
        ioctl(f->uffd, UFFDIO_WRITEPROTECT, &wp) != 0)
        return -1;
    return 0;
}

/* Map and populate the floor's own range (written before tracking, as
 * the methods' ranges are), and arm it. */
static void floor_init(struct floor *f, int method, size_t len)
{
    memset(f, 0, sizeof *f);
    f->method = method;
    f->len = len;
    f->uffd = f->pagemap = -1;
    f->mem = map_region(len, 1);
    if (method == UVM_DIRTY_UFFD) {
        if (floor_uffd_init(f) != 0)
            f->na = "no floor: userfaultfd WP_ASYNC or PAGEMAP_SCAN refused";
    } else if (method == UVM_DIRTY_MPROTECT) {
        mprotect(f->mem, len, PROT_READ);
        memset(&mp_floor.raw, 0, sizeof mp_floor.raw);
        mp_floor.raw.sa_sigaction = floor_segv;
        mp_floor.raw.sa_flags = SA_SIGINFO | SA_NODEFER;   /* libuvm's */
        sigemptyset(&mp_floor.raw.sa_mask);
    } else {
        f->na = "no floor: soft-dirty is not judged";
    }
}

static void floor_fini(struct floor *f)
{
    if (f->uffd >= 0)
        close(f->uffd);
    if (f->pagemap >= 0)
        close(f->pagemap);
    free(f->vec);
    munmap(f->mem, f->len);
}

/* Written pages of the whole range, re-protected in the same walk (what
 * uvm_dirty does with this method, without libuvm). */
static size_t floor_scan(struct floor *f)
{
    uintptr_t cur = (uintptr_t)f->mem, end = cur + f->len;
    size_t pages = 0;
    while (cur < end) {
        struct pm_scan_arg a = {
            .size = sizeof a,
            .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
            .start = cur, .end = end,
            .vec = (uintptr_t)f->vec, .vec_len = f->len / ps,
            .category_mask = PAGE_IS_WRITTEN,
            .return_mask = PAGE_IS_WRITTEN,
        };
        long n = ioctl(f->pagemap, PAGEMAP_SCAN, &a);
        if (n < 0) {
            perror("uvm-bench-dirty: PAGEMAP_SCAN");
            exit(1);
        }
        for (long i = 0; i < n; i++)
            pages += (f->vec[i].end - f->vec[i].start) / ps;
        cur = a.walk_end;
    }
    return pages;
}

/* One floor block: write the k pages of perm, then collect and re-arm.
 * ns per page of each phase in part[0] (faults) and part[1] (scan or
 * re-protection). */
static void floor_block(struct floor *f, const uint32_t *perm, size_t k,
                        uint64_t c, double part[2])
{
    size_t got = k;
    if (f->method == UVM_DIRTY_MPROTECT) {
        mp_floor.lo = f->mem;
        mp_floor.hi = f->mem + f->len;
        mp_floor.traps = 0;
        sigaction(SIGSEGV, &mp_floor.raw, &mp_floor.saved);
    }
    double t0 = now_ns();
    for (size_t i = 0; i < k; i++)
        *(volatile uint64_t *)(f->mem + (size_t)perm[i] * ps) = c;
    double t1 = now_ns();
    if (f->method == UVM_DIRTY_UFFD)
        got = floor_scan(f);
    else
        mprotect(f->mem, f->len, PROT_READ);
    double t2 = now_ns();
    if (f->method == UVM_DIRTY_MPROTECT) {
        sigaction(SIGSEGV, &mp_floor.saved, NULL);
        got = (size_t)mp_floor.traps;
    }
    if (got != k) {
        fprintf(stderr, "uvm-bench-dirty: floor of method %d: %zu pages "
                "seen, %zu written\n", f->method, got, k);
        exit(1);
    }
    part[0] = (t1 - t0) / (double)k;
    part[1] = (t2 - t1) / (double)k;
}

/* ---- the methods ---- */

struct result {
    double per_page[2];          /* 10 %, 100 % */
    double floor[2], fault[2], share[2];   /* floor = fault + share */
    double ratio[2];             /* median of per-cycle method / floor */
    const char *floor_na;        /* no floor: why */
    double clean64, clean1g;     /* ns; clean1g < 0: not trackable */
    double clean1g_floor;        /* raw PAGEMAP_SCAN of it; < 0: none */
    int clean1g_errno;
    size_t maps_before, maps_peak, maps_after;
};

/* k random pages of n into perm[0..k-1] (partial Fisher-Yates). */
static void pick(uint32_t *perm, size_t n, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)rand_r(&seed) % (n - i);
        uint32_t x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
}

/* One block of the method: write k pages, then uvm_dirty; ns per page.
 * The first timed block of the 10 % pass also samples the mapping count,
 * outside the timing. */
static double method_block(uvm_tracker *t, char *p, const uint32_t *perm,
                           size_t k, void **pages, size_t n, uint64_t c,
                           struct result *res, int sample_maps)
{
    double t0 = now_ns();
    for (size_t i = 0; i < k; i++)
        *(volatile uint64_t *)(p + (size_t)perm[i] * ps) = c;
    if (sample_maps) {
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
        exit(1);
    }
    return (t1 - t0) / (double)k;
}

struct cycle_samples {
    double *method, *floor, *fault, *share, *ratio;
};

/* cycles timed cycles (after one untimed), method and floor in ABBA
 * order; fills res's figures for pass m. */
static void writes_pass(uvm_tracker *t, char *p, struct floor *f, int m,
                        size_t k, int cycles, struct cycle_samples *cs,
                        uint32_t *perm, void **pages, struct result *res)
{
    size_t n = f->len / ps;
    for (int c = -1; c < cycles; c++) {           /* c = -1: warm-up */
        double mt = 0, part[2] = { 0, 0 };
        for (int half = 0; half < 2; half++) {
            pick(perm, n, k);
            if ((half == 0) == (c % 2 == 0))
                mt = method_block(t, p, perm, k, pages, n, (uint64_t)c, res,
                                  c == 0 && m == 0);
            else if (f->na == NULL)
                floor_block(f, perm, k, (uint64_t)c, part);
        }
        if (c < 0)
            continue;
        cs->method[c] = mt;
        cs->fault[c] = part[0];
        cs->share[c] = part[1];
        cs->floor[c] = part[0] + part[1];
        cs->ratio[c] = f->na == NULL ? mt / cs->floor[c] : 0;
    }
    res->per_page[m] = median(cs->method, cycles);
    res->floor[m] = median(cs->floor, cycles);
    res->fault[m] = median(cs->fault, cycles);
    res->share[m] = median(cs->share, cycles);
    res->ratio[m] = median(cs->ratio, cycles);
}

/* One method: per-page cost at 10 % and 100 % against its floor, the
 * mapping counts, and uvm_dirty on the clean 64 MiB. */
static int bench_writes(int method, int cycles, struct result *res)
{
    size_t len = range_mib * MIB, n = len / ps;
    char *p = map_region(len, 1);
    uint32_t *perm = malloc(n * sizeof *perm);
    void **pages = malloc(n * sizeof *pages);
    struct cycle_samples cs;
    double **v[] = { &cs.method, &cs.floor, &cs.fault, &cs.share, &cs.ratio };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        *v[i] = malloc((size_t)cycles * sizeof **v[i]);
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    res->maps_before = map_count();
    uvm_tracker *t = uvm_dirty_start(p, len, method);
    if (t == NULL)
        return -errno;
    struct floor f;
    floor_init(&f, method, len);
    res->floor_na = f.na;
    static const int pct[2] = { 10, 100 };
    for (int m = 0; m < 2; m++)
        writes_pass(t, p, &f, m, n * (size_t)pct[m] / 100, cycles, &cs, perm,
                    pages, res);
    floor_fini(&f);
    res->maps_after = map_count();
    for (int c = 0; c < cycles; c++) {
        double t0 = now_ns();
        uvm_dirty(t, pages, n);
        cs.method[c] = now_ns() - t0;
    }
    res->clean64 = median(cs.method, cycles);
    uvm_dirty_stop(t);
    munmap(p, len);
    free(perm);
    free(pages);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        free(*v[i]);
    return 0;
}

/* The raw PAGEMAP_SCAN of a clean populated range: the floor of a clean
 * uvm_dirty (uffd method).  ns, or -1. */
static double raw_clean_scan(char *p, size_t len)
{
    struct floor f = { .method = UVM_DIRTY_UFFD, .mem = p, .len = len,
                       .uffd = -1, .pagemap = -1 };
    double r = -1, s[31];
    if (floor_uffd_init(&f) == 0) {
        (void)floor_scan(&f);                           /* warm-up */
        for (int c = 0; c < 31; c++) {
            double t0 = now_ns();
            (void)floor_scan(&f);
            s[c] = now_ns() - t0;
        }
        r = median(s, 31);
    }
    if (f.uffd >= 0)
        close(f.uffd);
    if (f.pagemap >= 0)
        close(f.pagemap);
    free(f.vec);
    return r;
}

static void bench_clean_1g(int method, struct result *res)
{
    size_t len = 16 * range_mib * MIB;
    char *p = map_region(len, 1);          /* populated: every PTE walked */
    uvm_tracker *t = uvm_dirty_start(p, len, method);
    res->clean1g = -1;
    res->clean1g_floor = -1;
    if (t == NULL) {
        res->clean1g_errno = errno;
    } else {
        double s[31];
        void *page;
        uvm_dirty(t, &page, 1);                         /* warm-up */
        for (int c = 0; c < 31; c++) {
            double t0 = now_ns();
            uvm_dirty(t, &page, 1);
            s[c] = now_ns() - t0;
        }
        res->clean1g = median(s, 31);
        uvm_dirty_stop(t);
        if (method == UVM_DIRTY_UFFD)
            res->clean1g_floor = raw_clean_scan(p, len);
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
    /* libuvm's side is uvm_alloc memory: the only memory it protects
     * with userfaultfd (private anonymous memory is mprotect's, as
     * uvm_prot1(3) explains), so the round trip measured is that path. */
    char *p = uvm_alloc(n * ps, PROT_READ | PROT_WRITE);
    char *q = map_region(n * ps, 1);
    if (p == NULL) {
        perror("uvm_alloc");
        exit(1);
    }
    memset(p, 1, n * ps);
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
    sigaction(SIGSEGV, &raw_act, NULL);
    wp_block(q, n, 0);
    sigaction(SIGSEGV, &uvm_act, NULL);
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
    printf("  libuvm/raw %.3f (median of per-pair ratios; target <= 1.05: "
           "%s)\n", mr, target_verdict(mr, 1.05));
    printf("  userfaultfd changes %lu; mappings while libuvm's blocks ran: "
           "at most %zu (constant: the value of the userfaultfd path)\n",
           s1.prot_uffd - s0.prot_uffd, maps_uvm);
    char fig[64], flo[64], info[128];
    snprintf(fig, sizeof fig, "%.0f ns per page (libuvm, %s)", mu,
             s1.prot_uffd > s0.prot_uffd ? "userfaultfd" : "mprotect");
    snprintf(flo, sizeof flo, "%.0f ns (raw handler + mprotect)", mw);
    snprintf(info, sizeof info, "mappings at most %zu while libuvm's "
             "blocks ran; %lu userfaultfd changes", maps_uvm,
             s1.prot_uffd - s0.prot_uffd);
    struct bench_target g = {
        .name = "write-protect round trip: libuvm <= 1.05 x raw",
        .figure = fig, .floor = flo, .ratio = mr, .bound = 1.05,
        .info = info,
    };
    (void)target_judge(&g);
    uvm_untrap(r);
    uvm_free(p, n * ps);
    munmap(q, n * ps);
    free(u);
    free(w);
    free(ratio);
}

static const struct { int method; const char *name; } ms[] = {
    { UVM_DIRTY_UFFD, "uffd-wp-async" },
    { UVM_DIRTY_MPROTECT, "mprotect" },
    { UVM_DIRTY_SOFTDIRTY, "soft-dirty" },
};
#define NMS 3

static void print_method(int i, const struct result *r)
{
    char c1g[32];
    if (r->clean1g >= 0)
        snprintf(c1g, sizeof c1g, "%.1f us", r->clean1g / 1e3);
    else
        snprintf(c1g, sizeof c1g, "%s", strerror(r->clean1g_errno));
    printf("%-14s %12.0f %12.0f %9.1f us %12s %8zu/%zu/%zu\n", ms[i].name,
           r->per_page[0], r->per_page[1], r->clean64 / 1e3, c1g,
           r->maps_before, r->maps_peak, r->maps_after);
    if (ms[i].method == UVM_DIRTY_UFFD && r->clean1g >= 0 &&
        r->clean1g_floor < 0)
        printf("  clean %zu MiB: no floor (raw userfaultfd registration "
               "refused), not judged\n", 16 * range_mib);
    if (r->floor_na != NULL) {
        printf("  %s\n", r->floor_na);
        return;
    }
    const char *share = ms[i].method == UVM_DIRTY_UFFD ? "scan share"
                                                      : "re-protection share";
    const char *fault = ms[i].method == UVM_DIRTY_UFFD
                            ? "kernel-resolved fault" : "TRAP+UNPROT";
    for (int m = 0; m < 2; m++)
        printf("  floor, %3d%%: %s %.0f + %s %.0f = %.0f ns per page; "
               "method/floor %.2f\n", m ? 100 : 10, fault, r->fault[m],
               share, r->share[m], r->floor[m], r->ratio[m]);
}

/* DIRTY per dirtied page <= 1.25 x floor, per method and percentage. */
static void judge_method(int i, const struct result *r, double peer[2])
{
    for (int m = 0; m < 2 && r->floor_na == NULL; m++) {
        char name[96], fig[64], flo[96], info[96];
        snprintf(name, sizeof name, "DIRTY %s, %d%% written: <= 1.25 x floor",
                 ms[i].name, m ? 100 : 10);
        snprintf(fig, sizeof fig, "%.0f ns per dirtied page", r->per_page[m]);
        snprintf(flo, sizeof flo, "%.0f ns (%s + its share of the %s)",
                 r->floor[m], ms[i].method == UVM_DIRTY_UFFD
                 ? "kernel-resolved fault" : "TRAP+UNPROT",
                 ms[i].method == UVM_DIRTY_UFFD ? "scan" : "re-protection");
        info[0] = '\0';
        if (peer != NULL)
            snprintf(info, sizeof info, "peer: mprotect/uffd-wp-async %.2f "
                     "(information, not judged)", peer[m]);
        struct bench_target g = { .name = name, .figure = fig, .floor = flo,
                                  .ratio = r->ratio[m], .bound = 1.25,
                                  .info = info };
        (void)target_judge(&g);
    }
}

/* The clean uvm_dirty of 1 GiB (16 x the range) against the raw scan of
 * the same range. */
static void judge_clean(const struct result *r)
{
    if (r->clean1g < 0 || r->clean1g_floor <= 0)
        return;
    char name[96], fig[64], flo[64], info[96];
    snprintf(name, sizeof name, "clean uvm_dirty of %zu MiB (uffd): <= 1.25 "
             "x floor", 16 * range_mib);
    snprintf(fig, sizeof fig, "%.0f us", r->clean1g / 1e3);
    snprintf(flo, sizeof flo, "%.0f us (raw PAGEMAP_SCAN)",
             r->clean1g_floor / 1e3);
    snprintf(info, sizeof info, "the former absolute target <= 1 ms: %s",
             r->clean1g <= 1e6 ? "within" : "beyond");
    struct bench_target g = {
        .name = name,
        .figure = fig, .floor = flo, .ratio = r->clean1g / r->clean1g_floor,
        .bound = 1.25, .info = info,
    };
    (void)target_judge(&g);
}

int main(int argc, char **argv)
{
    const char *ec = getenv("UVM_BENCH_DIRTY_CYCLES");
    const char *em = getenv("UVM_BENCH_DIRTY_MIB");
    if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
        int help = argc == 2 && strcmp(argv[1], "--help") == 0;
        if (!help)
            fprintf(stderr, "uvm-bench-dirty: unexpected argument '%s'\n",
                    argc > 3 ? argv[3] : argv[1]);
        fprintf(help ? stdout : stderr,
                "usage: uvm-bench-dirty [CYCLES [MIB]]\n"
                "DIRTY's methods against their floors: CYCLES timed cycles "
                "(default\nUVM_BENCH_DIRTY_CYCLES, else 7) on ranges of MIB "
                "MiB (default\nUVM_BENCH_DIRTY_MIB, else 64).  Exit status 2 "
                "on a usage error.\n");
        return help ? 0 : 2;
    }
    const char *pc = argc > 1 ? argv[1] : ec != NULL && *ec ? ec : NULL;
    const char *pm = argc > 2 ? argv[2] : em != NULL && *em ? em : NULL;
    int cycles = pc == NULL ? 7 :
        (int)bench_number("uvm-bench-dirty", argc > 1 ? "CYCLES" :
                          "UVM_BENCH_DIRTY_CYCLES", pc, 1, 1000000);
    if (pm != NULL)
        range_mib = (size_t)bench_number("uvm-bench-dirty", argc > 2 ? "MIB" :
                                         "UVM_BENCH_DIRTY_MIB", pm, 1, 1048576);
    ps = uvm_pagesize();
    const char *e = getenv("UVM_BENCH_SEED");
    seed = e ? (unsigned)strtoul(e, NULL, 0) : (unsigned)time(NULL);
    static struct bench_profile prof;
    profile_measure(&prof, cycles < 3 ? 3 : cycles < 7 ? cycles : 7);
    target_program("uvm-bench-dirty");
    char host[512];
    target_host(profile_host_line(&prof, host, sizeof host));
    printf("uvm-bench-dirty: libuvm %s, %d cycles, %zu MiB ranges, medians, "
           "seed %u (UVM_BENCH_SEED)\n", uvm_version(), cycles, range_mib,
           seed);
    profile_print(&prof, stdout);
    printf("Warm-up: every range is written before tracking starts; each "
           "method and each floor\nruns one untimed cycle before its timed "
           "ones, in alternating (ABBA) order.\n\n");
    struct result res[NMS];
    int ok[NMS];
    char c1[16], c2[16];
    snprintf(c1, sizeof c1, "clean %zuMiB", range_mib);
    snprintf(c2, sizeof c2, "clean %zuMiB", 16 * range_mib);
    printf("%-14s %12s %12s %12s %12s %20s\n", "method", "10% ns/page",
           "100% ns/page", c1, c2, "maps before/peak/after");
    for (int i = 0; i < NMS; i++) {
        memset(&res[i], 0, sizeof res[i]);
        int rc = bench_writes(ms[i].method, cycles, &res[i]);
        ok[i] = rc == 0;
        if (!ok[i]) {
            printf("%-14s not available here: %s\n", ms[i].name,
                   strerror(-rc));
            continue;
        }
        bench_clean_1g(ms[i].method, &res[i]);
        print_method(i, &res[i]);
        fflush(stdout);
    }
    bench_trap(cycles);
    double peer[2] = { 0, 0 };
    if (ok[0] && ok[1]) {
        for (int m = 0; m < 2; m++)
            peer[m] = res[1].per_page[m] / res[0].per_page[m];
        printf("\npeer (information, not judged): mprotect / uffd-wp-async "
               "per dirtied page %.2fx at 10%%, %.2fx at 100%%\n", peer[0],
               peer[1]);
    }
    for (int i = 0; i < NMS; i++)
        if (ok[i])
            judge_method(i, &res[i], i == 1 && ok[0] ? peer : NULL);
    if (ok[0])
        judge_clean(&res[0]);
    (void)target_summary(stdout);
    return 0;
}
