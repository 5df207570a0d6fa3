/*
 * uvm-int.h: what libuvm's modules share and users never see.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Conventions (doc/conventions.md [conventions.code]):
 *  - public names start with uvm_, names shared between library files with
 *    uvm__, static helpers with their module's name;
 *  - inside the library functions return 0 or a negative errno; errno is set
 *    only at the public boundary, by uvm__fail();
 *  - a function tagged UVM_AS_SAFE may run in a signal handler: no malloc,
 *    no lock, no stdio, errno preserved by the caller (the dispatcher);
 *  - field legend in structure comments: (c) constant after creation,
 *    (a) atomic, (w) written under the writers' mutex, (t) written only by
 *    the owning thread (in or out of its signal handlers).
 */
#ifndef UVM_INT_H
#define UVM_INT_H

#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include <signal.h>

#define UVM_BUILDING_LIBRARY 1
#include "uvm.h"

/* Marks a function that runs on the fault path or may be called from a
 * region handler.  tests/check-assafe.sh reads every function so
 * marked and fails on a forbidden call. */
#define UVM_AS_SAFE

#define UVM_HIDDEN __attribute__((visibility("hidden")))
#define UVM_LIKELY(x)   __builtin_expect(!!(x), 1)
#define UVM_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Invariant checks: active in --enable-debug builds.  They are for internal
 * invariants only, never for what the environment or the caller can cause
 * (that is an errno).  The failure path is AS-safe. */
#ifdef UVM_DEBUG
UVM_HIDDEN void uvm__assert_fail(const char *expr, const char *file, int line)
    __attribute__((noreturn));
#define UVM_ASSERT(e) \
    ((e) ? (void)0 : uvm__assert_fail(#e, __FILE__, __LINE__))
#else
#define UVM_ASSERT(e) ((void)0)
#endif

/* Handle signatures (MPS design/sig): the first word of every handle the
 * API gives out.  Set last at creation, poisoned at destruction. */
#define UVM_SIG_REGION  0x5245474eu   /* "REGN" */
#define UVM_SIG_TRACKER 0x54524b52u   /* "TRKR" */
#define UVM_SIG_SNAP    0x534e4150u   /* "SNAP" */
#define UVM_SIG_DEAD   0xdeadbeefu

/* ---- errors at the public boundary ---- */

/* Set errno from a negative error code and return -1. */
static inline int uvm__fail(int neg)
{
    errno = -neg;
    return -1;
}

/* ---- the page size (version.c) ---- */
UVM_HIDDEN extern size_t uvm__page_size;      /* (c) after uvm__init */
UVM_HIDDEN extern uintptr_t uvm__page_mask;   /* (c) page_size - 1   */
UVM_HIDDEN void uvm__init(void);

static inline int uvm__aligned(const void *p)
{
    return ((uintptr_t)p & uvm__page_mask) == 0;
}

/* ---- counters (version.c) ---- */
struct uvm__counters {
    atomic_ulong faults, handled, declined, chained, forged;
    atomic_ulong prot_calls, prot_pages, prot_rollbacks, prot_uffd;
    atomic_ulong altstacks, retried;
    atomic_ulong regions;
};
UVM_HIDDEN extern struct uvm__counters uvm__count;
#define UVM_COUNT(field, n) \
    atomic_fetch_add_explicit(&uvm__count.field, (n), memory_order_relaxed)

/* ---- DIRTY (dirty.c): does a live tracker overlap [start, end)? ---- */
UVM_HIDDEN int uvm__dirty_overlaps(uintptr_t start, uintptr_t end);
/* fork() support: the snapshots', DIRTY's and MAP2's mutexes (version.c). */
UVM_HIDDEN void uvm__snap_lock(void);
UVM_HIDDEN void uvm__snap_unlock(void);
UVM_HIDDEN void uvm__dirty_lock(void);
UVM_HIDDEN void uvm__dirty_unlock(void);
UVM_HIDDEN void uvm__dirty_atfork_child(void);  /* mprotect trackers: reconcile */
UVM_HIDDEN void uvm__memobj_lock(void);
UVM_HIDDEN void uvm__memobj_unlock(void);

/* ---- the environment (env.c): parsed in exactly one place ---- */
enum uvm__backend { UVM__BACKEND_AUTO = 0, UVM__BACKEND_MPROTECT = 1 };
UVM_HIDDEN int uvm__env_backend(void);
UVM_HIDDEN int uvm__env_backend_cached(void);   /* AS-safe */

/* ---- raw system calls that glibc does not wrap (os.c) ---- */
UVM_HIDDEN pid_t uvm__gettid(void);                                /* AS */
UVM_HIDDEN int uvm__tgsigqueue(pid_t tid, int sig, siginfo_t *si); /* AS */
UVM_HIDDEN int uvm__tgkill0(pid_t tid);                            /* AS */

/* ---- AS-safe output (diag.c) ---- */
UVM_HIDDEN void uvm__write_str(int fd, const char *s);
UVM_HIDDEN void uvm__write_hex(int fd, uintptr_t v);
UVM_HIDDEN void uvm__write_dec(int fd, unsigned long v);
/* The one-line "no libuvm region" report and a libunwind backtrace of the
 * interrupted context, written to fd 2. */
UVM_HIDDEN void uvm__diag_fault(int sig, const siginfo_t *si, void *uc,
                                int access);

/* ---- scratch memory that is safe to get in a signal handler (os.c) ---- */
struct uvm__scratch {
    void  *mem;       /* mmap'd, or the caller's stack buffer */
    size_t cap;       /* bytes */
    int    mapped;    /* mem came from mmap */
};
UVM_HIDDEN void uvm__scratch_init(struct uvm__scratch *s, void *stackbuf,
                                  size_t cap);
UVM_HIDDEN int  uvm__scratch_reserve(struct uvm__scratch *s, size_t bytes);
UVM_HIDDEN void uvm__scratch_fini(struct uvm__scratch *s);

#endif /* UVM_INT_H */
