/* http_trigger.c: the HTTP front door and HTTP-triggered invocations: the
 * admin API (through the host's handler), the home page, CORS, then the
 * route table (http_binding.c); a request becomes an invocation of the
 * function whose route matches (most specific first), and the invocation's
 * "http" output (or $return) the response: no output gives 204, a failed
 * function 500. Also the trigger's manual run (a synthetic POST). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "dispatch.h"
#include "host.h"
#include "http_binding.h"
#include "http_throttle.h"
#include "log.h"
#include "settings.h"

/* CORS (local.settings.json Host.CORS): the matching origin, or NULL. */
static const char *cors_origin(const fnh__app *app, const fnh__http_req *req)
{
    const char *origin = app->cors ? fnh__http_req_header(req, "Origin") : NULL;
    if (!origin)
        return NULL;
    const char *p = app->cors;
    size_t olen = strlen(origin);
    while (*p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if ((n == 1 && *p == '*') || (n == olen && strncasecmp(p, origin, n) == 0))
            return (n == 1 && *p == '*' && !app->cors_credentials) ? "*" : origin;
        if (!c)
            break;
        p = c + 1;
    }
    return NULL;
}

/* Response headers being gathered; start with `hdrs h; h.n = 0;` (an
 * initialiser would clear all 64 slots on every response). */
typedef struct hdrs {
    fnh_kv kv[64];
    size_t n;
} hdrs;

static void add_header(hdrs *h, const char *k, const char *v)
{
    if (h->n < sizeof h->kv / sizeof *h->kv)
        h->kv[h->n++] = (fnh_kv){k, v};
}

static void add_host_headers(const fnh__app *app, const fnh__http_req *req, hdrs *h)
{
    const cJSON *custom = fnh__http_custom_headers(app);
    if (custom) {
        const cJSON *c;
        cJSON_ArrayForEach(c, custom) add_header(h, c->string, c->valuestring);
    }
    const char *hsts = fnh__http_hsts_value(fnh__http_throttle_of(app), req);
    if (hsts)
        add_header(h, "Strict-Transport-Security", hsts);
    const char *origin = req && app->cors ? cors_origin(app, req) : NULL; /* most have none */
    if (origin) {
        add_header(h, "Access-Control-Allow-Origin", origin);
        if (app->cors_credentials)
            add_header(h, "Access-Control-Allow-Credentials", "true");
        if (strcmp(origin, "*") != 0)
            add_header(h, "Vary", "Origin");
    }
}

static void complete_http(fnh__invocation *inv)
{
    fnh__http_exchange *x = inv->owner;
    const fnh__http_fn *hf = inv->token;
    hdrs h;
    h.n = 0;
    if (fnh__invocation_status(inv) != 0) {
        add_host_headers(inv->app, inv->in.http, &h);
        fnh__http_response r = {.status = 500, .headers = h.kv, .nheaders = h.n};
        fnh__http_respond(x, &r);
        return;
    }
    fnh__output *o = NULL;
    if (hf && hf->out)
        o = fnh__invocation_output(inv, hf->out->name);
    if (!o || !o->set)
        o = fnh__invocation_output(inv, "$return");
    if (!o || !o->set || o->status < 0) { /* nothing set, or a status refused */
        add_host_headers(inv->app, inv->in.http, &h);
        fnh__http_response r = {.status = o && o->set ? 500 : 204, .headers = h.kv,
                                .nheaders = h.n};
        fnh__http_respond(x, &r);
        return;
    }
    for (size_t i = 0; i < o->nheaders; i++)
        add_header(&h, o->headers[i].key, o->headers[i].value);
    add_host_headers(inv->app, inv->in.http, &h);
    const char *ctype = o->content_type;
    if (!ctype && o->body.len)
        ctype = "text/plain; charset=utf-8";
    fnh__http_response r = {.status = o->status ? o->status : 200,
                            .headers = h.kv,
                            .nheaders = h.n,
                            .content_type = ctype,
                            .body = o->body.data,
                            .len = o->body.len};
    fnh__http_respond(x, &r);
}

static void home_page(fnh__host *h, fnh__http_exchange *x)
{
    if (fnh__truthy(fnh__app_setting(h->app, "AzureWebJobsDisableHomepage"))) {
        fnh__http_respond_simple(x, 204, NULL, NULL, 0);
        return;
    }
    (void)h;
    static const char page[] =
        "<!DOCTYPE html><html><head><title>fnhost</title></head><body>"
        "<h1>Your Functions 2.0 app is up and running</h1>"
        "<p>Served by fnhost. See <a href=\"/admin/functions\">/admin/functions</a>.</p>"
        "</body></html>";
    fnh__http_respond_simple(x, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}

/* Answers status with the host's headers (custom headers, CORS) and no
 * body; frees req. */
static void answer_plain(fnh__app *app, fnh__http_exchange *x, fnh__http_req *req, int status)
{
    hdrs hh;
    hh.n = 0;
    add_host_headers(app, req, &hh);
    fnh__http_response r = {.status = status, .headers = hh.kv, .nheaders = hh.n};
    fnh__http_respond(x, &r);
    fnh__http_req_free(req);
}

/* A CORS preflight for an allowed origin: 204 with the allowed method and
 * headers. Returns 1 when req was one (and was answered). */
static int cors_preflight(fnh__app *app, fnh__http_exchange *x, fnh__http_req *req)
{
    const char *preflight = req->method == FNH__M_OPTIONS
                                ? fnh__http_req_header(req, "Access-Control-Request-Method")
                                : NULL;
    if (!preflight || !cors_origin(app, req))
        return 0;
    hdrs hh;
    hh.n = 0;
    add_host_headers(app, req, &hh);
    add_header(&hh, "Access-Control-Allow-Methods", preflight);
    const char *rh = fnh__http_req_header(req, "Access-Control-Request-Headers");
    if (rh)
        add_header(&hh, "Access-Control-Allow-Headers", rh);
    fnh__http_response r = {.status = 204, .headers = hh.kv, .nheaders = hh.n};
    fnh__http_respond(x, &r);
    fnh__http_req_free(req);
    return 1;
}

/* A regex constraint gave up on the path: 500, as ASP.NET answers a regex
 * constraint's timeout, and the log says which. */
static void regex_gave_up(fnh__app *app, fnh__http_exchange *x, fnh__http_req *req,
                          fnh__route_match *m)
{
    const fnh__function *gf = ((const fnh__http_fn *)m->target)->fn;
    fnh__log(gf->log_category ? gf->log_category : "Function", FNH_LOG_ERROR,
             "Function '%s': the regex constraint of parameter '%s' in route '%s' gave up "
             "on a %zu-byte path (it backtracks past PCRE2's limits); answering 500. "
             "Simplify the pattern: avoid nested repetition such as (\\w+\\s?)+",
             gf->name, m->gave_up, fnh__route_template(m->route), req->path_raw_len);
    answer_plain(app, x, req, 500);
}

/* Runs inv now, queues it under extensions.http's throttles, or answers
 * 429 (as Azure: no body) when maxOutstandingRequests is reached. */
static void admit(fnh__app *app, fnh__invocation *inv)
{
    const fnh__http_throttle_opts *t = fnh__http_throttle_of(app);
    if (!t) {
        fnh__dispatch(inv);
        return;
    }
    if (fnh__http_throttle_admit(t, inv) != -EBUSY)
        return;
    hdrs hh;
    hh.n = 0;
    add_host_headers(app, inv->in.http, &hh);
    fnh__http_response r = {.status = 429, .headers = hh.kv, .nheaders = hh.n};
    fnh__http_respond(inv->owner, &r);
    fnh__invocation_free(inv);
}

/* Starts the invocation of the matched function; takes req and m. */
static void invoke_route(fnh__app *app, fnh__http_exchange *x, fnh__http_req *req,
                         fnh__route_match *m)
{
    fnh__http_fn *hf = m->target;
    fnh__function *fn = hf->fn;
    fnh__invocation *inv = fnh__function_ok(fn) ? fnh__invocation_new(app, fn, FNH__REASON_HOST_API)
                                                : NULL;
    fnh_kv stack[16], *params = m->nparams <= 16 ? stack : calloc(m->nparams, sizeof *params);
    for (size_t i = 0; params && i < m->nparams; i++)
        params[i] = (fnh_kv){m->params[i].name, m->params[i].value};
    int rc = inv ? fnh__input_set_http(inv, req, params, params ? m->nparams : 0) : -ENOENT;
    if (!rc && !params)
        rc = -ENOMEM;
    if (params != stack)
        free(params);
    fnh__route_match_clear(m);
    if (rc) { /* in error after routing (an extension refused it): 404; else 503 */
        if (!inv)
            fnh__http_req_free(req);
        fnh__invocation_free(inv);
        fnh__http_respond_simple(x, rc == -ENOENT ? 404 : 503, NULL, NULL, 0);
        return;
    }
    inv->owner = x;
    inv->token = hf;
    inv->complete = complete_http;
    admit(app, inv);
}

void fnh__http_trigger_handle(void *arg, fnh__http_exchange *x, fnh__http_req *req)
{
    fnh__host *h = arg;
    fnh__app *app = h->app;
    if (h->admin && h->admin(h, x, req))
        return;
    if (h->offline_html) { /* app_offline.htm: offline, as Azure answers */
        fnh__http_respond_simple(x, 503, "text/html", h->offline_html, h->offline_len);
        fnh__http_req_free(req);
        return;
    }
    if (!app->nfunctions && h->state && strcmp(h->state, "Running") != 0) {
        /* shutting down: the app was swapped for an empty one */
        fnh__http_respond_simple(x, 503, NULL, NULL, 0);
        fnh__http_req_free(req);
        return;
    }
    if (strcmp(req->path_raw, "/") == 0 && (req->method & (FNH__M_GET | FNH__M_HEAD))) {
        home_page(h, x);
        fnh__http_req_free(req);
        return;
    }
    if (cors_preflight(app, x, req))
        return;
    fnh__route_match m; /* filled by fnh__router_match (large: not zeroed here) */
    fnh__router *router = fnh__http_router(app);
    int found = req->method && router ? fnh__router_match(router, req->method, req->path_raw,
                                                          req->path_raw_len, &m)
                                      : 0;
    if (found == -ERANGE) {
        regex_gave_up(app, x, req, &m);
    } else if (found != 1) {
        answer_plain(app, x, req, 404);
    } else if (fnh__http_fn_disabled(m.target) && h->auth &&
               fnh__auth_request_level(h->secrets, fnh__http_fn_name(m.target), req) !=
                   FNH__AUTH_ADMIN) {
        /* disabled: only admin callers (all of them while authorization is
         * off, as in Core Tools) reach it; the rest get 404, as on Azure */
        fnh__route_match_clear(&m);
        answer_plain(app, x, req, 404);
    } else if (h->auth && !fnh__auth_request_passes(h->secrets, fnh__http_fn_name(m.target),
                                                    fnh__http_fn_auth(m.target), req)) {
        fnh__route_match_clear(&m); /* --enable-auth: no key that passes authLevel */
        answer_plain(app, x, req, 401);
    } else {
        invoke_route(app, x, req, &m);
    }
}
