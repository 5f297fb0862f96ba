/* template.c: a minimal fnhost binding extension to copy and rename.
 * Trigger "templateTrigger" fires "count" events, "intervalMs" apart, from its
 * own thread; output "templateOut" writes the function's value to the file
 * "path" (relative to the app root, binding expressions such as {n} allowed)
 * or logs it when there is no path. host.json extensions.template.maxCount
 * caps "count"; `fnhost template` is a CLI command. See README.md. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fnhost/extension.h>

#define TEMPLATE_VERSION "0.1.0"

/* ---- the extension: host.json section, global state ---------------------- */

typedef struct template_global {
    int64_t max_count; /* host.json extensions.template.maxCount, default 1000 */
} template_global;

/* Loop thread, once, before any bind. */
static int template_init(fnh_ext *ext, const fnh_config *section, void **global)
{
    int64_t max = 1000;
    int rc = fnh_config_int(section, "maxCount", &max);
    if (rc == -EINVAL || (rc == 0 && max < 1))
        return fnh_config_fail(section, "maxCount", "must be a whole number of 1 or more");
    template_global *g = malloc(sizeof *g);
    if (!g)
        return -ENOMEM;
    g->max_count = max;
    *global = g; /* owned by the extension; freed in fini */
    fnh_ext_log(ext, FNH_LOG_DEBUG, "template %s ready (maxCount %lld)", TEMPLATE_VERSION,
                (long long)max);
    return 0;
}

static void template_fini(void *global)
{
    free(global);
}

/* ---- trigger "templateTrigger" ------------------------------------------- */

typedef struct trig {
    fnh_binding *b;      /* borrowed from the host until unbind */
    int64_t count;       /* events to fire */
    int64_t interval_ms; /* pause between events */
    char *message;       /* copied from the binding's config */
    pthread_t thread;
    int running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping; /* under lock */
} trig;

/* One fired event. It is the token: owned by us, handed to fnh_fire and
 * given back exactly once in complete(), where it is freed. */
typedef struct event {
    int64_t n;
} event;

static int trig_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    const template_global *g = fnh_global(b);
    int64_t count = 3, interval = 100;
    int rc = fnh_config_int(cfg, "count", &count);
    if (rc == -EINVAL || count < 0 || count > g->max_count)
        return fnh_config_fail(cfg, "count",
                               "must be a whole number from 0 to %lld (host.json "
                               "extensions.template.maxCount)",
                               (long long)g->max_count);
    rc = fnh_config_int(cfg, "intervalMs", &interval);
    if (rc == -EINVAL || interval < 0)
        return fnh_config_fail(cfg, "intervalMs", "must be a number of milliseconds, 0 or more");
    const char *message = fnh_config_string(cfg, "message");
    if (message && (strpbrk(message, "\"\\") || strlen(message) > 200))
        return fnh_config_fail(cfg, "message", "must be at most 200 characters, without '\"' "
                                               "or '\\'");
    trig *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->message = strdup(message ? message : "hello"); /* cfg is borrowed: copy */
    if (!t->message) {
        free(t);
        return -ENOMEM;
    }
    t->b = b;
    t->count = count;
    t->interval_ms = interval;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    *state = t;
    return 0;
}

/* Waits up to ms milliseconds; returns nonzero once stop() was called. */
static int trig_wait(trig *t, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->lock);
    while (!t->stopping && ms > 0 &&
           pthread_cond_timedwait(&t->wake, &t->lock, &until) != ETIMEDOUT)
        ;
    int stopping = t->stopping;
    pthread_mutex_unlock(&t->lock);
    return stopping;
}

/* The trigger's own thread: any thread may call fnh_fire. */
static void *trig_main(void *arg)
{
    trig *t = arg;
    for (int64_t i = 0; i < t->count; i++) {
        if (trig_wait(t, i ? t->interval_ms : 0))
            break;
        char payload[512], n[24], reason[64];
        int len = snprintf(payload, sizeof payload, "{\"n\":%lld,\"message\":\"%s\"}",
                           (long long)i, t->message);
        if (len < 0 || (size_t)len >= sizeof payload)
            len = (int)strlen(payload);
        snprintf(n, sizeof n, "%lld", (long long)i);
        snprintf(reason, sizeof reason, "Template event %lld.", (long long)i);
        /* metadata: readable with fnh_input_meta and usable as {n} expressions */
        fnh_kv meta[] = {{"n", n}, {"$reason", reason}};
        fnh_value v = {payload, (size_t)len, "application/json"};
        event *ev = malloc(sizeof *ev);
        if (!ev)
            break;
        ev->n = i;
        int rc;
        while ((rc = fnh_fire(t->b, &v, meta, 2, ev)) == -EAGAIN) /* queue full: retry */
            if (trig_wait(t, 1))
                break;
        if (rc) { /* not accepted: complete() will never see ev */
            free(ev);
            if (rc != -EAGAIN && rc != -ESHUTDOWN)
                fnh_ext_log(t->b, FNH_LOG_ERROR, "templateTrigger: cannot fire: %s",
                            fnh_ext_strerror(t->b, rc));
            break;
        }
    }
    return NULL;
}

/* Loop thread, once the whole app is bound: from now on we may fire. */
static int trig_start(void *state)
{
    trig *t = state;
    int rc = pthread_create(&t->thread, NULL, trig_main, t);
    if (rc)
        return -rc;
    t->running = 1;
    return 0;
}

/* Loop thread, exactly once per accepted fnh_fire. */
static void trig_complete(void *state, void *token, int status, const fnh_value *result)
{
    trig *t = state;
    event *ev = token;
    fnh_ext_log(t->b, FNH_LOG_INFO, "templateTrigger: event %lld of %s completed: %s%s%.*s",
                (long long)ev->n, fnh_function_name(t->b),
                status ? fnh_ext_strerror(t->b, status) : "ok", result ? ", returned " : "",
                result ? (int)result->len : 0, result ? (const char *)result->data : "");
    free(ev);
}

/* Loop thread, at shutdown: after we return we never call fnh_fire again. */
static void trig_stop(void *state)
{
    trig *t = state;
    pthread_mutex_lock(&t->lock);
    t->stopping = 1;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    if (t->running)
        pthread_join(t->thread, NULL);
    t->running = 0;
}

static void trig_unbind(void *state)
{
    trig *t = state;
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t->message);
    free(t);
}

/* ---- output binding "templateOut" ---------------------------------------- */

static int out_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    const char *path = fnh_config_string(cfg, "path");
    if (path && !*path)
        return fnh_config_fail(cfg, "path", "must be a file path such as \"out/{n}.txt\", "
                                            "or left out to log the value");
    *state = b; /* nothing else to keep: the path is read per call */
    return 0;
}

/* Creates the folders leading to file path (mkdir -p of its dirname). */
static int make_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0777) == 0 || errno == EEXIST ? 0 : -errno;
        *p = '/';
        if (rc)
            return rc;
    }
    return 0;
}

/* Worker thread, concurrently for different invocations; only called when
 * the function set this output. v is borrowed for the call. */
static int out_write(void *state, fnh_call *call, const fnh_value *v)
{
    fnh_binding *b = state;
    /* the per-invocation config: {n} and other expressions are resolved */
    const char *path = fnh_config_string(fnh_call_config(call), "path");
    if (!path) {
        fnh_ext_log(b, FNH_LOG_INFO, "templateOut (%s): %.*s", fnh_function_name(b), (int)v->len,
                    (const char *)v->data);
        return 0;
    }
    const char *root = fnh_app_root(b);
    size_t len = strlen(root) + strlen(path) + 2;
    char *full = malloc(len);
    if (!full)
        return -ENOMEM;
    if (path[0] == '/')
        snprintf(full, len, "%s", path);
    else
        snprintf(full, len, "%s/%s", root, path);
    int rc = make_parents(full);
    int fd = rc ? -1 : open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (!rc && fd < 0)
        rc = -errno;
    const char *p = v->data;
    for (size_t left = v->len; !rc && left;) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = -errno;
        else {
            p += n;
            left -= (size_t)n;
        }
    }
    if (fd >= 0 && close(fd) && !rc)
        rc = -errno;
    if (rc)
        fnh_ext_log(b, FNH_LOG_ERROR, "templateOut: cannot write %s: %s", full,
                    fnh_ext_strerror(b, rc));
    free(full);
    return rc; /* a failure fails the invocation */
}

static void out_unbind(void *state)
{
    (void)state;
}

/* ---- CLI command "fnhost template" --------------------------------------- */

/* Runs without a host loop: only fnh_ext_setting, fnh_ext_log and
 * fnh_app_root (the --script-root folder, default ".") are meaningful. */
static int cmd_run(fnh_ext *ext, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: fnhost %s [--script-root DIR]\n", argv[0]);
        return 0;
    }
    printf("template extension %s (app root %s)\n", TEMPLATE_VERSION, fnh_app_root(ext));
    return 0;
}

/* ---- the descriptor -------------------------------------------------------- */

static const fnh_trigger_type trigger_type = {
    .size = sizeof(fnh_trigger_type),
    .type = "templateTrigger", /* a trigger type's name must end in "Trigger" */
    .bind = trig_bind,
    .start = trig_start,
    .complete = trig_complete,
    .stop = trig_stop,
    .unbind = trig_unbind,
};

static const fnh_binding_type out_type = {
    .size = sizeof(fnh_binding_type),
    .type = "templateOut",
    .directions = FNH_OUT,
    .bind = out_bind,
    .read = NULL,
    .write = out_write,
    .unbind = out_unbind,
};

static const fnh_command command = {
    .size = sizeof(fnh_command),
    .name = "template",
    .summary = "print the template extension's version",
    .run = cmd_run,
};

static const fnh_trigger_type *const triggers[] = {&trigger_type, NULL};
static const fnh_binding_type *const bindings[] = {&out_type, NULL};
static const fnh_command *const commands[] = {&command, NULL};

FNH_EXPORT const fnh_extension_def fnh_extension = {
    FNH_EXTENSION_HEAD,
    .name = "template",
    .version = TEMPLATE_VERSION,
    .init = template_init,
    .fini = template_fini,
    .triggers = triggers,
    .bindings = bindings,
    .commands = commands,
};
