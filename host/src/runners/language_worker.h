/* language_worker.h: the language worker runner: functions of another
 * language (FUNCTIONS_WORKER_RUNTIME = node, ...) run in Azure's own worker
 * for it, a supervised child that connects back over gRPC. Loop thread
 * only. May call: grpc_server, worker_config, supervisor, rpc_*, core. */

/* The protocol: StartStream, WorkerInitRequest, worker indexing
 * (FunctionsMetadataRequest) or function.json, FunctionLoadRequest, then
 * invocations. The workers belong to one app snapshot (its part
 * "workers"): a new snapshot starts its own, the old ones stop when it is
 * freed. */
#ifndef FNH_LANGUAGE_WORKER_H
#define FNH_LANGUAGE_WORKER_H

#include <stdint.h>
#include <uv.h>

#include "app.h"
#include "runner.h"

/* The runner of functions run by a language worker. */
extern const fnh__runner fnh__runner_language;

/* The app's setting FUNCTIONS_WORKER_RUNTIME asks for a language worker
 * ("node", "python", ...; not "native", "custom" or unset): 1, else 0. app
 * is borrowed for the call. */
int fnh__lang_wanted(const fnh__app *app);

/* For an app whose FUNCTIONS_WORKER_RUNTIME names a language: finds the
 * worker, starts FUNCTIONS_WORKER_PROCESS_COUNT of them on loop (the
 * default loop when NULL) and, running the loop until the first has
 * indexed the app (at most its initializationTimeout), adds the functions
 * it reports (v4 model; those functions_csv or host.json "functions" select,
 * see fnh__app_function_selected) to app, or keeps the function.json ones (v3),
 * every function given this runner. live: the workers keep running for
 * invocations (their state is the app's part "workers", stopped when the
 * app is freed); else they are stopped once the app is indexed (routes).
 * Problems go to app->host_errors (no worker, no runtime, start-up
 * failure: one sentence each). Does nothing for other apps. app is
 * borrowed (the workers' state becomes its part); functions_csv is
 * borrowed for the call. Runs the loop until indexed, so call it before the
 * host serves (or from a callback that may run the loop). Main thread,
 * while loading. Returns 0 or -ENOMEM. */
int fnh__lang_prepare(fnh__app *app, const char *functions_csv, uv_loop_t *loop, int live);

/* Host shutdown: every snapshot's workers get WorkerTerminate, then
 * SIGTERM (SIGKILL after grace_ms); what they still run fails with
 * -ECANCELED; runs the loop until they are gone (at most grace_ms + 1 s)
 * and closes the gRPC servers. Returns how many workers still run. */
int fnh__lang_shutdown(uint64_t grace_ms);

#endif
