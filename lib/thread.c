/*
 * thread.c: per-thread records: hazard pointers and in-flight handler calls.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the pool of thread records and the two waits writers need: "no
 * reader holds this table version" (uvm__hazard_wait) and "no thread runs a
 * handler of this region" (uvm__calls_wait).
 *
 * Must never: allocate with malloc or take a lock on the paths marked
 * UVM_AS_SAFE; unmap a chunk of records (readers keep raw pointers).
 *
 * Invariants:
 *  .inv.owner   Only the owning thread writes its record's hazard and call
 *               slots (possibly from nested signal handlers, which is why
 *               slots are claimed with compare-and-swap, never by index).
 *  .inv.hazard  A reader publishes a hazard and re-reads the root before
 *               trusting it; a writer that has published a new root and seen
 *               every hazard differ from the old one may free the old one.
 *  .inv.push    A call is recorded while the table version it was found in is
 *               still protected, so a writer that has waited out the hazards
 *               sees every call that could still run the region's handler.
 *
 * siglongjmp out of a handler: the call slot stays set.  A frame is known to
 * be abandoned when the thread's stack pointer is above it (stacks grow
 * down) on the same stack, or when the frame is on the alternate signal
 * stack and the thread no longer runs there.  The owning thread prunes at
 * its next fault and in uvm_untrap; for other threads uvm_untrap sends a
 * probe signal whose handler prunes with the interrupted stack pointer.
 *
 * Alternate signal stacks (.altstack).  A thread whose stack overflows can
 * only be told so on another stack: the kernel cannot push a signal frame
 * below a stack pointer that sits in the guard page.  libuvm's action has
 * SA_ONSTACK, and libuvm gives each thread it meets an alternate stack of
 * its own (libsigsegv's stackoverflow_install_handler does this for one
 * thread only, with a stack the caller provides):
 *  - when: the first time the thread is in libuvm with no handler call in
 *    flight: in uvm_trap or uvm_touch (uvm__dispatch_install), in any other
 *    call that claims a record (uvm__thread_self), or when its first region
 *    handler returns (dispatch.c).  Never while a call is in flight, so the
 *    frames of in-flight calls stay on the stack they were recorded on.
 *    sigreturn restores the alternate stack of the interrupted context, so
 *    in the fault path the stack is written into the ucontext's uc_stack
 *    (native layer); the libsigsegv layer has no ucontext and installs
 *    none there: a thread it meets only in region handlers gets none.  A
 *    record first claimed in a signal handler that is not libuvm's (say
 *    uvm_prot1 from a SIGALRM handler) gets its stack undone likewise;
 *  - never over the thread's own: a thread that has an alternate stack
 *    (sigaltstack(2) says it is enabled) keeps it, and libuvm's is not
 *    installed for that owner;
 *  - what: mmap'd, read-write, with a PROT_NONE guard page below it, so a
 *    handler that overflows the alternate stack faults in the guard and
 *    the kernel, unable to push a frame there, kills the process with
 *    SIGSEGV instead of letting it write below;
 *  - lifetime: the mapping belongs to the record, not to the thread.  A
 *    thread's exit leaves its record claimed (nothing in libuvm runs at
 *    thread exit: a pthread key destructor would need pthread_setspecific,
 *    which may allocate and is not async-signal-safe, and records are
 *    claimed in signal handlers); a record is reused only once its thread
 *    no longer exists (tgkill says ESRCH), and then its stack is reused
 *    too.  A dead thread cannot be running on it, so the stack is never
 *    unmapped or shared while a thread can still use it.  Stacks in
 *    existence <= records ever claimed <= the peak number of threads that
 *    used libuvm at once, plus a chunk's worth (free records are taken
 *    before dead ones).  Only touched pages cost memory.
 * A thread that never calls libuvm and never faults on a region has no
 * alternate stack from libuvm: its overflow kills it with SIGSEGV, without
 * the report (the kernel cannot push the frame), never a hang.
 */
#include "thread.h"
#include "region.h"
#include "fault-layer.h"

#include <sched.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES (64 * 1024)
#define CHUNK_RECORDS \
    ((CHUNK_BYTES - sizeof(void *)) / sizeof(struct uvm__thread))

struct chunk {
    struct chunk *next;                       /* (c) after publication */
    struct uvm__thread rec[CHUNK_RECORDS];
};

/* All chunks ever mapped; pushed with CAS, never removed. */
static _Atomic(struct chunk *) chunks;

/* The calling thread's record.  initial-exec TLS: reading it from a signal
 * handler cannot call __tls_get_addr (which may allocate). */
static __thread struct uvm__thread *self
    __attribute__((tls_model("initial-exec")));

/* alt_mem is kept: the stack passes to the record's next owner. */
UVM_AS_SAFE static void record_reset(struct uvm__thread *t)
{
    for (int i = 0; i < UVM__HAZARDS; i++)
        atomic_store(&t->hazard[i], NULL);
    for (int i = 0; i < UVM_MAX_NESTING; i++)
        atomic_store(&t->call[i].region, NULL);
    atomic_store(&t->ncalls, 0);
    UVM__T_STORE(t->alt_done, 0);
    UVM__T_STORE(t->stack_hint, 0);
    atomic_store(&t->probes, 0);
    UVM__T_STORE(t->gone_page, 0);
    UVM__T_STORE(t->gone_id, 0);
}

/* Claim a free record, or the record of a thread that has exited. */
UVM_AS_SAFE static struct uvm__thread *record_claim(pid_t tid, int reuse_dead)
{
    for (struct chunk *c = atomic_load(&chunks); c; c = c->next) {
        for (size_t i = 0; i < CHUNK_RECORDS; i++) {
            struct uvm__thread *t = &c->rec[i];
            pid_t old = atomic_load(&t->tid);
            if (old == 0 || (reuse_dead && uvm__tgkill0(old) == -ESRCH)) {
                if (atomic_compare_exchange_strong(&t->tid, &old, tid)) {
                    record_reset(t);
                    return t;
                }
            }
        }
    }
    return NULL;
}

/* An address on the stack the thread runs on, unless that is an
 * alternate signal stack (the record is being claimed in a handler). */
UVM_AS_SAFE static uintptr_t record_stack_hint(void)
{
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK))
        return 0;
    return (uintptr_t)__builtin_frame_address(0);
}

UVM_AS_SAFE static struct uvm__thread *record_new(void)
{
    pid_t tid = uvm__gettid();
    struct uvm__thread *t = record_claim(tid, 0);
    if (t == NULL)
        t = record_claim(tid, 1);
    if (t == NULL) {
        struct chunk *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (c == MAP_FAILED)
            return NULL;
        atomic_store(&c->rec[0].tid, tid);   /* fresh zeroed memory */
        c->next = atomic_load(&chunks);
        while (!atomic_compare_exchange_weak(&chunks, &c->next, c))
            ;
        t = &c->rec[0];
    }
    UVM__T_STORE(t->stack_hint, record_stack_hint());
    self = t;
    return t;
}

UVM_AS_SAFE struct uvm__thread *uvm__thread_peek(void)
{
    return self;
}

UVM_AS_SAFE struct uvm__thread *uvm__thread_get(void)
{
    struct uvm__thread *t = self;
    return UVM_LIKELY(t != NULL) ? t : record_new();
}

UVM_AS_SAFE struct uvm__thread *uvm__thread_self(void)
{
    struct uvm__thread *t = uvm__thread_get();
    if (t != NULL && UVM_UNLIKELY(!UVM__T_LOAD(t->alt_done)))
        uvm__thread_altstack(t, NULL);
    return t;
}

/* ---- alternate signal stacks (.altstack) ---- */

/* Room for UVM_MAX_NESTING nested faults, each a kernel signal frame (its
 * size is AT_MINSIGSTKSZ, with the CPU's extended state: 3376 bytes on
 * this project's AMD EPYC machines)
 * plus the dispatcher's frames and a modest handler, and for the report
 * of an unclaimed fault (libunwind's cursor).  256 KiB at least; only the
 * touched pages are ever backed by memory. */
#define ALT_MIN_BYTES   (256 * 1024)
#define ALT_PER_NEST    (4 * 1024)

static _Atomic size_t alt_bytes;    /* (a, idempotent) the stack's size */

UVM_AS_SAFE static size_t altstack_bytes(void)
{
    size_t n = alt_bytes;
    if (n != 0)
        return n;
    size_t frame = (size_t)getauxval(AT_MINSIGSTKSZ);
    if (frame < 2048)               /* MINSIGSTKSZ before AVX-512 */
        frame = 2048;
    n = (UVM_MAX_NESTING + 4) * (frame + ALT_PER_NEST);
    if (n < ALT_MIN_BYTES)
        n = ALT_MIN_BYTES;
    n = (n + uvm__page_mask) & ~uvm__page_mask;
    alt_bytes = n;
    return n;
}

UVM_AS_SAFE int uvm__on_altstack(uintptr_t p, const stack_t *alt)
{
    if (alt == NULL || (alt->ss_flags & SS_DISABLE) || alt->ss_size == 0)
        return 0;
    uintptr_t lo = (uintptr_t)alt->ss_sp;
    return p >= lo && p < lo + alt->ss_size;
}

UVM_AS_SAFE void uvm__thread_altstack(struct uvm__thread *t, stack_t *ret)
{
    if (UVM__T_LOAD(t->alt_done) ||
        atomic_load_explicit(&t->ncalls, memory_order_relaxed) != 0)
        return;
    UVM__T_STORE(t->alt_done, 1);
    stack_t cur;
    if (ret != NULL)
        cur = *ret;
    else if (sigaltstack(NULL, &cur) != 0)
        return;
    if (!(cur.ss_flags & SS_DISABLE))
        return;                     /* the thread's own stack: keep it */
    size_t bytes = altstack_bytes();
    char *mem = UVM__T_LOAD(t->alt_mem);
    if (mem == NULL) {
        size_t len = uvm__page_size + bytes;
        char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
                           MAP_STACK,
                       -1, 0);
        if (m == MAP_FAILED)
            return;                 /* no report on overflow, that is all */
        if (mprotect(m, uvm__page_size, PROT_NONE) != 0) {
            munmap(m, len);
            return;
        }
        UVM__T_STORE(t->alt_mem, m);
        UVM_COUNT(altstacks, 1);
        mem = m;
    }
    stack_t ss = { .ss_sp = mem + uvm__page_size,
                   .ss_size = bytes, .ss_flags = 0 };
    if (ret != NULL)
        *ret = ss;
    else
        (void)sigaltstack(&ss, NULL);
}

/* ---- hazard pointers ---- */

UVM_AS_SAFE void *uvm__hazard_acquire(struct uvm__thread *t,
                                      _Atomic(void *) *root, int *slot)
{
    int s;
    for (s = 0; s < UVM__HAZARDS; s++)
        if (atomic_load_explicit(&t->hazard[s], memory_order_relaxed) == NULL)
            break;
    if (s == UVM__HAZARDS) {
        *slot = -1;
        return NULL;
    }
    void *v = atomic_load(root);
    for (;;) {
        atomic_store(&t->hazard[s], v);          /* seq_cst: .inv.hazard */
        void *again = atomic_load(root);
        if (again == v)
            break;
        v = again;
    }
    *slot = s;
    return v;
}

UVM_AS_SAFE void uvm__hazard_release(struct uvm__thread *t, int slot)
{
    if (slot >= 0)
        atomic_store_explicit(&t->hazard[slot], NULL, memory_order_release);
}

static void pause_briefly(unsigned round)
{
    if (round < 64) {
        sched_yield();
    } else {
        struct timespec ts = { 0, round < 1000 ? 50000 : 1000000 };
        nanosleep(&ts, NULL);
    }
}

/* Free records are skipped: a thread that claims one after we looked
 * publishes its hazard after the new root was published (seq_cst), so its
 * re-read of the root (.inv.hazard) finds the new version.  Skipping them
 * keeps table updates cheap: scanning every slot of a chunk made uvm_trap
 * 10x slower once a thread had faulted (bench/uvm-bench regions row). */
void uvm__hazard_wait(void *version)
{
    if (version == NULL)
        return;
    for (struct chunk *c = atomic_load(&chunks); c; c = c->next) {
        for (size_t i = 0; i < CHUNK_RECORDS; i++) {
            struct uvm__thread *t = &c->rec[i];
            if (atomic_load(&t->tid) == 0)
                continue;
            for (int h = 0; h < UVM__HAZARDS; h++)
                for (unsigned round = 0;
                     atomic_load(&t->hazard[h]) == version; round++)
                    pause_briefly(round);
        }
    }
}

/* ---- in-flight handler calls ---- */

#define on_stack uvm__on_altstack

UVM_AS_SAFE int uvm__call_push(struct uvm__thread *t, struct uvm_region *r,
                               uintptr_t frame, const stack_t *alt)
{
    for (int i = 0; i < UVM_MAX_NESTING; i++) {
        struct uvm__call *c = &t->call[i];
        if (atomic_load_explicit(&c->region, memory_order_relaxed) != NULL)
            continue;
        UVM__T_STORE(c->frame, frame);
        UVM__T_STORE(c->on_alt, on_stack(frame, alt));
        struct uvm_region *expect = NULL;
        if (atomic_compare_exchange_strong(&c->region, &expect, r)) {
            atomic_fetch_add(&t->ncalls, 1);
            return i;
        }
    }
    return -1;
}

UVM_AS_SAFE void uvm__call_pop(struct uvm__thread *t, int slot)
{
    struct uvm__call *c = &t->call[slot];
    if (atomic_exchange(&c->region, NULL) != NULL)
        atomic_fetch_sub(&t->ncalls, 1);
}

/* Has the thread left c's frame, given that it now runs at sp? */
UVM_AS_SAFE static int call_abandoned(const struct uvm__call *c, uintptr_t sp,
                                      const stack_t *alt)
{
    int sp_alt = on_stack(sp, alt);
    uintptr_t frame = UVM__T_LOAD(c->frame);
    if (UVM__T_LOAD(c->on_alt))
        return !sp_alt || sp > frame;
    /* A frame on the ordinary stack while sp is on the alternate stack may
     * still be live (a nested fault): keep it. */
    return !sp_alt && sp > frame;
}

UVM_AS_SAFE void uvm__calls_prune(struct uvm__thread *t, uintptr_t sp,
                                  const stack_t *alt)
{
    if (atomic_load_explicit(&t->ncalls, memory_order_relaxed) == 0)
        return;
    for (int i = 0; i < UVM_MAX_NESTING; i++) {
        struct uvm__call *c = &t->call[i];
        if (atomic_load_explicit(&c->region, memory_order_relaxed) != NULL &&
            call_abandoned(c, sp, alt))
            uvm__call_pop(t, i);
    }
}

static int record_has_call(struct uvm__thread *t, struct uvm_region *r)
{
    if (atomic_load(&t->ncalls) == 0)
        return 0;
    for (int i = 0; i < UVM_MAX_NESTING; i++)
        if (atomic_load(&t->call[i].region) == r)
            return 1;
    return 0;
}

int uvm__calls_self_in(struct uvm_region *r)
{
    struct uvm__thread *t = self;
    if (t == NULL)
        return 0;
    stack_t alt;
    if (sigaltstack(NULL, &alt) != 0)
        alt.ss_flags = SS_DISABLE;
    /* Where we run: the frame address, which a sanitizer's fake stack
     * does not move as it may move a local. */
    uvm__calls_prune(t, (uintptr_t)__builtin_frame_address(0), &alt);
    /* Any call in flight on this thread is below us on the stack: if one of
     * them is r's, r's handler cannot return before we do. */
    return record_has_call(t, r);
}

/* Probe only calls that outlive a short grace period: most calls simply
 * return, and a probe may interrupt a system call of the target (EINTR). */
#define PROBE_AFTER_ROUNDS 200
#define PROBE_EVERY_ROUNDS 100

void uvm__calls_wait(struct uvm_region *r)
{
    struct uvm__thread *me = self;
    for (unsigned round = 0;; round++) {
        int busy = 0;
        for (struct chunk *c = atomic_load(&chunks); c; c = c->next) {
            for (size_t i = 0; i < CHUNK_RECORDS; i++) {
                struct uvm__thread *t = &c->rec[i];
                pid_t tid = atomic_load(&t->tid);
                if (t == me || tid == 0 || !record_has_call(t, r))
                    continue;
                busy = 1;
                if (round < PROBE_AFTER_ROUNDS ||
                    round % PROBE_EVERY_ROUNDS != 0)
                    continue;
                if (uvm__tgkill0(tid) == -ESRCH) {
                    /* The thread is gone; its record can be reused.  Only
                     * the tid is cleared, and only if nobody claimed the
                     * record meanwhile: the claimer resets the rest. */
                    atomic_compare_exchange_strong(&t->tid, &tid, 0);
                } else {
                    uvm__fault_probe(t, tid);
                }
            }
        }
        if (!busy)
            return;
        pause_briefly(round);
    }
}

/* After fork() the child's only thread keeps its parent's record (memory is
 * copied) under the parent's thread id: give it the child's id, so that no
 * one takes the record for a dead thread's. */
void uvm__thread_atfork_child(void)
{
    if (self != NULL)
        atomic_store(&self->tid, uvm__gettid());
}
