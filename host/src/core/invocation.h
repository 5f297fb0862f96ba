/* invocation.h: one invocation of one function: its trigger input (an HTTP
 * request or a payload), route values, the outputs the function sets, and
 * the fnh_ctx the function sees. Created and completed on the loop thread;
 * between dispatch and completion it belongs to the thread running it. */
#ifndef FNH_INVOCATION_H
#define FNH_INVOCATION_H

#include <errno.h>
#include <stdint.h>

#include "app.h"
#include "http_types.h"

typedef struct fnh__output {
    const char *name;    /* binding name (borrowed from the function, or "$return") */
    fnh__buf body;
    const char *content_type; /* NULL, or ctype.data */
    fnh__buf ctype;      /* content_type's storage */
    int set;             /* fnh_output was called */
    int status;          /* 0 = default; -1 = a refused status was set (answer 500) */
    fnh_kv *headers;     /* owned strings */
    size_t nheaders;
} fnh__output;

/* The value of an extension input binding, read before the function runs. */
typedef struct fnh__input {
    char *name;
    fnh__buf value;
    char *content_type;
    int set;
} fnh__input;

/* One group of trigger metadata, as fnh_input_meta and fnh_input_meta_at
 * read it: "" (top-level keys: "queueTrigger", HTTP's "method", "url",
 * "path", "query"), and for HTTP "headers", "query" and "params". The
 * pairs are borrowed from the trigger input's storage. */
typedef struct fnh__meta_group {
    const char *name;
    const fnh_kv *kv;
    size_t n;
} fnh__meta_group;

/* A trigger's input: one shape for every trigger. The value (an HTTP
 * request's body, a queue message, a TimerInfo), its content type, groups of
 * metadata, and for HTTP the request itself as an optional view. Filled
 * with the fnh__input_set_* calls below; freed with the invocation. */
typedef struct fnh__trigger_input {
    const char *data;         /* the value; "" when empty */
    size_t len;
    const char *content_type; /* NULL when unknown */
    fnh__meta_group groups[4];
    size_t ngroups;
    fnh__http_req *http;      /* the HTTP view (owned), NULL for other triggers */
    /* storage */
    fnh__buf payload;
    char *ctype;
    fnh_kv *meta;
    size_t nmeta;
    char *metastore;
    fnh_kv http_top[4];
    fnh_kv *params;           /* in paramstore */
    size_t nparams;
    fnh__buf paramstore;      /* the params pairs, then their strings */
} fnh__trigger_input;

/* The Executing line's reason for HTTP and admin-API invocations (Azure's). */
#define FNH__REASON_HOST_API "This function was programmatically called via the host APIs."

typedef struct fnh__invocation fnh__invocation;
typedef void (*fnh__complete_fn)(fnh__invocation *inv);

/* An observer of one invocation, whatever trigger started it (the admin
 * API's synchronous invoke). Owned by whoever armed it; the invocation
 * borrows it until done is called. */
typedef struct fnh__inv_watch fnh__inv_watch;
struct fnh__inv_watch {
    /* Loop thread, once: inv completed (right after its trigger's
     * completion; on a timeout its outputs must not be read), or inv is
     * NULL: the run was dropped before it started (the host is stopping,
     * or the invocation was freed undispatched after an error). */
    void (*done)(fnh__inv_watch *w, fnh__invocation *inv);
};

struct fnh__invocation {
    const fnh_function_api *api; /* first member: this is the fnh_ctx */
    fnh__function *fn;
    struct fnh__app *app;
    char id[37];
    const char *reason;      /* the Executing line's reason (borrowed, or reason_owned) */
    char *reason_owned;      /* malloc'd reason, freed with the invocation */
    char *trigger_details;   /* optional "Trigger Details: ..." line, owned */
    uint64_t start_ns;       /* dispatched (loop thread) */
    uint64_t run_ns;         /* the function started; 0 while queued (atomic: workers write) */
    fnh__trigger_input in;   /* what the trigger brought */
    fnh__input *inputs;      /* extension input bindings' values */
    size_t ninputs;
    void *token;             /* the extension's fnh_fire token */
    fnh__output *outputs;
    size_t noutputs;
    size_t outcap;           /* slots allocated in outputs */
    int rc;                  /* the function's return value */
    /* retries (dispatch.c): has_retry when the function runs under a retry
     * policy; retry_count tries before this one; the previous try's rc and
     * failure text (owned) */
    int has_retry;
    int retry_count;
    int retry_max;
    int retry_last_rc;
    char *retry_exception;
    uint64_t retry_due_ns;   /* waiting for its next try until then */
    int timed_out;           /* functionTimeout passed: completed as failed (loop thread) */
    int abandoned;           /* completed; the worker frees it when it returns */
    int overdue;             /* pool lock: timed out while a worker runs it */
    int returned;            /* pool lock: the worker is done with it */
    void (*pool_job)(fnh__invocation *);  /* pool: what a worker runs */
    void (*pool_done)(fnh__invocation *); /* pool: then, on the loop thread */
    int in_pool;             /* dispatch: a pool job of it is queued or running */
    fnh__complete_fn complete; /* loop thread, once: answers the trigger */
    fnh__complete_fn release;  /* loop thread, once, optional: the work has really
                                * returned (after complete; later when timed out) */
    void *owner;             /* e.g. the HTTP exchange */
    fnh__inv_watch *watch;   /* an observer (borrowed), or NULL */
    struct fnh__log_tee *tee; /* with a watch: a copy of the lines it logs (owned) */
    fnh__invocation *next;   /* queue links (dispatch, pool) */
    fnh__invocation *prev_live, *next_live;
};

/* New invocation of fn (caller owns; freed by dispatch after completion).
 * NULL when out of memory. */
fnh__invocation *fnh__invocation_new(struct fnh__app *app, fnh__function *fn, const char *reason);
/* Frees inv; a watch still on it (it never completed) hears done(NULL).
 * The calling thread keeps a few freed invocations, with their output
 * buffers, for its next fnh__invocation_new calls (the request path makes
 * one per request); the main thread's are released at exit. */
void fnh__invocation_free(fnh__invocation *inv);

/* Arms w (borrowed; NULL disarms): the next invocation this thread
 * creates, or the next event it fires (ext/), takes it. Loop thread. */
void fnh__invocation_watch_arm(fnh__inv_watch *w);
/* The armed watch, disarmed; NULL when none (or on another thread). */
fnh__inv_watch *fnh__invocation_watch_take(void);
/* Makes w (borrowed) the observer of inv and starts copying its log lines
 * (without memory for that copy, only the lines are missing). */
void fnh__invocation_watch(fnh__invocation *inv, fnh__inv_watch *w);
/* Tells inv's observer (if any) that inv completed, once. Loop thread. */
void fnh__invocation_notify(fnh__invocation *inv);
/* Frees the extension inputs read and the outputs set so far (a retry's
 * fresh try starts without them). Loop thread, or the thread owning inv. */
void fnh__invocation_clear_io(fnh__invocation *inv);
/* The invocation's result for its trigger's completion: 0, the function's
 * negative errno, or -ETIMEDOUT (then outputs must not be read: the
 * function may still be running). Loop thread. */
static inline int fnh__invocation_status(const fnh__invocation *inv)
{
    return inv->timed_out ? -ETIMEDOUT : inv->rc;
}

/* Sets the trigger's value (copied) and content type (copied; NULL: none).
 * 0 or -ENOMEM. */
int fnh__input_set_payload(fnh__invocation *inv, const void *data, size_t len,
                           const char *content_type);
/* Gives the invocation the trigger's top-level metadata: meta (n pairs whose
 * strings live in store); takes ownership of meta and store. Keys starting
 * with '$' are the host's and not shown to the function. */
void fnh__input_set_meta(fnh__invocation *inv, fnh_kv *meta, size_t n, char *store);
/* Makes an HTTP request the trigger input: its body the value, method,
 * url, path and query the top-level metadata, its headers, query
 * parameters and the route values (params, copied) the other groups.
 * Takes ownership of req. 0 or -ENOMEM (req is freed with the invocation
 * either way). */
int fnh__input_set_http(fnh__invocation *inv, fnh__http_req *req, const fnh_kv *params,
                        size_t nparams);

/* The output a function set for binding name, or NULL. */
fnh__output *fnh__invocation_output(fnh__invocation *inv, const char *name);

/* Trigger metadata value by key (case-insensitive) from the top-level
 * group, or NULL. */
const char *fnh__invocation_meta(const fnh__invocation *inv, const char *key);
/* Resolves {expressions} in s against the invocation's binding data:
 * trigger metadata, route values, query parameters, top-level properties
 * of a JSON payload, {rand-guid}, {DateTime}, {sys.utcnow}, {sys.randguid},
 * {sys.methodname}. Returns a malloc'd string, or NULL with *missing =
 * malloc'd name of the first unknown expression. Any thread owning inv. */
char *fnh__invocation_expand(fnh__invocation *inv, const char *s, char **missing);

/* The function API table handed to native functions. */
extern const fnh_function_api fnh__function_api;

#endif
