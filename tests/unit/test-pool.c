/* test-pool.c: the worker pool (host/src/core/pool.h) on a real libuv loop
 * with real threads: jobs of one function run and complete on the loop, a
 * burst of tiny jobs is handed back promptly even when the worker that ran
 * them takes a long job of the same function next (their answers must not
 * wait for it), and shutdown hands back what never ran. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "app.h"
#include "invocation.h"
#include "pool.h"
#include "unit.h"
#include "util.h"

static uv_loop_t *g_loop;
static int g_done;
static uint64_t g_done_ns[16];

static void job_tiny(fnh__invocation *inv)
{
    (void)inv;
}

static void job_long(fnh__invocation *inv)
{
    (void)inv;
    struct timespec ts = {1, 0};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void done(fnh__invocation *inv)
{
    if (g_done < 16)
        g_done_ns[g_done] = fnh__now_ns();
    g_done++;
    (void)inv;
}

static void tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until want jobs completed or ms passed. */
static void run_until(int want, int ms)
{
    uv_timer_t alive; /* the pool's own handles do not keep a loop running */
    uv_timer_init(g_loop, &alive);
    uv_timer_start(&alive, tick, 1, 1);
    uint64_t until = fnh__now_ns() + (uint64_t)ms * 1000000u;
    while (g_done < want && fnh__now_ns() < until) {
        uv_run(g_loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&alive, NULL);
    uv_run(g_loop, UV_RUN_NOWAIT);
}

static void test_tiny_answers_are_not_held_behind_a_long_run(void)
{
    fnh__function fn;
    memset(&fn, 0, sizeof fn);
    fnh__invocation inv[4];
    memset(inv, 0, sizeof inv);
    for (int i = 0; i < 4; i++)
        inv[i].fn = &fn;
    /* the function's recent runs are tiny */
    for (int round = 0; round < 20; round++) {
        g_done = 0;
        CHECK(fnh__pool_submit(&inv[0], job_tiny, done) == 0);
        run_until(1, 2000);
        CHECK(g_done == 1);
    }
    /* one burst: three tiny calls, then a long one; one worker may run (the
     * pool's CPU-bound cap is 1), so it takes all four in turn */
    g_done = 0;
    uint64_t t0 = fnh__now_ns();
    for (int i = 0; i < 3; i++)
        CHECK(fnh__pool_submit(&inv[i], job_tiny, done) == 0);
    CHECK(fnh__pool_submit(&inv[3], job_long, done) == 0);
    run_until(3, 3000);
    CHECK(g_done >= 3);
    uint64_t waited_ms = (g_done_ns[2] - t0) / 1000000u;
    if (waited_ms >= 300)
        printf("  the third tiny job completed after %llu ms\n", (unsigned long long)waited_ms);
    CHECK(waited_ms < 300);
    run_until(4, 3000);
    CHECK(g_done == 4);
    fnh__pool_lane_release(&fn);
}

static int g_cancelled;

static void cancelled(fnh__invocation *inv)
{
    (void)inv;
    g_cancelled++;
}

int main(void)
{
    g_loop = uv_default_loop();
    if (fnh__pool_init(g_loop, 1) != 0)
        return 1;
    UNIT_RUN(test_tiny_answers_are_not_held_behind_a_long_run);
    CHECK(fnh__pool_shutdown(cancelled) == 0);
    CHECK(g_cancelled == 0);
    uv_run(g_loop, UV_RUN_NOWAIT);
    uv_loop_close(g_loop);
    UNIT_END();
}
