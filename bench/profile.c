/*
 * profile.c: the host profile (profile.h says what and why).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: for the time of profile_measure, its own mappings, one
 * userfaultfd and the SIGSEGV action (saved first, restored after); and
 * the one way the raw floors open a userfaultfd (profile_uffd_open_async,
 * also uvm-bench-dirty's), so that a floor is never missing where the
 * profile's item, or libuvm's method, works.
 * Must never: call libuvm (the profile is the floor libuvm is judged
 * against), leave any of those behind, or fail the program: an item
 * that cannot be measured says why instead.
 *
 * Every item runs one untimed block first (pages populated, descriptor
 * open and registered, handler installed, caches warm), then blocks
 * timed blocks; the value is the median block.  Items are per operation:
 * a block times many and divides.
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "profile.h"
#include "../lib/compat.h"     /* kernel constants the headers may lack */

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1     /* Linux 5.11 */
#endif

#define PROF_PAGES 1024           /* pages per block of the page items */
#define SYSCALLS 20000            /* calls per block */
#define FORK_MIB 64

static size_t ps;

static char *map_pages(size_t n, int populate)
{
    char *p = mmap(NULL, n * ps, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    (void)madvise(p, n * ps, MADV_NOHUGEPAGE);   /* 4 KiB faults only */
    if (populate)
        memset(p, 1, n * ps);
    return p;
}

/* The visiting order of the page items: stride 7919 (prime to
 * PROF_PAGES), so no prefetcher or fault-around follows it. */
static size_t visit(size_t i)
{
    return i * 7919 % PROF_PAGES;
}

/* ---- the items: each returns ns per operation, or < 0 ---- */

static double block_syscall(void *unused)
{
    (void)unused;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < SYSCALLS; i++)
        (void)syscall(SYS_getppid);     /* glibc caches no getppid */
    return (double)(bench_now_ns() - t0) / SYSCALLS;
}

/* A fresh mapping per block: its first write allocates and zeroes. */
static double block_first_touch(void *unused)
{
    (void)unused;
    char *p = map_pages(PROF_PAGES, 0);
    if (p == NULL)
        return -1;
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < PROF_PAGES; i++)
        ((volatile char *)p)[visit(i) * ps] = 1;
    uint64_t dt = bench_now_ns() - t0;
    munmap(p, PROF_PAGES * ps);
    return (double)dt / PROF_PAGES;
}

/* TRAP: the handler changes nothing until the last trap of the block,
 * so the same store traps again (Appel & Li's TRAP loop). */
static struct {
    char *page;
    volatile long traps, limit;
} trap;

/* Async-signal-safe: mprotect and signal only, errno restored. */
static void trap_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    int saved = errno;
    if (si->si_addr != trap.page) {     /* not ours: die as without us */
        signal(SIGSEGV, SIG_DFL);
        return;
    }
    if (++trap.traps >= trap.limit)
        mprotect(trap.page, ps, PROT_READ | PROT_WRITE);
    errno = saved;
}

static double block_trap(void *unused)
{
    (void)unused;
    trap.traps = 0;
    trap.limit = 2000;
    if (mprotect(trap.page, ps, PROT_NONE) != 0)
        return -1;
    uint64_t t0 = bench_now_ns();
    while (trap.traps < trap.limit)
        *(volatile char *)trap.page = 2;
    return (double)(bench_now_ns() - t0) / (double)trap.limit;
}

/* One-page mprotect: the middle page of three flips between read-only
 * and read-write, splitting the mapping and merging it back, as PROT1
 * and UNPROT do.  Per call. */
static double block_mprotect(void *area)
{
    char *mid = (char *)area + ps;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < PROF_PAGES; i++)
        if (mprotect(mid, ps, i % 2 ? PROT_READ | PROT_WRITE : PROT_READ))
            return -1;
    return (double)(bench_now_ns() - t0) / PROF_PAGES;
}

struct uffd_area {
    int fd;
    char *mem;
};

/* Write-protect the pages, then write each once: every write is a fault
 * the kernel resolves by clearing the page's uffd-wp bit. */
static double block_uffd_wp(void *arg)
{
    struct uffd_area *u = arg;
    struct uffdio_writeprotect wp = {
        .range = { (unsigned long)u->mem, PROF_PAGES * ps },
        .mode = UFFDIO_WRITEPROTECT_MODE_WP,
    };
    if (ioctl(u->fd, UFFDIO_WRITEPROTECT, &wp) != 0)
        return -1;
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < PROF_PAGES; i++)
        ((volatile char *)u->mem)[visit(i) * ps] = 1;
    return (double)(bench_now_ns() - t0) / PROF_PAGES;
}

static double block_memcpy(void *area)
{
    char *src = area, *dst = (char *)area + PROF_PAGES * ps;
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < PROF_PAGES; i++)
        memcpy(dst + i * ps, src + visit(i) * ps, ps);
    __asm__ volatile("" : : "r"(dst) : "memory");   /* keep the copies */
    return (double)(bench_now_ns() - t0) / PROF_PAGES;
}

/* fork() until it returns in the parent; the child exits at once and is
 * reaped outside the timing. */
static double block_fork(void *unused)
{
    (void)unused;
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    uint64_t dt = bench_now_ns() - t0;
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(0);
    (void)waitpid(pid, NULL, 0);
    return (double)dt;
}

/* One untimed block, then n timed ones; the item's value.  A failed
 * block makes the item n/a. */
static void measure(struct profile_value *v, double (*block)(void *),
                    void *arg, int n, double scale)
{
    double *t = bench_calloc((size_t)n, sizeof *t);
    if (block(arg) < 0) {
        v->na = "n/a (a system call failed)";
    } else {
        for (int b = 0; b < n && v->na == NULL; b++) {
            t[b] = block(arg) * scale;
            if (t[b] < 0)
                v->na = "n/a (a system call failed)";
        }
    }
    if (v->na == NULL) {
        v->v = bench_stats_of(t, n);
        v->n = n;
    }
    free(t);
}

/* ---- the items that need setting up ---- */

static void measure_trap(struct profile_value *v, int n)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_sigaction = trap_handler;
    act.sa_flags = SA_SIGINFO | SA_NODEFER;     /* libuvm's flags */
    sigemptyset(&act.sa_mask);
    trap.page = map_pages(1, 1);
    if (trap.page == NULL || sigaction(SIGSEGV, &act, &old) != 0) {
        v->na = "n/a (mmap or sigaction failed)";
    } else {
        measure(v, block_trap, NULL, n, 1);
        sigaction(SIGSEGV, &old, NULL);
    }
    if (trap.page != NULL)
        munmap(trap.page, ps);
}

static void measure_pages(struct profile_value *v, double (*block)(void *),
                          size_t npages, int n)
{
    char *p = map_pages(npages, 1);
    if (p == NULL) {
        v->na = "n/a (mmap failed)";
        return;
    }
    measure(v, block, p, n, 1);
    munmap(p, npages * ps);
}

/* profile.h.  The retry is what libuvm's own opener does (lib/uffd.c):
 * with vm.unprivileged_userfaultfd = 0 an unprivileged process may still
 * have a user-mode-only descriptor, and WP_ASYNC faults are user-mode
 * faults, so the floors measure what libuvm's method really runs on. */
int profile_uffd_open_async(char *na, size_t len)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == EPERM)
        fd = (int)syscall(SYS_userfaultfd,
                          O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0) {
        int e = errno;
        snprintf(na, len, "n/a (userfaultfd: %s%s)", strerror(e),
                 e == EPERM ? "; needs root, CAP_SYS_PTRACE or "
                 "vm.unprivileged_userfaultfd=1" : "");
        errno = e;
        return -1;
    }
    struct uffdio_api api = { .api = UFFD_API,
                              .features = UFFD_FEATURE_WP_ASYNC };
    if (ioctl(fd, UFFDIO_API, &api) != 0) {
        int e = errno;
        snprintf(na, len, "n/a (no UFFD_FEATURE_WP_ASYNC: %s; Linux 6.7)",
                 strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void measure_uffd(struct bench_profile *p, int n)
{
    struct profile_value *v = &p->items[PROF_UFFD_WP];
    struct uffd_area u = { profile_uffd_open_async(p->uffd_na,
                                                   sizeof p->uffd_na),
                           NULL };
    if (u.fd < 0) {
        v->na = p->uffd_na;
        return;
    }
    u.mem = map_pages(PROF_PAGES, 1);
    struct uffdio_register reg = {
        .range = { (unsigned long)u.mem, PROF_PAGES * ps },
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    if (u.mem == NULL || ioctl(u.fd, UFFDIO_REGISTER, &reg) != 0) {
        snprintf(p->uffd_na, sizeof p->uffd_na, "n/a (UFFDIO_REGISTER: %s)",
                 strerror(errno));
        v->na = p->uffd_na;
    } else {
        measure(v, block_uffd_wp, &u, n, 1);
    }
    close(u.fd);
    if (u.mem != NULL)
        munmap(u.mem, PROF_PAGES * ps);
}

/* The floor of a tracked snapshot's scan: one PAGEMAP_SCAN that reports
 * the written pages of [p, p + len) and write-protects them again, the
 * range registered with a WP_ASYNC userfaultfd of its own and nwritten
 * pages written (spread) before each of reps scans.  The median, in ms,
 * or -1 (no WP_ASYNC, no PAGEMAP_SCAN).  The range must have no
 * userfaultfd: a benchmark calls this between its own uses of it. */
double profile_scan_ms(char *p, size_t len, size_t nwritten, int reps)
{
    char na[128];
    double t[16];
    int fd = profile_uffd_open_async(na, sizeof na), pm = -1, k = 0;
    size_t npages = len / ps, step = nwritten ? npages / nwritten : 1;
    struct uffdio_register reg = {
        .range = { (unsigned long)p, len },
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    struct uffdio_writeprotect wp = {
        .range = { (unsigned long)p, len },
        .mode = UFFDIO_WRITEPROTECT_MODE_WP,
    };
    if (fd < 0 || ioctl(fd, UFFDIO_REGISTER, &reg) != 0 ||
        ioctl(fd, UFFDIO_WRITEPROTECT, &wp) != 0 ||
        (pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) < 0)
        goto out;
    for (; k < reps && k < 16; k++) {
        for (size_t i = 0; i < nwritten; i++)
            p[(i * step + (size_t)k) % npages * ps + 16] ^= 1;
        struct page_region vec[256];
        struct pm_scan_arg a = {
            .size = sizeof a,
            .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
            .vec = (uintptr_t)vec,
            .vec_len = 256,
            .category_mask = PAGE_IS_WRITTEN,
            .return_mask = PAGE_IS_WRITTEN,
        };
        uint64_t t0 = bench_now_ns();
        for (uintptr_t from = (uintptr_t)p; from < (uintptr_t)p + len;) {
            a.start = from;
            a.end = (uintptr_t)p + len;
            long n = ioctl(pm, PAGEMAP_SCAN, &a);
            if (n < 0)
                goto out;
            if (n < 256)
                break;
            from = a.walk_end;
        }
        t[k] = (double)(bench_now_ns() - t0) * 1e-6;
    }
out:
    if (pm >= 0)
        close(pm);
    if (fd >= 0)
        close(fd);                  /* unregisters, clears the marks */
    return k == reps || k == 16 ? bench_stats_of(t, k).median : -1;
}

static void measure_fork(struct profile_value *v, int n)
{
    size_t npages = FORK_MIB * (1024 * 1024 / ps);
    char *p = map_pages(npages, 1);
    if (p == NULL) {
        v->na = "n/a (mmap of 64 MiB failed)";
        return;
    }
    measure(v, block_fork, NULL, n, 1e-3);          /* ns -> us */
    munmap(p, npages * ps);
}

/* ---- what the host is ---- */

/* The first value of key in /proc/cpuinfo into buf; 0 if found. */
static int cpuinfo(const char *key, char *buf, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    int found = -1;
    if (f == NULL)
        return -1;
    while (found != 0 && fgets(line, sizeof line, f) != NULL) {
        char *c = strchr(line, ':');
        if (c == NULL || strncmp(line, key, strlen(key)) != 0)
            continue;
        c += 1 + (c[1] == ' ');
        c[strcspn(c, "\n")] = '\0';
        snprintf(buf, len, "%s", c);
        found = 0;
    }
    fclose(f);
    return found;
}

/* The first line of a file, or "" */
static void first_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    buf[0] = '\0';
    if (f == NULL)
        return;
    if (fgets(buf, (int)len, f) == NULL)
        buf[0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

/* systemd-detect-virt's verdict ("none", "kvm", ...), or "" when it is
 * not installed. */
static void detect_virt(char *buf, size_t len)
{
    FILE *f = popen("systemd-detect-virt 2>/dev/null", "r");
    buf[0] = '\0';
    if (f == NULL)
        return;
    if (fgets(buf, (int)len, f) == NULL)
        buf[0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    pclose(f);
}

static void identify(struct bench_profile *p)
{
    char flags[4096], vendor[64], product[64], sdv[32];
    struct utsname u;
    if (cpuinfo("model name", p->cpu, sizeof p->cpu) != 0)
        snprintf(p->cpu, sizeof p->cpu, "unknown CPU");
    if (uname(&u) == 0)
        snprintf(p->kernel, sizeof p->kernel, "%s %s %s %s", u.sysname,
                 u.release, u.version, u.machine);
    else
        snprintf(p->kernel, sizeof p->kernel, "unknown");
    int hyp = cpuinfo("flags", flags, sizeof flags) == 0 &&
              strstr(flags, " hypervisor") != NULL;
    first_line("/sys/class/dmi/id/sys_vendor", vendor, sizeof vendor);
    first_line("/sys/class/dmi/id/product_name", product, sizeof product);
    detect_virt(sdv, sizeof sdv);
    snprintf(p->virt, sizeof p->virt, "%s (cpuinfo hypervisor flag: %s; "
             "DMI: %s%s%s; systemd-detect-virt: %s)",
             hyp || (sdv[0] && strcmp(sdv, "none") != 0) ? "virtualised"
                                                        : "bare metal",
             hyp ? "yes" : "no", vendor[0] ? vendor : "n/a",
             product[0] ? " / " : "", product, sdv[0] ? sdv : "not installed");
    p->ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    p->pagesize = ps;
}

/* ---- the profile ---- */

static const struct profile_value item_names[PROF_NITEMS] = {
    [PROF_SYSCALL] = { "null_syscall", "null system call (getppid)",
                       "ns per call", { 0, 0, 0 }, 0, NULL },
    [PROF_FIRST_TOUCH] = { "first_touch", "first-touch page fault",
                           "ns per page", { 0, 0, 0 }, 0, NULL },
    [PROF_TRAP] = { "trap", "signal round trip (TRAP)", "ns per trap",
                    { 0, 0, 0 }, 0, NULL },
    [PROF_MPROTECT] = { "mprotect_page", "one-page mprotect",
                        "ns per call", { 0, 0, 0 }, 0, NULL },
    [PROF_UFFD_WP] = { "uffd_wp_async_fault",
                       "kernel-resolved uffd write fault (WP_ASYNC)",
                       "ns per page", { 0, 0, 0 }, 0, NULL },
    [PROF_MEMCPY] = { "memcpy_page", "one-page memcpy", "ns per page",
                      { 0, 0, 0 }, 0, NULL },
    [PROF_FORK] = { "fork_64mib", "fork() of 64 MiB populated",
                    "us per fork", { 0, 0, 0 }, 0, NULL },
};

void profile_measure(struct bench_profile *p, int blocks)
{
    int n = blocks < 1 ? 1 : blocks;
    memset(p, 0, sizeof *p);
    ps = (size_t)sysconf(_SC_PAGESIZE);
    memcpy(p->items, item_names, sizeof item_names);
    identify(p);
    measure(&p->items[PROF_SYSCALL], block_syscall, NULL, n, 1);
    measure(&p->items[PROF_FIRST_TOUCH], block_first_touch, NULL, n, 1);
    measure_trap(&p->items[PROF_TRAP], n);
    measure_pages(&p->items[PROF_MPROTECT], block_mprotect, 3, n);
    measure_uffd(p, n);
    measure_pages(&p->items[PROF_MEMCPY], block_memcpy, 2 * PROF_PAGES, n);
    measure_fork(&p->items[PROF_FORK], n < 5 ? n : 5);
}

const char *profile_host_line(const struct bench_profile *p, char *buf,
                              size_t len)
{
    char rel[sizeof p->kernel];
    snprintf(rel, sizeof rel, "%s", p->kernel);
    /* "Linux 6.18.0 #1 SMP ... x86_64": sysname and release suffice */
    char *sp = strchr(rel, ' ');
    if (sp != NULL && (sp = strchr(sp + 1, ' ')) != NULL)
        *sp = '\0';
    snprintf(buf, len, "%s, %ld CPUs, %s, %.*s", p->cpu, p->ncpu, rel,
             (int)strcspn(p->virt, " "), p->virt);
    return buf;
}

void profile_print(const struct bench_profile *p, FILE *f)
{
    fprintf(f, "host: cpu            %s, %ld online CPUs, %zu-byte pages\n",
            p->cpu, p->ncpu, p->pagesize);
    fprintf(f, "host: kernel         %s\n", p->kernel);
    fprintf(f, "host: virtualisation %s\n", p->virt);
    for (int i = 0; i < PROF_NITEMS; i++) {
        const struct profile_value *v = &p->items[i];
        fprintf(f, "host: %-44s ", v->label);
        if (v->na != NULL)
            fprintf(f, "%s\n", v->na);
        else
            fprintf(f, "%8.0f %s [%.0f - %.0f], %d blocks\n", v->v.median,
                    v->unit, v->v.min, v->v.max, v->n);
    }
    fprintf(f, "host: (raw system calls, not libuvm; each item warmed up "
            "with one untimed block; medians [min - max])\n");
}

void profile_print_markdown(const struct bench_profile *p, FILE *f)
{
    fprintf(f, "| host profile | |\n|---|---|\n");
    fprintf(f, "| CPU | %s, %ld online CPUs, %zu-byte pages |\n", p->cpu,
            p->ncpu, p->pagesize);
    fprintf(f, "| kernel | %s |\n", p->kernel);
    fprintf(f, "| virtualisation | %s |\n", p->virt);
    for (int i = 0; i < PROF_NITEMS; i++) {
        const struct profile_value *v = &p->items[i];
        if (v->na != NULL)
            fprintf(f, "| %s | %s |\n", v->label, v->na);
        else
            fprintf(f, "| %s | %.0f %s [%.0f - %.0f] |\n", v->label,
                    v->v.median, v->unit, v->v.min, v->v.max);
    }
    fprintf(f, "\nThe profile: raw system calls, not libuvm, each warmed up "
            "with one untimed block; medians of %d blocks [min - max].\n",
            p->items[PROF_SYSCALL].n);
}
