/* http_client.h: a small HTTP/1.1 client on the libuv loop for one local
 * server (a custom handler on 127.0.0.1:port): kept-alive connections
 * reused, at most max_conns open at once (more requests wait their turn),
 * responses parsed with llhttp and bounded in size, redirects handed back
 * as they are (never followed). Loop thread only. May call: util, libuv,
 * llhttp. */
#ifndef FNH_HTTP_CLIENT_H
#define FNH_HTTP_CLIENT_H

#include <stddef.h>
#include <uv.h>

#include "fnhost/common.h"
#include "util.h"

typedef struct fnh__hc fnh__hc;
typedef struct fnh__hc_req fnh__hc_req;

/* One response. headers[i] point into the response's storage; all of it is
 * borrowed for the callback only. */
typedef struct fnh__hc_response {
    int status;
    const fnh_kv *headers;
    size_t nheaders;
    const char *body;   /* NUL-terminated (the NUL is not counted) */
    size_t len;
} fnh__hc_response;

/* A request's end: rc 0 with res, or a negative errno and res NULL:
 * -ECONNREFUSED (nothing listens), -ECONNRESET (closed before the whole
 * response), -EMSGSIZE (the response exceeds the limit), -EPROTO (not
 * HTTP), -ECANCELED (the client was freed first), or another connect or
 * write error. */
typedef void (*fnh__hc_cb)(void *arg, int rc, const fnh__hc_response *res);

/* A client for 127.0.0.1:port. max_response bounds a response's head plus
 * body. Returns 0 with *out (free with fnh__hc_free), or -ENOMEM. */
int fnh__hc_new(uv_loop_t *loop, int port, size_t max_conns, size_t max_response,
                fnh__hc **out);
/* Sends one request: request holds its complete bytes (head and body); the
 * client takes its memory (request is reset). is_head: the request's
 * method is HEAD (its response has no body). fresh: a connection of its
 * own, closed after the response (readiness probes). cb(arg, ...) comes
 * exactly once, never inside this call, unless the request is aborted.
 * Returns the request, or NULL when out of memory (then no callback).
 * A request that finds its kept-alive connection closed by the server
 * before any byte of the answer is sent again once on a new connection. */
fnh__hc_req *fnh__hc_send(fnh__hc *hc, fnh__buf *request, int is_head, int fresh,
                          fnh__hc_cb cb, void *arg);
/* Gives r up: its callback never comes, and the connection carrying it (if
 * any) is closed. r is invalid afterwards. */
void fnh__hc_abort(fnh__hc_req *r);
/* Closes every idle kept-alive connection (e.g. after the server
 * restarted); requests under way are not touched. */
void fnh__hc_close_idle(fnh__hc *hc);
/* Requests sent or waiting whose callback has not come. */
size_t fnh__hc_pending(const fnh__hc *hc);
/* Ends the client: each pending request's callback comes with -ECANCELED
 * (inside this call), connections close, and the memory is freed once
 * their handles have closed (on a later loop turn). */
void fnh__hc_free(fnh__hc *hc);

#endif
