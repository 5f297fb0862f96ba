/* ctorcrash.c: a valid function module whose constructor crashes (SIGSEGV)
 * when FNH_TEST_CTOR=segv, i.e. inside the host's dlopen. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

__attribute__((constructor)) static void ctorcrash_ctor(void)
{
    const char *how = getenv("FNH_TEST_CTOR");
    if (how && strcmp(how, "segv") == 0) {
        int *volatile bad = (int *)(uintptr_t)16; /* unmapped: SIGSEGV */
        *bad = 1;
    }
}

FNH_EXPORT int run(fnh_ctx *ctx)
{
    (void)ctx;
    return 0;
}
