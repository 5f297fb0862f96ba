/* isolated.c: the isolated native runner: invocations wait in one queue per
 * function, taken in turn, for a fixed
 * number of child slots started on demand, the worker protocol spoken over
 * each child's socketpair, and one completion per invocation whether the
 * child answered, died, or was killed for a timeout. */
#include "isolated.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"
#include "function_native.h"
#include "log.h"
#include "settings.h"
#include "rpc_function.h"
#include "rpc_invocation.h"
#include "supervisor.h"

#define PB(x) AzureFunctionsRpcMessages__##x
#define CASE(x) AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_##x
#define STOP_GRACE_MS 1000u

typedef void (*done_fn)(fnh__invocation *inv);

typedef struct job {
    fnh__invocation *inv;
    done_fn done;
    struct job *next;
} job;

/* Invocations a busy child may hold beyond the one it runs, when every
 * child is busy and the functions involved are short: the child reads them
 * in one go instead of waiting for each, which saves a wake-up per
 * invocation. They have not started: a timeout never counts their wait, and
 * a crash gives them back to the queue. Only functions whose recent runs
 * took under PIPELINE_MAX_NS are queued so, behind such functions only, so
 * a short function never waits behind a long one. */
#define PIPELINE_DEPTH 8
#define PIPELINE_MAX_NS 1000000u
/* Functions this short fill a busy child's queue before an idle child is
 * woken: a burst then costs one child one wake-up, and what waits behind
 * them waits at most PIPELINE_DEPTH such runs. Children still fan out once
 * the busy ones' queues are full. */
#define FILL_FIRST_MAX_NS 50000u
/* While work waits and every child's call is blocked (runner.h), a child
 * beyond the base count may start, up to EXTRA_CHILDREN more, as the worker
 * pool does. */
#define EXTRA_CHILDREN 12
/* An extra child idle this long stops (checked every second). */
#define EXTRA_IDLE_NS 10000000000u

typedef struct slot {
    fnh__child *child;  /* NULL until first needed, and once stopped */
    int up;             /* its process runs and takes work */
    job *running;       /* the invocation the child runs now */
    job *queued, *queued_tail; /* sent after it, run by the child in order */
    int inflight;       /* running + queued */
    fnh__buf out;       /* messages for it, sent once the pump round ends */
    int cancelled;      /* killed for a timeout */
    int stale;          /* started with settings a reload changed: stop once idle */
    uint64_t idle_since; /* when it last finished a call */
    int error;          /* a protocol error got it killed */
    const fnh__function **loaded; /* functions its current process has loaded */
    size_t nloaded, cap;
    fnh__rpc_reader rd;
} slot;

static struct {
    uv_loop_t *loop;
    char *exe;
    const char *argv[3];
    fnh__child_kind kind;
    slot *slots;
    int nslots;         /* slots in all: the base count and the extra ones */
    int base;           /* children started whenever work waits */
    uv_timer_t starve_timer; /* while work waits: is every child blocked? */
    uv_timer_t retire_timer; /* while extra children run: stop the idle ones */
    struct lane *lanes; /* waiting for a child: one queue per function, taken in turn */
    size_t nwaiting, nrunning;
    job *finished;      /* completed inside an API call: done() on the next turn */
    uv_timer_t later;
    uv_check_t pump_check;     /* runs the pump once per loop iteration, after I/O */
    uv_prepare_t pump_prepare; /* and before the loop blocks */
    int want_pump;
    int pumping, stopping, initialized;
    fnh__strlist env;   /* app settings children get ("K=V"), set by a reload */
    const char **envv;  /* env as the kind's NULL-terminated array */
    int env_set;        /* fnh__isolated_settings ran: a change replaces children */
} g;

static const char *fn_category(const fnh__function *fn)
{
    return fn->log_category ? fn->log_category : "Function";
}

/* ---- completions ------------------------------------------------------------- */

static void later_cb(uv_timer_t *t)
{
    (void)t;
    while (g.finished) {
        job *j = g.finished;
        g.finished = j->next;
        j->done(j->inv);
        free(j);
    }
}

/* Completes j on the next loop turn (never inside the caller's call). */
static void finish_later(job *j, int rc)
{
    j->inv->rc = rc;
    j->next = NULL;
    job **pp = &g.finished;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    uv_timer_start(&g.later, later_cb, 0, 0);
}

static void finish_now(job *j)
{
    j->done(j->inv);
    free(j);
}

/* One function's waiting invocations. The lanes form a ring taken in turn,
 * so one function's backlog delays another's by at most one run. */
typedef struct lane {
    const fnh__function *fn;
    job *head, *tail;
    struct lane *next;
} lane;

static int push_waiting(job *j)
{
    lane *l = g.lanes;
    lane **end = &g.lanes;
    for (; l && l->fn != j->inv->fn; l = l->next)
        end = &l->next;
    if (!l) {
        if (!(l = calloc(1, sizeof *l)))
            return -ENOMEM;
        l->fn = j->inv->fn;
        *end = l; /* a new function waits last in the ring */
    }
    j->next = NULL;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    g.nwaiting++;
    return 0;
}

/* Takes j (found in lane l after prev) out of its lane; frees an empty lane. */
static void unlink_waiting(lane *l, job *prev, job *j)
{
    if (prev)
        prev->next = j->next;
    else
        l->head = j->next;
    if (l->tail == j)
        l->tail = prev;
    j->next = NULL;
    g.nwaiting--;
    if (!l->head) {
        lane **pp = &g.lanes;
        while (*pp != l)
            pp = &(*pp)->next;
        *pp = l->next;
        free(l);
    }
}

/* The next invocation: the first lane's oldest; that lane goes to the back. */
static job *pop_waiting(void)
{
    lane *l = g.lanes;
    if (!l)
        return NULL;
    job *j = l->head;
    if (l->next) { /* rotate: first lane to the back */
        g.lanes = l->next;
        lane *t = g.lanes;
        while (t->next)
            t = t->next;
        t->next = l;
        l->next = NULL;
    }
    unlink_waiting(l, NULL, j);
    return j;
}

/* ---- handing work to children ------------------------------------------------ */

static int has_loaded(const slot *s, const fnh__function *fn)
{
    for (size_t i = 0; i < s->nloaded; i++)
        if (s->loaded[i] == fn)
            return 1;
    return 0;
}

static void remember_loaded(slot *s, const fnh__function *fn)
{
    /* the child replaces a function of the same name (another snapshot's
     * version): that one must be sent again before it runs there */
    for (size_t k = 0; k < s->nloaded; k++)
        if (s->loaded[k] != fn && strcmp(s->loaded[k]->name, fn->name) == 0)
            s->loaded[k--] = s->loaded[--s->nloaded];
    if (s->nloaded == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        const fnh__function **p = realloc(s->loaded, cap * sizeof *p);
        if (!p)
            return; /* it is sent again next time: harmless */
        s->loaded = p;
        s->cap = cap;
    }
    s->loaded[s->nloaded++] = fn;
}

/* Sends j to the idle slot s: the function's load request the first time
 * this process sees it, then the invocation. */
static void assign(slot *s, job *j)
{
    fnh__invocation *inv = j->inv;
    fnh__function *fn = inv->fn;
    fnh__buf b = {0};
    int load = !has_loaded(s, fn);
    int rc = load ? fnh__rpc_encode_load(fn, fn->name, &b) : 0;
    if (!rc)
        rc = fnh__rpc_encode_invocation(inv, fn->name, &b);
    if (rc == -EMSGSIZE)
        fnh__log(fn_category(fn), FNH_LOG_ERROR,
                 "Function '%s' (Id=%s) cannot run isolated: its input exceeds the %u MiB "
                 "message limit",
                 fn->name, inv->id, FNH__RPC_MAX_MESSAGE >> 20);
    if (!s->running) /* it starts now; queued ones start when it answers */
        __atomic_store_n(&inv->run_ns, fnh__now_ns(), __ATOMIC_RELEASE);
    if (!rc) /* one write per child per round, however many it gets */
        rc = fnh__buf_append(&s->out, b.data, b.len);
    fnh__buf_free(&b);
    if (rc) {
        finish_later(j, rc);
        return;
    }
    if (load)
        remember_loaded(s, fn);
    j->next = NULL;
    if (!s->running) {
        s->running = j;
        s->cancelled = s->error = 0;
    } else if (s->queued_tail) {
        s->queued_tail->next = j;
        s->queued_tail = j;
    } else {
        s->queued = s->queued_tail = j;
    }
    s->inflight++;
    g.nrunning++;
}

static void fail_waiting(int rc, int now)
{
    for (job *j; (j = pop_waiting());) {
        j->inv->rc = rc;
        if (now)
            finish_now(j);
        else
            finish_later(j, rc);
    }
}

/* A function that has run, in under max_ns on average: PIPELINE_MAX_NS
 * (pipelining is safe behind it), FILL_FIRST_MAX_NS (it fills a busy
 * child first). */
static int runs_under(const fnh__function *fn, uint64_t max_ns)
{
    const fnh__native_code *c = fn->runner_state;
    return c && c->avg_run_ns && c->avg_run_ns < max_ns;
}

static int is_short(const fnh__function *fn)
{
    return runs_under(fn, PIPELINE_MAX_NS);
}

static int is_tiny(const fnh__function *fn)
{
    return runs_under(fn, FILL_FIRST_MAX_NS);
}

/* Folds one run's duration into the function's recent average. */
static void note_run(fnh__invocation *inv)
{
    fnh__native_code *c = inv->fn->runner_state;
    uint64_t began = __atomic_load_n(&inv->run_ns, __ATOMIC_ACQUIRE), now = fnh__now_ns();
    if (!c || !began || now < began)
        return;
    c->avg_run_ns = fnh__run_avg(c->avg_run_ns, now - began);
}

/* Children whose current call runs on a CPU (not taken to be blocked). */
static int children_on_cpu(void)
{
    int n = 0;
    uint64_t now = fnh__now_ns();
    for (int i = 0; i < g.nslots; i++) {
        const slot *s = &g.slots[i];
        uint64_t began = s->running ? __atomic_load_n(&s->running->inv->run_ns,
                                                      __ATOMIC_ACQUIRE) : 0;
        const fnh__native_code *c = began ? s->running->inv->fn->runner_state : NULL;
        n += s->child && (!began || !fnh__run_blocked(now - began, c ? c->avg_run_ns : 0));
    }
    return n;
}

static void pump(void);

static void starve_cb(uv_timer_t *t)
{
    (void)t;
    pump();
}

/* Stops s's child (idle): no down() follows for a child between runs. */
static void stop_slot(slot *s)
{
    s->up = 0;
    fnh__child *c = s->child;
    if (!fnh__child_pid(c))
        s->child = NULL; /* between runs: freed at once, no down() */
    fnh__child_stop(c, STOP_GRACE_MS);
}

/* Stops extra children idle for EXTRA_IDLE_NS; ends once none runs. */
static void retire_cb(uv_timer_t *t)
{
    int extra = 0;
    uint64_t now = fnh__now_ns();
    for (int i = g.base; i < g.nslots; i++) {
        slot *s = &g.slots[i];
        if (s->child && s->up && !s->running && !g.lanes && now - s->idle_since > EXTRA_IDLE_NS)
            stop_slot(s);
        extra += s->child != NULL;
    }
    if (!extra)
        uv_timer_stop(t);
}

/* Gives waiting invocations to idle children, starting children as needed. */
static void pump(void)
{
    if (g.pumping)
        return; /* a child's up() inside fnh__child_start: the outer loop goes on */
    g.pumping = 1;
    for (int i = 0; i < g.nslots && !g.stopping; i++) { /* stale and idle: replaced */
        slot *s = &g.slots[i];
        if (!s->stale || !s->child || s->running)
            continue;
        s->stale = 0;
        stop_slot(s);
    }
    while (g.lanes && !g.stopping) {
        slot *idle = NULL, *unborn = NULL, *least = NULL, *fullest = NULL;
        slot *extra = NULL; /* an extra slot, started only when every child is blocked */
        const fnh__function *next = g.lanes->head->inv->fn;
        int short_next = is_short(next), tiny_next = short_next && is_tiny(next);
        for (int i = 0; i < g.nslots; i++) {
            slot *s = &g.slots[i];
            if (s->up && !s->running) {
                if (!idle)
                    idle = s;
            } else if (!s->child) {
                if (!unborn && i < g.base)
                    unborn = s;
                else if (!extra && i >= g.base)
                    extra = s;
            } else if (short_next && s->up && !s->cancelled && !s->error && s->running &&
                       s->inflight <= PIPELINE_DEPTH && is_short(s->running->inv->fn) &&
                       (!s->queued_tail || is_short(s->queued_tail->inv->fn))) {
                if (!least || s->inflight < least->inflight)
                    least = s;
                if (tiny_next && is_tiny(s->running->inv->fn) &&
                    (!s->queued_tail || is_tiny(s->queued_tail->inv->fn)) &&
                    (!fullest || s->inflight > fullest->inflight))
                    fullest = s;
            }
        }
        if (!fullest && !idle && !unborn && extra && children_on_cpu() < g.base)
            unborn = extra;
        slot *to = fullest ? fullest : idle ? idle : !unborn ? least : NULL;
        if (to) {
            assign(to, pop_waiting());
            continue;
        }
        if (!unborn)
            break; /* every child is busy or restarting */
        if (unborn - g.slots >= g.base && !uv_is_active((uv_handle_t *)&g.retire_timer))
            uv_timer_start(&g.retire_timer, retire_cb, 1000, 1000);
        int rc = fnh__child_start(&g.kind, unborn, &unborn->child);
        if (rc) {
            fnh__log("Host", FNH_LOG_ERROR, "Cannot start an isolated process (%s %s): %s",
                     g.exe, g.argv[1], uv_strerror(rc));
            fail_waiting(rc, 0);
        }
    }
    int waiting = g.lanes && !g.stopping; /* look again while work waits */
    if (waiting != !!uv_is_active((uv_handle_t *)&g.starve_timer)) {
        if (waiting)
            uv_timer_start(&g.starve_timer, starve_cb, 5, 5);
        else
            uv_timer_stop(&g.starve_timer);
    }
    for (int i = 0; i < g.nslots; i++) {
        slot *s = &g.slots[i];
        if (!s->out.len)
            continue;
        int rc = s->child ? fnh__child_send(s->child, &s->out) : -EPIPE;
        fnh__buf_free(&s->out);
        if (rc && s->child && !s->error) { /* its end of the channel is gone */
            s->error = rc;
            fnh__child_kill(s->child, SIGKILL);
        }
    }
    g.pumping = 0;
}

/* The pump runs once per loop iteration, so every child gets one write
 * however many invocations arrived or finished in the iteration. */
static void pump_soon(void)
{
    g.want_pump = 1;
}

static void pump_check_cb(uv_check_t *h)
{
    (void)h;
    if (g.want_pump) {
        g.want_pump = 0;
        pump();
    }
}

static void pump_prepare_cb(uv_prepare_t *h)
{
    (void)h;
    pump_check_cb(NULL);
}

/* ---- messages from a child ---------------------------------------------------- */

static void child_log(slot *s, const PB(RpcLog) *log)
{
    if ((int)log->level < 0 || (int)log->level > (int)FNH_LOG_CRITICAL || !log->message)
        return;
    fnh_log_level level = (fnh_log_level)log->level;
    const fnh__invocation *inv = s->running ? s->running->inv : NULL;
    char cat[192];
    int mine = inv && strcmp(log->invocation_id, inv->id) == 0;
    if (mine) {
        if (log->log_category == AZURE_FUNCTIONS_RPC_MESSAGES__RPC_LOG__RPC_LOG_CATEGORY__System)
            snprintf(cat, sizeof cat, "%s", fn_category(inv->fn));
        else
            snprintf(cat, sizeof cat, "Function.%s.User", inv->fn->name);
    } else {
        snprintf(cat, sizeof cat, "Host.Child.%s", fnh__child_name(s->child));
    }
    if (fnh__log_enabled(cat, level)) {
        /* the invocation's own lines are copied for whoever watches it */
        fnh__log_tee *prev = fnh__log_tee_set(mine ? inv->tee : NULL);
        fnh__log_line(cat, level, log->message, strlen(log->message));
        fnh__log_tee_set(prev);
    }
}

static void child_answer(slot *s, const fnh__rpc_invocation_response *rs)
{
    job *j = s->running;
    if (!j || strcmp(rs->invocation_id, j->inv->id) != 0) {
        fnh__log("Host", FNH_LOG_WARN, "Isolated process %s answered invocation %s, which it "
                                       "was not running; ignored",
                 fnh__child_name(s->child), rs->invocation_id);
        return;
    }
    char *error = NULL;
    fnh__rpc_apply_response(j->inv, rs, &error);
    if (error) {
        fnh__log_tee *prev = fnh__log_tee_set(j->inv->tee);
        fnh__log(fn_category(j->inv->fn), FNH_LOG_ERROR, "Function '%s' (Id=%s) failed: %s",
                 j->inv->fn->name, j->inv->id, error);
        fnh__log_tee_set(prev);
    }
    free(error);
    fnh__child_healthy(s->child); /* a crash in a later function restarts it at once */
    note_run(j->inv);
    s->running = s->queued; /* the child goes on with the next one now */
    s->idle_since = fnh__now_ns();
    if (s->queued && !(s->queued = s->queued->next))
        s->queued_tail = NULL;
    if (s->running) {
        s->running->next = NULL;
        __atomic_store_n(&s->running->inv->run_ns, fnh__now_ns(), __ATOMIC_RELEASE);
    }
    s->inflight--;
    g.nrunning--;
    finish_now(j);
    pump_soon();
}

static size_t child_alloc(fnh__child *c, char **p)
{
    slot *s = fnh__child_data(c);
    return s->error ? 0 : fnh__rpc_reader_space(&s->rd, p);
}

static void child_read(fnh__child *c, size_t n)
{
    slot *s = fnh__child_data(c);
    if (!fnh__child_pid(c))
        s->up = 0; /* what a dead process left: nothing more goes to it */
    fnh__rpc_reader_commit(&s->rd, n);
    fnh__rpc_msg *m;
    int rc = 0;
    while (!s->error && (rc = fnh__rpc_reader_next(&s->rd, &m)) == 1) {
        if (m->content_case == CASE(INVOCATION_RESPONSE))
            child_answer(s, m->invocation_response);
        else if (m->content_case == CASE(RPC_LOG))
            child_log(s, m->rpc_log);
        /* StartStream, FunctionLoadResponse (a failure comes back with the
         * invocation), WorkerStatusResponse: nothing to do */
        fnh__rpc_msg_free(m);
    }
    if (!s->error && rc < 0) {
        s->error = rc;
        fnh__log("Host", FNH_LOG_ERROR, "Isolated process %s (pid %d) sent %s; killing it",
                 fnh__child_name(c), fnh__child_pid(c),
                 rc == -EMSGSIZE ? "a message over the message size limit"
                                 : "bytes that are not the worker protocol");
        fnh__child_kill(c, SIGKILL);
    }
}

static void child_up(fnh__child *c)
{
    slot *s = fnh__child_data(c);
    s->up = 1;
    s->nloaded = 0;
    fnh__rpc_reader_free(&s->rd);
    pump();
}

static void child_down(fnh__child *c, const fnh__child_exit *e)
{
    slot *s = fnh__child_data(c);
    s->up = 0;
    s->nloaded = 0;
    fnh__rpc_reader_free(&s->rd);
    if (e->final)
        s->child = NULL;
    job *j = s->running;
    s->running = NULL;
    /* what it had queued never started: back to the queue (or failed at shutdown) */
    for (job *q = s->queued, *n; q; q = n) {
        n = q->next;
        g.nrunning--;
        if (g.stopping || push_waiting(q))
            finish_later(q, -ECANCELED);
    }
    s->queued = s->queued_tail = NULL;
    s->inflight = 0;
    if (j) {
        g.nrunning--;
        int rc = s->cancelled ? -ETIMEDOUT : s->error ? s->error : g.stopping ? -ECANCELED : -ECHILD;
        if (rc == -ECHILD)
            fnh__log(fn_category(j->inv->fn), FNH_LOG_ERROR,
                     "Function '%s' (Id=%s) crashed: its isolated process %s ended with %s; "
                     "a fresh process replaces it",
                     j->inv->fn->name, j->inv->id, fnh__child_name(c), e->text);
        j->inv->rc = rc;
        finish_now(j);
    }
    s->cancelled = s->error = 0;
    if (!g.stopping)
        pump(); /* what came back from its queue goes to the other children */
    if (e->spawn_error) {
        int any_up = 0;
        for (int i = 0; i < g.nslots; i++)
            any_up |= g.slots[i].up;
        if (!any_up) /* nothing can run them now: fail rather than wait */
            fail_waiting(e->spawn_error, 1);
    }
}

/* ---- API ------------------------------------------------------------------------ */

int fnh__isolated_init(uv_loop_t *loop, int nchildren, const char *self_exe)
{
    if (g.initialized || !self_exe || !*self_exe)
        return -EINVAL;
    memset(&g, 0, sizeof g);
    g.loop = loop;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    g.base = nchildren > 0 ? nchildren : cpus > 4 ? (int)cpus : 4; /* as the worker pool */
    g.nslots = g.base + EXTRA_CHILDREN;
    g.exe = fnh__strdup(self_exe);
    g.slots = calloc((size_t)g.nslots, sizeof *g.slots);
    if (!g.exe || !g.slots) {
        free(g.exe);
        free(g.slots);
        return -ENOMEM;
    }
    g.argv[0] = g.exe;
    g.argv[1] = "__native-child";
    g.kind = (fnh__child_kind){
        .name = "native",
        .argv = g.argv,
        .channel = 1,
        .restart = FNH__RESTART_ALWAYS,
        .up = child_up,
        .down = child_down,
        .alloc = child_alloc,
        .read = child_read,
    };
    fnh__supervisor_init(loop);
    uv_timer_init(loop, &g.later);
    uv_timer_init(loop, &g.starve_timer);
    uv_unref((uv_handle_t *)&g.starve_timer);
    uv_timer_init(loop, &g.retire_timer);
    uv_unref((uv_handle_t *)&g.retire_timer);
    uv_check_init(loop, &g.pump_check);
    uv_check_start(&g.pump_check, pump_check_cb);
    uv_unref((uv_handle_t *)&g.pump_check);
    uv_prepare_init(loop, &g.pump_prepare);
    uv_prepare_start(&g.pump_prepare, pump_prepare_cb);
    uv_unref((uv_handle_t *)&g.pump_prepare);
    g.initialized = 1;
    return 0;
}


void fnh__isolated_start(fnh__invocation *inv, void (*done)(fnh__invocation *inv))
{
    job *j = g.initialized ? calloc(1, sizeof *j) : NULL;
    if (!j) { /* nothing left to defer it with */
        inv->rc = g.initialized ? -ENOMEM : -ECANCELED;
        done(inv);
        return;
    }
    j->inv = inv;
    j->done = done;
    if (g.stopping) {
        finish_later(j, -ECANCELED);
        return;
    }
    if (push_waiting(j)) {
        finish_later(j, -ENOMEM);
        return;
    }
    pump_soon();
}

void fnh__isolated_cancel(fnh__invocation *inv)
{
    for (lane *l = g.lanes; l; l = l->next)
        for (job *j = l->head, *prev = NULL; j; prev = j, j = j->next)
            if (j->inv == inv) {
                unlink_waiting(l, prev, j);
                finish_later(j, -ETIMEDOUT);
                return;
            }
    for (int i = 0; i < g.nslots; i++) {
        slot *s = &g.slots[i];
        if (!s->running || s->running->inv != inv || s->cancelled)
            continue;
        s->cancelled = 1;
        fnh__log(fn_category(inv->fn), FNH_LOG_WARN,
                 "Stopping function '%s' (Id=%s): killing its isolated process %s (pid %d)",
                 inv->fn->name, inv->id, fnh__child_name(s->child), fnh__child_pid(s->child));
        fnh__child_kill(s->child, SIGKILL);
        return;
    }
}

void fnh__isolated_forget(const fnh__function *fn)
{
    for (int i = 0; i < g.nslots; i++) {
        slot *s = &g.slots[i];
        for (size_t k = 0; k < s->nloaded; k++)
            if (s->loaded[k] == fn)
                s->loaded[k--] = s->loaded[--s->nloaded];
    }
}

void fnh__isolated_settings(const fnh__app *app)
{
    fnh__strlist env = {0};
    fnh__settings_for_child(&app->settings, &env); /* out of memory: what fitted */
    int same = env.len == g.env.len;
    for (size_t i = 0; same && i < env.len; i++)
        same = strcmp(env.items[i], g.env.items[i]) == 0;
    const char **v = same ? NULL : calloc(env.len + 1, sizeof *v);
    int first = !g.env_set;
    g.env_set = 1;
    if (!v) {
        fnh__strlist_free(&env);
        return;
    }
    for (size_t i = 0; i < env.len; i++)
        v[i] = env.items[i];
    fnh__strlist_free(&g.env);
    free(g.envv);
    g.env = env;
    g.envv = v;
    g.kind.env = v;
    if (!first)
        fnh__isolated_recycle();
}

void fnh__isolated_recycle(void)
{
    for (int i = 0; i < g.nslots; i++) /* each stops once idle (pump) */
        g.slots[i].stale = g.slots[i].child != NULL;
    pump_soon();
}

size_t fnh__isolated_inflight(void)
{
    return g.nwaiting + g.nrunning;
}

int fnh__isolated_shutdown(uint64_t wait_ms)
{
    if (!g.initialized)
        return 0;
    uint64_t deadline = fnh__now_ns() + wait_ms * 1000000u;
    while ((g.nwaiting || g.nrunning) && fnh__now_ns() < deadline) {
        uv_run(g.loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
    g.stopping = 1;
    fail_waiting(-ECANCELED, 1);
    uv_timer_stop(&g.later);
    uv_timer_stop(&g.starve_timer);
    uv_timer_stop(&g.retire_timer);
    later_cb(NULL);
    for (int i = 0; i < g.nslots; i++) {
        slot *s = &g.slots[i];
        if (!s->child)
            continue;
        fnh__child *c = s->child;
        if (!fnh__child_pid(c))
            s->child = NULL; /* between runs: freed at once, no down() */
        fnh__child_stop(c, STOP_GRACE_MS);
    }
    deadline = fnh__now_ns() + (STOP_GRACE_MS + 1000) * 1000000u;
    int left;
    for (;;) {
        left = 0;
        for (int i = 0; i < g.nslots; i++)
            left += g.slots[i].child != NULL;
        if (!left || fnh__now_ns() >= deadline)
            break;
        uv_run(g.loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
    if (left)
        return left; /* their slots must outlive them: keep everything */
    uv_close((uv_handle_t *)&g.later, NULL); /* nothing to free: the handle is static */
    uv_close((uv_handle_t *)&g.starve_timer, NULL); /* nothing to free: the handle is static */
    uv_close((uv_handle_t *)&g.retire_timer, NULL); /* nothing to free: the handle is static */
    uv_close((uv_handle_t *)&g.pump_check, NULL); /* nothing to free: the handle is static */
    uv_close((uv_handle_t *)&g.pump_prepare, NULL); /* nothing to free: the handle is static */
    uv_run(g.loop, UV_RUN_NOWAIT); /* the closes complete before g is cleared */
    for (int i = 0; i < g.nslots; i++) {
        fnh__rpc_reader_free(&g.slots[i].rd);
        free(g.slots[i].loaded);
        fnh__buf_free(&g.slots[i].out);
    }
    free(g.slots);
    free(g.exe);
    fnh__strlist_free(&g.env);
    free(g.envv);
    memset(&g, 0, sizeof g);
    return 0;
}

/* ---- as a runner (core/runner.h) ---------------------------------------- */

static void runner_start(fnh__invocation *inv)
{
    fnh__isolated_start(inv, fnh__dispatch_ran);
}

const fnh__runner fnh__runner_isolated = {
    .name = "native-isolated",
    .start = runner_start,
    .cancel = fnh__isolated_cancel,
};
