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

#include "json.h"
#include "log.h"
#include "ncrontab.h"
#include "pool.h"
#include "settings.h"
#include "unsupported.h"
#include "util.h"

#define HOST_JSON "host.json"

/* function.json's own properties (tools write the last ones). */
static const char *const function_keys[] = {"bindings", "scriptFile", "entryPoint", "disabled",
                                             "configurationSource", "generatedBy", "excluded",
                                             "retry", NULL};

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

static void wrong_type(fnh__app *app, const char *jpath, const cJSON *v, const char *want)
{
    fnh__strlist_addf(&app->host_errors, HOST_JSON ": %s: must be %s, not %s", jpath, want,
                      fnh__json_type_name(v));
}


static const char *const host_keys[] = {
    "version", "functionTimeout", "retry", "functions", "http", "watchDirectories", "watchFiles",
    "queues", "serviceBus", "eventHub", "singleton", "logging", "aggregator", "healthMonitor",
    "extensionBundle", "managedDependency", "customHandler", "httpWorker", "extensions",
    "concurrency", "id", "fileWatchingEnabled", NULL};
static const char *const http_keys[] = {
    "routePrefix", "maxOutstandingRequests", "maxConcurrentRequests", "dynamicThrottlesEnabled",
    "hsts", "customHeaders", "enableChunkedRequestBinding", "maxRequestBodySize",
    "requestHeadersTimeout", "keepAliveTimeout", "minRequestBodyDataRate", NULL};

/* Validates logging.logLevel; the levels are set by fnh__app_apply_log_levels. */
static void check_log_levels(fnh__app *app, const cJSON *logging)
{
    if (logging && !cJSON_IsObject(logging)) {
        wrong_type(app, "logging", logging,
                   "an object like {\"logLevel\": {\"default\": \"Information\"}}");
        return;
    }
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
        if (cJSON_IsString(l) && fnh__log_parse_level(l->valuestring) >= 0)
            continue;
        char *brief = fnh__json_brief(l);
        fnh__strlist_addf(&app->host_errors,
                          HOST_JSON ": logging.logLevel.%s: %s is not a log level; use one of "
                                    "Trace, Debug, Information, Warning, Error, Critical, None",
                          l->string, brief ? brief : "value");
        free(brief);
    }
}

/* Sets the log levels of host.json's logging.logLevel (process-wide). */
void fnh__app_apply_log_levels(const fnh__app *app)
{
    const cJSON *levels = get_ci(get_ci(app->host_json, "logging"), "logLevel");
    const cJSON *l;
    if (!cJSON_IsObject(levels))
        return;
    cJSON_ArrayForEach(l, levels)
    {
        int lvl = cJSON_IsString(l) ? fnh__log_parse_level(l->valuestring) : -EINVAL;
        if (lvl >= 0)
            fnh__log_set_level(l->string, lvl);
    }
}

/* A header field name (RFC 9110 token). */
/* extensions.http: its shape and typos; the HTTP trigger's init reads it. */
static void load_http_options(fnh__app *app, const cJSON *http)
{
    if (!http)
        return;
    if (!cJSON_IsObject(http)) {
        fnh__strlist_addf(&app->host_errors, HOST_JSON ": extensions.http: must be an object");
        return;
    }
    fnh__json_typo_warnings(&app->warnings, HOST_JSON, http, "extensions.http.", http_keys);
}

static void load_function_timeout(fnh__app *app, const cJSON *timeout)
{
    int64_t ms;
    int rc = timeout ? fnh__json_timespan_ms(timeout, 1, 1000, &ms) : 0;
    if (!timeout)
        return;
    if (rc == 0) {
        app->function_timeout_ms = ms;
        return;
    }
    char *brief = fnh__json_brief(timeout);
    if (rc == -ERANGE)
        fnh__strlist_addf(&app->host_errors,
                          HOST_JSON ": functionTimeout: %s " FNH__SPAN_RANGE_FIX
                                    "; write \"-1\" for no limit",
                          brief ? brief : "value");
    else
        fnh__strlist_addf(&app->host_errors,
                          HOST_JSON ": functionTimeout: %s is not a valid timeout; write a "
                                    "TimeSpan of at least one second such as \"00:05:00\", or "
                                    "\"-1\" for no limit",
                          brief ? brief : "value");
    free(brief);
}

static void check_allow_list(fnh__app *app, const cJSON *allow)
{
    if (!allow)
        return;
    if (!cJSON_IsArray(allow)) {
        fnh__strlist_addf(&app->host_errors,
                          HOST_JSON ": functions: must be an array of function names such as "
                                    "[\"hello\"]");
        return;
    }
    int i = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, allow)
    {
        if (!cJSON_IsString(a))
            fnh__strlist_addf(&app->host_errors,
                              HOST_JSON ": functions[%d]: must be a function name (a string), "
                                        "not %s",
                              i, fnh__json_type_name(a));
        i++;
    }
}

void fnh__app_read_host_json(fnh__app *app, const char *text, size_t len)
{
    cJSON *h = NULL;
    char *err = NULL;
    int rc = fnh__json_parse(text, len, &h, &err);
    if (rc) {
        fnh__strlist_addf(&app->host_errors, HOST_JSON ": %s",
                          err ? err : "out of memory while reading the file");
        free(err);
        return;
    }
    if (!cJSON_IsObject(h)) {
        fnh__strlist_addf(&app->host_errors,
                          HOST_JSON ": the file must hold a JSON object like {\"version\": "
                                    "\"2.0\"}, not %s",
                          fnh__json_type_name(h));
        cJSON_Delete(h);
        return;
    }
    cJSON_Delete(app->host_json);
    app->host_json = h;
    apply_env_overrides(h);
    fnh__json_typo_warnings(&app->warnings, HOST_JSON, h, "", host_keys);
    fnh__unsupported_host_json(h, &app->warnings);
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
    load_function_timeout(app, get_ci(h, "functionTimeout"));
    fnh__retry_read(get_ci(h, "retry"), HOST_JSON, "retry", &app->host_errors, &app->warnings,
                    &app->retry);
    check_log_levels(app, get_ci(h, "logging"));
    check_allow_list(app, get_ci(h, "functions"));
    const cJSON *ext = get_ci(h, "extensions");
    if (ext && !cJSON_IsObject(ext))
        wrong_type(app, "extensions", ext,
                   "an object of per-binding settings such as {\"http\": {\"routePrefix\": "
                   "\"api\"}}");
    else
        load_http_options(app, get_ci(ext, "http"));
    const cJSON *id = get_ci(h, "id");
    if (id && !cJSON_IsString(id))
        wrong_type(app, "id", id, "a string (or leave it out to derive one)");
}

/* ---- function discovery -------------------------------------------- */

int fnh__function_name_valid(const char *n)
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

/* The next name of a comma-separated list at *p, blanks trimmed: its start
 * and *len; *p moves past it. NULL at the end. */
static const char *csv_next(const char **p, size_t *len)
{
    if (!*p || !**p)
        return NULL;
    const char *s = *p, *c = strchr(s, ',');
    size_t n = c ? (size_t)(c - s) : strlen(s);
    *p = c ? c + 1 : NULL;
    while (n && *s == ' ') {
        s++;
        n--;
    }
    while (n && s[n - 1] == ' ')
        n--;
    *len = n;
    return s;
}

static int in_csv(const char *csv, const char *name)
{
    size_t n = strlen(name), len;
    for (const char *p = csv, *s; (s = csv_next(&p, &len));)
        if (len == n && strncasecmp(s, name, n) == 0)
            return 1;
    return 0;
}

/* 1 when a language worker may add functions (FUNCTIONS_WORKER_RUNTIME names
 * a language, such as node). */
static int worker_indexed(const fnh__app *app)
{
    const char *rt = fnh__app_setting(app, "FUNCTIONS_WORKER_RUNTIME");
    return rt && *rt && strcasecmp(rt, "native") != 0 && strcasecmp(rt, "custom") != 0;
}

/* Warns about each name of --functions (csv) that is no function folder. */
static void warn_unmatched(fnh__app *app, const char *csv, const fnh__strlist *names)
{
    size_t len;
    for (const char *q = csv, *p; (p = csv_next(&q, &len));) {
        int found = 0;
        for (size_t i = 0; i < names->len && !found; i++)
            found = strlen(names->items[i]) == len && strncasecmp(names->items[i], p, len) == 0;
        if (len && !found) {
            fnh__buf all = {0};
            for (size_t i = 0; i < names->len; i++)
                fnh__buf_printf(&all, "%s%s", i ? ", " : "", names->items[i]);
            fnh__strlist_addf(&app->warnings,
                              "--functions: '%.*s' matches no function in %s, so it is ignored; "
                              "the functions there are %s",
                              (int)len, p, app->root, all.data ? all.data : "none");
            fnh__buf_free(&all);
        }
    }
}

/* ---- function.json ------------------------------------------------- */

#define FERR(fn, ...) fnh__strlist_addf(&(fn)->errors, __VA_ARGS__)


/* Replaces %Setting% in every string of v (recursively). */
static int resolve_settings(const fnh__app *app, fnh__function *fn, cJSON *v, const char *jpath)
{
    int rc = 0;
    if (cJSON_IsString(v)) {
        if (!strchr(v->valuestring, '%'))
            return 0;
        char *missing = NULL;
        char *s = fnh__settings_expand(&app->settings, v->valuestring, &missing);
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
            if (sub && resolve_settings(app, fn, c, sub))
                rc = -EINVAL;
            free(sub);
            i++;
        }
    }
    return rc;
}

static int known_key(const char *const *keys, const char *k)
{
    for (; *keys; keys++)
        if (strcasecmp(*keys, k) == 0)
            return 1;
    return 0;
}

void fnh__app_warn_unknown_keys(fnh__app *app, const fnh__function *fn, const cJSON *bj,
                                const char *type, const char *const *keys, const char *at)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, bj)
    {
        if (known_key(keys, c->string)) {
            const cJSON *first = get_ci(bj, c->string);
            if (first != c)
                fnh__strlist_addf(&app->warnings,
                                  "%s: %s.%s: repeats '%s' (property names are "
                                  "case-insensitive), so it is ignored; keep only one",
                                  fn->config_file, at, c->string, first->string);
            continue;
        }
        const char *hint = fnh__closest_word(c->string, keys);
        fnh__buf list = {0};
        for (size_t i = 0; !hint && keys[i]; i++)
            fnh__buf_printf(&list, "%s%s", i ? (keys[i + 1] ? ", " : " and ") : "",
                            keys[i]);
        fnh__strlist_addf(&app->warnings,
                          "%s: %s.%.60s: not a property of a '%s' binding, so it is ignored; "
                          "%s%s%s",
                          fn->config_file, at, c->string, type,
                          hint ? "did you mean '" : "its properties are ",
                          hint ? hint : list.data ? list.data : "", hint ? "'?" : "");
        fnh__buf_free(&list);
    }
}

/* bindings[i].direction, "in", "out" or "inout" in any case, into b. */
static void read_direction(fnh__function *fn, fnh__binding *b, const cJSON *dir, const char *at)
{
    if (!cJSON_IsString(dir) || (strcasecmp(dir->valuestring, "in") != 0 &&
                                 strcasecmp(dir->valuestring, "out") != 0 &&
                                 strcasecmp(dir->valuestring, "inout") != 0)) {
        char *brief = fnh__json_brief(dir);
        FERR(fn, "%s: %s.direction: %s is not a direction; use \"in\", \"out\" or \"inout\"",
             fn->config_file, at, dir ? brief : "missing");
        free(brief);
        return;
    }
    b->direction = strcasecmp(dir->valuestring, "in") == 0    ? FNH__DIR_IN
                   : strcasecmp(dir->valuestring, "out") == 0 ? FNH__DIR_OUT
                                                              : FNH__DIR_IN | FNH__DIR_OUT;
}

/* bindings[i].name into b: letters, digits and '_' not starting with a
 * digit, or "$return" for an output; two bindings of a function sharing
 * a name (in any case) are reported. */
static void read_binding_name(fnh__function *fn, fnh__binding *b, const cJSON *name,
                              const char *at)
{
    if (!cJSON_IsString(name) || !*name->valuestring) {
        FERR(fn, "%s: %s.name: must be a non-empty string such as \"req\"", fn->config_file, at);
        return;
    }
    const char *nm = name->valuestring;
    int ok = strcmp(nm, "$return") == 0 ? b->direction == FNH__DIR_OUT
                                        : (isalpha((unsigned char)nm[0]) || nm[0] == '_');
    for (const char *p = nm + 1; ok && *p && nm[0] != '$'; p++)
        ok = isalnum((unsigned char)*p) || *p == '_';
    if (!ok) {
        FERR(fn, "%s: %s.name: '%s' is not a valid binding name; use letters, digits "
                 "and '_' (or \"$return\" for an output)",
             fn->config_file, at, nm);
        return;
    }
    for (size_t k = 0; k + 1 < fn->nbindings; k++)
        if (fn->bindings[k].name && strcasecmp(fn->bindings[k].name, nm) == 0)
            FERR(fn, "%s: %s.name: '%s' is already used by bindings[%d]; give "
                     "every binding its own name",
                 fn->config_file, at, nm, fn->bindings[k].index);
    b->name = fnh__strdup(nm);
}

/* bindings[index] into the next binding of fn (none when it has no type);
 * *ntriggers counts the triggers, of which the first is fn's. */
static void load_binding(const fnh__app *app, fnh__function *fn, const cJSON *bj, int index,
                         int *ntriggers)
{
    char at[32];
    snprintf(at, sizeof at, "bindings[%d]", index);
    if (!cJSON_IsObject(bj)) {
        FERR(fn, "%s: %s: must be an object with \"type\", \"direction\" and \"name\"",
             fn->config_file, at);
        return;
    }
    fnh__binding *b = &fn->bindings[fn->nbindings];
    b->index = index;
    b->json = cJSON_Duplicate(bj, 1);
    const cJSON *type = get_ci(bj, "type");
    if (!cJSON_IsString(type) || !*type->valuestring) {
        FERR(fn, "%s: %s.type: must be a non-empty string such as \"httpTrigger\"",
             fn->config_file, at);
        cJSON_Delete(b->json);
        return;
    }
    b->type = fnh__strdup(type->valuestring);
    if (!b->type || !b->json) { /* out of memory: the binding is left out */
        FERR(fn, "%s: %s: out of memory while reading the binding", fn->config_file, at);
        free(b->type);
        b->type = NULL;
        cJSON_Delete(b->json);
        b->json = NULL;
        return;
    }
    fn->nbindings++;
    /* as in Azure, a trigger is a binding whose type ends in "Trigger" */
    size_t tlen = strlen(b->type);
    b->is_trigger = tlen > 7 && strcasecmp(b->type + tlen - 7, "Trigger") == 0;
    read_direction(fn, b, get_ci(bj, "direction"), at);
    read_binding_name(fn, b, get_ci(bj, "name"), at);
    if (resolve_settings(app, fn, b->json, at) || !b->is_trigger)
        return;
    if (++*ntriggers > 1) {
        FERR(fn, "%s: %s: a function has exactly one trigger, and '%s' already is one; "
                 "remove one of them",
             fn->config_file, at, fn->trigger ? fn->trigger->type : "another binding");
        return;
    }
    fn->trigger = b;
}

static void load_bindings(const fnh__app *app, fnh__function *fn)
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
        load_binding(app, fn, bj, i++, &ntriggers);
    if (ntriggers)
        return;
    fnh__buf types = {0};
    for (size_t k = 0; k < fn->nbindings; k++)
        if (fn->bindings[k].type)
            fnh__buf_printf(&types, "%s\"%s\"", types.len ? ", " : "", fn->bindings[k].type);
    FERR(fn, "%s: bindings: no trigger binding found (a trigger's type ends in \"Trigger\"; "
             "the types here are %s); add one such as {\"type\": \"httpTrigger\", "
             "\"direction\": \"in\", \"name\": \"req\"}",
         fn->config_file, types.len ? types.data : "none");
    fnh__buf_free(&types);
}

static int setting_disables(const fnh__app *app, const char *name)
{
    char *a = fnh__asprintf("AzureWebJobs.%s.Disabled", name);
    char *b = fnh__asprintf("AzureWebJobs_%s_Disabled", name);
    int off = fnh__truthy(a ? fnh__app_setting(app, a) : NULL) ||
              fnh__truthy(b ? fnh__app_setting(app, b) : NULL);
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

/* A function named name with its folder and message names, not yet read;
 * appended to app->functions. NULL when out of memory. */
static fnh__function *function_new(fnh__app *app, const char *name)
{
    fnh__function **grown = realloc(app->functions, (app->nfunctions + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    app->functions = grown;
    fnh__function *fn = calloc(1, sizeof *fn);
    if (!fn)
        return NULL;
    fn->name = fnh__strdup(name);
    fn->dir = fnh__asprintf("%s/%s", app->root, name);
    fn->config_file = fnh__asprintf("%s/function.json", name);
    fn->log_category = fnh__asprintf("Function.%s", name);
    if (!fn->name || !fn->dir || !fn->config_file || !fn->log_category) {
        fnh__function_free(fn);
        return NULL;
    }
    fn->name_len = strlen(fn->name);
    app->functions[app->nfunctions++] = fn;
    if (!fnh__function_name_valid(name)) {
        FERR(fn, "%s: '%s' is not a valid function name; rename the folder to start with a "
                 "letter and use only letters, digits, '-' and '_' (and not 'host')",
             fn->config_file, name);
    }
    return fn;
}

/* Reads function.json text into fn. */
static void function_read(fnh__app *app, fnh__function *fn, const char *text, size_t len)
{
    char *err = NULL;
    int rc = fnh__json_parse(text, len, &fn->config, &err);
    if (rc) {
        FERR(fn, "%s: %s", fn->config_file, err ? err : "out of memory while reading the file");
        free(err);
        return;
    }
    if (!cJSON_IsObject(fn->config)) {
        FERR(fn, "%s: the file must hold a JSON object with a \"bindings\" array, not %s",
             fn->config_file, fnh__json_type_name(fn->config));
        return;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, fn->config)
    {
        const char *hint = known_key(function_keys, c->string)
                               ? NULL
                               : fnh__closest_word(c->string, function_keys);
        if (hint)
            fnh__strlist_addf(&app->warnings,
                              "%s: %.60s: not a property of function.json, so it is ignored; did "
                              "you mean '%s'?",
                              fn->config_file, c->string, hint);
    }
    load_bindings(app, fn);
    fnh__retry_read(get_ci(fn->config, "retry"), fn->config_file, "retry", &fn->errors,
                    &app->warnings, &fn->retry_declared);
    const cJSON *script = get_ci(fn->config, "scriptFile");
    size_t sl = cJSON_IsString(script) ? strlen(script->valuestring) : 0;
    int native = sl > 3 && strcmp(script->valuestring + sl - 3, ".so") == 0;
    for (size_t i = 0; i < fn->nbindings; i++) {
        char at[32];
        snprintf(at, sizeof at, "bindings[%d]", fn->bindings[i].index);
        fnh__unsupported_binding(fn->bindings[i].json, fn->bindings[i].type, fn->config_file, at,
                                 native, &app->warnings);
    }
    const cJSON *disabled = get_ci(fn->config, "disabled");
    if (cJSON_IsTrue(disabled) ||
        (cJSON_IsString(disabled) && fnh__truthy(fnh__app_setting(app, disabled->valuestring)))) {
        fn->disabled = 1;
        fnh__strlist_addf(&app->notes,
                          "%s: disabled: this 1.x property is deprecated; set the app setting "
                          "\"AzureWebJobs.%s.Disabled\": \"true\" instead",
                          fn->config_file, fn->name);
    }
    if (setting_disables(app, fn->name))
        fn->disabled = 1;
}

fnh__function *fnh__app_read_function_json(fnh__app *app, const char *name, const char *text,
                                           size_t len)
{
    fnh__function *fn = function_new(app, name);
    if (fn)
        function_read(app, fn, text, len);
    return fn;
}

static void load_function(fnh__app *app, const char *name)
{
    fnh__function *fn = function_new(app, name);
    if (!fn)
        return;
    char *path = fnh__asprintf("%s/function.json", fn->dir);
    char *text = NULL;
    size_t len = 0;
    int rc = path ? fnh__read_file(path, &text, &len) : -ENOMEM;
    free(path);
    if (rc)
        FERR(fn, "%s: cannot read the file: %s", fn->config_file, strerror(-rc));
    else
        function_read(app, fn, text, len);
    free(text);
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

/* Rewrites a message so it stays on one line: a config value may carry
 * line breaks or other control characters (escaped in JSON, raw here). */
static void one_line(fnh__strlist *l)
{
    for (size_t i = 0; i < l->len; i++) {
        const char *m = l->items[i];
        size_t n = 0;
        while (m[n] && (unsigned char)m[n] >= 0x20 && m[n] != 0x7F)
            n++;
        if (!m[n])
            continue;
        fnh__buf b = {0};
        for (const char *p = m; *p; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == '\n')
                fnh__buf_puts(&b, "\\n");
            else if (c == '\r')
                fnh__buf_puts(&b, "\\r");
            else if (c < 0x20 || c == 0x7F)
                fnh__buf_printf(&b, "\\u%04x", c);
            else
                fnh__buf_append(&b, p, 1);
        }
        if (b.data) {
            free(l->items[i]);
            l->items[i] = fnh__buf_take(&b);
        }
    }
}

void fnh__app_finish(fnh__app *app)
{
    one_line(&app->host_errors);
    one_line(&app->errors);
    one_line(&app->notes);
    one_line(&app->warnings);
    for (size_t i = 0; i < app->nfunctions; i++)
        one_line(&app->functions[i]->errors);
}

fnh__app *fnh__app_new(const char *root)
{
    fnh__app *app = calloc(1, sizeof *app);
    if (!app)
        return NULL;
    app->refs = 1;
    app->root = fnh__strdup(root);
    app->host_json = cJSON_CreateObject();
    if (!app->root || !app->host_json) {
        fnh__app_free(app);
        return NULL;
    }
    size_t rl = strlen(app->root);
    while (rl > 1 && app->root[rl - 1] == '/')
        app->root[--rl] = '\0';
    app->function_timeout_ms = 30 * 60 * 1000;
    return app;
}

static void take_all(fnh__strlist *to, fnh__strlist *from)
{
    for (size_t i = 0; i < from->len; i++) {
        fnh__strlist_take(to, from->items[i]);
        from->items[i] = NULL;
    }
    fnh__strlist_free(from);
}

static void load_settings(fnh__app *app)
{
    fnh__local_settings ls = {0};
    if (fnh__settings_load(app->root, &ls) == 0) {
        app->local_port = ls.local_port;
        app->cors = ls.cors;
        ls.cors = NULL;
        app->cors_credentials = ls.cors_credentials;
        app->settings = ls.values;
        ls.values = (fnh__strlist){0};
    } else {
        fnh__strlist_addf(&ls.fatal, "local.settings.json: out of memory while reading the file");
    }
    take_all(&app->host_errors, &ls.fatal);
    take_all(&app->errors, &ls.errors);
    take_all(&app->warnings, &ls.warnings);
    take_all(&app->notes, &ls.notes);
    fnh__settings_free(&ls);
}

static void load_host_json(fnh__app *app)
{
    char *path = fnh__asprintf("%s/" HOST_JSON, app->root);
    char *text = NULL;
    size_t len = 0;
    int rc = path ? fnh__read_file(path, &text, &len) : -ENOMEM;
    free(path);
    if (rc == -ENOENT) {
        fnh__strlist_addf(&app->notes, "No host.json found in %s; using {\"version\": \"2.0\"}",
                          app->root);
        static const char dflt[] = "{\"version\": \"2.0\"}";
        fnh__app_read_host_json(app, dflt, sizeof dflt - 1);
    } else if (rc) {
        fnh__strlist_addf(&app->host_errors, HOST_JSON ": cannot read the file: %s",
                          strerror(-rc));
    } else {
        fnh__app_read_host_json(app, text, len);
    }
    free(text);
}

int fnh__app_function_selected(const fnh__app *app, const char *functions_csv,
                               const char *name)
{
    if (functions_csv)
        return in_csv(functions_csv, name);
    const cJSON *allow = get_ci(app->host_json, "functions");
    if (!cJSON_IsArray(allow) || cJSON_GetArraySize(allow) == 0)
        return 1;
    const cJSON *a;
    cJSON_ArrayForEach(a, allow) if (cJSON_IsString(a) && strcasecmp(a->valuestring, name) == 0)
        return 1;
    return 0;
}

int fnh__app_load(const fnh__app_options *opts, fnh__app **out)
{
    fnh__app *app = fnh__app_new(opts->root ? opts->root : ".");
    *out = app;
    if (!app)
        return -ENOMEM;
    struct stat st;
    if (stat(app->root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fnh__strlist_addf(&app->host_errors,
                          "%s: the script root is not a folder; pass the function app's folder "
                          "with --script-root DIR",
                          app->root);
        fnh__app_finish(app);
        return 0;
    }
    load_settings(app);
    if (opts->cors) { /* --cors */
        free(app->cors);
        app->cors = *opts->cors ? fnh__strdup(opts->cors) : NULL;
    }
    if (opts->cors_credentials)
        app->cors_credentials = 1;
    app->listen_port = opts->port > 0 ? opts->port : app->local_port ? app->local_port : 7071;
    fnh__identity_notes(&app->settings, &app->notes);
    load_host_json(app);
    fnh__unsupported_files(app->root, &app->warnings);
    app->host_id = make_host_id(app->root, app->host_json);

    fnh__strlist names = {0};
    if (list_function_dirs(app->root, &names))
        fnh__strlist_addf(&app->host_errors, "%s: cannot read the script root folder", app->root);
    for (size_t i = 0; i < names.len; i++)
        if (fnh__app_function_selected(app, opts->functions_csv, names.items[i]))
            load_function(app, names.items[i]);
    /* a language worker's functions are known once it has indexed the app */
    if (!worker_indexed(app))
        warn_unmatched(app, opts->functions_csv, &names);
    fnh__strlist_free(&names);
    fnh__app_finish(app);
    return 0;
}

void fnh__function_free(fnh__function *fn)
{
    for (size_t i = 0; i < fn->nbindings; i++) {
        free(fn->bindings[i].type);
        free(fn->bindings[i].name);
        cJSON_Delete(fn->bindings[i].json);
    }
    free(fn->bindings);
    if (fn->runner_release)
        fn->runner_release(fn);
    fnh__pool_lane_release(fn);
    fnh__strlist_free(&fn->errors);
    cJSON_Delete(fn->config);
    free(fn->name);
    free(fn->dir);
    free(fn->config_file);
    free(fn->log_category);
    free(fn);
}

fnh__app *fnh__app_ref(fnh__app *app)
{
    if (app)
        app->refs++;
    return app;
}

void fnh__app_unref(fnh__app *app)
{
    if (app && --app->refs == 0)
        fnh__app_free(app);
}

int fnh__app_part_set(fnh__app *app, const char *key, void *state,
                      void (*free_state)(void *state))
{
    fnh__app_part *parts = realloc(app->parts, (app->nparts + 1) * sizeof *parts);
    if (!parts) {
        if (free_state)
            free_state(state);
        return -ENOMEM;
    }
    app->parts = parts;
    parts[app->nparts++] = (fnh__app_part){key, state, free_state};
    return 0;
}

void *fnh__app_part_get(const fnh__app *app, const char *key)
{
    size_t n = app ? app->nparts : 0;
    /* keys are mostly the same literal: looked for by address first */
    for (size_t i = 0; i < n; i++)
        if (app->parts[i].key == key)
            return app->parts[i].state;
    for (size_t i = 0; i < n; i++)
        if (strcmp(app->parts[i].key, key) == 0)
            return app->parts[i].state;
    return NULL;
}

const char *fnh__app_setting(const fnh__app *app, const char *name)
{
    return fnh__setting(app ? &app->settings : NULL, name);
}

void fnh__app_free(fnh__app *app)
{
    if (!app)
        return;
    while (app->nparts) { /* newest first: they may use older ones while freeing */
        fnh__app_part *p = &app->parts[--app->nparts];
        if (p->free_state)
            p->free_state(p->state);
    }
    free(app->parts);
    fnh__strlist_free(&app->settings);
    for (size_t i = 0; i < app->nfunctions; i++)
        fnh__function_free(app->functions[i]);
    free(app->functions);
    cJSON_Delete(app->host_json);
    fnh__strlist_free(&app->host_errors);
    fnh__strlist_free(&app->errors);
    fnh__strlist_free(&app->notes);
    fnh__strlist_free(&app->warnings);
    free(app->root);
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
        if (fn->bindings[i].name && fnh__name_eq(fn->bindings[i].name, name))
            return &fn->bindings[i];
    return NULL;
}
