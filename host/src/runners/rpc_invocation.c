/* rpc_invocation.c: fnh__invocation <-> InvocationRequest/InvocationResponse.
 * Encoders write the message straight from the invocation with the
 * backward writer (rpc_write.h), last field first; field numbers are
 * FunctionRpc.proto's. Decoders take the message rpc_frame's reader gives
 * (protobuf-c's structs, filled by rpc_read.c) and copy what they keep. */
#include "rpc_invocation.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_router.h"
#include "rpc_write.h"

#define PB(x) AzureFunctionsRpcMessages__##x
#define TD(kind) AZURE_FUNCTIONS_RPC_MESSAGES__TYPED_DATA__DATA_##kind
#define STATUS(s) AZURE_FUNCTIONS_RPC_MESSAGES__STATUS_RESULT__STATUS__##s

/* Field numbers (FunctionRpc.proto, NullableTypes.proto). */
enum {
    F_MSG_INVOCATION_REQUEST = 4, F_MSG_INVOCATION_RESPONSE = 5,
    F_RQ_INVOCATION_ID = 1, F_RQ_FUNCTION_ID = 2, F_RQ_INPUT_DATA = 3, F_RQ_TRIGGER_METADATA = 4,
    F_RQ_RETRY_CONTEXT = 6,
    F_RS_INVOCATION_ID = 1, F_RS_OUTPUT_DATA = 2, F_RS_RESULT = 3, F_RS_RETURN_VALUE = 4,
    F_PB_NAME = 1, F_PB_DATA = 2,
    F_TD_STRING = 1, F_TD_JSON = 2, F_TD_BYTES = 3, F_TD_HTTP = 5,
    F_HTTP_METHOD = 1, F_HTTP_URL = 2, F_HTTP_HEADERS = 3, F_HTTP_BODY = 4, F_HTTP_STATUS = 12,
    F_HTTP_NULLABLE_HEADERS = 20, F_HTTP_NULLABLE_PARAMS = 21, F_HTTP_NULLABLE_QUERY = 22,
    F_MAP_KEY = 1, F_MAP_VALUE = 2, F_NULLABLE_VALUE = 1,
    F_RETRY_COUNT = 1, F_RETRY_MAX = 2, F_RETRY_EXCEPTION = 3,
    F_EX_MESSAGE = 2, F_EX_TYPE = 5,
    F_RESULT_EXCEPTION = 2, F_RESULT_STATUS = 4,
};

/* The writer every encoder here uses, its memory kept between messages. */
static _Thread_local fnh__pbw tls_w;

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

/* The TypedData kind for data: json or string when the content type says
 * text and the bytes are UTF-8 (no NUL), else bytes. */
static int typed_kind(const char *data, size_t len, const char *ct)
{
    if ((is_json_type(ct) || is_text_type(ct)) && utf8_text((const unsigned char *)data, len))
        return is_json_type(ct) ? TD(JSON) : TD(STRING);
    return TD(BYTES);
}

/* Writes data (borrowed) as TypedData of kind in field `field`. */
static void typed_write(fnh__pbw *w, unsigned field, int kind, const char *data, size_t len)
{
    size_t mark = fnh__pbw_mark(w);
    fnh__pbw_bytes(w, kind == TD(JSON) ? F_TD_JSON : kind == TD(STRING) ? F_TD_STRING : F_TD_BYTES,
                   data ? data : "", len);
    fnh__pbw_end(w, field, mark);
}

/* 1 when ct differs from what a TypedData kind implies, so it must travel. */
static int type_differs(int kind, const char *ct)
{
    const char *implied = kind_type(kind);
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

/* A map<string, X> entry in field `field`: the value was written since
 * mark (or nothing, for an empty one), the key goes in front. */
static void map_key(fnh__pbw *w, unsigned field, const char *key, size_t mark)
{
    fnh__pbw_string(w, F_MAP_KEY, key);
    fnh__pbw_end(w, field, mark);
}

/* A trigger metadata entry: key -> TypedData{string: value}. */
static void meta_write(fnh__pbw *w, const char *key, const char *key_suffix, const char *value)
{
    size_t entry = fnh__pbw_mark(w);
    typed_write(w, F_MAP_VALUE, TD(STRING), value, strlen(value));
    size_t k = fnh__pbw_mark(w);
    fnh__pbw_raw(w, key_suffix, strlen(key_suffix));
    fnh__pbw_raw(w, key, strlen(key));
    fnh__pbw_end(w, F_MAP_KEY, k);
    fnh__pbw_end(w, F_RQ_TRIGGER_METADATA, entry);
}

/* map<string, NullableString> entries, last first; a NULL value travels as
 * an empty NullableString. lower: keys in lower case. */
static void nullable_map(fnh__pbw *w, unsigned field, const fnh_kv *kv, size_t n, int lower)
{
    for (size_t i = n; i-- > 0;) {
        size_t entry = fnh__pbw_mark(w);
        if (kv[i].value)
            fnh__pbw_bytes(w, F_NULLABLE_VALUE, kv[i].value, strlen(kv[i].value));
        fnh__pbw_end(w, F_MAP_VALUE, entry);
        size_t kn = strlen(kv[i].key), k = fnh__pbw_mark(w);
        fnh__pbw_raw(w, kv[i].key, kn);
        char *at = fnh__pbw_front(w);
        for (size_t j = 0; lower && !w->failed && j < kn; j++)
            at[j] = (char)tolower((unsigned char)at[j]);
        if (kn) /* an empty key is the proto3 default: not written */
            fnh__pbw_end(w, F_MAP_KEY, k);
        fnh__pbw_end(w, field, entry);
    }
}

/* TypedData{http: RpcHttp} of the request in field `field`. lower_names:
 * header names in lower case (as Azure sends them to language workers). */
static void http_write(fnh__pbw *w, unsigned field, fnh__invocation *inv, int lower_names)
{
    fnh__http_req *r = inv->in.http;
    size_t td = fnh__pbw_mark(w), h = td;
    fnh__http_req_parse_query(r);
    nullable_map(w, F_HTTP_NULLABLE_QUERY, r->qparams, r->nq, 0);
    nullable_map(w, F_HTTP_NULLABLE_PARAMS, inv->in.params, inv->in.nparams, 0);
    nullable_map(w, F_HTTP_NULLABLE_HEADERS, r->headers, r->nheaders, lower_names);
    if (r->body.len)
        typed_write(w, F_HTTP_BODY, TD(BYTES), r->body.data, r->body.len);
    /* an absolute URL, as Azure sends it */
    const char *target = r->target ? r->target : "/";
    size_t url = fnh__pbw_mark(w);
    fnh__pbw_raw(w, target, strlen(target));
    if (target[0] == '/') {
        const char *host = fnh__http_req_header(r, "Host");
        fnh__pbw_raw(w, host ? host : "localhost", strlen(host ? host : "localhost"));
        fnh__pbw_raw(w, "http://", 7);
    }
    fnh__pbw_end(w, F_HTTP_URL, url);
    fnh__pbw_string(w, F_HTTP_METHOD, r->method_name ? r->method_name : "GET");
    fnh__pbw_end(w, F_TD_HTTP, h);
    fnh__pbw_end(w, field, td);
}

/* A ParameterBinding in field `field` named name, its data written since mark. */
static void binding_end(fnh__pbw *w, unsigned field, const char *name, size_t mark)
{
    fnh__pbw_string(w, F_PB_NAME, name);
    fnh__pbw_end(w, field, mark);
}

int fnh__rpc_encode_invocation(fnh__invocation *inv, const char *function_id, fnh__buf *out)
{
    return fnh__rpc_encode_invocation_for(inv, function_id, 0, out);
}

int fnh__rpc_encode_invocation_for(fnh__invocation *inv, const char *function_id,
                                   int for_worker, fnh__buf *out)
{
    fnh__pbw *w = &tls_w;
    const fnh__trigger_input *tin = &inv->in;
    /* the kind of each value, known before its "$ContentType" metadata */
    int kinds_stack[8], *kinds = kinds_stack;
    if (inv->ninputs > 8 && !(kinds = malloc(inv->ninputs * sizeof *kinds)))
        return -ENOMEM;
    for (size_t i = 0; i < inv->ninputs; i++)
        kinds[i] = inv->inputs[i].set ? typed_kind(inv->inputs[i].value.data
                                                       ? inv->inputs[i].value.data : "",
                                                   inv->inputs[i].value.len,
                                                   inv->inputs[i].content_type)
                                      : 0;
    const char *ctype = tin->content_type;
    int tkind = tin->http ? TD(HTTP) : typed_kind(tin->data ? tin->data : "", tin->len, ctype);
    size_t msg = fnh__pbw_mark(w);
    /* the retry context: count, max, and the previous try's failure */
    if (inv->has_retry) {
        size_t rc = fnh__pbw_mark(w);
        if (inv->retry_count) {
            char etype[32];
            snprintf(etype, sizeof etype, "errno:%d",
                     inv->retry_last_rc < 0 ? -inv->retry_last_rc : EIO);
            size_t ex = fnh__pbw_mark(w);
            fnh__pbw_string(w, F_EX_TYPE, etype);
            fnh__pbw_string(w, F_EX_MESSAGE, inv->retry_exception ? inv->retry_exception : "");
            fnh__pbw_end(w, F_RETRY_EXCEPTION, ex);
        }
        fnh__pbw_varint(w, F_RETRY_MAX, (uint64_t)(int64_t)inv->retry_max);
        fnh__pbw_varint(w, F_RETRY_COUNT, (uint64_t)(int64_t)inv->retry_count);
        fnh__pbw_end(w, F_RQ_RETRY_CONTEXT, rc);
    }
    /* trigger metadata, written last first: the content types TypedData
     * cannot express, then the trigger's keys, then (for a worker) route values */
    for (size_t i = tin->nparams; for_worker && i-- > 0;)
        if (tin->params[i].value) /* v3 Node functions read them as bindingData */
            meta_write(w, tin->params[i].key, "", tin->params[i].value);
    for (size_t i = tin->nmeta; i-- > 0;)
        if (tin->meta[i].key[0] != '$')
            meta_write(w, tin->meta[i].key, "", tin->meta[i].value);
    for (size_t i = inv->ninputs; i-- > 0;) {
        const fnh__input *in = &inv->inputs[i];
        if (in->set && in->content_type && type_differs(kinds[i], in->content_type))
            meta_write(w, "$ContentType.", in->name, in->content_type);
    }
    if (!tin->http && ctype && type_differs(tkind, ctype))
        meta_write(w, "$ContentType", "", ctype);
    /* extension inputs, read before the run, then the trigger */
    for (size_t i = inv->ninputs; i-- > 0;) {
        const fnh__input *in = &inv->inputs[i];
        size_t pb = fnh__pbw_mark(w);
        if (in->set)
            typed_write(w, F_PB_DATA, kinds[i], in->value.data, in->value.len);
        binding_end(w, F_RQ_INPUT_DATA, in->name, pb);
    }
    size_t pb = fnh__pbw_mark(w);
    if (tin->http)
        http_write(w, F_PB_DATA, inv, for_worker);
    else
        typed_write(w, F_PB_DATA, tkind, tin->data, tin->len);
    binding_end(w, F_RQ_INPUT_DATA, inv->fn->trigger ? inv->fn->trigger->name : "trigger", pb);
    fnh__pbw_string(w, F_RQ_FUNCTION_ID, function_id);
    fnh__pbw_string(w, F_RQ_INVOCATION_ID, inv->id);
    fnh__pbw_end(w, F_MSG_INVOCATION_REQUEST, msg);
    if (kinds != kinds_stack)
        free(kinds);
    return fnh__pbw_frame(w, out);
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
    if (req) { /* the route values (copied by the request's input); its metadata is its own */
        int nullable = h->n_nullable_params > 0; /* Azure sends one of the two maps */
        size_t np = nullable ? h->n_nullable_params : h->n_params;
        fnh_kv stack[16], *kv = np <= 16 ? stack : calloc(np, sizeof *kv);
        if (!kv) {
            fnh__http_req_free(req);
            return -ENOMEM;
        }
        for (size_t i = 0; i < np; i++) {
            const NullableString *ns = nullable ? h->nullable_params[i]->value : NULL;
            kv[i].key = nullable ? h->nullable_params[i]->key : h->params[i]->key;
            kv[i].value = !nullable ? h->params[i]->value
                          : ns && ns->string_case == NULLABLE_STRING__STRING_VALUE ? ns->value
                                                                                  : NULL;
        }
        int rc = fnh__input_set_http(inv, req, kv, np);
        if (kv != stack)
            free(kv);
        return rc;
    }
    fnh_kv *kv = calloc(rq->n_trigger_metadata + 1, sizeof *kv);
    char *store = NULL;
    size_t nmeta = 0;
    if (!kv)
        return -ENOMEM;
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
        if (pass == 0 && !(store = malloc(ss.len ? ss.len : 1))) {
            free(kv);
            return -ENOMEM;
        }
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
    fnh__copy(inv->id, sizeof inv->id, rq->invocation_id);
    const char *tname = fn->trigger ? fn->trigger->name : NULL;
    const PB(RpcHttp) *http = NULL;
    fnh__http_req *req = NULL;
    int rc = 0, have_trigger = 0;
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
        if (!inv->inputs && !(inv->inputs = calloc(rq->n_input_data, sizeof *inv->inputs))) {
            rc = -ENOMEM;
            break;
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

/* An output's value as TypedData in field `field`. */
static void output_write(fnh__pbw *w, unsigned field, const fnh__invocation *inv,
                         const fnh__output *o)
{
    if (!http_output(inv, o)) {
        const char *data = o->body.data ? o->body.data : "";
        typed_write(w, field, typed_kind(data, o->body.len, o->content_type), data, o->body.len);
        return;
    }
    size_t td = fnh__pbw_mark(w), h = td;
    if (o->body.len)
        typed_write(w, F_HTTP_BODY, TD(BYTES), o->body.data, o->body.len);
    int has_ctype = 0;
    for (size_t i = 0; i < o->nheaders; i++)
        has_ctype |= strcasecmp(o->headers[i].key, "Content-Type") == 0;
    if (o->content_type && !has_ctype) {
        size_t e = fnh__pbw_mark(w);
        fnh__pbw_string(w, F_MAP_VALUE, o->content_type);
        map_key(w, F_HTTP_HEADERS, "Content-Type", e);
    }
    for (size_t i = o->nheaders; i-- > 0;) {
        size_t e = fnh__pbw_mark(w);
        fnh__pbw_string(w, F_MAP_VALUE, o->headers[i].value);
        map_key(w, F_HTTP_HEADERS, o->headers[i].key, e);
    }
    if (o->status) {
        char code[12];
        snprintf(code, sizeof code, "%d", o->status);
        fnh__pbw_string(w, F_HTTP_STATUS, code);
    }
    fnh__pbw_end(w, F_TD_HTTP, h);
    fnh__pbw_end(w, field, td);
}

static int encode_response(const char *id, const fnh__invocation *inv, int rc,
                           const char *message, fnh__buf *out)
{
    fnh__pbw *w = &tls_w;
    size_t msg = fnh__pbw_mark(w);
    const fnh__output *ret = NULL;
    for (size_t i = 0; !rc && inv && i < inv->noutputs; i++)
        if (inv->outputs[i].set && strcmp(inv->outputs[i].name, "$return") == 0)
            ret = &inv->outputs[i];
    if (ret)
        output_write(w, F_RS_RETURN_VALUE, inv, ret);
    size_t res = fnh__pbw_mark(w);
    if (rc) {
        char type[24];
        snprintf(type, sizeof type, "errno:%d", -rc);
        size_t ex = fnh__pbw_mark(w);
        fnh__pbw_string(w, F_EX_TYPE, type);
        fnh__pbw_string(w, F_EX_MESSAGE, message ? message : strerror(-rc));
        fnh__pbw_end(w, F_RESULT_EXCEPTION, ex);
    } else {
        fnh__pbw_varint(w, F_RESULT_STATUS, STATUS(Success));
    }
    fnh__pbw_end(w, F_RS_RESULT, res);
    for (size_t i = rc || !inv ? 0 : inv->noutputs; i-- > 0;) {
        const fnh__output *o = &inv->outputs[i];
        if (!o->set || o == ret)
            continue;
        size_t pb = fnh__pbw_mark(w);
        output_write(w, F_PB_DATA, inv, o);
        binding_end(w, F_RS_OUTPUT_DATA, o->name, pb);
    }
    fnh__pbw_string(w, F_RS_INVOCATION_ID, id);
    fnh__pbw_end(w, F_MSG_INVOCATION_RESPONSE, msg);
    return fnh__pbw_frame(w, out);
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
