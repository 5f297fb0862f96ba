/* invocation.c: the fnh_ctx side of an invocation: the function API table
 * (inputs, metadata, outputs, settings, logging) over the invocation's
 * request or payload, and the invocation's lifetime. */
#include "invocation.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "settings.h"
#include "util.h"

#define INV(c) ((fnh__invocation *)(void *)(c))

/* Freed invocations each thread keeps (up to SPARE_MAX: as many as a busy
 * worker pool has in flight) for the next ones it makes: their output
 * slots, the slots' buffers and the route values' storage keep their
 * memory (a buffer over SPARE_KEEP_BYTES is released); everything else is
 * released and cleared.
 * The main thread's are released at exit (the host's loop runs on it;
 * other threads make no invocations). */
static _Thread_local fnh__spares spares;
static pthread_once_t spares_at_exit = PTHREAD_ONCE_INIT;
#define SPARE_MAX 64
#define SPARE_KEEP_BYTES 16384

/* A kept invocation, ready to fill; NULL if none. */
static fnh__invocation *spare_take(void)
{
    fnh__invocation *inv = fnh__spares_take(&spares, sizeof *inv);
    if (inv)
        FNH__UNPOISON(inv->outputs, inv->outcap * sizeof *inv->outputs);
    return inv;
}

static void kept_release(fnh__invocation *inv);

static void spares_release(void)
{
    fnh__invocation *inv;
    while ((inv = spare_take())) {
        kept_release(inv);
        free(inv);
    }
}

static void spares_release_at_exit(void)
{
    atexit(spares_release);
}

fnh__invocation *fnh__invocation_new(struct fnh__app *app, fnh__function *fn, const char *reason)
{
    fnh__invocation *inv = spare_take();
    if (!inv && !(inv = calloc(1, sizeof *inv)))
        return NULL;
    inv->api = &fnh__function_api;
    inv->app = fnh__app_ref(app);
    inv->fn = fn;
    inv->reason = reason;
    fnh__uuid(inv->id);
    fnh__inv_watch *w = fnh__invocation_watch_take();
    if (w)
        fnh__invocation_watch(inv, w);
    return inv;
}

static _Thread_local fnh__inv_watch *armed;

void fnh__invocation_watch_arm(fnh__inv_watch *w)
{
    armed = w;
}

fnh__inv_watch *fnh__invocation_watch_take(void)
{
    fnh__inv_watch *w = armed;
    armed = NULL;
    return w;
}

void fnh__invocation_watch(fnh__invocation *inv, fnh__inv_watch *w)
{
    inv->watch = w;
    if (!inv->tee)
        inv->tee = calloc(1, sizeof *inv->tee);
}

void fnh__invocation_notify(fnh__invocation *inv)
{
    fnh__inv_watch *w = inv->watch;
    inv->watch = NULL;
    if (w)
        w->done(w, inv);
}

/* Empties output slot o for its next use; its buffers keep their memory
 * unless keep is 0 or they grew past SPARE_KEEP_BYTES. */
static void output_reset(fnh__output *o, int keep)
{
    if (!keep || o->body.cap > SPARE_KEEP_BYTES)
        fnh__buf_free(&o->body);
    if (!keep || o->ctype.cap > SPARE_KEEP_BYTES)
        fnh__buf_free(&o->ctype);
    o->body.len = 0; /* ctype keeps its text: see output_ctype */
    if (o->body.data)
        o->body.data[0] = '\0';
    for (size_t k = 0; k < o->nheaders; k++) {
        free((char *)o->headers[k].key);
        free((char *)o->headers[k].value);
    }
    if (o->headers)
        free(o->headers);
    o->headers = NULL;
    o->nheaders = 0;
    o->name = o->content_type = NULL;
    o->set = o->status = 0;
}

void fnh__invocation_clear_io(fnh__invocation *inv)
{
    for (size_t i = 0; i < inv->ninputs; i++) {
        free(inv->inputs[i].name);
        fnh__buf_free(&inv->inputs[i].value);
        free(inv->inputs[i].content_type);
    }
    if (inv->inputs)
        free(inv->inputs);
    inv->inputs = NULL;
    inv->ninputs = 0;
    for (size_t i = 0; i < inv->noutputs; i++)
        output_reset(&inv->outputs[i], 1);
    inv->noutputs = 0;
}

/* Frees what a kept invocation keeps: its output slots and the route
 * values' storage. */
static void kept_release(fnh__invocation *inv)
{
    for (size_t i = 0; i < inv->outcap; i++)
        output_reset(&inv->outputs[i], 0);
    free(inv->outputs);
    inv->outputs = NULL;
    inv->outcap = 0;
    fnh__buf_free(&inv->in.paramstore);
}

void fnh__invocation_free(fnh__invocation *inv)
{
    if (!inv)
        return;
    if (inv->watch) /* freed before it completed: it never ran */
        inv->watch->done(inv->watch, NULL);
    fnh__app_unref(inv->app);
    if (inv->tee) {
        fnh__log_tee_clear(inv->tee);
        free(inv->tee);
    }
    fnh__http_req_free(inv->in.http);
    if (inv->in.payload.data)
        fnh__buf_free(&inv->in.payload);
    /* most are NULL for most triggers: a test is cheaper than the call */
    if (inv->in.ctype)
        free(inv->in.ctype);
    if (inv->in.meta)
        free(inv->in.meta);
    if (inv->in.metastore)
        free(inv->in.metastore);
    if (inv->reason_owned)
        free(inv->reason_owned);
    if (inv->trigger_details)
        free(inv->trigger_details);
    if (inv->retry_exception)
        free(inv->retry_exception);
    fnh__invocation_clear_io(inv);
    fnh__output *outs = inv->outputs;
    size_t outcap = inv->outcap;
    fnh__buf params = inv->in.paramstore;
    if (params.cap > SPARE_KEEP_BYTES)
        fnh__buf_free(&params);
    memset(inv, 0, sizeof *inv);
    inv->outputs = outs;
    inv->outcap = outcap;
    inv->in.paramstore = params;
    if (!fnh__spares_keep(&spares, inv, sizeof *inv, SPARE_MAX)) {
        kept_release(inv);
        free(inv);
        return;
    }
    FNH__POISON(outs, outcap * sizeof *outs);
    pthread_once(&spares_at_exit, spares_release_at_exit);
}

fnh__output *fnh__invocation_output(fnh__invocation *inv, const char *name)
{
    for (size_t i = 0; i < inv->noutputs; i++)
        if (fnh__name_eq(inv->outputs[i].name, name))
            return &inv->outputs[i];
    return NULL;
}

static int is_trigger(fnh__invocation *inv, const char *name)
{
    return name && inv->fn->trigger && inv->fn->trigger->name &&
           fnh__name_eq(inv->fn->trigger->name, name);
}

/* ---- the trigger input ------------------------------------------------- */

static void add_group(fnh__trigger_input *in, const char *name, const fnh_kv *kv, size_t n)
{
    for (size_t i = 0; i < in->ngroups; i++)
        if (in->groups[i].name[0] == name[0] && strcmp(in->groups[i].name, name) == 0) {
            in->groups[i].kv = kv;
            in->groups[i].n = n;
            return;
        }
    if (in->ngroups < sizeof in->groups / sizeof in->groups[0])
        in->groups[in->ngroups++] = (fnh__meta_group){name, kv, n};
}

int fnh__input_set_payload(fnh__invocation *inv, const void *data, size_t len,
                           const char *content_type)
{
    fnh__trigger_input *in = &inv->in;
    in->payload.len = 0;
    if (fnh__buf_append(&in->payload, data ? data : "", len))
        return -ENOMEM;
    free(in->ctype);
    in->ctype = content_type ? fnh__strdup(content_type) : NULL;
    if (content_type && !in->ctype)
        return -ENOMEM;
    in->data = in->payload.data ? in->payload.data : "";
    in->len = in->payload.len;
    in->content_type = in->ctype;
    return 0;
}

void fnh__input_set_meta(fnh__invocation *inv, fnh_kv *meta, size_t n, char *store)
{
    fnh__trigger_input *in = &inv->in;
    free(in->meta);
    free(in->metastore);
    in->meta = meta;
    in->nmeta = n;
    in->metastore = store;
    add_group(in, "", meta, n);
}

int fnh__input_set_http(fnh__invocation *inv, fnh__http_req *req, const fnh_kv *params,
                        size_t nparams)
{
    fnh__trigger_input *in = &inv->in;
    in->http = req;
    in->data = req->body.data ? req->body.data : "";
    in->len = req->body.len;
    in->content_type = fnh__http_req_header(req, "Content-Type");
    in->http_top[0] = (fnh_kv){"method", req->method_name};
    in->http_top[1] = (fnh_kv){"url", req->target};
    in->http_top[2] = (fnh_kv){"path", req->path};
    in->http_top[3] = (fnh_kv){"query", req->query};
    fnh__http_req_parse_query(req);
    in->groups[0] = (fnh__meta_group){"", in->http_top, 4};
    in->groups[1] = (fnh__meta_group){"headers", req->headers, req->nheaders};
    in->groups[2] = (fnh__meta_group){"query", req->qparams, req->nq};
    in->ngroups = 3; /* and "params" below: an HTTP request's groups are all it has */
    if (nparams) { /* the pairs, then their strings, in paramstore */
        size_t total = nparams * sizeof *in->params;
        for (size_t i = 0; i < nparams; i++)
            total += strlen(params[i].key) + 1 + (params[i].value ? strlen(params[i].value) : 0) + 1;
        in->paramstore.len = 0;
        if (fnh__buf_reserve(&in->paramstore, total))
            return -ENOMEM;
        in->params = (fnh_kv *)(void *)in->paramstore.data;
        char *at = in->paramstore.data + nparams * sizeof *in->params;
        for (size_t i = 0; i < nparams; i++) {
            size_t kn = strlen(params[i].key) + 1;
            in->params[i].key = memcpy(at, params[i].key, kn);
            at += kn;
            in->params[i].value = NULL;
            if (params[i].value) {
                size_t vn = strlen(params[i].value) + 1;
                in->params[i].value = memcpy(at, params[i].value, vn);
                at += vn;
            }
        }
        in->nparams = nparams;
    }
    in->groups[in->ngroups++] = (fnh__meta_group){"params", in->params, in->nparams};
    return 0;
}

/* The group named by the n bytes at name, or NULL. */
static const fnh__meta_group *group_of(const fnh__trigger_input *in, const char *name, size_t n)
{
    for (size_t i = 0; i < in->ngroups; i++) {
        const char *g = in->groups[i].name;
        if (g[0] != (n ? name[0] : '\0')) /* most differ there */
            continue;
        size_t k = 0;
        while (k < n && g[k] == name[k]) /* stops at g's NUL: name has none before n */
            k++;
        if (k == n && !g[n])
            return &in->groups[i];
    }
    return NULL;
}

/* The value of key in group g (case-insensitive); *found says whether the
 * key is there (its value may be NULL: an optional route value). */
static const char *group_value(const fnh__meta_group *g, const char *key, int *found)
{
    *found = 0;
    if (!g)
        return NULL;
    for (size_t i = 0; i < g->n; i++)
        if ((g->kv[i].key[0] != '$' || *g->name) && fnh__name_eq(g->kv[i].key, key)) {
            *found = 1;
            return g->kv[i].value;
        }
    return NULL;
}

static int api_input(fnh_ctx *c, const char *name, fnh_value *out)
{
    fnh__invocation *inv = INV(c);
    if (!name || !out)
        return -EINVAL;
    for (size_t i = 0; i < inv->ninputs; i++)
        if (fnh__name_eq(inv->inputs[i].name, name)) {
            if (!inv->inputs[i].set) /* a missing blob and the like: null */
                return -ENODATA;
            out->data = inv->inputs[i].value.data ? inv->inputs[i].value.data : "";
            out->len = inv->inputs[i].value.len;
            out->content_type = inv->inputs[i].content_type;
            return 0;
        }
    if (!is_trigger(inv, name))
        return -ENOENT;
    out->data = inv->in.data ? inv->in.data : "";
    out->len = inv->in.len;
    out->content_type = inv->in.content_type;
    return 0;
}

/* "headers.Accept" is key Accept of group headers; "queueTrigger" a
 * top-level key. */
static const char *api_input_meta(fnh_ctx *c, const char *name, const char *key)
{
    fnh__invocation *inv = INV(c);
    if (!key || !is_trigger(inv, name))
        return NULL;
    int found;
    const char *dot = strchr(key, '.');
    const fnh__meta_group *g = dot ? group_of(&inv->in, key, (size_t)(dot - key)) : NULL;
    if (g)
        return group_value(g, dot + 1, &found);
    return group_value(group_of(&inv->in, "", 0), key, &found);
}

static int api_input_meta_at(fnh_ctx *c, const char *name, const char *group, size_t i,
                             fnh_kv *out)
{
    fnh__invocation *inv = INV(c);
    if (!group || !out)
        return -EINVAL;
    if (!is_trigger(inv, name))
        return -ENOENT;
    /* "meta": the top-level keys of a fired trigger */
    const char *gname = strcmp(group, "meta") == 0 && !inv->in.http ? "" : group;
    const fnh__meta_group *g = group_of(&inv->in, gname, strlen(gname));
    if (!g || !*group)
        return -ENOENT;
    /* the host's own keys ($reason, $details) are not the function's */
    for (size_t k = 0, seen = 0; k < g->n; k++) {
        if (g->kv[k].key[0] == '$' && !*g->name)
            continue;
        if (seen++ == i) {
            *out = g->kv[k];
            return 0;
        }
    }
    return -ENOENT;
}

/* The output slot for binding `name`, created on first use; NULL when the
 * function has no output binding of that name. */
static fnh__output *output_slot(fnh__invocation *inv, const char *name)
{
    if (!name)
        return NULL;
    fnh__output *o = fnh__invocation_output(inv, name);
    if (o)
        return o;
    fnh__binding *b = fnh__function_binding(inv->fn, name);
    /* the return value needs no declaration */
    if ((!b || !(b->direction & FNH__DIR_OUT)) && strcmp(name, "$return") != 0)
        return NULL;
    if (inv->noutputs == inv->outcap) {
        size_t cap = inv->outcap ? inv->outcap * 2 : 2;
        fnh__output *outs = realloc(inv->outputs, cap * sizeof *outs);
        if (!outs)
            return NULL;
        memset(outs + inv->outcap, 0, (cap - inv->outcap) * sizeof *outs);
        inv->outputs = outs;
        inv->outcap = cap;
    }
    o = &inv->outputs[inv->noutputs]; /* an empty slot, maybe with buffers kept */
    o->name = b ? b->name : "$return"; /* the function outlives its invocations */
    inv->noutputs++;
    return o;
}

/* Puts ctype (borrowed) in o's content type storage, checked first: it
 * becomes a header, so no line breaks or control bytes. The storage keeps
 * the last one it took (only ever a checked one; a recycled slot too), and
 * a function mostly sets the same one each time: that needs neither the
 * check nor the copy. 0, -EINVAL or -ENOMEM (then o is unchanged). */
static int output_ctype(fnh__output *o, const char *ctype)
{
    size_t n = strlen(ctype);
    if (o->ctype.len == n && n && memcmp(o->ctype.data, ctype, n) == 0)
        return 0;
    if (!fnh__http_header_value_ok(ctype))
        return -EINVAL;
    size_t keep = o->ctype.len;
    o->ctype.len = 0;
    if (fnh__buf_append(&o->ctype, ctype, n)) {
        o->ctype.len = keep;
        return -ENOMEM;
    }
    return 0;
}

static int api_output(fnh_ctx *c, const char *name, const fnh_value *v)
{
    fnh__invocation *inv = INV(c);
    if (!v || (!v->data && v->len))
        return -EINVAL;
    fnh__output *o = output_slot(inv, name);
    if (!o)
        return -ENOENT;
    if (v->content_type) {
        int rc = output_ctype(o, v->content_type);
        if (rc)
            return rc;
    }
    o->body.len = 0;
    o->content_type = v->content_type ? o->ctype.data : NULL;
    if (fnh__buf_append(&o->body, v->data ? v->data : "", v->len))
        return -ENOMEM;
    o->set = 1;
    return 0;
}

static int api_output_meta(fnh_ctx *c, const char *name, const char *key, const char *value)
{
    fnh__invocation *inv = INV(c);
    if (!key || !value)
        return -EINVAL;
    fnh__output *o = output_slot(inv, name);
    if (!o)
        return -ENOENT;
    if (strcmp(key, "status") == 0) {
        /* a final answer: not a 1xx (the client would wait for another, or
         * switch protocols), and three digits */
        char *end;
        long st = strtol(value, &end, 10);
        o->set = 1;
        if (end == value || *end || st < 200 || st > 999) {
            fnh__log(inv->fn->log_category ? inv->fn->log_category : "Function", FNH_LOG_ERROR,
                     "Function '%s' set the status of its output '%s' to '%s'; a response "
                     "status must be a number from 200 to 999, so the request gets 500",
                     inv->fn->name, o->name, value);
            o->status = -1; /* answered with 500 unless a valid status follows */
            return -EINVAL;
        }
        o->status = (int)st;
        return 0;
    }
    if (strncmp(key, "headers.", 8) == 0 && key[8]) {
        const char *hn = key + 8;
        if (!fnh__http_header_name_ok(hn) || !fnh__http_header_value_ok(value))
            return -EINVAL;
        for (size_t i = 0; i < o->nheaders; i++)
            if (strcasecmp(o->headers[i].key, hn) == 0) {
                char *nv = fnh__strdup(value);
                if (!nv)
                    return -ENOMEM;
                free((char *)o->headers[i].value);
                o->headers[i].value = nv;
                return 0;
            }
        fnh_kv *h = realloc(o->headers, (o->nheaders + 1) * sizeof *h);
        if (!h)
            return -ENOMEM;
        o->headers = h;
        h[o->nheaders].key = fnh__strdup(hn);
        h[o->nheaders].value = fnh__strdup(value);
        if (!h[o->nheaders].key || !h[o->nheaders].value) {
            free((char *)h[o->nheaders].key);
            free((char *)h[o->nheaders].value);
            return -ENOMEM;
        }
        o->nheaders++;
        o->set = 1;
        return 0;
    }
    return -EINVAL;
}

const char *fnh__invocation_meta(const fnh__invocation *inv, const char *key)
{
    int found;
    return group_value(group_of(&inv->in, "", 0), key, &found);
}

/* Value of one binding-data name for expressions; *tmp receives a malloc'd
 * string when the value had to be made (caller frees). */
static const char *binding_data(fnh__invocation *inv, const char *name, char **tmp, cJSON **doc)
{
    *tmp = NULL;
    if (strcasecmp(name, "rand-guid") == 0 || strncasecmp(name, "rand-guid:", 10) == 0 ||
        strcasecmp(name, "sys.randguid") == 0) {
        *tmp = malloc(37);
        if (*tmp)
            fnh__uuid(*tmp);
        return *tmp;
    }
    if (strcasecmp(name, "sys.methodname") == 0)
        return inv->fn->name;
    if (strcasecmp(name, "sys.utcnow") == 0 ||
        (strcasecmp(name, "DateTime") == 0 && !fnh__invocation_meta(inv, "DateTime"))) {
        char iso[32];
        fnh__iso_utc(fnh__wall_ms(), iso);
        if (strcasecmp(name, "DateTime") == 0) { /* yyyy-MM-ddTHH-mm-ssK */
            iso[13] = '-';
            iso[16] = '-';
            iso[19] = 'Z';
            iso[20] = '\0';
        }
        *tmp = fnh__strdup(iso);
        return *tmp;
    }
    /* trigger metadata, route values, query parameters */
    static const char *const groups[] = {"", "params", "query"};
    for (size_t i = 0; i < sizeof groups / sizeof *groups; i++) {
        int found;
        const char *v = group_value(group_of(&inv->in, groups[i], strlen(groups[i])), name, &found);
        if (v)
            return v;
    }
    /* top-level properties of a JSON payload or body, primitives only */
    if (!*doc && inv->in.len && inv->in.data[0] == '{')
        *doc = cJSON_ParseWithLength(inv->in.data, inv->in.len);
    const cJSON *item = *doc ? cJSON_GetObjectItem(*doc, name) : NULL;
    if (cJSON_IsString(item))
        return item->valuestring;
    if (cJSON_IsNumber(item) || cJSON_IsBool(item)) {
        *tmp = cJSON_PrintUnformatted(item);
        return *tmp;
    }
    return NULL;
}

char *fnh__invocation_expand(fnh__invocation *inv, const char *s, char **missing)
{
    *missing = NULL;
    fnh__buf b = {0};
    cJSON *doc = NULL;
    const char *p = s;
    while (*p) {
        if (p[0] == '{' && p[1] == '{') { /* escaped brace */
            fnh__buf_append(&b, "{", 1);
            p += 2;
            continue;
        }
        if (p[0] == '}' && p[1] == '}') {
            fnh__buf_append(&b, "}", 1);
            p += 2;
            continue;
        }
        const char *close = p[0] == '{' ? strchr(p, '}') : NULL;
        if (!close) {
            fnh__buf_append(&b, p, 1);
            p++;
            continue;
        }
        char *name = fnh__strndup(p + 1, (size_t)(close - p - 1));
        char *tmp = NULL;
        const char *v = name ? binding_data(inv, name, &tmp, &doc) : NULL;
        if (!v) {
            *missing = name;
            fnh__buf_free(&b);
            cJSON_Delete(doc);
            return NULL;
        }
        fnh__buf_puts(&b, v);
        free(tmp);
        free(name);
        p = close + 1;
    }
    cJSON_Delete(doc);
    return fnh__buf_take(&b);
}

static const char *api_setting(fnh_ctx *c, const char *name)
{
    return name ? fnh__app_setting(INV(c)->app, name) : NULL;
}

static void api_log(fnh_ctx *c, fnh_log_level level, const char *fmt, va_list ap)
{
    fnh__invocation *inv = INV(c);
    if (!fmt || (int)level < 0 || level > FNH_LOG_CRITICAL)
        return;
    char cat[160];
    snprintf(cat, sizeof cat, "Function.%s.User", inv->fn->name);
    fnh__logv(cat, level, fmt, ap);
}

static const char *api_strerror(int err)
{
    return strerror(err < 0 ? -err : err);
}

static const char *api_invocation_id(fnh_ctx *c)
{
    return INV(c)->id;
}

static int api_retry_context(fnh_ctx *c, fnh_retry_info *out)
{
    fnh__invocation *inv = INV(c);
    if (!out)
        return -EINVAL;
    if (!inv->has_retry)
        return -ENOENT;
    out->retry_count = inv->retry_count;
    out->max_retry_count = inv->retry_max;
    out->last_error = inv->retry_count ? inv->retry_last_rc : 0;
    out->exception = inv->retry_count ? inv->retry_exception : NULL;
    return 0;
}

const fnh_function_api fnh__function_api = {
    .size = sizeof(fnh_function_api),
    .abi_minor = FNH_ABI_MINOR,
    .input = api_input,
    .input_meta = api_input_meta,
    .input_meta_at = api_input_meta_at,
    .output = api_output,
    .output_meta = api_output_meta,
    .setting = api_setting,
    .log = api_log,
    .strerror = api_strerror,
    .invocation_id = api_invocation_id,
    .retry_context = api_retry_context,
};
