/*
 * store.c: the key-value store, an open-addressing hash table with its
 * values in one large range, and the undo of the writer's log on it.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: the layout of the range (header page, table, values) and the
 * value format.  Invariant: every value holds kv_fill(key, seq) for the
 * seq in its word 0, so any past state is the end state with the log
 * undone (the verification in main.c relies on it).  Must never: keep
 * anything that belongs to the image outside the range, or let a value
 * straddle two pages.
 */
#include "kvsave.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* splitmix64's finaliser: a bijection, so distinct i give distinct keys. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t kv_key(uint32_t i)
{
    uint64_t k = mix((uint64_t)i + 0x9e3779b97f4a7c15ULL);
    return k != 0 ? k : 1;              /* mix(x) == 0 only for one x */
}

void kv_fill(uint64_t *v, uint64_t key, uint32_t seq)
{
    uint64_t x = mix(key ^ ((uint64_t)seq << 32 | seq));
    v[0] = seq;
    v[1] = key;
    for (int i = 2; i < KV_VWORDS; i++)
        v[i] = x + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
}

uint32_t kv_lookup(const struct kv_store *kv, uint64_t key)
{
    size_t mask = kv->nslots - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
        if (kv->table[i].key == key)
            return (uint32_t)kv->table[i].vindex;
        KV_ASSERT(kv->table[i].key != 0);  /* every key was inserted */
    }
}

static void insert(struct kv_store *kv, uint64_t key, uint32_t vi)
{
    size_t mask = kv->nslots - 1, i = mix(key) & mask;
    while (kv->table[i].key != 0)
        i = (i + 1) & mask;
    kv->table[i].key = key;
    kv->table[i].vindex = vi;
}

/* Largest key count whose table and values fit in len after the header. */
static void layout(struct kv_store *kv, size_t len, size_t ps)
{
    size_t n = (len - ps) / (KV_VSIZE + 2 * sizeof(struct kv_slot));
    for (;; n -= n / 64 + 1) {
        size_t slots = 1;
        while (slots < 2 * n)
            slots <<= 1;
        size_t toff = ps, voff = toff + slots * sizeof(struct kv_slot);
        voff = (voff + ps - 1) / ps * ps;
        if (voff + n * KV_VSIZE <= len) {
            kv->nslots = slots;
            kv->values_off = voff;
            kv->nkeys = (uint32_t)n;
            return;
        }
    }
}

int kv_plan(struct kv_store *kv, size_t len)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    len = (len + ps - 1) / ps * ps;
    if (len < 16 * ps || len / (KV_VSIZE + 32) >= UINT32_MAX)
        return errno = EINVAL, -1;
    memset(kv, 0, sizeof *kv);
    kv->len = len;
    layout(kv, len, ps);
    return 0;
}

int kv_create(struct kv_store *kv, size_t len)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    if (kv_plan(kv, len) < 0)
        return -1;
    /* Private anonymous memory, the heap of a Redis-like server. */
    kv->base = mmap(NULL, kv->len, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (kv->base == MAP_FAILED)
        return kv->base = NULL, -1;
    kv->table = (struct kv_slot *)(kv->base + ps);
    kv->values = (uint64_t *)(kv->base + kv->values_off);
    memcpy(kv->base, "kvsave 1", 8);
    memcpy(kv->base + 8, &kv->nkeys, sizeof kv->nkeys);
    for (uint32_t i = 0; i < kv->nkeys; i++) {
        insert(kv, kv_key(i), i);
        kv_fill(kv->values + (size_t)i * KV_VWORDS, kv_key(i), 0);
    }
    /* Touch the tail too, so that every page is resident before timing. */
    size_t used = kv->values_off + (size_t)kv->nkeys * KV_VSIZE;
    memset(kv->base + used, 0xee, kv->len - used);
    return 0;
}

void kv_destroy(struct kv_store *kv)
{
    if (kv->base != NULL)
        munmap(kv->base, kv->len);
    kv->base = NULL;
}

int kv_undo(struct kv_store *kv, const struct kv_logent *ents, size_t n,
            uint32_t base, uint32_t *bad)
{
    for (size_t j = n; j-- > 0;) {
        uint32_t seq = base + (uint32_t)j + 1, vi = ents[j].vindex;
        uint64_t *v = kv->values + (size_t)vi * KV_VWORDS;
        if (vi >= kv->nkeys || v[0] != seq) {
            *bad = seq;
            return -1;
        }
        kv_fill(v, kv_key(vi), ents[j].prev);
    }
    return 0;
}
