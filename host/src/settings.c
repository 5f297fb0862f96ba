/* settings.c: local.settings.json loading and %Setting% expansion. Unlike
 * the Azure CLI, a bad value never silently discards the whole file: each bad
 * key is reported and the good ones still apply. */
#include "settings.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

#define LS "local.settings.json"

int fnh__settings_load(const char *root, fnh__strlist *errors, fnh__strlist *notes,
                       cJSON **host_section)
{
    *host_section = NULL;
    char *path = fnh__asprintf("%s/" LS, root);
    if (!path)
        return -ENOMEM;
    cJSON *doc = NULL;
    char *err = NULL;
    int rc = fnh__json_parse_file(path, &doc, &err);
    free(path);
    if (rc == -ENOENT)
        return 0;
    if (rc) {
        fnh__strlist_addf(errors, LS ": %s", err ? err : strerror(-rc));
        free(err);
        return 0;
    }
    if (!cJSON_IsObject(doc)) {
        fnh__strlist_addf(errors, LS ": the file must hold a JSON object like "
                                  "{\"IsEncrypted\": false, \"Values\": {}}");
        cJSON_Delete(doc);
        return 0;
    }
    cJSON *enc = cJSON_GetObjectItemCaseSensitive(doc, "IsEncrypted");
    if (cJSON_IsTrue(enc))
        fnh__strlist_addf(errors, LS ": IsEncrypted: encrypted settings are not supported; "
                                  "decrypt them (func settings decrypt) and set \"IsEncrypted\": false");
    cJSON *values = cJSON_GetObjectItemCaseSensitive(doc, "Values");
    if (values && !cJSON_IsObject(values)) {
        fnh__strlist_addf(errors, LS ": Values: must be an object of string values, not %s",
                          fnh__json_type_name(values));
    } else if (values && !cJSON_IsTrue(enc)) {
        const cJSON *v;
        cJSON_ArrayForEach(v, values)
        {
            const char *key = v->string;
            const char *val = NULL;
            if (cJSON_IsString(v)) {
                val = v->valuestring;
            } else if (cJSON_IsNull(v)) {
                fnh__strlist_addf(notes, "Skipping '%s' because value is null", key);
                continue;
            } else {
                char *brief = fnh__json_brief(v);
                if (cJSON_IsNumber(v) || cJSON_IsBool(v)) {
                    fnh__strlist_addf(errors,
                                      LS ": Values.%s: must be a string, not %s; write it in "
                                         "quotes: \"%s\": \"%s\"",
                                      key, fnh__json_type_name(v), key, brief ? brief : "");
                } else {
                    fnh__strlist_addf(errors,
                                      LS ": Values.%s: must be a string, not %s; app settings are "
                                         "flat strings (nested settings use '__' in the name, "
                                         "e.g. \"%s__Name\")",
                                      key, fnh__json_type_name(v), key);
                }
                free(brief);
                continue;
            }
            if (!*key || strchr(key, '=')) {
                fnh__strlist_addf(errors, LS ": Values: '%s' is not a valid setting name; "
                                          "names must be non-empty and contain no '='", key);
                continue;
            }
            if (getenv(key)) {
                fnh__strlist_addf(notes,
                                  "Skipping '%s' from local settings as it's already defined in "
                                  "current environment variables.",
                                  key);
                continue;
            }
            setenv(key, val, 0);
        }
    }
    cJSON *conn = cJSON_GetObjectItemCaseSensitive(doc, "ConnectionStrings");
    if (conn && !cJSON_IsObject(conn))
        fnh__strlist_addf(errors, LS ": ConnectionStrings: must be an object of strings, not %s",
                          fnh__json_type_name(conn));
    cJSON *host = cJSON_GetObjectItemCaseSensitive(doc, "Host");
    if (host && !cJSON_IsObject(host))
        fnh__strlist_addf(errors, LS ": Host: must be an object like {\"LocalHttpPort\": 7071}");
    else if (host)
        *host_section = cJSON_Duplicate(host, 1);
    cJSON_Delete(doc);
    return 0;
}

const char *fnh__setting(const char *name)
{
    return getenv(name);
}

char *fnh__settings_expand(const char *s, char **missing)
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
        const char *val = name ? fnh__setting(name) : NULL;
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
