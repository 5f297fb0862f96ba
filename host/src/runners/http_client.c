/* http_client.c: the HTTP/1.1 client of http_client.h: connections to one
 * loopback port (idle ones kept for reuse), one request at a time on each,
 * a FIFO of requests waiting for a connection, responses parsed by llhttp
 * into one block, and every failure delivered as one callback. */
#include "http_client.h"

#include <errno.h>
#include <llhttp.h>
#include <stdlib.h>
#include <string.h>

#include "stream_write.h"

typedef struct conn conn;

struct fnh__hc_req {
    fnh__hc *hc;
    fnh__buf data;
    int is_head, fresh, retried;
    fnh__hc_cb cb;
    void *arg;
    conn *c;              /* the connection carrying it, or NULL while waiting */
    int rc;               /* a failure found before it was sent */
    fnh__hc_req *next;    /* waiting queue / failed list */
};

struct conn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    fnh__hc *hc;
    fnh__hc_req *req;
    llhttp_t parser;
    int connected, closing, used, got_bytes, done, keep_alive, too_big;
    fnh__buf hstore;      /* "name\0value\0..." */
    size_t nheaders;
    fnh__buf body;
    conn *next;           /* all connections */
};

struct fnh__hc {
    uv_loop_t *loop;
    struct sockaddr_in addr;
    size_t max_conns, max_response;
    llhttp_settings_t settings;
    conn *conns;
    size_t nconns;
    fnh__hc_req *wait_head, *wait_tail;
    fnh__hc_req *failed;  /* delivered on the next loop turn */
    size_t pending;
    uv_timer_t later;
    int nopen;            /* handles not closed yet (connections + the timer) */
    int freeing;
};

static void conn_close(conn *c);
static void start(fnh__hc *hc, fnh__hc_req *r);

/* ---- delivering ------------------------------------------------------------- */

static void deliver(fnh__hc_req *r, int rc, const fnh__hc_response *res)
{
    fnh__hc *hc = r->hc;
    hc->pending--;
    fnh__hc_cb cb = r->cb;
    void *arg = r->arg;
    fnh__buf_free(&r->data);
    free(r);
    cb(arg, rc, res);
}

static void later_cb(uv_timer_t *t)
{
    fnh__hc *hc = t->data;
    while (hc->failed) {
        fnh__hc_req *r = hc->failed;
        hc->failed = r->next;
        deliver(r, r->rc, NULL);
    }
}

/* Fails r on the next loop turn (never inside the caller's call). */
static void fail_later(fnh__hc_req *r, int rc)
{
    fnh__hc *hc = r->hc;
    r->rc = rc;
    r->c = NULL;
    r->next = hc->failed;
    hc->failed = r;
    uv_timer_start(&hc->later, later_cb, 0, 0);
}

/* ---- parsing the response ---------------------------------------------------- */

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    conn *c = p->data;
    return fnh__buf_append(&c->hstore, at, len) ? -1 : 0;
}

static int on_header_end(llhttp_t *p)
{
    conn *c = p->data;
    return fnh__buf_append(&c->hstore, "", 1) ? -1 : 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    conn *c = p->data;
    c->nheaders++;
    return on_header_end(p);
}

static int on_headers_complete(llhttp_t *p)
{
    conn *c = p->data;
    if (c->hstore.len > c->hc->max_response) {
        c->too_big = 1;
        return -1;
    }
    /* a HEAD request's response, 1xx, 204 and 304 carry no body */
    return c->req && c->req->is_head ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    conn *c = p->data;
    if (c->body.len + len + c->hstore.len > c->hc->max_response) {
        c->too_big = 1;
        return -1;
    }
    return fnh__buf_append(&c->body, at, len) ? -1 : 0;
}

static int on_message_complete(llhttp_t *p)
{
    conn *c = p->data;
    if (p->status_code < 200) { /* 100 Continue and friends: the answer follows */
        c->hstore.len = 0;
        c->nheaders = 0;
        c->body.len = 0;
        return 0;
    }
    c->done = 1;
    c->keep_alive = llhttp_should_keep_alive(p);
    return HPE_PAUSED;
}

/* ---- connections ------------------------------------------------------------- */

static void hc_maybe_free(fnh__hc *hc)
{
    if (hc->freeing && hc->nopen == 0)
        free(hc);
}

static void conn_closed(uv_handle_t *h)
{
    conn *c = h->data;
    fnh__hc *hc = c->hc;
    fnh__buf_free(&c->hstore);
    fnh__buf_free(&c->body);
    free(c);
    hc->nopen--;
    hc_maybe_free(hc);
}

static void conn_unlink(conn *c)
{
    fnh__hc *hc = c->hc;
    for (conn **pp = &hc->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            hc->nconns--;
            return;
        }
}

/* A connection is free for the next request: the oldest waiting one. */
static void next_waiting(fnh__hc *hc)
{
    while (hc->wait_head && !hc->freeing) {
        size_t before = hc->nconns;
        conn *idle = NULL;
        for (conn *c = hc->conns; c; c = c->next)
            if (c->connected && !c->req && !c->closing) {
                idle = c;
                break;
            }
        if (!idle && hc->nconns >= hc->max_conns)
            return;
        fnh__hc_req *r = hc->wait_head;
        if (!(hc->wait_head = r->next))
            hc->wait_tail = NULL;
        r->next = NULL;
        start(hc, r);
        if (hc->nconns == before && !idle)
            return; /* nothing changed: avoid spinning */
    }
}

static void conn_close(conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    conn_unlink(c);
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
    next_waiting(c->hc); /* a slot opened */
}

/* The request on c ended with rc (0: the response is complete). */
static void conn_finish(conn *c, int rc)
{
    fnh__hc_req *r = c->req;
    c->req = NULL;
    if (!r)
        return;
    r->c = NULL;
    if (rc && c->used && !c->got_bytes && !r->retried && !r->fresh &&
        (rc == UV_EOF || rc == UV_ECONNRESET || rc == UV_EPIPE)) {
        /* the server closed a kept-alive connection as we reused it: once more */
        r->retried = 1;
        conn_close(c);
        start(c->hc, r);
        return;
    }
    if (rc) {
        conn_close(c);
        int err = rc == UV_EOF ? -ECONNRESET : rc;
        r->hc->pending--;
        fnh__hc_cb cb = r->cb;
        void *arg = r->arg;
        fnh__buf_free(&r->data);
        free(r);
        cb(arg, err, NULL);
        return;
    }
    /* lay the headers out */
    fnh_kv *kv = calloc(c->nheaders + 1, sizeof *kv);
    if (!kv) {
        conn_close(c);
        deliver(r, -ENOMEM, NULL);
        return;
    }
    const char *at = c->hstore.data ? c->hstore.data : "";
    size_t n = 0;
    for (size_t i = 0; i < c->nheaders && at < c->hstore.data + c->hstore.len; i++) {
        kv[n].key = at;
        at += strlen(at) + 1;
        kv[n].value = at;
        at += strlen(at) + 1;
        n++;
    }
    fnh__hc_response res = {.status = c->parser.status_code, .headers = kv, .nheaders = n,
                            .body = c->body.data ? c->body.data : "", .len = c->body.len};
    int keep = c->keep_alive && !r->fresh && !c->hc->freeing;
    if (!keep)
        conn_close(c);
    deliver(r, 0, &res);
    free(kv);
    c->hstore.len = 0;
    c->body.len = 0;
    c->nheaders = 0;
    if (keep && !c->closing) {
        c->used = 1;
        next_waiting(c->hc);
    }
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    static char slab[65536]; /* loop thread only: consumed before the next read */
    *buf = uv_buf_init(slab, sizeof slab);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn *c = s->data;
    if (n == 0)
        return;
    if (n < 0) {
        llhttp_errno_t fin = c->req && n == UV_EOF && c->got_bytes && !c->done
                                 ? llhttp_finish(&c->parser)
                                 : HPE_INTERNAL;
        if ((fin == HPE_OK || fin == HPE_PAUSED) && c->done) { /* a body that ends at close */
            c->keep_alive = 0;
            conn_finish(c, 0);
        } else if (c->req) {
            conn_finish(c, (int)n);
        }
        conn_close(c);
        return;
    }
    if (!c->req) { /* bytes nobody asked for: the connection is not usable */
        conn_close(c);
        return;
    }
    c->got_bytes = 1;
    llhttp_errno_t err = llhttp_execute(&c->parser, buf->base, (size_t)n);
    if (err == HPE_PAUSED && c->done) {
        conn_finish(c, 0);
        return;
    }
    if (err != HPE_OK)
        conn_finish(c, c->too_big ? -EMSGSIZE : err == HPE_USER ? -ENOMEM : -EPROTO);
}

static void write_cb(uv_write_t *w, int status)
{
    conn *c = w->data;
    if (status && c->req && !c->closing)
        conn_finish(c, status);
}

/* Sends c's request (c is connected and idle). */
static void conn_send(conn *c, fnh__hc_req *r)
{
    c->req = r;
    r->c = c;
    c->got_bytes = c->done = 0;
    c->hstore.len = c->body.len = 0;
    c->nheaders = 0;
    llhttp_init(&c->parser, HTTP_RESPONSE, &c->hc->settings);
    c->parser.data = c;
    uv_buf_t b = uv_buf_init(r->data.data, (unsigned)r->data.len);
    c->write.data = c;
    int rc = fnh__stream_try_write((uv_stream_t *)&c->tcp, &b);
    if (rc == 1)
        return;
    if (rc == 0)
        rc = uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
    if (rc) {
        c->req = NULL;
        conn_close(c);
        fail_later(r, rc);
    }
}

static void connect_cb(uv_connect_t *cr, int status)
{
    conn *c = cr->data;
    fnh__hc_req *r = c->req;
    if (c->closing)
        return;
    if (status) {
        c->req = NULL;
        conn_close(c);
        if (r) {
            r->c = NULL;
            deliver(r, status, NULL);
        }
        return;
    }
    c->connected = 1;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    c->req = NULL;
    if (r)
        conn_send(c, r);
    else
        next_waiting(c->hc);
}

/* Gives r a connection: an idle one, a new one, or the waiting queue. */
static void start(fnh__hc *hc, fnh__hc_req *r)
{
    if (!r->fresh)
        for (conn *c = hc->conns; c; c = c->next)
            if (c->connected && !c->req && !c->closing && !c->too_big) {
                conn_send(c, r);
                return;
            }
    if (hc->nconns >= hc->max_conns) {
        r->next = NULL;
        if (hc->wait_tail)
            hc->wait_tail->next = r;
        else
            hc->wait_head = r;
        hc->wait_tail = r;
        return;
    }
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        fail_later(r, -ENOMEM);
        return;
    }
    c->hc = hc;
    uv_tcp_init(hc->loop, &c->tcp);
    c->tcp.data = c;
    hc->nopen++;
    c->next = hc->conns;
    hc->conns = c;
    hc->nconns++;
    c->req = r;
    r->c = c;
    c->connect.data = c;
    int rc = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&hc->addr, connect_cb);
    if (rc) {
        c->req = NULL;
        conn_close(c);
        fail_later(r, rc);
    }
}

/* ---- API ----------------------------------------------------------------------- */

int fnh__hc_new(uv_loop_t *loop, int port, size_t max_conns, size_t max_response, fnh__hc **out)
{
    fnh__hc *hc = calloc(1, sizeof *hc);
    *out = NULL;
    if (!hc)
        return -ENOMEM;
    hc->loop = loop;
    uv_ip4_addr("127.0.0.1", port, &hc->addr);
    hc->max_conns = max_conns ? max_conns : 1;
    hc->max_response = max_response;
    llhttp_settings_init(&hc->settings);
    hc->settings.on_header_field = on_header_field;
    hc->settings.on_header_field_complete = on_header_end;
    hc->settings.on_header_value = on_header_field;
    hc->settings.on_header_value_complete = on_header_value_complete;
    hc->settings.on_headers_complete = on_headers_complete;
    hc->settings.on_body = on_body;
    hc->settings.on_message_complete = on_message_complete;
    uv_timer_init(loop, &hc->later);
    hc->later.data = hc;
    hc->nopen = 1;
    *out = hc;
    return 0;
}

fnh__hc_req *fnh__hc_send(fnh__hc *hc, fnh__buf *request, int is_head, int fresh, fnh__hc_cb cb,
                          void *arg)
{
    fnh__hc_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->hc = hc;
    r->data = *request;
    *request = (fnh__buf){0};
    r->is_head = is_head;
    r->fresh = fresh;
    r->cb = cb;
    r->arg = arg;
    hc->pending++;
    start(hc, r);
    return r;
}

void fnh__hc_abort(fnh__hc_req *r)
{
    fnh__hc *hc = r->hc;
    if (r->c) {
        conn *c = r->c;
        c->req = NULL;
        conn_close(c);
    } else {
        fnh__hc_req **lists[] = {&hc->wait_head, &hc->failed};
        for (int i = 0; i < 2; i++)
            for (fnh__hc_req **pp = lists[i], *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next)
                if (*pp == r) {
                    *pp = r->next;
                    if (i == 0 && hc->wait_tail == r)
                        hc->wait_tail = prev;
                    i = 2;
                    break;
                }
    }
    hc->pending--;
    fnh__buf_free(&r->data);
    free(r);
}

void fnh__hc_close_idle(fnh__hc *hc)
{
    for (conn *c = hc->conns, *next; c; c = next) {
        next = c->next;
        if (!c->req)
            conn_close(c);
    }
}

size_t fnh__hc_pending(const fnh__hc *hc)
{
    return hc->pending;
}

static void timer_closed(uv_handle_t *h)
{
    fnh__hc *hc = h->data;
    hc->nopen--;
    hc_maybe_free(hc);
}

void fnh__hc_free(fnh__hc *hc)
{
    if (!hc)
        return;
    hc->freeing = 1;
    while (hc->wait_head) {
        fnh__hc_req *r = hc->wait_head;
        hc->wait_head = r->next;
        deliver(r, -ECANCELED, NULL);
    }
    hc->wait_tail = NULL;
    while (hc->failed) {
        fnh__hc_req *r = hc->failed;
        hc->failed = r->next;
        deliver(r, -ECANCELED, NULL);
    }
    while (hc->conns) {
        conn *c = hc->conns;
        fnh__hc_req *r = c->req;
        c->req = NULL;
        conn_close(c);
        if (r)
            deliver(r, -ECANCELED, NULL);
    }
    uv_close((uv_handle_t *)&hc->later, timer_closed);
}
