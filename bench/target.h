/*
 * target.h: targets judged against floors measured in the same run, and
 * the summary of every target at the end.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * A target is "figure <= bound x floor": the floor is what the same
 * work costs through the raw kernel mechanism underneath, measured in
 * this run on this host (or, where a target is a comparison with another
 * mechanism, that peer, and it says so).  A target never changes a
 * program's exit status: on a shared machine the benchmarks report, they
 * do not fail builds.
 *
 * Every program prints its own targets' summary at its end.  When
 * UVM_BENCH_SUMMARY names a file, each verdict is also appended to it as
 * one tab-separated line (program, target, figure, floor or peer, ratio,
 * bound, met|missed, information), after a "#host" line naming the host,
 * so that `make bench` can print one summary of all programs
 * (bench/summary.sh).
 */
#ifndef UVM_BENCH_TARGET_H
#define UVM_BENCH_TARGET_H

#include <stdio.h>

struct bench_target {
    const char *name;        /* "TRAP: libuvm <= 1.05 x raw" */
    const char *figure;      /* "2.55 us (libuvm)" */
    const char *floor;       /* "2.51 us (raw mprotect handler)" */
    double ratio;            /* figure / floor, as judged */
    double bound;            /* met when ratio <= bound */
    const char *info;        /* the peer ratio etc., or NULL */
};

/* The program's name in the summary lines. */
void target_program(const char *prog);

/* The host the program runs on (profile_host_line), for the summary
 * file's reader: appended as a "#host" line. */
void target_host(const char *line);

/* Record t and return 1 if met, 0 if missed.  Prints nothing. */
int target_judge(const struct bench_target *t);

/* "met" or "missed" for a ratio against a bound. */
const char *target_verdict(double ratio, double bound);

/* This program's targets so far, as a table on f, and how many missed. */
int target_summary(FILE *f);

#endif /* UVM_BENCH_TARGET_H */
