/* settings.c: local.settings.json loading and %Setting% expansion. Unlike
 * the Azure CLI, a bad value never silently discards the whole file: each bad
 * key is reported and the good ones still apply; a file that cannot be read
 * as a JSON object stops the host with its line and column. */
#include "settings.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "util.h"

#define LS "local.settings.json"

static const char *const top_keys[] = {"IsEncrypted", "Values", "Host", "ConnectionStrings", NULL};
static const char *const host_keys[] = {"LocalHttpPort", "LocalHttpAddress", "CORS",
                                        "CORSCredentials", NULL};


static void read_values(fnh__local_settings *out, const cJSON *values)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, values)
    {
        const char *key = v->string;
        if (cJSON_IsNull(v)) {
            fnh__strlist_addf(&out->notes, "Skipping '%s' because value is null", key);
            continue;
        }
        if (!cJSON_IsString(v)) {
            char *brief = fnh__json_brief(v);
            if (cJSON_IsNumber(v) || cJSON_IsBool(v))
                fnh__strlist_addf(&out->errors,
                                  LS ": Values.%s: must be a string, not %s; write it in quotes: "
                                     "\"%s\": \"%s\"",
                                  key, fnh__json_type_name(v), key, brief ? brief : "");
            else
                fnh__strlist_addf(&out->errors,
                                  LS ": Values.%s: must be a string, not %s; app settings are "
                                     "flat strings (nested settings use '__' in the name, e.g. "
                                     "\"%s__Name\")",
                                  key, fnh__json_type_name(v), key);
            free(brief);
            continue;
        }
        if (!*key || strchr(key, '=')) {
            fnh__strlist_addf(&out->errors, LS ": Values: '%s' is not a valid setting name; "
                                              "names must be non-empty and contain no '='",
                              key);
            continue;
        }
        fnh__strlist_addf(&out->values, "%s=%s", key, v->valuestring);
    }
}

static void read_host(fnh__local_settings *out, const cJSON *host)
{
    fnh__json_typo_warnings(&out->warnings, LS, host, "Host.", host_keys);
    const cJSON *port = cJSON_GetObjectItem(host, "LocalHttpPort");
    uint64_t n;
    if (port && fnh__json_whole_number(port, 1, 65535, &n) != 0) {
        char *brief = fnh__json_brief(port);
        fnh__strlist_addf(&out->fatal, LS ": Host.LocalHttpPort: %s is not a port number; use "
                                          "a whole number from 1 to 65535, e.g. 7071",
                          brief ? brief : "value");
        free(brief);
    } else if (port) {
        out->local_port = (int)n;
    }
    const cJSON *cors = cJSON_GetObjectItem(host, "CORS");
    if (cors && !cJSON_IsString(cors) && !cJSON_IsNull(cors))
        fnh__strlist_addf(&out->errors, LS ": Host.CORS: must be a string of comma-separated "
                                           "origins such as \"http://localhost:3000\" or \"*\", "
                                           "not %s",
                          fnh__json_type_name(cors));
    else if (cJSON_IsString(cors) && *cors->valuestring)
        out->cors = fnh__strdup(cors->valuestring);
    const cJSON *cred = cJSON_GetObjectItem(host, "CORSCredentials");
    if (cred && !cJSON_IsBool(cred) && !cJSON_IsNull(cred))
        fnh__strlist_addf(&out->errors, LS ": Host.CORSCredentials: must be true or false, not %s",
                          fnh__json_type_name(cred));
    out->cors_credentials = cJSON_IsTrue(cred);
}

int fnh__settings_parse(const char *text, size_t len, fnh__local_settings *out)
{
    cJSON *doc = NULL;
    char *err = NULL;
    int rc = fnh__json_parse(text, len, &doc, &err);
    if (rc == -ENOMEM)
        return rc;
    if (rc) {
        fnh__strlist_addf(&out->fatal, LS ": %s", err ? err : "not valid JSON");
        free(err);
        return 0;
    }
    if (!cJSON_IsObject(doc)) {
        fnh__strlist_addf(&out->fatal, LS ": the file must hold a JSON object like "
                                          "{\"IsEncrypted\": false, \"Values\": {}}, not %s",
                          fnh__json_type_name(doc));
        cJSON_Delete(doc);
        return 0;
    }
    /* keys are case-insensitive, as for the .NET tools that read this file */
    fnh__json_typo_warnings(&out->warnings, LS, doc, "", top_keys);
    cJSON *enc = cJSON_GetObjectItem(doc, "IsEncrypted");
    if (cJSON_IsTrue(enc))
        fnh__strlist_addf(&out->errors, LS ": IsEncrypted: encrypted settings are not supported; "
                                           "decrypt them (func settings decrypt) and set "
                                           "\"IsEncrypted\": false");
    else if (enc && !cJSON_IsBool(enc) && !cJSON_IsNull(enc))
        fnh__strlist_addf(&out->errors, LS ": IsEncrypted: must be true or false, not %s",
                          fnh__json_type_name(enc));
    cJSON *values = cJSON_GetObjectItem(doc, "Values");
    if (values && !cJSON_IsObject(values) && !cJSON_IsNull(values))
        fnh__strlist_addf(&out->errors, LS ": Values: must be an object of string values, not %s",
                          fnh__json_type_name(values));
    else if (values && !cJSON_IsTrue(enc))
        read_values(out, values);
    cJSON *conn = cJSON_GetObjectItem(doc, "ConnectionStrings");
    if (conn && !cJSON_IsObject(conn) && !cJSON_IsNull(conn))
        fnh__strlist_addf(&out->errors, LS ": ConnectionStrings: must be an object of strings, "
                                           "not %s",
                          fnh__json_type_name(conn));
    cJSON *host = cJSON_GetObjectItem(doc, "Host");
    if (host && !cJSON_IsObject(host) && !cJSON_IsNull(host))
        fnh__strlist_addf(&out->errors, LS ": Host: must be an object like {\"LocalHttpPort\": "
                                           "7071}, not %s",
                          fnh__json_type_name(host));
    else if (host)
        read_host(out, host);
    cJSON_Delete(doc);
    return 0;
}

int fnh__settings_load(const char *root, fnh__local_settings *out)
{
    char *path = fnh__asprintf("%s/" LS, root);
    if (!path)
        return -ENOMEM;
    char *text = NULL;
    size_t len = 0;
    int rc = fnh__read_file(path, &text, &len);
    free(path);
    if (rc == -ENOENT)
        return 0;
    if (rc) {
        fnh__strlist_addf(&out->fatal, LS ": cannot read the file: %s", strerror(-rc));
        return 0;
    }
    rc = fnh__settings_parse(text, len, out);
    free(text);
    if (rc || out->fatal.len)
        return rc;
    for (size_t i = 0; i < out->values.len; i++) {
        char *name = out->values.items[i];
        char *eq = strchr(name, '=');
        *eq = '\0';
        if (getenv(name))
            fnh__strlist_addf(&out->notes,
                              "Skipping '%s' from local settings as it's already defined in "
                              "current environment variables.",
                              name);
        *eq = '=';
    }
    return 0;
}

/* The names fnh__settings_export put into the environment (start-up only;
 * read by any thread afterwards): for them the app's current Value wins, so
 * a reloaded local.settings.json is seen. */
static fnh__strlist g_exported;

int fnh__settings_exported(const char *name)
{
    size_t n = strcspn(name, "=");
    for (size_t i = 0; i < g_exported.len; i++)
        if (strncmp(g_exported.items[i], name, n) == 0 && g_exported.items[i][n] == '\0')
            return 1;
    return 0;
}

int fnh__settings_for_child(const fnh__strlist *settings, fnh__strlist *out)
{
    for (size_t i = 0; i < settings->len; i++) {
        const char *e = settings->items[i];
        const char *eq = strchr(e, '=');
        if (!eq || eq == e)
            continue;
        char *name = fnh__strndup(e, (size_t)(eq - e));
        if (!name)
            return -ENOMEM;
        int pass = !getenv(name) || fnh__settings_exported(name);
        free(name);
        if (pass && fnh__strlist_addf(out, "%s", e))
            return -ENOMEM;
    }
    return 0;
}

void fnh__settings_export(const fnh__strlist *values)
{
    for (size_t i = 0; i < values->len; i++) {
        const char *eq = strchr(values->items[i], '=');
        char *name = eq ? fnh__strndup(values->items[i], (size_t)(eq - values->items[i])) : NULL;
        if (name && !getenv(name)) { /* never over a real environment variable */
            setenv(name, eq + 1, 0);
            fnh__strlist_addf(&g_exported, "%s", name);
        }
        free(name);
    }
}

void fnh__settings_free(fnh__local_settings *s)
{
    fnh__strlist_free(&s->values);
    free(s->cors);
    s->cors = NULL;
    fnh__strlist_free(&s->fatal);
    fnh__strlist_free(&s->errors);
    fnh__strlist_free(&s->warnings);
    fnh__strlist_free(&s->notes);
}

const char *fnh__setting(const fnh__strlist *values, const char *name)
{
    const char *env = values && fnh__settings_exported(name) ? NULL : getenv(name);
    if (env || !values)
        return env;
    size_t n = strlen(name);
    for (size_t i = 0; i < values->len; i++)
        if (strncmp(values->items[i], name, n) == 0 && values->items[i][n] == '=')
            return values->items[i] + n + 1;
    return NULL;
}

char *fnh__settings_expand(const fnh__strlist *values, const char *s, char **missing)
{
    *missing = NULL;
    fnh__buf b = {0};
    const char *p = s;
    for (;;) {
        const char *a = strchr(p, '%');
        const char *z = a ? strchr(a + 1, '%') : NULL;
        if (!a || !z) {
            fnh__buf_puts(&b, p);
            break;
        }
        fnh__buf_append(&b, p, (size_t)(a - p));
        if (z == a + 1) { /* "%%" stays a literal percent sign */
            fnh__buf_append(&b, "%", 1);
            p = z + 1;
            continue;
        }
        char *name = fnh__strndup(a + 1, (size_t)(z - a - 1));
        const char *val = name ? fnh__setting(values, name) : NULL;
        if (!val) {
            *missing = name;
            fnh__buf_free(&b);
            return NULL;
        }
        fnh__buf_puts(&b, val);
        free(name);
        p = z + 1;
    }
    return fnh__buf_take(&b);
}
