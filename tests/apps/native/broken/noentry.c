/* noentry.c: a valid module whose entry point is not named "run". */
#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int handle(fnh_ctx *ctx)
{
    fnh_value v = {"handled", 7, "text/plain"};
    return fnh_output(ctx, "res", &v);
}
