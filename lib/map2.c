/*
 * map2.c: MAP2, the same physical pages at two addresses.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Not implemented yet (issue 3: memfd-backed memory objects and a view
 * registry).  Every entry point fails with ENOSYS, honestly, and the README
 * lists them as not yet available.
 */
#include "uvm-int.h"

void *uvm_alloc(size_t len, int prot)
{
    uvm__fail(-ENOSYS);
    return NULL;
}

void *uvm_map2(void *addr, size_t len, int prot)
{
    uvm__fail(-ENOSYS);
    return NULL;
}

int uvm_free(void *addr, size_t len)
{
    return uvm__fail(-ENOSYS);
}
