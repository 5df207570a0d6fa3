/*
 * prot-backend.h: the contract between prot.c and a protection mechanism.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Like pmap under vm_map: prot.c decides what to change and keeps it all
 * or nothing; the backend only asks the kernel.  Two backends: mprotect
 * (prot-mprotect.c, below) and userfaultfd write-protection for
 * write-only changes of trap regions (prot-uffd.h); prot.c chooses.
 */
#ifndef UVM_PROT_BACKEND_H
#define UVM_PROT_BACKEND_H

#include "uvm-int.h"

/* Set [start, start+len) to prot with one kernel call.
 * Preconditions: start and len page-aligned, len > 0, prot valid.
 * Returns 0 or a negative errno (-ENOMEM: unmapped or mapping limit;
 * -EACCES: prot not allowed for the mapping).  May have changed a prefix
 * of the range on failure (prot.c undoes it).  AS-safe. */
UVM_HIDDEN int uvm__prot_set(uintptr_t start, size_t len, int prot);

#endif
