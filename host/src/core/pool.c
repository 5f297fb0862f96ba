/* pool.c: the worker pool. Jobs wait in one queue per function ("lane");
 * workers take from the lanes in turn. The loop hands jobs over in batches:
 * jobs submitted during one loop iteration are queued under one lock and
 * wake one worker; while work stays queued a short timer wakes one more idle
 * worker per tick, so blocking jobs fan out over the pool while a burst of
 * short ones costs few thread switches, up to the CPU-bound cap of running
 * workers; a job running over 10 ms (of a function not usually under 1 ms)
 * is taken to be blocked and leaves that
 * count, so blocked functions run side by side up to the pool's size. Jobs
 * of functions with binding I/O (which mostly wait: a durable
 * queue put waiting for its flush) each wake a worker at once, from a few
 * threads kept beyond that cap. A worker stuck in an abandoned job
 * is replaced (up to a bound) and leaves the pool when its job returns.
 * Completions come back through one list and one uv_async_send; a worker
 * going through a burst of tiny jobs hands theirs back together. */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "crash.h"
#include "log.h"
#include "runner.h"
#include "util.h"

/* Threads the pool may add to replace workers stuck in abandoned jobs. */
#define MAX_REPLACEMENTS 64

/* Threads beyond the CPU-bound cap, for binding I/O jobs that mostly wait
 * (a durable queue put waiting for its flush): waiting together, 16 puts
 * share one flush where 4 could. */
#define IO_THREADS 12

/* One worker thread, on its own stack; in g.workers under g.lock. */
struct worker {
    const fnh__invocation *job; /* its current job, NULL when idle */
    struct worker *next, **prev;
};

struct fnh__lane {
    fnh__invocation *head, *tail;
    uint64_t avg_run_ns; /* the function's recent runs, 0 before the first */
    struct fnh__lane *next_ready; /* in the ready ring while it holds work */
    int ready;
    struct fnh__lane *next_all, **prev_all;
};

static struct {
    uv_loop_t *loop;
    /* loop -> workers, under lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* work queued or stopping */
    pthread_cond_t exited; /* a worker thread ended */
    struct fnh__lane *ready_head, *ready_tail;
    struct fnh__lane *lanes; /* every lane, freed at shutdown */
    int idle;
    int waking; /* of the idle, signalled and not yet awake */
    int stopping;
    int nthreads; /* the pool's size */
    int cpu_cap;  /* running workers the fan-out timer grows to (the rest: I/O) */
    struct worker *workers; /* every worker thread, with its current job */
    int alive;    /* worker threads running */
    int stuck;    /* of them, inside an abandoned job */
    int replacement_warned;
    /* jobs submitted this iteration, handed over in the check phase */
    fnh__invocation *bhead, *btail;
    uv_timer_t stall_timer; /* wakes another worker while work stays queued */
    int stall_armed;
    uv_check_t batcher;    /* hands over after the poll phase (I/O, completions) */
    uv_prepare_t batcher2; /* and before the loop blocks (timers, idle work) */
    /* finished jobs workers hold while they run more tiny ones (under lock),
     * newest first; the loop takes them after at most HELD_TIMER_MS */
    fnh__invocation *held, *held_last;
    uint64_t held_since;
    uv_timer_t held_timer;
    /* workers -> loop */
    pthread_mutex_t done_lock;
    fnh__invocation *done;
    uv_async_t done_async;
    int initialized;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .cond = PTHREAD_COND_INITIALIZER,
       .exited = PTHREAD_COND_INITIALIZER,
       .done_lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- lanes (under g.lock) ------------------------------------------------ */

static struct fnh__lane *lane_of(fnh__function *fn)
{
    if (!fn->lane) {
        struct fnh__lane *l = calloc(1, sizeof *l);
        if (!l)
            return NULL;
        l->next_all = g.lanes;
        if (g.lanes)
            g.lanes->prev_all = &l->next_all;
        l->prev_all = &g.lanes;
        g.lanes = l;
        fn->lane = l;
    }
    return fn->lane;
}

static void ready_append(struct fnh__lane *l)
{
    l->ready = 1;
    l->next_ready = NULL;
    if (g.ready_tail)
        g.ready_tail->next_ready = l;
    else
        g.ready_head = l;
    g.ready_tail = l;
}

static void lane_push(struct fnh__lane *l, fnh__invocation *inv)
{
    inv->next = NULL;
    if (l->tail)
        l->tail->next = inv;
    else
        l->head = inv;
    l->tail = inv;
    if (!l->ready)
        ready_append(l);
}

/* The next job, taking the lanes in turn. NULL when none waits. */
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
    g.ready_head = l->next_ready;
    if (!g.ready_head)
        g.ready_tail = NULL;
    l->ready = 0;
    if (l->head) /* still has work: back of the ring */
        ready_append(l);
    return inv;
}

/* ---- workers --------------------------------------------------------------- */

/* Hands a worker's finished jobs (newest first, linked by next) back to the
 * loop; one wake-up for the loop when it had none waiting. */
static void post_done_list(fnh__invocation *first, fnh__invocation *last)
{
    pthread_mutex_lock(&g.done_lock);
    int was_empty = g.done == NULL;
    last->next = g.done;
    g.done = first;
    pthread_mutex_unlock(&g.done_lock);
    if (was_empty)
        uv_async_send(&g.done_async);
}

static void post_done(fnh__invocation *inv)
{
    post_done_list(inv, inv);
}

static void *worker_main(void *arg);

/* Starts one detached worker thread; under g.lock. Returns 0 or -errno.
 * Workers block every signal but the faults a function may raise (the
 * crash report needs those on the faulting thread): a SIGTERM or SIGCHLD is
 * then always taken by a thread that handles it at once, never by a worker
 * asleep in pthread_cond_wait (where ThreadSanitizer holds a signal back
 * until the worker wakes, and an idle host never stopped). */
static int spawn_worker(void)
{
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};
    sigset_t blocked, old;
    sigfillset(&blocked);
    for (size_t i = 0; i < sizeof faults / sizeof *faults; i++)
        sigdelset(&blocked, faults[i]);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1u << 20);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_sigmask(SIG_BLOCK, &blocked, &old); /* the new thread inherits it */
    int rc = pthread_create(&t, &attr, worker_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc)
        return -rc;
    g.alive++;
    return 0;
}

/* A worker may hold finished jobs while it runs the next queued ones, so
 * handing them back together costs the loop one wake-up, not one per job:
 * only while the next job's function has run under TINY_RUN_NS on average,
 * and until DONE_HOLD_NS have passed since the first was held. Should a
 * tiny function run long for once, the loop takes what is held after
 * HELD_TIMER_MS. */
#define DONE_HOLD_NS 50000u
#define TINY_RUN_NS 20000u
#define HELD_TIMER_MS 1

/* Takes every held job, for post_done_list; under g.lock. NULL when none. */
static fnh__invocation *take_held(fnh__invocation **last)
{
    fnh__invocation *first = g.held;
    *last = g.held_last;
    g.held = g.held_last = NULL;
    return first;
}

/* Hands back what is held; called and returns under g.lock. */
static void post_held(void)
{
    fnh__invocation *last, *first = take_held(&last);
    if (!first)
        return;
    pthread_mutex_unlock(&g.lock);
    post_done_list(first, last);
    pthread_mutex_lock(&g.lock);
}

/* l's function has run, in under TINY_RUN_NS on average. Under g.lock. */
static int lane_is_tiny(const struct fnh__lane *l)
{
    return l && l->avg_run_ns && l->avg_run_ns < TINY_RUN_NS;
}

static void *worker_main(void *arg)
{
    (void)arg;
    fnh__crash_thread_init(); /* a stack overflow in a function is reported too */
    struct worker self = {0};
    pthread_mutex_lock(&g.lock);
    self.next = g.workers;
    if (g.workers)
        g.workers->prev = &self.next;
    self.prev = &g.workers;
    g.workers = &self;
    for (;;) {
        if (g.held && (!g.ready_head || g.stopping))
            post_held(); /* another worker took the next job */
        while (!g.ready_head && !g.stopping) {
            g.idle++;
            pthread_cond_wait(&g.cond, &g.lock);
            g.idle--;
            if (g.waking)
                g.waking--;
        }
        if (g.stopping)
            break; /* what is still queued is handed back by the shutdown */
        fnh__invocation *inv = lanes_pop();
        uint64_t now = fnh__now_ns();
        __atomic_store_n(&inv->run_ns, now, __ATOMIC_RELEASE);
        self.job = inv;
        pthread_mutex_unlock(&g.lock);

        inv->pool_job(inv);

        uint64_t end = fnh__now_ns();
        pthread_mutex_lock(&g.lock);
        self.job = NULL;
        struct fnh__lane *l = inv->fn->lane; /* lives as long as its function */
        if (l && end > now)
            l->avg_run_ns = fnh__run_avg(l->avg_run_ns, end - now);
        inv->returned = 1;
        int was_stuck = inv->overdue;
        /* inv belongs to the loop again once handed back */
        inv->next = g.held;
        g.held = inv;
        if (!g.held_last) {
            g.held_last = inv;
            g.held_since = now;
        }
        if (was_stuck)
            g.stuck--;
        if (!lane_is_tiny(g.ready_head) || g.stopping || was_stuck || end - g.held_since >= DONE_HOLD_NS)
            post_held();
        if (was_stuck && g.alive - g.stuck > g.nthreads)
            break; /* a replacement took this worker's place */
    }
    *self.prev = self.next;
    if (self.next)
        self.next->prev = self.prev;
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
        rev->overdue = rev->returned = 0;
        rev->pool_done(rev);
        rev = n;
    }
}

/* ---- hand-over --------------------------------------------------------------- */

static void stall_cb(uv_timer_t *t);

/* Takes what workers hold; stops once nothing was held and nothing waits
 * (a worker with an empty queue hands its jobs back itself). */
static void held_cb(uv_timer_t *t)
{
    (void)t;
    pthread_mutex_lock(&g.lock);
    fnh__invocation *last, *first = take_held(&last);
    int quiet = !first && !g.ready_head;
    pthread_mutex_unlock(&g.lock);
    if (first)
        post_done_list(first, last);
    if (quiet)
        uv_timer_stop(&g.held_timer);
}

static void arm_stall_timer(void)
{
    if (!g.stall_armed) {
        g.stall_armed = 1;
        uv_timer_start(&g.stall_timer, stall_cb, 2, 0);
    }
}

/* Hands this iteration's jobs to the workers at once, each into its
 * function's lane. One worker is woken when none is running (one signalled
 * but not yet awake counts as running: it will take the queue); while work
 * stays queued a short timer wakes one more idle worker per tick. */
static void hand_over(void)
{
    if (!g.bhead)
        return;
    pthread_mutex_lock(&g.lock);
    int io_jobs = 0, tiny = 0;
    for (fnh__invocation *inv = g.bhead, *n; inv; inv = n) {
        n = inv->next;
        struct fnh__lane *l = lane_of(inv->fn);
        if (!l) { /* out of memory: fail it without running */
            inv->rc = -ENOMEM;
            post_done(inv);
            continue;
        }
        io_jobs += inv->fn->has_ext_io;
        tiny |= lane_is_tiny(l);
        lane_push(l, inv);
    }
    int signals = 0, asleep = g.idle - g.waking;
    if (asleep && asleep == g.alive - g.stuck) /* none running or woken: wake one */
        signals = 1;
    /* binding I/O (a queue put waiting for its flush, a blob write) mostly
     * waits: a worker for each such job at once, so they wait together */
    if (signals < io_jobs)
        signals = io_jobs < asleep ? io_jobs : asleep;
    g.waking += signals;
    int wake_more = g.ready_head && asleep > signals; /* stall_cb decides */
    pthread_mutex_unlock(&g.lock);
    if (tiny && !uv_is_active((uv_handle_t *)&g.held_timer)) { /* the ceiling on holding */
        uv_timer_start(&g.held_timer, held_cb, HELD_TIMER_MS, HELD_TIMER_MS);
    }
    /* signalled after the unlock: a woken worker never waits for the lock */
    for (int i = 0; i < signals; i++)
        pthread_cond_signal(&g.cond);
    g.bhead = g.btail = NULL;
    if (wake_more)
        arm_stall_timer();
}

/* Workers running a job, less those blocked in one (runner.h). Under g.lock. */
static int busy_on_cpu(void)
{
    int n = g.alive - g.stuck - (g.idle - g.waking);
    uint64_t now = fnh__now_ns();
    for (const struct worker *w = g.workers; w; w = w->next)
        n -= w->job && !w->job->overdue &&
             fnh__run_blocked(now - __atomic_load_n(&w->job->run_ns, __ATOMIC_ACQUIRE),
                              w->job->fn->lane ? w->job->fn->lane->avg_run_ns : 0);
    return n;
}

static void stall_cb(uv_timer_t *t)
{
    (void)t;
    pthread_mutex_lock(&g.lock);
    int running = busy_on_cpu();
    if (g.ready_head && g.idle > g.waking && running < g.cpu_cap) {
        g.waking++;
        pthread_cond_signal(&g.cond);
    }
    /* while work waits and a worker could take it: look again (a job
     * running now may turn out to be blocked) */
    int more = g.ready_head && g.idle - g.waking > 1;
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

/* ---- API --------------------------------------------------------------------- */

int fnh__pool_init(uv_loop_t *loop, int nthreads)
{
    g.loop = loop;
    g.cpu_cap = nthreads;
    g.nthreads = nthreads += IO_THREADS;
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
    uv_timer_init(loop, &g.held_timer);
    uv_unref((uv_handle_t *)&g.held_timer);
    g.initialized = 1;
    int rc = 0;
    pthread_mutex_lock(&g.lock);
    for (int i = 0; i < nthreads && !rc; i++)
        rc = spawn_worker();
    pthread_mutex_unlock(&g.lock);
    return rc;
}

int fnh__pool_submit(fnh__invocation *inv, fnh__pool_fn job, fnh__pool_fn done)
{
    if (!g.initialized || g.stopping)
        return -ESHUTDOWN;
    inv->pool_job = job;
    inv->pool_done = done;
    inv->next = NULL;
    if (g.btail)
        g.btail->next = inv;
    else
        g.bhead = inv;
    g.btail = inv;
    return 0;
}

int fnh__pool_abandon(fnh__invocation *inv)
{
    pthread_mutex_lock(&g.lock);
    int running = !inv->returned && !inv->overdue;
    if (running) {
        inv->overdue = 1;
        g.stuck++;
        if (g.alive - g.stuck < g.nthreads && !g.stopping &&
            (g.alive >= g.nthreads + MAX_REPLACEMENTS || spawn_worker() != 0) &&
            !g.replacement_warned) {
            g.replacement_warned = 1;
            fnh__log("Host", FNH_LOG_ERROR,
                     "%d worker threads are stuck in functions that outlived functionTimeout; "
                     "other functions wait for a free worker until they return",
                     g.stuck);
        }
    }
    pthread_mutex_unlock(&g.lock);
    return running;
}

void fnh__pool_lane_release(fnh__function *fn)
{
    struct fnh__lane *l = fn->lane;
    fn->lane = NULL;
    if (!l)
        return;
    pthread_mutex_lock(&g.lock);
    if (g.initialized && !l->head && !l->ready) { /* else shutdown frees it */
        *l->prev_all = l->next_all;
        if (l->next_all)
            l->next_all->prev_all = l->prev_all;
        free(l);
    }
    pthread_mutex_unlock(&g.lock);
}

int fnh__pool_shutdown(fnh__pool_fn cancelled)
{
    if (!g.initialized)
        return 0;
    hand_over();
    fnh__invocation *queued = NULL;
    pthread_mutex_lock(&g.lock);
    g.stopping = 1;
    pthread_cond_broadcast(&g.cond);
    for (fnh__invocation *inv; (inv = lanes_pop());) {
        inv->next = queued;
        queued = inv;
    }
    pthread_mutex_unlock(&g.lock);
    while (queued) {
        fnh__invocation *n = queued->next;
        queued->next = NULL;
        cancelled(queued);
        queued = n;
    }
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
        return still_running;
    g.initialized = 0;
    while (g.lanes) {
        struct fnh__lane *l = g.lanes;
        g.lanes = l->next_all;
        free(l);
    }
    uv_close((uv_handle_t *)&g.done_async, NULL); /* nothing to free: the handle is static */
    uv_close((uv_handle_t *)&g.batcher, NULL); /* nothing to free: the handle is static */
    uv_close((uv_handle_t *)&g.batcher2, NULL); /* nothing to free: the handle is static */
    uv_close((uv_handle_t *)&g.stall_timer, NULL); /* nothing to free: the handle is static */
    uv_close((uv_handle_t *)&g.held_timer, NULL); /* nothing to free: the handle is static */
    return 0;
}
