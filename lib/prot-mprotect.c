/*
 * prot-mprotect.c: the mprotect backend of prot-backend.h.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: nothing but the system call and its counters.  mprotect splits
 * mappings (VMAs); every split counts against vm.max_map_count, and the
 * kernel answers ENOMEM at the limit, which is passed up unchanged.
 */
#include "prot-backend.h"

#include <sys/mman.h>

UVM_AS_SAFE int uvm__prot_set(uintptr_t start, size_t len, int prot)
{
    UVM_ASSERT((start & uvm__page_mask) == 0 && len > 0 &&
               (len & uvm__page_mask) == 0);
    UVM_COUNT(prot_calls, 1);
    if (mprotect((void *)start, len, prot) != 0)
        return -errno;
    UVM_COUNT(prot_pages, len / uvm__page_size);
    return 0;
}
