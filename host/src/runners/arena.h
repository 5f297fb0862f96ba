/* arena.h: a bump allocator for one protobuf message tree that is dropped
 * at once: one built to be packed (load requests), or one read from the
 * wire (rpc_frame, rpc_read). Allocations are
 * zeroed; a failed one sets `failed` and returns NULL, so builders may check
 * once at the end. One thread; header-only. May call: libc. */
#ifndef FNH_ARENA_H
#define FNH_ARENA_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct fnh__arena_chunk {
    struct fnh__arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} fnh__arena_chunk;

typedef struct fnh__arena {
    fnh__arena_chunk *head;
    int failed;
} fnh__arena;

#define FNH__ARENA_CHUNK 4096

/* One freed chunk of the usual size, kept for the next arena (taken and
 * given back atomically, so any thread may): a message per invocation would
 * otherwise allocate and free one each time. */
static fnh__arena_chunk *fnh__arena_spare;

static inline void *fnh__arena_alloc(fnh__arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    fnh__arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > FNH__ARENA_CHUNK ? n : FNH__ARENA_CHUNK;
        c = cap == FNH__ARENA_CHUNK ? __atomic_exchange_n(&fnh__arena_spare, NULL, __ATOMIC_ACQ_REL)
                                    : NULL;
        if (!c && !(c = malloc(sizeof *c + cap))) {
            a->failed = 1;
            return NULL;
        }
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

/* Copy of n bytes of s plus a NUL. */
static inline char *fnh__arena_strndup(fnh__arena *a, const char *s, size_t n)
{
    char *p = fnh__arena_alloc(a, n + 1);
    if (p && n)
        memcpy(p, s, n);
    return p;
}

static inline void fnh__arena_free(fnh__arena *a)
{
    while (a->head) {
        fnh__arena_chunk *n = a->head->next, *none = NULL;
        if (a->head->cap != FNH__ARENA_CHUNK ||
            !__atomic_compare_exchange_n(&fnh__arena_spare, &none, a->head, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            free(a->head);
        a->head = n;
    }
    a->failed = 0;
}

#endif
