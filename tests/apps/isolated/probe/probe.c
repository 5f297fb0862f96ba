/* probe.c: a fixture for the isolated native runner. Without a query it
 * does nothing (the host answers 204): the no-op of the latency benchmark.
 *   mirror=1   answers with the request body and its content type
 *   pid=1      answers {"pid":N} with the id of the process it runs in
 *   sleep=N    sleeps N ms and answers {"pid":N,"start":NS,"end":NS}
 *              (CLOCK_MONOTONIC, comparable across processes)
 *   out=1      also sets the output binding "extra" to "text" (text/plain) */
#include <fnhost/function.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

FNH_FUNCTION_MODULE(0);

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

FNH_EXPORT int run(fnh_ctx *ctx)
{
    char out[128];
    int n = -1;
    const char *v;
    if (fnh_input_meta(ctx, "req", "query.mirror")) {
        fnh_value body;
        int rc = fnh_input(ctx, "req", &body);
        return rc ? rc : fnh_output(ctx, "res", &body);
    }
    if (fnh_input_meta(ctx, "req", "query.out")) {
        fnh_value t = {"text", 4, "text/plain"};
        int rc = fnh_output(ctx, "extra", &t);
        if (rc)
            return rc;
    }
    if ((v = fnh_input_meta(ctx, "req", "query.sleep"))) {
        long long start = now_ns();
        long ms = atol(v);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0)
            ;
        n = snprintf(out, sizeof out, "{\"pid\":%d,\"start\":%lld,\"end\":%lld}", (int)getpid(),
                     start, now_ns());
    } else if (fnh_input_meta(ctx, "req", "query.pid")) {
        n = snprintf(out, sizeof out, "{\"pid\":%d}", (int)getpid());
    }
    if (n < 0)
        return 0;
    fnh_value r = {out, (size_t)n, "application/json"};
    return fnh_output(ctx, "res", &r);
}
