/*
 * uvm-bench.c: Appel & Li's virtual-memory microbenchmark, through libuvm
 * and through the raw system calls.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * What it measures.  The loops of Appel & Li's vmpup.c ("Virtual Memory
 * Primitives for User Programs", ASPLOS 1991, section 4) on 100 pages
 * visited in a fixed random order: TRAP, TRAP+PROT1+UNPROT and
 * TRAP+PROTN+UNPROT, each once through libuvm (uvm_trap, uvm_prot1,
 * uvm_protn, uvm_unprot) and once through a hand-written SA_SIGINFO
 * handler calling mprotect, in ns per page; and the TRAP+PROT1+UNPROT cost
 * through libuvm with 1, 1,000 and 100,000 regions registered.  The
 * targets: libuvm within 5% of the raw calls, and a fault with 100,000
 * regions within 5% of one with a single region.
 *
 * How.  A row alternates libuvm and raw block by block in one process
 * (libuvm's SIGSEGV action and ours are swapped with sigaction between
 * blocks), in the order AB BA AB BA ..., so that a slow drift of the
 * machine cancels instead of favouring whichever ran first.  A block is
 * --rounds passes over the pages, timed with CLOCK_MONOTONIC; the row
 * reports the median over blocks and, for libuvm/raw, the median of the
 * per-pair ratios.  Region counts are visited 1, 1k, 100k, 100k, 1k, 1,
 * repeatedly, for the same reason (regions.c).  Each block checks its trap
 * count (vmpup.c's self-check); a wrong count is an operating-system bug
 * and exits 1.
 * Targets missed do not change the exit status: on a shared virtual
 * machine the benchmark reports, it does not fail builds.
 *
 * Rows live in one table (rows[] below), selected by name on the command
 * line; a new measurement is a function and a line in the table.
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "bench.h"

#include <uvm.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rows comparing libuvm with the raw system calls ---- */

/* One untimed block per variant first: the first fault through libuvm
 * claims its per-thread record, and the kernel's paths want warming too. */
static void pair_warm_up(enum bench_loop loop, int rounds)
{
    for (int v = 0; v < BENCH_NVARIANTS; v++) {
        loops_use((enum bench_variant)v);
        (void)loops_block(loop, rounds);
    }
}

/* Time both variants in blocks ordered AB BA AB BA ...: t[v][b] is
 * variant v's time in pair b. */
static void pair_measure(const struct bench_row *row,
                         const struct bench_opts *o, double *t[])
{
    for (int b = 0; b < o->blocks; b++) {
        for (int k = 0; k < BENCH_NVARIANTS; k++) {
            int v = b % 2 == 0 ? k : BENCH_NVARIANTS - 1 - k;
            loops_use((enum bench_variant)v);
            t[v][b] = loops_block(row->loop, o->rounds);
        }
    }
}

static void run_pair(const struct bench_row *row, const struct bench_opts *o)
{
    double *t[BENCH_NVARIANTS];
    double *ratio = bench_calloc((size_t)o->blocks, sizeof *ratio);
    for (int v = 0; v < BENCH_NVARIANTS; v++)
        t[v] = bench_calloc((size_t)o->blocks, sizeof *t[v]);
    pair_warm_up(row->loop, o->rounds);
    pair_measure(row, o, t);
    /* A ratio per pair, then their median: the two blocks of a pair ran
     * back to back, so the machine's state cancels within each ratio. */
    for (int b = 0; b < o->blocks; b++)
        ratio[b] = t[BENCH_UVM][b] / t[BENCH_RAW][b];

    report_row(row->title, row->unit);
    for (int v = 0; v < BENCH_NVARIANTS; v++) {
        struct bench_result r = {
            .row = row->name, .title = row->title,
            .variant = loops_variant_name((enum bench_variant)v),
            .ns = bench_stats_of(t[v], o->blocks), .nblocks = o->blocks,
        };
        if (v == BENCH_UVM) {
            r.has_ratio = 1;
            r.ratio_name = "libuvm/raw";
            r.ratio = bench_stats_of(ratio, o->blocks);
            r.target = row->target;
        }
        report_result(&r);
    }
    for (int v = 0; v < BENCH_NVARIANTS; v++)
        free(t[v]);
    free(ratio);
    loops_use(BENCH_UVM);
}

/* ---- the rows ---- */

static const struct bench_row rows[] = {
    { "trap", "TRAP", "ns per trap", run_pair, BENCH_TRAP, 0,
      "a trap whose handler changes no protection" },
    { "prot1", "TRAP+PROT1+UNPROT", "ns per page", run_pair, BENCH_PROT1,
      1.05, "trap, protect the previous page, unprotect this one" },
    { "protn", "TRAP+PROTN+UNPROT", "ns per page", run_pair, BENCH_PROTN,
      1.05, "protect 100 pages at once, trap and unprotect each" },
    { "regions", "TRAP+PROT1+UNPROT through libuvm, by regions registered",
      "ns per page", run_regions, BENCH_PROT1, 1.05,
      "the prot1 loop with 1, 1,000 and 100,000 regions registered" },
};
#define NROWS (sizeof rows / sizeof rows[0])

/* ---- the command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: uvm-bench [--quick] [--csv] [--rounds N] [--blocks N]\n"
        "                 [--seed N] [ROW...]\n"
        "Times Appel & Li's VM primitives through libuvm and through raw\n"
        "sigaction+mprotect, alternating in one process.\n\n"
        "  --quick      a smoke run: few, short blocks (seconds)\n"
        "  --csv        print name,variant,median_ns,min_ns,max_ns,ratio\n"
        "  --rounds N   passes over the %d pages per block (default 30;\n"
        "               --quick 10)\n"
        "  --blocks N   timed blocks per variant (default 21; --quick 5)\n"
        "  --seed N     seed of the page order (default 1)\n"
        "  --help       this text\n\n"
        "Rows (default: all):\n", BENCH_PAGES);
    for (size_t i = 0; i < NROWS; i++)
        fprintf(f, "  %-12s %s\n", rows[i].name, rows[i].help);
    fprintf(f, "\nExit status: 0 when the measurements succeeded, whether "
            "or not the\ntargets were met; 1 when a self-check failed; 2 on "
            "a usage error.\n");
}

static long parse_count(const char *opt, const char *s, long min)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > 1000000) {
        fprintf(stderr, "uvm-bench: %s: bad number '%s'\n", opt, s);
        usage(stderr);
        exit(2);
    }
    return v;
}

/* Fills o; returns the index in argv of the first row name. */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
    static const struct option longopts[] = {
        { "quick", no_argument, NULL, 'q' },
        { "csv", no_argument, NULL, 'c' },
        { "rounds", required_argument, NULL, 'r' },
        { "blocks", required_argument, NULL, 'b' },
        { "seed", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    long rounds = 0, blocks = 0;
    int c;
    *o = (struct bench_opts){ .seed = 1 };
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'q': o->quick = 1; break;
        case 'c': o->csv = 1; break;
        case 'r': rounds = parse_count("--rounds", optarg, 1); break;
        case 'b': blocks = parse_count("--blocks", optarg, 1); break;
        case 's': o->seed = (unsigned long)parse_count("--seed", optarg, 0);
                  break;
        case 'h': usage(stdout); exit(0);
        default:  usage(stderr); exit(2);
        }
    }
    o->rounds = (int)(rounds ? rounds : o->quick ? 10 : 30);
    o->blocks = (int)(blocks ? blocks : o->quick ? 5 : 21);
    return optind;
}

/* Which rows to run: all, or those named. */
static void select_rows(int argc, char **argv, int first, int *want)
{
    for (size_t i = 0; i < NROWS; i++)
        want[i] = first >= argc;
    for (int a = first; a < argc; a++) {
        size_t i = 0;
        while (i < NROWS && strcmp(argv[a], rows[i].name) != 0)
            i++;
        if (i == NROWS) {
            fprintf(stderr, "uvm-bench: no row named '%s'\n", argv[a]);
            usage(stderr);
            exit(2);
        }
        want[i] = 1;
    }
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    int want[NROWS];
    select_rows(argc, argv, parse_args(argc, argv, &o), want);
    if (loops_init(o.seed) != 0)
        return 1;
    report_begin(&o, uvm_version(), uvm_pagesize());
    for (size_t i = 0; i < NROWS; i++)
        if (want[i])
            rows[i].run(&rows[i], &o);
    report_end();
    return 0;
}
