/*
 * vma.c: VMA lookups, through PROCMAP_QUERY or the procfs maps file.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: one close-on-exec descriptor of the procfs maps file, opened on
 * first use.  prot.c needs the current protection of pages it is about to
 * change so that a change that fails part-way can be undone.  Linux 6.11's
 * PROCMAP_QUERY ioctl answers in one system call; older kernels get a
 * streaming parse of the maps text (slow, but correct and AS-safe).
 *
 * Also owns the one reader of the maps text (uvm__maps_foreach, used by
 * symbol.c too) and the process's mapping budget for the mprotect
 * fallbacks (bdwgc's COUNT_PROTECTED_REGIONS, doc/prot.md [prot.budget]): a
 * range of n pages that mprotect may split takes n + 2 mappings (every
 * other page written) out of vm.max_map_count minus a margin, reserved up
 * front, so that no fault handler ever meets the limit because of us (MPS
 * issue 304).
 *
 * Must never: allocate, use stdio, or keep a descriptor across fork()
 * (a child's /proc/self is not its parent's).
 */
#include "vma.h"
#include "compat.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

static atomic_int maps_fd = -1;          /* (a) -1: not open */
static atomic_int procmap_broken;        /* (a) PROCMAP_QUERY unsupported */

UVM_AS_SAFE static int vma_fd(void)
{
    int fd = atomic_load(&maps_fd);
    if (fd >= 0)
        return fd;
    fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int expect = -1;
    if (!atomic_compare_exchange_strong(&maps_fd, &expect, fd)) {
        close(fd);
        fd = expect;
    }
    return fd;
}

void uvm__vma_atfork_child(void)
{
    int fd = atomic_exchange(&maps_fd, -1);
    if (fd >= 0)
        close(fd);
}

static int vma_prot_from_flags(uint64_t f)
{
    return ((f & PROCMAP_QUERY_VMA_READABLE) ? PROT_READ : 0) |
           ((f & PROCMAP_QUERY_VMA_WRITABLE) ? PROT_WRITE : 0) |
           ((f & PROCMAP_QUERY_VMA_EXECUTABLE) ? PROT_EXEC : 0);
}

/* 1: answered (rc in *rc), 0: ioctl unsupported. */
UVM_AS_SAFE static int vma_procmap(uintptr_t addr, struct uvm__vma *out,
                                   int *rc)
{
    int fd = vma_fd();
    if (fd < 0) {
        *rc = fd;
        return 1;
    }
    struct procmap_query q;
    __builtin_memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.query_addr = addr;
    if (ioctl(fd, PROCMAP_QUERY, &q) == 0) {
        out->start = (uintptr_t)q.vma_start;
        out->end = (uintptr_t)q.vma_end;
        out->prot = vma_prot_from_flags(q.vma_flags);
        out->anon = q.inode == 0 && !(q.vma_flags & PROCMAP_QUERY_VMA_SHARED);
        out->shared = (q.vma_flags & PROCMAP_QUERY_VMA_SHARED) != 0;
        out->dev_major = q.dev_major;
        out->dev_minor = q.dev_minor;
        out->ino = q.inode;
        out->offset = q.vma_offset;
        out->page_size = q.vma_page_size;
        *rc = 0;
        return 1;
    }
    if (errno == ENOENT) {
        *rc = -ENOMEM;
        return 1;
    }
    if (errno == EBADF) {
        /* Someone closed our descriptor: open a new one next time. */
        atomic_compare_exchange_strong(&maps_fd, &fd, -1);
        return 0;
    }
    if (errno == ENOTTY || errno == EINVAL || errno == EOPNOTSUPP) {
        atomic_store(&procmap_broken, 1);
        return 0;
    }
    *rc = -errno;
    return 1;
}

UVM_AS_SAFE int uvm__maps_hex(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    for (; s < end; s++) {
        int d = *s >= '0' && *s <= '9' ? *s - '0'
              : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
        if (d < 0)
            break;
        x = x << 4 | (uint64_t)d;
    }
    if (s == *p)
        return 0;
    *p = s;
    *v = x;
    return 1;
}

UVM_AS_SAFE int uvm__maps_foreach(int (*fn)(const char *, const char *,
                                            void *),
                                  void *arg)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[4096];
    size_t have = 0;
    int rc = 0, skipping = 0;
    while (rc == 0) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t pos = 0;
        char *nl;
        while (rc == 0 && (nl = __builtin_memchr(buf + pos, '\n',
                                                 have - pos)) != NULL) {
            if (!skipping)
                rc = fn(buf + pos, nl, arg);
            skipping = 0;
            pos = (size_t)(nl + 1 - buf);
        }
        __builtin_memmove(buf, buf + pos, have - pos);
        have -= pos;
        if (have == sizeof buf) {     /* a line longer than buf: drop it */
            have = 0;
            skipping = 1;
        }
    }
    close(fd);
    return rc;
}

/* One "start-end perms ..." line: 1 if it maps q->addr (q->v filled). */
struct vma_find {
    uintptr_t addr;
    struct uvm__vma v;
};

UVM_AS_SAFE static int vma_find_line(const char *p, const char *end,
                                     void *arg)
{
    struct vma_find *q = arg;
    uint64_t lo, hi;
    if (!uvm__maps_hex(&p, end, &lo) || p >= end || *p++ != '-' ||
        !uvm__maps_hex(&p, end, &hi) || end - p < 4 || *p++ != ' ')
        return 0;
    if (q->addr < lo || q->addr >= hi)
        return 0;
    q->v.start = (uintptr_t)lo;
    q->v.end = (uintptr_t)hi;
    q->v.prot = (p[0] == 'r' ? PROT_READ : 0) |
                (p[1] == 'w' ? PROT_WRITE : 0) |
                (p[2] == 'x' ? PROT_EXEC : 0);
    /* "rw-p offset dev inode": private, and inode 0 (the field after the
     * third space) is anonymous memory. */
    int spaces = 0;
    const char *s = p;
    while (s < end && spaces < 3)
        spaces += *s++ == ' ';
    q->v.anon = p[3] == 'p' && s < end && *s == '0' &&
                (s + 1 == end || s[1] == ' ');
    q->v.shared = p[3] == 's';
    /* The file's identity is not parsed here: 0 means unknown, and no
     * caller trusts a file it cannot identify. */
    return 1;
}

/* The pre-6.11 way: read the maps text, line by line. */
UVM_AS_SAFE static int vma_parse(uintptr_t addr, struct uvm__vma *out)
{
    struct vma_find q = { .addr = addr };
    int rc = uvm__maps_foreach(vma_find_line, &q);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return -ENOMEM;
    *out = q.v;
    return 0;
}

UVM_AS_SAFE int uvm__vma_fast(void)
{
    static atomic_int probed;            /* (a) one query was made */
    if (!atomic_load(&probed)) {
        struct uvm__vma v;
        int rc;
        vma_procmap((uintptr_t)&v, &v, &rc);
        atomic_store(&probed, 1);
    }
    return !atomic_load(&procmap_broken);
}

UVM_AS_SAFE int uvm__vma_query(uintptr_t addr, struct uvm__vma *out)
{
    int rc;
    if (!atomic_load(&procmap_broken) && vma_procmap(addr, out, &rc))
        return rc;
    return vma_parse(addr, out);
}

/* ---- the mapping budget ---- */

/* Mappings left for the rest of the program: 1/16 of the limit. */
#define BUDGET_MARGIN_SHIFT 4

static pthread_mutex_t budget_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t budget_reserved;            /* (budget_mu) */

static long read_long_file(const char *path, long dflt)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dflt;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return dflt;
    buf[n] = 0;
    return strtol(buf, NULL, 10);
}

static int count_line(const char *line, const char *end, void *arg)
{
    ++*(size_t *)arg;
    return 0;
}

int uvm__map_budget_reserve(size_t need)
{
    size_t limit = (size_t)read_long_file("/proc/sys/vm/max_map_count", 65530);
    limit -= limit >> BUDGET_MARGIN_SHIFT;
    pthread_mutex_lock(&budget_mu);
    size_t used = 0;
    (void)uvm__maps_foreach(count_line, &used);
    used += budget_reserved;
    int rc = used > limit || need > limit - used ? -ENOMEM : 0;
    if (rc == 0)
        budget_reserved += need;
    pthread_mutex_unlock(&budget_mu);
    return rc;
}

/* fork() (version.c orders the library's locks). */
void uvm__map_budget_lock(void) { pthread_mutex_lock(&budget_mu); }
void uvm__map_budget_unlock(void) { pthread_mutex_unlock(&budget_mu); }

void uvm__map_budget_release(size_t n)
{
    pthread_mutex_lock(&budget_mu);
    budget_reserved -= n;
    pthread_mutex_unlock(&budget_mu);
}
