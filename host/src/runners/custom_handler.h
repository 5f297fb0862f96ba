/* custom_handler.h: the custom-handler runner: every function of an app
 * whose host.json has a "customHandler" (or the older "httpWorker")
 * section runs in one handler process, any program that serves HTTP on
 * the port the host gives it (Azure's custom-handler protocol). The
 * process, its port and its connections belong to the app snapshot (its
 * "customHandler" part): a new snapshot starts a fresh handler, and the
 * old one stops when its snapshot is freed. Loop thread only. May call:
 * supervisor, http_client, custom_payload, dispatch, core. */
#ifndef FNH_CUSTOM_HANDLER_H
#define FNH_CUSTOM_HANDLER_H

#include <stdint.h>
#include <uv.h>

#include "app.h"
#include "runner.h"

extern const fnh__runner fnh__runner_custom;

/* 1 when app is a custom-handler app: host.json has customHandler or
 * httpWorker, or FUNCTIONS_WORKER_RUNTIME is "custom" (then a missing
 * section is an error). */
int fnh__custom_handler_app(const fnh__app *app);

/* Reads the handler's description from host.json (problems become
 * app->host_errors, one sentence each naming host.json, the JSON path and
 * the fix) and gives every healthy function the custom runner. With loop
 * (the host is starting and will run functions), also starts the handler
 * process through the supervisor and waits, without blocking, for it to
 * answer HTTP; its state becomes the app's "customHandler" part. */
void fnh__custom_handler_prepare(fnh__app *app, uv_loop_t *loop);

/* Stops every handler process (SIGTERM to its group, SIGKILL after
 * grace_ms) and runs the loop until they have exited, at most grace_ms + 1 s;
 * their states go with their snapshots. Returns how many still run. Loop
 * thread, at shutdown. */
int fnh__custom_handler_shutdown(uint64_t grace_ms);

#endif
