/* admin_invoke.c: POST /admin/functions/{name}: the "input" of the body
 * becomes the trigger's value through the trigger's manual run; 202 at once
 * (Azure's behaviour), or with ?wait=true a 200 once the run ended, with
 * its status, duration, every output binding's value (an HTTP function's
 * response included) and the log lines of that invocation. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin_internal.h"
#include "extension.h"
#include "http_binding.h"
#include "invocation.h"
#include "log.h"
#include "util.h"

/* Appends the decoded JSON string literal [p, end) (quotes included) to b,
 * every byte of it: cJSON ends its strings at a "\u0000". The literal is
 * valid JSON (cJSON accepted it). 0 or -ENOMEM. */
static int json_unquote(const char *p, const char *end, fnh__buf *b)
{
    for (p++, end--; p < end; p++) {
        char ch = *p;
        if (ch == '\\' && p + 1 < end) {
            ch = *++p;
            if (ch == 'u' && p + 4 < end) {
                char hex[5] = {p[1], p[2], p[3], p[4], 0};
                unsigned long cp = strtoul(hex, NULL, 16);
                p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && p + 6 < end && p[1] == '\\' && p[2] == 'u') {
                    char lo[5] = {p[3], p[4], p[5], p[6], 0};
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (strtoul(lo, NULL, 16) - 0xDC00);
                    p += 6;
                }
                char u[4];
                size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
                static const unsigned char lead[] = {0, 0, 0xC0, 0xE0, 0xF0};
                for (size_t i = n - 1; i > 0; i--, cp >>= 6)
                    u[i] = (char)(0x80 | (cp & 0x3F));
                u[0] = (char)(lead[n] | cp);
                if (fnh__buf_append(b, u, n))
                    return -ENOMEM;
                continue;
            }
            ch = ch == 'b' ? '\b' : ch == 'f' ? '\f' : ch == 'n' ? '\n' : ch == 'r' ? '\r'
                 : ch == 't' ? '\t' : ch;
        }
        if (fnh__buf_append(b, &ch, 1))
            return -ENOMEM;
    }
    return 0;
}

/* Past what cJSON takes for whitespace (any byte up to ' '). */
static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (unsigned char)*p <= ' ')
        p++;
    return p;
}

/* The invocation input of an admin invoke body (a JSON object cJSON
 * accepted): the first top-level member named "input" (any case, as
 * cJSON_GetObjectItem finds it). A string gives its bytes, "\u0000"
 * included; another value its JSON text as sent; null or no member nothing.
 * Sets *json for a non-string value. 0 or -ENOMEM. */
static int invoke_input(const fnh__buf *body, fnh__buf *out, int *json)
{
    const char *end = body->data + body->len, *vend;
    const char *p = skip_ws(body->data, end) + 1; /* past '{' */
    *json = 0;
    while (p < end) {
        cJSON *key = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &vend, 0);
        int is_key = cJSON_IsString(key); /* not at the '}' of an empty object */
        int found = is_key && strcasecmp(key->valuestring, "input") == 0;
        cJSON_Delete(key);
        if (!is_key)
            return 0;
        p = skip_ws(vend, end);
        if (p == end || *p != ':')
            return 0;
        p = skip_ws(p + 1, end);
        cJSON *v = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &vend, 0);
        int ok = v != NULL, str = cJSON_IsString(v), null = cJSON_IsNull(v);
        cJSON_Delete(v);
        if (!ok || (found && null))
            return 0;
        if (found) {
            *json = !str;
            return str ? json_unquote(p, vend, out) : fnh__buf_append(out, p, (size_t)(vend - p));
        }
        p = skip_ws(vend, end);
        if (p == end || *p != ',')
            return 0;
        p++;
    }
    return 0;
}

/* ---- the result of a synchronous run ------------------------------------- */

/* 1 when [p, p+n) is UTF-8 without NUL bytes (it can be a JSON string). */
static int utf8_text(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!c || !len || i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        i += len;
    }
    return 1;
}

static char *base64(const unsigned char *p, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    for (size_t i = 0; out && i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? b64[v & 63] : '=';
    }
    if (out)
        *o = '\0';
    return out;
}

/* A value as JSON: parsed when its content type is JSON, a string when it
 * is text, else {"base64": "..."}. */
static cJSON *value_json(const char *data, size_t len, const char *ctype)
{
    if (!data)
        return cJSON_CreateNull();
    if (ctype && strcasestr(ctype, "json")) {
        cJSON *j = cJSON_ParseWithLength(data, len);
        if (j)
            return j;
    }
    if (utf8_text((const unsigned char *)data, len)) {
        char *s = fnh__strndup(data, len);
        cJSON *j = s ? cJSON_CreateString(s) : cJSON_CreateNull();
        free(s);
        return j;
    }
    char *b = base64((const unsigned char *)data, len);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "base64", b ? b : "");
    free(b);
    return o;
}

/* An "http" output as the response it makes: statusCode, headers, body. */
static cJSON *http_json(const fnh__output *o)
{
    cJSON *r = cJSON_CreateObject();
    int status = !o || !o->set ? 204 : o->status < 0 ? 500 : o->status ? o->status : 200;
    cJSON_AddNumberToObject(r, "statusCode", status);
    cJSON *hs = cJSON_AddObjectToObject(r, "headers");
    if (!o || !o->set || o->status < 0) /* no response set, or a refused status */
        return r;
    for (size_t i = 0; i < o->nheaders; i++)
        cJSON_AddStringToObject(hs, o->headers[i].key, o->headers[i].value);
    if (o->content_type)
        cJSON_AddStringToObject(hs, "Content-Type", o->content_type);
    cJSON_AddItemToObject(r, "body", value_json(o->body.data ? o->body.data : "", o->body.len,
                                                o->content_type));
    return r;
}

static int is_http_output(const fnh__function *fn, const fnh__output *o)
{
    for (size_t i = 0; i < fn->nbindings; i++)
        if (fn->bindings[i].name && strcasecmp(fn->bindings[i].name, o->name) == 0)
            return fn->bindings[i].type && strcasecmp(fn->bindings[i].type, "http") == 0;
    /* $return of an HTTP function is its response */
    return strcmp(o->name, "$return") == 0 && fnh__http_fn_of(fn) != NULL;
}

/* The response the HTTP trigger would have sent for inv (as
 * http_trigger.c's completion builds it). */
static cJSON *http_response_json(fnh__invocation *inv, const fnh__http_fn *hf)
{
    if (fnh__invocation_status(inv) != 0) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "statusCode", 500);
        cJSON_AddObjectToObject(r, "headers");
        return r;
    }
    fnh__output *o = hf->out ? fnh__invocation_output(inv, hf->out->name) : NULL;
    if (!o || !o->set)
        o = fnh__invocation_output(inv, "$return");
    return http_json(o);
}

static const char *failure_text(const fnh__invocation *inv, int status)
{
    if (inv->timed_out)
        return "The function timed out.";
    if (status == -ECANCELED)
        return "The host is shutting down; the invocation was cancelled before it started.";
    return strerror(status < 0 ? -status : EIO);
}

static cJSON *result_json(fnh__invocation *inv)
{
    int status = fnh__invocation_status(inv);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", inv->id);
    cJSON_AddStringToObject(o, "functionName", inv->fn->name);
    cJSON_AddStringToObject(o, "status", status == 0 ? "succeeded" : "failed");
    if (status)
        cJSON_AddStringToObject(o, "error", failure_text(inv, status));
    uint64_t now = fnh__now_ns();
    cJSON_AddNumberToObject(o, "duration",
                            (double)(now > inv->start_ns ? (now - inv->start_ns) / 1000000u : 0));
    cJSON *outs = cJSON_AddObjectToObject(o, "outputs");
    for (size_t i = 0; !inv->timed_out && i < inv->noutputs; i++) { /* timed out: not ours */
        const fnh__output *out = &inv->outputs[i];
        if (!out->set)
            continue;
        cJSON_AddItemToObject(outs, out->name,
                              is_http_output(inv->fn, out)
                                  ? http_json(out)
                                  : value_json(out->body.data ? out->body.data : "",
                                               out->body.len, out->content_type));
    }
    const fnh__http_fn *hf = fnh__http_fn_of(inv->fn);
    if (hf)
        cJSON_AddItemToObject(o, "response", http_response_json(inv, hf));
    fnh__buf lines = {0};
    fnh__buf_puts(&lines, "[");
    if (inv->tee)
        fnh__log_tee_take(inv->tee, &lines);
    fnh__buf_puts(&lines, "]");
    cJSON *logs = lines.data ? cJSON_ParseWithLength(lines.data, lines.len) : NULL;
    fnh__buf_free(&lines);
    cJSON_AddItemToObject(o, "logs", logs ? logs : cJSON_CreateArray());
    return o;
}

/* ---- running it -------------------------------------------------------- */

typedef struct sync_run {
    fnh__inv_watch w; /* first: the watch is the run */
    fnh__http_exchange *x;
    int in_call;  /* the trigger's manual run is still on the stack */
    int answered;
} sync_run;

static void sync_done(fnh__inv_watch *w, fnh__invocation *inv)
{
    sync_run *r = (sync_run *)w;
    if (inv)
        fnh__admin_respond_json(r->x, 200, result_json(inv));
    else
        fnh__admin_respond_error(r->x, 503, "the invocation did not run (the host is stopping "
                                            "or out of memory)");
    r->answered = 1;
    if (!r->in_call)
        free(r);
}

/* 1 when the query asks to wait: wait=true (or 1). */
static int wants_wait(fnh__http_req *req)
{
    fnh__http_req_parse_query(req);
    for (size_t i = 0; i < req->nq; i++)
        if (strcasecmp(req->qparams[i].key, "wait") == 0)
            return fnh__truthy(req->qparams[i].value);
    return 0;
}

/* Starts fn's manual run with v; with r, r watches it. 0 or -errno. */
static int start_run(fnh__function *fn, const fnh_value *v, sync_run *r, int *unwatched)
{
    *unwatched = 0;
    if (!r)
        return fnh__ext_invoke(fn, v);
    r->in_call = 1;
    fnh__invocation_watch_arm(&r->w);
    int rc = fnh__ext_invoke(fn, v);
    /* nothing took the watch: the trigger started the run some other way */
    *unwatched = fnh__invocation_watch_take() != NULL;
    r->in_call = 0;
    return rc;
}

void fnh__admin_invoke(fnh__host *h, fnh__http_exchange *x, fnh__function *fn,
                       fnh__http_req *req)
{
    (void)h;
    cJSON *doc = req->body.len ? cJSON_ParseWithLength(req->body.data, req->body.len) : NULL;
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        static const char msg[] = "{\"error\":\"the body must be a JSON object such as "
                                  "{\\\"input\\\": \\\"...\\\"} (send {} for no input)\"}";
        fnh__http_respond_simple(x, 400, "application/json; charset=utf-8", msg, sizeof msg - 1);
        return;
    }
    cJSON_Delete(doc);
    if (!fnh__function_ok(fn) || !fn->runner) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", "the function is in error and cannot run");
        cJSON_AddItemToObject(o, "errors", fnh__admin_errors_array(&fn->errors));
        fnh__admin_respond_json(x, 409, o);
        return;
    }
    fnh__buf input = {0};
    int json;
    sync_run *r = wants_wait(req) ? calloc(1, sizeof *r) : NULL;
    if (invoke_input(&req->body, &input, &json) < 0 || (wants_wait(req) && !r)) {
        fnh__buf_free(&input);
        free(r);
        fnh__http_respond_simple(x, 500, NULL, NULL, 0);
        return;
    }
    if (r) {
        r->w.done = sync_done;
        r->x = x;
    }
    fnh_value v = {input.data ? input.data : "", input.len,
                   json ? "application/json" : "text/plain; charset=utf-8"};
    int unwatched;
    int rc = start_run(fn, &v, r, &unwatched);
    fnh__buf_free(&input);
    if (r && r->answered) { /* it ran, or was dropped, and was answered on the way */
        free(r);
        return;
    }
    if (r && !unwatched)
        return; /* an invocation or event holds the watch: sync_done answers */
    free(r);
    if (rc) /* told only when the invocation really started */
        fnh__admin_respond_error(x, rc == -ENOMEM || rc == -EAGAIN ? 503 : 500,
                                 rc == -ENOENT ? "the function's trigger is not running"
                                               : strerror(-rc));
    else
        fnh__http_respond_simple(x, 202, NULL, NULL, 0);
}
