/*
 * snap.c: copy-on-write snapshots, Mach's shadow objects in user space.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: snapshot handles (signature UVM_SIG_SNAP), chains (one per
 * snapshotted range), the owner table and the buckets of each chain,
 * collapse, and errno for the uvm_snap_* entry points.  The store, the
 * journal and grace periods are snap-store.c's, the fault path and the
 * write-protection snap-fault.c's, views snap-view.c's, the tracked
 * (redo) design's base and tracker snap-redo.c's.
 *
 * Design (see also uvm_snapshot(3)).  The strategy is Mach's asymmetric
 * "copy object" (push-on-write, QEMU's background snapshot): the live range
 * stays where it is and is never remapped; the old contents of a page are
 * pushed into the store at its first write after a snapshot that needs
 * them.  Why not redo layers driven by DIRTY (uffd WP_ASYNC): a first write
 * to a page never copied needs its old contents saved before it lands, and
 * only a synchronous fault can do that; one range has one userfaultfd
 * whose WP mode (sync or async) is per descriptor, so the two cannot be
 * mixed; so with fresh pages written every epoch, every write pays one
 * synchronous fault whatever the design (measured bounds in
 * bench/uvm-bench-snap.c).  That is the default; a program that can pay
 * one copy of the range up front may ask for the other trade instead
 * (UVM_SNAP_TRACKED): a chain whose "live page" is a base copy kept up to
 * date by DIRTY, with the same versions, tags and collapse (snap-redo.c).
 * A chain is of one design for its life (.obj.chain); the other design
 * asking for its range is EBUSY.
 *
 *  .obj.chain   All snapshots of one range form a chain, oldest to newest,
 *               each with a generation number gen (strictly increasing).
 *  .obj.version A stored copy of one page: a slot of the store, tagged a =
 *               the newest live gen when the copy was made.  The versions
 *               of page p form a list, newest first, whose head is the
 *               owner-table entry head[p] (the flattened shadow chain of
 *               DragonFly and UVM's amap: there is no object chain to walk).
 *  .obj.bucket  Every version is owned by exactly one live snapshot: the
 *               newest with gen <= a (its own vector).  So snapshot S owns
 *               the versions tagged in [S.gen, next newer gen), which are
 *               exactly those that release of S may free.
 *  .lookup      Snapshot S (gen g) sees for page p the version with the
 *               smallest a >= g; if none, the live page, which is then
 *               write-protected and unchanged since S.  A read walks only
 *               p's versions with a >= g, at most one per live snapshot.
 *  .state       Each page is PROT (live contents needed by a snapshot and
 *               not stored: write-protected), BUSY (claimed: being pushed,
 *               or read live, writers wait) or LIVE (contents stored or
 *               needed by nobody: writable, or being protected by the
 *               entry point that holds mu, when writes retry until it is
 *               PROT).  A page becomes PROT only once its protection is in
 *               place (.inv.prot): a fault raised earlier and delivered late
 *               may claim any PROT page, and must never make LIVE a page
 *               about to be protected.  Pages made LIVE are journaled;
 *               taking a snapshot re-protects exactly those (relive), so
 *               its cost and what later writes pay grow with the pages
 *               written since the previous snapshot, never with the range.
 *               Only the first snapshot of a chain protects the whole range.
 *  .collapse    Releasing S (gen g), in any order, visits only S's bucket:
 *               a version stays if the next older live snapshot O still
 *               sees it (its older neighbour's tag < O.gen), and then moves
 *               to O's bucket (the fold of 4.4BSD's vm_object_collapse,
 *               done per page); else it is unlinked and its slot freed.
 *               Hence versions per page <= live snapshots (.inv.bound),
 *               bytes held = distinct preserved pages, and release costs
 *               O(versions S owned), never O(range).
 *  .restore     uvm_snap_restore(S) visits the buckets of S and of the
 *               newer snapshots (the only versions S may see) and copies
 *               back the pages whose version S sees: O(pages stored since
 *               S).  uvm_snap_diff visits the same.
 *
 *  .views      A chain of uvm_alloc memory protects the one view it was
 *               taken through; a write through another view of the same
 *               pages (uvm_map2) would change them with no fault, and the
 *               snapshots would change with them.  So the chain pins the
 *               object's window (memobj.c): uvm_snapshot of a window that
 *               another writable view maps, and a writable uvm_map2 of a
 *               pinned window, fail with EBUSY.  Not covered: a read-only
 *               view made writable by mprotect, views the library does
 *               not know (a mapping of /proc/self/fd, say).  After fork
 *               the other process maps every object that was mapped: a
 *               writable view out of reach, so those objects are EBUSY
 *               in both processes for good.  A range partly in views
 *               (two adjacent objects, a view and private memory) is
 *               EINVAL: one chain has one kind of memory.  A fork child's
 *               mapping is another view: .fork orphans it.
 *
 *  .lost       The kernel can drop a PROT page's contents without a write
 *               fault (MADV_DONTNEED of private anonymous memory zeroes
 *               it; a later write then lands with no fault either).  No
 *               entry point can undo that, so it is detected instead, and
 *               a read of what was lost fails with EIO rather than
 *               returning zeros: with userfaultfd the write-protection
 *               mark lives in the page table entry and goes with the page,
 *               so a PROT page without its mark (pagemap bit 57) has lost
 *               what the snapshots needed; a version pushed from such a
 *               page by an entry point is marked lost.  Unless the page
 *               held nothing (filled, noted when the first snapshot
 *               protects the range, and for every page re-protected): then
 *               the first snapshot's page is zeros, and a later one's if
 *               the page is a hole still (uvm__snap_live_empty).  With
 *               mprotect the protection is the mapping's and stays; but
 *               a page filled when protected that is a hole now was
 *               dropped (uvm__snap_entry_lost), and the fault path looks
 *               before it copies (a write to the hole faults).  Once the
 *               program has read such a page, the kernel has mapped a
 *               page of zeros of its own there (this kernel maps no
 *               shared zero page: measured), and nothing tells: not
 *               detected (CAVEATS).
 *
 * Invariants (UVM_ASSERT in debug builds, chain_check; handlers may push
 * meanwhile, and only versions tagged the newest gen can appear or change,
 * so the checks count only the others, which are stable under mu):
 *  .inv.sig     every live handle has sig UVM_SIG_SNAP and a live chain;
 *  .inv.prot    a PROT page is write-protected (by construction: see
 *               .state; not checked, the kernel does not say cheaply);
 *  .inv.order   versions of a page have decreasing tags, newest first;
 *  .inv.bound   versions of a page <= live snapshots, and each is seen by
 *               some live snapshot (after every release);
 *  .inv.owner   every version not tagged the newest gen is in the bucket
 *               of the snapshot that owns it, and the buckets hold nothing
 *               else: their sizes add up to the stored count;
 *  .inv.room    see snap-store.c.
 *
 * Locks: the global gmu (the list of chains, handles), then a chain's
 * mu; nobody holds two chains' mus but the fork handler, which takes gmu
 * and then every listed chain's mu in list order (uvm__snap_lock, called
 * by version.c before DIRTY's locks).  gmu is never held while waiting
 * for a mu: a thread that finds mu busy pins the chain (pins, so that it
 * is not freed), lets gmu go, waits for mu, and starts again.  mu is never
 * held across a system call that can block for long (uvm_snap_save writes
 * with mu released, a chunk at a time).
 *
 * fork: a chain with userfaultfd belongs to the process that opened the
 * descriptor (pid): in a child every call on it fails with ECHILD and
 * changes nothing, but uvm_snap_release, which frees the child's
 * bookkeeping and never touches the descriptor's address space.  An
 * mprotect chain is the child's own copy (protection, trap and tables are
 * all inherited) and works there.
 *
 * Concurrency: every entry point takes the chain's mutex and drains the
 * journal; fault handlers take nothing and touch only state[], head[]
 * (CAS), the free-slot stack and the journal (atomics), as grace-period
 * readers.  An operation that changes which gens are live publishes the
 * newest live gen and then waits for a grace period, so that every later
 * push sees it and every earlier one is in the journal.  A chain's handler
 * may run as soon as its region is registered, before chain_new has set
 * prot and uffd: ready publishes them (release, acquired by the handler),
 * and the pages' PROT is stored with release, which a claim acquires.
 *
 * Must never: remap or copy the whole live range; walk the whole range
 * except at the first snapshot's protection, the last release's
 * unprotection, uvm_snap_save and view copies; let a write reach a PROT
 * page before its contents are stored.
 */
#include "snap.h"
#include "dirty-int.h"
#include "pool.h"
#include "memobj.h"
#include "thread.h"
#include "region.h"
#include "vma.h"
#include "uffd.h"
#include "prot-backend.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* Chains and handles; handles come from never-freed chunks so that a
 * stale pointer can be checked without touching foreign memory. */
static pthread_mutex_t gmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gcv = PTHREAD_COND_INITIALIZER;  /* a chain died */
static struct snap_chain *chains;      /* (g) */
static pid_t forking;                  /* (g) the process in fork() */

/* fork() (version.c orders the library's locks): gmu, then every chain's
 * mu in list order, so that neither process inherits a chain half-way
 * through an entry point. */
void uvm__snap_lock(void)
{
    pthread_mutex_lock(&gmu);
    forking = getpid();
    for (struct snap_chain *c = chains; c != NULL; c = c->next)
        pthread_mutex_lock(&c->mu);
}

/* Write-protect (on) or write-enable the pages [a, a + n * PS) of c with
 * mprotect itself: in the fork child's handler the library's protection
 * and mapping modules are not reset yet.  Past holes, page by page. */
static void child_protect(const struct snap_chain *c, uintptr_t a, size_t n,
                          int on)
{
    int prot = on ? c->prot & ~PROT_WRITE : c->prot;
    if (mprotect((void *)a, n * snap_ps(), prot) == 0)
        return;
    for (size_t k = 0; k < n; k++)
        mprotect((void *)(a + k * snap_ps()), snap_ps(), prot);
}

/* A chain the child owns, as the parent's other threads left it (.fork):
 * a handler of theirs may have held a page BUSY, been a grace-period
 * reader, claimed a journal entry it never wrote, or made a page LIVE
 * that the journal does not name yet.  Entry points cannot be half-way
 * (fork holds every mu), so only handlers can, and they touch only the
 * page they claimed: each such page is put back in a consistent state.
 * A BUSY page goes back to PROT (write-protected again: its write has
 * not landed, the faulting thread is not here), keeping the version its
 * handler published, if any (head, tagged newest, in no bucket), and
 * dropping a copy it had not published (a slot lost until the chain
 * dies; .room is mapped anew).  A LIVE page nobody journaled joins
 * relive, with its version.  O(npages) bytes only if a handler was in
 * flight. */
static void child_repair(struct snap_chain *c)
{
    int busy = atomic_load(&c->readers[0]) != 0 ||
               atomic_load(&c->readers[1]) != 0 ||
               memchr((const void *)c->state, PG_BUSY, c->npages) != NULL;
    atomic_store(&c->readers[0], 0);
    atomic_store(&c->readers[1], 0);
    uvm__snap_journal_adopt(c);
    if (!busy)
        return;
    uint64_t newest = atomic_load(&c->newest);
    uint32_t *mark = c->seen;          /* scratch: 1 relive, 2 journaled */
    memset(mark, 0, c->npages * sizeof *mark);
    for (size_t k = 0; k < c->relive.n; k++)
        mark[c->relive.v[k]] |= 1;
    for (uint32_t v = c->newest_s->own.first; v != SNAP_NONE;
         v = snap_slot_meta(c, v - 1)->bnext)
        mark[snap_slot_meta(c, v - 1)->page] |= 2;
    for (size_t i = 0; i < c->npages; i++) {
        unsigned char st = atomic_load(&c->state[i]);
        if (st == PG_PROT || (st == PG_LIVE && (mark[i] & 1)))
            continue;
        uint32_t h = atomic_load(&c->head[i]);
        if (h != SNAP_NONE && snap_slot_meta(c, h - 1)->a >= newest &&
            !(mark[i] & 2))
            uvm__snap_version_add(c, h - 1);   /* published, unjournaled */
        if (st == PG_BUSY) {
            child_protect(c, c->start + i * snap_ps(), 1, 1);
            atomic_store(&c->state[i], PG_PROT);
        } else {
            UVM_ASSERT(c->relive.n < c->npages);
            c->relive.v[c->relive.n++] = (uint32_t)i;
        }
    }
    uvm__snap_store_room(c);           /* .room, despite a lost slot */
}

/* Give back what a chain holds of the process besides its memory: its
 * share of the mapping budget, its userfaultfd, its pagemap descriptor. */
static void chain_put_resources(struct snap_chain *c)
{
    if (c->budget)
        uvm__map_budget_release(c->budget);
    if (c->uffd >= 0)
        uvm__uffd_close(c->uffd);
    if (c->pagemap >= 0)
        close(c->pagemap);
    /* A fork child keeps its pins of shared memory (.views): the
     * parent's snapshot may still need the pages. */
    if (c->pid == getpid())
        uvm__memobj_unpin(c);
}

/* A chain that a thread of the parent was taking down (chain_destroy):
 * the child finishes it for its own copy of the range, so that no page
 * stays read-only without a trap and the range can be snapshotted or
 * trapped again.  With userfaultfd the child's pages were never
 * write-protected (its mapping has no userfaultfd).  What the parent's
 * thread had begun to close or give back (down) is left alone: better a
 * descriptor or a mapping reservation lost than closed or given back
 * twice.  The chain's memory is not freed (the child's is a copy). */
static void child_finish(struct snap_chain *c)
{
    int e = errno;
    if (c->tracked) {                  /* a tracker fork left attached */
        if (!atomic_load(&c->down))
            uvm__snap_redo_stop(c);
        errno = e;
        return;
    }
    if (c->uffd < 0)
        child_protect(c, c->start, c->npages, 0);
    uvm__untrap(c->region);            /* EINVAL if the parent's did */
    if (!atomic_load(&c->down))
        chain_put_resources(c);
    errno = e;
}

/* A chain of shared (uvm_alloc) memory: the child's writes would land in
 * the pages the parent's snapshots read live, with no copy made in the
 * parent's store (neither backend can: the child's mapping has no
 * userfaultfd, and an mprotect handler of the child's would copy into the
 * child's store).  So the child's mapping is made read-only and the
 * chain's handler declines (orphan): a write by the child is its SIGSEGV,
 * never a silent change of the parent's snapshot.  The chain stays the
 * parent's (foreign): calls on it fail with ECHILD, release frees the
 * child's bookkeeping and leaves the range read-only. */
static void child_orphan(struct snap_chain *c)
{
    atomic_store(&c->orphan, 1);
    child_protect(c, c->start, c->npages, 1);
}

/* In a child (.fork): private mprotect chains become the child's own,
 * repaired; chains of shared memory are orphaned; chains that a thread
 * of the parent was taking down are finished and dropped from the list
 * (their memory stays).  No count of a thread the child does not have
 * survives: pins and grace-period readers are reset. */
static void snap_child_adopt(void)
{
    pid_t self = getpid();
    for (struct snap_chain **pp = &chains, *c; (c = *pp) != NULL;) {
        atomic_store(&c->pins, 0);     /* waiters of the parent's threads */
        if (c->dying) {
            atomic_store(&c->readers[0], 0);
            atomic_store(&c->readers[1], 0);
            *pp = c->next;
            pthread_mutex_unlock(&c->mu);
            child_finish(c);           /* the thread records are gone */
            continue;
        }
        if (c->tracked) {
            /* A private range tracked with mprotect is the child's own
             * copy, tracker and all; a userfaultfd tracker acts on the
             * parent, and shared memory is the parent's (uvm(7)). */
            if (!c->memobj && c->trk.ops == &uvm__dirty_mprotect)
                c->pid = self;
        } else if (c->memobj)
            child_orphan(c);
        else if (c->uffd < 0) {
            c->pid = self;
            child_repair(c);
            /* the descriptor shows the parent's pages (.lost) */
            if (c->pagemap >= 0)
                close(c->pagemap);
            c->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        }
        pp = &c->next;
    }
}

void uvm__snap_unlock(void)
{
    if (getpid() != forking)
        snap_child_adopt();
    for (struct snap_chain *c = chains; c != NULL; c = c->next)
        pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&gmu);
}

/* Does c's userfaultfd belong to another process (this is a child)? */
static int chain_foreign(const struct snap_chain *c)
{
    return c->pid != getpid();      /* (a private mprotect chain's pid is
                                       the child's, snap_child_adopt) */
}

/* Lock c's mu with gmu held: 1 locked (gmu still held), or 0 when mu was
 * busy: then gmu has been let go, mu waited for (c pinned meanwhile), and
 * the caller starts again from gmu. */
static int chain_lock(struct snap_chain *c)
{
    if (pthread_mutex_trylock(&c->mu) == 0)
        return 1;
    atomic_fetch_add(&c->pins, 1);
    pthread_mutex_unlock(&gmu);
    pthread_mutex_lock(&c->mu);
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_sub(&c->pins, 1);
    return 0;
}

static struct uvm__pool handles =        /* (g) linked through newer */
    UVM__POOL(struct uvm_snap, newer, 64, NULL);

#define PS() snap_ps()

/* Publish a new newest live gen, then wait out the handlers that may have
 * read the old one. */
static void publish_newest(struct snap_chain *c, uint64_t g)
{
    atomic_store(&c->newest, g);
    uvm__snap_grace(c);
}

/* ---- checks (debug builds) ---- */

#ifdef UVM_DEBUG
static size_t live_gens_in(const struct snap_chain *c, uint64_t lo,
                           uint64_t hi)
{
    size_t n = 0;
    for (const struct uvm_snap *s = c->oldest; s != NULL; s = s->newer)
        n += s->gen > lo && s->gen <= hi;
    return n;
}

/* Under mu, after the journal is drained.  Versions tagged >= newest may
 * appear meanwhile (handlers); everything else is stable. */
static void chain_check(const struct snap_chain *c, int strict)
{
    uint64_t newest = c->newest_s->gen;
    UVM_ASSERT(atomic_load(&c->newest) == newest);
    size_t stable = 0;
    for (size_t i = 0; i < c->npages; i++) {
        size_t n = 0;
        uint64_t prev = UINT64_MAX;
        for (uint32_t v = atomic_load(&c->head[i]); v != SNAP_NONE;) {
            const struct snap_vmeta *m = snap_slot_meta(c, v - 1);
            UVM_ASSERT(m->a < prev);                      /* .inv.order */
            UVM_ASSERT(m->page == i);
            prev = m->a;
            n++;
            uint32_t nx = atomic_load(&m->next);
            uint64_t lo = nx != SNAP_NONE ? snap_slot_meta(c, nx - 1)->a : 0;
            if (strict)
                UVM_ASSERT(live_gens_in(c, lo, m->a) > 0); /* .inv.bound */
            stable += m->a < newest;
            v = nx;
        }
        UVM_ASSERT(n <= c->nsnaps);                       /* .inv.bound */
    }
    size_t owned = 0, owned_stable = 0;
    for (const struct uvm_snap *s = c->oldest; s != NULL; s = s->newer) {
        uint64_t hi = s->newer != NULL ? s->newer->gen : UINT64_MAX;
        size_t n = 0;
        for (uint32_t v = s->own.first; v != SNAP_NONE;
             v = snap_slot_meta(c, v - 1)->bnext, n++) {
            uint64_t a = snap_slot_meta(c, v - 1)->a;
            UVM_ASSERT(a >= s->gen && a < hi);            /* .inv.owner */
            owned_stable += a < newest;
        }
        UVM_ASSERT(n == s->own.n);
        owned += n;
    }
    UVM_ASSERT(owned == c->stored);                       /* .inv.owner */
    UVM_ASSERT(owned_stable == stable);                   /* .inv.owner */
}
#define CHAIN_CHECK(c, strict) chain_check(c, strict)
#else
#define CHAIN_CHECK(c, strict) ((void)0)
#endif

/* ---- handles ---- */

static struct uvm_snap *handle_new(void)
{
    struct uvm_snap *s = uvm__pool_get(&handles);
    if (s != NULL)
        memset((void *)s, 0, sizeof *s);
    return s;
}

static void handle_put(struct uvm_snap *s)
{
    uvm__pool_put(&handles, s);
}

/* s is one of our handles and live; under gmu. */
static int handle_ok(const uvm_snap *s)
{
    return s != NULL && uvm__pool_owns(&handles, s) &&
           atomic_load(&s->sig) == UVM_SIG_SNAP;
}

/* Resolve the handle *sp (pool.h; *sp is then the snapshot), validate
 * it and lock its chain (gmu and mu held): 0 or -EINVAL (gmu released). */
static int snap_lock(const uvm_snap **sp)
{
    for (;;) {
        pthread_mutex_lock(&gmu);
        const struct uvm_snap *s = uvm__pool_resolve(&handles, *sp);
        if (!handle_ok(s)) {
            pthread_mutex_unlock(&gmu);
            return -EINVAL;
        }
        if (chain_lock(s->c)) {
            *sp = s;
            return 0;
        }
    }
}

/* Resolve the handle *sp, validate it, lock its chain and drain the
 * journal.  0, -EINVAL, or -ECHILD (a child's call on its parent's
 * chain). */
static int snap_enter(const uvm_snap **sp, struct snap_chain **out)
{
    int rc = snap_lock(sp);
    if (rc < 0)
        return rc;
    const struct uvm_snap *s = *sp;
    struct snap_chain *c = s->c;
    pthread_mutex_unlock(&gmu);
    if (chain_foreign(c)) {
        pthread_mutex_unlock(&c->mu);
        return -ECHILD;
    }
    UVM_ASSERT(c->nsnaps > 0);                            /* .inv.sig */
    uvm__snap_journal_drain(c);
    *out = c;
    return 0;
}

/* ---- chains ---- */

static void chain_free(struct snap_chain *c)
{
    while (atomic_load(&c->pins) != 0)
        sched_yield();          /* waiters let mu go at once (chain_lock) */
    uvm__snap_redo_stop(c);            /* (its memory; stopped already) */
    uvm__snap_store_fini(c);
    if (c->state) munmap((void *)c->state, c->npages);
    if (c->head) munmap((void *)c->head, c->npages * sizeof *c->head);
    if (c->jr) munmap((void *)c->jr, c->npages * sizeof *c->jr);
    if (c->relive.v) munmap(c->relive.v, c->npages * sizeof *c->relive.v);
    if (c->seen) munmap(c->seen, c->npages * sizeof *c->seen);
    if (c->filled) munmap(c->filled, c->npages);
    if (c->bounce) munmap(c->bounce, PS());
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* The range must be mapped, with one protection, and be private anonymous
 * memory or uvm_alloc memory (we cannot tell private anonymous from other
 * private mappings cheaply; the kernel refuses WP on what it cannot
 * protect). */
static int range_check(uintptr_t start, uintptr_t end, int memobj,
                       int *prot)
{
    struct uvm__vma v;
    *prot = -1;
    for (uintptr_t a = start; a < end; a = v.end) {
        int rc = uvm__vma_query(a, &v);
        if (rc < 0)
            return rc == -ENOMEM ? -ENOMEM : rc;
        if (v.start > a)
            return -ENOMEM;
        if ((v.prot & (PROT_READ | PROT_WRITE)) != (PROT_READ | PROT_WRITE))
            return -EACCES;       /* before the mix: EACCES whatever order */
        /* Shared memory not from uvm_alloc (MAP_SHARED|MAP_ANONYMOUS, a
         * shared file): other processes' writes reach it unseen. */
        if (v.shared && !memobj)
            return -EINVAL;
        if (*prot >= 0 && v.prot != *prot)
            return -EINVAL;
        *prot = v.prot;
    }
    return (*prot & PROT_WRITE) && (*prot & PROT_READ) ? 0 : -EACCES;
}

/* The tables of a new chain: mapped, touched only where used. */
static int chain_alloc(uintptr_t start, uintptr_t end,
                       struct snap_chain **out)
{
    int kind = uvm__memobj_classify(start, end);
    if (kind < 0)                      /* partly uvm_alloc memory */
        return kind;
    struct snap_chain *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    c->start = start;
    c->end = end;
    c->npages = (end - start) / PS();
    c->uffd = -1;
    c->pagemap = -1;
    c->pid = getpid();
    c->memobj = kind;
    c->state = uvm__snap_map_zero(c->npages);          /* all PG_LIVE */
    c->head = uvm__snap_map_zero(c->npages * sizeof *c->head);
    c->jr = uvm__snap_map_zero(c->npages * sizeof *c->jr);
    c->relive.v = uvm__snap_map_zero(c->npages * sizeof *c->relive.v);
    c->relive.cap = c->npages;
    c->seen = uvm__snap_map_zero(c->npages * sizeof *c->seen);
    c->filled = uvm__snap_map_zero(c->npages);
    c->bounce = uvm__snap_map_zero(PS());
    int rc = c->state && c->head && c->jr && c->relive.v && c->seen &&
                     c->filled && c->bounce ? 0 : -ENOMEM;
    if (rc == 0)
        rc = uvm__snap_store_init(c);
    if (rc < 0) {
        chain_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int chain_new(uintptr_t start, uintptr_t end, struct snap_chain **out)
{
    struct snap_chain *c = NULL;
    int prot = 0, rc = chain_alloc(start, end, &c);
    if (rc < 0)
        return rc;
    /* Our own trap, never taken over by prot-uffd.c: the chain owns the
     * protection of its range.  First, so that overlapping a trap region
     * or a tracker (which may have made pages read-only) is EEXIST. */
    c->region = uvm__trap((void *)start, end - start, uvm__snap_fault, c,
                          UVM__REGION_NO_UFFD);
    rc = c->region == NULL ? -errno : range_check(start, end, c->memobj, &prot);
    if (rc == 0 && uvm__dirty_overlaps(start, end))
        rc = -EEXIST;              /* a uffd tracker, seen without uffd */
    /* Shared memory: the protection covers this view only, so no other
     * view of its pages may exist while the chain does (.views). */
    if (rc == 0 && c->memobj)
        rc = uvm__memobj_pin(start, end, c);
    if (rc < 0) {
        if (c->region != NULL)
            uvm__untrap(c->region);
        chain_free(c);
        return rc;
    }
    c->prot = prot;
    c->gen = 1;                    /* the first snapshot's, seen by pushes */
    atomic_store(&c->newest, 1);
    int fd = uvm__snap_uffd_open(start, end - start);
    if (fd >= 0)
        c->uffd = fd;
    /* .lost; unreadable (a non-dumpable process): not detected */
    c->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    rc = fd == -EEXIST ? fd : 0;
    /* mprotect splits the range, at worst into a mapping per page (every
     * other page written): reserve that up front (dirty-mprotect.c's
     * budget), so that no write ever meets the mapping limit. */
    if (rc == 0 && c->uffd < 0) {
        rc = uvm__map_budget_reserve(c->npages + 2);
        c->budget = rc == 0 ? c->npages + 2 : 0;
    }
    /* The handler may run since uvm__trap (a late fault of an earlier
     * chain of the range): publish prot and uffd before the protection,
     * and the pages' PROT after it, with release stores that its acquire
     * of ready or its claim of a page pairs with. */
    atomic_store_explicit(&c->ready, 1, memory_order_release);
    int wp = 0;
    if (rc == 0) {                 /* the only whole-range protection */
        uvm__snap_fill_note(c, 0); /* (.lost; a page populated meanwhile */
        rc = uvm__snap_wp_pages(c, NULL, 0, 1);
        uvm__snap_fill_note(c, 1); /*  is present after) */
        wp = 1;
    }
    /* PROT only now that the protection is in place (.inv.prot).  Bytes:
     * a handler reading one meanwhile sees LIVE (and retries) or PROT.
     * Atomic stores, not memset: such a handler may be CASing the byte.
     * Release (a plain store on x86): a handler that claims the page
     * sees the fields above. */
    if (rc == 0)
        for (size_t i = 0; i < c->npages; i++)
            atomic_store_explicit(&c->state[i], PG_PROT,
                                  memory_order_release);
    if (rc < 0) {
        if (c->pagemap >= 0)
            close(c->pagemap);
        if (c->uffd >= 0)
            uvm__uffd_close(c->uffd);
        else if (wp)
            uvm__prot_change(start, c->npages, prot, 0);
        if (c->budget)
            uvm__map_budget_release(c->budget);
        uvm__memobj_unpin(c);
        uvm__untrap(c->region);
        chain_free(c);
        return rc == -EBUSY ? -EEXIST : rc;
    }
    *out = c;
    return 0;
}

/* A new tracked chain (snap-redo.c): its tracker, then the base copy. */
/* Does a trap region overlap [start, end)?  (An undo chain finds out by
 * trapping first; a tracked chain of userfaultfd traps later.) */
static int trap_overlaps(uintptr_t start, uintptr_t end)
{
    struct uvm__thread *t = uvm__thread_get();
    if (t == NULL)
        return 0;                 /* the trap later says EEXIST */
    int hz;
    void *root = uvm__hazard_acquire(t, &uvm__region_root, &hz);
    if (hz < 0)
        return 0;
    int yes = root != NULL && uvm__region_next(root, start, end) != NULL;
    uvm__hazard_release(t, hz);
    return yes;
}

static int chain_new_tracked(uintptr_t start, uintptr_t end,
                             struct snap_chain **out)
{
    struct snap_chain *c = NULL;
    int prot = 0, rc = chain_alloc(start, end, &c);
    if (rc < 0)
        return rc;
    c->tracked = 1;
    /* A tracker may have made the range read-only: EEXIST, not EACCES,
     * as for an undo chain (whose trap comes first). */
    rc = uvm__dirty_overlaps(start, end) || trap_overlaps(start, end)
             ? -EEXIST : range_check(start, end, c->memobj, &prot);
    /* Another view's writes would escape the tracker (.views). */
    if (rc == 0 && c->memobj)
        rc = uvm__memobj_pin(start, end, c);
    if (rc == 0) {
        c->prot = prot;
        c->gen = 1;
        atomic_store(&c->newest, 1);
        atomic_store_explicit(&c->ready, 1, memory_order_release);
        rc = uvm__snap_redo_start(c);
    }
    if (rc < 0) {
        uvm__snap_redo_stop(c);
        uvm__memobj_unpin(c);
        chain_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Take the chain down: write-enable everything, then untrap (which waits
 * for handlers in flight), then close; the memory is chain_free's.
 * With userfaultfd, unregistering write-enables the range in the same walk (an explicit UFFDIO_WRITEPROTECT
 * first would make it two: measured 1 GiB, 46-50 ms against 82-88 ms on
 * a loaded machine); a handler in flight then finds its page write-enabled
 * already (ENOENT). */
static void chain_destroy(struct snap_chain *c)
{
    if (c->tracked) {
        /* The tracker knows its own fork story (dirty-uffd.c); the
         * region goes with it. */
        uvm__snap_redo_stop(c);
        atomic_store(&c->down, 1);
        chain_put_resources(c);
        return;
    }
    if (chain_foreign(c)) {
        /* A child: the descriptor acts on the parent; only our trap and
         * our reference to the descriptor go. */
    } else if (c->uffd >= 0) {
        if (uvm__uffd_unregister(c->uffd, c->start, c->end - c->start) != 0)
            uvm__snap_wp_pages(c, NULL, 0, 0);
    } else {
        /* Piece by piece past holes the program made: a page left
         * read-only would have no trap once the region goes. */
        uvm__unprotect_mapped(c->start, c->end, c->prot);
    }
    /* A write that faulted before the range was write-enabled may look
     * the region up only after this: the dispatcher runs it once more
     * (.gone in region.c) rather than take it for a crash. */
    uvm__untrap(c->region);
    atomic_store(&c->down, 1);             /* a fork child leaves the rest */
    chain_put_resources(c);
}

/* ---- taking a snapshot ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Re-protect the pages made LIVE since the previous snapshot, in runs
 * (Appel & Li's PROTN batching).  Under mu, after the new gen is published
 * and the journal drained. */
static int reprotect_relive(struct snap_chain *c)
{
    size_t n = c->relive.n;
    if (n == 0)
        return 0;
    uint32_t *pg = c->relive.v;
    qsort(pg, n, sizeof *pg, cmp_u32);
    /* Protection first, state second (.inv.prot): a write meanwhile
     * faults on a LIVE page and retries until the page is PROT. */
    int rc = uvm__snap_wp_pages(c, pg, n, 1);
    if (rc < 0) {
        uvm__snap_wp_pages(c, pg, n, 0);   /* the pages stay LIVE */
        return rc;
    }
    for (size_t k = 0; k < n; k++) {
        UVM_ASSERT(k == 0 || pg[k] > pg[k - 1]);
        UVM_ASSERT(atomic_load(&c->state[pg[k]]) == PG_LIVE);
        c->filled[pg[k]] = 1;              /* written (.lost) */
        atomic_store(&c->state[pg[k]], PG_PROT);
    }
    c->relive.n = 0;
    return 0;
}

static void link_newest(struct snap_chain *c, struct uvm_snap *s)
{
    s->older = c->newest_s;
    if (c->newest_s != NULL)
        c->newest_s->newer = s;
    else
        c->oldest = s;
    c->newest_s = s;
    c->nsnaps++;
}

/* Find the chain of [start, end) or create it; under gmu.  *fresh: it was
 * created (and is not linked yet).  -EAGAIN: a dying chain overlaps the
 * range (the last release of a range racing a new snapshot of it must
 * not make the new one fail with EEXIST). */
static int chain_get(uintptr_t start, uintptr_t end, int tracked,
                     struct snap_chain **out, int *fresh)
{
    *fresh = 0;
    for (struct snap_chain *x = chains; x != NULL; x = x->next) {
        if (!(x->start < end && start < x->end))
            continue;
        if (x->dying)
            return -EAGAIN;        /* wait for it to go (gcv), again */
        if (chain_foreign(x))
            return -ECHILD;        /* the parent's: release it first */
        if (x->start != start || x->end != end)
            return -EEXIST;
        if (x->tracked != tracked)
            return -EBUSY;         /* a chain of the other design */
        *out = x;                  /* join its chain */
        return 0;
    }
    int rc = tracked ? chain_new_tracked(start, end, out)
                     : chain_new(start, end, out);
    *fresh = rc == 0;
    return rc;
}

/* A new snapshot of an existing chain (mu). */
static int snap_take(struct snap_chain *c, struct uvm_snap *s)
{
    if (c->tracked) {              /* snap-redo.c .take */
        int rc = uvm__snap_redo_sync(c);
        s->gen = ++c->gen;
        link_newest(c, s);
        atomic_store(&c->newest, s->gen);  /* no handler reads it */
        c->last_pushes = c->epoch_pushes;
        c->epoch_pushes = 0;
        return rc;
    }
    s->gen = ++c->gen;
    /* Linked first: a push tagged s->gen may be journaled as soon as the
     * gen is published, and must land in s's bucket. */
    link_newest(c, s);
    publish_newest(c, s->gen);
    uvm__snap_journal_drain(c);
    int rc = reprotect_relive(c);
    c->last_pushes = c->epoch_pushes;
    c->epoch_pushes = 0;
    if (rc == 0)
        rc = uvm__snap_store_room(c);
    return rc;
}

uvm_snap *uvm_snapshot(void *addr, size_t len)
{
    return uvm_snapshot2(addr, len, UVM_SNAP_UNDO);
}

uvm_snap *uvm_snapshot2(void *addr, size_t len, unsigned flags)
{
    uvm__init();
    int tracked = (flags & UVM_SNAP_TRACKED) != 0;
    if ((flags & ~(unsigned)UVM_SNAP_TRACKED) != 0 || addr == NULL || !uvm__aligned(addr) || len == 0 ||
        (len & uvm__page_mask) != 0 || (uintptr_t)addr + len < len ||
        len / uvm__page_size > SNAP_MAX_PAGES) {
        uvm__fail(-EINVAL);
        return NULL;
    }
    uintptr_t start = (uintptr_t)addr, end = start + len;
    struct snap_chain *c = NULL;
    int fresh = 0, rc;
    pthread_mutex_lock(&gmu);
    for (;;) {
        rc = chain_get(start, end, tracked, &c, &fresh);
        if (rc == -EAGAIN) {
            pthread_cond_wait(&gcv, &gmu);
            continue;
        }
        if (rc < 0 || fresh || chain_lock(c))
            break;
        pthread_mutex_lock(&gmu);  /* mu was busy: look again */
    }
    struct uvm_snap *s = rc == 0 ? handle_new() : NULL;
    if (rc == 0 && s == NULL) {
        rc = -ENOMEM;
        if (fresh) {
            chain_destroy(c);
            chain_free(c);
        } else
            pthread_mutex_unlock(&c->mu);
    }
    if (rc < 0) {
        pthread_mutex_unlock(&gmu);
        uvm__fail(rc);
        return NULL;
    }
    if (fresh)
        pthread_mutex_lock(&c->mu);
    s->c = c;
    if (fresh) {
        s->gen = c->gen;
        link_newest(c, s);
        c->next = chains;
        chains = c;
    } else {
        rc = snap_take(c, s);
        /* On failure (a protection call failed) s is released below, so
         * no snapshot depends on the pages left writable. */
    }
    atomic_store(&s->sig, UVM_SIG_SNAP);
    if (rc == 0)
        CHAIN_CHECK(c, 0);
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&gmu);
    uvm_snap *h = uvm__pool_handle(&handles, s);
    if (rc < 0) {
        uvm_snap_release(h);
        uvm__fail(rc);
        return NULL;
    }
    return h;
}

/* ---- reading ---- */

/* Does [p, p + n) overlap the chain's range? */
static int in_range(const struct snap_chain *c, const void *p, size_t n)
{
    return (uintptr_t)p < c->end && (uintptr_t)p + n > c->start;
}

/* check 0: the caller checks for lost pages itself, a chunk at a time
 * (save_chunk). */
static int read_page(struct snap_chain *c, size_t i, uint64_t g, void *dst,
                     size_t off, size_t n, int check)
{
    if (c->tracked) {              /* the store holds every page */
        memcpy(dst, snap_slot_mem(c, uvm__snap_redo_slot(c, i, g) - 1) + off,
               n);
        return 0;
    }
    for (;;) {
        uint32_t v = uvm__snap_lookup(c, i, g);
        if (v != SNAP_NONE) {
            if (snap_slot_meta(c, v - 1)->lost)
                return -EIO;
            memcpy(dst, snap_slot_mem(c, v - 1) + off, n);
            return 0;
        }
        /* A destination in the range itself may be the very page held
         * BUSY below, whose fault would wait for this claim for ever: the
         * copy goes through the bounce page, and reaches dst once the
         * claim is let go (its write then faults like any other). */
        char *to = in_range(c, dst, n) ? c->bounce : dst;
        if (uvm__snap_claim(c, i)) {
            int rc = 0;
            v = uvm__snap_lookup(c, i, g);
            if (v == SNAP_NONE) {     /* claimed and write-protected: */
                /* Lost before (it may be unmapped: the copy would fault)
                 * or during the copy (.lost). */
                int lost = check && uvm__snap_live_lost(c, i);
                if (!lost)
                    snap_live_read(to, (char *)(c->start + i * PS()) + off,
                                   n);    /* writers fault and wait */
                if (check && !lost)
                    lost = uvm__snap_live_lost(c, i);
                /* Nothing there when protected, nothing there now: the
                 * snapshot's page is zeros, whatever dropped the mark. */
                if (lost && uvm__snap_live_empty(c, i, g))
                    memset(to, 0, n);
                else if (lost)
                    rc = -EIO;
            } else if (snap_slot_meta(c, v - 1)->lost) {
                rc = -EIO;
            } else {
                memcpy(to, snap_slot_mem(c, v - 1) + off, n);
            }
            atomic_store(&c->state[i], PG_PROT);
            if (rc == 0 && to != dst)
                memcpy(dst, to, n);
            return rc;
        }
        /* LIVE: a handler pushed it meanwhile; the lookup finds it now */
    }
}

int uvm__snap_read_page(struct snap_chain *c, size_t i, uint64_t g,
                        void *dst, size_t off, size_t n)
{
    return read_page(c, i, g, dst, off, n, 1);
}

int uvm_snap_read(const uvm_snap *s, size_t off, void *buf, size_t len)
{
    struct snap_chain *c;
    int rc = snap_enter(&s, &c);
    if (rc < 0)
        return uvm__fail(rc);
    size_t size = c->end - c->start;
    if ((buf == NULL && len > 0) || off > size || len > size - off) {
        pthread_mutex_unlock(&c->mu);
        return uvm__fail(-EINVAL);
    }
    char *out = buf;
    int rc2 = 0;
    while (len > 0 && rc2 == 0) {
        size_t i = off / PS(), po = off % PS(), n = PS() - po;
        if (n > len)
            n = len;
        rc2 = uvm__snap_read_page(c, i, s->gen, out, po, n);
        out += n;
        off += n;
        len -= n;
    }
    pthread_mutex_unlock(&c->mu);
    return rc2 < 0 ? uvm__fail(rc2) : 0;
}

#define SAVE_PAGES 256                 /* 1 MiB writes */

/* mprotect chain c: which of pages [i, i + n) lie in a mapping that is
 * not the chain's any more (unmapped, or writable: .lost)?  One query a
 * mapping, not one a page. */
static void mapping_gone(const struct snap_chain *c, size_t i, size_t n,
                         unsigned char *gone)
{
    uintptr_t a = c->start + i * PS(), e = a + n * PS();
    while (a < e) {
        uintptr_t to;
        int lost = uvm__snap_mapping_lost(a, &to);
        if (to <= a || to > e)
            to = e;
        if (lost)
            memset(gone + (a - (c->start + i * PS())) / PS(), 1,
                   (to - a) / PS());
        a = to;
    }
}

/* Pages [i, i + n) of userfaultfd chain c that snapshot gen g would read
 * live and that have lost their write-protection mark (.lost): one
 * pagemap read for the chunk instead of two per page.  -EIO if any, 0 if
 * none, 1 if pagemap cannot tell (check page by page). */
static int chunk_lost(struct snap_chain *c, size_t i, size_t n, uint64_t g)
{
    uint64_t e[SAVE_PAGES];
    off_t at = (off_t)((c->start / PS() + i) * sizeof e[0]);
    if (c->pagemap < 0 ||
        pread(c->pagemap, e, n * sizeof e[0], at) != (ssize_t)(n * sizeof e[0]))
        return 1;
    /* pagemap first, lookup second: a handler pushes a version before it
     * write-enables the page, so a mark gone that way has a version. */
    int check = 0;
    unsigned char gone[SAVE_PAGES] = { 0 };
    if (c->uffd < 0)
        mapping_gone(c, i, n, gone);
    for (size_t k = 0; k < n; k++) {
        if (gone[k] && uvm__snap_lookup(c, i + k, g) == SNAP_NONE) {
            if (!uvm__snap_live_empty(c, i + k, g))
                return -EIO;
            check = 1;
            continue;
        }
        int lost = uvm__snap_entry_lost(c, i + k, e[k]);
        /* mprotect: a hole that held nothing may be unmapped: the copy
         * would fault, read_page's check looks */
        int hole = !(e[k] & (SNAP_PAGEMAP_PRESENT | SNAP_PAGEMAP_SWAP));
        if ((lost || (c->uffd < 0 && hole)) &&
            uvm__snap_lookup(c, i + k, g) == SNAP_NONE) {
            if (lost && !uvm__snap_live_empty(c, i + k, g))
                return -EIO;
            check = 1;        /* zeros: read_page's check says so */
        }
    }
    return check;
}

/* Has a page that snapshot gen g reads live lost its contents (.lost)?
 * -EIO or 0.  Such a page has no version, so the buckets cannot name it:
 * the range's pagemap is read, a chunk at a time (8 bytes a page: 2 MiB
 * for 1 GiB).  Pagemap unreadable: not detected. */
static int range_lost(struct snap_chain *c, uint64_t g)
{
    if (c->tracked)
        return 0;                  /* snapshots read only copies */
    for (size_t i = 0; i < c->npages; i += SAVE_PAGES) {
        size_t n = c->npages - i < SAVE_PAGES ? c->npages - i : SAVE_PAGES;
        if (chunk_lost(c, i, n, g) < 0)
            return -EIO;
    }
    return 0;
}

/* The pages whose version snapshot s sees, ascending, into c->seen: only
 * the buckets of s and newer snapshots can hold one (mu).  Never fails:
 * at most one version per page is seen, so npages entries suffice. */
static size_t seen_pages(struct snap_chain *c, const struct uvm_snap *s)
{
    uint32_t *pg = c->seen;
    size_t k = 0;
    for (const struct uvm_snap *x = s; x != NULL; x = x->newer)
        for (uint32_t v = x->own.first; v != SNAP_NONE;
             v = snap_slot_meta(c, v - 1)->bnext) {
            uint32_t p = snap_slot_meta(c, v - 1)->page;
            if (uvm__snap_lookup(c, p, s->gen) == v) {
                UVM_ASSERT(k < c->npages);
                pg[k++] = p;          /* one version per page is seen */
            }
        }
    qsort(pg, k, sizeof *pg, cmp_u32);
    return k;
}

ssize_t uvm_snap_diff(const uvm_snap *s, void **pages, size_t max)
{
    struct snap_chain *c;
    if (pages == NULL && max > 0)
        return uvm__fail(-EINVAL);
    int rc = snap_enter(&s, &c);
    if (rc < 0)
        return uvm__fail(rc);
    /* A page s reads live that was lost differs, or not: nobody knows. */
    if (range_lost(c, s->gen) < 0) {
        pthread_mutex_unlock(&c->mu);
        return uvm__fail(-EIO);
    }
    const uint32_t *pg = c->seen;
    size_t npg = seen_pages(c, s), n = 0;
    if (c->tracked) {
        ssize_t r = uvm__snap_redo_diff(c, s->gen, pg, npg, pages, max);
        pthread_mutex_unlock(&c->mu);
        return r < 0 ? uvm__fail((int)r) : r;
    }
    for (size_t k = 0; k < npg && n < max; k++) {
        uint32_t v = uvm__snap_lookup(c, pg[k], s->gen);
        char *live = (char *)(c->start + (size_t)pg[k] * PS());
        if (snap_slot_meta(c, v - 1)->lost) {          /* (.lost) */
            pthread_mutex_unlock(&c->mu);
            return uvm__fail(-EIO);
        }
        /* A page with a version may be LIVE (writable) again: nothing
         * orders this read against the caller's own writes to it
         * meanwhile, which may be seen or not (CAVEATS). */
        if (snap_live_differs(live, snap_slot_mem(c, v - 1), PS()))
            pages[n++] = live;
    }
    pthread_mutex_unlock(&c->mu);
    return (ssize_t)n;
}

/* ---- restore ---- */

/* Make page i hold the contents of version v; under mu.  A PROT page is
 * first pushed, as a fault would, if a snapshot needs it. */
static int restore_page(struct snap_chain *c, size_t i, uint32_t v)
{
    char *live = (char *)(c->start + i * PS());
    /* Writable (LIVE, or write-enabled below): the caller's own writes
     * to the page meanwhile race with the copy, and the page may end up
     * with some of them over the restored contents (CAVEATS). */
    if (!uvm__snap_claim(c, i)) {          /* LIVE: writable */
        if (snap_live_differs(live, snap_slot_mem(c, v - 1), PS()))
            snap_live_write(live, snap_slot_mem(c, v - 1), PS());
        return 0;
    }
    uint64_t newest = atomic_load(&c->newest);
    if (uvm__snap_live_needed(c, i, newest)) {
        /* No fault vouched for this copy: the page must not be lost
         * before it (with mprotect the copy maps a page) nor after it
         * (.lost). */
        int lost = uvm__snap_live_lost(c, i);
        uint32_t s = uvm__snap_slot_take(c);
        uvm__snap_push(c, i, s, newest,
                       lost && !uvm__snap_live_empty(c, i, newest));
        if (!lost && uvm__snap_live_lost(c, i))       /* during the copy */
            snap_slot_meta(c, s)->lost =
                (uint32_t)!uvm__snap_live_empty(c, i, newest);
        uvm__snap_version_add(c, s);
    }
    int rc = uvm__snap_wp(c, (uintptr_t)live, 1, 0);
    if (rc < 0) {
        atomic_store(&c->state[i], PG_PROT);
        return rc;
    }
    snap_live_write(live, snap_slot_mem(c, v - 1), PS());
    c->relive.v[c->relive.n++] = (uint32_t)i;
    atomic_store(&c->state[i], PG_LIVE);
    return 0;
}

int uvm_snap_restore(uvm_snap *s)
{
    struct snap_chain *c;
    int rc = snap_enter((const uvm_snap **)&s, &c);
    if (rc < 0)
        return uvm__fail(rc);
    const uint32_t *pg = c->seen;
    size_t npg = seen_pages(c, s);
    if (c->tracked) {
        rc = uvm__snap_redo_restore(c, s->gen, pg, npg);
        if (rc == 0)
            CHAIN_CHECK(c, 1);
        pthread_mutex_unlock(&c->mu);
        return rc < 0 ? uvm__fail(rc) : 0;
    }
    /* Nothing changes if a page of s was lost (.lost): a version marked
     * lost, or a page s reads live that has lost its contents (it has no
     * version to restore from, and its live contents are not s's). */
    for (size_t k = 0; rc == 0 && k < npg; k++)
        if (snap_slot_meta(c, uvm__snap_lookup(c, pg[k], s->gen) - 1)->lost)
            rc = -EIO;
    if (rc == 0)
        rc = range_lost(c, s->gen);
    for (size_t k = 0; rc == 0 && k < npg; k++)
        rc = restore_page(c, pg[k], uvm__snap_lookup(c, pg[k], s->gen));
    if (rc == 0)
        CHAIN_CHECK(c, 1);
    pthread_mutex_unlock(&c->mu);
    return rc < 0 ? uvm__fail(rc) : 0;
}

/* ---- saving: Li, Naughton and Plank's concurrent checkpoint ---- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}


/* Pages [i, i + n) as snapshot gen g sees them into buf (mu).  With
 * userfaultfd the lost-page check (.lost) is made for the whole chunk
 * before the copy (a page unmapped would fault) and after it. */
static int save_chunk(struct snap_chain *c, size_t i, size_t n, uint64_t g,
                      char *buf)
{
    if (c->tracked) {              /* no live page is read (.lost) */
        for (size_t k = 0; k < n; k++)
            read_page(c, i + k, g, buf + k * PS(), 0, PS(), 0);
        return 0;
    }
    int rc = chunk_lost(c, i, n, g);
    int check = rc == 1;
    for (size_t k = 0; k < n && rc >= 0; k++)
        rc = read_page(c, i + k, g, buf + k * PS(), 0, PS(), check);
    if (rc == 0 && !check)
        rc = chunk_lost(c, i, n, g);
    return rc < 0 ? rc : 0;
}

/* The chain's mutex is held while a chunk is read, never across write(2):
 * a slow descriptor (a full pipe) would otherwise hold up every call on
 * the chain, and fork().  A snapshot is immutable, so chunks read under
 * separate holds of mu still make one consistent image; a release of s
 * meanwhile ends the save with EINVAL. */
int uvm_snap_save(const uvm_snap *s, int fd)
{
    if (fd < 0)
        return uvm__fail(-EBADF);
    char *buf = malloc(SAVE_PAGES * PS());
    if (buf == NULL)
        return uvm__fail(-ENOMEM);
    int rc = 0;
    for (size_t i = 0, npages = 1; i < npages && rc == 0;
         i += SAVE_PAGES) {
        struct snap_chain *c;
        const uvm_snap *sp = s;          /* the handle, resolved anew */
        rc = snap_enter(&sp, &c);
        if (rc < 0)
            break;
        npages = c->npages;
        size_t n = npages - i < SAVE_PAGES ? npages - i : SAVE_PAGES;
        rc = save_chunk(c, i, n, sp->gen, buf);
        pthread_mutex_unlock(&c->mu);
        if (rc == 0)
            rc = write_all(fd, buf, n * PS());
    }
    free(buf);
    return rc < 0 ? uvm__fail(rc) : 0;
}

/* ---- view ---- */

const void *uvm_snap_view(uvm_snap *s)
{
    struct snap_chain *c;
    int rc = snap_enter((const uvm_snap **)&s, &c);
    if (rc < 0) {
        uvm__fail(rc);
        return NULL;
    }
    if (s->view == NULL)
        rc = c->memobj ? uvm__snap_view_make(s) : -ENOTSUP;
    void *v = s->view;
    pthread_mutex_unlock(&c->mu);
    if (rc < 0)
        uvm__fail(rc);
    return rc < 0 ? NULL : v;
}

/* ---- release and collapse ---- */

/* Take version slot s out of its page's list (mu).  Handlers may push at
 * the head meanwhile; they never touch an older version's next. */
static void version_unlink(struct snap_chain *c, uint32_t s)
{
    struct snap_vmeta *m = snap_slot_meta(c, s);
    uint32_t nx = atomic_load(&m->next);
    _Atomic uint32_t *h = &c->head[m->page];
    for (;;) {
        uint32_t v = atomic_load(h);
        if (v == s + 1) {
            if (atomic_compare_exchange_strong(h, &v, nx))
                return;
            continue;                      /* a push came in: walk */
        }
        while (atomic_load(&snap_slot_meta(c, v - 1)->next) != s + 1)
            v = atomic_load(&snap_slot_meta(c, v - 1)->next);
        atomic_store(&snap_slot_meta(c, v - 1)->next, nx);
        return;
    }
}

/* Fold what the released s owned into the next older live snapshot o, or
 * free it (.collapse).  Never fails: lists, no allocation.  mu held, the
 * journal drained, s still linked. */
static void collapse(struct snap_chain *c, struct uvm_snap *s,
                     struct uvm_snap *o)
{
    for (uint32_t v = s->own.first, bn; v != SNAP_NONE; v = bn) {
        struct snap_vmeta *m = snap_slot_meta(c, v - 1);
        bn = m->bnext;
        uint32_t nx = atomic_load(&m->next);
        uint64_t older = nx != SNAP_NONE ? snap_slot_meta(c, nx - 1)->a : 0;
        if (o != NULL && older < o->gen) {
            snap_list_add(c, &o->own, v - 1);      /* o sees it */
            continue;
        }
        version_unlink(c, v - 1);
        snap_slot_free(c, v - 1);
        c->stored--;
    }
    s->own.first = SNAP_NONE;
    s->own.n = 0;
    c->collapses++;
}

/* The last snapshot of c goes (gmu and mu held, both released): c stays
 * listed, dying, while its protection and trap are taken down, so that a
 * new snapshot of the range waits for that instead of failing with
 * EEXIST; then it is unlisted and freed. */
static void chain_last_release(struct snap_chain *c, struct uvm_snap *s)
{
    c->dying = 1;
    atomic_store(&s->sig, UVM_SIG_DEAD);
    handle_put(s);
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&gmu);
    chain_destroy(c);                      /* everything but the memory */
    pthread_mutex_lock(&gmu);
    struct snap_chain **pp = &chains;
    while (*pp != NULL && *pp != c)
        pp = &(*pp)->next;
    if (*pp == c)                          /* (a child may have dropped it) */
        *pp = c->next;
    pthread_cond_broadcast(&gcv);
    pthread_mutex_unlock(&gmu);
    chain_free(c);
}

/* A child's release of a snapshot of its parent's chain: bookkeeping
 * only (gmu and mu held, both released).  Nothing can be read or
 * restored from the chain here, so its versions need no collapse. */
static void foreign_release(struct snap_chain *c, struct uvm_snap *s)
{
    atomic_store(&s->sig, UVM_SIG_DEAD);
    if (s->older) s->older->newer = s->newer; else c->oldest = s->newer;
    if (s->newer) s->newer->older = s->older; else c->newest_s = s->older;
    c->nsnaps--;
    handle_put(s);
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&gmu);
}

int uvm_snap_release(uvm_snap *s)
{
    if (snap_lock((const uvm_snap **)&s) < 0)    /* pool.h, .handle */
        return uvm__fail(-EINVAL);
    struct snap_chain *c = s->c;
    uvm__snap_view_drop(s);
    if (c->nsnaps == 1) {
        chain_last_release(c, s);
        return 0;
    }
    if (chain_foreign(c)) {
        foreign_release(c, s);
        return 0;
    }
    /* Every version goes to its bucket before s leaves the chain. */
    if (s == c->newest_s)
        publish_newest(c, s->older->gen);
    uvm__snap_journal_drain(c);
    collapse(c, s, s->older);
    atomic_store(&s->sig, UVM_SIG_DEAD);
    if (s->older) s->older->newer = s->newer; else c->oldest = s->newer;
    if (s->newer) s->newer->older = s->older; else c->newest_s = s->older;
    c->nsnaps--;
    handle_put(s);
    pthread_mutex_unlock(&gmu);
    uvm__snap_store_refill(c);          /* the grace, then reuse */
    CHAIN_CHECK(c, 1);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

int uvm_snap_stats(const uvm_snap *s, struct uvm_snap_stats *st)
{
    struct snap_chain *c;
    if (st == NULL)
        return uvm__fail(-EINVAL);
    int rc = snap_enter(&s, &c);
    if (rc < 0)
        return uvm__fail(rc);
    memset(st, 0, sizeof *st);
    st->pages_stored = c->stored;
    st->chain_length = c->nsnaps;
    /* A tracked chain holds the base besides: range + pages stored. */
    st->bytes_held = (st->pages_stored + (c->tracked ? c->npages : 0)) *
                     PS();
    st->cow_copies = c->cow;
    st->collapses = c->collapses;
    st->reserve_bytes = c->store.reserve > c->store.taken
                            ? (c->store.reserve - c->store.taken) * PS()
                            : 0;
    pthread_mutex_unlock(&c->mu);
    return 0;
}
