/*
 * pool.c: type-stable pools of handles (see pool.h for what it owns).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Invariants:
 *  .inv.stable  a chunk, once published in p->chunks, stays mapped and in
 *               the list for the life of the process;
 *  .inv.aligned every object handed out starts size * i bytes after its
 *               chunk's first object, 0 <= i < per_chunk;
 *  .inv.serial  a slot's serial is nonzero exactly while its object is
 *               handed out, and no two objects handed out at once have
 *               the same serial.
 *
 * A handle (.handle in pool.h) is the 64-bit word
 *   serial << 32 | tag << 28 | slot
 * where slot counts objects from the pool's first chunk.  The tag (1-15)
 * is given to a pool the first time it hands out an object, so handles of
 * different pools never name each other's objects.
 */
#include "pool.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_BITS 28
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define TAG_MASK  0xfu

struct uvm__pool_chunk {
    struct uvm__pool_chunk *next;      /* (c) */
    size_t base;                       /* (c) slot of obj[0] */
    _Atomic uint32_t *serial;          /* (c) per object; owner's lock */
    alignas(max_align_t) unsigned char obj[];
};

static _Atomic unsigned next_tag;      /* (a) tags given so far */

static void **link_of(const struct uvm__pool *p, void *obj)
{
    return (void **)((unsigned char *)obj + p->link);
}

/* The chunk holding obj, and obj's index in it in *i; or NULL. */
UVM_AS_SAFE static struct uvm__pool_chunk *
chunk_of(const struct uvm__pool *p, const void *obj, size_t *i)
{
    uintptr_t a = (uintptr_t)obj, span = p->per_chunk * p->size;
    for (struct uvm__pool_chunk *c = atomic_load(&p->chunks); c != NULL;
         c = c->next) {
        uintptr_t lo = (uintptr_t)c->obj;
        if (a >= lo && a < lo + span) {
            if ((a - lo) % p->size != 0)
                return NULL;
            *i = (a - lo) / p->size;
            return c;
        }
    }
    return NULL;
}

static int pool_grow(struct uvm__pool *p)
{
    if (p->nobj + p->per_chunk > SLOT_MASK + 1u)
        return -1;                     /* no slot number left for it */
    size_t objs = p->per_chunk * p->size;
    struct uvm__pool_chunk *c =
        calloc(1, sizeof *c + objs + p->per_chunk * sizeof *c->serial);
    if (c == NULL)
        return -1;
    c->serial = (_Atomic uint32_t *)(void *)(c->obj + objs);
    c->base = p->nobj;
    for (size_t i = p->per_chunk; i-- > 0;) {
        void *o = c->obj + i * p->size;
        if (p->init != NULL)
            p->init(o);
        *link_of(p, o) = p->free;
        p->free = o;
    }
    p->nobj += p->per_chunk;
    c->next = atomic_load(&p->chunks);
    atomic_store(&p->chunks, c);
    return 0;
}

void *uvm__pool_get(struct uvm__pool *p)
{
    if (atomic_load(&p->tag) == 0) {
        unsigned t = (atomic_fetch_add(&next_tag, 1) % TAG_MASK) + 1;
        atomic_store(&p->tag, t);
    }
    if (p->free == NULL && pool_grow(p) != 0)
        return NULL;
    void *o = p->free;
    p->free = *link_of(p, o);
    *link_of(p, o) = NULL;
    size_t i;
    struct uvm__pool_chunk *c = chunk_of(p, o, &i);
    UVM_ASSERT(c != NULL);                       /* .inv.aligned */
    UVM_ASSERT(atomic_load(&c->serial[i]) == 0); /* .inv.serial */
    if (++p->serial == 0)
        p->serial = 1;
    atomic_store_explicit(&c->serial[i], p->serial, memory_order_release);
    return o;
}

void uvm__pool_put(struct uvm__pool *p, void *obj)
{
    size_t i;
    struct uvm__pool_chunk *c = chunk_of(p, obj, &i);
    UVM_ASSERT(c != NULL && atomic_load(&c->serial[i]) != 0);
    atomic_store_explicit(&c->serial[i], 0, memory_order_release);
    *link_of(p, obj) = p->free;
    p->free = obj;
}

UVM_AS_SAFE int uvm__pool_owns(const struct uvm__pool *p, const void *obj)
{
    size_t i;
    return chunk_of(p, obj, &i) != NULL;
}

UVM_AS_SAFE void *uvm__pool_handle(const struct uvm__pool *p, const void *obj)
{
    size_t i;
    struct uvm__pool_chunk *c = chunk_of(p, obj, &i);
    UVM_ASSERT(c != NULL);
    uint64_t serial = atomic_load_explicit(&c->serial[i],
                                           memory_order_acquire);
    UVM_ASSERT(serial != 0);                     /* handed out */
    uint64_t h = serial << 32 |
                 (uint64_t)(atomic_load(&p->tag) & TAG_MASK) << SLOT_BITS |
                 (uint64_t)(c->base + i);
    return (void *)(uintptr_t)h;
}

UVM_AS_SAFE void *uvm__pool_resolve(const struct uvm__pool *p,
                                    const void *handle)
{
    uint64_t h = (uint64_t)(uintptr_t)handle;
    uint32_t serial = (uint32_t)(h >> 32);
    size_t slot = (size_t)(h & SLOT_MASK);
    unsigned tag = (unsigned)(h >> SLOT_BITS) & TAG_MASK;
    if (serial == 0 || tag == 0 || tag != atomic_load(&p->tag))
        return NULL;
    for (struct uvm__pool_chunk *c = atomic_load(&p->chunks); c != NULL;
         c = c->next) {
        if (slot < c->base || slot - c->base >= p->per_chunk)
            continue;
        size_t i = slot - c->base;
        if (atomic_load_explicit(&c->serial[i], memory_order_acquire) !=
            serial)
            return NULL;
        return c->obj + i * p->size;
    }
    return NULL;
}
