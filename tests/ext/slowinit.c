/* slowinit.c: a fixture extension whose init takes as long as host.json
 * extensions.slowinit.initSleepMs says, for the start-up timeout test
 * (fnhost start --timeout). Its trigger "slowTrigger" never fires. */
#include <stdint.h>
#include <time.h>

#include <fnhost/extension.h>

static int init(fnh_ext *ext, const fnh_config *section, void **global)
{
    (void)ext;
    (void)global;
    int64_t ms = 0;
    fnh_config_int(section, "initSleepMs", &ms);
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (ms > 0 && nanosleep(&ts, &ts) != 0)
        ;
    return 0;
}

static int trig_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    (void)b;
    (void)cfg;
    *state = NULL;
    return 0;
}

static int trig_start(void *state)
{
    (void)state;
    return 0;
}

static const fnh_trigger_type trig = {sizeof(fnh_trigger_type), "slowTrigger", trig_bind,
                                      trig_start, NULL, NULL, NULL, NULL, 0};
static const fnh_trigger_type *const triggers[] = {&trig, NULL};

FNH_EXPORT const fnh_extension_def fnh_extension = {
    FNH_EXTENSION_HEAD, "slowinit", "1.0.0", init, NULL, triggers, NULL, NULL};
