/*
 * loops.c: Appel & Li's timed loops, through libuvm, through libsigsegv's
 * dispatcher and through a raw sigaction+mprotect handler.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * The method is vmpup.c's (Appel & Li, ASPLOS 1991, section 4), rewritten:
 *  TRAP+PROT1+UNPROT  store to a protected page chosen by a fixed random
 *                     permutation; the handler protects the page touched
 *                     before (PROT1) and unprotects the faulting one.
 *  TRAP+PROTN+UNPROT  protect all BENCH_PAGES pages with one call, store to
 *                     each in permutation order; the handler unprotects.
 *  TRAP               the handler changes nothing for the first K traps,
 *                     so one store traps K times; the K-th trap unprotects.
 * Times are per page (per trap for TRAP) and include every kernel call the
 * loop makes, as the paper's do.
 *
 * All variants share one page area, one permutation and one handler body
 * (trap_work); they differ only in who delivers the fault (libuvm's
 * dispatcher, libsigsegv's sigsegv_dispatch, or raw_signal) and in the
 * protection calls (uvm_* or mprotect; libsigsegv has none of its own),
 * all reached through the same indirect calls.  Switching variant is one
 * sigaction(): libuvm installs its action at the first uvm_trap and
 * libsigsegv at sigsegv_install_handler; we keep a copy of each and swap
 * them with ours, in one process, so the variants are measured
 * alternately on the same warm pages.
 *
 * Self-check (vmpup.c's): every block must take exactly the traps it
 * should.  Fewer means a protection change did not take effect (an
 * operating-system bug, e.g. a stale TLB entry); the run stops with exit 1.
 * libuvm's counters must agree: its variant's faults all reach the
 * dispatcher, the raw variant's none.
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "bench.h"

#include <uvm.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PROT_RW (PROT_READ | PROT_WRITE)

/* The protection calls of one variant.  Both variants call through this
 * table, so neither pays an indirect call the other does not. */
struct prot_ops {
    const char *name;
    int (*prot1)(void *page, int prot);
    int (*protn)(void *addr, size_t npages, int prot);
    int (*unprot)(void *page, int prot);
};

/* What the handler needs.  Written by the loop between traps, read by the
 * handler in the same thread: volatile is enough (no other thread). */
static struct {
    char *mem;                         /* BENCH_PAGES pages */
    size_t pagesize;
    size_t perm[BENCH_PAGES];          /* the visiting order */
    enum bench_variant variant;
    enum bench_loop loop;
    const struct prot_ops *ops;
    char *volatile prev;               /* PROT1: the page to protect */
    volatile long traps;               /* traps taken in this block */
    long trap_limit;                   /* TRAP: traps before unprotecting */
    struct sigaction act[BENCH_NVARIANTS];
} st;

/* ---- the raw baseline's protection calls ---- */

static int raw_prot1(void *page, int prot)
{
    return mprotect(page, st.pagesize, prot);
}

static int raw_protn(void *addr, size_t npages, int prot)
{
    return mprotect(addr, npages * st.pagesize, prot);
}

static const struct prot_ops ops[BENCH_NVARIANTS] = {
    [BENCH_UVM] = { "libuvm (mprotect)", uvm_prot1, uvm_protn, uvm_unprot },
    [BENCH_SIGSEGV] = { "libsigsegv", raw_prot1, raw_protn, raw_prot1 },
    [BENCH_RAW] = { "raw", raw_prot1, raw_protn, raw_prot1 },
};

const char *loops_variant_name(enum bench_variant v)
{
    return ops[v].name;
}

static int sigsegv_held_by_libuvm;      /* see loops_variant_ok */

int loops_variant_ok(enum bench_variant v)
{
    return v != BENCH_SIGSEGV || !sigsegv_held_by_libuvm;
}

/* ---- signal context ---- */

/* A protection call failed inside a handler: retrying would fault
 * forever.  Say so with write(2) (AS-safe) and stop. */
static void trap_die(const char *what)
{
    static const char head[] = "uvm-bench: in the fault handler: ";
    static const char tail[] = " failed\n";
    if (write(2, head, sizeof head - 1) > 0 &&
        write(2, what, strlen(what)) > 0)
        (void)!write(2, tail, sizeof tail - 1);
    _exit(1);
}

/* The handler body both variants run, as vmpup.c's handler: count, then
 * protect the other page before unprotecting this one (the order vmpup.c
 * adopted in its November 1990 revision). */
static void trap_work(char *page)
{
    long n = ++st.traps;
    switch (st.loop) {
    case BENCH_TRAP:
        if (n < st.trap_limit)
            return;                 /* changes nothing: the store re-traps */
        break;
    case BENCH_PROT1:
        if (st.ops->prot1(st.prev, PROT_NONE) != 0)
            trap_die("PROT1");
        break;
    case BENCH_PROTN:
        break;
    }
    if (st.ops->unprot(page, PROT_RW) != 0)
        trap_die("UNPROT");
}

void loops_trap_work(char *page)
{
    trap_work(page);
}

static int uvm_handler(const struct uvm_fault *f)
{
    trap_work(f->page);
    return UVM_RETRY;
}

/* The raw baseline: what a program without libuvm writes.  A fault outside
 * our pages, or a signal someone sent, takes the default action. */
static void raw_signal(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    uintptr_t a = (uintptr_t)si->si_addr, lo = (uintptr_t)st.mem;
    if (si->si_code <= 0 || a - lo >= BENCH_PAGES * st.pagesize) {
        signal(sig, SIG_DFL);       /* a fault re-executes and dies */
        if (si->si_code <= 0)
            raise(sig);
        return;
    }
    trap_work((char *)(a & ~(uintptr_t)(st.pagesize - 1)));
    errno = saved_errno;
}

/* ---- setup ---- */

/* xorshift64*: a small generator we own, so the permutation for a seed is
 * the same on every libc. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Appel & Li visit the pages in a fixed pseudo-random order, so that no
 * prefetcher or merge-friendly pattern flatters the kernel. */
static void make_perm(unsigned long seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < BENCH_PAGES; i++)
        st.perm[i] = i;
    for (size_t i = BENCH_PAGES - 1; i > 0; i--) {
        size_t j = (size_t)(rng_next(&s) % (i + 1));
        size_t t = st.perm[i];
        st.perm[i] = st.perm[j];
        st.perm[j] = t;
    }
}

static char *page_at(size_t i)
{
    return st.mem + i * st.pagesize;
}

/* Map the pages and register them with libuvm.  Appel & Li's warm-up:
 * every page written before timing, so that no block pays for first-touch
 * page faults. */
static int area_map(void)
{
    size_t len = BENCH_PAGES * st.pagesize;
    st.mem = mmap(NULL, len, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (st.mem == MAP_FAILED) {
        fprintf(stderr, "uvm-bench: mmap: %s\n", strerror(errno));
        return -1;
    }
    if (uvm_trap(st.mem, len, uvm_handler, NULL) == NULL) {
        fprintf(stderr, "uvm-bench: uvm_trap: %s\n", strerror(errno));
        return -1;
    }
    memset(st.mem, 1, len);
    return 0;
}

/* libuvm's action exists only after the first uvm_trap: read it back.
 * Ours takes libuvm's flags (SA_SIGINFO, and SA_NODEFER for nesting):
 * with SA_NODEFER the kernel leaves the signal mask alone on delivery and
 * on sigreturn, which saves about 4% of a bare trap here, so a plain
 * SA_SIGINFO baseline would hide that much of libuvm's own cost.  Matched
 * flags make the kernel's work identical and the ratio libuvm's. */
static void capture_actions(void)
{
    sigaction(SIGSEGV, NULL, &st.act[BENCH_UVM]);
    memset(&st.act[BENCH_RAW], 0, sizeof st.act[BENCH_RAW]);
    st.act[BENCH_RAW].sa_sigaction = raw_signal;
    st.act[BENCH_RAW].sa_flags = SA_SIGINFO |
        (st.act[BENCH_UVM].sa_flags & (SA_NODEFER | SA_ONSTACK | SA_RESTART));
    sigemptyset(&st.act[BENCH_RAW].sa_mask);
}

int loops_init(unsigned long seed)
{
    st.pagesize = uvm_pagesize();
    make_perm(seed);
    if (area_map() != 0)
        return -1;
    capture_actions();
    sigsegv_held_by_libuvm = strcmp(uvm_fault_layer(), "libsigsegv") == 0;
    if (sigsegv_held_by_libuvm)
        st.act[BENCH_SIGSEGV] = st.act[BENCH_RAW];     /* never timed */
    else if (sigsegv_variant_init(st.mem, BENCH_PAGES * st.pagesize,
                                  loops_trap_work,
                                  &st.act[BENCH_SIGSEGV]) != 0)
        return -1;
    loops_use(BENCH_UVM);
    return 0;
}

void loops_use(enum bench_variant v)
{
    if (sigaction(SIGSEGV, &st.act[v], NULL) != 0) {
        perror("uvm-bench: sigaction");
        _exit(1);
    }
    st.variant = v;
    st.ops = &ops[v];
}

/* ---- the loops ---- */

static void store(char *p, char v)
{
    *(volatile char *)p = v;
}

/* Protection changes outside the timed part, through the raw system call
 * so that they count in no libuvm statistic the checks compare. */
static void set_all(int prot)
{
    if (mprotect(st.mem, BENCH_PAGES * st.pagesize, prot) != 0) {
        perror("uvm-bench: mprotect");
        _exit(1);
    }
}

static uint64_t loop_trap(int rounds)
{
    char *p = page_at(st.perm[0]);
    st.trap_limit = (long)rounds * BENCH_PAGES;
    if (mprotect(p, st.pagesize, PROT_NONE) != 0) {
        perror("uvm-bench: mprotect");
        _exit(1);
    }
    uint64_t t0 = bench_now_ns();
    /* vmpup.c's form: store until the handler has counted enough, which
     * works whether the trap resumes at or after the store. */
    while (st.traps < st.trap_limit)
        store(p, 2);
    return bench_now_ns() - t0;
}

static uint64_t loop_prot1(int rounds)
{
    /* Every page protected but the one "touched before" the first store,
     * so that every trap does exactly one PROT1 and one UNPROT. */
    char *last = page_at(st.perm[BENCH_PAGES - 1]);
    set_all(PROT_NONE);
    if (mprotect(last, st.pagesize, PROT_RW) != 0) {
        perror("uvm-bench: mprotect");
        _exit(1);
    }
    st.prev = last;
    uint64_t t0 = bench_now_ns();
    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < BENCH_PAGES; i++) {
            char *p = page_at(st.perm[i]);
            store(p, (char)i);
            st.prev = p;
        }
    }
    uint64_t t = bench_now_ns() - t0;
    set_all(PROT_RW);
    return t;
}

static uint64_t loop_protn(int rounds)
{
    uint64_t t0 = bench_now_ns();
    for (int r = 0; r < rounds; r++) {
        if (st.ops->protn(st.mem, BENCH_PAGES, PROT_NONE) != 0) {
            perror("uvm-bench: PROTN");
            _exit(1);
        }
        for (size_t i = 0; i < BENCH_PAGES; i++)
            store(page_at(st.perm[i]), (char)i);
    }
    return bench_now_ns() - t0;
}

static const char *const loop_names[] = {
    [BENCH_TRAP] = "TRAP",
    [BENCH_PROT1] = "TRAP+PROT1+UNPROT",
    [BENCH_PROTN] = "TRAP+PROTN+UNPROT",
};

/* The kernel protection calls libuvm should make for a block: one per
 * PROT1, PROTN and UNPROT (prot.c promises no more), none in the raw
 * variant.  Setup outside the timed part uses mprotect directly. */
static unsigned long expected_prot_calls(enum bench_loop loop, int rounds)
{
    unsigned long pages = (unsigned long)rounds * BENCH_PAGES;
    if (st.variant != BENCH_UVM)
        return 0;
    switch (loop) {
    case BENCH_TRAP:  return 1;
    case BENCH_PROT1: return 2 * pages;
    case BENCH_PROTN: return pages + (unsigned long)rounds;
    }
    return 0;
}

/* vmpup.c's self-check, plus libuvm's own count of the faults it saw and
 * of the kernel calls it made. */
static void check_block(enum bench_loop loop, int rounds,
                        const struct uvm_stats *before)
{
    long expect = (long)rounds * BENCH_PAGES;
    struct uvm_stats after;
    uvm_stats(&after);
    unsigned long seen = after.faults - before->faults;
    unsigned long want = st.variant == BENCH_UVM ? (unsigned long)expect : 0;
    unsigned long calls = after.prot_calls - before->prot_calls;
    unsigned long want_calls = expected_prot_calls(loop, rounds);
    if (st.traps != expect) {
        fprintf(stderr, "uvm-bench: %s (%s): %ld traps, expected %ld: "
                "operating system bug (a protection change did not take "
                "effect, e.g. a stale TLB entry)\n", loop_names[loop],
                st.ops->name, (long)st.traps, expect);
        exit(1);
    }
    if (seen != want) {
        fprintf(stderr, "uvm-bench: %s (%s): libuvm counted %lu faults, "
                "expected %lu: the SIGSEGV action swap failed\n",
                loop_names[loop], st.ops->name, seen, want);
        exit(1);
    }
    static int warned;
    if (calls != want_calls && !warned++) {
        fprintf(stderr, "uvm-bench: warning: %s (%s): libuvm made %lu "
                "kernel protection calls, expected %lu\n", loop_names[loop],
                st.ops->name, calls, want_calls);
    }
}

double loops_block(enum bench_loop loop, int rounds)
{
    struct uvm_stats before;
    uint64_t ns = 0;
    long pages = (long)rounds * BENCH_PAGES;
    st.loop = loop;
    st.traps = 0;
    uvm_stats(&before);
    switch (loop) {
    case BENCH_TRAP:  ns = loop_trap(rounds);  break;
    case BENCH_PROT1: ns = loop_prot1(rounds); break;
    case BENCH_PROTN: ns = loop_protn(rounds); break;
    }
    check_block(loop, rounds, &before);
    return (double)ns / (double)pages;
}
