/*
 * fault-native.c: the native fault layer: sigaction(2) on Linux x86-64.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: libuvm's SIGSEGV/SIGBUS action, the actions it replaced (for
 * chaining), and the probe signal (thread.c's uvm__calls_wait).
 *
 * Everything a handler is told comes from the signal: the address and
 * si_code from the siginfo, the access type, the stack pointer and the
 * alternate stack from the ucontext (fault-x86_64.h, the only machine
 * knowledge).  Must never run a region handler for a signal the hardware
 * did not raise (si_code <= 0: kill, sigqueue, raise): those go to the
 * previous action untouched.  Faults no region claims go to the previous
 * action exactly as the kernel would have delivered them.
 *
 * Flags of our action: SA_SIGINFO for the address and the context;
 * SA_NODEFER so a handler may fault on another region (nesting);
 * SA_ONSTACK so handlers run on the thread's alternate signal stack and a
 * stack overflow can be reported (thread.c gives threads one); SA_RESTART
 * so the probe signal restarts what system calls can be restarted.
 */
#include "uvm-int.h"
#include "fault-layer.h"
#include "fault-x86_64.h"
#include "thread.h"
#include "sanitizer.h"
#include "prot-backend.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

const char uvm__fault_layer_name[] = "native";
const unsigned uvm__fault_caps = UVM__FAULT_SIGBUS | UVM__FAULT_ACCESS |
                                 UVM__FAULT_CONTEXT | UVM__FAULT_CHAIN;

/* The actions we replaced, [0] SIGSEGV and [1] SIGBUS.  (c) written once
 * before our action is installed.  prev_reset: the previous action had
 * SA_RESETHAND and has run once, so it is SIG_DFL now (a). */
static struct sigaction prev_act[2];
static atomic_int prev_reset[2];
static atomic_int installed;             /* (a) our action is in place */

/* The probe: a SIGSEGV queued with SI_QUEUE by this process carrying this
 * cookie's address. */
static const char probe_cookie = 'p';

static int sig_index(int sig) { return sig == SIGBUS; }

/* ---- the fault path ---- */

UVM_AS_SAFE static int native_is_probe(const siginfo_t *si)
{
    return si->si_code == SI_QUEUE && si->si_pid == getpid() &&
           si->si_value.sival_ptr == (void *)&probe_cookie;
}

/* The default action, as the kernel would take it.  The action is reset
 * before anything is written: a fault while reporting kills at once. */
UVM_AS_SAFE static void native_default(const struct uvm__sig *s,
                                       int hardware)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(s->sig, &dfl, NULL);
    if (hardware)
        uvm__dispatch_report(s);
    /* Queue the same siginfo to this thread with the signal blocked until
     * we return: after sigreturn restores the interrupted mask it is
     * delivered with SIG_DFL, so the process dies by that signal with the
     * faulting context in its core.  Relying on the instruction to fault
     * again is not enough: a signal the process queued to itself with a
     * fault's si_code never re-faults, and the dispatcher would be left
     * uninstalled with SIG_DFL behind it. */
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, s->sig);
    pthread_sigmask(SIG_BLOCK, &one, NULL);
    uvm__tgsigqueue(uvm__gettid(), s->sig, s->si);   /* siginfo unchanged */
}

/* Hand the signal to the action that was installed before libuvm. */
UVM_AS_SAFE static void native_chain(const struct uvm__sig *s, int hardware)
{
    int k = sig_index(s->sig);
    const struct sigaction *p = &prev_act[k];
    int is_info = (p->sa_flags & SA_SIGINFO) != 0;
    void (*h)(int) = is_info ? NULL : p->sa_handler;

    if (atomic_load(&prev_reset[k]) || (is_info && p->sa_sigaction == NULL) ||
        (!is_info && h == SIG_DFL)) {
        native_default(s, hardware);
        return;
    }
    if (!is_info && h == SIG_IGN) {
        /* The kernel cannot ignore a fault: it forces the default action.
         * A signal someone sent is ignored. */
        if (hardware)
            native_default(s, hardware);
        return;
    }
    if (p->sa_flags & SA_RESETHAND)
        atomic_store(&prev_reset[k], 1);
    /* Block what the kernel would have blocked for that handler. */
    sigset_t mask = p->sa_mask, old;
    if (!(p->sa_flags & SA_NODEFER))
        sigaddset(&mask, s->sig);
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    if (is_info)
        p->sa_sigaction(s->sig, s->si, s->uc);
    else
        h(s->sig);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* An action-optional machine check (BUS_MCEERR_AO) reports memory that
 * went bad somewhere, asynchronously: not a fault of the interrupted
 * instruction, never a region's. */
UVM_AS_SAFE static int is_async_mce(int sig, const siginfo_t *si)
{
#ifdef BUS_MCEERR_AO
    return sig == SIGBUS && si->si_code == BUS_MCEERR_AO;
#else
    (void)sig;
    (void)si;
    return 0;
#endif
}

/* A userfaultfd write-protect fault (SIGBUS) is made the SIGSEGV mprotect
 * would have raised, with SEGV_ACCERR, before anyone sees it: region
 * handlers, the action installed before libuvm, and the default action
 * all get what the mprotect backend would have given them. */
UVM_AS_SAFE static void native_as_mprotect(struct uvm__sig *s,
                                           siginfo_t *segv)
{
    const siginfo_t *si = s->si;
    if (!uvm__prot_uffd_backend.owns_fault(s->sig, si->si_code,
                                           (uintptr_t)s->addr, s->access))
        return;
    *segv = *si;
    segv->si_signo = SIGSEGV;
    segv->si_code = SEGV_ACCERR;
    s->sig = SIGSEGV;
    s->si = segv;
}

UVM_AS_SAFE static void native_signal(int sig, siginfo_t *si, void *uc)
{
    uvm__san_signal_entry(fault_altstack(uc));      /* sanitizer.h */
    int saved_errno = errno;
    struct uvm__sig s = {
        .sig = sig,
        .addr = si->si_addr,
        /* SI_KERNEL: a general-protection fault, not an address fault;
         * its si_addr is 0 and means nothing. */
        .addr_ok = si->si_code > 0 && si->si_code != SI_KERNEL &&
                   !is_async_mce(sig, si),
        .access = UVM_ACCESS_UNKNOWN,
        .uc = uc,
        .si = si,
        .sp = fault_sp(uc),
        .sp_exact = 1,
        .alt = fault_altstack(uc),
        .alt_ret = &((ucontext_t *)uc)->uc_stack,
    };
    siginfo_t segv;
    if (si->si_code > 0 && !is_async_mce(sig, si)) {
        s.access = fault_access(uc);
        native_as_mprotect(&s, &segv);
        if (uvm__dispatch_fault(&s) != UVM_RETRY)
            native_chain(&s, 1);
    } else if (native_is_probe(si)) {
        uvm__dispatch_prune(&s);
    } else {
        /* kill, sigqueue, raise: never a fault, never a region's. */
        UVM_COUNT(forged, 1);
        native_chain(&s, 0);
    }
    errno = saved_errno;
}

/* ---- installation ---- */

int uvm__fault_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = native_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    /* Save the previous actions before ours can run: a fault in another
     * thread may arrive the moment the action is installed. */
    if (sigaction(SIGSEGV, NULL, &prev_act[0]) != 0 ||
        sigaction(SIGBUS, NULL, &prev_act[1]) != 0 ||
        sigaction(SIGSEGV, &sa, NULL) != 0 ||
        sigaction(SIGBUS, &sa, NULL) != 0)
        return -errno;
    atomic_store(&installed, 1);
    return 0;
}

UVM_AS_SAFE int uvm__fault_installed(void)
{
    struct sigaction cur;
    return atomic_load(&installed) && sigaction(SIGSEGV, NULL, &cur) == 0 &&
           (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == native_signal;
}

void uvm__fault_probe(struct uvm__thread *t, pid_t tid)
{
    (void)t;
    if (!uvm__fault_installed())
        return;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGSEGV;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_ptr = (void *)&probe_cookie;
    uvm__tgsigqueue(tid, SIGSEGV, &si);
}
