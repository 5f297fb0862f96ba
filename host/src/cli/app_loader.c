/* app_loader.c: one way to load a function app for every command (start,
 * routes, the tests): manifests, model, runners, binding providers, routes. */
#include "app_loader.h"

#include "extension.h"
#include "settings.h"
#include "util.h"
#include "function_native.h"
#include "language_worker.h"
#include "http_binding.h"
#include "timer_trigger.h"

void fnh__builtins_register(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    fnh__ext_register_builtin(&fnh__http_extension);
    fnh__ext_register_builtin(&fnh__timer_extension);
}

int fnh__app_load_bound(const fnh__app_options *opts, int run, uv_loop_t *loop, fnh__app **out)
{
    fnh__builtins_register();
    fnh__strlist ext_errors = {0};
    fnh__ext_registry_load(opts->root, &ext_errors);
    int rc = fnh__app_load(opts, out);
    fnh__app *app = *out;
    if (rc || !app) {
        fnh__strlist_free(&ext_errors);
        return -ENOMEM;
    }
    for (size_t i = 0; i < ext_errors.len; i++)
        fnh__strlist_addf(&app->errors, "%s", ext_errors.items[i]);
    fnh__strlist_free(&ext_errors);
    if (run == FNH__LOAD_RUN) { /* start-up: the only time the process-wide state is written */
        fnh__settings_export(&app->settings);
        fnh__app_apply_log_levels(app);
    }
    /* with host errors the host will not start: check everything, run nothing */
    int live = run && !app->host_errors.len;
    /* isolation is the default; --in-process or the app setting opts out */
    int in_process = opts->in_process || fnh__truthy(fnh__app_setting(app, "FNHOST_IN_PROCESS"));
    /* FUNCTIONS_WORKER_RUNTIME=node: the worker indexes the app and runs it */
    if (fnh__lang_prepare(app, opts->functions_csv, loop, live) == -ENOMEM)
        return -ENOMEM;
    fnh__runners_prepare(app, live, in_process, loop);
    rc = fnh__ext_load_for_app(app, loop, live);
    fnh__http_router(app);
    fnh__app_finish(app);
    return rc;
}

void fnh__app_unload(fnh__app *app)
{
    fnh__app_unref(app); /* unbinds its bindings when it is the last reference */
    fnh__ext_unload(0);
    fnh__ext_registry_free();
}
