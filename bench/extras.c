/*
 * extras.c: rows 1990 could not have: snapshot against fork(), read(2)
 * into a protected page, and the kernel's mapping limit.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Snapshot.  Li, Naughton & Plank's concurrent checkpoint makes a
 * copy-on-write image of the heap; fork() is what a Unix program does
 * today.  Both are timed on the same populated 64 MiB: fork() until it
 * returns in the parent (the child exits at once and is reaped outside
 * the timing), uvm_snapshot + uvm_snap_release alternating with it when
 * libuvm has snapshots.  Until then the row says so and still times
 * fork().
 *
 * EFAULT.  A system call that meets a protected page does not trap: the
 * kernel returns EFAULT (libsigsegv's efault1-3; uvm_touch(3)).  The row
 * shows it, and that uvm_touch first makes the same read succeed.
 *
 * Mapping limit.  Every protection that differs from its neighbours'
 * splits a kernel mapping (VMA); vm.max_map_count bounds them.  Protect
 * every other page of a large mapping until the kernel refuses, through
 * mprotect and through uvm_prot1.
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "bench.h"

#include <uvm.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024 * 1024UL)

static char *map_populated(size_t len)
{
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("uvm-bench: mmap");
        exit(1);
    }
    memset(p, 1, len);
    return p;
}

/* ---- snapshot against fork() ---- */

static double fork_once(void)
{
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    uint64_t dt = bench_now_ns() - t0;
    if (pid < 0) {
        perror("uvm-bench: fork");
        exit(1);
    }
    if (pid == 0)
        _exit(0);
    int status;
    (void)waitpid(pid, &status, 0);
    return (double)dt / 1e3;
}

static double snapshot_once(char *mem, size_t len)
{
    uint64_t t0 = bench_now_ns();
    uvm_snap *s = uvm_snapshot(mem, len);
    uint64_t dt = bench_now_ns() - t0;
    if (s == NULL || uvm_snap_release(s) != 0) {
        perror("uvm-bench: uvm_snapshot");
        exit(1);
    }
    return (double)dt / 1e3;
}

void run_snapshot(const struct bench_row *row, const struct bench_opts *o)
{
    size_t len = 64 * MIB;
    char *mem = map_populated(len);
    double *t[2], *q = bench_calloc((size_t)o->blocks, sizeof *q);
    uvm_snap *probe = uvm_snapshot(mem, len);
    int have = probe != NULL, err = errno;
    if (have)
        uvm_snap_release(probe);
    for (int k = 0; k < 2; k++)
        t[k] = bench_calloc((size_t)o->blocks, sizeof *t[k]);
    (void)fork_once();                               /* warm-up */
    for (int b = 0; b < o->blocks; b++) {
        if (have && b % 2 == 0)
            t[1][b] = snapshot_once(mem, len);
        t[0][b] = fork_once();
        if (have && b % 2 == 1)
            t[1][b] = snapshot_once(mem, len);
        if (have)
            q[b] = t[1][b] / t[0][b];
    }
    report_row(row->title, row->unit);
    struct bench_result f = {
        .row = row->name, .variant = "fork(), 64 MiB",
        .kind = BENCH_VALUE, .unit = row->unit,
        .v = bench_stats_of(t[0], o->blocks), .n = o->blocks,
    };
    report_result(&f);
    char text[120];
    snprintf(text, sizeof text, "n/a: uvm_snapshot not implemented (%s)",
             err == ENOSYS ? "ENOSYS" : strerror(err));
    struct bench_result s = {
        .row = row->name, .variant = "uvm_snapshot, 64 MiB",
        .kind = have ? BENCH_VALUE : BENCH_TEXT, .unit = row->unit,
        .v = have ? bench_stats_of(t[1], o->blocks) : f.v, .n = o->blocks,
        .text = have ? NULL : text,
    };
    report_result(&s);
    if (have) {
        struct bench_result r = {
            .row = row->name, .variant = "uvm_snapshot/fork",
            .kind = BENCH_RATIO, .v = bench_stats_of(q, o->blocks),
            .n = o->blocks,
        };
        report_result(&r);
    }
    munmap(mem, len);
    for (int k = 0; k < 2; k++)
        free(t[k]);
    free(q);
}

/* ---- read(2) into a protected page ---- */

static volatile long efault_handled;

static int efault_handler(const struct uvm_fault *f)
{
    efault_handled++;
    return uvm_unprot(f->page, PROT_READ | PROT_WRITE) == 0 ? UVM_RETRY
                                                            : UVM_DECLINE;
}

/* read(2) 16 bytes from a pipe into page; errno or 0. */
static int read_into(char *page, int fd[2])
{
    static const char msg[16] = "appel & li 1991";
    if (write(fd[1], msg, sizeof msg) != (ssize_t)sizeof msg)
        return errno;
    ssize_t n = read(fd[0], page, sizeof msg);
    int err = n < 0 ? errno : 0;
    if (n < 0) {                 /* drain what the failed read left */
        char sink[16];
        (void)!read(fd[0], sink, sizeof sink);
    }
    return err;
}

void run_efault(const struct bench_row *row, const struct bench_opts *o)
{
    (void)o;
    size_t ps = uvm_pagesize();
    char *page = map_populated(ps);
    int fd[2];
    uvm_region *r = uvm_trap(page, ps, efault_handler, NULL);
    if (r == NULL || pipe(fd) != 0) {
        perror("uvm-bench: efault setup");
        exit(1);
    }
    loops_use(BENCH_UVM);
    efault_handled = 0;
    uvm_prot1(page, PROT_NONE);
    int e1 = read_into(page, fd);
    long h1 = efault_handled;
    int t = uvm_touch(page, 16, UVM_ACCESS_WRITE);
    int e2 = read_into(page, fd);
    char t1[160], t2[160];
    snprintf(t1, sizeof t1, "%s, region handler called %ld times",
             e1 == 0 ? "succeeded" : e1 == EFAULT ? "fails with EFAULT" :
             strerror(e1), h1);
    snprintf(t2, sizeof t2, "%s (uvm_touch %s, handler called %ld times)",
             e2 == 0 ? "succeeds" : strerror(e2), t == 0 ? "ok" : "failed",
             efault_handled - h1);
    report_row(row->title, row->unit);
    struct bench_result a = { .row = row->name, .variant = "read(2)",
                              .kind = BENCH_TEXT, .text = t1 };
    struct bench_result b = { .row = row->name,
                              .variant = "uvm_touch, then read(2)",
                              .kind = BENCH_TEXT, .text = t2 };
    report_result(&a);
    report_result(&b);
    uvm_untrap(r);
    close(fd[0]);
    close(fd[1]);
    munmap(page, ps);
}

/* ---- the mapping limit ---- */

static long max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long v = 65530;              /* the kernel's default */
    if (f != NULL) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

/* Protect every other page of a fresh mapping until refused: the
 * islands made, and the errno of the refusal. */
static long islands(int (*prot1)(void *, int), size_t npages, int *err)
{
    size_t ps = uvm_pagesize();
    char *p = mmap(NULL, npages * ps, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    long n = 0;
    *err = 0;
    if (p == MAP_FAILED) {
        *err = errno;
        return -1;
    }
    for (size_t i = 1; i < npages; i += 2, n++)
        if (prot1(p + i * ps, PROT_NONE) != 0) {
            *err = errno;
            break;
        }
    munmap(p, npages * ps);
    return n;
}

static int raw_prot1(void *page, int prot)
{
    return mprotect(page, uvm_pagesize(), prot);
}

void run_maplimit(const struct bench_row *row, const struct bench_opts *o)
{
    (void)o;
    long max = max_map_count();
    size_t npages = 2 * (size_t)max + 1000;
    static const char *const names[] = { "mprotect", "uvm_prot1" };
    int (*const fns[])(void *, int) = { raw_prot1, uvm_prot1 };
    report_row(row->title, row->unit);
    for (int k = 0; k < 2; k++) {
        int err;
        uint64_t t0 = bench_now_ns();
        long n = islands(fns[k], npages, &err);
        double s = (double)(bench_now_ns() - t0) / 1e9;
        char text[120];
        snprintf(text, sizeof text, "then %s (%.2f s)",
                 err == 0 ? "no refusal" : strerror(err), s);
        struct bench_result r = {
            .row = row->name, .variant = names[k], .kind = BENCH_VALUE,
            .unit = row->unit, .v = { (double)n, (double)n, (double)n },
            .n = 1, .text = text,
        };
        report_result(&r);
    }
    char note[120];
    snprintf(note, sizeof note, "vm.max_map_count = %ld: each island is "
             "two mappings (its own and the one after it)", max);
    report_note(note);
}
