/* newabi.c: an extension built for a future ABI major version. */
#include <fnhost/extension.h>

FNH_EXPORT const fnh_extension_def fnh_extension = {
    FNH_ABI_MAJOR + 1, 0, sizeof(fnh_extension_def), "future", "9.0", NULL, NULL, NULL, NULL,
    NULL};
