/* reload.c: hot reload. Watches the app (watch.c), debounces a burst of
 * changes into one reload, builds the next snapshot aside, refuses it when
 * it breaks what worked, else swaps it in under the same listening socket
 * (new triggers start, old ones stop, the old snapshot goes with its last
 * invocation). Also app_offline.htm, SIGHUP and fnh__host_reload. */
#include "reload.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app_loader.h"
#include "extension.h"
#include "function_native.h"
#include "http_binding.h"
#include "isolated.h"
#include "log.h"
#include "util.h"
#include "watch.h"

#define CAT "Host"
#define OFFLINE_FILE "app_offline.htm"
#define OFFLINE_MAX (1u << 20) /* bytes of app_offline.htm served */
#define CHANGES_LOGGED 10      /* "File change" lines per burst */

static struct {
    int active;
    fnh__host *h;
    fnh__app_options opts;
    char *root, *functions; /* opts' strings, copied */
    char *real;             /* the root's real path: the watched tree */
    fnh__watch *w;
    uv_timer_t timer;
    uv_signal_t sighup;     /* kill -HUP: reload now */
    int pending;            /* watched files changed */
    int requested;          /* fnh__host_reload */
    int due;                /* a reload waits for the loop to return (fnh__reload_run_due) */
    int offline_check;      /* app_offline.htm appeared or went */
    fnh__strlist seen;      /* paths logged this burst */
    size_t more;            /* changes not logged this burst */
    char *offline;          /* app_offline.htm's content while offline */
    fnh__strlist watch_dirs;  /* host.json watchDirectories (relative) */
    fnh__strlist watch_files; /* host.json watchFiles (file names) */
    fnh__strlist scripts;     /* native .so files outside the root (absolute) */
} R;

/* ---- which changes matter -------------------------------------------------- */

static int in_list(const fnh__strlist *l, const char *s)
{
    for (size_t i = 0; i < l->len; i++)
        if (strcmp(l->items[i], s) == 0)
            return 1;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A change at rel (relative to the root) that reloads the app. */
static int relevant(const char *rel, int is_dir)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    if (rel[0] == '.' || base[0] == '.')
        return 0; /* .fnhost/, editors' swap files */
    if (strcmp(base, "host.json") == 0 || strcmp(base, "local.settings.json") == 0 ||
        strcmp(base, "function.json") == 0 || strcmp(base, "proxies.json") == 0 ||
        in_list(&R.watch_files, base))
        return 1;
    if (is_dir && !strchr(rel, '/'))
        return 1; /* a function folder appeared, went or was renamed */
    if (ends_with(base, ".so") || strstr(base, ".so."))
        return 1; /* native code */
    if (ends_with(base, ".js") || ends_with(base, ".mjs") || ends_with(base, ".cjs") ||
        ends_with(base, ".py") || strcmp(base, "package.json") == 0)
        return 1; /* language workers' scripts */
    for (size_t i = 0; i < R.watch_dirs.len; i++) {
        size_t n = strlen(R.watch_dirs.items[i]);
        if (strncmp(rel, R.watch_dirs.items[i], n) == 0 && (rel[n] == '/' || !rel[n]))
            return 1;
    }
    return 0;
}

/* path relative to the root, or NULL when outside it. */
static const char *rel_of(const char *path)
{
    size_t n = strlen(R.real);
    if (strncmp(path, R.real, n) != 0 || path[n] != '/')
        return NULL;
    return path + n + 1;
}

/* ---- watching -------------------------------------------------------------- */

/* A file the app loads (path borrowed; NULL ignored): when it is outside
 * the root, its folder is watched and a change of it reloads. */
static void watch_outside(const char *path)
{
    char real[PATH_MAX];
    if (!path || !realpath(path, real) || rel_of(real) || in_list(&R.scripts, real))
        return;
    fnh__strlist_addf(&R.scripts, "%s", real);
    char *slash = strrchr(real, '/');
    if (slash && slash != real) {
        *slash = '\0';
        if (R.w)
            fnh__watch_add_dir(R.w, real);
    }
}

/* host.json watchDirectories and watchFiles, and the folders of native
 * functions' and extensions' files outside the root, from app; the new
 * folders are watched. */
static void watch_config(const fnh__app *app)
{
    fnh__strlist_free(&R.watch_dirs);
    fnh__strlist_free(&R.watch_files);
    fnh__strlist_free(&R.scripts);
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(app->host_json, "watchDirectories"))
    {
        if (!cJSON_IsString(e) || !*e->valuestring)
            continue;
        char *d = fnh__strdup(e->valuestring);
        size_t n = d ? strlen(d) : 0;
        while (n > 1 && d[n - 1] == '/')
            d[--n] = '\0';
        if (d && *d) {
            char *abs = fnh__asprintf("%s/%s", R.real, d);
            if (R.w && abs)
                fnh__watch_add_tree(R.w, abs);
            free(abs);
            fnh__strlist_take(&R.watch_dirs, d);
        } else {
            free(d);
        }
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(app->host_json, "watchFiles"))
    if (cJSON_IsString(e) && *e->valuestring)
        fnh__strlist_addf(&R.watch_files, "%s", e->valuestring);
    /* a custom handler's program and script restart it, as scripts do */
    static const char *const handler_sections[] = {"customHandler", "httpWorker"};
    static const char *const handler_files[] = {"defaultExecutablePath", "defaultWorkerPath"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *d = cJSON_GetObjectItem(
            cJSON_GetObjectItem(app->host_json, handler_sections[i]), "description");
        for (size_t k = 0; k < 2; k++) {
            const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(d, handler_files[k]));
            if (!f || !*f || f[0] == '/')
                continue;
            char *abs = fnh__asprintf("%s/%s", R.real, f);
            const char *base = strrchr(f, '/');
            /* a file of the app ("handler", "app/main.py"), not "python3" on PATH */
            if (abs && access(abs, F_OK) == 0)
                fnh__strlist_addf(&R.watch_files, "%s", base ? base + 1 : f);
            free(abs);
        }
    }
    for (size_t i = 0; i < app->nfunctions; i++) {
        const fnh__function *fn = app->functions[i];
        const char *sf = cJSON_GetStringValue(cJSON_GetObjectItem(fn->config, "scriptFile"));
        if (!sf || !*sf)
            continue;
        char *p = sf[0] == '/' ? fnh__strdup(sf) : fnh__asprintf("%s/%s", fn->dir, sf);
        watch_outside(p);
        free(p);
    }
    fnh__strlist exts = {0}; /* binding extensions' files: a rebuild loads anew */
    fnh__ext_files(&exts);
    for (size_t i = 0; i < exts.len; i++)
        watch_outside(exts.items[i]);
    fnh__strlist_free(&exts);
}

static void timer_cb(uv_timer_t *t);

static void changed_cb(void *arg, const char *path, const char *change, int is_dir)
{
    (void)arg;
    if (!R.active)
        return;
    const char *rel = rel_of(path);
    int offline = rel && strcmp(rel, OFFLINE_FILE) == 0;
    int lost = strcmp(path, R.real) == 0; /* events were lost: assume a change */
    if (!offline && !lost && !(rel ? relevant(rel, is_dir) : in_list(&R.scripts, path)))
        return;
    if (in_list(&R.seen, path))
        ; /* said once this burst */
    else if (R.seen.len >= CHANGES_LOGGED)
        R.more++;
    else {
        fnh__strlist_addf(&R.seen, "%s", path);
        fnh__log(CAT, FNH_LOG_INFO, "File change of type '%s' detected for '%s'", change, path);
    }
    if (offline)
        R.offline_check = 1;
    else
        R.pending = 1;
    uv_timer_start(&R.timer, timer_cb, FNH__RELOAD_DEBOUNCE_MS, 0); /* debounced */
}

/* ---- the reload ------------------------------------------------------------ */

static int is_native(const fnh__function *fn)
{
    return fn->runner && fn->runner_state && strncmp(fn->runner->name, "native", 6) == 0;
}

/* 1 when fn's configuration or code differs between the snapshots. */
static int function_changed(const fnh__function *a, const fnh__function *b)
{
    if (!cJSON_Compare(a->config, b->config, 1) || fnh__function_ok(a) != fnh__function_ok(b) ||
        a->disabled != b->disabled)
        return 1;
    if (is_native(a) && is_native(b)) { /* shadow copies are named by content */
        const fnh__native_code *ca = a->runner_state, *cb = b->runner_state;
        return strcmp(ca->script_path, cb->script_path) != 0;
    }
    return 0;
}

static void list_names(fnh__buf *b, const char *what, const fnh__strlist *names)
{
    if (!names->len)
        return;
    fnh__buf_printf(b, "%s%s ", b->len ? "; " : "", what);
    for (size_t i = 0; i < names->len; i++)
        fnh__buf_printf(b, "%s%s", i ? ", " : "", names->items[i]);
}

static int settings_equal(const fnh__app *a, const fnh__app *b)
{
    if (a->settings.len != b->settings.len || a->cors_credentials != b->cors_credentials ||
        strcmp(a->cors ? a->cors : "", b->cors ? b->cors : "") != 0 ||
        a->local_port != b->local_port)
        return 0;
    for (size_t i = 0; i < a->settings.len; i++)
        if (strcmp(a->settings.items[i], b->settings.items[i]) != 0)
            return 0;
    return 1;
}

/* What changed from cur to next, for the reload's log line; *code set when
 * a native function of cur changed or went. */
static char *summary(const fnh__app *cur, const fnh__app *next, int *code)
{
    fnh__strlist added = {0}, removed = {0}, changed = {0};
    *code = 0;
    for (size_t i = 0; i < next->nfunctions; i++) {
        const fnh__function *n = next->functions[i], *c = fnh__app_find(cur, n->name);
        if (!c) {
            fnh__strlist_addf(&added, "%s", n->name);
        } else if (function_changed(c, n)) {
            fnh__strlist_addf(&changed, "%s", n->name);
            *code |= is_native(c);
        }
    }
    for (size_t i = 0; i < cur->nfunctions; i++)
        if (!fnh__app_find(next, cur->functions[i]->name)) {
            fnh__strlist_addf(&removed, "%s", cur->functions[i]->name);
            *code |= is_native(cur->functions[i]);
        }
    fnh__buf b = {0};
    list_names(&b, "functions added:", &added);
    list_names(&b, "functions removed:", &removed);
    list_names(&b, "functions changed:", &changed);
    if (!cJSON_Compare(cur->host_json, next->host_json, 1))
        fnh__buf_printf(&b, "%shost.json changed", b.len ? "; " : "");
    if (!settings_equal(cur, next))
        fnh__buf_printf(&b, "%slocal.settings.json changed", b.len ? "; " : "");
    if (!b.len)
        fnh__buf_puts(&b, "no function changed");
    fnh__strlist_free(&added);
    fnh__strlist_free(&removed);
    fnh__strlist_free(&changed);
    return fnh__buf_take(&b);
}

static int section_equal(const fnh__app *a, const fnh__app *b, const char *key)
{
    return cJSON_Compare(cJSON_GetObjectItem(a->host_json, key),
                         cJSON_GetObjectItem(b->host_json, key), 1) ||
           (!cJSON_GetObjectItem(a->host_json, key) && !cJSON_GetObjectItem(b->host_json, key));
}

/* The extensions sections other than http (loaded extensions keep the
 * settings of their init). */
static int ext_sections_equal(const fnh__app *a, const fnh__app *b)
{
    cJSON *x = cJSON_Duplicate(cJSON_GetObjectItem(a->host_json, "extensions"), 1);
    cJSON *y = cJSON_Duplicate(cJSON_GetObjectItem(b->host_json, "extensions"), 1);
    cJSON_DeleteItemFromObject(x, "http");
    cJSON_DeleteItemFromObject(y, "http");
    int same = (!x && !y) || cJSON_Compare(x, y, 1) ||
               ((!x || !x->child) && (!y || !y->child));
    cJSON_Delete(x);
    cJSON_Delete(y);
    return same;
}

/* Host settings a reload cannot apply: each is said once, with the fix. */
static void restart_notes(fnh__app *cur, fnh__app *next)
{
    if (cur->local_port != next->local_port)
        fnh__log(CAT, FNH_LOG_WARN, "local.settings.json: Host.LocalHttpPort changed; the host "
                                    "keeps listening on port %d until it is restarted",
                 R.h->port);
    if (cur->function_timeout_ms != next->function_timeout_ms)
        fnh__log(CAT, FNH_LOG_WARN, "host.json: functionTimeout changed; the new timeout "
                                    "applies after a restart of the host");
    if (!section_equal(cur, next, "logging"))
        fnh__log(CAT, FNH_LOG_WARN, "host.json: logging changed; the new log levels apply "
                                    "after a restart of the host");
    if (!section_equal(cur, next, "fileWatchingEnabled"))
        fnh__log(CAT, FNH_LOG_WARN, "host.json: fileWatchingEnabled changed; it applies after "
                                    "a restart of the host");
    if (memcmp(fnh__http_limits_of(cur), fnh__http_limits_of(next), sizeof(fnh__http_limits)))
        fnh__log(CAT, FNH_LOG_WARN, "host.json: extensions.http: the new request limits and "
                                    "timeouts apply after a restart of the host");
    if (!ext_sections_equal(cur, next))
        fnh__log(CAT, FNH_LOG_WARN, "host.json: extensions: an extension that stays loaded "
                                    "keeps the settings it started with; restart the host to "
                                    "apply the new ones");
}

/* Logs what the new snapshot reports, as start-up does. */
static void report(const fnh__app *next, const fnh__app *cur, int refused)
{
    for (size_t i = 0; i < next->host_errors.len; i++)
        fnh__log(CAT, FNH_LOG_ERROR, "%s", next->host_errors.items[i]);
    for (size_t i = 0; i < next->errors.len; i++)
        fnh__log(CAT, FNH_LOG_ERROR, "%s", next->errors.items[i]);
    for (size_t i = 0; i < next->nfunctions; i++) {
        const fnh__function *fn = next->functions[i];
        const fnh__function *was = fnh__app_find(cur, fn->name);
        if (refused && was && !fnh__function_ok(was))
            continue; /* broken before too: not why it is refused */
        for (size_t k = 0; k < fn->errors.len; k++)
            fnh__log(CAT, FNH_LOG_ERROR, "The '%s' function is in error: %s", fn->name,
                     fn->errors.items[k]);
    }
    if (!refused)
        for (size_t i = 0; i < next->warnings.len; i++)
            fnh__log(CAT, FNH_LOG_WARN, "%s", next->warnings.items[i]);
}

/* 1 when next must not replace cur: a host error, or a function in error
 * that worked (or did not exist) before. */
static int refused(const fnh__app *cur, const fnh__app *next)
{
    if (next->host_errors.len)
        return 1;
    for (size_t i = 0; i < next->nfunctions; i++) {
        const fnh__function *fn = next->functions[i];
        const fnh__function *was = fnh__app_find(cur, fn->name);
        if (!fnh__function_ok(fn) && (!was || fnh__function_ok(was)))
            return 1;
    }
    return 0;
}

static void reload_now(void)
{
    uint64_t t0 = fnh__now_ns();
    fnh__host *h = R.h;
    fnh__app *cur = h->app, *next = NULL;
    if (fnh__app_load_bound(&R.opts, FNH__LOAD_RELOAD, h->loop, &next) == -ENOMEM && !next) {
        fnh__log(CAT, FNH_LOG_ERROR, "The app was not reloaded: out of memory");
        return;
    }
    if (refused(cur, next)) {
        report(next, cur, 1);
        fnh__app_unref(next); /* unbinds what it bound */
        fnh__log(CAT, FNH_LOG_ERROR, "The app was not reloaded: fix the errors above and save "
                                     "the file again; the last good version keeps serving");
        return;
    }
    report(next, cur, 0);
    restart_notes(cur, next);
    int code = 0;
    char *what = summary(cur, next, &code);
    h->app = next; /* new requests and triggers get the new snapshot */
    fnh__isolated_settings(next);
    if (code) /* fresh children for the new code, each once it is idle */
        fnh__isolated_recycle();
    fnh__ext_start(next); /* timers take over unchanged schedules */
    fnh__ext_stop(cur);
    watch_config(next);
    fnh__log(CAT, FNH_LOG_INFO, "Host reloaded (%llums): %s",
             (unsigned long long)((fnh__now_ns() - t0) / 1000000u), what ? what : "");
    free(what);
    fnh__app_unref(cur); /* freed when its last invocation ends (now, when none runs) */
}

/* Reads app_offline.htm: offline while it exists, back (and reloaded, as
 * Azure restarts) once it is gone. */
static void offline_apply(int at_start)
{
    fnh__host *h = R.h;
    char *path = fnh__asprintf("%s/" OFFLINE_FILE, R.real);
    FILE *f = path ? fopen(path, "rb") : NULL;
    free(path);
    char *text = f ? malloc(OFFLINE_MAX + 1) : NULL;
    size_t len = text ? fread(text, 1, OFFLINE_MAX, f) : 0; /* a huge file: its start */
    if (f)
        fclose(f);
    if (text)
        text[len] = '\0';
    if (text) {
        int was = R.offline != NULL;
        free(R.offline);
        R.offline = text;
        h->offline_html = text;
        h->offline_len = len;
        if (strcmp(h->state, "Stopping") != 0)
            h->state = "Offline";
        if (!was)
            fnh__log(CAT, FNH_LOG_INFO, OFFLINE_FILE " %s; the host is offline: requests get "
                                                     "503 with its content until it is removed",
                     at_start ? "is in the app root" : "detected");
    } else if (R.offline) {
        h->offline_html = NULL;
        h->offline_len = 0;
        free(R.offline);
        R.offline = NULL;
        if (strcmp(h->state, "Offline") == 0)
            h->state = "Running";
        fnh__log(CAT, FNH_LOG_INFO, OFFLINE_FILE " removed; the host is back online");
        R.pending = 1; /* Azure restarts the host */
    }
}

static void timer_cb(uv_timer_t *t)
{
    (void)t;
    if (!R.active)
        return;
    if (R.offline_check) {
        R.offline_check = 0;
        offline_apply(0);
    }
    if (R.pending && !R.offline)
        fnh__log(CAT, FNH_LOG_INFO, "Host configuration has changed. Signaling restart");
    if (R.more)
        fnh__log(CAT, FNH_LOG_DEBUG, "%zu more file changes in the same burst", R.more);
    fnh__strlist_free(&R.seen);
    R.more = 0;
    if (R.requested || (R.pending && !R.offline)) { /* offline: waits for the way back */
        R.requested = R.pending = 0;
        /* built outside the loop's callbacks: loading may run the loop (a
         * language worker indexes the app), and uv_run is not reentrant */
        R.due = 1;
        uv_stop(R.h->loop);
    }
}

int fnh__reload_run_due(void)
{
    if (!R.active || !R.due)
        return 0;
    R.due = 0;
    reload_now();
    return 1;
}

/* ---- API ------------------------------------------------------------------- */

static void sighup_cb(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    fnh__host_reload();
}

int fnh__reload_init(fnh__host *h, const fnh__app_options *opts, int watch)
{
    char real[PATH_MAX];
    memset(&R, 0, sizeof R);
    R.h = h;
    R.root = fnh__strdup(opts->root ? opts->root : ".");
    R.functions = opts->functions_csv ? fnh__strdup(opts->functions_csv) : NULL;
    R.real = R.root && realpath(R.root, real) ? fnh__strdup(real) : NULL;
    if (!R.root || !R.real || (opts->functions_csv && !R.functions)) {
        free(R.root);
        free(R.functions);
        free(R.real);
        return -ENOMEM;
    }
    R.opts = *opts;
    R.opts.root = R.root;
    R.opts.functions_csv = R.functions;
    uv_timer_init(h->loop, &R.timer);
    uv_signal_init(h->loop, &R.sighup);
    uv_signal_start(&R.sighup, sighup_cb, SIGHUP);
    uv_unref((uv_handle_t *)&R.sighup);
    R.active = 1;
    fnh__ext_unload_idle(1);
    fnh__isolated_settings(h->app);
    offline_apply(1);
    const cJSON *fw = cJSON_GetObjectItem(h->app->host_json, "fileWatchingEnabled");
    if (!watch || cJSON_IsFalse(fw)) {
        fnh__log(CAT, FNH_LOG_DEBUG, "File watching is off (%s)",
                 watch ? "host.json fileWatchingEnabled: false" : "--no-watch");
        watch_config(h->app);
        return 0;
    }
    int rc = fnh__watch_start(h->loop, changed_cb, NULL, &R.w);
    if (!rc)
        rc = fnh__watch_add_tree(R.w, R.real);
    if (rc) {
        fnh__log(CAT, FNH_LOG_WARN, "%s: cannot watch the app for changes (%s); restart the "
                                    "host to apply changes",
                 R.real, strerror(-rc));
        fnh__watch_free(R.w);
        R.w = NULL;
    }
    watch_config(h->app);
    return rc;
}

void fnh__host_reload(void)
{
    if (!R.active)
        return;
    fnh__log(CAT, FNH_LOG_INFO, "Host restart requested. Signaling restart");
    R.requested = 1;
    uv_timer_start(&R.timer, timer_cb, 0, 0);
}

void fnh__reload_stop(void)
{
    if (!R.active)
        return;
    R.active = 0;
    fnh__ext_unload_idle(0);
    uv_timer_stop(&R.timer);
    uv_close((uv_handle_t *)&R.timer, NULL); /* nothing to free: the handle is static */
    uv_close((uv_handle_t *)&R.sighup, NULL); /* nothing to free: the handle is static */
    fnh__watch_free(R.w);
    R.w = NULL;
    if (R.h->offline_html == R.offline) {
        R.h->offline_html = NULL;
        R.h->offline_len = 0;
    }
    free(R.offline);
    fnh__strlist_free(&R.seen);
    fnh__strlist_free(&R.watch_dirs);
    fnh__strlist_free(&R.watch_files);
    fnh__strlist_free(&R.scripts);
    free(R.root);
    free(R.functions);
    free(R.real);
    R.offline = R.root = R.functions = R.real = NULL;
}
