/* runner_native.c: the in-process native runner: calls the function's
 * entry point from its .so (loaded by function_native.c) on the thread
 * dispatch chose: the loop for FNH_FN_NONBLOCKING modules, a pool worker
 * otherwise. */
#include <errno.h>

#include "runner.h"

static void native_run(fnh__invocation *inv)
{
    int rc = inv->fn->entry ? inv->fn->entry((fnh_ctx *)(void *)inv) : -ENOEXEC;
    inv->rc = rc > 0 ? 0 : rc;
}

const fnh__runner fnh__runner_native = {.name = "native", .run = native_run};
