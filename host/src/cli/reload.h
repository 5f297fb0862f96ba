/* reload.h: hot reload of the running host: the files that matter are
 * watched, a burst of changes becomes one reload (the next snapshot built
 * aside and swapped in; a broken one is refused and the last good one keeps
 * serving), and app_offline.htm takes the app offline. Loop thread only. */
#ifndef FNH_RELOAD_H
#define FNH_RELOAD_H

#include "app.h"
#include "host.h"

/* Azure's debounce of file changes. */
#define FNH__RELOAD_DEBOUNCE_MS 500

/* Starts reloading for the running host h (h->app is loaded and started):
 * opts are the options the app was loaded with (copied). With watch set and
 * host.json fileWatchingEnabled not false, files are watched; otherwise
 * only fnh__host_reload (and SIGHUP, which calls it) reloads. Also applies
 * an app_offline.htm already in the root. 0, or a negative errno after logging why (the host serves on,
 * without watching). h is borrowed until fnh__reload_stop. */
int fnh__reload_init(fnh__host *h, const fnh__app_options *opts, int watch);
/* Reloads the app soon (on the next loop turn, never inside the caller's
 * call): the entry point for /admin/host/restart. No-op before
 * fnh__reload_init or after fnh__reload_stop. */
void fnh__host_reload(void);
/* A reload is built between runs of the loop, never inside a callback
 * (loading may run the loop: a language worker indexes the app there): the
 * debounce stops the loop, and the host's serve loop calls this each time
 * uv_run returns. Reloads and returns 1 when a reload was due, else 0 (the
 * loop ended: shutdown). */
int fnh__reload_run_due(void);
/* Shutdown: stops watching, drops a pending reload, frees what it owns
 * (h->offline_html is cleared). */
void fnh__reload_stop(void);

#endif
