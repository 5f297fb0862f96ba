/* app.h: the function app model: host.json, local.settings.json and one
 * folder per function with function.json, loaded and validated into plain
 * structs. Every problem becomes one sentence naming the file, the JSON path
 * and the fix; a broken function is kept (listed, in error) but never run.
 * Loaded on the main thread at start-up; read-only afterwards. */
#ifndef FNH_APP_H
#define FNH_APP_H

#include <stddef.h>
#include <stdint.h>

#include "fnhost/function.h"
#include "log.h"
#include "retry.h"
#include "strlist.h"

struct cJSON;

enum { FNH__DIR_IN = 1, FNH__DIR_OUT = 2 };

typedef struct fnh__binding {
    int index;          /* position in "bindings" */
    char *type;         /* as written, e.g. "httpTrigger" */
    char *name;         /* "req", "res", "$return" */
    int direction;      /* FNH__DIR_* bits */
    int is_trigger;
    struct cJSON *json; /* the binding with %Setting% references resolved */
    void *ext_handle;   /* the extension's fnh_binding, when an extension provides it */
} fnh__binding;


typedef struct fnh__function {
    char *name;
    size_t name_len;      /* strlen(name) */
    char *dir;            /* folder path */
    char *config_file;    /* "<name>/function.json", for messages */
    char *log_category;   /* "Function.<name>" */
    /* its minimum log level, remembered when first logged: the one field
     * written after load (atomically, by fnh__log_enabled_memo) */
    fnh__log_memo log_memo;
    struct cJSON *config; /* function.json as written */
    fnh__binding *bindings;
    size_t nbindings;
    fnh__binding *trigger;  /* NULL when in error before one was found */
    fnh__strlist errors;    /* non-empty: in error, never invoked */
    int disabled;
    int has_ext_io;        /* has extension input/output bindings: runs on workers */
    /* what runs it, set by the runner that prepared it (runners/) */
    const struct fnh__runner *runner;
    void *runner_state;
    void (*runner_release)(struct fnh__function *fn); /* frees runner_state */
    int run_inline;        /* the runner may run it on the loop thread (non-blocking) */
    struct fnh__lane *lane; /* the worker pool's queue of its jobs (pool.c owns it) */
    /* function.json "retry" (strategy NONE when absent), and the policy
     * dispatch applies: this one or host.json's, when its trigger type takes
     * retry policies (set when the trigger is bound), else none */
    fnh__retry_policy retry_declared;
    fnh__retry_policy retry;
} fnh__function;

/* State a part of the host keeps for one app snapshot (the binding handles,
 * the route table), owned by the app and freed with it. */
typedef struct fnh__app_part {
    const char *key;              /* static: "bindings", "http" */
    void *state;
    void (*free_state)(void *state);
} fnh__app_part;

typedef struct fnh__app {
    int refs;                     /* the host and every invocation hold one (loop thread) */
    char *root;
    struct cJSON *host_json;
    int64_t function_timeout_ms; /* -1 = unlimited */
    fnh__retry_policy retry;      /* host.json "retry" (strategy NONE when absent) */
    fnh__strlist settings;        /* local.settings.json Values, "NAME=value" */
    char *cors;                   /* Host.CORS */
    int cors_credentials;
    int local_port;               /* Host.LocalHttpPort, 0 if unset */
    int listen_port;              /* the port the host listens on (--port, LocalHttpPort,
                                   * else 7071); a port the host picks for a child of its
                                   * own must not be this one */
    char *host_id;
    fnh__function **functions;    /* sorted by name */
    size_t nfunctions;
    fnh__strlist host_errors;     /* non-empty: the host must not start */
    fnh__strlist errors;          /* problems the host runs despite (bad settings) */
    fnh__strlist notes;           /* informational lines for the console */
    fnh__strlist warnings;        /* route overlaps and other warnings */
    fnh__app_part *parts;         /* oldest first (the built-in triggers' are looked
                                     up most); freed newest first */
    size_t nparts;
} fnh__app;

typedef struct fnh__app_options {
    const char *root;          /* script root folder */
    const char *functions_csv; /* --functions a,b (NULL = host.json "functions" or all) */
    int in_process;            /* --in-process: native functions run in the host process */
    const char *cors;          /* --cors: replaces Host.CORS (NULL = keep it) */
    int cors_credentials;      /* --cors-credentials: sets Host.CORSCredentials */
    int port;                  /* --port when given (0: not given, or any free port) */
} fnh__app_options;

/* Loads and validates the app. Always returns a new app in *out unless out
 * of memory (caller frees with fnh__app_free); check app->host_errors for
 * fatal problems and each function's errors. Whatever the files hold, every
 * field of the app has a usable value. Returns 0 or -ENOMEM. Main thread,
 * start-up. Reads the environment; writes nothing global (see
 * fnh__settings_export and fnh__app_apply_log_levels). */
int fnh__app_load(const fnh__app_options *opts, fnh__app **out);

/* The steps of fnh__app_load, for tests and fuzzers that feed the loaders
 * bytes from memory. None of them writes files, environment variables or
 * log levels; they read the environment (AzureFunctionsJobHost__* overrides,
 * %Setting% references). One app per thread.
 *
 * fnh__app_new: an app with every setting at its default (30-minute
 * timeout), no functions; root is copied
 * (function folders are <root>/<name>). NULL when out of memory.
 * fnh__app_read_host_json: validates host.json text (len bytes, any bytes)
 * into app; each problem is one sentence in app->host_errors (line and
 * column for a syntax error), warnings in app->warnings; settings that are
 * missing or bad keep their defaults. Call at most once, before functions.
 * fnh__app_read_function_json: validates one function.json text into a new
 * function called name, appended to app->functions (add them in name
 * order); problems go to its errors, warnings to app->warnings. Returns the
 * function (owned by app), or NULL when out of memory.
 * fnh__app_finish: makes every message one line. Call once, last (and again
 * after the bindings were bound, which may add messages). */
fnh__app *fnh__app_new(const char *root);
void fnh__app_read_host_json(fnh__app *app, const char *text, size_t len);
fnh__function *fnh__app_read_function_json(fnh__app *app, const char *name, const char *text,
                                           size_t len);
void fnh__app_finish(fnh__app *app);
void fnh__app_free(fnh__app *app);
/* The loaded app is a snapshot: read-only once loaded, shared by the host
 * and every invocation (timed-out ones included), each holding a reference;
 * the last unref frees it. A new app starts with one reference. Loop
 * thread. */
fnh__app *fnh__app_ref(fnh__app *app);
void fnh__app_unref(fnh__app *app);
/* Gives app the state key of a part (replacing none: keys are set once);
 * free_state(state) runs when the app is freed, the newest part first, so a
 * part registered after another may still use it while it frees. 0 or
 * -ENOMEM (then free_state(state) has run). Loop (main) thread. */
int fnh__app_part_set(fnh__app *app, const char *key, void *state,
                      void (*free_state)(void *state));
/* The state of part key, or NULL. */
void *fnh__app_part_get(const fnh__app *app, const char *key);
/* An app setting: the environment variable, else the app's Value. */
const char *fnh__app_setting(const fnh__app *app, const char *name);
/* Sets the log levels of host.json logging.logLevel (process-wide: start-up
 * only). */
void fnh__app_apply_log_levels(const fnh__app *app);
/* 1 if the function called name is to be loaded: named in functions_csv
 * (--functions a,b) when given, else in host.json "functions" when that
 * lists any, else always. */
int fnh__app_function_selected(const fnh__app *app, const char *functions_csv,
                               const char *name);
/* 1 when n is a valid function (folder) name: a letter, then up to 127
 * letters, digits, '-' or '_', and not "host"; else 0. */
int fnh__function_name_valid(const char *n);
/* Function by name, case-insensitive; NULL if none. Borrowed. */
fnh__function *fnh__app_find(const fnh__app *app, const char *name);
/* 1 if the function can be invoked (no errors). */
int fnh__function_ok(const fnh__function *fn);
/* A function's trigger type, or "unknown". */
const char *fnh__function_trigger_type(const fnh__function *fn);
/* Warns (app->warnings) about each property of binding object bj that is
 * not one of keys (NULL-terminated, compared case-insensitively): a typo
 * such as "methds" would otherwise be silently ignored. at: "bindings[i]". */
void fnh__app_warn_unknown_keys(fnh__app *app, const fnh__function *fn, const struct cJSON *bj,
                                const char *type, const char *const *keys, const char *at);
/* Frees a function (its bindings, its runner's state through
 * runner_release, its strings). For functions outside an app (a child's);
 * an app frees its own. */
void fnh__function_free(fnh__function *fn);
/* Binding by name (case-insensitive); NULL if none. */
fnh__binding *fnh__function_binding(const fnh__function *fn, const char *name);

#endif
