/* grpc_server.c: h2c connections driven by nghttp2 on the libuv loop (bytes
 * read are fed in, bytes it produces are written once per loop turn), one
 * fnh__grpc_stream per EventStream call with its message reassembly and its
 * queue of outgoing bytes, trailers at the end, status 12 for other paths. */
#include "grpc_server.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stream_write.h"

#define READ_BUF 65536u
#define WINDOW ((1u << 30))
#define WBUF_KEEP (64u << 10)

typedef struct conn conn;

struct fnh__grpc_stream {
    conn *c;
    int32_t id;
    int is_rpc;        /* :path is the EventStream method */
    int responded;
    int deferred;      /* the data source waits for bytes */
    int ending;        /* trailers follow the queued bytes */
    int error;         /* broke the protocol: no more messages are read */
    int status;
    char *message;
    fnh__rpc_reader rd;
    fnh__buf out;
    size_t out_off;
    void *data;
    fnh__grpc_stream *next;
};

struct conn {
    uv_tcp_t tcp;
    fnh__grpc_server *srv;
    nghttp2_session *ng;
    fnh__grpc_stream *streams;
    int closing, dirty;
    fnh__buf wbuf; /* the bytes of one flush */
    conn *next;
    char rbuf[READ_BUF];
};

typedef struct wreq {
    uv_write_t req;
    fnh__buf b;
} wreq;

struct fnh__grpc_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_check_t check;
    uv_prepare_t prepare;
    const fnh__grpc_handler *h;
    void *data;
    uint32_t max;
    int port;
    int freeing;
    int handles; /* open libuv handles; the memory goes when 0 */
    conn *conns;
};

static void maybe_free_server(fnh__grpc_server *s)
{
    if (s->freeing && s->handles == 0)
        free(s);
}

static void server_handle_closed(uv_handle_t *h)
{
    fnh__grpc_server *s = h->data;
    s->handles--;
    maybe_free_server(s);
}

/* ---- streams ---------------------------------------------------------------- */

static void stream_free(fnh__grpc_stream *st)
{
    fnh__rpc_reader_free(&st->rd);
    fnh__buf_free(&st->out);
    free(st->message);
    free(st);
}

static void unlink_stream(fnh__grpc_stream *st)
{
    for (fnh__grpc_stream **pp = &st->c->streams; *pp; pp = &(*pp)->next)
        if (*pp == st) {
            *pp = st->next;
            return;
        }
}

static void flush_soon(conn *c)
{
    c->dirty = 1;
}

static ssize_t data_read_cb(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)src;
    (void)user;
    fnh__grpc_stream *st = nghttp2_session_get_stream_user_data(ng, id);
    if (!st)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t have = st->out.len - st->out_off;
    if (have) {
        size_t n = have < length ? have : length;
        memcpy(buf, st->out.data + st->out_off, n);
        st->out_off += n;
        if (st->out_off == st->out.len) {
            st->out_off = st->out.len = 0;
            if (st->out.cap > (1u << 20))
                fnh__buf_free(&st->out);
        }
        return (ssize_t)n;
    }
    if (!st->ending) {
        st->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    char code[16];
    snprintf(code, sizeof code, "%d", st->status);
    nghttp2_nv tr[2] = {
        {(uint8_t *)"grpc-status", (uint8_t *)code, 11, strlen(code), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"grpc-message", (uint8_t *)(st->message ? st->message : ""), 12,
         st->message ? strlen(st->message) : 0, NGHTTP2_NV_FLAG_NONE},
    };
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (nghttp2_submit_trailer(ng, id, tr, st->message ? 2 : 1) == 0)
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    return 0;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE}

static void respond(conn *c, fnh__grpc_stream *st)
{
    st->responded = 1;
    if (st->is_rpc) {
        nghttp2_nv hd[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
        nghttp2_data_provider dp = {.source.ptr = st, .read_callback = data_read_cb};
        nghttp2_submit_response(c->ng, st->id, hd, 2, &dp);
    } else { /* trailers-only: UNIMPLEMENTED */
        nghttp2_nv hd[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                           NV("grpc-status", "12"), NV("grpc-message", "unknown method")};
        nghttp2_submit_response(c->ng, st->id, hd, 4, NULL);
    }
    flush_soon(c);
}

void fnh__grpc_stream_end(fnh__grpc_stream *st, int status, const char *message)
{
    if (st->ending)
        return;
    st->ending = 1;
    st->status = status;
    st->message = message ? fnh__strdup(message) : NULL;
    if (st->deferred) {
        st->deferred = 0;
        nghttp2_session_resume_data(st->c->ng, st->id);
    }
    flush_soon(st->c);
}

int fnh__grpc_send(fnh__grpc_stream *st, fnh__buf *b)
{
    if (st->ending || st->c->closing) {
        fnh__buf_free(b);
        return -EPIPE;
    }
    if (st->out.len == st->out_off) { /* nothing queued: take its memory */
        fnh__buf_free(&st->out);
        st->out = *b;
        st->out_off = 0;
        *b = (fnh__buf){0};
    } else {
        int rc = fnh__buf_append(&st->out, b->data, b->len);
        fnh__buf_free(b);
        if (rc)
            return rc;
    }
    if (st->deferred) {
        st->deferred = 0;
        nghttp2_session_resume_data(st->c->ng, st->id);
    }
    flush_soon(st->c);
    return 0;
}

void *fnh__grpc_stream_data(const fnh__grpc_stream *st)
{
    return st->data;
}

void fnh__grpc_stream_set_data(fnh__grpc_stream *st, void *data)
{
    st->data = data;
}

/* ---- nghttp2 callbacks ------------------------------------------------------ */

static int begin_headers_cb(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    conn *c = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    fnh__grpc_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->c = c;
    st->id = f->hd.stream_id;
    fnh__rpc_reader_init(&st->rd, c->srv->max);
    st->next = c->streams;
    c->streams = st;
    nghttp2_session_set_stream_user_data(ng, st->id, st);
    return 0;
}

static int header_cb(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    (void)flags;
    (void)user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    fnh__grpc_stream *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    static const char path[] = FNH__GRPC_EVENT_STREAM;
    if (st && namelen == 5 && memcmp(name, ":path", 5) == 0)
        st->is_rpc = valuelen == sizeof path - 1 && memcmp(value, path, valuelen) == 0;
    return 0;
}

static int frame_recv_cb(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    conn *c = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    fnh__grpc_stream *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (st && !st->responded)
        respond(c, st);
    return 0;
}

/* Once a trailers-only answer is out, what the client may still send is not
 * wanted: the stream ends there (RST_STREAM NO_ERROR, as gRPC servers do). */
static int frame_send_cb(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    (void)user;
    if (f->hd.type != NGHTTP2_HEADERS || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    fnh__grpc_stream *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (st && !st->is_rpc)
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
    return 0;
}

/* A stream broke the protocol: its messages stop, it ends with status. */
static void stream_fail(fnh__grpc_stream *st, int rc)
{
    st->error = rc;
    fnh__rpc_reader_free(&st->rd);
    fnh__grpc_stream_end(st, rc == -EMSGSIZE ? 8 : 12,
                         rc == -EMSGSIZE ? "message larger than the limit"
                                         : "compressed or undecodable message refused");
}

static int data_chunk_cb(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    (void)flags;
    conn *c = user;
    fnh__grpc_stream *st = nghttp2_session_get_stream_user_data(ng, id);
    if (!st || !st->is_rpc)
        return 0;
    while (len && !st->error && !c->srv->freeing) {
        char *p;
        size_t room = fnh__rpc_reader_space(&st->rd, &p);
        if (!room) {
            stream_fail(st, -ENOMEM);
            break;
        }
        size_t n = room < len ? room : len;
        memcpy(p, data, n);
        fnh__rpc_reader_commit(&st->rd, n);
        data += n;
        len -= n;
        fnh__rpc_msg *m;
        int rc;
        while ((rc = fnh__rpc_reader_next(&st->rd, &m)) == 1 && !c->srv->freeing)
            c->srv->h->message(c->srv->data, st, m);
        if (rc == 1)
            fnh__rpc_msg_free(m);
        else if (rc < 0)
            stream_fail(st, rc);
    }
    return 0;
}

static int stream_close_cb(nghttp2_session *ng, int32_t id, uint32_t code, void *user)
{
    (void)code;
    conn *c = user;
    fnh__grpc_stream *st = nghttp2_session_get_stream_user_data(ng, id);
    if (!st)
        return 0;
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    unlink_stream(st);
    if (st->is_rpc && !c->srv->freeing)
        c->srv->h->closed(c->srv->data, st, st->error);
    stream_free(st);
    return 0;
}

/* ---- connections ------------------------------------------------------------ */

static void conn_closed(uv_handle_t *h)
{
    conn *c = h->data;
    fnh__grpc_server *s = c->srv;
    fnh__buf_free(&c->wbuf);
    free(c);
    s->handles--;
    maybe_free_server(s);
}

static void conn_close(conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    fnh__grpc_server *s = c->srv;
    for (conn **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    while (c->streams) {
        fnh__grpc_stream *st = c->streams;
        c->streams = st->next;
        if (st->is_rpc && !s->freeing)
            s->h->closed(s->data, st, -ECONNRESET);
        stream_free(st);
    }
    nghttp2_session_del(c->ng);
    c->ng = NULL;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void write_cb(uv_write_t *req, int status)
{
    (void)status;
    wreq *w = (wreq *)req;
    fnh__buf_free(&w->b);
    free(w);
}

/* Writes what nghttp2 has to send, in one write from the connection's
 * buffer; what the socket does not take at once leaves with a write
 * request that owns it. Closes a finished or broken connection. */
static void flush(conn *c)
{
    c->dirty = 0;
    if (c->closing)
        return;
    c->wbuf.len = 0;
    for (;;) {
        const uint8_t *d;
        ssize_t n = nghttp2_session_mem_send(c->ng, &d);
        if (n == 0)
            break;
        if (n < 0 || fnh__buf_append(&c->wbuf, d, (size_t)n)) {
            conn_close(c);
            return;
        }
    }
    uv_buf_t ub = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    int rc = fnh__stream_try_write((uv_stream_t *)&c->tcp, &ub);
    if (rc == 0) {
        wreq *w = calloc(1, sizeof *w);
        if (!w) {
            conn_close(c);
            return;
        }
        w->b = c->wbuf; /* ub points into it */
        c->wbuf = (fnh__buf){0};
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &ub, 1, write_cb)) {
            write_cb(&w->req, -1);
            rc = -1;
        }
    }
    if (c->wbuf.cap > WBUF_KEEP)
        fnh__buf_free(&c->wbuf); /* a big burst does not pin its memory */
    if (rc < 0 || (!nghttp2_session_want_read(c->ng) && !nghttp2_session_want_write(c->ng)))
        conn_close(c);
}

static void flush_all(fnh__grpc_server *s)
{
    for (conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (c->dirty)
            flush(c);
    }
}

static void check_cb(uv_check_t *h)
{
    flush_all(h->data);
}

static void prepare_cb(uv_prepare_t *h)
{
    flush_all(h->data);
}

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)size;
    conn *c = h->data;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = h->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->closing)
        return;
    ssize_t rc = nghttp2_session_mem_recv(c->ng, (const uint8_t *)buf->base, (size_t)nread);
    if (c->srv->freeing)
        return;
    if (rc < 0) {
        fnh__log("Host.Worker", FNH_LOG_WARN, "A language worker connection sent bytes that are "
                                               "not HTTP/2 (%s); closing it",
                 nghttp2_strerror((int)rc));
        conn_close(c);
        return;
    }
    flush_soon(c);
}

static void accept_cb(uv_stream_t *l, int status)
{
    fnh__grpc_server *s = l->data;
    if (status < 0 || s->freeing)
        return;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    s->handles++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp)) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, frame_recv_cb);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, frame_send_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, data_chunk_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, stream_close_cb);
    int rc = nghttp2_session_server_new(&c->ng, cb, c);
    nghttp2_session_callbacks_del(cb);
    c->next = s->conns;
    s->conns = c;
    if (rc) {
        conn_close(c);
        return;
    }
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW},
    };
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0, WINDOW);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    flush_soon(c);
}

/* ---- server ------------------------------------------------------------------ */

int fnh__grpc_server_start(uv_loop_t *loop, const fnh__grpc_handler *handler, void *data,
                           uint32_t max, fnh__grpc_server **out)
{
    *out = NULL;
    fnh__grpc_server *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->h = handler;
    s->data = data;
    s->max = max;
    uv_tcp_init(loop, &s->listener);
    uv_check_init(loop, &s->check);
    uv_prepare_init(loop, &s->prepare);
    s->listener.data = s->check.data = s->prepare.data = s;
    s->handles = 3;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    int rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&s->listener, 16, accept_cb);
    if (rc) {
        fnh__grpc_server_free(s);
        return rc;
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_check_start(&s->check, check_cb);
    uv_prepare_start(&s->prepare, prepare_cb);
    uv_unref((uv_handle_t *)&s->check);
    uv_unref((uv_handle_t *)&s->prepare);
    *out = s;
    return 0;
}

int fnh__grpc_server_port(const fnh__grpc_server *s)
{
    return s->port;
}

void fnh__grpc_server_free(fnh__grpc_server *s)
{
    if (!s || s->freeing)
        return;
    s->freeing = 1;
    while (s->conns) {
        conn *c = s->conns;
        if (c->dirty)
            flush(c); /* the last words (trailers, WorkerTerminate) go out */
        if (s->conns == c)
            conn_close(c);
    }
    uv_close((uv_handle_t *)&s->listener, server_handle_closed);
    uv_close((uv_handle_t *)&s->check, server_handle_closed);
    uv_close((uv_handle_t *)&s->prepare, server_handle_closed);
}
