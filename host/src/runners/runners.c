/* runners.c: choosing what runs each function: native functions isolated
 * in child processes (the default) or loaded into the host (--in-process);
 * functions a language worker took (fnh__lang_prepare) keep their runner. */
#include "function_native.h"
#include "isolated.h"
#include "language_worker.h"

void fnh__runners_prepare(fnh__app *app, int run, int in_process)
{
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
            fn->run_inline = 0;
        }
    }
}
