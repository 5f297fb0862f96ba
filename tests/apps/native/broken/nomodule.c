/* nomodule.c: a shared object without FNH_FUNCTION_MODULE, which the host
 * must refuse before calling anything in it. */
#include <fnhost/function.h>

FNH_EXPORT int run(fnh_ctx *ctx)
{
    (void)ctx;
    return 0;
}
