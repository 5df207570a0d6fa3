/*
 * binary-trees-ref.c: a trivially correct binary-trees on malloc and free,
 * the reference whose output uvm-gc's must match.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 */
#include <stdio.h>
#include <stdlib.h>

struct node { struct node *l, *r; };

static struct node *bottom_up(unsigned d)
{
    struct node *n = malloc(sizeof *n);
    if (n == NULL)
        abort();
    n->l = d ? bottom_up(d - 1) : NULL;
    n->r = d ? bottom_up(d - 1) : NULL;
    return n;
}

static long check(const struct node *n)
{
    return n->l ? 1 + check(n->l) + check(n->r) : 1;
}

static void release(struct node *n)
{
    if (n->l) {
        release(n->l);
        release(n->r);
    }
    free(n);
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 10;
    unsigned min_depth = 4, max_depth = n < min_depth + 2 ? min_depth + 2 : n;
    struct node *t = bottom_up(max_depth + 1);
    printf("stretch tree of depth %u\t check: %li\n", max_depth + 1, check(t));
    release(t);
    struct node *ll = bottom_up(max_depth);
    for (unsigned d = min_depth; d <= max_depth; d += 2) {
        long it = 1L << (max_depth - d + min_depth), c = 0;
        for (long i = 0; i < it; i++) {
            t = bottom_up(d);
            c += check(t);
            release(t);
        }
        printf("%li\t trees of depth %u\t check: %li\n", it, d, c);
    }
    printf("long lived tree of depth %u\t check: %li\n", max_depth, check(ll));
    release(ll);
    return 0;
}
