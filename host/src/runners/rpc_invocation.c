/* rpc_invocation.c: fnh__invocation <-> InvocationRequest/InvocationResponse.
 * Encoders build the message tree in an arena, borrowing the invocation's
 * bytes (bodies are not copied until packed), pack it framed and drop the
 * arena. Decoders copy what they keep. */
#include "rpc_invocation.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "http_router.h"

#define PB(x) AzureFunctionsRpcMessages__##x
#define NEW(a, type, snake) \
    ((PB(type) *)msg_new((a), &azure_functions_rpc_messages__##snake##__descriptor))
#define TD(kind) AZURE_FUNCTIONS_RPC_MESSAGES__TYPED_DATA__DATA_##kind
#define STATUS(s) AZURE_FUNCTIONS_RPC_MESSAGES__STATUS_RESULT__STATUS__##s

/* The protobuf string for a NUL-terminated C string we only borrow. */
#define S(s) ((char *)(s))

static void *msg_new(fnh__arena *a, const ProtobufCMessageDescriptor *d)
{
    void *p = fnh__arena_alloc(a, d->sizeof_message);
    if (p)
        protobuf_c_message_init(d, p);
    return p;
}

static NullableString *nullable(fnh__arena *a, const char *v)
{
    NullableString *n = msg_new(a, &nullable_string__descriptor);
    if (n && v) {
        n->string_case = NULLABLE_STRING__STRING_VALUE;
        n->value = S(v);
    }
    return n;
}

/* ---- values ---------------------------------------------------------------- */

/* Valid UTF-8 without NUL bytes: what a protobuf string may carry. */
static int utf8_text(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
        if (!k || n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
        unsigned c1 = s[i + 1];
        if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) ||
            (c == 0xf4 && c1 > 0x8f))
            return 0; /* overlong, surrogate or beyond U+10FFFF */
        i += k + 1;
    }
    return 1;
}

/* The media type of ct without parameters, in lengths: "text/plain; x" -> 10. */
static size_t media_len(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n;
}

static int is_json_type(const char *ct)
{
    if (!ct)
        return 0;
    size_t n = media_len(ct);
    return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
           (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

static int is_text_type(const char *ct)
{
    return ct && strncasecmp(ct, "text/", 5) == 0;
}

/* The content type a TypedData kind stands for when none travels with it. */
static const char *kind_type(int kind)
{
    return kind == TD(JSON) ? "application/json" : kind == TD(STRING) ? "text/plain" : NULL;
}

/* Sets td to data (len bytes followed by a NUL, borrowed): json or string
 * when the content type says text and the bytes are UTF-8, else bytes. */
static void typed_set(PB(TypedData) *td, const char *data, size_t len, const char *ct)
{
    if (!data)
        data = "";
    if ((is_json_type(ct) || is_text_type(ct)) && utf8_text((const unsigned char *)data, len)) {
        td->data_case = is_json_type(ct) ? TD(JSON) : TD(STRING);
        td->string = S(data);
        return;
    }
    td->data_case = TD(BYTES);
    td->bytes.data = (uint8_t *)data;
    td->bytes.len = len;
}

/* 1 when ct differs from what td's kind implies, so it must travel. */
static int type_differs(const PB(TypedData) *td, const char *ct)
{
    const char *implied = kind_type(td->data_case);
    return (ct == NULL) != (implied == NULL) || (ct && strcmp(ct, implied) != 0);
}

/* A TypedData as bytes: *data and *len (borrowed from td, or written into
 * tmp[32] for numbers) and the content type its kind implies. Returns 0,
 * or -ENODATA when td carries no plain value. */
static int typed_get(const PB(TypedData) *td, char tmp[32], const char **data, size_t *len,
                     const char **ct)
{
    *ct = td ? kind_type(td->data_case) : NULL;
    switch (td ? td->data_case : TD(_NOT_SET)) {
    case TD(STRING):
    case TD(JSON):
        *data = td->string;
        *len = strlen(td->string);
        return 0;
    case TD(BYTES):
    case TD(STREAM):
        *data = (const char *)td->bytes.data;
        *len = td->bytes.len;
        return 0;
    case TD(INT):
        *len = (size_t)snprintf(tmp, 32, "%lld", (long long)td->int_);
        *data = tmp;
        *ct = "application/json";
        return 0;
    case TD(DOUBLE):
        *len = (size_t)snprintf(tmp, 32, "%.17g", td->double_);
        *data = tmp;
        *ct = "application/json";
        return 0;
    default:
        return -ENODATA;
    }
}

/* ---- host side: request --------------------------------------------------- */

typedef struct meta_list {
    PB(InvocationRequest__TriggerMetadataEntry) **items;
    size_t n, cap;
} meta_list;

static void meta_add(fnh__arena *a, meta_list *l, const char *key, const char *value)
{
    if (l->n == l->cap)
        return;
    PB(InvocationRequest__TriggerMetadataEntry) *e =
        NEW(a, InvocationRequest__TriggerMetadataEntry, invocation_request__trigger_metadata_entry);
    PB(TypedData) *td = NEW(a, TypedData, typed_data);
    if (!e || !td)
        return;
    td->data_case = TD(STRING);
    td->string = S(value);
    e->key = S(key);
    e->value = td;
    l->items[l->n++] = e;
}

static PB(RpcHttp) *http_value(fnh__arena *a, fnh__invocation *inv, int lower_names)
{
    fnh__http_req *r = inv->in.http;
    PB(RpcHttp) *h = NEW(a, RpcHttp, rpc_http);
    if (!h)
        return NULL;
    h->method = S(r->method_name ? r->method_name : "GET");
    /* an absolute URL, as Azure sends it */
    const char *target = r->target ? r->target : "/";
    if (target[0] == '/') {
        const char *host = fnh__http_req_header(r, "Host");
        size_t hn = strlen(host ? host : "localhost"), tn = strlen(target);
        char *url = fnh__arena_alloc(a, 7 + hn + tn + 1);
        if (url) {
            memcpy(url, "http://", 7);
            memcpy(url + 7, host ? host : "localhost", hn);
            memcpy(url + 7 + hn, target, tn);
        }
        h->url = url ? url : S("");
    } else {
        h->url = S(target);
    }
    h->nullable_headers = fnh__arena_alloc(a, (r->nheaders + 1) * sizeof *h->nullable_headers);
    for (size_t i = 0; h->nullable_headers && i < r->nheaders; i++) {
        PB(RpcHttp__NullableHeadersEntry) *e =
            NEW(a, RpcHttp__NullableHeadersEntry, rpc_http__nullable_headers_entry);
        if (!e)
            break;
        e->key = S(r->headers[i].key);
        if (lower_names) { /* as Azure sends them to language workers */
            size_t kn = strlen(r->headers[i].key);
            char *k = fnh__arena_strndup(a, r->headers[i].key, kn);
            for (size_t j = 0; k && j < kn; j++)
                k[j] = (char)tolower((unsigned char)k[j]);
            e->key = k ? k : e->key;
        }
        e->value = nullable(a, r->headers[i].value);
        h->nullable_headers[h->n_nullable_headers++] = e;
    }
    fnh__http_req_parse_query(r);
    h->nullable_query = fnh__arena_alloc(a, (r->nq + 1) * sizeof *h->nullable_query);
    for (size_t i = 0; h->nullable_query && i < r->nq; i++) {
        PB(RpcHttp__NullableQueryEntry) *e =
            NEW(a, RpcHttp__NullableQueryEntry, rpc_http__nullable_query_entry);
        if (!e)
            break;
        e->key = S(r->qparams[i].key);
        e->value = nullable(a, r->qparams[i].value);
        h->nullable_query[h->n_nullable_query++] = e;
    }
    const fnh__trigger_input *in = &inv->in;
    h->nullable_params = fnh__arena_alloc(a, (in->nparams + 1) * sizeof *h->nullable_params);
    for (size_t i = 0; h->nullable_params && i < in->nparams; i++) {
        PB(RpcHttp__NullableParamsEntry) *e =
            NEW(a, RpcHttp__NullableParamsEntry, rpc_http__nullable_params_entry);
        if (!e)
            break;
        e->key = S(in->params[i].key);
        e->value = nullable(a, in->params[i].value); /* NULL: an absent optional value */
        h->nullable_params[h->n_nullable_params++] = e;
    }
    if (r->body.len) {
        h->body = NEW(a, TypedData, typed_data);
        if (h->body) {
            h->body->data_case = TD(BYTES);
            h->body->bytes.data = (uint8_t *)r->body.data;
            h->body->bytes.len = r->body.len;
        }
    }
    return h;
}

static PB(ParameterBinding) *binding(fnh__arena *a, const char *name, PB(TypedData) *td)
{
    PB(ParameterBinding) *pb = NEW(a, ParameterBinding, parameter_binding);
    if (!pb)
        return NULL;
    pb->name = S(name);
    if (td) {
        pb->rpc_data_case = AZURE_FUNCTIONS_RPC_MESSAGES__PARAMETER_BINDING__RPC_DATA_DATA;
        pb->data = td;
    }
    return pb;
}

int fnh__rpc_encode_invocation(fnh__invocation *inv, const char *function_id, fnh__buf *out)
{
    return fnh__rpc_encode_invocation_for(inv, function_id, 0, out);
}

int fnh__rpc_encode_invocation_for(fnh__invocation *inv, const char *function_id,
                                   int for_worker, fnh__buf *out)
{
    fnh__arena a = {0};
    PB(InvocationRequest) rq = AZURE_FUNCTIONS_RPC_MESSAGES__INVOCATION_REQUEST__INIT;
    rq.invocation_id = inv->id;
    rq.function_id = S(function_id);
    meta_list meta = {.cap = inv->in.nmeta + inv->ninputs + inv->in.nparams + 1};
    meta.items = fnh__arena_alloc(&a, meta.cap * sizeof *meta.items);
    rq.input_data = fnh__arena_alloc(&a, (inv->ninputs + 1) * sizeof *rq.input_data);
    if (!rq.input_data || !meta.items) {
        fnh__arena_free(&a);
        return -ENOMEM;
    }
    /* the trigger */
    const char *tname = inv->fn->trigger ? inv->fn->trigger->name : "trigger";
    PB(TypedData) *td = NEW(&a, TypedData, typed_data);
    const char *ctype = inv->in.content_type;
    if (td && inv->in.http) {
        td->data_case = TD(HTTP);
        td->http = http_value(&a, inv, for_worker);
    } else if (td) {
        typed_set(td, inv->in.data, inv->in.len, ctype);
        if (type_differs(td, ctype) && ctype)
            meta_add(&a, &meta, "$ContentType", ctype);
    }
    rq.input_data[rq.n_input_data++] = binding(&a, tname, td);
    /* extension inputs, read before the run */
    for (size_t i = 0; i < inv->ninputs; i++) {
        const fnh__input *in = &inv->inputs[i];
        PB(TypedData) *v = NULL;
        if (in->set && (v = NEW(&a, TypedData, typed_data))) {
            typed_set(v, in->value.data, in->value.len, in->content_type);
            if (type_differs(v, in->content_type) && in->content_type) {
                size_t n = strlen(in->name);
                char *key = fnh__arena_alloc(&a, 13 + n + 1);
                if (key) {
                    memcpy(key, "$ContentType.", 13);
                    memcpy(key + 13, in->name, n);
                    meta_add(&a, &meta, key, in->content_type);
                }
            }
        }
        rq.input_data[rq.n_input_data++] = binding(&a, in->name, v);
    }
    for (size_t i = 0; i < inv->in.nmeta; i++)
        if (inv->in.meta[i].key[0] != '$')
            meta_add(&a, &meta, inv->in.meta[i].key, inv->in.meta[i].value);
    for (size_t i = 0; for_worker && i < inv->in.nparams; i++)
        if (inv->in.params[i].value) /* v3 Node functions read them as bindingData */
            meta_add(&a, &meta, inv->in.params[i].key, inv->in.params[i].value);
    rq.trigger_metadata = meta.items;
    rq.n_trigger_metadata = meta.n;
    /* the retry context: count, max, and the previous try's failure */
    char etype[32];
    if (inv->has_retry) {
        PB(RetryContext) *rc = NEW(&a, RetryContext, retry_context);
        if (rc) {
            rc->retry_count = inv->retry_count;
            rc->max_retry_count = inv->retry_max;
            if (inv->retry_count && (rc->exception = NEW(&a, RpcException, rpc_exception))) {
                snprintf(etype, sizeof etype, "errno:%d",
                         inv->retry_last_rc < 0 ? -inv->retry_last_rc : EIO);
                rc->exception->type = etype;
                rc->exception->message = S(inv->retry_exception ? inv->retry_exception : "");
            }
        }
        rq.retry_context = rc;
    }
    int rc = -ENOMEM;
    if (!a.failed) {
        fnh__rpc_msg m = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
        m.content_case = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_INVOCATION_REQUEST;
        m.invocation_request = &rq;
        rc = fnh__rpc_frame_append(out, &m);
    }
    fnh__arena_free(&a);
    return rc;
}

/* ---- host side: response -------------------------------------------------- */

/* "name: why" appended to the error text. */
static void note(fnh__buf *err, const char *fmt, const char *a, const char *b)
{
    if (err->len)
        fnh__buf_puts(err, "\n");
    fnh__buf_printf(err, fmt, a, b);
}

/* Sets output `name` from td through the function API. */
static void apply_output(fnh__invocation *inv, const char *name, const PB(TypedData) *td,
                         fnh__buf *err)
{
    fnh_ctx *ctx = (fnh_ctx *)(void *)inv;
    const fnh_function_api *api = &fnh__function_api;
    char tmp[32];
    const char *data = "", *ctype = NULL;
    size_t len = 0;
    if (td && td->data_case == TD(HTTP)) {
        const PB(RpcHttp) *h = td->http;
        const char *hct = NULL;
        if (h->status_code && *h->status_code &&
            api->output_meta(ctx, name, "status", h->status_code) != 0)
            note(err, "output '%s': status '%s' is not an HTTP status (100-599)", name,
                 h->status_code);
        for (size_t i = 0; i < h->n_headers; i++) {
            const char *k = h->headers[i]->key, *val = h->headers[i]->value;
            if (strcasecmp(k, "Content-Type") == 0) {
                hct = val;
                continue;
            }
            char *key = fnh__asprintf("headers.%s", k);
            if (key && api->output_meta(ctx, name, key, val) != 0)
                note(err, "output '%s': header '%s' is not a valid HTTP header", name, k);
            free(key);
        }
        if (!h->body || typed_get(h->body, tmp, &data, &len, &ctype) != 0) {
            data = "";
            len = 0;
        }
        if (hct)
            ctype = hct;
    } else if (!td || typed_get(td, tmp, &data, &len, &ctype) != 0) {
        return; /* no value: the output stays unset */
    }
    fnh_value v = {data, len, ctype};
    int rc = api->output(ctx, name, &v);
    if (rc == -ENOENT)
        note(err, "output '%s': %s", name, "the function declares no such output");
    else if (rc)
        note(err, "output '%s': %s", name, strerror(-rc));
}

int fnh__rpc_apply_response(fnh__invocation *inv, const fnh__rpc_invocation_response *rs,
                            char **error)
{
    *error = NULL;
    fnh__buf err = {0};
    const PB(StatusResult) *res = rs->result;
    int rc = 0;
    if (res && res->status == STATUS(Cancelled)) {
        rc = -ECANCELED;
    } else if (!res || res->status != STATUS(Success)) {
        rc = -EIO;
        const PB(RpcException) *ex = res ? res->exception : NULL;
        int n = 0;
        if (ex && ex->type && sscanf(ex->type, "errno:%d", &n) == 1 && n > 0)
            rc = -n;
        const char *msg = ex && ex->message && *ex->message ? ex->message : NULL;
        if (msg && strcmp(msg, strerror(-rc)) != 0)
            fnh__buf_puts(&err, msg);
        if (ex && ex->stack_trace && *ex->stack_trace) {
            fnh__buf_puts(&err, err.len ? "\n" : "");
            fnh__buf_puts(&err, ex->stack_trace);
        }
        if (!res)
            fnh__buf_puts(&err, "the response carries no result");
    } else {
        for (size_t i = 0; i < rs->n_output_data; i++) {
            const PB(ParameterBinding) *pb = rs->output_data[i];
            if (pb->rpc_data_case == AZURE_FUNCTIONS_RPC_MESSAGES__PARAMETER_BINDING__RPC_DATA_DATA)
                apply_output(inv, pb->name, pb->data, &err);
        }
        if (rs->return_value)
            apply_output(inv, "$return", rs->return_value, &err);
        if (err.len)
            rc = -EPROTO;
    }
    inv->rc = rc;
    if (err.len)
        *error = fnh__buf_take(&err);
    fnh__buf_free(&err);
    return 0;
}

/* ---- child side: request -------------------------------------------------- */

/* Strings laid out in one block: a first pass (base NULL) measures, the
 * second copies. */
typedef struct sstore {
    char *base;
    size_t len;
} sstore;

static const char *ss_put(sstore *s, const char *str)
{
    size_t n = strlen(str) + 1;
    char *at = s->base ? memcpy(s->base + s->len, str, n) : NULL;
    s->len += n;
    return at;
}

/* The request target inside an absolute URL: "http://h/p?q" -> "/p?q". */
static const char *url_target(const char *url)
{
    const char *sep = strstr(url, "://");
    if (!sep || url[0] == '/')
        return url;
    const char *slash = strchr(sep + 3, '/');
    const char *q = strchr(sep + 3, '?');
    if (!slash || (q && q < slash))
        return q ? q : "/";
    return slash;
}

/* The HTTP request an RpcHttp describes, as the server would have parsed
 * it: headers (nullable ones as Azure sends them, else the plain map) and
 * the target inside the URL. */
static fnh__http_req *req_from_http(const PB(RpcHttp) *h)
{
    const char *method = h->method && *h->method ? h->method : "GET";
    const char *t = url_target(h->url ? h->url : "/");
    char *slashed = t[0] != '/' ? fnh__asprintf("/%s", t) : NULL; /* "http://h?q": path "/" */
    if (slashed)
        t = slashed;
    size_t n = h->n_nullable_headers ? h->n_nullable_headers : h->n_headers, nheaders = 0;
    fnh__buf hs = {0};
    int rc = t ? 0 : -ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *k, *v;
        if (h->n_nullable_headers) {
            const NullableString *ns = h->nullable_headers[i]->value;
            k = h->nullable_headers[i]->key;
            v = ns && ns->string_case == NULLABLE_STRING__STRING_VALUE ? ns->value : NULL;
        } else {
            k = h->headers[i]->key;
            v = h->headers[i]->value;
        }
        if (!v)
            continue;
        rc = fnh__buf_append(&hs, k, strlen(k) + 1) || fnh__buf_append(&hs, v, strlen(v) + 1);
        nheaders++;
    }
    fnh__http_target parts;
    fnh__http_req *r = NULL;
    if (!rc && fnh__http_target_split(t, 0, &parts) == 0)
        fnh__http_req_new(method, t, &parts, hs.data, hs.len, nheaders, &r);
    fnh__buf_free(&hs);
    free(slashed);
    if (r && h->body) {
        char tmp[32];
        const char *data, *ct;
        size_t len;
        if (typed_get(h->body, tmp, &data, &len, &ct) == 0 && fnh__buf_append(&r->body, data, len)) {
            fnh__http_req_free(r);
            return NULL;
        }
    }
    return r;
}

static const char *meta_string(const PB(TypedData) *td, char tmp[32])
{
    const char *data, *ct;
    size_t len;
    if (typed_get(td, tmp, &data, &len, &ct) != 0 || memchr(data, 0, len))
        return NULL;
    return data; /* strings are NUL-terminated; bytes from protobuf-c are not */
}

/* Trigger metadata (without the "$ContentType" keys) and route values,
 * copied into one block: the trigger input's metadata, or for HTTP the
 * route values next to the request. */
static int fill_meta(fnh__invocation *inv, const PB(InvocationRequest) *rq,
                     const PB(RpcHttp) *h, fnh__http_req *req)
{
    int nullable = h && h->n_nullable_params; /* Azure sends one of the two maps */
    size_t np = !h ? 0 : nullable ? h->n_nullable_params : h->n_params;
    size_t n = rq->n_trigger_metadata + np;
    fnh_kv *kv = calloc(n + 1, sizeof *kv);
    char *store = NULL;
    size_t nmeta = 0;
    if (!kv) {
        fnh__http_req_free(req);
        return -ENOMEM;
    }
    for (int pass = 0; pass < 2; pass++) {
        sstore ss = {store, 0};
        nmeta = 0;
        for (size_t i = 0; i < rq->n_trigger_metadata; i++) {
            const PB(InvocationRequest__TriggerMetadataEntry) *e = rq->trigger_metadata[i];
            char tmp[32];
            const char *v = e->value ? meta_string(e->value, tmp) : NULL;
            if (!v || strncmp(e->key, "$ContentType", 12) == 0)
                continue;
            kv[nmeta].key = ss_put(&ss, e->key);
            kv[nmeta].value = ss_put(&ss, v);
            nmeta++;
        }
        for (size_t i = 0; i < np; i++) {
            const char *v = nullable ? NULL : h->params[i]->value;
            if (nullable) {
                const NullableString *ns = h->nullable_params[i]->value;
                v = ns && ns->string_case == NULLABLE_STRING__STRING_VALUE ? ns->value : NULL;
            }
            kv[nmeta + i].key = ss_put(&ss, nullable ? h->nullable_params[i]->key
                                                     : h->params[i]->key);
            kv[nmeta + i].value = v ? ss_put(&ss, v) : NULL;
        }
        if (pass == 0 && !(store = malloc(ss.len ? ss.len : 1))) {
            free(kv);
            fnh__http_req_free(req);
            return -ENOMEM;
        }
    }
    if (req) { /* the route values are copied; the request's own metadata is its own */
        int rc = fnh__input_set_http(inv, req, kv + nmeta, np);
        free(kv);
        free(store);
        return rc;
    }
    fnh__input_set_meta(inv, kv, nmeta, store);
    return 0;
}

/* The content type metadata "$ContentType<suffix>" carries, or dflt. */
static const char *content_type(const PB(InvocationRequest) *rq, const char *suffix,
                                const char *dflt)
{
    for (size_t i = 0; i < rq->n_trigger_metadata; i++) {
        const PB(InvocationRequest__TriggerMetadataEntry) *e = rq->trigger_metadata[i];
        if (strncmp(e->key, "$ContentType", 12) == 0 && strcmp(e->key + 12, suffix) == 0 &&
            e->value && e->value->data_case == TD(STRING))
            return e->value->string;
    }
    return dflt;
}

int fnh__rpc_decode_invocation(const fnh__rpc_invocation_request *rq, fnh__function *fn,
                               fnh__invocation **out)
{
    *out = NULL;
    fnh__invocation *inv = fnh__invocation_new(NULL, fn, "isolated");
    if (!inv)
        return -ENOMEM;
    snprintf(inv->id, sizeof inv->id, "%s", rq->invocation_id ? rq->invocation_id : "");
    const char *tname = fn->trigger ? fn->trigger->name : NULL;
    const PB(RpcHttp) *http = NULL;
    fnh__http_req *req = NULL;
    int rc = 0, have_trigger = 0;
    inv->inputs = calloc(rq->n_input_data + 1, sizeof *inv->inputs);
    if (!inv->inputs)
        rc = -ENOMEM;
    for (size_t i = 0; !rc && i < rq->n_input_data; i++) {
        const PB(ParameterBinding) *pb = rq->input_data[i];
        const PB(TypedData) *td =
            pb->rpc_data_case == AZURE_FUNCTIONS_RPC_MESSAGES__PARAMETER_BINDING__RPC_DATA_DATA
                ? pb->data
                : NULL;
        char tmp[32];
        const char *data, *ct;
        size_t len;
        int got = typed_get(td, tmp, &data, &len, &ct) == 0;
        if (!have_trigger && tname && strcasecmp(pb->name, tname) == 0) {
            have_trigger = 1;
            if (td && td->data_case == TD(HTTP)) {
                http = td->http;
                if (!(req = req_from_http(http)))
                    rc = -ENOMEM;
            } else if (got) {
                rc = fnh__input_set_payload(inv, data, len, content_type(rq, "", ct));
            }
            continue;
        }
        fnh__input *in = &inv->inputs[inv->ninputs++];
        char suffix[200];
        snprintf(suffix, sizeof suffix, ".%s", pb->name);
        in->name = fnh__strdup(pb->name);
        in->set = got;
        ct = got ? content_type(rq, suffix, ct) : NULL;
        if (!in->name || (got && fnh__buf_append(&in->value, data, len)) ||
            (ct && !(in->content_type = fnh__strdup(ct))))
            rc = -ENOMEM;
    }
    if (!rc && !have_trigger)
        rc = -EPROTO;
    const PB(RetryContext) *retry = rq->retry_context;
    if (!rc && retry) {
        inv->has_retry = 1;
        inv->retry_count = retry->retry_count;
        inv->retry_max = retry->max_retry_count;
        const PB(RpcException) *ex = retry->exception;
        int n = 0;
        if (ex && ex->type && sscanf(ex->type, "errno:%d", &n) == 1 && n > 0)
            inv->retry_last_rc = -n;
        else if (ex)
            inv->retry_last_rc = -EIO;
        if (ex && ex->message && !(inv->retry_exception = fnh__strdup(ex->message)))
            rc = -ENOMEM;
    }
    if (!rc)
        rc = fill_meta(inv, rq, http, req); /* takes req */
    else
        fnh__http_req_free(req);
    if (rc) {
        fnh__invocation_free(inv);
        return rc;
    }
    *out = inv;
    return 0;
}

/* ---- child side: response ------------------------------------------------- */

/* An output travels as RpcHttp when it is an HTTP output: of type "http",
 * "$return" of an HTTP-triggered function, or carrying a status or headers. */
static int http_output(const fnh__invocation *inv, const fnh__output *o)
{
    const fnh__binding *b = fnh__function_binding(inv->fn, o->name);
    if (b)
        return strcasecmp(b->type, "http") == 0 || o->status || o->nheaders;
    return (inv->in.http && strcmp(o->name, "$return") == 0) || o->status || o->nheaders;
}

static PB(TypedData) *output_value(fnh__arena *a, const fnh__invocation *inv,
                                   const fnh__output *o)
{
    PB(TypedData) *td = NEW(a, TypedData, typed_data);
    if (!td)
        return NULL;
    if (!http_output(inv, o)) {
        typed_set(td, o->body.data, o->body.len, o->content_type);
        return td;
    }
    PB(RpcHttp) *h = NEW(a, RpcHttp, rpc_http);
    if (!h)
        return NULL;
    td->data_case = TD(HTTP);
    td->http = h;
    if (o->status) {
        char *code = fnh__arena_alloc(a, 8);
        if (code)
            snprintf(code, 8, "%d", o->status);
        h->status_code = code ? code : S("");
    }
    h->headers = fnh__arena_alloc(a, (o->nheaders + 1) * sizeof *h->headers);
    int has_ctype = 0;
    for (size_t i = 0; h->headers && i <= o->nheaders; i++) {
        const char *k, *v;
        if (i < o->nheaders) {
            k = o->headers[i].key;
            v = o->headers[i].value;
            has_ctype |= strcasecmp(k, "Content-Type") == 0;
        } else if (o->content_type && !has_ctype) {
            k = "Content-Type";
            v = o->content_type;
        } else {
            break;
        }
        PB(RpcHttp__HeadersEntry) *e = NEW(a, RpcHttp__HeadersEntry, rpc_http__headers_entry);
        if (!e)
            break;
        e->key = S(k);
        e->value = S(v);
        h->headers[h->n_headers++] = e;
    }
    if (o->body.len) {
        h->body = NEW(a, TypedData, typed_data);
        if (h->body) {
            h->body->data_case = TD(BYTES);
            h->body->bytes.data = (uint8_t *)o->body.data;
            h->body->bytes.len = o->body.len;
        }
    }
    return td;
}

static int encode_response(const char *id, const fnh__invocation *inv, int rc,
                           const char *message, fnh__buf *out)
{
    fnh__arena a = {0};
    PB(InvocationResponse) rs = AZURE_FUNCTIONS_RPC_MESSAGES__INVOCATION_RESPONSE__INIT;
    PB(StatusResult) res = AZURE_FUNCTIONS_RPC_MESSAGES__STATUS_RESULT__INIT;
    PB(RpcException) ex = AZURE_FUNCTIONS_RPC_MESSAGES__RPC_EXCEPTION__INIT;
    char type[24];
    rs.invocation_id = S(id);
    rs.result = &res;
    res.status = rc ? STATUS(Failure) : STATUS(Success);
    if (rc) {
        snprintf(type, sizeof type, "errno:%d", -rc);
        ex.type = type;
        ex.message = S(message ? message : strerror(-rc));
        res.exception = &ex;
    } else if (inv) {
        rs.output_data = fnh__arena_alloc(&a, (inv->noutputs + 1) * sizeof *rs.output_data);
        for (size_t i = 0; rs.output_data && i < inv->noutputs; i++) {
            const fnh__output *o = &inv->outputs[i];
            if (!o->set)
                continue;
            PB(TypedData) *td = output_value(&a, inv, o);
            if (strcmp(o->name, "$return") == 0)
                rs.return_value = td;
            else
                rs.output_data[rs.n_output_data++] = binding(&a, o->name, td);
        }
    }
    int ret = -ENOMEM;
    if (!a.failed) {
        fnh__rpc_msg m = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
        m.content_case = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_INVOCATION_RESPONSE;
        m.invocation_response = &rs;
        ret = fnh__rpc_frame_append(out, &m);
    }
    fnh__arena_free(&a);
    return ret;
}

int fnh__rpc_encode_response(const fnh__invocation *inv, int rc, fnh__buf *out)
{
    return encode_response(inv->id, inv, rc, NULL, out);
}

int fnh__rpc_encode_failure(const char *invocation_id, int rc, const char *message,
                            fnh__buf *out)
{
    return encode_response(invocation_id, NULL, rc < 0 ? rc : -EIO, message, out);
}
