/*
 * prot-uffd.c: write-only protection changes through userfaultfd.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the process's PROT userfaultfd (synchronous write-protection with
 * UFFD_FEATURE_SIGBUS, so a write fault is a SIGBUS on the faulting thread,
 * never a message to a handler thread, which measured 2-3x slower), and
 * per trap region two page bitmaps.
 *
 * A change between PROT_READ and PROT_READ|PROT_WRITE of pages of a trap
 * region is made with UFFDIO_WRITEPROTECT instead of mprotect: the kernel
 * mapping (VMA) stays read-write and is never split, so the process's
 * mapping count stays constant (dirty-tracking.md 6.3: 2.2 us per call
 * against 5.3-5.9 us for a one-page mprotect).  The write fault arrives as
 * SIGBUS; the dispatcher hands it to the region's handler as the SIGSEGV
 * write fault mprotect would have raised, so handlers cannot tell.
 *
 * A region is registered with the userfaultfd lazily, at the first
 * write-only change of its pages, if all of it is mapped read-write memory
 * the kernel can write-protect (private anonymous or shmem/memfd); else it
 * is never tried again and mprotect serves it.  Registering may split the
 * region's mappings at its ends once; after that the count is constant.
 *
 * Bitmaps, one bit per page of a registered region:
 *   nonrw  the page's mapping is not read-write: libuvm changed it with
 *          mprotect (to PROT_NONE, say).  Only pages whose bit is clear
 *          may take the userfaultfd path.
 *   wp     the page is write-protected through userfaultfd.
 * Invariants: .inv.effective  a page's protection is its mapping's, less
 * PROT_WRITE where wp is set; .inv.rw  nonrw clear means the mapping is
 * read-write.  They hold as long as the program changes the region's
 * protections through libuvm only (uvm(7)).
 *
 * When the write-protection must not outlive libuvm's knowledge of it
 * (uvm_untrap, and the child after fork(), whose copy loses the
 * userfaultfd bits), the write-protected pages are made PROT_READ with
 * mprotect first, so the program sees the same protections as before.
 * The child's regions stay with mprotect; its new regions may register
 * with a userfaultfd of its own.
 *
 * Must never: block or allocate with malloc on the paths marked
 * UVM_AS_SAFE (uvm_prot* run in region handlers; bitmaps come from mmap);
 * use the userfaultfd in a child after fork() (it acts on the parent).
 */
#include "prot-uffd.h"
#include "prot-backend.h"
#include "uffd.h"
#include "compat.h"
#include "region.h"
#include "vma.h"

#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define WORD_BITS (8 * sizeof(unsigned long))

struct uvm__uffd_region {
    size_t map_bytes;          /* (c) this block's mmap size */
    size_t npages, nwords;     /* (c) */
    atomic_ulong *nonrw;       /* (c) pointer; bits (a) */
    atomic_ulong *wp;          /* (c) pointer; bits (a) */
};

/* The PROT userfaultfd: -1 not opened yet, -2 opening, -3 unavailable. */
static atomic_int pfd = -1;

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
        if (atomic_load(&b[i / WORD_BITS]) & (1UL << (i % WORD_BITS)))
            return 1;
    return 0;
}

/* ---- registration ---- */

/* Is all of [start, end) mapped read-write? */
UVM_AS_SAFE static int pu_all_rw(uintptr_t start, uintptr_t end)
{
    for (uintptr_t cur = start; cur < end;) {
        struct uvm__vma v;
        if (uvm__vma_query(cur, &v) != 0 ||
            v.prot != (PROT_READ | PROT_WRITE))
            return 0;
        cur = v.end;
    }
    return 1;
}

UVM_AS_SAFE static int pu_register(struct uvm_region *r)
{
    int fd = pu_fd();
    if (fd < 0 || !pu_all_rw(r->start, r->end))
        return 0;
    size_t npages = (r->end - r->start) / uvm__page_size;
    size_t nwords = (npages + WORD_BITS - 1) / WORD_BITS;
    size_t bytes = sizeof(struct uvm__uffd_region) +
                   2 * nwords * sizeof(unsigned long);
    bytes = (bytes + uvm__page_mask) & ~uvm__page_mask;
    struct uvm__uffd_region *ur = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ur == MAP_FAILED)
        return 0;
    ur->map_bytes = bytes;
    ur->npages = npages;
    ur->nwords = nwords;
    ur->nonrw = (atomic_ulong *)(ur + 1);
    ur->wp = ur->nonrw + nwords;
    struct uffdio_register reg = {
        .range = { .start = r->start, .len = r->end - r->start },
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    /* EINVAL: memory that cannot be write-protected this way (a regular
     * file); EBUSY: another userfaultfd has it (a DIRTY tracker). */
    if (ioctl(fd, UFFDIO_REGISTER, &reg) != 0) {
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
        atomic_store(&r->uffd_state, UVM__UFFD_OFF);
        return UVM__UFFD_OFF;
    }
    if (!atomic_compare_exchange_strong(&r->uffd_state, &st, UVM__UFFD_BUSY))
        return st;
    st = pu_register(r) ? UVM__UFFD_ON : UVM__UFFD_OFF;
    atomic_store(&r->uffd_state, st);      /* after r->ur (seq_cst) */
    return st;
}

/* ---- protection changes ---- */

UVM_AS_SAFE static int pu_writeprotect(uintptr_t start, uintptr_t end, int on)
{
    int fd = atomic_load(&pfd);
    if (fd < 0)
        return -ENOTSUP;
    struct uffdio_writeprotect wp = {
        .range = { .start = start, .len = end - start },
        .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
    };
    if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp) != 0)
        return -errno;
    return 0;
}

UVM_AS_SAFE int uvm__prot_uffd_try(struct uvm_region *r, uintptr_t start,
                                   uintptr_t end, int prot, int *rc)
{
    if (prot != PROT_READ && prot != (PROT_READ | PROT_WRITE))
        return 0;
    if (start < r->start || end > r->end || pu_state(r) != UVM__UFFD_ON)
        return 0;
    struct uvm__uffd_region *ur = r->ur;
    size_t from = (start - r->start) / uvm__page_size;
    size_t to = (end - r->start) / uvm__page_size;
    if (bits_any(ur->nonrw, from, to))
        return 0;                           /* .inv.rw does not hold here */
    int on = prot == PROT_READ;
    *rc = pu_writeprotect(start, end, on);
    if (*rc == 0) {
        bits_set(ur->wp, from, to, on);
        UVM_COUNT(prot_uffd, 1);
        UVM_COUNT(prot_pages, to - from);
    }
    return 1;
}

UVM_AS_SAFE void uvm__prot_uffd_after_mprotect(const void *root,
                                               uintptr_t start, uintptr_t end,
                                               int prot)
{
    for (struct uvm_region *r = uvm__region_next(root, start, end); r != NULL;
         r = uvm__region_next(root, r->end, end)) {
        if (atomic_load(&r->uffd_state) != UVM__UFFD_ON)
            continue;
        uintptr_t a = start > r->start ? start : r->start;
        uintptr_t b = end < r->end ? end : r->end;
        struct uvm__uffd_region *ur = r->ur;
        size_t from = (a - r->start) / uvm__page_size;
        size_t to = (b - r->start) / uvm__page_size;
        /* A write permission given with mprotect must not be taken back by
         * a write-protection bit left from before (.inv.effective). */
        if ((prot & PROT_WRITE) && bits_any(ur->wp, from, to) &&
            pu_writeprotect(a, b, 0) == 0)
            bits_set(ur->wp, from, to, 0);
        bits_set(ur->nonrw, from, to, prot != (PROT_READ | PROT_WRITE));
    }
}

UVM_AS_SAFE int uvm__prot_uffd_is_wp_fault(const struct uvm_region *r)
{
    return atomic_load(&r->uffd_state) == UVM__UFFD_ON;
}

/* Make the write-protected pages of r PROT_READ with mprotect, so that
 * they keep their protection without the userfaultfd. */
static void pu_to_mprotect(struct uvm_region *r)
{
    struct uvm__uffd_region *ur = r->ur;
    size_t i = 0;
    while (i < ur->npages) {
        if (!bits_any(ur->wp, i, i + 1) || bits_any(ur->nonrw, i, i + 1)) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < ur->npages && bits_any(ur->wp, j, j + 1) &&
               !bits_any(ur->nonrw, j, j + 1))
            j++;
        uvm__prot_set(r->start + i * uvm__page_size,
                      (j - i) * uvm__page_size, PROT_READ);
        i = j;
    }
}

void uvm__prot_uffd_release(struct uvm_region *r)
{
    if (atomic_load(&r->uffd_state) != UVM__UFFD_ON)
        return;
    pu_to_mprotect(r);
    int fd = atomic_load(&pfd);
    if (fd >= 0) {
        struct uffdio_range range = { .start = r->start,
                                      .len = r->end - r->start };
        ioctl(fd, UFFDIO_UNREGISTER, &range);   /* a hole: nothing to do */
    }
    munmap(r->ur, r->ur->map_bytes);
    r->ur = NULL;
    atomic_store(&r->uffd_state, UVM__UFFD_OFF);
}

/* In a fork child: the copy lost the registrations and their bits. */
static void pu_child_region(struct uvm_region *r)
{
    if (atomic_load(&r->uffd_state) != UVM__UFFD_ON)
        return;
    pu_to_mprotect(r);
    munmap(r->ur, r->ur->map_bytes);
    r->ur = NULL;
    atomic_store(&r->uffd_state, UVM__UFFD_OFF);
}

void uvm__prot_uffd_atfork_child(void)
{
    /* The inherited descriptor acts on the parent: close it; the child
     * opens its own at its next registration.  -2 (a thread was opening
     * it) cannot be inherited by a single-threaded child meaningfully. */
    int fd = atomic_exchange(&pfd, -1);
    if (fd >= 0)
        close(fd);
    uvm__region_foreach(pu_child_region);
}
