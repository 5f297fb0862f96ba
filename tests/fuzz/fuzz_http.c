/* fuzz_http.c: libFuzzer target for the HTTP request path: the real server
 * and front door (http_server.c, http_trigger.c, admin.c) serve tests/fuzz/app
 * on 127.0.0.1 in this process's loop; each input is what one client sends on
 * one connection, and every response that comes back must be well-formed.
 * FUZZ_HTTP_SHOW=1 prints the responses (to reproduce a finding). */

/* Per input: connect, write the bytes, half-close, run the loop until the
 * server closed the connection, every invocation finished and the client
 * closed; then check the responses with llhttp in response mode. */
#include <llhttp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <strings.h>

#include "admin.h"
#include "app.h"
#include "app_loader.h"
#include "dispatch.h"
#include "fuzz_common.h"
#include "host.h"
#include "http_binding.h"
#include "http_server.h"
#include "log.h"
#include "util.h"

#ifndef FUZZ_APP_DIR
#error "build with -DFUZZ_APP_DIR=\"<repo>/tests/fuzz/app\""
#endif

#define MAX_KEPT (1u << 20) /* response bytes kept for the check */

static uv_loop_t *g_loop;
static fnh__host g_host;
static struct sockaddr_in g_addr;

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    uv_buf_t out;
    fnh__buf in;
    int closed;
} client;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    signal(SIGPIPE, SIG_IGN);
    fnh__log_init(0, 0);
    g_loop = uv_default_loop();
    fnh__app_options ao = {.root = FUZZ_APP_DIR, .in_process = 1};
    fnh__app *app = NULL;
    if (fnh__app_load_bound(&ao, 1, g_loop, &app) != 0 || !app || app->host_errors.len) {
        fprintf(stderr, "fuzz_http: cannot load %s (built with make fuzz?)\n", FUZZ_APP_DIR);
        abort();
    }
    /* small limits so short inputs reach the 413, 414 and 431 answers */
    fnh__http_limits *limits = fnh__http_limits_of(app);
    limits->max_request_line = 2048;
    limits->max_header_bytes = 4096;
    limits->max_headers = 16;
    g_host.app = app;
    g_host.admin = fnh__admin_handle;
    g_host.loop = g_loop;
    g_host.state = "Running";
    g_host.start_ns = fnh__now_ns();
    if (fnh__dispatch_init(g_loop, 2, app->function_timeout_ms) != 0 ||
        fnh__http_server_start(g_loop, "127.0.0.1", 0, limits, fnh__http_trigger_handle,
                               &g_host, &g_host.http) != 0)
        abort();
    g_host.port = fnh__http_server_port(g_host.http);
    snprintf(g_host.base_url, sizeof g_host.base_url, "http://localhost:%d", g_host.port);
    uv_ip4_addr("127.0.0.1", g_host.port, &g_addr);
    return 0;
}

static void closed_cb(uv_handle_t *h)
{
    ((client *)h->data)->closed = 1;
}

static void client_close(client *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, closed_cb);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    static char mem[65536];
    (void)suggested;
    *buf = uv_buf_init(mem, sizeof mem);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    client *c = s->data;
    if (n < 0) { /* the server closed (or reset) the connection */
        client_close(c);
        return;
    }
    if (c->in.len + (size_t)n <= MAX_KEPT)
        fnh__buf_append(&c->in, buf->base, (size_t)n);
}

static void write_cb(uv_write_t *req, int status)
{
    if (status < 0) /* closed before reading it all, e.g. after a 413 */
        client_close(req->data);
}

static void connect_cb(uv_connect_t *req, int status)
{
    client *c = req->data;
    if (status < 0) {
        fprintf(stderr, "fuzz_http: connect to 127.0.0.1:%d: %s\n", g_host.port,
                uv_strerror(status));
        abort();
    }
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &c->out, 1, write_cb) < 0 ||
        uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, NULL) < 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) < 0)
        client_close(c);
}

/* ---- the response check ------------------------------------------ */

/* What follows the first "<name>=" (any case) in n bytes of text, or NULL. */
static const char *find_param(const char *text, size_t n, const char *name)
{
    size_t k = strlen(name);
    for (size_t i = 0; i + k < n; i++)
        if (strncasecmp(text + i, name, k) == 0 && text[i + k] == '=')
            return text + i + k + 1;
    return NULL;
}


/* Headers the host itself sends; any other one in a response is injected,
 * unless the echo function was asked to add it (header=K:V). */
static const char *const host_headers[] = {
    "Content-Type", "Date", "Content-Length", "Connection", "X-Content-Type-Options",
    "Cache-Control", "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Vary",
    "Allow", /* 405 from /admin/vfs */
};

typedef struct check {
    fnh__buf name;
    int any_header; /* the input asked for a header of its own */
} check;

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    return fnh__buf_append(&((check *)p->data)->name, at, len) ? -1 : 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    check *k = p->data;
    int known = k->any_header;
    for (size_t i = 0; i < sizeof host_headers / sizeof *host_headers && !known; i++)
        known = strcasecmp(k->name.data ? k->name.data : "", host_headers[i]) == 0;
    if (!known)
        fprintf(stderr, "fuzz_http: unexpected response header '%s'\n",
                k->name.data ? k->name.data : "");
    k->name.len = 0;
    return known ? 0 : -1;
}

static int on_status_complete(llhttp_t *p)
{
    /* the server sends one interim response of its own (100 Continue);
     * any other 1xx would leave the client waiting for the real answer */
    if (p->status_code < 200 && p->status_code != 100)
        return -1;
    return 0;
}

static void check_responses(const char *req, size_t reqlen, const fnh__buf *in)
{
    if (!in->len || in->len >= MAX_KEPT)
        return;
    /* a response to HEAD has a Content-Length but no body: llhttp cannot
     * frame those without knowing the request, so skip the check */
    if (memmem(req, reqlen, "HEAD", 4))
        return;
    char *text = malloc(reqlen + 1);
    size_t n = fnh__url_decode(req, reqlen, text, 1);
    check k = {.any_header = find_param(text, n, "header") != NULL};
    free(text);
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_status_complete = on_status_complete;
    s.on_header_field = on_header_field;
    s.on_header_field_complete = on_header_field_complete;
    llhttp_t p;
    llhttp_init(&p, HTTP_RESPONSE, &s);
    p.data = &k;
    llhttp_errno_t e = llhttp_execute(&p, in->data, in->len);
    if (e == HPE_OK)
        e = llhttp_finish(&p);
    fnh__buf_free(&k.name);
    if (e != HPE_OK) {
        fprintf(stderr, "fuzz_http: malformed response (%s: %s) at byte %zu of:\n%.*s\n",
                llhttp_errno_name(e), llhttp_get_error_reason(&p),
                llhttp_get_error_pos(&p) ? (size_t)(llhttp_get_error_pos(&p) - in->data) : 0,
                (int)(in->len > 4000 ? 4000 : in->len), in->data);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    client c = {0};
    c.out = uv_buf_init((char *)data, (unsigned)size);
    uv_tcp_init(g_loop, &c.tcp);
    c.tcp.data = &c;
    c.creq.data = &c;
    if (uv_tcp_connect(&c.creq, &c.tcp, (const struct sockaddr *)&g_addr, connect_cb) < 0)
        abort();
    while (!c.closed || fnh__http_server_connections(g_host.http) ||
           fnh__dispatch_inflight())
        uv_run(g_loop, UV_RUN_ONCE);
    uv_run(g_loop, UV_RUN_NOWAIT); /* close callbacks of this iteration */
    if (getenv("FUZZ_HTTP_SHOW")) /* reproducing: show what came back */
        fprintf(stderr, "%.*s\n", (int)c.in.len, c.in.data ? c.in.data : "");
    check_responses((const char *)data, size, &c.in);
    fnh__buf_free(&c.in);
    fnh__log_flush();
    return 0;
}
