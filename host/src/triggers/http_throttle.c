/* http_throttle.c: extensions.http's throttles and HSTS: reading and
 * checking the settings, the front door's admission of HTTP invocations
 * (run now, wait in arrival order for a slot, or 429) and the
 * Strict-Transport-Security value. The waiting queue and the counters are
 * the running host's, kept across app snapshots; loop thread only. */
#include "http_throttle.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dispatch.h"
#include "host.h"
#include "json.h"
#include "ncrontab.h"
#include "util.h"

/* ---- settings --------------------------------------------------------------- */

#define AT "host.json: extensions.http."

/* -1 (either as a number or a string) or a whole number from 1 up. */
static void read_limit(const cJSON *v, const char *key, fnh__strlist *errs, int64_t *out)
{
    if (!v)
        return;
    uint64_t n;
    if ((cJSON_IsNumber(v) && v->valuedouble == -1) ||
        (cJSON_IsString(v) && strcmp(v->valuestring, "-1") == 0)) {
        *out = -1;
        return;
    }
    if (fnh__json_whole_number(v, 1, INT32_MAX, &n) == 0) {
        *out = (int64_t)n;
        return;
    }
    char *brief = fnh__json_brief(v);
    fnh__strlist_addf(errs, AT "%s: %s is not a request count; write a whole number from 1 to "
                            "%d, or -1 for no limit (the default)",
                      key, brief ? brief : "value", INT32_MAX);
    free(brief);
}

/* true/false, or the strings "true"/"false" (environment overrides). */
static int read_bool(const cJSON *v, const char *key, fnh__strlist *errs, int *out)
{
    if (!v)
        return 0;
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return 0;
    }
    if (cJSON_IsString(v) && (strcasecmp(v->valuestring, "true") == 0 ||
                              strcasecmp(v->valuestring, "false") == 0)) {
        *out = strcasecmp(v->valuestring, "true") == 0;
        return 0;
    }
    char *brief = fnh__json_brief(v);
    fnh__strlist_addf(errs, AT "%s: %s is not a boolean; write true or false", key,
                      brief ? brief : "value");
    free(brief);
    return -EINVAL;
}

/* hsts.maxAge: a TimeSpan ("365.00:00:00"; a bare number is days, as .NET
 * reads "10"), zero or more. Seconds into *secs. */
static void read_max_age(const cJSON *v, fnh__strlist *errs, int64_t *secs)
{
    if (!v)
        return;
    int64_t ms = -1;
    char num[32];
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 3650000 &&
        v->valuedouble == (double)(int64_t)v->valuedouble) {
        snprintf(num, sizeof num, "%lld", (long long)v->valuedouble);
        fnh__timespan_parse(num, &ms);
    } else if (cJSON_IsString(v) && fnh__timespan_parse(v->valuestring, &ms) != 0) {
        ms = -1;
    }
    if (ms >= 0) {
        *secs = ms / 1000;
        return;
    }
    char *brief = fnh__json_brief(v);
    fnh__strlist_addf(errs, AT "hsts.maxAge: %s is not a TimeSpan of zero or more; write days "
                            "as \"365\" or a span as \"365.00:00:00\"",
                      brief ? brief : "value");
    free(brief);
}

static const char *const hsts_keys[] = {"isEnabled", "maxAge", "includeSubDomains", "preload",
                                        "excludedHosts", NULL};

static void read_hsts(fnh__http_throttle_opts *o, const cJSON *h, fnh__strlist *errs,
                      fnh__strlist *warns)
{
    if (!h)
        return;
    if (!cJSON_IsObject(h)) {
        fnh__strlist_addf(errs, AT "hsts: must be an object like {\"isEnabled\": true, "
                                "\"maxAge\": \"365\"}, not %s",
                          fnh__json_type_name(h));
        return;
    }
    fnh__json_typo_warnings(warns, "host.json", h, "extensions.http.hsts.", hsts_keys);
    int enabled = 0, sub = 0, preload = 0;
    int64_t secs = 30 * 86400; /* ASP.NET Core's HstsOptions.MaxAge: 30 days */
    read_bool(cJSON_GetObjectItem(h, "isEnabled"), "hsts.isEnabled", errs, &enabled);
    read_bool(cJSON_GetObjectItem(h, "includeSubDomains"), "hsts.includeSubDomains", errs, &sub);
    read_bool(cJSON_GetObjectItem(h, "preload"), "hsts.preload", errs, &preload);
    read_max_age(cJSON_GetObjectItem(h, "maxAge"), errs, &secs);
    const cJSON *ex = cJSON_GetObjectItem(h, "excludedHosts");
    if (ex && !cJSON_IsArray(ex)) {
        fnh__strlist_addf(errs, AT "hsts.excludedHosts: must be an array of host names such as "
                                "[\"localhost\"], not %s",
                          fnh__json_type_name(ex));
    } else if (ex) {
        int i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, ex)
        {
            if (cJSON_IsString(e) && *e->valuestring)
                fnh__strlist_addf(&o->hsts_excluded, "%s", e->valuestring);
            else
                fnh__strlist_addf(errs, AT "hsts.excludedHosts[%d]: must be a host name (a "
                                        "non-empty string), not %s",
                                  i, fnh__json_type_name(e));
            i++;
        }
    }
    if (enabled)
        o->hsts = fnh__asprintf("max-age=%lld%s%s", (long long)secs,
                                sub ? "; includeSubDomains" : "", preload ? "; preload" : "");
}

int fnh__http_throttle_read(fnh__http_throttle_opts *o, const cJSON *http, fnh__strlist *errs,
                            fnh__strlist *warns)
{
    size_t before = errs->len;
    o->max_concurrent = -1;
    o->max_outstanding = -1;
    read_limit(cJSON_GetObjectItem(http, "maxConcurrentRequests"), "maxConcurrentRequests", errs,
               &o->max_concurrent);
    read_limit(cJSON_GetObjectItem(http, "maxOutstandingRequests"), "maxOutstandingRequests",
               errs, &o->max_outstanding);
    read_bool(cJSON_GetObjectItem(http, "dynamicThrottlesEnabled"), "dynamicThrottlesEnabled",
              errs, &o->dynamic);
    if (o->dynamic)
        fnh__strlist_addf(warns, AT "dynamicThrottlesEnabled: Azure answers 429 when its "
                                 "sandbox's health counters (connections, threads, processes, "
                                 "memory, CPU) pass 80%%; fnhost has no such counters, so the "
                                 "setting has no effect here; use maxConcurrentRequests and "
                                 "maxOutstandingRequests to throttle locally");
    read_hsts(o, cJSON_GetObjectItem(http, "hsts"), errs, warns);
    return errs->len > before ? -EINVAL : 0;
}

void fnh__http_throttle_opts_free(fnh__http_throttle_opts *o)
{
    free(o->hsts);
    o->hsts = NULL;
    fnh__strlist_free(&o->hsts_excluded);
}

const char *fnh__http_hsts_value(const fnh__http_throttle_opts *o, const fnh__http_req *req)
{
    if (!o || !o->hsts)
        return NULL;
    const char *host = req && o->hsts_excluded.len ? fnh__http_req_header(req, "Host") : NULL;
    if (host) {
        /* the name without the port ("[::1]:7071" -> "[::1]") */
        const char *colon = host[0] == '[' ? strchr(host, ']') : NULL;
        colon = colon ? strchr(colon, ':') : strchr(host, ':');
        size_t n = colon ? (size_t)(colon - host) : strlen(host);
        for (size_t i = 0; i < o->hsts_excluded.len; i++) {
            const char *x = o->hsts_excluded.items[i];
            if (strlen(x) == n && strncasecmp(x, host, n) == 0)
                return NULL;
        }
    }
    return o->hsts;
}

/* ---- admission ------------------------------------------------------------------ */

static struct {
    size_t running;              /* admitted invocations not yet returned */
    fnh__invocation *head, *tail; /* waiting, in arrival order (linked by next) */
    size_t waiting;
    int64_t limit;               /* maxConcurrentRequests of the latest admission */
    int pumping;
} g;

static void start_waiting(void);

/* inv's work has returned: its slot goes to the first waiting one. */
static void slot_release(fnh__invocation *inv)
{
    (void)inv;
    if (g.running)
        g.running--;
    start_waiting();
}

static void run(fnh__invocation *inv)
{
    g.running++;
    inv->release = slot_release;
    fnh__dispatch(inv);
}

/* Dispatches waiting invocations while slots are free (not re-entered when a
 * dispatch completes at once and releases its slot). */
static void start_waiting(void)
{
    if (g.pumping)
        return;
    g.pumping = 1;
    while (g.head && (g.limit < 0 || g.running < (size_t)g.limit)) {
        fnh__invocation *inv = g.head;
        g.head = inv->next;
        if (!g.head)
            g.tail = NULL;
        inv->next = NULL;
        g.waiting--;
        run(inv);
    }
    g.pumping = 0;
}

int fnh__http_throttle_admit(const fnh__http_throttle_opts *o, fnh__invocation *inv)
{
    if (o->max_concurrent < 0 && o->max_outstanding < 0 && !g.head) {
        /* no throttle: dispatched at once and not counted */
        g.limit = -1;
        fnh__dispatch(inv);
        return 1;
    }
    g.limit = o->max_concurrent;
    if (o->max_outstanding >= 0 && g.running + g.waiting >= (size_t)o->max_outstanding)
        return -EBUSY;
    if (!g.head && (g.limit < 0 || g.running < (size_t)g.limit)) {
        run(inv);
        return 1;
    }
    inv->next = NULL;
    if (g.tail)
        g.tail->next = inv;
    else
        g.head = inv;
    g.tail = inv;
    g.waiting++;
    start_waiting(); /* a reload may have raised the limit */
    return 0;
}

size_t fnh__http_throttle_waiting(void)
{
    return g.waiting;
}

size_t fnh__http_throttle_running(void)
{
    return g.running;
}

void fnh__http_throttle_shutdown(void)
{
    while (g.head) {
        fnh__invocation *inv = g.head;
        g.head = inv->next;
        g.waiting--;
        fnh__http_respond_simple(inv->owner, 503, NULL, NULL, 0);
        fnh__invocation_free(inv);
    }
    g.tail = NULL;
}
