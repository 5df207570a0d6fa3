/*
 * snap.c: copy-on-write snapshots (shadow objects in user space).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Not implemented yet (issue 7).  Every entry point fails with ENOSYS,
 * honestly, and the README lists them as not yet available.
 */
#include "uvm-int.h"

uvm_snap *uvm_snapshot(void *addr, size_t len)
{
    uvm__fail(-ENOSYS);
    return NULL;
}

int uvm_snap_read(const uvm_snap *s, size_t off, void *buf, size_t len)
{
    return uvm__fail(-ENOSYS);
}

ssize_t uvm_snap_diff(const uvm_snap *s, void **pages, size_t max)
{
    return uvm__fail(-ENOSYS);
}

int uvm_snap_restore(uvm_snap *s)
{
    return uvm__fail(-ENOSYS);
}

int uvm_snap_save(const uvm_snap *s, int fd)
{
    return uvm__fail(-ENOSYS);
}

const void *uvm_snap_view(uvm_snap *s)
{
    uvm__fail(-ENOSYS);
    return NULL;
}

int uvm_snap_release(uvm_snap *s)
{
    return uvm__fail(-ENOSYS);
}

int uvm_snap_stats(const uvm_snap *s, struct uvm_snap_stats *st)
{
    return uvm__fail(-ENOSYS);
}
