/* stream_write.c: see stream_write.h. */
#include "stream_write.h"

int fnh__stream_try_write(uv_stream_t *s, uv_buf_t *b)
{
    if (!b->len)
        return 1;
    int n = uv_try_write(s, b, 1);
    if (n == UV_EAGAIN)
        return 0;
    if (n < 0)
        return n;
    b->base += n;
    b->len -= (unsigned)n;
    return b->len == 0;
}
