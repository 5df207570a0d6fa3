/*
 * uffd.c: every userfaultfd operation, for DIRTY, PROT and snapshots alike.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: which kind of descriptor this process may have, and which process
 * owns each descriptor libuvm opened.  With vm.unprivileged_userfaultfd = 0
 * an unprivileged process gets EPERM for a full descriptor but may have a
 * user-mode-only one (UFFD_USER_MODE_ONLY, Linux 5.11), which is all libuvm
 * needs: write faults of user code.  The kind that worked is remembered so
 * that later opens make one system call.
 *
 * The owner check: a userfaultfd is bound to the memory of the process that
 * created it.  A fork() child inherits the descriptor, and every ioctl it
 * makes acts on the parent (a child that "unprotects" a page would open a
 * hole in the parent's write barrier).  The owner is recorded per
 * descriptor number at open; every operation compares it with getpid()
 * (a system call: glibc caches nothing since 2.25, and a child made by a
 * raw clone() runs no atfork handler, so nothing cheaper is reliable).
 *
 * Policy for the kernel's answers, the same for every caller (uffd.h):
 * EBUSY on register means another userfaultfd (a DIRTY tracker, a snapshot,
 * the program's own) has the range: the caller's range "exists" elsewhere,
 * -EEXIST, the code uvm_snapshot and uvm_dirty_start give for overlap.
 * EEXIST on copy means another thread resolved the same missing page first:
 * success.  ENOENT means part of the range is not registered with this
 * descriptor (the program unmapped or remapped it): passed up, each caller
 * falls back to what it would do without userfaultfd.  EAGAIN means the
 * address space was changing (mmap_changing): the call is simply retried.
 *
 * Must never: allocate, lock or use stdio (AS-safe: prot-uffd.c and the
 * snapshots call these from region handlers); act in a process that does
 * not own the descriptor.
 */
#include "uffd.h"
#include "compat.h"
#include "fault-layer.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define UFFD_FLAGS (O_CLOEXEC | O_NONBLOCK)
/* Descriptors whose owner can be recorded; a static table indexed by the
 * descriptor (bss: only the pages touched cost memory).  A higher
 * descriptor is closed again and the caller falls back to mprotect. */
#define UFFD_MAXFD 65536
#define EAGAIN_TRIES 64

/* (a) 0: try a full descriptor first; 1: user-mode-only works here. */
static atomic_int user_mode_only;
/* (a) owner[fd]: the pid that opened fd with uvm__uffd_open, or 0. */
static _Atomic pid_t owner[UFFD_MAXFD];

UVM_AS_SAFE static int uffd_syscall(void)
{
    if (!atomic_load(&user_mode_only)) {
        int fd = (int)syscall(SYS_userfaultfd, UFFD_FLAGS);
        if (fd >= 0 || errno != EPERM)
            return fd >= 0 ? fd : -errno;
    }
    int fd = (int)syscall(SYS_userfaultfd, UFFD_FLAGS | UFFD_USER_MODE_ONLY);
    if (fd < 0)
        return -errno;
    atomic_store(&user_mode_only, 1);
    return fd;
}

UVM_AS_SAFE int uvm__uffd_open(uint64_t features)
{
    /* Write faults reported as SIGBUS need a fault layer that delivers
     * SIGBUS (fault-layer.h); without one, callers fall back to mprotect. */
    if ((features & UFFD_FEATURE_SIGBUS) &&
        !(uvm__fault_caps & UVM__FAULT_SIGBUS))
        return -ENOTSUP;
    int fd = uffd_syscall();
    if (fd < 0)
        return fd;
    if (fd >= UFFD_MAXFD) {
        close(fd);
        return -EMFILE;
    }
    struct uffdio_api api = { .api = UFFD_API, .features = features };
    if (ioctl(fd, UFFDIO_API, &api) != 0 ||
        (api.features & features) != features) {
        close(fd);
        return -ENOTSUP;
    }
    atomic_store(&owner[fd], getpid());
    return fd;
}

UVM_AS_SAFE int uvm__uffd_mine(int fd)
{
    return fd >= 0 && fd < UFFD_MAXFD && atomic_load(&owner[fd]) == getpid();
}

UVM_AS_SAFE void uvm__uffd_close(int fd)
{
    if (fd < 0)
        return;
    if (fd < UFFD_MAXFD)
        atomic_store(&owner[fd], 0);
    close(fd);
}

/* The ioctl, retried while the address space is changing.  0 or -errno.
 * The caller has checked the descriptor is this process's. */
UVM_AS_SAFE static int uffd_ioctl_mine(int fd, unsigned long req, void *arg)
{
    for (int i = 0; i < EAGAIN_TRIES; i++) {
        if (ioctl(fd, req, arg) == 0)
            return 0;
        if (errno != EAGAIN)
            return -errno;
    }
    return -EAGAIN;
}

/* The same, checking first (a getpid: one system call). */
UVM_AS_SAFE static int uffd_ioctl(int fd, unsigned long req, void *arg)
{
    if (!uvm__uffd_mine(fd))
        return -ECHILD;
    return uffd_ioctl_mine(fd, req, arg);
}

UVM_AS_SAFE int uvm__uffd_register(int fd, uintptr_t start, size_t len,
                                   uint64_t mode)
{
    struct uffdio_register reg = {
        .range = { .start = start, .len = len },
        .mode = mode,
    };
    int rc = uffd_ioctl(fd, UFFDIO_REGISTER, &reg);
    switch (rc) {
    case 0:
    case -ECHILD:
    case -ENOMEM:
        return rc;
    case -EBUSY:
        return -EEXIST;
    default:            /* EINVAL, EPERM: not memory this can register */
        return -ENOTSUP;
    }
}

UVM_AS_SAFE int uvm__uffd_unregister(int fd, uintptr_t start, size_t len)
{
    struct uffdio_range r = { .start = start, .len = len };
    return uffd_ioctl(fd, UFFDIO_UNREGISTER, &r);
}

UVM_AS_SAFE int uvm__uffd_wp(int fd, uintptr_t start, size_t len, int on)
{
    struct uffdio_writeprotect wp = {
        .range = { .start = start, .len = len },
        .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
    };
    return uffd_ioctl(fd, UFFDIO_WRITEPROTECT, &wp);
}

UVM_AS_SAFE int uvm__uffd_wp_pages(int fd, uintptr_t base,
                                   const uint32_t *pg, size_t n, int on)
{
    if (!uvm__uffd_mine(fd))           /* once for the batch */
        return -ECHILD;
    for (size_t k = 0; k < n;) {
        size_t e = k + 1;
        while (e < n && pg[e] == pg[e - 1] + 1)
            e++;
        struct uffdio_writeprotect wp = {
            .range = { .start = base + (uintptr_t)pg[k] * uvm__page_size,
                       .len = (e - k) * uvm__page_size },
            .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
        };
        int rc = uffd_ioctl_mine(fd, UFFDIO_WRITEPROTECT, &wp);
        if (rc < 0)
            return rc;
        k = e;
    }
    return 0;
}

UVM_AS_SAFE int uvm__uffd_copy(int fd, uintptr_t dst, const void *src,
                               size_t len, uint64_t mode)
{
    struct uffdio_copy cp = {
        .dst = dst, .src = (uintptr_t)src, .len = len, .mode = mode,
    };
    int rc = uffd_ioctl(fd, UFFDIO_COPY, &cp);
    return rc == -EEXIST ? 0 : rc;
}
