/* function_native.h: native C functions: resolving function.json
 * "scriptFile"/"entryPoint", checking the .so's ABI descriptor in the file
 * before dlopen runs any of its code, loading it. Main thread, at start-up
 * and shutdown. */
#ifndef FNH_FUNCTION_NATIVE_H
#define FNH_FUNCTION_NATIVE_H

#include <uv.h>

#include "app.h"
#include "runner.h"

typedef int (*fnh__entry_fn)(fnh_ctx *ctx);

/* A native function's code: the runner state of functions it prepared
 * (fn->runner_state), freed by fnh__native_unload. */
typedef struct fnh__native_code {
    const char *file;     /* scriptFile as written (borrowed from fn->config) */
    char *script_path;    /* absolute or relative to the function's folder; in
                           * the host, its shadow copy (see fnh__native_shadow_init) */
    char *origin;         /* the file the shadow copy was made from, or NULL */
    char *entry_name;     /* entryPoint, default "run" */
    void *dl;             /* NULL until loaded */
    int dl_shared;        /* dl is in the cache, counted (closed by its last user) */
    fnh__entry_fn entry;
    uint32_t flags;       /* FNH_FN_* of the module */
    uint64_t avg_run_ns;  /* isolated runner: its recent run time (0 = not measured) */
} fnh__native_code;

/* Native functions in the host process: the entry point called directly. */
extern const fnh__runner fnh__runner_native;

/* How far fnh__native_resolve goes. */
enum {
    FNH__NATIVE_PATHS, /* scriptFile and entryPoint only (listing routes) */
    FNH__NATIVE_CHECK, /* and the file: exists, a .so, its descriptor (no code runs) */
    FNH__NATIVE_LOAD,  /* and dlopen it, check it again, find the entry point */
};

/* Resolves scriptFile and entryPoint from fn->config into fn->runner_state,
 * then checks or loads as mode says; loaded, fn->runner becomes the
 * in-process native runner. Each problem is appended to fn->errors (with
 * dlerror() text). */
void fnh__native_resolve(fnh__function *fn, int mode);
/* dlcloses the function's .so, if loaded. */
void fnh__native_unload(fnh__function *fn);
/* (runners.c) Gives every healthy function of app its runner. A custom
 * handler's app (custom_handler.h) runs all of them in its handler, started
 * here on loop when run. Otherwise, with run: native
 * functions run isolated in child processes (their .so checked here without
 * running any of its code), or, with in_process, loaded into the host;
 * without run, only their paths are resolved. Problems become function
 * errors. */
void fnh__runners_prepare(fnh__app *app, int run, int in_process, uv_loop_t *loop);

#endif
