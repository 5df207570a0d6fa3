/*
 * prot-uffd.c: the userfaultfd write-protection backend (prot-backend.h).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the process's PROT userfaultfd (synchronous write-protection with
 * UFFD_FEATURE_SIGBUS, so a write fault is a SIGBUS on the faulting thread,
 * never a message to a handler thread, which measured 2-3x slower), one
 * page bitmap per registered trap region, and the gate that keeps
 * uvm_untrap from converting a region while a change is in progress.
 *
 * A change between PROT_READ and PROT_READ|PROT_WRITE of pages of a trap
 * region is made with UFFDIO_WRITEPROTECT instead of mprotect: the kernel
 * mapping (VMA) stays read-write and is never split, so the process's
 * mapping count stays constant (doc/prot.md [prot.uffd]: 2.2 us per call
 * against 5.3-5.9 us for a one-page mprotect).  The write fault arrives as
 * SIGBUS; fault-native.c turns it into the SIGSEGV mprotect would have
 * raised (owns_fault), for the region's handler and for chaining alike.
 *
 * Which changes this backend takes (the result must be mprotect's):
 *  - prot is PROT_READ or PROT_READ|PROT_WRITE, the range lies in one trap
 *    region, and, asked of the kernel at every change (.inv.truth), every
 *    page of it is mapped read-write: a page the program (or libuvm's
 *    mprotect path) made PROT_NONE or read-only must be changed with
 *    mprotect, else "unprotecting" it would return 0 and leave it
 *    inaccessible.  Asking costs one PROCMAP_QUERY ioctl; without that
 *    ioctl (Linux < 6.11) the question is a read of the maps text, far too
 *    slow, and this backend is not used at all.
 *  - the memory is a libuvm object (uvm_alloc, uvm_map2: a memfd sealed
 *    against shrinking), asked of the kernel (PROCMAP_QUERY's device,
 *    inode and offset) and checked against memobj.c's objects
 *    (.inv.sealed).  Not private anonymous memory: there MADV_DONTNEED
 *    (and MADV_FREE once reclaimed) drops the page with its write-protect
 *    bit, and the next write is not trapped: measured on Linux 6.18, also
 *    with UFFD_FEATURE_WP_UNPOPULATED, which only marks pages unpopulated
 *    when they are write-protected.  mprotect keeps the protection in the
 *    VMA, which madvise does not touch; shmem keeps a marker in the
 *    emptied page table entry and stays protected.  Not any other shared
 *    mapping either: a file can be truncated under its mapping, and a
 *    write past its end then raises a genuine SIGBUS (BUS_ADRERR) that
 *    looks exactly like a userfaultfd write-protect fault -- and keeps
 *    looking like one, as truncation leaves the write-protect marker in
 *    the page table.  MAP_SHARED|MAP_ANONYMOUS memory has no file to
 *    truncate, but mremap can grow it past its hidden file's size (a
 *    SIGBUS again), and its size cannot be asked: mprotect too.  In a
 *    libuvm object no write raises a SIGBUS other than ours, so
 *    owns_fault needs only the region's state and one PROCMAP_QUERY of
 *    the faulting page, whatever another thread did to the page since.
 *    uvm_prot1(3) gives the numbers behind this choice.
 *  - the region could be registered (lazily, at its first write-only
 *    change; all of it mapped read-write, of a kind the kernel can
 *    write-protect; EEXIST: someone else's userfaultfd has it).
 * A change the kernel refuses with ENOENT (part of the range was remapped
 * since registration: the new mapping is not registered) is undone and
 * declined: mprotect makes it.  A hole in the range is declined before any
 * change, so mprotect reports ENOMEM and changes nothing.
 *
 * Bitmap, one bit per page of a registered region: wp, the page is
 * write-protected through userfaultfd.  Invariant .inv.effective: a page's
 * protection is its mapping's, less PROT_WRITE where wp is set; so when
 * mprotect gives a page PROT_WRITE, its wp bit is cleared in the kernel
 * and here (after_change).  uvm_debug_audit compares wp with bit 57 of
 * /proc/self/pagemap.
 *
 * The gate: every change (prot.c brackets it with enter/leave) marks
 * its thread's slot; uvm_untrap's detach sets the writer flag, waits for
 * every slot to clear, converts the region's write-protected pages to mprotect and
 * unregisters it, all while the region is still in the table, so that no
 * change of its pages can interleave with the conversion (a concurrent
 * UNPROT would otherwise be undone by it).  A change made from a signal
 * handler that interrupted a change of the same thread is not counted
 * again (it could not wait for the writer the outer one holds back):
 * prot.c enters the gate for a thread's outermost change only, and gives
 * back the count of a change a siglongjmp abandoned (prot.c, .abandon).
 *
 * fork(): the child's copy of the memory loses the write-protect bits and
 * the registration (no UFFD_FEATURE_EVENT_FORK).  The atfork handler gives
 * the child's write-protected pages PROT_READ with mprotect and closes the
 * inherited descriptor: the child goes on with mprotect on its own copy.
 * A child made without atfork handlers (a raw clone) still holds the
 * parent's descriptor: uffd.c refuses it (ECHILD), so uvm_prot* on such
 * regions fail with ECHILD, and uvm_untrap only converts the child's copy.
 *
 * Must never: block or allocate with malloc on the paths marked
 * UVM_AS_SAFE (uvm_prot* run in region handlers; bitmaps come from mmap);
 * return 0 for a change it did not make.
 */
#include "prot-uffd.h"
#include "prot-backend.h"
#include "uffd.h"
#include "compat.h"
#include "memobj.h"
#include "region.h"
#include "thread.h"
#include "vma.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)
#define WORD_BITS (8 * sizeof(unsigned long))

struct uvm__uffd_region {
    size_t map_bytes;          /* (c) this block's mmap size */
    size_t npages, nwords;     /* (c) */
    atomic_ulong *wp;          /* (c) pointer; bits (a) */
};

/* The PROT userfaultfd: -1 not opened yet, -2 opening, -3 unavailable. */
static atomic_int pfd = -1;
/* (a) 1 while uvm_untrap converts a region (the gate's writer). */
static atomic_int gate_writer;

/* ---- the userfaultfd ---- */

/* The descriptor, opened at first use; negative when there is none. */
UVM_AS_SAFE static int pu_fd(void)
{
    int fd = atomic_load(&pfd);
    if (fd >= 0 || fd < -1)
        return fd;
    int expect = -1;
    if (!atomic_compare_exchange_strong(&pfd, &expect, -2))
        return expect;                  /* another thread is opening it */
    /* With a user-mode-only descriptor (unprivileged), kernel accesses to
     * write-protected pages fail with EFAULT, as with mprotect. */
    fd = uvm__uffd_open(UFFD_FEATURE_SIGBUS | UFFD_FEATURE_WP_UNPOPULATED);
    atomic_store(&pfd, fd >= 0 ? fd : -3);
    return fd >= 0 ? fd : -3;
}

/* ---- bitmaps ---- */

UVM_AS_SAFE static int bit_get(atomic_ulong *b, size_t i)
{
    return (atomic_load(&b[i / WORD_BITS]) >> (i % WORD_BITS)) & 1;
}

UVM_AS_SAFE static void bits_set(atomic_ulong *b, size_t from, size_t to,
                                 int on)
{
    for (size_t i = from; i < to; i++) {
        unsigned long m = 1UL << (i % WORD_BITS);
        if (on)
            atomic_fetch_or(&b[i / WORD_BITS], m);
        else
            atomic_fetch_and(&b[i / WORD_BITS], ~m);
    }
}

UVM_AS_SAFE static int bits_any(atomic_ulong *b, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (bit_get(b, i))
            return 1;
    return 0;
}

/* ---- the kernel's view ---- */

/* Does mapping v map [a, b) (inside it) to pages of a libuvm object
 * (.inv.sealed)?  Those are shmem pages of the base page size that no
 * truncation can take away, so the only SIGBUS a write to them can raise
 * is a userfaultfd one. */
UVM_AS_SAFE static int pu_vma_sealed(const struct uvm__vma *v, uintptr_t a,
                                     uintptr_t b)
{
    UVM_ASSERT(v->start <= a && a < b && b <= v->end);
    return v->shared && v->page_size == uvm__page_size &&
           uvm__memobj_sealed_file(a, v->dev_major, v->dev_minor, v->ino,
                                   v->offset + (a - v->start), b - a);
}

/* Is all of [start, end) mapped read-write, in pages of libuvm objects
 * (.inv.sealed)?  One PROCMAP_QUERY per mapping (.inv.truth). */
UVM_AS_SAFE static int pu_range_ok(uintptr_t start, uintptr_t end)
{
    for (uintptr_t cur = start; cur < end;) {
        struct uvm__vma v;
        if (uvm__vma_query(cur, &v) != 0 || v.start > cur || v.prot != RW ||
            !pu_vma_sealed(&v, cur, v.end < end ? v.end : end))
            return 0;
        cur = v.end;
    }
    return 1;
}

/* Clear the write-protection of [a, b), mapping by mapping where a part of
 * it is no longer registered (ENOENT stops the kernel's walk there). */
UVM_AS_SAFE static void pu_unprotect_all(int fd, uintptr_t a, uintptr_t b)
{
    if (uvm__uffd_wp(fd, a, b - a, 0) != -ENOENT)
        return;
    for (uintptr_t cur = a; cur < b;) {
        struct uvm__vma v;
        if (uvm__vma_query(cur, &v) != 0)
            return;
        uintptr_t e = v.end < b ? v.end : b;
        if (v.start <= cur)
            uvm__uffd_wp(fd, cur, e - cur, 0);
        cur = e;
    }
}

/* ---- registration ---- */

UVM_AS_SAFE static int pu_register(struct uvm_region *r)
{
    int fd = pu_fd();
    if (fd < 0 || !uvm__vma_fast() || !pu_range_ok(r->start, r->end))
        return 0;
    size_t npages = (r->end - r->start) / uvm__page_size;
    size_t nwords = (npages + WORD_BITS - 1) / WORD_BITS;
    size_t bytes = sizeof(struct uvm__uffd_region) +
                   nwords * sizeof(unsigned long);
    bytes = (bytes + uvm__page_mask) & ~uvm__page_mask;
    struct uvm__uffd_region *ur = mmap(NULL, bytes, RW,
                                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ur == MAP_FAILED)
        return 0;
    ur->map_bytes = bytes;
    ur->npages = npages;
    ur->nwords = nwords;
    ur->wp = (atomic_ulong *)(ur + 1);
    if (uvm__uffd_register(fd, r->start, r->end - r->start,
                           UFFDIO_REGISTER_MODE_WP) != 0) {
        munmap(ur, bytes);
        return 0;
    }
    r->ur = ur;
    return 1;
}

/* The region's uffd state after trying to register it once. */
UVM_AS_SAFE static int pu_state(struct uvm_region *r)
{
    int st = atomic_load(&r->uffd_state);
    if (st != UVM__UFFD_UNTRIED)
        return st;
    if ((r->flags & UVM__REGION_NO_UFFD) ||
        uvm__env_backend_cached() == UVM__BACKEND_MPROTECT) {
        atomic_compare_exchange_strong(&r->uffd_state, &st, UVM__UFFD_OFF);
        return atomic_load(&r->uffd_state);
    }
    if (!atomic_compare_exchange_strong(&r->uffd_state, &st, UVM__UFFD_BUSY))
        return st;
    st = pu_register(r) ? UVM__UFFD_ON : UVM__UFFD_OFF;
    atomic_store(&r->uffd_state, st);      /* after r->ur (seq_cst) */
    return st;
}

UVM_AS_SAFE static int pu_attach(struct uvm_region *r)
{
    return pu_state(r) == UVM__UFFD_ON;
}

/* ---- the gate ----
 *
 * One slot per thread, claimed at the thread's first change: held is 1
 * while the thread has a change in progress.  Entering is one store to the
 * thread's own slot and leaving another, and prot.c can always tell
 * whether the thread still has a change in progress (.abandon), so a
 * change abandoned by siglongjmp is given back exactly, by a store of 0,
 * at the thread's next change or in its uvm_untrap.  A thread beyond
 * GATE_SLOTS counts itself in gate_extra instead, where an abandoned change
 * can leave its count behind. */
#define GATE_SLOTS 1024

struct gate_slot {
    _Atomic(struct uvm__thread *) owner;   /* (a) claimed by CAS */
    atomic_int held;                       /* (t) written by the owner */
};

static struct gate_slot gate_slots[GATE_SLOTS];
static atomic_uint gate_extra;          /* (a) changes of slotless threads */
/* (t) this thread's slot, NULL before its first change; extra_held: this
 * thread counted itself in gate_extra. */
static __thread struct gate_slot *my_slot
    __attribute__((tls_model("initial-exec")));
static __thread int extra_held __attribute__((tls_model("initial-exec")));

UVM_AS_SAFE static struct gate_slot *gate_slot(void)
{
    if (my_slot != NULL)
        return my_slot;
    struct uvm__thread *t = uvm__thread_self();
    if (t == NULL)
        return NULL;
    /* A record is reused only once its thread is dead: a slot still naming
     * it was that thread's, in no change any more. */
    for (int i = 0; i < GATE_SLOTS; i++) {
        struct uvm__thread *o = atomic_load(&gate_slots[i].owner);
        if (o == t || (o == NULL && atomic_compare_exchange_strong(
                                        &gate_slots[i].owner, &o, t))) {
            atomic_store(&gate_slots[i].held, 0);
            my_slot = &gate_slots[i];
            return my_slot;
        }
    }
    return NULL;
}

UVM_AS_SAFE static void pu_enter(void)
{
    struct gate_slot *g = gate_slot();
    for (;;) {
        if (g != NULL) {
            atomic_store(&g->held, 1);              /* seq_cst: Dekker */
            if (!atomic_load(&gate_writer))
                return;
            atomic_store(&g->held, 0);
        } else {
            extra_held = 1;
            atomic_fetch_add(&gate_extra, 1);
            if (!atomic_load(&gate_writer))
                return;
            atomic_fetch_sub(&gate_extra, 1);
            extra_held = 0;
        }
        while (atomic_load(&gate_writer))
            sched_yield();
    }
}

UVM_AS_SAFE static void pu_leave(void)
{
    if (my_slot != NULL)
        atomic_store_explicit(&my_slot->held, 0, memory_order_release);
    if (extra_held) {
        extra_held = 0;
        atomic_fetch_sub(&gate_extra, 1);
    }
}

/* Exclude every change: signals blocked (a handler of this thread must
 * not start a change the writer holds back), writer flag set, changes in
 * progress drained. */
static void gate_write_lock(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, old);
    for (;;) {
        int w = 0;
        if (atomic_compare_exchange_weak(&gate_writer, &w, 1))
            break;
        sched_yield();
    }
    for (int i = 0; i < GATE_SLOTS; i++)
        while (atomic_load(&gate_slots[i].held))
            sched_yield();
    while (atomic_load(&gate_extra) != 0)
        sched_yield();
}

static void gate_write_unlock(const sigset_t *old)
{
    atomic_store(&gate_writer, 0);
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* ---- protection changes ---- */

/* A write-protect change failed part-way (ENOENT): put back the pages of
 * [from, to) the kernel may have changed, those whose bit differs from
 * on.  Errors are ignored: the kernel stopped at the same place again. */
UVM_AS_SAFE static void pu_undo(int fd, struct uvm_region *r, size_t from,
                                size_t to, int on)
{
    atomic_ulong *wp = r->ur->wp;
    for (size_t i = from; i < to;) {
        if (bit_get(wp, i) == on) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < to && bit_get(wp, j) != on)
            j++;
        uvm__uffd_wp(fd, r->start + i * uvm__page_size,
                     (j - i) * uvm__page_size, !on);
        i = j;
    }
}

UVM_AS_SAFE static int pu_set(struct uvm_region *r, uintptr_t start,
                              uintptr_t end, int prot, int *rc)
{
    if (r == NULL || (prot != PROT_READ && prot != RW) || start < r->start ||
        end > r->end || pu_state(r) != UVM__UFFD_ON ||
        !pu_range_ok(start, end))
        return 0;
    int fd = atomic_load(&pfd);
    size_t from = (start - r->start) / uvm__page_size;
    size_t to = (end - r->start) / uvm__page_size;
    int on = prot == PROT_READ;
    int e = uvm__uffd_wp(fd, start, end - start, on);
    if (e == -ENOENT) {
        pu_undo(fd, r, from, to, on);
        return 0;                  /* remapped since: mprotect's change */
    }
    *rc = e;
    if (e == 0) {
        bits_set(r->ur->wp, from, to, on);
        UVM_COUNT(prot_uffd, 1);
        UVM_COUNT(prot_pages, to - from);
    }
    return 1;
}

UVM_AS_SAFE static void pu_after_change(const void *root, uintptr_t start,
                                        uintptr_t end, int prot)
{
    if (!(prot & PROT_WRITE))
        return;           /* the wp bits stay, hidden by the mapping */
    for (struct uvm_region *r = uvm__region_next(root, start, end); r != NULL;
         r = uvm__region_next(root, r->end, end)) {
        if (atomic_load(&r->uffd_state) != UVM__UFFD_ON)
            continue;
        uintptr_t a = start > r->start ? start : r->start;
        uintptr_t b = end < r->end ? end : r->end;
        size_t from = (a - r->start) / uvm__page_size;
        size_t to = (b - r->start) / uvm__page_size;
        /* A write permission given with mprotect must not be taken back by
         * a write-protection bit left from before (.inv.effective). */
        if (bits_any(r->ur->wp, from, to)) {
            pu_unprotect_all(atomic_load(&pfd), a, b);
            bits_set(r->ur->wp, from, to, 0);
        }
    }
}

/* ---- faults ---- */

UVM_AS_SAFE static int pu_owns_fault(int sig, int code, uintptr_t addr,
                                     int access)
{
    /* A userfaultfd SIGBUS is BUS_ADRERR on a write.  Whether the page is
     * still write-protected does not matter: another thread may have
     * unprotected it since.  What decides is the memory (.inv.sealed): in
     * a libuvm object no other SIGBUS is possible, in any other shared
     * mapping (a file truncated under it: a genuine SIGBUS) the page was
     * never write-protected by us, as pu_set declines such memory; a
     * mapping put over the region since registration is not registered
     * either. */
    if (sig != SIGBUS || code != BUS_ADRERR || access == UVM_ACCESS_READ ||
        access == UVM_ACCESS_EXEC)
        return 0;
    /* The region first: its lookup is a few loads, the mapping's a
     * system call, which a snapshot's faults (never this backend's
     * regions) paid on every write before. */
    struct uvm__thread *t = uvm__thread_get();
    if (t == NULL)
        return 0;
    int hz;
    void *root = uvm__hazard_acquire(t, &uvm__region_root, &hz);
    if (hz < 0)
        return 0;
    struct uvm_region *r = root != NULL ? uvm__region_find(root, addr) : NULL;
    int st = r != NULL ? atomic_load(&r->uffd_state) : UVM__UFFD_OFF;
    uvm__hazard_release(t, hz);
    if (st != UVM__UFFD_ON && st != UVM__UFFD_GONE)
        return 0;
    uintptr_t page = addr & ~uvm__page_mask;
    struct uvm__vma v;
    return uvm__vma_query(page, &v) == 0 && v.start <= page &&
           pu_vma_sealed(&v, page, page + uvm__page_size);
}

/* ---- detaching ---- */

/* Give the write-protected pages of r, where their mapping allows writing,
 * the mapping's protection less PROT_WRITE with mprotect, so that they
 * keep their protection without the userfaultfd. */
static void pu_to_mprotect(struct uvm_region *r)
{
    atomic_ulong *wp = r->ur->wp;
    size_t n = r->ur->npages;
    for (size_t i = 0; i < n;) {
        if (!bit_get(wp, i)) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && bit_get(wp, j))
            j++;
        uintptr_t a = r->start + i * uvm__page_size;
        uintptr_t b = r->start + j * uvm__page_size;
        for (uintptr_t cur = a; cur < b;) {
            struct uvm__vma v;
            if (uvm__vma_query(cur, &v) != 0)
                break;
            uintptr_t e = v.end < b ? v.end : b;
            if (v.start <= cur && (v.prot & PROT_WRITE))
                uvm__prot_set(cur, e - cur, v.prot & ~PROT_WRITE);
            cur = e;
        }
        i = j;
    }
}

static void pu_free(struct uvm_region *r, int state)
{
    munmap(r->ur, r->ur->map_bytes);
    r->ur = NULL;
    atomic_store(&r->uffd_state, state);
}

static void pu_detach(struct uvm_region *r)
{
    /* Before this thread waits for changes in progress, its own. */
    uvm__prot_calls_abandon();
    int st = UVM__UFFD_UNTRIED;
    if (atomic_compare_exchange_strong(&r->uffd_state, &st, UVM__UFFD_OFF) ||
        st == UVM__UFFD_OFF || st == UVM__UFFD_GONE)
        return;                          /* never registered, never will */
    sigset_t old;
    gate_write_lock(&old);
    if (atomic_load(&r->uffd_state) == UVM__UFFD_ON) {
        pu_to_mprotect(r);
        /* Unregistering clears the write-protect bits; a child's inherited
         * descriptor (ECHILD) has nothing of its own to clear. */
        uvm__uffd_unregister(atomic_load(&pfd), r->start, r->end - r->start);
        pu_free(r, UVM__UFFD_GONE);
    }
    gate_write_unlock(&old);
}

/* In a fork child: the copy lost the registrations and their bits. */
static void pu_child_region(struct uvm_region *r)
{
    if (atomic_load(&r->uffd_state) != UVM__UFFD_ON)
        return;
    pu_to_mprotect(r);
    pu_free(r, UVM__UFFD_OFF);
}

static void pu_at_fork_child(void)
{
    /* The inherited descriptor acts on the parent: close it; the child
     * opens its own at its next registration.  The child has one thread,
     * inside fork(), in no change. */
    int fd = atomic_exchange(&pfd, -1);
    uvm__uffd_close(fd);
    /* Only this thread is left, in no change (fork() is not AS-safe). */
    for (int i = 0; i < GATE_SLOTS; i++) {
        atomic_store(&gate_slots[i].owner, NULL);
        atomic_store(&gate_slots[i].held, 0);
    }
    my_slot = NULL;
    extra_held = 0;
    atomic_store(&gate_extra, 0);
    atomic_store(&gate_writer, 0);
    uvm__region_foreach(pu_child_region);
}

/* ---- the audit ---- */

static int audit_fd = -1;
static size_t audit_bad;

static void audit_report(const struct uvm_region *r, size_t i, int cached)
{
    if (audit_bad++ >= 8)
        return;
    uvm__write_str(2, "libuvm audit: page ");
    uvm__write_hex(2, r->start + i * uvm__page_size);
    uvm__write_str(2, cached ? " believed write-protected, kernel says not\n"
                             : " write-protected, libuvm believes not\n");
}

static void audit_region(struct uvm_region *r)
{
    if (atomic_load(&r->uffd_state) != UVM__UFFD_ON || audit_fd < 0)
        return;
    for (size_t i = 0; i < r->ur->npages; i++) {
        uint64_t e;
        uintptr_t page = r->start + i * uvm__page_size;
        off_t off = (off_t)(page / uvm__page_size * sizeof e);
        struct uvm__vma v;
        if (pread(audit_fd, &e, sizeof e, off) != (ssize_t)sizeof e ||
            uvm__vma_query(page, &v) != 0)
            continue;                  /* unmapped by the program */
        int kernel = (e & UVM_PAGEMAP_UFFD_WP) != 0;
        int cached = bit_get(r->ur->wp, i);
        if (kernel != cached)
            audit_report(r, i, cached);
    }
}

int uvm__prot_uffd_audit(void)
{
    audit_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (audit_fd < 0)
        return -errno;
    audit_bad = 0;
    uvm__region_lock();
    uvm__region_foreach(audit_region);
    uvm__region_unlock();
    close(audit_fd);
    audit_fd = -1;
    return (int)(audit_bad > INT32_MAX ? INT32_MAX : audit_bad);
}

const struct uvm__prot_backend uvm__prot_uffd_backend = {
    .name = "uffd-wp",
    .set = pu_set,
    .attach = pu_attach,
    .detach = pu_detach,
    .owns_fault = pu_owns_fault,
    .after_change = pu_after_change,
    .at_fork_child = pu_at_fork_child,
    .enter = pu_enter,
    .leave = pu_leave,
};

/* The names the rest of the library calls (prot-uffd.h). */
void uvm__prot_uffd_release(struct uvm_region *r) { pu_detach(r); }
void uvm__prot_uffd_atfork_child(void) { pu_at_fork_child(); }
