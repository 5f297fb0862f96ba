/* app.c: loads a function app (host.json, local.settings.json, every
 * <function>/function.json), validates it and builds the HTTP route table.
 * The callee writes the sentence, this file adds the location: every
 * message starts with the file and the JSON path it is about. */
#include "app.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extension.h"
#include "function_native.h"
#include "http_router.h"
#include "json.h"
#include "log.h"
#include "ncrontab.h"
#include "settings.h"
#include "timer_trigger.h"
#include "util.h"

#define HOST_JSON "host.json"

/* Built-in binding types. Extensions add more (see extension.h). */
typedef struct builtin_type {
    const char *type;
    int trigger;
    int directions;
} builtin_type;

static const builtin_type builtin_types[] = {
    {"httpTrigger", 1, FNH__DIR_IN},
    {"http", 0, FNH__DIR_OUT},
    {"timerTrigger", 1, FNH__DIR_IN},
};

static const builtin_type *find_builtin(const char *type)
{
    for (size_t i = 0; i < sizeof builtin_types / sizeof *builtin_types; i++)
        if (strcasecmp(builtin_types[i].type, type) == 0)
            return &builtin_types[i];
    return NULL;
}

static const char *installed_types(void)
{
    return fnh__ext_installed_types("httpTrigger, http, timerTrigger");
}

/* ---- host.json ------------------------------------------------------- */

static cJSON *get_ci(const cJSON *obj, const char *key)
{
    return obj ? cJSON_GetObjectItem(obj, key) : NULL; /* cJSON_GetObjectItem is case-insensitive */
}

/* Applies AzureFunctionsJobHost__a__b=value overrides to host.json. */
static void apply_env_overrides(cJSON *host)
{
    extern char **environ;
    static const char prefix[] = "AzureFunctionsJobHost__";
    for (char **e = environ; e && *e; e++) {
        if (strncasecmp(*e, prefix, sizeof prefix - 1) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        char *path = fnh__strndup(*e + sizeof prefix - 1, (size_t)(eq - *e) - (sizeof prefix - 1));
        if (!path)
            continue;
        cJSON *node = host;
        char *p = path;
        for (;;) {
            char *sep = strstr(p, "__");
            if (sep)
                *sep = '\0';
            if (!sep) {
                cJSON_DeleteItemFromObject(node, p);
                cJSON_AddItemToObject(node, p, cJSON_CreateString(eq + 1));
                break;
            }
            cJSON *child = get_ci(node, p);
            if (!cJSON_IsObject(child)) {
                cJSON_DeleteItemFromObject(node, p);
                child = cJSON_AddObjectToObject(node, p);
            }
            node = child;
            p = sep + 2;
        }
        free(path);
    }
}

/* A .NET TimeSpan ("00:05:00") in ms; "-1" means unlimited. 0 or -EINVAL. */
static int timespan_ms(const char *s, int64_t *ms)
{
    if (strcmp(s, "-1") == 0) {
        *ms = -1;
        return 0;
    }
    return fnh__timespan_parse(s, ms) == 0 && *ms >= 0 ? 0 : -EINVAL;
}

/* Reads a TimeSpan setting (string "hh:mm:ss" or a number of seconds). */
static int read_timespan(fnh__app *app, const cJSON *v, const char *jpath, int64_t *ms)
{
    if (!v)
        return 0;
    if (cJSON_IsString(v) && timespan_ms(v->valuestring, ms) == 0)
        return 0;
    char *brief = fnh__json_brief(v);
    fnh__strlist_addf(&app->host_errors,
                      HOST_JSON ": %s: %s is not a TimeSpan; write \"hh:mm:ss\", e.g. \"00:05:00\"",
                      jpath, brief ? brief : "value");
    free(brief);
    return -EINVAL;
}

static void load_log_levels(fnh__app *app, const cJSON *logging)
{
    const cJSON *levels = get_ci(logging, "logLevel");
    if (!levels)
        return;
    if (!cJSON_IsObject(levels)) {
        fnh__strlist_addf(&app->host_errors,
                          HOST_JSON ": logging.logLevel: must be an object like "
                                    "{\"default\": \"Information\", \"Function\": \"Warning\"}");
        return;
    }
    const cJSON *l;
    cJSON_ArrayForEach(l, levels)
    {
        int lvl = cJSON_IsString(l) ? fnh__log_parse_level(l->valuestring) : -EINVAL;
        if (lvl < 0) {
            char *brief = fnh__json_brief(l);
            fnh__strlist_addf(&app->host_errors,
                              HOST_JSON ": logging.logLevel.%s: %s is not a log level; use one of "
                                        "Trace, Debug, Information, Warning, Error, Critical, None",
                              l->string, brief ? brief : "value");
            free(brief);
            continue;
        }
        fnh__log_set_level(l->string, lvl);
    }
}

static void load_http_options(fnh__app *app, const cJSON *http)
{
    app->route_prefix = fnh__strdup("api");
    if (!http)
        return;
    if (!cJSON_IsObject(http)) {
        fnh__strlist_addf(&app->host_errors, HOST_JSON ": extensions.http: must be an object");
        return;
    }
    const cJSON *prefix = get_ci(http, "routePrefix");
    if (prefix && !cJSON_IsString(prefix)) {
        fnh__strlist_addf(&app->host_errors,
                          HOST_JSON ": extensions.http.routePrefix: must be a string such as "
                                    "\"api\" or \"\" (no prefix), not %s",
                          fnh__json_type_name(prefix));
    } else if (prefix) {
        const char *s = prefix->valuestring;
        while (*s == '/')
            s++;
        free(app->route_prefix);
        app->route_prefix = fnh__strdup(s);
        size_t n = strlen(app->route_prefix);
        while (n && app->route_prefix[n - 1] == '/')
            app->route_prefix[--n] = '\0';
    }
    const cJSON *headers = get_ci(http, "customHeaders");
    if (headers) {
        int ok = cJSON_IsObject(headers);
        const cJSON *h;
        cJSON_ArrayForEach(h, headers) ok = ok && cJSON_IsString(h);
        if (!ok)
            fnh__strlist_addf(&app->host_errors,
                              HOST_JSON ": extensions.http.customHeaders: must be an object of "
                                        "header names to string values");
        else
            app->custom_headers = cJSON_Duplicate(headers, 1);
    }
    const cJSON *body = get_ci(http, "maxRequestBodySize");
    if (body) {
        double d = cJSON_IsNumber(body) ? body->valuedouble
                   : cJSON_IsString(body) ? strtod(body->valuestring, NULL)
                                          : -1;
        if (d < 1)
            fnh__strlist_addf(&app->host_errors,
                              HOST_JSON ": extensions.http.maxRequestBodySize: must be a "
                                        "positive number of bytes, e.g. 104857600");
        else
            app->limits.max_body = (uint64_t)d;
    }
    int64_t ms;
    if (get_ci(http, "requestHeadersTimeout") &&
        read_timespan(app, get_ci(http, "requestHeadersTimeout"),
                      "extensions.http.requestHeadersTimeout", &ms) == 0)
        app->limits.headers_timeout_ms = (uint64_t)ms;
    if (get_ci(http, "keepAliveTimeout") &&
        read_timespan(app, get_ci(http, "keepAliveTimeout"), "extensions.http.keepAliveTimeout",
                      &ms) == 0)
        app->limits.keepalive_timeout_ms = (uint64_t)ms;
    const cJSON *rate = get_ci(http, "minRequestBodyDataRate");
    if (rate) {
        const cJSON *bps = get_ci(rate, "bytesPerSecond");
        if (!cJSON_IsObject(rate) || (bps && !cJSON_IsNumber(bps)))
            fnh__strlist_addf(&app->host_errors,
                              HOST_JSON ": extensions.http.minRequestBodyDataRate: must be an "
                                        "object like {\"bytesPerSecond\": 240, \"gracePeriod\": "
                                        "\"00:00:05\"}");
        else {
            if (bps)
                app->limits.min_body_rate = (uint64_t)(bps->valuedouble < 0 ? 0 : bps->valuedouble);
            if (get_ci(rate, "gracePeriod") &&
                read_timespan(app, get_ci(rate, "gracePeriod"),
                              "extensions.http.minRequestBodyDataRate.gracePeriod", &ms) == 0)
                app->limits.body_grace_ms = (uint64_t)ms;
        }
    }
}

static void load_host_json(fnh__app *app)
{
    char *path = fnh__asprintf("%s/" HOST_JSON, app->root);
    char *err = NULL;
    int rc = fnh__json_parse_file(path, &app->host_json, &err);
    free(path);
    if (rc == -ENOENT) {
        fnh__strlist_addf(&app->notes, "No host.json found in %s; using {\"version\": \"2.0\"}",
                          app->root);
        app->host_json = cJSON_Parse("{\"version\":\"2.0\"}");
    } else if (rc) {
        fnh__strlist_addf(&app->host_errors, HOST_JSON ": %s", err ? err : strerror(-rc));
        free(err);
        app->host_json = cJSON_CreateObject();
        return;
    } else if (!cJSON_IsObject(app->host_json)) {
        fnh__strlist_addf(&app->host_errors,
                          HOST_JSON ": the file must hold a JSON object like {\"version\": \"2.0\"}");
        return;
    }
    apply_env_overrides(app->host_json);
    cJSON *h = app->host_json;
    const cJSON *version = get_ci(h, "version");
    if (!version) {
        fnh__strlist_addf(&app->host_errors,
                          HOST_JSON ": version: the required 'version' property is missing; add "
                                    "\"version\": \"2.0\"");
    } else if (!cJSON_IsString(version) || strcmp(version->valuestring, "2.0") != 0) {
        char *brief = fnh__json_brief(version);
        int three = cJSON_IsString(version) && version->valuestring[0] == '3';
        fnh__strlist_addf(&app->host_errors,
                          HOST_JSON ": version: %s is not a valid host.json version; set "
                                    "\"version\": \"2.0\"%s",
                          brief ? brief : "value",
                          three ? " (it is the schema version of host.json, not the Functions "
                                  "runtime version)"
                                : "");
        free(brief);
    }
    const cJSON *timeout = get_ci(h, "functionTimeout");
    if (timeout) {
        int64_t ms;
        if (cJSON_IsString(timeout) && timespan_ms(timeout->valuestring, &ms) == 0 &&
            (ms == -1 || ms >= 1000)) {
            app->function_timeout_ms = ms;
        } else {
            char *brief = fnh__json_brief(timeout);
            fnh__strlist_addf(&app->host_errors,
                              HOST_JSON ": functionTimeout: %s is not a valid timeout; write a "
                                        "TimeSpan of at least one second such as \"00:05:00\", or "
                                        "\"-1\" for no limit",
                              brief ? brief : "value");
            free(brief);
        }
    }
    load_log_levels(app, get_ci(h, "logging"));
    load_http_options(app, get_ci(get_ci(h, "extensions"), "http"));
}

/* ---- function discovery -------------------------------------------- */

static int valid_function_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 128 || !isalpha((unsigned char)n[0]) || strcasecmp(n, "host") == 0)
        return 0;
    for (size_t i = 1; i < len; i++)
        if (!isalnum((unsigned char)n[i]) && n[i] != '_' && n[i] != '-')
            return 0;
    return 1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the sub-folders of root holding a function.json, sorted. */
static int list_function_dirs(const char *root, fnh__strlist *out)
{
    DIR *d = opendir(root);
    if (!d)
        return -errno;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *fj = fnh__asprintf("%s/%s/function.json", root, e->d_name);
        struct stat st;
        if (fj && stat(fj, &st) == 0 && S_ISREG(st.st_mode))
            fnh__strlist_addf(out, "%s", e->d_name);
        free(fj);
    }
    closedir(d);
    if (out->len)
        qsort(out->items, out->len, sizeof *out->items, cmp_names);
    return 0;
}

static int in_csv(const char *csv, const char *name)
{
    size_t n = strlen(name);
    const char *p = csv;
    while (*p) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        while (len && *p == ' ') {
            p++;
            len--;
        }
        while (len && p[len - 1] == ' ')
            len--;
        if (len == n && strncasecmp(p, name, n) == 0)
            return 1;
        if (!c)
            break;
        p = c + 1;
    }
    return 0;
}

/* ---- function.json ------------------------------------------------- */

#define FERR(fn, ...) fnh__strlist_addf(&(fn)->errors, __VA_ARGS__)

/* Replaces %Setting% in every string of v (recursively). */
static int resolve_settings(fnh__function *fn, cJSON *v, const char *jpath)
{
    int rc = 0;
    if (cJSON_IsString(v)) {
        if (!strchr(v->valuestring, '%'))
            return 0;
        char *missing = NULL;
        char *s = fnh__settings_expand(v->valuestring, &missing);
        if (!s) {
            FERR(fn,
                 "%s: %s: '%%%s%%' does not resolve to a value; add \"%s\" to the Values of "
                 "local.settings.json or set it in the environment",
                 fn->config_file, jpath, missing ? missing : "", missing ? missing : "");
            free(missing);
            return -EINVAL;
        }
        cJSON_SetValuestring(v, s);
        free(s);
        return 0;
    }
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        int i = 0;
        cJSON *c;
        cJSON_ArrayForEach(c, v)
        {
            char *sub = cJSON_IsArray(v) ? fnh__asprintf("%s[%d]", jpath, i)
                                         : fnh__asprintf("%s.%s", jpath, c->string);
            if (sub && resolve_settings(fn, c, sub))
                rc = -EINVAL;
            free(sub);
            i++;
        }
    }
    return rc;
}

static void validate_http_trigger(fnh__function *fn, fnh__binding *b, const char *at)
{
    const cJSON *methods = get_ci(b->json, "methods");
    fn->methods = FNH__M_ALL;
    if (methods && !cJSON_IsNull(methods)) {
        if (!cJSON_IsArray(methods)) {
            FERR(fn, "%s: %s.methods: must be an array of HTTP methods such as [\"get\", \"post\"]",
                 fn->config_file, at);
        } else if (cJSON_GetArraySize(methods) > 0) {
            fn->methods = 0;
            int i = 0;
            const cJSON *m;
            cJSON_ArrayForEach(m, methods)
            {
                unsigned bit = cJSON_IsString(m) ? fnh__method_bit(m->valuestring,
                                                                   strlen(m->valuestring))
                                                 : 0;
                if (!bit) {
                    char *brief = fnh__json_brief(m);
                    FERR(fn,
                         "%s: %s.methods[%d]: %s is not an HTTP method; use one of get, post, put, "
                         "delete, head, patch, options, trace",
                         fn->config_file, at, i, brief ? brief : "value");
                    free(brief);
                }
                fn->methods |= bit;
                i++;
            }
        }
    }
    const cJSON *auth = get_ci(b->json, "authLevel");
    if (auth) {
        static const char *levels[] = {"anonymous", "function", "admin", "system", "user"};
        int ok = 0;
        for (size_t i = 0; cJSON_IsString(auth) && i < 5; i++)
            ok |= strcasecmp(auth->valuestring, levels[i]) == 0;
        if (!ok) {
            char *brief = fnh__json_brief(auth);
            FERR(fn, "%s: %s.authLevel: %s is not an authorization level; use anonymous, "
                     "function or admin",
                 fn->config_file, at, brief ? brief : "value");
            free(brief);
        }
    }
    const cJSON *route = get_ci(b->json, "route");
    const char *r = fn->name;
    if (route && !cJSON_IsNull(route)) {
        if (!cJSON_IsString(route)) {
            FERR(fn, "%s: %s.route: must be a string such as \"products/{id:int}\", not %s",
                 fn->config_file, at, fnh__json_type_name(route));
            return;
        }
        r = route->valuestring;
    }
    while (*r == '/')
        r++;
    fn->route = fnh__strdup(r);
    size_t n = strlen(fn->route);
    while (n && fn->route[n - 1] == '/')
        fn->route[--n] = '\0';
    if (!*fn->route) {
        free(fn->route);
        fn->route = fnh__strdup(fn->name);
    }
}

static void validate_timer_trigger(fnh__function *fn, fnh__binding *b, const char *at)
{
    const cJSON *s = get_ci(b->json, "schedule");
    if (!cJSON_IsString(s) || !*s->valuestring) {
        FERR(fn, "%s: %s.schedule: must be a non-empty NCRONTAB expression or TimeSpan such as "
                 "\"0 */5 * * * *\"",
             fn->config_file, at);
        return;
    }
    char *err = fnh__timer_schedule_error(s->valuestring);
    if (err)
        FERR(fn, "%s: %s.schedule: %s", fn->config_file, at, err);
    free(err);
    const cJSON *flag;
    if ((flag = get_ci(b->json, "runOnStartup")) && !cJSON_IsBool(flag))
        FERR(fn, "%s: %s.runOnStartup: must be true or false", fn->config_file, at);
    if ((flag = get_ci(b->json, "useMonitor")) && !cJSON_IsBool(flag))
        FERR(fn, "%s: %s.useMonitor: must be true or false", fn->config_file, at);
}

static void load_bindings(fnh__function *fn)
{
    const cJSON *bindings = get_ci(fn->config, "bindings");
    if (!cJSON_IsArray(bindings) || cJSON_GetArraySize(bindings) == 0) {
        FERR(fn, "%s: bindings: at least one binding must be declared; add a trigger such as "
                 "{\"type\": \"httpTrigger\", \"direction\": \"in\", \"name\": \"req\"}",
             fn->config_file);
        return;
    }
    size_t n = (size_t)cJSON_GetArraySize(bindings);
    fn->bindings = calloc(n, sizeof *fn->bindings);
    if (!fn->bindings)
        return;
    int i = 0, ntriggers = 0;
    const cJSON *bj;
    cJSON_ArrayForEach(bj, bindings)
    {
        char at[32];
        snprintf(at, sizeof at, "bindings[%d]", i);
        i++;
        if (!cJSON_IsObject(bj)) {
            FERR(fn, "%s: %s: must be an object with \"type\", \"direction\" and \"name\"",
                 fn->config_file, at);
            continue;
        }
        fnh__binding *b = &fn->bindings[fn->nbindings];
        b->index = i - 1;
        b->json = cJSON_Duplicate(bj, 1);
        const cJSON *type = get_ci(bj, "type");
        const cJSON *dir = get_ci(bj, "direction");
        const cJSON *name = get_ci(bj, "name");
        if (!cJSON_IsString(type) || !*type->valuestring) {
            FERR(fn, "%s: %s.type: must be a non-empty string such as \"httpTrigger\"",
                 fn->config_file, at);
            cJSON_Delete(b->json);
            continue;
        }
        b->type = fnh__strdup(type->valuestring);
        fn->nbindings++;
        const builtin_type *bt = find_builtin(b->type);
        int is_trigger = bt ? bt->trigger
                            : (strlen(b->type) > 7 &&
                               strcasecmp(b->type + strlen(b->type) - 7, "Trigger") == 0);
        b->is_trigger = is_trigger;
        if (!bt && !fnh__ext_provides(b->type))
            FERR(fn,
                 "%s: %s.type: '%s' is not an installed binding type; installed types are %s. "
                 "Install an extension that provides it (see docs/extension-abi.md)",
                 fn->config_file, at, b->type, installed_types());
        if (!cJSON_IsString(dir) || (strcasecmp(dir->valuestring, "in") != 0 &&
                                     strcasecmp(dir->valuestring, "out") != 0 &&
                                     strcasecmp(dir->valuestring, "inout") != 0)) {
            char *brief = fnh__json_brief(dir);
            FERR(fn, "%s: %s.direction: %s is not a direction; use \"in\", \"out\" or \"inout\"",
                 fn->config_file, at, dir ? brief : "missing");
            free(brief);
        } else {
            b->direction = strcasecmp(dir->valuestring, "in") == 0    ? FNH__DIR_IN
                           : strcasecmp(dir->valuestring, "out") == 0 ? FNH__DIR_OUT
                                                                      : FNH__DIR_IN | FNH__DIR_OUT;
            if (bt && !(bt->directions & b->direction))
                FERR(fn, "%s: %s.direction: a '%s' binding must have direction \"%s\"",
                     fn->config_file, at, bt->type, bt->directions == FNH__DIR_IN ? "in" : "out");
        }
        if (!cJSON_IsString(name) || !*name->valuestring) {
            FERR(fn, "%s: %s.name: must be a non-empty string such as \"req\"", fn->config_file,
                 at);
        } else {
            const char *nm = name->valuestring;
            int ok = strcmp(nm, "$return") == 0 ? b->direction == FNH__DIR_OUT
                                                : (isalpha((unsigned char)nm[0]) || nm[0] == '_');
            for (const char *p = nm + 1; ok && *p && nm[0] != '$'; p++)
                ok = isalnum((unsigned char)*p) || *p == '_';
            if (!ok)
                FERR(fn, "%s: %s.name: '%s' is not a valid binding name; use letters, digits "
                         "and '_' (or \"$return\" for an output)",
                     fn->config_file, at, nm);
            else {
                for (size_t k = 0; k + 1 < fn->nbindings; k++)
                    if (fn->bindings[k].name && strcasecmp(fn->bindings[k].name, nm) == 0)
                        FERR(fn, "%s: %s.name: '%s' is already used by bindings[%d]; give "
                                 "every binding its own name",
                             fn->config_file, at, nm, fn->bindings[k].index);
                b->name = fnh__strdup(nm);
            }
        }
        if (resolve_settings(fn, b->json, at))
            continue;
        if (is_trigger) {
            if (++ntriggers > 1) {
                FERR(fn, "%s: %s: a function has exactly one trigger, and '%s' already is one; "
                         "remove one of them",
                     fn->config_file, at, fn->trigger ? fn->trigger->type : "another binding");
                continue;
            }
            fn->trigger = b;
        }
        if (bt && strcasecmp(bt->type, "httpTrigger") == 0)
            validate_http_trigger(fn, b, at);
        else if (bt && strcasecmp(bt->type, "timerTrigger") == 0)
            validate_timer_trigger(fn, b, at);
        else if (bt && strcasecmp(bt->type, "http") == 0) {
            if (fn->http_out)
                FERR(fn, "%s: %s: only one \"http\" output binding is allowed", fn->config_file,
                     at);
            fn->http_out = b;
        }
    }
    if (!ntriggers)
        FERR(fn, "%s: bindings: no trigger binding found; add one such as {\"type\": "
                 "\"httpTrigger\", \"direction\": \"in\", \"name\": \"req\"}",
             fn->config_file);
    if (fn->http_out && fn->trigger && strcasecmp(fn->trigger->type, "httpTrigger") != 0)
        FERR(fn, "%s: bindings[%d]: an \"http\" output needs an \"httpTrigger\" trigger",
             fn->config_file, fn->http_out->index);
}

static int setting_disables(const char *name)
{
    char *a = fnh__asprintf("AzureWebJobs.%s.Disabled", name);
    char *b = fnh__asprintf("AzureWebJobs_%s_Disabled", name);
    int off = fnh__truthy(a ? fnh__setting(a) : NULL) || fnh__truthy(b ? fnh__setting(b) : NULL);
    if (!off) { /* names of settings are case-insensitive on Azure */
        extern char **environ;
        for (char **e = environ; e && *e && !off; e++) {
            const char *eq = strchr(*e, '=');
            if (!eq)
                continue;
            size_t n = (size_t)(eq - *e);
            if ((a && n == strlen(a) && strncasecmp(*e, a, n) == 0) ||
                (b && n == strlen(b) && strncasecmp(*e, b, n) == 0))
                off = fnh__truthy(eq + 1);
        }
    }
    free(a);
    free(b);
    return off;
}

static fnh__function *load_function(fnh__app *app, const char *name, int load_code)
{
    fnh__function *fn = calloc(1, sizeof *fn);
    if (!fn)
        return NULL;
    fn->name = fnh__strdup(name);
    fn->dir = fnh__asprintf("%s/%s", app->root, name);
    fn->config_file = fnh__asprintf("%s/function.json", name);
    fn->log_category = fnh__asprintf("Function.%s", name);
    if (!valid_function_name(name)) {
        FERR(fn, "%s: '%s' is not a valid function name; rename the folder to start with a "
                 "letter and use only letters, digits, '-' and '_' (and not 'host')",
             fn->config_file, name);
    }
    char *path = fnh__asprintf("%s/function.json", fn->dir);
    char *err = NULL;
    int rc = fnh__json_parse_file(path, &fn->config, &err);
    free(path);
    if (rc) {
        FERR(fn, "%s: %s", fn->config_file, err ? err : strerror(-rc));
        free(err);
        return fn;
    }
    if (!cJSON_IsObject(fn->config)) {
        FERR(fn, "%s: the file must hold a JSON object with a \"bindings\" array",
             fn->config_file);
        return fn;
    }
    load_bindings(fn);
    const cJSON *disabled = get_ci(fn->config, "disabled");
    if (cJSON_IsTrue(disabled) ||
        (cJSON_IsString(disabled) && fnh__truthy(fnh__setting(disabled->valuestring)))) {
        fn->disabled = 1;
        fnh__strlist_addf(&app->notes,
                          "%s: disabled: this 1.x property is deprecated; set the app setting "
                          "\"AzureWebJobs.%s.Disabled\": \"true\" instead",
                          fn->config_file, name);
    }
    if (setting_disables(name))
        fn->disabled = 1;
    if (!fn->errors.len)
        fnh__native_resolve(fn, load_code);
    return fn;
}

/* ---- routes -------------------------------------------------------- */

static void overlap_cb(void *a, void *b, const char *example, void *arg)
{
    fnh__app *app = arg;
    fnh__function *fa = a, *fb = b;
    if (fa == fb)
        return;
    fnh__strlist_addf(&app->warnings,
                      "Routes '%s' (function '%s') and '%s' (function '%s') can match the same "
                      "path%s%s%s; the more specific one wins (see 'fnhost routes --match')",
                      fa->route_full, fa->name, fb->route_full, fb->name,
                      example ? ", e.g. '/" : "", example ? example : "", example ? "'" : "");
}

static void build_routes(fnh__app *app)
{
    app->router = fnh__router_new();
    if (!app->router)
        return;
    for (size_t i = 0; i < app->nfunctions; i++) {
        fnh__function *fn = app->functions[i];
        if (!fn->route || fn->errors.len)
            continue;
        char *lower = fnh__strdup(fn->route);
        for (char *p = lower; p && *p; p++)
            *p = (char)tolower((unsigned char)*p);
        int reserved = lower && (strncmp(lower, "admin", 5) == 0 || strncmp(lower, "runtime", 7) == 0);
        free(lower);
        if (reserved) {
            FERR(fn, "%s: bindings[%d].route: '%s' conflicts with the host's built-in routes "
                     "(admin/..., runtime/...); choose a route that does not start with "
                     "'admin' or 'runtime'",
                 fn->config_file, fn->trigger->index, fn->route);
            continue;
        }
        for (size_t k = 0; k < i; k++) {
            fnh__function *o = app->functions[k];
            if (o->route && !o->errors.len && strcasecmp(o->route, fn->route) == 0 &&
                (o->methods & fn->methods)) {
                FERR(fn, "%s: bindings[%d].route: '%s' conflicts with the route of function "
                         "'%s' for the same methods; change one route or split the methods",
                     fn->config_file, fn->trigger->index, fn->route, o->name);
                break;
            }
        }
        if (fn->errors.len)
            continue;
        fn->route_full = *app->route_prefix ? fnh__asprintf("%s/%s", app->route_prefix, fn->route)
                                            : fnh__strdup(fn->route);
        fnh__route *r = NULL;
        char *err = NULL;
        if (fnh__route_parse(fn->route_full, &r, &err)) {
            FERR(fn, "%s: bindings[%d].route: %s", fn->config_file, fn->trigger->index,
                 err ? err : "invalid route template");
            free(err);
            continue;
        }
        if (fn->disabled) { /* listed, but not routed: 404 as on Azure */
            fnh__route_free(r);
            continue;
        }
        fnh__router_add(app->router, r, fn->methods, fn);
    }
    fnh__router_finalize(app->router);
    fnh__router_overlaps(app->router, overlap_cb, app);
}

/* Local host id: machine name (letters and digits) + hash of the root. */
static char *make_host_id(const char *root, const cJSON *host_json)
{
    const cJSON *id = get_ci(host_json, "id");
    if (cJSON_IsString(id) && *id->valuestring)
        return fnh__strdup(id->valuestring);
    char host[256] = "localhost", clean[40];
    gethostname(host, sizeof host - 1);
    size_t o = 0;
    for (const char *p = host; *p && o < 20; p++)
        if (isalnum((unsigned char)*p))
            clean[o++] = (char)tolower((unsigned char)*p);
    clean[o] = '\0';
    char real[4096];
    const char *path = realpath(root, real) ? real : root;
    uint32_t h = 2166136261u;
    for (const char *p = path; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    char *s = fnh__asprintf("%s-%u", o ? clean : "fnhost", h & 0x7fffffffu);
    if (s && strlen(s) > 32)
        s[32] = '\0';
    return s;
}

int fnh__app_load(const fnh__app_options *opts, fnh__app **out)
{
    fnh__app *app = calloc(1, sizeof *app);
    if (!app)
        return -ENOMEM;
    app->root = fnh__strdup(opts->root ? opts->root : ".");
    size_t rl = strlen(app->root);
    while (rl > 1 && app->root[rl - 1] == '/')
        app->root[--rl] = '\0';
    app->function_timeout_ms = 30 * 60 * 1000;
    app->limits = (fnh__http_limits){
        .max_request_line = 8192,
        .max_header_bytes = 32768,
        .max_headers = 100,
        .max_body = 104857600,
        .headers_timeout_ms = 30000,
        .keepalive_timeout_ms = 130000,
        .min_body_rate = 240,
        .body_grace_ms = 5000,
    };
    *out = app;
    struct stat st;
    if (stat(app->root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fnh__strlist_addf(&app->host_errors,
                          "%s: the script root is not a folder; pass the function app's folder "
                          "with --script-root DIR",
                          app->root);
        app->route_prefix = fnh__strdup("api");
        return 0;
    }
    cJSON *host_section = NULL;
    fnh__settings_load(app->root, &app->errors, &app->notes, &host_section);
    if (host_section) {
        const cJSON *port = get_ci(host_section, "LocalHttpPort");
        if (port && !(cJSON_IsNumber(port) && port->valueint > 0 && port->valueint < 65536))
            fnh__strlist_addf(&app->host_errors, "local.settings.json: Host.LocalHttpPort: must "
                                                 "be a port number from 1 to 65535");
        else if (port)
            app->local_port = port->valueint;
        const cJSON *cors = get_ci(host_section, "CORS");
        if (cJSON_IsString(cors) && *cors->valuestring)
            app->cors = fnh__strdup(cors->valuestring);
        app->cors_credentials = cJSON_IsTrue(get_ci(host_section, "CORSCredentials"));
        cJSON_Delete(host_section);
    }
    const char *body_limit = fnh__setting("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT");
    if (body_limit && strtoull(body_limit, NULL, 10) > 0)
        app->limits.max_body = strtoull(body_limit, NULL, 10);
    load_host_json(app);
    app->host_id = make_host_id(app->root, app->host_json);

    const cJSON *allow = get_ci(app->host_json, "functions");
    if (allow && !cJSON_IsArray(allow))
        fnh__strlist_addf(&app->host_errors,
                          HOST_JSON ": functions: must be an array of function names such as "
                                    "[\"hello\"]");
    fnh__strlist names = {0};
    if (list_function_dirs(app->root, &names))
        fnh__strlist_addf(&app->host_errors, "%s: cannot read the script root folder", app->root);
    app->functions = calloc(names.len ? names.len : 1, sizeof *app->functions);
    for (size_t i = 0; i < names.len && app->functions; i++) {
        const char *name = names.items[i];
        if (opts->functions_csv && !in_csv(opts->functions_csv, name))
            continue;
        if (!opts->functions_csv && cJSON_IsArray(allow) && cJSON_GetArraySize(allow) > 0) {
            int found = 0;
            const cJSON *a;
            cJSON_ArrayForEach(a, allow) found |= cJSON_IsString(a) && strcasecmp(a->valuestring, name) == 0;
            if (!found)
                continue;
        }
        fnh__function *fn = load_function(app, name, opts->load_code);
        if (fn)
            app->functions[app->nfunctions++] = fn;
    }
    fnh__strlist_free(&names);
    build_routes(app);
    return 0;
}

static void function_free(fnh__function *fn)
{
    for (size_t i = 0; i < fn->nbindings; i++) {
        free(fn->bindings[i].type);
        free(fn->bindings[i].name);
        cJSON_Delete(fn->bindings[i].json);
    }
    free(fn->bindings);
    fnh__native_unload(fn);
    fnh__strlist_free(&fn->errors);
    cJSON_Delete(fn->config);
    free(fn->name);
    free(fn->dir);
    free(fn->config_file);
    free(fn->log_category);
    free(fn->route);
    free(fn->route_full);
    free(fn->script_path);
    free(fn->entry_name);
    free(fn);
}

void fnh__app_free(fnh__app *app)
{
    if (!app)
        return;
    if (app->router)
        fnh__router_free(app->router);
    for (size_t i = 0; i < app->nfunctions; i++)
        function_free(app->functions[i]);
    free(app->functions);
    cJSON_Delete(app->host_json);
    cJSON_Delete(app->custom_headers);
    fnh__strlist_free(&app->host_errors);
    fnh__strlist_free(&app->errors);
    fnh__strlist_free(&app->notes);
    fnh__strlist_free(&app->warnings);
    free(app->root);
    free(app->route_prefix);
    free(app->cors);
    free(app->host_id);
    free(app);
}

fnh__function *fnh__app_find(const fnh__app *app, const char *name)
{
    for (size_t i = 0; i < app->nfunctions; i++)
        if (strcasecmp(app->functions[i]->name, name) == 0)
            return app->functions[i];
    return NULL;
}

int fnh__function_ok(const fnh__function *fn)
{
    return fn->errors.len == 0 && fn->trigger != NULL;
}

const char *fnh__function_trigger_type(const fnh__function *fn)
{
    return fn->trigger ? fn->trigger->type : "unknown";
}

fnh__binding *fnh__function_binding(const fnh__function *fn, const char *name)
{
    for (size_t i = 0; i < fn->nbindings; i++)
        if (fn->bindings[i].name && strcasecmp(fn->bindings[i].name, name) == 0)
            return &fn->bindings[i];
    return NULL;
}
