/* unsupported.c: the one table of settings fnhost accepts but does not
 * implement; each one found gives one warning naming the file, the setting
 * and that it has no effect here. Also recognises identity-based
 * connections (<CONNECTION>__serviceUri, ...), emulated locally. */
#include "unsupported.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "settings.h"
#include "util.h"

typedef struct unsupported {
    const char *path;       /* host.json: "a" or "a.b"; function.json: a binding property */
    const char *types;      /* function.json: only these binding types ("a,b"), NULL = any */
    const char *skip_types; /* function.json: not these (they warn about it themselves) */
    const char *value;      /* only when the value is this string (any case), NULL = any */
    int native_only;        /* only for native (.so) functions */
    const char *why;
} unsupported;

static const unsupported g_host[] = {
    {"singleton", 0, 0, 0, 0, "fnhost runs one host per app, so there are no singleton locks"},
    {"healthMonitor", 0, 0, 0, 0, "host health monitoring is an Azure App Service feature"},
    {"aggregator", 0, 0, 0, 0, "fnhost sends no metrics to Application Insights"},
    {"concurrency", 0, 0, 0, 0,
     "dynamic concurrency is not implemented; each trigger's own settings bound parallelism"},
    {"managedDependency", 0, 0, 0, 0, "fnhost downloads no managed dependencies"},
    {"logging.applicationInsights", 0, 0, 0, 0, "fnhost sends no telemetry to Application Insights"},
    {"logging.fileLoggingMode", 0, 0, 0, 0, "fnhost logs to the console only"},
    {"serviceBus", 0, 0, 0, 0, "fnhost provides no Service Bus bindings"},
    {"eventHub", 0, 0, 0, 0, "fnhost provides no Event Hubs bindings"},
};

static const unsupported g_binding[] = {
    {"dataType", 0, 0, 0, 1,
     "a native function always receives the bytes and their content type"},
    {"cardinality", 0, "httpTrigger,http,timerTrigger", 0, 0,
     "every trigger here delivers one item per invocation"},
    {"source", "blobTrigger", 0, "EventGrid", 0,
     "fnhost watches the local blob folder instead of waiting for Event Grid notifications"},
};

/* 1 when type is one of list ("a,b"), case-insensitive. */
static int in_list(const char *list, const char *type)
{
    size_t n = strlen(type);
    for (const char *p = list; p && *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == n && strncasecmp(p, type, n) == 0)
            return 1;
        p = c ? c + 1 : NULL;
    }
    return 0;
}

/* The property at a dotted path of obj ("a.b"), case-insensitive, or NULL. */
static const cJSON *at_path(const cJSON *obj, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *v = obj;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && v;
         k = strtok_r(NULL, ".", &save))
        v = cJSON_IsObject(v) ? cJSON_GetObjectItem(v, k) : NULL;
    return v;
}

void fnh__unsupported_host_json(const cJSON *host, fnh__strlist *warnings)
{
    for (size_t i = 0; i < sizeof g_host / sizeof g_host[0]; i++)
        if (at_path(host, g_host[i].path))
            fnh__strlist_addf(warnings,
                              "host.json: %s: not implemented by fnhost, so this setting has no "
                              "effect here (%s)",
                              g_host[i].path, g_host[i].why);
}

void fnh__unsupported_binding(const cJSON *bj, const char *type, const char *config_file,
                              const char *at, int native, fnh__strlist *warnings)
{
    if (!cJSON_IsObject(bj))
        return;
    for (size_t i = 0; i < sizeof g_binding / sizeof g_binding[0]; i++) {
        const unsupported *u = &g_binding[i];
        const cJSON *v = cJSON_GetObjectItem(bj, u->path);
        if (!v || (u->native_only && !native) || (u->types && !(type && in_list(u->types, type))) ||
            (u->skip_types && type && in_list(u->skip_types, type)) ||
            (u->value && !(cJSON_IsString(v) && strcasecmp(v->valuestring, u->value) == 0)))
            continue;
        fnh__strlist_addf(warnings,
                          "%s: %s.%s: not implemented by fnhost for a '%s' binding, so this "
                          "setting has no effect here (%s)",
                          config_file, at, v->string, type ? type : "?", u->why);
    }
}

void fnh__unsupported_files(const char *root, fnh__strlist *warnings)
{
    char *p = fnh__asprintf("%s/proxies.json", root);
    struct stat st;
    if (p && stat(p, &st) == 0)
        fnh__strlist_addf(warnings, "proxies.json: Azure Functions proxies are not implemented by "
                                    "fnhost (Functions 4.x removed them as well), so this file "
                                    "has no effect here");
    free(p);
}

static const char *const g_identity_suffixes[] = {"__serviceUri", "__accountName",
                                                  "__queueServiceUri", "__blobServiceUri",
                                                  "__tableServiceUri", NULL};

int fnh__identity_connection(const fnh__strlist *values, const char *name)
{
    char key[320];
    for (size_t i = 0; g_identity_suffixes[i]; i++) {
        snprintf(key, sizeof key, "%s%s", name, g_identity_suffixes[i]);
        const char *v = fnh__setting(values, key);
        if (v && *v)
            return 1;
    }
    return 0;
}

/* If "NAME__suffix=value" names an identity-based connection, its NAME
 * (malloc'd) and *suffix; else NULL. */
static char *identity_name(const char *entry, const char **suffix)
{
    const char *eq = strchr(entry, '=');
    if (!eq || !eq[1])
        return NULL;
    size_t n = (size_t)(eq - entry);
    for (size_t i = 0; g_identity_suffixes[i]; i++) {
        size_t sl = strlen(g_identity_suffixes[i]);
        if (n > sl && strncasecmp(entry + n - sl, g_identity_suffixes[i], sl) == 0) {
            *suffix = g_identity_suffixes[i];
            return fnh__strndup(entry, n - sl);
        }
    }
    return NULL;
}

void fnh__identity_notes(const fnh__strlist *values, fnh__strlist *notes)
{
    extern char **environ;
    fnh__strlist seen = {0};
    size_t nvalues = values ? values->len : 0;
    for (size_t pass = 0; pass < 2; pass++) {
        size_t count = pass ? nvalues : 0;
        char **env = pass ? NULL : environ;
        for (size_t i = 0; pass ? i < count : (env && env[i]); i++) {
            const char *suffix = NULL;
            char *name = identity_name(pass ? values->items[i] : env[i], &suffix);
            if (!name)
                continue;
            int dup = 0;
            for (size_t k = 0; k < seen.len && !dup; k++)
                dup = strcasecmp(seen.items[k], name) == 0;
            if (!dup && !fnh__setting(values, name)) {
                fnh__strlist_addf(notes,
                                  "Connection '%s' is identity-based (%s%s): fnhost maps it to "
                                  "its local storage emulation in .fnhost/storage; no Azure "
                                  "account is used",
                                  name, name, suffix);
                fnh__strlist_addf(&seen, "%s", name);
            }
            free(name);
        }
    }
    fnh__strlist_free(&seen);
}
