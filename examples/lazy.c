/*
 * lazy.c: memory that comes into being page by page, on first touch.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * The README's example: reserve a range with no access, TRAP it, and let
 * the handler UNPROT each page the program touches.  Build with
 *   cc lazy.c $(pkg-config --cflags --libs uvm)
 */
#include <stdio.h>
#include <uvm.h>

static int first_touch(const struct uvm_fault *f)
{
    ++*(int *)f->arg;                               /* count the pages */
    return uvm_unprot(f->page, PROT_READ | PROT_WRITE) == 0 ? UVM_RETRY
                                                           : UVM_DECLINE;
}

int main(void)
{
    size_t ps = uvm_pagesize(), len = 1024 * ps;
    int touched = 0;
    char *heap = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (heap == MAP_FAILED)
        return perror("mmap"), 1;
    uvm_region *r = uvm_trap(heap, len, first_touch, &touched);
    if (r == NULL)
        return perror("uvm_trap"), 1;
    for (size_t i = 0; i < len; i += 10 * ps)       /* every tenth page */
        heap[i] = 1;
    printf("%d of %zu pages touched\n", touched, len / ps);
    uvm_untrap(r);
    return touched == 103 ? 0 : 1;
}
