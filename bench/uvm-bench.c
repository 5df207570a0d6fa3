/*
 * uvm-bench.c: Appel & Li's virtual-memory microbenchmark, through libuvm
 * and through the raw system calls.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * What it measures.  Appel & Li's Table 1 ("Virtual Memory Primitives
 * for User Programs", ASPLOS 1991, section 4) on the machine it runs on:
 * the loops of their vmpup.c on 100 pages visited in a fixed random order
 * (TRAP, TRAP+PROT1+UNPROT, TRAP+PROTN+UNPROT), each through libuvm
 * (uvm_trap, uvm_prot1, uvm_protn, uvm_unprot), through libsigsegv's
 * dispatcher with mprotect, and through a hand-written SA_SIGINFO handler
 * calling mprotect; the ADD calibration, MAP2 and the page size; then the
 * summary in the paper's columns, normalised by ADD, with vmpup.c's VM-PUP
 * rating, beside the published 1990 rows.  Rows the paper could not have:
 * DIRTY per dirtied page by method, the fault cost with 1 to 100,000
 * regions, fault throughput with 1 and 2 threads, snapshot against
 * fork(), read(2) into a protected page, and the kernel's mapping limit.
 * The targets, each judged against its floor measured in the same run:
 * libuvm's TRAP, TRAP+PROT1+UNPROT and TRAP+PROTN+UNPROT within 5% of the
 * raw calls, and a fault with 100,000 regions within 5% of one with a
 * single region.  The host profile (profile.c) prints first, and the
 * summary of the targets last.
 *
 * How.  A row alternates its variants block by block in one process
 * (their SIGSEGV actions are swapped with sigaction between blocks), in
 * the order ABC CBA ABC ..., so that a slow drift of the machine cancels
 * instead of favouring whichever ran first.  A block is --rounds passes
 * over the pages, timed with CLOCK_MONOTONIC; the row reports the median
 * over blocks and, for each comparison, the median of the per-group
 * ratios.  Every comparison is a ratio of runs interleaved in one process:
 * on a shared machine only those mean anything.  Each block checks its
 * trap count (vmpup.c's self-check); a wrong count is an operating-system
 * bug and exits 1.  Targets missed do not change the exit status: on a
 * shared virtual machine the benchmark reports, it does not fail builds.
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

/* ---- rows comparing libuvm, libsigsegv and the raw system calls ---- */

/* One untimed block per variant first: the first fault through libuvm
 * claims its per-thread record, and the kernel's paths want warming too. */
static void pair_warm_up(enum bench_loop loop, int rounds)
{
    for (int v = 0; v < BENCH_NVARIANTS; v++) {
        if (!loops_variant_ok((enum bench_variant)v))
            continue;
        loops_use((enum bench_variant)v);
        (void)loops_block(loop, rounds);
    }
}

/* Time the variants in blocks ordered ABC CBA ABC ...: t[v][b] is
 * variant v's time in group b.  Every variant runs as often early as late
 * in a group (B in the middle), so a slow drift cancels in the ratios. */
static void pair_measure(const struct bench_row *row,
                         const struct bench_opts *o, double *t[])
{
    for (int b = 0; b < o->blocks; b++) {
        for (int k = 0; k < BENCH_NVARIANTS; k++) {
            int v = b % 2 == 0 ? k : BENCH_NVARIANTS - 1 - k;
            if (!loops_variant_ok((enum bench_variant)v))
                continue;
            loops_use((enum bench_variant)v);
            t[v][b] = loops_block(row->loop, o->rounds);
        }
    }
}

/* The ratios a pair row reports: a per-group ratio, then their median;
 * the blocks of a group ran back to back, so the machine's state cancels
 * within each ratio. */
static const struct {
    enum bench_variant num, den;
    const char *name;
    int targeted;            /* the row's target applies */
} pair_ratios[] = {
    { BENCH_UVM, BENCH_RAW, "libuvm/raw", 1 },
    { BENCH_UVM, BENCH_SIGSEGV, "libuvm/libsigsegv", 0 },
    { BENCH_SIGSEGV, BENCH_RAW, "libsigsegv/raw", 0 },
};

/* The row's target: libuvm's median ratio to the raw calls, the floor
 * (the same loop with a hand-written handler and mprotect, interleaved
 * with libuvm's blocks). */
static void pair_judge(const struct bench_row *row,
                       const struct bench_opts *o, double *t[],
                       const struct bench_stats *ratio)
{
    char name[96], figure[64], floor[96];
    snprintf(name, sizeof name, "%s: libuvm <= %.2f x raw", row->title,
             row->target);
    snprintf(figure, sizeof figure, "%.0f ns (libuvm)",
             bench_stats_of(t[BENCH_UVM], o->blocks).median);
    snprintf(floor, sizeof floor, "%.0f ns (raw handler + mprotect)",
             bench_stats_of(t[BENCH_RAW], o->blocks).median);
    struct bench_target g = {
        .name = name, .figure = figure, .floor = floor,
        .ratio = ratio->median, .bound = row->target,
        .info = "median of ratios of interleaved blocks",
    };
    (void)target_judge(&g);
}

static void pair_report_ratios(const struct bench_row *row,
                               const struct bench_opts *o, double *t[])
{
    double *q = bench_calloc((size_t)o->blocks, sizeof *q);
    for (size_t i = 0; i < sizeof pair_ratios / sizeof pair_ratios[0]; i++) {
        if (!loops_variant_ok(pair_ratios[i].num) ||
            !loops_variant_ok(pair_ratios[i].den))
            continue;
        for (int b = 0; b < o->blocks; b++)
            q[b] = t[pair_ratios[i].num][b] / t[pair_ratios[i].den][b];
        struct bench_result r = {
            .row = row->name, .variant = pair_ratios[i].name,
            .kind = BENCH_RATIO, .v = bench_stats_of(q, o->blocks),
            .n = o->blocks,
            .target = pair_ratios[i].targeted ? row->target : 0,
        };
        report_result(&r);
        if (r.target > 0)
            pair_judge(row, o, t, &r.v);
    }
    free(q);
}

static void run_pair(const struct bench_row *row, const struct bench_opts *o)
{
    double *t[BENCH_NVARIANTS];
    for (int v = 0; v < BENCH_NVARIANTS; v++)
        t[v] = bench_calloc((size_t)o->blocks, sizeof *t[v]);
    pair_warm_up(row->loop, o->rounds);
    pair_measure(row, o, t);

    report_row(row->title, row->unit);
    for (int v = 0; v < BENCH_NVARIANTS; v++) {
        if (!loops_variant_ok((enum bench_variant)v)) {
            struct bench_result n = {
                .row = row->name,
                .variant = loops_variant_name((enum bench_variant)v),
                .kind = BENCH_TEXT,
                .text = "n/a: libuvm is built on libsigsegv and holds its "
                        "one global handler",
            };
            report_result(&n);
            continue;
        }
        struct bench_result r = {
            .row = row->name,
            .variant = loops_variant_name((enum bench_variant)v),
            .kind = BENCH_VALUE, .unit = row->unit,
            .v = bench_stats_of(t[v], o->blocks), .n = o->blocks,
        };
        report_result(&r);
        struct bench_stats us = { r.v.median / 1e3, r.v.min / 1e3,
                                  r.v.max / 1e3 };
        table1_set_loop(row->loop, (enum bench_variant)v, &us);
        if (v == BENCH_UVM) {
            /* libuvm's userfaultfd path takes write-only changes; these
             * loops protect to PROT_NONE (bench/uvm-bench-dirty measures
             * the write-only round trip). */
            struct bench_result u = {
                .row = row->name, .variant = "libuvm (uffd)",
                .kind = BENCH_TEXT, .text = "n/a: needs PROT_NONE",
            };
            report_result(&u);
        }
    }
    pair_report_ratios(row, o, t);
    for (int v = 0; v < BENCH_NVARIANTS; v++)
        free(t[v]);
    loops_use(BENCH_UVM);
}

/* ---- the rows ---- */

/* Table 1's columns first, in the paper's order, then the summary, then
 * what 1990 could not measure. */
static const struct bench_row rows[] = {
    { "add", "ADD", "ns per instruction", run_add, BENCH_TRAP, 0,
      "the paper's calibration: 18 dependent adds, compare, branch" },
    { "trap", "TRAP", "ns per trap", run_pair, BENCH_TRAP, 1.05,
      "a trap whose handler changes no protection" },
    { "prot1", "TRAP+PROT1+UNPROT", "ns per page", run_pair, BENCH_PROT1,
      1.05, "trap, protect the previous page, unprotect this one" },
    { "protn", "TRAP+PROTN+UNPROT", "ns per page", run_pair, BENCH_PROTN,
      1.05, "protect 100 pages at once, trap and unprotect each" },
    { "map2", "MAP2", "works", run_map2, BENCH_TRAP, 0,
      "one page at two addresses: a write through one view seen through "
      "the other while it is PROT_NONE" },
    { "table1", "Table 1", "us", run_table1, BENCH_TRAP, 0,
      "the summary beside the 1990 machines (runs add..map2 if alone)" },
    { "regions", "TRAP+PROT1+UNPROT through libuvm, by regions registered",
      "ns per page", run_regions, BENCH_PROT1, 1.05,
      "the prot1 loop with 1 to 100,000 regions registered" },
    { "dirty", "DIRTY per dirtied page, by method", "ns per page",
      run_dirty, BENCH_TRAP, 0,
      "write 10% or 100% of 16 MiB, then uvm_dirty, per method" },
    { "threads", "Fault throughput, threads on separate regions",
      "faults per second, all threads", run_threads, BENCH_TRAP, 0,
      "TRAP+PROTN+UNPROT through libuvm with 1 and 2 threads" },
    { "snapshot", "Snapshot against fork()", "us per snapshot",
      run_snapshot, BENCH_TRAP, 0,
      "uvm_snapshot of 64 MiB against fork() of a process holding it" },
    { "efault", "read(2) into a protected page", "behaviour", run_efault,
      BENCH_TRAP, 0, "what a system call does with a PROT_NONE buffer" },
    { "maplimit", "Mapping limit by alternating protections",
      "protected islands", run_maplimit, BENCH_TRAP, 0,
      "protect every other page until the kernel refuses" },
};
#define NROWS (sizeof rows / sizeof rows[0])

/* ---- the command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: uvm-bench [--quick] [--csv | --json | --markdown]\n"
        "                 [--plot FILE.png]\n"
        "                 [--rounds N] [--blocks N] [--seed N] [ROW...]\n"
        "Appel & Li's Table 1 on this machine (raw system calls, libuvm,\n"
        "libsigsegv; interleaved in one process) beside the 1990 machines,\n"
        "and rows for what 1990 could not measure.\n\n"
        "  --quick      a run under a minute: fewer, shorter blocks\n"
        "  --csv        one line per result: name,variant,kind,median,min,\n"
        "               max,n,unit,target,text\n"
        "  --json       one JSON object with every result\n"
        "  --markdown   tables for the README (make bench-readme)\n"
        "  --plot FILE  draw the ADD-normalised comparison with the 1990\n"
        "               machines into FILE (PNG; needs gnuplot)\n"
        "  --rounds N   passes over the %d pages per block (default 30;\n"
        "               --quick 10)\n"
        "  --blocks N   timed blocks per variant (default 21; --quick 5)\n"
        "  --seed N     seed of the page order (default 1)\n"
        "  --help       this text\n\n"
        "Rows (default: all):\n", BENCH_PAGES);
    for (size_t i = 0; i < NROWS; i++)
        fprintf(f, "  %-10s %s\n", rows[i].name, rows[i].help);
    fprintf(f, "\nExit status: 0 when the measurements succeeded, whether "
            "or not the\ntargets were met; 1 when a self-check failed or "
            "--plot could not draw;\n2 on a usage error.\n");
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
        { "json", no_argument, NULL, 'j' },
        { "markdown", no_argument, NULL, 'm' },
        { "plot", required_argument, NULL, 'p' },
        { "rounds", required_argument, NULL, 'r' },
        { "blocks", required_argument, NULL, 'b' },
        { "seed", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    long rounds = 0, blocks = 0;
    int c;
    *o = (struct bench_opts){ .seed = 1, .format = BENCH_FMT_TEXT };
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'q': o->quick = 1; break;
        case 'c': o->format = BENCH_FMT_CSV; break;
        case 'j': o->format = BENCH_FMT_JSON; break;
        case 'm': o->format = BENCH_FMT_MD; break;
        case 'p': o->plot = optarg; break;
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

static size_t row_index(const char *name)
{
    size_t i = 0;
    while (i < NROWS && strcmp(name, rows[i].name) != 0)
        i++;
    return i;
}

/* Which rows to run: all, or those named.  The Table 1 summary named
 * with none of its columns brings them all; --plot needs the summary. */
static void select_rows(int argc, char **argv, int first,
                        const struct bench_opts *o, int *want)
{
    static const char *const columns[] = { "add", "trap", "prot1", "protn",
                                           "map2" };
    for (size_t i = 0; i < NROWS; i++)
        want[i] = first >= argc;
    for (int a = first; a < argc; a++) {
        size_t i = row_index(argv[a]);
        if (i == NROWS) {
            fprintf(stderr, "uvm-bench: no row named '%s'\n", argv[a]);
            usage(stderr);
            exit(2);
        }
        want[i] = 1;
    }
    size_t t = row_index("table1");
    int any = 0;
    for (size_t k = 0; k < sizeof columns / sizeof columns[0]; k++)
        any |= want[row_index(columns[k])];
    if (want[t] && !any)
        for (size_t k = 0; k < sizeof columns / sizeof columns[0]; k++)
            want[row_index(columns[k])] = 1;
    if (o->plot != NULL && any)
        want[t] = 1;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    int want[NROWS];
    int first = parse_args(argc, argv, &o);
    select_rows(argc, argv, first, &o, want);
    /* Before libuvm takes SIGSEGV or maps anything: the profile's fork()
     * then copies only its own 64 MiB. */
    static struct bench_profile prof;
    profile_measure(&prof, o.blocks < 7 ? o.blocks : 7);
    target_program("uvm-bench");
    char host[512];
    target_host(profile_host_line(&prof, host, sizeof host));
    if (loops_init(o.seed) != 0)
        return 1;
    report_begin(&o, uvm_version(), uvm_pagesize(), &prof);
    for (size_t i = 0; i < NROWS; i++)
        if (want[i])
            rows[i].run(&rows[i], &o);
    report_end();
    if (o.plot != NULL && table1_plot(o.plot) != 0)
        return 1;
    return 0;
}
