/* dispatch.h: the one path every invocation takes, whatever its trigger:
 * log "Executing", run the function (inline on the loop when its module is
 * non-blocking, otherwise on a worker thread), enforce functionTimeout, log
 * "Executed", and call the trigger's completion on the loop thread. */
#ifndef FNH_DISPATCH_H
#define FNH_DISPATCH_H

#include <uv.h>

#include "invocation.h"

/* Starts nthreads workers. timeout_ms < 0: no functionTimeout. Loop thread.
 * Returns 0 or a negative errno. */
int fnh__dispatch_init(uv_loop_t *loop, int nthreads, int64_t timeout_ms);
/* Runs inv. Takes ownership; inv->complete is called exactly once on the
 * loop thread (with inv->rc = -ETIMEDOUT on timeout), then inv is freed.
 * Loop thread only. */
void fnh__dispatch(fnh__invocation *inv);
/* Invocations started and not yet completed. */
size_t fnh__dispatch_inflight(void);
/* Stops the workers once the queue is empty. Invocations still running
 * after wait_ms are abandoned (their threads are detached). */
void fnh__dispatch_shutdown(uint64_t wait_ms);

#endif
