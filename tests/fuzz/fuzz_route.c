/* fuzz_route.c: libFuzzer target for route templates (http_router.c). Input:
 * lines; one starting with '/' is a request path, any other a template (up
 * to 8 of each). The precedence tree (finalized router) and a full scan
 * (unfinalized router) must pick the same route with the same values, and
 * every overlap example must match both of its routes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "http_router.h"

#define MAX_ROUTES 8
#define MAX_PATHS 8

static const unsigned methods_of[3] = {FNH__M_ALL, FNH__M_GET | FNH__M_POST, FNH__M_GET};
static const unsigned probe[] = {FNH__M_GET, FNH__M_POST, FNH__M_DELETE};

typedef struct ov_ctx {
    fnh__router *one[MAX_ROUTES]; /* a router holding route i alone */
} ov_ctx;

static void fail(const char *what, const char *path)
{
    fprintf(stderr, "fuzz_route: %s (path '%s')\n", what, path ? path : "");
    abort();
}

static void overlap_cb(void *a, void *b, const char *example, void *arg)
{
    ov_ctx *o = arg;
    if (!example)
        return;
    size_t n = strlen(example);
    char *p = malloc(n + 2);
    p[0] = '/';
    memcpy(p + 1, example, n + 1);
    for (int k = 0; k < 2; k++) {
        size_t i = (uintptr_t)(k ? b : a) - 1;
        fnh__route_match m = {0};
        int rc = fnh__router_match(o->one[i], FNH__M_GET, p, n + 1, &m);
        /* -ERANGE: a regex constraint gave up (its limits), a defined answer */
        if (rc != 1 && rc != -ERANGE)
            fail("an overlap example does not match one of its routes", p);
        fnh__route_match_clear(&m);
    }
    free(p);
}

static int same_values(const fnh__route_match *x, const fnh__route_match *y)
{
    if (x->target != y->target || x->nparams != y->nparams)
        return 0;
    for (size_t i = 0; i < x->nparams; i++) {
        const char *u = x->params[i].value, *v = y->params[i].value;
        if (strcmp(x->params[i].name, y->params[i].name) != 0 || (!u) != (!v) ||
            (u && strcmp(u, v) != 0))
            return 0;
    }
    return 1;
}

static fnh__route *parse(const char *tmpl)
{
    fnh__route *r = NULL;
    char *err = NULL;
    int rc = fnh__route_parse(tmpl, &r, &err);
    if (rc == 0) {
        if (!r || err)
            fail("parse succeeded without a route or with a message", tmpl);
        size_t n = strlen(fnh__route_template(r));
        for (size_t i = 0; i < fnh__route_param_count(r); i++)
            n += strlen(fnh__route_param_name(r, i));
        (void)n;
        return r;
    }
    if (rc == -EINVAL && (!err || !*err))
        fail("parse failed without a message", tmpl);
    free(err);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    char *tmpl[MAX_ROUTES], *path[MAX_PATHS];
    size_t nt = 0, np = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] == '/' && np < MAX_PATHS)
            path[np++] = line;
        else if (line[0] != '/' && nt < MAX_ROUTES)
            tmpl[nt++] = line;
    }
    fnh__router *tree = fnh__router_new(), *scan = fnh__router_new();
    ov_ctx o = {{0}};
    size_t nr = 0;
    for (size_t i = 0; i < nt; i++) {
        fnh__route *r = parse(tmpl[i]);
        if (!r)
            continue;
        void *target = (void *)(uintptr_t)(nr + 1);
        unsigned m = methods_of[i % 3];
        fnh__router_add(tree, r, m, target);
        fnh__router_add(scan, parse(tmpl[i]), m, target);
        o.one[nr] = fnh__router_new();
        fnh__router_add(o.one[nr], parse(tmpl[i]), FNH__M_ALL, target);
        fnh__router_finalize(o.one[nr]);
        nr++;
    }
    fnh__router_finalize(tree);
    fnh__router_overlaps(tree, overlap_cb, &o);
    for (size_t i = 0; i < np; i++)
        for (size_t k = 0; k < sizeof probe / sizeof *probe; k++) {
            fnh__route_match a = {0}, b = {0};
            size_t len = strlen(path[i]);
            int ra = fnh__router_match(tree, probe[k], path[i], len, &a);
            int rb = fnh__router_match(scan, probe[k], path[i], len, &b);
            if ((ra < 0 && ra != -ERANGE) || (rb < 0 && rb != -ERANGE))
                fail("match failed", path[i]);
            /* a regex that gave up answers 500 for its route; which route
             * tried it first may differ between the two, so skip the path */
            if (ra != -ERANGE && rb != -ERANGE &&
                (ra != rb || (ra == 1 && !same_values(&a, &b))))
                fail("the precedence tree and the full scan disagree", path[i]);
            fnh__route_match_clear(&a);
            fnh__route_match_clear(&b);
        }
    for (size_t i = 0; i < nr; i++)
        fnh__router_free(o.one[i]);
    fnh__router_free(tree);
    fnh__router_free(scan);
    free(text);
    return 0;
}
