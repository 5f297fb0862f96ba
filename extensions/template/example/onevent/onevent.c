/* onevent.c: the example app's function. Triggered by "templateTrigger"
 * (binding "event"): logs the event, writes one line to the "templateOut"
 * output "out" and returns "done <n>", which the trigger's complete() logs. */
#include <errno.h>
#include <stdio.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value ev;
    int rc = fnh_input(ctx, "event", &ev); /* the payload: {"n":0,"message":"hello"} */
    if (rc)
        return rc;
    const char *n = fnh_input_meta(ctx, "event", "n"); /* trigger metadata */
    fnh_log(ctx, FNH_LOG_INFO, "onevent got event %s: %.*s", n ? n : "?", (int)ev.len,
            (const char *)ev.data);

    char line[600];
    int len = snprintf(line, sizeof line, "event %s: %.*s\n", n ? n : "?", (int)ev.len,
                       (const char *)ev.data);
    if (len < 0 || (size_t)len >= sizeof line)
        return -EMSGSIZE;
    fnh_value out = {line, (size_t)len, "text/plain"};
    if ((rc = fnh_output(ctx, "out", &out)))
        return rc;

    char done[64];
    len = snprintf(done, sizeof done, "done %s", n ? n : "?");
    fnh_value ret = {done, (size_t)len, "text/plain"};
    return fnh_output(ctx, "$return", &ret);
}
