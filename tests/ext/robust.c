/* robust.c: a fixture extension that misbehaves on request, for the
 * loader's robustness tests. FNH_TEST_CTOR=abort|segv makes its constructor
 * crash inside dlopen; host.json extensions.robust "initRc" is what init
 * returns and "crash": "init" makes it crash; trigger "robustTrigger" binds
 * with "bindRc" as bind's result ("crash": "bind" crashes), starts with
 * "startRc"; input "robustIn" reads with "readRc" as read's result. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <fnhost/extension.h>

static void crash(void)
{
    int *volatile bad = (int *)(uintptr_t)16; /* unmapped: SIGSEGV */
    *bad = 1;
}

__attribute__((constructor)) static void robust_ctor(void)
{
    const char *how = getenv("FNH_TEST_CTOR");
    if (how && strcmp(how, "abort") == 0)
        abort();
    if (how && strcmp(how, "segv") == 0)
        crash();
}

/* The integer property key of cfg, or 0 when absent. */
static int int_of(const fnh_config *cfg, const char *key)
{
    int64_t v = 0;
    fnh_config_int(cfg, key, &v);
    return (int)v;
}

static int crashes_in(const fnh_config *cfg, const char *step)
{
    const char *c = fnh_config_string(cfg, "crash");
    return c && strcmp(c, step) == 0;
}

static int init(fnh_ext *ext, const fnh_config *section, void **global)
{
    (void)ext;
    (void)global;
    if (crashes_in(section, "init"))
        crash();
    return int_of(section, "initRc");
}

static int trig_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    (void)b;
    if (crashes_in(cfg, "bind"))
        crash();
    *state = (void *)(intptr_t)int_of(cfg, "startRc");
    return int_of(cfg, "bindRc");
}

static int trig_start(void *state)
{
    return (int)(intptr_t)state;
}

static int in_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    (void)b;
    (void)cfg;
    *state = NULL;
    return 0;
}

static int in_read(void *state, fnh_call *call)
{
    (void)state;
    return int_of(fnh_call_config(call), "readRc");
}

static const fnh_trigger_type trig = {sizeof(fnh_trigger_type), "robustTrigger", trig_bind,
                                      trig_start, NULL, NULL, NULL, NULL, 0};
static const fnh_binding_type in = {sizeof(fnh_binding_type), "robustIn", FNH_IN, in_bind,
                                    in_read, NULL, NULL};
static const fnh_trigger_type *const triggers[] = {&trig, NULL};
static const fnh_binding_type *const bindings[] = {&in, NULL};

FNH_EXPORT const fnh_extension_def fnh_extension = {
    FNH_EXTENSION_HEAD, "robust", "1.0.0", init, NULL, triggers, bindings, NULL};
