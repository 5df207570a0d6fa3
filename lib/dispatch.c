/*
 * dispatch.c: TRAP, the fault dispatcher (its core; the fault layers are
 * fault-native.c and fault-sigsegv.c, see fault-layer.h).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the handler call of a fault (region lookup, in-flight record,
 * nesting bound, errno of the handler), what an unclaimed fault is (a stack
 * overflow or not) and the last words about it, uvm_trap, uvm_untrap and
 * uvm_fault_layer.
 *
 * The fault path is uvm__dispatch_fault and what it calls, all tagged
 * UVM_AS_SAFE: one region lookup under a hazard pointer (region.c,
 * thread.c), one handler call recorded as in flight, no lock, no
 * allocation, no stdio.  It must never run a region handler for a signal
 * the hardware did not raise (the layers filter those), and must never
 * swallow a fault no region claimed: it returns UVM_DECLINE and the layer
 * hands the fault to the previous action or the default one, so a real
 * crash still dies by its signal with a core.
 *
 * Recursion is bounded: handler calls nest at most UVM_MAX_NESTING deep
 * (thread.c refuses a deeper call: the fault is unclaimed); the layers set
 * the default action before the report is written, so a fault while
 * reporting kills the process at once; a handler that overflows libuvm's
 * alternate stack faults in its guard page, where the kernel cannot push a
 * signal frame and kills the process with SIGSEGV.
 *
 * Handlers run on an alternate stack (.onalt).  A handler that leaves by
 * siglongjmp leaves its call recorded; thread.c forgets it once the thread
 * runs off the stack the call was on, which it can tell reliably only of
 * an alternate stack (on the thread's own stack it may go deeper than the
 * abandoned frame and look as if still inside it).  So a fault that
 * arrives on the ordinary stack of a thread with no call in flight and no
 * alternate stack (a thread libuvm had not met) is not handled there: the
 * thread gets libuvm's alternate stack at once and the instruction runs
 * again, to fault on the alternate stack.  One extra fault per thread,
 * none on the fast path beyond testing the delivered stack's flags.  The
 * native layer only: the libsigsegv layer has no ucontext whose uc_stack
 * sigreturn would restore.
 *
 * Stack overflow (.overflow).  An unclaimed SIGSEGV is a stack overflow
 * when, with S the thread's stack mapping (the first read-write mapping at
 * or above the interrupted stack pointer, stepping over a PROT_NONE guard
 * and unmapped gap), the fault address lies below S by at most
 * STACK_GAP_BYTES (glibc's guard pages, or the kernel's 1 MiB
 * stack_guard_gap below a growing main stack) and no lower than
 * STACK_SLOP_BYTES below the stack pointer (a push, a call, the red zone).
 * The fault must not have been on the alternate stack.  This is
 * libsigsegv's heuristic "AC" (fault near and beyond the bottom of the
 * stack's VMA) checked against the stack pointer as in its "AB", but for
 * the faulting thread's own stack rather than the one thread that called
 * stackoverflow_install_handler.  Without the stack pointer (the
 * libsigsegv layer) S is the mapping of the address the thread's record
 * noted on its stack (thread.c, stack_hint).
 */
#include "uvm-int.h"
#include "fault-layer.h"
#include "region.h"
#include "thread.h"
#include "touch.h"
#include "prot-uffd.h"
#include "vma.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define STACK_GAP_BYTES  ((uintptr_t)(1024 + 64) * 1024)
#define STACK_SLOP_BYTES ((uintptr_t)64 * 1024)

/* ---- the fault path ---- */

/* A fault no region claims, at addr: let the instruction run once more if
 * addr was in a region removed lately (.gone in region.c), unless this
 * thread did so already for this page and removal.  A write that faulted
 * just before a snapshot's last release or a tracker's stop then finds
 * its page writable; a real crash comes back and is declined. */
UVM_AS_SAFE static int dispatch_gone(struct uvm__thread *t, uintptr_t addr)
{
    uint64_t id = uvm__region_gone(addr);
    uintptr_t page = addr & ~uvm__page_mask;
    if (id == 0 || (UVM__T_LOAD(t->gone_id) == id &&
                    UVM__T_LOAD(t->gone_page) == page))
        return UVM_DECLINE;
    UVM__T_STORE(t->gone_id, id);
    UVM__T_STORE(t->gone_page, page);
    UVM_COUNT(retried, 1);
    return UVM_RETRY;
}

/* The fault s arrived on the ordinary stack: give the thread libuvm's
 * alternate stack and have the instruction fault again there (.onalt)?
 * Not with another call in flight (its frame stays where it is), not
 * twice in a row for one page (something undid the stack), not without a
 * uc_stack to write it into. */
UVM_AS_SAFE static int dispatch_move_to_altstack(struct uvm__thread *t,
                                                 const struct uvm__sig *s)
{
    uintptr_t page = (uintptr_t)s->addr & ~uvm__page_mask;
    if (s->alt_ret == NULL || !s->sp_exact ||
        atomic_load_explicit(&t->ncalls, memory_order_relaxed) != 1 ||
        UVM__T_LOAD(t->alt_retry) == page)
        return 0;
    if (!uvm__thread_altstack_now(t, s->alt_ret))
        return 0;
    UVM__T_STORE(t->alt_retry, page);
    return 1;
}

/* Find the region of the fault and run its handler.  The call is recorded
 * while the table version is protected (.inv.push in thread.c). */
UVM_AS_SAFE static int dispatch_run(struct uvm__thread *t,
                                    const struct uvm__sig *s, uintptr_t frame)
{
    uintptr_t addr = (uintptr_t)s->addr;
    int hz;
    void *root = uvm__hazard_acquire(t, &uvm__region_root, &hz);
    struct uvm_region *r = hz >= 0 ? uvm__region_find(root, addr) : NULL;
    int slot = r != NULL ? uvm__call_push(t, r, frame, s->alt) : -1;
    uvm__hazard_release(t, hz);
    if (r == NULL && hz >= 0)
        return dispatch_gone(t, addr);
    if (slot < 0)
        return UVM_DECLINE;
    if (UVM_UNLIKELY(s->alt->ss_flags & SS_DISABLE) &&
        dispatch_move_to_altstack(t, s)) {
        uvm__call_pop(t, slot);
        return UVM_RETRY;
    }
    if (UVM_UNLIKELY(UVM__T_LOAD(t->alt_retry) != 0))
        UVM__T_STORE(t->alt_retry, 0);

    struct uvm_fault f = {
        .addr = s->addr,
        .page = (void *)(addr & ~uvm__page_mask),
        .access = s->access,
        /* A userfaultfd write-protect fault arrives here already as the
         * SIGSEGV mprotect would have raised (the fault layer's doing). */
        .signo = s->sig,
        .region = r->handle,
        .arg = r->arg,
        .ucontext = s->uc,
    };
    void *touch = uvm__touch_suspend();
    int rc = r->fn(&f);
    uvm__touch_resume(touch);
    uvm__call_pop(t, slot);
    /* The outermost call returned: the thread may get its alternate stack
     * now (thread.c, .altstack), never while a call's frame is live; it
     * takes effect when the signal returns. */
    if (UVM_UNLIKELY(!UVM__T_LOAD(t->alt_done)) && s->alt_ret != NULL)
        uvm__thread_altstack(t, s->alt_ret);
    if (rc == UVM_RETRY) {
        UVM_COUNT(handled, 1);
        return UVM_RETRY;
    }
    UVM_COUNT(declined, 1);
    return UVM_DECLINE;
}

UVM_AS_SAFE int uvm__dispatch_fault(const struct uvm__sig *s)
{
    /* Marks this frame for calls_prune: above the handler's frames.  The
     * frame address, not a local's: a sanitizer may move locals to a heap
     * "fake stack". */
    uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
    UVM_COUNT(faults, 1);
    if (s->addr_ok) {
        struct uvm__thread *t = uvm__thread_get();
        if (t != NULL) {
            uvm__calls_prune(t, s->sp, s->alt);
            if (dispatch_run(t, s, frame) == UVM_RETRY)
                return UVM_RETRY;
        }
    }
    /* Returns only if the thread is not in uvm_touch's loop.  Without the
     * stack pointer, a uvm_touch context is trusted as it stands (0). */
    uvm__touch_escape(s->sp_exact ? s->sp : 0, (uintptr_t)s->addr,
                      s->addr_ok);
    UVM_COUNT(chained, 1);
    return UVM_DECLINE;
}

UVM_AS_SAFE void uvm__dispatch_prune(const struct uvm__sig *s)
{
    struct uvm__thread *t = uvm__thread_peek();
    if (t != NULL)
        uvm__calls_prune(t, s->sp, s->alt);
}

/* ---- the last words (.overflow) ---- */

/* The stack mapping at or above sp: *out, 0; or -ENOENT. */
UVM_AS_SAFE static int stack_mapping(uintptr_t sp, struct uvm__vma *out)
{
    uintptr_t cur = sp & ~uvm__page_mask, from = cur;
    while (cur >= from && cur - from <= STACK_GAP_BYTES) {
        struct uvm__vma v;
        int rc = uvm__vma_query(cur, &v);
        if (rc == -ENOMEM) {
            cur += uvm__page_size;          /* unmapped: the gap */
        } else if (rc < 0) {
            return rc;
        } else if (v.prot == (PROT_READ | PROT_WRITE)) {
            *out = v;
            return 0;
        } else if (v.prot == PROT_NONE) {
            cur = v.end;                    /* a guard */
        } else {
            return -ENOENT;                 /* not a stack */
        }
    }
    return -ENOENT;
}

/* Is the unclaimed fault s a stack overflow?  The stack mapping in *st. */
UVM_AS_SAFE static int dispatch_is_overflow(const struct uvm__sig *s,
                                            struct uvm__vma *st)
{
    if (s->sig != SIGSEGV || !s->addr_ok)
        return 0;
    uintptr_t a = (uintptr_t)s->addr, base;
    if (s->sp_exact) {
        if (uvm__on_altstack(s->sp, s->alt))
            return 0;
        base = s->sp;
    } else {
        struct uvm__thread *t = uvm__thread_peek();
        base = t != NULL ? UVM__T_LOAD(t->stack_hint) : 0;
        if (base == 0)
            return 0;
    }
    if (stack_mapping(base, st) != 0)
        return 0;
    if (a >= st->start || st->start - a > STACK_GAP_BYTES)
        return 0;
    return !s->sp_exact || a + STACK_SLOP_BYTES >= s->sp;
}

/* A line for one write(2), so that threads dying at once do not mix. */
struct line {
    char   buf[200];
    size_t n;
};

UVM_AS_SAFE static void line_str(struct line *l, const char *s)
{
    while (*s != '\0' && l->n < sizeof l->buf)
        l->buf[l->n++] = *s++;
}

UVM_AS_SAFE static void line_num(struct line *l, uintptr_t v, int hex)
{
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = "0123456789abcdef"[v % (hex ? 16 : 10)];
        v /= hex ? 16 : 10;
    } while (v != 0);
    if (hex)
        line_str(l, "0x");
    while (k > 0 && l->n < sizeof l->buf)
        l->buf[l->n++] = tmp[--k];
}

/* "libuvm: stack overflow in thread 42, fault at 0x..., stack pointer
 * 0x... (stack 0x...-0x...); taking the default action" */
UVM_AS_SAFE static void dispatch_report_overflow(const struct uvm__sig *s,
                                                 const struct uvm__vma *st)
{
    struct line l = { .n = 0 };
    line_str(&l, "libuvm: stack overflow in thread ");
    line_num(&l, (uintptr_t)uvm__gettid(), 0);
    line_str(&l, ", fault at ");
    line_num(&l, (uintptr_t)s->addr, 1);
    if (s->sp_exact) {
        line_str(&l, ", stack pointer ");
        line_num(&l, s->sp, 1);
    }
    line_str(&l, " (stack ");
    line_num(&l, st->start, 1);
    line_str(&l, "-");
    line_num(&l, st->end, 1);
    line_str(&l, "); taking the default action\n");
    ssize_t w;
    do
        w = write(2, l.buf, l.n);
    while (w < 0 && errno == EINTR);
}

UVM_AS_SAFE void uvm__dispatch_report(const struct uvm__sig *s)
{
    int saved_errno = errno;
    struct uvm__vma st;
    if (dispatch_is_overflow(s, &st)) {
        dispatch_report_overflow(s, &st);
    } else if (s->si != NULL) {
        uvm__diag_fault(s->sig, s->si, s->uc, s->access);
    } else {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        si.si_signo = s->sig;
        si.si_addr = s->addr;
        uvm__diag_fault(s->sig, &si, s->uc, s->access);
    }
    errno = saved_errno;
}

/* ---- installation ---- */

static int install_error;
static void dispatch_install_once(void)
{
    install_error = uvm__fault_install();
}

int uvm__dispatch_install(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, dispatch_install_once);
    if (install_error == 0)
        (void)uvm__thread_self();      /* its alternate stack */
    return install_error;
}

/* ---- the public interface ---- */

const char *uvm_fault_layer(void)
{
    return uvm__fault_layer_name;
}

static uvm_region *trap(void *addr, size_t len, uvm_handler_fn fn,
                        void *arg, int flags);

uvm_region *uvm_trap(void *addr, size_t len, uvm_handler_fn fn, void *arg)
{
    return trap(addr, len, fn, arg, 0);
}

uvm_region *uvm__trap(void *addr, size_t len, uvm_handler_fn fn, void *arg,
                      int flags)
{
    return trap(addr, len, fn, arg, flags | UVM__REGION_INTERNAL);
}

static uvm_region *trap(void *addr, size_t len, uvm_handler_fn fn,
                        void *arg, int flags)
{
    uintptr_t start = (uintptr_t)addr, end = start + len;
    if (fn == NULL || len == 0 || !uvm__aligned(addr) ||
        (len & uvm__page_mask) != 0 || end <= start) {
        uvm__fail(-EINVAL);
        return NULL;
    }
    (void)uvm__env_backend();    /* read the environment, warn once */
    int rc = uvm__dispatch_install();
    struct uvm_region *r = NULL;
    if (rc == 0)
        rc = uvm__region_add(start, end, fn, arg, flags, &r);
    if (rc < 0) {
        uvm__fail(rc);
        return NULL;
    }
    return r->handle;
}

static int dispatch_check_untrap(struct uvm_region *r)
{
    if (uvm__calls_self_in(r))
        return -EDEADLK;
    /* While r is still in the table, so no protection change of its pages
     * can slip between its conversion to mprotect and its removal. */
    uvm__prot_uffd_release(r);
    return 0;
}

static int dispatch_check_public(struct uvm_region *r)
{
    if (r->flags & UVM__REGION_INTERNAL)
        return -EINVAL;          /* not a handle uvm_trap gave out */
    return dispatch_check_untrap(r);
}

static int untrap(uvm_region *region, int (*check)(struct uvm_region *));

int uvm_untrap(uvm_region *region)
{
    return untrap(region, dispatch_check_public);
}

int uvm__untrap(uvm_region *region)
{
    return untrap(region, dispatch_check_untrap);
}

static int untrap(uvm_region *handle, int (*check)(struct uvm_region *))
{
    struct uvm_region *r;
    int rc = uvm__region_unlink(handle, check, &r);
    if (rc < 0)
        return uvm__fail(rc);
    /* New faults no longer find the region; wait for those in flight. */
    uvm__calls_wait(r);
    uvm__region_free(r);
    return 0;
}
