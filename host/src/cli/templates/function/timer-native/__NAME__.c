/* __NAME__.c: a timer-triggered function, run on the NCRONTAB schedule of
 * its function.json (every five minutes). Its input is the TimerInfo JSON
 * ({"Schedule": ..., "ScheduleStatus": ..., "IsPastDue": ...}). */
#include <string.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value timer;
    int rc = fnh_input(ctx, "myTimer", &timer);
    if (rc)
        return rc;
    if (strstr(timer.data, "\"IsPastDue\":true"))
        fnh_log(ctx, FNH_LOG_INFO, "C timer trigger function is running late!");
    fnh_log(ctx, FNH_LOG_INFO, "C timer trigger function ran! TimerInfo: %.*s", (int)timer.len,
            (const char *)timer.data);
    return 0;
}
