/*
 * diag.c: the last words of a process that dies of a fault no region took.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: async-signal-safe formatting to a file descriptor, the one-line
 * "no libuvm region" report and the backtrace of the interrupted context.
 * Must never: call stdio or malloc (it runs in the SIGSEGV handler of a
 * process about to dump core), or change errno as seen by the caller.
 *
 * The backtrace uses libunwind's local unwinder started from the signal's
 * ucontext (unw_init_local2 with UNW_INIT_SIGNAL_FRAME); libunwind
 * documents unw_init_local and unw_step as safe in signal handlers.  The
 * names come from symbol.c: unw_get_proc_name calls malloc in libunwind 1.6.
 */
#include "uvm-int.h"
#include "symbol.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DIAG_MAX_FRAMES 32

UVM_AS_SAFE void uvm__write_str(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

UVM_AS_SAFE void uvm__write_hex(int fd, uintptr_t v)
{
    char buf[2 + 16 + 1];
    char *p = buf + sizeof buf - 1;
    *p = '\0';
    do {
        *--p = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v != 0);
    *--p = 'x';
    *--p = '0';
    uvm__write_str(fd, p);
}

UVM_AS_SAFE void uvm__write_dec(int fd, unsigned long v)
{
    char buf[24];
    char *p = buf + sizeof buf - 1;
    *p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    uvm__write_str(fd, p);
}

static const char *diag_access_name(int access)
{
    switch (access) {
    case UVM_ACCESS_READ:  return "read";
    case UVM_ACCESS_WRITE: return "write";
    case UVM_ACCESS_EXEC:  return "exec";
    default:               return "unknown access";
    }
}

UVM_AS_SAFE static void diag_backtrace(void *uc)
{
    unw_cursor_t cur;
    if (unw_init_local2(&cur, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) < 0)
        return;
    for (int i = 0; i < DIAG_MAX_FRAMES; i++) {
        unw_word_t ip = 0, off = 0;
        char name[128];
        unw_get_reg(&cur, UNW_REG_IP, &ip);
        uvm__write_str(2, "libuvm:   #");
        uvm__write_dec(2, (unsigned long)i);
        uvm__write_str(2, " ");
        uvm__write_hex(2, (uintptr_t)ip);
        if (uvm__symbol_name(ip, name, sizeof name, &off) == 0) {
            uvm__write_str(2, " ");
            uvm__write_str(2, name);
            uvm__write_str(2, "+");
            uvm__write_hex(2, (uintptr_t)off);
        }
        uvm__write_str(2, "\n");
        if (unw_step(&cur) <= 0)
            break;
    }
}

/* "libuvm: SIGSEGV at 0x... (write): no libuvm region; default action" */
UVM_AS_SAFE void uvm__diag_fault(int sig, const siginfo_t *si, void *uc,
                                 int access)
{
    int saved = errno;
    uvm__write_str(2, sig == SIGBUS ? "libuvm: SIGBUS at " :
                                      "libuvm: SIGSEGV at ");
    uvm__write_hex(2, (uintptr_t)si->si_addr);
    uvm__write_str(2, " (");
    uvm__write_str(2, diag_access_name(access));
    uvm__write_str(2, "): no libuvm region claimed it; "
                      "taking the default action\n");
    if (uc != NULL) {
        uvm__write_str(2, "libuvm: backtrace:\n");
        diag_backtrace(uc);
    }
    errno = saved;
}

#ifdef UVM_DEBUG
void uvm__assert_fail(const char *expr, const char *file, int line)
{
    uvm__write_str(2, "libuvm: assertion failed: ");
    uvm__write_str(2, expr);
    uvm__write_str(2, " at ");
    uvm__write_str(2, file);
    uvm__write_str(2, ":");
    uvm__write_dec(2, (unsigned long)line);
    uvm__write_str(2, "\n");
    abort();
}
#endif
