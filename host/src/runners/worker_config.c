/* worker_config.c: language worker discovery (the search path, Core Tools'
 * folder beside `func`), worker.config.json into fnh__worker_config, and
 * the worker's program found on PATH. */
#include "worker_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "ncrontab.h"
#include "util.h"

#ifndef FNH_PREFIX
#define FNH_PREFIX "/usr/local"
#endif

#define DEFAULT_INIT_TIMEOUT_MS (120 * 1000)

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The absolute path of program: as given when it holds a '/', else the
 * first executable file of that name on PATH. malloc'd, or NULL. */
static char *which(const char *program)
{
    if (strchr(program, '/'))
        return access(program, X_OK) == 0 ? realpath(program, NULL) : NULL;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char *p = fnh__asprintf("%.*s/%s", (int)n, n ? path : ".", program);
        if (p && is_file(p) && access(p, X_OK) == 0)
            return p;
        free(p);
        path += n;
        if (*path == ':')
            path++;
    }
    return NULL;
}

static void read_strings(const cJSON *arr, fnh__strlist *out)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, arr) if (cJSON_IsString(v) && *v->valuestring)
        fnh__strlist_addf(out, "%s", v->valuestring);
}

int fnh__worker_config_read(const char *dir, fnh__worker_config *out, char **error)
{
    memset(out, 0, sizeof *out);
    *error = NULL;
    char *real = realpath(dir, NULL);
    out->dir = real ? real : fnh__strdup(dir);
    out->config_file = fnh__asprintf("%s/worker.config.json", out->dir);
    cJSON *j = NULL;
    char *err = NULL;
    if (!out->config_file || fnh__json_parse_file(out->config_file, &j, &err)) {
        *error = fnh__asprintf("%s: %s; reinstall the worker or fix the file",
                               out->config_file ? out->config_file : dir,
                               err ? err : "cannot read the file");
        free(err);
        fnh__worker_config_free(out);
        return -EINVAL;
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "description");
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(d, "language");
    const cJSON *exe = cJSON_GetObjectItemCaseSensitive(d, "defaultExecutablePath");
    const cJSON *wp = cJSON_GetObjectItemCaseSensitive(d, "defaultWorkerPath");
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(d, "workerIndexing");
    const cJSON *po = cJSON_GetObjectItemCaseSensitive(j, "processOptions");
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(po, "initializationTimeout");
    if (!cJSON_IsString(exe) || !*exe->valuestring) {
        *error = fnh__asprintf("%s: description.defaultExecutablePath: must name the worker's "
                               "program (e.g. \"node\"); reinstall the worker or fix the file",
                               out->config_file);
        cJSON_Delete(j);
        fnh__worker_config_free(out);
        return -EINVAL;
    }
    out->language = fnh__strdup(cJSON_IsString(lang) ? lang->valuestring : "");
    out->executable = fnh__strdup(exe->valuestring);
    if (cJSON_IsString(wp) && *wp->valuestring)
        out->worker_path = wp->valuestring[0] == '/'
                               ? fnh__strdup(wp->valuestring)
                               : fnh__asprintf("%s/%s", out->dir, wp->valuestring);
    read_strings(cJSON_GetObjectItemCaseSensitive(d, "arguments"), &out->arguments);
    read_strings(cJSON_GetObjectItemCaseSensitive(d, "workerArguments"), &out->worker_arguments);
    out->indexing = cJSON_IsTrue(idx) || (cJSON_IsString(idx) && fnh__truthy(idx->valuestring));
    out->init_timeout_ms = DEFAULT_INIT_TIMEOUT_MS;
    int64_t ms;
    if (cJSON_IsString(it) && fnh__timespan_parse(it->valuestring, &ms) == 0 && ms > 0)
        out->init_timeout_ms = ms;
    cJSON_Delete(j);
    if (!out->language || !out->executable) {
        *error = fnh__strdup("out of memory while reading a worker.config.json");
        fnh__worker_config_free(out);
        return -ENOMEM;
    }
    out->exe_path = which(out->executable);
    if (!out->exe_path) {
        *error = fnh__asprintf(
            "The %s language worker (%s) runs '%s', which is not on PATH; install it (for "
            "Node.js: apt-get install nodejs, or https://nodejs.org) or put it on PATH",
            out->language, out->dir, out->executable);
        fnh__worker_config_free(out);
        return -ENOEXEC;
    }
    return 0;
}

/* <folder>/<language> when it holds worker.config.json, else NULL. */
static char *worker_in(const char *folder, size_t n, const char *language)
{
    char *d = fnh__asprintf("%.*s/%s", (int)n, folder, language);
    char *f = d ? fnh__asprintf("%s/worker.config.json", d) : NULL;
    int ok = f && is_file(f);
    free(f);
    if (!ok) {
        free(d);
        return NULL;
    }
    return d;
}

int fnh__worker_config_find(const char *language, const char *dir_override,
                            fnh__worker_config *out, char **error)
{
    memset(out, 0, sizeof *out);
    *error = NULL;
    if (dir_override && *dir_override) {
        char *f = fnh__asprintf("%s/worker.config.json", dir_override);
        int ok = f && is_file(f);
        free(f);
        if (!ok) {
            *error = fnh__asprintf("languageWorkers__%s__workerDirectory is '%s', which holds no "
                                   "worker.config.json; set it to the %s worker's folder",
                                   language, dir_override, language);
            return -ENOENT;
        }
        return fnh__worker_config_read(dir_override, out, error);
    }
    char *found = NULL;
    const char *path = getenv("FNHOST_WORKERS_PATH");
    while (path && *path && !found) {
        size_t n = strcspn(path, ":");
        if (n)
            found = worker_in(path, n, language);
        path += n;
        if (*path == ':')
            path++;
    }
    if (!found) { /* beside the host binary: <bin>/workers, <bin>/../workers */
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = '\0';
        char *slash = strrchr(self, '/');
        if (n > 0 && slash) {
            *slash = '\0';
            char *a = fnh__asprintf("%s/workers", self);
            char *b = fnh__asprintf("%s/../workers", self);
            if (a)
                found = worker_in(a, strlen(a), language);
            if (!found && b)
                found = worker_in(b, strlen(b), language);
            free(a);
            free(b);
        }
    }
    if (!found) {
        static const char prefix[] = FNH_PREFIX "/lib/fnhost/workers";
        found = worker_in(prefix, sizeof prefix - 1, language);
    }
    if (!found) { /* Core Tools: workers/ beside the real func binary */
        char *func = which("func");
        char *real = func ? realpath(func, NULL) : NULL;
        char *slash = real ? strrchr(real, '/') : NULL;
        if (slash) {
            *slash = '\0';
            char *w = fnh__asprintf("%s/workers", real);
            if (w)
                found = worker_in(w, strlen(w), language);
            free(w);
        }
        free(real);
        free(func);
    }
    if (!found) {
        *error = fnh__asprintf(
            "FUNCTIONS_WORKER_RUNTIME is '%s' but no %s language worker was found (looked in "
            "FNHOST_WORKERS_PATH, workers/ beside fnhost, " FNH_PREFIX "/lib/fnhost/workers "
            "and beside Azure Functions Core Tools' func on PATH); install Core Tools or set FNHOST_WORKERS_PATH (or the "
            "app setting languageWorkers__%s__workerDirectory) to the folder holding "
            "%s/worker.config.json",
            language, language, language, language);
        return -ENOENT;
    }
    int rc = fnh__worker_config_read(found, out, error);
    free(found);
    return rc;
}

void fnh__worker_config_free(fnh__worker_config *c)
{
    free(c->language);
    free(c->dir);
    free(c->config_file);
    free(c->executable);
    free(c->exe_path);
    free(c->worker_path);
    fnh__strlist_free(&c->arguments);
    fnh__strlist_free(&c->worker_arguments);
    memset(c, 0, sizeof *c);
}
