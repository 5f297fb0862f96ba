/* http_throttle.h: host.json extensions.http's throttles and HSTS as the
 * front door applies them to function routes: maxConcurrentRequests (HTTP
 * invocations running at once; the rest wait in arrival order),
 * maxOutstandingRequests (waiting + running; beyond it 429 at once),
 * dynamicThrottlesEnabled (accepted and warned: no effect here) and hsts
 * (the Strict-Transport-Security header). Loop thread only. */
#ifndef FNH_HTTP_THROTTLE_H
#define FNH_HTTP_THROTTLE_H

#include <stdint.h>

#include "http_types.h"
#include "invocation.h"
#include "strlist.h"

struct cJSON;

/* One app snapshot's extensions.http throttles and HSTS. */
typedef struct fnh__http_throttle_opts {
    int64_t max_concurrent;      /* -1: unbounded */
    int64_t max_outstanding;     /* -1: unbounded */
    int dynamic;                 /* dynamicThrottlesEnabled (no effect here) */
    char *hsts;                  /* the header's value; NULL when HSTS is off */
    fnh__strlist hsts_excluded;  /* hsts.excludedHosts */
} fnh__http_throttle_opts;

/* Reads extensions.http (http may be NULL: every default) into o (zeroed
 * by the caller). Each bad value is one sentence "host.json:
 * extensions.http.<path>: ... ; <fix>" in errs (that value keeps its
 * default); dynamicThrottlesEnabled: true is a warning in warns. Returns 0,
 * or -EINVAL when it added errors. Free o with fnh__http_throttle_opts_free. */
int fnh__http_throttle_read(fnh__http_throttle_opts *o, const struct cJSON *http,
                            fnh__strlist *errs, fnh__strlist *warns);
void fnh__http_throttle_opts_free(fnh__http_throttle_opts *o);

/* The Strict-Transport-Security value for a response to req (NULL: HSTS is
 * off, or req's Host is one of excludedHosts). Borrowed from o. */
const char *fnh__http_hsts_value(const fnh__http_throttle_opts *o, const fnh__http_req *req);

/* Admits an HTTP invocation (built, not yet dispatched; inv->owner is its
 * exchange) under o's limits. Returns 1 when it was dispatched now, 0 when it
 * waits (the throttle dispatches it when a running one ends, in arrival
 * order), or -EBUSY when maxOutstandingRequests is reached: the caller
 * answers 429 and still owns inv. When 0 or 1 the throttle owns the slot and
 * has set inv->release to give it back. */
int fnh__http_throttle_admit(const fnh__http_throttle_opts *o, fnh__invocation *inv);
/* Requests waiting and running under a throttle (for tests and logs). */
size_t fnh__http_throttle_waiting(void);
size_t fnh__http_throttle_running(void);
/* Host shutdown: every invocation still waiting is answered 503 and freed. */
void fnh__http_throttle_shutdown(void);

#endif
