/*
 * test-security.c: what libuvm leaves to other programs and takes from
 * other processes (issue 8, "security").
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 *  - every descriptor libuvm opens is close-on-exec: a process that has
 *    used every module execs this program again in its --list-fds mode,
 *    which reports what survived;
 *  - memory objects (uvm_alloc) are sealed against shrinking and growing;
 *  - UVM_* environment variables are parsed strictly: a bad value is
 *    ignored with exactly one warning line, and the default is used;
 *  - signals sent by other processes (and kill, sigqueue, tgkill by this
 *    one) never reach a region handler, however their siginfo is forged.
 */
#include "testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/syscall.h>

#define RW (PROT_READ | PROT_WRITE)

/* ---- descriptors ---- */

struct fdinfo {
    int fd;
    int cloexec;
    char target[128];
};

/* The descriptors of this process, without the one that reads them. */
static int fds_list(struct fdinfo *out, int max)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd == dirfd(d))
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(path, out[n].target, sizeof out[n].target - 1);
        out[n].target[k > 0 ? k : 0] = '\0';
        int fl = fcntl(fd, F_GETFD);
        out[n].cloexec = fl >= 0 && (fl & FD_CLOEXEC);
        out[n].fd = fd;
        n++;
    }
    closedir(d);
    return n;
}

static const struct fdinfo *fds_find(const struct fdinfo *v, int n, int fd)
{
    for (int i = 0; i < n; i++)
        if (v[i].fd == fd)
            return &v[i];
    return NULL;
}

/* --list-fds: what an exec'd program finds open ("fd target" lines). */
static int list_fds_main(void)
{
    struct fdinfo v[256];
    int n = fds_list(v, 256);
    for (int i = 0; i < n; i++)
        printf("%d %s\n", v[i].fd, v[i].target);
    return n < 0;
}

static volatile int handled;

static int h_unprot(const struct uvm_fault *f)
{
    handled++;
    return uvm_unprot(f->page, RW) == 0 ? UVM_RETRY : UVM_DECLINE;
}

/* Everything that may open a descriptor, left alive. */
struct every {
    char *rw, *d1, *d2, *sp, *a, *b;
    uvm_region *r;
    uvm_tracker *t1, *t2;
    uvm_snap *s1, *s2;
    int uffds;                   /* userfaultfds PROT and DIRTY opened */
};

static void use_every_module(struct every *e)
{
    /* TRAP, PROTN through userfaultfd write-protection, PROTV through
     * mprotect (reads /proc/self/maps or PROCMAP_QUERY), uvm_touch. */
    e->rw = map_pages(8, RW);
    e->r = uvm_trap(e->rw, 8 * PS, h_unprot, NULL);
    ck_assert_ptr_nonnull(e->r);
    ck_assert_int_eq(uvm_protn(e->rw, 4, PROT_READ), 0);
    struct uvm_stats st;
    uvm_stats(&st);
    e->uffds = st.prot_uffd > 0;
    poke(e->rw, 1);
    void *pv[2] = { e->rw + 5 * PS, e->rw + 7 * PS };
    ck_assert_int_eq(uvm_protv(pv, 2, PROT_NONE), 0);
    ck_assert_int_eq(uvm_touch(e->rw + 5 * PS, 3 * PS, UVM_ACCESS_WRITE), 0);
    ck_assert_int_ge(handled, 3);

    /* DIRTY, both methods. */
    e->d1 = map_pages(8, RW);
    e->d2 = map_pages(8, RW);
    e->t1 = uvm_dirty_start(e->d1, 8 * PS, UVM_DIRTY_AUTO);
    e->t2 = uvm_dirty_start(e->d2, 8 * PS, UVM_DIRTY_MPROTECT);
    ck_assert_ptr_nonnull(e->t1);
    ck_assert_ptr_nonnull(e->t2);
    e->uffds += strcmp(uvm_dirty_method(e->t1), "mprotect") != 0;
    poke(e->d1 + PS, 1);
    poke(e->d2 + 2 * PS, 1);
    void *pages[8];
    ck_assert_int_eq(uvm_dirty(e->t1, pages, 8), 1);
    ck_assert_int_eq(uvm_dirty(e->t2, pages, 8), 1);

    /* MAP2. */
    e->a = uvm_alloc(4 * PS, RW);
    ck_assert_ptr_nonnull(e->a);
    /* Pages 0-1 only: the snapshot below holds 2-3 against other views
     * (uvm_snapshot(3), EBUSY). */
    e->b = uvm_map2(e->a, 2 * PS, PROT_READ);
    ck_assert_ptr_nonnull(e->b);
    poke(e->a + PS, 'm');
    ck_assert_int_eq(peek(e->b + PS), 'm');

    /* Snapshots: of private memory, saved to a file; of uvm_alloc memory,
     * viewed. */
    e->sp = map_pages(4, RW);
    memset(e->sp, 'o', 4 * PS);
    e->s1 = uvm_snapshot(e->sp, 4 * PS);
    ck_assert_ptr_nonnull(e->s1);
    poke(e->sp, 'n');
    int sfd = memfd_create("saved", MFD_CLOEXEC);
    ck_assert_int_ge(sfd, 0);
    ck_assert_int_eq(uvm_snap_save(e->s1, sfd), 0);
    char c = 0;
    ck_assert_int_eq(pread(sfd, &c, 1, 0), 1);
    ck_assert_int_eq(c, 'o');
    close(sfd);
    poke(e->a + 3 * PS, 'm');
    e->s2 = uvm_snapshot(e->a + 2 * PS, 2 * PS);
    ck_assert_ptr_nonnull(e->s2);
    poke(e->a + 3 * PS, 'x');
    const char *v = uvm_snap_view(e->s2);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(v[PS], 'm');
}

static void release_every_module(struct every *e)
{
    ck_assert_int_eq(uvm_snap_release(e->s2), 0);
    ck_assert_int_eq(uvm_snap_release(e->s1), 0);
    ck_assert_int_eq(uvm_free(e->b, 2 * PS), 0);
    ck_assert_int_eq(uvm_free(e->a, 4 * PS), 0);
    ck_assert_int_eq(uvm_dirty_stop(e->t2), 0);
    ck_assert_int_eq(uvm_dirty_stop(e->t1), 0);
    ck_assert_int_eq(uvm_untrap(e->r), 0);
}

/* Exec this program with --list-fds; fills v with what it found. */
static int exec_and_list(struct fdinfo *v, int max)
{
    char self[4096];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    ck_assert_int_gt(k, 0);
    self[k] = '\0';
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(p[1], 1);
        execl(self, self, "--list-fds", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    ck_assert_ptr_nonnull(f);
    int n = 0;
    char line[256];
    while (n < max && fgets(line, sizeof line, f) != NULL) {
        v[n].target[0] = '\0';
        if (sscanf(line, "%d %127[^\n]", &v[n].fd, v[n].target) >= 1)
            n++;
    }
    fclose(f);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "exec of %s --list-fds failed (status %#x)", self, st);
    return n;
}

START_TEST(every_descriptor_libuvm_opens_is_close_on_exec)
{
    struct fdinfo before[256], now[256], after[256];
    int nb = fds_list(before, 256);
    ck_assert_int_ge(nb, 0);
    /* A descriptor opened without O_CLOEXEC must survive the exec: it
     * shows that the listing sees what is inherited. */
    int control = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(control, 0);

    struct every e;
    use_every_module(&e);

    int nn = fds_list(now, 256), memfds = 0, uffds = 0, fresh = 0;
    for (int i = 0; i < nn; i++) {
        if (now[i].fd == control || fds_find(before, nb, now[i].fd))
            continue;
        fresh++;
        ck_assert_msg(now[i].cloexec, "libuvm's descriptor %d (%s) is not "
                      "close-on-exec", now[i].fd, now[i].target);
        memfds += strncmp(now[i].target, "/memfd:uvm", 10) == 0;
        uffds += strstr(now[i].target, "userfaultfd") != NULL;
    }
    /* The test exercised what it claims to: a memory object, and the
     * userfaultfds of PROT and DIRTY where they work (and the snapshot's,
     * not counted: it may fall back to mprotect alone). */
    ck_assert_int_ge(memfds, 1);
    ck_assert_int_ge(uffds, e.uffds);
    if (uffds == 0)
        fprintf(stderr, "close_on_exec: userfaultfd unavailable here; "
                        "checked %d descriptors of the fallbacks\n", fresh);

    int na = exec_and_list(after, 256);
    for (int i = 0; i < na; i++) {
        const struct fdinfo *b = fds_find(before, nb, after[i].fd);
        ck_assert_msg(after[i].fd == control || (b != NULL && !b->cloexec),
                      "descriptor %d (%s) survived exec", after[i].fd,
                      after[i].target);
    }
    /* ... and everything inherited is there. */
    ck_assert_ptr_nonnull(fds_find(after, na, control));
    for (int i = 0; i < nb; i++)
        if (!before[i].cloexec)
            ck_assert_ptr_nonnull(fds_find(after, na, before[i].fd));

    release_every_module(&e);
    close(control);
}
END_TEST

/* Objects' descriptors go with the objects; what stays is per process
 * (the PROT userfaultfd, the maps file). */
START_TEST(released_objects_leave_no_descriptor_behind)
{
    struct fdinfo before[256], now[256];
    int nb = fds_list(before, 256);
    struct every e;
    use_every_module(&e);
    release_every_module(&e);
    int nn = fds_list(now, 256), left = 0;
    for (int i = 0; i < nn; i++) {
        if (fds_find(before, nb, now[i].fd))
            continue;
        ck_assert_msg(strncmp(now[i].target, "/memfd:", 7) != 0 &&
                      strcmp(now[i].target, "/proc/self/pagemap") != 0 &&
                      strstr(now[i].target, "/pagemap") == NULL,
                      "descriptor %d (%s) outlived its object", now[i].fd,
                      now[i].target);
        left++;
    }
    ck_assert_int_le(left, 2);        /* PROT's userfaultfd, maps file */
}
END_TEST

/* ---- memory objects are sealed ---- */

static int find_memfd(const struct fdinfo *before, int nb)
{
    struct fdinfo now[256];
    int nn = fds_list(now, 256), fd = -1;
    for (int i = 0; i < nn; i++)
        if (!fds_find(before, nb, now[i].fd) &&
            strncmp(now[i].target, "/memfd:uvm", 10) == 0) {
            ck_assert_int_eq(fd, -1);               /* exactly one */
            fd = now[i].fd;
        }
    ck_assert_int_ge(fd, 0);
    return fd;
}

START_TEST(memory_objects_are_sealed_against_shrinking_and_growing)
{
    struct fdinfo before[256];
    int nb = fds_list(before, 256);
    char *a = uvm_alloc(4 * PS, RW);
    ck_assert_ptr_nonnull(a);
    memset(a, 'k', 4 * PS);
    int fd = find_memfd(before, nb);

    int seals = fcntl(fd, F_GET_SEALS);
    ck_assert_int_ge(seals, 0);
    int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
    ck_assert_int_eq(seals & want, want);

    errno = 0;
    ck_assert_int_eq(ftruncate(fd, (off_t)PS), -1);
    ck_assert_int_eq(errno, EPERM);
    errno = 0;
    ck_assert_int_eq(ftruncate(fd, 0), -1);
    ck_assert_int_eq(errno, EPERM);
    errno = 0;
    ck_assert_int_eq(ftruncate(fd, (off_t)(8 * PS)), -1);
    ck_assert_int_eq(errno, EPERM);
    char c = 'g';
    errno = 0;
    ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)(4 * PS)), -1);
    ck_assert_int_eq(errno, EPERM);
    /* F_SEAL_SEAL: nobody can remove or add seals (a write seal would make
     * the views' stores fail). */
    errno = 0;
    ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
    ck_assert_int_eq(errno, EPERM);

    /* A second open file description (what another process gets through
     * /proc/PID/fd) is bound by the same seals. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int fd2 = open(path, O_RDWR | O_CLOEXEC);
    ck_assert_int_ge(fd2, 0);
    errno = 0;
    ck_assert_int_eq(ftruncate(fd2, 0), -1);
    ck_assert_int_eq(errno, EPERM);
    close(fd2);

    for (size_t i = 0; i < 4 * PS; i += PS)
        ck_assert_int_eq(peek(a + i + PS - 1), 'k');
    ck_assert_int_eq(uvm_free(a, 4 * PS), 0);
}
END_TEST

/* ---- the environment ---- */

/* In a child with UVM_BACKEND = value (NULL: unset): use everything that
 * reads the environment, in two threads, and in a forked grandchild.
 * Exit status: 0 the AUTO choice of DIRTY was uffd-wp-async, 1 it was
 * mprotect, anything else a failure. */
static const char *env_value;

static void *env_thread(void *arg)
{
    char *m = arg;
    return uvm_trap(m, PS, h_unprot, NULL);
}

static int env_use_library(void)
{
    char *m = map_pages(8, RW);
    pthread_t th;
    if (pthread_create(&th, NULL, env_thread, m) != 0)
        return 10;
    uvm_region *r = uvm_trap(m + PS, PS, h_unprot, NULL);
    void *r2;
    pthread_join(th, &r2);
    if (r == NULL || r2 == NULL)
        return 11;
    uvm_tracker *t = uvm_dirty_start(m + 2 * PS, 2 * PS, UVM_DIRTY_AUTO);
    if (t == NULL)
        return 12;
    int method = strcmp(uvm_dirty_method(t), "mprotect") == 0;
    uvm_snap *s = uvm_snapshot(m + 4 * PS, 2 * PS);
    if (s == NULL)
        return 13;
    poke(m + 4 * PS, 1);
    if (uvm_snap_restore(s) != 0 || peek(m + 4 * PS) != 0)
        return 14;
    if (uvm_protn(m + 6 * PS, 2, PROT_READ) != 0)
        return 15;
    return method;
}

static void env_child(void)
{
    if (env_value != NULL)
        setenv("UVM_BACKEND", env_value, 1);
    else
        unsetenv("UVM_BACKEND");
    int rc = env_use_library();
    if (rc > 1)
        _exit(rc);
    /* The same process after fork(): parsed already, no second warning. */
    pid_t pid = fork();
    if (pid == 0)
        _exit(env_use_library());
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
        WEXITSTATUS(st) != rc)
        _exit(20);
    _exit(rc);
}

static int env_run(const char *value, char *err, size_t cap)
{
    env_value = value;
    int st = run_child(env_child, err, cap);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) <= 1,
                  "UVM_BACKEND=%.40s: child status %#x, stderr: %s",
                  value ? value : "(unset)", st, err);
    return WEXITSTATUS(st);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(valid_backend_values_are_silent)
{
    char err[8192];
    int dflt = env_run(NULL, err, sizeof err);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(env_run("auto", err, sizeof err), dflt);
    ck_assert_str_eq(err, "");
    /* Empty is the shell's "default", like unset. */
    ck_assert_int_eq(env_run("", err, sizeof err), dflt);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(env_run("mprotect", err, sizeof err), 1);
    ck_assert_str_eq(err, "");
}
END_TEST

static const char *const bad_values[] = {
    "turbo", "mprotect ", " mprotect", "mprotectx", "mprot", "MPROTECT",
    "Auto", "mprotect\n", "auto,mprotect", "1", "0", "-1",
    "99999999999999999999999", "mprotect\tauto", "\x1b[31mred\x1b[0m",
    "\xff\xfe\x80", "auto\\", "=mprotect",
};

static void check_one_warning(const char *value, const char *err)
{
    ck_assert_msg(count_lines(err) == 1, "UVM_BACKEND=%.40s: stderr %s",
                  value, err);
    ck_assert_msg(strncmp(err, "libuvm: ignoring UVM_BACKEND=", 29) == 0,
                  "%s", err);
    ck_assert_ptr_nonnull(strstr(err, "(expected auto or mprotect)\n"));
    ck_assert_uint_lt(strlen(err), 400);
    for (const char *p = err; *p; p++)
        ck_assert_msg(*p == '\n' || (*p >= 0x20 && *p < 0x7f),
                      "raw byte %#x in the warning", (unsigned char)*p);
}

START_TEST(bad_backend_values_are_ignored_with_one_warning_line)
{
    char err[8192];
    int dflt = env_run(NULL, err, sizeof err);
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        const char *v = bad_values[i];
        ck_assert_int_eq(env_run(v, err, sizeof err), dflt);
        check_one_warning(v, err);
    }
    /* Escaped, not raw: the terminal sequence shows as text. */
    env_run("\x1b[31mred", err, sizeof err);
    ck_assert_ptr_nonnull(strstr(err, "UVM_BACKEND=\\x1b[31mred "));
}
END_TEST

START_TEST(a_huge_backend_value_is_cut_in_its_warning)
{
    size_t n = 1 << 20;
    char *huge = malloc(n + 1);
    ck_assert_ptr_nonnull(huge);
    memset(huge, 'a', n);
    memcpy(huge, "mprotect", 8);            /* a valid prefix */
    huge[n] = '\0';
    char err[8192];
    int dflt = env_run(NULL, err, sizeof err);
    ck_assert_int_eq(env_run(huge, err, sizeof err), dflt);
    check_one_warning("(1 MiB)", err);
    ck_assert_ptr_nonnull(strstr(err, "=mprotectaaaa"));
    ck_assert_ptr_nonnull(strstr(err, "... (expected"));
    free(huge);
}
END_TEST

/* ---- forged signals ---- */

static volatile sig_atomic_t prior_calls, prior_code;
static void prior(int sig, siginfo_t *si, void *uc)
{
    prior_calls++;
    prior_code = si->si_code;
}

static char *forge_setup(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = prior;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGSEGV, &sa, NULL), 0);
    ck_assert_int_eq(sigaction(SIGBUS, &sa, NULL), 0);
    char *m = map_pages(1, PROT_NONE);
    ck_assert_ptr_nonnull(uvm_trap(m, PS, h_unprot, NULL));
    handled = 0;
    return m;
}

static long sys_tgsigqueueinfo(pid_t pid, pid_t tid, int sig, siginfo_t *si)
{
    return syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, si);
}

/* A siginfo that claims to be a fault at addr. */
static siginfo_t forged_info(int sig, int code, void *addr)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = code;
    si.si_addr = addr;
    return si;
}

enum { FORGED_FROM_OUTSIDE = 6 };

/* The sender: one signal at a time, each followed by a byte on go[1] and a
 * wait for the receiver's byte on ack[0] (standard signals do not queue).
 * Exit status: bit k set if attempt k failed in a way it should not. */
static int forge_from_child(pid_t target, char *m, int go, int ack)
{
    int bad = 0;
    char b;
    union sigval sv = { .sival_ptr = m };
    siginfo_t si;
    for (int k = 0; k < FORGED_FROM_OUTSIDE; k++) {
        long rc = 0;
        switch (k) {
        case 0: rc = kill(target, SIGSEGV); break;
        case 1: rc = kill(target, SIGBUS); break;
        case 2: rc = sigqueue(target, SIGSEGV, sv); break;
        case 3: rc = sigqueue(target, SIGBUS, sv); break;
        case 4: rc = syscall(SYS_tgkill, target, target, SIGSEGV); break;
        case 5:
            /* Everything forged but the code, which the kernel insists is
             * negative for another process. */
            si = forged_info(SIGBUS, SI_QUEUE, m);
            rc = sys_tgsigqueueinfo(target, target, SIGBUS, &si);
            break;
        }
        bad |= (rc != 0) << k;
        if (write(go, "s", 1) != 1 || read(ack, &b, 1) != 1)
            return 0xff;
    }
    /* A positive si_code (a "fault") from another process: refused. */
    si = forged_info(SIGSEGV, SEGV_ACCERR, m);
    errno = 0;
    if (sys_tgsigqueueinfo(target, target, SIGSEGV, &si) != -1 ||
        errno != EPERM)
        bad |= 1 << 6;
    si = forged_info(SIGBUS, BUS_ADRERR, m);
    errno = 0;
    if (syscall(SYS_rt_sigqueueinfo, target, SIGBUS, &si) != -1 ||
        errno != EPERM)
        bad |= 1 << 7;
    return bad;
}

START_TEST(signals_from_another_process_never_reach_region_handlers)
{
    char *m = forge_setup();
    int go[2], ack[2];
    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(ack), 0);
    pid_t me = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(forge_from_child(me, m, go[1], ack[0]));
    for (int k = 0; k < FORGED_FROM_OUTSIDE; k++) {
        char b;
        ck_assert_int_eq(read(go[0], &b, 1), 1);
        /* The signal was pending before the byte was written: it has been
         * delivered by the time read() returns to this single thread. */
        ck_assert_int_eq(prior_calls, k + 1);
        ck_assert_int_le(prior_code, 0);
        ck_assert_int_eq(write(ack[1], "a", 1), 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "sender status %#x", st);
    ck_assert_int_eq(handled, 0);
    struct uvm_stats s;
    uvm_stats(&s);
    ck_assert_uint_eq(s.forged, FORGED_FROM_OUTSIDE);
    /* The region still works for real faults. */
    poke(m, 1);
    ck_assert_int_eq(handled, 1);
    ck_assert_int_eq(prior_calls, FORGED_FROM_OUTSIDE);
}
END_TEST

static void *send_from_thread(void *arg)
{
    pid_t *main_tid = arg;
    syscall(SYS_tgkill, getpid(), *main_tid, SIGBUS);
    return NULL;
}

/* What test-dispatch.c does not cover: SIGBUS, tgkill (also from another
 * thread), and rt_tgsigqueueinfo with a fault's address and a user code. */
START_TEST(sigbus_and_thread_directed_forgeries_never_reach_region_handlers)
{
    char *m = forge_setup();
    union sigval sv = { .sival_ptr = m };
    pid_t tid = (pid_t)syscall(SYS_gettid);
    int n = 0;

    ck_assert_int_eq(raise(SIGBUS), 0);
    n++;
    ck_assert_int_eq(sigqueue(getpid(), SIGBUS, sv), 0);
    n++;
    ck_assert_int_eq(syscall(SYS_tgkill, getpid(), tid, SIGSEGV), 0);
    n++;
    ck_assert_int_eq(syscall(SYS_tgkill, getpid(), tid, SIGBUS), 0);
    n++;
    int codes[] = { SI_QUEUE, SI_TKILL, SI_USER, SI_MESGQ, SI_ASYNCIO };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        siginfo_t si = forged_info(i % 2 ? SIGBUS : SIGSEGV, codes[i], m);
        ck_assert_int_eq(sys_tgsigqueueinfo(getpid(), tid, si.si_signo, &si),
                         0);
        n++;
    }
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, send_from_thread, &tid), 0);
    pthread_join(th, NULL);
    n++;
    /* Thread-directed: delivered to this thread on its next return from
     * the kernel, at the latest here. */
    for (int i = 0; i < 1000 && prior_calls < n; i++)
        usleep(1000);

    ck_assert_int_eq(prior_calls, n);
    ck_assert_int_eq(handled, 0);
    struct uvm_stats st;
    uvm_stats(&st);
    ck_assert_uint_eq(st.forged, (unsigned long)n);
    poke(m, 1);
    ck_assert_int_eq(handled, 1);
}
END_TEST

static void forged_bus_default(void)
{
    char *m = map_pages(1, PROT_NONE);
    if (uvm_trap(m, PS, h_unprot, NULL) == NULL)
        _exit(3);
    union sigval sv = { .sival_ptr = m };
    sigqueue(getpid(), SIGBUS, sv);
    _exit(handled == 0 ? 4 : 5);              /* must not get here */
}

START_TEST(forged_sigbus_with_default_prior_kills_without_the_handler)
{
    char err[4096];
    int st = run_child(forged_bus_default, err, sizeof err);
    ck_assert_msg(WIFSIGNALED(st), "child exited %d", WEXITSTATUS(st));
    ck_assert_int_eq(WTERMSIG(st), SIGBUS);
}
END_TEST

/* A signal the process queues to itself with a fault's si_code cannot be
 * told from a fault, but it never faults again: with no region at its
 * address and SIG_DFL behind libuvm it must still kill, not leave the
 * dispatcher silently uninstalled. */
static void self_queued_fault_code(void)
{
    char *m = map_pages(2, PROT_NONE);
    if (uvm_trap(m, PS, h_unprot, NULL) == NULL)
        _exit(3);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGSEGV;
    si.si_code = SEGV_ACCERR;
    si.si_addr = m + PS;                       /* no region there */
    syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid),
            SIGSEGV, &si);
    _exit(4);                                  /* must not get here */
}

START_TEST(a_self_queued_fault_code_outside_regions_still_kills)
{
    char err[4096];
    int st = run_child(self_queued_fault_code, err, sizeof err);
    ck_assert_msg(WIFSIGNALED(st), "child exited %d", WEXITSTATUS(st));
    ck_assert_int_eq(WTERMSIG(st), SIGSEGV);
    ck_assert_ptr_nonnull(strstr(err, "no libuvm region claimed it"));
}
END_TEST

static Suite *security_suite(void)
{
    Suite *s = suite_create("security");
    TCase *tc = tcase_create("descriptors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_descriptor_libuvm_opens_is_close_on_exec);
    tcase_add_test(tc, released_objects_leave_no_descriptor_behind);
    tcase_add_test(tc, memory_objects_are_sealed_against_shrinking_and_growing);
    suite_add_tcase(s, tc);
    tc = tcase_create("environment");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, valid_backend_values_are_silent);
    tcase_add_test(tc, bad_backend_values_are_ignored_with_one_warning_line);
    tcase_add_test(tc, a_huge_backend_value_is_cut_in_its_warning);
    suite_add_tcase(s, tc);
    /* libsigsegv hands its handler the address only, not the si_code that
     * tells a fault from a signal someone sent (uvm(7)). */
    if (strcmp(uvm_fault_layer(), "native") != 0) {
        printf("forged signals: not checked with the %s fault layer\n",
               uvm_fault_layer());
        return s;
    }
    tc = tcase_create("forged");
    tcase_add_test(tc,
        signals_from_another_process_never_reach_region_handlers);
    tcase_add_test(tc,
        sigbus_and_thread_directed_forgeries_never_reach_region_handlers);
    tcase_add_test(tc,
        forged_sigbus_with_default_prior_kills_without_the_handler);
    tcase_add_test(tc, a_self_queued_fault_code_outside_regions_still_kills);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list-fds") == 0)
        return list_fds_main();
    return run_suite(security_suite());
}
