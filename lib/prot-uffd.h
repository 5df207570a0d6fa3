/*
 * prot-uffd.h: what the rest of libuvm calls of the userfaultfd
 * protection backend (prot-uffd.c; its operations are in prot-backend.h).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 */
#ifndef UVM_PROT_UFFD_H
#define UVM_PROT_UFFD_H

#include "uvm-int.h"

struct uvm_region;

/* uvm_untrap, before the region leaves the table: give r's
 * write-protected pages to mprotect and unregister it, excluding every
 * protection change meanwhile.  Not AS-safe. */
UVM_HIDDEN void uvm__prot_uffd_release(struct uvm_region *r);

/* fork() child: the same for every region, and close the descriptor. */
UVM_HIDDEN void uvm__prot_uffd_atfork_child(void);

/* Compare the write-protect bits libuvm keeps with the kernel's (bit 57
 * of /proc/self/pagemap), writing each difference to stderr.  Returns the
 * number of differences or a negative errno.  Not AS-safe; call when no
 * other thread changes protections. */
UVM_HIDDEN int uvm__prot_uffd_audit(void);

#endif
