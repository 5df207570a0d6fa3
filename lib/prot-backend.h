/*
 * prot-backend.h: the contract between prot.c and a protection mechanism.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Like pmap under vm_map, or the protection interface under MPS's shield:
 * prot.c decides what to change and keeps it all or nothing; a backend
 * asks the kernel, and keeps whatever state its mechanism needs behind
 * this table.  Two backends: mprotect (prot-mprotect.c), which can make
 * every change, and userfaultfd write-protection (prot-uffd.c), which
 * takes only the changes it can make with exactly mprotect's result and
 * declines the rest.  prot.c offers each change to the uffd backend first.
 *
 * Every protection change libuvm makes goes through uvm__prot_change (or
 * the public uvm_prot* functions, which are the same path): snapshots and
 * DIRTY included, so that no backend's state is ever bypassed.
 */
#ifndef UVM_PROT_BACKEND_H
#define UVM_PROT_BACKEND_H

#include "uvm-int.h"

struct uvm_region;

struct uvm__prot_backend {
    const char *name;
    /* Change [start, end) of region r (NULL: no region) to prot.  Returns
     * 1 when the backend made the change or failed it (result, 0 or a
     * negative errno, in *rc), 0 when it declines and another backend
     * must.  AS-safe. */
    int (*set)(struct uvm_region *r, uintptr_t start, uintptr_t end,
               int prot, int *rc);
    /* Bring the backend's state of r under its mechanism (may be lazy,
     * from set); 1 if attached.  AS-safe. */
    int (*attach)(struct uvm_region *r);
    /* r is going away (uvm_untrap, before it leaves the region table):
     * hand its pages back with the protection the program sees now. */
    void (*detach)(struct uvm_region *r);
    /* Is a signal sig with si_code code at addr, a write fault or not
     * (access), a fault of this backend's mechanism that the program must
     * see as the SIGSEGV mprotect would have raised?  AS-safe. */
    int (*owns_fault)(int sig, int code, uintptr_t addr, int access);
    /* Another backend changed [start, end) to prot: keep this one's state
     * true.  root is the region table version the caller protects.
     * AS-safe. */
    void (*after_change)(const void *root, uintptr_t start, uintptr_t end,
                         int prot);
    /* In the child after fork(): drop what acts on the parent. */
    void (*at_fork_child)(void);
    /* Bracket the changes of a thread so that detach never runs in the
     * middle of one: enter when the thread starts a change and has none in
     * progress, leave when it has none in progress any more (also when
     * prot.c finds that its changes were abandoned by siglongjmp, .abandon;
     * leave is idempotent).  AS-safe. */
    void (*enter)(void);
    void (*leave)(void);
};

UVM_HIDDEN extern const struct uvm__prot_backend uvm__prot_uffd_backend;

/* The mprotect backend's one operation: set [start, start+len) to prot
 * with one kernel call.  Preconditions: start and len page-aligned,
 * len > 0, prot valid.  Returns 0 or a negative errno (-ENOMEM: unmapped
 * or mapping limit; -EACCES: prot not allowed for the mapping).  May have
 * changed a prefix of the range on failure (prot.c undoes it).  Only
 * prot.c and the backends call it.  AS-safe. */
UVM_HIDDEN int uvm__prot_set(uintptr_t start, size_t len, int prot);

/* The library's one internal entry point for a protection change: the
 * same as uvm_protn (all or nothing, every backend kept true), without
 * touching errno.  flags: 0, or UVM__PROT_PARTIAL: the caller copes with
 * a change that failed part-way itself (DIRTY's re-protection of a range
 * split into a mapping per page, where recording every mapping first for
 * the undo would cost one query per mapping at every call).  0 or a
 * negative errno.  AS-safe. */
#define UVM__PROT_PARTIAL 0x1
UVM_HIDDEN int uvm__prot_change(uintptr_t start, size_t npages, int prot,
                                int flags);

/* uvm_untrap, on the calling thread before it waits for changes in
 * progress: give back what the changes this thread abandoned by siglongjmp
 * still hold (it cannot be inside one of its own).  Not AS-safe. */
UVM_HIDDEN void uvm__prot_calls_abandon(void);

#endif
