/*
 * dirty.c: DIRTY, the pages written since the last call.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: tracker handles (a type-stable pool, a signature word, MPS
 * design/sig), the list of live trackers (tracked ranges never overlap),
 * the choice of method, and errno for the uvm_dirty_* entry points.  The
 * methods are dirty-uffd.c and dirty-mprotect.c (dirty-int.h); soft-dirty
 * is only probed.
 *
 * Method choice for UVM_DIRTY_AUTO, fastest first (doc/dirty.md [dirty.order]).
 * userfaultfd is probed once by a real round trip, never from headers;
 * mprotect needs no probe (its failures surface at start):
 *  1. uffd-wp-async: ~1.0 us per dirtied page here (bench/uvm-bench-dirty),
 *     mapping count constant;
 *  2. mprotect: 7-10x that, splits mappings, budgeted (ENOMEM);
 *  3. soft-dirty: never chosen, never probed: clearing the bits means
 *     writing /proc/self/clear_refs, which resets the whole process (every
 *     other user of the bits with it) and cannot be made atomic with the
 *     read; a probe would do the same behind the program's back.  ENOTSUP,
 *     with no side effect.
 *
 * Concurrency: calls on one tracker are serialised by its mutex; calls on
 * different trackers run in parallel.  Lock order: the module's mutex mu,
 * then a tracker's mutex (uvm_dirty_stop, and fork: uvm__dirty_lock takes
 * mu and then the mutex of every live tracker, in list order, so that a
 * child never inherits one held by a thread it does not have; a tracker's
 * mutex is never held across anything that can block for long: a scan or
 * an mprotect of its range).  A handle is validated without
 * dereferencing foreign memory (the pool's chunks are never freed), then
 * re-validated under its mutex, so a tracker stopped concurrently gives
 * EINVAL.
 *
 * Must never: report a page out of ascending order; drop a page it has
 * re-armed (pages collected before an error are returned).
 */
#include "dirty-int.h"
#include "pool.h"
#include "compat.h"
#include "vma.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- the pool and the live list (under mu) ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct uvm_tracker *live;             /* (mu) */

/* fork() (version.c orders the library's locks): mu, then every live
 * tracker's mutex (the order above); released in the parent and in the
 * child alike, by the thread that forked. */
void uvm__dirty_lock(void)
{
    pthread_mutex_lock(&mu);
    for (struct uvm_tracker *t = live; t != NULL; t = t->next)
        pthread_mutex_lock(&t->mu);
}

void uvm__dirty_unlock(void)
{
    for (struct uvm_tracker *t = live; t != NULL; t = t->next)
        pthread_mutex_unlock(&t->mu);
    pthread_mutex_unlock(&mu);
}

void uvm__dirty_atfork_child(void)
{
    for (struct uvm_tracker *t = live; t != NULL; t = t->next)
        if (t->ops == &uvm__dirty_mprotect)
            uvm__dirty_mp_reconcile(t);
}

static void tracker_init(void *t)
{
    pthread_mutex_init(&((struct uvm_tracker *)t)->mu, NULL);
}

/* Tracker handles: type-stable (pool.c), under mu; linked through next,
 * which links the live list too (a tracker is in one list at a time). */
static struct uvm__pool pool = UVM__POOL(struct uvm_tracker, next, 64,
                                         tracker_init);

static int live_overlaps(uintptr_t start, uintptr_t end)
{
    for (const struct uvm_tracker *t = live; t; t = t->next)
        if (t->start < end && start < t->end)
            return 1;
    return 0;
}

/* For uvm_snapshot, whose EEXIST cannot rely on the kernel refusing a
 * second userfaultfd when it write-protects with mprotect. */
int uvm__dirty_overlaps(uintptr_t start, uintptr_t end)
{
    pthread_mutex_lock(&mu);
    int rc = live_overlaps(start, end);
    pthread_mutex_unlock(&mu);
    return rc;
}

static void live_remove(struct uvm_tracker *t)
{
    for (struct uvm_tracker **pp = &live; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            return;
        }
}

/* ---- method choice ---- */

/* Soft-dirty: no method, and no probe.  Using the bits means writing
 * /proc/self/clear_refs, which resets them for the whole process (every
 * other user of them, a CRIU pre-dump say, with it) and cannot be made
 * atomic with reading them; even a probe would do that behind the
 * program's back.  So the value fails with ENOTSUP and touches nothing. */
static int softdirty_start(void)
{
    return -ENOTSUP;
}

static int dirty_start_method(struct uvm_tracker *t, int method)
{
    int rc = -ENOTSUP;
    /* UVM_BACKEND=mprotect forces the fallback everywhere, DIRTY too. */
    if (method == UVM_DIRTY_AUTO &&
        uvm__env_backend() == UVM__BACKEND_MPROTECT)
        method = UVM_DIRTY_MPROTECT;
    if (method == UVM_DIRTY_AUTO || method == UVM_DIRTY_UFFD) {
        rc = uvm__dirty_uffd_probe();
        t->ops = &uvm__dirty_uffd;
        if (rc == 0)
            rc = t->ops->start(t);
        if (rc != -ENOTSUP || method == UVM_DIRTY_UFFD)
            return rc;
    }
    if (method == UVM_DIRTY_AUTO || method == UVM_DIRTY_MPROTECT) {
        t->ops = &uvm__dirty_mprotect;
        rc = t->ops->start(t);
        if (rc != -ENOTSUP || method == UVM_DIRTY_MPROTECT)
            return rc;
    }
    if (method == UVM_DIRTY_SOFTDIRTY)
        return softdirty_start();
    return rc;
}

/* Arm tracker t over [start, end) with method and list it (mu held, the
 * range free of other trackers): 0 or the method's error. */
static int tracker_arm(struct uvm_tracker *t, uintptr_t start, uintptr_t end,
                       int method)
{
    t->start = start;
    t->end = end;
    t->npages = (end - start) / uvm__page_size;
    t->pid = getpid();
    memset(&t->u, 0, sizeof t->u);
    int rc = dirty_start_method(t, method);
    if (rc == 0) {
        atomic_store(&t->sig, UVM_SIG_TRACKER);   /* set last */
        t->next = live;
        live = t;
    }
    return rc;
}

/* Is [start, end) mapped throughout? */
static int dirty_mapped(uintptr_t start, uintptr_t end)
{
    for (uintptr_t cur = start; cur < end;) {
        struct uvm__vma v;
        int rc = uvm__vma_query(cur, &v);
        if (rc < 0)
            return rc;
        cur = v.end;
    }
    return 0;
}

/* ---- the public interface ---- */

uvm_tracker *uvm_dirty_start(void *addr, size_t len, int method)
{
    uintptr_t start = (uintptr_t)addr, end = start + len;
    int rc = 0;
    if (!uvm__aligned(addr) || len == 0 || (len & uvm__page_mask) != 0 ||
        end <= start || method < UVM_DIRTY_AUTO ||
        method > UVM_DIRTY_SOFTDIRTY)
        rc = -EINVAL;
    if (rc == 0)
        rc = dirty_mapped(start, end);
    if (rc < 0) {
        uvm__fail(rc);
        return NULL;
    }
    /* The mutex is held while the method arms the range so that two
     * overlapping starts cannot both succeed. */
    pthread_mutex_lock(&mu);
    struct uvm_tracker *t = NULL;
    uvm_tracker *handle = NULL;     /* pool.h, .handle */
    if (live_overlaps(start, end))
        rc = -EEXIST;
    else if ((t = uvm__pool_get(&pool)) == NULL)
        rc = -ENOMEM;
    if (rc == 0) {
        rc = tracker_arm(t, start, end, method);
        if (rc == 0)
            handle = uvm__pool_handle(&pool, t);
        else
            uvm__pool_put(&pool, t);
    }
    pthread_mutex_unlock(&mu);
    if (rc < 0) {
        uvm__fail(rc);
        return NULL;
    }
    return handle;
}

int uvm__dirty_attach(struct uvm_tracker *t, uintptr_t start, uintptr_t end)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_lock(&mu);
    int rc = live_overlaps(start, end)
                 ? -EEXIST : tracker_arm(t, start, end, UVM_DIRTY_AUTO);
    pthread_mutex_unlock(&mu);
    if (rc < 0)
        pthread_mutex_destroy(&t->mu);
    return rc;
}

void uvm__dirty_detach(struct uvm_tracker *t)
{
    pthread_mutex_lock(&mu);
    atomic_store(&t->sig, UVM_SIG_DEAD);
    live_remove(t);
    t->ops->stop(t);
    pthread_mutex_unlock(&mu);
    pthread_mutex_destroy(&t->mu);
}

/* Resolve the handle *tp (pool.h) and lock its tracker if live: *tp is
 * then the tracker; 0, or -EINVAL.  Resolved again under the tracker's
 * lock: a release and reuse of the slot in between changes its serial. */
static int tracker_lock(uvm_tracker **tp)
{
    struct uvm_tracker *t = uvm__pool_resolve(&pool, *tp);
    if (t == NULL || atomic_load(&t->sig) != UVM_SIG_TRACKER)
        return -EINVAL;
    pthread_mutex_lock(&t->mu);
    if (atomic_load(&t->sig) != UVM_SIG_TRACKER ||
        uvm__pool_resolve(&pool, *tp) != t) {
        pthread_mutex_unlock(&t->mu);
        return -EINVAL;
    }
    *tp = t;
    return 0;
}

static ssize_t dirty_collect(uvm_tracker *t, struct uvm__dirty_sink *s)
{
    int rc = tracker_lock(&t);
    if (rc < 0)
        return uvm__fail(rc);
    rc = t->ops->collect(t, s);
    pthread_mutex_unlock(&t->mu);
    /* Pages collected before an error were re-armed: return them; the
     * error, if it persists, comes back with the next call. */
    if (rc < 0 && s->n == 0)
        return uvm__fail(rc);
    return (ssize_t)s->n;
}

ssize_t uvm_dirty(uvm_tracker *t, void **pages, size_t max)
{
    if (pages == NULL && max > 0)
        return uvm__fail(-EINVAL);
    struct uvm__dirty_sink s = { pages, NULL, max, 0 };
    return dirty_collect(t, &s);
}

ssize_t uvm_dirty_runs(uvm_tracker *t, struct uvm_run *runs, size_t max)
{
    if (runs == NULL && max > 0)
        return uvm__fail(-EINVAL);
    struct uvm_run dummy;
    struct uvm__dirty_sink s = { NULL, runs ? runs : &dummy, max, 0 };
    return dirty_collect(t, &s);
}

int uvm_dirty_stop(uvm_tracker *t)
{
    pthread_mutex_lock(&mu);
    int rc = tracker_lock(&t);
    if (rc < 0) {
        pthread_mutex_unlock(&mu);
        return uvm__fail(rc);
    }
    atomic_store(&t->sig, UVM_SIG_DEAD);
    live_remove(t);
    t->ops->stop(t);
    pthread_mutex_unlock(&t->mu);
    uvm__pool_put(&pool, t);
    pthread_mutex_unlock(&mu);
    return 0;
}

const char *uvm_dirty_method(const uvm_tracker *h)
{
    uvm_tracker *t = uvm__pool_resolve(&pool, h);
    if (t == NULL || atomic_load(&t->sig) != UVM_SIG_TRACKER) {
        uvm__fail(-EINVAL);
        return NULL;
    }
    return t->ops->name;
}
