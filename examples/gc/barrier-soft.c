/*
 * barrier-soft.c: Baker's software read barrier, the slow path.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: nothing but the slow path of gc_ld (gc.h).  The fast path, inlined
 * at every pointer load of the workloads, checks whether the loaded pointer
 * lies in from-space while a soft collection runs; the slow path forwards
 * the object (copying it if no one has) and writes the to-space address
 * back into the field, so the mutator only ever holds to-space pointers
 * (Baker's invariant 1) and the next load of the field is fast.
 *
 * Fault handler: nothing here runs in it.
 */
#include "gc.h"

gc_obj *gc_soft_slow(gc_obj *o, size_t i)
{
    uint64_t t0 = gc_pause_begin();
    gc_obj *p = gc_forward((gc_obj *)o->f[i]);
    o->f[i] = (gc_word)p;
    gcs.slow_paths++;
    gc_pause_end(H_SLOW, t0);
    return p;
}
