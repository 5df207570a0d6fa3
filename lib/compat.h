/*
 * compat.h: kernel ABI constants the installed headers may lack.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Debian 12 ships the 6.1 uapi headers; the machines run newer kernels.
 * Every constant is defined once, here, with the kernel version that added
 * it, and every feature is probed at run time before use: a constant being
 * defined says nothing about the running kernel.
 */
#ifndef UVM_COMPAT_H
#define UVM_COMPAT_H

#include <stdint.h>
#include <sys/ioctl.h>

/* PROCMAP_QUERY: look up the VMA covering an address through an ioctl on
 * the procfs maps file (Linux 6.11, include/uapi/linux/fs.h). */
#ifndef PROCMAP_QUERY
struct procmap_query {
    uint64_t size;
    uint64_t query_flags;     /* in */
    uint64_t query_addr;      /* in */
    uint64_t vma_start;       /* out */
    uint64_t vma_end;         /* out */
    uint64_t vma_flags;       /* out */
    uint64_t vma_page_size;   /* out */
    uint64_t vma_offset;      /* out */
    uint64_t inode;           /* out */
    uint32_t dev_major;       /* out */
    uint32_t dev_minor;       /* out */
    uint32_t vma_name_size;   /* in/out */
    uint32_t build_id_size;   /* in/out */
    uint64_t vma_name_addr;   /* in */
    uint64_t build_id_addr;   /* in */
};
#define PROCFS_IOCTL_MAGIC 'f'
#define PROCMAP_QUERY _IOWR(PROCFS_IOCTL_MAGIC, 17, struct procmap_query)
#define PROCMAP_QUERY_VMA_READABLE        0x01
#define PROCMAP_QUERY_VMA_WRITABLE        0x02
#define PROCMAP_QUERY_VMA_EXECUTABLE      0x04
#define PROCMAP_QUERY_VMA_SHARED          0x08
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
#endif

/* x86-64 trap number of a page fault (#PF), and the bits of its error code
 * (Intel SDM vol. 3, 4.7). */
#define UVM_X86_TRAP_PF       14
#define UVM_X86_PF_PRESENT    0x01
#define UVM_X86_PF_WRITE      0x02
#define UVM_X86_PF_USER       0x04
#define UVM_X86_PF_INSTR      0x10

/* ---- DIRTY (issue 3): userfaultfd asynchronous write-protection ---- */

/* Unpopulated pages of a WP-registered range count as write-protected, so
 * the first write to a page never touched is still seen (Linux 6.4,
 * include/uapi/linux/userfaultfd.h). */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
/* Write faults on WP pages are resolved by the kernel itself, which only
 * clears the PTE's uffd-wp bit: no message, no signal (Linux 6.7). */
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

/* PAGEMAP_SCAN: read page categories of a range through an ioctl on
 * /proc/PID/pagemap, optionally write-protecting what matched in the same
 * walk (Linux 6.7, include/uapi/linux/fs.h). */
#ifndef PAGEMAP_SCAN
struct page_region {
    uint64_t start;
    uint64_t end;
    uint64_t categories;
};
struct pm_scan_arg {
    uint64_t size;
    uint64_t flags;
    uint64_t start;
    uint64_t end;
    uint64_t walk_end;            /* out */
    uint64_t vec;
    uint64_t vec_len;
    uint64_t max_pages;
    uint64_t category_inverted;
    uint64_t category_mask;
    uint64_t category_anyof_mask;
    uint64_t return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WPALLOWED     (1 << 0)
#define PAGE_IS_WRITTEN       (1 << 1)
#define PAGE_IS_FILE          (1 << 2)
#define PAGE_IS_PRESENT       (1 << 3)
#define PAGE_IS_SWAPPED       (1 << 4)
#define PAGE_IS_PFNZERO       (1 << 5)
#define PAGE_IS_HUGE          (1 << 6)
#define PAGE_IS_SOFT_DIRTY    (1 << 7)
#define PM_SCAN_WP_MATCHING   (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#endif

/* Soft-dirty bit of a /proc/PID/pagemap entry (Linux 3.11,
 * Documentation/admin-guide/mm/soft-dirty.rst; no uapi header). */
#define UVM_PAGEMAP_SOFT_DIRTY (1ULL << 55)
/* The page is write-protected through userfaultfd (a present page's bit
 * or a marker in an empty entry): bit 57 of a /proc/PID/pagemap entry
 * (Linux 5.19, Documentation/admin-guide/mm/pagemap.rst). */
#define UVM_PAGEMAP_UFFD_WP (1ULL << 57)

/* sigaltstack(2): disarm the alternate stack while a handler runs on it
 * (Linux 4.7).  glibc's headers do not carry it. */
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

#endif /* UVM_COMPAT_H */
