/*
 * stats.h: the clock and the medians every benchmark program uses.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Medians, not means: on a shared virtual machine a block now and then
 * loses the CPU, and one such block would move a mean by more than the
 * few per cent the benchmarks are there to see.  min and max show how
 * noisy a run was.
 */
#ifndef UVM_BENCH_STATS_H
#define UVM_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

uint64_t bench_now_ns(void);            /* CLOCK_MONOTONIC */
void *bench_calloc(size_t n, size_t size);   /* exits 1 when out of memory */
/* s as a whole decimal number in [min, max], else a message naming what
 * (an operand or a variable) and exit status 2: atoi and strtoul took
 * "1g" for 1 and "--quick" for 0.  prog prefixes the message. */
long bench_number(const char *prog, const char *what, const char *s,
                  long min, long max);

struct bench_stats {
    double median, min, max;
};

/* The median, minimum and maximum of v[0..n-1] (n > 0); v is not changed. */
struct bench_stats bench_stats_of(const double *v, int n);

#endif /* UVM_BENCH_STATS_H */
