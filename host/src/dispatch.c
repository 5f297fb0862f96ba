/* dispatch.c: invocation dispatch and the worker pool. The loop hands work
 * over in batches: invocations dispatched during one loop iteration are
 * queued under one lock and wake one worker; a worker that finds more work
 * queued wakes the next, so blocking functions still run in parallel while
 * a burst of short ones costs few thread switches. Completions come back
 * through one list and one uv_async_send, drained whole by the loop. */
#include "dispatch.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extension.h"
#include "log.h"
#include "util.h"

static struct {
    uv_loop_t *loop;
    int64_t timeout_ms;
    /* loop -> workers */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    fnh__invocation *qhead, *qtail;
    size_t qlen;
    int idle;
    int stopping;
    pthread_t *threads;
    int nthreads;
    /* invocations dispatched this iteration, handed over in the check phase */
    fnh__invocation *bhead, *btail;
    uv_timer_t stall_timer;  /* wakes another worker when the queue stops moving */
    int stall_armed;
    uv_check_t batcher;      /* hands over after the poll phase (I/O, completions) */
    uv_prepare_t batcher2;   /* and before the loop blocks (timers, idle work) */
    /* workers -> loop */
    pthread_mutex_t done_lock;
    fnh__invocation *done;
    uv_async_t done_async;
    /* live (dispatched, not completed) invocations, for timeouts */
    fnh__invocation *live;
    size_t inflight;
    uv_timer_t timeout_timer;
    int initialized;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .cond = PTHREAD_COND_INITIALIZER,
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

/* Appends s to the line buffer at *at (bounded by end). */
static void put(char **at, const char *end, const char *s)
{
    size_t n = strlen(s);
    if (n > (size_t)(end - *at))
        n = (size_t)(end - *at);
    memcpy(*at, s, n);
    *at += n;
}

static void log_executed(fnh__invocation *inv, int ok)
{
    const char *cat = category(inv->fn);
    uint64_t ms = (fnh__now_ns() - inv->start_ns) / 1000000u;
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
        fnh__log(cat, FNH_LOG_ERROR,
                 "Executed 'Functions.%s' (Failed, Id=%s, Duration=%llums)\n"
                 "Exception while executing function: Functions.%s. %s",
                 inv->fn->name, inv->id, (unsigned long long)ms, inv->fn->name,
                 inv->timed_out ? "The function timed out."
                                : strerror(inv->rc < 0 ? -inv->rc : EIO));
    }
}

/* Completion on the loop thread: log, notify the trigger, free. */
static void finish(fnh__invocation *inv)
{
    if (inv->abandoned) { /* already answered; the worker just came back */
        fnh__invocation_free(inv);
        return;
    }
    live_remove(inv);
    log_executed(inv, inv->rc == 0);
    if (inv->complete)
        inv->complete(inv);
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

static void *worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g.lock);
    for (;;) {
        while (!g.qhead && !g.stopping) {
            g.idle++;
            pthread_cond_wait(&g.cond, &g.lock);
            g.idle--;
        }
        if (!g.qhead && g.stopping)
            break;
        fnh__invocation *inv = g.qhead;
        g.qhead = inv->next;
        if (!g.qhead)
            g.qtail = NULL;
        g.qlen--;
        pthread_mutex_unlock(&g.lock);

        inv->next = NULL;
        run(inv);

        pthread_mutex_lock(&g.done_lock);
        int was_empty = g.done == NULL;
        inv->next = g.done;
        g.done = inv;
        pthread_mutex_unlock(&g.done_lock);
        if (was_empty)
            uv_async_send(&g.done_async);
        pthread_mutex_lock(&g.lock);
    }
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

/* Hands this iteration's invocations to the workers at once. One worker is
 * woken when none is running; while some run, a short timer checks that the
 * queue keeps moving and wakes another worker only if it does not (a
 * function that blocks), so a burst of short functions costs one wake-up. */
static void hand_over(void)
{
    if (!g.bhead)
        return;
    pthread_mutex_lock(&g.lock);
    if (g.qtail)
        g.qtail->next = g.bhead;
    else
        g.qhead = g.bhead;
    g.qtail = g.btail;
    int all_idle = g.idle == g.nthreads;
    if (all_idle)
        pthread_cond_signal(&g.cond);
    pthread_mutex_unlock(&g.lock);
    g.bhead = g.btail = NULL;
    if (!all_idle && !g.stall_armed) {
        g.stall_armed = 1;
        uv_timer_start(&g.stall_timer, stall_cb, 2, 0);
    }
}

static void stall_cb(uv_timer_t *t)
{
    (void)t;
    pthread_mutex_lock(&g.lock);
    if (g.qhead && g.idle)
        pthread_cond_signal(&g.cond);
    int more = g.qhead != NULL;
    pthread_mutex_unlock(&g.lock);
    g.stall_armed = 0;
    if (more) {
        g.stall_armed = 1;
        uv_timer_start(&g.stall_timer, stall_cb, 2, 0);
    }
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

static void timeout_cb(uv_timer_t *t)
{
    (void)t;
    uint64_t now = fnh__now_ns();
    fnh__invocation *next;
    for (fnh__invocation *inv = g.live; inv; inv = next) {
        next = inv->next_live;
        if (!inv->deadline_ns || now < inv->deadline_ns)
            continue;
        char ts[32];
        fnh__timespan_fmt(g.timeout_ms, ts);
        fnh__log(category(inv->fn), FNH_LOG_ERROR,
                 "Timeout value of %s exceeded by function 'Functions.%s' (Id: '%s'). "
                 "Initiating cancellation.",
                 ts, inv->fn->name, inv->id);
        live_remove(inv);
        /* the worker still owns rc and the outputs: completion must only
         * look at timed_out (loop thread) and never at what it writes */
        inv->timed_out = 1;
        log_executed(inv, 0);
        if (inv->complete)
            inv->complete(inv);
        inv->complete = NULL;
        inv->abandoned = 1; /* the worker frees it when it returns */
    }
}

int fnh__dispatch_init(uv_loop_t *loop, int nthreads, int64_t timeout_ms)
{
    g.loop = loop;
    g.timeout_ms = timeout_ms;
    g.nthreads = nthreads;
    g.threads = calloc((size_t)nthreads, sizeof *g.threads);
    if (!g.threads)
        return -ENOMEM;
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
    for (int i = 0; i < nthreads; i++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 1u << 20);
        int rc = pthread_create(&g.threads[i], &attr, worker_main, NULL);
        pthread_attr_destroy(&attr);
        if (rc)
            return -rc;
    }
    g.initialized = 1;
    return 0;
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
        run(inv);
        finish(inv);
        return;
    }
    if (g.timeout_ms > 0)
        inv->deadline_ns = inv->start_ns + (uint64_t)g.timeout_ms * 1000000u;
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

void fnh__dispatch_shutdown(uint64_t wait_ms)
{
    if (!g.initialized)
        return;
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
    done_cb(NULL);
    pthread_mutex_lock(&g.lock);
    g.stopping = 1;
    int busy = g.inflight > 0;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    for (int i = 0; i < g.nthreads; i++) {
        if (busy)
            pthread_detach(g.threads[i]);
        else
            pthread_join(g.threads[i], NULL);
    }
    free(g.threads);
    g.threads = NULL;
    g.initialized = 0;
    uv_close((uv_handle_t *)&g.done_async, close_noop);
    uv_close((uv_handle_t *)&g.batcher, close_noop);
    uv_close((uv_handle_t *)&g.batcher2, close_noop);
    uv_close((uv_handle_t *)&g.timeout_timer, close_noop);
    uv_close((uv_handle_t *)&g.stall_timer, close_noop);
}
