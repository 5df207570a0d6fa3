/*
 * barrier-vm.c: the Appel-Ellis-Li read barrier, made of libuvm's TRAP,
 * PROTN, UNPROT and MAP2.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the trap region over the mutator view, the per-page state of
 * to-space (gc.pstate), the scan cursor, the collector lock and the
 * background scanner thread of --concurrent.
 *
 * Invariants: every to-space page that holds unscanned copies is PROT_NONE
 * in the mutator view.  The flip forwards the roots and protects the pages
 * their copies went to with one PROTN; after that the copy frontier
 * protects PROT_CHUNK pages ahead of itself with one PROTN each time it
 * needs more (gc_vm_cover), so the flip pause does not grow with the
 * semispace, and a page is protected before any copy lands on it.  Pages
 * nothing was copied to may keep any protection: the mutator holds no
 * pointer into them.  A page goes UNSCANNED -> SCANNED (scanned through
 * the collector view, still protected) -> OPEN (unprotected) under the
 * collector lock, each step once per cycle.  Scanning and opening are
 * apart: increments only scan; the mutator's first touch of a scanned
 * page traps and opens the run of scanned pages around it with one call
 * (open_run), so pages the program never reads again cost no protection
 * call, and an increment's pause holds no system call at all except the
 * occasional PROTN ahead of the copies.  Allocation pages (above
 * gc.alloc_low) are opened ALLOC_CHUNK at a time during a collection, and
 * all at once between collections.  The page holding the copy frontier is
 * closed (the frontier moves to the next page) before it is scanned, so no
 * unscanned copy ever lands on a scanned page.
 *
 * Fault handler: vm_trap and everything it calls (scan_page, gc_forward,
 * gc_copy_alloc, gc_vm_close_copy_room, the spin lock, gc_pause_*) run in
 * signal context.  They call only uvm_unprot, uvm_protn, clock_gettime and
 * write/_exit (gc_fatal); no malloc, no stdio.  The lock is a spin lock
 * that the mutator never holds while it can fault: collector code touches
 * only the collector view, so the handler can only wait for the
 * background thread, never for its own thread.
 */
#include "gc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uvm.h>

#define ALLOC_CHUNK 64          /* pages opened for allocation at a time */
#define PROT_CHUNK 64           /* pages protected ahead of the copies */
#define OPEN_CHUNK 64           /* scanned pages opened by one trap */

static uvm_region *region;
static atomic_flag spin = ATOMIC_FLAG_INIT;
static __thread int is_mutator;
static pthread_t bg;
static pthread_mutex_t bg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cv = PTHREAD_COND_INITIALIZER;
static int bg_go, bg_stop;      /* (bg_mu) */

void gc_vm_lock(void)
{
    if (!gc.concurrent)
        return;
    while (atomic_flag_test_and_set_explicit(&spin, memory_order_acquire))
        __builtin_ia32_pause();
}

/* 1 if taken.  Increments use it: when the background thread holds the
 * lock it is doing their work, so the mutator goes on instead of waiting. */
int gc_vm_trylock(void)
{
    return !gc.concurrent ||
           !atomic_flag_test_and_set_explicit(&spin, memory_order_acquire);
}

void gc_vm_unlock(void)
{
    if (gc.concurrent)
        atomic_flag_clear_explicit(&spin, memory_order_release);
}

/* Every protection change goes through here: n pages from pg, one call
 * (Appel and Li's batching).  The mutator's calls are timed for the report. */
static void set_prot(char *pg, size_t n, int prot)
{
    uint64_t t0 = is_mutator ? gc_now_ns() : 0;
    int rc = n == 1 && prot == (PROT_READ | PROT_WRITE)
                 ? uvm_unprot(pg, prot) : uvm_protn(pg, n, prot);
    if (rc != 0)
        gc_fatal("uvm_protn/uvm_unprot failed");
    if (is_mutator)
        gc_prot_timed(t0);
}

static char *page_ceil(char *p)
{
    return (char *)(((uintptr_t)p + gc.ps - 1) & ~(uintptr_t)(gc.ps - 1));
}

/* Scan one to-space page through the collector view. */
static void scan_page_only(size_t idx)
{
    char *pg = gc.to_lo + idx * gc.ps;
    if (gc.copy > pg && gc.copy < pg + gc.ps) {
        *gc_view(gc.copy) = 0;           /* close the frontier page */
        gc.copy = pg + gc.ps;
    }
    for (size_t off = 0; off < gc.ps;) {
        gc_word h = *gc_view(pg + off);
        if (h == 0)
            break;
        gc_scan_object(pg + off);
        off += 8 * (GC_NWORDS(h) + 1);
    }
}

/* Open the run of scanned, still protected pages around idx (at most
 * OPEN_CHUNK of them) with one call.  Scanned pages are not opened when
 * they are scanned but when the mutator first touches one: a program that
 * does not read an old page never pays a protection call for it, and one
 * that does pays one call per run (Appel and Li: batch the changes). */
static void open_run(size_t idx)
{
    size_t n = gc.semi / gc.ps, lo = idx, hi = idx + 1;
    while (lo > 0 && hi - lo < OPEN_CHUNK / 2 &&
           gc.pstate[lo - 1] == PAGE_SCANNED)
        lo--;
    while (hi < n && hi - lo < OPEN_CHUNK && gc.pstate[hi] == PAGE_SCANNED)
        hi++;
    set_prot(gc.to_lo + lo * gc.ps, hi - lo, PROT_READ | PROT_WRITE);
    for (size_t i = lo; i < hi; i++)
        __atomic_store_n(&gc.pstate[i], PAGE_OPEN, __ATOMIC_RELEASE);
}

/* Scan up to npages unscanned pages, lowest first (Cheney order), but stop
 * at the deadline: an increment's pause is bounded by time as well as by
 * pages.  The pages stay protected until the mutator touches them
 * (open_run).  Returns the pages scanned; *done = 1 when none is left.
 * Lock held. */
size_t gc_vm_scan_pages(size_t npages, uint64_t deadline, int *done)
{
    size_t n = gc.semi / gc.ps, scanned = 0;
    *done = 0;
    for (;;) {
        while (gc.cursor < n && gc.pstate[gc.cursor] != PAGE_UNSCANNED)
            gc.cursor++;
        size_t c = gc.cursor;
        if (c >= n || gc.to_lo + c * gc.ps >= gc.copy) {
            *done = 1;
            return scanned;
        }
        if (scanned >= npages ||
            (deadline && scanned && gc_now_ns() >= deadline))
            return scanned;
        scan_page_only(c);
        __atomic_store_n(&gc.pstate[c], PAGE_SCANNED, __ATOMIC_RELEASE);
        scanned++;
    }
}

/* The fault handler: scan the page if no one has, then open its run.
 * Faults on scanned pages also come after the collection has ended: the
 * pages a collection scanned are opened only when touched. */
static int vm_trap(const struct uvm_fault *f)
{
    uint64_t t0 = gc_pause_begin();
    char *pg = f->page;
    gc_vm_lock();
    if (pg < gc.to_lo || pg >= gc.to_hi) {
        gc_vm_unlock();
        return UVM_DECLINE;                   /* a real crash */
    }
    size_t idx = (size_t)(pg - gc.to_lo) / gc.ps;
    int st = gc.pstate[idx];
    if (st == PAGE_UNSCANNED) {
        if (!gc.active || pg >= gc.copy) {
            gc_vm_unlock();
            return UVM_DECLINE;               /* no object there */
        }
        scan_page_only(idx);
        __atomic_store_n(&gc.pstate[idx], PAGE_SCANNED, __ATOMIC_RELEASE);
    }
    if (st != PAGE_OPEN)
        open_run(idx);
    gc_vm_unlock();
    __atomic_fetch_add(&gcs.traps, 1, __ATOMIC_RELAXED);
    gc_pause_end(H_SLOW, t0);
    return UVM_RETRY;
}

/* The flip's half in vm mode (lock held): every page unscanned again. */
void gc_vm_flip(void)
{
    size_t n = gc.semi / gc.ps;
    memset(gc.pstate, PAGE_UNSCANNED, n);
    gc.cursor = 0;
    gc.alloc_low = gc.to_hi;
    gc.prot_hi = gc.to_lo;
}

/* Protect the pages ahead of the copy frontier, up to end at least. */
void gc_vm_cover(char *end)
{
    char *hi = gc.prot_hi + PROT_CHUNK * gc.ps;
    if (hi < page_ceil(end))
        hi = page_ceil(end);
    if (hi > gc.alloc_low)
        hi = gc.alloc_low;
    if (hi <= gc.prot_hi)
        return;
    set_prot(gc.prot_hi, (size_t)(hi - gc.prot_hi) / gc.ps, PROT_NONE);
    gc.prot_hi = hi;
}

/* Open pages down to low (and a few more) for black allocation. */
void gc_vm_open_alloc(char *low)
{
    gc_vm_lock();
    char *floor = page_ceil(gc.copy);
    if (low >= floor && low < gc.alloc_low) {
        /* Between collections nothing is copied: open all the room left
         * with one call.  During one, a chunk, leaving copy room. */
        char *nl = gc.active ? low - (ALLOC_CHUNK - 1) * gc.ps : floor;
        if (nl < floor || nl > low)
            nl = floor;
        set_prot(nl, (size_t)(gc.alloc_low - nl) / gc.ps,
                 PROT_READ | PROT_WRITE);
        gc.alloc_low = nl;
    }
    gc_vm_unlock();
}

/* The copy frontier needs the pages opened for allocation but not used
 * yet: close them again.  Only the mutator's thread knows gc.top, so the
 * background thread never gets here (it keeps a reserve; see bg_main). */
void gc_vm_close_copy_room(size_t bytes)
{
    (void)bytes;
    if (!is_mutator)
        gc_fatal("background scanner ran out of copy room");
    char *used = (char *)((uintptr_t)gc.top & ~(uintptr_t)(gc.ps - 1));
    if (used > gc.alloc_low) {
        set_prot(gc.alloc_low, (size_t)(used - gc.alloc_low) / gc.ps,
                 PROT_NONE);
        gc.alloc_low = used;
    }
}

static void *bg_main(void *arg)
{
    /* The reserve: scanning one page copies at most one object per word
     * of it, each at most a page. */
    size_t reserve = (gc.ps / 8 + 1) * gc.ps;
    for (;;) {
        pthread_mutex_lock(&bg_mu);
        while (!bg_go && !bg_stop)
            pthread_cond_wait(&bg_cv, &bg_mu);
        int stop = bg_stop;
        pthread_mutex_unlock(&bg_mu);
        if (stop)
            return NULL;
        int done = 0, scanned = 0;
        gc_vm_lock();
        unsigned long seen = gcs.collections;
        if (!gc.active)
            done = 1;
        else if ((size_t)(gc.alloc_low - gc.copy) >= reserve) {
            scanned = gc_vm_scan_pages(1, 0, &done) != 0;
        }
        gc_vm_unlock();
        if (scanned)
            __atomic_fetch_add(&gcs.bg_pages, 1, __ATOMIC_RELAXED);
        if (done) {
            pthread_mutex_lock(&bg_mu);
            if (__atomic_load_n(&gcs.collections, __ATOMIC_RELAXED) == seen)
                bg_go = 0;                /* else a flip woke us meanwhile */
            pthread_mutex_unlock(&bg_mu);
        } else if (!scanned) {
            sched_yield();
        }
    }
}

void gc_vm_wake(void)
{
    if (!gc.concurrent)
        return;
    pthread_mutex_lock(&bg_mu);
    bg_go = 1;
    pthread_cond_signal(&bg_cv);
    pthread_mutex_unlock(&bg_mu);
}

int gc_vm_init(void)
{
    is_mutator = 1;
    gc.pstate = calloc(gc.semi / gc.ps, 1);
    if (gc.pstate == NULL)
        return -1;
    region = uvm_trap(gc.mut, 2 * gc.semi, vm_trap, NULL);
    if (region == NULL)
        return -1;
    bg_go = bg_stop = 0;
    if (gc.concurrent && pthread_create(&bg, NULL, bg_main, NULL) != 0)
        return -1;
    return 0;
}

void gc_vm_fini(void)
{
    if (gc.concurrent) {
        pthread_mutex_lock(&bg_mu);
        bg_stop = 1;
        pthread_cond_signal(&bg_cv);
        pthread_mutex_unlock(&bg_mu);
        pthread_join(bg, NULL);
    }
    uvm_untrap(region);
    free(gc.pstate);
}
