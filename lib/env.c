/*
 * env.c: the environment variables libuvm reads, parsed in one place.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 *   UVM_BACKEND=auto|mprotect   protection mechanism (default auto).
 *
 * Values are parsed strictly: an unknown value is ignored with one warning
 * on stderr.  Read once, on first use, never on the fault path.
 */
#include "uvm-int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int env_backend = UVM__BACKEND_AUTO;  /* (c) after env_once */

static void env_parse(void)
{
    const char *v = getenv("UVM_BACKEND");
    if (v == NULL || strcmp(v, "auto") == 0 || strcmp(v, "") == 0)
        env_backend = UVM__BACKEND_AUTO;
    else if (strcmp(v, "mprotect") == 0)
        env_backend = UVM__BACKEND_MPROTECT;
    else
        fprintf(stderr, "libuvm: ignoring UVM_BACKEND=%s "
                        "(expected auto or mprotect)\n", v);
}

/* For the fault path, which may not run pthread_once: the value parsed so
 * far (AUTO before the first uvm__env_backend, which every way of creating
 * a region calls). */
UVM_AS_SAFE int uvm__env_backend_cached(void)
{
    return atomic_load(&env_backend);
}

int uvm__env_backend(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, env_parse);
    return env_backend;
}
