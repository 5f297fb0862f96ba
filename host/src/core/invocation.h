/* invocation.h: one invocation of one function: its trigger input (an HTTP
 * request or a payload), route values, the outputs the function sets, and
 * the fnh_ctx the function sees. Created and completed on the loop thread;
 * between dispatch and completion it belongs to the thread running it. */
#ifndef FNH_INVOCATION_H
#define FNH_INVOCATION_H

#include <errno.h>
#include <stdint.h>

#include "app.h"
#include "http_router.h"
#include "http_types.h"

typedef struct fnh__output {
    char *name;          /* binding name */
    fnh__buf body;
    char *content_type;
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

typedef struct fnh__invocation fnh__invocation;
typedef void (*fnh__complete_fn)(fnh__invocation *inv);

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
    fnh__http_req *req;      /* owned; NULL for non-HTTP triggers */
    fnh__route_match match;  /* route values */
    fnh__buf payload;        /* non-HTTP trigger input */
    char *payload_type;
    fnh_kv *meta;            /* trigger metadata of extension triggers, owned */
    size_t nmeta;
    char *metastore;         /* the strings meta points into */
    fnh__input *inputs;      /* extension input bindings' values */
    size_t ninputs;
    void *token;             /* the extension's fnh_fire token */
    fnh__output *outputs;
    size_t noutputs;
    int rc;                  /* the function's return value */
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
    fnh__invocation *next;   /* queue links (dispatch, pool) */
    fnh__invocation *prev_live, *next_live;
};

/* New invocation of fn (caller owns; freed by dispatch after completion).
 * NULL when out of memory. */
fnh__invocation *fnh__invocation_new(struct fnh__app *app, fnh__function *fn, const char *reason);
void fnh__invocation_free(fnh__invocation *inv);
/* The invocation's result for its trigger's completion: 0, the function's
 * negative errno, or -ETIMEDOUT (then outputs must not be read: the
 * function may still be running). Loop thread. */
static inline int fnh__invocation_status(const fnh__invocation *inv)
{
    return inv->timed_out ? -ETIMEDOUT : inv->rc;
}

/* The output a function set for binding name, or NULL. */
fnh__output *fnh__invocation_output(fnh__invocation *inv, const char *name);

/* Trigger metadata value by key (case-insensitive), or NULL. */
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
