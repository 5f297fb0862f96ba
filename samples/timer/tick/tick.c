/* tick.c: the sample timer function. Runs every five seconds and logs the
 * TimerInfo JSON it received ({"Schedule":..., "ScheduleStatus":...,
 * "IsPastDue":...}). */
#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value info;
    int rc = fnh_input(ctx, "myTimer", &info);
    if (rc)
        return rc;
    fnh_log(ctx, FNH_LOG_INFO, "Timer ran. TimerInfo: %.*s", (int)info.len,
            (const char *)info.data);
    return 0;
}
