/*
 * uvm.h: libuvm, virtual-memory primitives for user programs.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * The six primitives of Appel & Li, "Virtual Memory Primitives for User
 * Programs" (ASPLOS 1991), on Linux x86-64:
 *
 *   TRAP    uvm_trap, uvm_untrap        fault handlers on address ranges
 *   PROT1   uvm_prot1                   lower the access of one page
 *   PROTN   uvm_protn, uvm_protv        lower it for a batch of pages
 *   UNPROT  uvm_unprot                  raise the access of a page
 *   DIRTY   uvm_dirty_*                 pages written since the last call
 *   MAP2    uvm_alloc, uvm_map2         the same pages at two addresses
 *
 * plus copy-on-write snapshots built on shadow objects (uvm_snapshot).
 *
 * Conventions: every function is thread-safe; failures return -1 (or NULL)
 * with errno set and never abort.  Addresses and lengths measured in pages
 * must be page-aligned (else EINVAL); a zero length is EINVAL.  Functions
 * marked "AS-safe" may be called from a region handler (signal context).
 * Every function declared here is implemented; none fails with ENOSYS.
 *
 * Compile and link with: pkg-config --cflags --libs uvm
 */
#ifndef UVM_H
#define UVM_H

#include <stddef.h>
#include <sys/types.h>   /* ssize_t */
#include <sys/mman.h>    /* PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(UVM_BUILDING_LIBRARY)
#define UVM_EXPORT __attribute__((visibility("default")))
#else
#define UVM_EXPORT
#endif

#define UVM_VERSION_MAJOR 0
#define UVM_VERSION_MINOR 1
#define UVM_VERSION_PATCH 0

/* ---- the library ---------------------------------------------------- */

/* The library's version, "MAJOR.MINOR.PATCH".  Never fails. */
UVM_EXPORT const char *uvm_version(void);

/* The page size the primitives work in (sysconf(_SC_PAGESIZE)).  AS-safe. */
UVM_EXPORT size_t uvm_pagesize(void);

/* How faults reach region handlers, chosen when libuvm was built:
 * "native" (sigaction; access type, ucontext, SIGBUS, chaining to the
 * previous action) or "libsigsegv" (GNU libsigsegv; the address only:
 * access UNKNOWN, ucontext NULL, SIGSEGV only, no chaining).  See
 * uvm_trap(3).  Never fails.  AS-safe. */
UVM_EXPORT const char *uvm_fault_layer(void);

/* ---- TRAP: fault handlers on address ranges (the dispatcher) -------- */

typedef struct uvm_region uvm_region;

enum uvm_access { UVM_ACCESS_UNKNOWN = 0, UVM_ACCESS_READ = 1,
                  UVM_ACCESS_WRITE = 2,   UVM_ACCESS_EXEC = 4 };

struct uvm_fault {
    void       *addr;      /* the faulting address */
    void       *page;      /* addr rounded down to its page */
    int         access;    /* enum uvm_access */
    int         signo;     /* SIGSEGV or SIGBUS */
    uvm_region *region;    /* the region that owns addr */
    void       *arg;       /* the arg given to uvm_trap */
    void       *ucontext;  /* the signal's ucontext_t, or NULL */
};

enum { UVM_RETRY = 0,      /* fault resolved: re-execute the instruction */
       UVM_DECLINE = 1 };  /* not mine: behave as if no region matched   */

/* A region handler.  It runs in the faulting thread, in signal context:
 * it may call only async-signal-safe functions (among libuvm's: those
 * marked AS-safe).  errno is saved and restored around it.  It may fault
 * on another region (nesting, up to UVM_MAX_NESTING deep) and may leave by
 * siglongjmp(3) instead of returning. */
typedef int (*uvm_handler_fn)(const struct uvm_fault *fault);

/* How deep region handlers may nest (a handler faulting on a region whose
 * handler faults on a region ...).  A fault deeper than this is treated as
 * unclaimed and goes to the previous handler or the default action. */
#define UVM_MAX_NESTING 16

/* Register fn for faults in [addr, addr+len).  The range must be page-aligned
 * and need not be mapped.  Installs libuvm's SIGSEGV/SIGBUS handler on first
 * use, saving the previous actions for chaining.  Returns the region, or
 * NULL with errno: EINVAL (misaligned, zero length, wrapping range, NULL fn),
 * EEXIST (overlaps a registered region), ENOMEM.  Not AS-safe. */
UVM_EXPORT uvm_region *uvm_trap(void *addr, size_t len, uvm_handler_fn fn,
                                void *arg);

/* Unregister a region.  On return no handler call for it is running or will
 * start, so the caller may free arg.  Returns 0, or -1 with errno: EINVAL
 * (not a registered region), EDEADLK (called from a handler of this region,
 * or from any handler nested inside one), ENOMEM (no memory for the new
 * version of the region table).  Not AS-safe. */
UVM_EXPORT int uvm_untrap(uvm_region *region);

/* ---- PROT1, PROTN, UNPROT ------------------------------------------- */

/* Set the protection of one page / a run of npages / n scattered pages /
 * one page (UNPROT: Appel & Li's "increase access").  prot is a combination
 * of PROT_READ, PROT_WRITE, PROT_EXEC or PROT_NONE.  uvm_protv sorts the
 * pages, drops duplicates and changes each run of adjacent pages with one
 * kernel call.  All or nothing: on failure nothing was changed.  Returns 0,
 * or -1 with errno: EINVAL (misaligned page, zero count, bad prot bits,
 * NULL array), ENOMEM (a page is not mapped, or the change would exceed the
 * kernel's mapping limit vm.max_map_count), EACCES (prot not allowed for the
 * mapping, e.g. PROT_WRITE on a read-only file mapping); other errors of
 * mprotect(2) pass through unchanged (EPERM for a sealed mapping, EINVAL
 * for part of a huge page), and a change of several pages can fail with the
 * errors of opening /proc/self/maps (EMFILE, ENFILE).  AS-safe. */
UVM_EXPORT int uvm_prot1(void *page, int prot);
UVM_EXPORT int uvm_protn(void *addr, size_t npages, int prot);
UVM_EXPORT int uvm_protv(void *const pages[], size_t n, int prot);
UVM_EXPORT int uvm_unprot(void *page, int prot);

/* A system call that touches a protected page fails with EFAULT instead of
 * trapping.  uvm_touch performs access (UVM_ACCESS_READ, UVM_ACCESS_WRITE
 * or both; a write leaves the bytes unchanged) from user mode on every page
 * of [addr, addr+len), so that region handlers run first and the buffer can
 * then be given to the system call.  addr and len need not be aligned.
 * Returns 0, or -1 with errno: EINVAL (zero len, wrapping range, access not
 * READ and/or WRITE), EFAULT (a page stayed inaccessible: no region
 * claimed the fault).  Not AS-safe. */
UVM_EXPORT int uvm_touch(void *addr, size_t len, int access);

/* ---- DIRTY ---------------------------------------------------------- */

typedef struct uvm_tracker uvm_tracker;   /* one tracked range */
struct uvm_run { void *start; size_t npages; };
enum { UVM_DIRTY_AUTO = 0, UVM_DIRTY_UFFD = 1,
       UVM_DIRTY_MPROTECT = 2, UVM_DIRTY_SOFTDIRTY = 3 };

/* Track writes to the mapped range [addr, addr+len) with method (AUTO picks
 * the fastest that works: userfaultfd WP_ASYNC, then mprotect).  uvm_dirty
 * stores up to max addresses of pages written since the previous call in
 * ascending order (max 0: reset only); pages not stored stay dirty.  See
 * uvm_dirty(3) for errors and for what each method sees.  Not AS-safe. */
UVM_EXPORT uvm_tracker *uvm_dirty_start(void *addr, size_t len, int method);
UVM_EXPORT ssize_t      uvm_dirty(uvm_tracker *t, void **pages, size_t max);
UVM_EXPORT ssize_t      uvm_dirty_runs(uvm_tracker *t, struct uvm_run *runs,
                                       size_t max);
UVM_EXPORT int          uvm_dirty_stop(uvm_tracker *t);
UVM_EXPORT const char  *uvm_dirty_method(const uvm_tracker *t);

/* ---- MAP2 ----------------------------------------------------------- */

/* uvm_alloc: zeroed shareable memory (a sealed memfd object).  uvm_map2:
 * the same pages as [addr, addr+len) of such memory at a new address with
 * its own protection (EINVAL for memory not from uvm_alloc/uvm_map2).
 * uvm_free: unmap all or part of a view; the pages go with the last view.
 * Lengths are rounded up to whole pages.  See uvm_map2(3).  Not AS-safe. */
UVM_EXPORT void *uvm_alloc(size_t len, int prot);
UVM_EXPORT void *uvm_map2(void *addr, size_t len, int prot);
UVM_EXPORT int   uvm_free(void *addr, size_t len);

/* ---- copy-on-write snapshots (shadow objects) ----------------------- */

typedef struct uvm_snap uvm_snap;

/* What a snapshot chain holds (an extension of the contract). */
struct uvm_snap_stats {
    size_t pages_stored;   /* distinct preserved pages held by the chain */
    size_t chain_length;   /* live snapshots in the chain */
    size_t bytes_held;     /* memory held for preserved pages */
    size_t cow_copies;     /* pages copied on first write since start
                              (tracked: by takes and restores) */
    size_t collapses;      /* snapshots folded into a neighbour */
    size_t reserve_bytes;  /* freed copies kept mapped for the next writes
                              (at most one epoch's copies), not in
                              bytes_held */
};

/* uvm_snapshot: capture [addr, addr+len) (page-aligned, readable and
 * writable private anonymous or uvm_alloc memory) without copying it; a
 * snapshot of exactly the range of existing snapshots joins their chain.
 * NULL with EINVAL (alignment, length), ENOMEM (range not mapped, no
 * memory), EACCES (range not read-write), EEXIST (partly overlaps another
 * snapshot's range, a dirty tracker or a trap region), EBUSY (uvm_alloc
 * memory another writable uvm_map2 view maps, or mapped when the process
 * forked; while the snapshot lives, a writable uvm_map2 of its pages is
 * EBUSY too); EINVAL also for a range only partly uvm_alloc memory.
 * uvm_snap_read: copy len bytes at off of the snapshot into buf.
 * uvm_snap_diff: store up to max addresses of live pages that differ from
 * the snapshot, ascending; returns how many.
 * uvm_snap_restore: make the live range equal to the snapshot again
 * (copies only pages that differ; every snapshot stays valid).
 * uvm_snap_save: write the snapshot's bytes to fd while other threads go
 * on writing the range (EBADF, or write(2)'s errno).
 * uvm_snap_view: a read-only mapping of the snapshot, for uvm_alloc memory
 * (NULL with ENOTSUP elsewhere); valid until uvm_snap_release, which
 * unmaps it.  Its pages are filled when first read from user code: give it
 * to a system call after uvm_touch (else EFAULT).
 * uvm_snap_release: forget the snapshot; pages only it needed are freed.
 * uvm_snap_stats: fill *st for the snapshot's chain.
 * A stale or foreign handle is EINVAL.  See uvm_snapshot(3).  Thread-safe,
 * not AS-safe. */
UVM_EXPORT uvm_snap   *uvm_snapshot(void *addr, size_t len);

/* The design of a snapshot chain, for uvm_snapshot2. */
enum { UVM_SNAP_UNDO = 0,      /* copy-on-write, no copy of the range: what
                                  uvm_snapshot does */
       UVM_SNAP_TRACKED = 1 }; /* tracked base (redo): the first snapshot
                                  copies the range, later ones copy only
                                  the pages written since the previous */

/* uvm_snapshot2: uvm_snapshot with a design (flags: one of the above).
 * The first snapshot of a range fixes its chain's design; every later
 * snapshot of the range must ask for the same one (uvm_snapshot asks for
 * UVM_SNAP_UNDO).  The errors of uvm_snapshot, and EINVAL (unknown
 * flags), EBUSY (the range has a chain of the other design).  Every
 * uvm_snap_* call works on either kind.  See uvm_snapshot(3). */
UVM_EXPORT uvm_snap   *uvm_snapshot2(void *addr, size_t len, unsigned flags);
UVM_EXPORT int         uvm_snap_read(const uvm_snap *s, size_t off, void *buf,
                                     size_t len);
UVM_EXPORT ssize_t     uvm_snap_diff(const uvm_snap *s, void **pages,
                                     size_t max);
UVM_EXPORT int         uvm_snap_restore(uvm_snap *s);
UVM_EXPORT int         uvm_snap_save(const uvm_snap *s, int fd);
UVM_EXPORT const void *uvm_snap_view(uvm_snap *s);
UVM_EXPORT int         uvm_snap_release(uvm_snap *s);
UVM_EXPORT int         uvm_snap_stats(const uvm_snap *s,
                                      struct uvm_snap_stats *st);

/* ---- counters (an extension of the contract) ------------------------ */

/* Process-wide event counters, for tests and the benchmark.  Monotonic;
 * read with relaxed atomics, so a snapshot taken while faults are in flight
 * may be a few events behind. */
struct uvm_stats {
    unsigned long faults;          /* hardware faults that reached libuvm */
    unsigned long handled;         /* handler calls that returned RETRY */
    unsigned long declined;        /* handler calls that returned DECLINE */
    unsigned long chained;         /* faults passed to the previous action */
    unsigned long forged;          /* user-sent signals passed on untouched */
    unsigned long prot_calls;      /* kernel protection calls made */
    unsigned long prot_pages;      /* pages whose protection was set */
    unsigned long prot_rollbacks;  /* failed changes undone */
    unsigned long regions;         /* regions registered now */
    unsigned long prot_uffd;       /* changes made with userfaultfd
                                      write-protection instead of mprotect */
    unsigned long altstacks;       /* alternate signal stacks libuvm mapped
                                      for threads that had none */
    unsigned long retried;         /* faults no region claimed, let run
                                      once more because their region had
                                      just been removed (uvm_untrap(3)) */
};

/* Fill *st.  Returns 0, or -1 with errno EINVAL (st is NULL).  AS-safe. */
UVM_EXPORT int uvm_stats(struct uvm_stats *st);

/* Compare the protection state libuvm keeps with the kernel's (the
 * userfaultfd write-protect bit of every page of every registered region,
 * /proc/self/pagemap), writing each difference to stderr.  Returns 0 when
 * they agree; -1 with errno EIO when they differ, or the errno of opening
 * /proc/self/pagemap.  For tests and debugging: call it when no other
 * thread changes protections.  Not AS-safe.  uvm_prot1(3). */
UVM_EXPORT int uvm_debug_audit(void);

#ifdef __cplusplus
}
#endif

#endif /* UVM_H */
