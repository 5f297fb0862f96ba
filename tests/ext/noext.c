/* noext.c: a shared object that is not an fnhost extension (no
 * fnh_extension symbol). */
#include <fnhost/extension.h>

FNH_EXPORT int not_an_extension(void)
{
    return 42;
}
