/*
 * snap-store.c: the page store of a snapshot chain, its journal and its
 * grace periods.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the slots that hold versions (page copies) and their metadata, the
 * free slots handed to the fault path, the journal in which handlers record
 * what they did, and the grace periods that let slots be reused.
 *
 *  .slots    Slot s is a page of memory plus a struct snap_vmeta, found by
 *            chunk (SimGrid's PageStore: an array of page-sized cells,
 *            never moved while in use).  Chunk memory is mapped ahead of
 *            need and never unmapped before the chain dies.
 *  .free     Free slots are on two LIFO stacks (Treiber stacks whose top
 *            word carries a tag against ABA) linked through vmeta.next:
 *            warm, still populated, and cold, memory given back.  Only mu
 *            holders push; anyone who pushes a version pops, warm first,
 *            so that a fault copies into memory that needs no page fault
 *            of its own (measured: a fresh slot adds ~1.8 us to the
 *            preserving write).  When both are empty a handler takes a
 *            never-used slot by bumping fresh.
 *  .reserve  The warm stack holds at most as many slots as were pushed in
 *            the current or the last epoch (what the next epoch will likely
 *            need); at every release the excess and the freed slots beyond
 *            it give their memory back (MADV_DONTNEED, in runs) and go cold.
 *            So memory held is the stored versions plus at most one epoch's
 *            pushes, and a release costs O(slots it frees + excess).
 *  .room     When a chain is made, and whenever a snapshot has been taken,
 *            at least npages never-used slots have memory (mapped - fresh
 *            >= npages): a page becomes PROT again only when a snapshot is
 *            taken, so between two snapshots each page is pushed at most
 *            once, and a handler never runs out (.inv.room).
 *  .grace    A freed slot may still be read by a handler that found it
 *            before it was unlinked.  Freed slots wait in limbo until a
 *            grace period has passed: an SRCU of two counters (readers
 *            count themselves in readers[phase & 1]; the waiter flips phase
 *            and waits for the old counter to drain), so a stream of new
 *            faults cannot starve the waiter.
 *  .journal  Handlers append (page, slot) for every page they made LIVE;
 *            the next entry point drains it under mu into relive (the pages
 *            to re-protect at the next snapshot) and into the bucket of the
 *            snapshot that owns each new version.  At most one entry per
 *            page between drains, so npages entries suffice.
 *
 * Must never: allocate, lock or use stdio in uvm__snap_slot_take or
 * uvm__snap_journal_append's callers; reuse a slot before a grace period;
 * give memory of a slot in use back to the kernel.
 */
#include "snap.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define TOP_SLOT(t) ((uint32_t)(t))
#define TOP_TAG(t)  ((t) >> 32)

void *uvm__snap_map_zero(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* ---- chunks ---- */

/* Give the store memory for slots up to at least want (mu), one mapping
 * for the slots and one for their metadata however many chunks. */
static int store_map(struct snap_chain *c, uint64_t want)
{
    struct snap_store *st = &c->store;
    uint32_t have = atomic_load(&st->mapped);
    if (want <= have)
        return 0;
    uint64_t k0 = have >> SNAP_CHUNK_SHIFT;
    uint64_t k1 = (want + SNAP_CHUNK_SLOTS - 1) >> SNAP_CHUNK_SHIFT;
    if (k1 > SNAP_MAX_CHUNKS)
        return -ENOMEM;
    size_t n = (size_t)(k1 - k0);
    char *mem = uvm__snap_map_zero(n * SNAP_CHUNK_SLOTS * snap_ps());
    struct snap_vmeta *meta =
        uvm__snap_map_zero(n * SNAP_CHUNK_SLOTS * sizeof(struct snap_vmeta));
    if (mem == NULL || meta == NULL) {
        if (mem) munmap(mem, n * SNAP_CHUNK_SLOTS * snap_ps());
        if (meta) munmap(meta, n * SNAP_CHUNK_SLOTS * sizeof *meta);
        return -ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        st->chunk[k0 + k] = mem + k * SNAP_CHUNK_SLOTS * snap_ps();
        st->meta[k0 + k] = meta + k * SNAP_CHUNK_SLOTS;
    }
    /* Handlers see the chunk pointers before they may use the slots. */
    atomic_store(&st->mapped, (uint32_t)(k1 << SNAP_CHUNK_SHIFT));
    return 0;
}

int uvm__snap_store_init(struct snap_chain *c)
{
    struct snap_store *st = &c->store;
    st->chunk = uvm__snap_map_zero(SNAP_MAX_CHUNKS * sizeof *st->chunk);
    st->meta = uvm__snap_map_zero(SNAP_MAX_CHUNKS * sizeof *st->meta);
    if (st->chunk == NULL || st->meta == NULL)
        return -ENOMEM;
    return store_map(c, c->npages);                       /* .room */
}

void uvm__snap_store_fini(struct snap_chain *c)
{
    struct snap_store *st = &c->store;
    uint32_t nk = atomic_load(&st->mapped) >> SNAP_CHUNK_SHIFT;
    for (uint32_t k = 0; k < nk; k++) {
        munmap(st->chunk[k], (size_t)SNAP_CHUNK_SLOTS * snap_ps());
        munmap(st->meta[k], SNAP_CHUNK_SLOTS * sizeof(struct snap_vmeta));
    }
    if (st->chunk) munmap(st->chunk, SNAP_MAX_CHUNKS * sizeof *st->chunk);
    if (st->meta) munmap(st->meta, SNAP_MAX_CHUNKS * sizeof *st->meta);
}

/* ---- free slots ---- */

/* Pop a slot off a free stack, lock-free; NONE if empty.  AS-safe. */
UVM_AS_SAFE static uint32_t stack_pop(const struct snap_chain *c,
                                      _Atomic uint64_t *stack)
{
    uint64_t top = atomic_load(stack);
    while (TOP_SLOT(top) != SNAP_NONE) {
        /* A stale next (the slot was taken meanwhile) fails the CAS: the
         * tag moved. */
        uint32_t nx = atomic_load_explicit(
            &snap_slot_meta(c, TOP_SLOT(top) - 1)->next,
            memory_order_relaxed);
        uint64_t to = (TOP_TAG(top) + 1) << 32 | nx;
        if (atomic_compare_exchange_weak(stack, &top, to))
            return TOP_SLOT(top);
    }
    return SNAP_NONE;
}

UVM_AS_SAFE uint32_t uvm__snap_slot_take(struct snap_chain *c)
{
    struct snap_store *st = &c->store;
    uint32_t s = stack_pop(c, &st->warm);
    if (s == SNAP_NONE)
        s = stack_pop(c, &st->cold);
    if (s != SNAP_NONE)
        return s - 1;
    s = atomic_fetch_add(&st->fresh, 1);
    UVM_ASSERT(s < atomic_load(&st->mapped));             /* .inv.room */
    return s;
}

/* Push s on a free stack (mu). */
static void stack_push(struct snap_chain *c, _Atomic uint64_t *stack,
                       uint32_t s)
{
    uint64_t top = atomic_load(stack);
    do
        atomic_store_explicit(&snap_slot_meta(c, s)->next, TOP_SLOT(top),
                              memory_order_relaxed);
    while (!atomic_compare_exchange_weak(stack, &top,
                                         (TOP_TAG(top) + 1) << 32 | (s + 1)));
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Give back the memory of the n slots s[] (sorted here), in runs of
 * neighbours, and put them on the cold stack (mu). */
static void trim_slots(struct snap_chain *c, uint32_t *s, size_t n)
{
    qsort(s, n, sizeof *s, cmp_u32);
    for (size_t k = 0; k < n;) {
        size_t j = k + 1;
        while (j < n && s[j] == s[j - 1] + 1 &&
               (s[j] >> SNAP_CHUNK_SHIFT) == (s[k] >> SNAP_CHUNK_SHIFT))
            j++;
        madvise(snap_slot_mem(c, s[k]), (j - k) * snap_ps(), MADV_DONTNEED);
        k = j;
    }
    for (size_t k = 0; k < n; k++)
        stack_push(c, &c->store.cold, s[k]);
}

/* Trim: slots, one at a time (no memory for a list, mu). */
static void trim_one(struct snap_chain *c, uint32_t s)
{
    madvise(snap_slot_mem(c, s), snap_ps(), MADV_DONTNEED);
    stack_push(c, &c->store.cold, s);
}

void uvm__snap_store_refill(struct snap_chain *c)
{
    struct snap_store *st = &c->store;
    struct snap_list *l = &st->limbo;
    if (l->n > 0)
        uvm__snap_grace(c);                               /* .grace */
    /* Slots taken since the last refill came off the warm stack first. */
    size_t left = st->reserve > st->taken ? st->reserve - st->taken : 0;
    size_t keep = c->epoch_pushes > c->last_pushes ? c->epoch_pushes
                                                   : c->last_pushes;
    size_t excess = left > keep ? left - keep : 0;
    size_t room = left < keep ? keep - left : 0;
    size_t kept = room < l->n ? room : l->n;
    size_t ntrim = excess + (l->n - kept), k = 0;
    uint32_t *trim = ntrim > 0 ? malloc(ntrim * sizeof *trim) : NULL;
    /* The warm stack down to what the next epoch may use... */
    for (; excess > 0; excess--, left--) {
        uint32_t s = stack_pop(c, &st->warm);
        if (s == SNAP_NONE) {
            left = 0;                     /* handlers took the rest */
            break;
        }
        if (trim != NULL)
            trim[k++] = s - 1;
        else
            trim_one(c, s - 1);
    }
    /* ...then the freed slots: the first ones cold, the rest warm. */
    size_t i = 0;
    for (uint32_t v = l->first, nx; v != SNAP_NONE; v = nx, i++) {
        nx = snap_slot_meta(c, v - 1)->bnext;
        if (i < l->n - kept && trim != NULL)
            trim[k++] = v - 1;
        else if (i < l->n - kept)
            trim_one(c, v - 1);
        else
            stack_push(c, &st->warm, v - 1);
    }
    if (trim != NULL)
        trim_slots(c, trim, k);
    free(trim);
    st->reserve = left + kept;
    st->taken = 0;
    l->first = SNAP_NONE;
    l->n = 0;
}

int uvm__snap_store_room(struct snap_chain *c)
{
    return store_map(c, (uint64_t)atomic_load(&c->store.fresh) + c->npages);
}

/* ---- grace periods ---- */

void uvm__snap_grace(struct snap_chain *c)
{
    unsigned p = atomic_fetch_add(&c->phase, 1) & 1;
    while (atomic_load(&c->readers[p]) != 0)
        sched_yield();
}

/* ---- the journal ---- */

UVM_AS_SAFE void uvm__snap_journal_append(struct snap_chain *c, size_t i,
                                          uint32_t slot1)
{
    size_t t = atomic_fetch_add(&c->jtail, 1);
    atomic_store_explicit(&c->jr[t % c->npages],
                          (uint64_t)(i + 1) << 32 | slot1,
                          memory_order_release);
}

/* The live snapshot that owns a version tagged a: the newest with gen <= a
 * (mu). */
static struct uvm_snap *owner_of(struct snap_chain *c, uint64_t a)
{
    struct uvm_snap *s = c->newest_s;
    while (s != NULL && s->gen > a)
        s = s->older;
    return s;
}

void uvm__snap_version_add(struct snap_chain *c, uint32_t s)
{
    struct uvm_snap *o = owner_of(c, snap_slot_meta(c, s)->a);
    UVM_ASSERT(o != NULL);
    snap_list_add(c, &o->own, s);
    c->stored++;
    c->cow++;
    c->epoch_pushes++;
    c->store.taken++;
}

/* Drain; skip: entries claimed but never written are passed over (a
 * fork child's, whose writer is a thread the child does not have). */
static void journal_drain(struct snap_chain *c, int skip)
{
    size_t tail = atomic_load(&c->jtail);
    for (; c->jhead < tail; c->jhead++) {
        _Atomic uint64_t *e = &c->jr[c->jhead % c->npages];
        uint64_t v;
        while ((v = atomic_load_explicit(e, memory_order_acquire)) == 0 &&
               !skip)
            sched_yield();           /* appended, not yet written */
        if (v == 0)
            continue;
        uint32_t page = (uint32_t)(v >> 32) - 1, slot1 = (uint32_t)v;
        if (slot1 != SNAP_NONE)
            uvm__snap_version_add(c, slot1 - 1);
        if (!(page & SNAP_JOURNAL_KEPT)) {      /* made LIVE */
            UVM_ASSERT(c->relive.n < c->npages);
            c->relive.v[c->relive.n++] = page;  /* room for npages */
        }
        atomic_store_explicit(e, 0, memory_order_relaxed);
    }
}

void uvm__snap_journal_drain(struct snap_chain *c)
{
    journal_drain(c, 0);
}

void uvm__snap_journal_adopt(struct snap_chain *c)
{
    journal_drain(c, 1);
}
