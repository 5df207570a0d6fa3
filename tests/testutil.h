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
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
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
    /* A guard page stays on each side, so the hole does not merge with the
     * free space below: the next mmap (ASan's allocator, libuvm's first-use
     * records) can only land in it if it is at most n pages long. */
    char *p = map_pages(n + 2, PROT_NONE);
    ck_assert_int_eq(munmap(p + PS, n * PS), 0);
    return p + PS;
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

/* The number of mappings that overlap [p, p+len).  Unlike maps_count it
 * ignores the mappings of the allocator (ASan keeps freed large blocks
 * mapped in its quarantine), so it counts only what libuvm did to the range. */
static inline size_t maps_count_in(const void *p, size_t len)
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    uintptr_t lo = (uintptr_t)p, hi = lo + len;
    char line[512];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s < hi && e > lo)
            n++;
    }
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

/* Degraded kernels (test-degraded.c, test-security.c): make the system call
 * nr fail with err in this process and its children, the way a container's
 * seccomp profile forbids userfaultfd.  Returns 0, or -1 with errno. */
static inline int deny_syscall(long nr, int err)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & 0xffff)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof f / sizeof f[0], f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* Become user and group 65534 (nobody) if root; an unprivileged process
 * stays as it is.  setuid() makes the process non-dumpable, which closes
 * /proc/self/pagemap to it; a program started as that user would be
 * dumpable, so the flag is set back.  Returns 0, or -1 with errno. */
static inline int become_unprivileged(void)
{
    if (geteuid() == 0 &&
        (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
        return -1;
    return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

/* The audit after every test (the kernel is the truth): whatever a
 * test did, the protection state libuvm keeps must agree with the
 * kernel's when it ends.  Every TCase gets it as a checked teardown, so it
 * runs in the test's own process; tcase_create below is this wrapper.
 * EACCES: a test that made itself non-dumpable cannot read pagemap. */
static inline void uvm_test_audit(void)
{
    if (uvm_debug_audit() != 0 && errno != EACCES)
        ck_abort_msg("uvm_debug_audit: libuvm and the kernel disagree (%s)",
                     strerror(errno));
}

static inline TCase *uvm_test_tcase_create(const char *name)
{
    TCase *tc = (tcase_create)(name);
    tcase_add_checked_fixture(tc, NULL, uvm_test_audit);
    return tc;
}
#define tcase_create(name) uvm_test_tcase_create(name)

/* Die of SIGALRM after sec seconds, whatever check did with the signal
 * (a hang must end the process, not wait for check's timeout). */
static inline void die_in(unsigned sec)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    signal(SIGALRM, SIG_DFL);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    alarm(sec);
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
