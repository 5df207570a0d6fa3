/*
 * snap-view.c: read-only views of a snapshot, filled at fault time.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: each snapshot's view mapping, the trap region over it, and its
 * registration with the chain's userfaultfd.
 *
 * A view is one private anonymous read-only mapping the size of the range
 * (never a mosaic of per-page mappings: the mapping limit), registered with
 * the chain's userfaultfd in MISSING mode.  The first read of a page of the
 * view is a SIGBUS (UFFD_FEATURE_SIGBUS: no handler thread); the view's
 * region handler finds the page as the snapshot sees it, a version or the
 * live page held still by a claim, and installs a copy with UFFDIO_COPY.
 * So a view costs nothing when made and one fault (~6 us) per page read;
 * pages never read are never copied.  Where the chain has no userfaultfd
 * (UVM_BACKEND=mprotect, or none available) the view is a full copy made
 * at the first call, as before.
 *
 * A system call reading a page of the view not read yet from user mode
 * fails with EFAULT (the kernel does not deliver SIGBUS for its own
 * accesses): uvm_touch(3) first.  The view goes away with its snapshot:
 * uvm_snap_release unmaps it.
 *
 * Must never: allocate, lock or use stdio in view_fault; read a live page
 * that a writer may be changing (it claims the page first).
 */
#include "snap.h"
#include "compat.h"
#include "thread.h"
#include "region.h"
#include "uffd.h"
#include "prot-backend.h"

#include <linux/userfaultfd.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

/* Install a copy of the page src at dst.  0, or a negative errno. */
UVM_AS_SAFE static int view_install(int uffd, uintptr_t dst, const void *src)
{
    /* 0 also when another thread installed it first (uffd.h). */
    return uvm__uffd_copy(uffd, dst, src, snap_ps(), 0);
}

/* A read of a page of the view not installed yet. */
UVM_AS_SAFE static int view_fault(const struct uvm_fault *f)
{
    const struct uvm_snap *s = f->arg;
    struct snap_chain *c = s->c;
    if (f->signo != SIGBUS)
        return UVM_DECLINE;       /* a write to the view, say */
    size_t i = ((uintptr_t)f->page - (uintptr_t)s->view) / snap_ps();
    for (;;) {
        unsigned ph = snap_read_enter(c);
        uint32_t v = uvm__snap_lookup(c, i, s->gen);
        int claimed = 0;
        if (v == SNAP_NONE) {
            /* Unchanged since the snapshot: hold writers off while the
             * kernel copies the live page. */
            unsigned char want = PG_PROT;
            claimed = atomic_compare_exchange_strong(&c->state[i], &want,
                                                     PG_BUSY);
            if (!claimed) {
                snap_read_exit(c, ph);
                if (want == PG_BUSY)
                    sched_yield();
                continue;         /* LIVE: a version holds it now */
            }
            v = uvm__snap_lookup(c, i, s->gen);
        }
        const void *src = v != SNAP_NONE
                              ? (const void *)snap_slot_mem(c, v - 1)
                              : (const void *)(c->start + i * snap_ps());
        /* Lost contents (.lost in snap.c): the read is refused (the
         * program gets the signal) rather than shown something else. */
        int rc = (v != SNAP_NONE && snap_slot_meta(c, v - 1)->lost) ||
                         (v == SNAP_NONE && uvm__snap_live_lost(c, i))
                     ? -EIO
                     : view_install(c->uffd, (uintptr_t)f->page, src);
        if (claimed)
            atomic_store(&c->state[i], PG_PROT);
        snap_read_exit(c, ph);
        if (rc == -EAGAIN)
            continue;
        return rc == 0 ? UVM_RETRY : UVM_DECLINE;
    }
}

/* The full copy, where there is no userfaultfd (mu). */
static int view_copy(struct uvm_snap *s)
{
    struct snap_chain *c = s->c;
    size_t len = c->end - c->start;
    char *v = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v == MAP_FAILED)
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < c->npages && rc == 0; i++)
        rc = uvm__snap_read_page(c, i, s->gen, v + i * snap_ps(), 0,
                                 snap_ps());
    if (rc < 0) {                 /* a page was lost (.lost in snap.c) */
        munmap(v, len);
        return rc;
    }
    uvm__prot_change((uintptr_t)v, c->npages, PROT_READ, 0);
    s->view = v;
    return 0;
}

int uvm__snap_view_make(struct uvm_snap *s)
{
    struct snap_chain *c = s->c;
    size_t len = c->end - c->start;
    if (c->uffd < 0)
        return view_copy(s);
    char *v = mmap(NULL, len, PROT_READ,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (v == MAP_FAILED)
        return -ENOMEM;
    s->view = v;
    s->view_region = uvm__trap(v, len, view_fault, s, UVM__REGION_NO_UFFD);
    if (s->view_region != NULL &&
        uvm__uffd_register(c->uffd, (uintptr_t)v, len,
                           UFFDIO_REGISTER_MODE_MISSING) == 0)
        return 0;
    /* Not possible here after all: the copy. */
    if (s->view_region != NULL)
        uvm__untrap(s->view_region);
    s->view_region = NULL;
    munmap(v, len);
    s->view = NULL;
    return view_copy(s);
}

void uvm__snap_view_drop(struct uvm_snap *s)
{
    if (s->view == NULL)
        return;
    if (s->view_region != NULL)
        uvm__untrap(s->view_region);      /* waits for handlers in flight */
    munmap(s->view, s->c->end - s->c->start);   /* unregisters it too */
    s->view = NULL;
    s->view_region = NULL;
}
