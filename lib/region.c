/*
 * region.c: the region table: address -> region, read without locks.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the table of registered regions, the pool the region structures
 * come from, and the writers' mutex.
 *
 * Design.  The table is a B+tree of fan-out 32 keyed by region start, and
 * it is persistent: a writer never changes a node a reader may see.  It
 * copies the path from the root to the leaf it changes (path copying, as in
 * Driscoll et al.'s persistent structures), publishes the new root with one
 * atomic store, waits until no fault handler still reads the old root
 * (hazard pointers, thread.c), then frees the replaced nodes.  A lookup is
 * a descent of log32(n) nodes: 4 levels for a million regions.  An update
 * copies log32(n) nodes of 520 bytes.
 *
 * Must never: modify a published node; free a node or a region while a
 * hazard or an in-flight call may reach it; allocate on the lookup path.
 *
 * Invariants (checked by tree_check in debug builds):
 *  .inv.sorted  keys strictly increase within a node;
 *  .inv.minkey  an inner key is exactly its child's first key, so the
 *               search never sends an address to the wrong subtree;
 *  .inv.disjoint regions never overlap (uvm__region_add checks);
 *  .inv.nonempty no published node is empty; the root is NULL instead.
 *
 * Region structures come from a pool of chunks that are never freed, so
 * uvm_untrap can tell a pointer that was never a region (EINVAL) without
 * dereferencing foreign memory (MPS design/sig).
 *
 * Recently removed ranges (.gone).  A fault raised just before its region
 * was unlinked may look the region up only after (its thread was preempted
 * between the trap and the lookup).  Whoever removed the region has made
 * the range accessible again, or will not; the dispatcher cannot tell, so
 * it lets the instruction run once more (uvm__region_gone says the address
 * was in a region removed lately) and treats the fault as a crash only if
 * it comes back.  The last GONE_RING removals are kept in a ring, each
 * entry under its own sequence lock: written under mu before the table
 * without the region is published, so a lookup that misses the region
 * finds the entry (unless GONE_RING later removals overwrote it while the
 * thread was preempted, when the fault is taken for a crash as before).
 */
#include "region.h"
#include "pool.h"
#include "thread.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define FAN 32
#define MAX_DEPTH 16

struct node {
    uint32_t n;                   /* entries used, 1..FAN */
    uint32_t leaf;
    uintptr_t key[FAN];           /* leaf: region start; inner: child min */
    void *ptr[FAN];               /* leaf: regions; inner: children */
};

_Atomic(void *) uvm__region_root;                 /* (a), written under mu */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- recently removed ranges (.gone) ---- */

#define GONE_RING 128

struct gone {
    _Atomic uint64_t seq;            /* odd while written; 2 * id when set */
    _Atomic uintptr_t start, end;
};
static struct gone gone_ring[GONE_RING];   /* (a) written under mu */
static uint64_t gone_count;                /* (w) removals so far */

/* Remember [start, end) before the table without it is published. */
static void gone_note(uintptr_t start, uintptr_t end)
{
    uint64_t id = ++gone_count;
    struct gone *g = &gone_ring[id % GONE_RING];
    atomic_store_explicit(&g->seq, 2 * id - 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&g->start, start, memory_order_relaxed);
    atomic_store_explicit(&g->end, end, memory_order_relaxed);
    atomic_store_explicit(&g->seq, 2 * id, memory_order_release);
}

UVM_AS_SAFE uint64_t uvm__region_gone(uintptr_t addr)
{
    uint64_t best = 0;
    for (int i = 0; i < GONE_RING; i++) {
        struct gone *g = &gone_ring[i];
        uint64_t s1 = atomic_load_explicit(&g->seq, memory_order_acquire);
        uintptr_t start = atomic_load_explicit(&g->start,
                                               memory_order_relaxed);
        uintptr_t end = atomic_load_explicit(&g->end, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        uint64_t s2 = atomic_load_explicit(&g->seq, memory_order_relaxed);
        if (s1 == s2 && s1 != 0 && (s1 & 1) == 0 && start <= addr &&
            addr < end && s1 / 2 > best)
            best = s1 / 2;
    }
    return best;
}

/* ---- lookup (AS-safe) ---- */

/* Index of the last key <= k, or -1. */
UVM_AS_SAFE static int node_pos(const struct node *nd, uintptr_t k)
{
    int lo = 0, hi = (int)nd->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (nd->key[mid] <= k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

/* The region with the greatest start <= k, or NULL.  Exact because inner
 * keys are exact (.inv.minkey): below the root, node_pos never returns -1. */
UVM_AS_SAFE static struct uvm_region *tree_last_le(const struct node *nd,
                                                   uintptr_t k)
{
    if (nd == NULL)
        return NULL;
    for (;;) {
        int i = node_pos(nd, k);
        if (i < 0)
            return NULL;
        if (nd->leaf)
            return nd->ptr[i];
        nd = nd->ptr[i];
    }
}

UVM_AS_SAFE struct uvm_region *uvm__region_find(const void *root,
                                                uintptr_t addr)
{
    struct uvm_region *r = tree_last_le(root, addr);
    return r != NULL && addr < r->end ? r : NULL;
}

/* The region with the smallest start >= k, or NULL.  Recursion depth is
 * the tree's height; at most two children of a node are ever entered. */
UVM_AS_SAFE static struct uvm_region *tree_first_ge(const struct node *nd,
                                                    uintptr_t k)
{
    if (nd == NULL)
        return NULL;
    int i = node_pos(nd, k);
    if (nd->leaf) {
        if (i >= 0 && nd->key[i] == k)
            return nd->ptr[i];
        return i + 1 < (int)nd->n ? nd->ptr[i + 1] : NULL;
    }
    for (i = i < 0 ? 0 : i; i < (int)nd->n; i++) {
        struct uvm_region *r = tree_first_ge(nd->ptr[i], k);
        if (r != NULL)
            return r;
    }
    return NULL;
}

UVM_AS_SAFE struct uvm_region *uvm__region_next(const void *root,
                                                uintptr_t addr,
                                                uintptr_t limit)
{
    struct uvm_region *r = uvm__region_find(root, addr);
    if (r == NULL)
        r = tree_first_ge(root, addr);
    return r != NULL && r->start < limit ? r : NULL;
}

static void tree_foreach(const struct node *nd, void (*fn)(struct uvm_region *))
{
    for (uint32_t i = 0; nd != NULL && i < nd->n; i++) {
        if (nd->leaf)
            fn(nd->ptr[i]);
        else
            tree_foreach(nd->ptr[i], fn);
    }
}

void uvm__region_foreach(void (*fn)(struct uvm_region *))
{
    tree_foreach(atomic_load(&uvm__region_root), fn);
}

/* ---- path copying (writers, under mu) ---- */

struct edit {
    struct node *fresh[3 * MAX_DEPTH + 2];   /* allocated: freed on abort */
    int nfresh;
    struct node *dead[3 * MAX_DEPTH + 2];    /* replaced: freed at commit */
    int ndead;
};

static struct node *edit_node(struct edit *e, int leaf)
{
    struct node *nd = malloc(sizeof *nd);
    if (nd == NULL)
        return NULL;
    nd->n = 0;
    nd->leaf = (uint32_t)leaf;
    e->fresh[e->nfresh++] = nd;
    return nd;
}

static void edit_abort(struct edit *e)
{
    for (int i = 0; i < e->nfresh; i++)
        free(e->fresh[i]);
}

/* Copy src with (k, p) inserted at pos into one node, or two when it would
 * overflow.  *right is NULL when no split happened. */
static int copy_insert(struct edit *e, const struct node *src, int pos,
                       uintptr_t k, void *p, struct node **left,
                       struct node **right)
{
    uintptr_t keys[FAN + 1];
    void *ptrs[FAN + 1];
    int n = (int)src->n;
    memcpy(keys, src->key, (size_t)pos * sizeof keys[0]);
    memcpy(ptrs, src->ptr, (size_t)pos * sizeof ptrs[0]);
    keys[pos] = k;
    ptrs[pos] = p;
    memcpy(keys + pos + 1, src->key + pos, (size_t)(n - pos) * sizeof keys[0]);
    memcpy(ptrs + pos + 1, src->ptr + pos, (size_t)(n - pos) * sizeof ptrs[0]);
    n++;
    int nl = n <= FAN ? n : n / 2;
    *left = edit_node(e, (int)src->leaf);
    *right = NULL;
    if (*left == NULL)
        return -ENOMEM;
    memcpy((*left)->key, keys, (size_t)nl * sizeof keys[0]);
    memcpy((*left)->ptr, ptrs, (size_t)nl * sizeof ptrs[0]);
    (*left)->n = (uint32_t)nl;
    if (nl == n)
        return 0;
    *right = edit_node(e, (int)src->leaf);
    if (*right == NULL)
        return -ENOMEM;
    memcpy((*right)->key, keys + nl, (size_t)(n - nl) * sizeof keys[0]);
    memcpy((*right)->ptr, ptrs + nl, (size_t)(n - nl) * sizeof ptrs[0]);
    (*right)->n = (uint32_t)(n - nl);
    return 0;
}

/* Copy src with entry pos replaced by child (or removed when child is
 * NULL).  *out is NULL when the copy would be empty. */
static int copy_replace(struct edit *e, const struct node *src, int pos,
                        struct node *child, struct node **out)
{
    *out = NULL;
    if (child == NULL && src->n == 1)
        return 0;
    struct node *nd = edit_node(e, (int)src->leaf);
    if (nd == NULL)
        return -ENOMEM;
    memcpy(nd->key, src->key, src->n * sizeof nd->key[0]);
    memcpy(nd->ptr, src->ptr, src->n * sizeof nd->ptr[0]);
    nd->n = src->n;
    if (child != NULL) {
        nd->key[pos] = child->key[0];
        nd->ptr[pos] = child;
    } else {
        memmove(nd->key + pos, nd->key + pos + 1,
                (nd->n - (uint32_t)pos - 1) * sizeof nd->key[0]);
        memmove(nd->ptr + pos, nd->ptr + pos + 1,
                (nd->n - (uint32_t)pos - 1) * sizeof nd->ptr[0]);
        nd->n--;
    }
    *out = nd;
    return 0;
}

/* Descend towards key k, recording the path; returns the depth (the index of
 * the leaf in path[]). */
static int tree_path(struct node *root, uintptr_t k, struct node **path,
                     int *idx)
{
    int d = 0;
    struct node *nd = root;
    while (!nd->leaf) {
        int i = node_pos(nd, k);
        if (i < 0)
            i = 0;
        path[d] = nd;
        idx[d] = i;
        nd = nd->ptr[i];
        d++;
        UVM_ASSERT(d < MAX_DEPTH);
    }
    path[d] = nd;
    return d;
}

#ifdef UVM_DEBUG
static size_t tree_check(const struct node *nd, uintptr_t lo, int depth)
{
    UVM_ASSERT(nd->n >= 1 && nd->n <= FAN);
    UVM_ASSERT(depth < MAX_DEPTH);
    size_t count = 0;
    for (uint32_t i = 0; i < nd->n; i++) {
        UVM_ASSERT(i == 0 || nd->key[i - 1] < nd->key[i]);   /* .inv.sorted */
        UVM_ASSERT(nd->key[i] >= lo);
        if (nd->leaf) {
            const struct uvm_region *r = nd->ptr[i];
            UVM_ASSERT(r->start == nd->key[i] && r->start < r->end);
            if (i + 1 < nd->n)                               /* .inv.disjoint */
                UVM_ASSERT(r->end <= nd->key[i + 1]);
            count++;
        } else {
            const struct node *c = nd->ptr[i];
            UVM_ASSERT(c->key[0] == nd->key[i]);              /* .inv.minkey */
            count += tree_check(c, nd->key[i], depth + 1);
        }
    }
    return count;
}
/* The whole-tree walk is O(regions): a program with 10^5 regions would
 * spend minutes in it.  Check every edit while the tree is small (one
 * leaf level under the root: at most FAN * FAN regions), then one edit in
 * 256.  edits is debug-only and written under mu. */
static unsigned long edits;
static void tree_check_sampled(const struct node *root)
{
    if (root == NULL)
        return;
    int small = root->leaf || ((const struct node *)root->ptr[0])->leaf;
    if (small || ++edits % 256 == 0)
        (void)tree_check(root, 0, 0);
}
#else
static void tree_check_sampled(const struct node *root) { (void)root; }
#endif

/* Publish a new root, wait out the readers of the old one, free what the
 * edit replaced. */
static void edit_commit(struct edit *e, struct node *root)
{
    tree_check_sampled(root);
    void *old = atomic_exchange(&uvm__region_root, root);
    uvm__hazard_wait(old);
    for (int i = 0; i < e->ndead; i++)
        free(e->dead[i]);
}

static int tree_insert(struct uvm_region *r)
{
    struct edit e = { .nfresh = 0, .ndead = 0 };
    struct node *root = atomic_load(&uvm__region_root);
    struct node *left, *right;
    if (root == NULL) {
        struct node *leaf = edit_node(&e, 1);
        if (leaf == NULL)
            return -ENOMEM;
        leaf->key[0] = r->start;
        leaf->ptr[0] = r;
        leaf->n = 1;
        edit_commit(&e, leaf);
        return 0;
    }
    struct node *path[MAX_DEPTH];
    int idx[MAX_DEPTH];
    int d = tree_path(root, r->start, path, idx);
    int pos = node_pos(path[d], r->start) + 1;
    if (copy_insert(&e, path[d], pos, r->start, r, &left, &right) < 0)
        goto nomem;
    e.dead[e.ndead++] = path[d];
    while (--d >= 0) {
        struct node *nl;
        if (copy_replace(&e, path[d], idx[d], left, &nl) < 0)
            goto nomem;
        left = nl;
        if (right != NULL) {
            struct node *ins = left;
            if (copy_insert(&e, ins, idx[d] + 1, right->key[0], right,
                            &left, &right) < 0)
                goto nomem;
            e.dead[e.ndead++] = ins;   /* a fresh copy, superseded */
        }
        e.dead[e.ndead++] = path[d];
    }
    if (right != NULL) {
        struct node *top = edit_node(&e, 0);
        if (top == NULL)
            goto nomem;
        top->key[0] = left->key[0];
        top->ptr[0] = left;
        top->key[1] = right->key[0];
        top->ptr[1] = right;
        top->n = 2;
        left = top;
    }
    edit_commit(&e, left);
    return 0;
nomem:
    edit_abort(&e);
    return -ENOMEM;
}

static int tree_remove(struct uvm_region *r)
{
    struct edit e = { .nfresh = 0, .ndead = 0 };
    struct node *root = atomic_load(&uvm__region_root);
    struct node *path[MAX_DEPTH];
    int idx[MAX_DEPTH];
    UVM_ASSERT(root != NULL);
    int d = tree_path(root, r->start, path, idx);
    int pos = node_pos(path[d], r->start);
    UVM_ASSERT(pos >= 0 && path[d]->ptr[pos] == r);
    struct node *cur;
    if (copy_replace(&e, path[d], pos, NULL, &cur) < 0)
        goto nomem;
    e.dead[e.ndead++] = path[d];
    while (--d >= 0) {
        struct node *up;
        if (copy_replace(&e, path[d], idx[d], cur, &up) < 0)
            goto nomem;
        e.dead[e.ndead++] = path[d];
        cur = up;
    }
    /* An inner root with one child is a level too many. */
    while (cur != NULL && !cur->leaf && cur->n == 1) {
        struct node *child = cur->ptr[0];
        e.dead[e.ndead++] = cur;          /* fresh, never published */
        cur = child;
    }
    edit_commit(&e, cur);
    return 0;
nomem:
    edit_abort(&e);
    return -ENOMEM;
}

/* The region structures: type-stable (pool.c), under mu. */
static struct uvm__pool pool = UVM__POOL(struct uvm_region, next_free, 1024,
                                         NULL);

/* ---- writers ---- */

void uvm__region_lock(void)   { pthread_mutex_lock(&mu); }
void uvm__region_unlock(void) { pthread_mutex_unlock(&mu); }
void uvm__region_reinit_child(void) { pthread_mutex_unlock(&mu); }

int uvm__region_add(uintptr_t start, uintptr_t end, uvm_handler_fn fn,
                    void *arg, int flags, struct uvm_region **out)
{
    pthread_mutex_lock(&mu);
    /* Regions are disjoint, so only the one starting last before end can
     * overlap [start, end). */
    struct uvm_region *prev = tree_last_le(atomic_load(&uvm__region_root),
                                           end - 1);
    if (prev != NULL && prev->end > start) {
        pthread_mutex_unlock(&mu);
        return -EEXIST;
    }
    struct uvm_region *r = uvm__pool_get(&pool);
    if (r == NULL) {
        pthread_mutex_unlock(&mu);
        return -ENOMEM;
    }
    r->start = start;
    r->end = end;
    r->fn = fn;
    r->arg = arg;
    r->dying = 0;
    r->next_free = NULL;
    r->flags = flags;
    r->handle = uvm__pool_handle(&pool, r);
    atomic_store(&r->uffd_state, UVM__UFFD_UNTRIED);
    r->ur = NULL;
    atomic_store(&r->sig, UVM_SIG_REGION);     /* set last (design/sig) */
    int rc = tree_insert(r);
    if (rc < 0) {
        atomic_store(&r->sig, UVM_SIG_DEAD);
        uvm__pool_put(&pool, r);
    } else {
        UVM_COUNT(regions, 1);
        *out = r;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

int uvm__region_unlink(uvm_region *handle, int (*check)(struct uvm_region *),
                       struct uvm_region **out)
{
    pthread_mutex_lock(&mu);
    int rc = 0;
    struct uvm_region *r = uvm__pool_resolve(&pool, handle);
    *out = r;
    if (r == NULL || atomic_load(&r->sig) != UVM_SIG_REGION || r->dying)
        rc = -EINVAL;
    else if (check != NULL)
        rc = check(r);
    if (rc == 0) {
        gone_note(r->start, r->end);
        rc = tree_remove(r);
        if (rc == 0)
            r->dying = 1;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

void uvm__region_free(struct uvm_region *r)
{
    pthread_mutex_lock(&mu);
    UVM_ASSERT(r->dying);
    atomic_store(&r->sig, UVM_SIG_DEAD);
    uvm__pool_put(&pool, r);
    atomic_fetch_sub_explicit(&uvm__count.regions, 1, memory_order_relaxed);
    pthread_mutex_unlock(&mu);
}
