/* runner_native.c: the in-process native runner: calls the function's
 * entry point from its .so (loaded by function_native.c) on the thread
 * dispatch chose: the loop for FNH_FN_NONBLOCKING modules, a pool worker
 * otherwise. */
#include <errno.h>

#include "crash.h"
#include "function_native.h"

static void native_run(fnh__invocation *inv)
{
    const fnh__native_code *code = inv->fn->runner_state;
    if (!code || !code->entry) {
        inv->rc = -ENOEXEC;
        return;
    }
    /* a crash or exit() inside the function names it and the invocation */
    fnh__crash_scope cs = {.what = "running function", .name = inv->fn->name, .key = "Id",
                           .detail = inv->id};
    fnh__crash_enter(&cs);
    int rc = code->entry((fnh_ctx *)(void *)inv);
    fnh__crash_leave(&cs);
    inv->rc = rc > 0 ? 0 : rc;
}

const fnh__runner fnh__runner_native = {.name = "native", .run = native_run};
