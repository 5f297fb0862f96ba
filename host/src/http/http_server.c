/* http_server.c: HTTP/1.1 over libuv with llhttp. Owns connections, the
 * per-connection FIFO of exchanges (pipelined requests answered in order),
 * output batching (all responses ready in one loop iteration leave in one
 * write) and backpressure, Kestrel's size limits and the header, keep-alive,
 * body-rate and response-rate timeouts (checked by one sweep timer, not a
 * timer per connection), and the lingering close after the last response. */
#include "http_server.h"

#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_router.h"
#include "fdlimit.h"
#include "stream_write.h"
#include "log.h"

/* A connection is read only while it has room: fewer than MAX_OUTSTANDING
 * requests in flight and less than MAX_UNSENT bytes of answers its client has
 * not taken. Reading stops when either is reached and starts again below half
 * of both, so a client that pipelines and never reads costs a bounded amount. */
#define MAX_OUTSTANDING 64
#define MAX_UNSENT (4u << 20)
#define LINGER_MS 1000           /* how long a half-closed connection drains input */
#define LINGER_MAX (1u << 20)    /* ... and how much of it, at most */

/* ST_LINGER: every response is written and our side is shut down; what the
 * client still sends is read and dropped until it closes (see conn_linger). */
enum conn_state { ST_IDLE, ST_HEADERS, ST_BODY, ST_WAITING, ST_LINGER };

typedef struct conn conn;

struct fnh__http_exchange {
    conn *c;
    fnh__http_exchange *next;
    fnh__buf resp;
    int ready;
    int close;
    int head;
    int keep_alive_10; /* HTTP/1.0 request that asked for keep-alive */
    int orphan;
};

struct conn {
    uv_tcp_t tcp;
    llhttp_t parser;
    fnh__http_server *srv;
    conn *prev, *next;
    conn *dirty_next;
    int dirty;
    /* request being parsed */
    fnh__buf url;
    fnh__buf hdrs;
    size_t *hoff; /* pairs of (name, value) offsets into hdrs */
    size_t hoff_cap;
    size_t nheaders;
    size_t header_bytes;
    int in_value;
    fnh__http_req *req;
    int reject; /* status to answer with, set by a parser callback */
    /* timing */
    enum conn_state state;
    uint64_t since;
    uint64_t body_bytes;
    int expect_continue; /* a 100 Continue is owed once earlier responses are out */
    /* exchanges */
    fnh__http_exchange *head, *tail;
    size_t outstanding; /* exchanges not yet released */
    fnh__http_exchange *spare; /* a released one, kept for the next request */
    /* output */
    fnh__buf out;
    fnh__buf wbuf;
    uv_write_t wreq;
    int writing;
    uint64_t write_since; /* when the write of wbuf started */
    /* unparsed input kept while the parser is paused for backpressure */
    fnh__buf pending;
    int paused;
    int reading;
    int no_more_requests; /* a close-delimited response is queued */
    int eof;              /* the client shut down its side */
    uv_shutdown_t sreq;
    uint64_t lingered;    /* bytes dropped while lingering */
    int closing;
    int closed;
};

struct fnh__http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t sweep;
    uv_check_t flusher;
    fnh__http_limits limits;
    fnh__http_handler handler;
    void *arg;
    llhttp_settings_t settings;
    conn *conns;
    size_t nconns;
    conn *dirty;
    int port;
    int listening;
    int handles_open;
    int freeing;
    char readbuf[65536];
    int readbuf_busy;
    time_t date_sec;
    char date[48]; /* "Date: ...\r\n" of the second date_sec */
    size_t date_len;
    int status;            /* the status of status_line, once status_len > 0 */
    char status_line[64];  /* "HTTP/1.1 200 OK\r\n" */
    size_t status_len;
};

static void conn_close(conn *c);
static void conn_resume(conn *c);
static void conn_flush(conn *c);
static void send_continue(conn *c);

/* ---- small helpers ---------------------------------------------------- */

const char *fnh__http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

/* Makes s->status_line the status line for status, built again only when
 * the status changes (most answers have the one before's); returns its
 * length. */
static size_t status_line(fnh__http_server *s, int status)
{
    if (!s->status_len || status != s->status) {
        unsigned st = status >= 100 && status <= 999 ? (unsigned)status : 500;
        const char *reason = fnh__http_reason(status);
        char *o = fnh__put(s->status_line, FNH__LIT("HTTP/1.1 "));
        *o++ = (char)('0' + st / 100);
        *o++ = (char)('0' + st / 10 % 10);
        *o++ = (char)('0' + st % 10);
        *o++ = ' ';
        o = fnh__put(o, reason, strlen(reason));
        o = fnh__put(o, FNH__LIT("\r\n"));
        s->status_len = (size_t)(o - s->status_line);
        s->status = status;
    }
    return s->status_len;
}

/* Makes s->date the Date header line, formatted once a second; returns its
 * length. */
static size_t date_line(fnh__http_server *s)
{
    time_t now = time(NULL);
    if (now != s->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        s->date_len = strftime(s->date, sizeof s->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        s->date_sec = now;
    }
    return s->date_len;
}

static size_t unsent(const conn *c)
{
    return c->out.len + c->wbuf.len;
}

static int conn_full(const conn *c)
{
    return c->outstanding >= MAX_OUTSTANDING || unsent(c) >= MAX_UNSENT;
}

static int conn_has_room(const conn *c)
{
    return c->outstanding < MAX_OUTSTANDING / 2 && unsent(c) < MAX_UNSENT / 2;
}

static void mark_dirty(conn *c)
{
    if (c->dirty || c->closing)
        return;
    c->dirty = 1;
    c->dirty_next = c->srv->dirty;
    c->srv->dirty = c;
}

/* Takes c off the dirty list when it heads it, as it does once its answers
 * were queued (it is flushed now: the flusher need not visit it). */
static void unmark_dirty(conn *c)
{
    fnh__http_server *s = c->srv;
    if (c->dirty && s->dirty == c) {
        s->dirty = c->dirty_next;
        c->dirty = 0;
    }
}

void fnh__http_server_flush(fnh__http_server *s)
{
    while (s->dirty) {
        conn *c = s->dirty;
        s->dirty = c->dirty_next;
        c->dirty = 0;
        conn_flush(c);
    }
}

static void flusher_cb(uv_check_t *h)
{
    fnh__http_server_flush(h->data);
}

/* ---- exchanges and responses --------------------------------------- */

/* Keeps one released exchange per open connection (with its buffer): a
 * kept-alive connection then allocates none per request. */
static void exchange_free(fnh__http_exchange *x)
{
    conn *c = x->c;
    if (!c->spare && !c->closing && !c->closed) {
        x->resp.len = 0;
        c->spare = x;
        return;
    }
    fnh__buf_free(&x->resp);
    free(x);
}

static void conn_maybe_free(conn *c)
{
    if (c->closed && c->outstanding == 0) {
        fnh__buf_free(&c->url);
        fnh__buf_free(&c->hdrs);
        fnh__buf_free(&c->out);
        fnh__buf_free(&c->wbuf);
        fnh__buf_free(&c->pending);
        free(c->hoff);
        if (c->spare) {
            fnh__buf_free(&c->spare->resp);
            free(c->spare);
        }
        if (c->req)
            fnh__http_req_free(c->req);
        free(c);
    }
}

static fnh__http_exchange *exchange_new(conn *c, int head)
{
    fnh__http_exchange *x = c->spare;
    if (x) {
        fnh__buf resp = x->resp;
        *x = (fnh__http_exchange){.resp = resp};
        c->spare = NULL;
    } else if (!(x = calloc(1, sizeof *x))) {
        return NULL;
    }
    x->c = c;
    x->head = head;
    if (c->tail)
        c->tail->next = x;
    else
        c->head = x;
    c->tail = x;
    c->outstanding++;
    return x;
}

/* Drops every exchange still queued on c: answered ones are freed, those a
 * function still works on are orphaned (freed when it completes). */
static void drop_queued(conn *c)
{
    while (c->head) {
        fnh__http_exchange *x = c->head;
        c->head = x->next;
        if (x->ready) {
            exchange_free(x);
            c->outstanding--;
        } else {
            x->orphan = 1;
            x->next = NULL;
        }
    }
    c->tail = NULL;
}

/* Moves ready responses at the head of the FIFO into the output buffer. */
static void drain_ready(conn *c)
{
    int close = 0;
    while (c->head && c->head->ready) {
        fnh__http_exchange *x = c->head;
        c->head = x->next;
        if (!c->head)
            c->tail = NULL;
        if (x->resp.len)
            fnh__buf_append(&c->out, x->resp.data, x->resp.len);
        close |= x->close;
        exchange_free(x);
        c->outstanding--;
        if (close)
            break;
    }
    if (close) {
        c->no_more_requests = 2; /* close once written */
        /* drop responses queued behind a closing one */
        drop_queued(c);
    }
    send_continue(c);
    mark_dirty(c);
    if (c->paused || !c->reading)
        conn_resume(c);
}

/* 1 when k (borrowed) names a header the server writes itself (a
 * function's is dropped). The first byte picks the names to compare. */
static int server_header(const char *k)
{
    switch (*k | 0x20) {
    case 'c':
        return fnh__name_eq(k, "Content-Type") || fnh__name_eq(k, "Content-Length") ||
               fnh__name_eq(k, "Connection");
    case 't': return fnh__name_eq(k, "Transfer-Encoding");
    case 'd': return fnh__name_eq(k, "Date");
    default: return 0;
    }
}

/* Appends the status line and the headers the server writes (ctype, the
 * content type, borrowed; NULL for none), with room reserved once and no
 * printf: every response goes through here. The status and Date lines are
 * copied as their whole arrays (a copy of a fixed size is done inline, not
 * by a call), then the end moves back to their lengths, so the room
 * reserved is the arrays'. 0 or -ENOMEM (nothing appended). */
static int put_head(fnh__http_server *s, fnh__buf *b, const fnh__http_response *r,
                    const char *ctype)
{
    size_t slen = status_line(s, r->status), dlen = date_line(s);
    size_t clen = ctype ? strlen(ctype) : 0;
    if (fnh__buf_reserve(b, sizeof s->status_line + 14 + clen + 2 + sizeof s->date + 16 + 20 +
                                2)) /* 20: SIZE_MAX's digits */
        return -ENOMEM;
    char *o = b->data + b->len;
    o = fnh__put(o, s->status_line, sizeof s->status_line) - sizeof s->status_line + slen;
    if (ctype) {
        o = fnh__put(o, FNH__LIT("Content-Type: "));
        o = fnh__put(o, ctype, clen);
        o = fnh__put(o, FNH__LIT("\r\n"));
    }
    o = fnh__put(o, s->date, sizeof s->date) - sizeof s->date + dlen;
    if (r->status != 204 && r->status != 304 && r->status >= 200) {
        /* the digits straight into place (copied from a scratch buffer, the
         * bytes just stored stall the load) */
        size_t len = r->len, digits = 1;
        for (size_t v = len; v >= 10; v /= 10)
            digits++;
        o = fnh__put(o, FNH__LIT("Content-Length: "));
        for (size_t k = digits; k-- > 0; len /= 10)
            o[k] = (char)('0' + len % 10);
        o = fnh__put(o + digits, FNH__LIT("\r\n"));
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* Appends a function's header "k: v" (both borrowed) unless the server
 * writes k itself or either would break the header block (header injection
 * guard: CR or LF, or ':' or a space in the name, and the header is
 * dropped). 0 or -ENOMEM (nothing appended). */
static int put_header(fnh__buf *b, const char *k, const char *v)
{
    size_t kn = strcspn(k, "\r\n: "), vn = strcspn(v, "\r\n");
    if (k[kn] || v[vn] || server_header(k))
        return 0;
    if (fnh__buf_reserve(b, kn + 2 + vn + 2))
        return -ENOMEM;
    char *o = fnh__put(b->data + b->len, k, kn);
    o = fnh__put(o, FNH__LIT(": "));
    o = fnh__put(o, v, vn);
    o = fnh__put(o, FNH__LIT("\r\n"));
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* Appends the whole response r to b (r is borrowed for the call). 0 or
 * -ENOMEM, and then b is as it was. */
static int serialize(fnh__http_server *s, fnh__buf *b, const fnh__http_response *r, int head,
                     int close, int keep_alive_10)
{
    int bodyless = r->status == 204 || r->status == 304;
    const char *ctype = r->content_type;
    for (size_t i = 0; i < r->nheaders; i++)
        if (fnh__name_eq(r->headers[i].key, "Content-Type"))
            ctype = r->headers[i].value;
    size_t start = b->len;
    int rc = put_head(s, b, r, bodyless ? NULL : ctype);
    for (size_t i = 0; i < r->nheaders && !rc; i++)
        rc = put_header(b, r->headers[i].key, r->headers[i].value);
    /* the blank line ends the head; HTTP/1.0 closes unless told otherwise */
    static const char closing[] = "Connection: close\r\n\r\n",
                      kept[] = "Connection: keep-alive\r\n\r\n";
    if (!rc)
        rc = close           ? fnh__buf_append(b, closing, sizeof closing - 1)
             : keep_alive_10 ? fnh__buf_append(b, kept, sizeof kept - 1)
                             : fnh__buf_append(b, "\r\n", 2);
    if (!rc && !head && !bodyless && r->len)
        rc = fnh__buf_append(b, r->body, r->len);
    if (rc) {
        b->len = start;
        if (b->data)
            b->data[start] = '\0';
        return -ENOMEM;
    }
    return 0;
}

void fnh__http_respond(fnh__http_exchange *x, const fnh__http_response *r)
{
    conn *c = x->c;
    if (x->orphan || c->closing) {
        if (!x->orphan) { /* still linked in a closing connection's FIFO */
            x->ready = 1;
            x->close = 1;
            return;
        }
        exchange_free(x);
        c->outstanding--;
        conn_maybe_free(c);
        return;
    }
    /* when the server is stopping, the last exchange (no more are parsed)
     * tells the client the connection ends with it */
    int close = r->close || x->close || (!c->srv->listening && x == c->tail);
    /* the head of the FIFO goes straight to the output, later ones wait; out
     * of memory, this one gets no answer and the connection ends before it */
    if (serialize(c->srv, x == c->head ? &c->out : &x->resp, r, x->head, close, x->keep_alive_10))
        close = 1;
    x->close = close;
    x->ready = 1;
    if (x == c->head)
        drain_ready(c);
}

void fnh__http_respond_simple(fnh__http_exchange *x, int status, const char *content_type,
                              const char *body, size_t len)
{
    fnh__http_response r = {.status = status, .content_type = content_type, .body = body,
                            .len = len};
    fnh__http_respond(x, &r);
}

int fnh__http_exchange_is_head(const fnh__http_exchange *x)
{
    return x->head;
}

/* Answers a protocol-level error (400, 413, 414, 431, 408) and closes. */
static void reject(conn *c, int status)
{
    if (c->no_more_requests)
        return;
    fnh__http_exchange *x = exchange_new(c, 0);
    if (!x) {
        conn_close(c);
        return;
    }
    c->no_more_requests = 1;
    fnh__http_response r = {.status = status, .close = 1};
    fnh__http_respond(x, &r);
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

/* ---- writing ----------------------------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    conn *c = req->data;
    if (status < 0 && !c->closing) /* UV_ECANCELED when closed meanwhile */
        conn_close(c);
}

/* Ends a connection whose last response is written. Closing a socket with
 * unread input makes the kernel answer with a reset, and the client may then
 * lose the response it has not read yet (typically a 413 or 400 sent while it
 * is still sending). So shut down our side instead (the client sees the end
 * of the response stream) and read and drop its input until it closes, for
 * at most LINGER_MS or LINGER_MAX bytes. */
static void conn_linger(conn *c)
{
    if (c->state == ST_LINGER)
        return;
    if (c->eof) {
        conn_close(c);
        return;
    }
    c->state = ST_LINGER;
    c->since = uv_now(c->srv->loop);
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, shutdown_cb) < 0) {
        conn_close(c);
        return;
    }
    if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
        c->reading = 1;
}

static void write_cb(uv_write_t *req, int status)
{
    conn *c = req->data;
    c->writing = 0;
    c->wbuf.len = 0;
    if (status < 0 || c->closing) {
        conn_close(c);
        return;
    }
    conn_flush(c);
}

static void conn_flush(conn *c)
{
    if (c->closing || c->writing)
        return;
    if (c->out.len) {
        uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
        int rc = fnh__stream_try_write((uv_stream_t *)&c->tcp, &b);
        if (rc == 1) {
            c->out.len = 0;
        } else {
            size_t done = (size_t)(b.base - c->out.data);
            if (rc < 0) {
                conn_close(c);
                return;
            }
            /* swap: the unsent rest goes to wbuf for an async write */
            fnh__buf tmp = c->wbuf;
            c->wbuf = c->out;
            c->out = tmp;
            c->out.len = 0;
            if (done) {
                memmove(c->wbuf.data, c->wbuf.data + done, c->wbuf.len - done);
                c->wbuf.len -= done;
            }
            uv_buf_t wb = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
            c->wreq.data = c;
            c->writing = 1;
            c->write_since = uv_now(c->srv->loop);
            if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &wb, 1, write_cb) < 0) {
                c->writing = 0;
                conn_close(c);
            }
            return;
        }
    }
    if (c->no_more_requests == 2 && !c->head) {
        conn_linger(c);
        return;
    }
    if (c->out.len == 0 && c->state == ST_WAITING && !c->head && !c->paused)
        c->state = ST_IDLE, c->since = uv_now(c->srv->loop);
    if (c->paused || !c->reading)
        conn_resume(c);
}

/* ---- parsing ------------------------------------------------------------ */

#define CONN(p) ((conn *)(p)->data)

/* Room in c->hoff for the (name, value) offsets of header nheaders and the
 * start of the next name. 0 or -1 (out of memory). */
static int reserve_offsets(conn *c)
{
    if (2 * c->nheaders + 2 <= c->hoff_cap)
        return 0;
    size_t cap = c->hoff_cap ? c->hoff_cap * 2 : 32;
    size_t *h = realloc(c->hoff, cap * sizeof *h);
    if (!h)
        return -1;
    c->hoff = h;
    c->hoff_cap = cap;
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    conn *c = CONN(p);
    c->url.len = 0;
    c->hdrs.len = 0;
    c->nheaders = 0;
    if (reserve_offsets(c))
        return -1;
    c->hoff[0] = 0; /* the first name starts the buffer */
    c->header_bytes = 0;
    c->in_value = 0;
    c->expect_continue = 0;
    c->state = ST_HEADERS;
    c->since = uv_now(c->srv->loop);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    conn *c = CONN(p);
    if (c->url.len + len + 16 > c->srv->limits.max_request_line) {
        c->reject = 414;
        return -1;
    }
    return fnh__buf_append(&c->url, at, len) ? -1 : 0;
}

/* A request line without a version (HTTP/0.9, "GET /x") is refused as soon
 * as it ends: llhttp reports it as version 0.9 before the URL completes, and
 * otherwise the version is parsed after the URL. */
static int on_url_complete(llhttp_t *p)
{
    if (p->http_major == 0 && p->http_minor == 9)
        return -1; /* 400 */
    return 0;
}

/* Only HTTP/1.0 and HTTP/1.1 are spoken here (Kestrel answers others too). */
static int on_version_complete(llhttp_t *p)
{
    if (p->http_major != 1 || p->http_minor > 1)
        return -1; /* 400 */
    return 0;
}

static int header_bytes(conn *c, size_t len)
{
    c->header_bytes += len;
    if (c->header_bytes > c->srv->limits.max_header_bytes) {
        c->reject = 431;
        return -1;
    }
    return 0;
}

/* llhttp (not built in strict mode) lets some non-token bytes such as spaces
 * through in header names; Kestrel answers 400. */
static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    conn *c = CONN(p);
    for (size_t i = 0; i < len; i++)
        if (!fnh__http_tchar[(unsigned char)at[i]])
            return -1; /* 400 */
    if (header_bytes(c, len))
        return -1;
    return fnh__buf_append(&c->hdrs, at, len) ? -1 : 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    conn *c = CONN(p);
    if (c->hdrs.len == c->hoff[2 * c->nheaders])
        return -1; /* an empty name (": value"): 400 */
    if (c->nheaders >= c->srv->limits.max_headers) {
        c->reject = 431;
        return -1;
    }
    if (reserve_offsets(c))
        return -1;
    fnh__buf_append(&c->hdrs, "", 1); /* NUL ends the name */
    c->in_value = 1;
    c->hoff[2 * c->nheaders + 1] = c->hdrs.len;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    conn *c = CONN(p);
    if (header_bytes(c, len))
        return -1;
    return fnh__buf_append(&c->hdrs, at, len) ? -1 : 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    conn *c = CONN(p);
    if (!c->in_value) /* a value with an empty name cannot happen in llhttp */
        return -1;
    /* llhttp skips the whitespace before a value but keeps what follows it */
    while (c->hdrs.len > c->hoff[2 * c->nheaders + 1] &&
           (c->hdrs.data[c->hdrs.len - 1] == ' ' || c->hdrs.data[c->hdrs.len - 1] == '\t'))
        c->hdrs.len--;
    fnh__buf_append(&c->hdrs, "", 1);
    c->nheaders++;
    c->in_value = 0;
    if (reserve_offsets(c))
        return -1;
    c->hoff[2 * c->nheaders] = c->hdrs.len; /* where the next name starts */
    return 0;
}

/* The FNH__M_* bit of an llhttp method; 0 for one no route can have. */
static unsigned method_bit(uint8_t method)
{
    switch (method) {
    case HTTP_GET: return FNH__M_GET;
    case HTTP_POST: return FNH__M_POST;
    case HTTP_PUT: return FNH__M_PUT;
    case HTTP_DELETE: return FNH__M_DELETE;
    case HTTP_HEAD: return FNH__M_HEAD;
    case HTTP_PATCH: return FNH__M_PATCH;
    case HTTP_OPTIONS: return FNH__M_OPTIONS;
    case HTTP_TRACE: return FNH__M_TRACE;
    default: return 0;
    }
}

static int on_headers_complete(llhttp_t *p)
{
    conn *c = CONN(p);
    fnh__http_server *s = c->srv;
    /* target: origin-form "/p?q", absolute-form "http://host/p?q", "*" (for
     * OPTIONS) or the authority-form of CONNECT (no method bit: never routed);
     * another scheme gets 400, as Kestrel answers */
    const char *t = c->url.data ? c->url.data : "/";
    fnh__http_target parts;
    if (fnh__http_target_split(t, p->method == HTTP_CONNECT, &parts))
        return -1;
    fnh__http_req *r;
    unsigned bit = method_bit(p->method);
    if (fnh__http_req_make(bit, bit ? NULL : llhttp_method_name((llhttp_method_t)p->method), t,
                           c->url.data ? c->url.len : 1, &parts, c->hdrs.data, c->hdrs.len,
                           c->hoff, c->nheaders, &r))
        return -1; /* "%00" in the path (400, as Kestrel answers) or the query: the
                    * value would be cut there */
    c->req = r;
    r->http_minor = p->http_minor;
    c->hdrs.len = 0; /* trailers, if any, go to the emptied buffer */
    c->hoff[2 * c->nheaders] = 0;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > s->limits.max_body) {
        c->reject = 413;
        return -1;
    }
    c->state = ST_BODY;
    c->since = uv_now(s->loop);
    c->body_bytes = 0;
    /* a body is awaited: only then is an Expect header looked for */
    const char *expect = (p->flags & F_CHUNKED) || p->content_length > 0
                             ? fnh__http_req_header(r, "Expect")
                             : NULL;
    if (expect && strcasecmp(expect, "100-continue") == 0 && p->http_major == 1 &&
        p->http_minor >= 1) {
        c->expect_continue = 1;
        send_continue(c);
    }
    return 0;
}

/* Queues the 100 Continue owed to the request whose body is awaited, once
 * every earlier response is queued before it (ordering holds, and a client
 * waiting for it behind a slow pipelined request is not left hanging, nor
 * timed out by the body-rate check while it could not send). */
static void send_continue(conn *c)
{
    if (!c->expect_continue || c->head || c->state != ST_BODY || c->no_more_requests)
        return;
    c->expect_continue = 0;
    c->since = uv_now(c->srv->loop); /* the body-rate clock starts now */
    fnh__buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    mark_dirty(c);
}

/* A chunk that cannot fit under the body limit is refused before it comes
 * (p->content_length is the chunk's size here). */
static int on_chunk_header(llhttp_t *p)
{
    conn *c = CONN(p);
    if (p->content_length > c->srv->limits.max_body - c->body_bytes) {
        c->reject = 413;
        return -1;
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    conn *c = CONN(p);
    c->body_bytes += len;
    if (c->body_bytes > c->srv->limits.max_body) {
        c->reject = 413;
        return -1;
    }
    return fnh__buf_append(&c->req->body, at, len) ? -1 : 0;
}

static int on_message_complete(llhttp_t *p)
{
    conn *c = CONN(p);
    fnh__http_req *r = c->req;
    c->req = NULL;
    r->keep_alive = llhttp_should_keep_alive(p);
    fnh__http_exchange *x = exchange_new(c, p->method == HTTP_HEAD);
    if (!x) {
        fnh__http_req_free(r);
        return -1;
    }
    c->state = ST_WAITING;
    c->expect_continue = 0;
    if (!r->keep_alive || p->upgrade) { /* no protocol switch here: answer, close */
        x->close = 1;
        c->no_more_requests = 1;
    } else if (p->http_major == 1 && p->http_minor == 0) {
        x->keep_alive_10 = 1;
    }
    c->srv->handler(c->srv->arg, x, r);
    if (c->closing || c->no_more_requests)
        return HPE_PAUSED;
    if (conn_full(c)) {
        c->paused = 1;
        return HPE_PAUSED;
    }
    return 0;
}

/* Feeds bytes to the parser; keeps what is left when it pauses. */
static void conn_parse(conn *c, const char *data, size_t len)
{
    llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
    if (err == HPE_OK)
        return;
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        const char *pos = llhttp_get_error_pos(&c->parser);
        llhttp_resume(&c->parser);
        if (c->no_more_requests || c->closing) {
            if (c->reading) {
                uv_read_stop((uv_stream_t *)&c->tcp);
                c->reading = 0;
            }
            return;
        }
        size_t used = pos ? (size_t)(pos - data) : len;
        if (used < len) {
            fnh__buf tmp = {0};
            fnh__buf_append(&tmp, data + used, len - used);
            fnh__buf_free(&c->pending);
            c->pending = tmp;
        }
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = 0;
        }
        return;
    }
    if (c->reject)
        reject(c, c->reject);
    else
        reject(c, 400);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn *c = h->data;
    buf->base = c->srv->readbuf;
    buf->len = sizeof c->srv->readbuf;
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = st->data;
    (void)buf;
    if (c->state == ST_LINGER) { /* drop input until the client closes */
        if (nread > 0)
            c->lingered += (uint64_t)nread;
        if (nread < 0 || c->lingered > LINGER_MAX)
            conn_close(c);
        return;
    }
    if (nread < 0) {
        if (c->reading)
            uv_read_stop(st);
        c->reading = 0;
        c->eof = 1;
        if (!c->head && !c->out.len && !c->writing) {
            conn_close(c);
        } else {
            /* client finished sending; answer what it asked (a request it
             * left incomplete is dropped), then close */
            c->no_more_requests = 2;
            mark_dirty(c);
        }
        return;
    }
    if (nread == 0)
        return;
    if (c->state == ST_IDLE)
        c->since = uv_now(c->srv->loop);
    conn_parse(c, c->srv->readbuf, (size_t)nread);
    if (c->closing || !c->out.len)
        return;
    /* Every request this read brought was answered inline: send the answers
     * now, in one write, rather than after the other connections' reads of
     * this loop turn (a client waiting on them would wait for all of those).
     * Answers still to come are sent together after the turn's I/O. */
    if (!c->head) {
        unmark_dirty(c);
        conn_flush(c);
    } else {
        mark_dirty(c);
    }
}

/* Parses what was kept while paused and reads on, if the connection has
 * room (see MAX_OUTSTANDING). When an inline answer calls it from inside a
 * parser callback the parser is not paused, so it only starts reading. */
static void conn_resume(conn *c)
{
    if (c->closing || c->no_more_requests || !c->srv->listening || !conn_has_room(c))
        return;
    if (c->paused) {
        c->paused = 0;
        if (c->pending.len) {
            fnh__buf p = c->pending;
            c->pending = (fnh__buf){0};
            conn_parse(c, p.data, p.len);
            fnh__buf_free(&p);
            if (c->paused || c->closing || c->no_more_requests)
                return;
        }
    }
    if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
        c->reading = 1;
}

/* ---- connection lifetime ------------------------------------------- */

static void server_maybe_free(fnh__http_server *s);

static void conn_closed_cb(uv_handle_t *h)
{
    conn *c = h->data;
    fnh__http_server *s = c->srv;
    c->closed = 1;
    s->handles_open--;
    conn_maybe_free(c);
    server_maybe_free(s);
}

static void conn_close(conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    fnh__http_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    /* unlink from the dirty list */
    for (conn **pp = &s->dirty; *pp; pp = &(*pp)->dirty_next)
        if (*pp == c) {
            *pp = c->dirty_next;
            break;
        }
    drop_queued(c);
    uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
}

static void on_connection(uv_stream_t *server, int status)
{
    fnh__http_server *s = server->data;
    if (status == UV_EMFILE || status == UV_ENFILE)
        fnh__log_emfile_once();
    if (status < 0)
        return;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    s->handles_open++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
        return;
    }
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
        fnh__fdlimit_check(fd);
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, &s->settings);
    c->parser.data = c;
    c->state = ST_IDLE;
    c->since = uv_now(s->loop);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
        c->reading = 1;
}

/* Kestrel's MinResponseDataRate, with the request body's rate and grace
 * period (240 bytes/s after 5 s by default, as Kestrel's): a client that
 * stops reading its answers is dropped instead of holding its unsent output
 * for ever. */
static int write_too_slow(conn *c, uint64_t now, const fnh__http_limits *l)
{
    uint64_t age = now - c->write_since;
    if (!c->writing || !l->min_body_rate || age <= l->body_grace_ms)
        return 0;
    size_t left = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    uint64_t done = c->wbuf.len > left ? c->wbuf.len - left : 0;
    return done * 1000 / age < l->min_body_rate;
}

/* One timer checks every connection's deadline (Kestrel's timeouts). */
static void sweep_cb(uv_timer_t *t)
{
    fnh__http_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    const fnh__http_limits *l = &s->limits;
    conn *next;
    for (conn *c = s->conns; c; c = next) {
        next = c->next;
        uint64_t age = now - c->since;
        if (write_too_slow(c, now, l)) {
            conn_close(c);
            continue;
        }
        switch (c->state) {
        case ST_IDLE:
            if (!c->head && !c->out.len && !c->writing && age >= l->keepalive_timeout_ms)
                conn_close(c);
            break;
        case ST_HEADERS:
            if (age >= l->headers_timeout_ms) {
                reject(c, 408);
                mark_dirty(c);
            }
            break;
        case ST_BODY: /* (not while the client still waits for its 100 Continue) */
            if (l->min_body_rate && !c->expect_continue && age > l->body_grace_ms &&
                c->body_bytes * 1000 / age < l->min_body_rate) {
                reject(c, 408);
                mark_dirty(c);
            }
            break;
        case ST_WAITING:
            break;
        case ST_LINGER:
            if (age >= LINGER_MS)
                conn_close(c);
            break;
        }
    }
    fnh__http_server_flush(s);
}

int fnh__http_server_start(uv_loop_t *loop, const char *host, int port,
                           const fnh__http_limits *limits, fnh__http_handler handler, void *arg,
                           fnh__http_server **out)
{
    fnh__http_server *s = calloc(1, sizeof *s);
    if (!s)
        return UV_ENOMEM;
    s->loop = loop;
    s->limits = *limits;
    s->handler = handler;
    s->arg = arg;
    llhttp_settings_init(&s->settings);
    s->settings.on_message_begin = on_message_begin;
    s->settings.on_url = on_url;
    s->settings.on_url_complete = on_url_complete;
    s->settings.on_version_complete = on_version_complete;
    s->settings.on_header_field = on_header_field;
    s->settings.on_header_field_complete = on_header_field_complete;
    s->settings.on_header_value = on_header_value;
    s->settings.on_header_value_complete = on_header_value_complete;
    s->settings.on_headers_complete = on_headers_complete;
    s->settings.on_chunk_header = on_chunk_header;
    s->settings.on_body = on_body;
    s->settings.on_message_complete = on_message_complete;

    struct sockaddr_storage addr;
    int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr)
                               : uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc) {
        free(s);
        return rc;
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->handles_open = 1;
    rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
    if (rc) {
        s->freeing = 1;
        uv_close((uv_handle_t *)&s->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        free(s);
        return rc;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &blen);
    s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    s->listening = 1;
    uint64_t tick = limits->headers_timeout_ms;
    if (limits->keepalive_timeout_ms < tick)
        tick = limits->keepalive_timeout_ms;
    if (limits->body_grace_ms && limits->body_grace_ms < tick)
        tick = limits->body_grace_ms;
    tick /= 4;
    if (tick < 10)
        tick = 10;
    if (tick > 1000)
        tick = 1000;
    uv_timer_init(loop, &s->sweep);
    s->sweep.data = s;
    uv_timer_start(&s->sweep, sweep_cb, tick, tick);
    uv_unref((uv_handle_t *)&s->sweep);
    uv_check_init(loop, &s->flusher);
    s->flusher.data = s;
    uv_check_start(&s->flusher, flusher_cb);
    uv_unref((uv_handle_t *)&s->flusher);
    s->handles_open += 2;
    *out = s;
    return 0;
}

static void listener_closed_cb(uv_handle_t *h)
{
    fnh__http_server *s = h->data;
    s->handles_open--;
    server_maybe_free(s);
}

void fnh__http_server_stop(fnh__http_server *s)
{
    if (!s->listening)
        return;
    s->listening = 0;
    uv_close((uv_handle_t *)&s->listener, listener_closed_cb);
    conn *next;
    for (conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->state == ST_LINGER) /* already ending; keeps draining input */
            continue;
        c->no_more_requests = c->no_more_requests ? c->no_more_requests : 1;
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = 0;
        }
        if (!c->head && !c->out.len && !c->writing)
            conn_close(c);
        else
            c->no_more_requests = 2;
    }
}

static void server_maybe_free(fnh__http_server *s)
{
    if (s->freeing && s->handles_open == 0)
        free(s);
}

static void timer_closed_cb(uv_handle_t *h)
{
    fnh__http_server *s = h->data;
    s->handles_open--;
    server_maybe_free(s);
}

void fnh__http_server_free(fnh__http_server *s)
{
    fnh__http_server_stop(s);
    conn *next;
    for (conn *c = s->conns; c; c = next) {
        next = c->next;
        conn_close(c);
    }
    s->freeing = 1;
    uv_close((uv_handle_t *)&s->sweep, timer_closed_cb);
    uv_close((uv_handle_t *)&s->flusher, timer_closed_cb);
}

size_t fnh__http_server_connections(const fnh__http_server *s)
{
    return s->nconns;
}

int fnh__http_server_port(const fnh__http_server *s)
{
    return s->port;
}
