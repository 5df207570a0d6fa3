/*
 * dispatch.c: TRAP, the fault dispatcher.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: libuvm's SIGSEGV/SIGBUS action, the actions it replaced (for
 * chaining), uvm_trap and uvm_untrap.
 *
 * The fault path is dispatch_signal and what it calls, all tagged
 * UVM_AS_SAFE: one region lookup under a hazard pointer (region.c,
 * thread.c), one handler call recorded as in flight, no lock, no
 * allocation, no stdio, errno restored.  It must never run a region handler
 * for a signal the hardware did not raise (si_code <= 0), and must never
 * swallow a fault no region claimed: those go to the previous action
 * exactly as the kernel would have delivered them, so a real crash still
 * dies by its signal with a core.
 *
 * Flags of our action: SA_SIGINFO for the address and the context;
 * SA_NODEFER so a handler may fault on another region (nesting);
 * SA_ONSTACK so a thread with an alternate signal stack keeps working
 * when its stack overflows; SA_RESTART so the probe signal (thread.c)
 * restarts what system calls can be restarted.
 */
#include "uvm-int.h"
#include "region.h"
#include "thread.h"
#include "touch.h"
#include "prot-uffd.h"
#include "fault-x86_64.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* The actions we replaced, [0] SIGSEGV and [1] SIGBUS.  (c) written once
 * before our action is installed.  prev_reset: the previous action had
 * SA_RESETHAND and has run once, so it is SIG_DFL now (a). */
static struct sigaction prev_act[2];
static atomic_int prev_reset[2];
static atomic_int installed;             /* (a) our action is in place */

static int sig_index(int sig) { return sig == SIGBUS; }

/* ---- the fault path ---- */

UVM_AS_SAFE static int dispatch_is_probe(const siginfo_t *si)
{
    return si->si_code == SI_QUEUE && si->si_pid == getpid() &&
           si->si_value.sival_ptr == (void *)&uvm__probe_cookie;
}

/* The default action, as the kernel would take it. */
UVM_AS_SAFE static void dispatch_default(int sig, siginfo_t *si, void *uc,
                                         int hardware, int access)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    if (hardware) {
        uvm__diag_fault(sig, si, uc, access);
        sigaction(sig, &dfl, NULL);
        /* Returning re-executes the instruction, which faults again and
         * now kills the process with the same signal, registers and core
         * as if libuvm had never been there. */
        return;
    }
    sigaction(sig, &dfl, NULL);
    uvm__tgsigqueue(uvm__gettid(), sig, si);   /* siginfo unchanged */
}

/* Hand the signal to the action that was installed before libuvm. */
UVM_AS_SAFE static void dispatch_chain(int sig, siginfo_t *si, void *uc,
                                       int hardware, int access)
{
    int k = sig_index(sig);
    const struct sigaction *p = &prev_act[k];
    int is_info = (p->sa_flags & SA_SIGINFO) != 0;
    void (*h)(int) = is_info ? NULL : p->sa_handler;

    if (atomic_load(&prev_reset[k]) || (is_info && p->sa_sigaction == NULL) ||
        (!is_info && h == SIG_DFL)) {
        dispatch_default(sig, si, uc, hardware, access);
        return;
    }
    if (!is_info && h == SIG_IGN) {
        /* The kernel cannot ignore a fault: it forces the default action.
         * A signal someone sent is ignored. */
        if (hardware)
            dispatch_default(sig, si, uc, hardware, access);
        return;
    }
    if (p->sa_flags & SA_RESETHAND)
        atomic_store(&prev_reset[k], 1);
    /* Block what the kernel would have blocked for that handler. */
    sigset_t mask = p->sa_mask, old;
    if (!(p->sa_flags & SA_NODEFER))
        sigaddset(&mask, sig);
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    if (is_info)
        p->sa_sigaction(sig, si, uc);
    else
        h(sig);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Find the region of the fault and run its handler.  The call is recorded
 * while the table version is protected (.inv.push in thread.c). */
UVM_AS_SAFE static int dispatch_run(struct uvm__thread *t, int sig,
                                    siginfo_t *si, void *uc, int access,
                                    uintptr_t frame)
{
    uintptr_t addr = (uintptr_t)si->si_addr;
    int hz;
    void *root = uvm__hazard_acquire(t, &uvm__region_root, &hz);
    struct uvm_region *r = hz >= 0 ? uvm__region_find(root, addr) : NULL;
    int slot = r != NULL ? uvm__call_push(t, r, frame, fault_altstack(uc))
                         : -1;
    uvm__hazard_release(t, hz);
    if (slot < 0)
        return UVM_DECLINE;

    struct uvm_fault f = {
        .addr = si->si_addr,
        .page = (void *)(addr & ~uvm__page_mask),
        .access = access,
        /* A userfaultfd write-protect fault is the SIGSEGV mprotect would
         * have raised: handlers cannot tell the mechanisms apart. */
        .signo = sig == SIGBUS && uvm__prot_uffd_is_wp_fault(r) ? SIGSEGV
                                                                 : sig,
        .region = r,
        .arg = r->arg,
        .ucontext = uc,
    };
    void *touch = uvm__touch_suspend();
    int rc = r->fn(&f);
    uvm__touch_resume(touch);
    uvm__call_pop(t, slot);
    if (rc == UVM_RETRY) {
        UVM_COUNT(handled, 1);
        return UVM_RETRY;
    }
    UVM_COUNT(declined, 1);
    return UVM_DECLINE;
}

UVM_AS_SAFE static void dispatch_fault(int sig, siginfo_t *si, void *uc)
{
    volatile char frame = 0;     /* marks this frame for calls_prune */
    int access = fault_access(uc);
    UVM_COUNT(faults, 1);
    /* SI_KERNEL: a general-protection fault, not an address fault; its
     * si_addr is 0 and means nothing. */
    if (si->si_code != SI_KERNEL) {
        struct uvm__thread *t = uvm__thread_self();
        if (t != NULL) {
            uvm__calls_prune(t, fault_sp(uc), fault_altstack(uc));
            if (dispatch_run(t, sig, si, uc, access, (uintptr_t)&frame) ==
                UVM_RETRY)
                return;
        }
    }
    uvm__touch_escape(fault_sp(uc));       /* returns only if no uvm_touch */
    UVM_COUNT(chained, 1);
    dispatch_chain(sig, si, uc, 1, access);
    (void)frame;
}

UVM_AS_SAFE static void dispatch_signal(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    if (si->si_code > 0) {
        dispatch_fault(sig, si, uc);
    } else if (dispatch_is_probe(si)) {
        struct uvm__thread *t = uvm__thread_self();
        if (t != NULL)
            uvm__calls_prune(t, fault_sp(uc), fault_altstack(uc));
    } else {
        /* kill, sigqueue, raise: never a fault, never a region's. */
        UVM_COUNT(forged, 1);
        dispatch_chain(sig, si, uc, 0, UVM_ACCESS_UNKNOWN);
    }
    errno = saved_errno;
}

/* ---- installation ---- */

static int install_error;
static void dispatch_install_once(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = dispatch_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    /* Save the previous actions before ours can run: a fault in another
     * thread may arrive the moment the action is installed. */
    if (sigaction(SIGSEGV, NULL, &prev_act[0]) != 0 ||
        sigaction(SIGBUS, NULL, &prev_act[1]) != 0 ||
        sigaction(SIGSEGV, &sa, NULL) != 0 ||
        sigaction(SIGBUS, &sa, NULL) != 0) {
        install_error = -errno;
        return;
    }
    atomic_store(&installed, 1);
}

int uvm__dispatch_install(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, dispatch_install_once);
    return install_error;
}

int uvm__dispatch_installed(void)
{
    struct sigaction cur;
    return atomic_load(&installed) && sigaction(SIGSEGV, NULL, &cur) == 0 &&
           (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == dispatch_signal;
}

/* ---- the public interface ---- */

uvm_region *uvm_trap(void *addr, size_t len, uvm_handler_fn fn, void *arg)
{
    return uvm__trap(addr, len, fn, arg, 0);
}

uvm_region *uvm__trap(void *addr, size_t len, uvm_handler_fn fn, void *arg,
                      int flags)
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
    return r;
}

static int dispatch_check_untrap(struct uvm_region *r)
{
    return uvm__calls_self_in(r) ? -EDEADLK : 0;
}

int uvm_untrap(uvm_region *region)
{
    int rc = uvm__region_unlink(region, dispatch_check_untrap);
    if (rc < 0)
        return uvm__fail(rc);
    /* New faults no longer find the region; wait for those in flight. */
    uvm__calls_wait(region);
    uvm__prot_uffd_release(region);
    uvm__region_free(region);
    return 0;
}
