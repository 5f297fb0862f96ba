/* routeinfo.c: the sample's one native function, shared by every function
 * in samples/http-routes. It answers with the route values it was given,
 * as JSON: {"function": "...", "params": {"id": "42", ...}}. */
#include <stdio.h>
#include <string.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(FNH_FN_NONBLOCKING);

static size_t append(char *out, size_t at, size_t cap, const char *s, int quote)
{
    if (quote && at < cap)
        out[at++] = '"';
    for (; s && *s && at + 2 < cap; s++) {
        if (*s == '"' || *s == '\\')
            out[at++] = '\\';
        out[at++] = *s;
    }
    if (quote && at < cap)
        out[at++] = '"';
    return at;
}

FNH_EXPORT int run(fnh_ctx *ctx)
{
    char out[2048];
    size_t n = append(out, 0, sizeof out, "{\"path\":", 0);
    n = append(out, n, sizeof out, fnh_input_meta(ctx, "req", "path"), 1);
    n = append(out, n, sizeof out, ",\"params\":{", 0);
    fnh_kv kv;
    for (size_t i = 0; fnh_input_meta_at(ctx, "req", "params", i, &kv) == 0; i++) {
        n = append(out, n, sizeof out, i ? "," : "", 0);
        n = append(out, n, sizeof out, kv.key, 1);
        n = append(out, n, sizeof out, ":", 0);
        n = kv.value ? append(out, n, sizeof out, kv.value, 1) : append(out, n, sizeof out, "null", 0);
    }
    n = append(out, n, sizeof out, "}}", 0);
    fnh_value v = {out, n, "application/json"};
    return fnh_output(ctx, "res", &v);
}
