/*
 * dirty-uffd.c: the DIRTY method "uffd-wp-async": userfaultfd
 * asynchronous write-protection read and re-armed by PAGEMAP_SCAN.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: one userfaultfd and one /proc/self/pagemap descriptor per tracker,
 * both close-on-exec.  The range is registered in WP mode with
 * UFFD_FEATURE_WP_ASYNC (the kernel resolves a write fault itself by
 * clearing the PTE's uffd-wp bit: no message, no signal, ~2 us) and
 * UFFD_FEATURE_WP_UNPOPULATED (a page never touched is write-protected
 * too, so its first write is seen).  "Written" is then "uffd-wp bit clear",
 * and one PAGEMAP_SCAN with PM_SCAN_WP_MATCHING reports the written pages
 * and write-protects them again under the page-table lock, page by page:
 * a write either lands before its PTE is scanned (reported now) or faults
 * after (reported next time).  No write is lost; this is Wine's
 * GetWriteWatch scheme (doc/dirty.md [dirty.wpasync]).
 *
 * Loop rule (doc/dirty.md [dirty.loop]): resume from walk_end only when the
 * vector came back full or the page budget was reached; a short vector
 * ends the walk.  walk_end is sometimes short of end on 6.18 although
 * every region was returned.
 *
 * What the method sees: user-mode writes; writes by the kernel on the
 * program's behalf (read(2) into the range succeeds and counts);
 * MADV_DONTNEED of a page counts as a write (a new page is not
 * write-protected: conservative).  It does not see writes through
 * another view of the same pages (MAP2 alias: tracking lives in this
 * view's page tables), nor writes after mremap(2) moved the range away
 * (the registration does not move), nor anything in a child after fork(2)
 * (the child's copy is not registered; collecting there fails with
 * ECHILD, since both descriptors still point at the parent's address
 * space, and stopping there only closes the child's descriptors).
 *
 * Must never: issue an ioctl on these descriptors from another process
 * than the one that opened them (they act on the opener's mm); loop on
 * walk_end alone.
 */
#include "dirty-int.h"
#include "compat.h"
#include "uffd.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define UFFD_FEATURES (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)
#define SCAN_VEC 256       /* regions per PAGEMAP_SCAN call */

/* (c) after the probe: 1 when a real round trip worked.  Opening, with
 * UFFD_USER_MODE_ONLY for unprivileged processes (asynchronous WP faults
 * are resolved before the user-mode check, so kernel writes are still
 * seen), is uffd.c's. */
static int uffd_works;

static int uffd_start(struct uvm_tracker *t)
{
    if (!uffd_works)
        return -ENOTSUP;
    int fd = uvm__uffd_open(UFFD_FEATURES);
    if (fd < 0)
        return fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM ? fd
                                                               : -ENOTSUP;
    size_t len = t->end - t->start;
    /* -ENOTSUP: memory the kernel cannot write-protect this way (a
     * regular file, say); -EEXIST: registered by someone else (uffd.h). */
    int rc = uvm__uffd_register(fd, t->start, len, UFFDIO_REGISTER_MODE_WP);
    if (rc == 0)
        rc = uvm__uffd_wp(fd, t->start, len, 1);
    int pm = -1;
    if (rc == 0) {
        /* EACCES in a non-dumpable process (after setuid): then this
         * method cannot work here. */
        pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        if (pm < 0)
            rc = errno == EMFILE || errno == ENFILE ? -errno : -ENOTSUP;
    }
    if (rc < 0) {
        uvm__uffd_close(fd);            /* unregisters, clears the WP bits */
        return rc;
    }
    t->u.uffd.uffd = fd;
    t->u.uffd.pagemap = pm;
    return 0;
}

/* One PAGEMAP_SCAN that reports written pages from *cursor on and, with
 * PM_SCAN_WP_MATCHING in flags, write-protects what it reported.  Returns the regions filled, or a
 * negative errno. */
static long uffd_scan(struct uvm_tracker *t, uintptr_t from,
                      struct page_region *vec, size_t vec_len,
                      size_t max_pages, uint64_t flags, uintptr_t *walk_end)
{
    struct pm_scan_arg a = {
        .size = sizeof a,
        .flags = flags | PM_SCAN_CHECK_WPASYNC,
        .start = from,
        .end = t->end,
        .vec = (uintptr_t)vec,
        .vec_len = vec_len,
        .max_pages = max_pages,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = PAGE_IS_WRITTEN,
    };
    long n = ioctl(t->u.uffd.pagemap, PAGEMAP_SCAN, &a);
    if (n < 0)
        return -errno;
    *walk_end = (uintptr_t)a.walk_end;
    return n;
}

/* The written pages into the sink, re-arming them (flags
 * PM_SCAN_WP_MATCHING) or not (0). */
static int uffd_walk(struct uvm_tracker *t, struct uvm__dirty_sink *s,
                     uint64_t flags)
{
    uintptr_t cur = t->start, walk_end;
    if (t->pid != getpid())
        return -ECHILD;        /* a child after fork(): the descriptors act
                                  on the parent's address space */
    if (s->max == 0) {
        /* Reset only: re-protect everything written, report nothing. */
        long n = uffd_scan(t, cur, NULL, 0, 0, flags, &walk_end);
        return n < 0 ? (int)n : 0;
    }
    struct page_region vec[SCAN_VEC];
    while (cur < t->end && !uvm__sink_full(s)) {
        size_t vec_len = SCAN_VEC, room = uvm__sink_room_runs(s);
        if (room < vec_len)
            vec_len = room;
        size_t max_pages = uvm__sink_room_pages(s);
        if (max_pages == SIZE_MAX)
            max_pages = 0;                              /* no page limit */
        long n = uffd_scan(t, cur, vec, vec_len, max_pages, flags,
                           &walk_end);
        if (n < 0)
            return (int)n;
        for (long i = 0; i < n; i++)
            uvm__sink_put(s, (uintptr_t)vec[i].start,
                          (size_t)(vec[i].end - vec[i].start) /
                              uvm__page_size);
        if ((size_t)n < vec_len && !uvm__sink_full(s))
            break;                 /* short vector: the walk is complete */
        cur = walk_end;
    }
    return 0;
}

static int uffd_collect(struct uvm_tracker *t, struct uvm__dirty_sink *s)
{
    return uffd_walk(t, s, PM_SCAN_WP_MATCHING);
}

static int uffd_peek(struct uvm_tracker *t, struct uvm__dirty_sink *s)
{
    return s->max == 0 ? 0 : uffd_walk(t, s, 0);
}

static void uffd_stop(struct uvm_tracker *t)
{
    if (t->pid == getpid()) {
        /* holes: ignore */
        uvm__uffd_unregister(t->u.uffd.uffd, t->start, t->end - t->start);
    }
    uvm__uffd_close(t->u.uffd.uffd);
    close(t->u.uffd.pagemap);
}

const struct uvm__dirty_ops uvm__dirty_uffd = {
    .name = "uffd-wp-async",
    .start = uffd_start,
    .collect = uffd_collect,
    .stop = uffd_stop,
    .peek = uffd_peek,
};

/* ---- the probe: one real round trip ---- */

/* Track two fresh pages, write the second, expect exactly it, then
 * nothing. */
static int uffd_round_trip(void)
{
    size_t ps = uvm__page_size;
    char *p = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    struct uvm_tracker t = { .start = (uintptr_t)p,
                             .end = (uintptr_t)p + 2 * ps,
                             .npages = 2, .pid = getpid() };
    int ok = 0;
    if (uffd_start(&t) == 0) {
        void *pages[2];
        struct uvm__dirty_sink s1 = { pages, NULL, 2, 0 };
        struct uvm__dirty_sink s2 = { pages, NULL, 2, 0 };
        *(volatile char *)(p + ps) = 1;
        ok = uffd_collect(&t, &s1) == 0 && s1.n == 1 &&
             pages[0] == p + ps && uffd_collect(&t, &s2) == 0 && s2.n == 0;
        uffd_stop(&t);
    }
    munmap(p, 2 * ps);
    return ok;
}

static void uffd_probe_once(void)
{
    int fd = uvm__uffd_open(UFFD_FEATURES);
    if (fd < 0)
        return;
    uvm__uffd_close(fd);
    uffd_works = 1;                 /* uffd_start needs it for the trip */
    uffd_works = uffd_round_trip();
}

int uvm__dirty_uffd_probe(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, uffd_probe_once);
    return uffd_works ? 0 : -ENOTSUP;
}
