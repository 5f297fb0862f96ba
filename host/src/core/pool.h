/* pool.h: the worker pool: threads that run blocking jobs of invocations
 * (a native function, a binding's read or write). One queue per function,
 * taken in turn, so one function's backlog delays another by at most one
 * run; a worker stuck in a job that outlived its deadline is replaced so the
 * pool keeps its size. */
#ifndef FNH_POOL_H
#define FNH_POOL_H

#include <uv.h>

#include "invocation.h"

typedef void (*fnh__pool_fn)(fnh__invocation *inv);

/* Starts the workers on loop: nthreads for functions (the fan-out grows to
 * that many running at once), and a few more that only jobs of functions
 * with binding I/O wake, as those mostly wait. Loop thread. Returns 0 or
 * -errno. */
int fnh__pool_init(uv_loop_t *loop, int nthreads);
/* Queues job(inv) for a worker, in inv->fn's queue; done(inv) follows on
 * the loop thread once job returned. inv stays owned by the caller, who
 * must not touch it in between. Sets inv->run_ns when the job starts.
 * Loop thread; 0 or -errno (then neither is called). */
int fnh__pool_submit(fnh__invocation *inv, fnh__pool_fn job, fnh__pool_fn done);
/* inv's job outlived its deadline (loop thread). Returns 1 when the job
 * still runs (its worker is counted stuck and replaced while the pool has
 * room; done still follows when it returns), 0 when it already returned. */
int fnh__pool_abandon(fnh__invocation *inv);
/* fn is being freed (its snapshot is gone, no job of it is queued): its
 * lane goes too. Loop thread; nothing to do before the pool starts or
 * after it stopped. */
void fnh__pool_lane_release(fnh__function *fn);
/* Stops the pool (loop thread): jobs still queued are handed back through
 * cancelled(inv) without running; waits briefly for the workers. Returns 0
 * when every worker ended, or how many are still inside jobs: the caller
 * must then exit without unloading code those jobs may be running. */
int fnh__pool_shutdown(fnh__pool_fn cancelled);

#endif
