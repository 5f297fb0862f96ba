/* fnhost/function.h: the whole API a native C function sees.
 *
 * A native function is a shared object named by function.json "scriptFile".
 * It carries exactly one FNH_FUNCTION_MODULE(flags); line and exports the entry
 * point named by "entryPoint" (default "run") with the signature
 *
 *     int run(fnh_ctx *ctx);      returns 0 on success, a negative errno on failure
 *
 * The host checks fnh_function_abi before it calls anything in the .so.
 *
 * Threads: a ctx belongs to the thread that called the entry point until the
 * entry point returns; never keep it or use it from another thread. By default
 * functions run on fnhost's worker threads, so they may block. A module built
 * with FNH_FUNCTION_MODULE(FNH_FN_NONBLOCKING) promises never to block (no I/O,
 * no sleeps, no locks held for long) and is then run inline on the event loop,
 * which is faster for short CPU-only work.
 *
 * Ownership: every pointer the host returns is borrowed and valid until the
 * entry point returns. Every pointer the function passes in is copied by the
 * host before the call returns. Nothing is freed across the boundary.
 *
 * Bindings are addressed by their function.json "name" ("req", "res",
 * "$return", "myTimer", ...). Values are bytes + length + content type.
 *
 * HTTP trigger metadata keys (for fnh_input_meta on the trigger binding):
 *   "method"  "GET", "POST", ...          "url"    full URL as received
 *   "path"    decoded path, no query       "query"  raw query string ("" if none)
 *   "query.<name>"    first value of a query parameter (decoded)
 *   "headers.<name>"  header value, name case-insensitive (repeated ones joined by ", ")
 *   "params.<name>"   route parameter; NULL when absent
 * fnh_input_meta_at iterates the groups "query", "headers" and "params".
 *
 * Other triggers: the payload is the trigger's input (a timer gets its
 * TimerInfo JSON); an extension trigger's metadata (e.g. "DequeueCount") is
 * read with fnh_input_meta(ctx, name, key) and iterated as the group "meta".
 * Extension input bindings are read with fnh_input; one without a value
 * (e.g. a missing blob) gives -ENODATA.
 *
 * HTTP output (binding of type "http", or "$return"): fnh_output sets the body
 * (its content_type becomes Content-Type unless a header sets one);
 * fnh_output_meta(ctx, "res", "status", "201") sets the status;
 * fnh_output_meta(ctx, "res", "headers.X-Name", "v") sets a header (a second
 * call for the same name replaces the value). A function
 * that sets no HTTP output answers 204 No Content. */
#ifndef FNHOST_FUNCTION_H
#define FNHOST_FUNCTION_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include "common.h"

typedef struct fnh_ctx fnh_ctx;

/* ABI 1.2: where this invocation stands under its function's retry policy
 * (host.json or function.json "retry"), as Azure's RetryContext. */
typedef struct fnh_retry_info {
    int retry_count;       /* 0 on the first try, then 1, 2, ... */
    int max_retry_count;   /* the policy's maxRetryCount; -1: retried until it succeeds */
    int last_error;        /* the previous try's negative errno; 0 on the first try */
    const char *exception; /* the previous try's failure as text; NULL on the first try */
} fnh_retry_info;

/* Module flags for FNH_FUNCTION_MODULE. */
#define FNH_FN_NONBLOCKING 0x1u

/* The module descriptor the host reads (with dlsym) before calling anything. */
typedef struct fnh_function_module {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t size;  /* sizeof(fnh_function_module) as the module was built */
    uint32_t flags; /* FNH_FN_* */
} fnh_function_module;

#define FNH_FUNCTION_MODULE(flags)                                                     \
    FNH_EXPORT const fnh_function_module fnh_function_abi = {                          \
        FNH_ABI_MAJOR, FNH_ABI_MINOR, (uint32_t)sizeof(fnh_function_module), (flags)}

/* Host services, reached from the first word of every fnh_ctx. Append-only:
 * members are only ever added at the end (ABI minor grows). */
typedef struct fnh_function_api {
    uint32_t size;      /* sizeof(fnh_function_api) in the running host */
    uint32_t abi_minor; /* FNH_ABI_MINOR of the running host */
    int (*input)(fnh_ctx *c, const char *name, fnh_value *out);
    const char *(*input_meta)(fnh_ctx *c, const char *name, const char *key);
    int (*input_meta_at)(fnh_ctx *c, const char *name, const char *group, size_t index,
                         fnh_kv *out);
    int (*output)(fnh_ctx *c, const char *name, const fnh_value *v);
    int (*output_meta)(fnh_ctx *c, const char *name, const char *key, const char *value);
    const char *(*setting)(fnh_ctx *c, const char *name);
    void (*log)(fnh_ctx *c, fnh_log_level level, const char *fmt, va_list ap);
    const char *(*strerror)(int err);
    const char *(*invocation_id)(fnh_ctx *c);
    /* ABI 1.2 */
    int (*retry_context)(fnh_ctx *c, fnh_retry_info *out);
} fnh_function_api;

#define FNH__FAPI(c) (*(const fnh_function_api *const *)(const void *)(c))

/* Reads the value of input binding `name` (the trigger or an input binding)
 * into *out. out->data stays valid until the entry point returns and is
 * followed by a NUL byte (not counted in len). Returns 0, -ENOENT when no
 * binding has that name, -ENODATA when an input binding has no value (null),
 * -EINVAL for NULL arguments. */
static inline int fnh_input(fnh_ctx *c, const char *name, fnh_value *out)
{
    return FNH__FAPI(c)->input(c, name, out);
}

/* One metadata string of input `name` (keys listed at the top of this file).
 * Returns a borrowed NUL-terminated string valid until the entry point returns,
 * or NULL when the binding or key does not exist. */
static inline const char *fnh_input_meta(fnh_ctx *c, const char *name, const char *key)
{
    return FNH__FAPI(c)->input_meta(c, name, key);
}

/* The index-th entry of metadata group `group` ("query", "headers", "params")
 * of input `name`. out->key and out->value are borrowed until the entry point
 * returns; out->value is NULL for an absent optional route parameter.
 * Returns 0, or -ENOENT past the last entry or for an unknown group. */
static inline int fnh_input_meta_at(fnh_ctx *c, const char *name, const char *group,
                                    size_t index, fnh_kv *out)
{
    return FNH__FAPI(c)->input_meta_at(c, name, group, index, out);
}

/* Sets output `name` ("res", "$return", or any output binding) to *v. The
 * host copies v->data and v->content_type before returning. Setting a value
 * twice replaces it. Returns 0, -ENOENT for an unknown output, -EINVAL for
 * a content type with a line break or another control byte (it becomes a
 * header) or NULL data with a length (the output keeps what it had), or
 * -ENOMEM. */
static inline int fnh_output(fnh_ctx *c, const char *name, const fnh_value *v)
{
    return FNH__FAPI(c)->output(c, name, v);
}

/* Sets metadata of output `name`: for HTTP "status" (a number as text, a
 * final status from 200 to 999: 1xx statuses are refused and the caller then
 * gets 500 unless a valid status is set later) or "headers.<Name>". Copies
 * key and value. Returns 0, -ENOENT for an unknown output, -EINVAL for a bad
 * key or status, -ENOMEM. */
static inline int fnh_output_meta(fnh_ctx *c, const char *name, const char *key,
                                  const char *value)
{
    return FNH__FAPI(c)->output_meta(c, name, key, value);
}

/* An app setting (local.settings.json "Values"; real environment variables
 * win). Borrowed, valid until the entry point returns; NULL when unset. */
static inline const char *fnh_setting(fnh_ctx *c, const char *name)
{
    return FNH__FAPI(c)->setting(c, name);
}

/* Logs one line under the category Function.<Name>.User. */
static inline void fnh_logv(fnh_ctx *c, fnh_log_level level, const char *fmt, va_list ap)
{
    FNH__FAPI(c)->log(c, level, fmt, ap);
}

__attribute__((format(printf, 3, 4))) static inline void fnh_log(fnh_ctx *c,
                                                                 fnh_log_level level,
                                                                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    FNH__FAPI(c)->log(c, level, fmt, ap);
    va_end(ap);
}

/* Text for a negative errno returned by any fnhost call. Static storage. */
static inline const char *fnh_strerror(fnh_ctx *c, int err)
{
    return FNH__FAPI(c)->strerror(err);
}

/* The invocation id (a UUID), borrowed until the entry point returns. */
static inline const char *fnh_invocation_id(fnh_ctx *c)
{
    return FNH__FAPI(c)->invocation_id(c);
}

/* Fills *out with the invocation's retry context (out->exception is
 * borrowed until the entry point returns). Returns 0, -ENOENT when the
 * function runs under no retry policy (Azure's RetryContext is null then:
 * HTTP functions, triggers without retries, no "retry" configured), or
 * -ENOSYS on a host older than ABI 1.2. */
static inline int fnh_retry_context(fnh_ctx *c, fnh_retry_info *out)
{
    const fnh_function_api *api = FNH__FAPI(c);
    if (api->size < offsetof(fnh_function_api, retry_context) + sizeof api->retry_context ||
        !api->retry_context)
        return -ENOSYS;
    return api->retry_context(c, out);
}

#endif
