/*
 * map2.c: MAP2, the same physical pages at two addresses.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: argument checking and errno for uvm_alloc, uvm_map2 and uvm_free.
 * The objects and the view registry are memobj.c's.
 *
 * Lengths are byte counts rounded up to whole pages, as mmap(2) and
 * munmap(2) do; addresses must be page-aligned.  Must never: unmap or map
 * over memory that is not a registered view.
 */
#include "uvm-int.h"
#include "memobj.h"

#define PROT_ALL (PROT_READ | PROT_WRITE | PROT_EXEC)

/* Round len up to pages; 0 when it is zero or the rounding overflows. */
static size_t map2_round(size_t len)
{
    if (len == 0 || len > SIZE_MAX - uvm__page_mask)
        return 0;
    return (len + uvm__page_mask) & ~uvm__page_mask;
}

void *uvm_alloc(size_t len, int prot)
{
    size_t n = map2_round(len);
    if (n == 0 || (prot & ~PROT_ALL) != 0) {
        uvm__fail(-EINVAL);
        return NULL;
    }
    void *p;
    int rc = uvm__memobj_alloc(n, prot, &p);
    if (rc < 0) {
        uvm__fail(rc);
        return NULL;
    }
    return p;
}

void *uvm_map2(void *addr, size_t len, int prot)
{
    size_t n = map2_round(len);
    if (n == 0 || !uvm__aligned(addr) || (prot & ~PROT_ALL) != 0 ||
        (uintptr_t)addr > UINTPTR_MAX - n) {
        uvm__fail(-EINVAL);
        return NULL;
    }
    void *p;
    int rc = uvm__memobj_map2((uintptr_t)addr, n, prot, &p);
    if (rc < 0) {
        uvm__fail(rc);
        return NULL;
    }
    return p;
}

int uvm_free(void *addr, size_t len)
{
    size_t n = map2_round(len);
    if (n == 0 || !uvm__aligned(addr) || (uintptr_t)addr > UINTPTR_MAX - n)
        return uvm__fail(-EINVAL);
    int rc = uvm__memobj_free((uintptr_t)addr, n);
    return rc < 0 ? uvm__fail(rc) : 0;
}
