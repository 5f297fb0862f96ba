/* runner.h: what runs a function, seen from dispatch. A runner is chosen per
 * function at load; dispatch knows only this interface, never .so files or
 * processes. In-process runners provide run() (dispatch calls it inline on
 * the loop for non-blocking functions, otherwise on a pool worker);
 * out-of-process runners provide start() and end in fnh__dispatch_ran(). */
#ifndef FNH_RUNNER_H
#define FNH_RUNNER_H

#include "invocation.h"

typedef struct fnh__runner {
    const char *name; /* "native", ... for logs and status */
    /* Runs inv on the calling thread until the function returns; sets
     * inv->rc and the outputs. NULL for asynchronous runners. */
    void (*run)(fnh__invocation *inv);
    /* Starts inv (loop thread); the runner sets inv->run_ns when the
     * function starts and calls fnh__dispatch_ran(inv) exactly once, on the
     * loop thread, when it has returned. NULL for in-process runners. */
    void (*start)(fnh__invocation *inv);
    /* functionTimeout passed (loop thread): stop the work if the runner
     * can; fnh__dispatch_ran still follows. NULL: the work cannot be stopped. */
    void (*cancel)(fnh__invocation *inv);
} fnh__runner;

#endif
