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
    int anon;               /* private anonymous memory (no file, not
                               shared): what MADV_DONTNEED empties */
    int shared;             /* MAP_SHARED */
    /* The mapped file, where PROCMAP_QUERY tells (else all 0): its device
     * and inode, the file offset of start in bytes, and the mapping's page
     * size (larger than the base page for hugetlbfs). */
    uint32_t dev_major, dev_minor;
    uint64_t ino, offset, page_size;
};

/* The mapping containing addr.  0, -ENOMEM (addr not mapped) or another
 * negative errno.  AS-safe. */
UVM_HIDDEN int uvm__vma_query(uintptr_t addr, struct uvm__vma *out);

/* Does uvm__vma_query answer with one system call (PROCMAP_QUERY, Linux
 * 6.11) rather than by reading the maps text?  AS-safe. */
UVM_HIDDEN int uvm__vma_fast(void);

/* Call fn(line, end, arg) for each line [line, end) of /proc/self/maps,
 * read into a stack buffer (a line longer than 4 KiB is skipped), until fn
 * returns non-zero.  Returns that value, 0 at the end of the file, or a
 * negative errno if it cannot be opened.  AS-safe (if fn is). */
UVM_HIDDEN int uvm__maps_foreach(int (*fn)(const char *line, const char *end,
                                           void *arg),
                                 void *arg);

/* The lowercase hex number at *p (before end): 1 and *p moved past it, or
 * 0 if there is none.  AS-safe. */
UVM_HIDDEN int uvm__maps_hex(const char **p, const char *end, uint64_t *v);

/* The process's budget of kernel mappings for the mprotect fallbacks that
 * split a range (DIRTY's mprotect method, snapshots without userfaultfd):
 * reserve need mappings, 0 or -ENOMEM when the mappings in use, those
 * reserved and need would pass vm.max_map_count minus a margin; release
 * what was reserved.  Not AS-safe (a mutex): call from entry points. */
UVM_HIDDEN int uvm__map_budget_reserve(size_t need);
UVM_HIDDEN void uvm__map_budget_release(size_t n);

/* After fork(): forget the parent's procfs descriptor. */
UVM_HIDDEN void uvm__vma_atfork_child(void);
/* fork() support: the mapping budget's mutex (version.c). */
UVM_HIDDEN void uvm__map_budget_lock(void);
UVM_HIDDEN void uvm__map_budget_unlock(void);

#endif
