/*
 * profile.h: the host profile every benchmark program prints first.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Hosts of one kind differ by up to ten times in what a fault costs, so a
 * figure, or a ratio of two mechanisms, means little without the costs of
 * the kernel operations under it on the same host at the same time.  The
 * profile says which host ran (CPU, kernel, virtualisation) and measures
 * those operations with raw system calls, never through libuvm:
 *   null system call, first-touch page fault, signal round trip (TRAP),
 *   one-page mprotect, kernel-resolved userfaultfd write fault
 *   (WP_ASYNC), one-page memcpy, fork() of 64 MiB populated.
 * Shared by uvm-bench, uvm-bench-dirty and uvm-bench-snap (stats.c for
 * the clock and medians).  It must never leave a signal action, a
 * mapping or a descriptor behind: it runs before the benchmarks proper,
 * in their process.
 */
#ifndef UVM_BENCH_PROFILE_H
#define UVM_BENCH_PROFILE_H

#include <stddef.h>
#include <stdio.h>

#include "stats.h"

/* The measured lines, in the order they print. */
enum profile_item {
    PROF_SYSCALL,            /* getppid(2) through syscall(2), ns */
    PROF_FIRST_TOUCH,        /* write to a never-touched anonymous page */
    PROF_TRAP,               /* SIGSEGV delivered, handler returns */
    PROF_MPROTECT,           /* mprotect of one page in a larger mapping */
    PROF_UFFD_WP,            /* write fault resolved by the kernel */
    PROF_MEMCPY,             /* memcpy of one page, warm caches */
    PROF_FORK,               /* fork() of a process holding 64 MiB */
    PROF_NITEMS
};

struct profile_value {
    const char *key;         /* "null_syscall": CSV/JSON name */
    const char *label;       /* for people */
    const char *unit;        /* "ns per call" */
    struct bench_stats v;    /* median, min, max; valid when na is NULL */
    int n;                   /* blocks behind v */
    const char *na;          /* why not measured, or NULL */
};

struct bench_profile {
    char cpu[128];           /* /proc/cpuinfo "model name" */
    char kernel[400];        /* uname: sysname release version machine */
    char virt[384];          /* what says whether it is virtualised */
    long ncpu;
    size_t pagesize;
    char uffd_na[128];       /* storage for items[PROF_UFFD_WP].na */
    struct profile_value items[PROF_NITEMS];
};

/* Identify the host and measure every item (warmed up first; blocks
 * blocks each, the fork line fewer).  Never fails: an item that cannot
 * be measured gets na.  About half a second. */
void profile_measure(struct bench_profile *p, int blocks);

/* The profile as text, one "host:" line per fact or item. */
void profile_print(const struct bench_profile *p, FILE *f);

/* The profile as a Markdown table (make bench-readme). */
void profile_print_markdown(const struct bench_profile *p, FILE *f);

/* One line naming the host (CPU, kernel, virtualisation), for stamping
 * tables; in buf, returned. */
const char *profile_host_line(const struct bench_profile *p, char *buf,
                              size_t len);

/* A userfaultfd (close-on-exec, non-blocking) with UFFD_FEATURE_WP_ASYNC
 * enabled, for the raw floors of the profile and of uvm-bench-dirty: when
 * the kernel refuses it with EPERM, opened again user-mode-only.  Returns
 * the descriptor, or -1 with errno set and why ("n/a (...)") in na. */
int profile_uffd_open_async(char *na, size_t len);

/* One PAGEMAP_SCAN reporting and re-protecting nwritten written pages
 * of the populated range [p, p + len), registered with a WP_ASYNC
 * userfaultfd for the call (the range must have none): the median of
 * reps (at most 16) scans, in ms, or -1 where the kernel cannot. */
double profile_scan_ms(char *p, size_t len, size_t nwritten, int reps);

#endif /* UVM_BENCH_PROFILE_H */
