/*
 * pool.h: type-stable pools of handles (regions, trackers, snapshots).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the chunks that handle structures live in, and their free lists.
 * A chunk is never freed, so a pointer a caller passes back can be checked
 * (uvm__pool_owns) without dereferencing memory that may not be ours, and
 * a stale handle reads a dead signature rather than freed memory (MPS
 * design/sig).  Each object keeps its place in the free list in a field of
 * its own (link), never over its signature.
 *
 * Must never: free a chunk; take a lock (the owner's lock serializes
 * uvm__pool_get and uvm__pool_put; uvm__pool_owns needs none).
 */
#ifndef UVM_POOL_H
#define UVM_POOL_H

#include "uvm-int.h"

#include <stddef.h>

struct uvm__pool_chunk;

struct uvm__pool {
    size_t size;               /* (c) object size */
    size_t link;               /* (c) offset of its free-list pointer */
    size_t per_chunk;          /* (c) objects a chunk holds */
    void (*init)(void *obj);   /* (c) run once per object, or NULL */
    _Atomic(struct uvm__pool_chunk *) chunks;  /* (a) pushed, never freed */
    void *free;                /* owner's lock: the free list */
};

/* A pool of objects of type, linked through their field member. */
#define UVM__POOL(type, member, n, init_fn) \
    { sizeof(type), offsetof(type, member), (n), (init_fn), NULL, NULL }

/* An object from the free list (a new chunk, zeroed and init'ed, when the
 * list is empty), or NULL if no memory.  Under the owner's lock. */
UVM_HIDDEN void *uvm__pool_get(struct uvm__pool *p);
/* Return obj (from p) to the free list.  Under the owner's lock. */
UVM_HIDDEN void uvm__pool_put(struct uvm__pool *p, void *obj);
/* Was obj handed out by p: inside one of its chunks, at an object's
 * start?  Never dereferences obj.  AS-safe. */
UVM_HIDDEN int uvm__pool_owns(const struct uvm__pool *p, const void *obj);

#endif /* UVM_POOL_H */
