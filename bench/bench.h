/*
 * bench.h: what the parts of uvm-bench share.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * uvm-bench is Appel & Li's Table 1 measured on the machine it runs on,
 * beside the published 1990 rows, plus rows for what the paper could not
 * measure.  The parts:
 *   uvm-bench.c  the table of rows, the command line, the order of runs;
 *   loops.c      vmpup.c's timed loops through libuvm, raw
 *                sigaction+mprotect, or libsigsegv's dispatcher;
 *   sigsegv.c    the libsigsegv variant's SIGSEGV action (the only file
 *                that includes <sigsegv.h>);
 *   table1.c     ADD, MAP2, the Table 1 summary, the 1990 data, --plot;
 *   regions.c    fault cost by number of regions registered;
 *   dirty.c      DIRTY per dirtied page, method against method;
 *   threads.c    fault throughput with 1 and 2 threads;
 *   extras.c     snapshot against fork(), EFAULT, the mapping limit;
 *   report.c     text / CSV / JSON output;
 *   stats.c      the clock and medians, profile.c the host profile and
 *   target.c     the targets' verdicts, shared with uvm-bench-dirty and
 *                uvm-bench-snap.
 * A row never prints by itself: it hands bench_results (and the Table 1
 * summary its bench_machine lines) to the reporter, so that an output
 * format is one more case in report.c.
 */
#ifndef UVM_BENCH_H
#define UVM_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "stats.h"
#include "target.h"

/* Appel & Li's PAGES: every loop works on this many pages. */
#define BENCH_PAGES 100

enum bench_format { BENCH_FMT_TEXT, BENCH_FMT_CSV, BENCH_FMT_JSON,
                    BENCH_FMT_MD };

struct bench_opts {
    int blocks;              /* timed blocks per variant and row */
    int rounds;              /* passes over the BENCH_PAGES pages per block */
    enum bench_format format;
    int quick;               /* --quick: a run under a minute */
    unsigned long seed;      /* of the page permutation */
    const char *plot;        /* --plot FILE.png, or NULL */
};

/* ---- loops.c: the timed loops ---------------------------------------- */

/* Who takes the fault and changes the protection.  BENCH_NVARIANTS
 * counts the variants this build can run; a libuvm-through-userfaultfd
 * variant goes before it when libuvm's PROT path gains one. */
enum bench_variant {
    BENCH_UVM,               /* libuvm's dispatcher, uvm_prot1 and friends */
    BENCH_SIGSEGV,           /* libsigsegv's dispatcher, mprotect */
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

struct bench_row {
    const char *name;        /* selects the row on the command line */
    const char *title;       /* Appel & Li's name for it */
    const char *unit;
    void (*run)(const struct bench_row *row, const struct bench_opts *o);
    enum bench_loop loop;    /* the loop it times, if any */
    double target;           /* the ratio it must stay under; 0: none */
    const char *help;
};

/* Map the pages, register them with uvm_trap and with libsigsegv's
 * dispatcher, capture the three SIGSEGV actions and write every page (the
 * warm-up).  Prints why and returns -1 on failure. */
int loops_init(unsigned long seed);

/* Install variant v's SIGSEGV action; the following blocks run under it. */
void loops_use(enum bench_variant v);

/* One timed block of loop: rounds passes over the pages (the TRAP loop:
 * rounds * BENCH_PAGES traps).  Returns nanoseconds per page.  Checks that
 * every page trapped exactly once per pass; exits 1 with a message naming
 * the operating-system bug if not. */
double loops_block(enum bench_loop loop, int rounds);

const char *loops_variant_name(enum bench_variant v);
/* Can variant v be timed?  Not libsigsegv's dispatcher when libuvm is
 * built on libsigsegv (uvm_fault_layer()): a process has one libsigsegv
 * global handler, and libuvm holds it. */
int loops_variant_ok(enum bench_variant v);

/* The handler body every variant runs (loops.c), for sigsegv.c. */
void loops_trap_work(char *page);

/* ---- sigsegv.c: the libsigsegv variant ------------------------------ */

/* Register [mem, mem+len) with a libsigsegv dispatcher whose area handler
 * calls work(page), install libsigsegv's handler, and store its SIGSEGV
 * action in *act.  The caller restores whatever action it wants next. */
int sigsegv_variant_init(char *mem, size_t len, void (*work)(char *page),
                         void *act /* struct sigaction * */);

/* ---- the rows' run functions ---------------------------------------- */

void run_regions(const struct bench_row *row, const struct bench_opts *o);
void run_add(const struct bench_row *row, const struct bench_opts *o);
void run_map2(const struct bench_row *row, const struct bench_opts *o);
void run_table1(const struct bench_row *row, const struct bench_opts *o);
void run_dirty(const struct bench_row *row, const struct bench_opts *o);
void run_threads(const struct bench_row *row, const struct bench_opts *o);
void run_snapshot(const struct bench_row *row, const struct bench_opts *o);
void run_efault(const struct bench_row *row, const struct bench_opts *o);
void run_maplimit(const struct bench_row *row, const struct bench_opts *o);

/* ---- table1.c: cells of this machine's Table 1 ---------------------- */

/* A pair row stores variant v's median time of loop in µs. */
void table1_set_loop(enum bench_loop loop, enum bench_variant v,
                     const struct bench_stats *us);

/* Draw the ADD-normalised comparison into png with gnuplot.  Returns 0,
 * or prints why and returns -1. */
int table1_plot(const char *png);

/* ---- report.c: statistics and output -------------------------------- */

/* What a result holds. */
enum bench_kind {
    BENCH_VALUE,             /* a measurement in the row's unit */
    BENCH_RATIO,             /* the median of per-pair ratios of two */
    BENCH_TEXT               /* no number: a fact or why not measured */
};

/* One line of the report. */
struct bench_result {
    const char *row;         /* row name: "prot1" */
    const char *variant;     /* "libuvm (mprotect)", "libuvm/raw", "1000" */
    enum bench_kind kind;
    const char *unit;        /* VALUE: the unit; RATIO: NULL */
    struct bench_stats v;    /* VALUE, RATIO: median, min, max */
    int n;                   /* blocks (or pairs) behind v */
    double target;           /* RATIO: v.median must be <= this; 0: none */
    const char *text;        /* TEXT: the fact; else an optional remark */
};

/* One machine of the Table 1 summary: this one through one method, or a
 * published 1990 row.  Times in µs, < 0 where there is none. */
struct bench_machine {
    const char *machine, *os;
    int published;           /* Appel & Li 1991, not measured here */
    double add, trap, prot1, protn;
    const char *flags;       /* the paper's marks: "*" suspect, "+" estimated */
    const char *map2;        /* "yes", "no", or NULL: not known */
    long pagesize;
    const char *na;          /* not measured: why ("n/a: not built") */
};

/* The VM-PUP rating of vmpup.c, 3000 / (prot1 + protn + trap) in µs, or
 * -1 when a time is missing. */
double bench_vmpup(const struct bench_machine *m);

/* The run's parameters and the host profile, first in every format. */
void report_begin(const struct bench_opts *o, const char *version,
                  size_t pagesize, const struct bench_profile *prof);
/* A row starts; what follows belongs to it.  unit explains the numbers. */
void report_row(const char *title, const char *unit);
void report_result(const struct bench_result *r);
/* A remark under the current row, in the text report and the JSON. */
void report_note(const char *text);
/* The Table 1 summary. */
void report_table1(const struct bench_machine *m, int n);
void report_end(void);

#endif /* UVM_BENCH_H */
