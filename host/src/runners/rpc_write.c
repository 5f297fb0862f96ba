/* rpc_write.c: the backward protobuf writer (rpc_write.h). */
#include "rpc_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_frame.h"

/* Grows the buffer for n more bytes in front, keeping the content at its end. */
static int grow(fnh__pbw *w, size_t n)
{
    if (w->failed)
        return -1;
    size_t cap = w->cap ? w->cap : 512;
    while (cap < w->len + n)
        cap *= 2;
    char *b = malloc(cap);
    if (!b) {
        w->failed = 1;
        return -1;
    }
    if (w->len)
        memcpy(b + cap - w->len, w->buf + w->cap - w->len, w->len);
    free(w->buf);
    w->buf = b;
    w->cap = cap;
    return 0;
}

static inline int room(fnh__pbw *w, size_t n)
{
    return (w->len + n <= w->cap && !w->failed) || grow(w, n) == 0;
}

void fnh__pbw_raw(fnh__pbw *w, const void *data, size_t n)
{
    if (!room(w, n))
        return;
    w->len += n;
    memcpy(w->buf + w->cap - w->len, data, n);
}

static void put_varint(fnh__pbw *w, uint64_t v)
{
    if (v < 0x80) { /* tags and most lengths */
        if (room(w, 1))
            w->buf[w->cap - ++w->len] = (char)v;
        return;
    }
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    fnh__pbw_raw(w, tmp, n);
}

static void put_tag(fnh__pbw *w, unsigned field, unsigned wire_type)
{
    put_varint(w, (uint64_t)field << 3 | wire_type);
}

void fnh__pbw_end(fnh__pbw *w, unsigned field, size_t mark)
{
    put_varint(w, w->len - mark);
    put_tag(w, field, 2);
}

void fnh__pbw_bytes(fnh__pbw *w, unsigned field, const void *data, size_t n)
{
    size_t mark = w->len;
    fnh__pbw_raw(w, data, n);
    fnh__pbw_end(w, field, mark);
}

void fnh__pbw_string(fnh__pbw *w, unsigned field, const char *s)
{
    if (s && *s)
        fnh__pbw_bytes(w, field, s, strlen(s));
}

void fnh__pbw_varint(fnh__pbw *w, unsigned field, uint64_t v)
{
    if (!v)
        return;
    put_varint(w, v);
    put_tag(w, field, 0);
}

int fnh__pbw_frame(fnh__pbw *w, fnh__buf *out)
{
    size_t n = w->len;
    int rc = w->failed ? -ENOMEM : n > FNH__RPC_MAX_MESSAGE ? -EMSGSIZE : 0;
    if (!rc && fnh__buf_reserve(out, FNH__RPC_HEADER + n))
        rc = -ENOMEM;
    if (!rc) {
        unsigned char *h = (unsigned char *)out->data + out->len;
        fnh__rpc_frame_header(h, n);
        memcpy(h + FNH__RPC_HEADER, w->buf + w->cap - n, n);
        out->len += FNH__RPC_HEADER + n;
        out->data[out->len] = '\0';
    }
    w->len = 0;
    w->failed = 0;
    if (w->cap > (1u << 20)) /* a large message's memory is not kept */
        fnh__pbw_free(w);
    return rc;
}

void fnh__pbw_free(fnh__pbw *w)
{
    free(w->buf);
    *w = (fnh__pbw){0};
}
