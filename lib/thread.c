/*
 * thread.c: per-thread records: hazard pointers and in-flight handler calls.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the pool of thread records and the two waits writers need: "no
 * reader holds this table version" (uvm__hazard_wait) and "no thread runs a
 * handler of this region" (uvm__calls_wait).
 *
 * Must never: allocate with malloc or take a lock on the paths marked
 * UVM_AS_SAFE; unmap a chunk of records (readers keep raw pointers).
 *
 * Invariants:
 *  .inv.owner   Only the owning thread writes its record's hazard and call
 *               slots (possibly from nested signal handlers, which is why
 *               slots are claimed with compare-and-swap, never by index).
 *  .inv.hazard  A reader publishes a hazard and re-reads the root before
 *               trusting it; a writer that has published a new root and seen
 *               every hazard differ from the old one may free the old one.
 *  .inv.push    A call is recorded while the table version it was found in is
 *               still protected, so a writer that has waited out the hazards
 *               sees every call that could still run the region's handler.
 *
 * siglongjmp out of a handler (.calls): the call slot stays set.  A frame
 * is known to be abandoned when the thread's stack pointer is above it
 * (stacks grow down) on the same stack, or when the frame is on an
 * alternate signal stack and the thread no longer runs there.  The
 * alternate stack is the one the kernel saved when it delivered the
 * signal (the ucontext's uc_stack), kept in the call record as an address
 * range: a stack armed with SS_AUTODISARM is reported disabled while the
 * handler runs on it, so asking sigaltstack(2) later would take a live
 * frame for an abandoned one.  On one stack the rule is blind to a thread
 * that left a frame by siglongjmp and then went deeper than it: so every
 * handler call runs on an alternate stack where the fault layer allows it
 * (dispatch.c, .onalt), and a thread that leaves it has left every call
 * made there.  The owning thread prunes at its next fault and in
 * uvm_untrap; for other threads uvm_untrap sends a probe signal whose
 * handler prunes with the interrupted stack pointer.
 * A probe is never answered by a thread that keeps SIGSEGV blocked (a
 * signal-handling thread, say, that left a handler by siglongjmp without
 * restoring its mask) (.blocked): uvm_untrap then reads the stack pointer
 * of the blocked thread from /proc/self/task/<tid>/syscall and lets the
 * record be if the thread is blocked outside the alternate stack of every
 * call of the region, or above its frame there.  A handler's own system
 * calls run on that stack, so a live call is never passed over.
 *
 * Liveness (.alive).  A record whose thread has exited is reused, and its
 * calls are forgotten, once the thread is known dead: tgkill(tid, 0) fails
 * with ESRCH, or a thread now carries its id but started after the record
 * was claimed (the kernel reuses thread ids; a live thread with a reused
 * id would otherwise be taken for the owner, and uvm_untrap would wait for
 * ever on the dead owner's calls).  The start time is procfs's (field 22
 * of /proc/self/task/<tid>/stat, CLOCK_BOOTTIME in clock ticks), compared
 * with the CLOCK_BOOTTIME the record noted when claimed; a calling thread
 * that finds a record with its own id and is not its owner knows the owner
 * is dead.
 *
 * fork() (.fork): the child has one thread, the one that forked.  Every
 * other record, with its hazards and calls, describes a thread the child
 * does not have: the child's fork handler frees them all, keeping their
 * alternate stacks (the child's copy) for the records' next owners.
 *
 * Alternate signal stacks (.altstack).  A thread whose stack overflows can
 * only be told so on another stack: the kernel cannot push a signal frame
 * below a stack pointer that sits in the guard page.  libuvm's action has
 * SA_ONSTACK, and libuvm gives each thread it meets an alternate stack of
 * its own (libsigsegv's stackoverflow_install_handler does this for one
 * thread only, with a stack the caller provides):
 *  - when: the first time the thread is in libuvm with no handler call in
 *    flight: in uvm_trap or uvm_touch (uvm__dispatch_install), in any other
 *    call that claims a record (uvm__thread_self), at its first fault in a
 *    region, which then runs again on the new stack (dispatch.c, .onalt),
 *    or when its first region handler returns (dispatch.c).  Never while
 *    a call is in flight, so the frames of in-flight calls stay on the
 *    stack they were recorded on.
 *    sigreturn restores the alternate stack of the interrupted context, so
 *    in the fault path the stack is written into the ucontext's uc_stack
 *    (native layer); the libsigsegv layer has no ucontext and installs
 *    none there: a thread it meets only in region handlers gets none.  A
 *    record first claimed in a signal handler that is not libuvm's (say
 *    uvm_prot1 from a SIGALRM handler) gets its stack undone likewise;
 *  - never over the thread's own: a thread that has an alternate stack
 *    (sigaltstack(2) says it is enabled) keeps it, and libuvm's is not
 *    installed for that owner;
 *  - what: mmap'd, read-write, with a PROT_NONE guard page below it, so a
 *    handler that overflows the alternate stack faults in the guard and
 *    the kernel, unable to push a frame there, kills the process with
 *    SIGSEGV instead of letting it write below;
 *  - lifetime: the mapping belongs to the record, not to the thread.  A
 *    thread's exit leaves its record claimed (nothing in libuvm runs at
 *    thread exit: a pthread key destructor would need pthread_setspecific,
 *    which may allocate and is not async-signal-safe, and records are
 *    claimed in signal handlers); a record is reused only once its thread
 *    no longer exists (tgkill says ESRCH), and then its stack is reused
 *    too.  A dead thread cannot be running on it, so the stack is never
 *    unmapped or shared while a thread can still use it.  Stacks in
 *    existence <= records ever claimed <= the peak number of threads that
 *    used libuvm at once, plus a chunk's worth (free records are taken
 *    before dead ones).  Only touched pages cost memory.
 * A thread that never calls libuvm and never faults on a region has no
 * alternate stack from libuvm: its overflow kills it with SIGSEGV, without
 * the report (the kernel cannot push the frame), never a hang.
 */
#include "thread.h"
#include "compat.h"
#include "region.h"
#include "fault-layer.h"
#include "sanitizer.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES (64 * 1024)
#define CHUNK_RECORDS \
    ((CHUNK_BYTES - sizeof(void *)) / sizeof(struct uvm__thread))

struct chunk {
    struct chunk *next;                       /* (c) after publication */
    struct uvm__thread rec[CHUNK_RECORDS];
};

/* All chunks ever mapped; pushed with CAS, never removed. */
static _Atomic(struct chunk *) chunks;

/* The calling thread's record.  initial-exec TLS: reading it from a signal
 * handler cannot call __tls_get_addr (which may allocate). */
static __thread struct uvm__thread *self
    __attribute__((tls_model("initial-exec")));

UVM_AS_SAFE static uint64_t boottime_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Read /proc/self/task/<tid>/<name> (name at most 15 bytes) into buf,
 * NUL-terminated: the bytes read, or <= 0.  AS-safe: open, read, close. */
UVM_AS_SAFE static ssize_t task_file_read(pid_t tid, const char *name,
                                          char *buf, size_t cap)
{
    char path[48] = "/proc/self/task/", num[12];
    size_t n = strlen(path), k = 0;
    for (unsigned v = (unsigned)tid; k == 0 || v != 0; v /= 10)
        num[k++] = (char)('0' + v % 10);
    while (k > 0)
        path[n++] = num[--k];
    path[n++] = '/';
    memcpy(path + n, name, strlen(name) + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, buf, cap - 1);
    close(fd);
    if (got > 0)
        buf[got] = '\0';
    return got;
}

/* When thread tid of this process started, CLOCK_BOOTTIME ns rounded down
 * to a clock tick (procfs), or 0 if unknown.  AS-safe: open, read, close. */
UVM_AS_SAFE static uint64_t thread_start_ns(pid_t tid)
{
    char buf[512];
    if (task_file_read(tid, "stat", buf, sizeof buf) <= 0)
        return 0;
    /* Fields after the command name, which may hold spaces and parens:
     * state is field 3, starttime field 22. */
    char *p = strrchr(buf, ')');
    for (int field = 3; p != NULL && field <= 22; field++)
        p = strchr(p + 1, ' ');           /* the space before field */
    if (p == NULL)
        return 0;
    uint64_t ticks = 0;
    for (p++; *p >= '0' && *p <= '9'; p++)
        ticks = ticks * 10 + (uint64_t)(*p - '0');
    unsigned long hz = getauxval(AT_CLKTCK);   /* not sysconf: AS-safe */
    return ticks * (1000000000u / (uint64_t)(hz > 0 ? hz : 100));
}

/* The stack pointer of thread tid of this process while it is blocked in
 * the kernel (/proc/self/task/<tid>/syscall: "nr args... sp pc", or "-1
 * sp pc" when it is stopped outside a system call; "running" when it is
 * not blocked).  1 and *sp, or 0 if unknown.  Not AS-safe callers only
 * need it (uvm__calls_wait), but it allocates nothing. */
static int thread_blocked_sp(pid_t tid, uintptr_t *sp)
{
    char buf[256];
    if (task_file_read(tid, "syscall", buf, sizeof buf) <= 0 ||
        buf[0] < '-' || buf[0] > '9' || buf[0] == '/' || buf[0] == '.')
        return 0;                              /* "running" or junk */
    /* The last two words are sp and pc, in hexadecimal. */
    char *w[2] = { NULL, NULL };
    for (char *p = buf; *p; p++)
        if (*p == ' ') {
            w[0] = w[1];
            w[1] = p + 1;
        }
    if (w[0] == NULL || w[0][0] != '0' || w[0][1] != 'x')
        return 0;
    uintptr_t v = 0;
    for (char *p = w[0] + 2;; p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0'
              : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v * 16 + (uintptr_t)d;
    }
    *sp = v;
    return v != 0;
}

/* Does procfs number threads as we do?  Not in a pid namespace whose
 * /proc was not mounted again: /proc/self/task/<tid> would then be some
 * other thread, or none.  Asked once.  AS-safe. */
UVM_AS_SAFE static int procfs_ids_ours(void)
{
    static atomic_int known;        /* (a) 0 unknown, 1 yes, 2 no */
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (k != 0)
        return k == 1;
    /* "<pid>/task/<tid>" as procfs numbers the caller. */
    char link[64], want[64] = "";
    ssize_t n = readlink("/proc/thread-self", link, sizeof link - 1);
    k = 2;
    if (n > 0) {
        link[n] = '\0';
        unsigned v[2] = { (unsigned)getpid(), (unsigned)uvm__gettid() };
        size_t w = 0;
        for (int i = 0; i < 2; i++) {
            char num[12];
            size_t d = 0;
            for (unsigned x = v[i]; d == 0 || x != 0; x /= 10)
                num[d++] = (char)('0' + x % 10);
            while (d > 0)
                want[w++] = num[--d];
            if (i == 0) {
                memcpy(want + w, "/task/", 6);
                w += 6;
            }
        }
        want[w] = '\0';
        k = strcmp(link, want) == 0 ? 1 : 2;
    }
    atomic_store_explicit(&known, k, memory_order_relaxed);
    return k == 1;
}

/* Is the thread that claimed t, under id tid, still alive (.alive)?  When
 * procfs cannot tell, a thread that answers to tid is taken for it. */
UVM_AS_SAFE static int record_owner_alive(const struct uvm__thread *t,
                                          pid_t tid)
{
    if (tid < 0)
        return 1;                   /* being claimed (record_claim) */
    if (uvm__tgkill0(tid) == -ESRCH)
        return 0;
    uint64_t start = procfs_ids_ours() ? thread_start_ns(tid) : 0;
    return start == 0 || start <= UVM__T_LOAD(t->born);
}

UVM_AS_SAFE static size_t altstack_bytes(void);

/* alt_mem is kept: the stack passes to the record's next owner.  Under
 * ThreadSanitizer, which cannot see that the kernel ended the old owner
 * before the new one runs on the stack and would report the new owner's
 * signal frames as racing with the old one's, the stack's pages are
 * mapped afresh in place (no thread can be on them): its shadow starts
 * clean, and the stack is still the same one. */
UVM_AS_SAFE static void record_reset(struct uvm__thread *t)
{
#if defined(UVM_SAN_THREAD)
    char *old = UVM__T_LOAD(t->alt_mem);
    if (old != NULL &&
        mmap(old + uvm__page_size, altstack_bytes(), PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK |
                 MAP_FIXED,
             -1, 0) == MAP_FAILED) {
        munmap(old, uvm__page_size + altstack_bytes());
        UVM__T_STORE(t->alt_mem, NULL);
    }
#endif
    for (int i = 0; i < UVM__HAZARDS; i++)
        atomic_store(&t->hazard[i], NULL);
    for (int i = 0; i < UVM_MAX_NESTING; i++)
        atomic_store(&t->call[i].region, NULL);
    atomic_store(&t->ncalls, 0);
    UVM__T_STORE(t->alt_done, 0);
    UVM__T_STORE(t->stack_hint, 0);
    atomic_store(&t->probes, 0);
    UVM__T_STORE(t->gone_page, 0);
    UVM__T_STORE(t->gone_id, 0);
    UVM__T_STORE(t->alt_retry, 0);
    UVM__T_STORE(t->born, boottime_ns());
}

/* Claim a free record, or the record of a thread that has exited.  A
 * record that already carries the caller's id, which has none yet, is a
 * dead thread's (.alive). */
UVM_AS_SAFE static struct uvm__thread *record_claim(pid_t tid, int reuse_dead)
{
    for (struct chunk *c = atomic_load(&chunks); c; c = c->next) {
        for (size_t i = 0; i < CHUNK_RECORDS; i++) {
            struct uvm__thread *t = &c->rec[i];
            pid_t old = atomic_load(&t->tid);
            if (old == 0 || old == tid ||
                (reuse_dead && !record_owner_alive(t, old))) {
                /* -tid while the record is reset: no one judges the
                 * owner's life from the last owner's birth time. */
                if (atomic_compare_exchange_strong(&t->tid, &old, -tid)) {
                    record_reset(t);
                    atomic_store(&t->tid, tid);
                    return t;
                }
            }
        }
    }
    return NULL;
}

/* An address on the stack the thread runs on, unless that is an
 * alternate signal stack (the record is being claimed in a handler). */
UVM_AS_SAFE static uintptr_t record_stack_hint(void)
{
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK))
        return 0;
    return (uintptr_t)__builtin_frame_address(0);
}

UVM_AS_SAFE static struct uvm__thread *record_new(void)
{
    pid_t tid = uvm__gettid();
    struct uvm__thread *t = record_claim(tid, 0);
    if (t == NULL)
        t = record_claim(tid, 1);
    if (t == NULL) {
        struct chunk *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (c == MAP_FAILED)
            return NULL;
        atomic_store(&c->rec[0].tid, tid);   /* fresh zeroed memory */
        UVM__T_STORE(c->rec[0].born, boottime_ns());
        c->next = atomic_load(&chunks);
        while (!atomic_compare_exchange_weak(&chunks, &c->next, c))
            ;
        t = &c->rec[0];
    }
    UVM__T_STORE(t->stack_hint, record_stack_hint());
    self = t;
    return t;
}

UVM_AS_SAFE struct uvm__thread *uvm__thread_peek(void)
{
    return self;
}

UVM_AS_SAFE struct uvm__thread *uvm__thread_get(void)
{
    struct uvm__thread *t = self;
    return UVM_LIKELY(t != NULL) ? t : record_new();
}

UVM_AS_SAFE struct uvm__thread *uvm__thread_self(void)
{
    struct uvm__thread *t = uvm__thread_get();
    if (t != NULL && UVM_UNLIKELY(!UVM__T_LOAD(t->alt_done)))
        uvm__thread_altstack(t, NULL);
    return t;
}

/* ---- alternate signal stacks (.altstack) ---- */

/* Room for UVM_MAX_NESTING nested faults, each a kernel signal frame (its
 * size is AT_MINSIGSTKSZ, with the CPU's extended state: 3376 bytes on
 * this project's AMD EPYC machines)
 * plus the dispatcher's frames and a modest handler, and for the report
 * of an unclaimed fault (libunwind's cursor).  256 KiB at least; only the
 * touched pages are ever backed by memory. */
#define ALT_MIN_BYTES   (256 * 1024)
#define ALT_PER_NEST    (4 * 1024)

static _Atomic size_t alt_bytes;    /* (a, idempotent) the stack's size */

UVM_AS_SAFE static size_t altstack_bytes(void)
{
    size_t n = alt_bytes;
    if (n != 0)
        return n;
    size_t frame = (size_t)getauxval(AT_MINSIGSTKSZ);
    if (frame < 2048)               /* MINSIGSTKSZ before AVX-512 */
        frame = 2048;
    n = (UVM_MAX_NESTING + 4) * (frame + ALT_PER_NEST);
    if (n < ALT_MIN_BYTES)
        n = ALT_MIN_BYTES;
    n = (n + uvm__page_mask) & ~uvm__page_mask;
    alt_bytes = n;
    return n;
}

UVM_AS_SAFE int uvm__on_altstack(uintptr_t p, const stack_t *alt)
{
    if (alt == NULL || (alt->ss_flags & SS_DISABLE) || alt->ss_size == 0)
        return 0;
    uintptr_t lo = (uintptr_t)alt->ss_sp;
    return p >= lo && p < lo + alt->ss_size;
}

UVM_AS_SAFE static void altstack_install(struct uvm__thread *t, stack_t *ret);

UVM_AS_SAFE void uvm__thread_altstack(struct uvm__thread *t, stack_t *ret)
{
    if (UVM__T_LOAD(t->alt_done) ||
        atomic_load_explicit(&t->ncalls, memory_order_relaxed) != 0)
        return;
    altstack_install(t, ret);
}

/* uvm__thread_altstack, once its conditions are met. */
UVM_AS_SAFE static void altstack_install(struct uvm__thread *t, stack_t *ret)
{
    UVM__T_STORE(t->alt_done, 1);
    stack_t cur;
    if (ret != NULL)
        cur = *ret;
    else if (sigaltstack(NULL, &cur) != 0)
        return;
    if (!(cur.ss_flags & SS_DISABLE))
        return;                     /* the thread's own stack: keep it */
    size_t bytes = altstack_bytes();
    char *mem = UVM__T_LOAD(t->alt_mem);
    if (mem == NULL) {
        size_t len = uvm__page_size + bytes;
        char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
                           MAP_STACK,
                       -1, 0);
        if (m == MAP_FAILED)
            return;                 /* no report on overflow, that is all */
        if (mprotect(m, uvm__page_size, PROT_NONE) != 0) {
            munmap(m, len);
            return;
        }
        UVM__T_STORE(t->alt_mem, m);
        UVM_COUNT(altstacks, 1);
        mem = m;
    }
    stack_t ss = { .ss_sp = mem + uvm__page_size,
                   .ss_size = bytes, .ss_flags = 0 };
    if (ret != NULL)
        *ret = ss;
    else
        (void)sigaltstack(&ss, NULL);
}

UVM_AS_SAFE int uvm__thread_altstack_now(struct uvm__thread *t, stack_t *ret)
{
    if (!(ret->ss_flags & SS_DISABLE) || (ret->ss_flags & SS_AUTODISARM))
        return 0;          /* the thread's own, enabled or merely disarmed */
    altstack_install(t, ret);
    if (ret->ss_flags & SS_DISABLE)
        return 0;          /* no memory for it */
    /* Now as well as at sigreturn: a handler that leaves by siglongjmp
     * never reaches sigreturn. */
    return sigaltstack(ret, NULL) == 0;
}

/* ---- hazard pointers ---- */

UVM_AS_SAFE void *uvm__hazard_acquire(struct uvm__thread *t,
                                      _Atomic(void *) *root, int *slot)
{
    int s;
    for (s = 0; s < UVM__HAZARDS; s++)
        if (atomic_load_explicit(&t->hazard[s], memory_order_relaxed) == NULL)
            break;
    if (s == UVM__HAZARDS) {
        *slot = -1;
        return NULL;
    }
    void *v = atomic_load(root);
    for (;;) {
        atomic_store(&t->hazard[s], v);          /* seq_cst: .inv.hazard */
        void *again = atomic_load(root);
        if (again == v)
            break;
        v = again;
    }
    *slot = s;
    return v;
}

UVM_AS_SAFE void uvm__hazard_release(struct uvm__thread *t, int slot)
{
    if (slot >= 0)
        atomic_store_explicit(&t->hazard[slot], NULL, memory_order_release);
}

static void pause_briefly(unsigned round)
{
    if (round < 64) {
        sched_yield();
    } else {
        struct timespec ts = { 0, round < 1000 ? 50000 : 1000000 };
        nanosleep(&ts, NULL);
    }
}

/* Free records are skipped: a thread that claims one after we looked
 * publishes its hazard after the new root was published (seq_cst), so its
 * re-read of the root (.inv.hazard) finds the new version.  Skipping them
 * keeps table updates cheap: scanning every slot of a chunk made uvm_trap
 * 10x slower once a thread had faulted (bench/uvm-bench regions row). */
void uvm__hazard_wait(void *version)
{
    if (version == NULL)
        return;
    for (struct chunk *c = atomic_load(&chunks); c; c = c->next) {
        for (size_t i = 0; i < CHUNK_RECORDS; i++) {
            struct uvm__thread *t = &c->rec[i];
            if (atomic_load(&t->tid) == 0)
                continue;
            for (int h = 0; h < UVM__HAZARDS; h++)
                for (unsigned round = 0;
                     atomic_load(&t->hazard[h]) == version; round++)
                    pause_briefly(round);
        }
    }
}

/* ---- in-flight handler calls ---- */

#define on_stack uvm__on_altstack

UVM_AS_SAFE int uvm__call_push(struct uvm__thread *t, struct uvm_region *r,
                               uintptr_t frame, const stack_t *alt)
{
    for (int i = 0; i < UVM_MAX_NESTING; i++) {
        struct uvm__call *c = &t->call[i];
        if (atomic_load_explicit(&c->region, memory_order_relaxed) != NULL)
            continue;
        int alt_ok = on_stack(frame, alt);
        uintptr_t lo = alt_ok ? (uintptr_t)alt->ss_sp : 0;
        UVM__T_STORE(c->frame, frame);
        UVM__T_STORE(c->alt_lo, lo);
        UVM__T_STORE(c->alt_hi, alt_ok ? lo + alt->ss_size : 0);
        struct uvm_region *expect = NULL;
        if (atomic_compare_exchange_strong(&c->region, &expect, r)) {
            atomic_fetch_add(&t->ncalls, 1);
            return i;
        }
    }
    return -1;
}

UVM_AS_SAFE void uvm__call_pop(struct uvm__thread *t, int slot)
{
    struct uvm__call *c = &t->call[slot];
    if (atomic_exchange(&c->region, NULL) != NULL)
        atomic_fetch_sub(&t->ncalls, 1);
}

UVM_AS_SAFE static int in_range(uintptr_t p, uintptr_t lo, uintptr_t hi)
{
    return p >= lo && p < hi;
}

/* The alternate stack sp runs on, in *lo and *hi: the current one, or one
 * a call in flight was recorded on (disarmed, SS_AUTODISARM).  0 if sp is
 * on none. */
UVM_AS_SAFE static int alt_range_of(const struct uvm__thread *t, uintptr_t sp,
                                    const stack_t *alt, uintptr_t *lo,
                                    uintptr_t *hi)
{
    if (on_stack(sp, alt)) {
        *lo = (uintptr_t)alt->ss_sp;
        *hi = *lo + alt->ss_size;
        return 1;
    }
    for (int i = 0; i < UVM_MAX_NESTING; i++) {
        const struct uvm__call *c = &t->call[i];
        if (atomic_load_explicit(&c->region, memory_order_relaxed) == NULL)
            continue;
        *lo = UVM__T_LOAD(c->alt_lo);
        *hi = UVM__T_LOAD(c->alt_hi);
        if (in_range(sp, *lo, *hi))
            return 1;
    }
    return 0;
}

/* Has the thread left c's frame, given that it now runs at sp (.calls)? */
UVM_AS_SAFE static int call_abandoned(const struct uvm__thread *t,
                                      const struct uvm__call *c, uintptr_t sp,
                                      const stack_t *alt)
{
    uintptr_t frame = UVM__T_LOAD(c->frame);
    uintptr_t lo = UVM__T_LOAD(c->alt_lo), hi = UVM__T_LOAD(c->alt_hi);
    if (hi != 0)
        return !in_range(sp, lo, hi) || sp > frame;
    /* A frame not on an alternate stack, while sp is on one it is not on,
     * may still be live (a nested fault): keep it. */
    if (alt_range_of(t, sp, alt, &lo, &hi) && !in_range(frame, lo, hi))
        return 0;
    return sp > frame;
}

UVM_AS_SAFE void uvm__calls_prune(struct uvm__thread *t, uintptr_t sp,
                                  const stack_t *alt)
{
    if (atomic_load_explicit(&t->ncalls, memory_order_relaxed) == 0)
        return;
    for (int i = 0; i < UVM_MAX_NESTING; i++) {
        struct uvm__call *c = &t->call[i];
        if (atomic_load_explicit(&c->region, memory_order_relaxed) != NULL &&
            call_abandoned(t, c, sp, alt))
            uvm__call_pop(t, i);
    }
}

/* Has thread tid, blocked in the kernel, left every call of r recorded
 * in t (.calls, .blocked)?  Only calls made on an alternate stack can be
 * judged: the thread is not running r's handler if it is blocked outside
 * that stack, or above the call's frame on it.  The record is not
 * changed (.inv.owner); its owner prunes it at its next fault. */
static int record_left_calls(struct uvm__thread *t, pid_t tid,
                             struct uvm_region *r)
{
    uintptr_t sp;
    if (!thread_blocked_sp(tid, &sp))
        return 0;
    for (int i = 0; i < UVM_MAX_NESTING; i++) {
        const struct uvm__call *c = &t->call[i];
        if (atomic_load(&c->region) != r)
            continue;
        uintptr_t lo = UVM__T_LOAD(c->alt_lo), hi = UVM__T_LOAD(c->alt_hi);
        if (hi == 0 || (in_range(sp, lo, hi) && sp <= UVM__T_LOAD(c->frame)))
            return 0;
    }
    /* Still the same thread, still blocked?  A thread that resumed cannot
     * re-enter a frame it left by siglongjmp, and r is out of the table,
     * so no new call of r can start: one look suffices. */
    return atomic_load(&t->tid) == tid;
}

static int record_has_call(struct uvm__thread *t, struct uvm_region *r)
{
    if (atomic_load(&t->ncalls) == 0)
        return 0;
    for (int i = 0; i < UVM_MAX_NESTING; i++)
        if (atomic_load(&t->call[i].region) == r)
            return 1;
    return 0;
}

int uvm__calls_self_in(struct uvm_region *r)
{
    struct uvm__thread *t = self;
    if (t == NULL)
        return 0;
    stack_t alt;
    if (sigaltstack(NULL, &alt) != 0)
        alt.ss_flags = SS_DISABLE;
    /* Where we run: the frame address, which a sanitizer's fake stack
     * does not move as it may move a local. */
    uvm__calls_prune(t, (uintptr_t)__builtin_frame_address(0), &alt);
    /* Any call in flight on this thread is below us on the stack: if one of
     * them is r's, r's handler cannot return before we do. */
    return record_has_call(t, r);
}

/* Probe only calls that outlive a short grace period: most calls simply
 * return, and a probe may interrupt a system call of the target (EINTR). */
#define PROBE_AFTER_ROUNDS 200
#define PROBE_EVERY_ROUNDS 100

void uvm__calls_wait(struct uvm_region *r)
{
    struct uvm__thread *me = self;
    for (unsigned round = 0;; round++) {
        int busy = 0;
        for (struct chunk *c = atomic_load(&chunks); c; c = c->next) {
            for (size_t i = 0; i < CHUNK_RECORDS; i++) {
                struct uvm__thread *t = &c->rec[i];
                pid_t tid = atomic_load(&t->tid);
                if (t == me || tid == 0 || !record_has_call(t, r))
                    continue;
                if (round < PROBE_AFTER_ROUNDS ||
                    round % PROBE_EVERY_ROUNDS != 0) {
                    busy = 1;
                    continue;
                }
                if (!record_owner_alive(t, tid)) {
                    /* The thread is gone; its record can be reused.  Only
                     * the tid is cleared, and only if nobody claimed the
                     * record meanwhile: the claimer resets the rest. */
                    atomic_compare_exchange_strong(&t->tid, &tid, 0);
                    busy = 1;
                } else if (tid > 0 && record_left_calls(t, tid, r)) {
                    /* Blocked where r's handler cannot be running, maybe
                     * with the probe signal masked (a thread that left the
                     * handler by siglongjmp, then blocked signals): the
                     * probe might never be answered, and need not be. */
                } else {
                    busy = 1;
                    if (tid > 0)
                        uvm__fault_probe(t, tid);
                }
            }
        }
        if (!busy)
            return;
        pause_briefly(round);
    }
}

/* After fork() (.fork): the child's only thread keeps its parent's record
 * (memory is copied) under the parent's thread id and birth time: give it
 * the child's, so that no one takes the record for a dead thread's.  The
 * records of the parent's other threads are freed: their hazards would
 * make every table update wait for ever, their calls every uvm_untrap. */
void uvm__thread_atfork_child(void)
{
    struct uvm__thread *me = self;
    for (struct chunk *c = atomic_load(&chunks); c; c = c->next) {
        for (size_t i = 0; i < CHUNK_RECORDS; i++) {
            struct uvm__thread *t = &c->rec[i];
            if (t == me || atomic_load(&t->tid) == 0)
                continue;
            record_reset(t);
            atomic_store(&t->tid, 0);
        }
    }
    if (me != NULL) {
        atomic_store(&me->tid, uvm__gettid());
        UVM__T_STORE(me->born, boottime_ns());
        atomic_store(&me->probes, 0);
    }
}
