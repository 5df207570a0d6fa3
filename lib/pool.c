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
 *               chunk's first object, 0 <= i < per_chunk.
 */
#include "pool.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct uvm__pool_chunk {
    struct uvm__pool_chunk *next;      /* (c) */
    alignas(max_align_t) unsigned char obj[];
};

static void **link_of(const struct uvm__pool *p, void *obj)
{
    return (void **)((unsigned char *)obj + p->link);
}

void *uvm__pool_get(struct uvm__pool *p)
{
    if (p->free == NULL) {
        struct uvm__pool_chunk *c =
            calloc(1, sizeof *c + p->per_chunk * p->size);
        if (c == NULL)
            return NULL;
        for (size_t i = p->per_chunk; i-- > 0;) {
            void *o = c->obj + i * p->size;
            if (p->init != NULL)
                p->init(o);
            uvm__pool_put(p, o);
        }
        c->next = atomic_load(&p->chunks);
        atomic_store(&p->chunks, c);
    }
    void *o = p->free;
    p->free = *link_of(p, o);
    *link_of(p, o) = NULL;
    UVM_ASSERT(uvm__pool_owns(p, o));
    return o;
}

void uvm__pool_put(struct uvm__pool *p, void *obj)
{
    *link_of(p, obj) = p->free;
    p->free = obj;
}

UVM_AS_SAFE int uvm__pool_owns(const struct uvm__pool *p, const void *obj)
{
    uintptr_t a = (uintptr_t)obj, span = p->per_chunk * p->size;
    for (const struct uvm__pool_chunk *c = atomic_load(&p->chunks); c != NULL;
         c = c->next) {
        uintptr_t lo = (uintptr_t)c->obj;
        if (a >= lo && a < lo + span)
            return (a - lo) % p->size == 0;
    }
    return 0;
}
