/* hello.c: the sample HTTP function. GET or POST api/hello answers
 * "Hello, <name>", the name coming from ?name= or a JSON body {"name": ...},
 * and "Hello, world" without one. Built with -DHELLO_INLINE it declares
 * itself non-blocking, so the host runs it inline on its event loop. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include <fnhost/function.h>

#ifdef HELLO_INLINE
FNH_FUNCTION_MODULE(FNH_FN_NONBLOCKING);
#else
FNH_FUNCTION_MODULE(0);
#endif

FNH_EXPORT int run(fnh_ctx *ctx)
{
    const char *name = fnh_input_meta(ctx, "req", "query.name");
    cJSON *doc = NULL;
    if (!name || !*name) {
        fnh_value body;
        if (fnh_input(ctx, "req", &body) == 0 && body.len) {
            doc = cJSON_ParseWithLength(body.data, body.len);
            name = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "name"));
        }
    }
    char out[512];
    int n = snprintf(out, sizeof out, "Hello, %s", name && *name ? name : "world");
    if (n >= (int)sizeof out)
        n = (int)sizeof out - 1;
    cJSON_Delete(doc);
    fnh_value v = {out, (size_t)n, "text/plain; charset=utf-8"};
    return fnh_output(ctx, "res", &v);
}
