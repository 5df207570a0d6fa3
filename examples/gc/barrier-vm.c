/*
 * barrier-vm.c: the Appel-Ellis-Li read barrier, made of libuvm's TRAP,
 * PROTN, UNPROT and MAP2, and its lock-free background scanner.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the trap region over the mutator view, the per-page state and
 * committed fill of to-space (gc.pstate, gc.pfill), the scan cursors, the
 * copy pages of each collecting thread, and the background scanner thread
 * of --concurrent.
 *
 * Protection.  Every to-space page that holds unscanned copies is
 * PROT_NONE in the mutator view.  Copies go to whole pages taken from the
 * page frontier gc.copy, below gc.prot_hi: the mutator protects PROT_CHUNK
 * pages ahead of the frontier with one PROTN when it needs more
 * (gc_vm_cover), so the flip pause does not grow with the semispace and a
 * page is protected before any copy lands on it.  Pages nothing was copied
 * to may keep any protection: the mutator holds no pointer into them.
 * Scanning and opening are apart: increments and the background thread
 * only scan; the mutator's first touch of a scanned page traps and opens
 * the run of scanned pages around it with one call (open_run), so pages
 * the program never reads again cost no protection call (Appel and Li:
 * batch the changes).  Allocation pages (at and above gc.alloc_low, never
 * below gc.prot_hi while copies may still be made) are opened ALLOC_CHUNK
 * at a time.
 *
 * Concurrency (--concurrent; plain vm runs the same code with plain
 * stores instead of the CASes, as no other thread copies): the mutator (its increments and its trap
 * handler, which never run at once) and the background thread both copy
 * and scan, and neither ever waits for the other, so a trap costs what it
 * costs without the thread (Baker's invariant kept with CAS instead of a
 * lock):
 *  - each thread copies into a page of its own; a copy is written past the
 *    page's committed fill (gc.pfill) and then committed with a CAS, which
 *    fails once a scanner has closed the page (PFILL_CLOSED): a scanner
 *    first closes a page and then scans exactly its committed objects, so
 *    no copy lands on a page after its scan;
 *  - an object is forwarded by a CAS of its from-space header; the loser
 *    of a race leaves its copy behind as an unreachable duplicate (counted)
 *    and uses the winner's;
 *  - a scanner replaces a from-space pointer in a field with a CAS that
 *    expects that pointer, so it never overwrites what the mutator stored
 *    (the mutator stores only to-space pointers), and two threads may scan
 *    the same page: the trap handler scans the page it needs even when the
 *    background thread is scanning it;
 *  - page states go UNSCANNED -> (BUSY: claimed by a scanner) -> SCANNED
 *    -> OPEN, each once per cycle; a page's state becomes SCANNED only
 *    after a complete scan, OPEN only after its UNPROT;
 *  - only the mutator moves gc.prot_hi, gc.alloc_low and the flip; the
 *    background thread takes pages only below gc.prot_hi (no room: it
 *    gives its claim back and waits) and never makes a protection change.
 *    The flip waits until the background thread is between pages
 *    (bg_busy == 0), which it is unless the host has descheduled it since
 *    the collection ended; such waits are counted and reported.
 *
 * Fault handler: vm_trap and everything it calls (scan_page, vm_forward,
 * lab_copy, take_page, gc_vm_cover, gc_vm_close_copy_room, open_run,
 * gc_pause_*) run in signal context: atomics, uvm_unprot, uvm_protn,
 * clock_gettime, getrusage and write/_exit (gc_fatal); no lock, no malloc,
 * no stdio.
 */
#define _GNU_SOURCE 1   /* SCHED_BATCH */
#include "gc.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uvm.h>

#define ALLOC_CHUNK 64          /* pages opened for allocation at a time */
#define PROT_CHUNK 64           /* default --prot-chunk: pages protected
                                 * ahead of the copies, and opened at most
                                 * by one trap */
#define PFILL_CLOSED 0x80000000u

static uvm_region *region;
static __thread int is_mutator;
static __thread char *lab;      /* this thread's copy page, or NULL */
static __thread unsigned lab_epoch;
static pthread_t bg;
static pthread_mutex_t bg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cv = PTHREAD_COND_INITIALIZER;
static int bg_go, bg_stop;      /* (bg_mu) */
static int bg_busy;             /* (atomic) the thread is inside a page */
static char *alloc_floor;       /* (m) --concurrent, between collections:
                                 * lowest page allocation may have */
static size_t prot_chunk;       /* (c) pages protected ahead of copies */
static size_t open_chunk;       /* (c) scanned pages opened by one trap */
unsigned gc_vm_prot_chunk;      /* (c) --prot-chunk */
static unsigned stall_ms;       /* (c) test only: UVM_GC_TEST_BG_STALL_MS */

static unsigned pshift;         /* (c) log2 of the page size */

static size_t idx_of(const char *pg)
{
    return (size_t)(pg - gc.to_lo) >> pshift;   /* no division per copy */
}

static int state(size_t i)
{
    return __atomic_load_n(&gc.pstate[i], __ATOMIC_ACQUIRE);
}

static void set_state(size_t i, int st)
{
    __atomic_store_n(&gc.pstate[i], (unsigned char)st, __ATOMIC_RELEASE);
}

static char *frontier(void)
{
    return __atomic_load_n(&gc.copy, __ATOMIC_ACQUIRE);
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

/* Take the next page at the frontier for this thread's copies.  The
 * mutator protects ahead first (reclaiming allocation room if it must);
 * the background thread takes only pages already protected, else NULL. */
static char *take_page(void)
{
    for (;;) {
        char *c = frontier();
        char *hi = __atomic_load_n(&gc.prot_hi, __ATOMIC_ACQUIRE);
        if (c + gc.ps > hi) {
            if (!is_mutator)
                return NULL;
            gc_vm_cover(c + gc.ps);
            if (c + gc.ps > gc.prot_hi)
                gc_fatal("to-space overflow: live data does not fit "
                         "(try --heap)");
            continue;
        }
        if (__atomic_compare_exchange_n(&gc.copy, &c, c + gc.ps, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            /* alloc_low is the mutator's: only it may read it here */
            GC_ASSERT(!is_mutator || c + gc.ps <= gc.alloc_low);
            return c;
        }
    }
}

/* Copy the object at src (collector view), whose header was h, to this
 * thread's copy page and commit it; the mutator-view address, or NULL
 * (background thread, no room).  The header is h, not src[0]: another
 * thread may have forwarded the original meanwhile. */
static char *lab_copy(const gc_word *src, gc_word h)
{
    size_t nw = GC_NWORDS(h) + 1;
    uint32_t bytes = (uint32_t)(8 * nw);
    if (lab_epoch != gc.epoch) {
        lab = NULL;
        lab_epoch = gc.epoch;
    }
    for (;;) {
        if (lab != NULL) {
            uint32_t *pf = &gc.pfill[idx_of(lab)];
            uint32_t f = __atomic_load_n(pf, __ATOMIC_ACQUIRE);
            if (!(f & PFILL_CLOSED) && f + bytes <= gc.ps) {
                gc_word *d = gc_view(lab + f);
                d[0] = h;
                for (size_t i = 1; i < nw; i++)  /* no memcpy: AS-safe */
                    d[i] = src[i];
                GC_ASSERT(lab >= gc.to_lo &&
                          lab < __atomic_load_n(&gc.prot_hi, __ATOMIC_ACQUIRE));
                if (!gc.concurrent) {    /* no one else: no CAS */
                    *pf = f + bytes;
                    return lab + f;
                }
                if (__atomic_compare_exchange_n(pf, &f, f + bytes, 0,
                                                __ATOMIC_RELEASE,
                                                __ATOMIC_RELAXED))
                    return lab + (f & ~PFILL_CLOSED);
                continue;        /* closed by a scanner meanwhile */
            }
        }
        if ((lab = take_page()) == NULL)
            return NULL;
    }
}

/* gc_forward for vm mode: copy p once, whoever gets there first. */
gc_obj *gc_vm_forward(gc_obj *p)
{
    gc_word *g = gc_view(p);
    gc_word h = __atomic_load_n(&g[0], __ATOMIC_ACQUIRE);
    if (h & GC_HDR_FWD)
        return (gc_obj *)(h & ~GC_HDR_FWD);
    char *dst = lab_copy(g, h);
    if (dst == NULL)
        return NULL;
    if (!gc.concurrent) {
        g[0] = (gc_word)dst | GC_HDR_FWD;
        return (gc_obj *)dst;
    }
    if (__atomic_compare_exchange_n(&g[0], &h, (gc_word)dst | GC_HDR_FWD, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return (gc_obj *)dst;
    __atomic_fetch_add(&gcs.duplicates, 1, __ATOMIC_RELAXED);
    return (gc_obj *)(h & ~GC_HDR_FWD);     /* the winner's copy */
}

/* Forward the pointer fields of the object at obj; 0, or -1 when the
 * background thread ran out of copy room (the page stays unscanned). */
static int scan_object(char *obj)
{
    gc_word *g = gc_view(obj);
    size_t np = GC_NPTR(g[0]);
    for (size_t i = 0; i < np; i++) {
        gc_word v = __atomic_load_n(&g[1 + i], __ATOMIC_RELAXED);
        if (v == 0)
            continue;
        if (!gc_in_from((void *)v)) {
            if (!gc_in_heap((void *)v))
                gc_large_mark((gc_obj *)v);
            continue;
        }
        gc_obj *n = gc_vm_forward((gc_obj *)v);
        if (n == NULL)
            return -1;
        if (!gc.concurrent)
            g[1 + i] = (gc_word)n;
        else
            __atomic_compare_exchange_n(&g[1 + i], &v, (gc_word)n, 0,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
    return 0;
}

/* Scan the page from byte *off on, closing it to further copies first (a
 * page's committed fill is final once closed, so a scan in pieces sees
 * the same objects).  With a deadline, stop once it has passed (checked
 * every few objects): 1 when the page is done, 0 when stopped early, -1
 * when the background thread ran out of copy room. */
static int scan_page_part(size_t idx, uint32_t *off, uint64_t deadline)
{
    char *pg = gc.to_lo + idx * gc.ps;
    uint32_t f = __atomic_fetch_or(&gc.pfill[idx], PFILL_CLOSED,
                                   __ATOMIC_ACQ_REL) & ~PFILL_CLOSED;
    GC_ASSERT(idx < gc.semi / gc.ps && f <= gc.ps && *off <= f);
    for (unsigned n = 1; *off < f; n++) {
        gc_word h = *gc_view(pg + *off);
        if (scan_object(pg + *off) != 0)
            return -1;
        *off += (uint32_t)(8 * (GC_NWORDS(h) + 1));
        if (deadline && n % 4 == 0 && *off < f && gc_now_ns() >= deadline)
            return 0;
    }
    return 1;
}

/* Scan the whole page (traps, the background thread). */
static int scan_page(size_t idx)
{
    uint32_t off = 0;
    return scan_page_part(idx, &off, 0) > 0 ? 0 : -1;
}

/* Open the run of scanned, still protected pages around idx (at most
 * open_chunk of them) with one call.  Scanned pages are not opened when
 * they are scanned but when the mutator first touches one: a program that
 * does not read an old page never pays a protection call for it, and one
 * that does pays one call per run.  Mutator only. */
static void open_run(size_t idx)
{
    size_t n = gc.semi / gc.ps, lo = idx, hi = idx + 1;
    while (lo > 0 && hi - lo < open_chunk / 2 &&
           state(lo - 1) == PAGE_SCANNED)
        lo--;
    while (hi < n && hi - lo < open_chunk && state(hi) == PAGE_SCANNED)
        hi++;
    for (size_t i = lo; i < hi; i++)     /* never a page with unscanned copies */
        GC_ASSERT(state(i) == PAGE_SCANNED);
    set_prot(gc.to_lo + lo * gc.ps, hi - lo, PROT_READ | PROT_WRITE);
    for (size_t i = lo; i < hi; i++)
        set_state(i, PAGE_OPEN);
}

/* The page an increment scans next (cursor < top): the one it left half
 * done, else the lowest unscanned page, claimed (BUSY) so that the
 * background thread leaves it alone, else (all the rest being scanned by
 * the background thread) the lowest such page, scanned here too: the
 * mutator helps rather than waits. */
static size_t pick_page(size_t top)
{
    if (gc.part != SIZE_MAX && gc.part < top &&
        state(gc.part) != PAGE_SCANNED && state(gc.part) != PAGE_OPEN)
        return gc.part;
    size_t busy = SIZE_MAX;
    for (size_t i = gc.cursor; i < top; i++) {
        unsigned char st = PAGE_UNSCANNED;
        if (__atomic_compare_exchange_n(&gc.pstate[i], &st, PAGE_BUSY, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return i;
        if (st == PAGE_BUSY && busy == SIZE_MAX)
            busy = i;
        if (i - gc.cursor > 64 && busy != SIZE_MAX)
            break;                  /* do not search far while helping */
    }
    return busy != SIZE_MAX ? busy : gc.cursor;
}

/* Scan (for the mutator) up to npages pages not yet scanned, lowest first,
 * stopping at the deadline, even in the middle of a page, once something
 * is done: an increment's pause is bounded by time, not only by pages (on
 * a host where a touch of a page not touched lately costs microseconds, a
 * single page can take most of a millisecond).  A page the background
 * thread is scanning is scanned here too (the mutator never waits for
 * it); a page scanned in part stays protected, and a trap on it scans it
 * whole.  Returns the words of to-space scanned; *done = 1 when every
 * page below the frontier is scanned. */
size_t gc_vm_scan_pages(size_t npages, uint64_t deadline, int *done)
{
    size_t pages = 0, words = 0;
    *done = 0;
    for (;;) {
        size_t top = idx_of(frontier());
        while (gc.cursor < top && (state(gc.cursor) == PAGE_SCANNED ||
                                   state(gc.cursor) == PAGE_OPEN))
            gc.cursor++;
        if (gc.cursor >= top) {
            *done = 1;
            gc.part = SIZE_MAX;
            return words;
        }
        if (pages >= npages ||
            (deadline && words && gc_now_ns() >= deadline))
            return words;
        size_t p = pick_page(top);
        if (p != gc.part) {
            gc.part = p;
            gc.cursor_off = 0;
        }
        uint32_t from = gc.cursor_off;
        if (scan_page_part(p, &gc.cursor_off, deadline) > 0) {
            set_state(p, PAGE_SCANNED);
            gc.part = SIZE_MAX;
            words += (gc.ps - from) / 8;
            pages++;
        } else {
            words += (gc.cursor_off - from) / 8 + 1;   /* deadline */
            gcs.partial++;
        }
    }
}

/* The fault handler: scan the page if no one has finished it, then open
 * its run.  Faults on scanned pages also come after the collection has
 * ended: a collection's pages are opened only when touched. */
static int vm_trap(const struct uvm_fault *f)
{
    uint64_t t0 = gc_pause_begin_rt();
    char *pg = f->page;
    if (pg < gc.to_lo || pg >= gc.to_hi) {
        gc_pause_cancel();
        return UVM_DECLINE;                   /* a real crash */
    }
    size_t idx = idx_of(pg);
    int st = state(idx);
    if (st == PAGE_UNSCANNED || st == PAGE_BUSY) {
        if (!gc.active || pg >= frontier()) {
            gc_pause_cancel();
            return UVM_DECLINE;               /* no object there */
        }
        scan_page(idx);
        set_state(idx, PAGE_SCANNED);
    }
    if (st != PAGE_OPEN)
        open_run(idx);
    __atomic_fetch_add(&gcs.traps, 1, __ATOMIC_RELAXED);
    gc_pause_end(H_SLOW, t0);
    return UVM_RETRY;
}

/* Before the flip: the background thread must not be inside a page (its
 * CASes would land in the next cycle's spaces).  It finished its last page
 * long ago unless the host descheduled it; count the waits. */
void gc_vm_quiesce(void)
{
    if (!gc.concurrent || !__atomic_load_n(&bg_busy, __ATOMIC_SEQ_CST))
        return;
    uint64_t t0 = gc_now_ns();
    while (__atomic_load_n(&bg_busy, __ATOMIC_SEQ_CST))
        sched_yield();
    gcs.flip_waits++;
    uint64_t d = gc_now_ns() - t0;
    if (d > gcs.flip_wait_max)
        gcs.flip_wait_max = d;
}

/* The flip's half in vm mode (background thread quiescent): every page
 * unscanned and empty again. */
void gc_vm_flip(void)
{
    size_t n = gc.semi / gc.ps;
    memset(gc.pstate, PAGE_UNSCANNED, n);
    memset(gc.pfill, 0, n * sizeof *gc.pfill);
    gc.cursor = 0;
    gc.cursor_off = 0;
    gc.part = SIZE_MAX;
    gc.alloc_low = gc.to_hi;
    __atomic_store_n(&gc.prot_hi, gc.to_lo, __ATOMIC_RELEASE);
}

/* Protect the pages ahead of the copy frontier, up to end at least.
 * Mutator only. */
void gc_vm_cover(char *end)
{
    if (page_ceil(end) > gc.alloc_low)
        gc_vm_close_copy_room(0);
    char *hi = gc.prot_hi + prot_chunk * gc.ps;
    if (hi < page_ceil(end))
        hi = page_ceil(end);
    if (hi > gc.alloc_low)
        hi = gc.alloc_low;
    if (hi <= gc.prot_hi)
        return;
    set_prot(gc.prot_hi, (size_t)(hi - gc.prot_hi) / gc.ps, PROT_NONE);
    __atomic_store_n(&gc.prot_hi, hi, __ATOMIC_RELEASE);
    GC_ASSERT(gc.prot_hi <= gc.alloc_low);
}

/* The collection has ended (mutator).  With --concurrent, the background
 * thread may still be finishing a page and take copy pages below
 * gc.prot_hi: move the frontier up to gc.prot_hi so that it cannot, and
 * give the pages between the old frontier and there to allocation. */
void gc_vm_end(void)
{
    if (!gc.concurrent)
        return;
    char *c = frontier();
    while (c < gc.prot_hi &&
           !__atomic_compare_exchange_n(&gc.copy, &c, gc.prot_hi, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        ;
    alloc_floor = page_ceil(c);
}

/* Open pages down to low (and a few more) for black allocation.  Never
 * below the protected copy room while copies may be made: the background
 * thread may take any page below gc.prot_hi. */
void gc_vm_open_alloc(char *low)
{
    uint64_t t0 = gc_pause_begin_rt();  /* collector work: a pause */
    char *floor = page_ceil(frontier());
    if (gc.concurrent)
        floor = gc.active ? (floor < gc.prot_hi ? gc.prot_hi : floor)
                          : alloc_floor;
    if (low >= floor && low < gc.alloc_low) {
        /* A chunk at a time, even between collections: one protection
         * call costs about in proportion to its pages on a host with
         * costly page-table changes (measured: 300-900 us to open all the
         * room left at once), and it is a pause. */
        char *nl = low - (ALLOC_CHUNK - 1) * gc.ps;
        if (nl < floor || nl > low)
            nl = floor;
        set_prot(nl, (size_t)(gc.alloc_low - nl) / gc.ps,
                 PROT_READ | PROT_WRITE);
        gc.alloc_low = nl;
        if (gc.prot_hi > nl)          /* no longer copy room (plain vm) */
            __atomic_store_n(&gc.prot_hi, nl, __ATOMIC_RELEASE);
    }
    gc_pause_end(H_INCR, t0);
}

/* The copies need the pages opened for allocation but not used yet: close
 * them again.  Only the mutator's thread knows gc.top. */
void gc_vm_close_copy_room(size_t bytes)
{
    (void)bytes;
    if (!is_mutator)
        gc_fatal("background scanner asked for allocation room");
    char *used = (char *)((uintptr_t)gc.top & ~(uintptr_t)(gc.ps - 1));
    if (used > gc.alloc_low) {
        set_prot(gc.alloc_low, (size_t)(used - gc.alloc_low) / gc.ps,
                 PROT_NONE);
        gc.alloc_low = used;
    }
}

/* One page for the background thread: 1 scanned, 0 none to take now,
 * -1 the collection is over (or not begun). */
static int bg_one(size_t *cursor, unsigned *epoch)
{
    __atomic_store_n(&bg_busy, 1, __ATOMIC_SEQ_CST);
    int rc = 0;
    if (!__atomic_load_n(&gc.active, __ATOMIC_SEQ_CST)) {
        rc = -1;
        goto out;
    }
    if (*epoch != gc.epoch) {
        *epoch = gc.epoch;
        *cursor = 0;
    }
    size_t top = idx_of(frontier());
    while (*cursor < top && state(*cursor) != PAGE_UNSCANNED)
        (*cursor)++;
    if (*cursor >= top)
        goto out;
    unsigned char want = PAGE_UNSCANNED;
    if (!__atomic_compare_exchange_n(&gc.pstate[*cursor], &want, PAGE_BUSY,
                                     0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        goto out;
    if (stall_ms) {                       /* as if the host descheduled us */
        struct timespec ts = { stall_ms / 1000, (long)(stall_ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
    }
    if (scan_page(*cursor) == 0) {   /* whole: 0, or -1 for no room */
        want = PAGE_BUSY;                 /* a trap may have finished it */
        __atomic_compare_exchange_n(&gc.pstate[*cursor], &want, PAGE_SCANNED,
                                    0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
        rc = 1;
    } else {
        want = PAGE_BUSY;                 /* no room: give the page back */
        __atomic_compare_exchange_n(&gc.pstate[*cursor], &want,
                                    PAGE_UNSCANNED, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE);
    }
out:
    __atomic_store_n(&bg_busy, 0, __ATOMIC_SEQ_CST);
    return rc;
}

static void *bg_main(void *arg)
{
    size_t cursor = 0;
    unsigned epoch = 0;
    for (;;) {
        pthread_mutex_lock(&bg_mu);
        while (!bg_go && !bg_stop)
            pthread_cond_wait(&bg_cv, &bg_mu);
        int stop = bg_stop;
        unsigned long seen = __atomic_load_n(&gcs.collections,
                                             __ATOMIC_RELAXED);
        pthread_mutex_unlock(&bg_mu);
        if (stop)
            return NULL;
        int rc = bg_one(&cursor, &epoch);
        if (rc > 0) {
            __atomic_fetch_add(&gcs.bg_pages, 1, __ATOMIC_RELAXED);
        } else if (rc < 0) {
            pthread_mutex_lock(&bg_mu);
            if (__atomic_load_n(&gcs.collections, __ATOMIC_RELAXED) == seen)
                bg_go = 0;                /* else a flip woke us meanwhile */
            pthread_mutex_unlock(&bg_mu);
        } else {
            /* Nothing to take now: sleep rather than spin on
             * sched_yield, which burnt a CPU the mutator needs on a busy
             * 2-CPU host. */
            struct timespec ts = { 0, 100000 };
            nanosleep(&ts, NULL);
        }
    }
    (void)arg;
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
    pshift = (unsigned)__builtin_ctzl(gc.ps);
    /* Protection batches (--prot-chunk): fewer calls against shorter
     * ones.  On the 2-vCPU guest of RESULTS.md 16 pages gave shorter
     * pauses with pauses SCHED_FIFO, 64 pages about a third of the calls
     * and the better throughput.  Protected room ahead of the copies is
     * less in small heaps, where allocation cannot use it while a
     * collection runs. */
    size_t want = gc_vm_prot_chunk ? gc_vm_prot_chunk : PROT_CHUNK;
    open_chunk = want;
    prot_chunk = gc.semi / gc.ps / 16;
    prot_chunk = prot_chunk > want ? want : prot_chunk < 1 ? 1 : prot_chunk;
    gc.pstate = calloc(gc.semi / gc.ps, 1);
    gc.pfill = calloc(gc.semi / gc.ps, sizeof *gc.pfill);
    if (gc.pstate == NULL || gc.pfill == NULL)
        return -1;
    region = uvm_trap(gc.mut, 2 * gc.semi, vm_trap, NULL);
    if (region == NULL)
        return -1;
    bg_go = bg_stop = 0;
    const char *st = getenv("UVM_GC_TEST_BG_STALL_MS");
    stall_ms = st ? (unsigned)atoi(st) : 0;
    if (gc.concurrent && pthread_create(&bg, NULL, bg_main, NULL) != 0)
        return -1;
    if (gc.concurrent) {
        /* SCHED_BATCH: waking the thread at a flip must not preempt the
         * mutator on its own CPU (measured: --concurrent flips took 5 ms
         * median off-CPU under load with the default policy). */
        struct sched_param sp = { 0 };
        (void)pthread_setschedparam(bg, SCHED_BATCH, &sp);
    }
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
    free(gc.pfill);
}
