/* function_native.c: loads native function modules: fnh_function_abi
 * checked in the file first (elf_probe.c), then dlopen with RTLD_NOW so a
 * missing symbol fails at start-up, not mid-request, and RTLD_LOCAL so one
 * function's symbols never interpose on another's. */
#include "function_native.h"

#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crash.h"
#include "elf_probe.h"
#include "runner.h"
#include "util.h"

#define FERR(fn, ...) fnh__strlist_addf(&(fn)->errors, __VA_ARGS__)

/* .so files opened so far (start-up, main thread), by real path. */
static struct {
    struct {
        char *path;
        void *dl;
    } *items;
    size_t len;
} g_cache;

#define MODULE_MIN (3 * sizeof(uint32_t)) /* abi_major, abi_minor, size */
#define MODULE_FIX "declare it only with the line FNH_FUNCTION_MODULE(0); (#include " \
                   "<fnhost/function.h>)"

/* Adds the refusal for a descriptor check (rc, why: fnh__elf_descriptor's
 * results; head read when rc is 0) to fn->errors and returns -1, or returns
 * 0 when the descriptor is usable. */
static int module_refusal(fnh__function *fn, const char *file, int rc, const char *why,
                          const fnh__abi_head *head)
{
    if (rc == -ENOEXEC)
        FERR(fn, "%s: scriptFile: cannot load '%s': %s; rebuild it", fn->config_file, file, why);
    else if (rc == -ENOENT)
        FERR(fn, "%s: scriptFile: '%s' is not an fnhost function module: it exports no "
                 "fnh_function_abi; add the line FNH_FUNCTION_MODULE(0); to its source "
                 "(#include <fnhost/function.h>)",
             fn->config_file, file);
    else if (rc)
        FERR(fn, "%s: scriptFile: '%s': fnh_function_abi %s; " MODULE_FIX, fn->config_file, file,
             why);
    else if (head->abi_major != FNH_ABI_MAJOR || head->abi_minor > FNH_ABI_MINOR ||
             head->size < MODULE_MIN)
        FERR(fn, "%s: scriptFile: '%s' was built for fnhost function ABI %u.%u, this host "
                 "provides %d.%d; rebuild it against this host's include/fnhost headers",
             fn->config_file, file, head->abi_major, head->abi_minor, FNH_ABI_MAJOR,
             FNH_ABI_MINOR);
    else
        return 0;
    return -1;
}

void fnh__native_resolve(fnh__function *fn, int load_code)
{
    const cJSON *sf = cJSON_GetObjectItem(fn->config, "scriptFile");
    const cJSON *ep = cJSON_GetObjectItem(fn->config, "entryPoint");
    if (!sf) {
        FERR(fn, "%s: scriptFile: missing; name the function's shared object beside "
                 "function.json, e.g. \"scriptFile\": \"%s.so\"",
             fn->config_file, fn->name);
        return;
    }
    if (!cJSON_IsString(sf) || !*sf->valuestring) {
        FERR(fn, "%s: scriptFile: must be a non-empty string such as \"%s.so\"", fn->config_file,
             fn->name);
        return;
    }
    if (ep && (!cJSON_IsString(ep) || !*ep->valuestring)) {
        FERR(fn, "%s: entryPoint: must be the name of an exported C function such as \"run\"",
             fn->config_file);
        return;
    }
    const char *file = sf->valuestring;
    fn->script_path = file[0] == '/' ? fnh__strdup(file) : fnh__asprintf("%s/%s", fn->dir, file);
    fn->entry_name = fnh__strdup(ep ? ep->valuestring : "run");
    size_t n = strlen(file);
    int is_so = (n > 3 && strcmp(file + n - 3, ".so") == 0) || strstr(file, ".so.") != NULL;
    if (!load_code)
        return; /* listing routes: the .so may not be built yet */
    struct stat st;
    if (stat(fn->script_path, &st) != 0) {
        FERR(fn, "%s: scriptFile: '%s' does not exist (looked for %s); build it (make) or fix "
                 "the path, which is relative to the function's folder",
             fn->config_file, file, fn->script_path);
        return;
    }
    if (!is_so) {
        FERR(fn, "%s: scriptFile: '%s' is not a native shared object (.so); fnhost runs "
                 "functions compiled to .so files (see docs/function-api.md)",
             fn->config_file, file);
        return;
    }
    /* many functions may share one .so (generated apps): open each file once,
     * since every dlopen of a new path string costs a walk of all loaded names */
    char real[PATH_MAX];
    const char *key = realpath(fn->script_path, real) ? real : fn->script_path;
    for (size_t i = 0; i < g_cache.len; i++)
        if (strcmp(g_cache.items[i].path, key) == 0) {
            fn->dl = g_cache.items[i].dl;
            fn->dl_shared = 1;
            break;
        }
    char why[256];
    fnh__abi_head head;
    if (!fn->dl) {
        /* the descriptor is checked in the file before dlopen runs any code;
         * a file that cannot be probed is left to dlopen and the check below */
        int rc = fnh__elf_descriptor_file(fn->script_path, "fnh_function_abi", MODULE_MIN,
                                          _Alignof(fnh_function_module), &head, why, sizeof why);
        if (rc != -ENOTSUP && rc != -EIO && module_refusal(fn, file, rc, why, &head))
            return;
        fnh__crash_scope cs = {.what = "loading function", .name = fn->name,
                               .detail = fn->script_path};
        fnh__crash_enter(&cs);
        dlerror();
        fn->dl = dlopen(fn->script_path, RTLD_NOW | RTLD_LOCAL);
        fnh__crash_leave(&cs);
    }
    if (!fn->dl) {
        const char *e = dlerror();
        FERR(fn, "%s: scriptFile: cannot load '%s': %s", fn->config_file, file,
             e ? e : "unknown error");
        return;
    }
    const fnh_function_module *mod = dlsym(fn->dl, "fnh_function_abi");
    size_t size = SIZE_MAX;
    int rc = mod ? fnh__elf_loaded_check(mod, MODULE_MIN, _Alignof(fnh_function_module), &size,
                                         why, sizeof why)
                 : -ENOENT;
    if (!rc)
        memcpy(&head, mod, sizeof head);
    if (module_refusal(fn, file, rc, why, &head)) {
        fnh__native_unload(fn);
        return;
    }
    fnh_function_module m = {0};
    size_t have = head.size < size ? head.size : size;
    memcpy(&m, mod, have < sizeof m ? have : sizeof m);
    fn->module_flags = m.size >= sizeof m ? m.flags : 0;
    dlerror();
    void *sym = dlsym(fn->dl, fn->entry_name);
    if (!sym) {
        const char *e = dlerror();
        FERR(fn, "%s: entryPoint: '%s' not found in '%s' (%s); export int %s(fnh_ctx *ctx) "
                 "from it or set \"entryPoint\" to the exported name",
             fn->config_file, fn->entry_name, file, e ? e : "no such symbol", fn->entry_name);
        fnh__native_unload(fn);
        return;
    }
    /* POSIX guarantees object and function pointers convert through dlsym */
    memcpy(&fn->entry, &sym, sizeof sym);
    fn->runner = &fnh__runner_native;
    fn->runner_release = fnh__native_unload;
    if (!fn->dl_shared) {
        void *grown = realloc(g_cache.items, (g_cache.len + 1) * sizeof *g_cache.items);
        if (grown) {
            g_cache.items = grown;
            g_cache.items[g_cache.len].path = fnh__strdup(key);
            g_cache.items[g_cache.len].dl = fn->dl;
            g_cache.len++;
        }
    }
}

void fnh__native_unload(fnh__function *fn)
{
    if (fn->dl && !fn->dl_shared) {
        for (size_t i = 0; i < g_cache.len; i++)
            if (g_cache.items[i].dl == fn->dl) {
                free(g_cache.items[i].path);
                g_cache.items[i] = g_cache.items[--g_cache.len];
                break;
            }
        if (!g_cache.len) {
            free(g_cache.items);
            g_cache.items = NULL;
        }
        dlclose(fn->dl);
    }
    fn->dl = NULL;
    fn->dl_shared = 0;
    fn->entry = NULL;
    fn->runner = NULL;
}

void fnh__runners_prepare(fnh__app *app, int load_code)
{
    for (size_t i = 0; i < app->nfunctions; i++)
        if (fnh__function_ok(app->functions[i]))
            fnh__native_resolve(app->functions[i], load_code);
}
