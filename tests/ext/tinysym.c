/* tinysym.c: fnh_extension is a 3-byte data object, far smaller than the
 * descriptor; the host must refuse it without reading past it. */
#include <fnhost/extension.h>

FNH_EXPORT const char fnh_extension[3] = {1, 0, 0};
