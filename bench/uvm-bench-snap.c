/*
 * uvm-bench-snap.c: copy-on-write snapshots against fork(), side by side.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * For each range size (1 MiB to 4 GiB, populated, MADV_NOHUGEPAGE):
 *  - first: the first uvm_snapshot of the range, and one fork();
 *  - epoch: take a snapshot, write 1 % of the pages (fresh random pages),
 *    release the previous snapshot; against fork() as a snapshot (Redis
 *    BGSAVE: the child holds the image while the parent writes 1 %, then
 *    exits and is reaped).  Medians over EPOCHS epochs, and the epoch's
 *    parts (take, writes, release).
 *  - COW: a write that must preserve a page (from the epoch) against the
 *    TRAP+UNPROT round trip (uvm_trap, uvm_protn, a write whose handler
 *    calls uvm_unprot) plus one 4 KiB memcpy; the first epoch, whose
 *    copies go to store memory never used before, separately.
 *  - hot (extra, not a target): the same 1 % of the pages written every
 *    epoch.
 * The host profile (profile.c) prints first.  Then the targets, at 1 GiB
 * (or at the largest size run, which the output names), each judged
 * against a floor measured in this run (target.h), design by design:
 *   undo (libuvm's snapshots today): the epoch <= 1.3 x its floor, the
 *     pages freshly written x (TRAP+UNPROT round trip + one page copy):
 *     every first write to a page not yet preserved is one synchronous
 *     fault and one copy, the least an undo design can pay; a preserving
 *     write <= 1.5 x TRAP+UNPROT + copy; and, against a peer, the first
 *     snapshot <= fork() of the same range;
 *   redo (uvm_snapshot2 with UVM_SNAP_TRACKED): the epoch <= 1.3 x its
 *     floor, the pages written x (a kernel-resolved WP_ASYNC write fault
 *     + one page copy) + one PAGEMAP_SCAN of the range (profile.c
 *     measures all three raw); the first snapshot <= 1.5 x a memcpy of
 *     the range into fresh memory; the memory held at the epoch's peak
 *     (uvm_snap_stats) <= the range + one epoch's pages.
 * Then the restore loop (run, restore, run, restore ...: each run writes
 * 0.1 % and 1 % of 64 MiB and 1 GiB) for both designs and a fork server
 * (fork, the child writes, exits), per iteration; the redo design
 * <= 1.3 x its floor (the same as its epoch's).
 * Warm-up: the range is populated before anything is timed, and every
 * block of epochs, libuvm's and fork()'s, starts with one untimed epoch
 * (libuvm's: its copies go to store memory never used before, shown as
 * "COW 1st").
 * Only the public header, except the fork() and userfaultfd baselines.
 * Usage: uvm-bench-snap [max-MiB] (default 4096; UVM_BENCH_SNAP_MAX_MIB),
 * or --help; a bad option or number is a usage error (exit 2), as in
 * uvm-bench.
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "profile.h"
#include "target.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uvm.h>

#define EPOCHS 5                 /* per block */
#define BLOCKS 2                 /* blocks of libuvm and fork() epochs */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static unsigned long rnd_state = 88172645463325252UL;
static size_t rnd(size_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (size_t)(rnd_state % n);
}

static char *populated(size_t len)
{
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, len, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < len; i += 4096)
        p[i] = (char)i;
    return p;
}

/* A bit per page of the range, grown with it: the pages drawn this
 * epoch.  Sized in the untimed warm-up epoch that starts every size. */
static unsigned char *drawn;
static size_t drawn_len;

static void drawn_clear(size_t npages)
{
    size_t len = (npages + 7) / 8;
    if (len > drawn_len) {
        free(drawn);
        drawn = malloc(len);
        if (drawn == NULL) {
            perror("uvm-bench-snap: the page draw's bitmap");
            exit(1);
        }
        drawn_len = len;
    }
    memset(drawn, 0, len);
}

/* Write n distinct random pages.  Drawn without replacement (a page
 * drawn again is drawn anew): each page faults once, so a floor counts
 * exactly the pages that fault; with replacement some 0.5 % of the pages
 * of a 1 GiB epoch were drawn twice and counted twice. */
static void write_distinct(char *p, size_t npages, size_t n)
{
    size_t ps = uvm_pagesize();
    drawn_clear(npages);
    for (size_t k = 0; k < n;) {
        size_t i = rnd(npages);
        unsigned char bit = (unsigned char)(1u << i % 8);
        if (drawn[i / 8] & bit)
            continue;
        drawn[i / 8] |= bit;
        p[i * ps + 8] ^= 1;
        k++;
    }
}

/* Write 1 % of the pages (at least one), fresh random pages; or, with
 * hot, the same pages every time (seeded alike). */
static size_t write_one_percent(char *p, size_t npages, int hot)
{
    size_t n = npages / 100 ? npages / 100 : 1;
    unsigned long saved = rnd_state;
    if (hot)
        rnd_state = 0x9e3779b97f4a7c15UL;
    write_distinct(p, npages, n);
    if (hot)
        rnd_state = saved;
    return n;
}

/* Samples of one quantity, medians at the end. */
#define MAXS 64
struct samples { double v[MAXS]; int n; };

static void add(struct samples *s, double x)
{
    if (s->n < MAXS)
        s->v[s->n++] = x;
}

static double med(struct samples *s)
{
    return s->n > 0 ? median(s->v, s->n) : 0;
}

struct row {
    double mib;
    size_t written;                 /* pages written per epoch */
    size_t written_timed;           /* by the timed fresh epochs, all */
    unsigned long faults_timed;     /* libuvm's faults in their writes */
    struct samples first, fork_call, epoch, take, writes, release, cow;
    struct samples epoch_fork, hot, tu, mc;
    double cow_first_us;
    /* the tracked (redo) design: its first snapshot against a memcpy of
     * the range into fresh memory, its epochs, the scan floor */
    struct samples t_first, range_copy, t_epoch, t_take, t_writes;
    struct samples t_release;
    double scan_ms;                 /* raw PAGEMAP_SCAN, -1: none */
    size_t t_held;                  /* bytes_held after an epoch */
};

/* The baselines, measured between epochs so that they see the machine as
 * the epochs do (it is shared and noisy): TRAP+UNPROT, one write to a
 * read-only page whose handler makes it writable again, and one page
 * memcpy. */
#define TU_PAGES 2000
static char *tu_mem, *mc_a, *mc_b;
static uvm_region *tu_region;

static int h_unprot(const struct uvm_fault *f)
{
    return uvm_unprot(f->page, PROT_READ | PROT_WRITE) == 0 ? UVM_RETRY
                                                            : UVM_DECLINE;
}

/* The region exists only for the round: libuvm's fork() handlers would
 * otherwise work on it in every fork() timed here. */
static double trap_unprot_round(void)
{
    size_t ps = uvm_pagesize();
    tu_region = uvm_trap(tu_mem, TU_PAGES * ps, h_unprot, NULL);
    if (tu_region == NULL) {
        perror("uvm_trap");
        exit(1);
    }
    uvm_protn(tu_mem, TU_PAGES, PROT_READ);
    double a = now();
    for (size_t i = 0; i < TU_PAGES; i++)
        ((volatile char *)tu_mem)[i * ps] = 1;
    double t = (now() - a) / TU_PAGES * 1e6;
    uvm_untrap(tu_region);
    return t;
}

static double memcpy_round(void)
{
    size_t ps = uvm_pagesize(), n = 4096;
    double t = now();
    for (size_t i = 0; i < n; i++)
        memcpy(mc_b + i * ps, mc_a + ((i * 7919) % n) * ps, ps);
    return (now() - t) / (double)n * 1e6;
}

/* Pages of a baseline, kept out of the fork() baseline, which copies
 * only the range.  Without them there is no floor to judge against: the
 * program stops, saying why. */
static char *baseline_pages(size_t n)
{
    size_t ps = uvm_pagesize();
    char *p = populated(n * ps);
    if (p == NULL) {
        fprintf(stderr, "uvm-bench-snap: mmap of %zu KiB for the baselines "
                "(TRAP+UNPROT, page memcpy): %s\n", n * ps / 1024,
                strerror(errno));
        exit(1);
    }
    madvise(p, n * ps, MADV_DONTFORK);
    return p;
}

static void baselines_init(void)
{
    tu_mem = baseline_pages(TU_PAGES);
    mc_a = baseline_pages(4096);
    mc_b = baseline_pages(4096);
}

/* A snapshot of the design flags asks for, or the end of the run. */
static uvm_snap *snap_or_die(char *p, size_t len, unsigned flags)
{
    uvm_snap *s = uvm_snapshot2(p, len, flags);
    if (s == NULL) {
        perror("uvm_snapshot2");
        exit(1);
    }
    return s;
}

/* EPOCHS epochs of snapshot, writes, release of the previous snapshot,
 * each followed by one round of each baseline. */
static void epochs(char *p, size_t len, int hot, struct row *r)
{
    size_t npages = len / uvm_pagesize();
    uvm_snap *s = snap_or_die(p, len, UVM_SNAP_UNDO);
    for (int e = -1; e < EPOCHS; e++) {          /* e = -1: warm-up */
        struct uvm_stats f0, f1;
        uvm_stats(&f0);
        double a = now();
        uvm_snap *n = uvm_snapshot(p, len);
        double b = now();
        size_t w = write_one_percent(p, npages, hot);
        double c = now();
        uvm_snap_release(s);
        s = n;
        double d = now();
        uvm_stats(&f1);
        r->written = w;
        if (e < 0) {
            if (r->cow_first_us == 0 && !hot)           /* fresh store */
                r->cow_first_us = (c - b) / (double)w * 1e6;
            continue;
        }
        if (hot) {
            add(&r->hot, d - a);
            continue;
        }
        r->written_timed += w;
        r->faults_timed += f1.faults - f0.faults;
        add(&r->cow, (c - b) / (double)w * 1e6);
        add(&r->epoch, d - a);
        add(&r->take, b - a);
        add(&r->writes, c - b);
        add(&r->release, d - c);
        add(&r->tu, trap_unprot_round());
        add(&r->mc, memcpy_round());
    }
    uvm_snap_release(s);
}

/* fork() as a snapshot (Redis BGSAVE): the child holds the image while
 * the parent writes 1 %, then exits and is reaped. */
static void fork_epochs(char *p, size_t len, struct row *r)
{
    size_t npages = len / uvm_pagesize();
    for (int e = -1; e < EPOCHS; e++) {          /* e = -1: warm-up */
        int fds[2];
        if (pipe(fds) != 0)
            exit(1);
        double a = now();
        pid_t pid = fork();
        if (pid == 0) {
            char c;
            close(fds[1]);
            while (read(fds[0], &c, 1) > 0)
                ;
            _exit(0);
        }
        double b = now();
        close(fds[0]);
        write_one_percent(p, npages, 0);
        close(fds[1]);
        waitpid(pid, NULL, 0);
        if (e < 0)
            continue;
        add(&r->epoch_fork, now() - a);
        add(&r->fork_call, b - a);
    }
}

/* The same epochs with a tracked chain (uvm_snapshot2). */
static void tracked_epochs(char *p, size_t len, struct row *r)
{
    size_t npages = len / uvm_pagesize();
    uvm_snap *s = snap_or_die(p, len, UVM_SNAP_TRACKED);
    for (int e = -1; e < EPOCHS; e++) {          /* e = -1: warm-up */
        double a = now();
        uvm_snap *n = uvm_snapshot2(p, len, UVM_SNAP_TRACKED);
        double b = now();
        write_one_percent(p, npages, 0);
        double c = now();
        /* Memory held at its peak: two snapshots, the older one's
         * versions of the pages the take copied (not timed). */
        struct uvm_snap_stats st;
        if (uvm_snap_stats(n, &st) == 0 && st.bytes_held > r->t_held)
            r->t_held = st.bytes_held;
        double c2 = now();
        uvm_snap_release(s);
        s = n;
        double d = now();
        if (e < 0)
            continue;
        add(&r->t_epoch, (d - c2) + (c - a));
        add(&r->t_take, b - a);
        add(&r->t_writes, c - b);
        add(&r->t_release, d - c2);
    }
    uvm_snap_release(s);
}

/* First tracked snapshots against a memcpy of the range into memory
 * mapped for it, alternating: both copy the range into pages never
 * touched before. */
static void tracked_firsts(char *p, size_t len, struct row *r)
{
    for (int k = 0; k < EPOCHS; k++) {
        double a = now();
        uvm_snap *s = snap_or_die(p, len, UVM_SNAP_TRACKED);
        add(&r->t_first, now() - a);
        uvm_snap_release(s);
        a = now();
        char *q = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (q == MAP_FAILED)
            exit(1);
        memcpy(q, p, len);
        add(&r->range_copy, now() - a);
        munmap(q, len);
    }
}

/* First snapshots and fork() calls, alternating. */
static void firsts(char *p, size_t len, struct row *r)
{
    uvm_snap *w = uvm_snapshot(p, len);                 /* warm-up */
    if (w != NULL)
        uvm_snap_release(w);
    for (int k = 0; k < EPOCHS; k++) {
        double a = now();
        uvm_snap *s = uvm_snapshot(p, len);
        add(&r->first, now() - a);
        if (s == NULL) {
            perror("uvm_snapshot");
            exit(1);
        }
        uvm_snap_release(s);
        a = now();
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        add(&r->fork_call, now() - a);
        waitpid(pid, NULL, 0);
    }
}

static void bench_size(size_t len, struct row *r)
{
    char *p = populated(len);
    if (p == NULL) {                    /* the row says why; no larger one */
        printf("%6zu n/a (mmap of the range: %s)\n", len >> 20,
               strerror(errno));
        r->mib = -1;
        return;
    }
    r->mib = (double)len / (1 << 20);
    firsts(p, len, r);
    for (int b = 0; b < BLOCKS; b++) {
        epochs(p, len, 0, r);
        fork_epochs(p, len, r);
    }
    epochs(p, len, 1, r);
    tracked_firsts(p, len, r);
    for (int b = 0; b < BLOCKS; b++)
        tracked_epochs(p, len, r);
    r->scan_ms = profile_scan_ms(p, len, r->written, 5);
    munmap(p, len);
}

/* ---- the targets, design by design ---- */

/* The undo design (libuvm's snapshots): every target against its floor
 * or, for the first snapshot, against its peer fork(). */
static void judge_undo(struct row *r, double tu, double mc)
{
    char name[96], fig[64], flo[128], info[128];
    double n = (double)r->written, ep = med(&r->epoch) * 1e3;
    double floor_ms = n * (tu + mc) * 1e-3;
    /* The floor's count is right only if every page written faults once:
     * libuvm's own counter says how many did (smoke.sh compares). */
    printf("undo floor: %zu pages per epoch; in the %d timed epochs %zu "
           "pages written, %lu faults taken (uvm_stats)\n", r->written,
           EPOCHS * BLOCKS, r->written_timed, r->faults_timed);
    snprintf(name, sizeof name, "undo epoch, %.0f MiB: <= 1.3 x floor", r->mib);
    snprintf(fig, sizeof fig, "%.2f ms per epoch", ep);
    snprintf(flo, sizeof flo, "%.2f ms (%.0f fresh pages x (TRAP+UNPROT "
             "%.2f us + copy %.2f us))", floor_ms, n, tu, mc);
    snprintf(info, sizeof info, "peer: fork() epoch %.2f ms, %.1fx the "
             "epoch (information)", med(&r->epoch_fork) * 1e3,
             med(&r->epoch_fork) * 1e3 / ep);
    struct bench_target g = { .name = name, .figure = fig, .floor = flo,
                              .ratio = ep / floor_ms, .bound = 1.3,
                              .info = info };
    (void)target_judge(&g);

    double cow = med(&r->cow), limit = 1.5 * tu + mc;
    snprintf(name, sizeof name, "undo preserving write, %.0f MiB: <= 1.5 x "
             "TRAP+UNPROT + copy", r->mib);
    snprintf(fig, sizeof fig, "%.2f us per page", cow);
    snprintf(flo, sizeof flo, "%.2f us (1.5 x %.2f + %.2f)", limit, tu, mc);
    struct bench_target w = { .name = name, .figure = fig, .floor = flo,
                              .ratio = cow / limit, .bound = 1.0,
                              .info = "the bound is in the floor" };
    (void)target_judge(&w);

    double first = med(&r->first) * 1e3, fc = med(&r->fork_call) * 1e3;
    snprintf(name, sizeof name, "first snapshot, %.0f MiB: <= fork() (peer)",
             r->mib);
    snprintf(fig, sizeof fig, "%.2f ms", first);
    snprintf(flo, sizeof flo, "%.2f ms (peer: fork() of the range)", fc);
    struct bench_target f = { .name = name, .figure = fig, .floor = flo,
                              .ratio = first / fc, .bound = 1.0,
                              .info = "a peer, not a floor: no raw "
                                      "equivalent of a first snapshot" };
    (void)target_judge(&f);
}

/* The floor of the tracked design for n pages written: n x (a
 * kernel-resolved write fault + one page copy) + one scan, in ms; or -1
 * where this host has no WP_ASYNC (the chains then use mprotect, and
 * have no floor of their own here). */
static double redo_floor_ms(double n, double mc, double scan_ms,
                            const struct bench_profile *p, char *flo,
                            size_t len)
{
    const struct profile_value *aw = &p->items[PROF_UFFD_WP];
    if (aw->na != NULL || scan_ms < 0) {
        snprintf(flo, len, "none: %s", aw->na ? aw->na : "no PAGEMAP_SCAN");
        return -1;
    }
    double f = n * (aw->v.median * 1e-3 + mc) * 1e-3 + scan_ms;
    snprintf(flo, len, "%.2f ms (%.0f pages x (WP_ASYNC fault %.2f us + "
             "copy %.2f us) + scan %.2f ms)", f, n, aw->v.median * 1e-3, mc,
             scan_ms);
    return f;
}

/* The tracked (redo) design: the epoch against its floor, the first
 * snapshot against a memcpy of the range, and the memory it holds. */
static void judge_redo(struct row *r, double mc, const struct bench_profile *p)
{
    char name[96], fig[64], flo[160], info[160];
    double ep = med(&r->t_epoch) * 1e3;
    double floor_ms = redo_floor_ms((double)r->written, mc, r->scan_ms, p,
                                    flo, sizeof flo);
    snprintf(name, sizeof name, "redo epoch, %.0f MiB: <= 1.3 x floor",
             r->mib);
    snprintf(fig, sizeof fig, "%.2f ms per epoch", ep);
    snprintf(info, sizeof info, "take %.2f, writes %.2f, release %.2f ms; "
             "peer: fork() epoch %.2f ms, %.1fx the epoch",
             med(&r->t_take) * 1e3, med(&r->t_writes) * 1e3,
             med(&r->t_release) * 1e3, med(&r->epoch_fork) * 1e3,
             med(&r->epoch_fork) * 1e3 / ep);
    struct bench_target g = { .name = name, .figure = fig, .floor = flo,
                              .ratio = ep / floor_ms, .bound = 1.3,
                              .info = info };
    if (floor_ms > 0)
        (void)target_judge(&g);
    else
        printf("%s: %s, not judged (floor %s)\n", name, fig, flo);

    double first = med(&r->t_first) * 1e3, cp = med(&r->range_copy) * 1e3;
    snprintf(name, sizeof name, "redo first snapshot, %.0f MiB: <= 1.5 x "
             "memcpy", r->mib);
    snprintf(fig, sizeof fig, "%.2f ms", first);
    snprintf(flo, sizeof flo, "%.2f ms (memcpy of the range into fresh "
             "memory)", cp);
    struct bench_target f = { .name = name, .figure = fig, .floor = flo,
                              .ratio = first / cp, .bound = 1.5,
                              .info = NULL };
    (void)target_judge(&f);

    double range = r->mib * (1 << 20);
    snprintf(name, sizeof name, "redo memory held, %.0f MiB: range + pages "
             "stored", r->mib);
    snprintf(fig, sizeof fig, "%.1f MiB (uvm_snap_stats)",
             (double)r->t_held / (1 << 20));
    snprintf(flo, sizeof flo, "%.1f MiB range + %.1f MiB one epoch's pages",
             r->mib, (double)r->written * (double)uvm_pagesize() / (1 << 20));
    struct bench_target m = {
        .name = name, .figure = fig, .floor = flo,
        .ratio = (double)r->t_held /
                 (range + (double)r->written * (double)uvm_pagesize()),
        .bound = 1.0, .info = "the peak: two snapshots live, before the "
                              "epoch's release" };
    (void)target_judge(&m);
}

/* ---- the restore loop: run, restore, run, restore ... ---- */

/* AFL++'s snapshot module and Wasmtime reset a process's memory after
 * every run; a fork server forks a child per run instead.  Each run
 * writes n random pages of the range. */
#define LOOP_ITERS 20
#define LOOP_SIZES 2
#define LOOP_FRACS 2
static const size_t loop_mib[LOOP_SIZES] = { 64, 1024 };
static const double loop_frac[LOOP_FRACS] = { 0.001, 0.01 };

struct loop {
    double mib, frac;
    size_t n;                        /* pages a run writes */
    struct samples undo, redo, forks;
    double scan_ms;
};

/* One design: a snapshot, then runs each followed by a restore. */
static void loop_design(char *p, size_t len, unsigned flags, size_t n,
                        struct samples *out)
{
    size_t npages = len / uvm_pagesize();
    uvm_snap *s = snap_or_die(p, len, flags);
    for (int i = -1; i < LOOP_ITERS; i++) {       /* i = -1: warm-up */
        double a = now();
        write_distinct(p, npages, n);
        if (uvm_snap_restore(s) != 0) {
            perror("uvm_snap_restore");
            exit(1);
        }
        if (i >= 0)
            add(out, now() - a);
    }
    uvm_snap_release(s);
}

/* The fork server: each run in a child that exits. */
static void loop_fork(char *p, size_t len, size_t n, struct samples *out)
{
    size_t npages = len / uvm_pagesize();
    for (int i = -1; i < LOOP_ITERS; i++) {
        double a = now();
        (void)rnd(npages);              /* another draw for each child */
        pid_t pid = fork();
        if (pid == 0) {
            write_distinct(p, npages, n);
            _exit(0);
        }
        waitpid(pid, NULL, 0);
        if (i >= 0)
            add(out, now() - a);
    }
}

static void restore_loops(size_t max_mib, struct loop *L, int *nl)
{
    long avail = sysconf(_SC_AVPHYS_PAGES) * (sysconf(_SC_PAGESIZE) / 1024);
    *nl = 0;
    for (int z = 0; z < LOOP_SIZES; z++) {
        size_t len = loop_mib[z] << 20;
        if (loop_mib[z] > max_mib || (long)(loop_mib[z] * 1024) > avail / 10 * 4)
            continue;                  /* the range and its base */
        char *p = populated(len);
        if (p == NULL)
            continue;
        for (int f = 0; f < LOOP_FRACS; f++) {
            struct loop *l = &L[(*nl)++];
            memset(l, 0, sizeof *l);
            l->mib = (double)loop_mib[z];
            l->frac = loop_frac[f];
            l->n = (size_t)((double)(len / uvm_pagesize()) * l->frac);
            for (int b = 0; b < BLOCKS; b++) {
                loop_design(p, len, UVM_SNAP_UNDO, l->n, &l->undo);
                loop_design(p, len, UVM_SNAP_TRACKED, l->n, &l->redo);
                loop_fork(p, len, l->n, &l->forks);
            }
            l->scan_ms = profile_scan_ms(p, len, l->n, 5);
        }
        munmap(p, len);
    }
}

/* Each loop's figures, and the tracked design judged against its floor. */
static void judge_loops(struct loop *L, int nl, double tu, double mc,
                        const struct bench_profile *prof)
{
    printf("restore loop: run (writes) + uvm_snap_restore, per iteration, "
           "medians of %d; fork server: fork + child's writes + exit\n",
           LOOP_ITERS * BLOCKS);
    printf("%6s %6s %7s | %9s %9s %9s | %9s %9s\n", "MiB", "frac",
           "pages", "undo", "redo", "fork srv", "undo flr", "redo flr");
    for (int i = 0; i < nl; i++) {
        struct loop *l = &L[i];
        char flo[160], name[96], fig[64], info[160];
        double undo_floor = (double)l->n * (tu + mc) * 1e-3;
        double floor_ms = redo_floor_ms((double)l->n, mc, l->scan_ms, prof,
                                        flo, sizeof flo);
        double redo = med(&l->redo) * 1e3, undo = med(&l->undo) * 1e3;
        double forks = med(&l->forks) * 1e3;
        printf("%6.0f %5.1f%% %7zu | %9.3f %9.3f %9.3f | %9.3f %9.3f ms\n",
               l->mib, l->frac * 100, l->n, undo, redo, forks, undo_floor,
               floor_ms);
        snprintf(name, sizeof name, "redo restore loop, %.0f MiB, %.1f %%: "
                 "<= 1.3 x floor", l->mib, l->frac * 100);
        snprintf(fig, sizeof fig, "%.3f ms per iteration", redo);
        snprintf(info, sizeof info, "undo %.3f ms (%.2fx its floor %.3f ms);"
                 " fork server %.3f ms", undo, undo / undo_floor, undo_floor,
                 forks);
        struct bench_target g = { .name = name, .figure = fig, .floor = flo,
                                  .ratio = redo / floor_ms, .bound = 1.3,
                                  .info = info };
        if (floor_ms > 0)
            (void)target_judge(&g);
    }
}

static void print_row(struct row *r)
{
    printf("%6.0f %9.3f %8.3f | %7.3f %8.3f %7.3f %8.3f %9.3f %5.1fx |"
           " %6.2f %6.2f | %8.3f\n",
           r->mib, med(&r->first) * 1e3, med(&r->fork_call) * 1e3,
           med(&r->take) * 1e3, med(&r->writes) * 1e3,
           med(&r->release) * 1e3, med(&r->epoch) * 1e3,
           med(&r->epoch_fork) * 1e3, med(&r->epoch_fork) / med(&r->epoch),
           med(&r->cow), r->cow_first_us, med(&r->hot) * 1e3);
    printf("%6s tracked: 1st snap %.3f ms (memcpy into fresh memory %.3f ms)"
           "; epoch %.3f ms (take %.3f, writes %.3f, release %.3f)\n", "",
           med(&r->t_first) * 1e3, med(&r->range_copy) * 1e3,
           med(&r->t_epoch) * 1e3, med(&r->t_take) * 1e3,
           med(&r->t_writes) * 1e3, med(&r->t_release) * 1e3);
    fflush(stdout);
}

/* ---- the command line, with uvm-bench's conventions ---- */

#define MAX_MIB 1048576L         /* 1 TiB: the sizes are 4^k MiB up to it */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: uvm-bench-snap [MAX-MIB]\n"
        "       uvm-bench-snap --help\n"
        "libuvm's snapshots, both designs (copy-on-write and tracked base),\n"
        "against fork() on populated ranges of 1, 4, 16, ... MiB up to\n"
        "MAX-MIB, then the restore loop; the targets are judged at 1 GiB or\n"
        "at the largest size run.\n\n"
        "  MAX-MIB   the largest range in MiB, a decimal number from 1 to\n"
        "            %ld (default: UVM_BENCH_SNAP_MAX_MIB, else 4096)\n"
        "  --help    this text\n\n"
        "Exit status: 0 when the measurements succeeded, whether or not the\n"
        "targets were met; 1 when the benchmark could not be set up; 2 on a\n"
        "usage error.\n", MAX_MIB);
}

/* A whole decimal number of MiB, or a usage error naming where it came
 * from: "1g" or "0x10" ran 1 and 0 MiB when strtoul's leftovers were
 * ignored. */
static size_t parse_mib(const char *what, const char *s)
{
    return (size_t)bench_number("uvm-bench-snap", what, s, 1, MAX_MIB);
}

/* The largest size to run: the operand, else the environment, else 4096. */
static size_t parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); exit(0);
        default:  usage(stderr); exit(2);
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "uvm-bench-snap: unexpected argument '%s'\n",
                argv[optind + 1]);
        usage(stderr);
        exit(2);
    }
    const char *e = getenv("UVM_BENCH_SNAP_MAX_MIB");
    if (optind < argc)
        return parse_mib("MAX-MIB", argv[optind]);
    if (e != NULL && e[0] != '\0')
        return parse_mib("UVM_BENCH_SNAP_MAX_MIB", e);
    return 4096;
}

int main(int argc, char **argv)
{
    size_t max_mib = parse_args(argc, argv);
    long avail = sysconf(_SC_AVPHYS_PAGES) * (sysconf(_SC_PAGESIZE) / 1024);
    static struct bench_profile prof;
    profile_measure(&prof, 5);
    target_program("uvm-bench-snap");
    char host[512];
    target_host(profile_host_line(&prof, host, sizeof host));
    baselines_init();
    printf("uvm-bench-snap: libuvm %s\n", uvm_version());
    profile_print(&prof, stdout);
    printf("1 %% of pages written per epoch; medians of %d first snapshots "
           "and forks, of %d epochs\n(libuvm and fork() in alternating "
           "blocks).  Warm-up: ranges populated first; one untimed\n"
           "snapshot, and one untimed epoch at the start of every block "
           "(its COW: \"COW 1st\").\n", EPOCHS, EPOCHS * BLOCKS);
    printf("%6s %9s %8s | %7s %8s %7s %8s %9s %6s | %6s %6s | %8s\n",
           "MiB", "1st snap", "fork()", "take", "writes", "release",
           "epoch", "fork ep.", "ratio", "COW", "COW 1st", "hot ep.");
    printf("%6s %9s %8s | %7s %8s %7s %8s %9s %6s | %6s %6s | %8s\n",
           "", "ms", "ms", "ms", "ms", "ms", "ms", "ms", "", "us", "us",
           "ms extra");
    static struct row r, judged;
    for (size_t mib = 1; mib <= max_mib; mib *= 4) {
        if ((long)(mib * 1024) > avail / 10 * 8) {
            printf("%6zu skipped: not enough free memory\n", mib);
            break;
        }
        memset(&r, 0, sizeof r);
        bench_size(mib << 20, &r);
        if (r.mib < 0)
            break;
        print_row(&r);
        if (judged.mib != 1024)      /* 1 GiB, else the largest run */
            judged = r;
    }
    if (judged.mib <= 0) {
        printf("targets: not judged (no size could be run)\n");
        (void)target_summary(stdout);
        return 0;
    }
    double tu = med(&judged.tu), mc = med(&judged.mc);
    printf("at %.0f MiB%s, between the epochs: TRAP+UNPROT round trip "
           "%.2f us, one page memcpy %.2f us\n", judged.mib,
           judged.mib == 1024 ? "" : " (the largest size run; the targets "
           "are set at 1 GiB)", tu, mc);
    judge_undo(&judged, tu, mc);
    judge_redo(&judged, mc, &prof);
    static struct loop loops[LOOP_SIZES * LOOP_FRACS];
    int nloops;
    restore_loops(max_mib, loops, &nloops);
    judge_loops(loops, nloops, tu, mc, &prof);
    printf("extra (not a target): hot-set epoch, the same 1 %% rewritten: "
           "%.2f ms, %.1fx cheaper than the fork epoch\n",
           med(&judged.hot) * 1e3,
           med(&judged.epoch_fork) / med(&judged.hot));
    (void)target_summary(stdout);
    return 0;
}
