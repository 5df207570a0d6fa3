/*
 * testutil.h: small helpers shared by libuvm's Check suites.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#ifndef UVM_TESTUTIL_H
#define UVM_TESTUTIL_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uvm.h>

#define PS (uvm_pagesize())

/* Accesses that may fault.  The compiler knows nothing of the signal
 * handler that runs inside them, so the access is volatile and followed by
 * a barrier: counters the handler changed are read again afterwards. */
static inline void poke(void *p, char v)
{
    *(volatile char *)p = v;
    __asm__ __volatile__("" : : : "memory");
}

static inline char peek(const void *p)
{
    char v = *(const volatile char *)p;
    __asm__ __volatile__("" : : : "memory");
    return v;
}

static inline char *map_pages(size_t n, int prot)
{
    void *p = mmap(NULL, n * PS, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

/* Reserve n pages of address space with nothing mapped at the end: a range
 * that is certainly unmapped (for regions that need no mapping, and for
 * ENOMEM tests). */
static inline char *unmapped_pages(size_t n)
{
    char *p = map_pages(n, PROT_NONE);
    ck_assert_int_eq(munmap(p, n * PS), 0);
    return p;
}

/* Protection of the page at addr as /proc/self/maps says ("rw-p"...); the
 * mapping's bounds go to *lo and *hi.  Returns 0 if addr is unmapped. */
static inline int maps_prot(const void *addr, uintptr_t *lo, uintptr_t *hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    int prot = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        char perm[5];
        if (sscanf(line, "%lx-%lx %4s", &s, &e, perm) != 3)
            continue;
        if ((uintptr_t)addr >= s && (uintptr_t)addr < e) {
            prot = (perm[0] == 'r' ? PROT_READ : 0) |
                   (perm[1] == 'w' ? PROT_WRITE : 0) |
                   (perm[2] == 'x' ? PROT_EXEC : 0);
            if (lo) *lo = s;
            if (hi) *hi = e;
            found = 1;
            break;
        }
    }
    fclose(f);
    return found ? prot | 0x100 : 0;     /* 0x100: mapped */
}
#define MAPPED_WITH(prot) ((prot) | 0x100)

/* Is [p, p+len) mapped without a hole, all with protection prot? */
static inline int maps_range_is(const void *p, size_t len, int prot)
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    uintptr_t want = (uintptr_t)p, end = want + len;
    char line[512];
    int ok = 1;
    while (want < end && fgets(line, sizeof line, f)) {
        unsigned long s, e;
        char perm[5];
        if (sscanf(line, "%lx-%lx %4s", &s, &e, perm) != 3 || e <= want)
            continue;
        int pr = (perm[0] == 'r' ? PROT_READ : 0) |
                 (perm[1] == 'w' ? PROT_WRITE : 0) |
                 (perm[2] == 'x' ? PROT_EXEC : 0);
        if (s > want || pr != prot) {
            ok = 0;
            break;
        }
        want = e;
    }
    fclose(f);
    return ok && want >= end;
}

static inline size_t maps_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static inline long read_long_file(const char *path, long dflt)
{
    FILE *f = fopen(path, "r");
    long v = dflt;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = dflt;
        fclose(f);
    }
    return v;
}

/* Run fn in a child with stderr captured into buf; returns the wait status.
 * Core dumps are disabled in the child (the signal is what is checked). */
static inline int run_child(void (*fn)(void), char *buf, size_t cap)
{
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit rl = { 0, 0 };
        setrlimit(RLIMIT_CORE, &rl);
        close(pfd[0]);
        dup2(pfd[1], 2);
        fn();
        _exit(0);
    }
    close(pfd[1]);
    size_t have = 0;
    ssize_t n;
    while (have + 1 < cap && (n = read(pfd[0], buf + have, cap - 1 - have)) > 0)
        have += (size_t)n;
    buf[have] = '\0';
    close(pfd[0]);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return st;
}

static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
