/* dispatch.h: the one path every invocation takes, whatever its trigger and
 * runner: log "Executing", read input bindings, run the function through its
 * runner (runner.h), write output bindings, enforce functionTimeout from the
 * moment the function starts, log "Executed", retry a failed try under
 * the function's retry policy (fn->retry), and call the trigger's
 * completion on the loop thread once, for the last try. */
#ifndef FNH_DISPATCH_H
#define FNH_DISPATCH_H

#include <uv.h>

#include "invocation.h"

/* Reads a function's input bindings into inv / writes the outputs it set;
 * 0 or -errno. Called on the thread that runs the invocation. */
typedef int (*fnh__binding_io_fn)(fnh__invocation *inv);
/* Whoever binds input and output bindings (ext/) says how to run them; a
 * function has such bindings when fn->has_ext_io is set. */
void fnh__dispatch_set_binding_io(fnh__binding_io_fn read_inputs, fnh__binding_io_fn write_outputs);

/* Starts the worker pool (nthreads). timeout_ms < 0: no functionTimeout. Loop thread.
 * Returns 0 or a negative errno. */
int fnh__dispatch_init(uv_loop_t *loop, int nthreads, int64_t timeout_ms);
/* Runs inv. Takes ownership; inv->complete is called exactly once on the
 * loop thread (fnh__invocation_status() is -ETIMEDOUT on timeout, when the
 * function may still be running), then inv->release (if set) once the
 * function has really returned, then inv is freed. Loop thread only. */
void fnh__dispatch(fnh__invocation *inv);
/* An out-of-process runner's invocation has returned (runner.h). Loop
 * thread; inv->rc and the outputs are set. */
void fnh__dispatch_ran(fnh__invocation *inv);
/* Invocations whose try failed and that wait for their next one (retry
 * policies). */
size_t fnh__dispatch_retrying(void);
/* The host is stopping: no try is retried any more, and every invocation
 * waiting for its next try completes now with its last try's failure
 * (Azure cancels retries on shutdown). Loop thread. */
void fnh__dispatch_stop_retries(void);
/* Invocations dispatched whose work has not returned (timed-out ones that
 * still run included). */
size_t fnh__dispatch_inflight(void);
/* Stops the workers: waits up to wait_ms for queued and running work, then
 * fails what is still queued (-ECANCELED) and stops the pool. Returns 0
 * when every worker has ended, or the number of invocations still running
 * in functions that did not return: the caller must then exit the process
 * without unloading any code (those threads may still be inside it). */
int fnh__dispatch_shutdown(uint64_t wait_ms);

#endif
