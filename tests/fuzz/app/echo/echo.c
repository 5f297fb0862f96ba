/* echo.c: the function of the HTTP fuzz target's app: reads every part of the
 * request through the function API and answers with it, obeying query
 * controls that reach the host's response code: status=N, header=K:V,
 * ctype=TYPE, fail=1 (500), noresp=1 (204), ret=1 ($return), setting=NAME.
 * It never sleeps or blocks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fnhost/function.h>

#ifdef ECHO_INLINE
FNH_FUNCTION_MODULE(FNH_FN_NONBLOCKING);
#else
FNH_FUNCTION_MODULE(0);
#endif

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void jstr(sbuf *b, const char *s, size_t n)
{
    if (!s) {
        puts_(b, "null");
        return;
    }
    puts_(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            put(b, tmp, 2);
        } else if (c < 0x20) {
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            puts_(b, tmp);
        } else {
            put(b, (const char *)&s[i], 1);
        }
    }
    puts_(b, "\"");
}

static void group(sbuf *b, fnh_ctx *ctx, const char *name)
{
    jstr(b, name, strlen(name));
    puts_(b, ":{");
    fnh_kv kv;
    for (size_t i = 0; fnh_input_meta_at(ctx, "req", name, i, &kv) == 0; i++) {
        if (i)
            puts_(b, ",");
        jstr(b, kv.key, strlen(kv.key));
        puts_(b, ":");
        jstr(b, kv.value, kv.value ? strlen(kv.value) : 0);
        /* the single-key lookups must agree with the listing */
        char key[300];
        snprintf(key, sizeof key, "%s.%s", name, kv.key);
        fnh_input_meta(ctx, "req", key);
    }
    puts_(b, "}");
}

FNH_EXPORT int run(fnh_ctx *ctx)
{
    const char *v;
    const char *out = fnh_input_meta(ctx, "req", "query.ret") ? "$return" : "res";
    if (fnh_input_meta(ctx, "req", "query.fail"))
        return -EIO;
    if (fnh_input_meta(ctx, "req", "query.noresp"))
        return 0;
    if ((v = fnh_input_meta(ctx, "req", "query.status")))
        fnh_output_meta(ctx, out, "status", v);
    if ((v = fnh_input_meta(ctx, "req", "query.header"))) {
        char key[256];
        const char *colon = strchr(v, ':');
        if (colon && (size_t)(colon - v) < sizeof key - 9) {
            snprintf(key, sizeof key, "headers.%.*s", (int)(colon - v), v);
            fnh_output_meta(ctx, out, key, colon + 1);
        }
    }
    const char *ctype = fnh_input_meta(ctx, "req", "query.ctype");
    if ((v = fnh_input_meta(ctx, "req", "query.setting"))) {
        const char *s = fnh_setting(ctx, v);
        fnh_value val = {s ? s : "(unset)", s ? strlen(s) : 7, ctype};
        return fnh_output(ctx, out, &val);
    }
    sbuf b = {0};
    fnh_value body = {0};
    fnh_input(ctx, "req", &body);
    puts_(&b, "{\"method\":");
    v = fnh_input_meta(ctx, "req", "method");
    jstr(&b, v, v ? strlen(v) : 0);
    static const char *const keys[] = {"url", "path", "query"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        puts_(&b, ",\"");
        puts_(&b, keys[i]);
        puts_(&b, "\":");
        v = fnh_input_meta(ctx, "req", keys[i]);
        jstr(&b, v, v ? strlen(v) : 0);
    }
    puts_(&b, ",");
    group(&b, ctx, "query");
    puts_(&b, ",");
    group(&b, ctx, "headers");
    puts_(&b, ",");
    group(&b, ctx, "params");
    puts_(&b, ",\"body\":");
    jstr(&b, body.data, body.len);
    puts_(&b, ",\"contentType\":");
    jstr(&b, body.content_type, body.content_type ? strlen(body.content_type) : 0);
    puts_(&b, ",\"id\":");
    v = fnh_invocation_id(ctx);
    jstr(&b, v, strlen(v));
    puts_(&b, "}");
    fnh_value val = {b.p, b.len, ctype ? ctype : "application/json"};
    int rc = fnh_output(ctx, out, &val);
    free(b.p);
    return rc;
}
