/* fuzz_common.c: the fuzz targets' temp folder, file writing and environment
 * restore (see fuzz_common.h). */
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "app_loader.h"
#include "http_binding.h"
#include "http_router.h"
#include "log.h"

extern char **environ;

static char g_dir[256];
static char g_path[1024];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(void)
{
    if (g_dir[0])
        nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    g_dir[0] = '\0';
}

/* Removes the folders of fuzzer processes that died (a crash exits without
 * running atexit handlers): "fnhost-fuzz-<pid>-*" whose pid is gone. */
static void remove_stale(const char *base)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        char rest[64];
        if (sscanf(e->d_name, "fnhost-fuzz-%ld-%63s", &pid, rest) != 2 || pid <= 0 ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", base, e->d_name);
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

const char *fuzz_tmpdir(void)
{
    if (g_dir[0])
        return g_dir;
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    remove_stale(base);
    snprintf(g_dir, sizeof g_dir, "%s/fnhost-fuzz-%ld-XXXXXX", base, (long)getpid());
    if (!mkdtemp(g_dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(cleanup);
    return g_dir;
}

const char *fuzz_path(const char *rel)
{
    snprintf(g_path, sizeof g_path, "%s/%s", fuzz_tmpdir(), rel);
    return g_path;
}

void fuzz_write(const char *rel, const void *data, size_t n)
{
    const char *path = fuzz_path(rel);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + strlen(fuzz_tmpdir()) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            perror("fuzz: mkdir");
            abort();
        }
        *p = '/';
    }
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror("fuzz: write");
        abort();
    }
}

void fuzz_write_str(const char *rel, const char *text)
{
    fuzz_write(rel, text, strlen(text));
}

void fuzz_remove(const char *rel)
{
    nftw(fuzz_path(rel), rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- environment --------------------------------------------------- */

static char **g_env;
static size_t g_nenv;

void fuzz_env_snapshot(void)
{
    for (size_t i = 0; i < g_nenv; i++)
        free(g_env[i]);
    free(g_env);
    g_nenv = 0;
    for (char **e = environ; *e; e++)
        g_nenv++;
    g_env = calloc(g_nenv + 1, sizeof *g_env);
    for (size_t i = 0; i < g_nenv; i++)
        g_env[i] = strdup(environ[i]);
}

void fuzz_env_restore(void)
{
    /* names that are new or changed: collect first, unsetenv edits environ */
    size_t n = 0, cap = 8;
    char **drop = malloc(cap * sizeof *drop);
    for (char **e = environ; *e; e++) {
        int known = 0;
        for (size_t i = 0; i < g_nenv && !known; i++)
            known = strcmp(g_env[i], *e) == 0;
        if (known)
            continue;
        if (n == cap)
            drop = realloc(drop, (cap *= 2) * sizeof *drop);
        const char *eq = strchr(*e, '=');
        drop[n++] = eq ? strndup(*e, (size_t)(eq - *e)) : strdup(*e);
    }
    for (size_t i = 0; i < n; i++) {
        unsetenv(drop[i]);
        free(drop[i]);
    }
    free(drop);
    for (size_t i = 0; i < g_nenv; i++) {
        const char *eq = strchr(g_env[i], '=');
        if (!eq)
            continue;
        char *name = strndup(g_env[i], (size_t)(eq - g_env[i]));
        const char *now = getenv(name);
        if (!now || strcmp(now, eq + 1) != 0)
            setenv(name, eq + 1, 1);
        free(name);
    }
}

char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* ---- apps ----------------------------------------------------------- */

static size_t touch_list(const fnh__strlist *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->len; i++)
        n += strlen(l->items[i]);
    return n;
}

void fuzz_app_load(const char *root)
{
    fnh__log_init(0, 0);
    fnh__app_options o = {.root = root};
    fnh__app *app = NULL;
    if (fnh__app_load_bound(&o, 0, NULL, &app) != 0 || !app)
        abort();
    /* read everything the host reads after a load, so ASan sees bad strings */
    size_t n = touch_list(&app->host_errors) + touch_list(&app->errors) +
               touch_list(&app->notes) + touch_list(&app->warnings);
    for (size_t i = 0; i < app->nfunctions; i++) {
        const fnh__function *fn = app->functions[i];
        n += touch_list(&fn->errors) + strlen(fnh__function_trigger_type(fn));
        const fnh__http_fn *hf = fnh__http_fn_of(fn);
        if (hf && hf->route_full)
            n += strlen(hf->route_full);
        if (fnh__app_find(app, fn->name) != fn)
            abort();
    }
    const fnh__route *r;
    unsigned methods;
    void *target;
    fnh__router *router = fnh__http_router(app);
    for (size_t i = 0; router && fnh__router_at(router, i, &r, &methods, &target); i++)
        n += strlen(fnh__route_template(r));
    static const char *const paths[] = {"/", "/api/items/5", "/api/items/x", "/items/5",
                                        "/api/fn", "/api/r/a/b", "/x/y/z"};
    for (size_t i = 0; router && i < sizeof paths / sizeof *paths; i++) {
        fnh__route_match m = {0};
        if (fnh__router_match(router, FNH__M_GET, paths[i], strlen(paths[i]), &m) == 1)
            fnh__route_match_clear(&m);
    }
    n += strlen(fnh__http_route_prefix(app));
    (void)n;
    fnh__app_unload(app);
    fnh__log_shutdown(); /* host.json logging.logLevel rules */
    fuzz_env_restore();  /* local.settings.json Values */
}
