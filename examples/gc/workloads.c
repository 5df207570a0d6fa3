/*
 * workloads.c: Boehm's GCBench and the Benchmarks Game's binary-trees,
 * written against the collector's shadow stack and read barrier.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: nothing global.  Rule of the shadow stack: every C variable that
 * holds an object pointer across a call that may allocate is GC_PUSHed
 * (the collector updates it in place when the object moves); every
 * pointer load goes through gc_ld.  The output depends only on the
 * workload's parameters, never on the mode: it is what make check
 * compares.  GCBench's timings are left out of it (the report has them);
 * instead it prints the node count of the last tree of each batch, so the
 * trees are read back through the barrier and checked.
 *
 * Fault handler: nothing here runs in it (but any load here may trap).
 */
#include "gc.h"

/* ---- GCBench (Hans Boehm, after John Ellis and Pete Kovac) ---- */

enum { NODE_PTRS = 2, NODE_WORDS = 3 };   /* left, right, and i/j packed */
#define NODE_BYTES (8 * (NODE_WORDS + 1))

static gc_obj *new_node(gc_obj *l, gc_obj *r)
{
    GC_PUSH(l);
    GC_PUSH(r);
    gc_obj *n = gc_alloc(NODE_PTRS, NODE_WORDS);
    gc_st(n, 0, l);
    gc_st(n, 1, r);
    GC_POP(2);
    return n;
}

static long tree_size(int i)
{
    return (1L << (i + 1)) - 1;
}

/* Build the tree top down, assigning into older objects. */
static void populate(int depth, gc_obj *node)
{
    if (depth <= 0)
        return;
    GC_PUSH(node);
    depth--;
    gc_obj *l = new_node(NULL, NULL);
    gc_st(node, 0, l);
    gc_obj *r = new_node(NULL, NULL);
    gc_st(node, 1, r);
    populate(depth, gc_ld(node, 0));
    populate(depth, gc_ld(node, 1));
    GC_POP(1);
}

/* Build the tree bottom up. */
static gc_obj *make_tree(int depth)
{
    if (depth <= 0)
        return new_node(NULL, NULL);
    gc_obj *l = make_tree(depth - 1), *r = NULL;
    GC_PUSH(l);
    GC_PUSH(r);
    r = make_tree(depth - 1);
    gc_obj *n = new_node(l, r);
    GC_POP(2);
    return n;
}

static long count(gc_obj *t)        /* allocates nothing: no roots */
{
    if (t == NULL)
        return 0;
    return 1 + count(gc_ld(t, 0)) + count(gc_ld(t, 1));
}

static void time_construction(FILE *out, int depth, int stretch)
{
    long iters = 2 * tree_size(stretch) / tree_size(depth);
    gc_obj *t = NULL;
    GC_PUSH(t);
    fprintf(out, "Creating %ld trees of depth %d\n", iters, depth);
    for (long i = 0; i < iters; i++) {
        t = new_node(NULL, NULL);
        populate(depth, t);
    }
    fprintf(out, "\tTop down construction: last tree has %ld nodes\n",
            count(t));
    for (long i = 0; i < iters; i++)
        t = make_tree(depth);
    fprintf(out, "\tBottom up construction: last tree has %ld nodes\n",
            count(t));
    GC_POP(1);
}

int gc_gcbench(FILE *out, int stretch, int longlived, int maxdepth,
               long arraysize)
{
    enum { kMinTreeDepth = 4 };
    gc_obj *tmp = NULL, *ll = NULL, *arr = NULL;
    GC_PUSH(tmp);
    GC_PUSH(ll);
    GC_PUSH(arr);
    fprintf(out, "Garbage Collector Test\n");
    fprintf(out, " Live storage will peak at %ld bytes.\n\n",
            2 * NODE_BYTES * tree_size(longlived) + 8 * arraysize);
    fprintf(out, " Stretching memory with a binary tree of depth %d\n",
            stretch);
    tmp = make_tree(stretch);
    fprintf(out, " Stretch tree has %ld nodes\n", count(tmp));
    tmp = NULL;

    fprintf(out, " Creating a long-lived binary tree of depth %d\n",
            longlived);
    ll = new_node(NULL, NULL);
    populate(longlived, ll);

    fprintf(out, " Creating a long-lived array of %ld doubles\n", arraysize);
    arr = gc_alloc(0, (size_t)arraysize);
    double *a = (double *)arr->f;       /* valid until the next allocation */
    for (long i = 0; i < arraysize / 2; i++)
        a[i] = 1.0 / (double)i;

    for (int d = kMinTreeDepth; d <= maxdepth; d += 2)
        time_construction(out, d, stretch);

    a = (double *)arr->f;
    int ok = count(ll) == tree_size(longlived) &&
             (arraysize <= 1000 || a[1000] == 1.0 / 1000);
    fprintf(out, " Long-lived tree has %ld nodes; array %s\n", count(ll),
            ok ? "intact" : "DAMAGED");
    fprintf(out, "Completed\n");
    GC_POP(3);
    return ok ? 0 : 1;
}

/* ---- binary-trees (the Computer Language Benchmarks Game) ---- */

/* A tree node is a pair: two pointers, 24 bytes with its header. */
static gc_obj *new_pair(gc_obj *l, gc_obj *r)
{
    GC_PUSH(l);
    GC_PUSH(r);
    gc_obj *n = gc_alloc(2, 2);
    gc_st(n, 0, l);
    gc_st(n, 1, r);
    GC_POP(2);
    return n;
}

static gc_obj *bottom_up(unsigned depth)
{
    gc_obj *l = NULL, *r = NULL;
    if (depth > 0) {
        l = bottom_up(depth - 1);
        GC_PUSH(l);
        r = bottom_up(depth - 1);
        GC_POP(1);
    }
    return new_pair(l, r);
}

static long item_check(gc_obj *t)   /* allocates nothing: no roots */
{
    gc_obj *l = gc_ld(t, 0);
    if (l == NULL)
        return 1;
    return 1 + item_check(l) + item_check(gc_ld(t, 1));
}

int gc_binary_trees(FILE *out, unsigned n)
{
    unsigned min_depth = 4, max_depth = n < min_depth + 2 ? min_depth + 2 : n;
    unsigned stretch = max_depth + 1;
    gc_obj *t = NULL, *longlived = NULL;
    GC_PUSH(t);
    GC_PUSH(longlived);
    t = bottom_up(stretch);
    fprintf(out, "stretch tree of depth %u\t check: %li\n", stretch,
            item_check(t));
    t = NULL;
    longlived = bottom_up(max_depth);
    for (unsigned d = min_depth; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + min_depth), check = 0;
        for (long i = 0; i < iterations; i++) {
            t = bottom_up(d);
            check += item_check(t);
        }
        fprintf(out, "%li\t trees of depth %u\t check: %li\n", iterations, d,
                check);
    }
    fprintf(out, "long lived tree of depth %u\t check: %li\n", max_depth,
            item_check(longlived));
    GC_POP(2);
    return 0;
}
