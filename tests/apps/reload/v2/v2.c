/* v2.c: the same function as v1.c, answering "v2" (a "rebuilt" .so). */
#define VERSION "v2"
#include "../v1/v1.c"
