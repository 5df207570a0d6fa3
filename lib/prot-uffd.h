/*
 * prot-uffd.h: write-only protection changes through userfaultfd.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 */
#ifndef UVM_PROT_UFFD_H
#define UVM_PROT_UFFD_H

#include "uvm-int.h"

struct uvm_region;

/* Set [start, end) of region r to prot with userfaultfd write-protection if
 * that gives the same result (prot is PROT_READ or PROT_READ|PROT_WRITE,
 * the pages' mapping is read-write, r is or can be registered).  Returns 1
 * when it took the change (its result, 0 or -errno, in *rc), 0 when the
 * caller must use mprotect.  AS-safe. */
UVM_HIDDEN int uvm__prot_uffd_try(struct uvm_region *r, uintptr_t start,
                                  uintptr_t end, int prot, int *rc);

/* mprotect set [start, end) to prot: keep the bitmaps of the registered
 * regions it touches true, and drop write-protection where prot gives
 * PROT_WRITE.  root is the region table version the caller protects.
 * AS-safe. */
UVM_HIDDEN void uvm__prot_uffd_after_mprotect(const void *root,
                                              uintptr_t start, uintptr_t end,
                                              int prot);

/* Is a SIGBUS in r a userfaultfd write-protect fault?  AS-safe. */
UVM_HIDDEN int uvm__prot_uffd_is_wp_fault(const struct uvm_region *r);

/* uvm_untrap: give r's write-protected pages back to mprotect, unregister. */
UVM_HIDDEN void uvm__prot_uffd_release(struct uvm_region *r);

/* fork() child: the same for every region, and close the descriptor. */
UVM_HIDDEN void uvm__prot_uffd_atfork_child(void);

#endif
