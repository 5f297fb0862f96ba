/* fnhost/extension.h: the ABI between fnhost and a binding extension.
 *
 * An extension is a shared object that exports exactly one data symbol,
 *
 *     FNH_EXPORT const fnh_extension_def fnh_extension = { FNH_EXTENSION_HEAD, ... };
 *
 * The host reads and checks it in the file (a data object at least the size
 * of the descriptor; ABI major equal, minor not newer, size) before dlopen
 * runs any of the extension's code; dlopen then runs only the library's ELF
 * constructors (keep them trivial). Then it calls init, bind (once per
 * binding in a function.json), start, and at shutdown stop, unbind, fini.
 * The host loads an extension only when some function.json uses one of its
 * binding types (see config/extensions.json).
 *
 * Rules, one each:
 *  - Errors: every int-returning call returns 0 or a negative errno; a
 *    callback that returns anything else fails and is reported as a bug.
 *  - Crashes: a crash in extension code ends the host after one line on
 *    stderr naming the extension and the callback.
 *  - Ownership: borrow across the boundary, copy to keep. Pointers passed
 *    either way are valid for the call, or until the end a comment states.
 *    Only state, global and token cross as owned values: they belong to the
 *    extension, which frees them in unbind, fini or complete.
 *  - Threads: trigger callbacks, init/fini, bind/unbind run on the loop
 *    thread. read/write of input and output bindings run on worker threads,
 *    concurrently for different invocations. fnh_fire may be called from any
 *    thread.
 *  - Growth: every struct an extension hands in starts with (or carries) a
 *    size; the host reads what the size covers and treats the rest as zero,
 *    so members are only ever appended (ABI minor grows).
 *  - Names: the helpers that function.h also has are named fnh_ext_* here
 *    (fnh_ext_setting, fnh_ext_log, fnh_ext_strerror), so one file may include
 *    both headers.
 *  - Linking: extensions link against nothing of the host (build them with
 *    -fvisibility=hidden -Wl,-z,defs); every host service is reached through
 *    the fnh_api table whose pointer is the first word of every handle. */
#ifndef FNHOST_EXTENSION_H
#define FNHOST_EXTENSION_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

struct uv_loop_s;

typedef struct fnh_ext fnh_ext;         /* one loaded extension */
typedef struct fnh_binding fnh_binding; /* one binding of one function */
typedef struct fnh_config fnh_config;   /* read-only view of a JSON object */
typedef struct fnh_call fnh_call;       /* one invocation, as one binding sees it */

/* Directions of a binding type. */
#define FNH_IN 1u
#define FNH_OUT 2u

/* A trigger type. Every callback runs on the loop thread. As in Azure, a
 * function.json binding is a trigger when its type name ends in "Trigger",
 * so trigger types must be named that way ("queueTrigger") and binding types
 * must not; the host refuses an extension that breaks either rule. */
typedef struct fnh_trigger_type {
    uint32_t size;    /* sizeof(fnh_trigger_type) */
    const char *type; /* function.json "type", e.g. "queueTrigger" (case-insensitive) */
    /* Validates cfg (the binding's JSON, %settings% resolved) and creates the
     * binding's state. Report a bad property with fnh_config_fail. */
    int (*bind)(fnh_binding *b, const fnh_config *cfg, void **state);
    /* Begins listening: from now on the extension may call fnh_fire. */
    int (*start)(void *state);
    /* The invocation fired with token finished: status 0 (succeeded) or a
     * negative errno (failed, -ETIMEDOUT on functionTimeout). Called once the
     * function has really returned (after a timeout, when the runner has
     * stopped it), so the event is never redelivered while it runs. result is the
     * function's $return value or NULL (borrowed for the call). Called
     * exactly once per successful fnh_fire; under a retry policy
     * (FNH_TRIGGER_RETRIES) once, for the last try. */
    void (*complete)(void *state, void *token, int status, const fnh_value *result);
    /* Stops listening. After it returns the extension calls fnh_fire no more
     * (its threads are joined, its handles closed). complete() may still be
     * called for invocations in flight. */
    void (*stop)(void *state);
    /* Frees state. No callback for this binding follows. */
    void (*unbind)(void *state);
    /* ABI 1.1, optional: a manual run (the admin API's POST
     * /admin/functions/{name}): start one invocation of the binding's
     * function for input (borrowed for the call: the "input" the caller sent,
     * as text or JSON), typically by fnh_fire with a payload made from it.
     * Return 0 when an invocation was started, else a negative errno (the
     * caller is told it failed). NULL: the host runs the function with input
     * as the trigger value, without calling complete. */
    int (*invoke)(void *state, const fnh_value *input);
    /* ABI 1.2, optional: FNH_TRIGGER_* bits. */
    uint32_t flags;
} fnh_trigger_type;

/* The host applies retry policies (host.json or function.json "retry") to
 * this trigger's invocations, as Azure does for Timer, Event Hubs, Cosmos DB
 * and Kafka: a failed try runs again after the policy's delay, with the
 * function's retry context counting the tries, and complete() is called
 * once, with the status of the last try. Leave it out when the source has
 * its own redelivery (a queue's dequeue count, a blob's receipts). */
#define FNH_TRIGGER_RETRIES 0x1u

/* An input and/or output binding type. */
typedef struct fnh_binding_type {
    uint32_t size;       /* sizeof(fnh_binding_type) */
    const char *type;    /* e.g. "queue", "blob" */
    unsigned directions; /* FNH_IN | FNH_OUT */
    int (*bind)(fnh_binding *b, const fnh_config *cfg, void **state);
    /* Input: produce the value for this invocation with fnh_call_set_value
     * (no call = the input is null). Worker thread, concurrent. */
    int (*read)(void *state, fnh_call *call);
    /* Output: store v (borrowed for the call). Worker thread, concurrent.
     * Called only when the function set this output. */
    int (*write)(void *state, fnh_call *call, const fnh_value *v);
    void (*unbind)(void *state);
} fnh_binding_type;

/* A CLI subcommand contributed by an extension: `fnhost <name> ...`; the
 * manifest lists it under "commands" and `fnhost extensions list` prints its
 * summary.
 * run gets argv[0] = name and returns the process exit status. It runs
 * without a host loop; fnh_ext_setting and fnh_ext_log work on the ext handle. */
typedef struct fnh_command {
    uint32_t size;       /* sizeof(fnh_command) */
    const char *name;    /* e.g. "queue" */
    const char *summary; /* one line for `fnhost help` */
    int (*run)(fnh_ext *ext, int argc, char **argv);
} fnh_command;

/* The descriptor: export exactly one, named fnh_extension. */
typedef struct fnh_extension_def {
    uint32_t abi_major, abi_minor, size; /* FNH_EXTENSION_HEAD */
    const char *name;    /* "queue"; host.json section extensions.<name> */
    const char *version; /* the extension's own version, for logs */
    /* Optional. section = host.json extensions.<name> (an empty object when
     * absent). May store one pointer in *global (see fnh_global). */
    int (*init)(fnh_ext *ext, const fnh_config *section, void **global);
    void (*fini)(void *global); /* optional */
    const fnh_trigger_type *const *triggers; /* NULL-terminated, or NULL */
    const fnh_binding_type *const *bindings; /* NULL-terminated, or NULL */
    const fnh_command *const *commands;      /* NULL-terminated, or NULL */
} fnh_extension_def;

#define FNH_EXTENSION_HEAD FNH_ABI_MAJOR, FNH_ABI_MINOR, (uint32_t)sizeof(fnh_extension_def)

/* Host services. Append-only. The first member of every fnh_ext,
 * fnh_binding, fnh_config and fnh_call points to this table. */
typedef struct fnh_api {
    uint32_t size;      /* sizeof(fnh_api) in the running host */
    uint32_t abi_minor; /* FNH_ABI_MINOR of the running host */
    const char *(*config_string)(const fnh_config *c, const char *key);
    int (*config_int)(const fnh_config *c, const char *key, int64_t *out);
    int (*config_bool)(const fnh_config *c, const char *key, int *out);
    const char *(*config_json)(const fnh_config *c);
    const char *(*setting)(const void *handle, const char *name);
    int (*config_fail)(const fnh_config *c, const char *key, const char *fmt, va_list ap);
    void *(*global)(const void *handle);
    struct uv_loop_s *(*loop)(const void *handle);
    int (*fire)(fnh_binding *b, const fnh_value *payload, const fnh_kv *meta, size_t nmeta,
                void *token);
    const fnh_config *(*call_config)(fnh_call *call);
    int (*call_set_value)(fnh_call *call, const fnh_value *v);
    void (*log)(const void *handle, fnh_log_level level, const char *fmt, va_list ap);
    const char *(*strerror)(int err);
    const char *(*app_root)(const void *handle);
    const char *(*function_name)(const void *handle);
    const char *(*call_meta)(fnh_call *call, const char *key);
} fnh_api;

#define FNH__API(h) (*(const fnh_api *const *)(const void *)(h))

/* ---- config (loop thread; cfg borrowed for the callback it came with) ---- */

/* A string property (case-insensitive key), or NULL when absent or not a
 * string. %Setting% references are already resolved. Borrowed. */
static inline const char *fnh_config_string(const fnh_config *c, const char *key)
{
    return FNH__API(c)->config_string(c, key);
}

/* A number (or a string holding one). 0, -ENOENT when absent, -EINVAL when
 * not an integer. */
static inline int fnh_config_int(const fnh_config *c, const char *key, int64_t *out)
{
    return FNH__API(c)->config_int(c, key, out);
}

/* A boolean (or "true"/"false"). 0, -ENOENT, -EINVAL. */
static inline int fnh_config_bool(const fnh_config *c, const char *key, int *out)
{
    return FNH__API(c)->config_bool(c, key, out);
}

/* The whole object as JSON text. Borrowed. */
static inline const char *fnh_config_json(const fnh_config *c)
{
    return FNH__API(c)->config_json(c);
}

/* Records "<function.json>: bindings[i] (<type>): <key>: <message>" (or
 * "host.json: extensions.<name>.<key>: ..." for an init section) and returns
 * -EINVAL, so `return fnh_config_fail(cfg, "queueName", "...");` works. */
__attribute__((format(printf, 3, 4))) static inline int fnh_config_fail(const fnh_config *c,
                                                                       const char *key,
                                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = FNH__API(c)->config_fail(c, key, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- handles (any handle: fnh_ext, fnh_binding, fnh_config, fnh_call) ---- */

/* An app setting (local.settings.json Values; the environment wins), NULL
 * when unset. Borrowed from the environment. Any thread. */
static inline const char *fnh_ext_setting(const void *handle, const char *name)
{
    return FNH__API(handle)->setting(handle, name);
}

/* What init stored in *global. Any thread. */
static inline void *fnh_global(const void *handle)
{
    return FNH__API(handle)->global(handle);
}

/* The host's libuv loop, for extensions that put handles on it. Loop thread
 * only; NULL in CLI commands. */
static inline struct uv_loop_s *fnh_loop(const void *handle)
{
    return FNH__API(handle)->loop(handle);
}

/* The function app's root folder as an absolute path (in CLI commands: the
 * --script-root argument, default the current folder). Borrowed. */
static inline const char *fnh_app_root(const void *handle)
{
    return FNH__API(handle)->app_root(handle);
}

/* The name of the function a binding or call belongs to; NULL otherwise. */
static inline const char *fnh_function_name(const void *handle)
{
    return FNH__API(handle)->function_name(handle);
}

/* Logs one line under the category Host.Extensions.<name>. Any thread. */
__attribute__((format(printf, 3, 4))) static inline void fnh_ext_log(const void *handle,
                                                                     fnh_log_level level,
                                                                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    FNH__API(handle)->log(handle, level, fmt, ap);
    va_end(ap);
}

static inline const char *fnh_ext_strerror(const void *handle, int err)
{
    return FNH__API(handle)->strerror(err);
}

/* ---- triggers ---- */

/* Starts an invocation of the binding's function. Any thread. The host
 * copies payload and meta before returning. meta are trigger metadata
 * (readable by the function with fnh_input_meta and usable as {Key} binding
 * expressions); two keys are special: "$reason" replaces the Executing
 * line's reason, "$details" adds a "Trigger Details: ..." line.
 * Returns 0 (complete() will be called exactly once, on the loop thread),
 * -EAGAIN when the host's queue is full (retry later: nothing is lost),
 * -ESHUTDOWN after stop, -EINVAL for bad arguments. */
static inline int fnh_fire(fnh_binding *b, const fnh_value *payload, const fnh_kv *meta,
                           size_t nmeta, void *token)
{
    return FNH__API(b)->fire(b, payload, meta, nmeta, token);
}

/* ---- input and output bindings (worker thread, during read/write) ---- */

/* The binding's config with {expressions} resolved for this invocation
 * ({queueTrigger}, {name}, {rand-guid}, {DateTime}, {sys.utcnow}, ...).
 * Borrowed until read/write returns. */
static inline const fnh_config *fnh_call_config(fnh_call *call)
{
    return FNH__API(call)->call_config(call);
}

/* Sets an input binding's value; the host copies it. 0 or -ENOMEM. */
static inline int fnh_call_set_value(fnh_call *call, const fnh_value *v)
{
    return FNH__API(call)->call_set_value(call, v);
}

/* A trigger metadata value of this invocation (case-insensitive key), e.g.
 * "queueTrigger", "name"; NULL when absent. Borrowed until read/write returns. */
static inline const char *fnh_call_meta(fnh_call *call, const char *key)
{
    return FNH__API(call)->call_meta(call, key);
}

#endif
