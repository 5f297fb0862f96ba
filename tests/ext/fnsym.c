/* fnsym.c: a shared object whose fnh_extension is a function, not the
 * descriptor; the host must refuse it without reading it as one. */
#include <fnhost/extension.h>

FNH_EXPORT int fnh_extension(void)
{
    return 0x12345678;
}
