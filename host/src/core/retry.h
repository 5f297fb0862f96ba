/* retry.h: retry policies (host.json and function.json "retry": fixedDelay
 * or exponentialBackoff, maxRetryCount) as plain values: reading and
 * checking them, and the delay before each retry. Dispatch applies them
 * (dispatch.c); the trigger types that opt in decide where they apply. Any
 * thread (no state). */
#ifndef FNH_RETRY_H
#define FNH_RETRY_H

#include <stdint.h>

#include "strlist.h"

struct cJSON;

enum { FNH__RETRY_NONE = 0, FNH__RETRY_FIXED, FNH__RETRY_EXPONENTIAL };

typedef struct fnh__retry_policy {
    int strategy;        /* FNH__RETRY_*; NONE: no policy */
    int max_retry_count; /* retries after the first try; -1: until one succeeds */
    int64_t delay_ms;    /* fixedDelay: delayInterval */
    int64_t min_ms;      /* exponentialBackoff: minimumInterval */
    int64_t max_ms;      /* exponentialBackoff: maximumInterval */
} fnh__retry_policy;

/* Reads a "retry" object (v; NULL: absent, *out untouched) into *out. Each
 * problem is one sentence "<file>: <jpath>.<key>: ...; <fix>" in errs, and
 * *out is then left untouched; keys that look like typos of known ones are
 * warned about in warns. Returns 0 or -EINVAL. file and jpath name the
 * place for messages ("host.json", "retry"). */
int fnh__retry_read(const struct cJSON *v, const char *file, const char *jpath,
                    fnh__strlist *errs, fnh__strlist *warns, fnh__retry_policy *out);

/* The delay before retry number n (1 for the first retry) under p, in ms:
 * fixedDelay's interval; exponentialBackoff's minimum for the first, then
 * the minimum plus 2^(n-2) times the minimum with +-20% jitter (Azure's
 * randomized exponential back-off), never above the maximum. */
int64_t fnh__retry_delay_ms(const fnh__retry_policy *p, int n);

/* Formats ms as .NET's TimeSpan "c" format ("00:00:01", "00:00:00.2500000",
 * "1.02:00:00") into out[40]. */
void fnh__retry_span_fmt(int64_t ms, char out[40]);

#endif
