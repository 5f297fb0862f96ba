/* custom_payload.c: Azure's custom-handler payloads, as the real host's
 * ScriptInvocationContextExtensions, HttpRequestExtensions and
 * HttpScriptInvocationResultExtensions build and read them: the request
 * JSON written straight into a buffer, the answer read with cJSON, and the
 * forwarding mode's request and response copied across as they are. */
#include "custom_payload.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "log.h"

#ifndef FNH_VERSION
#define FNH_VERSION "0.0.0"
#endif

#define USER_AGENT "Azure-Functions-Host/" FNH_VERSION

/* ---- small pieces ----------------------------------------------------------- */

static int b64(fnh__buf *b, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (fnh__buf_reserve(b, (n + 2) / 3 * 4 + 2))
        return -ENOMEM;
    char *o = b->data + b->len;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* Azure sends these bodies as base64 (IsMediaTypeOctetOrMultipart). */
static int is_binary_type(const char *ct)
{
    return ct && (strncasecmp(ct, "application/octet-stream", 24) == 0 ||
                  strncasecmp(ct, "multipart/", 10) == 0);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || len > n || (len == 2 && c < 0xc2) || (len == 4 && c > 0xf4))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (len == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
        return 0; /* overlong, or a surrogate */
    if (len == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
        return 0;
    return len;
}

/* Text as a JSON string, each byte that is not UTF-8 replaced by U+FFFD (as
 * .NET's ReadAsStringAsync decodes it), so the handler always gets JSON. */
static int put_text(fnh__buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n && utf8_len(u + i, n - i))
        i += utf8_len(u + i, n - i);
    if (i == n)
        return fnh__json_escape(b, s, n);
    fnh__buf clean = {0};
    int rc = 0;
    for (i = 0; i < n && !rc;) {
        size_t k = utf8_len(u + i, n - i);
        rc = k ? fnh__buf_append(&clean, s + i, k) : fnh__buf_puts(&clean, "\xEF\xBF\xBD");
        i += k ? k : 1;
    }
    if (!rc)
        rc = fnh__json_escape(b, clean.data ? clean.data : "", clean.len);
    fnh__buf_free(&clean);
    return rc;
}

/* 1 when s (n bytes) is one JSON object or array. */
static int is_json_container(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (i == n || (s[i] != '{' && s[i] != '['))
        return 0;
    cJSON *j = cJSON_ParseWithLength(s, n);
    int ok = j != NULL;
    cJSON_Delete(j);
    return ok;
}

/* A value as Azure puts it in Data: JSON objects and arrays as they are,
 * bytes as base64, strings JSON-encoded once more (Azure's
 * JsonConvert.SerializeObject of a string). */
static int put_value(fnh__buf *b, const char *data, size_t len, const char *ct)
{
    if (is_json_container(data, len))
        return fnh__buf_append(b, data, len);
    if (!ct || is_binary_type(ct)) {
        if (fnh__buf_puts(b, "\""))
            return -ENOMEM;
        if (b64(b, (const unsigned char *)data, len))
            return -ENOMEM;
        return fnh__buf_puts(b, "\"");
    }
    fnh__buf inner = {0};
    int rc = put_text(&inner, data, len);
    if (!rc)
        rc = fnh__json_escape(b, inner.data, inner.len);
    fnh__buf_free(&inner);
    return rc;
}

/* 2026-01-31T23:59:00.123Z and the like: a DateTime in Azure's binding data. */
static int looks_like_time(const char *s)
{
    return strlen(s) >= 19 && isdigit((unsigned char)s[0]) && s[4] == '-' && s[7] == '-' &&
           (s[10] == 'T' || s[10] == ' ') && s[13] == ':' && s[16] == ':';
}

static int is_integer(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* A metadata value as Azure serialises binding data: numbers and times as
 * plain strings, other strings JSON-encoded once more. */
static int put_meta_value(fnh__buf *b, const char *v)
{
    if (looks_like_time(v) || is_integer(v))
        return put_text(b, v, strlen(v));
    return put_value(b, v, strlen(v), "text/plain");
}

static int put_key(fnh__buf *b, int *first, const char *k)
{
    if (!*first && fnh__buf_puts(b, ","))
        return -ENOMEM;
    *first = 0;
    if (put_text(b, k, strlen(k)) || fnh__buf_puts(b, ":"))
        return -ENOMEM;
    return 0;
}

static int put_str(fnh__buf *b, int *first, const char *k, const char *v)
{
    if (put_key(b, first, k))
        return -ENOMEM;
    return v ? put_text(b, v, strlen(v)) : fnh__buf_puts(b, "null");
}

static int put_sys(fnh__buf *b, int *first, const fnh__invocation *inv)
{
    char now[32], guid[37];
    fnh__iso_utc(fnh__wall_ms(), now);
    fnh__uuid(guid);
    if (put_key(b, first, "sys") || fnh__buf_puts(b, "{"))
        return -ENOMEM;
    int f = 1;
    if (put_str(b, &f, "MethodName", inv->fn->name) || put_str(b, &f, "UtcNow", now) ||
        put_str(b, &f, "RandGuid", guid))
        return -ENOMEM;
    return fnh__buf_puts(b, "}");
}

/* "RetryContext" under a retry policy, as Azure sends it: the tries before
 * this one, the policy's maximum and the previous try's failure. */
static int put_retry_context(fnh__buf *b, int *first, const fnh__invocation *inv)
{
    if (!inv->has_retry)
        return 0;
    int f = 1;
    if (put_key(b, first, "RetryContext") ||
        fnh__buf_printf(b, "{\"RetryCount\":%d,\"MaxRetryCount\":%d", inv->retry_count,
                        inv->retry_max) < 0)
        return -ENOMEM;
    f = 0;
    if (put_str(b, &f, "Exception", inv->retry_exception))
        return -ENOMEM;
    return fnh__buf_puts(b, "}");
}

/* ---- the request: HTTP trigger --------------------------------------------- */

/* "Query": {name: value}, the request's query parameters. */
static int put_query(fnh__buf *b, int *first, const fnh__http_req *r)
{
    int rc = put_key(b, first, "Query") | fnh__buf_puts(b, "{"), qf = 1;
    for (size_t i = 0; i < r->nq; i++)
        rc |= put_str(b, &qf, r->qparams[i].key, r->qparams[i].value);
    return rc | fnh__buf_puts(b, "}");
}

/* 1 when header i is the first of its name (later ones are written with it). */
static int first_of_name(const fnh__http_req *r, size_t i)
{
    for (size_t k = 0; k < i; k++)
        if (strcasecmp(r->headers[k].key, r->headers[i].key) == 0)
            return 0;
    return 1;
}

static const char *header_of(const fnh__http_req *r, const char *name)
{
    return fnh__http_req_header(r, name);
}

/* The request object of Data for an HTTP trigger (GetRequestAsJObject). */
static int put_http_request(fnh__buf *b, fnh__invocation *inv)
{
    fnh__http_req *r = inv->in.http;
    fnh__http_req_parse_query(r);
    const char *host = header_of(r, "Host");
    int f = 1, rc = 0;
    rc |= fnh__buf_puts(b, "{");
    rc |= put_key(b, &f, "Url");
    fnh__buf url = {0};
    rc |= fnh__buf_printf(&url, "http://%s%s%s%s", host ? host : "localhost", r->path_raw,
                          r->query[0] ? "?" : "", r->query);
    rc |= fnh__json_escape(b, url.data ? url.data : "", url.len);
    fnh__buf_free(&url);
    rc |= put_str(b, &f, "Method", r->method_name);
    rc |= put_query(b, &f, r);
    /* Headers: name -> [values], one array per name as ASP.NET keeps them */
    rc |= put_key(b, &f, "Headers");
    rc |= fnh__buf_puts(b, "{");
    int hf = 1;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!first_of_name(r, i))
            continue; /* already written with the first of its name */
        rc |= put_key(b, &hf, r->headers[i].key);
        rc |= fnh__buf_puts(b, "[");
        int vf = 1;
        for (size_t j = i; j < r->nheaders; j++) {
            if (strcasecmp(r->headers[j].key, r->headers[i].key) != 0)
                continue;
            rc |= fnh__buf_puts(b, vf ? "" : ",");
            vf = 0;
            rc |= put_text(b, r->headers[j].value, strlen(r->headers[j].value));
        }
        rc |= fnh__buf_puts(b, "]");
    }
    rc |= fnh__buf_puts(b, "}");
    rc |= put_key(b, &f, "Params");
    rc |= fnh__buf_puts(b, "{");
    int pf = 1;
    for (size_t i = 0; i < inv->in.nparams; i++)
        rc |= put_str(b, &pf, inv->in.params[i].key, inv->in.params[i].value);
    rc |= fnh__buf_puts(b, "}");
    /* locally every caller is an admin (Core Tools' development mode) */
    rc |= put_key(b, &f, "Identities");
    rc |= fnh__buf_puts(
        b, "[{\"AuthenticationType\":\"WebJobsAuthLevel\",\"IsAuthenticated\":true,"
           "\"Actor\":null,\"BootstrapContext\":null,\"Claims\":[{\"Issuer\":\"LOCAL AUTHORITY\","
           "\"OriginalIssuer\":\"LOCAL AUTHORITY\",\"Properties\":{},\"Subject\":null,"
           "\"Type\":\"http://schemas.microsoft.com/2017/07/functions/claims/authlevel\","
           "\"Value\":\"Admin\",\"ValueType\":\"http://www.w3.org/2001/XMLSchema#string\"}],"
           "\"Label\":null,\"Name\":null,"
           "\"NameClaimType\":\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name\","
           "\"RoleClaimType\":\"http://schemas.microsoft.com/ws/2008/06/identity/claims/role\"}]");
    if (r->body.len) {
        rc |= put_key(b, &f, "Body");
        if (is_binary_type(header_of(r, "Content-Type"))) {
            rc |= fnh__buf_puts(b, "\"");
            rc |= b64(b, (const unsigned char *)r->body.data, r->body.len);
            rc |= fnh__buf_puts(b, "\"");
        } else {
            rc |= put_text(b, r->body.data, r->body.len);
        }
    }
    rc |= fnh__buf_puts(b, "}");
    return rc ? -ENOMEM : 0;
}

/* Metadata of an HTTP trigger: Query, Headers (one string per name), the
 * route values, sys. */
static int put_http_metadata(fnh__buf *b, fnh__invocation *inv)
{
    fnh__http_req *r = inv->in.http;
    int f = 1, rc = 0;
    rc |= put_query(b, &f, r);
    rc |= put_key(b, &f, "Headers");
    rc |= fnh__buf_puts(b, "{");
    int hf = 1;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!first_of_name(r, i))
            continue;
        rc |= put_key(b, &hf, r->headers[i].key);
        fnh__buf joined = {0};
        for (size_t j = i; j < r->nheaders; j++)
            if (strcasecmp(r->headers[j].key, r->headers[i].key) == 0) {
                rc |= fnh__buf_puts(&joined, joined.len ? "," : "");
                rc |= fnh__buf_puts(&joined, r->headers[j].value);
            }
        rc |= put_text(b, joined.data ? joined.data : "", joined.len);
        fnh__buf_free(&joined);
    }
    rc |= fnh__buf_puts(b, "}");
    for (size_t i = 0; i < inv->in.nparams; i++)
        rc |= put_str(b, &f, inv->in.params[i].key, inv->in.params[i].value);
    rc |= put_retry_context(b, &f, inv);
    rc |= put_sys(b, &f, inv);
    return rc ? -ENOMEM : 0;
}

/* ---- the request ---------------------------------------------------------------- */

static int ends_with_trigger(const char *k)
{
    size_t n = strlen(k);
    return n >= 7 && strcasecmp(k + n - 7, "trigger") == 0;
}

static int put_body(fnh__buf *b, fnh__invocation *inv)
{
    const fnh__function *fn = inv->fn;
    int rc = fnh__buf_puts(b, "{\"Data\":{");
    int f = 1;
    const char *tname = fn->trigger ? fn->trigger->name : "trigger";
    rc |= put_key(b, &f, tname);
    if (inv->in.http)
        rc |= put_http_request(b, inv);
    else
        rc |= put_value(b, inv->in.data, inv->in.len, inv->in.content_type);
    for (size_t i = 0; i < inv->ninputs; i++) {
        const fnh__input *in = &inv->inputs[i];
        rc |= put_key(b, &f, in->name);
        if (in->set)
            rc |= put_value(b, in->value.data ? in->value.data : "", in->value.len,
                            in->content_type);
        else
            rc |= fnh__buf_puts(b, "null");
    }
    rc |= fnh__buf_puts(b, "},\"Metadata\":{");
    if (inv->in.http) {
        rc |= put_http_metadata(b, inv);
    } else {
        int mf = 1;
        for (size_t i = 0; i < inv->in.nmeta; i++) {
            const fnh_kv *kv = &inv->in.meta[i];
            if (kv->key[0] == '$' || ends_with_trigger(kv->key) || !kv->value)
                continue;
            rc |= put_key(b, &mf, kv->key);
            rc |= put_meta_value(b, kv->value);
        }
        rc |= put_retry_context(b, &mf, inv);
        rc |= put_sys(b, &mf, inv);
    }
    rc |= fnh__buf_puts(b, "}}");
    return rc ? -ENOMEM : 0;
}

int fnh__chp_request(fnh__invocation *inv, int port, fnh__buf *out)
{
    fnh__buf body = {0};
    int rc = put_body(&body, inv);
    if (!rc)
        rc = fnh__buf_printf(out,
                             "POST /%s HTTP/1.1\r\n"
                             "Host: 127.0.0.1:%d\r\n"
                             "Content-Type: application/json; charset=utf-8\r\n"
                             "Content-Length: %zu\r\n"
                             "X-Azure-Functions-HostVersion: " FNH_VERSION "\r\n"
                             "X-Azure-Functions-InvocationId: %s\r\n"
                             "User-Agent: " USER_AGENT "\r\n\r\n",
                             inv->fn->name, port, body.len, inv->id);
    if (!rc)
        rc = fnh__buf_append(out, body.data, body.len);
    fnh__buf_free(&body);
    return rc ? -ENOMEM : 0;
}

/* ---- forwarding ------------------------------------------------------------------- */

int fnh__chp_forwardable(const fnh__function *fn)
{
    if (fn->nbindings != 2)
        return 0;
    int in = 0, out = 0;
    for (size_t i = 0; i < fn->nbindings; i++) {
        const fnh__binding *b = &fn->bindings[i];
        if (b->is_trigger && strcasecmp(b->type, "httpTrigger") == 0)
            in++;
        else if ((b->direction & FNH__DIR_OUT) && strcasecmp(b->type, "http") == 0)
            out++;
    }
    return in == 1 && out == 1;
}

/* Hop-by-hop headers and those the sender recomputes: never copied across.
 * Only names of the same length are compared. */
static int hop_by_hop(const char *name)
{
    static const struct {
        const char *name;
        size_t len;
    } names[] = {{"Connection", 10}, {"Keep-Alive", 10}, {"Transfer-Encoding", 17}, {"TE", 2},
                 {"Trailer", 7}, {"Upgrade", 7}, {"Proxy-Connection", 16},
                 {"Proxy-Authenticate", 18}, {"Proxy-Authorization", 19},
                 {"Content-Length", 14}};
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].len == len && fnh__name_eq(name, names[i].name))
            return 1;
    return 0;
}

/* Appends "name: value\r\n" to b. 0 or -ENOMEM. */
static int put_header_line(fnh__buf *b, const char *name, const char *value)
{
    return fnh__buf_puts(b, name) | fnh__buf_append(b, ": ", 2) | fnh__buf_puts(b, value) |
           fnh__buf_append(b, "\r\n", 2);
}

int fnh__chp_forward_request(fnh__invocation *inv, fnh__buf *out)
{
    fnh__http_req *r = inv->in.http;
    /* room for a typical head and the body at once */
    int rc = fnh__buf_reserve(out, 512 + r->body.len);
    rc |= fnh__buf_puts(out, r->method_name) | fnh__buf_append(out, " ", 1);
    rc |= fnh__buf_puts(out, r->target) | fnh__buf_puts(out, " HTTP/1.1\r\n");
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *k = r->headers[i].key;
        if (hop_by_hop(k) || fnh__name_eq(k, "User-Agent") ||
            strncasecmp(k, "X-Azure-Functions-", 18) == 0)
            continue;
        rc |= put_header_line(out, k, r->headers[i].value);
    }
    if (!header_of(r, "Host"))
        rc |= fnh__buf_puts(out, "Host: localhost\r\n");
    /* the caller's User-Agent is replaced by the host's, as Azure's ParseAdd does */
    rc |= fnh__buf_puts(out, "X-Azure-Functions-HostVersion: " FNH_VERSION "\r\n"
                             "X-Azure-Functions-InvocationId: ");
    rc |= fnh__buf_puts(out, inv->id);
    rc |= fnh__buf_puts(out, "\r\nUser-Agent: " USER_AGENT "\r\n");
    if (r->body.len || (r->method & (FNH__M_POST | FNH__M_PUT | FNH__M_PATCH)))
        rc |= fnh__buf_printf(out, "Content-Length: %zu\r\n", r->body.len);
    rc |= fnh__buf_puts(out, "\r\n");
    rc |= fnh__buf_append(out, r->body.data, r->body.len);
    return rc ? -ENOMEM : 0;
}

/* ---- the answer ------------------------------------------------------------------ */

static fnh_ctx *ctx_of(fnh__invocation *inv)
{
    return (fnh_ctx *)inv;
}

static void add_error(fnh__buf *err, const char *fmt, const char *a, const char *b)
{
    if (err->len)
        fnh__buf_puts(err, "; ");
    fnh__buf_printf(err, fmt, a, b);
}

/* A binding value as bytes: strings as they are, other JSON as JSON text. */
static int set_plain(fnh__invocation *inv, const char *name, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        fnh_value val = {v->valuestring, strlen(v->valuestring), "text/plain; charset=utf-8"};
        return inv->api->output(ctx_of(inv), name, &val);
    }
    char *text = cJSON_PrintUnformatted(v);
    if (!text)
        return -ENOMEM;
    fnh_value val = {text, strlen(text), "application/json"};
    int rc = inv->api->output(ctx_of(inv), name, &val);
    cJSON_free(text);
    return rc;
}

/* An http output: {statusCode|status, body, headers} (or that object as a
 * JSON string, which Azure also accepts). */
static int set_http(fnh__invocation *inv, const char *name, const cJSON *v, fnh__buf *err)
{
    cJSON *parsed = NULL;
    if (cJSON_IsString(v)) {
        parsed = cJSON_Parse(v->valuestring);
        v = parsed;
    }
    if (!cJSON_IsObject(v)) {
        cJSON_Delete(parsed);
        add_error(err, "output '%s': %s", name,
                  "Failed while trying to Deserialize to httpOutputBindingResponse. Output is "
                  "not in expected format");
        return -EINVAL;
    }
    const cJSON *st = cJSON_GetObjectItem(v, "statusCode");
    if (!st || cJSON_IsNull(st))
        st = cJSON_GetObjectItem(v, "status");
    const cJSON *body = cJSON_GetObjectItem(v, "body");
    const cJSON *headers = cJSON_GetObjectItem(v, "headers");
    const char *ctype = NULL;
    const cJSON *h;
    if (cJSON_IsObject(headers))
        cJSON_ArrayForEach(h, headers) if (strcasecmp(h->string, "Content-Type") == 0 &&
                                           cJSON_IsString(h)) ctype = h->valuestring;
    char *text = NULL;
    fnh_value val = {"", 0, ctype};
    if (cJSON_IsString(body)) {
        val.data = body->valuestring;
        val.len = strlen(body->valuestring);
    } else if (body && !cJSON_IsNull(body)) {
        text = cJSON_PrintUnformatted(body);
        val.data = text ? text : "";
        val.len = text ? strlen(text) : 0;
        if (!ctype)
            val.content_type = "application/json; charset=utf-8";
    }
    int rc = inv->api->output(ctx_of(inv), name, &val);
    cJSON_free(text);
    if (!rc && st && !cJSON_IsNull(st)) {
        char num[32];
        const char *s = num;
        if (cJSON_IsNumber(st))
            snprintf(num, sizeof num, "%d", (int)st->valuedouble);
        else if (cJSON_IsString(st))
            s = st->valuestring;
        else
            s = "?";
        if (inv->api->output_meta(ctx_of(inv), name, "status", s))
            add_error(err, "output '%s': status '%s' is not an HTTP status from 200 to 999", name,
                      s);
    }
    if (!rc && cJSON_IsObject(headers))
        cJSON_ArrayForEach(h, headers)
        {
            if (strcasecmp(h->string, "Content-Type") == 0 || hop_by_hop(h->string))
                continue;
            char *hv = cJSON_IsString(h) ? NULL : cJSON_PrintUnformatted(h);
            char key[300];
            snprintf(key, sizeof key, "headers.%s", h->string);
            if (inv->api->output_meta(ctx_of(inv), name, key, hv ? hv : h->valuestring))
                add_error(err, "output '%s': header '%s' cannot be sent", name, h->string);
            cJSON_free(hv);
        }
    cJSON_Delete(parsed);
    return rc;
}

static int set_output(fnh__invocation *inv, const fnh__binding *b, const cJSON *v, fnh__buf *err)
{
    if (!v || cJSON_IsNull(v))
        return 0;
    if (strcasecmp(b->type, "http") == 0)
        return set_http(inv, b->name, v, err);
    int rc = set_plain(inv, b->name, v);
    if (rc)
        add_error(err, "output '%s': %s", b->name, strerror(-rc));
    return rc;
}

/* A short, printable excerpt of a body for messages. */
static void excerpt(fnh__buf *err, const char *s, size_t n)
{
    size_t max = n > 300 ? 300 : n;
    for (size_t i = 0; i < max; i++) {
        char c = s[i];
        fnh__buf_append(err, (c >= 0x20 && c < 0x7f) ? &c : "?", 1);
    }
    if (n > max)
        fnh__buf_puts(err, "...");
}

void fnh__chp_apply(fnh__invocation *inv, const fnh__hc_response *res, char **error)
{
    *error = NULL;
    fnh__buf err = {0};
    const fnh__function *fn = inv->fn;
    if (res->status < 200 || res->status > 299) {
        fnh__buf_printf(&err, "Response status code does not indicate success: %d", res->status);
        if (res->len) {
            fnh__buf_puts(&err, ": ");
            excerpt(&err, res->body, res->len);
        }
        inv->rc = -EIO;
        *error = fnh__buf_take(&err);
        return;
    }
    cJSON *doc = cJSON_ParseWithLength(res->body, res->len);
    if (!cJSON_IsObject(doc)) {
        fnh__buf_printf(&err, "Invalid HttpResponseMessage: status %d, the body is not the JSON "
                              "object {\"Outputs\", \"Logs\", \"ReturnValue\"}: ",
                        res->status);
        excerpt(&err, res->body, res->len);
        cJSON_Delete(doc);
        inv->rc = -EIO;
        *error = fnh__buf_take(&err);
        return;
    }
    const cJSON *logs = cJSON_GetObjectItem(doc, "Logs");
    if (cJSON_IsArray(logs)) {
        char cat[192];
        snprintf(cat, sizeof cat, "Function.%s.User", fn->name);
        const cJSON *l;
        cJSON_ArrayForEach(l, logs)
        {
            if (!fnh__log_enabled(cat, FNH_LOG_INFO))
                break;
            if (cJSON_IsString(l)) {
                fnh__log_line(cat, FNH_LOG_INFO, l->valuestring, strlen(l->valuestring));
            } else if (!cJSON_IsNull(l)) {
                char *t = cJSON_PrintUnformatted(l);
                if (t)
                    fnh__log_line(cat, FNH_LOG_INFO, t, strlen(t));
                cJSON_free(t);
            }
        }
    }
    const cJSON *outputs = cJSON_GetObjectItem(doc, "Outputs");
    const fnh__binding *ret = NULL;
    for (size_t i = 0; i < fn->nbindings; i++) {
        const fnh__binding *b = &fn->bindings[i];
        if (!(b->direction & FNH__DIR_OUT))
            continue;
        if (strcmp(b->name, "$return") == 0) {
            ret = b;
            continue;
        }
        if (cJSON_IsObject(outputs))
            set_output(inv, b, cJSON_GetObjectItem(outputs, b->name), &err);
    }
    const cJSON *rv = cJSON_GetObjectItem(doc, "ReturnValue");
    if (ret && rv)
        set_output(inv, ret, rv, &err);
    cJSON_Delete(doc);
    inv->rc = err.len ? -EPROTO : 0;
    if (err.len)
        *error = fnh__buf_take(&err);
    fnh__buf_free(&err);
}

/* status (any int) as decimal text in st (at least 12 bytes); returns st. */
static const char *status_text(int status, char *st)
{
    char tmp[12];
    unsigned u = status < 0 ? 0u - (unsigned)status : (unsigned)status;
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10));
    char *o = st;
    if (status < 0)
        *o++ = '-';
    while (n)
        *o++ = tmp[--n];
    *o = '\0';
    return st;
}

void fnh__chp_apply_forwarded(fnh__invocation *inv, const fnh__hc_response *res, char **error)
{
    *error = NULL;
    const fnh__binding *out = NULL;
    for (size_t i = 0; i < inv->fn->nbindings && !out; i++)
        if (inv->fn->bindings[i].direction & FNH__DIR_OUT)
            out = &inv->fn->bindings[i];
    if (!out) {
        inv->rc = 0;
        return;
    }
    const char *ctype = NULL;
    for (size_t i = 0; i < res->nheaders; i++)
        if (fnh__name_eq(res->headers[i].key, "Content-Type"))
            ctype = res->headers[i].value;
    fnh_value v = {res->body, res->len, ctype};
    int rc = inv->api->output(ctx_of(inv), out->name, &v);
    char st[16];
    if (!rc)
        rc = inv->api->output_meta(ctx_of(inv), out->name, "status", status_text(res->status, st));
    char key[300] = "headers.";
    for (size_t i = 0; !rc && i < res->nheaders; i++) {
        const char *k = res->headers[i].key;
        if (hop_by_hop(k) || fnh__name_eq(k, "Content-Type") || fnh__name_eq(k, "Date") ||
            fnh__name_eq(k, "Server"))
            continue;
        size_t n = strlen(k);
        n = n < sizeof key - 9 ? n : sizeof key - 9; /* as snprintf would cut it */
        memcpy(key + 8, k, n);
        key[8 + n] = '\0';
        inv->api->output_meta(ctx_of(inv), out->name, key, res->headers[i].value);
    }
    if (rc && rc != -EINVAL) {
        inv->rc = rc;
        *error = fnh__asprintf("the custom handler's response could not be relayed: %s",
                               strerror(-rc));
        return;
    }
    inv->rc = 0; /* a refused status already answers 500 and says why */
}
