/* function_native.h: native C functions: resolving function.json
 * "scriptFile"/"entryPoint", checking the .so's ABI descriptor in the file
 * before dlopen runs any of its code, loading it. Main thread, at start-up
 * and shutdown. */
#ifndef FNH_FUNCTION_NATIVE_H
#define FNH_FUNCTION_NATIVE_H

#include "app.h"
#include "runner.h"

/* Native functions in the host process: the entry point called directly. */
extern const fnh__runner fnh__runner_native;

/* Resolves fn->script_path and fn->entry_name from fn->config; with
 * load_code, dlopens the .so, validates fnh_function_abi and finds the entry
 * point. Each problem is appended to fn->errors (with dlerror() text). */
void fnh__native_resolve(fnh__function *fn, int load_code);
/* dlcloses the function's .so, if loaded. */
void fnh__native_unload(fnh__function *fn);
/* Gives every healthy function of app its runner: resolves (and with
 * load_code loads and checks) its code. Problems become function errors. */
void fnh__runners_prepare(fnh__app *app, int load_code);

#endif
