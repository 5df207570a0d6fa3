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

#endif /* UVM_COMPAT_H */
