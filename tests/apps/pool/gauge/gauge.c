/* gauge: a worker-pool fixture. Sleeps ?ms=N milliseconds (or forever with
 * ?hang=1, until the process ends), counting how many invocations of any
 * function in this .so run at once; answers {"running":N,"peak":N,"pid":N}
 * with the count seen when it started, the highest count so far (in this
 * process) and the process id. ?crash=segv|abort|exit
 * ends the process the named way. */
#include <fnhost/function.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

FNH_FUNCTION_MODULE(0);

static atomic_int running, peak;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

FNH_EXPORT int run(fnh_ctx *ctx)
{
    const char *crash = fnh_input_meta(ctx, "req", "query.crash");
    if (crash) {
        if (strcmp(crash, "segv") == 0)
            raise(SIGSEGV);
        if (strcmp(crash, "abort") == 0)
            abort();
        if (strcmp(crash, "exit") == 0)
            exit(3);
    }
    int now = atomic_fetch_add(&running, 1) + 1;
    int p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
        ;
    const char *hang = fnh_input_meta(ctx, "req", "query.hang");
    const char *ms = fnh_input_meta(ctx, "req", "query.ms");
    if (hang)
        for (;;)
            sleep_ms(1000);
    if (ms)
        sleep_ms(atol(ms));
    char out[96];
    int n = snprintf(out, sizeof out, "{\"running\":%d,\"peak\":%d,\"pid\":%d}", now,
                     atomic_load(&peak), (int)getpid());
    atomic_fetch_sub(&running, 1);
    fnh_value v = {out, (size_t)n, "application/json"};
    return fnh_output(ctx, "res", &v);
}
