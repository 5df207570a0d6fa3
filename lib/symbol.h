/*
 * symbol.h: the function around a code address, found without malloc.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 */
#ifndef UVM_SYMBOL_H
#define UVM_SYMBOL_H

#include "uvm-int.h"

/* The name of the function that contains ip, from the symbol table of the
 * file mapped there, into name (cap bytes, NUL-terminated, truncated if
 * need be), and ip's offset from its start into *off.  0, or -ENOENT when
 * no mapped file or no symbol covers ip.  AS-safe: system calls only. */
UVM_HIDDEN int uvm__symbol_name(uintptr_t ip, char *name, size_t cap,
                                uintptr_t *off);

#endif /* UVM_SYMBOL_H */
