/* invocation.c: the fnh_ctx side of an invocation: the function API table
 * (inputs, metadata, outputs, settings, logging) over the invocation's
 * request or payload, and the invocation's lifetime. */
#include "invocation.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "settings.h"
#include "util.h"

#define INV(c) ((fnh__invocation *)(void *)(c))

fnh__invocation *fnh__invocation_new(struct fnh__app *app, fnh__function *fn, const char *reason)
{
    fnh__invocation *inv = calloc(1, sizeof *inv);
    if (!inv)
        return NULL;
    inv->api = &fnh__function_api;
    inv->app = app;
    inv->fn = fn;
    inv->reason = reason;
    fnh__uuid(inv->id);
    return inv;
}

void fnh__invocation_free(fnh__invocation *inv)
{
    if (!inv)
        return;
    fnh__http_req_free(inv->req);
    fnh__route_match_clear(&inv->match);
    fnh__buf_free(&inv->payload);
    free(inv->meta);
    free(inv->metastore);
    for (size_t i = 0; i < inv->ninputs; i++) {
        free(inv->inputs[i].name);
        fnh__buf_free(&inv->inputs[i].value);
        free(inv->inputs[i].content_type);
    }
    free(inv->inputs);
    free(inv->reason_owned);
    free(inv->trigger_details);
    free(inv->payload_type);
    for (size_t i = 0; i < inv->noutputs; i++) {
        fnh__output *o = &inv->outputs[i];
        free(o->name);
        fnh__buf_free(&o->body);
        free(o->content_type);
        for (size_t k = 0; k < o->nheaders; k++) {
            free((char *)o->headers[k].key);
            free((char *)o->headers[k].value);
        }
        free(o->headers);
    }
    free(inv->outputs);
    free(inv);
}

fnh__output *fnh__invocation_output(fnh__invocation *inv, const char *name)
{
    for (size_t i = 0; i < inv->noutputs; i++)
        if (strcasecmp(inv->outputs[i].name, name) == 0)
            return &inv->outputs[i];
    return NULL;
}

static int is_trigger(fnh__invocation *inv, const char *name)
{
    return name && inv->fn->trigger && inv->fn->trigger->name &&
           strcasecmp(inv->fn->trigger->name, name) == 0;
}

static int api_input(fnh_ctx *c, const char *name, fnh_value *out)
{
    fnh__invocation *inv = INV(c);
    if (!name || !out)
        return -EINVAL;
    for (size_t i = 0; i < inv->ninputs; i++)
        if (strcasecmp(inv->inputs[i].name, name) == 0) {
            if (!inv->inputs[i].set) /* a missing blob and the like: null */
                return -ENODATA;
            out->data = inv->inputs[i].value.data ? inv->inputs[i].value.data : "";
            out->len = inv->inputs[i].value.len;
            out->content_type = inv->inputs[i].content_type;
            return 0;
        }
    if (!is_trigger(inv, name))
        return -ENOENT;
    if (inv->req) {
        out->data = inv->req->body.data ? inv->req->body.data : "";
        out->len = inv->req->body.len;
        out->content_type = fnh__http_req_header(inv->req, "Content-Type");
    } else {
        out->data = inv->payload.data ? inv->payload.data : "";
        out->len = inv->payload.len;
        out->content_type = inv->payload_type;
    }
    return 0;
}

static const char *param_value(fnh__invocation *inv, const char *name, int *found)
{
    for (size_t i = 0; i < inv->match.nparams; i++)
        if (strcasecmp(inv->match.params[i].name, name) == 0) {
            *found = 1;
            return inv->match.params[i].value;
        }
    *found = 0;
    return NULL;
}

static const char *api_input_meta(fnh_ctx *c, const char *name, const char *key)
{
    fnh__invocation *inv = INV(c);
    if (!key || !is_trigger(inv, name))
        return NULL;
    if (!inv->req)
        return fnh__invocation_meta(inv, key);
    fnh__http_req *r = inv->req;
    if (strcmp(key, "method") == 0)
        return r->method_name;
    if (strcmp(key, "path") == 0)
        return r->path;
    if (strcmp(key, "query") == 0)
        return r->query;
    if (strcmp(key, "url") == 0)
        return r->target;
    if (strncmp(key, "query.", 6) == 0)
        return fnh__http_req_query(r, key + 6);
    if (strncmp(key, "headers.", 8) == 0)
        return fnh__http_req_header(r, key + 8);
    if (strncmp(key, "params.", 7) == 0) {
        int found;
        return param_value(inv, key + 7, &found);
    }
    return NULL;
}

static int api_input_meta_at(fnh_ctx *c, const char *name, const char *group, size_t i,
                             fnh_kv *out)
{
    fnh__invocation *inv = INV(c);
    if (!group || !out)
        return -EINVAL;
    if (!is_trigger(inv, name))
        return -ENOENT;
    if (!inv->req) {
        if (strcmp(group, "meta") != 0)
            return -ENOENT;
        /* the host's own keys ($reason, $details) are not the function's */
        for (size_t k = 0, seen = 0; k < inv->nmeta; k++) {
            if (inv->meta[k].key[0] == '$')
                continue;
            if (seen++ == i) {
                *out = inv->meta[k];
                return 0;
            }
        }
        return -ENOENT;
    }
    fnh__http_req *r = inv->req;
    if (strcmp(group, "headers") == 0) {
        if (i >= r->nheaders)
            return -ENOENT;
        *out = r->headers[i];
        return 0;
    }
    if (strcmp(group, "query") == 0) {
        fnh__http_req_parse_query(r);
        if (i >= r->nq)
            return -ENOENT;
        *out = r->qparams[i];
        return 0;
    }
    if (strcmp(group, "params") == 0) {
        if (i >= inv->match.nparams)
            return -ENOENT;
        out->key = inv->match.params[i].name;
        out->value = inv->match.params[i].value;
        return 0;
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
    int ret = strcmp(name, "$return") == 0; /* the return value needs no declaration */
    if (!ret && (!b || !(b->direction & FNH__DIR_OUT)))
        return NULL;
    fnh__output *outs = realloc(inv->outputs, (inv->noutputs + 1) * sizeof *outs);
    if (!outs)
        return NULL;
    inv->outputs = outs;
    o = &outs[inv->noutputs];
    memset(o, 0, sizeof *o);
    o->name = fnh__strdup(b ? b->name : name);
    if (!o->name)
        return NULL;
    inv->noutputs++;
    return o;
}

static int api_output(fnh_ctx *c, const char *name, const fnh_value *v)
{
    fnh__invocation *inv = INV(c);
    if (!v || (!v->data && v->len))
        return -EINVAL;
    fnh__output *o = output_slot(inv, name);
    if (!o)
        return -ENOENT;
    o->body.len = 0;
    if (fnh__buf_append(&o->body, v->data ? v->data : "", v->len))
        return -ENOMEM;
    free(o->content_type);
    o->content_type = fnh__strdup(v->content_type);
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
        if (strpbrk(hn, "\r\n: ") || strpbrk(value, "\r\n"))
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
    for (size_t i = 0; i < inv->nmeta; i++)
        if (strcasecmp(inv->meta[i].key, key) == 0)
            return inv->meta[i].value;
    return NULL;
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
    const char *v = fnh__invocation_meta(inv, name);
    if (v)
        return v;
    for (size_t i = 0; i < inv->match.nparams; i++)
        if (strcasecmp(inv->match.params[i].name, name) == 0 && inv->match.params[i].value)
            return inv->match.params[i].value;
    if (inv->req && (v = fnh__http_req_query(inv->req, name)))
        return v;
    /* top-level properties of a JSON payload or body, primitives only */
    const fnh__buf *body = inv->req ? &inv->req->body : &inv->payload;
    if (!*doc && body->len && body->data[0] == '{')
        *doc = cJSON_ParseWithLength(body->data, body->len);
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
    (void)c;
    return name ? fnh__setting(name) : NULL;
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
};
