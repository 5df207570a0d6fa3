/*
 * main.c: uvm-gc, libuvm's flagship example.  Runs a workload under one
 * copying collector with three barriers (stop, soft, vm), each mode in a
 * child process of its own, checks that every mode printed the same
 * output, and reports pauses, traps, time and peak RSS.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the command line and the child processes.  One child per mode so
 * that each gets a fresh heap and its own peak RSS (getrusage), and one
 * run of uvm-gc compares the modes on the same machine at the same time.
 *
 * Fault handler: nothing here runs in it.
 */
#include "gc.h"

#include <errno.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* The usage text: on stdout with status 0 (--help), else on stderr with
 * status 2 (a usage error). */
static void usage_exit(int status)
{
    fprintf(status == 0 ? stdout : stderr,
"usage: uvm-gc [options] gcbench [STRETCH LONGLIVED MAXDEPTH ARRAYSIZE]\n"
"       uvm-gc [options] binary-trees N\n"
"       uvm-gc [options] graph [NODES STEPS]   (default 32768 8000000)\n"
"options:\n"
"  --mode stop|soft|vm|all  collector barrier (default all: one child each)\n"
"  --concurrent             vm mode: a background thread scans pages too\n"
"  --heap MB                bytes per semispace (default: gcbench 32,\n"
"                           binary-trees from N)\n"
"  -k K                     words scanned per word allocated (default 4)\n"
"  --batch P                vm mode: pages scanned per increment (default 4;\n"
"                           trades pause length for fewer UNPROT calls)\n"
"  --incr-us U              vm mode: end an increment after U us even if\n"
"                           its pages are not all scanned (default 100;\n"
"                           0: no time bound)\n"
"  --prot-chunk P           vm mode: pages per protection call ahead of\n"
"                           the copies and per trap's opening (default 64;\n"
"                           smaller: shorter pauses, more calls)\n"
"  --csv                    report as CSV\n"
"  --report FILE            write the report to FILE (default stderr)\n"
"  --plot FILE.png          plot pause distributions and MMU curves\n"
"  --quiet                  do not print the workload's output\n"
"  --breakdown              also report where the longest pauses went\n"
"  --rt-pauses              run flips, increments and traps SCHED_FIFO\n"
"                           (needs CAP_SYS_NICE): pauses without the\n"
"                           host's preemption, a diagnostic\n"
"  -h, --help               print this and exit\n"
"options may also follow the workload; with --mode all and --concurrent,\n"
"vm runs both plain and concurrent\n");
    exit(status);
}

static void usage(void)
{
    usage_exit(2);
}

struct job {
    int bench;                      /* 0 gcbench, 1 binary-trees, 2 graph */
    long a[4];
    size_t heap;
    unsigned k, batch, incr_us, prot_chunk;
    int concurrent;
};

static int write_full(int fd, const void *p, size_t n)
{
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fd, (const char *)p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += (size_t)w;
    }
    return 0;
}

static int run_child(const struct job *j, int mode, int conc, int wfd)
{
    memset(&gcs, 0, sizeof gcs);
    gcs.mode = mode;
    gcs.concurrent = conc && mode == GC_VM;
    gc_vm_prot_chunk = j->prot_chunk;
    if (gc_pauses_init() != 0 ||
        gc_init(mode, conc, j->heap, j->k, j->batch, j->incr_us) != 0) {
        perror("uvm-gc: heap");
        return 1;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    uint64_t t0 = gc_now_ns();
    int rc = j->bench == 0
        ? gc_gcbench(out, (int)j->a[0], (int)j->a[1], (int)j->a[2], j->a[3])
        : j->bench == 1 ? gc_binary_trees(out, (unsigned)j->a[0])
        : gc_graph(out, (unsigned long)j->a[0], (unsigned long)j->a[1]);
    uint64_t t1 = gc_now_ns();
    gcs.total_ms = (double)(t1 - t0) / 1e6;
    for (int i = 0; i < GC_NTOP; i++)
        gcs.top[i].at = gcs.top[i].wall ? gcs.top[i].at - t0 : 0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    gcs.peak_rss_kb = ru.ru_maxrss;
    gcs.cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    gc_fini();
    fclose(out);
    size_t np;
    const struct gc_pause *p = gc_pauses(&np);
    uint64_t span[2] = { t0, t1 };
    if (write_full(wfd, &gcs, sizeof gcs) != 0 ||
        write_full(wfd, &len, sizeof len) != 0 ||
        write_full(wfd, buf, len) != 0 ||
        write_full(wfd, span, sizeof span) != 0 ||
        write_full(wfd, &np, sizeof np) != 0 ||
        write_full(wfd, p, np * sizeof *p) != 0)
        return 1;
    return rc;
}

static int read_full(int fd, void *p, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* The child's pause intervals: the MMU curve into *s. */
static int read_mmu(int fd, struct gc_stats *s)
{
    uint64_t span[2];
    size_t np;
    if (read_full(fd, span, sizeof span) != 0 ||
        read_full(fd, &np, sizeof np) != 0)
        return -1;
    struct gc_pause *p = malloc((np ? np : 1) * sizeof *p);
    if (p == NULL || read_full(fd, p, np * sizeof *p) != 0) {
        free(p);
        return -1;
    }
    gc_mmu_curve(s, p, np, span[0], span[1]);
    free(p);
    return 0;
}

/* Run one mode in a child; its stats into *s, its output into *text. */
static int run_mode(const struct job *j, int mode, int conc,
                    struct gc_stats *s, char **text)
{
    int p[2];
    if (pipe(p) != 0)
        return perror("pipe"), -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return perror("fork"), -1;
    if (pid == 0) {
        close(p[0]);
        _exit(run_child(j, mode, conc, p[1]));
    }
    close(p[1]);
    size_t len = 0;
    int ok = read_full(p[0], s, sizeof *s) == 0 &&
             read_full(p[0], &len, sizeof len) == 0 &&
             (*text = calloc(1, len + 1)) != NULL &&
             read_full(p[0], *text, len) == 0 && read_mmu(p[0], s) == 0;
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (WIFSIGNALED(st))
            fprintf(stderr, "uvm-gc: mode %s died by signal %d\n",
                    gc_mode_name(mode), WTERMSIG(st));
        else
            fprintf(stderr, "uvm-gc: mode %s failed\n", gc_mode_name(mode));
        return -1;
    }
    return 0;
}

/* A workload argument: a whole decimal number, or a usage error naming it. */
static long number(const char *workload, const char *arg)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0') {
        fprintf(stderr, "uvm-gc: %s: '%s' is not a number\n", workload, arg);
        usage();
    }
    return v;
}

/* An option's count: a whole number >= min, else a usage error naming
 * the option (a negative count must not wrap to a huge unsigned one). */
static unsigned count(const char *opt, const char *arg, long min)
{
    long v = number(opt, arg);
    if (v < min || v > (long)UINT_MAX) {
        fprintf(stderr, "uvm-gc: %s: '%s' is out of range\n", opt, arg);
        usage();
    }
    return (unsigned)v;
}

/* --heap's megabytes: a positive decimal number, all of it. */
static double megabytes(const char *arg)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno != 0 || end == arg || *end != '\0' || !(v > 0) ||
        v > 1048576.0) {
        fprintf(stderr, "uvm-gc: --heap: '%s' is not a size in MB\n", arg);
        usage();
    }
    return v;
}

/* An option's value; a missing one is a usage error. */
static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "uvm-gc: option %s needs a value\n", argv[*i]);
        usage();
    }
    return argv[++*i];
}

struct opts {
    const char *plot, *report, *mode;
    double heap_mb;
    int csv, quiet, breakdown, rt;
};

/* GNU convention: options may come before or after the workload name and
 * its numbers; "--" ends the options.  The positional words go to pos. */
static int parse(int argc, char **argv, struct job *j, struct opts *o,
                 char **pos)
{
    int npos = 0, opts_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts_done || a[0] != '-' || a[1] == '\0' ||
            (a[1] >= '0' && a[1] <= '9')) {
            pos[npos++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) opts_done = 1;
        else if (!strcmp(a, "--mode")) o->mode = value(argc, argv, &i);
        else if (!strcmp(a, "--concurrent")) j->concurrent = 1;
        else if (!strcmp(a, "--heap")) o->heap_mb = megabytes(value(argc, argv, &i));
        else if (!strcmp(a, "-k")) j->k = count("-k", value(argc, argv, &i), 1);
        else if (!strcmp(a, "--batch")) j->batch = count("--batch", value(argc, argv, &i), 1);
        else if (!strcmp(a, "--prot-chunk")) j->prot_chunk = count("--prot-chunk", value(argc, argv, &i), 1);
        else if (!strcmp(a, "--incr-us")) j->incr_us = count("--incr-us", value(argc, argv, &i), 0);
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage_exit(0);
        else if (!strcmp(a, "--csv")) o->csv = 1;
        else if (!strcmp(a, "--quiet")) o->quiet = 1;
        else if (!strcmp(a, "--breakdown")) o->breakdown = 1;
        else if (!strcmp(a, "--rt-pauses")) o->rt = 1;
        else if (!strcmp(a, "--report")) o->report = value(argc, argv, &i);
        else if (!strcmp(a, "--plot")) o->plot = value(argc, argv, &i);
        else {
            fprintf(stderr, "uvm-gc: unknown option %s\n", a);
            usage();
        }
    }
    return npos;
}

/* The workload and its numbers; defaults for what is left out. */
static void workload(struct job *j, char **pos, int npos)
{
    if (npos == 0) {
        fprintf(stderr, "uvm-gc: no workload named\n");
        usage();
    }
    const char *w = pos[0];
    int max = 0;
    if (!strcmp(w, "gcbench")) {
        j->bench = 0;
        max = 4;
    } else if (!strcmp(w, "binary-trees")) {
        j->bench = 1;
        max = 1;
        if (npos < 2) {
            fprintf(stderr, "uvm-gc: binary-trees needs N\n");
            usage();
        }
    } else if (!strcmp(w, "graph")) {
        j->bench = 2;
        max = 2;
        j->a[0] = 32768;
        j->a[1] = 8000000;
    } else {
        fprintf(stderr, "uvm-gc: unknown workload '%s'\n", w);
        usage();
    }
    if (npos - 1 > max) {
        fprintf(stderr, "uvm-gc: %s: too many numbers ('%s')\n", w,
                pos[max + 1]);
        usage();
    }
    for (int n = 1; n < npos; n++) {
        j->a[n - 1] = number(w, pos[n]);
        if (j->a[n - 1] < 0) {
            fprintf(stderr, "uvm-gc: %s: '%s' is negative\n", w, pos[n]);
            usage();
        }
    }
    if (j->bench == 0) {
        j->heap = 32u << 20;
    } else if (j->bench == 2) {
        /* Room for the graph (128 bytes a node, plus its directory) twice
         * over, so that collections come every few million bytes. */
        j->heap = (size_t)j->a[0] * 2 * 136 + (1u << 20);
    } else {
        if (j->a[0] > 28)
            usage();
        unsigned stretch = (j->a[0] < 6 ? 6 : (unsigned)j->a[0]) + 1;
        j->heap = (size_t)48 << (stretch + 1);   /* twice the stretch tree */
        if (j->heap < (8u << 20))
            j->heap = 8u << 20;
    }
}

int main(int argc, char **argv)
{
    struct job j = { .k = 4, .batch = 4, .incr_us = 100, .a = { 18, 16, 16, 500000 } };
    struct opts o = { .mode = "all" };
    int modes[GC_NMODES + 1], conc[GC_NMODES + 1], nmodes = 0;
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (pos == NULL)
        return perror("uvm-gc"), 1;
    int npos = parse(argc, argv, &j, &o, pos);
    if (j.k == 0 || j.batch == 0)
        usage();
    workload(&j, pos, npos);
    free(pos);
    if (o.heap_mb > 0)
        j.heap = (size_t)(o.heap_mb * 1048576.0);
    gc_breakdown = o.breakdown;
    gc_rt_pauses = o.rt;
    if (!strcmp(o.mode, "all")) {
        for (int m = 0; m < GC_NMODES; m++, nmodes++) {
            modes[nmodes] = m;
            conc[nmodes] = 0;
        }
        if (j.concurrent) {            /* vm both ways, side by side */
            modes[nmodes] = GC_VM;
            conc[nmodes++] = 1;
        }
    } else {
        int m;
        for (m = 0; m < GC_NMODES && strcmp(o.mode, gc_mode_name(m)); m++)
            ;
        if (m == GC_NMODES) {
            fprintf(stderr, "uvm-gc: unknown mode '%s'\n", o.mode);
            usage();
        }
        modes[nmodes] = m;
        conc[nmodes++] = j.concurrent;
    }

    static struct gc_stats stats[GC_NMODES + 1];
    char *text[GC_NMODES + 1] = { 0 };
    int rc = 0;
    for (int m = 0; m < nmodes; m++)
        if (run_mode(&j, modes[m], conc[m], &stats[m], &text[m]) != 0)
            return 1;
    for (int m = 1; m < nmodes; m++)
        if (strcmp(text[0], text[m]) != 0) {
            fprintf(stderr, "uvm-gc: mode %s printed something else than "
                    "mode %s\n", gc_label(&stats[m]), gc_label(&stats[0]));
            rc = 1;
        }
    if (!o.quiet)
        fputs(text[0], stdout);
    fflush(stdout);
    FILE *rf = stderr;
    if (o.report != NULL && (rf = fopen(o.report, "w")) == NULL)
        return perror(o.report), 1;
    if (o.csv)
        gc_report_csv(rf, stats, nmodes);
    else
        gc_report_text(rf, stats, nmodes);
    if (o.breakdown)
        gc_report_breakdown(rf, stats, nmodes);
    if (rf != stderr)
        fclose(rf);
    if (o.plot != NULL && gc_plot(o.plot, stats, nmodes) != 0)
        rc = 1;
    for (int m = 0; m < nmodes; m++)
        free(text[m]);
    return rc;
}
