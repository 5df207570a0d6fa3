/*
 * symbol.c: the function around a code address, for the backtrace of an
 * unclaimed fault (diag.c), without malloc and without locks.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: nothing but the lookup.  Why not libunwind's unw_get_proc_name:
 * in libunwind 1.6 it calls malloc (get_elf_image, for the /proc/PID/root
 * prefix of the file name), which TSan reports as a signal-unsafe call
 * (make check-tsan).  A fault inside malloc, the most common crash of all,
 * would then deadlock the report on malloc's lock, and the process would
 * hang instead of dying.  This is the same lookup with system calls only:
 * the mapping that holds the address, from /proc/self/maps read into a
 * stack buffer; the file behind it, mapped read-only; in its .symtab (or,
 * for stripped files, its .dynsym), the function whose extent holds the
 * address, else the nearest symbol without a size below it (assembler
 * entry points such as _start).
 *
 * Must never: allocate, lock, or trust the file: every offset read from it
 * is checked against its size and alignment before use.
 */
#include "symbol.h"
#include "vma.h"

#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the mapping of an address: /proc/self/maps ---- */

/* Past the spaces, then past the field that follows them. */
UVM_AS_SAFE static const char *skip_field(const char *p, const char *e)
{
    while (p < e && *p == ' ')
        p++;
    while (p < e && *p != ' ')
        p++;
    return p;
}

/* What maps_line looks for and fills in. */
struct maps_query {
    uintptr_t ip;
    uintptr_t start;
    uint64_t off;
    char *path;
    size_t cap;
};

/* One line "start-end perms offset dev inode   path", [l, e).  1 if it
 * maps q->ip from a file (path and the mapping's start and file offset
 * filled in), -1 if it maps ip otherwise, 0 if it does not map ip. */
UVM_AS_SAFE static int maps_line(const char *l, const char *e, void *arg)
{
    struct maps_query *q = arg;
    const char *p = l;
    uint64_t lo, hi, o;
    if (!uvm__maps_hex(&p, e, &lo) || p == e || *p++ != '-' ||
        !uvm__maps_hex(&p, e, &hi) || q->ip < lo || q->ip >= hi)
        return 0;
    p = skip_field(p, e);                         /* perms */
    while (p < e && *p == ' ')
        p++;
    if (!uvm__maps_hex(&p, e, &o))
        return -1;
    p = skip_field(skip_field(p, e), e);          /* dev, inode */
    while (p < e && *p == ' ')
        p++;
    size_t n = (size_t)(e - p);
    if (n == 0 || *p != '/' || n >= q->cap)
        return -1;
    memcpy(q->path, p, n);
    q->path[n] = '\0';
    q->start = (uintptr_t)lo;
    q->off = o;
    return 1;
}

UVM_AS_SAFE static int maps_find(uintptr_t ip, uintptr_t *start,
                                 uint64_t *off, char *path, size_t cap)
{
    struct maps_query q = { .ip = ip, .path = path, .cap = cap };
    if (uvm__maps_foreach(maps_line, &q) <= 0)
        return -ENOENT;
    *start = q.start;
    *off = q.off;
    return 0;
}

/* ---- the symbol: the file's ELF tables ---- */

struct image {
    const unsigned char *p;
    size_t size;
};

/* [off, off + len) lies in the file, and off is aligned to align. */
UVM_AS_SAFE static int image_has(const struct image *im, uint64_t off,
                                 uint64_t len, uint64_t align)
{
    return off % align == 0 && off <= im->size && len <= im->size - off;
}

/* The link-time address of file offset fo: through the PT_LOAD that
 * holds it. */
UVM_AS_SAFE static int image_vaddr(const struct image *im,
                                   const Elf64_Ehdr *eh, uint64_t fo,
                                   uint64_t *va)
{
    if (eh->e_phentsize != sizeof(Elf64_Phdr) ||
        !image_has(im, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr),
                   8))
        return 0;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(im->p + eh->e_phoff);
    for (unsigned i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && fo >= ph[i].p_offset &&
            fo - ph[i].p_offset < ph[i].p_filesz) {
            *va = fo - ph[i].p_offset + ph[i].p_vaddr;
            return 1;
        }
    return 0;
}

/* In the symbol table of section type `type`: the function whose extent
 * holds va, else the nearest sizeless one below it. */
UVM_AS_SAFE static int image_search(const struct image *im,
                                    const Elf64_Ehdr *eh, uint32_t type,
                                    uint64_t va, char *name, size_t cap,
                                    uintptr_t *off)
{
    if (eh->e_shentsize != sizeof(Elf64_Shdr) ||
        !image_has(im, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr),
                   8))
        return 0;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(im->p + eh->e_shoff);
    for (unsigned k = 0; k < eh->e_shnum; k++) {
        const Elf64_Shdr *tab = &sh[k];
        if (tab->sh_type != type || tab->sh_link >= eh->e_shnum)
            continue;
        const Elf64_Shdr *str = &sh[tab->sh_link];
        if (!image_has(im, tab->sh_offset, tab->sh_size, 8) ||
            !image_has(im, str->sh_offset, str->sh_size, 1))
            continue;
        const Elf64_Sym *sym = (const Elf64_Sym *)(im->p + tab->sh_offset);
        const Elf64_Sym *best = NULL, *near = NULL;
        for (size_t j = 0; j < tab->sh_size / sizeof *sym; j++) {
            const Elf64_Sym *s = &sym[j];
            int t = ELF64_ST_TYPE(s->st_info);
            if ((t != STT_FUNC && t != STT_GNU_IFUNC && t != STT_NOTYPE) ||
                s->st_shndx == SHN_UNDEF || s->st_value > va ||
                s->st_name == 0)
                continue;
            if (t != STT_NOTYPE && va - s->st_value < s->st_size) {
                best = s;
                break;
            }
            if (s->st_size == 0 && (near == NULL || s->st_value > near->st_value))
                near = s;
        }
        if (best == NULL)
            best = near;
        if (best == NULL || best->st_name >= str->sh_size)
            continue;
        const char *s = (const char *)im->p + str->sh_offset + best->st_name;
        size_t max = str->sh_size - best->st_name, i = 0;
        for (; i + 1 < cap && i < max && s[i] != '\0'; i++)
            name[i] = s[i];
        name[i] = '\0';
        *off = (uintptr_t)(va - best->st_value);
        return i > 0;
    }
    return 0;
}

UVM_AS_SAFE static int image_lookup(const struct image *im, uint64_t fo,
                                    char *name, size_t cap, uintptr_t *off)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)im->p;
    uint64_t va;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 || !image_vaddr(im, eh, fo, &va))
        return 0;
    return image_search(im, eh, SHT_SYMTAB, va, name, cap, off) ||
           image_search(im, eh, SHT_DYNSYM, va, name, cap, off);
}

UVM_AS_SAFE int uvm__symbol_name(uintptr_t ip, char *name, size_t cap,
                                 uintptr_t *off)
{
    char path[1024];
    uintptr_t start;
    uint64_t fo;
    if (cap == 0 || maps_find(ip, &start, &fo, path, sizeof path) != 0)
        return -ENOENT;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -ENOENT;
    struct stat st;
    struct image im = { MAP_FAILED, 0 };
    if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(Elf64_Ehdr)) {
        im.size = (size_t)st.st_size;
        im.p = mmap(NULL, im.size, PROT_READ, MAP_PRIVATE, fd, 0);
    }
    close(fd);
    if (im.p == MAP_FAILED)
        return -ENOENT;
    int found = image_lookup(&im, ip - start + fo, name, cap, off);
    munmap((void *)im.p, im.size);
    return found ? 0 : -ENOENT;
}
