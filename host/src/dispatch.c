/* dispatch.c: invocation dispatch and the worker pool. Work waits in one
 * queue per function ("lane"); workers take from the lanes in turn, so one
 * function's backlog delays another function by at most one run. The loop
 * hands work over in batches: invocations dispatched during one loop
 * iteration are queued under one lock and wake one worker; while work stays
 * queued a short timer wakes one more idle worker per tick, so blocking
 * functions fan out over the pool while a burst of short ones costs few
 * thread switches. functionTimeout counts from the moment a worker starts
 * the function, never the time spent queued. A timed-out invocation is
 * answered at once but stays counted until its worker returns, and the
 * stuck worker is replaced so the pool keeps its size. Completions come
 * back through one list and one uv_async_send, drained whole by the loop. */
#include "dispatch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "extension.h"
#include "log.h"
#include "util.h"

/* Threads the pool may add to replace workers stuck in timed-out functions. */
#define MAX_REPLACEMENTS 64

struct fnh__lane {
    fnh__invocation *head, *tail;
    struct fnh__lane *next_ready; /* in the ready ring while it holds work */
    int ready;
    struct fnh__lane *next_all;
};

static struct {
    uv_loop_t *loop;
    int64_t timeout_ms;
    /* loop -> workers, under lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;       /* work queued or stopping */
    pthread_cond_t exited;     /* a worker thread ended */
    struct fnh__lane *ready_head, *ready_tail;
    struct fnh__lane *lanes;   /* every lane, freed at shutdown */
    size_t queued;
    int idle;
    int stopping;
    int nthreads;              /* the pool's size */
    int alive;                 /* worker threads running */
    int stuck;                 /* of them, running a timed-out function */
    int replacement_warned;
    /* invocations dispatched this iteration, handed over in the check phase */
    fnh__invocation *bhead, *btail;
    uv_timer_t stall_timer;  /* wakes another worker while work stays queued */
    int stall_armed;
    uv_check_t batcher;      /* hands over after the poll phase (I/O, completions) */
    uv_prepare_t batcher2;   /* and before the loop blocks (timers, idle work) */
    /* workers -> loop */
    pthread_mutex_t done_lock;
    fnh__invocation *done;
    uv_async_t done_async;
    /* live (dispatched, not yet returned) invocations, loop thread */
    fnh__invocation *live;
    size_t inflight;
    uv_timer_t timeout_timer;
    int initialized;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .cond = PTHREAD_COND_INITIALIZER,
       .exited = PTHREAD_COND_INITIALIZER,
       .done_lock = PTHREAD_MUTEX_INITIALIZER};

/* "Function.<name>", made once at load (app.c). */
static const char *category(const fnh__function *fn)
{
    return fn->log_category ? fn->log_category : "Function";
}

static void live_add(fnh__invocation *inv)
{
    inv->prev_live = NULL;
    inv->next_live = g.live;
    if (g.live)
        g.live->prev_live = inv;
    g.live = inv;
    g.inflight++;
}

static void live_remove(fnh__invocation *inv)
{
    if (inv->prev_live)
        inv->prev_live->next_live = inv->next_live;
    else if (g.live == inv)
        g.live = inv->next_live;
    if (inv->next_live)
        inv->next_live->prev_live = inv->prev_live;
    inv->prev_live = inv->next_live = NULL;
    g.inflight--;
}

/* ---- lanes (under g.lock) ------------------------------------------------ */

static struct fnh__lane *lane_of(fnh__function *fn)
{
    if (!fn->lane) {
        struct fnh__lane *l = calloc(1, sizeof *l);
        if (!l)
            return NULL;
        l->next_all = g.lanes;
        g.lanes = l;
        fn->lane = l;
    }
    return fn->lane;
}

static void lane_push(struct fnh__lane *l, fnh__invocation *inv)
{
    inv->next = NULL;
    if (l->tail)
        l->tail->next = inv;
    else
        l->head = inv;
    l->tail = inv;
    g.queued++;
    if (!l->ready) {
        l->ready = 1;
        l->next_ready = NULL;
        if (g.ready_tail)
            g.ready_tail->next_ready = l;
        else
            g.ready_head = l;
        g.ready_tail = l;
    }
}

/* The next invocation, taking the lanes in turn. NULL when none waits. */
static fnh__invocation *lanes_pop(void)
{
    struct fnh__lane *l = g.ready_head;
    if (!l)
        return NULL;
    fnh__invocation *inv = l->head;
    l->head = inv->next;
    if (!l->head)
        l->tail = NULL;
    inv->next = NULL;
    g.queued--;
    g.ready_head = l->next_ready;
    if (!g.ready_head)
        g.ready_tail = NULL;
    l->next_ready = NULL;
    l->ready = 0;
    if (l->head) { /* still has work: back of the ring */
        l->ready = 1;
        if (g.ready_tail)
            g.ready_tail->next_ready = l;
        else
            g.ready_head = l;
        g.ready_tail = l;
    }
    return inv;
}

/* ---- logging ------------------------------------------------------------- */

/* Appends s to the line buffer at *at (bounded by end). */
static void put(char **at, const char *end, const char *s)
{
    size_t n = strlen(s);
    if (n > (size_t)(end - *at))
        n = (size_t)(end - *at);
    memcpy(*at, s, n);
    *at += n;
}

/* Milliseconds the function has run (queue time excluded). */
static uint64_t run_ms(const fnh__invocation *inv)
{
    uint64_t began = __atomic_load_n(&inv->run_ns, __ATOMIC_ACQUIRE);
    uint64_t now = fnh__now_ns();
    return began && now > began ? (now - began) / 1000000u : 0;
}

static void log_executed(fnh__invocation *inv, int ok)
{
    const char *cat = category(inv->fn);
    uint64_t ms = run_ms(inv);
    if (ok) {
        /* runs once per invocation: assembled without printf */
        if (!fnh__log_enabled(cat, FNH_LOG_INFO))
            return;
        char line[512], num[24], *at = line, *end = line + sizeof line;
        int d = (int)sizeof num - 1;
        num[d] = '\0';
        do {
            num[--d] = (char)('0' + ms % 10);
            ms /= 10;
        } while (ms && d > 0);
        put(&at, end, "Executed 'Functions.");
        put(&at, end, inv->fn->name);
        put(&at, end, "' (Succeeded, Id=");
        put(&at, end, inv->id);
        put(&at, end, ", Duration=");
        put(&at, end, num + d);
        put(&at, end, "ms)");
        fnh__log_line(cat, FNH_LOG_INFO, line, (size_t)(at - line));
    } else {
        const char *why = inv->timed_out          ? "The function timed out."
                          : inv->rc == -ECANCELED ? "The host is shutting down; the "
                                                    "invocation was cancelled before it started."
                                                  : strerror(inv->rc < 0 ? -inv->rc : EIO);
        fnh__log(cat, FNH_LOG_ERROR,
                 "Executed 'Functions.%s' (Failed, Id=%s, Duration=%llums)\n"
                 "Exception while executing function: Functions.%s. %s",
                 inv->fn->name, inv->id, (unsigned long long)ms, inv->fn->name, why);
    }
}

/* ---- completion ------------------------------------------------------------ */

/* The work has returned (loop thread): complete unless a timeout already
 * did, release, free. */
static void finish(fnh__invocation *inv)
{
    live_remove(inv);
    if (!inv->abandoned) {
        log_executed(inv, inv->rc == 0);
        if (inv->complete)
            inv->complete(inv);
    }
    if (inv->release)
        inv->release(inv);
    fnh__invocation_free(inv);
}

static void run(fnh__invocation *inv)
{
    int rc = 0;
    if (inv->fn->has_ext_io)
        rc = fnh__ext_read_inputs(inv);
    if (!rc)
        rc = inv->fn->entry ? inv->fn->entry((fnh_ctx *)(void *)inv) : -ENOEXEC;
    if (rc > 0)
        rc = 0;
    if (!rc && inv->fn->has_ext_io)
        rc = fnh__ext_write_outputs(inv);
    inv->rc = rc;
}

static void *worker_main(void *arg);

/* Starts one detached worker thread; under g.lock. Returns 0 or -errno. */
static int spawn_worker(void)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1u << 20);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, worker_main, NULL);
    pthread_attr_destroy(&attr);
    if (rc)
        return -rc;
    g.alive++;
    return 0;
}

static void *worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g.lock);
    for (;;) {
        while (!g.ready_head && !g.stopping) {
            g.idle++;
            pthread_cond_wait(&g.cond, &g.lock);
            g.idle--;
        }
        if (!g.ready_head || g.stopping)
            break; /* what is still queued is cancelled by the shutdown */
        fnh__invocation *inv = lanes_pop();
        uint64_t now = fnh__now_ns();
        __atomic_store_n(&inv->run_ns, now, __ATOMIC_RELEASE);
        if (g.timeout_ms > 0)
            __atomic_store_n(&inv->deadline_ns, now + (uint64_t)g.timeout_ms * 1000000u,
                             __ATOMIC_RELEASE);
        pthread_mutex_unlock(&g.lock);

        run(inv);

        pthread_mutex_lock(&g.lock);
        inv->returned = 1;
        int was_stuck = inv->overdue;
        pthread_mutex_unlock(&g.lock);

        pthread_mutex_lock(&g.done_lock);
        int was_empty = g.done == NULL;
        inv->next = g.done;
        g.done = inv;
        pthread_mutex_unlock(&g.done_lock);
        if (was_empty)
            uv_async_send(&g.done_async);

        pthread_mutex_lock(&g.lock);
        if (was_stuck) {
            g.stuck--;
            if (g.alive - g.stuck > g.nthreads)
                break; /* a replacement took this worker's place */
        }
    }
    g.alive--;
    pthread_cond_broadcast(&g.exited);
    pthread_mutex_unlock(&g.lock);
    return NULL;
}

static void done_cb(uv_async_t *h)
{
    (void)h;
    pthread_mutex_lock(&g.done_lock);
    fnh__invocation *list = g.done;
    g.done = NULL;
    pthread_mutex_unlock(&g.done_lock);
    /* the list is newest-first; complete in the order they finished */
    fnh__invocation *rev = NULL;
    while (list) {
        fnh__invocation *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    while (rev) {
        fnh__invocation *n = rev->next;
        rev->next = NULL;
        finish(rev);
        rev = n;
    }
}

static void stall_cb(uv_timer_t *t);

static void arm_stall_timer(void)
{
    if (!g.stall_armed) {
        g.stall_armed = 1;
        uv_timer_start(&g.stall_timer, stall_cb, 2, 0);
    }
}

/* Hands this iteration's invocations to the workers at once: each into its
 * function's lane. One worker is woken when none is running; while work
 * stays queued a short timer wakes one more idle worker per tick. */
static void hand_over(void)
{
    if (!g.bhead)
        return;
    pthread_mutex_lock(&g.lock);
    int was_empty = g.ready_head == NULL;
    for (fnh__invocation *inv = g.bhead, *n; inv; inv = n) {
        n = inv->next;
        struct fnh__lane *l = lane_of(inv->fn);
        if (!l) { /* out of memory: fail it on the loop */
            inv->rc = -ENOMEM;
            inv->returned = 1;
            pthread_mutex_lock(&g.done_lock);
            inv->next = g.done;
            g.done = inv;
            pthread_mutex_unlock(&g.done_lock);
            uv_async_send(&g.done_async);
            continue;
        }
        lane_push(l, inv);
    }
    int signaled = 0;
    if (g.idle && (was_empty || g.idle == g.alive - g.stuck)) {
        pthread_cond_signal(&g.cond);
        signaled = 1;
    }
    int wake_more = g.ready_head && g.idle > signaled;
    pthread_mutex_unlock(&g.lock);
    g.bhead = g.btail = NULL;
    if (wake_more)
        arm_stall_timer();
}

static void stall_cb(uv_timer_t *t)
{
    (void)t;
    pthread_mutex_lock(&g.lock);
    if (g.ready_head && g.idle)
        pthread_cond_signal(&g.cond);
    int more = g.ready_head && g.idle > 1;
    pthread_mutex_unlock(&g.lock);
    g.stall_armed = 0;
    if (more)
        arm_stall_timer();
}

static void batcher_cb(uv_check_t *h)
{
    (void)h;
    hand_over();
}

static void batcher2_cb(uv_prepare_t *h)
{
    (void)h;
    hand_over();
}

/* A worker runs a timed-out function: count it stuck and, while the pool
 * has room, start a replacement so other functions keep their workers.
 * Under g.lock. */
static void replace_stuck_worker(fnh__invocation *inv)
{
    inv->overdue = 1;
    g.stuck++;
    if (g.alive - g.stuck >= g.nthreads || g.stopping)
        return;
    if (g.alive < g.nthreads + MAX_REPLACEMENTS && spawn_worker() == 0)
        return;
    if (!g.replacement_warned) {
        g.replacement_warned = 1;
        fnh__log("Host", FNH_LOG_ERROR,
                 "%d worker threads are stuck in functions that outlived functionTimeout; "
                 "other functions wait for a free worker until they return",
                 g.stuck);
    }
}

static void timeout_cb(uv_timer_t *t)
{
    (void)t;
    uint64_t now = fnh__now_ns();
    for (fnh__invocation *inv = g.live; inv; inv = inv->next_live) {
        if (inv->abandoned)
            continue;
        uint64_t deadline = __atomic_load_n(&inv->deadline_ns, __ATOMIC_ACQUIRE);
        if (!deadline || now < deadline)
            continue;
        pthread_mutex_lock(&g.lock);
        int returned = inv->returned;
        if (!returned)
            replace_stuck_worker(inv);
        pthread_mutex_unlock(&g.lock);
        if (returned)
            continue; /* its completion is on the way */
        char ts[32];
        fnh__timespan_fmt(g.timeout_ms, ts);
        fnh__log(category(inv->fn), FNH_LOG_ERROR,
                 "Timeout value of %s exceeded by function 'Functions.%s' (Id: '%s'). "
                 "Initiating cancellation.",
                 ts, inv->fn->name, inv->id);
        /* the worker still owns rc and the outputs: completion must only
         * look at timed_out (loop thread) and never at what it writes */
        inv->timed_out = 1;
        log_executed(inv, 0);
        if (inv->complete)
            inv->complete(inv);
        inv->complete = NULL;
        inv->abandoned = 1; /* answered; stays live until the worker returns */
    }
}

int fnh__dispatch_init(uv_loop_t *loop, int nthreads, int64_t timeout_ms)
{
    g.loop = loop;
    g.timeout_ms = timeout_ms;
    g.nthreads = nthreads;
    uv_async_init(loop, &g.done_async, done_cb);
    uv_unref((uv_handle_t *)&g.done_async);
    uv_check_init(loop, &g.batcher);
    uv_check_start(&g.batcher, batcher_cb);
    uv_unref((uv_handle_t *)&g.batcher);
    uv_prepare_init(loop, &g.batcher2);
    uv_prepare_start(&g.batcher2, batcher2_cb);
    uv_unref((uv_handle_t *)&g.batcher2);
    uv_timer_init(loop, &g.stall_timer);
    uv_unref((uv_handle_t *)&g.stall_timer);
    uv_timer_init(loop, &g.timeout_timer);
    if (timeout_ms > 0) {
        uint64_t tick = (uint64_t)timeout_ms / 10;
        tick = tick < 20 ? 20 : tick > 1000 ? 1000 : tick;
        uv_timer_start(&g.timeout_timer, timeout_cb, tick, tick);
    }
    uv_unref((uv_handle_t *)&g.timeout_timer);
    g.initialized = 1;
    int rc = 0;
    pthread_mutex_lock(&g.lock);
    for (int i = 0; i < nthreads && !rc; i++)
        rc = spawn_worker();
    pthread_mutex_unlock(&g.lock);
    return rc;
}

void fnh__dispatch(fnh__invocation *inv)
{
    const char *cat = category(inv->fn);
    inv->start_ns = fnh__now_ns();
    if (fnh__log_enabled(cat, FNH_LOG_INFO)) {
        char line[1024], *at = line, *end = line + sizeof line;
        put(&at, end, "Executing 'Functions.");
        put(&at, end, inv->fn->name);
        put(&at, end, "' (Reason='");
        put(&at, end, inv->reason);
        put(&at, end, "', Id=");
        put(&at, end, inv->id);
        put(&at, end, ")");
        fnh__log_line(cat, FNH_LOG_INFO, line, (size_t)(at - line));
    }
    if (inv->trigger_details)
        fnh__log(cat, FNH_LOG_INFO, "Trigger Details: %s", inv->trigger_details);
    live_add(inv);
    if (!g.initialized || ((inv->fn->module_flags & FNH_FN_NONBLOCKING) && !inv->fn->has_ext_io)) {
        inv->run_ns = inv->start_ns;
        run(inv);
        finish(inv);
        return;
    }
    inv->next = NULL;
    if (g.btail)
        g.btail->next = inv;
    else
        g.bhead = inv;
    g.btail = inv;
}

size_t fnh__dispatch_inflight(void)
{
    return g.inflight;
}

static void close_noop(uv_handle_t *h)
{
    (void)h;
}

/* Fails every invocation still queued (loop thread, after stopping). */
static void cancel_queued(void)
{
    fnh__invocation *list = NULL;
    pthread_mutex_lock(&g.lock);
    for (fnh__invocation *inv; (inv = lanes_pop());) {
        inv->next = list;
        list = inv;
    }
    pthread_mutex_unlock(&g.lock);
    while (list) {
        fnh__invocation *n = list->next;
        list->rc = -ECANCELED;
        finish(list);
        list = n;
    }
}

int fnh__dispatch_shutdown(uint64_t wait_ms)
{
    if (!g.initialized)
        return 0;
    hand_over();
    uint64_t deadline = fnh__now_ns() + wait_ms * 1000000u;
    /* let queued and running invocations finish, up to the bound */
    while (g.inflight && fnh__now_ns() < deadline) {
        uv_run(g.loop, UV_RUN_NOWAIT);
        pthread_mutex_lock(&g.done_lock);
        int pending = g.done != NULL;
        pthread_mutex_unlock(&g.done_lock);
        if (!pending)
            uv_sleep(2);
    }
    pthread_mutex_lock(&g.lock);
    g.stopping = 1;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    done_cb(NULL);
    cancel_queued();
    /* idle workers exit at once; give the busy ones a moment, no more */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 200 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g.lock);
    while (g.alive > 0 && pthread_cond_timedwait(&g.exited, &g.lock, &until) == 0)
        ;
    int still_running = g.alive;
    pthread_mutex_unlock(&g.lock);
    done_cb(NULL);
    if (still_running)
        return (int)g.inflight > 0 ? (int)g.inflight : still_running;
    g.initialized = 0;
    while (g.lanes) {
        struct fnh__lane *l = g.lanes;
        g.lanes = l->next_all;
        free(l);
    }
    uv_close((uv_handle_t *)&g.done_async, close_noop);
    uv_close((uv_handle_t *)&g.batcher, close_noop);
    uv_close((uv_handle_t *)&g.batcher2, close_noop);
    uv_close((uv_handle_t *)&g.timeout_timer, close_noop);
    uv_close((uv_handle_t *)&g.stall_timer, close_noop);
    return 0;
}
