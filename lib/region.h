/*
 * region.h: the region table, the dispatcher's map from address to region.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 */
#ifndef UVM_REGION_H
#define UVM_REGION_H

#include "uvm-int.h"

struct uvm_region {
    _Atomic uint32_t sig;     /* (w)(a) UVM_SIG_REGION while registered */
    uint32_t dying;           /* (w) uvm_untrap has begun */
    uintptr_t start, end;     /* (c) page-aligned, start < end */
    uvm_handler_fn fn;        /* (c) */
    void *arg;                /* (c) */
    struct uvm_region *next_free;  /* (w) pool free list */
    int flags;                /* (c) UVM__REGION_* */
    uvm_region *handle;       /* (c) what uvm_trap returned (pool.h) */
    /* Write-protection through userfaultfd (prot-uffd.c). */
    _Atomic int uffd_state;   /* (a) UVM__UFFD_* */
    struct uvm__uffd_region *ur;   /* (a) set before state becomes ON */
};

/* Region flags. */
#define UVM__REGION_NO_UFFD 0x1   /* never write-protect it with uffd */
#define UVM__REGION_INTERNAL 0x2  /* libuvm's own (uvm__trap): the public
                                     uvm_untrap refuses it, so a stale
                                     handle whose slot was reused cannot
                                     unregister a snapshot or tracker */

/* uffd_state: whether the region is registered with the PROT userfaultfd. */
enum { UVM__UFFD_UNTRIED = 0, UVM__UFFD_BUSY = 1, UVM__UFFD_ON = 2,
       UVM__UFFD_OFF = 3, UVM__UFFD_GONE = 4 /* was ON, released */ };

/* The current table version; readers protect it with a hazard pointer
 * (thread.h) and pass it to uvm__region_find. */
UVM_HIDDEN extern _Atomic(void *) uvm__region_root;

/* The region of version root containing addr, or NULL.  O(log n), no lock,
 * no allocation.  AS-safe. */
UVM_HIDDEN struct uvm_region *uvm__region_find(const void *root,
                                               uintptr_t addr);

/* A nonzero id if addr lies in one of the regions unlinked lately (the
 * newest such removal), 0 if not: see .gone in region.c.  AS-safe. */
UVM_HIDDEN uint64_t uvm__region_gone(uintptr_t addr);

/* Writers.  All of these take the writers' mutex themselves. */
UVM_HIDDEN int uvm__region_add(uintptr_t start, uintptr_t end,
                               uvm_handler_fn fn, void *arg, int flags,
                               struct uvm_region **out);

/* The first region of version root that ends after addr and starts before
 * limit, or NULL.  AS-safe. */
UVM_HIDDEN struct uvm_region *uvm__region_next(const void *root,
                                               uintptr_t addr,
                                               uintptr_t limit);
/* Call fn on every registered region (fork child; writers' mutex held). */
UVM_HIDDEN void uvm__region_foreach(void (*fn)(struct uvm_region *));
/* Resolve the handle (EINVAL if stale or foreign, pool.h) and take its
 * region, *out, out of the table: new faults no longer find it.  check(r)
 * runs under the mutex first; a nonzero result is returned as is. */
UVM_HIDDEN int uvm__region_unlink(uvm_region *handle,
                                  int (*check)(struct uvm_region *),
                                  struct uvm_region **out);
/* Return an unlinked region, with no call in flight, to the pool. */
UVM_HIDDEN void uvm__region_free(struct uvm_region *r);

/* fork() support: the writers' mutex. */
UVM_HIDDEN void uvm__region_lock(void);
UVM_HIDDEN void uvm__region_unlock(void);
UVM_HIDDEN void uvm__region_reinit_child(void);

#endif /* UVM_REGION_H */
