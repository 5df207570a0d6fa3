/*
 * sigsegv.c: the libsigsegv variant of the loops.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * What a program using GNU libsigsegv's dispatcher writes: a global
 * handler (sigsegv_install_handler) that hands the address to
 * sigsegv_dispatch, and one area per page region whose handler does the
 * work (doc/bench.md [bench.sigsegv]).  libsigsegv has no protection
 * primitives, so the work calls mprotect as the raw variant does.
 *
 * This is the only file that includes <sigsegv.h>: the header redefines
 * SIGSTKSZ and pulls in <ucontext.h>.  libsigsegv is GPLv2+ and is linked
 * into the benchmark only, never into libuvm.
 */
#include "config.h"            /* _GNU_SOURCE, from configure */
#include "bench.h"

#include <signal.h>
#include <sigsegv.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static sigsegv_dispatcher dispatcher;
static void (*area_work)(char *page);
static uintptr_t page_mask;

static int area_handler(void *fault_address, void *arg)
{
    (void)arg;
    area_work((char *)((uintptr_t)fault_address & page_mask));
    return 1;                /* handled: re-execute the store */
}

/* libsigsegv calls this with serious = 0 first; a claimed fault is
 * dispatched once. */
static int global_handler(void *fault_address, int serious)
{
    (void)serious;
    return sigsegv_dispatch(&dispatcher, fault_address);
}

int sigsegv_variant_init(char *mem, size_t len, void (*work)(char *page),
                         void *act)
{
    long ps = sysconf(_SC_PAGESIZE);
    page_mask = ~(uintptr_t)(ps - 1);
    area_work = work;
    sigsegv_init(&dispatcher);
    if (sigsegv_register(&dispatcher, mem, len, area_handler, NULL) == NULL ||
        sigsegv_install_handler(global_handler) != 0) {
        fprintf(stderr, "uvm-bench: libsigsegv: cannot install its "
                "handler\n");
        return -1;
    }
    return sigaction(SIGSEGV, NULL, (struct sigaction *)act);
}
