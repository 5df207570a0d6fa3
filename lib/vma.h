/*
 * vma.h: what the kernel has mapped at an address, and with which access.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 */
#ifndef UVM_VMA_H
#define UVM_VMA_H

#include "uvm-int.h"

struct uvm__vma {
    uintptr_t start, end;   /* the kernel mapping (VMA) */
    int prot;               /* PROT_* bits */
};

/* The mapping containing addr.  0, -ENOMEM (addr not mapped) or another
 * negative errno.  AS-safe. */
UVM_HIDDEN int uvm__vma_query(uintptr_t addr, struct uvm__vma *out);

/* After fork(): forget the parent's procfs descriptor. */
UVM_HIDDEN void uvm__vma_atfork_child(void);

#endif
