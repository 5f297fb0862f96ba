/* rpc_write.h: a protobuf writer that fills its buffer from the end. The
 * fields of a message are written last to first, so when a nested message
 * or a string is complete its length is known and goes in front of it:
 * nothing is measured twice or moved. The messages sent for every
 * invocation (InvocationRequest, InvocationResponse) are written with it;
 * protobuf-c's generic packer walks every field of every descriptor twice.
 * Single-threaded per writer. May call: util. */
#ifndef FNH_RPC_WRITE_H
#define FNH_RPC_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Zero-initialise; the bytes written are buf[cap - len, cap). */
typedef struct fnh__pbw {
    char *buf;
    size_t cap, len;
    int failed; /* out of memory: the message is lost, fnh__pbw_frame says so */
} fnh__pbw;

/* n raw bytes in front of what is written (no tag). data is borrowed. */
void fnh__pbw_raw(fnh__pbw *w, const void *data, size_t n);
/* A length-delimited field: tag, length, n bytes of data (copied; written
 * even when n is 0, as a oneof member must be). */
void fnh__pbw_bytes(fnh__pbw *w, unsigned field, const void *data, size_t n);
/* A proto3 string field (s copied): skipped when s is NULL or empty. */
void fnh__pbw_string(fnh__pbw *w, unsigned field, const char *s);
/* A varint field (int32, enum, bool): skipped when v is 0, as proto3 does. */
void fnh__pbw_varint(fnh__pbw *w, unsigned field, uint64_t v);
/* Where a nested message or composed string starts: pass it to
 * fnh__pbw_end once its content is written. */
static inline size_t fnh__pbw_mark(const fnh__pbw *w)
{
    return w->len;
}
/* Makes everything written since mark field `field` (length-delimited). */
void fnh__pbw_end(fnh__pbw *w, unsigned field, size_t mark);
/* The first byte of what is written so far (the last thing written), for
 * changing it in place (lower-casing); valid until the next write. */
static inline char *fnh__pbw_front(fnh__pbw *w)
{
    return w->buf + w->cap - w->len;
}
/* Appends what was written to out as one frame of the worker protocol
 * (rpc_frame.h) and empties w (keeping its memory). Returns 0, -ENOMEM, or
 * -EMSGSIZE past FNH__RPC_MAX_MESSAGE. */
int fnh__pbw_frame(fnh__pbw *w, fnh__buf *out);
void fnh__pbw_free(fnh__pbw *w);

#endif
