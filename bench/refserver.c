/* refserver.c: the benchmark's reference HTTP server, the yardstick fnhost is
 * measured against (see bench/README.md). It owns nothing but itself: one
 * libuv loop, llhttp parsing, HTTP/1.1 keep-alive and pipelining, and the
 * same fixed "Hello, world" response to every request. No routing, no
 * function machinery: it is what an HTTP server on this stack costs at best.
 *
 * Usage: refserver PORT   (binds 127.0.0.1:PORT; exits on SIGTERM/SIGINT)
 *
 * Writes: every response produced by one read is appended to the
 * connection's output buffer and sent with one write (uv_try_write, then one
 * uv_write for any remainder). While a uv_write is in flight the connection
 * stops reading, so a client that does not read its responses cannot make
 * the server buffer without bound. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llhttp.h>
#include <uv.h>

#define READ_BUF_SIZE 65536
#define OUT_BUF_INIT 4096

/* The exact response; the Date value sits at DATE_OFF and is DATE_LEN long. */
static char response[] = "HTTP/1.1 200 OK\r\n"
                         "Content-Type: text/plain; charset=utf-8\r\n"
                         "Date: Thu, 26 Nov 2026 01:30:00 GMT\r\n"
                         "Content-Length: 12\r\n"
                         "\r\n"
                         "Hello, world";
#define RESPONSE_LEN (sizeof response - 1)
#define DATE_PREFIX "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: "
#define DATE_OFF (sizeof DATE_PREFIX - 1)
#define DATE_LEN 29 /* "Thu, 26 Nov 2026 01:30:00 GMT" */

static const char bad_request[] = "HTTP/1.1 400 Bad Request\r\n"
                                  "Connection: close\r\n"
                                  "Content-Length: 0\r\n"
                                  "\r\n";

typedef struct conn {
    uv_tcp_t tcp;        /* first: the handle pointer is the conn pointer */
    uv_write_t wreq;
    llhttp_t parser;
    char *out;           /* responses waiting to be written */
    size_t out_len, out_cap;
    int writing;         /* a uv_write of out is in flight */
    int closing_after;   /* close once out has been written */
} conn;

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sigterm, sigint;
static llhttp_settings_t settings;
static char read_buf[READ_BUF_SIZE]; /* one loop, reads consumed synchronously */
static time_t date_second = -1;

/* Refreshes the Date header at most once per wall-clock second. */
static void refresh_date(void) {
    time_t now = time(NULL);
    if (now == date_second)
        return;
    date_second = now;
    struct tm tm;
    char buf[64];
    if (gmtime_r(&now, &tm) &&
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm) == DATE_LEN)
        memcpy(response + DATE_OFF, buf, DATE_LEN);
}

static int out_append(conn *c, const char *data, size_t len) {
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : OUT_BUF_INIT;
        while (cap < c->out_len + len)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p)
            return -1;
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 0;
}

static void on_close(uv_handle_t *h) {
    conn *c = (conn *)h;
    free(c->out);
    free(c);
}

static void conn_close(conn *c) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

static int on_message_complete(llhttp_t *p) {
    conn *c = p->data;
    if (out_append(c, response, RESPONSE_LEN) != 0)
        return -1;
    if (!llhttp_should_keep_alive(p)) {
        c->closing_after = 1;
        return HPE_PAUSED; /* ignore anything after a closing request */
    }
    return 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    (void)suggested;
    buf->base = read_buf;
    buf->len = sizeof read_buf;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void write_cb(uv_write_t *req, int status) {
    conn *c = req->data;
    c->writing = 0;
    c->out_len = 0;
    if (status < 0 || c->closing_after) {
        conn_close(c);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
        conn_close(c);
}

/* Sends everything in out: try_write first, one uv_write for the rest. */
static void flush(conn *c) {
    if (c->out_len == 0 || c->writing)
        return;
    uv_buf_t b = uv_buf_init(c->out, (unsigned)c->out_len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)c->out_len) {
        c->out_len = 0;
        if (c->closing_after)
            conn_close(c);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    if (n > 0) {
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
    b = uv_buf_init(c->out, (unsigned)c->out_len);
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
        conn_close(c);
        return;
    }
    c->writing = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    conn *c = (conn *)s;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->closing_after)
        return;
    refresh_date();
    llhttp_errno_t err = llhttp_execute(&c->parser, buf->base, (size_t)nread);
    if (err != HPE_OK && err != HPE_PAUSED) {
        /* Parse error or upgrade: answer what was complete, then 400 if it
         * was an error, and close. */
        if (err != HPE_PAUSED_UPGRADE)
            out_append(c, bad_request, sizeof bad_request - 1);
        c->closing_after = 1;
    }
    if (c->closing_after) {
        uv_read_stop(s);
        if (c->out_len == 0) {
            conn_close(c);
            return;
        }
    }
    flush(c);
}

static void on_connection(uv_stream_t *srv, int status) {
    if (status < 0)
        return;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
        conn_close(c);
}

static void close_walk(uv_handle_t *h, void *arg) {
    (void)arg;
    if (uv_is_closing(h))
        return;
    if (h->type == UV_TCP && h != (uv_handle_t *)&server)
        uv_close(h, on_close);
    else
        uv_close(h, NULL);
}

static void on_signal(uv_signal_t *h, int signum) {
    (void)signum;
    uv_walk(h->loop, close_walk, NULL);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    char *end;
    errno = 0;
    long port = strtol(argv[1], &end, 10);
    if (errno || *end || port < 1 || port > 65535) {
        fprintf(stderr, "refserver: bad port '%s'\n", argv[1]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    llhttp_settings_init(&settings);
    settings.on_message_complete = on_message_complete;
    refresh_date();

    struct sockaddr_in addr;
    int rc = uv_ip4_addr("127.0.0.1", (int)port, &addr);
    if (rc == 0)
        rc = uv_tcp_init(loop, &server);
    if (rc == 0)
        rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 1024, on_connection);
    if (rc != 0) {
        fprintf(stderr, "refserver: cannot listen on 127.0.0.1:%ld: %s\n", port, uv_strerror(rc));
        return 1;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);

    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
