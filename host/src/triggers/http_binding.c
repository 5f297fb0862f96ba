/* http_binding.c: the built-in HTTP binding types, registered like an
 * extension's: init takes host.json extensions.http (routePrefix,
 * customHeaders), bind validates an httpTrigger (methods, authLevel, route)
 * or an "http" output, and the route table is built once every function is
 * bound (reserved and duplicate routes become errors, overlaps warnings).
 * All of it is the app snapshot's "http" part, freed with the app. */
#include "http_binding.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "dispatch.h"
#include "extension.h"
#include "http_throttle.h"
#include "json.h"
#include "strlist.h"
#include "util.h"

/* What the HTTP bindings of one app snapshot share: its "http" part. */
typedef struct http_state {
    fnh__http_limits limits;   /* the server's (Kestrel's) limits */
    char *route_prefix;
    cJSON *custom_headers;
    fnh__http_throttle_opts throttle; /* throttles and HSTS */
    fnh__http_fn *fns, **tail; /* bound triggers, in bind order */
    fnh__router *router;
    int routed;
} http_state;

static http_state *state_of(const fnh__app *app)
{
    return fnh__app_part_get(app, "http");
}

#define ERR(cfg, ...) fnh__strlist_addf(fnh__config_errors(cfg), __VA_ARGS__)

static const cJSON *get_ci(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItem(obj, key); /* case-insensitive, as Azure reads them */
}

/* ---- init: extensions.http ------------------------------------------------- */

static void read_custom_headers(http_state *g, const fnh_config *cfg, const cJSON *headers)
{
    if (!headers)
        return;
    if (!cJSON_IsObject(headers)) {
        ERR(cfg, "host.json: extensions.http.customHeaders: must be an object of header names "
                 "to string values");
        return;
    }
    int ok = 1;
    const cJSON *h;
    cJSON_ArrayForEach(h, headers)
    {
        if (!fnh__http_header_name_ok(h->string)) {
            ERR(cfg, "host.json: extensions.http.customHeaders: '%.60s' is not a valid header "
                     "name; use letters, digits and !#$%%&'*+-.^_`|~",
                h->string);
            ok = 0;
        } else if (!cJSON_IsString(h)) {
            ERR(cfg, "host.json: extensions.http.customHeaders.%s: must be a string, not %s",
                h->string, fnh__json_type_name(h));
            ok = 0;
        } else if (!fnh__http_header_value_ok(h->valuestring)) {
            ERR(cfg, "host.json: extensions.http.customHeaders.%s: a header value cannot hold "
                     "line breaks or other control characters; remove them",
                h->string);
            ok = 0;
        }
    }
    if (ok)
        g->custom_headers = cJSON_Duplicate(headers, 1);
}

static void read_route_prefix(http_state *g, const fnh_config *cfg, const cJSON *prefix)
{
    if (prefix && !cJSON_IsString(prefix)) {
        ERR(cfg, "host.json: extensions.http.routePrefix: must be a string such as \"api\" or "
                 "\"\" (no prefix), not %s",
            fnh__json_type_name(prefix));
        return;
    }
    if (!prefix)
        return;
    const char *s = prefix->valuestring;
    while (*s == '/')
        s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == '/')
        n--;
    char *p = fnh__strndup(s, n);
    if (p) {
        free(g->route_prefix);
        g->route_prefix = p;
    }
}

/* Kestrel's defaults, FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, then host.json
 * extensions.http (which wins). Errors into the init's list. */
static void read_limits(http_state *g, const fnh_config *cfg, const cJSON *http)
{
    g->limits = (fnh__http_limits){
        .max_request_line = 8192,
        .max_header_bytes = 32768,
        .max_headers = 100,
        .max_body = 104857600,
        .headers_timeout_ms = 30000,
        .keepalive_timeout_ms = 130000,
        .min_body_rate = 240,
        .body_grace_ms = 5000,
    };
    fnh__strlist *errs = fnh__config_errors(cfg);
    const char *limit = fnh__app_setting(fnh__config_app(cfg), "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT");
    if (limit) {
        cJSON v = {.type = cJSON_String, .valuestring = (char *)limit};
        if (fnh__json_whole_number(&v, 1, FNH__JSON_MAX_WHOLE, &g->limits.max_body))
            fnh__strlist_addf(errs,
                              "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '%.60s' is not a whole number "
                              "of bytes from 1 to %llu; fix the app setting (local.settings.json "
                              "or the environment), e.g. 104857600",
                              limit, (unsigned long long)FNH__JSON_MAX_WHOLE);
    }
    fnh__json_read_count(errs, "host.json", get_ci(http, "maxRequestBodySize"),
                         "extensions.http.maxRequestBodySize", 1, FNH__JSON_MAX_WHOLE,
                         "104857600 (100 MB)", &g->limits.max_body);
    fnh__json_read_timespan(errs, "host.json", get_ci(http, "requestHeadersTimeout"),
                            "extensions.http.requestHeadersTimeout", 1,
                            &g->limits.headers_timeout_ms);
    fnh__json_read_timespan(errs, "host.json", get_ci(http, "keepAliveTimeout"),
                            "extensions.http.keepAliveTimeout", 1, &g->limits.keepalive_timeout_ms);
    const cJSON *rate = get_ci(http, "minRequestBodyDataRate");
    if (rate && !cJSON_IsObject(rate)) {
        fnh__strlist_addf(errs, "host.json: extensions.http.minRequestBodyDataRate: must be an "
                                "object like {\"bytesPerSecond\": 240, \"gracePeriod\": "
                                "\"00:00:05\"}");
    } else if (rate) {
        fnh__json_read_count(errs, "host.json", get_ci(rate, "bytesPerSecond"),
                             "extensions.http.minRequestBodyDataRate.bytesPerSecond", 0,
                             FNH__JSON_MAX_WHOLE, "240 (0 turns the check off)",
                             &g->limits.min_body_rate);
        fnh__json_read_timespan(errs, "host.json", get_ci(rate, "gracePeriod"),
                                "extensions.http.minRequestBodyDataRate.gracePeriod", 0,
                                &g->limits.body_grace_ms);
    }
}

static void state_free(void *p)
{
    http_state *g = p;
    if (g->router)
        fnh__router_free(g->router);
    cJSON_Delete(g->custom_headers);
    fnh__http_throttle_opts_free(&g->throttle);
    free(g->route_prefix);
    free(g);
}

/* extensions.http (limits, routePrefix, customHeaders, throttles, hsts) into the app's "http" part (its bindings find it as the
 * extension global). */
static int http_init(fnh_ext *ext, const fnh_config *section, void **global)
{
    (void)ext;
    http_state *g = calloc(1, sizeof *g);
    if (!g || !(g->route_prefix = fnh__strdup("api"))) {
        free(g);
        return -ENOMEM;
    }
    g->tail = &g->fns;
    if (fnh__app_part_set(fnh__config_app(section), "http", g, state_free))
        return -ENOMEM;
    *global = g;
    size_t before = fnh__config_errors(section)->len;
    const cJSON *http = fnh__config_cjson(section);
    read_limits(g, section, http);
    read_route_prefix(g, section, get_ci(http, "routePrefix"));
    read_custom_headers(g, section, get_ci(http, "customHeaders"));
    fnh__http_throttle_read(&g->throttle, http, fnh__config_errors(section),
                            &fnh__config_app(section)->warnings);
    return fnh__config_errors(section)->len > before ? -EINVAL : 0;
}

/* ---- bind: httpTrigger ------------------------------------------------------ */

static unsigned read_methods(const fnh_config *cfg, const fnh__function *fn, const char *at)
{
    const cJSON *methods = get_ci(fnh__config_cjson(cfg), "methods");
    if (!methods || cJSON_IsNull(methods))
        return FNH__M_ALL;
    if (!cJSON_IsArray(methods)) {
        ERR(cfg, "%s: %s.methods: must be an array of HTTP methods such as [\"get\", \"post\"]",
            fn->config_file, at);
        return FNH__M_ALL;
    }
    if (cJSON_GetArraySize(methods) == 0)
        return FNH__M_ALL;
    unsigned bits = 0;
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, methods)
    {
        unsigned bit =
            cJSON_IsString(m) ? fnh__method_bit(m->valuestring, strlen(m->valuestring)) : 0;
        if (!bit) {
            char *brief = fnh__json_brief(m);
            ERR(cfg,
                "%s: %s.methods[%d]: %s is not an HTTP method; use one of get, post, put, "
                "delete, head, patch, options, trace",
                fn->config_file, at, i, brief ? brief : "value");
            free(brief);
        }
        bits |= bit;
        i++;
    }
    return bits;
}

/* The trigger's authLevel as an fnh__auth_level (function when absent). */
static int check_auth_level(const fnh_config *cfg, const fnh__function *fn, const char *at)
{
    const cJSON *auth = get_ci(fnh__config_cjson(cfg), "authLevel");
    if (!auth)
        return FNH__AUTH_FUNCTION;
    int level = cJSON_IsString(auth) ? fnh__auth_parse_level(auth->valuestring) : -EINVAL;
    if (level < 0) {
        char *brief = fnh__json_brief(auth);
        ERR(cfg, "%s: %s.authLevel: %s is not an authorization level; use anonymous, function "
                 "or admin",
            fn->config_file, at, brief ? brief : "value");
        free(brief);
    }
    return level;
}

/* The route as given, without leading and trailing '/'; the function's
 * name when absent or empty. malloc'd, NULL on a bad value. */
static char *read_route(const fnh_config *cfg, const fnh__function *fn, const char *at)
{
    const cJSON *route = get_ci(fnh__config_cjson(cfg), "route");
    const char *r = fn->name;
    if (route && !cJSON_IsNull(route)) {
        if (!cJSON_IsString(route)) {
            ERR(cfg, "%s: %s.route: must be a string such as \"products/{id:int}\", not %s",
                fn->config_file, at, fnh__json_type_name(route));
            return NULL;
        }
        r = route->valuestring;
    }
    while (*r == '/')
        r++;
    size_t n = strlen(r);
    while (n && r[n - 1] == '/')
        n--;
    return n ? fnh__strndup(r, n) : fnh__strdup(fn->name);
}

static const char *const trigger_keys[] = {"type", "direction", "name", "dataType", "authLevel",
                                           "methods", "route", "webHookType", NULL};
static const char *const output_keys[] = {"type", "direction", "name", "dataType", NULL};

static int trigger_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    fnh__function *fn = fnh__binding_function(b);
    fnh__binding *model = fnh__binding_model(b);
    char at[32];
    snprintf(at, sizeof at, "bindings[%d]", model->index);
    fnh__app_warn_unknown_keys(fnh__binding_app(b), fn, fnh__config_cjson(cfg), "httpTrigger",
                               trigger_keys, at);
    size_t before = fnh__config_errors(cfg)->len;
    unsigned methods = read_methods(cfg, fn, at);
    int auth_level = check_auth_level(cfg, fn, at);
    char *route = read_route(cfg, fn, at);
    if (fnh__config_errors(cfg)->len > before || !route) {
        free(route);
        return -EINVAL;
    }
    fnh__http_fn *hf = calloc(1, sizeof *hf);
    if (!hf) {
        free(route);
        return -ENOMEM;
    }
    hf->fn = fn;
    hf->b = model;
    hf->methods = methods;
    hf->auth_level = auth_level;
    hf->route = route;
    hf->handle = b;
    for (size_t i = 0; i < fn->nbindings; i++)
        if (fn->bindings[i].type && strcasecmp(fn->bindings[i].type, "http") == 0)
            hf->out = &fn->bindings[i];
    http_state *g = fnh_global(b);
    hf->shared = g;
    *g->tail = hf;
    g->tail = &hf->next;
    *state = hf;
    return 0;
}

static void trigger_unbind(void *state)
{
    fnh__http_fn *hf = state;
    http_state *g = hf->shared;
    for (fnh__http_fn **p = &g->fns; *p; p = &(*p)->next)
        if (*p == hf) {
            *p = hf->next;
            if (g->tail == &hf->next)
                g->tail = p;
            break;
        }
    free(hf->route);
    free(hf->route_full);
    free(hf);
}

static int output_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    (void)state;
    fnh__function *fn = fnh__binding_function(b);
    fnh__binding *model = fnh__binding_model(b);
    char at[32];
    snprintf(at, sizeof at, "bindings[%d]", model->index);
    fnh__app_warn_unknown_keys(fnh__binding_app(b), fn, fnh__config_cjson(cfg), "http",
                               output_keys, at);
    for (size_t i = 0; i < fn->nbindings; i++) {
        fnh__binding *o = &fn->bindings[i];
        if (o != model && o->type && strcasecmp(o->type, "http") == 0 && o->index < model->index) {
            ERR(cfg, "%s: %s: only one \"http\" output binding is allowed", fn->config_file, at);
            return -EINVAL;
        }
    }
    if (!fn->trigger || strcasecmp(fn->trigger->type, "httpTrigger") != 0) {
        ERR(cfg, "%s: %s: an \"http\" output needs an \"httpTrigger\" trigger", fn->config_file,
            at);
        return -EINVAL;
    }
    return 0;
}

/* The trigger's manual run (admin API): a synthetic POST to the function's
 * route with input as its body, answered to no one. */
static int trigger_invoke(void *state, const fnh_value *input)
{
    fnh__http_fn *hf = state;
    fnh__invocation *inv = fnh__invocation_new(fnh__binding_app(hf->handle), hf->fn,
                                               FNH__REASON_HOST_API);
    const char *ctype = input->content_type ? input->content_type : "text/plain";
    char *target = fnh__asprintf("/%s", hf->route_full ? hf->route_full : hf->route);
    char *hs = fnh__asprintf("Content-Type%c%s", '\0', ctype);
    fnh__http_req *r = NULL;
    if (target && hs) { /* the route as it is written: its path, no query */
        fnh__http_target parts = {target, strlen(target), "", 0};
        fnh__http_req_new("POST", target, &parts, hs, strlen("Content-Type") + strlen(ctype) + 2,
                          1, &r);
    }
    free(target);
    free(hs);
    int rc = r ? fnh__buf_append(&r->body, input->data ? input->data : "", input->len) : -ENOMEM;
    if (!inv || rc || fnh__input_set_http(inv, r, NULL, 0)) {
        if (!inv || !r || rc)
            fnh__http_req_free(r);
        fnh__invocation_free(inv);
        return -ENOMEM;
    }
    inv->token = hf;
    fnh__dispatch(inv);
    return 0;
}


static const fnh_trigger_type http_trigger_type = {
    .size = sizeof(fnh_trigger_type),
    .type = "httpTrigger",
    .bind = trigger_bind,
    .unbind = trigger_unbind,
    .invoke = trigger_invoke,
    /* as Azure's host retries them (its CustomHandlerRetry sample): the
     * caller gets the last try's response */
    .flags = FNH_TRIGGER_RETRIES,
};

static const fnh_binding_type http_output_type = {
    .size = sizeof(fnh_binding_type),
    .type = "http",
    .directions = FNH_OUT,
    .bind = output_bind,
};

static const fnh_trigger_type *const triggers[] = {&http_trigger_type, NULL};
static const fnh_binding_type *const bindings[] = {&http_output_type, NULL};

const fnh_extension_def fnh__http_extension = {
    FNH_EXTENSION_HEAD,
    .name = "http",
    .version = FNH_VERSION,
    .init = http_init,
    .triggers = triggers,
    .bindings = bindings,
};

/* ---- the route table ------------------------------------------------------- */

const char *fnh__http_route_prefix(const fnh__app *app)
{
    const http_state *g = state_of(app);
    return g && g->route_prefix ? g->route_prefix : "api";
}

fnh__http_limits *fnh__http_limits_of(fnh__app *app)
{
    static fnh__http_limits none; /* no HTTP part: nothing to serve */
    http_state *g = state_of(app);
    return g ? &g->limits : &none;
}

const cJSON *fnh__http_custom_headers(const fnh__app *app)
{
    const http_state *g = state_of(app);
    return g ? g->custom_headers : NULL;
}

const fnh__http_throttle_opts *fnh__http_throttle_of(const fnh__app *app)
{
    const http_state *g = state_of(app);
    return g ? &g->throttle : NULL;
}

const fnh__http_fn *fnh__http_fn_of(const fnh__function *fn)
{
    if (!fn || !fn->trigger || !fn->trigger->ext_handle ||
        strcasecmp(fn->trigger->type, "httpTrigger") != 0)
        return NULL;
    return fnh__binding_state(fn->trigger->ext_handle);
}

static void overlap_cb(void *a, void *b, const char *example, void *arg)
{
    fnh__app *app = arg;
    fnh__http_fn *fa = a, *fb = b;
    if (fa->fn == fb->fn)
        return;
    fnh__strlist_addf(&app->warnings,
                      "Routes '%s' (function '%s') and '%s' (function '%s') can match the same "
                      "path%s%s%s; the more specific one wins (see 'fnhost routes --match')",
                      fa->route_full, fa->fn->name, fb->route_full, fb->fn->name,
                      example ? ", e.g. '/" : "", example ? example : "", example ? "'" : "");
}

/* The routes routed so far, by their case-insensitive text (open
 * addressing; several share a text when their methods differ). */
typedef struct routed_set {
    const fnh__http_fn **slots;
    size_t mask;
} routed_set;

static size_t route_hash(const char *route)
{
    size_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)route; *p; p++)
        h = (h ^ (size_t)tolower(*p)) * 1099511628211ull;
    return h;
}

/* A route's problem before parsing: reserved, or another function's (one
 * routed before it, in done). */
static int route_conflicts(const routed_set *done, fnh__http_fn *hf)
{
    fnh__function *fn = hf->fn;
    int reserved = strncasecmp(hf->route, "admin", 5) == 0 ||
                   strncasecmp(hf->route, "runtime", 7) == 0;
    if (reserved) {
        fnh__strlist_addf(&fn->errors,
                          "%s: bindings[%d].route: '%s' conflicts with the host's built-in routes "
                          "(admin/..., runtime/...); choose a route that does not start with "
                          "'admin' or 'runtime'",
                          fn->config_file, hf->b->index, hf->route);
        return 1;
    }
    for (size_t i = route_hash(hf->route) & done->mask; done->slots[i]; i = (i + 1) & done->mask) {
        const fnh__http_fn *o = done->slots[i];
        if (strcasecmp(o->route, hf->route) == 0 && (o->methods & hf->methods)) {
            fnh__strlist_addf(&fn->errors,
                              "%s: bindings[%d].route: '%s' conflicts with the route of function "
                              "'%s' for the same methods; change one route or split the methods",
                              fn->config_file, hf->b->index, hf->route, o->fn->name);
            return 1;
        }
    }
    return 0;
}

static void routed_add(routed_set *done, const fnh__http_fn *hf)
{
    size_t i = route_hash(hf->route) & done->mask;
    while (done->slots[i])
        i = (i + 1) & done->mask;
    done->slots[i] = hf;
}

static void build_router(fnh__app *app, http_state *g);

fnh__router *fnh__http_router(fnh__app *app)
{
    http_state *g = state_of(app);
    if (!g)
        return NULL;
    if (!g->routed)
        build_router(app, g);
    return g->router;
}

/* Builds g's route table (once: g->routed is set), leaving g->router NULL
 * when out of memory. Not inlined: every request asks for the table, and
 * only the first one needs this frame. */
static __attribute__((noinline)) void build_router(fnh__app *app, http_state *g)
{
    g->routed = 1;
    size_t n = 0, cap = 16;
    for (const fnh__http_fn *hf = g->fns; hf; hf = hf->next)
        n++;
    while (cap < 2 * n)
        cap *= 2;
    routed_set done = {calloc(cap, sizeof *done.slots), cap - 1};
    g->router = done.slots ? fnh__router_new() : NULL;
    if (!g->router) {
        free(done.slots);
        return;
    }
    const char *prefix = fnh__http_route_prefix(app);
    for (fnh__http_fn *hf = g->fns; hf; hf = hf->next) {
        fnh__function *fn = hf->fn;
        if (!fnh__function_ok(fn) || route_conflicts(&done, hf))
            continue;
        hf->route_full = *prefix ? fnh__asprintf("%s/%s", prefix, hf->route)
                                 : fnh__strdup(hf->route);
        fnh__route *r = NULL;
        char *err = NULL;
        if (!hf->route_full || fnh__route_parse(hf->route_full, &r, &err)) {
            fnh__strlist_addf(&fn->errors, "%s: bindings[%d].route: %s", fn->config_file,
                              hf->b->index, err ? err : "invalid route template");
            free(err);
            continue;
        }
        /* a disabled function stays routed: Azure answers its admin callers
         * (every caller while authorization is off) and 404 to the rest */
        fnh__router_add(g->router, r, hf->methods, hf);
        routed_add(&done, hf);
    }
    free(done.slots);
    fnh__router_finalize(g->router);
    fnh__router_overlaps(g->router, overlap_cb, app);
}
