/* app_loader.h: loading a function app the way every command does:
 * extension manifests, the app model, runners for the functions, the
 * built-in and extension binding providers (init, bind), the route table.
 * Main thread, at start-up. */
#ifndef FNH_APP_LOADER_H
#define FNH_APP_LOADER_H

#include <uv.h>

#include "app.h"

/* Registers the built-in providers (HTTP, Timer) once. */
void fnh__builtins_register(void);

/* How fnh__app_load_bound runs: FNH__LOAD_RUN at start-up, FNH__LOAD_RELOAD
 * for the next snapshot of a running host (as RUN, but nothing
 * process-wide is written: settings are not exported, log levels kept). */
enum { FNH__LOAD_LIST = 0, FNH__LOAD_RUN = 1, FNH__LOAD_RELOAD = 2 };

/* Loads the app at opts->root into *out (always set unless out of memory;
 * free with fnh__app_unload) and binds it: with run set, native code is
 * loaded and extension files are loaded and bound on loop, the settings
 * exported to the environment and the log levels set (start-up only);
 * without, only what listing routes needs (no code runs, nothing global is
 * written). Every problem is in the app's
 * error lists, one line each. Returns 0 or -ENOMEM. */
int fnh__app_load_bound(const fnh__app_options *opts, int run, uv_loop_t *loop, fnh__app **out);
/* Unbinds an app from fnh__app_load_bound (extensions unloaded) and drops
 * the loader's reference. */
void fnh__app_unload(fnh__app *app);

#endif
