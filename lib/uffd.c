/*
 * uffd.c: opening a userfaultfd, for DIRTY, PROT and snapshots alike.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: which kind of descriptor this process may have.  With
 * vm.unprivileged_userfaultfd = 0 an unprivileged process gets EPERM for a
 * full descriptor but may have a user-mode-only one (UFFD_USER_MODE_ONLY,
 * Linux 5.11), which is all libuvm needs: write faults of user code.  The
 * kind that worked is remembered so that later opens make one system call.
 *
 * Must never: allocate, lock or use stdio (AS-safe: prot-uffd.c opens its
 * descriptor from region handlers).
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

/* (a) 0: try a full descriptor first; 1: user-mode-only works here. */
static atomic_int user_mode_only;

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
    struct uffdio_api api = { .api = UFFD_API, .features = features };
    if (ioctl(fd, UFFDIO_API, &api) != 0 ||
        (api.features & features) != features) {
        close(fd);
        return -ENOTSUP;
    }
    return fd;
}
