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
 * Then the three targets of issue 7 at 1 GiB, each "met" or "MISSED", and
 * next to the epoch target the measured floors that bound it: what the
 * writes alone cost when each first write is one synchronous fault
 * (TRAP+UNPROT + copy, the least any design that preserves never-copied
 * pages must pay), and what they would cost if the kernel resolved them
 * (a userfaultfd WP_ASYNC fault: a redo design with a free base copy).
 * Only the public header, except the fork() and userfaultfd baselines.
 * Usage: uvm-bench-snap [max-MiB] (default 4096; UVM_BENCH_SNAP_MAX_MIB).
 */
#define _GNU_SOURCE 1
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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

/* Write 1 % of the pages (at least one), fresh random pages; or, with
 * hot, the same pages every time (seeded alike). */
static size_t write_one_percent(char *p, size_t npages, int hot)
{
    size_t n = npages / 100 ? npages / 100 : 1;
    size_t ps = uvm_pagesize();
    unsigned long saved = rnd_state;
    if (hot)
        rnd_state = 0x9e3779b97f4a7c15UL;
    for (size_t k = 0; k < n; k++)
        p[rnd(npages) * ps + 8] ^= 1;
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
    struct samples first, fork_call, epoch, take, writes, release, cow;
    struct samples epoch_fork, hot, tu, mc;
    double cow_first_us;
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

static void baselines_init(void)
{
    size_t ps = uvm_pagesize();
    tu_mem = populated(TU_PAGES * ps);
    mc_a = populated(4096 * ps);
    mc_b = populated(4096 * ps);
    if (tu_mem == NULL || mc_a == NULL || mc_b == NULL)
        exit(1);
    /* Not the fork() baseline's business: it copies only the range. */
    madvise(tu_mem, TU_PAGES * ps, MADV_DONTFORK);
    madvise(mc_a, 4096 * ps, MADV_DONTFORK);
    madvise(mc_b, 4096 * ps, MADV_DONTFORK);
}

/* EPOCHS epochs of snapshot, writes, release of the previous snapshot,
 * each followed by one round of each baseline. */
static void epochs(char *p, size_t len, int hot, struct row *r)
{
    size_t npages = len / uvm_pagesize();
    uvm_snap *s = uvm_snapshot(p, len);
    if (s == NULL) {
        perror("uvm_snapshot");
        exit(1);
    }
    for (int e = 0; e < EPOCHS; e++) {
        double a = now();
        uvm_snap *n = uvm_snapshot(p, len);
        double b = now();
        size_t w = write_one_percent(p, npages, hot);
        double c = now();
        uvm_snap_release(s);
        s = n;
        double d = now();
        r->written = w;
        if (hot) {
            add(&r->hot, d - a);
            continue;
        }
        if (r->cow_first_us == 0)
            r->cow_first_us = (c - b) / (double)w * 1e6;   /* fresh store */
        else
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
    for (int e = 0; e < EPOCHS; e++) {
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
        add(&r->epoch_fork, now() - a);
        add(&r->fork_call, b - a);
    }
}

/* First snapshots and fork() calls, alternating. */
static void firsts(char *p, size_t len, struct row *r)
{
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
    if (p == NULL) {
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
    munmap(p, len);
}

/* The floor under any redo design: a write fault the kernel resolves by
 * itself (userfaultfd WP_ASYNC, Linux 6.7), no signal.  -1 if the kernel
 * or the privileges do not allow it. */
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
static double async_wp_fault_us(void)
{
    size_t ps = uvm_pagesize(), n = 4096;
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        fd = (int)syscall(SYS_userfaultfd,
                          O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0)
        return -1;
    struct uffdio_api api = { .api = UFFD_API,
                              .features = UFFD_FEATURE_WP_ASYNC };
    char *p = populated(n * ps);
    struct uffdio_register reg = {
        .range = { (unsigned long)p, n * ps },
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    struct uffdio_writeprotect wp = {
        .range = { (unsigned long)p, n * ps },
        .mode = UFFDIO_WRITEPROTECT_MODE_WP,
    };
    double best = -1;
    if (p != NULL && ioctl(fd, UFFDIO_API, &api) == 0 &&
        ioctl(fd, UFFDIO_REGISTER, &reg) == 0) {
        for (int round = 0; round < 3; round++) {
            if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp) != 0)
                break;
            double a = now();
            for (size_t i = 0; i < n; i++)
                ((volatile char *)p)[((i * 7919) % n) * ps] = 1;
            double t = (now() - a) / (double)n;
            if (best < 0 || t < best)
                best = t;
        }
    }
    close(fd);
    if (p != NULL)
        munmap(p, n * ps);
    return best < 0 ? -1 : best * 1e6;
}

int main(int argc, char **argv)
{
    const char *e = getenv("UVM_BENCH_SNAP_MAX_MIB");
    size_t max_mib = argc > 1 ? strtoul(argv[1], NULL, 0)
                              : e ? strtoul(e, NULL, 0) : 4096;
    long avail = sysconf(_SC_AVPHYS_PAGES) * (sysconf(_SC_PAGESIZE) / 1024);
    baselines_init();
    printf("uvm-bench-snap: 1 %% of pages written per epoch; medians of %d "
           "first snapshots and forks, of %d epochs (libuvm and fork() in "
           "alternating blocks)\n", EPOCHS, EPOCHS * BLOCKS);
    printf("%6s %9s %8s | %7s %8s %7s %8s %9s %6s | %6s %6s | %8s\n",
           "MiB", "1st snap", "fork()", "take", "writes", "release",
           "epoch", "fork ep.", "ratio", "COW", "COW 1st", "hot ep.");
    printf("%6s %9s %8s | %7s %8s %7s %8s %9s %6s | %6s %6s | %8s\n",
           "", "ms", "ms", "ms", "ms", "ms", "ms", "ms", "", "us", "us",
           "ms extra");
    static struct row r, at1g;
    for (size_t mib = 1; mib <= max_mib; mib *= 4) {
        if ((long)(mib * 1024) > avail / 10 * 8) {
            printf("%6zu skipped: not enough free memory\n", mib);
            break;
        }
        memset(&r, 0, sizeof r);
        bench_size(mib << 20, &r);
        if (r.mib < 0)
            break;
        printf("%6.0f %9.3f %8.3f | %7.3f %8.3f %7.3f %8.3f %9.3f %5.1fx |"
               " %6.2f %6.2f | %8.3f\n",
               r.mib, med(&r.first) * 1e3, med(&r.fork_call) * 1e3,
               med(&r.take) * 1e3, med(&r.writes) * 1e3,
               med(&r.release) * 1e3, med(&r.epoch) * 1e3,
               med(&r.epoch_fork) * 1e3, med(&r.epoch_fork) / med(&r.epoch),
               med(&r.cow), r.cow_first_us, med(&r.hot) * 1e3);
        fflush(stdout);
        if (mib == 1024)
            at1g = r;
    }
    double aw = async_wp_fault_us();
    if (at1g.mib == 0) {
        printf("targets: not judged (no 1 GiB row)\n");
        return 0;
    }
    double tu = med(&at1g.tu), mc = med(&at1g.mc);
    double fork_ep = med(&at1g.epoch_fork) * 1e3, ep = med(&at1g.epoch) * 1e3;
    printf("at 1 GiB, between the epochs: TRAP+UNPROT round trip %.2f us, "
           "one page memcpy %.2f us; kernel-resolved (WP_ASYNC) write "
           "fault ", tu, mc);
    if (aw < 0)
        printf("n/a\n");
    else
        printf("%.2f us\n", aw);
    double ratio = fork_ep / ep;
    double n = (double)at1g.written;
    double sync_floor = n * (tu + mc) * 1e-3;         /* ms */
    printf("target epoch >= 10x cheaper than fork() at 1 GiB: %.1fx  %s\n",
           ratio, ratio >= 10 ? "met" : "MISSED");
    printf("  floor: %.0f fresh pages x (TRAP+UNPROT + copy) = %.2f ms of "
           "writes alone -> at best %.1fx\n", n, sync_floor,
           fork_ep / sync_floor);
    if (aw >= 0)
        printf("  even kernel-resolved faults plus copies (redo with a free "
               "base copy): %.2f ms -> %.1fx\n", n * (aw + mc) * 1e-3,
               fork_ep / (n * (aw + mc) * 1e-3));
    double first = med(&at1g.first) * 1e3, fc = med(&at1g.fork_call) * 1e3;
    printf("target first snapshot of 1 GiB <= fork(): %.2f ms vs %.2f ms  "
           "%s\n", first, fc, first <= fc ? "met" : "MISSED");
    double cow = med(&at1g.cow), limit = 1.5 * tu + mc;
    printf("target preserving write <= 1.5 x TRAP+UNPROT + copy: %.2f us "
           "vs %.2f us  %s\n", cow, limit, cow <= limit ? "met" : "MISSED");
    printf("extra (not a target): hot-set epoch, the same 1 %% rewritten: "
           "%.2f ms, %.1fx cheaper than the fork epoch\n",
           med(&at1g.hot) * 1e3, fork_ep / (med(&at1g.hot) * 1e3));
    return 0;
}
