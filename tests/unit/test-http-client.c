/* test-http-client.c: the custom handler's HTTP/1.1 client against a real
 * scripted server on 127.0.0.1 (libuv, in this process): Content-Length,
 * chunked and close-delimited bodies, headers, a redirect handed back, a
 * kept-alive connection reused, a response over the limit, bytes that are
 * not HTTP, a refused connection, a request aborted before its answer, and
 * a server that closes a kept-alive connection. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http_client.h"
#include "unit.h"

/* ---- the scripted server ------------------------------------------------------ */

typedef struct sconn {
    uv_tcp_t tcp;
    char buf[8192];
    size_t len;
} sconn;

static uv_loop_t *loop;
static uv_tcp_t server;
static int server_port;
static int accepts;

static void sclosed(uv_handle_t *h)
{
    free(h->data);
}

typedef struct swrite {
    uv_write_t w;
    sconn *c;
    int close_after;
} swrite;

static void swritten(uv_write_t *w, int status)
{
    (void)status;
    swrite *sw = (swrite *)w;
    if (sw->close_after && !uv_is_closing((uv_handle_t *)&sw->c->tcp))
        uv_close((uv_handle_t *)&sw->c->tcp, sclosed);
    free(sw);
}

/* bytes: static, so they outlive the write */
static void sreply(sconn *c, const char *bytes, size_t n, int close_after)
{
    swrite *sw = calloc(1, sizeof *sw);
    sw->c = c;
    sw->close_after = close_after;
    uv_buf_t b = uv_buf_init((char *)bytes, (unsigned)n);
    uv_write(&sw->w, (uv_stream_t *)&c->tcp, &b, 1, swritten);
}

static void salloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    sconn *c = h->data;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len - 1));
}

static void sread(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    sconn *c = s->data;
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, sclosed);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *end;
    while ((end = strstr(c->buf, "\r\n\r\n"))) {
        char path[64] = "";
        sscanf(c->buf, "%*s %63s", path);
        size_t used = (size_t)(end + 4 - c->buf);
        memmove(c->buf, c->buf + used, c->len - used + 1);
        c->len -= used;
        if (strcmp(path, "/cl") == 0) {
            static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: one\r\n"
                                    "X-B: two\r\n\r\nhello";
            sreply(c, r, sizeof r - 1, 0);
        } else if (strcmp(path, "/chunked") == 0) {
            static const char r[] = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
            sreply(c, r, sizeof r - 1, 0);
        } else if (strcmp(path, "/eof") == 0) {
            static const char r[] = "HTTP/1.0 200 OK\r\nX-E: 1\r\n\r\nuntil close";
            sreply(c, r, sizeof r - 1, 1);
        } else if (strcmp(path, "/redirect") == 0) {
            static const char r[] = "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n"
                                    "Content-Length: 0\r\n\r\n";
            sreply(c, r, sizeof r - 1, 0);
        } else if (strcmp(path, "/big") == 0) {
            static char r[20000];
            int k = snprintf(r, sizeof r, "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n");
            memset(r + k, 'x', 10000);
            sreply(c, r, (size_t)k + 10000, 0);
        } else if (strcmp(path, "/garbage") == 0) {
            static const char r[] = "SOMETHING ELSE ENTIRELY\r\n\r\n";
            sreply(c, r, sizeof r - 1, 0);
        } else if (strcmp(path, "/quietclose") == 0) { /* keep-alive said, then closed */
            static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            sreply(c, r, sizeof r - 1, 1);
        } else if (strcmp(path, "/never") == 0) {
            /* no answer */
        }
    }
}

static void sconnect(uv_stream_t *srv, int status)
{
    if (status)
        return;
    sconn *c = calloc(1, sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) == 0) {
        accepts++;
        uv_read_start((uv_stream_t *)&c->tcp, salloc, sread);
    } else {
        uv_close((uv_handle_t *)&c->tcp, sclosed);
    }
}

static void server_start(void)
{
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &server);
    uv_tcp_bind(&server, (const struct sockaddr *)&a, 0);
    uv_listen((uv_stream_t *)&server, 64, sconnect);
    int len = sizeof a;
    uv_tcp_getsockname(&server, (struct sockaddr *)&a, &len);
    server_port = ntohs(a.sin_port);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h == (uv_handle_t *)&server ? NULL : sclosed);
}

/* ---- the client ----------------------------------------------------------------- */

typedef struct result {
    int done, rc, status;
    char body[256];
    size_t len;
    char headers[256];
} result;

static void on_answer(void *arg, int rc, const fnh__hc_response *res)
{
    result *r = arg;
    r->done++;
    r->rc = rc;
    if (!res)
        return;
    r->status = res->status;
    r->len = res->len;
    snprintf(r->body, sizeof r->body, "%.*s", (int)(res->len < 200 ? res->len : 200), res->body);
    for (size_t i = 0; i < res->nheaders; i++) {
        size_t at = strlen(r->headers);
        snprintf(r->headers + at, sizeof r->headers - at, "%s=%s;", res->headers[i].key,
                 res->headers[i].value);
    }
}

static void get(fnh__hc *hc, const char *path, result *r)
{
    memset(r, 0, sizeof *r);
    fnh__buf b = {0};
    fnh__buf_printf(&b, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    CHECK(fnh__hc_send(hc, &b, 0, 0, on_answer, r) != NULL);
    CHECK(b.data == NULL); /* the client took the bytes */
    for (int i = 0; i < 2000 && !r->done; i++)
        uv_run(loop, UV_RUN_ONCE);
    CHECK(r->done == 1);
}

static void test_bodies_and_headers(void)
{
    fnh__hc *hc;
    CHECK(fnh__hc_new(loop, server_port, 4, 4096, &hc) == 0);
    result r;
    get(hc, "/cl", &r);
    CHECK(r.rc == 0 && r.status == 200);
    CHECK_STR(r.body, "hello");
    CHECK_STR(r.headers, "Content-Length=5;X-A=one;X-B=two;");
    get(hc, "/chunked", &r);
    CHECK(r.rc == 0 && r.status == 201);
    CHECK_STR(r.body, "hello world");
    get(hc, "/eof", &r);
    CHECK(r.rc == 0 && r.status == 200);
    CHECK_STR(r.body, "until close");
    get(hc, "/redirect", &r); /* handed back, never followed */
    CHECK(r.rc == 0 && r.status == 302);
    CHECK_STR(r.headers, "Location=/elsewhere;Content-Length=0;");
    CHECK(fnh__hc_pending(hc) == 0);
    fnh__hc_free(hc);
}

static void test_keep_alive_reused(void)
{
    fnh__hc *hc;
    CHECK(fnh__hc_new(loop, server_port, 4, 4096, &hc) == 0);
    int before = accepts;
    result r;
    for (int i = 0; i < 5; i++) {
        get(hc, "/cl", &r);
        CHECK(r.rc == 0 && r.status == 200);
    }
    CHECK(accepts - before == 1);
    /* the server closes each connection after answering, without saying so:
     * every request still succeeds (sent again on a new connection if the
     * close is noticed only on reuse) */
    for (int i = 0; i < 4; i++) {
        get(hc, "/quietclose", &r);
        CHECK(r.rc == 0 && r.status == 200);
        CHECK_STR(r.body, "ok");
    }
    fnh__hc_free(hc);
}

static void test_failures(void)
{
    fnh__hc *hc;
    CHECK(fnh__hc_new(loop, server_port, 4, 4096, &hc) == 0);
    result r;
    get(hc, "/big", &r);
    CHECK(r.rc == -EMSGSIZE);
    get(hc, "/garbage", &r);
    CHECK(r.rc == -EPROTO);
    get(hc, "/cl", &r); /* the client is still fine */
    CHECK(r.rc == 0 && r.status == 200);
    /* aborted: no callback, ever */
    result never = {0};
    fnh__buf b = {0};
    fnh__buf_puts(&b, "GET /never HTTP/1.1\r\nHost: t\r\n\r\n");
    fnh__hc_req *q = fnh__hc_send(hc, &b, 0, 0, on_answer, &never);
    for (int i = 0; i < 20; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    fnh__hc_abort(q);
    for (int i = 0; i < 20; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    CHECK(never.done == 0);
    CHECK(fnh__hc_pending(hc) == 0);
    /* freed with one under way: its callback comes with -ECANCELED */
    fnh__buf_puts(&b, "GET /never HTTP/1.1\r\nHost: t\r\n\r\n");
    fnh__hc_send(hc, &b, 0, 0, on_answer, &never);
    for (int i = 0; i < 20; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    fnh__hc_free(hc);
    CHECK(never.done == 1 && never.rc == -ECANCELED);
    /* nothing listens: refused */
    uv_tcp_t probe;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &probe);
    uv_tcp_bind(&probe, (const struct sockaddr *)&a, 0);
    int len = sizeof a;
    uv_tcp_getsockname(&probe, (struct sockaddr *)&a, &len);
    uv_close((uv_handle_t *)&probe, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    CHECK(fnh__hc_new(loop, ntohs(a.sin_port), 4, 4096, &hc) == 0);
    get(hc, "/cl", &r);
    CHECK(r.rc == UV_ECONNREFUSED);
    fnh__hc_free(hc);
}

static void test_connection_cap(void)
{
    fnh__hc *hc;
    CHECK(fnh__hc_new(loop, server_port, 2, 4096, &hc) == 0);
    int before = accepts;
    result rs[6];
    memset(rs, 0, sizeof rs);
    for (int i = 0; i < 6; i++) {
        fnh__buf b = {0};
        fnh__buf_puts(&b, "GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n");
        fnh__hc_send(hc, &b, 0, 0, on_answer, &rs[i]);
    }
    CHECK(fnh__hc_pending(hc) == 6);
    for (int n = 0; n < 2000; n++) {
        int done = 0;
        for (int i = 0; i < 6; i++)
            done += rs[i].done;
        if (done == 6)
            break;
        uv_run(loop, UV_RUN_ONCE);
    }
    for (int i = 0; i < 6; i++) {
        CHECK(rs[i].done == 1 && rs[i].rc == 0);
        CHECK_STR(rs[i].body, "hello world");
    }
    CHECK(accepts - before == 2);
    fnh__hc_free(hc);
}

int main(void)
{
    loop = uv_default_loop();
    server_start();
    UNIT_RUN(test_bodies_and_headers);
    UNIT_RUN(test_keep_alive_reused);
    UNIT_RUN(test_failures);
    UNIT_RUN(test_connection_cap);
    uv_walk(loop, close_walk, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    UNIT_END();
}
