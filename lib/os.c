/*
 * os.c: thin wrappers for system calls glibc does not wrap, and scratch
 * memory that may be obtained inside a signal handler.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Everything here is async-signal-safe: raw system calls, no malloc.
 * mmap, mremap and munmap are not on POSIX's list but are plain system
 * calls on Linux with no user-space state, which is what matters.
 */
#include "uvm-int.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

UVM_AS_SAFE pid_t uvm__gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* Queue sig with the given siginfo to thread tid of this process. */
UVM_AS_SAFE int uvm__tgsigqueue(pid_t tid, int sig, siginfo_t *si)
{
    return (int)syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, si);
}

/* Does thread tid of this process still exist?  0 yes, -ESRCH no. */
UVM_AS_SAFE int uvm__tgkill0(pid_t tid)
{
    if (syscall(SYS_tgkill, getpid(), tid, 0) == 0)
        return 0;
    return -errno;
}

UVM_AS_SAFE void uvm__scratch_init(struct uvm__scratch *s, void *stackbuf,
                                   size_t cap)
{
    s->mem = stackbuf;
    s->cap = cap;
    s->mapped = 0;
}

/* Make s hold at least bytes; keeps the contents.  0 or -ENOMEM. */
UVM_AS_SAFE int uvm__scratch_reserve(struct uvm__scratch *s, size_t bytes)
{
    if (bytes <= s->cap)
        return 0;
    size_t cap = (bytes + uvm__page_mask) & ~uvm__page_mask;
    if (cap < 2 * s->cap)
        cap = (2 * s->cap + uvm__page_mask) & ~uvm__page_mask;
    void *m;
    if (s->mapped)
        m = mremap(s->mem, s->cap, cap, MREMAP_MAYMOVE);
    else
        m = mmap(NULL, cap, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -ENOMEM;
    if (!s->mapped && s->cap)
        __builtin_memcpy(m, s->mem, s->cap);
    s->mem = m;
    s->cap = cap;
    s->mapped = 1;
    return 0;
}

UVM_AS_SAFE void uvm__scratch_fini(struct uvm__scratch *s)
{
    if (s->mapped)
        munmap(s->mem, s->cap);
    s->mapped = 0;
    s->mem = NULL;
    s->cap = 0;
}
