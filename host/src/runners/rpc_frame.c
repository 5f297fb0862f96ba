/* rpc_frame.c: gRPC-style framing of StreamingMessage: packing one message
 * behind its 5-byte header, and a reassembly buffer that checks each
 * announced length against the limit before buffering the message. */
#include "rpc_frame.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "arena.h"
#include "rpc_read.h"

#define READ_CHUNK 65536u
#define KEEP_BYTES (1u << 20)

int fnh__rpc_frame_append(fnh__buf *out, const fnh__rpc_msg *m)
{
    size_t n = azure_functions_rpc_messages__streaming_message__get_packed_size(m);
    if (n > FNH__RPC_MAX_MESSAGE)
        return -EMSGSIZE;
    if (fnh__buf_reserve(out, FNH__RPC_HEADER + n))
        return -ENOMEM;
    unsigned char *h = (unsigned char *)out->data + out->len;
    fnh__rpc_frame_header(h, n);
    azure_functions_rpc_messages__streaming_message__pack(m, h + FNH__RPC_HEADER);
    out->len += FNH__RPC_HEADER + n;
    out->data[out->len] = '\0';
    return 0;
}

void fnh__rpc_reader_init(fnh__rpc_reader *r, uint32_t max)
{
    memset(r, 0, sizeof *r);
    r->max = max;
}

static uint32_t limit(const fnh__rpc_reader *r)
{
    return r->max ? r->max : FNH__RPC_MAX_MESSAGE;
}

/* The announced length of the frame at the read position, when its header
 * has arrived; else -1. */
static int64_t frame_len(const fnh__rpc_reader *r)
{
    if (r->buf.len - r->off < FNH__RPC_HEADER)
        return -1;
    const unsigned char *h = (const unsigned char *)r->buf.data + r->off;
    return (int64_t)((uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4]);
}

size_t fnh__rpc_reader_pending(const fnh__rpc_reader *r)
{
    size_t have = r->buf.len - r->off;
    int64_t n = frame_len(r);
    if (n < 0)
        return have ? FNH__RPC_HEADER - have : 0;
    size_t whole = FNH__RPC_HEADER + (size_t)n;
    return whole > have ? whole - have : 0;
}

size_t fnh__rpc_reader_space(fnh__rpc_reader *r, char **p)
{
    if (r->off) { /* move the unread tail to the front */
        memmove(r->buf.data, r->buf.data + r->off, r->buf.len - r->off);
        r->buf.len -= r->off;
        r->off = 0;
    }
    size_t want = READ_CHUNK;
    int64_t n = frame_len(r);
    if (n >= 0 && n <= (int64_t)limit(r)) {
        size_t rest = FNH__RPC_HEADER + (size_t)n - r->buf.len;
        if (rest > want)
            want = rest;
    }
    if (fnh__buf_reserve(&r->buf, want))
        return 0;
    *p = r->buf.data + r->buf.len;
    return r->buf.cap - r->buf.len - 1; /* the buffer keeps a NUL byte */
}

void fnh__rpc_reader_commit(fnh__rpc_reader *r, size_t n)
{
    r->buf.len += n;
    r->buf.data[r->buf.len] = '\0';
}

/* Unpacked messages live in one arena each: protobuf-c's many small
 * allocations become a few chunk allocations, and freeing a message is
 * freeing its arena. The arena's control block sits in front of the
 * message (the first allocation unpack makes is the message itself). */
typedef struct unpacked {
    fnh__arena arena;
    _Alignas(16) unsigned char msg[];
} unpacked;

static void *arena_alloc_cb(void *data, size_t size)
{
    return fnh__arena_alloc(data, size);
}

static void arena_free_cb(void *data, void *p)
{
    (void)data;
    (void)p; /* the whole arena goes at once */
}

static fnh__rpc_msg *unpack(const unsigned char *data, size_t len)
{
    fnh__arena a = {0};
    /* an invocation's message: read here, into room behind the control block */
    unpacked *u = fnh__arena_alloc(&a, sizeof *u + sizeof(fnh__rpc_msg));
    if (!u)
        return NULL;
    u->arena = a;
    fnh__rpc_msg *m = (fnh__rpc_msg *)(void *)u->msg;
    azure_functions_rpc_messages__streaming_message__init(m);
    int rc = fnh__rpc_read_invocation(m, data, len, &u->arena);
    if (rc == 0)
        return m;
    a = u->arena;
    fnh__arena_free(&a);
    if (rc < 0)
        return NULL;
    /* any other message: protobuf-c, whose first allocation is the message */
    if (!(u = fnh__arena_alloc(&a, sizeof *u)))
        return NULL;
    ProtobufCAllocator al = {arena_alloc_cb, arena_free_cb, &u->arena};
    u->arena = a;
    m = azure_functions_rpc_messages__streaming_message__unpack(&al, len, data);
    if (!m || (void *)m != (void *)u->msg) { /* not laid out as expected: give up */
        fnh__arena tmp = u->arena;
        fnh__arena_free(&tmp);
        return NULL;
    }
    return m;
}

int fnh__rpc_reader_next(fnh__rpc_reader *r, fnh__rpc_msg **out)
{
    *out = NULL;
    int64_t n = frame_len(r);
    if (n < 0)
        return 0;
    if (n > (int64_t)limit(r))
        return -EMSGSIZE;
    const unsigned char *h = (const unsigned char *)r->buf.data + r->off;
    if (h[0] != 0)
        return -EPROTO;
    if (r->buf.len - r->off < FNH__RPC_HEADER + (size_t)n)
        return 0;
    *out = unpack(h + FNH__RPC_HEADER, (size_t)n);
    r->off += FNH__RPC_HEADER + (size_t)n;
    if (r->off == r->buf.len) {
        r->off = r->buf.len = 0;
        if (r->buf.cap > KEEP_BYTES)
            fnh__buf_free(&r->buf); /* a big message does not pin its memory */
    }
    return *out ? 1 : -EPROTO;
}

void fnh__rpc_reader_free(fnh__rpc_reader *r)
{
    fnh__buf_free(&r->buf);
    r->off = 0;
}

void fnh__rpc_msg_free(fnh__rpc_msg *m)
{
    if (!m)
        return;
    unpacked *u = (unpacked *)(void *)((unsigned char *)m - offsetof(unpacked, msg));
    fnh__arena a = u->arena; /* u itself lives in the arena */
    fnh__arena_free(&a);
}
