/* rpc_read.c: a protobuf reader for the messages that travel for every
 * invocation, StreamingMessage{InvocationRequest} (to an isolated child),
 * StreamingMessage{InvocationResponse} and StreamingMessage{RpcLog} (to the
 * host; a language worker logs at least once per invocation), into
 * protobuf-c's structs in the message's arena: protobuf-c's generic
 * unpacker walks every field of every descriptor. Messages with other
 * content return "not mine" and go to protobuf-c. Unknown fields are
 * skipped as protobuf-c skips them; strings and bytes are copied,
 * NUL-terminated. A known field with the wrong wire type, a truncated field
 * or a group fails the message. */
#include "rpc_read.h"

#include <string.h>

#define PB(x) AzureFunctionsRpcMessages__##x
#define TD(kind) AZURE_FUNCTIONS_RPC_MESSAGES__TYPED_DATA__DATA_##kind
#define D(snake) azure_functions_rpc_messages__##snake##__descriptor

typedef struct rd {
    const unsigned char *p, *end;
    fnh__arena *a;
    int *bad; /* shared by a message and its parts */
} rd;

static uint64_t varint(rd *r)
{
    uint64_t v = 0;
    for (unsigned s = 0; s < 64 && r->p < r->end; s += 7) {
        unsigned char b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80))
            return v;
    }
    *r->bad = 1;
    return 0;
}

/* The next field's number and wire type; 0 at the end (or when bad). */
static unsigned next(rd *r, unsigned *wt)
{
    if (*r->bad || r->p >= r->end)
        return 0;
    uint64_t key = varint(r);
    *wt = (unsigned)(key & 7);
    if (key >> 3 == 0 || key >> 3 > 536870911u)
        *r->bad = 1;
    return *r->bad ? 0 : (unsigned)(key >> 3);
}

/* A length-delimited field's content as its own reader. */
static rd sub(rd *r, unsigned wt)
{
    uint64_t n = wt == 2 ? varint(r) : 0;
    rd s = {r->p, r->p, r->a, r->bad};
    if (wt != 2 || *r->bad || n > (uint64_t)(r->end - r->p)) {
        *r->bad = 1;
        return s;
    }
    s.end = r->p + n;
    r->p += n;
    return s;
}

static void skip(rd *r, unsigned wt)
{
    size_t n = wt == 1 ? 8 : wt == 5 ? 4 : 0;
    if (wt == 0)
        varint(r);
    else if (wt == 2)
        sub(r, wt);
    else if (n && (size_t)(r->end - r->p) >= n)
        r->p += n;
    else
        *r->bad = 1; /* groups, or truncated */
}

static uint64_t num(rd *r, unsigned wt)
{
    if (wt != 0)
        *r->bad = 1;
    return wt == 0 ? varint(r) : 0;
}

static char *str(rd *r, unsigned wt)
{
    rd s = sub(r, wt);
    char *p = *r->bad ? NULL : fnh__arena_strndup(r->a, (const char *)s.p, (size_t)(s.end - s.p));
    if (!p)
        *r->bad = 1;
    return p;
}

static ProtobufCBinaryData bytes(rd *r, unsigned wt)
{
    rd s = sub(r, wt);
    ProtobufCBinaryData b = {(size_t)(s.end - s.p), NULL};
    if (!*r->bad)
        b.data = (uint8_t *)fnh__arena_strndup(r->a, (const char *)s.p, b.len);
    if (!b.data)
        *r->bad = 1, b.len = 0;
    return b;
}

static void *msg(rd *r, const ProtobufCMessageDescriptor *d)
{
    void *m = fnh__arena_alloc(r->a, d->sizeof_message);
    if (m)
        protobuf_c_message_init(d, m);
    else
        *r->bad = 1;
    return m;
}

/* Appends item to a repeated field's array (grown by doubling). */
static void push(rd *r, void ***items, size_t *n, void *item)
{
    if (!item)
        return;
    if (*n >= 4 && (*n & (*n - 1)) == 0) { /* full at 4, 8, 16, ... */
        void **grown = fnh__arena_alloc(r->a, 2 * *n * sizeof *grown);
        if (!grown) {
            *r->bad = 1;
            return;
        }
        memcpy(grown, *items, *n * sizeof *grown);
        *items = grown;
    } else if (*n == 0 && !(*items = fnh__arena_alloc(r->a, 4 * sizeof **items))) {
        *r->bad = 1;
        return;
    }
    (*items)[(*n)++] = item;
}
#define PUSH(r, arr, n, item) push((r), (void ***)(void *)&(arr), &(n), (item))

/* ---- the messages ---------------------------------------------------------- */

static PB(RpcHttp) *http(rd *r);

static PB(TypedData) *typed(rd *r)
{
    PB(TypedData) *t = msg(r, &D(typed_data));
    unsigned f, wt;
    while (t && (f = next(r, &wt))) {
        switch (f) {
        case 1: t->string = str(r, wt), t->data_case = TD(STRING); break;
        case 2: t->json = str(r, wt), t->data_case = TD(JSON); break;
        case 3: t->bytes = bytes(r, wt), t->data_case = TD(BYTES); break;
        case 4: t->stream = bytes(r, wt), t->data_case = TD(STREAM); break;
        case 5: {
            rd s = sub(r, wt);
            t->http = http(&s), t->data_case = TD(HTTP);
            break;
        }
        case 6: { /* sint64 */
            uint64_t v = num(r, wt);
            t->int_ = (int64_t)(v >> 1) ^ -(int64_t)(v & 1), t->data_case = TD(INT);
            break;
        }
        case 7:
            if (wt != 1 || r->end - r->p < 8) {
                *r->bad = 1;
                break;
            }
            memcpy(&t->double_, r->p, 8); /* little-endian, as the machines fnhost runs on */
            r->p += 8, t->data_case = TD(DOUBLE);
            break;
        default: /* collections and model binding data: no plain value here */
            if (f <= 13)
                t->data_case = 0;
            skip(r, wt);
        }
    }
    return t;
}

static PB(TypedData) *typed_sub(rd *r, unsigned wt)
{
    rd s = sub(r, wt);
    return *r->bad ? NULL : typed(&s);
}

static NullableString *nullable(rd *r)
{
    NullableString *n = msg(r, &nullable_string__descriptor);
    unsigned f, wt;
    while (n && (f = next(r, &wt))) {
        if (f == 1)
            n->value = str(r, wt), n->string_case = NULLABLE_STRING__STRING_VALUE;
        else
            skip(r, wt);
    }
    return n;
}

/* A map<string, string> entry (value_nullable 0) or map<string,
 * NullableString> entry (1): the entry structs of each share that layout. */
typedef struct str_entry {
    ProtobufCMessage base;
    char *key;
    void *value;
} str_entry;

static void *entry(rd *r, unsigned wt, const ProtobufCMessageDescriptor *d, int value_nullable)
{
    rd s = sub(r, wt);
    str_entry *e = *r->bad ? NULL : msg(r, d);
    unsigned f;
    while (e && (f = next(&s, &wt))) {
        if (f == 1) {
            e->key = str(&s, wt);
        } else if (f == 2 && value_nullable) {
            rd v = sub(&s, wt);
            e->value = *r->bad ? NULL : nullable(&v);
        } else if (f == 2) {
            e->value = str(&s, wt);
        } else {
            skip(&s, wt);
        }
    }
    return e;
}

static PB(RpcHttp) *http(rd *r)
{
    PB(RpcHttp) *h = msg(r, &D(rpc_http));
    unsigned f, wt;
    while (h && (f = next(r, &wt))) {
        switch (f) {
        case 1: h->method = str(r, wt); break;
        case 2: h->url = str(r, wt); break;
        case 3: PUSH(r, h->headers, h->n_headers, entry(r, wt, &D(rpc_http__headers_entry), 0)); break;
        case 4: h->body = typed_sub(r, wt); break;
        case 10: PUSH(r, h->params, h->n_params, entry(r, wt, &D(rpc_http__params_entry), 0)); break;
        case 12: h->status_code = str(r, wt); break;
        case 15: PUSH(r, h->query, h->n_query, entry(r, wt, &D(rpc_http__query_entry), 0)); break;
        case 16: h->enable_content_negotiation = num(r, wt) != 0; break;
        case 17: h->rawbody = typed_sub(r, wt); break;
        case 20:
            PUSH(r, h->nullable_headers, h->n_nullable_headers,
                 entry(r, wt, &D(rpc_http__nullable_headers_entry), 1));
            break;
        case 21:
            PUSH(r, h->nullable_params, h->n_nullable_params,
                 entry(r, wt, &D(rpc_http__nullable_params_entry), 1));
            break;
        case 22:
            PUSH(r, h->nullable_query, h->n_nullable_query,
                 entry(r, wt, &D(rpc_http__nullable_query_entry), 1));
            break;
        default: skip(r, wt); /* identities and cookies: not used by fnhost */
        }
    }
    return h;
}

static PB(ParameterBinding) *binding(rd *r, unsigned wt)
{
    rd s = sub(r, wt);
    PB(ParameterBinding) *b = *r->bad ? NULL : msg(r, &D(parameter_binding));
    unsigned f;
    while (b && (f = next(&s, &wt))) {
        if (f == 1) {
            b->name = str(&s, wt);
        } else if (f == 2) {
            b->data = typed_sub(&s, wt);
            b->rpc_data_case = AZURE_FUNCTIONS_RPC_MESSAGES__PARAMETER_BINDING__RPC_DATA_DATA;
        } else {
            skip(&s, wt); /* shared memory: not offered by fnhost */
        }
    }
    return b;
}

static PB(RpcException) *exception(rd *r, unsigned wt)
{
    rd s = sub(r, wt);
    PB(RpcException) *ex = *r->bad ? NULL : msg(r, &D(rpc_exception));
    unsigned f;
    while (ex && (f = next(&s, &wt))) {
        switch (f) {
        case 1: ex->stack_trace = str(&s, wt); break;
        case 2: ex->message = str(&s, wt); break;
        case 3: ex->source = str(&s, wt); break;
        case 4: ex->is_user_exception = num(&s, wt) != 0; break;
        case 5: ex->type = str(&s, wt); break;
        default: skip(&s, wt);
        }
    }
    return ex;
}

static PB(InvocationRequest) *request(rd *r)
{
    PB(InvocationRequest) *q = msg(r, &D(invocation_request));
    unsigned f, wt;
    while (q && (f = next(r, &wt))) {
        switch (f) {
        case 1: q->invocation_id = str(r, wt); break;
        case 2: q->function_id = str(r, wt); break;
        case 3: PUSH(r, q->input_data, q->n_input_data, binding(r, wt)); break;
        case 4: {
            rd s = sub(r, wt);
            PB(InvocationRequest__TriggerMetadataEntry) *e =
                *r->bad ? NULL : msg(r, &D(invocation_request__trigger_metadata_entry));
            unsigned g;
            while (e && (g = next(&s, &wt))) {
                if (g == 1)
                    e->key = str(&s, wt);
                else if (g == 2)
                    e->value = typed_sub(&s, wt);
                else
                    skip(&s, wt);
            }
            PUSH(r, q->trigger_metadata, q->n_trigger_metadata, e);
            break;
        }
        case 6: {
            rd s = sub(r, wt);
            PB(RetryContext) *c = *r->bad ? NULL : msg(r, &D(retry_context));
            unsigned g;
            while (c && (g = next(&s, &wt))) {
                if (g == 1)
                    c->retry_count = (int32_t)num(&s, wt);
                else if (g == 2)
                    c->max_retry_count = (int32_t)num(&s, wt);
                else if (g == 3)
                    c->exception = exception(&s, wt);
                else
                    skip(&s, wt);
            }
            q->retry_context = c;
            break;
        }
        default: skip(r, wt); /* the trace context: not used by fnhost */
        }
    }
    return q;
}

static PB(InvocationResponse) *response(rd *r)
{
    PB(InvocationResponse) *rs = msg(r, &D(invocation_response));
    unsigned f, wt;
    while (rs && (f = next(r, &wt))) {
        switch (f) {
        case 1: rs->invocation_id = str(r, wt); break;
        case 2: PUSH(r, rs->output_data, rs->n_output_data, binding(r, wt)); break;
        case 3: {
            rd s = sub(r, wt);
            PB(StatusResult) *res = *r->bad ? NULL : msg(r, &D(status_result));
            unsigned g;
            while (res && (g = next(&s, &wt))) {
                if (g == 1)
                    res->result = str(&s, wt);
                else if (g == 2)
                    res->exception = exception(&s, wt);
                else if (g == 4)
                    res->status = (PB(StatusResult__Status))num(&s, wt);
                else
                    skip(&s, wt); /* logs: a worker sends them as RpcLog */
            }
            rs->result = res;
            break;
        }
        case 4: rs->return_value = typed_sub(r, wt); break;
        default: skip(r, wt);
        }
    }
    return rs;
}

static PB(RpcLog) *log_msg(rd *r)
{
    PB(RpcLog) *l = msg(r, &D(rpc_log));
    unsigned f, wt;
    while (l && (f = next(r, &wt))) {
        switch (f) {
        case 1: l->invocation_id = str(r, wt); break;
        case 2: l->category = str(r, wt); break;
        case 3: l->level = (PB(RpcLog__Level))(int32_t)num(r, wt); break;
        case 4: l->message = str(r, wt); break;
        case 5: l->event_id = str(r, wt); break;
        case 6: l->exception = exception(r, wt); break;
        case 7: l->properties = str(r, wt); break;
        case 8: l->log_category = (PB(RpcLog__RpcLogCategory))(int32_t)num(r, wt); break;
        default: skip(r, wt); /* the typed property bag: not used by fnhost */
        }
    }
    return l;
}

int fnh__rpc_read_invocation(fnh__rpc_msg *m, const unsigned char *data, size_t len,
                             fnh__arena *a)
{
    /* mine only when every top-level field is request_id or one content of
     * mine (a log, an invocation request or response) */
    rd scan = {data, data + len, a, &(int){0}};
    unsigned f, wt, content = 0;
    while ((f = next(&scan, &wt))) {
        if ((f != 1 && f != 2 && f != 4 && f != 5) || (f != 1 && content && content != f))
            return 1;
        content = f == 1 ? content : f;
        skip(&scan, wt);
    }
    if (*scan.bad || !content)
        return 1;
    int bad = 0;
    rd r = {data, data + len, a, &bad};
    while ((f = next(&r, &wt))) {
        if (f == 1) {
            m->request_id = str(&r, wt);
            continue;
        }
        rd s = sub(&r, wt);
        if (bad)
            break;
        if (f == 2) {
            m->content_case = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_RPC_LOG;
            m->rpc_log = log_msg(&s);
        } else if (f == 4) {
            m->content_case = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_INVOCATION_REQUEST;
            m->invocation_request = request(&s);
        } else {
            m->content_case = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_INVOCATION_RESPONSE;
            m->invocation_response = response(&s);
        }
    }
    return bad ? -1 : 0;
}
