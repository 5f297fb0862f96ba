/* test-rpc-codec.c: the worker protocol's wire format and codec
 * (host/src/runners/rpc_frame.c, rpc_invocation.c, rpc_function.c) without
 * processes: framing in arbitrary pieces and its limits, and invocations
 * taken host -> InvocationRequest -> child invocation and child outputs ->
 * InvocationResponse -> host, checked through the function API; a
 * worker's RpcLog read as protobuf-c reads it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "function_native.h"
#include "invocation.h"
#include "runners/rpc_frame.h"
#include "runners/rpc_function.h"
#include "runners/rpc_invocation.h"
#include "unit.h"

#define API (&fnh__function_api)
#define CTX(inv) ((fnh_ctx *)(void *)(inv))

/* A function with bindings given as name, type, direction ("in"/"out")
 * triples; freed with fnh__rpc_function_free. */
static fnh__function *make_fn(const char *name, const char *const *b)
{
    fnh__function *fn = calloc(1, sizeof *fn);
    fn->name = fnh__strdup(name);
    fn->name_len = strlen(name);
    fn->dir = fnh__strdup("/tmp");
    fn->config_file = fnh__asprintf("%s/function.json", name);
    fn->log_category = fnh__asprintf("Function.%s", name);
    fnh__native_code *code = calloc(1, sizeof *code);
    code->file = "fn.so";
    code->script_path = fnh__strdup("/nonexistent/fn.so");
    code->entry_name = fnh__strdup("run");
    fn->runner_state = code;
    fn->runner_release = fnh__native_unload;
    size_t n = 0;
    while (b[3 * n])
        n++;
    fn->bindings = calloc(n, sizeof *fn->bindings);
    for (size_t i = 0; i < n; i++) {
        fnh__binding *x = &fn->bindings[fn->nbindings++];
        x->name = fnh__strdup(b[3 * i]);
        x->type = fnh__strdup(b[3 * i + 1]);
        x->direction = strcmp(b[3 * i + 2], "in") == 0 ? FNH__DIR_IN : FNH__DIR_OUT;
        x->is_trigger = strstr(x->type, "Trigger") != NULL;
        if (x->is_trigger)
            fn->trigger = x;
    }
    return fn;
}

/* Feeds bytes into a reader in pieces of `step`, returning the messages. */
static size_t feed(fnh__rpc_reader *r, const fnh__buf *b, size_t step, fnh__rpc_msg **out,
                   size_t max, int *err)
{
    size_t got = 0, off = 0;
    *err = 0;
    while (off < b->len) {
        char *p;
        size_t room = fnh__rpc_reader_space(r, &p);
        size_t n = b->len - off < step ? b->len - off : step;
        if (n > room)
            n = room;
        memcpy(p, b->data + off, n);
        fnh__rpc_reader_commit(r, n);
        off += n;
        fnh__rpc_msg *m;
        int rc;
        while ((rc = fnh__rpc_reader_next(r, &m)) == 1)
            if (got < max)
                out[got++] = m;
            else
                fnh__rpc_msg_free(m);
        if (rc < 0) {
            *err = rc;
            break;
        }
    }
    return got;
}

/* The framed message in b, as fnh__rpc_reader reads it (its own reader for
 * invocations), equals protobuf-c's unpacking of the same bytes: both
 * pack to the same bytes. */
static void check_read_as_protobuf_c(const fnh__buf *b)
{
    fnh__rpc_reader r = {0};
    fnh__rpc_msg *m = NULL;
    int err;
    CHECK(feed(&r, b, 4096, &m, 1, &err) == 1 && err == 0);
    const uint8_t *body = (const uint8_t *)b->data + FNH__RPC_HEADER;
    fnh__rpc_msg *pc =
        azure_functions_rpc_messages__streaming_message__unpack(NULL, b->len - FNH__RPC_HEADER, body);
    CHECK(m && pc);
    if (m && pc) {
        size_t n1 = azure_functions_rpc_messages__streaming_message__get_packed_size(m);
        size_t n2 = azure_functions_rpc_messages__streaming_message__get_packed_size(pc);
        uint8_t *p1 = malloc(n1 + 1), *p2 = malloc(n2 + 1);
        azure_functions_rpc_messages__streaming_message__pack(m, p1);
        azure_functions_rpc_messages__streaming_message__pack(pc, p2);
        CHECK(n1 == n2 && memcmp(p1, p2, n1) == 0);
        free(p1);
        free(p2);
    }
    if (pc)
        azure_functions_rpc_messages__streaming_message__free_unpacked(pc, NULL);
    fnh__rpc_msg_free(m);
    fnh__rpc_reader_free(&r);
}

/* The child's view of a host invocation: through the wire and back. */
static fnh__invocation *to_child(fnh__invocation *host, fnh__function *child_fn)
{
    fnh__buf b = {0};
    CHECK(fnh__rpc_encode_invocation(host, host->fn->name, &b) == 0);
    check_read_as_protobuf_c(&b);
    fnh__rpc_reader r = {0};
    fnh__rpc_msg *m = NULL;
    int err;
    CHECK(feed(&r, &b, 4096, &m, 1, &err) == 1 && err == 0);
    fnh__invocation *inv = NULL;
    CHECK(m && m->content_case ==
                   AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_INVOCATION_REQUEST);
    if (m)
        CHECK(fnh__rpc_decode_invocation(m->invocation_request, child_fn, &inv) == 0);
    fnh__rpc_msg_free(m);
    fnh__rpc_reader_free(&r);
    fnh__buf_free(&b);
    return inv;
}

/* Applies the child's response (encoded from child, rc) to host. */
static void to_host(fnh__invocation *child, int rc, fnh__invocation *host, char **error)
{
    fnh__buf b = {0};
    CHECK(fnh__rpc_encode_response(child, rc, &b) == 0);
    check_read_as_protobuf_c(&b);
    fnh__rpc_reader r = {0};
    fnh__rpc_msg *m = NULL;
    int err;
    CHECK(feed(&r, &b, 7, &m, 1, &err) == 1 && err == 0);
    *error = NULL;
    if (m)
        CHECK(fnh__rpc_apply_response(host, m->invocation_response, error) == 0);
    fnh__rpc_msg_free(m);
    fnh__rpc_reader_free(&r);
    fnh__buf_free(&b);
}

static void test_frames_in_pieces(void)
{
    AzureFunctionsRpcMessages__RpcLog log = AZURE_FUNCTIONS_RPC_MESSAGES__RPC_LOG__INIT;
    log.message = "first";
    log.level = AZURE_FUNCTIONS_RPC_MESSAGES__RPC_LOG__LEVEL__Warning;
    fnh__rpc_msg a = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
    a.content_case = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_RPC_LOG;
    a.rpc_log = &log;
    a.request_id = "r1";
    AzureFunctionsRpcMessages__StartStream ss = AZURE_FUNCTIONS_RPC_MESSAGES__START_STREAM__INIT;
    ss.worker_id = "w2";
    fnh__rpc_msg b = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
    b.content_case = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_START_STREAM;
    b.start_stream = &ss;
    fnh__buf buf = {0};
    CHECK(fnh__rpc_frame_append(&buf, &a) == 0 && fnh__rpc_frame_append(&buf, &b) == 0);
    /* gRPC framing: flag 0, big-endian length, the message */
    size_t first = azure_functions_rpc_messages__streaming_message__get_packed_size(&a);
    CHECK(buf.data[0] == 0 && (size_t)(unsigned char)buf.data[4] == first && buf.data[1] == 0);
    for (size_t step = 1; step <= 9; step += 4) {
        fnh__rpc_reader r;
        fnh__rpc_reader_init(&r, 0);
        fnh__rpc_msg *m[2] = {0};
        int err;
        CHECK(feed(&r, &buf, step, m, 2, &err) == 2 && err == 0);
        CHECK(fnh__rpc_reader_pending(&r) == 0);
        CHECK(m[0] && m[0]->rpc_log && strcmp(m[0]->rpc_log->message, "first") == 0);
        CHECK(m[0] && strcmp(m[0]->request_id, "r1") == 0);
        CHECK(m[1] && m[1]->start_stream && strcmp(m[1]->start_stream->worker_id, "w2") == 0);
        fnh__rpc_msg_free(m[0]);
        fnh__rpc_msg_free(m[1]);
        fnh__rpc_reader_free(&r);
    }
    /* a big message does not keep its memory once read */
    size_t big = 2u << 20;
    char *id = malloc(big + 1);
    memset(id, 'w', big);
    id[big] = '\0';
    ss.worker_id = id;
    buf.len = 0;
    CHECK(fnh__rpc_frame_append(&buf, &b) == 0);
    fnh__rpc_reader r = {0};
    fnh__rpc_msg *m = NULL;
    int err;
    CHECK(feed(&r, &buf, 1u << 16, &m, 1, &err) == 1 && err == 0);
    CHECK(m && strlen(m->start_stream->worker_id) == big);
    CHECK(r.buf.cap == 0);
    fnh__rpc_msg_free(m);
    fnh__rpc_reader_free(&r);
    free(id);
    fnh__buf_free(&buf);
}

static void test_frame_limits(void)
{
    /* a header announcing 2 GiB: refused before anything is buffered */
    fnh__rpc_reader r;
    fnh__rpc_reader_init(&r, 1000);
    fnh__buf huge = {0};
    fnh__buf_append(&huge, "\0\x7f\xff\xff\xff", 5);
    fnh__rpc_msg *m = NULL;
    int err;
    CHECK(feed(&r, &huge, 5, &m, 1, &err) == 0 && err == -EMSGSIZE);
    char *p;
    CHECK(fnh__rpc_reader_space(&r, &p) < (1u << 20)); /* not the announced size */
    fnh__rpc_reader_free(&r);
    /* just over the limit, and exactly at it */
    fnh__buf at = {0};
    fnh__buf_append(&at, "\0\0\0\x03\xe9", 5); /* 1001 */
    fnh__rpc_reader_init(&r, 1000);
    CHECK(feed(&r, &at, 5, &m, 1, &err) == 0 && err == -EMSGSIZE);
    fnh__rpc_reader_free(&r);
    /* compressed frames are refused; so are bytes that are no message */
    fnh__buf bad = {0};
    fnh__buf_append(&bad, "\x01\0\0\0\x01\x08", 6);
    fnh__rpc_reader_init(&r, 0);
    CHECK(feed(&r, &bad, 6, &m, 1, &err) == 0 && err == -EPROTO);
    fnh__rpc_reader_free(&r);
    bad.len = 0;
    fnh__buf_append(&bad, "\0\0\0\0\x02\xff\xff", 7);
    fnh__rpc_reader_init(&r, 0);
    CHECK(feed(&r, &bad, 7, &m, 1, &err) == 0 && err == -EPROTO);
    fnh__rpc_reader_free(&r);
    fnh__buf_free(&huge);
    fnh__buf_free(&at);
    fnh__buf_free(&bad);
}

static const char *const HTTP_FN[] = {"req", "httpTrigger", "in", "res", "http", "out", NULL};

static void test_load_request(void)
{
    fnh__function *fn = make_fn("orders", HTTP_FN);
    fnh__buf b = {0};
    CHECK(fnh__rpc_encode_load(fn, "orders-id", &b) == 0);
    fnh__rpc_reader r = {0};
    fnh__rpc_msg *m = NULL;
    int err;
    CHECK(feed(&r, &b, 100, &m, 1, &err) == 1);
    fnh__function *child = m ? fnh__rpc_function_new(m->function_load_request) : NULL;
    CHECK(child != NULL);
    if (child) {
        CHECK_STR(child->name, "orders");
        CHECK_STR(child->config_file, "orders/function.json");
        CHECK(child->nbindings == 2 && child->trigger == &child->bindings[0]);
        CHECK_STR(child->bindings[1].type, "http");
        CHECK_STR(child->bindings[0].type, "httpTrigger");
        CHECK(child->bindings[1].direction == FNH__DIR_OUT);
        CHECK_STR(m->function_load_request->metadata->script_file, "/nonexistent/fn.so");
        CHECK_STR(m->function_load_request->function_id, "orders-id");
    }
    fnh__rpc_function_free(child);
    fnh__rpc_msg_free(m);
    fnh__rpc_reader_free(&r);
    fnh__buf_free(&b);
    fnh__rpc_function_free(fn);
}

static fnh__http_req *request(void)
{
    static const char hs[] = "Host\0localhost:7071\0X-Mixed-Case\0v1\0Content-Type\0"
                             "application/octet-stream\0X-Empty\0";
    static const char target[] = "/api/items/42?a=1&a=2&sp=x+y&pct=%41#frag";
    fnh__http_target parts;
    fnh__http_req *r = NULL;
    if (fnh__http_target_split(target, 0, &parts) ||
        fnh__http_req_new("PROPFIND", target, &parts, hs, sizeof hs, 4, &r))
        abort(); /* PROPFIND: a method no route can have */
    fnh__buf_append(&r->body, "a\0b\xff", 4);
    return r;
}

static void test_http_request(void)
{
    fnh__function *fn = make_fn("items", HTTP_FN);
    fnh__invocation *host = fnh__invocation_new(NULL, fn, "test");
    fnh_kv params[] = {{"id", "42"}, {"opt", NULL}}; /* an absent optional value */
    CHECK(fnh__input_set_http(host, request(), params, 2) == 0);
    fnh__invocation *c = to_child(host, fn);
    CHECK(c != NULL);
    if (c) {
        fnh_ctx *x = CTX(c);
        CHECK_STR(c->id, host->id);
        CHECK_STR(API->input_meta(x, "req", "method"), "PROPFIND");
        CHECK_STR(API->input_meta(x, "req", "url"), "/api/items/42?a=1&a=2&sp=x+y&pct=%41#frag");
        CHECK_STR(API->input_meta(x, "req", "path"), "/api/items/42");
        CHECK_STR(API->input_meta(x, "req", "query"), "a=1&a=2&sp=x+y&pct=%41");
        CHECK_STR(API->input_meta(x, "req", "query.sp"), "x y");
        CHECK_STR(API->input_meta(x, "req", "headers.x-mixed-case"), "v1");
        CHECK_STR(API->input_meta(x, "req", "params.id"), "42");
        CHECK(API->input_meta(x, "req", "params.opt") == NULL);
        fnh_kv kv;
        CHECK(API->input_meta_at(x, "req", "headers", 1, &kv) == 0);
        CHECK_STR(kv.key, "X-Mixed-Case"); /* case and order as received */
        CHECK(API->input_meta_at(x, "req", "headers", 3, &kv) == 0);
        CHECK_STR(kv.key, "X-Empty");
        CHECK_STR(kv.value, "");
        CHECK(API->input_meta_at(x, "req", "query", 1, &kv) == 0);
        CHECK_STR(kv.key, "a");
        CHECK_STR(kv.value, "2");
        CHECK(API->input_meta_at(x, "req", "params", 1, &kv) == 0);
        CHECK_STR(kv.key, "opt");
        CHECK(kv.value == NULL);
        fnh_value v;
        CHECK(API->input(x, "req", &v) == 0);
        CHECK(v.len == 4 && memcmp(v.data, "a\0b\xff", 4) == 0);
        CHECK_STR(v.content_type, "application/octet-stream");
    }
    fnh__invocation_free(c);
    fnh__invocation_free(host);
    fnh__rpc_function_free(fn);
}

static const char *const QUEUE_FN[] = {"msg", "queueTrigger", "in", "doc", "blob", "in",
                                       "gone", "blob", "in", "out", "queue", "out", NULL};

static void set_meta(fnh__invocation *inv)
{
    static const char text[] = "DequeueCount\0" "2\0$reason\0host\0";
    char *store = malloc(sizeof text);
    memcpy(store, text, sizeof text);
    fnh_kv *meta = calloc(2, sizeof *meta);
    meta[0].key = store;
    meta[0].value = store + 13;
    meta[1].key = store + 15;
    meta[1].value = store + 23;
    fnh__input_set_meta(inv, meta, 2, store);
}

/* Payloads of every kind keep bytes and content type; metadata and
 * extension inputs arrive. */
static void test_payload_request(void)
{
    static const struct {
        const char *data;
        size_t len;
        const char *type;
    } cases[] = {
        {"{\"a\":1}", 7, "application/json"},
        {"h\xc3\xa9llo", 6, "text/plain; charset=utf-8"},
        {"\x00\x01\xfe", 3, "application/octet-stream"},
        {"\x00\x01\xfe", 3, NULL},
        {"bad \xc3\x28 utf8", 11, "text/plain"},
        {"", 0, "application/cloudevents+json"},
    };
    fnh__function *fn = make_fn("q", QUEUE_FN);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fnh__invocation *host = fnh__invocation_new(NULL, fn, "test");
        fnh__input_set_payload(host, cases[i].data, cases[i].len, cases[i].type);
        set_meta(host);
        host->ninputs = 2;
        host->inputs = calloc(2, sizeof *host->inputs);
        host->inputs[0].name = fnh__strdup("doc");
        host->inputs[0].set = 1;
        host->inputs[0].content_type = fnh__strdup("text/csv");
        fnh__buf_append(&host->inputs[0].value, "x,y", 3);
        host->inputs[1].name = fnh__strdup("gone");
        fnh__invocation *c = to_child(host, fn);
        CHECK(c != NULL);
        if (c) {
            fnh_ctx *x = CTX(c);
            fnh_value v;
            CHECK(API->input(x, "msg", &v) == 0);
            CHECK(v.len == cases[i].len && memcmp(v.data, cases[i].data, v.len) == 0);
            CHECK_STR(v.content_type, cases[i].type);
            CHECK_STR(API->input_meta(x, "msg", "DequeueCount"), "2");
            fnh_kv kv;
            CHECK(API->input_meta_at(x, "msg", "meta", 0, &kv) == 0);
            CHECK_STR(kv.key, "DequeueCount");
            CHECK(API->input_meta_at(x, "msg", "meta", 1, &kv) == -ENOENT);
            CHECK(API->input(x, "doc", &v) == 0 && v.len == 3 && memcmp(v.data, "x,y", 3) == 0);
            CHECK_STR(v.content_type, "text/csv");
            CHECK(API->input(x, "gone", &v) == -ENODATA);
        }
        fnh__invocation_free(c);
        fnh__invocation_free(host);
    }
    fnh__rpc_function_free(fn);
}

/* Outputs set in the child arrive in the host's invocation as if the
 * function had run there. */
static void test_response(void)
{
    fnh__function *fn = make_fn("items", HTTP_FN);
    fnh__invocation *host = fnh__invocation_new(NULL, fn, "test");
    fnh__input_set_http(host, request(), NULL, 0);
    fnh__invocation *c = to_child(host, fn);
    CHECK(c != NULL);
    if (c) {
        fnh_ctx *x = CTX(c);
        fnh_value body = {"<b>hi</b>", 9, "text/html"};
        CHECK(API->output(x, "res", &body) == 0);
        CHECK(API->output_meta(x, "res", "status", "201") == 0);
        CHECK(API->output_meta(x, "res", "headers.X-One", "1") == 0);
        char *error;
        to_host(c, 0, host, &error);
        CHECK(error == NULL && host->rc == 0);
        fnh__output *o = fnh__invocation_output(host, "res");
        CHECK(o && o->set && o->status == 201);
        CHECK(o && o->body.len == 9 && memcmp(o->body.data, "<b>hi</b>", 9) == 0);
        CHECK(o && o->content_type && strcmp(o->content_type, "text/html") == 0);
        CHECK(o && o->nheaders == 1 && strcmp(o->headers[0].key, "X-One") == 0);
        free(error);
    }
    fnh__invocation_free(c);
    fnh__invocation_free(host);
    /* $return of an HTTP function is HTTP too; status only, no body */
    host = fnh__invocation_new(NULL, fn, "test");
    fnh__input_set_http(host, request(), NULL, 0);
    c = to_child(host, fn);
    if (c) {
        CHECK(API->output_meta(CTX(c), "$return", "status", "202") == 0);
        char *error;
        to_host(c, 0, host, &error);
        fnh__output *o = fnh__invocation_output(host, "$return");
        CHECK(o && o->set && o->status == 202 && o->body.len == 0 && !o->content_type);
        free(error);
    }
    fnh__invocation_free(c);
    fnh__invocation_free(host);
    fnh__rpc_function_free(fn);
    /* other outputs by kind */
    fn = make_fn("q", QUEUE_FN);
    host = fnh__invocation_new(NULL, fn, "test");
    fnh__input_set_payload(host, "m", 1, NULL);
    c = to_child(host, fn);
    if (c) {
        fnh_value t = {"text", 4, "text/plain"}, j = {"[1]", 3, "application/json"};
        CHECK(API->output(CTX(c), "out", &t) == 0);
        CHECK(API->output(CTX(c), "$return", &j) == 0);
        char *error;
        to_host(c, 0, host, &error);
        CHECK(error == NULL && host->rc == 0);
        fnh__output *o = fnh__invocation_output(host, "out");
        CHECK(o && o->body.len == 4 && strcmp(o->content_type, "text/plain") == 0);
        o = fnh__invocation_output(host, "$return");
        CHECK(o && o->body.len == 3 && strcmp(o->content_type, "application/json") == 0);
        free(error);
    }
    fnh__invocation_free(c);
    fnh__invocation_free(host);
    fnh__rpc_function_free(fn);
}

/* A worker's log line, every field set, reads as protobuf-c reads it; a
 * property map (not used by the host) is skipped, the rest still read. */
static void test_log(void)
{
    AzureFunctionsRpcMessages__RpcException ex = AZURE_FUNCTIONS_RPC_MESSAGES__RPC_EXCEPTION__INIT;
    ex.message = "boom";
    ex.stack_trace = "at f (index.js:1)";
    ex.is_user_exception = 1;
    AzureFunctionsRpcMessages__RpcLog log = AZURE_FUNCTIONS_RPC_MESSAGES__RPC_LOG__INIT;
    log.invocation_id = "0b6c1d3e-7f00-4a5b-9c2d-1e2f3a4b5c6d";
    log.category = "hello.Invocation";
    log.level = AZURE_FUNCTIONS_RPC_MESSAGES__RPC_LOG__LEVEL__Error;
    log.message = "Saying hello";
    log.event_id = "7";
    log.exception = &ex;
    log.properties = "{\"a\":1}";
    log.log_category = AZURE_FUNCTIONS_RPC_MESSAGES__RPC_LOG__RPC_LOG_CATEGORY__System;
    fnh__rpc_msg a = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
    a.content_case = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_RPC_LOG;
    a.rpc_log = &log;
    a.request_id = "r1";
    fnh__buf b = {0};
    CHECK(fnh__rpc_frame_append(&b, &a) == 0);
    check_read_as_protobuf_c(&b);
    AzureFunctionsRpcMessages__TypedData td = AZURE_FUNCTIONS_RPC_MESSAGES__TYPED_DATA__INIT;
    td.data_case = AZURE_FUNCTIONS_RPC_MESSAGES__TYPED_DATA__DATA_STRING;
    td.string = "v";
    AzureFunctionsRpcMessages__RpcLog__PropertiesMapEntry pe =
        AZURE_FUNCTIONS_RPC_MESSAGES__RPC_LOG__PROPERTIES_MAP_ENTRY__INIT;
    pe.key = "k";
    pe.value = &td;
    AzureFunctionsRpcMessages__RpcLog__PropertiesMapEntry *pes[] = {&pe};
    log.propertiesmap = pes;
    log.n_propertiesmap = 1;
    b.len = 0;
    CHECK(fnh__rpc_frame_append(&b, &a) == 0);
    fnh__rpc_reader r = {0};
    fnh__rpc_msg *m = NULL;
    int err;
    CHECK(feed(&r, &b, 5, &m, 1, &err) == 1 && err == 0);
    CHECK(m && m->content_case == AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_RPC_LOG);
    const AzureFunctionsRpcMessages__RpcLog *l = m ? m->rpc_log : NULL;
    CHECK(l && strcmp(l->invocation_id, log.invocation_id) == 0);
    CHECK(l && strcmp(l->message, "Saying hello") == 0 && l->level == log.level);
    CHECK(l && l->log_category == log.log_category && l->n_propertiesmap == 0);
    CHECK(l && l->exception && strcmp(l->exception->message, "boom") == 0);
    fnh__rpc_msg_free(m);
    fnh__rpc_reader_free(&r);
    fnh__buf_free(&b);
}

static void apply(fnh__invocation *host, AzureFunctionsRpcMessages__InvocationResponse *rs,
                  char **error)
{
    fnh__rpc_msg m = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
    m.content_case = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_INVOCATION_RESPONSE;
    m.invocation_response = rs;
    fnh__buf b = {0};
    fnh__rpc_frame_append(&b, &m);
    fnh__rpc_msg *got = NULL;
    fnh__rpc_reader r = {0};
    int err;
    feed(&r, &b, 1000, &got, 1, &err);
    CHECK(got && fnh__rpc_apply_response(host, got->invocation_response, error) == 0);
    fnh__rpc_msg_free(got);
    fnh__rpc_reader_free(&r);
    fnh__buf_free(&b);
}

/* Failures map to errno values; messages worth logging come back. */
static void test_failures(void)
{
    fnh__function *fn = make_fn("items", HTTP_FN);
    fnh__invocation *host = fnh__invocation_new(NULL, fn, "test");
    fnh__input_set_http(host, request(), NULL, 0);
    fnh__invocation *c = to_child(host, fn);
    char *error;
    to_host(c, -EIO, host, &error);
    CHECK(host->rc == -EIO && error == NULL); /* strerror says it all */
    fnh__buf b = {0};
    CHECK(fnh__rpc_encode_failure(host->id, -ENOEXEC, "not loaded: why", &b) == 0);
    fnh__rpc_reader r = {0};
    fnh__rpc_msg *m = NULL;
    int err;
    CHECK(feed(&r, &b, 3, &m, 1, &err) == 1);
    if (m)
        fnh__rpc_apply_response(host, m->invocation_response, &error);
    CHECK(host->rc == -ENOEXEC);
    CHECK_STR(error, "not loaded: why");
    free(error);
    fnh__rpc_msg_free(m);
    fnh__rpc_reader_free(&r);
    fnh__buf_free(&b);

    /* as a language worker reports an exception */
    AzureFunctionsRpcMessages__InvocationResponse rs =
        AZURE_FUNCTIONS_RPC_MESSAGES__INVOCATION_RESPONSE__INIT;
    AzureFunctionsRpcMessages__StatusResult res = AZURE_FUNCTIONS_RPC_MESSAGES__STATUS_RESULT__INIT;
    AzureFunctionsRpcMessages__RpcException ex = AZURE_FUNCTIONS_RPC_MESSAGES__RPC_EXCEPTION__INIT;
    rs.invocation_id = host->id;
    rs.result = &res;
    res.exception = &ex;
    ex.message = "TypeError: x is undefined";
    ex.stack_trace = "at handler (index.js:3)";
    apply(host, &rs, &error);
    CHECK(host->rc == -EIO);
    CHECK_STR(error, "TypeError: x is undefined\nat handler (index.js:3)");
    free(error);
    res.status = AZURE_FUNCTIONS_RPC_MESSAGES__STATUS_RESULT__STATUS__Cancelled;
    apply(host, &rs, &error);
    CHECK(host->rc == -ECANCELED);
    free(error);

    /* success naming outputs the function cannot set */
    res.status = AZURE_FUNCTIONS_RPC_MESSAGES__STATUS_RESULT__STATUS__Success;
    AzureFunctionsRpcMessages__TypedData td = AZURE_FUNCTIONS_RPC_MESSAGES__TYPED_DATA__INIT;
    td.data_case = AZURE_FUNCTIONS_RPC_MESSAGES__TYPED_DATA__DATA_STRING;
    td.string = "x";
    AzureFunctionsRpcMessages__ParameterBinding pb =
        AZURE_FUNCTIONS_RPC_MESSAGES__PARAMETER_BINDING__INIT;
    pb.name = "nosuch";
    pb.rpc_data_case = AZURE_FUNCTIONS_RPC_MESSAGES__PARAMETER_BINDING__RPC_DATA_DATA;
    pb.data = &td;
    AzureFunctionsRpcMessages__ParameterBinding *pbs[] = {&pb};
    rs.output_data = pbs;
    rs.n_output_data = 1;
    apply(host, &rs, &error);
    CHECK(host->rc == -EPROTO);
    CHECK_STR(error, "output 'nosuch': the function declares no such output");
    free(error);
    /* an HTTP answer with a bad status and a header that would split */
    AzureFunctionsRpcMessages__RpcHttp h = AZURE_FUNCTIONS_RPC_MESSAGES__RPC_HTTP__INIT;
    AzureFunctionsRpcMessages__RpcHttp__HeadersEntry he =
        AZURE_FUNCTIONS_RPC_MESSAGES__RPC_HTTP__HEADERS_ENTRY__INIT;
    he.key = "X-Bad";
    he.value = "a\r\nSet-Cookie: x";
    AzureFunctionsRpcMessages__RpcHttp__HeadersEntry *hes[] = {&he};
    h.headers = hes;
    h.n_headers = 1;
    h.status_code = "99";
    td.data_case = AZURE_FUNCTIONS_RPC_MESSAGES__TYPED_DATA__DATA_HTTP;
    td.http = &h;
    pb.name = "res";
    apply(host, &rs, &error);
    CHECK(host->rc == -EPROTO);
    CHECK_STR(error, "output 'res': status '99' is not an HTTP status (100-599)\n"
                     "output 'res': header 'X-Bad' is not a valid HTTP header");
    free(error);
    fnh__invocation_free(c);
    fnh__invocation_free(host);
    fnh__rpc_function_free(fn);
}

int main(void)
{
    UNIT_RUN(test_frames_in_pieces);
    UNIT_RUN(test_frame_limits);
    UNIT_RUN(test_load_request);
    UNIT_RUN(test_http_request);
    UNIT_RUN(test_payload_request);
    UNIT_RUN(test_response);
    UNIT_RUN(test_failures);
    UNIT_RUN(test_log);
    UNIT_END();
}
