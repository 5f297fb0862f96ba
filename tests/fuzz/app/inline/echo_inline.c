/* echo_inline.c: ../echo/echo.c declared non-blocking, so the host runs it
 * inline on the loop thread. */
#define ECHO_INLINE 1
#include "../echo/echo.c"
