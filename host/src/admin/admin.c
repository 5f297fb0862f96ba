/* admin.c: the admin API under /admin (open locally, as with func start;
 * with --enable-auth every route but ping needs the master key): host ping,
 * status and restart, function metadata and status, and the routing to the
 * key API (admin_keys.c), the invoke endpoint (admin_invoke.c) and the
 * read-only file access of /admin/vfs (admin_vfs.c). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin.h"
#include "admin_internal.h"
#include "auth.h"
#include "dispatch.h"
#include "extension.h"
#include "http_binding.h"
#include "json.h"
#include "log.h"
#include "util.h"

static void (*g_restart)(void);

void fnh__admin_set_restart(void (*hook)(void))
{
    g_restart = hook;
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
    cJSON_AddItemToObject(o, "errors", fnh__admin_errors_array(&fn->errors));
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
        cJSON *errs = fnh__admin_errors_array(&h->app->errors);
        for (size_t i = 0; i < h->app->nfunctions; i++) {
            const fnh__function *fn = h->app->functions[i];
            for (size_t k = 0; k < fn->errors.len; k++)
                cJSON_AddItemToArray(errs, cJSON_CreateString(fn->errors.items[k]));
        }
        cJSON_AddItemToObject(o, "errors", errs);
    }
    fnh__admin_respond_json(x, 200, o);
}

/* POST /admin/host/restart: Azure's answer (the host's options), then the
 * hook reloads the app; 501 when no hook is installed (a host that does not
 * serve, such as a test binary). */
static void restart(fnh__host *h, fnh__http_exchange *x)
{
    if (!g_restart) {
        fnh__admin_respond_error(x, 501, "restarting the host is not available in this build; "
                                         "stop and start fnhost instead");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "isSelfHost", 1);
    cJSON_AddStringToObject(o, "scriptPath", h->app->root ? h->app->root : "");
    cJSON_AddStringToObject(o, "logPath", "");
    if (h->secrets)
        cJSON_AddStringToObject(o, "secretsPath", fnh__secrets_dir(h->secrets));
    fnh__admin_respond_json(x, 200, o);
    fnh__log("Host", FNH_LOG_INFO, "Restart requested through /admin/host/restart");
    g_restart();
}

/* 1 when rest is "keys" or "keys/{name}". */
static int is_keys_path(const char *rest)
{
    return strncasecmp(rest, "keys", 4) == 0 &&
           (!rest[4] || (rest[4] == '/' && rest[5] && !strchr(rest + 5, '/')));
}

/* The key API's routes: 1 when path was one (and was answered). */
static int keys_route(fnh__host *h, fnh__http_exchange *x, fnh__http_req *req, char *path)
{
    static const char *const scopes[] = {"keys", "functionkeys", "systemkeys"};
    if (strncasecmp(path, "/admin/host/", 12) == 0) {
        char *scope = path + 12, *name = strchr(scope, '/');
        if (name)
            *name++ = '\0';
        for (size_t i = 0; i < 3; i++)
            if (strcasecmp(scope, scopes[i]) == 0 && (!name || !strchr(name, '/'))) {
                fnh__admin_keys(h, x, req, NULL, scope, name);
                return 1;
            }
        if (name)
            name[-1] = '/';
        return 0;
    }
    return 0;
}

static int admin_route(fnh__host *h, fnh__http_exchange *x, fnh__http_req *req);

int fnh__admin_handle(fnh__host *h, fnh__http_exchange *x, fnh__http_req *req)
{
    /* the path as sent, as function routes match it: "/%61dmin" is not here */
    const char *p = req->path_raw;
    if ((p[1] | 0x20) != 'a' || (p[2] | 0x20) != 'd') /* most paths stop here */
        return 0;
    return admin_route(h, x, req);
}

/* Answers a request whose path is /admin or under it and returns 1; 0 for
 * another path. Not inlined: every request passes the test above, and only
 * these need the frame of all the routes. */
static __attribute__((noinline)) int admin_route(fnh__host *h, fnh__http_exchange *x,
                                                 fnh__http_req *req)
{
    const char *p = req->path_raw;
    if (strncasecmp(p, "/admin", 6) != 0 || (p[6] != '/' && p[6] != '\0'))
        return 0;
    size_t n = req->path_raw_len;
    while (n > 1 && p[n - 1] == '/')
        n--;
    char *path = fnh__strndup(p, n);
    int get = req->method & (FNH__M_GET | FNH__M_HEAD);
    int post = req->method == FNH__M_POST;
    if (!path) {
        fnh__http_respond_simple(x, 500, NULL, NULL, 0);
    } else if (strcasecmp(path, "/admin/host/ping") == 0 && (get || post)) {
        fnh_kv hh[] = {{"Cache-Control", "no-store, no-cache"}};
        fnh__http_response r = {.status = 200, .headers = hh, .nheaders = 1};
        fnh__http_respond(x, &r);
    } else if (h->auth && (!h->secrets || fnh__auth_request_level(h->secrets, NULL, req) !=
                                              FNH__AUTH_ADMIN)) {
        /* every other route needs the master key */
        fnh__http_respond_simple(x, 401, NULL, NULL, 0);
    } else if (strcasecmp(path, "/admin/host/status") == 0 && get) {
        host_status(h, x);
    } else if (strcasecmp(path, "/admin/host/restart") == 0 && post) {
        restart(h, x);
    } else if (strncasecmp(path, "/admin/vfs/", 11) == 0 || strcasecmp(path, "/admin/vfs") == 0) {
        fnh__admin_vfs(h, x, req, path[10] ? path + 11 : "");
    } else if (keys_route(h, x, req, path)) {
        /* answered */
    } else if (strcasecmp(path, "/admin/functions") == 0 && get) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < h->app->nfunctions; i++)
            cJSON_AddItemToArray(a, function_metadata(h, h->app->functions[i]));
        fnh__admin_respond_json(x, 200, a);
    } else if (strncasecmp(path, "/admin/functions/", 17) == 0) {
        char *name = path + 17;
        char *rest = strchr(name, '/');
        if (rest)
            *rest++ = '\0';
        fnh__function *fn = fnh__app_find(h->app, name);
        if (!fn) {
            fnh__http_respond_simple(x, 404, NULL, NULL, 0);
        } else if (!rest && get) {
            fnh__admin_respond_json(x, 200, function_metadata(h, fn));
        } else if (!rest && post) {
            fnh__admin_invoke(h, x, fn, req);
        } else if (rest && is_keys_path(rest)) {
            fnh__admin_keys(h, x, req, fn->name, "keys", rest[4] ? rest + 5 : NULL);
        } else if (rest && strcasecmp(rest, "status") == 0 && get) {
            cJSON *o = cJSON_CreateObject();
            if (fn->errors.len)
                cJSON_AddItemToObject(o, "errors", fnh__admin_errors_array(&fn->errors));
            fnh__admin_respond_json(x, 200, o);
        } else {
            fnh__http_respond_simple(x, 404, NULL, NULL, 0);
        }
    } else {
        fnh__http_respond_simple(x, 404, NULL, NULL, 0);
    }
    free(path);
    fnh__http_req_free(req);
    return 1;
}
