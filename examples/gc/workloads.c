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

/* ---- graph: a long-lived graph read far more than it allocates ----
 *
 * The workload where Appel, Ellis and Li expected the VM barrier to pay:
 * the program loads many pointers out of old objects between allocations.
 * A graph of n nodes, each with GRAPH_DEG out-edges to random nodes and a
 * key, built once and kept; then a walk of `steps` steps, each of which
 * reads every out-edge of the current node and its target's key (GRAPH_DEG
 * pointer loads through the barrier) and moves along one edge; every
 * GRAPH_READS steps it allocates a small record (a short-lived list,
 * dropped every 1024 steps), so that
 * collections run, and copy the graph, while it is being read.  The soft
 * barrier pays a compare on every one of those loads; the VM barrier pays
 * one trap per page of the graph per collection. */

/* GRAPH_READS steps, GRAPH_READS * GRAPH_DEG pointer loads from old
 * objects, per allocation. */
enum { GRAPH_DEG = 14, GRAPH_WORDS = GRAPH_DEG + 1, DIR_FAN = 256,
       GRAPH_READS = 8 };

static uint64_t mix(uint64_t x)          /* splitmix64's finalizer */
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Node v through the two-level directory (objects hold at most a page). */
static gc_obj *graph_node(gc_obj *dir, uint64_t v)
{
    return gc_ld(gc_ld(dir, v / DIR_FAN), v % DIR_FAN);
}

static gc_obj *graph_build(unsigned long n)
{
    gc_obj *dir = gc_alloc(DIR_FAN, DIR_FAN), *chunk = NULL, *node = NULL;
    GC_PUSH(dir);
    GC_PUSH(chunk);
    GC_PUSH(node);
    for (unsigned long c = 0; c * DIR_FAN < n; c++) {
        chunk = gc_alloc(DIR_FAN, DIR_FAN);
        gc_st(dir, c, chunk);
        for (unsigned long i = 0; i < DIR_FAN && c * DIR_FAN + i < n; i++) {
            node = gc_alloc(GRAPH_DEG, GRAPH_WORDS);
            node->f[GRAPH_DEG] = mix(c * DIR_FAN + i) & 0xffff;   /* key */
            chunk = gc_ld(dir, c);          /* the allocation may move it */
            gc_st(chunk, i, node);
        }
    }
    for (unsigned long u = 0; u < n; u++) {      /* edges: no allocation */
        gc_obj *un = graph_node(dir, u);
        for (unsigned e = 0; e < GRAPH_DEG; e++)
            gc_st(un, e, graph_node(dir, mix(u * GRAPH_DEG + e + 1) % n));
    }
    GC_POP(3);
    return dir;
}

int gc_graph(FILE *out, unsigned long n, unsigned long steps)
{
    if (n < 2 || n > (unsigned long)DIR_FAN * DIR_FAN) {
        fprintf(out, "graph: n must be 2..%d\n", DIR_FAN * DIR_FAN);
        return 1;
    }
    gc_obj *dir = NULL, *u = NULL, *list = NULL;
    GC_PUSH(dir);
    GC_PUSH(u);
    GC_PUSH(list);
    dir = graph_build(n);
    fprintf(out, "graph of %lu nodes, %d edges each; walking %lu steps\n", n,
            GRAPH_DEG, steps);
    u = graph_node(dir, 0);
    uint64_t sum = 0;
    unsigned long report = steps / 8 ? steps / 8 : 1;
    for (unsigned long s = 1; s <= steps; s++) {
        uint64_t h = 0;
        for (unsigned e = 0; e < GRAPH_DEG; e++)
            h += gc_ld(u, e)->f[GRAPH_DEG];          /* the target's key */
        sum += h;
        u = gc_ld(u, (h ^ s) % GRAPH_DEG);
        if (s % GRAPH_READS == 0) {
            gc_obj *rec = gc_alloc(1, 2);            /* short-lived */
            rec->f[1] = h;
            gc_st(rec, 0, (s & 1023) ? list : NULL);
            list = rec;
        }
        if (s % report == 0)
            fprintf(out, "after %lu steps: checksum %llu\n", s,
                    (unsigned long long)sum);
    }
    fprintf(out, "graph walk done\n");
    GC_POP(3);
    return 0;
}
