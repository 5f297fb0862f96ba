/* http_binding.h: the built-in "httpTrigger" and "http" binding types,
 * registered like an extension's (fnh__http_extension): init reads
 * host.json extensions.http (routePrefix, customHeaders, throttles, hsts), bind validates a
 * function's trigger (methods, authLevel, route) and its "http" output, and
 * the route table is built from the bound triggers; init also reads the
 * server's limits. All of it is the app's "http" part. Loop (main) thread. */
#ifndef FNH_HTTP_BINDING_H
#define FNH_HTTP_BINDING_H

#include "fnhost/extension.h"

#include "app.h"
#include "http_router.h"

/* One function's HTTP trigger, as bound. */
typedef struct fnh__http_fn {
    fnh__function *fn;
    fnh__binding *b;      /* the httpTrigger binding */
    fnh__binding *out;    /* its "http" output binding, or NULL */
    unsigned methods;     /* FNH__M_* bits; FNH__M_ALL when not restricted */
    int auth_level;       /* authLevel as an fnh__auth_level (function by default) */
    char *route;          /* as given (or the function name) */
    char *route_full;     /* with the route prefix, as mapped; NULL until routed */
    struct fnh_binding *handle;
    struct http_state *shared; /* the app's "http" part it is listed in */
    struct fnh__http_fn *next;
} fnh__http_fn;

extern const fnh_extension_def fnh__http_extension;

/* app's extensions.http.routePrefix ("api" by default; "" for none). Borrowed. */
const char *fnh__http_route_prefix(const fnh__app *app);
/* app's server limits (extensions.http, FUNCTIONS_REQUEST_BODY_SIZE_LIMIT):
 * Kestrel's defaults unless set. Borrowed; the app's until it is freed. */
fnh__http_limits *fnh__http_limits_of(fnh__app *app);
/* app's extensions.http.customHeaders (a JSON object) or NULL. Borrowed. */
const struct cJSON *fnh__http_custom_headers(const fnh__app *app);
/* A route target's function name and authLevel (fnh__auth_level). */
static inline const char *fnh__http_fn_name(const void *target)
{
    return ((const fnh__http_fn *)target)->fn->name;
}
static inline int fnh__http_fn_auth(const void *target)
{
    return ((const fnh__http_fn *)target)->auth_level;
}
/* 1 when the target's function is disabled. */
static inline int fnh__http_fn_disabled(const void *target)
{
    return ((const fnh__http_fn *)target)->fn->disabled;
}
/* app's extensions.http throttles and HSTS (http_throttle.h), or NULL when
 * app has no HTTP part. Borrowed; the app's until it is freed. */
const struct fnh__http_throttle_opts *fnh__http_throttle_of(const fnh__app *app);
/* The HTTP trigger of fn, or NULL when fn is not HTTP-triggered. */
const fnh__http_fn *fnh__http_fn_of(const fnh__function *fn);
/* The route table of app's bound HTTP functions, built on first use after
 * every binding was bound: route conflicts become errors of the functions,
 * overlaps warnings of app. NULL when out of memory or app has none. */
fnh__router *fnh__http_router(fnh__app *app);

#endif
