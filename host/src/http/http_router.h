/* http_router.h: ASP.NET Core route templates (parse, constraints, precedence)
 * and the router that maps (method, raw path) to a registered target.
 * Private to the host; loop thread only (the router is read-only after
 * fnh__router_finalize and may then be read from any thread). */
#ifndef FNH_HTTP_ROUTER_H
#define FNH_HTTP_ROUTER_H

#include <stddef.h>

#include "http_types.h"

typedef struct fnh__route fnh__route;
typedef struct fnh__router fnh__router;

/* Parses an ASP.NET Core route template (already joined with the route prefix,
 * e.g. "api/products/{category:alpha}/{id:int?}"). Leading/trailing '/' are
 * ignored. On success returns 0 and a new route in *out (caller owns; free
 * with fnh__route_free or hand to fnh__router_add). On failure returns -EINVAL
 * and *err = malloc'd sentence without file prefix, e.g.
 * "the catch-all parameter '{*rest}' must be the last segment" (caller frees). */
int fnh__route_parse(const char *tmpl, fnh__route **out, char **err);
void fnh__route_free(fnh__route *r);
/* The template as given (borrowed, lives as long as the route). */
const char *fnh__route_template(const fnh__route *r);
/* Number of parameters and the name of the i-th (borrowed). */
size_t fnh__route_param_count(const fnh__route *r);
const char *fnh__route_param_name(const fnh__route *r, size_t i);

/* A router. add() takes ownership of `route`; `target` is opaque to the
 * router. Returns 0 or -ENOMEM. */
fnh__router *fnh__router_new(void);
int fnh__router_add(fnh__router *rt, fnh__route *route, unsigned methods, void *target);
/* Orders routes by precedence (most specific first, independent of the order
 * of add). Must be called once after the last add and before match. */
void fnh__router_finalize(fnh__router *rt);
void fnh__router_free(fnh__router *rt);

/* For every pair of routes whose method sets intersect and that can match
 * the same path, calls cb(a_target, b_target, example_path, arg), where
 * example_path is a path both match if one could be built, else NULL. */
void fnh__router_overlaps(const fnh__router *rt,
                          void (*cb)(void *a, void *b, const char *example, void *arg),
                          void *arg);

typedef struct fnh__route_param {
    const char *name; /* borrowed from the route */
    char *value;      /* decoded, in the params block; NULL for an absent optional param */
} fnh__route_param;

typedef struct fnh__route_match {
    void *target;
    const fnh__route *route;
    size_t nparams;
    /* one per route parameter, then the values: in small when they fit,
     * else a malloc'd block (a match is not copied: params may point into it) */
    fnh__route_param *params;
    const char *gave_up;      /* after -ERANGE: the parameter (borrowed) */
    _Alignas(fnh__route_param) char small[256];
} fnh__route_match;

/* Matches `method` (one FNH__M_* bit) and the raw (still percent-encoded)
 * request path (starting with '/', no query string). Returns 1 and fills *m
 * (release with fnh__route_match_clear) on a match, 0 when nothing matches,
 * -ENOMEM, or -ERANGE when a regex constraint gave up on the value (PCRE2's
 * match, depth or heap limit: the pattern backtracks too much on it); *m then
 * names the route, its target and the parameter (m->gave_up). Literals
 * match case-insensitively; parameter values keep their case and are
 * percent-decoded per segment after the split, except that, as in Kestrel
 * and ASP.NET Core, "%2F" stays encoded (it never splits a segment and the
 * value keeps "%2F"); absent optional parameters have value NULL (a default
 * gives its default). */
int fnh__router_match(const fnh__router *rt, unsigned method, const char *path, size_t len,
                      fnh__route_match *m);
void fnh__route_match_clear(fnh__route_match *m);

/* Iterates routes in precedence order: returns the i-th route/methods/target
 * or 0 past the end. */
int fnh__router_at(const fnh__router *rt, size_t i, const fnh__route **route,
                   unsigned *methods, void **target);

#endif
