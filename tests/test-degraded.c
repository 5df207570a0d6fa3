/*
 * test-degraded.c: libuvm on kernels that give it less (issue 8,
 * "degraded kernels").
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * One representative scenario per module (TRAP with PROTN and UNPROT,
 * uvm_touch, DIRTY, snapshots with save, read, diff and restore, MAP2 with
 * a snapshot view) runs in a child
 *  - with userfaultfd(2) forbidden by a seccomp filter (EPERM, as Docker's
 *    default profile does, and ENOSYS, as a kernel without it): everything
 *    works through mprotect;
 *  - as an unprivileged user (setuid 65534 when run as root), also with
 *    the filter: user-mode-only userfaultfds where they work.
 * At the kernel's mapping limit (vm.max_map_count, reached by a child
 * that splits one mapping into isolated pages, never by changing the
 * sysctl) PROTV, DIRTY's mprotect method, snapshots through mprotect and
 * MAP2 fail with ENOMEM and leave nothing behind, and work again once
 * mappings are freed.
 */
#include "testutil.h"

#include <sys/syscall.h>

#define RW (PROT_READ | PROT_WRITE)

static volatile int handled;

static int h_unprot(const struct uvm_fault *f)
{
    handled++;
    return uvm_unprot(f->page, RW) == 0 ? UVM_RETRY : UVM_DECLINE;
}

/* ---- the scenario ---- */

/* Failures are reported by the step that failed (exit status >= 10). */
#define STEP(cond, n) do { if (!(cond)) return (n); } while (0)

static int scenario_prot(int *uffd_used)
{
    char *m = mmap(NULL, 8 * PS, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    STEP(m != MAP_FAILED, 10);
    memset(m, 'p', 8 * PS);
    uvm_region *r = uvm_trap(m, 8 * PS, h_unprot, NULL);
    STEP(r != NULL, 11);
    handled = 0;
    STEP(uvm_protn(m, 4, PROT_READ) == 0, 12);        /* userfaultfd WP */
    void *pv[2] = { m + 7 * PS, m + 5 * PS };
    STEP(uvm_protv(pv, 2, PROT_NONE) == 0, 13);       /* mprotect */
    for (int i = 0; i < 4; i++)
        poke(m + i * PS, 'q');
    STEP(peek(m + 5 * PS) == 'p' && peek(m + 7 * PS) == 'p', 14);
    STEP(handled == 6, 15);
    /* A system call into a protected buffer, after uvm_touch. */
    STEP(uvm_prot1(m + 6 * PS, PROT_READ) == 0, 16);
    int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    STEP(fd >= 0, 17);
    STEP(uvm_touch(m + 6 * PS, PS, UVM_ACCESS_WRITE) == 0, 18);
    STEP(read(fd, m + 6 * PS, PS) == (ssize_t)PS && m[6 * PS] == 0, 19);
    close(fd);
    struct uvm_stats st;
    uvm_stats(&st);
    *uffd_used = st.prot_uffd > 0;
    STEP(uvm_untrap(r) == 0 && munmap(m, 8 * PS) == 0, 20);
    return 0;
}

static int scenario_dirty(int *uffd_used)
{
    char *m = mmap(NULL, 16 * PS, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    STEP(m != MAP_FAILED, 30);
    uvm_tracker *t = uvm_dirty_start(m, 16 * PS, UVM_DIRTY_AUTO);
    STEP(t != NULL, 31);
    const char *method = uvm_dirty_method(t);
    *uffd_used = strcmp(method, "mprotect") != 0;
    poke(m + 3 * PS, 1);
    poke(m + 4 * PS, 1);
    poke(m + 15 * PS, 1);
    struct uvm_run runs[4];
    STEP(uvm_dirty_runs(t, runs, 4) == 2, 32);
    STEP(runs[0].start == m + 3 * PS && runs[0].npages == 2, 33);
    STEP(runs[1].start == m + 15 * PS && runs[1].npages == 1, 34);
    STEP(uvm_dirty(t, NULL, 0) == 0, 35);
    STEP(uvm_dirty_stop(t) == 0, 36);
    if (!*uffd_used) {
        errno = 0;
        STEP(uvm_dirty_start(m, PS, UVM_DIRTY_UFFD) == NULL &&
             errno == ENOTSUP, 37);
    }
    munmap(m, 16 * PS);
    return 0;
}

static int scenario_snap(void)
{
    size_t n = 8;
    char *m = mmap(NULL, n * PS, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    STEP(m != MAP_FAILED, 40);
    for (size_t i = 0; i < n; i++)
        memset(m + i * PS, 'a' + (int)i, PS);
    uvm_snap *s = uvm_snapshot(m, n * PS);
    STEP(s != NULL, 41);
    poke(m + 2 * PS, 'X');
    poke(m + 6 * PS + 9, 'Y');
    char buf[16];
    STEP(uvm_snap_read(s, 2 * PS, buf, 1) == 0 && buf[0] == 'c', 42);
    void *d[8];
    STEP(uvm_snap_diff(s, d, 8) == 2 && d[0] == m + 2 * PS &&
         d[1] == m + 6 * PS, 43);
    int fd = memfd_create("saved", MFD_CLOEXEC);
    STEP(fd >= 0 && uvm_snap_save(s, fd) == 0, 44);
    for (size_t i = 0; i < n; i++) {
        STEP(pread(fd, buf, 1, (off_t)(i * PS + 9)) == 1, 45);
        STEP(buf[0] == 'a' + (int)i, 46);
    }
    close(fd);
    STEP(uvm_snap_restore(s) == 0, 47);
    STEP(m[2 * PS] == 'c' && m[6 * PS + 9] == 'g', 48);
    STEP(uvm_snap_release(s) == 0, 49);
    munmap(m, n * PS);
    return 0;
}

static int scenario_map2(void)
{
    char *a = uvm_alloc(4 * PS, RW);
    STEP(a != NULL, 50);
    /* The view and the snapshot cover different pages: a snapshot holds
     * its pages against other views (uvm_snapshot(3), EBUSY). */
    char *b = uvm_map2(a, 2 * PS, PROT_READ);
    STEP(b != NULL, 51);
    poke(a + PS, 'm');
    poke(a + 3 * PS, 'm');
    STEP(peek(b + PS) == 'm', 52);
    uvm_snap *s = uvm_snapshot(a + 2 * PS, 2 * PS);
    STEP(s != NULL, 53);
    poke(a + 3 * PS, 'n');
    const char *v = uvm_snap_view(s);
    STEP(v != NULL && v[PS] == 'm' && peek(a + 3 * PS) == 'n', 54);
    STEP(uvm_snap_release(s) == 0, 55);
    STEP(uvm_free(b, 2 * PS) == 0 && uvm_free(a, 4 * PS) == 0, 56);
    return 0;
}

/* Below USED_MAX it worked, and bit 0 says that PROT used userfaultfd,
 * bit 1 that DIRTY did (a fault layer without SIGBUS leaves PROT on
 * mprotect); else the failed step. */
#define USED_MAX 4

static int scenario(void)
{
    int rc, prot_uffd, dirty_uffd;
    if ((rc = scenario_prot(&prot_uffd)) != 0 ||
        (rc = scenario_dirty(&dirty_uffd)) != 0 ||
        (rc = scenario_snap()) != 0 || (rc = scenario_map2()) != 0)
        return rc;
    return prot_uffd | dirty_uffd << 1;
}

/* ---- the children ---- */

static int deny_errno;          /* 0: no filter */
static int unprivileged;

static void scenario_child(void)
{
    if (unprivileged && become_unprivileged() != 0)
        _exit(5);
    if (deny_errno != 0) {
        if (deny_syscall(SYS_userfaultfd, deny_errno) != 0)
            _exit(6);
        errno = 0;
        if (syscall(SYS_userfaultfd, O_CLOEXEC) != -1 || errno != deny_errno)
            _exit(7);
    }
    _exit(scenario());
}

static int run_scenario(int deny, int unpriv)
{
    char err[8192];
    deny_errno = deny;
    unprivileged = unpriv;
    int st = run_child(scenario_child, err, sizeof err);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) < USED_MAX,
                  "scenario (seccomp errno %d, unprivileged %d): status "
                  "%#x (exit %d = failed step), stderr: %s",
                  deny, unpriv, st, WEXITSTATUS(st), err);
    return WEXITSTATUS(st);
}

START_TEST(everything_works_with_userfaultfd_forbidden_by_seccomp_eperm)
{
    ck_assert_int_eq(run_scenario(EPERM, 0), 0);
}
END_TEST

START_TEST(everything_works_with_userfaultfd_missing_enosys)
{
    ck_assert_int_eq(run_scenario(ENOSYS, 0), 0);
}
END_TEST

START_TEST(everything_works_as_an_unprivileged_user)
{
    int full = run_scenario(0, 0);
    int user = run_scenario(0, 1);
    /* vm.unprivileged_userfaultfd = 0 leaves user-mode-only descriptors,
     * which is all libuvm needs: nothing is lost by not being root. */
    ck_assert_int_eq(user, full);
    if (full == 0)
        fprintf(stderr, "unprivileged: userfaultfd unavailable even to "
                        "root here; both ran on mprotect\n");
}
END_TEST

START_TEST(everything_works_unprivileged_with_userfaultfd_forbidden)
{
    ck_assert_int_eq(run_scenario(EPERM, 1), 0);
}
END_TEST

/* ---- at the mapping limit ---- */

/* Fill this process's mapping table: one PROT_NONE reservation whose every
 * other page is made readable, so each is a mapping of its own, until the
 * kernel says ENOMEM; then give back `spare` mappings (unmapping single
 * isolated pages). */
struct fill {
    char *base;
    size_t len;
    size_t next;         /* next readable page to unmap when giving back */
    char *extra[4];      /* mmap()s past the split limit */
    int nextra;
};

static void fill_mappings(struct fill *f, size_t spare)
{
    long max = read_long_file("/proc/sys/vm/max_map_count", 65530);
    f->len = (size_t)(2 * max + 8) * PS;
    f->base = mmap(NULL, f->len, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ck_assert_ptr_ne(f->base, MAP_FAILED);
    size_t i;
    for (i = 1; (i + 1) * PS < f->len; i += 2)
        if (mprotect(f->base + i * PS, PS, PROT_READ) != 0)
            break;
    ck_assert_int_eq(errno, ENOMEM);
    ck_assert_msg(i > 2, "could not fill the mapping table");
    /* The table is full (the failed call may have split off the rest of
     * the reservation first: one split, then the refusal).  Give back the
     * spare mappings from the end. */
    f->next = i - 2;
    for (size_t k = 0; k < spare; k++) {
        ck_assert_int_eq(munmap(f->base + f->next * PS, PS), 0);
        f->next -= 2;
    }
    /* A split needs map_count < max, a new mapping only map_count <= max:
     * with no spare, take that last one too (shared mappings never merge
     * with the private ones around them). */
    f->nextra = 0;
    while (spare == 0 && f->nextra < 4) {
        void *x = mmap(NULL, PS, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (x == MAP_FAILED)
            break;
        f->extra[f->nextra++] = x;
    }
    ck_assert(spare > 0 || errno == ENOMEM);
}

static void fill_release(struct fill *f)
{
    ck_assert_int_eq(munmap(f->base, f->len), 0);
    for (int k = 0; k < f->nextra; k++)
        ck_assert_int_eq(munmap(f->extra[k], PS), 0);
}

static uvm_region *reg_warm;

/* What libuvm maps lazily (the thread's record, the first region table)
 * is mapped before the table fills: the tests measure the calls, not the
 * first use. */
static void warm_up(void)
{
    setenv("UVM_BACKEND", "mprotect", 1);
    char *m = map_pages(4, RW);
    reg_warm = uvm_trap(m, PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(reg_warm);
    ck_assert_int_eq(uvm_prot1(m, PROT_NONE), 0);
    poke(m, 1);
    uvm_tracker *t = uvm_dirty_start(m + PS, PS, UVM_DIRTY_MPROTECT);
    ck_assert_ptr_nonnull(t);
    poke(m + PS, 1);
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
}

START_TEST(protv_at_the_mapping_limit_is_enomem_and_changes_nothing)
{
    warm_up();
    char *p = map_pages(64, RW);
    void *pages[16];
    for (int i = 0; i < 16; i++)
        pages[i] = p + (size_t)(4 * i + 1) * PS;      /* 32 new mappings */
    struct fill f;
    fill_mappings(&f, 4);
    struct uvm_stats before, after;
    uvm_stats(&before);
    size_t count = maps_count();
    errno = 0;
    ck_assert_int_eq(uvm_protv(pages, 16, PROT_READ), -1);
    ck_assert_int_eq(errno, ENOMEM);
    ck_assert(maps_range_is(p, 64 * PS, RW));
    ck_assert_uint_eq(maps_count(), count);
    uvm_stats(&after);
    ck_assert_uint_eq(after.regions, before.regions);
    poke(p + PS, 1);                              /* still writable */

    fill_release(&f);
    ck_assert_int_eq(uvm_protv(pages, 16, PROT_READ), 0);
    ck_assert_int_eq(maps_prot(p + PS, NULL, NULL),
                     MAPPED_WITH(PROT_READ));
    ck_assert_int_eq(maps_prot(p + 2 * PS, NULL, NULL), MAPPED_WITH(RW));
}
END_TEST

START_TEST(dirty_mprotect_at_the_mapping_limit_is_enomem_and_changes_nothing)
{
    warm_up();
    char *d = map_pages(64, RW);
    struct fill f;
    fill_mappings(&f, 4);
    struct uvm_stats before, after;
    uvm_stats(&before);
    errno = 0;
    ck_assert_ptr_null(uvm_dirty_start(d, 64 * PS, UVM_DIRTY_MPROTECT));
    ck_assert_int_eq(errno, ENOMEM);
    uvm_stats(&after);
    ck_assert_uint_eq(after.regions, before.regions);
    ck_assert(maps_range_is(d, 64 * PS, RW));
    poke(d, 1);

    fill_release(&f);
    uvm_tracker *t = uvm_dirty_start(d, 64 * PS, UVM_DIRTY_MPROTECT);
    ck_assert_ptr_nonnull(t);
    poke(d + 9 * PS, 1);
    void *pages[4];
    ck_assert_int_eq(uvm_dirty(t, pages, 4), 1);
    ck_assert_ptr_eq(pages[0], d + 9 * PS);
    ck_assert_int_eq(uvm_dirty_stop(t), 0);
}
END_TEST

/* With the mprotect fallback a snapshot splits its range one page per
 * first write: either it refuses up front (ENOMEM, nothing changed), or
 * every write it let through must work.  Run in a child: a write the
 * handler could not serve would kill it. */
static void snap_at_limit(void)
{
    warm_up();
    char *s = map_pages(64, RW);
    memset(s, 's', 64 * PS);
    struct fill f;
    fill_mappings(&f, 4);
    struct uvm_stats before, after;
    uvm_stats(&before);
    errno = 0;
    uvm_snap *sn = uvm_snapshot(s, 64 * PS);
    if (sn == NULL) {
        uvm_stats(&after);
        if (errno != ENOMEM)
            _exit(10);
        if (after.regions != before.regions || !maps_range_is(s, 64 * PS, RW))
            _exit(11);
        poke(s, 1);
        fill_release(&f);
        sn = uvm_snapshot(s, 64 * PS);
        if (sn == NULL)
            _exit(12);
        poke(s, 'w');
        _exit(uvm_snap_restore(sn) == 0 && s[0] == 1 ? 0 : 13);
    }
    for (int i = 1; i < 64; i += 2)
        poke(s + i * PS, 'w');                   /* every write must work */
    char c;
    if (uvm_snap_read(sn, PS, &c, 1) != 0 || c != 's')
        _exit(14);
    fill_release(&f);
    _exit(uvm_snap_restore(sn) == 0 && s[PS] == 's' ? 1 : 15);
}

START_TEST(snapshot_through_mprotect_at_the_mapping_limit_fails_cleanly)
{
    char err[16384];
    int st = run_child(snap_at_limit, err, sizeof err);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) <= 1,
                  "child status %#x (exit %d), stderr: %s", st,
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1, err);
    if (WEXITSTATUS(st) == 1)
        fprintf(stderr, "snapshot at the limit: taken, and every write "
                        "worked\n");
}
END_TEST

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

START_TEST(map2_at_the_mapping_limit_is_enomem_and_leaks_nothing)
{
    warm_up();
    char *a = uvm_alloc(4 * PS, RW);
    ck_assert_ptr_nonnull(a);
    poke(a, 'z');
    int fds = open_fds();
    struct fill f;
    fill_mappings(&f, 0);
    errno = 0;
    ck_assert_ptr_null(uvm_map2(a, 4 * PS, PROT_READ));
    ck_assert_int_eq(errno, ENOMEM);
    errno = 0;
    ck_assert_ptr_null(uvm_alloc(4 * PS, RW));
    ck_assert_int_eq(errno, ENOMEM);
    ck_assert_int_eq(open_fds(), fds);

    fill_release(&f);
    char *b = uvm_map2(a, 4 * PS, PROT_READ);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(peek(b), 'z');
    char *c = uvm_alloc(4 * PS, RW);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(uvm_free(c, 4 * PS), 0);
    ck_assert_int_eq(uvm_free(b, 4 * PS), 0);
    ck_assert_int_eq(uvm_free(a, 4 * PS), 0);
}
END_TEST

static Suite *degraded_suite(void)
{
    Suite *s = suite_create("degraded");
    TCase *tc = tcase_create("no-userfaultfd");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc,
        everything_works_with_userfaultfd_forbidden_by_seccomp_eperm);
    tcase_add_test(tc, everything_works_with_userfaultfd_missing_enosys);
    tcase_add_test(tc, everything_works_as_an_unprivileged_user);
    tcase_add_test(tc,
        everything_works_unprivileged_with_userfaultfd_forbidden);
    suite_add_tcase(s, tc);
    tc = tcase_create("mapping-limit");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc,
        protv_at_the_mapping_limit_is_enomem_and_changes_nothing);
    tcase_add_test(tc,
        dirty_mprotect_at_the_mapping_limit_is_enomem_and_changes_nothing);
    tcase_add_test(tc,
        snapshot_through_mprotect_at_the_mapping_limit_fails_cleanly);
    tcase_add_test(tc, map2_at_the_mapping_limit_is_enomem_and_leaks_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(degraded_suite());
}
