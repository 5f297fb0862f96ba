/* fnsym.c: a function module whose fnh_function_abi is a function, not the
 * module descriptor; the host must refuse it without reading it as one. */
#include <fnhost/function.h>

FNH_EXPORT int fnh_function_abi(void)
{
    return 0x12345678;
}

FNH_EXPORT int run(fnh_ctx *ctx)
{
    (void)ctx;
    return 0;
}
