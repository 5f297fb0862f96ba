/* __NAME__.c: an HTTP-triggered function. GET or POST /api/__NAME__?name=Ann
 * answers "Hello, Ann. ..."; without ?name= the request body is the name.
 * Build with `make` in the app folder; the API is <fnhost/function.h>. */
#include <stdio.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_log(ctx, FNH_LOG_INFO, "C HTTP trigger function processed a request.");
    const char *name = fnh_input_meta(ctx, "req", "query.name");
    fnh_value body;
    if ((!name || !*name) && fnh_input(ctx, "req", &body) == 0 && body.len)
        name = body.data; /* the host ends every input with a NUL byte */
    char out[512];
    int n;
    if (name && *name)
        n = snprintf(out, sizeof out,
                     "Hello, %s. This HTTP triggered function executed successfully.", name);
    else
        n = snprintf(out, sizeof out,
                     "This HTTP triggered function executed successfully. Pass a name in the "
                     "query string or in the request body for a personalized response.");
    if (n >= (int)sizeof out)
        n = (int)sizeof out - 1;
    fnh_value res = {out, (size_t)n, "text/plain; charset=utf-8"};
    return fnh_output(ctx, "res", &res);
}
