/*
 * sanitizer.h: what the sanitizers must be told and cannot see for
 * themselves: the fault path's signal entry, and the order that page
 * protection makes.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: uvm__san_signal_entry, called first by a fault layer's signal
 * handler, and the TSan annotations of accesses to live pages
 * (uvm__san_ignore_begin/end, uvm__san_read/write).  They are empty
 * unless the library is built with --enable-sanitizers (ASan) or
 * --enable-tsan (TSan); make check-sanitizers (tests/sanitizers.mk) runs
 * the suite in both builds.
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
 * TSan sees every synchronization made through atomics and locks, but not
 * the order that page protection makes.  The snapshot module copies the
 * application's live pages while they are write-protected (snap.c,
 * snap-fault.c): the kernel orders the application's last write before
 * the protection and the copy, and its next write after the fault that
 * waits for the copy, but TSan sees two threads touching the same bytes
 * with nothing between them.  uvm__san_ignore_begin/end bracket exactly
 * such an access to a live page, so that TSan neither checks nor records
 * it; uvm__san_read/uvm__san_write then tell TSan about the other side of
 * the copy (a store slot, the caller's buffer), whose order atomics do
 * make, so that races on those are still found.  Each use says which
 * protection orders it.  (uvm_snap_restore and uvm_snap_diff also touch
 * pages that are writable, when the caller writes them at the same time:
 * that race is the caller's, as with its own memcpy, and the library's
 * side of it is bracketed the same way; snap.c says where.)  All four are
 * AS-safe: they change only the
 * calling thread's TSan state and shadow memory, as the memcpy and memcmp
 * interceptors called from handlers do.
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

#if defined(UVM_SAN_THREAD)
/* The TSan run time's interface (tsan_interface_ann.cpp,
 * tsan_interface.cpp), which <sanitizer/tsan_interface.h> does not
 * declare; GCC has the range functions as built-ins. */
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#if defined(__clang__)
void __tsan_read_range(void *addr, unsigned long size);
void __tsan_write_range(void *addr, unsigned long size);
#endif
#define uvm__san_ignore_begin() __tsan_ignore_thread_begin()
#define uvm__san_ignore_end() __tsan_ignore_thread_end()
#define uvm__san_read(p, n) __tsan_read_range((void *)(p), (n))
#define uvm__san_write(p, n) __tsan_write_range((void *)(p), (n))
#else
#define uvm__san_ignore_begin() ((void)0)
#define uvm__san_ignore_end() ((void)0)
#define uvm__san_read(p, n) ((void)(p), (void)(n))
#define uvm__san_write(p, n) ((void)(p), (void)(n))
#endif

#endif /* UVM_SANITIZER_H */
