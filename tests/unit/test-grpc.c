/* test-grpc.c: the language workers' gRPC server (grpc_server.c) driven by a
 * real HTTP/2 client (nghttp2's client side over TCP on 127.0.0.1): a
 * message each way on EventStream, one bigger than the socket takes at
 * once, trailers, status 12 for an unknown path, compressed and oversized
 * messages refused. */
#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "grpc_server.h"
#include "unit.h"

#define PB(x) AzureFunctionsRpcMessages__##x

/* ---- the server's side ---- */
static struct {
    int messages, closed;
    char worker_id[64];
    fnh__grpc_stream *stream;
} srv;

static void on_message(void *data, fnh__grpc_stream *s, fnh__rpc_msg *m)
{
    (void)data;
    srv.messages++;
    srv.stream = s;
    if (m->content_case == AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_START_STREAM)
        snprintf(srv.worker_id, sizeof srv.worker_id, "%s", m->start_stream->worker_id);
    fnh__rpc_msg_free(m);
}

static void on_closed(void *data, fnh__grpc_stream *s, int why)
{
    (void)data;
    (void)why;
    if (s == srv.stream)
        srv.stream = NULL;
    srv.closed++;
}

static const fnh__grpc_handler handler = {on_message, on_closed};

/* ---- the client's side ---- */
typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t conn;
    nghttp2_session *ng;
    int connected, done, closed, acks;
    char status[8];  /* grpc-status seen (headers or trailers) */
    unsigned char data[4096];
    size_t ndata;
    size_t ntotal;   /* every DATA byte, and their FNV-1a hash */
    uint32_t hash;
    const unsigned char *body;
    size_t nbody, sent;
} client;

static ssize_t body_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)ng;
    (void)id;
    (void)src;
    client *c = user;
    size_t n = c->nbody - c->sent < len ? c->nbody - c->sent : len;
    if (n)
        memcpy(buf, c->body + c->sent, n);
    c->sent += n;
    if (c->sent == c->nbody) /* keep the stream open: the server ends it */
        return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
    (void)flags;
    return (ssize_t)n;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
    (void)ng;
    (void)f;
    (void)flags;
    client *c = user;
    if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0 && vlen < sizeof c->status) {
        memcpy(c->status, value, vlen);
        c->status[vlen] = '\0';
    }
    return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
                   void *user)
{
    (void)ng;
    (void)flags;
    (void)id;
    client *c = user;
    for (size_t i = 0; i < n; i++)
        c->hash = (c->hash ^ d[i]) * 16777619u;
    c->ntotal += n;
    if (c->ndata + n <= sizeof c->data) {
        memcpy(c->data + c->ndata, d, n);
        c->ndata += n;
    }
    return 0;
}

static int on_frame(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    (void)ng;
    if (f->hd.type == NGHTTP2_SETTINGS && (f->hd.flags & NGHTTP2_FLAG_ACK))
        ((client *)user)->acks++;
    return 0;
}

static int on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *user)
{
    (void)ng;
    (void)id;
    (void)code;
    ((client *)user)->closed = 1;
    return 0;
}

static void write_done(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void pump_out(client *c)
{
    const uint8_t *d;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(c->ng, &d)) > 0) {
        uv_write_t *w = malloc(sizeof *w);
        char *copy = malloc((size_t)n);
        memcpy(copy, d, (size_t)n);
        w->data = copy;
        uv_buf_t b = uv_buf_init(copy, (unsigned)n);
        uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, write_done);
    }
}

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(size);
    buf->len = size;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    client *c = s->data;
    if (n > 0) {
        nghttp2_session_mem_recv(c->ng, (const uint8_t *)buf->base, (size_t)n);
        pump_out(c);
    } else if (n < 0) {
        c->done = 1;
    }
    free(buf->base);
}

static void connect_cb(uv_connect_t *r, int status)
{
    client *c = r->data;
    c->connected = status == 0 ? 1 : -1;
    if (status == 0)
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

/* Connects to port and opens one request on path with body bytes. */
static void client_open(client *c, uv_loop_t *loop, int port, const char *path,
                        const unsigned char *body, size_t nbody)
{
    memset(c, 0, sizeof *c);
    c->hash = 2166136261u;
    c->body = body;
    c->nbody = nbody;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->conn.data = c;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    uv_tcp_connect(&c->conn, &c->tcp, (const struct sockaddr *)&a, connect_cb);
    while (!c->connected)
        uv_run(loop, UV_RUN_ONCE);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_client_new(&c->ng, cb, c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
    nghttp2_nv hd[] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":path", path),
                       NV(":authority", "127.0.0.1"), NV("content-type", "application/grpc")};
    nghttp2_data_provider dp = {.read_callback = body_read};
    nghttp2_submit_request(c->ng, NULL, hd, 5, &dp, NULL);
    pump_out(c);
}

static void client_close(client *c, uv_loop_t *loop)
{
    nghttp2_session_del(c->ng);
    uv_close((uv_handle_t *)&c->tcp, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* Runs the loop until cond or about 5 s. */
#define RUN_UNTIL(loop, cond)                                                    \
    do {                                                                         \
        for (int i_ = 0; i_ < 5000 && !(cond); i_++) {                          \
            uv_run((loop), UV_RUN_NOWAIT);                                       \
            uv_sleep(1);                                                         \
        }                                                                        \
    } while (0)

static fnh__grpc_server *start_server(uv_loop_t *loop, uint32_t max)
{
    memset(&srv, 0, sizeof srv);
    fnh__grpc_server *s = NULL;
    CHECK(fnh__grpc_server_start(loop, &handler, NULL, max, &s) == 0);
    CHECK(s && fnh__grpc_server_port(s) > 0);
    return s;
}

static void stop_server(fnh__grpc_server *s, uv_loop_t *loop)
{
    fnh__grpc_server_free(s);
    for (int i = 0; i < 10; i++)
        uv_run(loop, UV_RUN_NOWAIT);
}

static void frame_start_stream(fnh__buf *b, const char *worker_id)
{
    PB(StartStream) ss = AZURE_FUNCTIONS_RPC_MESSAGES__START_STREAM__INIT;
    ss.worker_id = (char *)worker_id;
    fnh__rpc_msg m = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
    m.content_case = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_START_STREAM;
    m.start_stream = &ss;
    fnh__rpc_frame_append(b, &m);
}

static void test_unknown_path_is_unimplemented(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fnh__grpc_server *s = start_server(&loop, 0);
    client c;
    client_open(&c, &loop, fnh__grpc_server_port(s), "/no.Such/Method", NULL, 0);
    RUN_UNTIL(&loop, c.closed);
    CHECK(c.closed);
    CHECK_STR(c.status, "12");
    CHECK(srv.messages == 0);
    client_close(&c, &loop);
    stop_server(s, &loop);
    CHECK(uv_loop_close(&loop) == 0);
}

static void test_event_stream_both_ways(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fnh__grpc_server *s = start_server(&loop, 0);
    fnh__buf req = {0};
    frame_start_stream(&req, "worker-42");
    client c;
    client_open(&c, &loop, fnh__grpc_server_port(s), FNH__GRPC_EVENT_STREAM,
                (const unsigned char *)req.data, req.len);
    RUN_UNTIL(&loop, srv.messages == 1);
    CHECK(srv.messages == 1);
    CHECK_STR(srv.worker_id, "worker-42");
    CHECK(srv.stream != NULL);
    if (srv.stream) {
        fnh__buf out = {0};
        frame_start_stream(&out, "back");
        size_t n = out.len;
        CHECK(fnh__grpc_send(srv.stream, &out) == 0);
        RUN_UNTIL(&loop, c.ndata >= n);
        CHECK(c.ndata == n);
        fnh__rpc_reader rd;
        fnh__rpc_reader_init(&rd, 0);
        char *p;
        size_t room = fnh__rpc_reader_space(&rd, &p);
        CHECK(room >= c.ndata);
        memcpy(p, c.data, c.ndata);
        fnh__rpc_reader_commit(&rd, c.ndata);
        fnh__rpc_msg *m = NULL;
        CHECK(fnh__rpc_reader_next(&rd, &m) == 1);
        CHECK(m && m->start_stream && strcmp(m->start_stream->worker_id, "back") == 0);
        fnh__rpc_msg_free(m);
        fnh__rpc_reader_free(&rd);
        fnh__grpc_stream_end(srv.stream, 0, NULL);
        RUN_UNTIL(&loop, c.status[0]);
        CHECK_STR(c.status, "0");
    }
    fnh__buf_free(&req);
    client_close(&c, &loop);
    stop_server(s, &loop);
    CHECK(uv_loop_close(&loop) == 0);
}

/* A message bigger than the socket takes at once (the client's windows
 * open wide, so flow control does not cut it up) arrives whole and
 * unchanged: the rest of the flush leaves with a queued write. */
static void test_big_message_to_worker(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fnh__grpc_server *s = start_server(&loop, 0);
    fnh__buf req = {0};
    frame_start_stream(&req, "worker-big");
    client c;
    client_open(&c, &loop, fnh__grpc_server_port(s), FNH__GRPC_EVENT_STREAM,
                (const unsigned char *)req.data, req.len);
    RUN_UNTIL(&loop, srv.messages == 1 && c.acks == 1);
    nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 30};
    nghttp2_submit_settings(c.ng, NGHTTP2_FLAG_NONE, &iv, 1);
    nghttp2_session_set_local_window_size(c.ng, NGHTTP2_FLAG_NONE, 0, 1u << 30);
    pump_out(&c);
    RUN_UNTIL(&loop, c.acks == 2); /* the server has the new window */
    CHECK(c.acks == 2 && srv.stream != NULL);
    size_t big = 16u << 20;
    char *id = malloc(big + 1);
    for (size_t i = 0; i < big; i++)
        id[i] = (char)('a' + i % 23);
    id[big] = '\0';
    fnh__buf out = {0};
    frame_start_stream(&out, id);
    size_t n = out.len;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)out.data[i]) * 16777619u;
    if (srv.stream) {
        CHECK(fnh__grpc_send(srv.stream, &out) == 0);
        RUN_UNTIL(&loop, c.ntotal >= n);
    }
    CHECK(c.ntotal == n && c.hash == h);
    fnh__buf_free(&out);
    free(id);
    fnh__buf_free(&req);
    client_close(&c, &loop);
    stop_server(s, &loop);
    CHECK(uv_loop_close(&loop) == 0);
}

static void test_compressed_message_refused(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fnh__grpc_server *s = start_server(&loop, 0);
    fnh__buf req = {0};
    frame_start_stream(&req, "w");
    req.data[0] = 1; /* "compressed" */
    client c;
    client_open(&c, &loop, fnh__grpc_server_port(s), FNH__GRPC_EVENT_STREAM,
                (const unsigned char *)req.data, req.len);
    RUN_UNTIL(&loop, c.status[0]);
    CHECK_STR(c.status, "12");
    CHECK(srv.messages == 0);
    fnh__buf_free(&req);
    client_close(&c, &loop);
    stop_server(s, &loop);
    CHECK(uv_loop_close(&loop) == 0);
}

static void test_oversized_message_refused_before_buffering(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fnh__grpc_server *s = start_server(&loop, 1024);
    /* announces 1 MiB, sends only the header and a few bytes */
    unsigned char hdr[16] = {0, 0, 0x10, 0, 0, 'x', 'y'};
    client c;
    client_open(&c, &loop, fnh__grpc_server_port(s), FNH__GRPC_EVENT_STREAM, hdr, sizeof hdr);
    RUN_UNTIL(&loop, c.status[0]);
    CHECK_STR(c.status, "8"); /* RESOURCE_EXHAUSTED */
    CHECK(srv.messages == 0);
    client_close(&c, &loop);
    stop_server(s, &loop);
    CHECK(uv_loop_close(&loop) == 0);
}

int main(void)
{
    UNIT_RUN(test_unknown_path_is_unimplemented);
    UNIT_RUN(test_event_stream_both_ways);
    UNIT_RUN(test_big_message_to_worker);
    UNIT_RUN(test_compressed_message_refused);
    UNIT_RUN(test_oversized_message_refused_before_buffering);
    UNIT_END();
}
