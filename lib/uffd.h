/*
 * uffd.h: every userfaultfd operation libuvm makes, in one module.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * One policy for the kernel's answers (uffd.c says why):
 *   EBUSY  (register: another userfaultfd has part of the range) -> -EEXIST
 *   EEXIST (copy: a page is already there, another thread won)   -> 0
 *   ENOENT (a part of the range is not, or no longer, registered:
 *           unmapped or remapped since)                          -> -ENOENT
 *   EAGAIN (the address space changed under the call)            -> retried
 * and one refusal: a descriptor is used only by the process that opened
 * it.  Any call from another process (a fork() child holding the parent's
 * descriptor) fails with -ECHILD and changes nothing: the descriptor acts
 * on the parent's memory, never the child's.
 *
 * Every function is AS-safe (system calls only): the PROT backend and the
 * snapshots call them from region handlers.
 */
#ifndef UVM_UFFD_H
#define UVM_UFFD_H

#include "uvm-int.h"

/* A close-on-exec, non-blocking userfaultfd with the API handshake done and
 * every bit of features granted, owned by the calling process.  Returns the
 * descriptor, -ENOTSUP when the kernel lacks a feature, -EMFILE past the
 * descriptors uffd.c can track, or the negative errno of userfaultfd(2). */
UVM_HIDDEN int uvm__uffd_open(uint64_t features);

/* Close fd (in any process: closing a copy acts on no memory). */
UVM_HIDDEN void uvm__uffd_close(int fd);

/* Does the calling process own fd?  1 or 0. */
UVM_HIDDEN int uvm__uffd_mine(int fd);

/* UFFDIO_REGISTER [start, start+len) with mode (UFFDIO_REGISTER_MODE_*).
 * 0, -ECHILD, -EEXIST (registered elsewhere), -ENOMEM (not mapped), or
 * -ENOTSUP (memory this kind of registration cannot cover). */
UVM_HIDDEN int uvm__uffd_register(int fd, uintptr_t start, size_t len,
                                  uint64_t mode);

/* UFFDIO_UNREGISTER.  0, -ECHILD or another negative errno. */
UVM_HIDDEN int uvm__uffd_unregister(int fd, uintptr_t start, size_t len);

/* UFFDIO_WRITEPROTECT: set (on) or clear the write-protection of
 * [start, start+len).  0, -ECHILD, -ENOENT (some part not registered:
 * the parts before it may have changed), or another negative errno. */
UVM_HIDDEN int uvm__uffd_wp(int fd, uintptr_t start, size_t len, int on);
/* The same for pages pg[0..n) (ascending indexes from base), one ioctl a
 * run of neighbours and one ownership check for all: a snapshot's take
 * re-protects thousands of scattered pages, and a getpid each cost as
 * much as half the ioctl on a host with costly system calls. */
UVM_HIDDEN int uvm__uffd_wp_pages(int fd, uintptr_t base, const uint32_t *pg,
                                  size_t n, int on);

/* UFFDIO_COPY len bytes from src to dst (mode: UFFDIO_COPY_MODE_*).
 * 0 (also when the page was there already), -ECHILD or -errno. */
UVM_HIDDEN int uvm__uffd_copy(int fd, uintptr_t dst, const void *src,
                              size_t len, uint64_t mode);

#endif
