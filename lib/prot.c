/*
 * prot.c: PROT1, PROTN, UNPROT: every protection change libuvm makes.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: validation, batching and atomicity of protection changes (MPS's
 * "shield": one place for them).  uvm_protv sorts the pages, drops
 * duplicates and coalesces adjacent pages into runs, one kernel call per
 * run (Appel & Li's PROTN batching).  The kernel call itself is a
 * backend's (prot-backend.h): each change is offered to prot-uffd.c, which
 * takes the write-only changes of trap regions it can make with
 * mprotect's result, and otherwise made by prot-mprotect.c.
 *
 * uvm__prot_change is the library's one internal entry point: snapshots
 * and DIRTY's mprotect method change protections through it, so the
 * backends' state is never bypassed.
 *
 * All or nothing: mprotect over several mappings can fail part-way (at
 * vm.max_map_count, or at a hole) after changing the first ones.  Before a
 * change that could, the protection of every mapping it covers is read
 * (vma.c), and on failure restored.  A single page lies in one mapping and
 * the kernel changes it whole or not at all, so PROT1 and UNPROT skip the
 * lookup: they stay one system call, as the benchmark requires.
 *
 * Must never: allocate with malloc (these functions are AS-safe; scratch
 * memory beyond the stack comes from mmap), or leave a change half-done
 * without reporting it.  Not serialised against other threads changing the
 * same pages: the last change wins, as with mprotect.
 */
#include "uvm-int.h"
#include "prot-backend.h"
#include "vma.h"
#include "prot-uffd.h"
#include "region.h"
#include "thread.h"

#define PROT_ALL (PROT_READ | PROT_WRITE | PROT_EXEC)
#define STACK_PAGES 256
#define STACK_SEGS 64

struct run { uintptr_t start, end; };
struct seg { uintptr_t start, end; int prot; };

UVM_AS_SAFE static int prot_valid(int prot)
{
    return (prot & ~PROT_ALL) == 0;
}

/* Read the protections of every mapping [start, end) covers into segs,
 * appending; -ENOMEM if part of it is not mapped. */
UVM_AS_SAFE static int prot_record(uintptr_t start, uintptr_t end,
                                   struct uvm__scratch *segs, size_t *nsegs)
{
    for (uintptr_t cur = start; cur < end;) {
        struct uvm__vma v;
        int rc = uvm__vma_query(cur, &v);
        if (rc < 0)
            return rc;
        rc = uvm__scratch_reserve(segs, (*nsegs + 1) * sizeof(struct seg));
        if (rc < 0)
            return rc;
        struct seg *s = (struct seg *)segs->mem + (*nsegs)++;
        s->start = cur;
        s->end = v.end < end ? v.end : end;
        s->prot = v.prot;
        cur = s->end;
    }
    return 0;
}

UVM_AS_SAFE static void prot_undo(const struct seg *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        uvm__prot_set(s[i].start, s[i].end - s[i].start, s[i].prot);
    UVM_COUNT(prot_rollbacks, 1);
}

/* At vm.max_map_count the kernel may split the mapping at a run's start
 * and then fail to split its end: the undo changes nothing there (same
 * protection), so the split would stay.  Changing the split-off mapping
 * whole (no split needed) and back merges it with its neighbour again.
 * Adding PROT_EXEC takes no access away from a thread using the pages. */
UVM_AS_SAFE static void prot_remerge(uintptr_t at)
{
    struct uvm__vma v, p;
    if (at < uvm__page_size || uvm__vma_query(at, &v) != 0 ||
        v.start != at || (v.prot & PROT_EXEC) ||
        uvm__vma_query(at - uvm__page_size, &p) != 0 || p.end != at ||
        p.prot != v.prot)
        return;
    if (uvm__prot_set(v.start, v.end - v.start, v.prot | PROT_EXEC) == 0)
        uvm__prot_set(v.start, v.end - v.start, v.prot);
}

/* mprotect the sorted, disjoint runs, all or nothing. */
UVM_AS_SAFE static int prot_mprotect(const struct run *runs, size_t nruns,
                                     int prot, int flags)
{
    if (nruns == 1 && (runs[0].end - runs[0].start == uvm__page_size ||
                       (flags & UVM__PROT_PARTIAL)))
        return uvm__prot_set(runs[0].start, runs[0].end - runs[0].start,
                             prot);

    struct seg stackbuf[STACK_SEGS];
    struct uvm__scratch segs;
    uvm__scratch_init(&segs, stackbuf, sizeof stackbuf);
    size_t nsegs = 0;
    int rc = 0;
    for (size_t i = 0; i < nruns && rc == 0; i++)
        rc = prot_record(runs[i].start, runs[i].end, &segs, &nsegs);
    for (size_t i = 0; i < nruns && rc == 0; i++) {
        rc = uvm__prot_set(runs[i].start, runs[i].end - runs[i].start, prot);
        if (rc < 0) {
            /* Undo the runs before i and whatever run i changed. */
            size_t upto = 0;
            const struct seg *s = segs.mem;
            while (upto < nsegs && s[upto].start < runs[i].end)
                upto++;
            prot_undo(s, upto);
            prot_remerge(runs[i].start);
        }
    }
    uvm__scratch_fini(&segs);
    return rc;
}

/* ---- changes in progress (.abandon) ----
 *
 * A change holds a hazard on the region table and, for the outermost
 * change of a thread, a count in the userfaultfd backend's gate; both make
 * uvm_untrap wait.  A signal handler that leaves a change by siglongjmp
 * never gives them back, so each thread lists its changes in progress,
 * outermost first, with the address of their frame, and gives back what
 * an abandoned one held:
 *  - in uvm_untrap (uvm__prot_calls_abandon, called by the thread itself
 *    before it waits for the gate and the hazards): uvm_untrap is not
 *    async-signal-safe, so it never runs inside a change of its own
 *    thread, and every change the thread lists then was abandoned;
 *  - at the thread's next change: a listed change whose frame is not above
 *    the new one on the same stack (stacks grow down; a change interrupted
 *    by a signal handler lies strictly above the handler's frames) was
 *    left.  A frame on the alternate signal stack was left when the thread
 *    no longer runs there.  Where the rule cannot tell (the new change on
 *    the alternate stack and the old not, or the alternate stack disarmed
 *    while in use), the change is kept as live; so it is when the thread
 *    went deeper than the abandoned frame before changing again.
 * What is not given back in the meantime makes another thread's
 * uvm_untrap wait until then.  The gate is exact (the thread's slot is
 * cleared whenever it has no change listed).  A hazard is recorded the
 * moment uvm__hazard_acquire returns: a siglongjmp in the few
 * instructions between its store and that return leaks it, and only the
 * thread's own uvm_untrap finds it again (by its value). */
#define PROT_NEST (UVM__HAZARDS - 1)

struct prot_call {
    uintptr_t frame;     /* __builtin_frame_address of its prot_apply */
    int hz;              /* hazard slot, -1 none (yet) */
};

static __thread struct {
    int n;
    struct prot_call c[PROT_NEST];
} calls __attribute__((tls_model("initial-exec")));

/* Give back what change i held; it is the last listed.  The hazard slot
 * is taken from the record before it is released: a siglongjmp in between
 * leaks it, never releases it twice. */
UVM_AS_SAFE static void call_drop(struct uvm__thread *t, int i)
{
    UVM_ASSERT(i == calls.n - 1);
    struct prot_call *c = &calls.c[i];
    int hz = c->hz;
    c->hz = -1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    uvm__hazard_release(t, hz);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    calls.n = i;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (i == 0)
        uvm__prot_uffd_backend.leave();    /* no change in progress */
}

UVM_AS_SAFE static void call_pop(struct uvm__thread *t)
{
    call_drop(t, calls.n - 1);
}

/* Has the thread, now running a change at frame, left c's frame? */
UVM_AS_SAFE static int call_left(const struct prot_call *c, uintptr_t frame,
                                 const stack_t *alt)
{
    if (alt->ss_flags & SS_DISABLE)
        return 0;              /* no stack or disarmed while in use */
    int now_alt = (alt->ss_flags & SS_ONSTACK) != 0;
    int was_alt = uvm__on_altstack(c->frame, alt);
    if (was_alt != now_alt)
        return was_alt;        /* left the alternate stack, or nested on it */
    return c->frame <= frame;
}

/* Forget the changes of this thread that a siglongjmp left; list a new one
 * at frame.  NULL when too many are in progress. */
UVM_AS_SAFE static struct prot_call *call_push(struct uvm__thread *t,
                                               uintptr_t frame)
{
    if (calls.n > 0) {
        stack_t alt;
        if (sigaltstack(NULL, &alt) != 0)
            alt.ss_flags = SS_DISABLE;
        while (calls.n > 0 && call_left(&calls.c[calls.n - 1], frame, &alt))
            call_drop(t, calls.n - 1);
    }
    if (calls.n == PROT_NEST)
        return NULL;
    struct prot_call *c = &calls.c[calls.n];
    c->frame = frame;
    c->hz = -1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    calls.n++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return c;
}

void uvm__prot_calls_abandon(void)
{
    struct uvm__thread *t = uvm__thread_self();
    if (t == NULL)
        return;
    while (calls.n > 0)
        call_drop(t, calls.n - 1);
    uvm__prot_uffd_backend.leave();
    /* A hazard on the region table this thread holds now was leaked by a
     * siglongjmp (between its store and its record above, or out of the
     * dispatcher's lookup): no lookup of this thread is in progress while
     * it runs uvm_untrap, and uvm_untrap waits for this version. */
    void *root = atomic_load(&uvm__region_root);
    for (int h = 0; h < UVM__HAZARDS && root != NULL; h++)
        if (atomic_load(&t->hazard[h]) == root)
            uvm__hazard_release(t, h);
}

/* Apply prot to the sorted, disjoint runs, all or nothing.  The backend is
 * chosen here (prot-backend.h): a single run inside a trap region is
 * offered to the userfaultfd backend; what it declines goes to mprotect,
 * after which the userfaultfd backend brings its state up to date.  The
 * region table version is protected throughout, so no region (nor its
 * backend state) is freed under us, and the change is bracketed by the
 * backend's gate, so uvm_untrap never converts a region in its middle. */
UVM_AS_SAFE static int prot_apply(const struct run *runs, size_t nruns,
                                  int prot, int flags)
{
    const struct uvm__prot_backend *uffd = &uvm__prot_uffd_backend;
    struct uvm__thread *t = uvm__thread_self();
    if (t == NULL)
        return -ENOMEM;
    struct prot_call *c = call_push(t, (uintptr_t)__builtin_frame_address(0));
    if (c == NULL)
        return -ENOMEM;
    int rc;
    void *root = uvm__hazard_acquire(t, &uvm__region_root, &c->hz);
    if (c->hz < 0) {
        call_pop(t);
        return -ENOMEM;
    }
    /* Counted in the gate once per thread: a change nested in a change of
     * this thread (from a signal handler) could not wait for a writer the
     * outer one holds back. */
    if (c == &calls.c[0])
        uffd->enter();
    struct uvm_region *r = root != NULL && nruns == 1
                               ? uvm__region_find(root, runs[0].start)
                               : NULL;
    if (!uffd->set(r, runs[0].start, runs[0].end, prot, &rc)) {
        rc = prot_mprotect(runs, nruns, prot, flags);
        for (size_t i = 0; i < nruns && rc == 0 && root != NULL; i++)
            uffd->after_change(root, runs[i].start, runs[i].end, prot);
    }
    call_pop(t);
    return rc;
}

UVM_AS_SAFE int uvm__prot_change(uintptr_t start, size_t npages, int prot,
                                 int flags)
{
    if ((start & uvm__page_mask) != 0 || npages == 0 || !prot_valid(prot) ||
        npages > (UINTPTR_MAX - start) / uvm__page_size)
        return -EINVAL;
    struct run r = { start, start + npages * uvm__page_size };
    return prot_apply(&r, 1, prot, flags);
}

int uvm_debug_audit(void)
{
    int rc = uvm__prot_uffd_audit();
    if (rc > 0)
        return uvm__fail(-EIO);
    return rc < 0 ? uvm__fail(rc) : 0;
}

UVM_AS_SAFE int uvm_prot1(void *page, int prot)
{
    if (!uvm__aligned(page) || !prot_valid(prot))
        return uvm__fail(-EINVAL);
    struct run r = { (uintptr_t)page, (uintptr_t)page + uvm__page_size };
    int rc = prot_apply(&r, 1, prot, 0);
    return rc < 0 ? uvm__fail(rc) : 0;
}

UVM_AS_SAFE int uvm_unprot(void *page, int prot)
{
    return uvm_prot1(page, prot);
}

UVM_AS_SAFE int uvm_protn(void *addr, size_t npages, int prot)
{
    int rc = uvm__prot_change((uintptr_t)addr, npages, prot, 0);
    return rc < 0 ? uvm__fail(rc) : 0;
}

/* ---- uvm_protv: sort, deduplicate, coalesce ---- */

UVM_AS_SAFE static void sift_down(uintptr_t *a, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && a[c + 1] > a[c])
            c++;
        if (a[i] >= a[c])
            return;
        uintptr_t t = a[i];
        a[i] = a[c];
        a[c] = t;
        i = c;
    }
}

/* Heapsort: in place, no recursion, no allocation, O(n log n). */
UVM_AS_SAFE static void sort_addrs(uintptr_t *a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (size_t end = n; end-- > 1;) {
        uintptr_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

/* Turn sorted page addresses into runs of adjacent pages, dropping
 * duplicates.  Returns the number of runs. */
UVM_AS_SAFE static size_t coalesce(const uintptr_t *a, size_t n,
                                   struct run *runs)
{
    size_t nr = 0;
    for (size_t i = 0; i < n; i++) {
        if (nr > 0 && a[i] < runs[nr - 1].end)
            continue;                                  /* duplicate */
        if (nr > 0 && a[i] == runs[nr - 1].end)
            runs[nr - 1].end += uvm__page_size;        /* adjacent */
        else
            runs[nr++] = (struct run){ a[i], a[i] + uvm__page_size };
    }
    return nr;
}

UVM_AS_SAFE int uvm_protv(void *const pages[], size_t n, int prot)
{
    if (pages == NULL || n == 0 || !prot_valid(prot))
        return uvm__fail(-EINVAL);
    for (size_t i = 0; i < n; i++)
        if (!uvm__aligned(pages[i]) ||
            (uintptr_t)pages[i] > UINTPTR_MAX - uvm__page_size)
            return uvm__fail(-EINVAL);

    uintptr_t stackbuf[STACK_PAGES];
    struct run stackruns[STACK_PAGES / 2];
    struct uvm__scratch addrs, runs;
    uvm__scratch_init(&addrs, stackbuf, sizeof stackbuf);
    uvm__scratch_init(&runs, stackruns, sizeof stackruns);
    int rc = uvm__scratch_reserve(&addrs, n * sizeof(uintptr_t));
    if (rc == 0)
        rc = uvm__scratch_reserve(&runs, n * sizeof(struct run));
    if (rc == 0) {
        uintptr_t *a = addrs.mem;
        int sorted = 1;
        for (size_t i = 0; i < n; i++) {
            a[i] = (uintptr_t)pages[i];
            if (i > 0 && a[i] < a[i - 1])
                sorted = 0;
        }
        if (!sorted)
            sort_addrs(a, n);
        size_t nr = coalesce(a, n, runs.mem);
        rc = prot_apply(runs.mem, nr, prot, 0);
    }
    uvm__scratch_fini(&addrs);
    uvm__scratch_fini(&runs);
    return rc < 0 ? uvm__fail(rc) : 0;
}
