/*
 * fault-x86_64.h: what the x86-64 Linux signal context says about a fault.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Machine knowledge is kept in this one small header (libsigsegv's
 * fault-*.h): the page-fault error code the kernel copies into
 * uc_mcontext.gregs[REG_ERR], the trap number, and the stack pointer.
 * Measured here: read of PROT_NONE 0x4, write to PROT_NONE 0x6, write to
 * PROT_READ 0x7, execute from PROT_READ 0x15 (doc/fault.md [fault.access]).
 */
#ifndef UVM_FAULT_X86_64_H
#define UVM_FAULT_X86_64_H

#include <ucontext.h>
#include "compat.h"

/* The access that faulted, from the hardware error code; UNKNOWN when the
 * trap was not a page fault (e.g. SIGBUS from a bus error). */
UVM_AS_SAFE static inline int fault_access(const void *ucv)
{
    const ucontext_t *uc = ucv;
    if (uc == NULL || uc->uc_mcontext.gregs[REG_TRAPNO] != UVM_X86_TRAP_PF)
        return UVM_ACCESS_UNKNOWN;
    unsigned long err = (unsigned long)uc->uc_mcontext.gregs[REG_ERR];
    if (err & UVM_X86_PF_INSTR)
        return UVM_ACCESS_EXEC;
    if (err & UVM_X86_PF_WRITE)
        return UVM_ACCESS_WRITE;
    return UVM_ACCESS_READ;
}

/* The interrupted stack pointer. */
UVM_AS_SAFE static inline uintptr_t fault_sp(const void *ucv)
{
    const ucontext_t *uc = ucv;
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
}

/* The thread's alternate signal stack as it was at delivery. */
UVM_AS_SAFE static inline const stack_t *fault_altstack(const void *ucv)
{
    return &((const ucontext_t *)ucv)->uc_stack;
}

#endif /* UVM_FAULT_X86_64_H */
