/*
 * test-mmu.c: make check for pauses.c: the minimum mutator utilization of
 * hand-made pause logs whose answers are known, and the merging of close
 * pauses.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 */
#include "gc.h"

#include <math.h>
#include <stdlib.h>

struct gc_stats gcs;            /* pauses.c counts merges here */
static int fails;

#define MS 1000000ull
#define US 1000ull

static void expect(const char *what, double got, double want)
{
    int ok = fabs(got - want) < 1e-9;
    printf("%s %s: got %.6f, want %.6f\n", ok ? "ok  " : "FAIL", what, got,
           want);
    fails += !ok;
}

int main(void)
{
    /* One 1 ms pause at 10 ms in a 100 ms run. */
    struct gc_pause one[] = { { 10 * MS, 11 * MS } };
    expect("one pause, window = pause", gc_mmu(one, 1, 0, 100 * MS, MS), 0);
    expect("one pause, window 2x", gc_mmu(one, 1, 0, 100 * MS, 2 * MS), 0.5);
    expect("one pause, whole run", gc_mmu(one, 1, 0, 100 * MS, 100 * MS),
           0.99);
    expect("one pause, window < pause", gc_mmu(one, 1, 0, 100 * MS, 500 * US),
           0);
    /* Bunched short pauses: five 200 us pauses 200 us apart (10-12 ms):
     * none is long, but a 1 ms window holds 600 us of them. */
    struct gc_pause five[5];
    for (int i = 0; i < 5; i++) {
        five[i].start = 10 * MS + (uint64_t)i * 400 * US;
        five[i].end = five[i].start + 200 * US;
    }
    expect("bunched pauses, 1 ms", gc_mmu(five, 5, 0, 100 * MS, MS), 0.4);
    expect("bunched pauses, 2 ms", gc_mmu(five, 5, 0, 100 * MS, 2 * MS), 0.5);
    expect("bunched pauses, 10 ms", gc_mmu(five, 5, 0, 100 * MS, 10 * MS),
           0.9);
    /* A pause at the very start and one at the very end of the run. */
    struct gc_pause ends[] = { { 0, 3 * MS }, { 97 * MS, 100 * MS } };
    expect("pauses at the ends, 4 ms", gc_mmu(ends, 2, 0, 100 * MS, 4 * MS),
           0.25);
    expect("no pauses", gc_mmu(NULL, 0, 0, 100 * MS, MS), 1);

    /* The log: pauses closer than 1 us merge, farther ones do not. */
    if (gc_pauses_init() != 0)
        return 99;
    gc_pauses_add(1000, 2000);
    gc_pauses_add(2500, 3000);          /* 500 ns after: merged */
    gc_pauses_add(10000, 11000);        /* 7 us after: kept apart */
    size_t n;
    const struct gc_pause *p = gc_pauses(&n);
    expect("log: two intervals", (double)n, 2);
    expect("log: merged end", n ? (double)p[0].end : 0, 3000);
    expect("log: merges counted", (double)gcs.merged, 1);
    return fails ? 1 : 0;
}
