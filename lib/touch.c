/*
 * touch.c: uvm_touch, user-mode access ahead of a system call.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the per-thread "touch in progress" context.  A system call that
 * reads or writes a protected page fails with EFAULT and no handler runs
 * (doc/fault.md [fault.efault]); touching the buffer from user mode first runs the
 * handlers.  A write is a locked OR of zero: the CPU checks write access,
 * the byte keeps its value even if another thread writes it meanwhile.
 *
 * Must never: leave touch_cur pointing at a dead frame (it is restored on
 * every exit from uvm_touch, and cleared around handler calls); take for
 * its own a fault that is not the loop's access (.own).
 *
 * .own: the escape catches only the fault of the byte the loop is
 * touching now (its address is published before each access), below
 * uvm_touch's frame.  A signal handler that interrupts the loop runs below
 * that frame too, on the same stack or another; a crash in it is not
 * uvm_touch's business: it goes on to the previous action as any other
 * unclaimed fault, and uvm_touch carries on.
 */
#include "touch.h"
#include "thread.h"

#include <setjmp.h>

struct touch_ctx {
    sigjmp_buf jb;
    uintptr_t frame;     /* uvm_touch's frame address: on the machine stack
                          * even where ASan moves ctx to a fake stack */
    volatile uintptr_t cur;   /* the byte the loop touches now (.own) */
};

/* The uvm_touch context of this thread, or NULL.  initial-exec TLS: read
 * in the signal handler without __tls_get_addr. */
static __thread struct touch_ctx *touch_cur
    __attribute__((tls_model("initial-exec")));

UVM_AS_SAFE void *uvm__touch_suspend(void)
{
    struct touch_ctx *t = touch_cur;
    touch_cur = NULL;
    return t;
}

UVM_AS_SAFE void uvm__touch_resume(void *saved)
{
    touch_cur = saved;
}

/* Is a fault at addr (addr_ok: an address fault, else x86's #GP, which
 * gives none) the access of the byte cur? */
UVM_AS_SAFE static int touch_is_access(uintptr_t cur, uintptr_t addr,
                                       int addr_ok)
{
    if (addr_ok)
        return addr == cur;
    /* A non-canonical address faults with #GP: only such a byte can. */
    uintptr_t top = cur >> 47;
    return top != 0 && top != (UINTPTR_MAX >> 47);
}

UVM_AS_SAFE void uvm__touch_escape(uintptr_t sp, uintptr_t addr, int addr_ok)
{
    struct touch_ctx *t = touch_cur;
    /* The fault must come from the loop below t's frame, not from a frame
     * that outlived it, and be the loop's own access (.own). */
    if (t != NULL && sp < t->frame && touch_is_access(t->cur, addr, addr_ok))
        siglongjmp(t->jb, 1);
}

static void touch_read(const char *p)
{
    (void)*(volatile const char *)p;
}

static void touch_write(char *p)
{
    __asm__ __volatile__("lock; orb $0, %0" : "+m"(*p) : : "memory");
}

int uvm_touch(void *addr, size_t len, int access)
{
    uintptr_t a = (uintptr_t)addr, end = a + len;
    if (len == 0 || end < a || access == 0 ||
        (access & ~(UVM_ACCESS_READ | UVM_ACCESS_WRITE)) != 0)
        return uvm__fail(-EINVAL);

    /* Without our action a page no region claims would kill the process
     * instead of giving EFAULT. */
    int rc = uvm__dispatch_install();
    if (rc < 0)
        return uvm__fail(rc);

    struct touch_ctx ctx;
    struct touch_ctx *saved = touch_cur;
    if (sigsetjmp(ctx.jb, 1) != 0) {
        touch_cur = saved;
        return uvm__fail(-EFAULT);
    }
    ctx.frame = (uintptr_t)__builtin_frame_address(0);
    ctx.cur = UINTPTR_MAX;          /* no byte yet: matches no fault */
    touch_cur = &ctx;
    /* One byte per page: the first byte of the buffer, then the first byte
     * of every following page. */
    for (uintptr_t p = a; p < end && p >= a;
         p = (p & ~uvm__page_mask) + uvm__page_size) {
        ctx.cur = p;
        if (access & UVM_ACCESS_WRITE)
            touch_write((char *)p);
        else
            touch_read((const char *)p);
    }
    touch_cur = saved;
    return 0;
}
