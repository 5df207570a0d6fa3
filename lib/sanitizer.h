/*
 * sanitizer.h: what the sanitizers must be told on libuvm's fault path.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: uvm__san_signal_entry, called first by a fault layer's signal
 * handler.  It is empty unless the library is built with
 * --enable-sanitizers (ASan) or --enable-tsan (TSan); make
 * check-sanitizers (tests/sanitizers.mk) runs the suite in both builds.
 *
 * ASan poisons the redzones around a frame's locals and clears them when
 * the function returns.  Frames that never return leave their poison on
 * the stack: a handler left by siglongjmp, and the frames a stack overflow
 * abandons when the kernel starts the next signal frame at the top of the
 * alternate stack again.  The next handler that runs there would be
 * reported for its own locals.  Everything below the handler's frame is
 * dead, so on the alternate stack the poison there is cleared.
 *
 * TSan calls every handler from a wrapper whose sa_mask blocks all
 * signals, so a fault inside a region handler, which libuvm's SA_NODEFER
 * allows (nesting), would kill the process.  The fault signals are
 * unblocked again; sigreturn restores the interrupted mask.
 *
 * Must never: change anything in a build without a sanitizer.
 */
#ifndef UVM_SANITIZER_H
#define UVM_SANITIZER_H

#include "uvm-int.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define UVM_SAN_ADDRESS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UVM_SAN_ADDRESS 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define UVM_SAN_THREAD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UVM_SAN_THREAD 1
#endif
#endif

#if defined(UVM_SAN_ADDRESS)
#include <sanitizer/asan_interface.h>

/* alt: the alternate stack as the kernel reported it (uc_stack).  Inlined,
 * so the frame address is the calling handler's. */
UVM_AS_SAFE __attribute__((always_inline)) static inline void
uvm__san_signal_entry(const stack_t *alt)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    uintptr_t lo = (uintptr_t)alt->ss_sp;
    if (!(alt->ss_flags & SS_DISABLE) && here > lo &&
        here - lo <= alt->ss_size)
        __asan_unpoison_memory_region((void *)lo, here - lo);
}
#elif defined(UVM_SAN_THREAD)
UVM_AS_SAFE static inline void uvm__san_signal_entry(const stack_t *alt)
{
    sigset_t s;
    (void)alt;
    sigemptyset(&s);
    sigaddset(&s, SIGSEGV);
    sigaddset(&s, SIGBUS);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}
#else
#define uvm__san_signal_entry(alt) ((void)(alt))
#endif

#endif /* UVM_SANITIZER_H */
