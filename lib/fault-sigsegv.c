/*
 * fault-sigsegv.c: the libsigsegv fault layer (--with-fault-layer=libsigsegv).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: libuvm's libsigsegv handler and the probe as this layer sends it.
 * For platforms where the native layer (fault-native.c) does not apply:
 * GNU libsigsegv knows, per platform, how to get the fault address out of
 * a signal, and that is all this layer uses.  libsigsegv is GPLv2+: a
 * libuvm built with this layer links it and is covered by the GPL.
 *
 * What a region handler gets (uvm_trap(3)): addr and page exact; access
 * UVM_ACCESS_UNKNOWN; signo SIGSEGV; ucontext NULL.  What the layer cannot
 * do, because libsigsegv does not (doc/fault.md [fault.sigsegv]):
 *  - SIGBUS: libsigsegv catches SIGSEGV only on Linux.  uvm__fault_caps
 *    says so, and the userfaultfd write-protection that reports writes as
 *    SIGBUS (the PROT backend prot-uffd.c, snapshots) is not used: uffd.c
 *    refuses UFFD_FEATURE_SIGBUS and those fall back to mprotect.  Other
 *    SIGBUS (a file mapping past its end) keep the kernel's default action.
 *  - chaining: sigsegv_install_handler discards the previous SIGSEGV
 *    action, so unclaimed faults take the default action (death by
 *    SIGSEGV, with the "no libuvm region" line, without a backtrace).
 *  - forged signals: libsigsegv passes no si_code, so a SIGSEGV sent with
 *    kill(2) looks like a fault at the sender's pid and uid; it reaches a
 *    region handler only if a region covers that number, and otherwise
 *    ends the process as the default action would.
 *
 * libsigsegv calls the handler twice for a fault it declines: "serious" 0,
 * then 1 (after its own stack-overflow heuristic, which is not used here).
 * The fault is dispatched at 0; at 1 it is known to be unclaimed.
 *
 * Flags.  sigsegv_install_handler sets SA_SIGINFO only; the layer adds
 * SA_NODEFER (nested faults in handlers), SA_ONSTACK (handlers on the
 * thread's alternate stack, which thread.c provides, so stack overflows
 * are reported) and SA_RESTART (the probe), as libsigsegv's own
 * stackoverflow_install_handler re-installs the action with SA_ONSTACK.
 * stackoverflow_install_handler itself is not used: it sets the alternate
 * stack of the calling thread only, replacing any it has, recognises
 * overflows of that one thread's stack only (a stack top noted once), and
 * parses the procfs maps file at every declined fault.  The dispatcher's
 * own test (dispatch.c, .overflow) covers every thread.
 *
 * Without the interrupted stack pointer, the in-flight calls (thread.c)
 * are judged from an estimate that is never above it: the address of this
 * layer's handler frame plus the least the kernel's signal frame takes, a
 * siginfo_t and a ucontext_t (SG_FRAME_MIN).  A live call's frame lies
 * above the interrupted stack pointer, so it is never taken for abandoned;
 * a signal that did not interrupt a call starts its frame at the top of
 * the alternate stack, above the frames of calls abandoned there, or on
 * the thread's stack at the interrupted stack pointer, above an abandoned
 * call's frame by at least the signal frame of that call.  A thread gets
 * its alternate stack only with no call in flight (thread.c), so calls
 * abandoned on the ordinary stack are pruned by signals on that stack.
 *
 * The probe is a SIGSEGV queued with SI_QUEUE; libsigsegv hands over its
 * si_addr, which on Linux overlays si_pid and si_uid.  It is recognised
 * only while the target's record counts a probe queued to it.
 */
#include "uvm-int.h"
#include "fault-layer.h"
#include "thread.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* sigsegv.h redefines SIGSTKSZ: included here only. */
#include <sigsegv.h>

/* The least a kernel signal frame takes below the interrupted stack
 * pointer (x86-64: 1 KiB of siginfo and ucontext, plus the FPU state and
 * the 128-byte red zone, which this does not count). */
#define SG_FRAME_MIN (sizeof(siginfo_t) + sizeof(ucontext_t))

const char uvm__fault_layer_name[] = "libsigsegv";
const unsigned uvm__fault_caps = 0;

/* libsigsegv's action, read back once it is installed (c). */
static void (*sg_action)(int, siginfo_t *, void *);
static atomic_int installed;                       /* (a) */

/* The siginfo of a probe sent by this process now. */
UVM_AS_SAFE static void sg_probe_info(siginfo_t *si)
{
    memset(si, 0, sizeof *si);
    si->si_signo = SIGSEGV;
    si->si_code = SI_QUEUE;
    si->si_pid = getpid();
    si->si_uid = getuid();
}

UVM_AS_SAFE static int sg_is_probe(struct uvm__thread *t, void *addr)
{
    if (t == NULL || atomic_load(&t->probes) == 0)
        return 0;
    siginfo_t si;
    sg_probe_info(&si);
    if (si.si_addr != addr)
        return 0;
    unsigned n = atomic_load(&t->probes);
    while (n > 0 && !atomic_compare_exchange_weak(&t->probes, &n, n - 1))
        ;
    return 1;
}

UVM_AS_SAFE static void sg_sig(struct uvm__sig *s, void *addr, uintptr_t sp,
                               stack_t *alt)
{
    if (sigaltstack(NULL, alt) != 0)
        alt->ss_flags = SS_DISABLE;
    *s = (struct uvm__sig){
        .sig = SIGSEGV, .addr = addr, .addr_ok = 1,
        .access = UVM_ACCESS_UNKNOWN, .uc = NULL, .si = NULL,
        .sp = sp, .sp_exact = 0, .alt = alt, .alt_ret = NULL,
    };
}

/* serious = 0: dispatch.  1 (handled) or 0 (declined). */
UVM_AS_SAFE static int sg_fault(void *addr, uintptr_t sp)
{
    stack_t alt;
    struct uvm__sig s;
    sg_sig(&s, addr, sp, &alt);
    if (sg_is_probe(uvm__thread_peek(), addr)) {
        uvm__dispatch_prune(&s);
        return 1;                        /* nothing to re-execute */
    }
    return uvm__dispatch_fault(&s) == UVM_RETRY;
}

/* serious = 1: unclaimed.  The default action, taken so that a signal
 * nothing will raise again (a forged one) ends the process too: SIGSEGV
 * is queued to this thread while blocked, and arrives when the handler
 * returns, with the interrupted context restored.  The action is reset
 * before the report is written, so a fault while reporting kills. */
UVM_AS_SAFE static int sg_unclaimed(void *addr, uintptr_t sp)
{
    stack_t alt;
    struct uvm__sig s;
    sg_sig(&s, addr, sp, &alt);
    sigset_t segv;
    sigemptyset(&segv);
    sigaddset(&segv, SIGSEGV);
    pthread_sigmask(SIG_BLOCK, &segv, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGSEGV, &dfl, NULL);
    uvm__dispatch_report(&s);
    raise(SIGSEGV);
    return 0;
}

UVM_AS_SAFE static int sg_handler(void *addr, int serious)
{
    /* The stack position (see above): the frame address, which a
     * sanitizer's fake stack does not move. */
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0) + SG_FRAME_MIN;
    int saved_errno = errno;
    int rc = serious ? sg_unclaimed(addr, sp) : sg_fault(addr, sp);
    errno = saved_errno;
    return rc;
}

/* ---- installation ---- */

int uvm__fault_install(void)
{
    if (sigsegv_install_handler(sg_handler) != 0)
        return -ENOTSUP;
    struct sigaction sa;
    if (sigaction(SIGSEGV, NULL, &sa) != 0)
        return -errno;
    sa.sa_flags |= SA_NODEFER | SA_ONSTACK | SA_RESTART;
    if (sigaction(SIGSEGV, &sa, NULL) != 0)
        return -errno;
    sg_action = sa.sa_sigaction;
    atomic_store(&installed, 1);
    return 0;
}

UVM_AS_SAFE int uvm__fault_installed(void)
{
    struct sigaction cur;
    return atomic_load(&installed) && sigaction(SIGSEGV, NULL, &cur) == 0 &&
           (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == sg_action;
}

void uvm__fault_probe(struct uvm__thread *t, pid_t tid)
{
    if (!uvm__fault_installed())
        return;
    siginfo_t si;
    sg_probe_info(&si);
    atomic_fetch_add(&t->probes, 1);
    if (uvm__tgsigqueue(tid, SIGSEGV, &si) != 0)
        atomic_fetch_sub(&t->probes, 1);
}
