/* ticker.c: a timer test function. Logs "TimerInfo: <json>" and, when the
 * app setting TICKER_SLEEP_MS is set, sleeps that long, then logs "TickerDone"
 * (to test overlap). */
#include <stdlib.h>
#include <time.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value info;
    int rc = fnh_input(ctx, "myTimer", &info);
    if (rc)
        return rc;
    fnh_log(ctx, FNH_LOG_INFO, "TimerInfo: %.*s", (int)info.len, (const char *)info.data);
    const char *sleep_ms = fnh_setting(ctx, "TICKER_SLEEP_MS");
    if (sleep_ms) {
        long ms = atol(sleep_ms);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        fnh_log(ctx, FNH_LOG_INFO, "TickerDone");
    }
    return 0;
}
