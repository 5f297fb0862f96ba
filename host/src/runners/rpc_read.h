/* rpc_read.h: the worker protocol's per-invocation messages read without
 * protobuf-c's generic unpacker (rpc_read.c). Used by rpc_frame's reader;
 * one thread per message. May call: protobuf-c (descriptors), arena. */
#ifndef FNH_RPC_READ_H
#define FNH_RPC_READ_H

#include <stddef.h>

#include "arena.h"
#include "rpc_frame.h"

/* Reads the StreamingMessage in data[len] (borrowed) into m (initialised by
 * the caller) when its content is an InvocationRequest, InvocationResponse
 * or RpcLog. Everything m then points to (parts, strings, bytes)
 * is allocated in arena a and lives until a is freed. Returns 0 (read), 1
 * (other content: use protobuf-c; nothing allocated) or -1 (malformed or
 * out of memory; what was allocated stays in a). */
int fnh__rpc_read_invocation(fnh__rpc_msg *m, const unsigned char *data, size_t len,
                             fnh__arena *a);

#endif
