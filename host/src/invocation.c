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
    if (!key || !is_trigger(inv, name) || !inv->req)
        return NULL;
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
    if (!is_trigger(inv, name) || !inv->req)
        return -ENOENT;
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
    if (!b || !(b->direction & FNH__DIR_OUT))
        return NULL;
    fnh__output *outs = realloc(inv->outputs, (inv->noutputs + 1) * sizeof *outs);
    if (!outs)
        return NULL;
    inv->outputs = outs;
    o = &outs[inv->noutputs];
    memset(o, 0, sizeof *o);
    o->name = fnh__strdup(b->name);
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
        char *end;
        long st = strtol(value, &end, 10);
        if (*end || st < 100 || st > 599)
            return -EINVAL;
        o->status = (int)st;
        o->set = 1;
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
