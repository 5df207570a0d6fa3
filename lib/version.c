/*
 * version.c: the library itself: version, page size, event counters.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the page size (read once, constant afterwards) and the process-wide
 * counters every module bumps.  Must never: allocate, or touch signal state.
 */
#include "uvm-int.h"
#include "region.h"
#include "thread.h"
#include "vma.h"
#include "prot-uffd.h"

#include <pthread.h>
#include <unistd.h>

size_t uvm__page_size;        /* (c) set once by uvm__init */
uintptr_t uvm__page_mask;     /* (c) */
struct uvm__counters uvm__count;

static void version_init_once(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    uvm__page_size = ps > 0 ? (size_t)ps : 4096;
    uvm__page_mask = uvm__page_size - 1;
}

/* fork() (.fork, the one fork story; uvm(7), Fork, has the table of what
 * each module does in the child): the child must not inherit a held
 * mutex, its parent's thread ids, the records of threads it does not have
 * or its parent's procfs descriptor.  Every mutex of the library is taken
 * here, in one order, the order in which its functions nest them (a DIRTY
 * start traps a region and reserves mappings), so that preparing for fork
 * cannot deadlock with a thread inside the library: the snapshots' global
 * mutex, then each chain's (uvm__snap_lock takes both), DIRTY's global
 * mutex, then each tracker's (uvm__dirty_lock), MAP2, the region table,
 * the mapping budget.  A lock not in this list must never be held across
 * anything that can block.  The thread records and the fault path take no
 * lock: the child frees the records of the threads it lacks (thread.c,
 * .fork).  (One pthread_atfork per module would leave the order to the
 * order the constructors happened to run in.) */
static void atfork_prepare(void)
{
    uvm__snap_lock();
    uvm__dirty_lock();
    uvm__memobj_lock();
    uvm__region_lock();
    uvm__map_budget_lock();
}

static void atfork_parent(void)
{
    uvm__map_budget_unlock();
    uvm__region_unlock();
    uvm__memobj_unlock();
    uvm__dirty_unlock();
    uvm__snap_unlock();
}

/* In the child, the process's identity comes first (the records of the
 * threads it lacks, its own procfs descriptor), so that what the modules
 * then do to repair their objects (a snapshot chain that a parent's thread
 * was taking down is untrapped) never waits for a thread that is not
 * there nor reads the parent's /proc. */
static void atfork_child(void)
{
    uvm__thread_atfork_child();
    uvm__vma_atfork_child();
    uvm__map_budget_unlock();
    uvm__region_reinit_child();
    uvm__memobj_unlock();
    uvm__dirty_unlock();
    uvm__dirty_atfork_child();
    uvm__snap_unlock();
    uvm__prot_uffd_atfork_child();
}

/* Runs before main() so that the fault path and AS-safe calls can read the
 * page size without a once-guard.  It installs no signal handler: those are
 * installed at the first uvm_trap only (the contract). */
__attribute__((constructor)) void uvm__init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, version_init_once);
}

__attribute__((constructor)) static void version_atfork(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

const char *uvm_version(void)
{
    return UVM_VERSION_STRING;
}

UVM_AS_SAFE size_t uvm_pagesize(void)
{
    return uvm__page_size;
}

#define LOAD(f) atomic_load_explicit(&uvm__count.f, memory_order_relaxed)

UVM_AS_SAFE int uvm_stats(struct uvm_stats *st)
{
    if (st == NULL)
        return uvm__fail(-EINVAL);
    st->faults = LOAD(faults);
    st->handled = LOAD(handled);
    st->declined = LOAD(declined);
    st->chained = LOAD(chained);
    st->forged = LOAD(forged);
    st->prot_calls = LOAD(prot_calls);
    st->prot_pages = LOAD(prot_pages);
    st->prot_rollbacks = LOAD(prot_rollbacks);
    st->regions = LOAD(regions);
    st->prot_uffd = LOAD(prot_uffd);
    st->altstacks = LOAD(altstacks);
    st->retried = LOAD(retried);
    return 0;
}
