/*
 * fuzz-uvm.c: a libFuzzer harness for the whole public interface of libuvm.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined from
 * the library's sources directly (fuzz/fuzz.mk).  Each input is decoded as
 * a sequence of up to MAX_OPS operations over the public API -- TRAP,
 * PROT1/PROTN/PROTV/UNPROT, uvm_touch, DIRTY, MAP2, snapshots, counters --
 * plus plain reads and writes that may fault, with arbitrary lengths,
 * offsets, protections, flags and handles (live, stale, NULL, misaligned,
 * of another type).
 *
 * The sandbox.  Every address handed to the library lies in memory the
 * harness owns: a fixed-address arena (private anonymous pages, a shared
 * memfd window, a read-only file window, guard pages and an unmapped hole
 * far from any other mapping), the views uvm_alloc/uvm_map2 return, and
 * PROT_NONE tombstones the harness maps over views uvm_free unmapped, so
 * that no other mapping can move in.  The only other addresses used are
 * ones nothing can map (NULL, below vm.mmap_min_addr, kernel and
 * non-canonical addresses, wrap-around).  Lengths that could reach past
 * the sandbox from a view are clamped; from the arena they stop at the
 * hole.  So the fuzzer never changes the protection of its own memory.
 *
 * Faults.  Region handlers registered here resolve faults with uvm_unprot
 * (or decline on purpose); an access no region resolves ends in the
 * harness's own SIGSEGV/SIGBUS action, installed before libuvm's and
 * therefore the action libuvm chains to, which siglongjmps out of a
 * guarded access.  Any other fault goes on to the sanitizers' handler: a
 * crash, which libFuzzer reports with the input.
 *
 * The oracle (die() on violation):
 *  - -1/NULL comes with an errno the man page documents for that
 *    function, and exactly the expected one where the harness can predict
 *    it (bad arguments, stale handles, overlaps, holes);
 *  - calls the model says must succeed do (ENOMEM tolerated);
 *  - a failed PROTN/PROTV changed no page's protection (all or nothing);
 *  - a handler is called only for its own region, with the right fault
 *    description; a fault in a region never reaches the fallback without
 *    its handler having run (misrouted or lost faults); a handler that
 *    fixed the page is not called again for it forever (fault loop);
 *  - after uvm_touch succeeds the range is accessible, also to system
 *    calls;
 *  - live memory always equals a byte-exact model (writes, restores,
 *    MAP2 aliases through a shared object model);
 *  - uvm_dirty/uvm_dirty_runs report pages ascending, in range, within
 *    max, and every page the harness wrote since the previous call when
 *    the answer was not truncated;
 *  - uvm_snap_read/save/view return the snapshot's shadow copy, taken
 *    from the model when the snapshot was taken; uvm_snap_diff lists the
 *    pages that differ; uvm_snap_stats and uvm_stats agree with the model;
 *  - after each input every handle is given back and libuvm reports no
 *    region left.
 *
 * Documented limits the harness respects rather than reports: writes
 * through a second view of snapshotted or tracked pages are not seen
 * (pages so written become "uncertain"), the mprotect DIRTY method does
 * not report writes to pages whose protection the program changed, and
 * the harness does not lower the access of live snapshot ranges (nor,
 * under UVM_BACKEND=mprotect, change it at all) nor uvm_free them: the
 * library reads and writes those pages itself and cannot survive that.
 */
#define _GNU_SOURCE 1
#include <uvm.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* ---- the sandbox layout (pages of the arena) ---- */

#define ARENA_HINT 0x3a5a00000000UL   /* ASan's high application memory */
enum {
    Z_GUARD0 = 0,                  /* PROT_NONE */
    Z_P = 1, NP_P = 32,            /* private anonymous, read-write */
    Z_S = 33, NP_S = 8,            /* shared memfd, read-write */
    Z_F = 41, NP_F = 4,            /* read-only shared file: EACCES */
    Z_GUARD1 = 45,                 /* PROT_NONE */
    Z_HOLE = 46, NP_HOLE = 4,      /* never mapped */
    ARENA_PAGES = 50
};

#define MAX_OPS 48
#define MAXREG 12
#define MAXTRK 6
#define MAXSNAP 8
#define MAXSP 9                    /* the arena and eight views */
#define MAXOBJ 9
#define VIEW_PAGES 8               /* largest uvm_alloc/uvm_map2 */
#define MAXSEEN 64

static size_t PS;
static uintptr_t arena;            /* base of the arena */
static int pattern_fd, sink_fd, ro_fd, full_fd, file_fd;

/* ---- dying with a message ---- */

static const char *cur_op = "-";
static int tracing;                /* FUZZ_UVM_TRACE=1: log every call */

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
    if (!tracing)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static void die(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nfuzz-uvm: invariant violated in %s: ", cur_op);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

typedef unsigned __int128 emask;      /* one bit per errno value */
#define E(x) ((emask)1 << (x))
#define EMAN(x) (E(EINVAL) | (x))
/* errnos write(2) may give uvm_snap_save */
#define EWRITE (E(EBADF) | E(ENOSPC) | E(EIO) | E(EINVAL) | E(EFBIG) | \
                E(EPIPE) | E(EAGAIN) | E(EDQUOT) | E(EPERM) | E(EFAULT))

/* The call failed: errno must be in allowed. */
static void check_errno(const char *fn, emask allowed)
{
    int e = errno;
    if (e <= 0 || e >= 128 || !(allowed & E(e)))
        die("%s failed with errno %d (%s), which its man page does not list "
            "for this case", fn, e, strerror(e));
}

/* What the model expects of a call. */
struct expect {
    int must_fail;                 /* a reason to fail applies */
    emask fail;                    /* the errnos those reasons give */
    emask also;                    /* tolerated otherwise (ENOMEM...) */
    emask doc;                     /* everything the man page lists */
};

/* Judge a call: ok says it succeeded. */
static void judge(const char *fn, int ok, const struct expect *x)
{
    trace("  -> %s %s%s%s\n", fn, ok ? "ok" : "failed: ",
          ok ? "" : strerror(errno), x->must_fail ? " (must fail)" : "");
    if (ok) {
        if (x->must_fail)
            die("%s succeeded although it must fail (errno mask %#llx)", fn,
                (unsigned long long)x->fail);
        return;
    }
    check_errno(fn, x->doc);
    if (x->must_fail)
        check_errno(fn, x->fail | x->also);
    else
        check_errno(fn, x->also);
}

/* ---- the content model: objects ---- */

struct obj {
    int live;
    size_t np;
    unsigned char *data;           /* np pages */
    unsigned char *unknown;        /* per page: contents not modelled */
};
static struct obj objs[MAXOBJ];    /* 0: the arena */

/* ---- spaces: the arena and MAP2 views ---- */

struct space {
    int live;
    uintptr_t base;
    size_t np;
    int obj;                       /* object mapped */
    size_t off;                    /* its page at base */
    unsigned char dead[VIEW_PAGES];/* page unmapped by uvm_free: tombstone */
};
static struct space sp[MAXSP];

enum { PC_MAPPED, PC_RO, PC_HOLE, PC_TOMB, PC_FOREIGN };

struct pinfo {
    int cls;                       /* PC_* */
    int space, obj;
    size_t opage;                  /* page within obj */
};

/* The sandbox page containing a (AS-safe: plain loads). */
static int page_info(uintptr_t a, struct pinfo *pi)
{
    for (int s = 0; s < MAXSP; s++) {
        const struct space *x = &sp[s];
        if (!x->live || a < x->base || a >= x->base + x->np * PS)
            continue;
        size_t i = (a - x->base) / PS;
        pi->space = s;
        pi->obj = x->obj;
        pi->opage = x->off + i;
        if (s == 0)
            pi->cls = i >= Z_HOLE ? PC_HOLE : i >= Z_F && i < Z_F + NP_F
                                                  ? PC_RO : PC_MAPPED;
        else
            pi->cls = x->dead[i] ? PC_TOMB : PC_MAPPED;
        return 1;
    }
    pi->cls = PC_FOREIGN;
    pi->space = pi->obj = -1;
    return 0;
}

static int in_sandbox(uintptr_t a)
{
    struct pinfo pi;
    return page_info(a, &pi);
}

/* ---- regions, trackers, snapshots ---- */

/* Handler kinds: fix the page (read-write), decline, fix reads with
 * PROT_READ only, leave by siglongjmp to the guarded access, or fault on
 * another region's page first (nesting) and then fix. */
enum { K_FIX = 0, K_DECLINE = 1, K_READFIX = 2, K_JUMP = 4, K_NEST = 5 };

struct reg {
    uvm_region *h;
    int live;
    uintptr_t start, end;
    int kind;
    volatile uintptr_t last_addr;  /* last fault its handler saw */
    volatile int last_declined;
    volatile unsigned long streak; /* calls in a row for last_addr */
    volatile unsigned long calls;
};
static struct reg regs[MAXREG];

struct trk {
    uvm_tracker *h;
    int live, mp;                  /* mp: the mprotect method */
    int remapped;                  /* part of the range was freed */
    uintptr_t start;
    size_t np;
    unsigned char written[ARENA_PAGES];
    unsigned char protchg[ARENA_PAGES];
};
static struct trk trks[MAXTRK];

struct snap {
    uvm_snap *h;
    int live;
    uintptr_t start;
    size_t np;
    unsigned char *shadow;
    unsigned char uncertain[ARENA_PAGES];
    const void *view;
};
static struct snap snaps[MAXSNAP];

/* Handles ever returned (for stale ones) and the internal-region epoch:
 * a stale region pointer may be reused by a region libuvm makes for itself
 * (snapshot chains, mprotect trackers), which uvm_untrap cannot tell from
 * the user's; such a pointer is only used while no internal region was
 * made since it went stale. */
static struct { void *p; unsigned long epoch; } seen_reg[MAXSEEN];
static void *seen_trk[MAXSEEN], *seen_snap[MAXSEEN];
static int nseen_reg, nseen_trk, nseen_snap;
static unsigned long internal_epoch;

/* ---- faults ---- */

static sigjmp_buf g_jb;
static volatile sig_atomic_t g_guard;      /* a guarded access runs */
static volatile int g_access;              /* what it does (uvm_access) */
static volatile uintptr_t g_fault;         /* where it stopped */
static volatile int g_lost;                /* fallback saw a region's fault */
static volatile const char *g_bad;         /* a handler saw a wrong fault */
static volatile int g_in_nest;             /* a handler's nested access */
static struct sigaction prev_segv, prev_bus;

static void wr(const char *s) { (void)!write(2, s, strlen(s)); }

static struct reg *reg_of(uintptr_t a)
{
    for (int i = 0; i < MAXREG; i++)
        if (regs[i].live && a >= regs[i].start && a < regs[i].end)
            return &regs[i];
    return NULL;
}

/* A page of another live K_FIX region in the arena that its handler will
 * certainly resolve, for K_NEST. */
static uintptr_t nest_target(const struct reg *self)
{
    for (int i = 0; i < MAXREG; i++) {
        const struct reg *r = &regs[i];
        struct pinfo pi;
        if (r != self && r->live && r->kind == K_FIX &&
            page_info(r->start, &pi) && pi.space == 0 &&
            pi.cls == PC_MAPPED && (r->start & (PS - 1)) == 0)
            return r->start;
    }
    return 0;
}

static int handler(const struct uvm_fault *f)
{
    struct reg *r = f->arg;
    uintptr_t a = (uintptr_t)f->addr;
    if (r < regs || r >= regs + MAXREG || !r->live) {
        g_bad = "handler called with an arg that is no live region";
        return UVM_DECLINE;
    }
    if (f->region != r->h || a < r->start || a >= r->end)
        g_bad = "fault misrouted: region or address not the handler's";
    if ((uintptr_t)f->page != (a & ~(PS - 1)))
        g_bad = "fault->page is not the page of fault->addr";
    if (f->signo != SIGSEGV)
        g_bad = "fault->signo is not SIGSEGV";
    if (g_in_nest)
        ;                          /* a handler's own access: a read */
    else if (!g_guard && g_access == 0)
        g_bad = "handler called outside any access of the harness";
    else if (g_access != 0 && f->access != g_access)
        g_bad = "fault->access differs from the access made";
    r->calls++;
    r->streak = r->last_addr == a ? r->streak + 1 : 1;
    r->last_addr = a;
    r->last_declined = 0;
    if (r->streak > 1000) {
        g_bad = "fault loop: the handler fixed the page 1000 times";
        r->last_declined = 1;
        return UVM_DECLINE;
    }
    if (r->kind == K_DECLINE || !in_sandbox(a)) {
        r->last_declined = 1;
        return UVM_DECLINE;
    }
    if (r->kind == K_JUMP) {
        r->last_declined = 1;
        if (g_guard && !g_in_nest) {
            g_fault = a;
            g_guard = 0;
            siglongjmp(g_jb, 1);     /* leave the handler (uvm_trap(3)) */
        }
        return UVM_DECLINE;
    }
    if (r->kind == K_NEST && !g_in_nest) {
        uintptr_t t = nest_target(r);
        if (t != 0) {
            g_in_nest = 1;
            (void)*(volatile char *)t;   /* may fault: nested dispatch */
            g_in_nest = 0;
        }
    }
    int prot = PROT_READ | PROT_WRITE;
    if (r->kind == K_READFIX && f->access == UVM_ACCESS_READ)
        prot = PROT_READ;
    if (uvm_unprot(f->page, prot) != 0) {
        r->last_declined = 1;
        return UVM_DECLINE;
    }
    return UVM_RETRY;
}

static void fallback(int sig, siginfo_t *si, void *uc)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    if (g_guard && si->si_code > 0 && in_sandbox(a)) {
        struct reg *r = reg_of(a);
        if (r != NULL && !(r->last_addr == a && r->last_declined))
            g_lost = 1;
        g_fault = a;
        g_guard = 0;
        siglongjmp(g_jb, 1);
    }
    if (g_guard && si->si_code > 0)
        wr("fuzz-uvm: guarded access faulted outside the sandbox\n");
    const struct sigaction *p = sig == SIGBUS ? &prev_bus : &prev_segv;
    if (p->sa_flags & SA_SIGINFO) {
        p->sa_sigaction(sig, si, uc);
    } else if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
        p->sa_handler(sig);
    } else {
        signal(sig, SIG_DFL);      /* the fault repeats and kills */
        if (si->si_code <= 0)
            raise(sig);
    }
}

static void check_fault_flags(const char *what)
{
    if (g_bad != NULL)
        die("%s: %s", what, (const char *)g_bad);
    if (g_lost)
        die("%s: a fault in a registered region reached the fallback "
            "although its handler did not decline it (lost fault)", what);
}

/* ---- the model: marks ---- */

/* The page at address page (object page pi) changed: snapshots of other
 * views of the same object page did not see it (uvm_snapshot(3)). */
static void alias_mark(uintptr_t page, const struct pinfo *pi)
{
    for (int s = 0; s < MAXSNAP; s++) {
        struct snap *x = &snaps[s];
        if (!x->live)
            continue;
        for (size_t j = 0; j < x->np; j++) {
            uintptr_t b = x->start + j * PS;
            struct pinfo q;
            if (b != page && page_info(b, &q) && q.obj == pi->obj &&
                q.opage == pi->opage)
                x->uncertain[j] = 1;
        }
    }
}

/* The harness wrote into the page at address page. */
static void model_store(uintptr_t page, const struct pinfo *pi)
{
    /* trackers see writes at their own addresses only */
    for (int t = 0; t < MAXTRK; t++) {
        struct trk *k = &trks[t];
        if (k->live && page >= k->start && page < k->start + k->np * PS)
            k->written[(page - k->start) / PS] = 1;
    }
    alias_mark(page, pi);
}

static unsigned char *model_byte(const struct pinfo *pi, uintptr_t a)
{
    return &objs[pi->obj].data[pi->opage * PS + (a & (PS - 1))];
}

static int model_known(const struct pinfo *pi)
{
    return pi->cls != PC_HOLE && pi->cls != PC_FOREIGN &&
           pi->cls != PC_TOMB && objs[pi->obj].live &&
           !objs[pi->obj].unknown[pi->opage];
}

/* ---- guarded accesses ---- */

/* Write len bytes from v at a; returns how many were stored. */
static size_t guarded_write(uintptr_t a, size_t len, unsigned char v)
{
    static volatile size_t done;
    done = 0;
    g_lost = 0;
    g_access = UVM_ACCESS_WRITE;
    if (sigsetjmp(g_jb, 1) == 0) {
        g_guard = 1;
        for (size_t i = 0; i < len; i++) {
            ((volatile unsigned char *)a)[i] = (unsigned char)(v + i);
            done = i + 1;
        }
        g_guard = 0;
    }
    g_access = 0;
    check_fault_flags("write");
    if (done < len && g_fault != a + done)
        die("write stopped at %#lx, not at the faulting byte %#lx",
            (unsigned long)(a + done), (unsigned long)g_fault);
    for (size_t i = 0; i < done;) {
        struct pinfo pi;
        uintptr_t p = a + i, pg = p & ~(PS - 1);
        size_t n = pg + PS - p < done - i ? pg + PS - p : done - i;
        if (!page_info(p, &pi) || pi.cls == PC_HOLE)
            die("write landed outside the mapped sandbox at %#lx",
                (unsigned long)p);
        if (pi.cls != PC_TOMB) {     /* tombstones are not modelled */
            unsigned char *m = model_byte(&pi, p);
            for (size_t j = 0; j < n; j++)
                m[j] = (unsigned char)(v + i + j);
            model_store(pg, &pi);
        }
        i += n;
    }
    return done;
}

/* Read len bytes at a and compare them with the model; returns how many
 * were read. */
static size_t guarded_read(uintptr_t a, size_t len)
{
    static volatile size_t done;
    static unsigned char buf[(ARENA_PAGES + 2) * 4096];
    done = 0;
    g_lost = 0;
    g_access = UVM_ACCESS_READ;
    if (len > sizeof buf)
        len = sizeof buf;
    if (sigsetjmp(g_jb, 1) == 0) {
        g_guard = 1;
        size_t i = 0;
        for (; i < len && ((a + i) & 7); i++) {
            buf[i] = ((volatile unsigned char *)a)[i];
            done = i + 1;
        }
        /* whole words: a word never straddles a page */
        for (; i + 8 <= len; i += 8) {
            uint64_t w = *(volatile uint64_t *)(a + i);
            memcpy(buf + i, &w, 8);
            done = i + 8;
        }
        for (; i < len; i++) {
            buf[i] = ((volatile unsigned char *)a)[i];
            done = i + 1;
        }
        g_guard = 0;
    }
    g_access = 0;
    check_fault_flags("read");
    for (size_t i = 0; i < done;) {
        struct pinfo pi;
        uintptr_t p = a + i, pg = p & ~(PS - 1);
        size_t n = pg + PS - p < done - i ? pg + PS - p : done - i;
        page_info(p, &pi);
        const unsigned char *m = model_known(&pi) ? model_byte(&pi, p)
                                                  : NULL;
        if (m != NULL && memcmp(buf + i, m, n) != 0)
            for (size_t j = 0; j < n; j++)
                if (buf[i + j] != m[j])
                    die("live byte at %#lx is %#x, the model says %#x "
                        "(object %d page %zu)", (unsigned long)(p + j),
                        buf[i + j], m[j], pi.obj, pi.opage);
        i += n;
    }
    return done;
}

/* ---- protections as the kernel reports them ---- */

static char maps_buf[1 << 20];

/* Fill prot[i] for the n pages from a: PROT_* bits, or -1 unmapped. */
static void kernel_prots(uintptr_t a, size_t n, int *prot)
{
    for (size_t i = 0; i < n; i++)
        prot[i] = -1;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("cannot open /proc/self/maps: %s", strerror(errno));
    size_t have = 0;
    ssize_t r;
    while (have < sizeof maps_buf - 1 &&
           (r = read(fd, maps_buf + have, sizeof maps_buf - 1 - have)) > 0)
        have += (size_t)r;
    close(fd);
    maps_buf[have] = 0;
    uintptr_t end = a + n * PS;
    for (char *line = maps_buf; line && *line;) {
        char *nl = strchr(line, '\n');
        unsigned long s, e;
        char perm[5];
        if (sscanf(line, "%lx-%lx %4s", &s, &e, perm) == 3 && e > a &&
            s < end) {
            int pr = (perm[0] == 'r' ? PROT_READ : 0) |
                     (perm[1] == 'w' ? PROT_WRITE : 0) |
                     (perm[2] == 'x' ? PROT_EXEC : 0);
            for (uintptr_t p = s > a ? s : a; p < e && p < end; p += PS)
                prot[(p - a) / PS] = pr;
        }
        line = nl ? nl + 1 : NULL;
    }
}

/* ---- decoding the input ---- */

struct in {
    const uint8_t *p;
    size_t n;
};

static unsigned u8(struct in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static unsigned u16(struct in *in)
{
    return u8(in) | u8(in) << 8;
}

/* An address: a page of a live space, maybe misaligned, or an address
 * nothing can map.  *page_ok: in the sandbox (lengths may follow). */
static uintptr_t gen_addr(struct in *in, int *spi, size_t *pg)
{
    unsigned b = u8(in);
    *spi = -1;
    *pg = 0;
    if (b >= 240) {
        static const uintptr_t bad[] = {
            0, 0x1000, 0xffff888000000000UL, 0x800000000000UL,
            UINTPTR_MAX & ~(uintptr_t)0xfff, 0x7000,
            0xffffffffff600000UL /* vsyscall */, 0x2000,
        };
        uintptr_t a = bad[(b - 240) % (sizeof bad / sizeof bad[0])];
        trace("  addr %#lx (bad)\n", (unsigned long)a);
        return a;
    }
    int live[MAXSP], nl = 0;
    for (int s = 0; s < MAXSP; s++)
        if (sp[s].live)
            live[nl++] = s;
    int s = live[b % nl];
    size_t p = u8(in) % sp[s].np;
    *spi = s;
    *pg = p;
    uintptr_t a = sp[s].base + p * PS;
    if ((b & 0x30) == 0x30)
        a += 1 + u16(in) % (PS - 1);
    trace("  addr %#lx (space %d page %zu)\n", (unsigned long)a, s, p);
    return a;
}

/* A length in pages from page pg of space s (up to its end, or the hole
 * for the arena), 0, or something that wraps. */
static size_t gen_npages(struct in *in, int s, size_t pg)
{
    unsigned b = u8(in);
    if (b == 255)
        return SIZE_MAX / PS + 1 - (u8(in) & 3);    /* wraps */
    if (b == 254)
        return 0;
    if (b == 253 && s == 0)
        return (size_t)1 << 40;                   /* stops at the hole */
    size_t room = s >= 0 ? sp[s].np - pg : 16;
    return 1 + b % room;
}

/* A length in bytes: whole pages, or a few bytes more or less. */
static size_t gen_bytes(struct in *in, int s, size_t pg)
{
    size_t n = gen_npages(in, s, pg);
    if (n > SIZE_MAX / PS)
        return SIZE_MAX - (u8(in) & 0xff);
    unsigned b = u8(in);
    size_t len = n * PS;
    if ((b & 7) == 1 && len > 0)
        len -= 1 + b % (PS / 2);
    trace("  len %#zx\n", len);
    return len;
}

static int gen_prot(struct in *in)
{
    unsigned b = u8(in);
    if (b >= 248) {
        static const int bad[] = { 8, 0x10, 0x01000000, -1, 0x40, 0x20 };
        return bad[(b - 248) % 6];
    }
    static const int ok[] = {
        PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE, PROT_READ | PROT_WRITE,
        PROT_WRITE, PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC,
        PROT_EXEC,
    };
    return ok[b % 8];
}

static int prot_valid(int prot)
{
    return (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) == 0;
}

/* A handle of a kind: live, stale, NULL, misaligned or of another type.
 * *live says whether the result is a live handle of that kind. */
enum { H_REG, H_TRK, H_SNAP };
static void *gen_handle(struct in *in, int kind, int *live, int *slot)
{
    unsigned b = u8(in);
    *live = 0;
    *slot = -1;
    void *cand[16];
    int nc = 0;
    int max = kind == H_REG ? MAXREG : kind == H_TRK ? MAXTRK : MAXSNAP;
    for (int i = 0; i < max; i++) {
        void *h = kind == H_REG   ? (void *)regs[i].h
                  : kind == H_TRK ? (void *)trks[i].h
                                  : (void *)snaps[i].h;
        int lv = kind == H_REG ? regs[i].live
                 : kind == H_TRK ? trks[i].live : snaps[i].live;
        if (lv && nc < 16)
            cand[nc++] = h;
    }
    void *h = NULL;
    switch (b % 8) {
    case 0: case 1: case 2: case 3:
        if (nc > 0)
            h = cand[u8(in) % nc];
        break;
    case 4:            /* stale */
        if (kind == H_REG && nseen_reg > 0) {
            int i = u8(in) % nseen_reg;
            if (seen_reg[i].epoch == internal_epoch)
                h = seen_reg[i].p;
        } else if (kind == H_TRK && nseen_trk > 0) {
            h = seen_trk[u8(in) % nseen_trk];
        } else if (kind == H_SNAP && nseen_snap > 0) {
            h = seen_snap[u8(in) % nseen_snap];
        }
        break;
    case 5:            /* NULL */
        break;
    case 6: {          /* misaligned pointer into a live handle */
        if (nc > 0)
            h = (char *)cand[u8(in) % nc] + 1 + u8(in) % 7;
        break;
    }
    case 7: {          /* another type, or plain memory */
        unsigned c = u8(in) % 5;
        if (c == 0 && kind != H_REG) {
            for (int i = 0; i < MAXREG; i++)
                if (regs[i].live)
                    h = regs[i].h;
        } else if (c == 1 && kind != H_TRK) {
            for (int i = 0; i < MAXTRK; i++)
                if (trks[i].live)
                    h = trks[i].h;
        } else if (c == 2 && kind != H_SNAP) {
            for (int i = 0; i < MAXSNAP; i++)
                if (snaps[i].live)
                    h = snaps[i].h;
        } else if (c == 3) {
            h = (void *)(arena + (Z_GUARD0 * PS));   /* PROT_NONE memory */
        } else {
            static char heap_like[256];
            h = heap_like + 16;
        }
        break;
    }
    }
    trace("  handle %p (choice %u)\n", h, b % 8);
    for (int i = 0; h != NULL && i < max; i++) {
        void *x = kind == H_REG   ? (void *)regs[i].h
                  : kind == H_TRK ? (void *)trks[i].h
                                  : (void *)snaps[i].h;
        int lv = kind == H_REG ? regs[i].live
                 : kind == H_TRK ? trks[i].live : snaps[i].live;
        if (lv && x == h) {
            *live = 1;
            *slot = i;
        }
    }
    return h;
}

static void seen_add(int kind, void *h)
{
    if (kind == H_REG) {
        for (int i = 0; i < nseen_reg; i++)
            if (seen_reg[i].p == h)
                return;
        if (nseen_reg < MAXSEEN)
            seen_reg[nseen_reg++].p = h;
        return;
    }
    void **arr = kind == H_TRK ? seen_trk : seen_snap;
    int *n = kind == H_TRK ? &nseen_trk : &nseen_snap;
    for (int i = 0; i < *n; i++)
        if (arr[i] == h)
            return;
    if (*n < MAXSEEN)
        arr[(*n)++] = h;
}

static void seen_reg_stale(void *h)
{
    for (int i = 0; i < nseen_reg; i++)
        if (seen_reg[i].p == h)
            seen_reg[i].epoch = internal_epoch;
}

/* ---- helpers of the model ---- */

static int overlaps(uintptr_t a, uintptr_t b, uintptr_t c, uintptr_t d)
{
    return a < d && c < b;
}

/* Classify the pages of [a, a + n pages): counts of each class. */
struct rangecls {
    int valid;                     /* no wrap, n > 0 */
    size_t mapped, ro, hole, tomb, foreign;
};

static struct rangecls classify(uintptr_t a, size_t n)
{
    struct rangecls rc = { 0, 0, 0, 0, 0, 0 };
    if (n == 0 || n > (UINTPTR_MAX - a) / PS || (a & (PS - 1)))
        return rc;
    rc.valid = 1;
    size_t lim = n < 4096 ? n : 4096;   /* the rest is beyond the hole */
    for (size_t i = 0; i < lim; i++) {
        struct pinfo pi;
        page_info(a + i * PS, &pi);
        switch (pi.cls) {
        case PC_MAPPED: rc.mapped++; break;
        case PC_RO: rc.ro++; break;
        case PC_HOLE: rc.hole++; break;
        case PC_TOMB: rc.tomb++; break;
        default: rc.foreign++; break;
        }
    }
    if (lim < n)
        rc.foreign++;
    return rc;
}

/* Live snapshot chain ranges (identical ranges form one chain). */
static int snap_overlap(uintptr_t a, uintptr_t b, int *identical)
{
    int any = 0;
    *identical = 1;
    for (int i = 0; i < MAXSNAP; i++) {
        const struct snap *s = &snaps[i];
        if (!s->live || !overlaps(a, b, s->start, s->start + s->np * PS))
            continue;
        any = 1;
        if (s->start != a || s->start + s->np * PS != b)
            *identical = 0;
    }
    return any;
}

static int reg_overlap(uintptr_t a, uintptr_t b)
{
    for (int i = 0; i < MAXREG; i++)
        if (regs[i].live && overlaps(a, b, regs[i].start, regs[i].end))
            return 1;
    return 0;
}

static int trk_overlap(uintptr_t a, uintptr_t b, int mp_only)
{
    for (int i = 0; i < MAXTRK; i++)
        if (trks[i].live && (!mp_only || trks[i].mp) &&
            overlaps(a, b, trks[i].start, trks[i].start + trks[i].np * PS))
            return 1;
    return 0;
}

static int backend_mprotect(void)
{
    const char *e = getenv("UVM_BACKEND");
    return e != NULL && strcmp(e, "mprotect") == 0;
}

/* Mark the mprotect trackers' pages whose protection may have changed. */
static void mark_protchg(uintptr_t a, uintptr_t b)
{
    for (int t = 0; t < MAXTRK; t++) {
        struct trk *k = &trks[t];
        if (!k->live)
            continue;
        for (size_t i = 0; i < k->np; i++) {
            uintptr_t p = k->start + i * PS;
            if (p >= a && p < b)
                k->protchg[i] = 1;
        }
    }
}

/* ---- operations ---- */

static void op_trap(struct in *in)
{
    int s;
    size_t pg;
    uintptr_t a = gen_addr(in, &s, &pg);
    size_t len = gen_bytes(in, s, pg);
    int kind = u8(in) % 6;
    int slot = -1;
    for (int i = 0; i < MAXREG && slot < 0; i++)
        if (!regs[i].live)
            slot = i;
    if (slot < 0)
        return;
    struct reg *r = &regs[slot];
    uintptr_t end = a + len;
    struct expect x = { 0, 0, E(ENOMEM), EMAN(E(EEXIST) | E(ENOMEM)) };
    if (kind == 3 || len == 0 || (a & (PS - 1)) || (len & (PS - 1)) ||
        end <= a) {
        x.must_fail = 1;
        x.fail = E(EINVAL);
    } else {
        int ident;
        if (reg_overlap(a, end) || snap_overlap(a, end, &ident) ||
            trk_overlap(a, end, 1)) {
            x.must_fail = 1;
            x.fail = E(EEXIST);
        }
    }
    r->start = a;
    r->end = end;
    r->kind = kind == 3 ? K_FIX : kind;     /* 3: NULL handler, EINVAL */
    r->last_addr = 0;
    r->streak = 0;
    r->calls = 0;
    uvm_region *h = uvm_trap((void *)a, len, kind == 3 ? NULL : handler, r);
    judge("uvm_trap", h != NULL, &x);
    if (h != NULL) {
        r->h = h;
        r->live = 1;
        seen_add(H_REG, h);
    }
}

static void op_untrap(struct in *in)
{
    int live, slot;
    uvm_region *h = gen_handle(in, H_REG, &live, &slot);
    struct expect x = { !live, E(EINVAL), E(ENOMEM),
                        EMAN(E(EDEADLK) | E(ENOMEM)) };
    int rc = uvm_untrap(h);
    judge("uvm_untrap", rc == 0, &x);
    if (rc == 0) {
        regs[slot].live = 0;
        seen_reg_stale(h);
    }
}

/* Every prot operation: run fn, judge, and check all-or-nothing. */
static void prot_common(const char *fn, uintptr_t *pages, size_t n,
                        int prot, int arg_bad, int (*call)(void *),
                        void *ctx)
{
    struct expect x = { 0, 0, 0,
                        EMAN(E(ENOMEM) | E(EACCES) | E(EPERM) | E(EMFILE) |
                             E(ENFILE) | E(ENOENT)) };
    size_t nmapped = 0, nro = 0;
    int unmapped = 0;
    if (arg_bad || !prot_valid(prot)) {
        x.must_fail = 1;
        x.fail = E(EINVAL);
    } else {
        for (size_t i = 0; i < n; i++) {
            struct pinfo pi;
            page_info(pages[i], &pi);
            if (pi.cls == PC_HOLE || pi.cls == PC_FOREIGN)
                unmapped = 1;
            else if (pi.cls == PC_RO)
                nro++;
            else
                nmapped++;
        }
        if (unmapped) {
            x.must_fail = 1;
            x.fail |= E(ENOMEM) | E(EINVAL);   /* EINVAL: wrap-around */
        }
        if (nro && (prot & (PROT_WRITE | PROT_EXEC))) {
            x.must_fail = (prot & PROT_WRITE) != 0 || x.must_fail;
            x.fail |= E(EACCES);
            x.also |= E(EACCES);
        }
    }
    /* Protections of the sandbox pages before, for all-or-nothing. */
    static int before[ARENA_PAGES * 2], after[ARENA_PAGES * 2];
    int multi = n > 1;
    if (multi && x.must_fail)
        kernel_prots(arena, ARENA_PAGES, before);
    for (size_t i = 0; i < n && !x.must_fail; i++)
        mark_protchg(pages[i], pages[i] + PS);
    struct uvm_stats s0, s1;
    uvm_stats(&s0);
    g_lost = 0;
    int rc = call(ctx);
    check_fault_flags(fn);
    judge(fn, rc == 0, &x);
    if (rc == 0) {
        /* PROTN batching: one kernel call per run of adjacent pages */
        static uintptr_t sorted[ARENA_PAGES * 2];
        size_t m = 0, runs = 0, distinct = 0;
        for (size_t i = 0; i < n; i++) {
            size_t j = m++;
            while (j > 0 && sorted[j - 1] > pages[i]) {
                sorted[j] = sorted[j - 1];
                j--;
            }
            sorted[j] = pages[i];
        }
        for (size_t i = 0; i < m; i++) {
            if (i > 0 && sorted[i] == sorted[i - 1])
                continue;
            distinct++;
            runs += i == 0 || sorted[i] != sorted[i - 1] + PS;
        }
        uvm_stats(&s1);
        unsigned long calls = (s1.prot_calls - s0.prot_calls) +
                              (s1.prot_uffd - s0.prot_uffd);
        if (calls != runs || s1.prot_pages - s0.prot_pages != distinct)
            die("%s: %lu kernel calls for %zu pages, %lu pages counted, "
                "for %zu runs of %zu distinct pages", fn, calls, n,
                s1.prot_pages - s0.prot_pages, runs, distinct);
    }
    if (rc != 0 && multi && x.must_fail) {
        kernel_prots(arena, ARENA_PAGES, after);
        for (size_t i = 0; i < ARENA_PAGES; i++)
            if (before[i] != after[i])
                die("%s failed but changed the protection of arena page "
                    "%zu from %d to %d", fn, i, before[i], after[i]);
    }
}

/* The harness does not lower the access of a live snapshot's pages (the
 * library reads and writes them itself); under UVM_BACKEND=mprotect it
 * does not touch their protection at all (the snapshot owns it). */
static int snap_prot_policy(uintptr_t a, uintptr_t b, int *prot)
{
    int ident;
    if (!snap_overlap(a, b, &ident) || !prot_valid(*prot))
        return 1;
    if (backend_mprotect())
        return 0;
    *prot |= PROT_READ | PROT_WRITE;
    return 1;
}

struct protctx { uintptr_t a; size_t n; int prot; void **v; int unprot; };

static int call_prot1(void *c)
{
    struct protctx *p = c;
    return p->unprot ? uvm_unprot((void *)p->a, p->prot)
                     : uvm_prot1((void *)p->a, p->prot);
}

static int call_protn(void *c)
{
    struct protctx *p = c;
    return uvm_protn((void *)p->a, p->n, p->prot);
}

static int call_protv(void *c)
{
    struct protctx *p = c;
    return uvm_protv(p->v, p->n, p->prot);
}

static void op_prot1(struct in *in, int unprot)
{
    int s;
    size_t pg;
    struct protctx c = { 0, 1, 0, NULL, unprot };
    c.a = gen_addr(in, &s, &pg);
    c.prot = gen_prot(in);
    if (!snap_prot_policy(c.a & ~(PS - 1), (c.a & ~(PS - 1)) + PS, &c.prot))
        return;
    uintptr_t pages[1] = { c.a };
    prot_common(unprot ? "uvm_unprot" : "uvm_prot1", pages, 1, c.prot,
                (c.a & (PS - 1)) != 0, call_prot1, &c);
}

static void op_protn(struct in *in)
{
    int s;
    size_t pg;
    struct protctx c = { 0, 0, 0, NULL, 0 };
    c.a = gen_addr(in, &s, &pg);
    c.n = gen_npages(in, s, pg);
    c.prot = gen_prot(in);
    int bad = (c.a & (PS - 1)) || c.n == 0 || c.n > (UINTPTR_MAX - c.a) / PS;
    size_t lim = bad ? 0 : c.n < ARENA_PAGES + 1 ? c.n : ARENA_PAGES + 1;
    static uintptr_t pages[ARENA_PAGES + 1];
    for (size_t i = 0; i < lim; i++)
        pages[i] = c.a + i * PS;
    if (!bad && !snap_prot_policy(c.a, c.a + lim * PS, &c.prot))
        return;
    prot_common("uvm_protn", pages, lim, c.prot, bad, call_protn, &c);
}

static void op_protv(struct in *in)
{
    size_t n = u8(in) % 12;
    static void *v[12];
    static uintptr_t pages[12];
    int bad = n == 0, nullarr = u8(in) == 7;
    int s;
    size_t pg;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (u8(in) & 3) == 0) {
            pages[i] = pages[i - 1] + PS;      /* adjacent: a run */
            struct pinfo pi;
            if (!page_info(pages[i], &pi) && pages[i - 1] > 0x10000)
                pages[i] = pages[i - 1];       /* stay in the sandbox */
        } else {
            pages[i] = gen_addr(in, &s, &pg);
        }
        v[i] = (void *)pages[i];
        if ((pages[i] & (PS - 1)) || pages[i] > UINTPTR_MAX - PS)
            bad = 1;
    }
    int prot = gen_prot(in);
    for (size_t i = 0; i < n && !bad; i++)
        if (!snap_prot_policy(pages[i], pages[i] + PS, &prot))
            return;
    struct protctx c = { 0, n, prot, nullarr ? NULL : v, 0 };
    prot_common("uvm_protv", pages, n, prot, bad || nullarr, call_protv, &c);
}

static void op_touch(struct in *in)
{
    int s;
    size_t pg;
    uintptr_t a = gen_addr(in, &s, &pg);
    size_t len = gen_bytes(in, s, pg);
    static const int acc[] = { 0, UVM_ACCESS_READ, UVM_ACCESS_WRITE,
                               UVM_ACCESS_READ | UVM_ACCESS_WRITE, 8,
                               UVM_ACCESS_EXEC };
    int access = acc[u8(in) % 6];
    if (s < 0 && ((a < 0x10000 && a + len > 0x10000) ||
                  a == 0xffffffffff600000UL))
        return;           /* low mappings of the program; vsyscall page */
    if (s > 0 && a + len > sp[s].base + sp[s].np * PS)
        len = sp[s].base + sp[s].np * PS - a;
    struct expect x = { 0, 0, E(EFAULT), EMAN(E(EFAULT)) };
    if (len == 0 || a + len < a || access == 0 ||
        (access & ~(UVM_ACCESS_READ | UVM_ACCESS_WRITE))) {
        x.must_fail = 1;
        x.fail = E(EINVAL);
    } else if (len > 64 * PS) {
        return;           /* huge: stops at the hole, nothing to learn */
    }
    if (!x.must_fail) {
        struct rangecls rc = classify(a & ~(PS - 1),
                                      ((a + len + PS - 1) & ~(PS - 1)) / PS -
                                          a / PS);
        if (rc.hole || rc.foreign || (rc.ro && (access & UVM_ACCESS_WRITE))) {
            x.must_fail = 1;
            x.fail = E(EFAULT);
        }
    }
    g_lost = 0;
    g_access = access & UVM_ACCESS_WRITE ? UVM_ACCESS_WRITE : UVM_ACCESS_READ;
    int r = uvm_touch((void *)a, len, access);
    g_access = 0;
    check_fault_flags("uvm_touch");
    judge("uvm_touch", r == 0, &x);
    if (r != 0)
        return;
    /* The buffer may now go to a system call. */
    if (access & UVM_ACCESS_WRITE) {
        off_t off = (off_t)(u8(in) * 64);
        ssize_t n = pread(pattern_fd, (void *)a, len, off);
        if (n != (ssize_t)len)
            die("read(2) into a buffer uvm_touch made writable: %zd of %zu "
                "bytes (%s)", n, len, n < 0 ? strerror(errno) : "short");
        static unsigned char pat[64 * 4096];
        if (len <= sizeof pat && pread(pattern_fd, pat, len, off) ==
                                     (ssize_t)len) {
            for (size_t i = 0; i < len;) {
                struct pinfo pi;
                uintptr_t p = a + i, pg = p & ~(PS - 1);
                size_t n = pg + PS - p < len - i ? pg + PS - p : len - i;
                page_info(p, &pi);
                if (pi.cls != PC_TOMB) {
                    memcpy(model_byte(&pi, p), pat + i, n);
                    model_store(pg, &pi);
                }
                i += n;
            }
        } else {
            die("harness: pattern read failed");
        }
    } else {
        ssize_t n = pwrite(sink_fd, (void *)a, len, 0);
        if (n != (ssize_t)len)
            die("write(2) from a buffer uvm_touch made readable: %zd of %zu "
                "bytes (%s)", n, len, n < 0 ? strerror(errno) : "short");
        guarded_read(a, len < 3 * PS ? len : 3 * PS);
    }
}

/* A plain access of up to three pages of one space. */
static void op_access(struct in *in, int write)
{
    int s;
    size_t pg;
    uintptr_t a = gen_addr(in, &s, &pg);
    if (s < 0)
        return;           /* nothing can map there: the fault would kill */
    size_t len = 1 + u16(in) % (3 * PS);
    uintptr_t end = sp[s].base + sp[s].np * PS;
    if (a + len > end)
        len = end - a;
    if (write)
        guarded_write(a, len, (unsigned char)u8(in));
    else
        guarded_read(a, len);
}

static void op_verify(void)
{
    for (int s = 0; s < MAXSP; s++)
        if (sp[s].live)
            for (size_t i = 0; i < sp[s].np; i++)
                guarded_read(sp[s].base + i * PS, PS);
}

static void op_dirty_start(struct in *in)
{
    int s;
    size_t pg;
    uintptr_t a = gen_addr(in, &s, &pg);
    size_t len = gen_bytes(in, s, pg);
    int method = (int)(u8(in) % 6) - 1;
    int slot = -1;
    for (int i = 0; i < MAXTRK && slot < 0; i++)
        if (!trks[i].live)
            slot = i;
    if (slot < 0)
        return;
    uintptr_t end = a + len;
    struct expect x = { 0, 0, E(ENOMEM) | E(ENOTSUP) | E(EEXIST),
                        EMAN(E(ENOMEM) | E(EEXIST) | E(ENOTSUP) | E(EPERM) |
                             E(EMFILE) | E(ENFILE) | E(ENOENT)) };
    if ((a & (PS - 1)) || len == 0 || (len & (PS - 1)) || end <= a ||
        method < UVM_DIRTY_AUTO || method > UVM_DIRTY_SOFTDIRTY) {
        x.must_fail = 1;
        x.fail = E(EINVAL);
    } else {
        struct rangecls rc = classify(a, len / PS);
        if (rc.hole || rc.foreign) {
            x.must_fail = 1;
            x.fail = E(ENOMEM);
        } else if (trk_overlap(a, end, 0)) {
            x.must_fail = 1;
            x.fail = E(EEXIST);
        } else if (method == UVM_DIRTY_SOFTDIRTY) {
            x.must_fail = 1;
            x.fail = E(ENOTSUP);
        }
    }
    uvm_tracker *t = uvm_dirty_start((void *)a, len, method);
    judge("uvm_dirty_start", t != NULL, &x);
    if (t == NULL)
        return;
    const char *m = uvm_dirty_method(t);
    struct trk *k = &trks[slot];
    if (m == NULL)
        die("uvm_dirty_method of a live tracker failed: %s", strerror(errno));
    if (strcmp(m, "mprotect") == 0)
        k->mp = 1;
    else if (strcmp(m, "uffd-wp-async") == 0)
        k->mp = 0;
    else
        die("uvm_dirty_method returned '%s'", m);
    int ident;
    if (k->mp && (reg_overlap(a, end) || snap_overlap(a, end, &ident)))
        die("an mprotect tracker started over a trap region");
    if (k->mp)
        internal_epoch++;
    if ((method == UVM_DIRTY_UFFD && k->mp) ||
        (method == UVM_DIRTY_MPROTECT && !k->mp))
        die("uvm_dirty_start(%d) chose method %s", method, m);
    k->h = t;
    k->live = 1;
    k->start = a;
    k->np = len / PS;
    memset(k->written, 0, sizeof k->written);
    memset(k->protchg, 0, sizeof k->protchg);
    k->remapped = 0;
    seen_add(H_TRK, t);
}

static void op_dirty(struct in *in, int runs)
{
    int live, slot;
    uvm_tracker *t = gen_handle(in, H_TRK, &live, &slot);
    unsigned b = u8(in);
    size_t max = b % 8 == 7 ? 64 : b % 8;
    int nullbuf = (b & 0xf8) == 0x80;
    static void *pages[64];
    static struct uvm_run rv[64];
    struct expect x = { 0, 0, E(ENOMEM),
                        EMAN(E(EPERM) | E(ENOMEM)) };
    if (!live || (nullbuf && max > 0)) {
        x.must_fail = 1;
        x.fail = E(EINVAL);
    } else if (trks[slot].remapped) {
        x.also |= E(EPERM);    /* uffd: the tombstone is not registered */
    }
    ssize_t n = runs ? uvm_dirty_runs(t, nullbuf ? NULL : rv, max)
                     : uvm_dirty(t, nullbuf ? NULL : pages, max);
    const char *fn = runs ? "uvm_dirty_runs" : "uvm_dirty";
    judge(fn, n >= 0, &x);
    if (n < 0)
        return;
    if ((size_t)n > max)
        die("%s returned %zd > max %zu", fn, n, max);
    struct trk *k = &trks[slot];
    static unsigned char rep[ARENA_PAGES];
    memset(rep, 0, sizeof rep);
    uintptr_t prev = 0;
    for (ssize_t i = 0; i < n; i++) {
        uintptr_t p = runs ? (uintptr_t)rv[i].start : (uintptr_t)pages[i];
        size_t cnt = runs ? rv[i].npages : 1;
        if (cnt == 0 || (p & (PS - 1)) || p < k->start ||
            p + cnt * PS > k->start + k->np * PS || (i > 0 && p < prev))
            die("%s reported page %#lx (+%zu) outside [%#lx, +%zu pages) or "
                "out of order", fn, (unsigned long)p, cnt,
                (unsigned long)k->start, k->np);
        if (runs && i > 0 && p == prev)
            die("%s reported two adjacent runs", fn);
        for (size_t j = 0; j < cnt; j++) {
            size_t idx = (p - k->start) / PS + j;
            if (rep[idx])
                die("%s reported page %zu twice", fn, idx);
            rep[idx] = 1;
        }
        prev = p + cnt * PS;
    }
    int complete = (max == 0 || (size_t)n < max) && !k->remapped;
    for (size_t i = 0; i < k->np; i++) {
        if (max > 0 && complete && k->written[i] && !rep[i] &&
            !(k->mp && k->protchg[i]))
            die("%s (%s) did not report page %zu of the range, written "
                "since the previous call", fn, k->mp ? "mprotect" : "uffd",
                i);
        if (rep[i] || complete)
            k->written[i] = 0;
        k->protchg[i] = 0;
    }
}

static void op_dirty_stop(struct in *in)
{
    int live, slot;
    uvm_tracker *t = gen_handle(in, H_TRK, &live, &slot);
    struct expect x = { !live, E(EINVAL), 0, E(EINVAL) };
    if (u8(in) & 1) {
        const char *m = uvm_dirty_method(t);
        judge("uvm_dirty_method", m != NULL, &x);
        return;
    }
    int rc = uvm_dirty_stop(t);
    judge("uvm_dirty_stop", rc == 0, &x);
    if (rc == 0)
        trks[slot].live = 0;
}

static int new_space(uintptr_t base, size_t np, int obj, size_t off)
{
    for (int s = 1; s < MAXSP; s++)
        if (!sp[s].live) {
            sp[s] = (struct space){ 1, base, np, obj, off, { 0 } };
            return s;
        }
    return -1;
}

static void op_alloc(struct in *in)
{
    unsigned b = u8(in);
    size_t len;
    if (b >= 250) {
        static const size_t odd[] = { 0, SIZE_MAX, (size_t)1 << 62,
                                      SIZE_MAX - 4095, (size_t)1 << 47,
                                      (size_t)INT64_MAX + 1 };
        len = odd[(b - 250) % 6];
    } else {
        len = (1 + b % VIEW_PAGES) * PS - (b & 0x80 ? b % PS : 0);
    }
    int prot = gen_prot(in);
    struct expect x = { 0, 0, E(ENOMEM) | E(EMFILE) | E(ENFILE) | E(EAGAIN) |
                                  E(EACCES),
                        EMAN(E(ENOMEM) | E(EMFILE) | E(ENFILE) | E(EAGAIN) |
                             E(EACCES)) };
    if (len == 0 || len > SIZE_MAX - PS + 1 || !prot_valid(prot)) {
        x.must_fail = 1;
        x.fail = E(EINVAL);
    } else if (len > (size_t)INT64_MAX) {
        x.must_fail = 1;
        x.fail = E(EINVAL) | E(ENOMEM);
    } else if (len > VIEW_PAGES * PS) {
        x.must_fail = 1;       /* 128 TiB and more: no address space */
        x.fail = E(ENOMEM) | E(EINVAL);
    }
    void *p = uvm_alloc(len, prot);
    judge("uvm_alloc", p != NULL, &x);
    if (p == NULL)
        return;
    if ((uintptr_t)p & (PS - 1))
        die("uvm_alloc returned a misaligned address %p", p);
    size_t np = (len + PS - 1) / PS;
    int o = -1;
    for (int i = 1; i < MAXOBJ && o < 0; i++)
        if (!objs[i].live)
            o = i;
    int s = o < 0 ? -1 : new_space((uintptr_t)p, np, o, 0);
    if (s < 0) {
        if (uvm_free(p, len) != 0)
            die("uvm_free of a fresh uvm_alloc failed: %s", strerror(errno));
        return;
    }
    objs[o].live = 1;
    objs[o].np = np;
    objs[o].data = calloc(np, PS);
    objs[o].unknown = calloc(np, 1);
    if (prot & PROT_READ)
        guarded_read((uintptr_t)p, np * PS);   /* zeroed */
}

/* Where [a, a+len) lies in views of one object at consecutive offsets:
 * returns the space, or -1. */
static int view_run(uintptr_t a, size_t np, int *obj, size_t *off)
{
    struct pinfo pi;
    if (!page_info(a, &pi) || pi.space == 0 || pi.cls != PC_MAPPED)
        return -1;
    *obj = pi.obj;
    *off = pi.opage;
    for (size_t i = 1; i < np; i++) {
        struct pinfo q;
        if (!page_info(a + i * PS, &q) || q.cls != PC_MAPPED ||
            q.obj != pi.obj || q.opage != pi.opage + i || q.space == 0)
            return -1;
    }
    return pi.space;
}

static void op_map2(struct in *in)
{
    int s;
    size_t pg;
    uintptr_t a = gen_addr(in, &s, &pg);
    size_t len = gen_bytes(in, s, pg);
    int prot = gen_prot(in);
    struct expect x = { 0, 0, E(ENOMEM) | E(EAGAIN) | E(EACCES),
                        EMAN(E(ENOMEM) | E(EAGAIN) | E(EACCES)) };
    size_t np = len > SIZE_MAX - PS ? 0 : (len + PS - 1) / PS;
    int obj = -1;
    size_t off = 0;
    if ((a & (PS - 1)) || np == 0 || !prot_valid(prot) ||
        a > UINTPTR_MAX - np * PS || view_run(a, np, &obj, &off) < 0) {
        x.must_fail = 1;
        x.fail = E(EINVAL);
    }
    void *p = uvm_map2((void *)a, len, prot);
    judge("uvm_map2", p != NULL, &x);
    if (p == NULL)
        return;
    int ns = new_space((uintptr_t)p, np, obj, off);
    if (ns < 0) {
        if (uvm_free(p, np * PS) != 0)
            die("uvm_free of a fresh view failed: %s", strerror(errno));
        return;
    }
    if (prot & PROT_READ)
        guarded_read((uintptr_t)p, np * PS);   /* the same pages */
}

static void tombstone(uintptr_t a, size_t np)
{
    void *t = mmap((void *)a, np * PS, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (t != (void *)a)
        die("harness: cannot keep the freed range %#lx reserved (%s)",
            (unsigned long)a, strerror(errno));
}

static void op_free(struct in *in)
{
    int s;
    size_t pg;
    uintptr_t a = gen_addr(in, &s, &pg);
    size_t len = gen_bytes(in, s, pg);
    size_t np = len > SIZE_MAX - PS ? 0 : (len + PS - 1) / PS;
    struct expect x = { 0, 0, E(ENOMEM), EMAN(E(ENOMEM) | E(EPERM)) };
    int ident;
    if ((a & (PS - 1)) || np == 0 || a > UINTPTR_MAX - np * PS) {
        x.must_fail = 1;
        x.fail = E(EINVAL);
    } else {
        for (size_t i = 0; i < np && !x.must_fail; i++) {
            struct pinfo pi;
            if (!page_info(a + i * PS, &pi) || pi.space == 0 ||
                pi.cls != PC_MAPPED || i >= VIEW_PAGES * MAXSP)
                x.must_fail = 1;
        }
        x.fail = E(EINVAL);
        if (!x.must_fail && snap_overlap(a, a + np * PS, &ident))
            return;       /* would pull the pages from under a snapshot */
    }
    int rc = uvm_free((void *)a, len);
    judge("uvm_free", rc == 0, &x);
    if (rc != 0)
        return;
    for (size_t i = 0; i < np; i++) {
        struct pinfo pi;
        page_info(a + i * PS, &pi);
        sp[pi.space].dead[(a + i * PS - sp[pi.space].base) / PS] = 1;
    }
    tombstone(a, np);
    for (int t = 0; t < MAXTRK; t++)
        if (trks[t].live &&
            overlaps(a, a + np * PS, trks[t].start,
                     trks[t].start + trks[t].np * PS))
            trks[t].remapped = 1;
    /* an object with no view left is gone */
    for (int o = 1; o < MAXOBJ; o++) {
        if (!objs[o].live)
            continue;
        int views = 0;
        for (int v = 1; v < MAXSP; v++)
            for (size_t i = 0; sp[v].live && sp[v].obj == o && i < sp[v].np;
                 i++)
                views += !sp[v].dead[i];
        if (views == 0) {
            free(objs[o].data);
            free(objs[o].unknown);
            objs[o] = (struct obj){ 0, 0, NULL, NULL };
        }
    }
}

static void op_snapshot(struct in *in)
{
    int s;
    size_t pg;
    uintptr_t a = gen_addr(in, &s, &pg);
    size_t len = gen_bytes(in, s, pg);
    int slot = -1;
    for (int i = 0; i < MAXSNAP && slot < 0; i++)
        if (!snaps[i].live)
            slot = i;
    if (slot < 0)
        return;
    uintptr_t end = a + len;
    struct expect x = { 0, 0, E(ENOMEM),
                        EMAN(E(ENOMEM) | E(EACCES) | E(EEXIST)) };
    if (a == 0 || (a & (PS - 1)) || len == 0 || (len & (PS - 1)) || end < a) {
        x.must_fail = 1;
        x.fail = E(EINVAL);
    } else if (len / PS <= ARENA_PAGES) {
        int ident;
        int joins = snap_overlap(a, end, &ident) && ident;
        /* Joining a chain checks nothing else.  (A uffd tracker can
         * overlap a chain that write-protects with mprotect, since
         * uvm_dirty_start does not refuse it: fuzz/README.md.) */
        if ((snap_overlap(a, end, &ident) && !ident) ||
            (!joins && (reg_overlap(a, end) || trk_overlap(a, end, 0)))) {
            x.must_fail = 1;
            x.fail |= E(EEXIST);
        }
        static int prot[ARENA_PAGES];
        kernel_prots(a, len / PS, prot);
        int rw = -1;                 /* a read-write protection seen */
        for (size_t i = 0; i < len / PS && !joins; i++) {
            if (prot[i] < 0) {
                x.must_fail = 1;
                x.fail |= E(ENOMEM);
            } else if ((prot[i] & (PROT_READ | PROT_WRITE)) !=
                       (PROT_READ | PROT_WRITE)) {
                x.must_fail = 1;
                x.fail |= E(EACCES);
            } else if (rw >= 0 && prot[i] != rw) {
                x.must_fail = 1;     /* read-write with and without exec */
                x.fail |= E(EINVAL);
            } else {
                rw = prot[i];
            }
        }
    } else {
        x.must_fail = 1;   /* stops at the hole */
        x.fail = E(ENOMEM) | E(EINVAL) | E(EEXIST);
    }
    uvm_snap *h = uvm_snapshot((void *)a, len);
    judge("uvm_snapshot", h != NULL, &x);
    if (h == NULL)
        return;
    struct snap *n = &snaps[slot];
    int ident;
    if (!snap_overlap(a, end, &ident))
        internal_epoch++;          /* a new chain made a region */
    n->h = h;
    n->live = 1;
    n->start = a;
    n->np = len / PS;
    n->view = NULL;
    n->shadow = malloc(len);
    memset(n->uncertain, 0, sizeof n->uncertain);
    for (size_t j = 0; j < n->np; j++) {
        struct pinfo pi;
        page_info(a + j * PS, &pi);
        if (!model_known(&pi))
            n->uncertain[j] = 1;
        else
            memcpy(n->shadow + j * PS, model_byte(&pi, a + j * PS), PS);
    }
    seen_add(H_SNAP, h);
}

/* Compare snapshot bytes [off, off+len) in buf with the shadow. */
static void snap_compare(const struct snap *n, size_t off,
                         const unsigned char *buf, size_t len,
                         const char *fn)
{
    for (size_t i = 0; i < len; i++) {
        size_t b = off + i;
        if (!n->uncertain[b / PS] && buf[i] != n->shadow[b])
            die("%s: snapshot byte %zu (page %zu) is %#x, it was %#x when "
                "the snapshot was taken", fn, b, b / PS, buf[i],
                n->shadow[b]);
    }
}

static void op_snap_read(struct in *in)
{
    int live, slot;
    uvm_snap *h = gen_handle(in, H_SNAP, &live, &slot);
    size_t size = live ? snaps[slot].np * PS : 4 * PS;
    size_t off = u16(in) % (size + 2);
    size_t len = u16(in) % (size + 2);
    if (u8(in) == 3)
        off = SIZE_MAX - PS;     /* off + len wraps */
    int nullbuf = u8(in) == 5;
    static unsigned char buf[ARENA_PAGES * 4096 + 8];
    if (len > sizeof buf)
        len = sizeof buf;
    struct expect x = { 0, 0, 0, EMAN(E(ENOMEM)) };
    if (!live || (nullbuf && len > 0) || off > size || len > size - off) {
        x.must_fail = 1;
        x.fail = E(EINVAL);
    }
    int rc = uvm_snap_read(h, off, nullbuf ? NULL : buf, len);
    judge("uvm_snap_read", rc == 0, &x);
    if (rc == 0 && !nullbuf)
        snap_compare(&snaps[slot], off, buf, len, "uvm_snap_read");
}

static void op_snap_diff(struct in *in)
{
    int live, slot;
    uvm_snap *h = gen_handle(in, H_SNAP, &live, &slot);
    unsigned b = u8(in);
    size_t max = b % 4 == 3 ? ARENA_PAGES : b % 4;
    int nullbuf = (b & 0xf0) == 0x40;
    static void *pages[ARENA_PAGES];
    struct expect x = { 0, 0, 0, EMAN(E(ENOMEM)) };
    if (!live || (nullbuf && max > 0)) {
        x.must_fail = 1;
        x.fail = E(EINVAL);
    }
    ssize_t n = uvm_snap_diff(h, nullbuf ? NULL : pages, max);
    judge("uvm_snap_diff", n >= 0, &x);
    if (n < 0)
        return;
    if ((size_t)n > max)
        die("uvm_snap_diff returned %zd > max %zu", n, max);
    const struct snap *sn = &snaps[slot];
    /* differs[j]: the model's live page j differs from the shadow */
    size_t k = 0;
    for (size_t j = 0; j < sn->np; j++) {
        uintptr_t p = sn->start + j * PS;
        struct pinfo pi;
        page_info(p, &pi);
        int unsure = sn->uncertain[j] || !model_known(&pi);
        int differs = !unsure &&
                      memcmp(model_byte(&pi, p), sn->shadow + j * PS, PS) != 0;
        int listed = k < (size_t)n && (uintptr_t)pages[k] == p;
        if (listed)
            k++;
        if (listed && !differs && !unsure)
            die("uvm_snap_diff listed page %zu, which equals the snapshot",
                j);
        if (!listed && differs && k < max)
            die("uvm_snap_diff missed page %zu, which differs from the "
                "snapshot", j);
    }
    if (k != (size_t)n)
        die("uvm_snap_diff returned pages out of order or outside the range");
}

static void op_snap_restore(struct in *in)
{
    int live, slot;
    uvm_snap *h = gen_handle(in, H_SNAP, &live, &slot);
    struct expect x = { !live, E(EINVAL), E(ENOMEM), EMAN(E(ENOMEM)) };
    g_lost = 0;
    int rc = uvm_snap_restore(h);
    check_fault_flags("uvm_snap_restore");
    judge("uvm_snap_restore", rc == 0, &x);
    if (rc != 0)
        return;
    const struct snap *sn = &snaps[slot];
    for (size_t j = 0; j < sn->np; j++) {
        uintptr_t p = sn->start + j * PS;
        struct pinfo pi;
        page_info(p, &pi);
        if (pi.cls == PC_TOMB)
            continue;
        if (sn->uncertain[j])
            objs[pi.obj].unknown[pi.opage] = 1;
        else
            memcpy(model_byte(&pi, p), sn->shadow + j * PS, PS);
        alias_mark(p, &pi);
    }
    /* the live range reads back as the snapshot */
    size_t got = guarded_read(sn->start, sn->np * PS);
    if (got != sn->np * PS)
        die("a restored snapshot range faults on read at page %zu",
            got / PS);
}

static void op_snap_save(struct in *in)
{
    int live, slot;
    uvm_snap *h = gen_handle(in, H_SNAP, &live, &slot);
    unsigned k = u8(in) % 6;
    int fd = k == 0 || k == 5 ? sink_fd : k == 1 ? -1 : k == 2 ? 1000
             : k == 3 ? ro_fd : full_fd;
    struct expect x = { 0, 0, E(ENOMEM), EMAN(E(ENOMEM) | EWRITE) };
    if (fd < 0) {
        x.must_fail = 1;
        x.fail = E(EBADF);
    } else if (!live) {
        x.must_fail = 1;
        x.fail = E(EINVAL);
    } else if (fd != sink_fd) {
        x.must_fail = 1;
        x.fail = EWRITE;
    }
    if (ftruncate(sink_fd, 0) != 0 || lseek(sink_fd, 0, SEEK_SET) != 0)
        die("harness: cannot reset the sink");
    int rc = uvm_snap_save(h, fd);
    judge("uvm_snap_save", rc == 0, &x);
    if (rc != 0)
        return;
    const struct snap *sn = &snaps[slot];
    static unsigned char buf[ARENA_PAGES * 4096];
    size_t size = sn->np * PS;
    if (lseek(sink_fd, 0, SEEK_END) != (off_t)size)
        die("uvm_snap_save wrote %ld bytes, the snapshot has %zu",
            (long)lseek(sink_fd, 0, SEEK_END), size);
    if (pread(sink_fd, buf, size, 0) != (ssize_t)size)
        die("harness: cannot read the sink back");
    snap_compare(sn, 0, buf, size, "uvm_snap_save");
}

static void op_snap_view(struct in *in)
{
    int live, slot;
    uvm_snap *h = gen_handle(in, H_SNAP, &live, &slot);
    struct expect x = { 0, 0, E(ENOMEM), EMAN(E(ENOMEM) | E(ENOTSUP)) };
    int in_view = 0;
    if (!live) {
        x.must_fail = 1;
        x.fail = E(EINVAL);
    } else {
        int obj;
        size_t off;
        in_view = view_run(snaps[slot].start, snaps[slot].np, &obj, &off) >= 0;
        struct pinfo pi;
        page_info(snaps[slot].start, &pi);
        if (pi.space == 0) {
            x.must_fail = 1;
            x.fail = E(ENOTSUP);
        } else if (!in_view) {
            x.also |= E(ENOTSUP);     /* several views: library's call */
        }
    }
    const void *v = uvm_snap_view(h);
    judge("uvm_snap_view", v != NULL, &x);
    if (v == NULL)
        return;
    struct snap *sn = &snaps[slot];
    if (sn->view != NULL && sn->view != v)
        die("uvm_snap_view returned %p, then %p", sn->view, v);
    if (sn->view == NULL)
        internal_epoch++;   /* a view filled at fault time has a region */
    sn->view = v;
    snap_compare(sn, 0, v, sn->np * PS, "uvm_snap_view");
}

static void op_snap_release(struct in *in)
{
    int live, slot;
    uvm_snap *h = gen_handle(in, H_SNAP, &live, &slot);
    struct expect x = { !live, E(EINVAL), E(ENOMEM), EMAN(E(ENOMEM)) };
    int rc = uvm_snap_release(h);
    judge("uvm_snap_release", rc == 0, &x);
    if (rc == 0 || (live && errno == ENOMEM)) {
        free(snaps[slot].shadow);
        snaps[slot].shadow = NULL;
        snaps[slot].live = 0;
    }
}

static void op_snap_stats(struct in *in)
{
    int live, slot;
    uvm_snap *h = gen_handle(in, H_SNAP, &live, &slot);
    int nullst = u8(in) == 9;
    struct uvm_snap_stats st;
    struct expect x = { !live || nullst, E(EINVAL), 0, E(EINVAL) };
    int rc = uvm_snap_stats(h, nullst ? NULL : &st);
    judge("uvm_snap_stats", rc == 0, &x);
    if (rc != 0)
        return;
    const struct snap *sn = &snaps[slot];
    size_t chain = 0;
    for (int i = 0; i < MAXSNAP; i++)
        chain += snaps[i].live && snaps[i].start == sn->start &&
                 snaps[i].np == sn->np;
    if (st.chain_length != chain)
        die("uvm_snap_stats: chain_length %zu, the harness holds %zu",
            st.chain_length, chain);
    if (st.pages_stored > sn->np * chain || st.bytes_held !=
                                                st.pages_stored * PS)
        die("uvm_snap_stats: %zu pages stored (%zu bytes) for %zu pages x "
            "%zu snapshots", st.pages_stored, st.bytes_held, sn->np, chain);
}

static size_t internal_regions(void)
{
    size_t n = 0;
    for (int i = 0; i < MAXREG; i++)
        n += regs[i].live;
    for (int i = 0; i < MAXTRK; i++)
        n += trks[i].live && trks[i].mp;
    for (int i = 0; i < MAXSNAP; i++) {
        if (!snaps[i].live)
            continue;
        int first = 1;
        for (int j = 0; j < i; j++)
            if (snaps[j].live && snaps[j].start == snaps[i].start &&
                snaps[j].np == snaps[i].np)
                first = 0;
        n += first;
    }
    return n;
}

static void op_stats(struct in *in)
{
    struct uvm_stats st;
    if (u8(in) == 1) {
        if (uvm_stats(NULL) != -1 || errno != EINVAL)
            die("uvm_stats(NULL) did not fail with EINVAL");
        return;
    }
    if (uvm_stats(&st) != 0)
        die("uvm_stats failed: %s", strerror(errno));
    /* A view may own a region (filled at fault time) or be a plain copy. */
    size_t views = 0;
    for (int i = 0; i < MAXSNAP; i++)
        views += snaps[i].live && snaps[i].view != NULL;
    if (st.regions < internal_regions() ||
        st.regions > internal_regions() + views)
        die("uvm_stats: %lu regions registered, the harness expects %zu "
            "(+ up to %zu for views)", st.regions, internal_regions(),
            views);
}

/* ---- setup and teardown ---- */

static void map_arena(void)
{
    void *want = (void *)arena;
    int fixed = MAP_FIXED;
    if (arena == 0) {
        want = (void *)ARENA_HINT;
        fixed = MAP_FIXED_NOREPLACE;
    }
    void *p = mmap(want, (ARENA_PAGES - NP_HOLE) * PS, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | fixed, -1, 0);
    if (p == MAP_FAILED)
        p = mmap(NULL, ARENA_PAGES * PS, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("harness: no arena: %s", strerror(errno));
    if (arena == 0)
        munmap((char *)p + Z_HOLE * PS, NP_HOLE * PS);   /* fallback case */
    arena = (uintptr_t)p;
    int ok = mprotect(p, PS, PROT_NONE) == 0 &&
             mprotect((char *)p + Z_GUARD1 * PS, PS, PROT_NONE) == 0 &&
             mmap((char *)p + Z_S * PS, NP_S * PS, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_FIXED, file_fd, 0) != MAP_FAILED &&
             mmap((char *)p + Z_F * PS, NP_F * PS, PROT_READ,
                  MAP_SHARED | MAP_FIXED, ro_fd, (off_t)(NP_S * PS)) !=
                 MAP_FAILED;
    if (!ok)
        die("harness: cannot lay out the arena: %s", strerror(errno));
    /* the shared window starts zeroed again */
    if (fallocate(file_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                  (off_t)(NP_S * PS)) != 0)
        die("harness: cannot clear the shared window: %s", strerror(errno));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    PS = (size_t)sysconf(_SC_PAGESIZE);
    tracing = getenv("FUZZ_UVM_TRACE") != NULL;
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", UVM_VERSION_MAJOR, UVM_VERSION_MINOR,
             UVM_VERSION_PATCH);
    if (uvm_version() == NULL || strcmp(uvm_version(), v) != 0)
        die("uvm_version() is '%s', uvm.h says %s", uvm_version(), v);
    if (uvm_pagesize() != PS)
        die("uvm_pagesize() %zu != sysconf %zu", uvm_pagesize(), PS);
    pattern_fd = memfd_create("pattern", MFD_CLOEXEC);
    sink_fd = memfd_create("sink", MFD_CLOEXEC);
    file_fd = memfd_create("shared", MFD_CLOEXEC);
    static unsigned char pat[80 * 4096];
    for (size_t i = 0; i < sizeof pat; i++)
        pat[i] = (unsigned char)(i * 7 + (i >> 8) + 1);
    if (pattern_fd < 0 || sink_fd < 0 || file_fd < 0 ||
        write(pattern_fd, pat, sizeof pat) != (ssize_t)sizeof pat ||
        ftruncate(file_fd, (off_t)((NP_S + NP_F) * PS)) != 0)
        die("harness: memfds: %s", strerror(errno));
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", file_fd);
    ro_fd = open(path, O_RDONLY | O_CLOEXEC);
    full_fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (ro_fd < 0 || full_fd < 0)
        die("harness: cannot open the read-only window or /dev/full");
    map_arena();
    /* Our action goes in before libuvm's, which chains to it. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fallback;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &prev_segv) != 0 ||
        sigaction(SIGBUS, &sa, &prev_bus) != 0)
        die("harness: sigaction: %s", strerror(errno));
    return 0;
}

static void reset_model(void)
{
    memset(regs, 0, sizeof regs);
    memset(trks, 0, sizeof trks);
    for (int i = 0; i < MAXSNAP; i++)
        snaps[i] = (struct snap){ 0 };
    memset(sp, 0, sizeof sp);
    sp[0] = (struct space){ 1, arena, ARENA_PAGES, 0, 0, { 0 } };
    objs[0].live = 1;
    objs[0].np = ARENA_PAGES;
    if (objs[0].data == NULL) {
        objs[0].data = calloc(ARENA_PAGES, PS);
        objs[0].unknown = calloc(ARENA_PAGES, 1);
    }
    memset(objs[0].data, 0, ARENA_PAGES * PS);
    memset(objs[0].unknown, 0, ARENA_PAGES);
    nseen_reg = nseen_trk = nseen_snap = 0;
    internal_epoch = 0;
}

/* Give everything back; libuvm must then hold no region. */
static void teardown(void)
{
    cur_op = "teardown";
    for (int i = 0; i < MAXSNAP; i++)
        if (snaps[i].live) {
            if (uvm_snap_release(snaps[i].h) != 0)
                die("uvm_snap_release of a live snapshot: %s",
                    strerror(errno));
            free(snaps[i].shadow);
            snaps[i].live = 0;
        }
    for (int i = 0; i < MAXTRK; i++)
        if (trks[i].live && uvm_dirty_stop(trks[i].h) != 0)
            die("uvm_dirty_stop of a live tracker: %s", strerror(errno));
    for (int i = 0; i < MAXREG; i++)
        if (regs[i].live && uvm_untrap(regs[i].h) != 0)
            die("uvm_untrap of a live region: %s", strerror(errno));
    for (int s = 1; s < MAXSP; s++) {
        struct space *x = &sp[s];
        if (!x->live)
            continue;
        for (size_t i = 0; i < x->np;) {
            size_t j = i;
            while (j < x->np && x->dead[j] == x->dead[i])
                j++;
            if (!x->dead[i] &&
                uvm_free((void *)(x->base + i * PS), (j - i) * PS) != 0)
                die("uvm_free of a live view: %s", strerror(errno));
            if (x->dead[i])
                munmap((void *)(x->base + i * PS), (j - i) * PS);
            i = j;
        }
    }
    for (int o = 1; o < MAXOBJ; o++) {
        free(objs[o].data);
        free(objs[o].unknown);
        objs[o] = (struct obj){ 0, 0, NULL, NULL };
    }
    struct uvm_stats st;
    if (uvm_stats(&st) != 0 || st.regions != 0)
        die("libuvm still holds %lu regions after every handle was given "
            "back", st.regions);
    map_arena();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *names[] = {
        "uvm_trap", "uvm_untrap", "uvm_prot1", "uvm_unprot", "uvm_protn",
        "uvm_protv", "uvm_touch", "write", "read", "uvm_dirty_start",
        "uvm_dirty", "uvm_dirty_runs", "uvm_dirty_stop", "uvm_alloc",
        "uvm_map2", "uvm_free", "uvm_snapshot", "uvm_snap_read",
        "uvm_snap_diff", "uvm_snap_restore", "uvm_snap_save",
        "uvm_snap_view", "uvm_snap_release", "uvm_snap_stats", "uvm_stats",
        "verify", "write", "write",
    };
    struct in in = { data, size };
    reset_model();
    for (int k = 0; k < MAX_OPS && in.n > 0; k++) {
        unsigned op = u8(&in) % (sizeof names / sizeof names[0]);
        cur_op = names[op];
        trace("%s\n", cur_op);
        switch (op) {
        case 0: op_trap(&in); break;
        case 1: op_untrap(&in); break;
        case 2: op_prot1(&in, 0); break;
        case 3: op_prot1(&in, 1); break;
        case 4: op_protn(&in); break;
        case 5: op_protv(&in); break;
        case 6: op_touch(&in); break;
        case 7: case 26: case 27: op_access(&in, 1); break;
        case 8: op_access(&in, 0); break;
        case 9: op_dirty_start(&in); break;
        case 10: op_dirty(&in, 0); break;
        case 11: op_dirty(&in, 1); break;
        case 12: op_dirty_stop(&in); break;
        case 13: op_alloc(&in); break;
        case 14: op_map2(&in); break;
        case 15: op_free(&in); break;
        case 16: op_snapshot(&in); break;
        case 17: op_snap_read(&in); break;
        case 18: op_snap_diff(&in); break;
        case 19: op_snap_restore(&in); break;
        case 20: op_snap_save(&in); break;
        case 21: op_snap_view(&in); break;
        case 22: op_snap_release(&in); break;
        case 23: op_snap_stats(&in); break;
        case 24: op_stats(&in); break;
        case 25: op_verify(); break;
        }
    }
    cur_op = "verify";
    op_verify();
    teardown();
    return 0;
}
