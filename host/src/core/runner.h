/* runner.h: what runs a function, seen from dispatch. A runner is chosen per
 * function at load; dispatch knows only this interface, never .so files or
 * processes. In-process runners provide run() (dispatch calls it inline on
 * the loop for non-blocking functions, otherwise on a pool worker);
 * out-of-process runners provide start() and end in fnh__dispatch_ran(). */
#ifndef FNH_RUNNER_H
#define FNH_RUNNER_H

#include <stdint.h>

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

/* How long calls run, judged alike by the worker pool and the isolated
 * runner. A call running longer than FNH__BLOCKED_NS is taken to be blocked
 * (sleeping, waiting on I/O) rather than using a CPU, so queued work may get
 * another thread or child beside it; not a call of a function whose runs
 * average under FNH__SHORT_RUN_NS: on a busy machine that one may wait that
 * long for a CPU, and a flood of short calls must not fan out. */
#define FNH__BLOCKED_NS 10000000u
#define FNH__SHORT_RUN_NS 1000000u

/* A function's recent run time with one more run folded in (0: none yet). */
static inline uint64_t fnh__run_avg(uint64_t avg_ns, uint64_t run_ns)
{
    return avg_ns ? (avg_ns * 7 + run_ns) / 8 : run_ns;
}

/* 1 when a call running for running_ns, of a function averaging avg_ns
 * (0: not measured), is taken to be blocked. */
static inline int fnh__run_blocked(uint64_t running_ns, uint64_t avg_ns)
{
    return running_ns > FNH__BLOCKED_NS && !(avg_ns && avg_ns < FNH__SHORT_RUN_NS);
}

#endif
