/* stream_write.h: writing to a libuv stream without queueing what the socket
 * takes at once. A queued uv_write re-arms the stream's watcher when it
 * completes (one epoll_ctl per message); a write the kernel takes whole
 * costs only the write(2). */
#ifndef FNH_STREAM_WRITE_H
#define FNH_STREAM_WRITE_H

#include <uv.h>

/* Writes what s takes now from *b and advances *b past it (b->base moves,
 * b->len shrinks; the memory stays the caller's). Returns 1 when all of *b
 * went, 0 when the rest, now in *b, is left for uv_write (also when a
 * queued write is still pending on s), or a negative libuv error. Loop
 * thread. */
static inline int fnh__stream_try_write(uv_stream_t *s, uv_buf_t *b)
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

#endif
