/*
 * dirty.c: DIRTY, the pages written since the last call.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Not implemented yet (issue 3: userfaultfd WP_ASYNC + PAGEMAP_SCAN, and an
 * mprotect fallback).  Every entry point fails with ENOSYS, honestly, and
 * the README lists them as not yet available.
 */
#include "uvm-int.h"

uvm_tracker *uvm_dirty_start(void *addr, size_t len, int method)
{
    uvm__fail(-ENOSYS);
    return NULL;
}

ssize_t uvm_dirty(uvm_tracker *t, void **pages, size_t max)
{
    return uvm__fail(-ENOSYS);
}

ssize_t uvm_dirty_runs(uvm_tracker *t, struct uvm_run *runs, size_t max)
{
    return uvm__fail(-ENOSYS);
}

int uvm_dirty_stop(uvm_tracker *t)
{
    return uvm__fail(-ENOSYS);
}

const char *uvm_dirty_method(const uvm_tracker *t)
{
    uvm__fail(-ENOSYS);
    return NULL;
}
