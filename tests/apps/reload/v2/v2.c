/* v2.c: the same function as v1.c, answering "v2": the hot-reload tests
 * copy its .so over v1's as a rebuild would. */
#define VERSION "v2"
#include "../v1/v1.c"
