/*
 * mem.c: memory probes, read from /proc.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the readers of /proc/self/statm, smaps_rollup and status, and the
 * monitor thread that samples RSS every millisecond during a save.  Must
 * never: use stdio or malloc in kv_self_private, which a fork() child of
 * a threaded process calls.
 */
#include "kvsave.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static ssize_t slurp(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

size_t kv_rss_bytes(void)
{
    char buf[256];
    unsigned long size, res;
    if (slurp("/proc/self/statm", buf, sizeof buf) <= 0 ||
        sscanf(buf, "%lu %lu", &size, &res) != 2)
        return 0;
    return res * (size_t)sysconf(_SC_PAGESIZE);
}

/* The kB figure after `field` in buf, in bytes (0 if absent). */
static size_t field_kb(const char *buf, const char *field)
{
    const char *p = strstr(buf, field);
    if (p == NULL)
        return 0;
    return (size_t)strtoul(p + strlen(field), NULL, 10) * 1024;
}

int kv_self_private(size_t *private_dirty, size_t *pte)
{
    char buf[4096];
    if (slurp("/proc/self/smaps_rollup", buf, sizeof buf) <= 0)
        return -1;
    *private_dirty = field_kb(buf, "\nPrivate_Dirty:");
    if (slurp("/proc/self/status", buf, sizeof buf) <= 0)
        return -1;
    *pte = field_kb(buf, "\nVmPTE:");
    return 0;
}

static void *monitor_main(void *arg)
{
    struct kv_monitor *m = arg;
    struct timespec ms = { 0, 1000000 };
    while (atomic_load(&m->run)) {
        size_t r = kv_rss_bytes();
        if (r > atomic_load(&m->peak))
            atomic_store(&m->peak, r);
        nanosleep(&ms, NULL);
    }
    return NULL;
}

int kv_monitor_start(struct kv_monitor *m)
{
    atomic_store(&m->run, 1);
    atomic_store(&m->peak, kv_rss_bytes());
    return pthread_create(&m->thread, NULL, monitor_main, m) == 0 ? 0 : -1;
}

size_t kv_monitor_stop(struct kv_monitor *m)
{
    atomic_store(&m->run, 0);
    pthread_join(m->thread, NULL);
    size_t r = kv_rss_bytes();
    return r > atomic_load(&m->peak) ? r : atomic_load(&m->peak);
}
