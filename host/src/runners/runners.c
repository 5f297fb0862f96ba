/* runners.c: choosing what runs each function: a custom handler's app all
 * in its handler process, native functions isolated in child processes (the
 * default) or loaded into the host (--in-process); functions a language
 * worker took (fnh__lang_prepare) keep their runner. */
#include "custom_handler.h"
#include "function_native.h"
#include "isolated.h"
#include "language_worker.h"

/* An isolated function's release: no child keeps it as loaded. */
static void isolated_release(fnh__function *fn)
{
    fnh__isolated_forget(fn);
    fnh__native_unload(fn);
}

void fnh__runners_prepare(fnh__app *app, int run, int in_process, uv_loop_t *loop)
{
    if (fnh__custom_handler_app(app)) { /* no native code: every function is the handler's */
        fnh__custom_handler_prepare(app, run ? loop : NULL);
        return;
    }
    for (size_t i = 0; i < app->nfunctions; i++) {
        fnh__function *fn = app->functions[i];
        if (!fnh__function_ok(fn) || fn->runner == &fnh__runner_language)
            continue;
        if (!run || in_process) {
            fnh__native_resolve(fn, run ? FNH__NATIVE_LOAD : FNH__NATIVE_PATHS);
            continue;
        }
        /* the default: checked here without running its code, run in a child */
        fnh__native_resolve(fn, FNH__NATIVE_CHECK);
        if (fnh__function_ok(fn) && fn->runner_state) {
            fn->runner = &fnh__runner_isolated;
            fn->runner_release = isolated_release;
            fn->run_inline = 0;
        }
    }
}
