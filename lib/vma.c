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
 * Must never: allocate, use stdio, or keep a descriptor across fork()
 * (a child's /proc/self is not its parent's).
 */
#include "vma.h"
#include "compat.h"

#include <fcntl.h>
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

UVM_AS_SAFE static uintptr_t vma_hex(const char **pp, const char *end)
{
    uintptr_t v = 0;
    const char *p = *pp;
    for (; p < end; p++) {
        int d;
        if (*p >= '0' && *p <= '9') d = *p - '0';
        else if (*p >= 'a' && *p <= 'f') d = *p - 'a' + 10;
        else break;
        v = v * 16 + (uintptr_t)d;
    }
    *pp = p;
    return v;
}

/* Parse one "start-end perms ..." line. */
UVM_AS_SAFE static int vma_parse_line(const char *p, const char *end,
                                      struct uvm__vma *v)
{
    v->start = vma_hex(&p, end);
    if (p >= end || *p++ != '-')
        return 0;
    v->end = vma_hex(&p, end);
    if (end - p < 4 || *p++ != ' ')
        return 0;
    v->prot = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
              (p[2] == 'x' ? PROT_EXEC : 0);
    return 1;
}

/* The pre-6.11 way: read the maps text, line by line, in a stack buffer. */
UVM_AS_SAFE static int vma_parse(uintptr_t addr, struct uvm__vma *out)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[4096];
    size_t have = 0;
    int rc = -ENOMEM;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t line = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] != '\n')
                continue;
            struct uvm__vma v;
            if (vma_parse_line(buf + line, buf + i, &v) &&
                addr >= v.start && addr < v.end) {
                *out = v;
                rc = 0;
                goto done;
            }
            line = i + 1;
        }
        __builtin_memmove(buf, buf + line, have - line);
        have -= line;
        if (have == sizeof buf)
            have = 0;               /* an absurdly long line: skip it */
    }
done:
    close(fd);
    return rc;
}

UVM_AS_SAFE int uvm__vma_query(uintptr_t addr, struct uvm__vma *out)
{
    int rc;
    if (!atomic_load(&procmap_broken) && vma_procmap(addr, out, &rc))
        return rc;
    return vma_parse(addr, out);
}
