/* qout.c: the queue tests' HTTP function with a queue output binding named
 * "out": puts the request body on it with the request's Content-Type, and
 * answers 204. ?skip=1 sets no output (nothing is enqueued). */
#include <string.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value body;
    int rc = fnh_input(ctx, "req", &body);
    if (rc)
        return rc;
    const char *skip = fnh_input_meta(ctx, "req", "query.skip");
    if (skip && strcmp(skip, "1") == 0)
        return 0;
    fnh_value out = {body.data, body.len, fnh_input_meta(ctx, "req", "headers.content-type")};
    return fnh_output(ctx, "out", &out);
}
