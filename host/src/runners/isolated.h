/* isolated.h: the isolated native runner. A function's .so runs in a child
 * process of fnhost's own ("fnhost __native-child", started through the
 * supervisor), so a crash, abort(), exit() or endless loop in it fails one
 * invocation instead of the host. Up to N children, each running one
 * invocation at a time; invocations beyond that wait in one FIFO. Children
 * start when first needed, stay warm, load each function's .so on first
 * use and keep it; a child that dies fails only the invocation it ran and
 * is replaced. Host and child speak the worker protocol (rpc_frame.h).
 * Loop thread only. May call: supervisor, rpc_invocation, rpc_function,
 * rpc_frame, invocation, log, util. */
#ifndef FNH_ISOLATED_H
#define FNH_ISOLATED_H

#include <stdint.h>
#include <uv.h>

#include "invocation.h"
#include "runner.h"

/* The runner of native functions run isolated (the default): start and
 * cancel below, the end through fnh__dispatch_ran. */
extern const fnh__runner fnh__runner_isolated;

/* Sets up the runner: nchildren children (<= 0: 4 or the number of CPUs,
 * whichever is more, like the worker pool), and up to 12 more while waiting
 * work finds every child's call running over 10 ms (blocked, unless its
 * function's runs average under 1 ms; each extra
 * one stops after 10 s idle), each running
 * self_exe (the fnhost binary: /proc/self/exe resolved) "__native-child".
 * Copies self_exe. Starts no process yet. Returns 0, -EINVAL, -ENOMEM. */
int fnh__isolated_init(uv_loop_t *loop, int nchildren, const char *self_exe);


/* Runs inv in a child. done(inv) is called exactly once, on the loop
 * thread and never from inside this call, with inv->rc set (0, the
 * function's negative errno, -ECHILD when its process died: the log then
 * names the function, the invocation id and the signal or exit status,
 * -ETIMEDOUT after fnh__isolated_cancel, -ECANCELED at shutdown, -ENOEXEC
 * when its .so could not be loaded, -EMSGSIZE when a message exceeds the
 * limit) and inv->outputs set on success. inv stays the caller's. Only
 * when out of memory, or after fnh__isolated_shutdown, done() comes at once
 * (-ENOMEM, -ECANCELED). */
void fnh__isolated_start(fnh__invocation *inv, void (*done)(fnh__invocation *inv));

/* functionTimeout: drops inv if it still waits, or SIGKILLs the child
 * running it (a fresh one replaces it). done() still comes, rc -ETIMEDOUT.
 * Does nothing for an invocation the runner does not hold. */
void fnh__isolated_cancel(fnh__invocation *inv);

/* A function is freed (its snapshot is gone): no child counts it as
 * loaded any more (a new function may get its address). Loop thread. */
void fnh__isolated_forget(const fnh__function *fn);
/* The app settings children see (local.settings.json Values the real
 * environment does not set), from app. Call at start-up, then at each
 * reload: when they changed, each child is replaced once it is idle. */
void fnh__isolated_settings(const fnh__app *app);

/* Replaces every child once it is idle (what it runs or was given
 * finishes there first): after a reload changed or removed native code, so
 * no process keeps an old .so (and what its code started) mapped. */
void fnh__isolated_recycle(void);

/* Invocations running in children or waiting for one. */
size_t fnh__isolated_inflight(void);

/* Stops the runner: runs the loop up to wait_ms while invocations still
 * run or wait, fails the waiting ones (-ECANCELED), then stops every child
 * (SIGTERM, SIGKILL after 1 s; what still runs fails with -ECANCELED) and
 * closes its handles. Returns 0 when every child is gone, else how many
 * still run. */
int fnh__isolated_shutdown(uint64_t wait_ms);

#endif
