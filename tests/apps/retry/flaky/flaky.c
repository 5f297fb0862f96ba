/* flaky.c: the retry tests' function, for any trigger. Logs its retry
 * context ("retry: count=N max=M last=E exception=TEXT", or "retry: none
 * (rc)" when it runs under no policy) and fails with -EIO until it has been
 * retried FLAKY_SUCCEED_AFTER times (app setting; unset: it always fails).
 * Sets the HTTP output "res" when it succeeds and has one. */
#include <errno.h>
#include <stdlib.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_retry_info r;
    int rc = fnh_retry_context(ctx, &r);
    if (rc) {
        fnh_log(ctx, FNH_LOG_INFO, "retry: none (%d)", rc);
        r.retry_count = 0;
    } else {
        fnh_log(ctx, FNH_LOG_INFO, "retry: count=%d max=%d last=%d exception=%s", r.retry_count,
                r.max_retry_count, r.last_error, r.exception ? r.exception : "(null)");
    }
    const char *after = fnh_setting(ctx, "FLAKY_SUCCEED_AFTER");
    if (!after || r.retry_count < atoi(after))
        return -EIO;
    fnh_value v = {"ok", 2, "text/plain"};
    fnh_output(ctx, "res", &v); /* -ENOENT without an HTTP output */
    return 0;
}
