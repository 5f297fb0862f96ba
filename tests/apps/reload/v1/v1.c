/* v1.c: the hot-reload tests' function: answers its version ("v1"; v2.c
 * builds the same code as "v2") as text, after sleeping query sleep_ms, so
 * a test can tell which build served a request and hold one in flight. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fnhost/function.h>

#ifndef VERSION
#define VERSION "v1"
#endif

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    const char *v = fnh_input_meta(ctx, "req", "query.sleep_ms");
    if (v) {
        long ms = atol(v);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    fnh_value out = {VERSION, strlen(VERSION), "text/plain"};
    return fnh_output(ctx, "res", &out);
}
