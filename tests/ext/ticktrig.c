/* ticktrig.c: a fixture extension for the tests. Trigger "tickTrigger"
 * fires "count" events from its own thread (payload "tick <n>", metadata
 * n and the special $reason/$details keys) and logs every complete();
 * input "constant" returns its (expression-resolved) "value"; output "memo"
 * logs what it is given. Every lifetime callback logs "lifecycle: <step>",
 * and after stop it checks that fnh_fire is refused with -ESHUTDOWN. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fnhost/extension.h>

#ifndef TICK_VERSION /* ticktrig-v2.so: the same built as "2.0.0", a rebuild */
#define TICK_VERSION "1.2.3"
#endif

typedef struct tick {
    fnh_binding *b;
    int64_t count;
    pthread_t thread;
    int running;
    int stop;
    int completed;
} tick;

static int init(fnh_ext *ext, const fnh_config *section, void **global)
{
    const char *mode = fnh_config_string(section, "mode");
    if (mode && strcmp(mode, "fail") == 0)
        return fnh_config_fail(section, "mode", "'fail' makes init fail; use \"normal\"");
    fnh_ext_log(ext, FNH_LOG_INFO, "lifecycle: init");
    *global = NULL;
    return 0;
}

static void fini(void *global)
{
    (void)global;
    fprintf(stdout, "lifecycle: fini\n");
    fflush(stdout);
}

static int tick_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    int64_t count = 0;
    int rc = fnh_config_int(cfg, "count", &count);
    if (rc == -EINVAL || count < 0)
        return fnh_config_fail(cfg, "count", "must be a number of events, 0 or more");
    tick *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->b = b;
    t->count = count;
    *state = t;
    fnh_ext_log(b, FNH_LOG_INFO, "lifecycle: bind %s", fnh_function_name(b));
    return 0;
}

static void *tick_main(void *arg)
{
    tick *t = arg;
    for (int64_t i = 0; i < t->count && !__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE); i++) {
        char payload[64], n[32], details[64];
        snprintf(payload, sizeof payload, "tick %lld", (long long)i);
        snprintf(n, sizeof n, "%lld", (long long)i);
        snprintf(details, sizeof details, "Tick: %lld", (long long)i);
        fnh_kv meta[] = {{"n", n}, {"$reason", "A tick happened."}, {"$details", details}};
        fnh_value v = {payload, strlen(payload), "text/plain"};
        int rc;
        while ((rc = fnh_fire(t->b, &v, meta, 3, (void *)(intptr_t)(i + 1))) == -EAGAIN) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        if (rc)
            break;
    }
    return NULL;
}

static int tick_start(void *state)
{
    tick *t = state;
    fnh_ext_log(t->b, FNH_LOG_INFO, "lifecycle: start");
    if (pthread_create(&t->thread, NULL, tick_main, t))
        return -EAGAIN;
    t->running = 1;
    return 0;
}

static void tick_complete(void *state, void *token, int status, const fnh_value *result)
{
    tick *t = state;
    t->completed++;
    fnh_ext_log(t->b, FNH_LOG_INFO, "complete token=%ld status=%d result=%.*s",
                (long)(intptr_t)token, status, result ? (int)result->len : 4,
                result ? (const char *)result->data : "null");
}

static void tick_stop(void *state)
{
    tick *t = state;
    __atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
    if (t->running)
        pthread_join(t->thread, NULL);
    t->running = 0;
    fnh_value v = {"late", 4, NULL};
    int rc = fnh_fire(t->b, &v, NULL, 0, NULL);
    fnh_ext_log(t->b, FNH_LOG_INFO, "lifecycle: stop (fire after stop: %s)",
                rc == -ESHUTDOWN ? "ESHUTDOWN" : "unexpected");
}

static void tick_unbind(void *state)
{
    tick *t = state;
    fnh_ext_log(t->b, FNH_LOG_INFO, "lifecycle: unbind");
    free(t);
}

/* Manual runs (ABI 1.1): input "busy" is refused with -EBUSY; otherwise one
 * event "manual <input>" with token 1000 is fired. */
static int tick_invoke(void *state, const fnh_value *input)
{
    tick *t = state;
    if (input->len == 4 && memcmp(input->data, "busy", 4) == 0)
        return -EBUSY;
    char text[128];
    int n = snprintf(text, sizeof text, "manual %.*s", (int)(input->len < 100 ? input->len : 100),
                     (const char *)input->data);
    fnh_value v = {text, (size_t)n, "text/plain"};
    fnh_kv meta[] = {{"n", "m"}};
    return fnh_fire(t->b, &v, meta, 1, (void *)(intptr_t)1000);
}

static int const_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    if (!fnh_config_string(cfg, "value"))
        return fnh_config_fail(cfg, "value", "must be a string");
    *state = b;
    return 0;
}

static int const_read(void *state, fnh_call *call)
{
    (void)state;
    const char *v = fnh_config_string(fnh_call_config(call), "value");
    if (strcmp(v, "null") == 0)
        return 0; /* leaves the input null */
    fnh_value val = {v, strlen(v), "text/plain"};
    return fnh_call_set_value(call, &val);
}

static int memo_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    (void)cfg;
    *state = b;
    return 0;
}

static int memo_write(void *state, fnh_call *call, const fnh_value *v)
{
    const char *label = fnh_config_string(fnh_call_config(call), "label");
    fnh_ext_log(state, FNH_LOG_INFO, "memo %s: %.*s", label ? label : "-", (int)v->len,
                (const char *)v->data);
    return 0;
}

static void plain_unbind(void *state)
{
    (void)state;
}

static const fnh_trigger_type tick_type = {
    sizeof(fnh_trigger_type), "tickTrigger", tick_bind, tick_start, tick_complete, tick_stop,
    tick_unbind, tick_invoke, FNH_TRIGGER_RETRIES};
static const fnh_binding_type const_type = {sizeof(fnh_binding_type), "constant", FNH_IN,
                                            const_bind, const_read, NULL, plain_unbind};
static const fnh_binding_type memo_type = {sizeof(fnh_binding_type), "memo", FNH_OUT,
                                           memo_bind, NULL, memo_write, plain_unbind};
static const fnh_trigger_type *const triggers[] = {&tick_type, NULL};
static const fnh_binding_type *const bindings[] = {&const_type, &memo_type, NULL};

FNH_EXPORT const fnh_extension_def fnh_extension = {
    FNH_EXTENSION_HEAD, "tick", TICK_VERSION, init, fini, triggers, bindings, NULL};
