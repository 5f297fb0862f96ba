/* echo_inline.c: echo.c declared non-blocking, so the host runs it inline. */
#define ECHO_INLINE 1
#include "echo.c"
