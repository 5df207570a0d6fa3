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
 */
#include "thread.h"
#include "region.h"

#include <sched.h>
#include <signal.h>
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

const char uvm__probe_cookie = 'p';

UVM_AS_SAFE static void record_reset(struct uvm__thread *t)
{
    for (int i = 0; i < UVM__HAZARDS; i++)
        atomic_store(&t->hazard[i], NULL);
    for (int i = 0; i < UVM_MAX_NESTING; i++)
        atomic_store(&t->call[i].region, NULL);
    atomic_store(&t->ncalls, 0);
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

UVM_AS_SAFE struct uvm__thread *uvm__thread_self(void)
{
    struct uvm__thread *t = self;
    if (UVM_LIKELY(t != NULL))
        return t;
    pid_t tid = uvm__gettid();
    t = record_claim(tid, 0);
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
    self = t;
    return t;
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

UVM_AS_SAFE static int on_stack(uintptr_t p, const stack_t *alt)
{
    if (alt == NULL || (alt->ss_flags & SS_DISABLE) || alt->ss_size == 0)
        return 0;
    uintptr_t lo = (uintptr_t)alt->ss_sp;
    return p >= lo && p < lo + alt->ss_size;
}

UVM_AS_SAFE int uvm__call_push(struct uvm__thread *t, struct uvm_region *r,
                               uintptr_t frame, const stack_t *alt)
{
    for (int i = 0; i < UVM_MAX_NESTING; i++) {
        struct uvm__call *c = &t->call[i];
        if (atomic_load_explicit(&c->region, memory_order_relaxed) != NULL)
            continue;
        c->frame = frame;
        c->on_alt = on_stack(frame, alt);
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
    if (c->on_alt)
        return !sp_alt || sp > c->frame;
    /* A frame on the ordinary stack while sp is on the alternate stack may
     * still be live (a nested fault): keep it. */
    return !sp_alt && sp > c->frame;
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
    volatile char here = 0;
    stack_t alt;
    if (sigaltstack(NULL, &alt) != 0)
        alt.ss_flags = SS_DISABLE;
    uvm__calls_prune(t, (uintptr_t)&here, &alt);
    /* Any call in flight on this thread is below us on the stack: if one of
     * them is r's, r's handler cannot return before we do. */
    return record_has_call(t, r);
}

/* Ask thread tid to prune its abandoned calls (the probe, see dispatch.c). */
static void calls_probe(pid_t tid)
{
    siginfo_t si;
    __builtin_memset(&si, 0, sizeof si);
    si.si_signo = SIGSEGV;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_ptr = (void *)&uvm__probe_cookie;
    uvm__tgsigqueue(tid, SIGSEGV, &si);
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
                    /* The thread is gone; its record can be reused. */
                    record_reset(t);
                    atomic_store(&t->tid, 0);
                } else if (uvm__dispatch_installed()) {
                    calls_probe(tid);
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
