/*
 * memobj.h: memory objects and the views that map them (MAP2).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * A memory object is a memfd (4.4BSD's vm_object with a shmem pager); a
 * view is one MAP_SHARED mapping of a window of it.  The view registry
 * answers "which object and offset is this address?", also from a fault
 * handler.
 */
#ifndef UVM_MEMOBJ_H
#define UVM_MEMOBJ_H

#include "uvm-int.h"

struct uvm__memobj {
    int fd;                   /* (c) memfd, close-on-exec, sealed */
    size_t size;              /* (c) bytes, page-aligned */
    size_t nviews;            /* (w) registry entries that refer to it */
    int forked;               /* (w) mapped when the process forked: the
                                 other process's mapping is a writable
                                 view no snapshot can protect */
    uint32_t dev_major, dev_minor;  /* (c) the memfd's device and inode */
    uint64_t ino;
};

struct uvm__view {
    uintptr_t start, end;     /* page-aligned, start < end */
    struct uvm__memobj *obj;
    size_t off;               /* offset in obj of start */
    int prot;                 /* as mapped (a snapshot's pin refuses
                                 writable views only) */
};

/* The view containing addr, copied to *out.  0, -ENOENT (no view) or
 * -ENOMEM (no thread record).  No lock, no allocation: AS-safe.  *out->obj
 * stays valid only as long as the caller keeps the view mapped. */
UVM_HIDDEN int uvm__memobj_lookup(uintptr_t addr, struct uvm__view *out);

/* Does [off, off + len) of the file (dev_major:dev_minor, ino) lie inside
 * the libuvm object that the view containing addr maps?  Such pages can
 * never be truncated away (the object is sealed against shrinking), so an
 * access to them never raises a SIGBUS for lying past the end of the
 * file.  The caller tells the file from the kernel (PROCMAP_QUERY): the
 * registry alone is not trusted, as views remapped behind the library's
 * back go unnoticed.  1 or 0.  No lock, no allocation: AS-safe. */
UVM_HIDDEN int uvm__memobj_sealed_file(uintptr_t addr, uint32_t dev_major,
                                       uint32_t dev_minor, uint64_t ino,
                                       uint64_t off, uint64_t len);

/* Writers; each takes the registry mutex itself.  Not AS-safe. */
/* A new object of len bytes (page-aligned) mapped once with prot. */
UVM_HIDDEN int uvm__memobj_alloc(size_t len, int prot, void **out);
/* Map [addr, addr+len) again; it must lie in views of one object, at
 * consecutive offsets, else -EINVAL. */
UVM_HIDDEN int uvm__memobj_map2(uintptr_t addr, size_t len, int prot,
                                void **out);
/* Where [start, end) lies: 1 inside one view, 0 in no view, -EINVAL
 * partly in views (or in several).  AS-safe, as uvm__memobj_lookup. */
UVM_HIDDEN int uvm__memobj_classify(uintptr_t start, uintptr_t end);
/* Pin the pages that [start, end), inside one view, maps for owner (a
 * snapshot chain): -EBUSY if another writable view maps any of them or
 * the object was mapped when the process forked,
 * -ENOENT if the range is not inside one view, -ENOMEM.  While pinned, a
 * writable uvm_map2 of any of them is -EBUSY. */
UVM_HIDDEN int uvm__memobj_pin(uintptr_t start, uintptr_t end,
                               const void *owner);
/* Drop owner's pins. */
UVM_HIDDEN void uvm__memobj_unpin(const void *owner);
/* Unmap [addr, addr+len), which must lie entirely in views, else -EINVAL;
 * an object goes away with its last view. */
UVM_HIDDEN int uvm__memobj_free(uintptr_t addr, size_t len);

#endif /* UVM_MEMOBJ_H */
