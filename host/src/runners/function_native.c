/* function_native.c: loads native function modules: fnh_function_abi
 * checked in the file first (elf_probe.c), then dlopen with RTLD_NOW so a
 * missing symbol fails at start-up, not mid-request, and RTLD_LOCAL so one
 * function's symbols never interpose on another's. In the host, each .so is
 * loaded from its private shadow copy (core/shadow.c), so a rebuilt file is
 * new code. */
#include "function_native.h"

#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crash.h"
#include "elf_probe.h"
#include "runner.h"
#include "shadow.h"
#include "util.h"

#define FERR(fn, ...) fnh__strlist_addf(&(fn)->errors, __VA_ARGS__)

/* .so files opened (main thread), by real path, with how many functions of
 * any snapshot use each: the last one to go closes it. */
static struct {
    struct {
        char *path;
        void *dl;
        size_t refs;
    } *items;
    size_t len;
} g_cache;

/* Points c at the shadow copy of its file, when shadowing is on. */
static void use_shadow(fnh__native_code *c)
{
    char *copy = fnh__shadow_acquire(c->script_path);
    if (!copy)
        return;
    c->origin = c->script_path;
    c->script_path = copy;
}

/* c no longer uses its shadow copy: the last user deletes it (a process
 * that mapped it keeps its mapping). */
static void unuse_shadow(fnh__native_code *c)
{
    if (c->origin)
        fnh__shadow_release(c->script_path);
}

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

/* scriptFile and entryPoint into a new code record; NULL (with an error of
 * fn) when they are missing or malformed, or out of memory. */
static fnh__native_code *read_paths(fnh__function *fn)
{
    const cJSON *sf = cJSON_GetObjectItem(fn->config, "scriptFile");
    const cJSON *ep = cJSON_GetObjectItem(fn->config, "entryPoint");
    if (!sf) {
        FERR(fn, "%s: scriptFile: missing; name the function's shared object beside "
                 "function.json, e.g. \"scriptFile\": \"%s.so\"",
             fn->config_file, fn->name);
        return NULL;
    }
    if (!cJSON_IsString(sf) || !*sf->valuestring) {
        FERR(fn, "%s: scriptFile: must be a non-empty string such as \"%s.so\"", fn->config_file,
             fn->name);
        return NULL;
    }
    if (ep && (!cJSON_IsString(ep) || !*ep->valuestring)) {
        FERR(fn, "%s: entryPoint: must be the name of an exported C function such as \"run\"",
             fn->config_file);
        return NULL;
    }
    fnh__native_code *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->file = sf->valuestring;
    c->script_path = c->file[0] == '/' ? fnh__strdup(c->file)
                                       : fnh__asprintf("%s/%s", fn->dir, c->file);
    c->entry_name = fnh__strdup(ep ? ep->valuestring : "run");
    if (!c->script_path || !c->entry_name) {
        free(c->script_path);
        free(c->entry_name);
        free(c);
        return NULL;
    }
    return c;
}

/* The file exists and is a shared object; 0 or -1 with an error of fn. */
static int check_file(fnh__function *fn, const fnh__native_code *c)
{
    size_t n = strlen(c->file);
    int is_so = (n > 3 && strcmp(c->file + n - 3, ".so") == 0) || strstr(c->file, ".so.") != NULL;
    struct stat st;
    if (stat(c->script_path, &st) != 0) {
        FERR(fn, "%s: scriptFile: '%s' does not exist (looked for %s); build it (make) or fix "
                 "the path, which is relative to the function's folder",
             fn->config_file, c->file, c->script_path);
        return -1;
    }
    if (!is_so) {
        FERR(fn, "%s: scriptFile: '%s' is not a native shared object (.so); fnhost runs "
                 "functions compiled to .so files (see docs/function-api.md)",
             fn->config_file, c->file);
        return -1;
    }
    return 0;
}

static int probe_module(fnh__function *fn, const fnh__native_code *c);

/* dlopens the module, or takes it from the cache: many functions may share
 * one .so (generated apps), and every dlopen of a new path string costs a
 * walk of all loaded names. The descriptor is checked in the file before
 * dlopen runs any code. 0 or -1 with an error of fn. */
static int open_module(fnh__function *fn, fnh__native_code *c, const char *key)
{
    for (size_t i = 0; i < g_cache.len; i++)
        if (strcmp(g_cache.items[i].path, key) == 0) {
            c->dl = g_cache.items[i].dl;
            c->dl_shared = 1;
            g_cache.items[i].refs++;
            return 0;
        }
    if (probe_module(fn, c))
        return -1;
    fnh__crash_scope cs = {.what = "loading function", .name = fn->name,
                           .detail = c->origin ? c->origin : c->script_path};
    fnh__crash_enter(&cs);
    dlerror();
    c->dl = dlopen(c->script_path, RTLD_NOW | RTLD_LOCAL);
    fnh__crash_leave(&cs);
    if (!c->dl) {
        const char *e = dlerror();
        FERR(fn, "%s: scriptFile: cannot load '%s': %s", fn->config_file, c->file,
             e ? e : "unknown error");
        return -1;
    }
    return 0;
}

/* The loaded module's descriptor (again: relocations may have changed it)
 * and flags; 0 or -1 with an error of fn. */
static int check_module(fnh__function *fn, fnh__native_code *c)
{
    char why[256];
    fnh__abi_head head;
    const fnh_function_module *mod = dlsym(c->dl, "fnh_function_abi");
    size_t size = SIZE_MAX;
    int rc = mod ? fnh__elf_loaded_check(mod, MODULE_MIN, _Alignof(fnh_function_module), &size,
                                         why, sizeof why)
                 : -ENOENT;
    if (!rc)
        memcpy(&head, mod, sizeof head);
    if (module_refusal(fn, c->file, rc, why, &head))
        return -1;
    fnh_function_module m = {0};
    size_t have = head.size < size ? head.size : size;
    memcpy(&m, mod, have < sizeof m ? have : sizeof m);
    c->flags = m.size >= sizeof m ? m.flags : 0;
    return 0;
}

static int find_entry(fnh__function *fn, fnh__native_code *c)
{
    dlerror();
    void *sym = dlsym(c->dl, c->entry_name);
    if (!sym) {
        const char *e = dlerror();
        FERR(fn, "%s: entryPoint: '%s' not found in '%s' (%s); export int %s(fnh_ctx *ctx) "
                 "from it or set \"entryPoint\" to the exported name",
             fn->config_file, c->entry_name, c->file, e ? e : "no such symbol", c->entry_name);
        return -1;
    }
    /* POSIX guarantees object and function pointers convert through dlsym */
    memcpy(&c->entry, &sym, sizeof sym);
    return 0;
}

static void remember(fnh__native_code *c, const char *key)
{
    if (c->dl_shared)
        return;
    void *grown = realloc(g_cache.items, (g_cache.len + 1) * sizeof *g_cache.items);
    if (grown) {
        g_cache.items = grown;
        g_cache.items[g_cache.len].path = fnh__strdup(key);
        g_cache.items[g_cache.len].dl = c->dl;
        g_cache.items[g_cache.len].refs = 1;
        g_cache.len++;
    } else { /* not shared then: its own function closes it */
        return;
    }
    c->dl_shared = 1;
}

/* The descriptor as the file holds it, checked without running any of the
 * module's code; a file that cannot be probed passes (dlopen checks it). */
static int probe_module(fnh__function *fn, const fnh__native_code *c)
{
    char why[256];
    fnh__abi_head head;
    int rc = fnh__elf_descriptor_file(c->script_path, "fnh_function_abi", MODULE_MIN,
                                      _Alignof(fnh_function_module), &head, why, sizeof why);
    if (rc == -ENOTSUP || rc == -EIO)
        return 0;
    return module_refusal(fn, c->file, rc, why, &head);
}

/* The entry point is exported by the file (checked without loading it). A
 * file without a symbol table passes: the child's dlsym decides. */
static int probe_entry(fnh__function *fn, const fnh__native_code *c)
{
    char *buf = NULL;
    size_t len = 0;
    if (fnh__read_file(c->script_path, &buf, &len))
        return 0;
    fnh__elf_symbol sym;
    const char *why = NULL;
    int rc = fnh__elf_probe(buf, len, c->entry_name, &sym, &why);
    free(buf);
    if (rc != -ENOENT)
        return 0;
    FERR(fn, "%s: entryPoint: '%s' not found in '%s' (undefined symbol: %s); export int "
             "%s(fnh_ctx *ctx) from it or set \"entryPoint\" to the exported name",
         fn->config_file, c->entry_name, c->file, c->entry_name, c->entry_name);
    return -1;
}

void fnh__native_resolve(fnh__function *fn, int mode)
{
    fnh__native_code *c = read_paths(fn);
    if (!c)
        return;
    fn->runner_state = c;
    fn->runner_release = fnh__native_unload;
    if (mode == FNH__NATIVE_PATHS)
        return; /* listing routes: the .so may not be built yet */
    if (check_file(fn, c)) {
        if (mode == FNH__NATIVE_LOAD)
            fnh__native_unload(fn);
        return;
    }
    use_shadow(c);
    if (mode == FNH__NATIVE_CHECK) {
        if (probe_module(fn, c) == 0)
            probe_entry(fn, c);
        return;
    }
    char real[PATH_MAX];
    /* a shadow copy's path is already real (its folder was resolved) */
    const char *key = c->origin || !realpath(c->script_path, real) ? c->script_path : real;
    if (open_module(fn, c, key) || check_module(fn, c) || find_entry(fn, c)) {
        fnh__native_unload(fn);
        return;
    }
    remember(c, key);
    fn->runner = &fnh__runner_native;
    fn->run_inline = (c->flags & FNH_FN_NONBLOCKING) != 0;
}

void fnh__native_unload(fnh__function *fn)
{
    fnh__native_code *c = fn->runner_state;
    int close_it = c && c->dl && !c->dl_shared;
    for (size_t i = 0; c && c->dl && c->dl_shared && i < g_cache.len; i++)
        if (g_cache.items[i].dl == c->dl) {
            if (--g_cache.items[i].refs == 0) {
                free(g_cache.items[i].path);
                g_cache.items[i] = g_cache.items[--g_cache.len];
                close_it = 1;
            }
            break;
        }
    if (!g_cache.len) {
        free(g_cache.items);
        g_cache.items = NULL;
    }
    if (close_it)
        dlclose(c->dl);
    if (c) {
        unuse_shadow(c);
        free(c->script_path);
        free(c->origin);
        free(c->entry_name);
        free(c);
    }
    fn->runner_state = NULL;
    fn->runner = NULL;
}
