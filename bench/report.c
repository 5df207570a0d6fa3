/*
 * report.c: uvm-bench's clock, statistics and output.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Medians, not means: on a shared virtual machine a block now and then
 * loses the CPU, and one such block would move a mean by more than the
 * few per cent the benchmark is there to see.  min and max show how noisy
 * the run was.  Three formats, each complete on stdout:
 *   text  for people: a section per row, then the Table 1 summary;
 *   CSV   one line per result, name,variant,kind,median,min,max,n,unit,
 *         target,text, the Table 1 summary as rows named table1.COLUMN;
 *   JSON  one object: the run's parameters, "results" and "table1".
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void *bench_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL) {
        perror("uvm-bench: calloc");
        exit(1);
    }
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct bench_stats bench_stats_of(const double *v, int n)
{
    double *s = bench_calloc((size_t)n, sizeof *s);
    struct bench_stats st = { 0, 0, 0 };
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    st.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    st.min = s[0];
    st.max = s[n - 1];
    free(s);
    return st;
}

double bench_vmpup(const struct bench_machine *m)
{
    if (m->trap <= 0 || m->prot1 <= 0 || m->protn <= 0)
        return -1;
    return 3000.0 / (m->prot1 + m->protn + m->trap);
}

static enum bench_format fmt;
static int met, missed;        /* targets, for the closing line */
static int nresults;           /* JSON: a comma before all but the first */
static const char *cur_title = "";

/* ---- numbers and strings ---- */

/* Three significant digits or whole units, whichever is longer: the
 * table mixes 0.0003 µs adds and 3380 µs traps. */
static const char *num(char *buf, size_t len, double v)
{
    if (v >= 100 || v <= -100)
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.3g", v);
    return buf;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; s != NULL && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void json_num(double v)
{
    if (isfinite(v))
        printf("%.6g", v);
    else
        printf("null");
}

/* CSV fields here never hold commas or quotes but the free text may. */
static void csv_str(const char *s)
{
    if (s == NULL)
        return;
    if (strpbrk(s, ",\"\n") == NULL) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static const char *const kind_names[] = {
    [BENCH_VALUE] = "value", [BENCH_RATIO] = "ratio", [BENCH_TEXT] = "text",
};

/* ---- the run ---- */

void report_begin(const struct bench_opts *o, const char *version,
                  size_t pagesize)
{
    fmt = o->format;
    switch (fmt) {
    case BENCH_FMT_CSV:
        printf("name,variant,kind,median,min,max,n,unit,target,text\n");
        break;
    case BENCH_FMT_JSON:
        printf("{\"libuvm\": ");
        json_str(version);
        printf(", \"pagesize\": %zu, \"pages\": %d, \"blocks\": %d, "
               "\"rounds\": %d, \"seed\": %lu, \"quick\": %s,\n"
               " \"results\": [", pagesize, BENCH_PAGES, o->blocks,
               o->rounds, o->seed, o->quick ? "true" : "false");
        break;
    case BENCH_FMT_TEXT:
        printf("uvm-bench: libuvm %s, %zu-byte pages, %d pages, %d blocks "
               "x %d rounds per variant, seed %lu%s\n", version, pagesize,
               BENCH_PAGES, o->blocks, o->rounds, o->seed,
               o->quick ? " (quick)" : "");
        printf("Values: median [min - max] over the blocks.  Ratios: "
               "median [min - max] of the\nratios of blocks run together "
               "in this process (interleaved pairs or cycles).\n");
        break;
    }
}

void report_row(const char *title, const char *unit)
{
    cur_title = title;
    if (fmt == BENCH_FMT_TEXT)
        printf("\n%s (%s)\n", title, unit);
}

static void text_result(const struct bench_result *r)
{
    char a[32], b[32], c[32];
    printf("  %-29s", r->variant);
    if (r->kind == BENCH_TEXT) {
        printf(" %s\n", r->text);
        return;
    }
    printf(" %9s", num(a, sizeof a, r->v.median));
    if (r->n > 1)
        printf(" [%s - %s]", num(b, sizeof b, r->v.min),
               num(c, sizeof c, r->v.max));
    if (r->kind == BENCH_RATIO && r->target > 0)
        printf("  target <= %.2f: %s", r->target,
               r->v.median <= r->target ? "met" : "missed");
    if (r->text != NULL)
        printf("  %s", r->text);
    printf("\n");
}

static void csv_result(const struct bench_result *r)
{
    csv_str(r->row);
    putchar(',');
    csv_str(r->variant);
    printf(",%s,", kind_names[r->kind]);
    if (r->kind != BENCH_TEXT)
        printf("%.6g,%.6g,%.6g,%d", r->v.median, r->v.min, r->v.max, r->n);
    else
        printf(",,,");
    putchar(',');
    csv_str(r->kind == BENCH_RATIO ? "ratio" : r->unit);
    putchar(',');
    if (r->target > 0)
        printf("%.2f", r->target);
    putchar(',');
    csv_str(r->text);
    putchar('\n');
}

static void json_begin_item(void)
{
    printf(nresults++ ? ",\n  {" : "\n  {");
}

static void json_result(const struct bench_result *r)
{
    json_begin_item();
    printf("\"row\": ");
    json_str(r->row);
    printf(", \"title\": ");
    json_str(cur_title);
    printf(", \"variant\": ");
    json_str(r->variant);
    printf(", \"kind\": \"%s\"", kind_names[r->kind]);
    if (r->kind != BENCH_TEXT) {
        printf(", \"median\": ");
        json_num(r->v.median);
        printf(", \"min\": ");
        json_num(r->v.min);
        printf(", \"max\": ");
        json_num(r->v.max);
        printf(", \"n\": %d, \"unit\": ", r->n);
        json_str(r->kind == BENCH_RATIO ? "ratio" : r->unit);
    }
    if (r->target > 0)
        printf(", \"target\": %.2f, \"met\": %s", r->target,
               r->v.median <= r->target ? "true" : "false");
    if (r->text != NULL) {
        printf(", \"text\": ");
        json_str(r->text);
    }
    printf("}");
}

void report_result(const struct bench_result *r)
{
    if (r->kind == BENCH_RATIO && r->target > 0) {
        if (r->v.median <= r->target)
            met++;
        else
            missed++;
    }
    switch (fmt) {
    case BENCH_FMT_TEXT: text_result(r); break;
    case BENCH_FMT_CSV:  csv_result(r);  break;
    case BENCH_FMT_JSON: json_result(r); break;
    }
    fflush(stdout);     /* a long run shows each row as it completes */
}

void report_note(const char *text)
{
    if (fmt == BENCH_FMT_TEXT) {
        printf("  %s\n", text);
    } else if (fmt == BENCH_FMT_JSON) {
        json_begin_item();
        printf("\"title\": ");
        json_str(cur_title);
        printf(", \"note\": ");
        json_str(text);
        printf("}");
    }
}

/* ---- the Table 1 summary ---- */

/* A time in µs, or the paper's dash. */
static const char *cell(char *buf, size_t len, double v)
{
    if (v <= 0)
        return "-";
    return num(buf, len, v);
}

/* A time in ADD times (the paper's Figure 2), or a dash. */
static const char *adds(char *buf, size_t len, double t, double add)
{
    if (t <= 0 || add <= 0)
        return "-";
    snprintf(buf, len, "%.0f", t / add);
    return buf;
}

static void text_machine(const struct bench_machine *m)
{
    char b[8][32];
    char name[64];
    double pup = bench_vmpup(m);
    snprintf(name, sizeof name, "%s%s%s", m->machine, m->os[0] ? ", " : "",
             m->os);
    printf("%-34s", name);
    if (m->na != NULL) {
        printf(" %s\n", m->na);
        return;
    }
    printf(" %8s %7s%-1s %8s%-1s %8s%-1s %4s %5ld %7s %7s %7s %7s\n",
           cell(b[0], 32, m->add), cell(b[1], 32, m->trap),
           m->flags && strchr(m->flags, '+') ? "+" : "",
           cell(b[2], 32, m->prot1), m->flags && strchr(m->flags, '*') ?
           "*" : "", cell(b[3], 32, m->protn),
           m->flags && strchr(m->flags, '*') ? "*" : "",
           m->map2 ? m->map2 : "-", m->pagesize,
           adds(b[4], 32, m->trap, m->add), adds(b[5], 32, m->prot1, m->add),
           adds(b[6], 32, m->protn, m->add),
           pup > 0 ? num(b[7], 32, pup) : "-");
}

static void text_table1(const struct bench_machine *m, int n)
{
    printf("\nTable 1 (Appel & Li 1991), this machine beside the 1990 "
           "machines\n");
    printf("Times in microseconds per page (per trap for TRAP); ADDs: the "
           "time in ADD times\n(Figure 2); VM-PUP = 3000 / (PROT1 + PROTN + "
           "TRAP); medians of this run.\n\n");
    printf("%-34s %8s %8s %9s %9s %4s %5s %7s %7s %7s %7s\n",
           "machine, method", "ADD", "TRAP", "T+PROT1", "T+PROTN", "MAP2",
           "PAGE", "TRAP", "PROT1", "PROTN", "VM-PUP");
    printf("%-34s %8s %8s %9s %9s %4s %5s %7s %7s %7s %7s\n",
           "", "us", "us", "+UNPROT", "+UNPROT", "", "SIZE", "ADDs", "ADDs",
           "ADDs", "");
    int published = 0;
    for (int i = 0; i < n; i++) {
        if (m[i].published && !published++)
            printf("-- published, Appel & Li 1991 (Table 1; * suspect: no "
                   "TLB flush, + estimated) --\n");
        text_machine(&m[i]);
    }
}

/* CSV and JSON: one result per cell, so that a reader needs no second
 * schema. */
static void cell_result(const struct bench_machine *m, const char *col,
                        double v, const char *unit, const char *text)
{
    char variant[96];
    char row[32];
    snprintf(variant, sizeof variant, "%s%s%s%s", m->machine,
             m->os[0] ? ", " : "", m->os,
             m->published ? " (published, Appel & Li 1991)" : "");
    snprintf(row, sizeof row, "table1.%s", col);
    struct bench_result r = {
        .row = row, .variant = variant, .unit = unit, .n = 1,
        .kind = text != NULL || v <= 0 ? BENCH_TEXT : BENCH_VALUE,
        .v = { v, v, v }, .text = text != NULL ? text : v <= 0 ? "-" : NULL,
    };
    if (fmt == BENCH_FMT_CSV)
        csv_result(&r);
    else
        json_result(&r);
}

static void data_machine(const struct bench_machine *m)
{
    if (m->na != NULL) {
        cell_result(m, "na", 0, NULL, m->na);
        return;
    }
    char ps[24];
    snprintf(ps, sizeof ps, "%ld", m->pagesize);
    cell_result(m, "add", m->add, "us", NULL);
    cell_result(m, "trap", m->trap, "us", NULL);
    cell_result(m, "prot1", m->prot1, "us", NULL);
    cell_result(m, "protn", m->protn, "us", NULL);
    cell_result(m, "map2", 0, NULL, m->map2 ? m->map2 : "-");
    cell_result(m, "pagesize", 0, NULL, ps);
    double a = m->add;
    cell_result(m, "trap_adds", m->trap > 0 && a > 0 ? m->trap / a : -1,
                "ADD times", NULL);
    cell_result(m, "prot1_adds", m->prot1 > 0 && a > 0 ? m->prot1 / a : -1,
                "ADD times", NULL);
    cell_result(m, "protn_adds", m->protn > 0 && a > 0 ? m->protn / a : -1,
                "ADD times", NULL);
    cell_result(m, "vmpup", bench_vmpup(m), "rating", NULL);
    if (m->flags != NULL && m->flags[0])
        cell_result(m, "flags", 0, NULL, m->flags);
}

void report_table1(const struct bench_machine *m, int n)
{
    cur_title = "Table 1";
    if (fmt == BENCH_FMT_TEXT) {
        text_table1(m, n);
        return;
    }
    for (int i = 0; i < n; i++)
        data_machine(&m[i]);
}

void report_end(void)
{
    if (fmt == BENCH_FMT_JSON)
        printf("\n ],\n \"targets\": {\"met\": %d, \"missed\": %d}}\n", met,
               missed);
    else if (fmt == BENCH_FMT_TEXT && met + missed > 0)
        printf("\nTargets: %d met, %d missed (a report, not a test: the "
               "exit status ignores them).\n", met, missed);
    fflush(stdout);
}
