/* dispatch.c: the one path every invocation takes: log "Executing", read
 * the input bindings, run the function through its runner, write the output
 * bindings, log "Executed" and complete the trigger. In-process runners run
 * on the loop (non-blocking functions without bindings to read or write) or,
 * with the bindings, as one job on the worker pool; out-of-process runners
 * start on the loop and report back through fnh__dispatch_ran. Dispatch owns
 * functionTimeout (counted from the moment the function starts): the caller
 * is answered at once, the runner is asked to stop the work, and the
 * invocation stays counted until the work has really returned. Dispatch
 * also applies retry policies: a failed try of a function with one (its
 * trigger type takes them) waits the policy's delay and runs again as the
 * same invocation, and the trigger hears only of the last try. */
#include "dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pool.h"
#include "retry.h"
#include "runner.h"
#include "util.h"

static struct {
    fnh__binding_io_fn read_inputs;   /* the binding providers' (ext/) */
    fnh__binding_io_fn write_outputs;
    uv_loop_t *loop;
    int64_t timeout_ms;
    int pooled; /* the worker pool runs */
    /* live (dispatched, not yet returned) invocations, loop thread */
    fnh__invocation *live;
    size_t inflight;
    uv_timer_t timeout_timer;
    int initialized;
    /* invocations waiting for their next try (linked by next), loop thread */
    fnh__invocation *retrying;
    size_t nretrying;
    uv_timer_t retry_timer;
    int no_retries; /* the host is stopping: failures are final */
} g;

/* "Function.<name>", made once at load (app.c). */
static const char *category(const fnh__function *fn)
{
    return fn->log_category ? fn->log_category : "Function";
}

static const fnh__runner *runner_of(const fnh__function *fn)
{
    return fn->runner;
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

/* ---- logging ------------------------------------------------------------- */

/* 1 when fn's Information lines are written (the answer is kept in fn). */
static int info_enabled(fnh__function *fn)
{
    return fnh__log_enabled_memo(&fn->log_memo, category(fn), FNH_LOG_INFO);
}

/* The longest Executing and Executed lines: longer ones are cut there. */
enum { EXECUTING_MAX = 1024, EXECUTED_MAX = 512 };

/* Copies s (n bytes), at most max bytes of it, to at; returns the end. */
static char *put_n(char *at, const char *s, size_t n, size_t max)
{
    return fnh__put(at, s, n < max ? n : max);
}

/* put_n of a string. */
static char *put_str(char *at, const char *s, size_t max)
{
    return put_n(at, s, strlen(s), max); /* strnlen is slower on short strings */
}

/* Copies inv's id to at; returns the end. A dispatched invocation's id is
 * fnh__uuid's, 36 characters: one copy of fixed size when its last place is
 * taken, measured only when it is not. */
static char *put_id(char *at, const fnh__invocation *inv)
{
    size_t full = sizeof inv->id - 1;
    return fnh__put(at, inv->id, inv->id[full - 1] ? full : strlen(inv->id));
}

/* Writes v in decimal to at (room for 20 digits); returns the end. */
static char *put_u64(char *at, uint64_t v)
{
    if (v < 10) { /* most durations */
        *at = (char)('0' + v);
        return at + 1;
    }
    char num[20];
    size_t d = sizeof num;
    do {
        num[--d] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return fnh__put(at, num + d, sizeof num - d);
}

/* Milliseconds the function has run until now (queue time excluded). */
static uint64_t run_ms(const fnh__invocation *inv, uint64_t now)
{
    uint64_t began = __atomic_load_n(&inv->run_ns, __ATOMIC_ACQUIRE);
    return began && now > began ? (now - began) / 1000000u : 0;
}

/* The lines below are assembled without printf, in place in the log's
 * output: they are written twice per invocation. Each piece of variable
 * length is copied up to the line's limit, and the line cut at the limit at
 * the end: the room asked for holds every piece at its longest. */

static void log_executing(fnh__invocation *inv)
{
    fnh__log_tee *prev = fnh__log_tee_set(inv->tee);
    const char *cat = category(inv->fn);
    if (info_enabled(inv->fn)) {
        /* inv->start_ns: read just before, at dispatch */
        char *at = fnh__log_begin(cat, FNH_LOG_INFO, inv->start_ns, 3 * EXECUTING_MAX);
        at = fnh__put(at, FNH__LIT("Executing 'Functions."));
        at = put_n(at, inv->fn->name, inv->fn->name_len, EXECUTING_MAX);
        at = fnh__put(at, FNH__LIT("' (Reason='"));
        at = put_str(at, inv->reason, EXECUTING_MAX);
        at = fnh__put(at, FNH__LIT("', Id="));
        at = put_id(at, inv);
        at = fnh__put(at, FNH__LIT(")"));
        fnh__log_end(at, EXECUTING_MAX);
    }
    if (inv->trigger_details)
        fnh__log(cat, FNH_LOG_INFO, "Trigger Details: %s", inv->trigger_details);
    fnh__log_tee_set(prev);
}

/* Why a try failed, for the log and the next try's retry context. */
static const char *failure_text(const fnh__invocation *inv)
{
    return inv->timed_out          ? "The function timed out."
           : inv->rc == -ECANCELED ? "The host is shutting down; the invocation was cancelled "
                                     "before it started."
                                   : strerror(inv->rc < 0 ? -inv->rc : EIO);
}

static void log_executed_line(fnh__invocation *inv, int ok)
{
    const char *cat = category(inv->fn);
    uint64_t now = fnh__now_ns(), ms = run_ms(inv, now);
    if (ok) {
        if (!info_enabled(inv->fn))
            return;
        char *at = fnh__log_begin(cat, FNH_LOG_INFO, now, 3 * EXECUTED_MAX);
        at = fnh__put(at, FNH__LIT("Executed 'Functions."));
        at = put_n(at, inv->fn->name, inv->fn->name_len, EXECUTED_MAX);
        at = fnh__put(at, FNH__LIT("' (Succeeded, Id="));
        at = put_id(at, inv);
        at = fnh__put(at, FNH__LIT(", Duration="));
        at = put_u64(at, ms);
        at = fnh__put(at, FNH__LIT("ms)"));
        fnh__log_end(at, EXECUTED_MAX);
    } else {
        const char *why = failure_text(inv);
        fnh__log(cat, FNH_LOG_ERROR,
                 "Executed 'Functions.%s' (Failed, Id=%s, Duration=%llums)\n"
                 "Exception while executing function: Functions.%s. %s",
                 inv->fn->name, inv->id, (unsigned long long)ms, inv->fn->name, why);
    }
}

static void log_executed(fnh__invocation *inv, int ok)
{
    fnh__log_tee *prev = fnh__log_tee_set(inv->tee);
    log_executed_line(inv, ok);
    fnh__log_tee_set(prev);
}

/* ---- the pipeline ---------------------------------------------------------- */

static int retry_later(fnh__invocation *inv);

/* The work has returned (loop thread): a failed try under a retry policy
 * waits for its next one; else complete unless a timeout already did,
 * release, free. */
static void finish(fnh__invocation *inv)
{
    live_remove(inv);
    if (!inv->abandoned) {
        log_executed(inv, inv->rc == 0);
        if (inv->rc != 0 && retry_later(inv))
            return;
        if (inv->complete)
            inv->complete(inv);
        fnh__invocation_notify(inv);
    }
    if (inv->release)
        inv->release(inv);
    fnh__invocation_free(inv);
}

static int timed_out(fnh__invocation *inv)
{
    return __atomic_load_n(&inv->timed_out, __ATOMIC_ACQUIRE);
}

/* Reads the input bindings, runs an in-process function, writes the output
 * bindings (unless the caller was already told it failed). The calling
 * thread: the loop or a pool worker. */
static void run_in_process(fnh__invocation *inv)
{
    fnh__log_tee *prev = fnh__log_tee_set(inv->tee);
    int rc = inv->fn->has_ext_io ? g.read_inputs(inv) : 0;
    if (!rc) {
        runner_of(inv->fn)->run(inv);
        rc = inv->rc;
    }
    if (!rc && inv->fn->has_ext_io && !timed_out(inv))
        rc = g.write_outputs(inv);
    inv->rc = rc;
    fnh__log_tee_set(prev);
}

static void read_inputs_job(fnh__invocation *inv)
{
    fnh__log_tee *prev = fnh__log_tee_set(inv->tee);
    inv->rc = g.read_inputs(inv);
    fnh__log_tee_set(prev);
}

static void write_outputs_job(fnh__invocation *inv)
{
    fnh__log_tee *prev = fnh__log_tee_set(inv->tee);
    if (!timed_out(inv))
        inv->rc = g.write_outputs(inv);
    fnh__log_tee_set(prev);
}

/* A pool job of inv came back (loop thread). */
static void pool_finished(fnh__invocation *inv)
{
    inv->in_pool = 0;
    finish(inv);
}

static void inputs_read(fnh__invocation *inv)
{
    inv->in_pool = 0;
    if (inv->rc || timed_out(inv)) {
        finish(inv);
        return;
    }
    runner_of(inv->fn)->start(inv);
}

/* Queues a pool job of inv; without a pool, runs it here. */
static void submit(fnh__invocation *inv, fnh__pool_fn job, fnh__pool_fn then)
{
    inv->in_pool = 1;
    if (g.pooled && fnh__pool_submit(inv, job, then) == 0)
        return;
    __atomic_store_n(&inv->run_ns, fnh__now_ns(), __ATOMIC_RELEASE);
    job(inv);
    then(inv);
}

void fnh__dispatch_ran(fnh__invocation *inv)
{
    if (!inv->rc && inv->fn->has_ext_io && !inv->timed_out)
        submit(inv, write_outputs_job, pool_finished);
    else
        finish(inv);
}

void fnh__dispatch(fnh__invocation *inv)
{
    if (!inv->has_retry && inv->fn->retry.strategy != FNH__RETRY_NONE) {
        inv->has_retry = 1;
        inv->retry_max = inv->fn->retry.max_retry_count;
    }
    inv->start_ns = fnh__now_ns();
    log_executing(inv);
    live_add(inv);
    const fnh__runner *r = runner_of(inv->fn);
    if (!r) { /* nothing can run it (its code was not loaded) */
        inv->rc = -ENOEXEC;
        finish(inv);
        return;
    }
    if (r->run) {
        if (!g.pooled || (inv->fn->run_inline && !inv->fn->has_ext_io)) {
            inv->run_ns = inv->start_ns;
            run_in_process(inv);
            finish(inv);
            return;
        }
        submit(inv, run_in_process, pool_finished);
    } else if (inv->fn->has_ext_io) {
        submit(inv, read_inputs_job, inputs_read);
    } else {
        r->start(inv);
    }
}

void fnh__dispatch_set_binding_io(fnh__binding_io_fn read_inputs, fnh__binding_io_fn write_outputs)
{
    g.read_inputs = read_inputs;
    g.write_outputs = write_outputs;
}

/* ---- retries ------------------------------------------------------------------- */

/* Makes inv a fresh try: a new id, no outputs or inputs yet. */
static void reset_for_retry(fnh__invocation *inv)
{
    fnh__invocation_clear_io(inv);
    fnh__uuid(inv->id);
    inv->run_ns = 0;
    inv->in_pool = 0;
    inv->overdue = inv->returned = 0;
    inv->pool_job = inv->pool_done = NULL;
}

static void retry_cb(uv_timer_t *t);

static void retry_rearm(void)
{
    uint64_t first = UINT64_MAX, now = fnh__now_ns();
    for (fnh__invocation *r = g.retrying; r; r = r->next)
        if (r->retry_due_ns < first)
            first = r->retry_due_ns;
    if (first == UINT64_MAX) {
        uv_timer_stop(&g.retry_timer);
        return;
    }
    uint64_t ms = first > now ? (first - now + 999999u) / 1000000u : 0;
    uv_timer_start(&g.retry_timer, retry_cb, ms, 0);
}

/* Runs every invocation whose next try is due (loop thread). */
static void retry_cb(uv_timer_t *t)
{
    (void)t;
    uint64_t now = fnh__now_ns();
    fnh__invocation *due = NULL, **tail = &due;
    for (fnh__invocation **p = &g.retrying; *p;) {
        fnh__invocation *r = *p;
        if (r->retry_due_ns <= now) {
            *p = r->next;
            r->next = NULL;
            g.nretrying--;
            *tail = r;
            tail = &r->next;
        } else {
            p = &r->next;
        }
    }
    retry_rearm();
    while (due) {
        fnh__invocation *r = due;
        due = r->next;
        r->next = NULL;
        r->rc = 0;
        fnh__dispatch(r);
    }
}

/* inv's try failed: when its policy allows another, logs Azure's line,
 * schedules the next try and returns 1; else 0 (the failure is final). */
static int retry_later(fnh__invocation *inv)
{
    if (!inv->has_retry || g.no_retries || !g.initialized || inv->rc == -ECANCELED ||
        inv->timed_out)
        return 0;
    if (inv->retry_max >= 0 && inv->retry_count >= inv->retry_max)
        return 0;
    char *why = fnh__strdup(failure_text(inv));
    if (!why)
        return 0;
    free(inv->retry_exception);
    inv->retry_exception = why;
    inv->retry_last_rc = inv->rc;
    inv->retry_count++;
    int64_t delay = fnh__retry_delay_ms(&inv->fn->retry, inv->retry_count);
    char span[40];
    fnh__retry_span_fmt(delay, span);
    fnh__log("Host.Executor", FNH_LOG_INFO,
             "Waiting for `%s` before retrying function execution. Next attempt: '%d'. Max "
             "retry count: '%d'",
             span, inv->retry_count, inv->retry_max);
    reset_for_retry(inv);
    /* a delay of up to 10,000 days: saturate rather than wrap */
    uint64_t wait_ns = (uint64_t)delay > UINT64_MAX / 4 / 1000000u ? UINT64_MAX / 4
                                                                    : (uint64_t)delay * 1000000u;
    inv->retry_due_ns = fnh__now_ns() + wait_ns;
    inv->next = g.retrying;
    g.retrying = inv;
    g.nretrying++;
    retry_rearm();
    return 1;
}

size_t fnh__dispatch_retrying(void)
{
    return g.nretrying;
}

void fnh__dispatch_stop_retries(void)
{
    g.no_retries = 1;
    if (g.initialized)
        uv_timer_stop(&g.retry_timer);
    while (g.retrying) {
        fnh__invocation *r = g.retrying;
        g.retrying = r->next;
        r->next = NULL;
        g.nretrying--;
        /* the last try's failure stands: rc still holds it */
        if (r->complete)
            r->complete(r);
        if (r->release)
            r->release(r);
        fnh__invocation_free(r);
    }
}

/* ---- functionTimeout --------------------------------------------------------- */

static void timeout_cb(uv_timer_t *t)
{
    (void)t;
    uint64_t now = fnh__now_ns();
    uint64_t limit = (uint64_t)g.timeout_ms * 1000000u;
    for (fnh__invocation *inv = g.live; inv; inv = inv->next_live) {
        if (inv->abandoned)
            continue;
        uint64_t began = __atomic_load_n(&inv->run_ns, __ATOMIC_ACQUIRE);
        if (!began || now < began + limit)
            continue;
        const fnh__runner *r = runner_of(inv->fn);
        if (inv->in_pool) {
            if (!fnh__pool_abandon(inv))
                continue; /* it has returned: its completion is on the way */
        } else if (r->cancel) {
            r->cancel(inv);
        }
        char ts[32];
        fnh__timespan_fmt(g.timeout_ms, ts);
        fnh__log_tee *prev = fnh__log_tee_set(inv->tee);
        fnh__log(category(inv->fn), FNH_LOG_ERROR,
                 "Timeout value of %s exceeded by function 'Functions.%s' (Id: '%s'). "
                 "Initiating cancellation.",
                 ts, inv->fn->name, inv->id);
        fnh__log_tee_set(prev);
        /* the runner still owns rc and the outputs: completion must only
         * look at timed_out and never at what the function writes */
        __atomic_store_n(&inv->timed_out, 1, __ATOMIC_RELEASE);
        log_executed(inv, 0);
        if (inv->complete)
            inv->complete(inv);
        inv->complete = NULL;
        fnh__invocation_notify(inv);
        inv->abandoned = 1; /* answered; stays live until the work returns */
    }
}

/* ---- lifetime ------------------------------------------------------------------ */

int fnh__dispatch_init(uv_loop_t *loop, int nthreads, int64_t timeout_ms)
{
    g.loop = loop;
    g.timeout_ms = timeout_ms;
    uv_timer_init(loop, &g.timeout_timer);
    if (timeout_ms > 0) {
        uint64_t tick = (uint64_t)timeout_ms / 10;
        tick = tick < 20 ? 20 : tick > 1000 ? 1000 : tick;
        uv_timer_start(&g.timeout_timer, timeout_cb, tick, tick);
    }
    uv_unref((uv_handle_t *)&g.timeout_timer);
    uv_timer_init(loop, &g.retry_timer);
    g.no_retries = 0;
    g.initialized = 1;
    int rc = fnh__pool_init(loop, nthreads);
    g.pooled = rc == 0;
    return rc;
}

size_t fnh__dispatch_inflight(void)
{
    return g.inflight;
}

static void cancelled(fnh__invocation *inv)
{
    inv->in_pool = 0;
    inv->rc = -ECANCELED;
    finish(inv);
}

int fnh__dispatch_shutdown(uint64_t wait_ms)
{
    if (!g.initialized)
        return 0;
    fnh__dispatch_stop_retries(); /* failures are final from now on */
    uint64_t deadline = fnh__now_ns() + wait_ms * 1000000u;
    /* let queued and running invocations finish, up to the bound */
    while (g.inflight && fnh__now_ns() < deadline) {
        if (!uv_run(g.loop, UV_RUN_NOWAIT))
            uv_sleep(2);
        else
            uv_sleep(1);
    }
    int still_running = fnh__pool_shutdown(cancelled);
    g.pooled = 0;
    if (still_running)
        return (int)g.inflight > 0 ? (int)g.inflight : still_running;
    g.initialized = 0;
    uv_close((uv_handle_t *)&g.timeout_timer, NULL); /* nothing to free: the handle is static */
    uv_close((uv_handle_t *)&g.retry_timer, NULL);   /* nothing to free: the handle is static */
    return 0;
}
