/* rpc_frame.h: the worker protocol's wire format. Messages are Azure's
 * AzureFunctionsRpcMessages.StreamingMessage (host/proto/FunctionRpc.proto),
 * each framed exactly like a gRPC message: one flag byte (0: not
 * compressed), a 4-byte big-endian length, the protobuf bytes. Sans I/O:
 * callers move the bytes, so the isolated native runner (socketpair) and a
 * gRPC transport (HTTP/2 DATA frames) share it. Any thread; one reader
 * belongs to one thread. May call: protobuf-c, util. */
#ifndef FNH_RPC_FRAME_H
#define FNH_RPC_FRAME_H

#include <stdint.h>

#include "FunctionRpc.pb-c.h"
#include "util.h"

typedef AzureFunctionsRpcMessages__StreamingMessage fnh__rpc_msg;

#define FNH__RPC_HEADER 5
/* The longest message either side buffers (a 100 MB body plus headroom). */
#define FNH__RPC_MAX_MESSAGE (256u << 20)

/* Writes the 5-byte frame header for a message of n bytes at h. */
static inline void fnh__rpc_frame_header(unsigned char *h, size_t n)
{
    h[0] = 0; /* not compressed */
    h[1] = (unsigned char)(n >> 24);
    h[2] = (unsigned char)(n >> 16);
    h[3] = (unsigned char)(n >> 8);
    h[4] = (unsigned char)n;
}

/* Appends m, framed, to out. Returns 0, -ENOMEM, or -EMSGSIZE when the
 * packed message would exceed FNH__RPC_MAX_MESSAGE. */
int fnh__rpc_frame_append(fnh__buf *out, const fnh__rpc_msg *m);

/* Reassembles frames from bytes arriving in any pieces. */
typedef struct fnh__rpc_reader {
    fnh__buf buf; /* received bytes; buf.data + off is the first unread one */
    size_t off;
    uint32_t max; /* longest message accepted */
} fnh__rpc_reader;

/* max 0 = FNH__RPC_MAX_MESSAGE. A zeroed reader is also valid. */
void fnh__rpc_reader_init(fnh__rpc_reader *r, uint32_t max);
/* Space for the next read: *p receives where to put bytes, the return value
 * how many fit (at least 64 KiB, or the rest of a long frame whose header
 * has arrived). 0 when out of memory. Follow with fnh__rpc_reader_commit. */
size_t fnh__rpc_reader_space(fnh__rpc_reader *r, char **p);
/* n bytes were written where fnh__rpc_reader_space pointed. */
void fnh__rpc_reader_commit(fnh__rpc_reader *r, size_t n);
/* Takes the next whole message: returns 1 with *out (caller frees with
 * fnh__rpc_msg_free), 0 when more bytes are needed, -EMSGSIZE when a
 * header announces more than the limit (checked before anything is
 * buffered for it; the stream is then unusable), -EPROTO for a compressed
 * or undecodable message. */
int fnh__rpc_reader_next(fnh__rpc_reader *r, fnh__rpc_msg **out);
/* Bytes of a frame announced but not yet received; 0 between frames. */
size_t fnh__rpc_reader_pending(const fnh__rpc_reader *r);
void fnh__rpc_reader_free(fnh__rpc_reader *r);

void fnh__rpc_msg_free(fnh__rpc_msg *m);

#endif
