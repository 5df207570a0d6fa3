/*
 * table1.c: Appel & Li's Table 1 on this machine, beside theirs.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * The columns are the paper's: ADD, TRAP, TRAP+PROT1+UNPROT,
 * TRAP+PROTN+UNPROT, MAP2, PAGESIZE, then each time in ADD times (their
 * Figure 2) and vmpup.c's VM-PUP rating.  This machine has one line per
 * method (raw system calls, libuvm through each protection mechanism it
 * has, libsigsegv's dispatcher); the pair rows fill the times, run_add
 * and run_map2 the rest.  The 1990 lines are published data, copied from
 * Table 1 of the paper (doc/bench.md [bench.table1]), never measured here.
 *
 * ADD.  vmpup.c times a loop of 18 "j += k", a compare and a branch, and
 * divides by the instructions executed (20 per iteration).  A compiler
 * today folds j += k eighteen times into one multiply-add, so the loop is
 * written in assembly: 18 dependent "add %k, %j" (each needs the last,
 * as on the scalar 1990 CPUs), then "sub $1, %i" (the compare: it sets
 * the flags) and "jnz".  On a superscalar core the counter and branch run
 * beside the chain, so the time per instruction is 18/20 of an add's
 * latency: as in 1990, ADD is the loop's time per instruction.
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "bench.h"

#include <uvm.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the published rows (Appel & Li 1991, Table 1) ---- */

/* µs per page; -1 where the paper has a dash.  "*": SunOS 4.0's mprotect
 * failed to flush the TLB, suspect; "+": estimated (the paper's dagger). */
static const struct bench_machine published[] = {
    { "Sun 3/60", "SunOS 4.0", 1, 0.12, 760, 1238, 1016, "", "yes", 8192,
      NULL },
    { "Sun 3/60", "SunOS 4.1", 1, 0.12, -1, 2080, 1800, "", "yes", 8192,
      NULL },
    { "Sun 3/60", "Mach 2.5 (xp)", 1, 0.12, -1, 3300, 2540, "", "yes", 8192,
      NULL },
    { "Sun 3/60", "Mach 2.5 (exc)", 1, 0.12, -1, 3380, 2880, "", "yes", 8192,
      NULL },
    { "SparcStn 1", "SunOS 4.0.3c", 1, 0.05, -1, 919, 839, "*", "yes", 4096,
      NULL },
    { "SparcStn 1", "SunOS 4.1", 1, 0.05, 230, 1008, 909, "+", "yes", 4096,
      NULL },
    { "SparcStn 1", "Mach 2.5 (xp)", 1, 0.05, -1, 1550, 1230, "", "yes",
      4096, NULL },
    { "SparcStn 1", "Mach 2.5 (exc)", 1, 0.05, -1, 1770, 1470, "", "yes",
      4096, NULL },
    { "DEC 3100", "Ultrix 4.1", 1, 0.062, 210, 393, 344, "", "no", 4096,
      NULL },
    { "DEC 3100", "Mach 2.5 (xp)", 1, 0.062, -1, 937, 766, "", "no", 4096,
      NULL },
    { "DEC 3100", "Mach 2.5 (exc)", 1, 0.062, -1, 1203, 1063, "", "no", 4096,
      NULL },
    { "uVax 3", "Ultrix 2.3", 1, 0.21, 314, 612, 486, "", "no", 1024, NULL },
    { "i386 on iPSC/2", "NX/2", 1, 0.15, 172, 302, 252, "", "yes", 4096,
      NULL },
};
#define NPUBLISHED ((int)(sizeof published / sizeof published[0]))

/* ---- this machine ---- */

/* One line per method, in this order.  The uffd line cannot be measured
 * with the paper's loops: they protect to PROT_NONE, and userfaultfd
 * write-protection only takes write access away.  libuvm's userfaultfd
 * path (write-only changes) is measured by bench/uvm-bench-dirty. */
enum { M_RAW, M_UVM, M_UVM_UFFD, M_SIGSEGV, NMETHODS };

static struct bench_machine here[NMETHODS] = {
    [M_RAW] = { "raw system calls", "", 0, -1, -1, -1, -1, "", NULL, 0,
                NULL },
    [M_UVM] = { "libuvm (mprotect)", "", 0, -1, -1, -1, -1, "", NULL, 0,
                NULL },
    [M_UVM_UFFD] = { "libuvm (uffd)", "", 0, -1, -1, -1, -1, "", NULL, 0,
                     "n/a: the paper's loops need PROT_NONE, which "
                     "userfaultfd cannot set (write-only round trip: "
                     "uvm-bench-dirty)" },
    [M_SIGSEGV] = { "libsigsegv dispatcher", "", 0, -1, -1, -1, -1, "",
                    NULL, 0, NULL },
};

static int method_of(enum bench_variant v)
{
    switch (v) {
    case BENCH_UVM:     return M_UVM;
    case BENCH_SIGSEGV: return M_SIGSEGV;
    default:            return M_RAW;
    }
}

void table1_set_loop(enum bench_loop loop, enum bench_variant v,
                     const struct bench_stats *us)
{
    struct bench_machine *m = &here[method_of(v)];
    switch (loop) {
    case BENCH_TRAP:  m->trap = us->median;  break;
    case BENCH_PROT1: m->prot1 = us->median; break;
    case BENCH_PROTN: m->protn = us->median; break;
    }
}

/* ---- ADD ---- */

/* iters iterations of 18 dependent adds, a compare and a branch. */
static uint64_t add_loop(long iters)
{
    uint64_t j = 0, k = 1;
#if defined(__x86_64__)
    __asm__ volatile(
        "1:\n\t"
        ".rept 18\n\t"
        "add %[k], %[j]\n\t"
        ".endr\n\t"
        "sub $1, %[i]\n\t"
        "jnz 1b"
        : [j] "+r"(j), [i] "+r"(iters)
        : [k] "r"(k)
        : "cc");
#else
    /* Elsewhere: the same chain, kept from folding by an empty asm. */
    do {
        for (int a = 0; a < 18; a++) {
            j += k;
            __asm__ volatile("" : "+r"(j));
        }
    } while (--iters > 0);
#endif
    return j;
}

#define ADD_ITERS 500000L      /* 10 million instructions, a few ms */

void run_add(const struct bench_row *row, const struct bench_opts *o)
{
    double *t = bench_calloc((size_t)o->blocks, sizeof *t);
    (void)add_loop(ADD_ITERS);                  /* warm-up */
    for (int b = 0; b < o->blocks; b++) {
        uint64_t t0 = bench_now_ns();
        uint64_t j = add_loop(ADD_ITERS);
        uint64_t dt = bench_now_ns() - t0;
        if (j != 18 * (uint64_t)ADD_ITERS) {    /* the loop ran in full */
            fprintf(stderr, "uvm-bench: ADD loop summed %llu\n",
                    (unsigned long long)j);
            exit(1);
        }
        t[b] = (double)dt / (20.0 * ADD_ITERS);
    }
    struct bench_result r = {
        .row = row->name, .variant = "one instruction", .kind = BENCH_VALUE,
        .unit = row->unit, .v = bench_stats_of(t, o->blocks), .n = o->blocks,
    };
    report_row(row->title, row->unit);
    report_result(&r);
    report_note("a loop of 18 dependent adds, sub (the compare) and jnz, "
                "divided by 20 instructions, as vmpup.c");
    for (int m = 0; m < NMETHODS; m++)
        here[m].add = r.v.median / 1e3;
    free(t);
}

/* ---- MAP2 ---- */

/* Appel & Li's test: one page at two addresses with different
 * protections.  Returns NULL when it works, else what failed. */
static const char *map2_try(void)
{
    size_t ps = uvm_pagesize();
    const char *why = NULL;
    char *a = uvm_alloc(ps, PROT_READ | PROT_WRITE);
    if (a == NULL)
        return "uvm_alloc failed";
    char *b = uvm_map2(a, ps, PROT_READ | PROT_WRITE);
    if (b == NULL) {
        why = "uvm_map2 failed";
    } else {
        if (uvm_prot1(a, PROT_NONE) != 0)
            why = "uvm_prot1 failed";
        else
            *(volatile char *)b = 42;  /* a is PROT_NONE: b must not trap */
        if (why == NULL && uvm_unprot(a, PROT_READ) != 0)
            why = "uvm_unprot failed";
        else if (why == NULL && *(volatile char *)a != 42)
            why = "the write through one view is not seen through the other";
        uvm_free(b, ps);
    }
    uvm_free(a, ps);
    return why;
}

void run_map2(const struct bench_row *row, const struct bench_opts *o)
{
    (void)o;
    const char *why = map2_try();
    char text[160];
    snprintf(text, sizeof text, "%s", why == NULL ? "yes: a write through "
             "one view is seen through the other, which is PROT_NONE" :
             why);
    struct bench_result r = {
        .row = row->name, .variant = "uvm_alloc+uvm_map2",
        .kind = BENCH_TEXT, .text = text,
    };
    report_row(row->title, row->unit);
    report_result(&r);
    for (int m = 0; m < NMETHODS; m++)
        here[m].map2 = why == NULL ? "yes" : "no";
}

/* ---- the summary ---- */

/* The length of "X.Y" in a kernel release "X.Y.Z-...": the table has no
 * room for the rest. */
static int major_minor(const char *release)
{
    const char *dot = strchr(release, '.');
    if (dot != NULL)
        dot = strchr(dot + 1, '.');
    return dot != NULL ? (int)(dot - release) : (int)strlen(release);
}

static void fill_here(void)
{
    static char os[160];
    struct utsname u;
    if (os[0] == '\0') {
        if (uname(&u) == 0)
            snprintf(os, sizeof os, "%s %.*s", u.sysname,
                     major_minor(u.release), u.release);
        else
            snprintf(os, sizeof os, "Linux");
    }
    for (int m = 0; m < NMETHODS; m++) {
        here[m].os = os;
        here[m].pagesize = (long)uvm_pagesize();
    }
}

void run_table1(const struct bench_row *row, const struct bench_opts *o)
{
    (void)row;
    (void)o;
    struct bench_machine all[NMETHODS + NPUBLISHED];
    char note[512];
    fill_here();
    memcpy(all, here, sizeof here);
    memcpy(all + NMETHODS, published, sizeof published);
    report_table1(all, NMETHODS + NPUBLISHED);
    snprintf(note, sizeof note, "This machine: the host profile at the "
             "top.  MAP2 is the kernel's (tested through uvm_map2).");
    report_note(note);
}

/* ---- --plot ---- */

static int write_plot_data(FILE *f)
{
    int n = 0;
    fprintf(f, "# machine trap_adds protn_adds prot1_adds\n");
    for (int i = 0; i < NMETHODS + NPUBLISHED; i++) {
        const struct bench_machine *m = i < NMETHODS ? &here[i]
                                                     : &published[i - NMETHODS];
        if (m->na != NULL || m->add <= 0)
            continue;
        fprintf(f, "\"%s%s%s\"", m->machine, "\\n",
                m->published ? m->os : "(this machine)");
        double v[3] = { m->trap, m->protn, m->prot1 };
        for (int k = 0; k < 3; k++) {
            if (v[k] > 0)
                fprintf(f, " %.0f", v[k] / m->add);
            else
                fprintf(f, " -");
        }
        fprintf(f, "\n");
        n += i < NMETHODS;
    }
    return n;
}

static const char plot_script[] =
    "set terminal pngcairo noenhanced size 1400,700 font ',10'\n"
    "set output '%s'\n"
    "set title \"Appel & Li's Table 1 in ADD times (their Figure 2): "
    "this machine beside the 1990 machines (published data)\"\n"
    "set datafile missing '-'\n"
    "set style data histograms\n"
    "set style histogram clustered gap 1\n"
    "set style fill solid 0.8 border -1\n"
    "set ylabel 'ADD times per operation (time / ADD)'\n"
    "set xtics rotate by -45 nomirror font ',8'\n"
    "set grid ytics\n"
    "set key top left\n"
    "plot '%s' using 2:xtic(1) title 'TRAP', '' using 3 title "
    "'TRAP+PROTN+UNPROT', '' using 4 title 'TRAP+PROT1+UNPROT'\n";

/* Run gnuplot on script; 0 when it exited 0. */
static int run_gnuplot(const char *script)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(errno == ENOENT ? 127 : 126);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        fprintf(stderr, "uvm-bench: --plot needs gnuplot, which is not "
                "installed (apt-get install gnuplot-nox)\n");
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "uvm-bench: --plot: gnuplot failed\n");
        return -1;
    }
    return 0;
}

int table1_plot(const char *png)
{
    char data[] = "/tmp/uvm-bench-plot-XXXXXX";
    char script[] = "/tmp/uvm-bench-gp-XXXXXX";
    int fd = mkstemp(data), fs = fd < 0 ? -1 : mkstemp(script), rc = -1;
    FILE *fdata = fd < 0 ? NULL : fdopen(fd, "w");
    FILE *fscript = fs < 0 ? NULL : fdopen(fs, "w");
    if (fdata == NULL || fscript == NULL) {
        perror("uvm-bench: --plot: temporary file");
    } else if (fill_here(), write_plot_data(fdata) == 0) {
        fprintf(stderr, "uvm-bench: --plot: nothing of this machine to "
                "plot (the add row and a loop row must run)\n");
    } else if (strchr(png, '\'') != NULL) {
        fprintf(stderr, "uvm-bench: --plot: a file name with a quote\n");
    } else {
        fprintf(fscript, plot_script, png, data);
        fflush(fdata);
        fflush(fscript);
        rc = run_gnuplot(script);
    }
    if (fdata != NULL)
        fclose(fdata);
    if (fscript != NULL)
        fclose(fscript);
    if (fd >= 0)
        unlink(data);
    if (fs >= 0)
        unlink(script);
    return rc;
}
