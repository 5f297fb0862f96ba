/* http_server.h: the HTTP/1.1 server (libuv + llhttp): connections,
 * keep-alive, pipelining with in-order responses, chunked and fixed bodies,
 * Expect: 100-continue, HEAD, Kestrel's limits and timeouts. It knows nothing
 * of functions: each complete request goes to one handler. Loop thread only. */
#ifndef FNH_HTTP_SERVER_H
#define FNH_HTTP_SERVER_H

#include <uv.h>

#include "app.h"
#include "http_types.h"

typedef struct fnh__http_server fnh__http_server;
typedef struct fnh__http_exchange fnh__http_exchange;

/* Called once per complete request. The handler owns req from then on and
 * must call fnh__http_respond(x, ...) exactly once, now or later. */
typedef void (*fnh__http_handler)(void *arg, fnh__http_exchange *x, fnh__http_req *req);

/* Binds host:port and starts accepting. limits is copied. Returns 0 or a
 * negative libuv error (UV_EADDRINUSE when the port is taken). */
int fnh__http_server_start(uv_loop_t *loop, const char *host, int port,
                           const fnh__http_limits *limits, fnh__http_handler handler, void *arg,
                           fnh__http_server **out);
/* Stops accepting; idle keep-alive connections are closed, busy ones close
 * after their in-flight responses. */
void fnh__http_server_stop(fnh__http_server *s);
/* Closes every connection and frees the server once all handles closed. */
void fnh__http_server_free(fnh__http_server *s);
/* Number of open connections. */
size_t fnh__http_server_connections(const fnh__http_server *s);
/* The port actually bound (useful with port 0). */
int fnh__http_server_port(const fnh__http_server *s);

/* Sends the response of exchange x (in request order on its connection) and
 * releases x. r and everything it points to are copied before return. If the
 * client has gone away the response is dropped. */
void fnh__http_respond(fnh__http_exchange *x, const fnh__http_response *r);
/* fnh__http_respond with a status and a body alone (content_type and body
 * are copied; either may be NULL). */
void fnh__http_respond_simple(fnh__http_exchange *x, int status, const char *content_type,
                              const char *body, size_t len);
/* 1 when x is a HEAD request. */
int fnh__http_exchange_is_head(const fnh__http_exchange *x);
/* Writes out every response queued since the last flush. The server does it
 * after each read; call it after completing responses outside a read. */
void fnh__http_server_flush(fnh__http_server *s);

/* Reason phrase for a status code ("Not Found"). */
const char *fnh__http_reason(int status);

#endif
