/* robust.c: fixture functions for the HTTP robustness tests.
 *   status     sets the "res" status from query "status" (ignoring what the
 *              host answers), then a body; the host must refuse 1xx and
 *              out-of-range statuses and answer 500
 *   inputlen   logs the length of its trigger input and where its first NUL
 *              byte is, so a test can see that no byte was lost on the way */
#include <stdio.h>
#include <string.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int status(fnh_ctx *ctx)
{
    const char *st = fnh_input_meta(ctx, "req", "query.status");
    int rc = fnh_output_meta(ctx, "res", "status", st ? st : "101");
    fnh_log(ctx, FNH_LOG_INFO, "status %s: output_meta returned %d", st ? st : "101", rc);
    fnh_value body = {"hello", 5, "text/plain"};
    return fnh_output(ctx, "res", &body);
}

FNH_EXPORT int inputlen(fnh_ctx *ctx)
{
    fnh_value in = {0};
    int rc = fnh_input(ctx, "req", &in);
    if (rc)
        return rc;
    const char *nul = memchr(in.data, '\0', in.len);
    fnh_log(ctx, FNH_LOG_INFO, "input length %zu, first NUL at %ld", in.len,
            nul ? (long)(nul - (const char *)in.data) : -1L);
    return 0;
}
