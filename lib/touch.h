/*
 * touch.h: how uvm_touch learns that a page stayed inaccessible.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * While a thread runs uvm_touch's access loop (and only then: the
 * dispatcher suspends it around region handler calls), a fault that no
 * region claims jumps back into uvm_touch, which returns EFAULT instead of
 * letting the process die.
 */
#ifndef UVM_TOUCH_H
#define UVM_TOUCH_H

#include "uvm-int.h"

UVM_HIDDEN void *uvm__touch_suspend(void);          /* AS-safe */
UVM_HIDDEN void uvm__touch_resume(void *saved);     /* AS-safe */
/* If the fault at addr of the thread at stack pointer sp is the access of
 * uvm_touch's loop, jump back into uvm_touch; otherwise return.  addr_ok:
 * addr is an address (not x86's #GP).  AS-safe. */
UVM_HIDDEN void uvm__touch_escape(uintptr_t sp, uintptr_t addr, int addr_ok);

#endif
