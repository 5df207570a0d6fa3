/*
 * thread.h: what each thread is doing inside libuvm's fault path.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Every thread that takes a fault owns one record.  The record says which
 * version of the region table the thread is reading (hazard pointers,
 * Michael 2004) and which region handlers it is running (in-flight calls).
 * Writers read all records to know when a table version or a region may be
 * freed.  Records live in mmap'd chunks that are never unmapped, so a
 * reader never finds a record gone (type-stable memory).
 *
 * A record also holds libuvm's alternate signal stack for its thread (so
 * that a stack overflow can be reported, see thread.c): the stack stays
 * with the record and passes to the next thread that claims it.
 */
#ifndef UVM_THREAD_H
#define UVM_THREAD_H

#include "uvm-int.h"

#define UVM__HAZARDS (UVM_MAX_NESTING + 4)

/* Fields marked (t) are written only by the record's owner, but a record
 * passes to a new owner once the old one has exited (thread.c,
 * record_claim), an order the kernel makes and ThreadSanitizer cannot
 * see: they are relaxed atomics (plain moves on x86-64), read and written
 * with UVM__T_LOAD and UVM__T_STORE. */
#define UVM__T_LOAD(f) atomic_load_explicit(&(f), memory_order_relaxed)
#define UVM__T_STORE(f, v) atomic_store_explicit(&(f), (v), \
                                                 memory_order_relaxed)

struct uvm__call {                         /* one handler call in flight */
    _Atomic(struct uvm_region *) region;   /* (t)(a) NULL: slot free */
    _Atomic uintptr_t frame;  /* (t) address inside the dispatcher's frame */
    /* (t) the alternate stack [alt_lo, alt_hi) that frame is on, as the
     * signal found it; 0, 0: the frame is not on an alternate stack.  The
     * range is kept, not re-read: a stack armed with SS_AUTODISARM reads
     * as disabled while the handler runs on it (thread.c, .calls). */
    _Atomic uintptr_t alt_lo, alt_hi;
};

struct uvm__thread {
    _Atomic pid_t tid;   /* (a) 0: record free; -tid: being claimed */
    _Atomic(void *) hazard[UVM__HAZARDS];  /* (t)(a) table versions read */
    struct uvm__call call[UVM_MAX_NESTING];
    atomic_int ncalls;                     /* (t)(a) calls in flight */
    /* (t) libuvm's alternate stack mapping (a guard page, then the stack),
     * or NULL; kept with the record from one owner to the next, never
     * unmapped. */
    _Atomic(void *) alt_mem;
    atomic_int alt_done;   /* (t) this owner's alternate stack is settled */
    _Atomic uintptr_t stack_hint;  /* (t) an address on the owner's stack,
                                      or 0 */
    atomic_uint probes;    /* (a) probes queued to the owner (fault layer) */
    /* (t) the last fault let run again because its region had just been
     * removed (dispatch.c, .gone): its page and the removal's id. */
    _Atomic uintptr_t gone_page;
    _Atomic uint64_t gone_id;
    /* (t) CLOCK_BOOTTIME, ns, when the owner claimed the record: its
     * thread started no later, so a thread with the same id that started
     * after it is another one (tid reuse, thread.c .alive). */
    _Atomic uint64_t born;
    /* (t) the page of the fault last re-run to move the handler onto an
     * alternate stack (dispatch.c, .onalt), or 0. */
    _Atomic uintptr_t alt_retry;
};

/* The calling thread's record, claimed on first use; NULL only if no
 * memory could be mapped for a new chunk.  uvm__thread_self also gives a
 * thread with no handler call in flight its alternate signal stack
 * (uvm__thread_altstack); the fault path uses uvm__thread_get, which does
 * not, and uvm__thread_peek, which claims nothing.  AS-safe. */
UVM_HIDDEN struct uvm__thread *uvm__thread_self(void);
UVM_HIDDEN struct uvm__thread *uvm__thread_get(void);
UVM_HIDDEN struct uvm__thread *uvm__thread_peek(void);

/* Give the thread libuvm's alternate signal stack, unless it has one of
 * its own, it was settled already, or t has handler calls in flight (their
 * frames' stack must stay what it was).  Once per owner.  ret: NULL, or
 * in a signal handler the context's uc_stack, which sigreturn restores
 * (a sigaltstack(2) call there would be undone): the stack is written
 * there instead.  AS-safe. */
UVM_HIDDEN void uvm__thread_altstack(struct uvm__thread *t, stack_t *ret);
/* Is p on the alternate stack alt?  AS-safe. */
UVM_HIDDEN int uvm__on_altstack(uintptr_t p, const stack_t *alt);
/* A fault with no call in flight arrived on the ordinary stack: install
 * libuvm's alternate stack now (sigaltstack(2) and *ret, which sigreturn
 * restores), even if one was settled before.  1 if the thread now has it,
 * 0 if not (no memory, or the thread's own stack is merely disarmed).
 * AS-safe. */
UVM_HIDDEN int uvm__thread_altstack_now(struct uvm__thread *t, stack_t *ret);

/* Protect the table version stored in *root from being freed; returns it
 * and the hazard slot in *slot (-1: no slot, nothing protected).  AS-safe. */
UVM_HIDDEN void *uvm__hazard_acquire(struct uvm__thread *t,
                                     _Atomic(void *) *root, int *slot);
UVM_HIDDEN void uvm__hazard_release(struct uvm__thread *t, int slot);
/* Writers: wait until no thread holds a hazard on version.  Not AS-safe. */
UVM_HIDDEN void uvm__hazard_wait(void *version);

/* Record a call of region r's handler; frame is an address in the calling
 * dispatcher frame.  Returns the slot, or -1 when UVM_MAX_NESTING calls are
 * in flight already.  AS-safe. */
UVM_HIDDEN int uvm__call_push(struct uvm__thread *t, struct uvm_region *r,
                              uintptr_t frame, const stack_t *alt);
UVM_HIDDEN void uvm__call_pop(struct uvm__thread *t, int slot);

/* Forget the calls of t whose frames were left by siglongjmp, judged from
 * the stack pointer sp the thread runs on now and its alternate stack.
 * Only the owning thread calls it.  AS-safe. */
UVM_HIDDEN void uvm__calls_prune(struct uvm__thread *t, uintptr_t sp,
                                 const stack_t *alt);

/* Is the calling thread inside a handler call of r (or inside any handler
 * nested within one)?  Prunes abandoned calls first.  Not AS-safe. */
UVM_HIDDEN int uvm__calls_self_in(struct uvm_region *r);

/* Wait until no thread runs a handler call of r.  Threads whose call looks
 * abandoned are asked with a probe signal (uvm__fault_probe, see
 * fault-layer.h) to check their stack.  Not AS-safe. */
UVM_HIDDEN void uvm__calls_wait(struct uvm_region *r);
/* uvm_trap with UVM__REGION_* flags (for libuvm's own regions). */
UVM_HIDDEN uvm_region *uvm__trap(void *addr, size_t len, uvm_handler_fn fn,
                                 void *arg, int flags);
/* uvm_untrap for regions made by uvm__trap (uvm_untrap refuses those). */
UVM_HIDDEN int uvm__untrap(uvm_region *region);
/* Install the fault layer's action (once), and give the calling thread
 * its alternate signal stack.  0 or -errno. */
UVM_HIDDEN int uvm__dispatch_install(void);
UVM_HIDDEN void uvm__thread_atfork_child(void);

#endif /* UVM_THREAD_H */
