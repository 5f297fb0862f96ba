/* admin_keys.c: the key API: /admin/host/{keys|functionkeys|systemkeys}
 * [/{name}] and /admin/functions/{name}/keys[/{name}]: GET a list or one
 * key, PUT a value, POST to generate one, DELETE, with Azure's status codes
 * (201 created / 200 replaced, 204 deleted, 404 unknown, 400 for a missing
 * value and for the master key's deletion). The keys live in keys/. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin_internal.h"
#include "secrets.h"
#include "util.h"

/* {"name","value","links":[{"rel":"self","href"}]}; href is base/name. */
static cJSON *key_json(const char *base, const char *name, const char *value)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "value", value);
    cJSON *links = cJSON_AddArrayToObject(o, "links");
    cJSON *self = cJSON_CreateObject();
    cJSON_AddStringToObject(self, "rel", "self");
    char *href = fnh__asprintf("%s/%s", base, name);
    cJSON_AddStringToObject(self, "href", href ? href : base);
    free(href);
    cJSON_AddItemToArray(links, self);
    return o;
}

/* A secrets failure as an answer: 404 for no such key, else 500 with the
 * broken file's sentence. */
static void secrets_failed(fnh__http_exchange *x, fnh__secrets *s, int rc)
{
    if (rc == -ENOENT) {
        fnh__http_respond_simple(x, 404, NULL, NULL, 0);
        return;
    }
    const char *why = fnh__secrets_error(s);
    fnh__admin_respond_error(x, 500, why ? why : strerror(-rc));
}

static void list(fnh__http_exchange *x, fnh__secrets *s, fnh__key_scope scope, const char *fn,
                 const char *base)
{
    const fnh__key *keys;
    size_t n;
    int rc = fnh__secrets_list(s, scope, fn, &keys, &n);
    if (rc) {
        secrets_failed(x, s, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(o, "keys");
    for (size_t i = 0; i < n; i++) {
        cJSON *k = cJSON_CreateObject();
        cJSON_AddStringToObject(k, "name", keys[i].name);
        cJSON_AddStringToObject(k, "value", keys[i].value);
        cJSON_AddItemToArray(a, k);
    }
    cJSON *links = cJSON_AddArrayToObject(o, "links");
    cJSON *self = cJSON_CreateObject();
    cJSON_AddStringToObject(self, "rel", "self");
    cJSON_AddStringToObject(self, "href", base);
    cJSON_AddItemToArray(links, self);
    fnh__admin_respond_json(x, 200, o);
}

/* The value of a PUT body {"name": ..., "value": "..."}, borrowed from doc,
 * or NULL when missing or not a string. */
static const char *put_value(const cJSON *doc)
{
    const cJSON *v = cJSON_GetObjectItem(doc, "value");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* PUT (value given) or POST (value NULL: generate one). */
static void set(fnh__http_exchange *x, fnh__secrets *s, fnh__key_scope scope, const char *fn,
                const char *base, const char *name, const char *value)
{
    if (!fnh__secrets_key_ok(name, NULL)) {
        fnh__admin_respond_error(x, 400, "Invalid key name: use 1 to 128 letters, digits, "
                                         "'_', '-' or '.'");
        return;
    }
    if (value && !fnh__secrets_key_ok(name, value)) {
        fnh__admin_respond_error(x, 400, "Invalid key value: use 1 to 256 printable ASCII "
                                         "characters without spaces");
        return;
    }
    const char *stored;
    int created;
    int rc = fnh__secrets_set(s, scope, fn, name, value, &stored, &created);
    if (rc) {
        secrets_failed(x, s, rc);
        return;
    }
    fnh__admin_respond_json(x, created ? 201 : 200, key_json(base, name, stored));
}

void fnh__admin_keys(fnh__host *h, fnh__http_exchange *x, fnh__http_req *req, const char *fn,
                     const char *scope_name, const char *name_raw)
{
    fnh__secrets *s = h->secrets;
    if (!s) {
        fnh__admin_respond_error(x, 500, "keys are not available");
        return;
    }
    fnh__key_scope scope = fn ? FNH__KEYS_FUNCTION
                           : strcasecmp(scope_name, "systemkeys") == 0 ? FNH__KEYS_SYSTEM
                                                                        : FNH__KEYS_HOST;
    char *base = fn ? fnh__asprintf("%s/admin/functions/%s/keys", h->base_url, fn)
                    : fnh__asprintf("%s/admin/host/%s", h->base_url, scope_name);
    char *name = name_raw ? malloc(strlen(name_raw) + 1) : NULL;
    if (!base || (name_raw && !name)) {
        free(base);
        free(name);
        fnh__http_respond_simple(x, 500, NULL, NULL, 0);
        return;
    }
    if (name)
        name[fnh__url_decode(name_raw, strlen(name_raw), name, 0)] = '\0';
    unsigned m = req->method;
    if (!name) {
        if (m & (FNH__M_GET | FNH__M_HEAD))
            list(x, s, scope, fn, base);
        else
            fnh__http_respond_simple(x, 404, NULL, NULL, 0);
    } else if (m & (FNH__M_GET | FNH__M_HEAD)) {
        const char *value;
        int rc = fnh__secrets_get(s, scope, fn, name, &value);
        if (rc)
            secrets_failed(x, s, rc);
        else
            fnh__admin_respond_json(x, 200, key_json(base, name, value));
    } else if (m == FNH__M_PUT) {
        cJSON *doc = cJSON_ParseWithLength(req->body.data ? req->body.data : "", req->body.len);
        const char *value = put_value(doc);
        if (!value)
            fnh__admin_respond_error(x, 400, "Invalid key value");
        else
            set(x, s, scope, fn, base, name, value);
        cJSON_Delete(doc);
    } else if (m == FNH__M_POST) {
        set(x, s, scope, fn, base, name, NULL);
    } else if (m == FNH__M_DELETE) {
        int rc = fnh__secrets_delete(s, scope, fn, name);
        if (rc == -EPERM)
            fnh__admin_respond_error(x, 400, "Cannot delete System Key.");
        else if (rc)
            secrets_failed(x, s, rc);
        else
            fnh__http_respond_simple(x, 204, NULL, NULL, 0);
    } else {
        fnh__http_respond_simple(x, 404, NULL, NULL, 0);
    }
    free(base);
    free(name);
}
