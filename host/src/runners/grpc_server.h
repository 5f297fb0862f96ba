/* grpc_server.h: the gRPC server language workers connect back to: h2c
 * (nghttp2) on 127.0.0.1, an ephemeral port, serving only
 * /AzureFunctionsRpcMessages.FunctionRpc/EventStream as bidirectional
 * streams of StreamingMessage. Loop thread only; no thread of its own.
 * May call: rpc_frame, util, log, libuv, nghttp2. */

/* Flow-control windows are raised, each message's length is checked before
 * it is buffered, compressed messages are refused, other paths are answered
 * with grpc-status 12 (UNIMPLEMENTED). */
#ifndef FNH_GRPC_SERVER_H
#define FNH_GRPC_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "rpc_frame.h"

#define FNH__GRPC_EVENT_STREAM "/AzureFunctionsRpcMessages.FunctionRpc/EventStream"

typedef struct fnh__grpc_server fnh__grpc_server;
typedef struct fnh__grpc_stream fnh__grpc_stream;

/* What the server tells its owner (data: the owner's pointer). */
typedef struct fnh__grpc_handler {
    /* a message arrived on s; the callee owns m (fnh__rpc_msg_free) */
    void (*message)(void *data, fnh__grpc_stream *s, fnh__rpc_msg *m);
    /* s ended (the peer closed it, its connection broke, or it broke the
     * protocol: why is then a negative errno, else 0); s is freed after */
    void (*closed)(void *data, fnh__grpc_stream *s, int why);
} fnh__grpc_handler;

/* Listens on 127.0.0.1, an ephemeral port; max: longest message accepted
 * (0: FNH__RPC_MAX_MESSAGE). handler is borrowed for the server's life.
 * 0 with *out, or a negative errno. */
int fnh__grpc_server_start(uv_loop_t *loop, const fnh__grpc_handler *handler, void *data,
                           uint32_t max, fnh__grpc_server **out);
int fnh__grpc_server_port(const fnh__grpc_server *s);
/* Closes the listener and every connection: no callback comes any more;
 * the memory goes when libuv has closed the handles. */
void fnh__grpc_server_free(fnh__grpc_server *s);

/* Queues b's framed messages on s and takes b's memory (b is reset).
 * 0, or -EPIPE when s is closing (b is freed). */
int fnh__grpc_send(fnh__grpc_stream *s, fnh__buf *b);
/* The owner's pointer for s (NULL until set). */
void *fnh__grpc_stream_data(const fnh__grpc_stream *s);
void fnh__grpc_stream_set_data(fnh__grpc_stream *s, void *data);
/* Ends s with trailers grpc-status (0 OK) and message (may be NULL); the
 * closed callback follows when the peer is done. */
void fnh__grpc_stream_end(fnh__grpc_stream *s, int status, const char *message);

#endif
