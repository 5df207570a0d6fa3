/*
 * target.c: the verdicts of target.h, kept for the summary.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: a copy of every target judged in this process, and the lines it
 * appends to $UVM_BENCH_SUMMARY.  Must never: judge a target without a
 * floor or peer (a bare number says nothing about the host), or let a
 * verdict change the exit status.
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "target.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TARGETS 64

static struct {
    char name[96], figure[64], floor[96], info[160];
    double ratio, bound;
} kept[MAX_TARGETS];
static int nkept;
static const char *program = "uvm-bench";

void target_program(const char *prog)
{
    program = prog;
}

const char *target_verdict(double ratio, double bound)
{
    return isfinite(ratio) && ratio <= bound ? "met" : "missed";
}

/* Tabs and newlines would break the summary file's lines. */
static void copy_field(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src != NULL ? src : "");
    for (char *c = dst; *c; c++)
        if (*c == '\t' || *c == '\n')
            *c = ' ';
}

/* $UVM_BENCH_SUMMARY opened for appending, or NULL. */
static FILE *summary_file(void)
{
    const char *path = getenv("UVM_BENCH_SUMMARY");
    if (path == NULL || path[0] == '\0')
        return NULL;
    FILE *f = fopen(path, "a");
    if (f == NULL)
        perror("uvm-bench: UVM_BENCH_SUMMARY");
    return f;
}

void target_host(const char *line)
{
    char host[512];
    FILE *f = summary_file();
    if (f == NULL)
        return;
    copy_field(host, sizeof host, line);
    fprintf(f, "#host\t%s\t%s\n", program, host);
    fclose(f);
}

static void append_summary_line(int i)
{
    FILE *f = summary_file();
    if (f == NULL)
        return;
    fprintf(f, "%s\t%s\t%s\t%s\t%.3f\t%.2f\t%s\t%s\n", program, kept[i].name,
            kept[i].figure, kept[i].floor, kept[i].ratio, kept[i].bound,
            target_verdict(kept[i].ratio, kept[i].bound), kept[i].info);
    fclose(f);
}

int target_judge(const struct bench_target *t)
{
    assert(t->name != NULL && t->floor != NULL && t->bound > 0);
    if (nkept < MAX_TARGETS) {
        int i = nkept++;
        copy_field(kept[i].name, sizeof kept[i].name, t->name);
        copy_field(kept[i].figure, sizeof kept[i].figure, t->figure);
        copy_field(kept[i].floor, sizeof kept[i].floor, t->floor);
        copy_field(kept[i].info, sizeof kept[i].info, t->info);
        kept[i].ratio = t->ratio;
        kept[i].bound = t->bound;
        append_summary_line(i);
    }
    return strcmp(target_verdict(t->ratio, t->bound), "met") == 0;
}

int target_summary(FILE *f)
{
    int missed = 0;
    fprintf(f, "\nSummary of %s's targets (figure <= bound x floor or "
            "peer, both measured in this run):\n", program);
    if (nkept == 0)
        fprintf(f, "  (no target was judged in this run)\n");
    for (int i = 0; i < nkept; i++) {
        const char *v = target_verdict(kept[i].ratio, kept[i].bound);
        missed += strcmp(v, "met") != 0;
        fprintf(f, "  %-50s %s\n      %s against %s: %.2f x, bound %.2f%s%s\n",
                kept[i].name, v, kept[i].figure, kept[i].floor,
                kept[i].ratio, kept[i].bound, kept[i].info[0] ? "; " : "",
                kept[i].info);
    }
    return missed;
}
