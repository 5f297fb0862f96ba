/* test-fd-reuse.c: descriptors libuv closes on the loop thread are reused by
 * another thread's open(), as the blob trigger's thread does while the loop
 * spawns isolated children. Every build checks that the numbers are reused;
 * under ThreadSanitizer (make check-tsan) it also checks that the sanitizer
 * sees libuv's closes (tests/tsan/libuv_closes.c): without that, it reports
 * the reuse as a data race with the pipe2() that made the pipe. The two
 * threads are ordered by a relaxed flag and sleeps only, which the sanitizer
 * does not count as synchronisation, as in the host. */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <uv.h>

#include "unit.h"

enum { OPENS = 8 };

static int g_closed; /* set (relaxed) once the loop has closed the pipe */
static int g_opened[OPENS];

static void *opener(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5000 && !__atomic_load_n(&g_closed, __ATOMIC_RELAXED); i++)
        uv_sleep(1);
    for (int i = 0; i < OPENS; i++)
        g_opened[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (int i = 0; i < OPENS; i++)
        if (g_opened[i] >= 0)
            close(g_opened[i]);
    return NULL;
}

static int was_opened(int fd)
{
    for (int i = 0; i < OPENS; i++)
        if (g_opened[i] == fd)
            return 1;
    return 0;
}

static void test_a_pipe_closed_by_libuv_is_reused_by_another_thread(void)
{
    uv_loop_t loop;
    CHECK(uv_loop_init(&loop) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, opener, NULL) == 0);
    uv_sleep(20); /* the thread runs first, as the blob thread does */
    uv_file fds[2];
    CHECK(uv_pipe(fds, 0, 0) == 0);
    uv_pipe_t ends[2];
    for (int i = 0; i < 2; i++) {
        CHECK(uv_pipe_init(&loop, &ends[i], 0) == 0);
        CHECK(uv_pipe_open(&ends[i], fds[i]) == 0);
        uv_close((uv_handle_t *)&ends[i], NULL);
    }
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    __atomic_store_n(&g_closed, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
    /* both numbers came back to the other thread: the sanitizer's record of
     * the pipe is then dropped there, where a missed close shows */
    CHECK(was_opened(fds[0]));
    CHECK(was_opened(fds[1]));
    CHECK(uv_loop_close(&loop) == 0);
}

int main(void)
{
    UNIT_RUN(test_a_pipe_closed_by_libuv_is_reused_by_another_thread);
    UNIT_END();
}
