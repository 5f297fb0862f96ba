/* admin.c: the admin API under /admin (open locally, as with func start):
 * host ping and status, function metadata and status, and the "invoke any
 * function" endpoint POST /admin/functions/{name} (202, runs in background). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dispatch.h"
#include "extension.h"
#include "host.h"
#include "http_router.h"
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
    if (fn->script_path) {
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
    if (fn->route) {
        snprintf(buf, sizeof buf, "%s/%s%s%s", h->base_url, h->app->route_prefix,
                 *h->app->route_prefix ? "/" : "", fn->route);
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

/* POST /admin/functions/{name} with {"input": ...}: 202, runs in background. */
static void invoke(fnh__host *h, fnh__http_exchange *x, fnh__function *fn, fnh__http_req *req)
{
    cJSON *doc = req->body.len ? cJSON_ParseWithLength(req->body.data, req->body.len) : NULL;
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        static const char msg[] = "{\"error\":\"the body must be a JSON object such as "
                                  "{\\\"input\\\": \\\"...\\\"} (send {} for no input)\"}";
        fnh__respond_simple(x, 400, "application/json; charset=utf-8", msg, sizeof msg - 1);
        return;
    }
    if (!fnh__function_ok(fn) || !fn->entry) {
        cJSON_Delete(doc);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", "the function is in error and cannot run");
        cJSON_AddItemToObject(o, "errors", errors_array(&fn->errors));
        respond_json(x, 409, o);
        return;
    }
    const cJSON *input = cJSON_GetObjectItem(doc, "input");
    char *text = NULL;
    const char *payload = "";
    const char *ctype = "text/plain; charset=utf-8";
    if (cJSON_IsString(input)) {
        payload = input->valuestring;
    } else if (input && !cJSON_IsNull(input)) {
        text = cJSON_PrintUnformatted(input);
        payload = text ? text : "";
        ctype = "application/json";
    }
    fnh__invoke_with_payload(h, fn, payload, strlen(payload), ctype, FNH__REASON_HOST_API);
    free(text);
    cJSON_Delete(doc);
    fnh__respond_simple(x, 202, NULL, NULL, 0);
}

int fnh__admin_handle(fnh__host *h, fnh__http_exchange *x, fnh__http_req *req)
{
    const char *p = req->path;
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
            invoke(h, x, fn, req);
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
