/* retry.c: retry policies: the "retry" object of host.json and function.json
 * checked into a fnh__retry_policy (one sentence per problem), the delay
 * before each retry, and .NET's TimeSpan text for the log line. */
#include "retry.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "ncrontab.h"
#include "util.h"

static const char *const retry_keys[] = {"strategy", "maxRetryCount", "delayInterval",
                                         "minimumInterval", "maximumInterval", NULL};

/* key as a TimeSpan of zero or more (up to FNH__MAX_SPAN_MS) into *ms. */
static int read_span(const cJSON *obj, const char *key, const char *file, const char *jpath,
                     const char *strategy, fnh__strlist *errs, int64_t *ms)
{
    const cJSON *v = cJSON_GetObjectItem(obj, key);
    if (!v) {
        fnh__strlist_addf(errs, "%s: %s: the %s strategy needs \"%s\"; add it as a TimeSpan "
                                "such as \"00:00:05\"",
                          file, jpath, strategy, key);
        return -EINVAL;
    }
    int rc = fnh__json_timespan_ms(v, 0, 0, ms);
    if (rc == 0)
        return 0;
    char *brief = fnh__json_brief(v);
    if (rc == -ERANGE)
        fnh__strlist_addf(errs, "%s: %s.%s: %s " FNH__SPAN_RANGE_FIX, file, jpath, key,
                          brief ? brief : "value");
    else
        fnh__strlist_addf(errs, "%s: %s.%s: %s is not a TimeSpan of zero or more; write "
                                "\"hh:mm:ss\", e.g. \"00:00:05\"",
                          file, jpath, key, brief ? brief : "value");
    free(brief);
    return -EINVAL;
}

int fnh__retry_read(const cJSON *v, const char *file, const char *jpath, fnh__strlist *errs,
                    fnh__strlist *warns, fnh__retry_policy *out)
{
    if (!v)
        return 0;
    if (!cJSON_IsObject(v)) {
        fnh__strlist_addf(errs, "%s: %s: must be an object like {\"strategy\": \"fixedDelay\", "
                                "\"maxRetryCount\": 3, \"delayInterval\": \"00:00:05\"}, not %s",
                          file, jpath, fnh__json_type_name(v));
        return -EINVAL;
    }
    char at[64];
    snprintf(at, sizeof at, "%s.", jpath);
    fnh__json_typo_warnings(warns, file, v, at, retry_keys);
    size_t before = errs->len;
    fnh__retry_policy p = {0};
    const cJSON *s = cJSON_GetObjectItem(v, "strategy");
    if (cJSON_IsString(s) && strcasecmp(s->valuestring, "fixedDelay") == 0) {
        p.strategy = FNH__RETRY_FIXED;
    } else if (cJSON_IsString(s) && strcasecmp(s->valuestring, "exponentialBackoff") == 0) {
        p.strategy = FNH__RETRY_EXPONENTIAL;
    } else {
        char *brief = s ? fnh__json_brief(s) : NULL;
        fnh__strlist_addf(errs, "%s: %s.strategy: %s is not a retry strategy; write "
                                "\"fixedDelay\" or \"exponentialBackoff\"",
                          file, jpath, s ? (brief ? brief : "value") : "missing");
        free(brief);
    }
    const cJSON *n = cJSON_GetObjectItem(v, "maxRetryCount");
    uint64_t count;
    if ((cJSON_IsNumber(n) && n->valuedouble == -1) ||
        (cJSON_IsString(n) && strcmp(n->valuestring, "-1") == 0)) {
        p.max_retry_count = -1;
    } else if (n && fnh__json_whole_number(n, 0, INT32_MAX, &count) == 0) {
        p.max_retry_count = (int)count;
    } else {
        char *brief = n ? fnh__json_brief(n) : NULL;
        fnh__strlist_addf(errs, "%s: %s.maxRetryCount: %s is not a retry count; write a whole "
                                "number from 0 to %d, or -1 to retry until the function "
                                "succeeds",
                          file, jpath, n ? (brief ? brief : "value") : "missing", INT32_MAX);
        free(brief);
    }
    if (p.strategy == FNH__RETRY_FIXED) {
        read_span(v, "delayInterval", file, jpath, "fixedDelay", errs, &p.delay_ms);
    } else if (p.strategy == FNH__RETRY_EXPONENTIAL) {
        int a = read_span(v, "minimumInterval", file, jpath, "exponentialBackoff", errs,
                          &p.min_ms);
        int b = read_span(v, "maximumInterval", file, jpath, "exponentialBackoff", errs,
                          &p.max_ms);
        if (!a && !b && p.min_ms > p.max_ms)
            fnh__strlist_addf(errs, "%s: %s.maximumInterval: is shorter than minimumInterval; "
                                    "make it at least as long",
                              file, jpath);
    }
    if (errs->len > before)
        return -EINVAL;
    *out = p;
    return 0;
}

int64_t fnh__retry_delay_ms(const fnh__retry_policy *p, int n)
{
    if (p->strategy == FNH__RETRY_FIXED)
        return p->delay_ms;
    if (p->strategy != FNH__RETRY_EXPONENTIAL)
        return 0;
    if (n <= 1)
        return p->min_ms;
    double jitter = 0.8 + 0.4 * ((double)(rand() % 1000) / 1000.0);
    double add = (double)p->min_ms * jitter;
    for (int i = 2; i < n && add < (double)p->max_ms; i++)
        add *= 2;
    double d = (double)p->min_ms + add;
    return d >= (double)p->max_ms ? p->max_ms : (int64_t)d;
}

void fnh__retry_span_fmt(int64_t ms, char out[40])
{
    if (ms < 0)
        ms = 0;
    int64_t secs = ms / 1000, frac = ms % 1000, d = secs / 86400;
    secs %= 86400;
    int n = d ? snprintf(out, 40, "%lld.", (long long)d) : 0;
    n += snprintf(out + n, (size_t)(40 - n), "%02d:%02d:%02d", (int)(secs / 3600),
                  (int)(secs / 60 % 60), (int)(secs % 60));
    if (frac)
        snprintf(out + n, (size_t)(40 - n), ".%03d0000", (int)frac);
}
