/* newabi.c: a module that claims a future ABI major version. */
#include <fnhost/function.h>

FNH_EXPORT const fnh_function_module fnh_function_abi = {FNH_ABI_MAJOR + 1, 0,
                                                         sizeof(fnh_function_module), 0};

FNH_EXPORT int run(fnh_ctx *ctx)
{
    (void)ctx;
    return 0;
}
