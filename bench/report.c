/*
 * report.c: uvm-bench's clock, statistics and output.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Three formats, each complete on stdout, each starting with the host
 * profile (profile.h):
 *   text  for people: the profile, a section per row, the Table 1
 *         summary, then the summary of the targets;
 *   CSV   one line per result, name,variant,kind,median,min,max,n,unit,
 *         target,text; the profile as rows named host.ITEM, the Table 1
 *         summary as rows named table1.COLUMN;
 *   JSON  one object: the run's parameters, "host", "results" (the
 *         Table 1 cells among them) and "targets".
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- the host profile ---- */

static void csv_result(const struct bench_result *r);
static void json_result(const struct bench_result *r);

/* CSV: one result per fact and item, named host.KEY. */
static void csv_profile(const struct bench_profile *p)
{
    const struct { const char *row, *text; } facts[] = {
        { "host.cpu", p->cpu }, { "host.kernel", p->kernel },
        { "host.virtualisation", p->virt },
    };
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) {
        struct bench_result r = { .row = facts[i].row, .variant = "host",
                                  .kind = BENCH_TEXT, .text = facts[i].text };
        csv_result(&r);
    }
    for (int i = 0; i < PROF_NITEMS; i++) {
        const struct profile_value *v = &p->items[i];
        char row[64];
        snprintf(row, sizeof row, "host.%s", v->key);
        struct bench_result r = {
            .row = row, .variant = v->label, .unit = v->unit, .v = v->v,
            .n = v->n, .kind = v->na != NULL ? BENCH_TEXT : BENCH_VALUE,
            .text = v->na,
        };
        csv_result(&r);
    }
}

static void json_profile(const struct bench_profile *p)
{
    printf(" \"host\": {\"cpu\": ");
    json_str(p->cpu);
    printf(", \"kernel\": ");
    json_str(p->kernel);
    printf(", \"virtualisation\": ");
    json_str(p->virt);
    printf(", \"online_cpus\": %ld,\n  \"items\": {", p->ncpu);
    for (int i = 0; i < PROF_NITEMS; i++) {
        const struct profile_value *v = &p->items[i];
        printf("%s\n   ", i ? "," : "");
        json_str(v->key);
        printf(": {\"label\": ");
        json_str(v->label);
        if (v->na != NULL) {
            printf(", \"na\": ");
            json_str(v->na);
        } else {
            printf(", \"median\": ");
            json_num(v->v.median);
            printf(", \"min\": ");
            json_num(v->v.min);
            printf(", \"max\": ");
            json_num(v->v.max);
            printf(", \"n\": %d, \"unit\": ", v->n);
            json_str(v->unit);
        }
        printf("}");
    }
    printf("}},\n");
}

/* ---- the run ---- */

void report_begin(const struct bench_opts *o, const char *version,
                  size_t pagesize, const struct bench_profile *prof)
{
    fmt = o->format;
    switch (fmt) {
    case BENCH_FMT_CSV:
        printf("name,variant,kind,median,min,max,n,unit,target,text\n");
        csv_profile(prof);
        break;
    case BENCH_FMT_JSON:
        printf("{\"libuvm\": ");
        json_str(version);
        printf(", \"pagesize\": %zu, \"pages\": %d, \"blocks\": %d, "
               "\"rounds\": %d, \"seed\": %lu, \"quick\": %s,\n",
               pagesize, BENCH_PAGES, o->blocks, o->rounds, o->seed,
               o->quick ? "true" : "false");
        json_profile(prof);
        printf(" \"results\": [");
        break;
    case BENCH_FMT_MD:
        printf("uvm-bench: libuvm %s, %zu-byte pages, %d pages, %d blocks "
               "x %d rounds per variant, seed %lu%s.  Values: median [min - "
               "max] over the blocks; ratios: median of the ratios of blocks "
               "run together.  Warm-up: every page written before timing, "
               "one untimed block per variant and row.\n\n", version,
               pagesize, BENCH_PAGES, o->blocks, o->rounds, o->seed,
               o->quick ? " (quick)" : "");
        profile_print_markdown(prof, stdout);
        break;
    case BENCH_FMT_TEXT:
        printf("uvm-bench: libuvm %s, %zu-byte pages, %d pages, %d blocks "
               "x %d rounds per variant, seed %lu%s\n", version, pagesize,
               BENCH_PAGES, o->blocks, o->rounds, o->seed,
               o->quick ? " (quick)" : "");
        profile_print(prof, stdout);
        printf("Values: median [min - max] over the blocks.  Ratios: "
               "median [min - max] of the\nratios of blocks run together "
               "in this process (interleaved pairs or cycles).\n"
               "Warm-up: every page is written before timing, and every "
               "row runs one untimed\nblock of each variant (or count, "
               "or method) before its timed blocks.\n");
        break;
    }
}

void report_row(const char *title, const char *unit)
{
    cur_title = title;
    if (fmt == BENCH_FMT_TEXT)
        printf("\n%s (%s)\n", title, unit);
    else if (fmt == BENCH_FMT_MD)
        printf("\n**%s** (%s)\n\n| | median | [min - max] | target |\n"
               "|---|---:|---|---|\n", title, unit);
}

/* Markdown: one table row per result (make bench-readme). */
static void md_result(const struct bench_result *r)
{
    char a[32], b[32], c[32];
    printf("| %s | ", r->variant);
    if (r->kind == BENCH_TEXT) {
        printf("%s | | |\n", r->text);
        return;
    }
    printf("%s | ", num(a, sizeof a, r->v.median));
    if (r->n > 1)
        printf("[%s - %s]", num(b, sizeof b, r->v.min),
               num(c, sizeof c, r->v.max));
    printf(" | ");
    if (r->kind == BENCH_RATIO && r->target > 0)
        printf("<= %.2f: %s", r->target,
               r->v.median <= r->target ? "met" : "missed");
    printf(" %s |\n", r->text != NULL ? r->text : "");
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
    case BENCH_FMT_MD:   md_result(r);   break;
    }
    fflush(stdout);     /* a long run shows each row as it completes */
}

void report_note(const char *text)
{
    if (fmt == BENCH_FMT_TEXT) {
        printf("  %s\n", text);
    } else if (fmt == BENCH_FMT_MD) {
        printf("\n%s\n", text);
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

/* A time with its unit, or a dash. */
static const char *md_cell(char *buf, size_t len, double v, const char *unit)
{
    char n[32];
    if (v <= 0)
        return "-";
    snprintf(buf, len, "%s %s", num(n, sizeof n, v), unit);
    return buf;
}

/* Markdown: the README's form of the summary, every machine. */
static void md_table1(const struct bench_machine *m, int n)
{
    char b[5][48];
    printf("\n**Table 1** (Appel & Li 1991), this machine beside the 1990 "
           "machines (published)\n\n| | ADD | TRAP | TRAP+PROT1+UNPROT | "
           "TRAP+PROTN+UNPROT | MAP2 | VM-PUP |\n|---|---|---|---|---|---|"
           "---|\n");
    for (int i = 0; i < n; i++) {
        const struct bench_machine *x = &m[i];
        double pup = bench_vmpup(x);
        printf("| %s%s%s%s |", x->machine, x->os[0] ? ", " : "", x->os,
               x->published ? " (1990)" : "");
        if (x->na != NULL) {
            printf(" %s | | | | | |\n", x->na);
            continue;
        }
        printf(" %s | %s | %s | %s | %s | %s |\n",
               md_cell(b[0], 48, x->add * 1e3, "ns"),
               md_cell(b[1], 48, x->trap, "µs"),
               md_cell(b[2], 48, x->prot1, "µs"),
               md_cell(b[3], 48, x->protn, "µs"),
               x->map2 ? x->map2 : "-", pup > 0 ? num(b[4], 48, pup) : "-");
    }
}

void report_table1(const struct bench_machine *m, int n)
{
    cur_title = "Table 1";
    if (fmt == BENCH_FMT_TEXT) {
        text_table1(m, n);
        return;
    }
    if (fmt == BENCH_FMT_MD) {
        md_table1(m, n);
        return;
    }
    for (int i = 0; i < n; i++)
        data_machine(&m[i]);
}

void report_end(void)
{
    if (fmt == BENCH_FMT_TEXT)
        (void)target_summary(stdout);
    if (fmt == BENCH_FMT_JSON)
        printf("\n ],\n \"targets\": {\"met\": %d, \"missed\": %d}}\n", met,
               missed);
    else if (fmt != BENCH_FMT_CSV && met + missed > 0)
        printf("\nTargets: %d met, %d missed (a report, not a test: the "
               "exit status ignores them).\n", met, missed);
    fflush(stdout);
}
