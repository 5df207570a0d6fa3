/*
 * test-prot-uffd.c: write-only protection changes through userfaultfd
 * (prot-uffd.c): same results as mprotect, constant mapping count.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Exits 77 (skip) when the running kernel or the process cannot use
 * userfaultfd write-protection (seccomp, old kernel).
 */
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <time.h>
#include <sys/time.h>
#include <sys/syscall.h>

#define RW (PROT_READ | PROT_WRITE)

static volatile int calls, last_signo, last_access;
static void *volatile last_addr;

static int h_unprot(const struct uvm_fault *f)
{
    calls++;
    last_signo = f->signo;
    last_access = f->access;
    last_addr = f->addr;
    uvm_unprot(f->page, RW);
    return UVM_RETRY;
}

/* n pages of libuvm object memory (uvm_alloc, a sealed memfd): the kind
 * the userfaultfd backend serves.  Private anonymous memory and other
 * shared mappings go to mprotect (uvm_prot1(3)). */
static char *shm_map(size_t n)
{
    return uvm_alloc(n * PS, RW);
}

static char *shm_pages(size_t n)
{
    char *p = shm_map(n);
    ck_assert_ptr_nonnull(p);
    return p;
}

static unsigned long uffd_changes(void)
{
    struct uvm_stats st;
    uvm_stats(&st);
    return st.prot_uffd;
}

START_TEST(write_only_changes_use_uffd_and_keep_the_map_count)
{
    enum { N = 64 };
    char *m = shm_pages(N);
    ck_assert_ptr_nonnull(uvm_trap(m, N * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);     /* registers */
    poke(m, 1);
    size_t maps = maps_count_in(m, N * PS);   /* not the allocator's */
    unsigned long before = uffd_changes();
    for (int i = 0; i < 400; i++) {
        char *p = m + (size_t)((i * 7) % N) * PS;
        ck_assert_int_eq(uvm_prot1(p, PROT_READ), 0);
        (void)peek(p + 5);                           /* reads do not trap */
        int c = calls;
        poke(p + 9, (char)i);
        ck_assert_int_eq(calls, c + 1);
        ck_assert_int_eq(last_signo, SIGSEGV);
        ck_assert_int_eq(last_access, UVM_ACCESS_WRITE);
        ck_assert_ptr_eq(last_addr, p + 9);
        ck_assert_int_eq(peek(p + 9), (char)i);
    }
    ck_assert_uint_eq(uffd_changes() - before, 800);  /* 400 PROT1 + UNPROT */
    ck_assert_uint_eq(maps_count_in(m, N * PS), maps);
    /* The mapping stayed read-write all along. */
    ck_assert_int_eq(maps_prot(m + 3 * PS, NULL, NULL), MAPPED_WITH(RW));
}
END_TEST

START_TEST(protn_write_protects_a_run_with_one_call)
{
    enum { N = 32 };
    char *m = shm_pages(N);
    ck_assert_ptr_nonnull(uvm_trap(m, N * PS, h_unprot, NULL));
    unsigned long before = uffd_changes();
    ck_assert_int_eq(uvm_protn(m, N, PROT_READ), 0);
    ck_assert_uint_eq(uffd_changes() - before, 1);
    for (int i = 0; i < N; i++)
        poke(m + (size_t)i * PS, 1);
    ck_assert_int_eq(calls, N);
    for (int i = 0; i < N; i++)
        poke(m + (size_t)i * PS, 2);                 /* all writable now */
    ck_assert_int_eq(calls, N);
}
END_TEST

START_TEST(mprotect_and_uffd_changes_mix)
{
    char *m = shm_pages(4);
    ck_assert_ptr_nonnull(uvm_trap(m, 4 * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_prot1(m + PS, PROT_READ), 0);     /* uffd */
    ck_assert_int_eq(uvm_prot1(m + PS, PROT_NONE), 0);     /* mprotect */
    ck_assert_int_eq(maps_prot(m + PS, NULL, NULL), MAPPED_WITH(PROT_NONE));
    (void)peek(m + PS);                                  /* read traps */
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_access, UVM_ACCESS_READ);
    /* The handler's UNPROT restored read-write with mprotect: no
     * write-protection left behind. */
    poke(m + PS, 3);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(uvm_prot1(m + PS, PROT_READ), 0);
    poke(m + PS, 4);
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(last_signo, SIGSEGV);
}
END_TEST

START_TEST(read_syscall_into_a_write_protected_page_is_efault)
{
    char *m = shm_pages(2);
    ck_assert_ptr_nonnull(uvm_trap(m, 2 * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    ck_assert_int_eq(write(pfd[1], "abcd", 4), 4);
    errno = 0;
    ck_assert_int_eq(read(pfd[0], m, 4), -1);
    ck_assert_int_eq(errno, EFAULT);
    ck_assert_int_eq(uvm_touch(m, 4, UVM_ACCESS_WRITE), 0);
    ck_assert_int_eq(read(pfd[0], m, 4), 4);
    ck_assert_int_eq(memcmp(m, "abcd", 4), 0);
}
END_TEST

START_TEST(untrap_leaves_write_protected_pages_read_only)
{
    char *m = shm_pages(4);
    uvm_region *r = uvm_trap(m, 4 * PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(uvm_prot1(m + 2 * PS, PROT_READ), 0);
    ck_assert_int_eq(maps_prot(m + 2 * PS, NULL, NULL), MAPPED_WITH(RW));
    ck_assert_int_eq(uvm_untrap(r), 0);
    ck_assert_int_eq(maps_prot(m + 2 * PS, NULL, NULL),
                     MAPPED_WITH(PROT_READ));
    ck_assert_int_eq(maps_prot(m, NULL, NULL), MAPPED_WITH(RW));
    poke(m, 1);                                  /* still writable */
}
END_TEST

START_TEST(a_fork_child_keeps_the_protection)
{
    char *m = shm_pages(2);
    ck_assert_ptr_nonnull(uvm_trap(m, 2 * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int ok = maps_prot(m, NULL, NULL) == MAPPED_WITH(PROT_READ);
        poke(m, 7);                    /* traps, through mprotect now */
        ok = ok && calls == 1 && peek(m) == 7;
        ok = ok && uvm_prot1(m, PROT_READ) == 0;
        poke(m, 8);
        _exit(ok && calls == 2 ? 0 : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    /* The parent still uses userfaultfd. */
    poke(m, 9);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_signo, SIGSEGV);
}
END_TEST

START_TEST(backend_mprotect_in_the_environment_forces_mprotect)
{
    setenv("UVM_BACKEND", "mprotect", 1);
    char *m = map_pages(8, RW);
    ck_assert_ptr_nonnull(uvm_trap(m, 8 * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_protn(m, 8, RW), 0);   /* libuvm's first-use maps */
    size_t maps = maps_count();
    ck_assert_int_eq(uvm_prot1(m + 3 * PS, PROT_READ), 0);
    ck_assert_uint_eq(uffd_changes(), 0);
    ck_assert_uint_eq(maps_count(), maps + 2);         /* split by mprotect */
    poke(m + 3 * PS, 1);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_signo, SIGSEGV);
}
END_TEST

START_TEST(regions_that_are_not_all_read_write_use_mprotect)
{
    char *m = map_pages(4, RW);
    ck_assert_int_eq(mprotect(m + PS, PS, PROT_NONE), 0);
    ck_assert_ptr_nonnull(uvm_trap(m, 4 * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_prot1(m + 2 * PS, PROT_READ), 0);
    ck_assert_uint_eq(uffd_changes(), 0);
    ck_assert_int_eq(maps_prot(m + 2 * PS, NULL, NULL),
                     MAPPED_WITH(PROT_READ));
}
END_TEST

/* The libsigsegv fault layer delivers no SIGBUS, so the userfaultfd
 * backend, whose write faults are SIGBUS, is never used: write-only
 * changes go to mprotect and still trap (uvm_trap(3), FAULT LAYERS). */
START_TEST(libsigsegv_layer_makes_write_only_changes_with_mprotect)
{
    char *m = map_pages(8, RW);
    ck_assert_ptr_nonnull(uvm_trap(m, 8 * PS, h_unprot, NULL));
    ck_assert_int_eq(uvm_protn(m, 8, RW), 0);
    size_t maps = maps_count();
    ck_assert_int_eq(uvm_prot1(m + 3 * PS, PROT_READ), 0);
    ck_assert_uint_eq(uffd_changes(), 0);
    ck_assert_uint_eq(maps_count(), maps + 2);         /* split by mprotect */
    ck_assert_int_eq(maps_prot(m + 3 * PS, NULL, NULL),
                     MAPPED_WITH(PROT_READ));
    poke(m + 3 * PS + 9, 1);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_signo, SIGSEGV);
    ck_assert_int_eq(last_access, UVM_ACCESS_UNKNOWN);
    ck_assert_ptr_eq(last_addr, m + 3 * PS + 9);
    ck_assert_int_eq(peek(m + 3 * PS + 9), 1);
}
END_TEST

/* ---- issue 13: the kernel is the truth ---- */

/* A handler that unprotects, but gives up (and says so) after 100 calls
 * on the same fault instead of spinning for ever: a page that UNPROT
 * claimed to open and did not. */
static volatile int stuck;

static int h_unprot_bounded(const struct uvm_fault *f)
{
    if (++calls > 100) {
        stuck = 1;
        mprotect(f->page, PS, RW);       /* let the test go on, failed */
        return UVM_RETRY;
    }
    uvm_unprot(f->page, RW);
    return UVM_RETRY;
}

/* Is the page writable without a fault? */
static int writes_freely(char *p)
{
    int c = calls;
    poke(p, 5);
    return calls == c;
}

/* Does a write to the page trap, once, and then go through? */
static int write_traps_once(char *p)
{
    int c = calls;
    stuck = 0;
    poke(p, 6);
    return calls == c + 1 && !stuck && peek(p) == 6;
}

struct first { char *page; pthread_barrier_t *bar; int rc; };

static void *first_change(void *arg)
{
    struct first *a = arg;
    pthread_barrier_wait(a->bar);
    a->rc = uvm_prot1(a->page, PROT_READ);
    return NULL;
}

/* Item 4: while one thread registers a fresh region, another's change
 * went to mprotect unrecorded, and a later UNPROT cleared only the
 * (absent) write-protect bit. */
static void *prot1_thread(void *arg)
{
    struct first *a = arg;
    a->rc = uvm_prot1(a->page, PROT_READ);
    return NULL;
}

START_TEST(concurrent_first_changes_leave_unprot_effective)
{
    alarm(60);
    for (int round = 0; round < 40; round++) {
        char *m = shm_pages(8);
        uvm_region *r = uvm_trap(m, 8 * PS, h_unprot_bounded, NULL);
        ck_assert_ptr_nonnull(r);
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, 2);
        struct first a = { m + PS, &bar, -1 }, b = { m + 5 * PS, &bar, -1 };
        pthread_t ta, tb;
        ck_assert_int_eq(pthread_create(&ta, NULL, first_change, &a), 0);
        ck_assert_int_eq(pthread_create(&tb, NULL, first_change, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        pthread_barrier_destroy(&bar);
        ck_assert_int_eq(a.rc, 0);
        ck_assert_int_eq(b.rc, 0);
        ck_assert(write_traps_once(m + PS));
        ck_assert(write_traps_once(m + 5 * PS));
        ck_assert_int_eq(uvm_unprot(m + PS, RW), 0);
        ck_assert_int_eq(uvm_unprot(m + 5 * PS, RW), 0);
        ck_assert(writes_freely(m + PS));
        ck_assert(writes_freely(m + 5 * PS));
        ck_assert_int_eq(uvm_untrap(r), 0);
        uvm_free(m, 8 * PS);
    }
}
END_TEST

/* Item 5: the program changes a page with mprotect(2) itself; libuvm's
 * next change of it must be made, not reported made. */
START_TEST(unprot_after_the_program_s_own_mprotect_opens_the_page)
{
    alarm(20);
    char *m = shm_pages(4);
    ck_assert_ptr_nonnull(uvm_trap(m, 4 * PS, h_unprot_bounded, NULL));
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);        /* registers */
    ck_assert_int_eq(mprotect(m + PS, PS, PROT_NONE), 0);
    ck_assert_int_eq(uvm_unprot(m + PS, RW), 0);
    ck_assert_int_eq(maps_prot(m + PS, NULL, NULL), MAPPED_WITH(RW));
    ck_assert(writes_freely(m + PS));
    /* The same through a fault: the handler's UNPROT must open it. */
    ck_assert_int_eq(mprotect(m + 2 * PS, PS, PROT_NONE), 0);
    ck_assert(write_traps_once(m + 2 * PS));
    ck_assert_int_eq(maps_prot(m + 2 * PS, NULL, NULL), MAPPED_WITH(RW));
    /* And PROT1 to read-only of a page the program made PROT_NONE. */
    ck_assert_int_eq(mprotect(m + 3 * PS, PS, PROT_NONE), 0);
    ck_assert_int_eq(uvm_prot1(m + 3 * PS, PROT_READ), 0);
    ck_assert_int_eq(maps_prot(m + 3 * PS, NULL, NULL),
                     MAPPED_WITH(PROT_READ));
    (void)peek(m + 3 * PS);                        /* readable: no trap */
    ck_assert(write_traps_once(m + 3 * PS));
}
END_TEST

static void madvise_keeps_protection(char *m, int advice)
{
    ck_assert_ptr_nonnull(uvm_trap(m, 4 * PS, h_unprot_bounded, NULL));
    poke(m + PS, 1);
    ck_assert_int_eq(uvm_prot1(m + PS, PROT_READ), 0);
    ck_assert_int_eq(madvise(m + PS, PS, advice), 0);
    /* A lazily freed page is dropped at reclaim: force that now. */
    if (advice == MADV_FREE)
        madvise(m + PS, PS, MADV_PAGEOUT);
    ck_assert(write_traps_once(m + PS));
}

/* Item 6: MADV_DONTNEED empties a private anonymous page together with
 * its userfaultfd write-protect bit; the protection must survive. */
START_TEST(madv_dontneed_keeps_the_protection_of_anonymous_memory)
{
    alarm(20);
    madvise_keeps_protection(map_pages(4, RW), MADV_DONTNEED);
}
END_TEST

START_TEST(madv_free_keeps_the_protection_of_anonymous_memory)
{
    alarm(20);
    madvise_keeps_protection(map_pages(4, RW), MADV_FREE);
}
END_TEST

START_TEST(madv_dontneed_keeps_the_protection_of_shared_memory)
{
    alarm(20);
    char *m = shm_pages(4);
    unsigned long before = uffd_changes();
    madvise_keeps_protection(m, MADV_DONTNEED);
    if (getenv("UVM_BACKEND") == NULL)
        ck_assert_uint_gt(uffd_changes(), before);   /* and uffd served it */
}
END_TEST

/* Item 7: part of a registered region is replaced by a new mapping
 * (mmap MAP_FIXED, which a handler may do).  PROT1 and PROTN still work,
 * whole, and a hole is ENOMEM with nothing changed. */
START_TEST(a_remapped_part_of_a_region_still_changes)
{
    alarm(20);
    char *m = shm_pages(4);
    ck_assert_ptr_nonnull(uvm_trap(m, 4 * PS, h_unprot_bounded, NULL));
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);          /* registers */
    ck_assert_int_eq(uvm_unprot(m, RW), 0);
    int fd = memfd_create("remap", MFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)PS), 0);
    ck_assert_ptr_eq(mmap(m + 2 * PS, PS, RW, MAP_SHARED | MAP_FIXED, fd, 0),
                     m + 2 * PS);
    close(fd);
    ck_assert_int_eq(uvm_prot1(m + 2 * PS, PROT_READ), 0);
    ck_assert(write_traps_once(m + 2 * PS));
    ck_assert_int_eq(uvm_protn(m, 4, PROT_READ), 0);
    for (int i = 0; i < 4; i++)
        ck_assert(write_traps_once(m + (size_t)i * PS));
    for (int i = 0; i < 4; i++)
        ck_assert(writes_freely(m + (size_t)i * PS));
}
END_TEST

START_TEST(protn_over_a_hole_in_a_region_is_enomem_and_changes_nothing)
{
    alarm(20);
    char *m = shm_pages(4);
    ck_assert_ptr_nonnull(uvm_trap(m, 4 * PS, h_unprot_bounded, NULL));
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);          /* registers */
    ck_assert_int_eq(uvm_unprot(m, RW), 0);
    ck_assert_int_eq(munmap(m + 2 * PS, PS), 0);
    errno = 0;
    ck_assert_int_eq(uvm_protn(m, 4, PROT_READ), -1);
    ck_assert_int_eq(errno, ENOMEM);
    ck_assert(writes_freely(m));
    ck_assert(writes_freely(m + PS));
    ck_assert(writes_freely(m + 3 * PS));
}
END_TEST

struct unprot_arg { char *page; pthread_barrier_t *bar; long delay_ns;
                    int rc; };

static void spin_ns(long ns)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) <
           ns);
}

static void *unprot_thread(void *arg)
{
    struct unprot_arg *a = arg;
    pthread_barrier_wait(a->bar);
    spin_ns(a->delay_ns);
    a->rc = uvm_unprot(a->page, RW);
    return NULL;
}

/* Item 8: uvm_untrap turns write-protected pages into read-only mappings;
 * an UNPROT of another thread at that moment must not be undone. */
START_TEST(untrap_racing_unprot_keeps_the_page_writable)
{
    alarm(60);
    for (int round = 0; round < 200; round++) {
        char *m = shm_pages(2);
        uvm_region *r = uvm_trap(m, 2 * PS, h_unprot_bounded, NULL);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, 2);
        /* Land the UNPROT at a different moment of uvm_untrap each
         * round: 0 to 100 us after both start. */
        struct unprot_arg a = { m, &bar, (round % 50) * 2000L, -1 };
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, unprot_thread, &a), 0);
        pthread_barrier_wait(&bar);
        ck_assert_int_eq(uvm_untrap(r), 0);
        pthread_join(t, NULL);
        pthread_barrier_destroy(&bar);
        ck_assert_int_eq(a.rc, 0);
        ck_assert_int_eq(maps_prot(m, NULL, NULL), MAPPED_WITH(RW));
        poke(m, 1);                  /* no region: a read-only page kills */
        uvm_free(m, 2 * PS);
    }
}
END_TEST

/* Item 9: a declined write fault goes to the program's SIGSEGV action
 * with SEGV_ACCERR, as it would with mprotect, never to SIGBUS. */
static sigjmp_buf chain_jmp;
static volatile int chain_sig, chain_code;
static void *volatile chain_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    chain_sig = sig;
    chain_code = si->si_code;
    chain_addr = si->si_addr;
    siglongjmp(chain_jmp, 1);
}

static int h_decline(const struct uvm_fault *f)
{
    (void)f;
    calls++;
    return UVM_DECLINE;
}

static void chain_child(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    char *m = shm_pages(2);
    if (uvm_trap(m, 2 * PS, h_decline, NULL) == NULL ||
        uvm_prot1(m + PS, PROT_READ) != 0)
        _exit(2);
    if (sigsetjmp(chain_jmp, 1) == 0) {
        poke(m + PS + 3, 1);
        _exit(3);
    }
    _exit(chain_sig == SIGSEGV && chain_code == SEGV_ACCERR &&
                  chain_addr == m + PS + 3 && calls == 1
              ? 0 : 4);
}

START_TEST(declined_write_fault_chains_as_sigsegv)
{
    alarm(20);
    char buf[256];
    int st = run_child(chain_child, buf, sizeof buf);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}
END_TEST

static void default_child(void)
{
    char *m = shm_pages(2);
    if (uvm_trap(m, 2 * PS, h_decline, NULL) == NULL ||
        uvm_prot1(m, PROT_READ) != 0)
        _exit(2);
    poke(m, 1);
    _exit(3);
}

START_TEST(declined_write_fault_with_no_action_dies_by_sigsegv)
{
    alarm(20);
    char buf[4096];
    int st = run_child(default_child, buf, sizeof buf);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "status %#x",
                  st);
}
END_TEST

/* Defect 6: a genuine SIGBUS in a trap region stays a SIGBUS.  n pages
 * of a shm_open file (tmpfs, MAP_SHARED): a file the program can
 * truncate, and a write past its end is a SIGBUS with BUS_ADRERR, just
 * like a userfaultfd write-protect fault. */
static char *tmpfs_pages(size_t n, int *fdp)
{
    char name[64];
    snprintf(name, sizeof name, "/test-prot-uffd-%d", (int)getpid());
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    shm_unlink(name);
    ck_assert_int_eq(ftruncate(fd, (off_t)(n * PS)), 0);
    char *m = mmap(NULL, n * PS, RW, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(m, MAP_FAILED);
    memset(m, 'A', n * PS);
    *fdp = fd;
    return m;
}

static sigjmp_buf sigbus_jmp;

static int h_unprot_or_jump(const struct uvm_fault *f)
{
    calls++;
    last_signo = f->signo;
    last_addr = f->addr;
    if (f->signo == SIGBUS)
        siglongjmp(sigbus_jmp, 1);
    uvm_unprot(f->page, RW);
    return UVM_RETRY;
}

/* Write c at p; the signal number the region's handler saw, 0 if none. */
static int write_sees(char *p, char c)
{
    last_signo = 0;
    if (sigsetjmp(sigbus_jmp, 1) == 0)
        poke(p, c);
    return last_signo;
}

START_TEST(a_write_past_the_end_of_a_truncated_file_is_sigbus)
{
    alarm(20);
    int fd;
    char *m = tmpfs_pages(2, &fd);
    ck_assert_ptr_nonnull(uvm_trap(m, 2 * PS, h_unprot_or_jump, NULL));
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)PS), 0);
    ck_assert_int_eq(write_sees(m + PS, 'B'), SIGBUS);
    ck_assert_ptr_eq(last_addr, m + PS);
    /* The write barrier on page 0 is still a SIGSEGV. */
    ck_assert_int_eq(write_sees(m + 1, 'C'), SIGSEGV);
    ck_assert_int_eq(peek(m + 1), 'C');
    close(fd);
}
END_TEST

/* The same with a file mapped over part of a region that userfaultfd
 * serves (uvm_alloc memory, registered at its first change). */
START_TEST(a_file_mapped_into_a_registered_region_keeps_its_sigbus)
{
    alarm(20);
    char *m = shm_pages(4);
    ck_assert_ptr_nonnull(uvm_trap(m, 4 * PS, h_unprot_or_jump, NULL));
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);          /* registers */
    int fd;
    char *f = tmpfs_pages(1, &fd);
    ck_assert_ptr_eq(mremap(f, PS, PS, MREMAP_MAYMOVE | MREMAP_FIXED,
                            m + 2 * PS), m + 2 * PS);
    ck_assert_int_eq(ftruncate(fd, 0), 0);
    ck_assert_int_eq(write_sees(m + 2 * PS, 'B'), SIGBUS);
    ck_assert_int_eq(write_sees(m + 3, 'C'), SIGSEGV);
    close(fd);
}
END_TEST

static void sigbus_default_child(void)
{
    int fd;
    char *m = tmpfs_pages(2, &fd);
    if (uvm_trap(m, 2 * PS, h_decline, NULL) == NULL ||
        uvm_prot1(m, PROT_READ) != 0 || ftruncate(fd, (off_t)PS) != 0)
        _exit(2);
    poke(m + PS, 1);
    _exit(3);
}

START_TEST(a_declined_sigbus_kills_by_sigbus)
{
    alarm(20);
    char buf[4096];
    int st = run_child(sigbus_default_child, buf, sizeof buf);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS, "status %#x",
                  st);
}
END_TEST

/* A write-protect fault stays a SIGSEGV while another thread protects and
 * unprotects the page all the time (so the page is often writable again
 * by the time the fault is looked at). */
static atomic_int toggling;

static void *toggle_thread(void *arg)
{
    char *p = arg;
    while (atomic_load(&toggling)) {
        uvm_prot1(p, PROT_READ);
        uvm_unprot(p, RW);
    }
    return NULL;
}

static volatile int wrong_signo;

static int h_count_signo(const struct uvm_fault *f)
{
    calls++;
    if (f->signo != SIGSEGV)
        wrong_signo = f->signo;
    uvm_unprot(f->page, RW);
    return UVM_RETRY;
}

START_TEST(a_write_protect_fault_racing_unprot_stays_sigsegv)
{
    alarm(20);
    char *m = shm_pages(1);
    ck_assert_ptr_nonnull(uvm_trap(m, PS, h_count_signo, NULL));
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);
    ck_assert_int_eq(uvm_unprot(m, RW), 0);
    atomic_store(&toggling, 1);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, toggle_thread, m), 0);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int c0 = calls;
    do {
        for (int i = 0; i < 1000; i++)
            poke(m + (i % 64), (char)i);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - t0.tv_sec) * 1000000000L +
                 (now.tv_nsec - t0.tv_nsec) < 300000000L);
    atomic_store(&toggling, 0);
    pthread_join(t, NULL);
    ck_assert_int_eq(wrong_signo, 0);
    ck_assert_int_gt(calls, c0);          /* some writes did fault */
}
END_TEST

/* A signal handler that siglongjmps out of uvm_prot1/uvm_unprot abandons
 * the change midway.  Whatever the change held (the protection gate, the
 * region table hazard) must not make a later uvm_untrap wait for ever,
 * and later changes must still work. */
static sigjmp_buf out_jmp;
static volatile sig_atomic_t jumps;

static void jump_out(int sig)
{
    (void)sig;
    jumps++;
    siglongjmp(out_jmp, 1);
}

START_TEST(siglongjmp_out_of_a_change_leaves_untrap_working)
{
    alarm(30);
    char *m = shm_pages(2);
    uvm_region *r = uvm_trap(m, 2 * PS, h_unprot_bounded, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);          /* registers */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = jump_out;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGPROF, &sa, NULL), 0);
    /* SIGPROF counts the CPU time of the loop, most of it in the kernel,
     * inside the changes. */
    struct itimerval it = { { 0, 0 }, { 0, 200 } };
    while (jumps < 200) {
        if (sigsetjmp(out_jmp, 1) == 0) {
            ck_assert_int_eq(setitimer(ITIMER_PROF, &it, NULL), 0);
            for (;;) {
                uvm_prot1(m, PROT_READ);
                uvm_unprot(m, RW);
            }
        }
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_PROF, &off, NULL);
    /* Changes still work, on this thread and on another. */
    ck_assert_int_eq(uvm_prot1(m + PS, PROT_READ), 0);
    ck_assert(write_traps_once(m + PS));
    struct first f = { m + PS, NULL, -1 };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, prot1_thread, &f), 0);
    pthread_join(t, NULL);
    ck_assert_int_eq(f.rc, 0);
    ck_assert(write_traps_once(m + PS));
    alarm(10);                       /* a hang here is the defect */
    ck_assert_int_eq(uvm_untrap(r), 0);
    alarm(0);
}
END_TEST

/* Item 1: a child made without atfork handlers (a raw fork system call)
 * holds the parent's userfaultfd; it must not act on the parent. */
START_TEST(a_raw_fork_child_cannot_change_the_parent)
{
    alarm(20);
    char *m = shm_pages(2);
    uvm_region *r = uvm_trap(m, 2 * PS, h_unprot_bounded, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);
    ck_assert_int_eq(uvm_prot1(m + PS, PROT_READ), 0);
    pid_t pid = (pid_t)syscall(SYS_fork);
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* mprotect changes the child's own mapping; the userfaultfd is
         * the parent's and must be refused. */
        errno = 0;
        int rc = uvm_unprot(m, RW);
        int ok = getenv("UVM_BACKEND") != NULL ? rc == 0
                                               : rc == -1 && errno == ECHILD;
        ok = ok && uvm_untrap(r) == 0;
        _exit(ok ? 0 : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The parent's protection and registration are intact. */
    ck_assert(write_traps_once(m));
    ck_assert(write_traps_once(m + PS));
    ck_assert_int_eq(uvm_prot1(m, PROT_READ), 0);
    ck_assert(write_traps_once(m));
}
END_TEST

/* The audit is not blind: in a raw fork child the copy lost the kernel's
 * write-protect bits while libuvm's records still say protected. */
START_TEST(audit_sees_protection_the_kernel_dropped)
{
    alarm(20);
    char *m = shm_pages(2);
    ck_assert_ptr_nonnull(uvm_trap(m, 2 * PS, h_unprot_bounded, NULL));
    ck_assert_int_eq(uvm_prot1(m + PS, PROT_READ), 0);
    ck_assert_int_eq(uvm_debug_audit(), 0);
    pid_t pid = (pid_t)syscall(SYS_fork);
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);                  /* the audit's report */
        errno = 0;
        _exit(uvm_debug_audit() == -1 && errno == EIO ? 0 : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

static void use_mprotect(void)
{
    setenv("UVM_BACKEND", "mprotect", 1);
}

/* The issue-13 scenarios, which must hold with either backend. */
static void add_seam_tests(TCase *tc)
{
    tcase_add_test(tc, concurrent_first_changes_leave_unprot_effective);
    tcase_add_test(tc, unprot_after_the_program_s_own_mprotect_opens_the_page);
    tcase_add_test(tc, madv_dontneed_keeps_the_protection_of_anonymous_memory);
    tcase_add_test(tc, madv_free_keeps_the_protection_of_anonymous_memory);
    tcase_add_test(tc, madv_dontneed_keeps_the_protection_of_shared_memory);
    tcase_add_test(tc, a_remapped_part_of_a_region_still_changes);
    tcase_add_test(tc,
                   protn_over_a_hole_in_a_region_is_enomem_and_changes_nothing);
    tcase_add_test(tc, untrap_racing_unprot_keeps_the_page_writable);
    tcase_add_test(tc, declined_write_fault_chains_as_sigsegv);
    tcase_add_test(tc, declined_write_fault_with_no_action_dies_by_sigsegv);
    tcase_add_test(tc, a_raw_fork_child_cannot_change_the_parent);
    tcase_add_test(tc, a_write_past_the_end_of_a_truncated_file_is_sigbus);
    tcase_add_test(tc, a_file_mapped_into_a_registered_region_keeps_its_sigbus);
    tcase_add_test(tc, a_declined_sigbus_kills_by_sigbus);
    tcase_add_test(tc, a_write_protect_fault_racing_unprot_stays_sigsegv);
    tcase_add_test(tc, siglongjmp_out_of_a_change_leaves_untrap_working);
}

/* Can this process write-protect with userfaultfd at all? */
static int uffd_usable(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *m = shm_map(1);
        if (m == NULL || uvm_trap(m, PS, h_unprot, NULL) == NULL ||
            uvm_prot1(m, PROT_READ) != 0)
            _exit(2);
        _exit(uffd_changes() == 1 ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void)
{
    if (strcmp(uvm_fault_layer(), "native") != 0) {
        Suite *s = suite_create("prot-uffd");
        TCase *tc = tcase_create("libsigsegv");
        tcase_add_test(tc,
                       libsigsegv_layer_makes_write_only_changes_with_mprotect);
        suite_add_tcase(s, tc);
        return run_suite(s);
    }
    if (!uffd_usable()) {
        printf("userfaultfd write-protection is not available here: skip\n");
        return 77;
    }
    Suite *s = suite_create("prot-uffd");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, write_only_changes_use_uffd_and_keep_the_map_count);
    tcase_add_test(tc, protn_write_protects_a_run_with_one_call);
    tcase_add_test(tc, mprotect_and_uffd_changes_mix);
    tcase_add_test(tc, read_syscall_into_a_write_protected_page_is_efault);
    tcase_add_test(tc, untrap_leaves_write_protected_pages_read_only);
    tcase_add_test(tc, a_fork_child_keeps_the_protection);
    tcase_add_test(tc, backend_mprotect_in_the_environment_forces_mprotect);
    tcase_add_test(tc, regions_that_are_not_all_read_write_use_mprotect);
    add_seam_tests(tc);
    tcase_add_test(tc, audit_sees_protection_the_kernel_dropped);
    suite_add_tcase(s, tc);
    tc = tcase_create("seams-mprotect");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, use_mprotect, NULL);
    add_seam_tests(tc);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
