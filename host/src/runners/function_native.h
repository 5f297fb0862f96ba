/* function_native.h: native C functions: resolving function.json
 * "scriptFile"/"entryPoint", checking the .so's ABI descriptor in the file
 * before dlopen runs any of its code, loading it. Main thread, at start-up
 * and shutdown. */
#ifndef FNH_FUNCTION_NATIVE_H
#define FNH_FUNCTION_NATIVE_H

#include "app.h"
#include "runner.h"

typedef int (*fnh__entry_fn)(fnh_ctx *ctx);

/* A native function's code: the runner state of functions it prepared
 * (fn->runner_state), freed by fnh__native_unload. */
typedef struct fnh__native_code {
    const char *file;     /* scriptFile as written (borrowed from fn->config) */
    char *script_path;    /* absolute or relative to the function's folder */
    char *entry_name;     /* entryPoint, default "run" */
    void *dl;             /* NULL until loaded */
    int dl_shared;        /* dl belongs to another function using the same .so */
    fnh__entry_fn entry;
    uint32_t flags;       /* FNH_FN_* of the module */
} fnh__native_code;

/* Native functions in the host process: the entry point called directly. */
extern const fnh__runner fnh__runner_native;

/* Resolves scriptFile and entryPoint from fn->config into fn->runner_state;
 * with load_code, dlopens the .so, validates fnh_function_abi, finds the
 * entry point and makes fn->runner the in-process native runner. Each
 * problem is appended to fn->errors (with dlerror() text). */
void fnh__native_resolve(fnh__function *fn, int load_code);
/* dlcloses the function's .so, if loaded. */
void fnh__native_unload(fnh__function *fn);
/* Gives every healthy function of app its runner: resolves (and with
 * load_code loads and checks) its code. Problems become function errors. */
void fnh__runners_prepare(fnh__app *app, int load_code);

#endif
