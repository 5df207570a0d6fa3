/*
 * ways.c: the table of ways to save a point-in-time image of the store
 * while the writer goes on writing.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the snapshot instant and what each way measures of itself.
 * Every way parks the writer, takes its snapshot, starts the writer's log
 * at that instant and lets it go; then it writes the image to fd and says
 * when it ended.  Adding a way is one function and one row of kv_ways[].
 * Must never: let the writer run between the park and the take (the
 * image would not be a point in time), or count memory the example
 * itself allocated during the save as the way's (the log and the trace
 * are touched before the writer starts).
 */
#include "kvsave.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uvm.h>

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t chunk = n < (1u << 20) ? n : (1u << 20);
        ssize_t k = write(fd, p, chunk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static double ms_since(uint64_t t0)
{
    return (double)(kv_now_ns() - t0) / 1e6;
}

/* After the take: the writer's log starts at the instant, and the save
 * does not begin before the writer has written once more, so that the
 * verification always compares against a state the writer has left. */
static void resume_after_take(struct kv_writer *w, struct kv_result *r)
{
    r->instant = w->log_base = atomic_load(&w->seq);
    kv_writer_mark_and_go(w);
    for (int i = 0; i < 1000000 && atomic_load(&w->seq) == r->instant; i++)
        sched_yield();
}

/* end_seq, unless the way has set it: the last update that could still
 * cost the save a copy. */
static void save_ended(struct kv_writer *w, struct kv_result *r,
                       uint64_t t0)
{
    if (r->end_seq == 0)
        r->end_seq = atomic_load(&w->seq);
    r->save_ms = ms_since(t0);
    atomic_store(&w->phase, KV_AFTER);
}

/* ---- fork(): the child writes the image, as Redis's BGSAVE does ---- */

struct child_report { size_t private_dirty, pte; int ok; };

static _Noreturn void child_save(const struct kv_store *kv, int fd,
                                 int do_fsync, int rep_fd)
{
    struct child_report rep = { 0, 0, 0 };
    rep.ok = write_all(fd, kv->base, kv->len) == 0 &&
             (!do_fsync || fsync(fd) == 0);
    /* Just before exit: the pages the parent wrote meanwhile are now
     * this child's alone (its Private_Dirty), the most it will hold. */
    if (kv_self_private(&rep.private_dirty, &rep.pte) < 0)
        rep.ok = 0;
    _exit(write(rep_fd, &rep, sizeof rep) == sizeof rep && rep.ok ? 0 : 1);
}

static int save_fork(struct kv_store *kv, struct kv_writer *w, int fd,
                     int do_fsync, struct kv_result *r)
{
    int p[2];
    struct kv_monitor m;
    if (pipe(p) < 0 || kv_monitor_start(&m) < 0)
        return -1;
    unsigned left = alarm(0);           /* fork() does not inherit it */
    alarm(left);
    r->rss_before = kv_rss_bytes();
    uint64_t t0 = kv_now_ns();
    kv_writer_park(w);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(left);
        child_save(kv, fd, do_fsync, p[1]);
    }
    r->take_ms = ms_since(t0);
    resume_after_take(w, r);
    close(p[1]);
    struct child_report rep = { 0, 0, 0 };
    ssize_t got = pid < 0 ? -1 : read(p[0], &rep, sizeof rep);
    int st = 0;
    if (pid > 0)
        waitpid(pid, &st, 0);
    save_ended(w, r, t0);
    close(p[0]);
    size_t peak = kv_monitor_stop(&m);
    r->rss_peak = peak;
    r->child_private = rep.private_dirty;
    r->child_pte = rep.pte;
    r->extra = rep.private_dirty + rep.pte +
               (peak > r->rss_before ? peak - r->rss_before : 0);
    if (pid < 0 || got != sizeof rep || !WIFEXITED(st) ||
        WEXITSTATUS(st) != 0)
        return errno = EIO, -1;
    return 0;
}

/* ---- libuvm's snapshots: undo (copy-on-write) or tracked (redo) ---- */

/* flags: the design (uvm_snapshot2).  Undo copies a page at its first
 * write after the take; redo copies the whole store at the take (the
 * writer is parked meanwhile) and nothing during the save: the writer's
 * writes are resolved by the kernel. */
static int save_snap(struct kv_store *kv, struct kv_writer *w, int fd,
                     int do_fsync, struct kv_result *r, unsigned flags)
{
    struct kv_monitor m;
    if (kv_monitor_start(&m) < 0)
        return -1;
    r->rss_before = kv_rss_bytes();
    uint64_t t0 = kv_now_ns();
    kv_writer_park(w);
    uvm_snap *s = uvm_snapshot2(kv->base, kv->len, flags);
    int err = errno;
    r->take_ms = ms_since(t0);
    resume_after_take(w, r);
    int rc = s == NULL ? -1 : uvm_snap_save(s, fd);
    if (rc == 0 && do_fsync)
        rc = fsync(fd);
    err = rc < 0 ? errno : err;
    /* Copies are made until the release, so the pages written count
     * until it begins (not during it: it unprotects the range, and what
     * is written behind it costs nothing); the save's time and the
     * writer's stalls count until it ends. */
    size_t rss_end = kv_rss_bytes();
    struct uvm_snap_stats st;
    if (s != NULL && uvm_snap_stats(s, &st) == 0)
        r->lib_held = st.bytes_held + st.reserve_bytes;
    r->end_seq = atomic_load(&w->seq);
    uint64_t t_rel = kv_now_ns();
    if (s != NULL && uvm_snap_release(s) < 0 && rc == 0)
        rc = -1, err = errno;
    r->release_ms = ms_since(t_rel);
    save_ended(w, r, t0);
    r->rss_peak = kv_monitor_stop(&m);
    if (rss_end > r->rss_peak)
        r->rss_peak = rss_end;
    r->extra = r->rss_peak > r->rss_before ? r->rss_peak - r->rss_before : 0;
    return s == NULL || rc < 0 ? (errno = err, -1) : 0;
}

static int save_undo(struct kv_store *kv, struct kv_writer *w, int fd,
                     int do_fsync, struct kv_result *r)
{
    return save_snap(kv, w, fd, do_fsync, r, UVM_SNAP_UNDO);
}

static int save_redo(struct kv_store *kv, struct kv_writer *w, int fd,
                     int do_fsync, struct kv_result *r)
{
    return save_snap(kv, w, fd, do_fsync, r, UVM_SNAP_TRACKED);
}

/* ---- a negative control: the live range, no snapshot at all ---- */

/* Waits 20 ms after the instant so that the writer has surely changed
 * pages before they are written out: its image must fail verification,
 * which shows that the verification can fail. */
static int save_live(struct kv_store *kv, struct kv_writer *w, int fd,
                     int do_fsync, struct kv_result *r)
{
    r->rss_before = kv_rss_bytes();
    uint64_t t0 = kv_now_ns();
    kv_writer_park(w);
    r->take_ms = ms_since(t0);
    resume_after_take(w, r);
    struct timespec ts = { 0, 20000000 };
    nanosleep(&ts, NULL);
    int rc = write_all(fd, kv->base, kv->len);
    if (rc == 0 && do_fsync)
        rc = fsync(fd);
    save_ended(w, r, t0);
    r->rss_peak = kv_rss_bytes();
    return rc;
}

const struct kv_way kv_ways[] = {
    { "fork", "fork(); the child writes the image (Redis's BGSAVE)",
      save_fork, NULL, 0 },
    { "undo", "uvm_snapshot + uvm_snap_save (copy-on-write, undo design)",
      save_undo, NULL, 0 },
    { "redo", "uvm_snapshot2(UVM_SNAP_TRACKED) + uvm_snap_save (tracked "
      "base, redo design)", save_redo, NULL, 0 },
    { "live", "no snapshot: writes the live range (negative control)",
      save_live, NULL, 1 },
};
const size_t kv_nways = sizeof kv_ways / sizeof kv_ways[0];
