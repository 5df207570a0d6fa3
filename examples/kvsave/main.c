/*
 * main.c: uvm-kvsave, a forkless save of an in-memory key-value store.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Usage:
 *   uvm-kvsave [--size 256M] [--ways fork,undo,redo] [--plot FILE.png]
 *              [--dir DIR] [--warm MS] [--tail MS] [--no-fsync] [--keep]
 *              [--seed N] [--log ENTRIES] [--timeout S] [--writer-nice N]
 *
 * A store of --size bytes (an open-addressing hash table, values of 128
 * bytes in one large private anonymous range) is filled; then, for each
 * way, a writer thread updates random keys at full speed for --warm ms
 * (the throughput "without"), a background save writes a point-in-time
 * image of the store to a file in --dir, and the writer goes on for
 * --tail ms more.  The ways:
 *   fork  fork(); the child writes the image and exits (Redis's BGSAVE)
 *   undo  uvm_snapshot + uvm_snap_save in a thread (copy-on-write, undo)
 *   redo  uvm_snapshot2(UVM_SNAP_TRACKED) + uvm_snap_save in a thread
 *         (tracked base: the take copies the store, writes cost no copy)
 *   live  a negative control, never run by default: writes the live
 *         range with no snapshot; its image must fail verification
 * Each way reports the writer's longest stall and p99 operation latency
 * during the save, its throughput during the save against without, the
 * peak extra memory (this process's RSS growth, plus for fork the child's
 * Private_Dirty and page tables just before it exits), the pages the
 * writer wrote during the save, the take and the save time.  Then every
 * image is verified byte for byte: the writer logged every update since
 * the snapshot instant (which value, and the seq it held before; values
 * are a function of key and seq), so undoing the log on the live store
 * gives back the store at the instant, which must equal the file.
 * Finally the targets of issue 15 are judged side by side (undo's longest
 * stall <= 1/10 of fork's; undo's extra memory <= the pages written
 * during the save).  --plot draws the writer's worst latency per
 * millisecond around each save (gnuplot).  --writer-nice -20 runs the
 * writer thread at that nice value, so that on a machine loaded by other
 * work its stalls show the save more than the scheduler (the saver and
 * the fork child keep the default).
 * Defaults: --size 256M, --ways fork,undo,redo, --warm 500, --tail 100,
 * --dir $TMPDIR or /tmp (the images are removed unless --keep), fsync
 * after each save, --seed from the clock (printed), --timeout 900 s,
 * --log sized for a slow save (8 bytes an entry, touched up front).
 * make check runs 16 MiB (check.sh); make bench-kvsave 256 MiB and 1 GiB.
 * Exit status: 0 every image verified, 1 error, 2 usage, 3 an image
 * failed verification (expected of --ways live).
 *
 * Owns: the command line, the run of each way (each in a process of its
 * own, with a fresh store), the verification and the report.  Fault
 * handler: nothing here runs in it.
 */
#include "kvsave.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct opts {
    size_t size;
    const char *ways, *plot, *dir;
    unsigned warm_ms, tail_ms, timeout;
    int do_fsync, keep, nice;
    uint64_t seed;
    size_t log_cap;
};

/* What one way gave, kept for the table, the targets and the plot. */
struct outcome {
    const struct kv_way *way;
    int ran, failed, verified;
    struct kv_result r;
    struct kv_hist during, before;      /* before: the host's noise */
    double ops_s_before, ops_s_during;
    size_t pages_written, keys_changed;
    uint32_t *trace;                    /* worst latency per ms, ns */
    size_t trace_cap;
    size_t trace_from, trace_n;         /* ms of trace[0] from save start */
    double trace_lead;
};

static void usage(void)
{
    fprintf(stderr, "usage: uvm-kvsave [--size 256M] [--ways fork,undo,redo]"
            " [--plot FILE.png] [--dir DIR]\n"
            "       [--warm MS] [--tail MS] [--no-fsync] [--keep] [--seed N]"
            " [--log ENTRIES] [--timeout S]\n       [--writer-nice N]\n"
            "(see the comment at the top of examples/kvsave/main.c)\n");
    exit(2);
}

static size_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    switch (*end) {
    case 'k': case 'K': v *= 1024; end++; break;
    case 'm': case 'M': v *= 1024 * 1024; end++; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
    }
    if (*end != '\0' || v <= 0)
        usage();
    return (size_t)v;
}

static void parse(int argc, char **argv, struct opts *o)
{
    const char *tmp = getenv("TMPDIR");
    *o = (struct opts){ 256u << 20, "fork,undo,redo", NULL,
                        tmp != NULL ? tmp : "/tmp", 500, 100, 900, 1, 0, 0,
                        (uint64_t)time(NULL), 0 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;
        if (!strcmp(a, "--no-fsync")) o->do_fsync = 0, used = 0;
        else if (!strcmp(a, "--keep")) o->keep = 1, used = 0;
        else if (v == NULL) usage();
        else if (!strcmp(a, "--size")) o->size = parse_size(v);
        else if (!strcmp(a, "--ways")) o->ways = v;
        else if (!strcmp(a, "--plot")) o->plot = v;
        else if (!strcmp(a, "--dir")) o->dir = v;
        else if (!strcmp(a, "--warm")) o->warm_ms = (unsigned)atoi(v);
        else if (!strcmp(a, "--tail")) o->tail_ms = (unsigned)atoi(v);
        else if (!strcmp(a, "--timeout")) o->timeout = (unsigned)atoi(v);
        else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--log")) o->log_cap = parse_size(v);
        else if (!strcmp(a, "--writer-nice")) o->nice = atoi(v);
        else usage();
        i += used;
    }
    /* Room for a slow save: at 2M updates/s, 30 s at 256 MiB and more,
     * 8 s at 32 MiB and more (the log is touched before the writer
     * starts, 8 bytes an entry). */
    if (o->log_cap == 0)
        o->log_cap = o->size >= (256u << 20) ? 1u << 26 :
                     o->size >= (32u << 20) ? 1u << 24 : 1u << 22;
}

static const struct kv_way *find_way(const char *name, size_t n)
{
    for (size_t i = 0; i < kv_nways; i++)
        if (strlen(kv_ways[i].name) == n &&
            !strncmp(kv_ways[i].name, name, n))
            return &kv_ways[i];
    return NULL;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- verification ---- */

/* Pages written and keys changed by the logged updates (the first
 * `during` of them fell inside the save). */
static void count_writes(const struct kv_store *kv, const struct kv_writer *w,
                         size_t during, struct outcome *oc)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE), n = atomic_load(&w->log_n);
    unsigned char *page = calloc(kv->len / ps, 1), *key = calloc(kv->nkeys, 1);
    if (page == NULL || key == NULL)
        abort();
    for (size_t j = 0; j < n; j++) {
        uint32_t vi = w->log[j].vindex;
        size_t pg = kv_page_of(kv, vi, ps);
        if (j < during && !page[pg])
            page[pg] = 1, oc->pages_written++;
        if (!key[vi])
            key[vi] = 1, oc->keys_changed++;
    }
    free(page);
    free(key);
}

/* The first byte at which the file and the store differ, or -1. */
static long long first_difference(const struct kv_store *kv, int fd)
{
    static unsigned char buf[1 << 20];
    size_t off = 0;
    ssize_t k;
    while (off < kv->len && (k = pread(fd, buf, sizeof buf, (off_t)off)) > 0) {
        size_t n = (size_t)k < kv->len - off ? (size_t)k : kv->len - off;
        if (memcmp(buf, kv->base + off, n) != 0)
            for (size_t i = 0;; i++)
                if (buf[i] != kv->base[off + i])
                    return (long long)(off + i);
        off += n;
    }
    struct stat st;
    if (off != kv->len || fstat(fd, &st) < 0 || (size_t)st.st_size != kv->len)
        return (long long)off;
    return -1;
}

/* Undo the log back to the instant, then compare the image with it. */
static int verify(struct kv_store *kv, struct kv_writer *w, int fd,
                  const char *name)
{
    uint32_t bad = 0;
    if (kv_undo(kv, w->log, atomic_load(&w->log_n), w->log_base, &bad) < 0) {
        fprintf(stderr, "%s: the log and the store disagree at seq %u\n",
                name, bad);
        return -1;
    }
    long long at = first_difference(kv, fd);
    if (at < 0)
        return 0;
    printf("%s: image differs from the store at the snapshot instant at "
           "byte %lld", name, at);
    if ((size_t)at >= kv->values_off && (size_t)at < kv->len) {
        size_t vi = ((size_t)at - kv->values_off) / KV_VSIZE;
        if (vi < kv->nkeys)
            printf(" (value %zu, which held seq %u then)", vi,
                   kv_seq_of(kv, (uint32_t)vi));
    }
    printf("\n");
    return 1;
}

/* ---- one way ---- */

static void keep_trace(const struct kv_writer *w, uint64_t save_start,
                       const struct opts *o, struct outcome *oc)
{
    size_t s = (size_t)((save_start - w->t0) / 1000000u);
    size_t lead = s < 200 ? s : 200;
    size_t end = s + (size_t)oc->r.save_ms + o->tail_ms;
    if (end > w->trace_len)
        end = w->trace_len;
    oc->trace_from = s - lead;
    oc->trace_lead = (double)lead;
    oc->trace_n = end > oc->trace_from ? end - oc->trace_from : 0;
    if (oc->trace_n > oc->trace_cap)
        oc->trace_n = oc->trace_cap;
    memcpy(oc->trace, w->trace + oc->trace_from,
           oc->trace_n * sizeof *oc->trace);
}

static int open_image(const struct opts *o, const char *name, char *path,
                      size_t cap)
{
    snprintf(path, cap, "%s/uvm-kvsave-%ld-%s.img", o->dir, (long)getpid(),
             name);
    return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

static int run_way(struct kv_store *kv, const struct opts *o,
                   struct outcome *oc)
{
    char path[4096];
    int fd = open_image(o, oc->way->name, path, sizeof path);
    struct kv_writer *w = kv_writer_new(kv, o->log_cap, o->timeout, o->seed,
                                        o->nice);
    if (fd < 0 || w == NULL || kv_writer_start(w) < 0) {
        perror("uvm-kvsave: setting up");
        exit(1);
    }
    sleep_ms(o->warm_ms);
    uint64_t save_start = kv_now_ns();
    double before_s = (double)(save_start - w->t0) / 1e9;
    atomic_store(&w->phase, KV_DURING);
    int rc = oc->way->save(kv, w, fd, o->do_fsync, &oc->r);
    if (rc < 0)
        fprintf(stderr, "uvm-kvsave: %s: save: %s\n", oc->way->name,
                strerror(errno));
    sleep_ms(o->tail_ms);
    kv_writer_stop(w);
    oc->ran = 1;
    oc->during = w->hist[KV_DURING];
    oc->before = w->hist[KV_BEFORE];
    oc->ops_s_before = (double)w->ops[KV_BEFORE] / before_s;
    oc->ops_s_during = (double)w->ops[KV_DURING] / (oc->r.save_ms / 1e3);
    keep_trace(w, save_start, o, oc);
    if (atomic_load(&w->overflow)) {
        fprintf(stderr, "uvm-kvsave: %s: the writer's log filled up (%zu "
                "entries); give a larger --log\n", oc->way->name, w->log_cap);
        rc = -1;
    }
    count_writes(kv, w, oc->r.end_seq - oc->r.instant, oc);
    if (rc == 0) {
        int v = verify(kv, w, fd, oc->way->name);
        if (v < 0)
            rc = -1;
        oc->verified = v == 0;
    }
    oc->failed = rc < 0;
    kv_writer_delete(w);
    close(fd);
    if (!o->keep)
        unlink(path);
    return rc;
}

/* ---- report ---- */

#define MIB(x) ((double)(x) / 1048576.0)

static void print_row(const struct outcome *oc)
{
    if (!oc->ran) {
        printf("%-5s not available in this build: %s\n", oc->way->name,
               oc->way->missing);
        return;
    }
    const struct kv_result *r = &oc->r;
    printf("%-5s %8.2f %8.1f %10.1f %8.2f %7.2f %7.2f %5.2f %9.1f %9.1f "
           "%s\n", oc->way->name, r->take_ms, r->save_ms,
           (double)oc->during.max_ns / 1e3,
           (double)kv_hist_quantile(&oc->during, 0.99) / 1e3,
           oc->ops_s_during / 1e6, oc->ops_s_before / 1e6,
           oc->ops_s_during / oc->ops_s_before, MIB(r->extra),
           MIB(oc->pages_written * (size_t)sysconf(_SC_PAGESIZE)),
           oc->failed ? "ERROR" : oc->verified ? "yes" : "NO");
}

static void print_detail(const struct outcome *oc)
{
    const struct kv_result *r = &oc->r;
    if (!oc->ran)
        return;
    printf("  %s: with no save, longest stall %.1f us, p99 %.2f us (the "
           "host's noise); %zu keys changed after the instant (%llu ops "
           "during the save); RSS %.1f -> %.1f MiB", oc->way->name,
           (double)oc->before.max_ns / 1e3,
           (double)kv_hist_quantile(&oc->before, 0.99) / 1e3,
           oc->keys_changed, (unsigned long long)oc->during.n,
           MIB(r->rss_before), MIB(r->rss_peak));
    if (r->child_private || r->child_pte)
        printf("; child Private_Dirty %.1f MiB, page tables %.1f MiB",
               MIB(r->child_private), MIB(r->child_pte));
    if (r->lib_held)
        printf("; uvm_snap_stats held %.1f MiB (pages and reserve), so "
               "%.1f MiB more is the save's buffer and the library's "
               "tables; uvm_snap_release took %.1f ms", MIB(r->lib_held),
               MIB(r->extra) - MIB(r->lib_held), r->release_ms);
    printf("\n");
}

static const struct outcome *find(const struct outcome *oc, size_t n,
                                  const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(oc[i].way->name, name) && oc[i].ran && !oc[i].failed)
            return &oc[i];
    return NULL;
}

static void print_targets(const struct outcome *oc, size_t n)
{
    const struct outcome *f = find(oc, n, "fork"), *u = find(oc, n, "undo");
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    printf("targets (issue 15; timing on this host, judged in this run):\n");
    if (f != NULL && u != NULL) {
        double fs = (double)f->during.max_ns / 1e3;
        double us = (double)u->during.max_ns / 1e3;
        printf("  undo longest stall <= fork's / 10: %.1f us vs %.1f us / 10"
               " = %.1f us: %s\n", us, fs, fs / 10,
               us <= fs / 10 ? "met" : "missed");
    } else {
        printf("  undo longest stall <= fork's / 10: not judged (needs "
               "both ways)\n");
    }
    if (u != NULL) {
        size_t w = u->pages_written * ps;
        printf("  undo extra memory <= pages written during the save: "
               "%.1f MiB vs %.1f MiB: %s\n", MIB(u->r.extra), MIB(w),
               u->r.extra <= w ? "met" : "missed");
    }
    const struct outcome *d = find(oc, n, "redo");
    if (d != NULL && f != NULL)
        printf("  (information) redo longest stall %.1f us (its take copies "
               "the store) vs fork's %.1f us; extra memory %.1f MiB, the "
               "store's copy included\n", (double)d->during.max_ns / 1e3,
               (double)f->during.max_ns / 1e3, MIB(d->r.extra));
}

/* ---- plot ---- */

static int plot(const struct opts *o, const struct outcome *oc, size_t n)
{
    char dat[4096];
    snprintf(dat, sizeof dat, "%s.dat", o->plot);
    FILE *f = fopen(dat, "w");
    if (f == NULL)
        return -1;
    /* At most about 2000 points a way: long saves are drawn with the
     * worst latency of each group of milliseconds. */
    size_t longest = 1;
    for (size_t i = 0; i < n; i++)
        if (oc[i].ran && oc[i].trace_n > longest)
            longest = oc[i].trace_n;
    size_t group = (longest + 1999) / 2000;
    fprintf(f, "# worst writer operation latency (us) in each %zu ms, ms "
            "from the start of the save; one block per way\n", group);
    for (size_t i = 0; i < n; i++) {
        if (!oc[i].ran || oc[i].trace == NULL)
            continue;
        fprintf(f, "# %s\n", oc[i].way->name);
        for (size_t k = 0; k < oc[i].trace_n; k += group) {
            uint32_t worst = 0;
            for (size_t j = k; j < k + group && j < oc[i].trace_n; j++)
                worst = oc[i].trace[j] > worst ? oc[i].trace[j] : worst;
            if (worst != 0)
                fprintf(f, "%.0f %.3f\n", (double)k - oc[i].trace_lead,
                        worst / 1e3);
        }
        fprintf(f, "\n\n");
    }
    fclose(f);
    FILE *g = popen("gnuplot", "w");
    if (g == NULL)
        return -1;
    fprintf(g, "set terminal pngcairo size 1000,560\nset output '%s'\n"
            "set logscale y\nset xlabel 'ms since the save began'\n"
            "set key top left\n"
            "set ylabel 'worst writer op latency (us) per interval'\n"
            "set title 'uvm-kvsave, %.0f MiB store: writer latency around "
            "the save'\n", o->plot, MIB(o->size));
    for (size_t i = 0; i < n; i++)      /* where each save ended */
        if (oc[i].ran)
            fprintf(g, "set arrow from %.1f, graph 0 to %.1f, graph 1 nohead "
                    "dashtype 2\nset label '%s ends' at %.1f, graph 0.97 "
                    "rotate by 90 right front\n", oc[i].r.save_ms, oc[i].r.save_ms,
                    oc[i].way->name, oc[i].r.save_ms);
    fprintf(g, "plot ");
    int idx = 0, first = 1;
    for (size_t i = 0; i < n; i++) {
        if (!oc[i].ran || oc[i].trace == NULL)
            continue;
        fprintf(g, "%s'%s' index %d with steps title '%s'", first ? "" : ", ",
                dat, idx++, oc[i].way->name);
        first = 0;
    }
    fprintf(g, "\n");
    return pclose(g) == 0 ? 0 : -1;
}

/* ---- main ---- */

static void *shared(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("uvm-kvsave: mmap");
        exit(1);
    }
    return p;
}

/* Each way runs in a process of its own with a fresh store, as a server
 * would: after a fork() save, every page the parent had not written is
 * still write-protected by the kernel, and the next way's writer would
 * pay a fault on each (measured at 1 GiB: 0.01 M updates/s "without").
 * The outcome and the trace come back through shared memory. */
static int run_in_child(const struct opts *o, struct outcome *oc)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        alarm(o->timeout);              /* fork() does not inherit alarms */
        struct kv_store kv;
        if (kv_create(&kv, o->size) < 0) {
            perror("uvm-kvsave: store");
            exit(1);
        }
        int rc = run_way(&kv, o, oc);
        kv_destroy(&kv);
        exit(rc < 0 ? 1 : 0);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (!oc->ran)
            fprintf(stderr, "uvm-kvsave: %s: the run died (status %#x)\n",
                    oc->way->name, st);
        oc->failed = 1;
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    alarm(o.timeout);                   /* never hang make check */
    if (kv_hist_selftest() < 0) {
        fprintf(stderr, "uvm-kvsave: the latency histogram is wrong\n");
        return 1;
    }
    struct outcome *oc = shared(16 * sizeof *oc);
    size_t n = 0, cap = (size_t)o.timeout * 1000 + 1;
    for (const char *p = o.ways; *p != '\0' && n < 16;) {
        size_t len = strcspn(p, ",");
        const struct kv_way *wy = find_way(p, len);
        if (wy == NULL)
            usage();
        oc[n].trace = shared(cap * sizeof *oc[n].trace);
        oc[n].trace_cap = cap;
        oc[n++].way = wy;
        p += len + (p[len] == ',');
    }
    struct kv_store kv;
    if (kv_plan(&kv, o.size) < 0) {
        perror("uvm-kvsave: store");
        return 1;
    }
    printf("uvm-kvsave: %.0f MiB store, %u keys x %d-byte values, writer at "
           "full speed, %s, seed %llu\n", MIB(kv.len), kv.nkeys, KV_VSIZE,
           o.do_fsync ? "fsync" : "no fsync", (unsigned long long)o.seed);
    int bad = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        if (oc[i].way->save == NULL)
            continue;
        if (run_in_child(&o, &oc[i]) < 0)
            err = 1;
        bad |= oc[i].ran && !oc[i].failed && !oc[i].verified;
    }
    printf("way    take_ms  save_ms stall_max_us  p99_us  Mops/s  Mops/s "
           "ratio  extra_MiB written_MiB verified\n"
           "                                               during without\n");
    for (size_t i = 0; i < n; i++)
        print_row(&oc[i]);
    for (size_t i = 0; i < n; i++)
        print_detail(&oc[i]);
    print_targets(oc, n);
    if (o.plot != NULL && plot(&o, oc, n) < 0) {
        fprintf(stderr, "uvm-kvsave: could not draw %s\n", o.plot);
        err = 1;
    }
    return err ? 1 : bad ? 3 : 0;
}
