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
 * Method choice for UVM_DIRTY_AUTO, fastest first (dirty-tracking.md 8).
 * userfaultfd is probed once by a real round trip, never from headers;
 * mprotect needs no probe (its failures surface at start):
 *  1. uffd-wp-async: ~1.0 us per dirtied page here (bench/uvm-bench-dirty),
 *     mapping count constant;
 *  2. mprotect: 7-10x that, splits mappings, budgeted (ENOMEM);
 *  3. soft-dirty: never chosen.  The probe (a write must set pagemap bit
 *     55 after clear_refs "4" cleared it) fails where CONFIG_MEM_SOFT_DIRTY
 *     is off; where it passes there is still no method behind it, because
 *     clear_refs resets the whole process (every other tracker with it)
 *     and cannot be made atomic with the read.  Either way ENOTSUP.
 *
 * Concurrency: calls on one tracker are serialised by its mutex; calls on
 * different trackers run in parallel.  A handle is validated without
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

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- the pool and the live list (under mu) ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct uvm_tracker *live;             /* (mu) */

/* fork() (version.c orders the library's locks). */
void uvm__dirty_lock(void) { pthread_mutex_lock(&mu); }
void uvm__dirty_unlock(void) { pthread_mutex_unlock(&mu); }

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

/* Soft-dirty round trip: a written page must be soft-dirty, clean after
 * clear_refs "4", and soft-dirty again after a write.  Cached. */
static int softdirty_works;
static int softdirty_entry(int pm, const volatile char *p, uint64_t *e)
{
    off_t off = (off_t)((uintptr_t)p / uvm__page_size * sizeof *e);
    return pread(pm, e, sizeof *e, off) == (ssize_t)sizeof *e;
}

static void softdirty_probe_once(void)
{
    volatile char *p = mmap(NULL, uvm__page_size, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    int cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    uint64_t e1 = 0, e2 = ~0ULL, e3 = 0;
    p[0] = 1;
    if (pm >= 0 && cr >= 0 && softdirty_entry(pm, p, &e1) &&
        write(cr, "4", 1) == 1 && softdirty_entry(pm, p, &e2)) {
        p[0] = 2;
        softdirty_entry(pm, p, &e3);
        softdirty_works = (e1 & UVM_PAGEMAP_SOFT_DIRTY) &&
                          !(e2 & UVM_PAGEMAP_SOFT_DIRTY) &&
                          (e3 & UVM_PAGEMAP_SOFT_DIRTY);
    }
    if (pm >= 0)
        close(pm);
    if (cr >= 0)
        close(cr);
    munmap((void *)p, uvm__page_size);
}

static int softdirty_probe(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, softdirty_probe_once);
    (void)softdirty_works;     /* no method behind a passing probe (above) */
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
        return softdirty_probe();
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
        t->start = start;
        t->end = end;
        t->npages = len / uvm__page_size;
        t->pid = getpid();
        memset(&t->u, 0, sizeof t->u);
        rc = dirty_start_method(t, method);
        if (rc == 0) {
            atomic_store(&t->sig, UVM_SIG_TRACKER);   /* set last */
            t->next = live;
            live = t;
            handle = uvm__pool_handle(&pool, t);
        } else {
            uvm__pool_put(&pool, t);
        }
    }
    pthread_mutex_unlock(&mu);
    if (rc < 0) {
        uvm__fail(rc);
        return NULL;
    }
    return handle;
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
