/* routeinfo.c: the sample's one native function, shared by every function
 * in samples/http-routes. It answers with the route values it was given,
 * as JSON: {"path": "/api/...", "params": {"id": "42", ...}}; an optional
 * value that is absent is null. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(FNH_FN_NONBLOCKING);

/* A growing output buffer; ok turns 0 when memory runs out. */
typedef struct out {
    char *data;
    size_t len, cap;
    int ok;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (!o->ok)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *p = realloc(o->data, cap);
        if (!p) {
            o->ok = 0;
            return;
        }
        o->data = p;
        o->cap = cap;
    }
    memcpy(o->data + o->len, s, n);
    o->len += n;
}

static void raw(out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* s as a JSON string (quoted and escaped), or null. */
static void str(out *o, const char *s)
{
    if (!s) {
        raw(o, "null");
        return;
    }
    raw(o, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(o, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            raw(o, esc);
        } else {
            put(o, s, 1);
        }
    }
    raw(o, "\"");
}

FNH_EXPORT int run(fnh_ctx *ctx)
{
    out o = {.ok = 1};
    raw(&o, "{\"path\":");
    str(&o, fnh_input_meta(ctx, "req", "path"));
    raw(&o, ",\"params\":{");
    fnh_kv kv;
    for (size_t i = 0; fnh_input_meta_at(ctx, "req", "params", i, &kv) == 0; i++) {
        if (i)
            raw(&o, ",");
        str(&o, kv.key);
        raw(&o, ":");
        str(&o, kv.value);
    }
    raw(&o, "}}");
    int rc = -ENOMEM;
    if (o.ok) {
        fnh_value v = {o.data, o.len, "application/json"};
        rc = fnh_output(ctx, "res", &v);
    }
    free(o.data);
    return rc;
}
