/*
 * uffd.h: opening a userfaultfd, the one way libuvm does it.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 */
#ifndef UVM_UFFD_H
#define UVM_UFFD_H

#include "uvm-int.h"

/* A close-on-exec, non-blocking userfaultfd with the API handshake done and
 * every bit of features granted.  Returns the descriptor, -ENOTSUP when the
 * kernel lacks a feature, or the negative errno of userfaultfd(2).  AS-safe
 * (system calls only): the PROT backend opens it from region handlers. */
UVM_HIDDEN int uvm__uffd_open(uint64_t features);

#endif
