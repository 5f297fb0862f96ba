/* say.c: the invoke tests' HTTP function. It logs what it got, answers 201
 * with "said: <body>" and an X-Say header, and puts the body on the output
 * "out" when the function has one (a queue). A body of "fail" logs an error
 * and fails (-EIO); "sleep:N" sleeps N ms first. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value body;
    int rc = fnh_input(ctx, "req", &body);
    if (rc)
        return rc;
    fnh_log(ctx, FNH_LOG_INFO, "say got: %.*s", (int)body.len, (const char *)body.data);
    if (body.len > 6 && body.len < 16 && memcmp(body.data, "sleep:", 6) == 0) {
        char ms[16] = {0};
        memcpy(ms, (const char *)body.data + 6, body.len - 6);
        long n = atol(ms);
        struct timespec ts = {n / 1000, (n % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (body.len == 4 && memcmp(body.data, "fail", 4) == 0) {
        fnh_log(ctx, FNH_LOG_ERROR, "say is failing on purpose");
        return -EIO;
    }
    char text[256];
    size_t n = body.len < 200 ? body.len : 200;
    memcpy(text, "said: ", 6);
    memcpy(text + 6, body.data, n);
    fnh_value res = {text, 6 + n, "text/plain"};
    fnh_output_meta(ctx, "res", "status", "201");
    fnh_output_meta(ctx, "res", "headers.X-Say", "yes");
    rc = fnh_output(ctx, "res", &res);
    if (rc)
        return rc;
    fnh_value out = {body.data, body.len, body.content_type};
    rc = fnh_output(ctx, "out", &out);
    return rc == -ENOENT ? 0 : rc;
}
