/*
 * bench.h: what the parts of uvm-bench share.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * uvm-bench is four parts: loops.c runs Appel & Li's timed loops (vmpup.c)
 * through libuvm or through a raw sigaction+mprotect handler; uvm-bench.c
 * holds the table of rows and decides what to time in which order;
 * regions.c times the loop with many regions registered;
 * report.c turns block times into medians and prints them as text or CSV.
 * A row never prints by itself: it hands bench_results to the reporter, so
 * that a new output format is one more reporter.
 */
#ifndef UVM_BENCH_H
#define UVM_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* Appel & Li's PAGES: every loop works on this many pages. */
#define BENCH_PAGES 100

struct bench_opts {
    int blocks;              /* timed blocks per variant and row */
    int rounds;              /* passes over the BENCH_PAGES pages per block */
    int csv;                 /* machine-readable rows instead of text */
    int quick;               /* --quick: a smoke run, seconds not minutes */
    unsigned long seed;      /* of the page permutation */
};

/* ---- loops.c: the timed loops ---------------------------------------- */

/* Who takes the fault and changes the protection. */
enum bench_variant {
    BENCH_UVM,               /* libuvm's dispatcher, uvm_prot1 and friends */
    BENCH_RAW,               /* our own SA_SIGINFO handler and mprotect */
    BENCH_NVARIANTS
};

/* Appel & Li's three loops. */
enum bench_loop {
    BENCH_TRAP,              /* the trap alone: the handler changes nothing */
    BENCH_PROT1,             /* TRAP+PROT1+UNPROT */
    BENCH_PROTN              /* TRAP+PROTN+UNPROT */
};

/* ---- the rows (the table is in uvm-bench.c) ------------------------- */

/* One row of the report: a measurement and how it is run. */
struct bench_row {
    const char *name;        /* selects the row on the command line */
    const char *title;       /* Appel & Li's name for it */
    const char *unit;
    void (*run)(const struct bench_row *row, const struct bench_opts *o);
    enum bench_loop loop;    /* the loop it times */
    double target;           /* the ratio it must stay under; 0: none */
    const char *help;
};

/* Map the pages, register them with uvm_trap, capture both SIGSEGV actions
 * and write every page (the warm-up).  Prints why and returns -1 on
 * failure. */
int loops_init(unsigned long seed);

/* Install variant v's SIGSEGV action; the following blocks run under it. */
void loops_use(enum bench_variant v);

/* One timed block of loop: rounds passes over the pages (the TRAP loop:
 * rounds * BENCH_PAGES traps).  Returns nanoseconds per page.  Checks that
 * every page trapped exactly once per pass; exits 1 with a message naming
 * the operating-system bug if not. */
double loops_block(enum bench_loop loop, int rounds);

const char *loops_variant_name(enum bench_variant v);

/* ---- regions.c: fault cost by number of regions registered -------- */

void run_regions(const struct bench_row *row, const struct bench_opts *o);

/* ---- report.c: statistics and output -------------------------------- */

uint64_t bench_now_ns(void);            /* CLOCK_MONOTONIC */
void *bench_calloc(size_t n, size_t size);   /* exits 1 when out of memory */

struct bench_stats {
    double median, min, max;
};

/* The median, minimum and maximum of v[0..n-1] (n > 0); v is not changed. */
struct bench_stats bench_stats_of(const double *v, int n);

/* One line of the report: one variant of one row. */
struct bench_result {
    const char *row;         /* row name: "prot1" */
    const char *title;       /* Appel & Li's name: "TRAP+PROT1+UNPROT" */
    const char *variant;     /* "libuvm", "raw", or a region count */
    struct bench_stats ns;   /* over the block times, ns per page */
    int nblocks;
    int has_ratio;           /* the next four fields are meaningful */
    const char *ratio_name;  /* what the ratio divides: "libuvm/raw" */
    struct bench_stats ratio;
    double target;           /* ratio.median must be <= this; 0: none */
};

void report_begin(const struct bench_opts *o, const char *version,
                  size_t pagesize);
/* A row starts; what follows belongs to it.  unit explains the numbers. */
void report_row(const char *title, const char *unit);
void report_result(const struct bench_result *r);
/* A remark under the current row, in the text report only. */
void report_note(const char *text);
void report_end(void);

#endif /* UVM_BENCH_H */
