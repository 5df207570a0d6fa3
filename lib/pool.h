/*
 * pool.h: type-stable pools of handles (regions, trackers, snapshots).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the chunks that handle structures live in, their free lists, and
 * the handles the API gives out for them.  A chunk is never freed, so a
 * stale pointer to an object still reads a dead signature rather than
 * freed memory (MPS design/sig).  Each object keeps its place in the free
 * list in a field of its own (link), never over its signature.
 *
 * Handles (.handle).  An object is reused after its release, so its
 * address cannot be its handle: a second release of an old handle would
 * destroy whatever owns the slot now.  A handle is an opaque word naming
 * the pool, the slot, and the serial number the pool gave the object when
 * it was handed out (one counter per pool; a freed slot has serial 0).
 * uvm__pool_resolve returns the object only while the slot still holds
 * that serial: a stale handle, a handle of another pool, or any other
 * word gives NULL (the caller's EINVAL).  A stale handle could come back
 * to life only if the same slot were given out again exactly 2^32 serials
 * later.
 *
 * Must never: free a chunk; take a lock (the owner's lock serializes
 * uvm__pool_get and uvm__pool_put; uvm__pool_owns, uvm__pool_handle and
 * uvm__pool_resolve need none).
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
    size_t nobj;               /* owner's lock: slots in all chunks */
    uint32_t serial;           /* owner's lock: the last serial given */
    _Atomic unsigned tag;      /* (a) set once: names the pool in handles */
};

/* A pool of objects of type, linked through their field member. */
#define UVM__POOL(type, member, n, init_fn) \
    { sizeof(type), offsetof(type, member), (n), (init_fn), NULL, NULL, \
      0, 0, 0 }

/* An object from the free list (a new chunk, zeroed and init'ed, when the
 * list is empty), with a new serial, or NULL if no memory.  Under the
 * owner's lock. */
UVM_HIDDEN void *uvm__pool_get(struct uvm__pool *p);
/* Return obj (from p) to the free list: every handle of it is stale from
 * now on.  Under the owner's lock. */
UVM_HIDDEN void uvm__pool_put(struct uvm__pool *p, void *obj);
/* Was obj handed out by p: inside one of its chunks, at an object's
 * start?  Never dereferences obj.  AS-safe. */
UVM_HIDDEN int uvm__pool_owns(const struct uvm__pool *p, const void *obj);
/* The handle of obj, which p handed out and has not taken back (.handle).
 * Never NULL.  AS-safe. */
UVM_HIDDEN void *uvm__pool_handle(const struct uvm__pool *p, const void *obj);
/* The object handle names, or NULL if handle is not a live handle of p
 * (.handle).  Never dereferences handle.  The answer holds until the
 * owner's lock lets the object be put back.  AS-safe. */
UVM_HIDDEN void *uvm__pool_resolve(const struct uvm__pool *p,
                                   const void *handle);

#endif /* UVM_POOL_H */
