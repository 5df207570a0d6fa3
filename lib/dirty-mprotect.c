/*
 * dirty-mprotect.c: the DIRTY method "mprotect": Appel & Li's
 * TRAP + PROT1 + UNPROT, with the dispatcher recording first writes.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: a trap region over the tracked range and a bitmap with one bit
 * per page written.  The range is made read-only; the first write to a page faults,
 * the handler makes that page writable again and then sets its bit
 * (bdwgc's MPROTECT_VDB order: unprotect, then mark, so that a collection
 * between the two finds the page writable and unmarked and leaves it so;
 * the mark lands afterwards and is reported next time).  uvm_dirty takes
 * the bits (atomically, only those it can report) and then makes the
 * whole range read-only again with one call, which also merges the
 * mappings the faults split.
 *
 * The mapping budget (vma.c): a range of n pages can be split into at most
 * n + 2 mappings (every other page written); tracking starts only if they
 * can be reserved, otherwise ENOMEM, so the process never reaches the
 * limit inside a fault handler because of us.  Should a
 * single-page mprotect fail anyway (someone else used the mappings), the
 * handler makes the whole range writable (one call that merges, never
 * splits) and marks every page: a burst of false positives, never a lost
 * write or a crash.
 *
 * What the method sees: writes by user-mode instructions of this process
 * (and of a child after fork(2), which inherits the protection, the trap
 * and the bitmap; the child first counts every page of a writable
 * mapping as written, since a handler may have made a page writable and
 * not yet marked it when the process forked: uvm__dirty_mp_reconcile).  A system call writing into a clean page fails with
 * EFAULT instead (run uvm_touch first).  Writes through another view of
 * the same pages (MAP2) are not seen.  MADV_DONTNEED does not count as a
 * write.  After mremap(2) the moved pages keep their read-only protection
 * at the new address, where no trap claims them: the first write there
 * kills the process (seen on 6.18; the library cannot see mremap).
 * Pages unmapped under the tracker are simply gone: stopping gives the
 * pieces still mapped their protection back one by one.
 *
 * Must never: allocate, lock or use stdio in the handler; clear a bit
 * before the page it stands for is reported; change protections outside
 * the range.  The tracker owns the protection of its range: uvm_prot*
 * calls on it are undone by the next uvm_dirty.
 */
#include "dirty-int.h"
#include "region.h"
#include "thread.h"
#include "prot-backend.h"
#include "vma.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define WORD_BITS (8 * sizeof(unsigned long))

/* ---- the fault path ---- */

UVM_AS_SAFE static size_t mp_npages(const struct uvm_tracker *t)
{
    return (t->end - t->start) / uvm__page_size;
}

/* Page i was written (or may have been). */
UVM_AS_SAFE static void mp_mark(struct uvm_tracker *t, size_t i)
{
    atomic_fetch_or(&t->u.mp.bits[i / WORD_BITS], 1UL << (i % WORD_BITS));
}

UVM_AS_SAFE static void mp_mark_all(struct uvm_tracker *t)
{
    for (size_t w = 0; w < t->u.mp.nwords; w++) {
        size_t left = t->npages - w * WORD_BITS;
        unsigned long m = left >= WORD_BITS ? ~0UL : (1UL << left) - 1;
        atomic_fetch_or(&t->u.mp.bits[w], m);
    }
}

UVM_AS_SAFE static int mp_fault(const struct uvm_fault *f)
{
    struct uvm_tracker *t = f->arg;
    if (f->signo != SIGSEGV || (f->access != UVM_ACCESS_WRITE &&
                                f->access != UVM_ACCESS_UNKNOWN))
        return UVM_DECLINE;       /* reads never fault on a read-only page */
    uintptr_t page = (uintptr_t)f->page;
    size_t i = (page - t->start) / uvm__page_size;
    if (uvm__prot_change(page, 1, t->u.mp.prot, 0) == 0) {
        mp_mark(t, i);
        return UVM_RETRY;
    }
    if (uvm__prot_change(t->start, mp_npages(t), t->u.mp.prot,
                         UVM__PROT_PARTIAL) != 0)
        return UVM_DECLINE;
    mp_mark_all(t);
    return UVM_RETRY;
}

/* ---- the kernel's truth ---- */

void uvm__dirty_mp_reconcile(struct uvm_tracker *t)
{
    uintptr_t a = t->start;
    while (a < t->end) {
        struct uvm__vma v;
        int e = errno;
        int rc = uvm__vma_query(a, &v);
        errno = e;
        if (rc < 0 || v.start >= t->end)
            break;                /* a hole to the end, or cannot tell */
        if (v.start > a) {
            a = v.start;          /* past a hole */
            continue;
        }
        uintptr_t b = v.end < t->end ? v.end : t->end;
        if (v.prot & PROT_WRITE)
            for (uintptr_t p = a; p < b; p += uvm__page_size)
                mp_mark(t, (p - t->start) / uvm__page_size);
        a = b;
    }
}

/* ---- giving the range its protection back ---- */

/* The pieces of [start, end) that are still mapped read-only, as the
 * tracker left them, get prot back; holes and mappings that changed
 * meanwhile (unmapped and mapped again by the program) are left alone. */
struct mp_undo {
    uintptr_t start, end;
    int ro, prot, rc;
};

static int mp_undo_line(const char *p, const char *end, void *arg)
{
    struct mp_undo *u = arg;
    uint64_t lo, hi;
    if (!uvm__maps_hex(&p, end, &lo) || p >= end || *p++ != '-' ||
        !uvm__maps_hex(&p, end, &hi) || end - p < 4 || *p++ != ' ')
        return 0;
    if (lo >= u->end)
        return 1;                               /* past the range: done */
    if (hi <= u->start)
        return 0;
    int prot = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
               (p[2] == 'x' ? PROT_EXEC : 0);
    uintptr_t a = lo > u->start ? lo : u->start;
    uintptr_t b = hi < u->end ? hi : u->end;
    if (prot == u->ro &&
        uvm__prot_change(a, (b - a) / uvm__page_size, u->prot,
                         UVM__PROT_PARTIAL) != 0)
        u->rc = -ENOMEM;
    return 0;
}

/* Make the range writable again whatever happened to it: one call when
 * it is whole (which also merges what the faults split), else piece by
 * piece (a hole stops mprotect(2) part-way, leaving the pieces after it
 * read-only, and they would have no trap left once the tracker goes). */
void uvm__unprotect_mapped(uintptr_t start, uintptr_t end, int prot)
{
    if (uvm__prot_change(start, (end - start) / uvm__page_size, prot,
                         UVM__PROT_PARTIAL) == 0)
        return;
    struct mp_undo u = { start, end, prot & ~PROT_WRITE, prot, 0 };
    uvm__maps_foreach(mp_undo_line, &u);
}

/* ---- the method ---- */

/* The protection of the range: one, and writable, for the whole of it. */
static int mp_range_prot(uintptr_t start, uintptr_t end, int *prot)
{
    *prot = -1;
    for (uintptr_t cur = start; cur < end;) {
        struct uvm__vma v;
        int rc = uvm__vma_query(cur, &v);
        if (rc < 0)
            return rc;
        if (*prot >= 0 && v.prot != *prot)
            return -ENOTSUP;
        *prot = v.prot;
        cur = v.end;
    }
    return (*prot & PROT_WRITE) ? 0 : -ENOTSUP;
}

static int mp_start(struct uvm_tracker *t)
{
    int prot;
    int rc = mp_range_prot(t->start, t->end, &prot);
    if (rc < 0)
        return rc;
    size_t nwords = (t->npages + WORD_BITS - 1) / WORD_BITS;
    atomic_ulong *bits = calloc(nwords, sizeof *bits);
    if (bits == NULL)
        return -ENOMEM;
    rc = uvm__map_budget_reserve(t->npages + 2);
    if (rc < 0) {
        free(bits);
        return rc;
    }
    t->u.mp.prot = prot;
    t->u.mp.nwords = nwords;
    t->u.mp.bits = bits;
    t->u.mp.reserved = t->npages + 2;
    /* The tracker changes this range's protection itself, with mprotect:
     * keep userfaultfd write-protection (prot-uffd.c) out of it. */
    t->u.mp.region = uvm__trap((void *)t->start, t->end - t->start, mp_fault,
                               t, UVM__REGION_NO_UFFD);
    if (t->u.mp.region == NULL)
        rc = -errno;
    else
        rc = uvm__prot_change(t->start, mp_npages(t), prot & ~PROT_WRITE,
                              UVM__PROT_PARTIAL);
    if (rc < 0) {
        /* A hole that appeared since the range was checked may have left
         * a prefix read-only: writable again before the trap goes. */
        if (t->u.mp.region != NULL)
            uvm__unprotect_mapped(t->start, t->end, prot);
        if (t->u.mp.region != NULL)
            uvm__untrap(t->u.mp.region);
        uvm__map_budget_release(t->u.mp.reserved);
        free(bits);
    }
    return rc;
}

/* Store the set bits of word w that the sink has room for, and clear
 * them (take) or leave them set (peek).  A full runs array still takes a
 * page that extends its last run, as the uffd method's scan does: a run
 * is never cut by the array's size. */
static void mp_take_word(struct uvm_tracker *t, size_t w,
                         struct uvm__dirty_sink *s, int clear)
{
    unsigned long x = atomic_load(&t->u.mp.bits[w]), take = 0;
    uintptr_t base = t->start + w * WORD_BITS * uvm__page_size;
    while (x != 0) {
        int b = __builtin_ctzl(x);
        uintptr_t page = base + (uintptr_t)b * uvm__page_size;
        if ((uvm__sink_full(s) || uvm__sink_room_runs(s) == 0) &&
            !uvm__sink_extends(s, page))
            break;
        uvm__sink_put(s, page, 1);
        take |= 1UL << b;
        x &= x - 1;
    }
    if (clear && take != 0)
        atomic_fetch_and(&t->u.mp.bits[w], ~take);
}

static int mp_collect(struct uvm_tracker *t, struct uvm__dirty_sink *s)
{
    for (size_t w = 0; w < t->u.mp.nwords; w++) {
        if (atomic_load_explicit(&t->u.mp.bits[w], memory_order_relaxed) == 0)
            continue;
        if (s->max == 0)
            atomic_store(&t->u.mp.bits[w], 0);
        else
            mp_take_word(t, w, s, 1);  /* full: only extensions of the
                                          last run */
    }
    /* Bits first, protection second: a write between the two lands on a
     * page being reported now.  Pages left dirty by a full sink become
     * read-only too; their bits stay set.  Re-protect even when no bit was
     * set: a uvm_prot* call may have made pages of the range writable
     * behind the tracker's back, and their writes would be lost. */
    int rc = uvm__prot_change(t->start, mp_npages(t),
                              t->u.mp.prot & ~PROT_WRITE, UVM__PROT_PARTIAL);
    if (rc < 0)
        mp_mark_all(t);   /* part of the range unmapped: keep everything */
    return rc;
}

/* The set bits into the sink, left set: the pages stay written (and
 * writable, as the handler left them). */
static int mp_peek(struct uvm_tracker *t, struct uvm__dirty_sink *s)
{
    for (size_t w = 0; w < t->u.mp.nwords; w++)
        if (atomic_load(&t->u.mp.bits[w]) != 0)
            mp_take_word(t, w, s, 0);
    return 0;
}

static void mp_stop(struct uvm_tracker *t)
{
    /* Writable first, then no trap: in the other order a write between
     * the two would fault with no region to claim it. */
    uvm__unprotect_mapped(t->start, t->end, t->u.mp.prot);
    uvm__untrap(t->u.mp.region);
    uvm__map_budget_release(t->u.mp.reserved);
    free(t->u.mp.bits);
}

const struct uvm__dirty_ops uvm__dirty_mprotect = {
    .name = "mprotect",
    .start = mp_start,
    .collect = mp_collect,
    .stop = mp_stop,
    .peek = mp_peek,
};
