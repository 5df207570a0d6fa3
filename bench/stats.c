/*
 * stats.c: the benchmarks' clock and medians (stats.h).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns nothing but these helpers; must never print except to say it ran
 * out of memory.
 */
#include <errno.h>
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "stats.h"

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

long bench_number(const char *prog, const char *what, const char *s,
                  long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "%s: %s: '%s' is not a whole number from %ld to "
                        "%ld\n", prog, what, s, min, max);
        exit(2);
    }
    return v;
}
