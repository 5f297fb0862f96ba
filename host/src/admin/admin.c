/* admin.c: the admin API under /admin (open locally, as with func start):
 * host ping and status, function metadata and status, and the "invoke any
 * function" endpoint POST /admin/functions/{name} (202, runs in background). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin.h"
#include "dispatch.h"
#include "extension.h"
#include "http_binding.h"
#include "json.h"
#include "util.h"

static void respond_json(fnh__http_exchange *x, int status, cJSON *doc)
{
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    fnh__respond_simple(x, status, "application/json; charset=utf-8", s ? s : "null",
                        s ? strlen(s) : 4);
    free(s);
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}

static cJSON *errors_array(const fnh__strlist *l)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < l->len; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(l->items[i]));
    return a;
}

static cJSON *function_metadata(fnh__host *h, fnh__function *fn)
{
    cJSON *o = cJSON_CreateObject();
    char buf[1024];
    cJSON_AddStringToObject(o, "name", fn->name);
    snprintf(buf, sizeof buf, "%s/admin/vfs/%s/", h->base_url, fn->name);
    cJSON_AddStringToObject(o, "script_root_path_href", buf);
    if (cJSON_IsString(cJSON_GetObjectItem(fn->config, "scriptFile"))) {
        const char *sf = cJSON_GetStringValue(cJSON_GetObjectItem(fn->config, "scriptFile"));
        snprintf(buf, sizeof buf, "%s/admin/vfs/%s/%s", h->base_url, fn->name, sf ? sf : "");
        cJSON_AddStringToObject(o, "script_href", buf);
    } else {
        cJSON_AddNullToObject(o, "script_href");
    }
    snprintf(buf, sizeof buf, "%s/admin/vfs/%s/function.json", h->base_url, fn->name);
    cJSON_AddStringToObject(o, "config_href", buf);
    cJSON_AddNullToObject(o, "test_data_href");
    snprintf(buf, sizeof buf, "%s/admin/functions/%s", h->base_url, fn->name);
    cJSON_AddStringToObject(o, "href", buf);
    const fnh__http_fn *hf = fnh__http_fn_of(fn);
    if (hf) {
        const char *prefix = fnh__http_route_prefix(h->app);
        snprintf(buf, sizeof buf, "%s/%s%s%s", h->base_url, prefix, *prefix ? "/" : "",
                 hf->route);
        for (char *p = buf; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        cJSON_AddStringToObject(o, "invoke_url_template", buf);
    } else {
        cJSON_AddNullToObject(o, "invoke_url_template");
    }
    cJSON_AddStringToObject(o, "language", "native");
    cJSON_AddStringToObject(o, "trigger", fnh__function_trigger_type(fn));
    cJSON_AddItemToObject(o, "config",
                          fn->config ? cJSON_Duplicate(fn->config, 1) : cJSON_CreateObject());
    cJSON_AddNullToObject(o, "files");
    cJSON_AddNullToObject(o, "test_data");
    cJSON_AddBoolToObject(o, "isDisabled", fn->disabled);
    cJSON_AddBoolToObject(o, "isDirect", 0);
    cJSON_AddBoolToObject(o, "isProxy", 0);
    cJSON_AddItemToObject(o, "errors", errors_array(&fn->errors));
    return o;
}

static void host_status(fnh__host *h, fnh__http_exchange *x)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", h->app->host_id ? h->app->host_id : "");
    cJSON_AddStringToObject(o, "state", h->state);
    cJSON_AddStringToObject(o, "version", FNH_VERSION);
    cJSON_AddStringToObject(o, "versionDetails", "fnhost " FNH_VERSION);
    cJSON_AddNumberToObject(o, "processUptime",
                            (double)((fnh__now_ns() - h->start_ns) / 1000000u));
    cJSON_AddNumberToObject(o, "processId", (double)getpid());
    cJSON_AddNumberToObject(o, "rssBytes", (double)rss_bytes());
    cJSON_AddNumberToObject(o, "inflightInvocations", (double)fnh__dispatch_inflight());
    fnh__buf eb = {0};
    fnh__ext_status_json(&eb);
    cJSON *exts = cJSON_Parse(eb.data ? eb.data : "[]");
    fnh__buf_free(&eb);
    cJSON_AddItemToObject(o, "extensions", exts ? exts : cJSON_CreateArray());
    size_t nerr = 0;
    for (size_t i = 0; i < h->app->nfunctions; i++)
        nerr += h->app->functions[i]->errors.len;
    if (h->app->errors.len || nerr) {
        cJSON *errs = errors_array(&h->app->errors);
        for (size_t i = 0; i < h->app->nfunctions; i++) {
            const fnh__function *fn = h->app->functions[i];
            for (size_t k = 0; k < fn->errors.len; k++)
                cJSON_AddItemToArray(errs, cJSON_CreateString(fn->errors.items[k]));
        }
        cJSON_AddItemToObject(o, "errors", errs);
    }
    respond_json(x, 200, o);
}

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

/* POST /admin/functions/{name} with {"input": ...}: 202, runs in background. */
static void invoke(fnh__http_exchange *x, fnh__function *fn, fnh__http_req *req)
{
    cJSON *doc = req->body.len ? cJSON_ParseWithLength(req->body.data, req->body.len) : NULL;
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        static const char msg[] = "{\"error\":\"the body must be a JSON object such as "
                                  "{\\\"input\\\": \\\"...\\\"} (send {} for no input)\"}";
        fnh__respond_simple(x, 400, "application/json; charset=utf-8", msg, sizeof msg - 1);
        return;
    }
    if (!fnh__function_ok(fn) || !fn->runner) {
        cJSON_Delete(doc);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", "the function is in error and cannot run");
        cJSON_AddItemToObject(o, "errors", errors_array(&fn->errors));
        respond_json(x, 409, o);
        return;
    }
    cJSON_Delete(doc);
    fnh__buf input = {0};
    int json;
    if (invoke_input(&req->body, &input, &json) < 0) {
        fnh__buf_free(&input);
        fnh__respond_simple(x, 500, NULL, NULL, 0);
        return;
    }
    fnh_value v = {input.data ? input.data : "", input.len,
                   json ? "application/json" : "text/plain; charset=utf-8"};
    int rc = fnh__ext_invoke(fn, &v);
    fnh__buf_free(&input);
    if (rc) { /* told only when the invocation really started */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", rc == -ENOENT ? "the function's trigger is not running"
                                                          : strerror(-rc));
        respond_json(x, rc == -ENOMEM || rc == -EAGAIN ? 503 : 500, o);
        return;
    }
    fnh__respond_simple(x, 202, NULL, NULL, 0);
}

int fnh__admin_handle(fnh__host *h, fnh__http_exchange *x, fnh__http_req *req)
{
    /* the path as sent, as function routes match it: "/%61dmin" is not here */
    const char *p = req->path_raw;
    if (strncasecmp(p, "/admin", 6) != 0 || (p[6] != '/' && p[6] != '\0'))
        return 0;
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        n--;
    char *path = fnh__strndup(p, n);
    int get = req->method & (FNH__M_GET | FNH__M_HEAD);
    int post = req->method == FNH__M_POST;
    if (!path) {
        fnh__respond_simple(x, 500, NULL, NULL, 0);
    } else if (strcasecmp(path, "/admin/host/ping") == 0 && (get || post)) {
        fnh_kv hh[] = {{"Cache-Control", "no-store, no-cache"}};
        fnh__http_response r = {.status = 200, .headers = hh, .nheaders = 1};
        fnh__http_respond(x, &r);
    } else if (strcasecmp(path, "/admin/host/status") == 0 && get) {
        host_status(h, x);
    } else if (strcasecmp(path, "/admin/functions") == 0 && get) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < h->app->nfunctions; i++)
            cJSON_AddItemToArray(a, function_metadata(h, h->app->functions[i]));
        respond_json(x, 200, a);
    } else if (strncasecmp(path, "/admin/functions/", 17) == 0) {
        char *name = path + 17;
        char *rest = strchr(name, '/');
        if (rest)
            *rest++ = '\0';
        fnh__function *fn = fnh__app_find(h->app, name);
        if (!fn) {
            fnh__respond_simple(x, 404, NULL, NULL, 0);
        } else if (!rest && get) {
            respond_json(x, 200, function_metadata(h, fn));
        } else if (!rest && post) {
            invoke(x, fn, req);
        } else if (rest && strcasecmp(rest, "status") == 0 && get) {
            cJSON *o = cJSON_CreateObject();
            if (fn->errors.len)
                cJSON_AddItemToObject(o, "errors", errors_array(&fn->errors));
            respond_json(x, 200, o);
        } else {
            fnh__respond_simple(x, 404, NULL, NULL, 0);
        }
    } else {
        fnh__respond_simple(x, 404, NULL, NULL, 0);
    }
    free(path);
    fnh__http_req_free(req);
    return 1;
}
