/*
 * memobj.c: memory objects (memfds) and the registry of their views.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: every memory object libuvm creates, and the view registry, a
 * sorted array of views published copy-on-write: a writer builds a new
 * array under the registry mutex, publishes it with one atomic store,
 * waits until no reader still holds the old one (hazard pointers,
 * thread.c) and frees it.  A lookup is a binary search under a hazard:
 * no lock, no allocation, so fault handlers may use it.  Updates cost
 * O(views); MAP2 views are few and long-lived, lookups are many.
 *
 * An object is a memfd created close-on-exec and sealed against
 * shrinking and growing (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), so
 * nobody can truncate pages out from under a view (a SIGBUS for every
 * view).  Each view is a MAP_SHARED mapping of a window of it; the kernel
 * keeps the pages while any mapping exists, and the registry keeps the
 * descriptor while any view exists, for further uvm_map2 calls.  The
 * object goes away with its last view (4.4BSD's vm_object reference
 * count, counted in registry entries).
 *
 * Must never: allocate or lock on the lookup path; unmap memory that is
 * not a registered view (uvm_free of foreign memory is EINVAL, not a
 * munmap); publish an array that is not sorted and disjoint.
 *
 * Invariants (checked by vtab_check in debug builds):
 *  .inv.sorted    views are sorted by start and pairwise disjoint;
 *  .inv.inside    off + (end - start) <= obj->size for every view;
 *  .inv.count     obj->nviews is the number of views that refer to obj.
 *
 * Limits: views unmapped behind the library's back (munmap, mremap,
 * MAP_FIXED over them) are not noticed; the registry then describes
 * memory that is no longer there until uvm_free is called on it.  Pages of
 * an object that no view maps any more are kept until the object dies.
 */
#include "memobj.h"
#include "thread.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct vtab {
    size_t n;
    struct uvm__view v[];
};

static _Atomic(void *) vroot;     /* (a) struct vtab *, written under mu */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* Windows of objects that a snapshot chain protects through one view
 * (uvm__memobj_pin): a write through any other view would change the
 * snapshot's pages behind that protection, so while a window is pinned it
 * has no other writable view, and a writable uvm_map2 of it is EBUSY.
 * (A read-only view made writable by mprotect(2) is not seen.)  (mu) */
struct pin {
    const struct uvm__memobj *obj;
    size_t off, len;
    const void *owner;
};
static struct pin *pins;          /* (mu) */
static size_t npins, cappins;     /* (mu) */

/* fork() (version.c orders the library's locks). */
void uvm__memobj_lock(void) { pthread_mutex_lock(&mu); }

/* After fork(), in both processes: every object mapped now has a mapping
 * in the other process too (.pin). */
void uvm__memobj_unlock(void)
{
    const struct vtab *t = atomic_load(&vroot);
    for (size_t i = 0; t != NULL && i < t->n; i++)
        t->v[i].obj->forked = 1;
    pthread_mutex_unlock(&mu);
}

/* ---- lookup (AS-safe) ---- */

/* Index of the last view with start <= addr, or -1. */
UVM_AS_SAFE static long vtab_pos(const struct vtab *t, uintptr_t addr)
{
    size_t lo = 0, hi = t != NULL ? t->n : 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->v[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

/* The current array, under a hazard of the calling thread's (*th, *hz;
 * *hz < 0: none could be had, and the caller answers as it can). */
UVM_AS_SAFE static const struct vtab *vtab_enter(struct uvm__thread **th,
                                                 int *hz)
{
    *hz = -1;
    *th = uvm__thread_self();
    return *th != NULL ? uvm__hazard_acquire(*th, &vroot, hz) : NULL;
}

UVM_AS_SAFE int uvm__memobj_lookup(uintptr_t addr, struct uvm__view *out)
{
    struct uvm__thread *th;
    int hz;
    const struct vtab *t = vtab_enter(&th, &hz);
    if (hz < 0)
        return -ENOMEM;
    int rc = -ENOENT;
    long i = vtab_pos(t, addr);
    if (i >= 0 && addr < t->v[i].end) {
        *out = t->v[i];
        rc = 0;
    }
    uvm__hazard_release(th, hz);
    return rc;
}

UVM_AS_SAFE int uvm__memobj_classify(uintptr_t start, uintptr_t end)
{
    struct uvm__thread *th;
    int hz;
    const struct vtab *t = vtab_enter(&th, &hz);
    if (hz < 0)
        return -ENOMEM;
    long i = vtab_pos(t, start);
    int rc;
    if (i >= 0 && start < t->v[i].end)          /* starts in a view */
        rc = end <= t->v[i].end ? 1 : -EINVAL;
    else                                        /* the next view */
        rc = (size_t)(i + 1) < (t != NULL ? t->n : 0) &&
             t->v[i + 1].start < end ? -EINVAL : 0;
    uvm__hazard_release(th, hz);
    return rc;
}

UVM_AS_SAFE int uvm__memobj_sealed_file(uintptr_t addr, uint32_t dev_major,
                                        uint32_t dev_minor, uint64_t ino,
                                        uint64_t off, uint64_t len)
{
    if (ino == 0)
        return 0;
    struct uvm__thread *th;
    int hz;
    const struct vtab *t = vtab_enter(&th, &hz);
    if (hz < 0)
        return 0;
    int ok = 0;
    long i = vtab_pos(t, addr);
    if (i >= 0 && addr < t->v[i].end) {
        /* The object outlives every array that lists it (free waits out
         * the hazards before destroying it). */
        const struct uvm__memobj *o = t->v[i].obj;
        ok = o->ino == ino && o->dev_major == dev_major &&
             o->dev_minor == dev_minor && off <= o->size &&
             len <= o->size - off;
    }
    uvm__hazard_release(th, hz);
    return ok;
}

/* ---- writers (under mu) ---- */

#ifdef UVM_DEBUG
static void vtab_check(const struct vtab *t)
{
    for (size_t i = 0; t != NULL && i < t->n; i++) {
        const struct uvm__view *v = &t->v[i];
        UVM_ASSERT(v->start < v->end);                          /* .inv.sorted */
        UVM_ASSERT(i == 0 || t->v[i - 1].end <= v->start);
        UVM_ASSERT(v->off + (v->end - v->start) <= v->obj->size); /* .inv.inside */
        UVM_ASSERT(v->obj->nviews > 0);
    }
}
#else
#define vtab_check(t) ((void)0)
#endif

static struct vtab *vtab_new(size_t n)
{
    struct vtab *t = malloc(sizeof *t + n * sizeof t->v[0]);
    if (t != NULL)
        t->n = 0;
    return t;
}

/* Publish t (NULL when empty), wait out the readers of the old array. */
static void vtab_commit(struct vtab *t)
{
    if (t != NULL && t->n == 0) {
        free(t);
        t = NULL;
    }
    vtab_check(t);
    void *old = atomic_exchange(&vroot, t);
    uvm__hazard_wait(old);
    free(old);
}

/* Insert v into a copy of the current array. */
static int vtab_insert(const struct uvm__view *v)
{
    const struct vtab *cur = atomic_load(&vroot);
    size_t n = cur != NULL ? cur->n : 0;
    struct vtab *t = vtab_new(n + 1);
    if (t == NULL)
        return -ENOMEM;
    size_t pos = (size_t)(vtab_pos(cur, v->start) + 1);
    if (pos > 0)
        memcpy(t->v, cur->v, pos * sizeof t->v[0]);
    t->v[pos] = *v;
    if (n > pos)
        memcpy(t->v + pos + 1, cur->v + pos, (n - pos) * sizeof t->v[0]);
    t->n = n + 1;
    v->obj->nviews++;
    vtab_commit(t);
    return 0;
}

/* Does [a, b) lie entirely in views?  *first is the index of the view
 * containing a.  With same_obj, the views must also map one object at
 * consecutive offsets (so that one mmap can map the range again). */
static int vtab_covers(const struct vtab *t, uintptr_t a, uintptr_t b,
                       int same_obj, size_t *first)
{
    long i = vtab_pos(t, a);
    if (i < 0 || a >= t->v[i].end)
        return 0;
    *first = (size_t)i;
    for (size_t j = (size_t)i;; j++) {
        const struct uvm__view *v = &t->v[j];
        if (b <= v->end)
            return 1;
        if (j + 1 >= t->n || t->v[j + 1].start != v->end)
            return 0;
        const struct uvm__view *w = &t->v[j + 1];
        if (same_obj &&
            (w->obj != v->obj || w->off != v->off + (v->end - v->start)))
            return 0;
    }
}

/* Do windows [a, a + alen) and [b, b + blen) of an object meet? */
static int window_meets(size_t a, size_t alen, size_t b, size_t blen)
{
    return a < b + blen && b < a + alen;
}

/* Is any of [off, off + len) of o pinned?  (mu) */
static int pinned(const struct uvm__memobj *o, size_t off, size_t len)
{
    for (size_t k = 0; k < npins; k++)
        if (pins[k].obj == o && window_meets(pins[k].off, pins[k].len,
                                             off, len))
            return 1;
    return 0;
}

/* Drop the pins that match obj (if not NULL) or owner.  (mu) */
static void pins_drop(const struct uvm__memobj *obj, const void *owner)
{
    size_t w = 0;
    for (size_t k = 0; k < npins; k++)
        if (!(obj != NULL ? pins[k].obj == obj : pins[k].owner == owner))
            pins[w++] = pins[k];
    npins = w;
}

static void memobj_destroy(struct uvm__memobj *o)
{
    pins_drop(o, NULL);       /* an address a new object may reuse */
    close(o->fd);
    free(o);
}

int uvm__memobj_pin(uintptr_t start, uintptr_t end, const void *owner)
{
    pthread_mutex_lock(&mu);
    const struct vtab *t = atomic_load(&vroot);
    long i = vtab_pos(t, start);
    int rc = 0;
    if (i < 0 || end > t->v[i].end) {
        rc = -ENOENT;
        goto out;
    }
    const struct uvm__view *v = &t->v[i];
    size_t off = v->off + (start - v->start), len = end - start;
    if (v->obj->forked) {
        rc = -EBUSY;                  /* a child's (or parent's) mapping */
        goto out;
    }
    for (size_t j = 0; j < t->n; j++)
        if (j != (size_t)i && t->v[j].obj == v->obj &&
            (t->v[j].prot & PROT_WRITE) &&
            window_meets(t->v[j].off, t->v[j].end - t->v[j].start,
                         off, len)) {
            rc = -EBUSY;              /* another way to write them */
            goto out;
        }
    if (npins == cappins) {
        size_t cap = cappins ? 2 * cappins : 8;
        struct pin *np = realloc(pins, cap * sizeof *np);
        if (np == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        pins = np;
        cappins = cap;
    }
    pins[npins++] = (struct pin){ v->obj, off, len, owner };
out:
    pthread_mutex_unlock(&mu);
    return rc;
}

void uvm__memobj_unpin(const void *owner)
{
    pthread_mutex_lock(&mu);
    pins_drop(NULL, owner);
    pthread_mutex_unlock(&mu);
}

int uvm__memobj_alloc(size_t len, int prot, void **out)
{
    struct uvm__memobj *o = malloc(sizeof *o);
    if (o == NULL)
        return -ENOMEM;
    o->size = len;
    o->nviews = 0;
    o->forked = 0;
    o->fd = memfd_create("uvm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    int rc = o->fd < 0 ? -errno : 0;
    /* Growing a file past RLIMIT_FSIZE raises SIGXFSZ, which kills by
     * default: refuse first, never crash. */
    struct rlimit fsz;
    if (rc == 0 && getrlimit(RLIMIT_FSIZE, &fsz) == 0 &&
        fsz.rlim_cur != RLIM_INFINITY && (rlim_t)len > fsz.rlim_cur)
        rc = -ENOMEM;
    if (rc == 0 && ftruncate(o->fd, (off_t)len) != 0)
        rc = -errno;
    if (rc == 0 && fcntl(o->fd, F_ADD_SEALS,
                         F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        rc = -errno;
    struct stat st;
    if (rc == 0 && fstat(o->fd, &st) != 0)
        rc = -errno;
    if (rc == 0) {
        o->dev_major = major(st.st_dev);
        o->dev_minor = minor(st.st_dev);
        o->ino = st.st_ino;
    }
    void *p = MAP_FAILED;
    if (rc == 0) {
        p = mmap(NULL, len, prot, MAP_SHARED, o->fd, 0);
        if (p == MAP_FAILED)
            rc = -errno;
    }
    if (rc == 0) {
        struct uvm__view v = { (uintptr_t)p, (uintptr_t)p + len, o, 0, prot };
        pthread_mutex_lock(&mu);
        rc = vtab_insert(&v);
        pthread_mutex_unlock(&mu);
    }
    if (rc < 0) {
        if (p != MAP_FAILED)
            munmap(p, len);
        if (o->fd >= 0)
            close(o->fd);
        free(o);
        return rc == -EFBIG ? -ENOMEM : rc;
    }
    *out = p;
    return 0;
}

int uvm__memobj_map2(uintptr_t addr, size_t len, int prot, void **out)
{
    pthread_mutex_lock(&mu);
    const struct vtab *t = atomic_load(&vroot);
    size_t i;
    int rc = 0;
    if (!vtab_covers(t, addr, addr + len, 1, &i)) {
        rc = -EINVAL;
    } else {
        const struct uvm__view *v = &t->v[i];
        struct uvm__view nv = { 0, 0, v->obj, v->off + (addr - v->start),
                                prot };
        void *p = MAP_FAILED;
        if ((prot & PROT_WRITE) && pinned(nv.obj, nv.off, len))
            rc = -EBUSY;                  /* a snapshot protects them */
        else if ((p = mmap(NULL, len, prot, MAP_SHARED, nv.obj->fd,
                           (off_t)nv.off)) == MAP_FAILED)
            rc = -errno;
        if (rc == 0) {
            nv.start = (uintptr_t)p;
            nv.end = nv.start + len;
            rc = vtab_insert(&nv);
            if (rc < 0)
                munmap(p, len);
            else
                *out = p;
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

/* The views of t with [a, b) cut out (views first.. are the ones that
 * intersect it), into a new array.  Counts are not touched. */
static struct vtab *vtab_cut(const struct vtab *t, size_t first, uintptr_t a,
                             uintptr_t b, size_t *last)
{
    struct vtab *nt = vtab_new(t->n + 1);
    if (nt == NULL)
        return NULL;
    memcpy(nt->v, t->v, first * sizeof t->v[0]);
    nt->n = first;
    size_t j;
    for (j = first; j < t->n && t->v[j].start < b; j++) {
        const struct uvm__view *v = &t->v[j];
        if (v->start < a) {
            nt->v[nt->n] = *v;
            nt->v[nt->n++].end = a;
        }
        if (v->end > b) {
            struct uvm__view right = *v;
            right.off += b - v->start;
            right.start = b;
            nt->v[nt->n++] = right;
        }
    }
    memcpy(nt->v + nt->n, t->v + j, (t->n - j) * sizeof t->v[0]);
    nt->n += t->n - j;
    *last = j;
    return nt;
}

/* Apply the cut to the objects' view counts (.inv.count); store each
 * object whose count reached zero once in dead[]. */
static size_t vtab_recount(const struct vtab *t, size_t first, size_t last,
                           uintptr_t a, uintptr_t b, struct uvm__memobj **dead)
{
    size_t ndead = 0;
    for (size_t k = first; k < last; k++) {
        const struct uvm__view *v = &t->v[k];
        v->obj->nviews += (size_t)(v->start < a) + (size_t)(v->end > b);
        v->obj->nviews--;
    }
    for (size_t k = first; k < last; k++) {
        struct uvm__memobj *o = t->v[k].obj;
        int seen = 0;
        for (size_t d = 0; d < ndead; d++)
            seen |= dead[d] == o;
        if (o->nviews == 0 && !seen)
            dead[ndead++] = o;
    }
    return ndead;
}

int uvm__memobj_free(uintptr_t addr, size_t len)
{
    uintptr_t b = addr + len;
    pthread_mutex_lock(&mu);
    const struct vtab *t = atomic_load(&vroot);
    size_t first, last = 0;
    int rc = 0;
    struct vtab *nt = NULL;
    struct uvm__memobj **dead = NULL;
    if (!vtab_covers(t, addr, b, 0, &first)) {
        rc = -EINVAL;
        goto out;
    }
    /* Allocate everything before unmapping: after munmap nothing may
     * fail. */
    nt = vtab_cut(t, first, addr, b, &last);
    dead = malloc((last - first) * sizeof *dead);
    if (nt == NULL || dead == NULL) {
        free(nt);
        rc = -ENOMEM;
        goto out;
    }
    if (munmap((void *)addr, len) != 0) {
        rc = -errno;        /* not expected for an aligned range of views */
        free(nt);
        goto out;
    }
    size_t ndead = vtab_recount(t, first, last, addr, b, dead);
    vtab_commit(nt);
    for (size_t d = 0; d < ndead; d++)
        memobj_destroy(dead[d]);
out:
    pthread_mutex_unlock(&mu);
    free(dead);
    return rc;
}
