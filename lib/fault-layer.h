/*
 * fault-layer.h: how a fault reaches the dispatcher, and back.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Fault delivery is a backend chosen by configure (--with-fault-layer), one
 * file per mechanism, the way libsigsegv picks a handler-*.c per platform
 * and 4.4BSD keeps the pmap under vm_map:
 *
 *   fault-native.c   sigaction(2) on SIGSEGV and SIGBUS; the access type,
 *                    the stack pointer and the alternate stack from the
 *                    ucontext (fault-x86_64.h); unclaimed faults chained to
 *                    the actions installed before libuvm.
 *   fault-sigsegv.c  GNU libsigsegv: the fault address only (access
 *                    UNKNOWN, no ucontext, no siginfo); SIGSEGV only, as
 *                    libsigsegv catches on Linux; unclaimed faults take the
 *                    default action (libsigsegv keeps no previous action).
 *
 * A layer turns a signal into a struct uvm__sig and calls the dispatcher
 * core (dispatch.c), which owns everything that does not depend on how the
 * signal arrived: the region lookup, the in-flight record of the handler
 * call, the nesting bound, uvm_touch's escape, and the last words about an
 * unclaimed fault (stack overflow or not).  The core calls the layer only
 * to install it, to ask whether it is still installed, and to probe a
 * thread (thread.c, uvm__calls_wait).
 *
 * Must never: let a layer look up regions or run handlers itself; let the
 * core call sigaction(2) for SIGSEGV/SIGBUS or read a ucontext.
 */
#ifndef UVM_FAULT_LAYER_H
#define UVM_FAULT_LAYER_H

#include "uvm-int.h"

struct uvm__thread;

/* One signal as the layer saw it.  Lives on the layer's handler frame. */
struct uvm__sig {
    int            sig;        /* SIGSEGV or SIGBUS */
    void          *addr;       /* the fault address */
    int            addr_ok;    /* addr is an address (not x86's #GP) */
    int            access;     /* enum uvm_access; UNKNOWN if not known */
    void          *uc;         /* the ucontext_t, or NULL */
    siginfo_t     *si;         /* the siginfo, or NULL */
    /* The interrupted stack pointer (sp_exact), or else an address in the
     * layer's handler frame: above every frame the core pushes for this
     * signal, below every frame of an outer signal on the same stack,
     * which is all the in-flight calls (thread.c) need to know. */
    uintptr_t      sp;
    int            sp_exact;
    const stack_t *alt;        /* the thread's alternate stack at delivery */
    /* The alternate stack sigreturn will restore (the ucontext's
     * uc_stack), where the core may install the thread's; or NULL: then it
     * installs none during this signal (a sigaltstack(2) call in a handler
     * is undone by sigreturn). */
    stack_t       *alt_ret;
};

/* ---- the core (dispatch.c), for the layers; all AS-safe ---- */

/* Run the handler of the region containing s->addr.  UVM_RETRY: resolved,
 * re-execute.  UVM_DECLINE: no region claimed it (uvm_touch's escape was
 * tried first); the layer takes its previous or default action. */
UVM_HIDDEN int uvm__dispatch_fault(const struct uvm__sig *s);
/* The probe arrived: forget the calls s->sp shows were abandoned. */
UVM_HIDDEN void uvm__dispatch_prune(const struct uvm__sig *s);
/* The last words before the default action: a one-line stack overflow
 * report, or the "no libuvm region" line and a backtrace (diag.c). */
UVM_HIDDEN void uvm__dispatch_report(const struct uvm__sig *s);

/* ---- the layer (fault-native.c or fault-sigsegv.c) ---- */

/* What a layer delivers, in uvm__fault_caps. */
#define UVM__FAULT_SIGBUS  0x1   /* SIGBUS faults reach the dispatcher */
#define UVM__FAULT_ACCESS  0x2   /* uvm_fault.access is known */
#define UVM__FAULT_CONTEXT 0x4   /* uvm_fault.ucontext is set */
#define UVM__FAULT_CHAIN   0x8   /* unclaimed faults go to the prior action */

UVM_HIDDEN extern const char uvm__fault_layer_name[];   /* (c) */
UVM_HIDDEN extern const unsigned uvm__fault_caps;       /* (c) */

/* Install the layer's actions.  Called once (dispatch.c's pthread_once);
 * 0 or a negative errno.  Not AS-safe. */
UVM_HIDDEN int uvm__fault_install(void);
/* Is the layer's SIGSEGV action still the process's?  AS-safe. */
UVM_HIDDEN int uvm__fault_installed(void);
/* Ask thread tid (record t) to prune its abandoned calls: a signal the
 * layer recognises and hands to uvm__dispatch_prune.  Not AS-safe. */
UVM_HIDDEN void uvm__fault_probe(struct uvm__thread *t, pid_t tid);

#endif /* UVM_FAULT_LAYER_H */
