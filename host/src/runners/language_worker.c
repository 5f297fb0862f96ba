/* language_worker.c: the language worker runner: per app snapshot a pool
 * (its gRPC server, N worker processes with their protocol state, the
 * invocations waiting for a ready worker), start-up indexing into the
 * app's functions, invocations, logs, cancel, death, restart and stop. */
#include "language_worker.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dispatch.h"
#include "grpc_server.h"
#include "log.h"
#include "settings.h"
#include "rpc_frame.h"
#include "rpc_function.h"
#include "rpc_invocation.h"
#include "supervisor.h"
#include "worker_config.h"

#define PB(x) AzureFunctionsRpcMessages__##x
#define CASE(x) AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_##x
#define STATUS(s) AZURE_FUNCTIONS_RPC_MESSAGES__STATUS_RESULT__STATUS__##s
#define PART "workers"
#define MAX_WORKERS 16
#define HOST_VERSION "4.1037.0.0"
#define STOP_GRACE_MS 2000u
#define TICK_MS 100u

typedef struct job {
    fnh__invocation *inv;
    uint64_t since_ns; /* waiting for a ready worker since */
    struct job *next;  /* the wait queue, or its worker's list */
    struct job *prev;  /* its worker's list */
    struct job *hnext; /* its worker's bucket by invocation id */
} job;

#define NBUCKETS 64u

enum { W_DOWN, W_STARTING, W_INIT, W_INDEXING, W_INDEXED, W_LOADING, W_READY };

typedef struct pool pool;

typedef struct worker {
    pool *p;
    char id[37], request_id[37];
    fnh__child_kind kind;
    char **argv;
    char name[48];       /* "node-1" once started */
    fnh__child *child;
    fnh__grpc_stream *stream;
    int state;
    uint64_t started_ns;
    int loads_pending;
    int warned_init;     /* the initializationTimeout error was logged for this run */
    int handles_terminate; /* announced HandlesWorkerTerminateMessage: exits by itself */
    int terminating;       /* WorkerTerminate went out on its stream: wait for its exit */
    job *jobs;           /* in flight on it */
    job *buckets[NBUCKETS]; /* the same, by invocation id */
    size_t inflight;
} worker;

struct pool {
    fnh__app *app; /* borrowed: the pool is the app's part */
    uv_loop_t *loop;
    fnh__worker_config cfg;
    char *root;    /* the app folder, absolute */
    fnh__grpc_server *srv;
    worker *w;
    int nw;
    char **env;
    char port[16], maxlen[16], *uri;
    job *wait_head, *wait_tail;
    uv_timer_t *tick; /* initializationTimeout checks, while a worker is not ready */
    cJSON *meta;      /* the first worker's function metadata (start-up) */
    int indexed, default_indexing;
    char *fail;       /* why start-up failed */
    char *early_err;  /* the first stderr line a worker wrote before the app was indexed */
    int live, functions_ready, stopped, freeing;
    size_t rr;
    pool *next;
};

static struct {
    pool *pools;
} g;

static const fnh__grpc_handler handler;
static void tick_cb(uv_timer_t *t);
static void tick_start(pool *p);

static const char *fn_category(const fnh__function *fn)
{
    return fn->log_category ? fn->log_category : "Function";
}

/* ---- sending ------------------------------------------------------------------ */

static int send_msg(worker *w, fnh__rpc_msg *m)
{
    if (!w->stream)
        return -EPIPE;
    fnh__buf b = {0};
    int rc = fnh__rpc_frame_append(&b, m);
    if (rc) {
        fnh__buf_free(&b);
        return rc;
    }
    return fnh__grpc_send(w->stream, &b);
}

static void send_init(worker *w)
{
    pool *p = w->p;
    PB(WorkerInitRequest) rq = AZURE_FUNCTIONS_RPC_MESSAGES__WORKER_INIT_REQUEST__INIT;
    rq.host_version = HOST_VERSION;
    rq.worker_directory = p->cfg.dir;
    rq.function_app_directory = p->root;
    fnh__rpc_msg m = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
    char rid[37];
    fnh__uuid(rid);
    m.request_id = rid;
    m.content_case = CASE(WORKER_INIT_REQUEST);
    m.worker_init_request = &rq;
    send_msg(w, &m);
    w->state = W_INIT;
}

static void send_metadata_request(worker *w)
{
    PB(FunctionsMetadataRequest) rq = AZURE_FUNCTIONS_RPC_MESSAGES__FUNCTIONS_METADATA_REQUEST__INIT;
    rq.function_app_directory = w->p->root;
    fnh__rpc_msg m = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
    char rid[37];
    fnh__uuid(rid);
    m.request_id = rid;
    m.content_case = CASE(FUNCTIONS_METADATA_REQUEST);
    m.functions_metadata_request = &rq;
    send_msg(w, &m);
    w->state = W_INDEXING;
}

/* The script file a function's load request names: absolute (malloc'd, or
 * NULL when out of memory). v3: scriptFile in the function's folder,
 * index.js by default; v4: the file the worker reported. */
static char *script_of(const fnh__function *fn)
{
    const cJSON *sf = cJSON_GetObjectItemCaseSensitive(fn->config, "scriptFile");
    const char *s = cJSON_IsString(sf) && *sf->valuestring ? sf->valuestring : "index.js";
    char *joined = s[0] == '/' ? fnh__strdup(s) : fnh__asprintf("%s/%s", fn->dir, s);
    char *real = joined ? realpath(joined, NULL) : NULL;
    if (real) {
        free(joined);
        return real;
    }
    return joined;
}

static void pump(pool *p);

static void set_ready(worker *w)
{
    w->state = W_READY;
    fnh__log("Host.Worker", FNH_LOG_DEBUG, "Language worker %s is ready", w->name);
    pump(w->p);
}

/* Sends a load request for each of the app's functions this pool runs. */
static void send_loads(worker *w)
{
    pool *p = w->p;
    fnh__buf b = {0};
    int n = 0;
    for (size_t i = 0; i < p->app->nfunctions; i++) {
        const fnh__function *fn = p->app->functions[i];
        if (fn->runner != &fnh__runner_language || !fnh__function_ok(fn))
            continue;
        char *script = script_of(fn);
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(fn->config, "entryPoint");
        if (fnh__rpc_encode_load_as(fn, fn->name, script ? script : "",
                                    cJSON_IsString(ep) ? ep->valuestring : "", p->cfg.language,
                                    &b) == 0)
            n++;
        free(script);
    }
    w->loads_pending = n;
    w->state = W_LOADING;
    if (b.len && w->stream)
        fnh__grpc_send(w->stream, &b);
    fnh__buf_free(&b);
    if (!n)
        set_ready(w);
}

/* ---- invocations -------------------------------------------------------------- */

/* A ready worker with the fewest invocations in flight (round robin among
 * equals), or NULL. */
static worker *pick(pool *p)
{
    worker *best = NULL;
    for (int k = 0; k < p->nw; k++) {
        worker *w = &p->w[(p->rr + (size_t)k) % (size_t)p->nw];
        if (w->state == W_READY && w->stream && (!best || w->inflight < best->inflight))
            best = w;
    }
    if (best)
        p->rr++;
    return best;
}

static void complete(job *j, int rc)
{
    fnh__invocation *inv = j->inv;
    free(j);
    if (rc)
        inv->rc = rc;
    fnh__dispatch_ran(inv);
}

static unsigned id_bucket(const char *id);

static void assign(worker *w, job *j)
{
    fnh__invocation *inv = j->inv;
    fnh__buf b = {0};
    int rc = fnh__rpc_encode_invocation_for(inv, inv->fn->name, 1, &b);
    if (rc == -EMSGSIZE)
        fnh__log(fn_category(inv->fn), FNH_LOG_ERROR,
                 "Function '%s' (Id=%s): its input exceeds the %u MiB message limit",
                 inv->fn->name, inv->id, FNH__RPC_MAX_MESSAGE >> 20);
    __atomic_store_n(&inv->run_ns, fnh__now_ns(), __ATOMIC_RELEASE);
    if (!rc)
        rc = fnh__grpc_send(w->stream, &b);
    fnh__buf_free(&b);
    if (rc) {
        complete(j, rc);
        return;
    }
    j->prev = NULL;
    j->next = w->jobs;
    if (w->jobs)
        w->jobs->prev = j;
    w->jobs = j;
    unsigned bucket = id_bucket(inv->id);
    j->hnext = w->buckets[bucket];
    w->buckets[bucket] = j;
    w->inflight++;
}

static void pump(pool *p)
{
    worker *w;
    while (p->wait_head && (w = pick(p))) {
        job *j = p->wait_head;
        if (!(p->wait_head = j->next))
            p->wait_tail = NULL;
        assign(w, j);
    }
}

static void fail_waiting(pool *p, int rc)
{
    while (p->wait_head) {
        job *j = p->wait_head;
        if (!(p->wait_head = j->next))
            p->wait_tail = NULL;
        complete(j, rc);
    }
}

/* An invocation id's bucket: ids are random UUIDs, so their first 8
 * characters (32 random bits) spread them as well as the whole would. */
static unsigned id_bucket(const char *id)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 8 && id[i]; i++)
        h = (h ^ (uint8_t)id[i]) * 16777619u;
    return h & (NBUCKETS - 1);
}

/* The job of invocation id in flight on w, or NULL. */
static job *find_job(worker *w, const char *id)
{
    for (job *j = w->buckets[id_bucket(id)]; j; j = j->hnext)
        if (strcmp(j->inv->id, id) == 0)
            return j;
    return NULL;
}

static void untrack(worker *w, job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        w->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    for (job **pp = &w->buckets[id_bucket(j->inv->id)]; *pp; pp = &(*pp)->hnext)
        if (*pp == j) {
            *pp = j->hnext;
            break;
        }
    j->next = j->prev = j->hnext = NULL;
    w->inflight--;
}

static job *take_job(worker *w, const char *id)
{
    job *j = find_job(w, id);
    if (j)
        untrack(w, j);
    return j;
}

static void runner_start(fnh__invocation *inv)
{
    pool *p = fnh__app_part_get(inv->app, PART);
    job *j = p && !p->stopped && !p->freeing ? calloc(1, sizeof *j) : NULL;
    if (!j) {
        inv->rc = p && !p->stopped ? -ENOMEM : -ECANCELED;
        fnh__dispatch_ran(inv);
        return;
    }
    j->inv = inv;
    worker *w = p->wait_head ? NULL : pick(p);
    if (w) {
        assign(w, j);
        return;
    }
    j->since_ns = fnh__now_ns();
    if (p->wait_tail)
        p->wait_tail->next = j;
    else
        p->wait_head = j;
    p->wait_tail = j;
    tick_start(p); /* it waits at most initializationTimeout */
}

static void runner_cancel(fnh__invocation *inv)
{
    pool *p = fnh__app_part_get(inv->app, PART);
    if (!p)
        return;
    for (job **pp = &p->wait_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next)
        if ((*pp)->inv == inv) { /* never started: done now */
            job *j = *pp;
            *pp = j->next;
            if (p->wait_tail == j)
                p->wait_tail = prev;
            complete(j, -ETIMEDOUT);
            return;
        }
    for (int i = 0; i < p->nw; i++)
        for (job *j = p->w[i].jobs; j; j = j->next)
            if (j->inv == inv) {
                PB(InvocationCancel) c = AZURE_FUNCTIONS_RPC_MESSAGES__INVOCATION_CANCEL__INIT;
                c.invocation_id = inv->id;
                fnh__rpc_msg m = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
                m.content_case = CASE(INVOCATION_CANCEL);
                m.invocation_cancel = &c;
                send_msg(&p->w[i], &m);
                return; /* its answer, whenever it comes, ends it */
            }
}

const fnh__runner fnh__runner_language = {
    .name = "language-worker",
    .start = runner_start,
    .cancel = runner_cancel,
};

/* ---- messages from a worker ------------------------------------------------------ */

/* Writes "<a><b><c>" into cat (of size n), cut to fit; returns cat (the
 * caller's buffer). a, b, c: borrowed. */
static const char *cat3(char *cat, size_t n, const char *a, const char *b, const char *c)
{
    const char *part[3] = {a, b, c};
    size_t at = 0;
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(part[i]);
        k = k < n - 1 - at ? k : n - 1 - at;
        memcpy(cat + at, part[i], k);
        at += k;
    }
    cat[at] = '\0';
    return cat;
}

/* A worker's log line: an invocation's in its function's category (the
 * worker's own lines, System) or "Function.<name>.User"; else the worker's. */
static void on_log(worker *w, const PB(RpcLog) *log)
{
    if ((int)log->level < 0 || (int)log->level > (int)FNH_LOG_CRITICAL || !log->message)
        return;
    fnh_log_level level = (fnh_log_level)log->level;
    const job *j = log->invocation_id && *log->invocation_id
                       ? find_job(w, log->invocation_id)
                       : NULL;
    fnh__function *fn = j ? j->inv->fn : NULL;
    char buf[192];
    const char *cat;
    if (!fn)
        cat = cat3(buf, sizeof buf, "Host.Worker.", w->name, "");
    else if (log->log_category == AZURE_FUNCTIONS_RPC_MESSAGES__RPC_LOG__RPC_LOG_CATEGORY__System)
        cat = cat3(buf, sizeof buf, fn_category(fn), "", "");
    else
        cat = cat3(buf, sizeof buf, "Function.", fn->name, ".User");
    if (fnh__log_enabled(cat, level)) /* filtered before anything is formatted */
        fnh__log_line(cat, level, log->message, strlen(log->message));
}

static void on_answer(worker *w, const PB(InvocationResponse) *rs)
{
    job *j = rs->invocation_id ? take_job(w, rs->invocation_id) : NULL;
    if (!j) {
        fnh__log("Host.Worker", FNH_LOG_DEBUG,
                 "Language worker %s answered invocation %s, which it was not running; ignored",
                 w->name, rs->invocation_id ? rs->invocation_id : "");
        return;
    }
    fnh__invocation *inv = j->inv;
    char *error = NULL;
    fnh__rpc_apply_response(inv, rs, &error);
    if (error && !inv->timed_out)
        fnh__log(fn_category(inv->fn), FNH_LOG_ERROR, "Function '%s' (Id=%s) failed: %s",
                 inv->fn->name, inv->id, error);
    free(error);
    fnh__child_healthy(w->child);
    complete(j, 0);
    pump(w->p);
}

static char *ex_text(const PB(StatusResult) *r)
{
    const PB(RpcException) *ex = r ? r->exception : NULL;
    return fnh__asprintf("%s", ex && ex->message ? ex->message : "no reason given");
}

static void on_init(worker *w, const PB(WorkerInitResponse) *rs)
{
    if (!rs->result || rs->result->status != STATUS(Success)) {
        char *why = ex_text(rs->result);
        fnh__log("Host.Worker", FNH_LOG_ERROR, "Language worker %s failed to initialize: %s",
                 w->name, why ? why : "");
        if (!w->p->indexed && !w->p->fail)
            w->p->fail = fnh__asprintf("The %s language worker (%s) failed to initialize the "
                                       "app: %s",
                                       w->p->cfg.language, w->p->cfg.dir, why ? why : "");
        free(why);
        fnh__child_kill(w->child, SIGKILL);
        return;
    }
    w->handles_terminate = 0;
    for (size_t i = 0; i < rs->n_capabilities; i++)
        if (strcmp(rs->capabilities[i]->key, "HandlesWorkerTerminateMessage") == 0)
            w->handles_terminate = 1;
    if (w->p->cfg.indexing)
        send_metadata_request(w);
    else if (w->p->functions_ready)
        send_loads(w);
    else {
        w->state = W_INDEXED;
        w->p->indexed = 1;
        w->p->default_indexing = 1;
    }
}

/* Keeps what start-up needs of the worker's function metadata. */
static void keep_metadata(pool *p, const PB(FunctionMetadataResponse) *rs)
{
    p->meta = cJSON_CreateArray();
    for (size_t i = 0; p->meta && i < rs->n_function_metadata_results; i++) {
        const PB(RpcFunctionMetadata) *md = rs->function_metadata_results[i];
        cJSON *f = cJSON_CreateObject();
        if (!f)
            break;
        cJSON_AddItemToArray(p->meta, f);
        cJSON_AddStringToObject(f, "name", md->name ? md->name : "");
        cJSON_AddStringToObject(f, "directory", md->directory ? md->directory : "");
        cJSON_AddStringToObject(f, "scriptFile", md->script_file ? md->script_file : "");
        cJSON_AddStringToObject(f, "entryPoint", md->entry_point ? md->entry_point : "");
        cJSON *raw = cJSON_AddArrayToObject(f, "raw");
        for (size_t k = 0; raw && k < md->n_raw_bindings; k++)
            cJSON_AddItemToArray(raw, cJSON_CreateString(md->raw_bindings[k]));
    }
}

static void on_metadata(worker *w, const PB(FunctionMetadataResponse) *rs)
{
    pool *p = w->p;
    if (rs->result && rs->result->status != STATUS(Success)) {
        char *why = ex_text(rs->result);
        fnh__log("Host.Worker", FNH_LOG_ERROR, "Language worker %s could not index the app: %s",
                 w->name, why ? why : "");
        if (!p->indexed && !p->fail)
            p->fail = fnh__asprintf("The %s language worker could not index the app in %s: %s",
                                    p->cfg.language, p->root, why ? why : "");
        free(why);
        return;
    }
    if (p->functions_ready) {
        send_loads(w);
        return;
    }
    if (!p->indexed) {
        p->default_indexing = rs->use_default_metadata_indexing;
        if (!p->default_indexing)
            keep_metadata(p, rs);
        p->indexed = 1;
    }
    w->state = W_INDEXED;
}

static void on_load(worker *w, const PB(FunctionLoadResponse) *rs)
{
    if (rs->result && rs->result->status != STATUS(Success)) {
        char *why = ex_text(rs->result);
        fnh__log("Host.Worker", FNH_LOG_ERROR, "The '%s' function failed to load in language "
                                               "worker %s: %s",
                 rs->function_id ? rs->function_id : "", w->name, why ? why : "");
        free(why);
    }
    if (w->state == W_LOADING && --w->loads_pending <= 0)
        set_ready(w);
}

static worker *worker_by_id(pool *p, const char *id)
{
    for (int i = 0; id && i < p->nw; i++)
        if (strcmp(p->w[i].id, id) == 0)
            return &p->w[i];
    return NULL;
}

static void on_message(void *data, fnh__grpc_stream *s, fnh__rpc_msg *m)
{
    pool *p = data;
    worker *w = fnh__grpc_stream_data(s);
    if (!w) {
        if (m->content_case == CASE(START_STREAM) &&
            (w = worker_by_id(p, m->start_stream->worker_id)) && w->child &&
            !w->stream && w->state == W_STARTING) {
            w->stream = s;
            fnh__grpc_stream_set_data(s, w);
            send_init(w);
        } else {
            fnh__grpc_stream_end(s, 3, "expected StartStream with a known worker id");
        }
        fnh__rpc_msg_free(m);
        return;
    }
    switch (m->content_case) {
    case CASE(INVOCATION_RESPONSE):
        on_answer(w, m->invocation_response);
        break;
    case CASE(RPC_LOG):
        on_log(w, m->rpc_log);
        break;
    case CASE(WORKER_INIT_RESPONSE):
        on_init(w, m->worker_init_response);
        break;
    case CASE(FUNCTION_METADATA_RESPONSE):
        on_metadata(w, m->function_metadata_response);
        break;
    case CASE(FUNCTION_LOAD_RESPONSE):
        on_load(w, m->function_load_response);
        break;
    default: /* WorkerStatusResponse and the rest: nothing to do */
        break;
    }
    fnh__rpc_msg_free(m);
}

static void on_closed(void *data, fnh__grpc_stream *s, int why)
{
    pool *p = data;
    worker *w = fnh__grpc_stream_data(s);
    if (!w || w->stream != s)
        return;
    w->stream = NULL;
    if (p->stopped || p->freeing || w->state == W_DOWN || !w->child)
        return;
    /* a worker whose stream broke exits by itself (its in-flight invocations
     * fail when it does); one that does not is stopped by the start-up
     * deadline, as if it were starting again */
    fnh__log("Host.Worker", FNH_LOG_WARN, "Language worker %s closed its stream%s", w->name,
             why == -EMSGSIZE ? " (a message over the size limit)" : "");
    w->state = W_STARTING;
    w->started_ns = fnh__now_ns();
    w->warned_init = 0;
    tick_start(p);
}

static const fnh__grpc_handler handler = {.message = on_message, .closed = on_closed};

/* ---- processes ------------------------------------------------------------------ */

static int children_left(const pool *p)
{
    int n = 0;
    for (int i = 0; i < p->nw; i++)
        n += p->w[i].child != NULL;
    return n;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void pool_release(pool *p)
{
    for (pool **pp = &g.pools; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    fnh__grpc_server_free(p->srv);
    if (p->tick)
        uv_close((uv_handle_t *)p->tick, free_handle);
    for (int i = 0; i < p->nw; i++) {
        for (char **a = p->w[i].argv; a && *a; a++)
            free(*a);
        free(p->w[i].argv);
    }
    free(p->w);
    for (char **e = p->env; e && *e; e++)
        free(*e);
    free(p->env);
    free(p->uri);
    free(p->root);
    free(p->fail);
    free(p->early_err);
    cJSON_Delete(p->meta);
    fnh__worker_config_free(&p->cfg);
    free(p);
}

static void tick_start(pool *p)
{
    if (p->tick && !uv_is_active((uv_handle_t *)p->tick))
        uv_timer_start(p->tick, tick_cb, TICK_MS, TICK_MS);
}

static void child_up(fnh__child *c)
{
    worker *w = fnh__child_data(c);
    w->child = c;
    snprintf(w->name, sizeof w->name, "%s", fnh__child_name(c));
    w->state = W_STARTING;
    w->started_ns = fnh__now_ns();
    w->warned_init = 0;
    tick_start(w->p);
}

static void child_down(fnh__child *c, const fnh__child_exit *e)
{
    worker *w = fnh__child_data(c);
    pool *p = w->p;
    int was = w->state;
    w->state = W_DOWN;
    if (w->stream) {
        fnh__grpc_stream_set_data(w->stream, NULL);
        fnh__grpc_stream_end(w->stream, 14, "worker ended");
        w->stream = NULL;
    }
    if (e->final)
        w->child = NULL;
    if (!p->indexed && !p->fail && was != W_DOWN)
        p->fail = fnh__asprintf("The %s language worker (%s) ended with %s before it indexed "
                                "the app; its output above says why",
                                p->cfg.language, p->cfg.dir, e->text);
    while (w->jobs) {
        job *j = w->jobs;
        untrack(w, j);
        int rc = p->stopped || p->freeing ? -ECANCELED : -ECHILD;
        if (rc == -ECHILD && !j->inv->timed_out)
            fnh__log(fn_category(j->inv->fn), FNH_LOG_ERROR,
                     "Function '%s' (Id=%s) failed: its language worker %s ended with %s "
                     "while running it%s",
                     j->inv->fn->name, j->inv->id, w->name, e->text,
                     e->final ? "" : "; a fresh worker replaces it");
        complete(j, rc);
    }
    if (p->freeing && !children_left(p))
        pool_release(p);
}

/* A line the worker wrote: "LanguageWorkerConsoleLog..." is the worker's
 * own (its "[error]" ones errors), the rest the functions' console output. */
static void child_line(fnh__child *c, int is_err, const char *s, size_t n)
{
    static const char sys[] = "LanguageWorkerConsoleLog";
    worker *w = fnh__child_data(c);
    fnh_log_level level = is_err ? FNH_LOG_ERROR : FNH_LOG_INFO;
    char cat[80];
    if (n >= sizeof sys - 1 && memcmp(s, sys, sizeof sys - 1) == 0) {
        s += sizeof sys - 1;
        n -= sizeof sys - 1;
        if (n >= 7 && memcmp(s, "[error]", 7) == 0) {
            s += 7;
            n -= 7;
            level = FNH_LOG_ERROR;
        }
        while (n && *s == ' ') {
            s++;
            n--;
        }
        snprintf(cat, sizeof cat, "Host.Worker.%s", w->name);
    } else {
        snprintf(cat, sizeof cat, "Host.Function.Console");
    }
    if (fnh__log_enabled(cat, level))
        fnh__log_line(cat, level, s, n);
    if (is_err && !w->p->indexed && !w->p->early_err && n)
        w->p->early_err = fnh__strndup(s, n);
}

/* The argument vector of worker i: Azure's command line, behind
 * "fnhost __exec-child" so the worker dies with the host. */
static char **worker_argv(pool *p, worker *w)
{
    fnh__strlist a = {0};
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    const char *base = strrchr(self, '/');
    if (n > 0 && base && strncmp(base + 1, "fnhost", 6) == 0) {
        fnh__strlist_addf(&a, "%s", self);
        fnh__strlist_addf(&a, "__exec-child");
    }
    fnh__strlist_addf(&a, "%s", p->cfg.exe_path);
    for (size_t i = 0; i < p->cfg.arguments.len; i++)
        fnh__strlist_addf(&a, "%s", p->cfg.arguments.items[i]);
    if (p->cfg.worker_path)
        fnh__strlist_addf(&a, "%s", p->cfg.worker_path);
    for (size_t i = 0; i < p->cfg.worker_arguments.len; i++)
        fnh__strlist_addf(&a, "%s", p->cfg.worker_arguments.items[i]);
    const char *kv[][2] = {
        {"--host", "127.0.0.1"}, {"--port", p->port}, {"--workerId", w->id},
        {"--requestId", w->request_id}, {"--grpcMaxMessageLength", p->maxlen},
        {"--functions-uri", p->uri}, {"--functions-worker-id", w->id},
        {"--functions-request-id", w->request_id},
        {"--functions-grpc-max-message-length", p->maxlen},
    };
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++) {
        fnh__strlist_addf(&a, "%s", kv[i][0]);
        fnh__strlist_addf(&a, "%s", kv[i][1]);
    }
    char **argv = calloc(a.len + 1, sizeof *argv);
    if (argv)
        for (size_t i = 0; i < a.len; i++) {
            argv[i] = a.items[i];
            a.items[i] = NULL;
        }
    fnh__strlist_free(&a);
    return argv;
}

/* The app settings the host's environment does not already hold, and the
 * two folders Azure gives its workers. */
static char **worker_env(pool *p)
{
    fnh__strlist e = {0};
    fnh__settings_for_child(&p->app->settings, &e); /* out of memory: what fitted */
    fnh__strlist_addf(&e, "FUNCTIONS_WORKER_DIRECTORY=%s", p->cfg.dir);
    fnh__strlist_addf(&e, "FUNCTIONS_APPLICATION_DIRECTORY=%s", p->root);
    char **env = calloc(e.len + 1, sizeof *env);
    if (env)
        for (size_t i = 0; i < e.len; i++) {
            env[i] = e.items[i];
            e.items[i] = NULL;
        }
    fnh__strlist_free(&e);
    return env;
}

static void tick_cb(uv_timer_t *t)
{
    pool *p = t->data;
    uint64_t now = fnh__now_ns(), limit = (uint64_t)p->cfg.init_timeout_ms * 1000000u;
    int waiting = 0;
    for (int i = 0; i < p->nw; i++) {
        worker *w = &p->w[i];
        if (!w->child || w->state == W_READY || w->state == W_DOWN ||
            (w->state == W_INDEXED && !p->functions_ready))
            continue;
        waiting = 1;
        if (w->warned_init || now - w->started_ns < limit)
            continue;
        char ts[32];
        fnh__timespan_fmt(p->cfg.init_timeout_ms, ts);
        fnh__log("Host.Worker", FNH_LOG_ERROR,
                 "The %s language worker %s (%s, pid %d) did not %s within its "
                 "initializationTimeout of %s (%s); stopping it",
                 p->cfg.language, w->name, p->cfg.dir, fnh__child_pid(w->child),
                 w->state == W_STARTING ? "connect to the host" : "finish starting", ts,
                 p->cfg.config_file);
        if (!p->indexed && !p->fail)
            p->fail = fnh__asprintf(
                "The %s language worker (%s) did not %s within its initializationTimeout of "
                "%s; check that '%s' starts it, or raise processOptions.initializationTimeout "
                "in %s",
                p->cfg.language, p->cfg.dir,
                w->state == W_STARTING ? "connect to the host" : "index the app", ts,
                p->cfg.exe_path, p->cfg.config_file);
        w->warned_init = 1;
        fnh__child_kill(w->child, SIGKILL);
    }
    /* invocations do not wait for a worker longer than it may take to start */
    while (p->wait_head && now - p->wait_head->since_ns >= limit) {
        job *j = p->wait_head;
        if (!(p->wait_head = j->next))
            p->wait_tail = NULL;
        char ts[32];
        fnh__timespan_fmt(p->cfg.init_timeout_ms, ts);
        fnh__log(fn_category(j->inv->fn), FNH_LOG_ERROR,
                 "Function '%s' (Id=%s) failed: no %s language worker was ready to run it "
                 "within %s (initializationTimeout); the worker's log above says why",
                 j->inv->fn->name, j->inv->id, p->cfg.language, ts);
        complete(j, -EAGAIN);
    }
    if (!waiting && !p->wait_head)
        uv_timer_stop(t);
}

/* ---- start-up ------------------------------------------------------------------- */

int fnh__lang_wanted(const fnh__app *app)
{
    const char *rt = fnh__app_setting(app, "FUNCTIONS_WORKER_RUNTIME");
    return rt && *rt && strcasecmp(rt, "native") != 0 && strcasecmp(rt, "custom") != 0;
}

static void pool_state_free(void *state)
{
    pool *p = state;
    p->freeing = 1;
    fail_waiting(p, -ECANCELED);
    for (int i = 0; i < p->nw; i++) {
        worker *w = &p->w[i];
        if (!w->child)
            continue;
        w->kind.restart = FNH__RESTART_NEVER;
        PB(WorkerTerminate) t = AZURE_FUNCTIONS_RPC_MESSAGES__WORKER_TERMINATE__INIT;
        fnh__rpc_msg m = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
        m.content_case = CASE(WORKER_TERMINATE);
        m.worker_terminate = &t;
        send_msg(w, &m);
        fnh__child *c = w->child;
        if (!fnh__child_pid(c))
            w->child = NULL; /* between runs: freed at once, no down() */
        fnh__child_stop(c, STOP_GRACE_MS);
    }
    if (!children_left(p))
        pool_release(p);
}

/* Builds the app's functions from the worker's metadata (v4 model): each
 * result's raw bindings become a function.json read as any other. */
static void add_indexed_functions(pool *p, const char *functions_csv)
{
    fnh__app *app = p->app;
    const cJSON *f;
    cJSON_ArrayForEach(f, p->meta)
    {
        const char *name = cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring;
        if (fnh__app_find(app, name) || !fnh__app_function_selected(app, functions_csv, name))
            continue; /* a function.json folder of that name wins */
        cJSON *doc = cJSON_CreateObject();
        cJSON *bindings = cJSON_AddArrayToObject(doc, "bindings");
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(f, "raw"))
        {
            cJSON *b = cJSON_Parse(r->valuestring);
            if (!b)
                continue;
            cJSON_DeleteItemFromObjectCaseSensitive(b, "properties"); /* the worker's own */
            cJSON_AddItemToArray(bindings, b);
        }
        const char *dir = cJSON_GetObjectItemCaseSensitive(f, "directory")->valuestring;
        const char *script = cJSON_GetObjectItemCaseSensitive(f, "scriptFile")->valuestring;
        char *path = script[0] == '/' || !*dir ? fnh__strdup(script)
                                               : fnh__asprintf("%s/%s", dir, script);
        cJSON_AddStringToObject(doc, "scriptFile", path ? path : script);
        free(path);
        char *text = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        fnh__function *fn = text ? fnh__app_read_function_json(app, name, text, strlen(text))
                                 : NULL;
        free(text);
        if (!fn)
            continue;
        /* messages name the function, not a file that does not exist */
        free(fn->config_file);
        fn->config_file = fnh__asprintf("%s (indexed by the %s worker)", name, p->cfg.language);
        if (*dir) {
            free(fn->dir);
            fn->dir = fnh__strdup(dir);
        }
        for (size_t k = 0; k < fn->errors.len; k++) { /* read before the rename */
            char *old = fn->errors.items[k];
            const char *tail = strstr(old, "function.json");
            if (tail && fn->config_file) {
                fn->errors.items[k] =
                    fnh__asprintf("%s%s", fn->config_file, tail + strlen("function.json"));
                if (fn->errors.items[k])
                    free(old);
                else
                    fn->errors.items[k] = old;
            }
        }
    }
}

static int cmp_fn(const void *a, const void *b)
{
    return strcasecmp((*(fnh__function *const *)a)->name, (*(fnh__function *const *)b)->name);
}

/* Runs the loop until the pool is indexed or failed. */
static void wait_indexed(pool *p)
{
    while (!p->indexed && !p->fail)
        uv_run(p->loop, UV_RUN_ONCE);
}

/* Stops the pool's workers and runs the loop until they are gone (at most
 * grace_ms + 1 s). Returns how many still run. */
static int stop_now(pool *p, uint64_t grace_ms)
{
    p->stopped = 1;
    fail_waiting(p, -ECANCELED);
    for (int i = 0; i < p->nw; i++) {
        worker *w = &p->w[i];
        w->kind.restart = FNH__RESTART_NEVER;
        PB(WorkerTerminate) t = AZURE_FUNCTIONS_RPC_MESSAGES__WORKER_TERMINATE__INIT;
        fnh__rpc_msg m = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
        m.content_case = CASE(WORKER_TERMINATE);
        m.worker_terminate = &t;
        w->terminating = w->stream != NULL && w->handles_terminate;
        send_msg(w, &m);
    }
    /* those that handle WorkerTerminate get the grace period to exit by
     * themselves, then SIGTERM */
    uint64_t deadline = fnh__now_ns() + grace_ms * 1000000u;
    while (children_left(p) && fnh__now_ns() < deadline) {
        int alive = 0;
        /* its process, not its stream: a worker closes the stream just
         * before it exits, and a stop now would race that exit */
        for (int i = 0; i < p->nw; i++)
            alive += p->w[i].child && fnh__child_pid(p->w[i].child) && p->w[i].terminating;
        if (!alive)
            break;
        uv_run(p->loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
    for (int i = 0; i < p->nw; i++) {
        worker *w = &p->w[i];
        if (!w->child)
            continue;
        fnh__child *c = w->child;
        if (!fnh__child_pid(c))
            w->child = NULL;
        fnh__child_stop(c, grace_ms);
    }
    deadline = fnh__now_ns() + (grace_ms + 1000) * 1000000u;
    while (children_left(p) && fnh__now_ns() < deadline) {
        uv_run(p->loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
    if (p->tick)
        uv_timer_stop(p->tick);
    fnh__grpc_server_free(p->srv);
    p->srv = NULL;
    return children_left(p);
}

static int start_workers(pool *p)
{
    int rc = fnh__grpc_server_start(p->loop, &handler, p, FNH__RPC_MAX_MESSAGE, &p->srv);
    if (rc) {
        p->fail = fnh__asprintf("Cannot listen for language workers on 127.0.0.1: %s",
                                uv_strerror(rc));
        return 0;
    }
    snprintf(p->port, sizeof p->port, "%d", fnh__grpc_server_port(p->srv));
    snprintf(p->maxlen, sizeof p->maxlen, "%u", FNH__RPC_MAX_MESSAGE);
    p->uri = fnh__asprintf("http://127.0.0.1:%s/", p->port);
    p->env = worker_env(p);
    p->tick = malloc(sizeof *p->tick);
    if (!p->uri || !p->env || !p->tick)
        return -ENOMEM;
    uv_timer_init(p->loop, p->tick);
    p->tick->data = p;
    for (int i = 0; i < p->nw; i++) {
        worker *w = &p->w[i];
        w->p = p;
        fnh__uuid(w->id);
        fnh__uuid(w->request_id);
        if (!(w->argv = worker_argv(p, w)))
            return -ENOMEM;
        w->kind = (fnh__child_kind){
            .name = p->cfg.language,
            .argv = (const char *const *)w->argv,
            .env = (const char *const *)p->env,
            .cwd = p->root,
            .restart = FNH__RESTART_ALWAYS,
            .up = child_up,
            .down = child_down,
            .line = child_line,
        };
        fnh__child *c;
        rc = fnh__child_start(&w->kind, w, &c);
        if (rc) {
            p->fail = fnh__asprintf("Cannot start the %s language worker (%s): %s",
                                    p->cfg.language, w->argv[0], uv_strerror(rc));
            return 0;
        }
        fnh__log("Host.Worker", FNH_LOG_DEBUG, "Started language worker %s (pid %d) from %s",
                 w->name, fnh__child_pid(c), p->cfg.dir);
    }
    return 0;
}

/* A new pool for app's language: the worker's configuration and the number
 * of workers (FUNCTIONS_WORKER_PROCESS_COUNT; one when not live). NULL with
 * *rc 0 after adding a host error, or -ENOMEM. The caller owns the pool. */
static pool *pool_new(fnh__app *app, uv_loop_t *loop, int live, int *rc)
{
    *rc = 0;
    const char *lang = fnh__app_setting(app, "FUNCTIONS_WORKER_RUNTIME");
    pool *p = calloc(1, sizeof *p);
    if (!p) {
        *rc = -ENOMEM;
        return NULL;
    }
    p->app = app;
    p->loop = loop ? loop : uv_default_loop();
    p->live = live;
    char key[128];
    snprintf(key, sizeof key, "languageWorkers__%s__workerDirectory", lang);
    char *error = NULL;
    if (fnh__worker_config_find(lang, fnh__app_setting(app, key), &p->cfg, &error)) {
        fnh__strlist_addf(&app->host_errors, "%s", error ? error : "out of memory");
        free(error);
        free(p);
        return NULL;
    }
    const char *count = fnh__app_setting(app, "FUNCTIONS_WORKER_PROCESS_COUNT");
    p->nw = count && *count ? atoi(count) : 1;
    if (p->nw < 1 || p->nw > MAX_WORKERS) {
        fnh__strlist_addf(&app->errors,
                          "FUNCTIONS_WORKER_PROCESS_COUNT is '%s'; it must be a whole number "
                          "from 1 to %d, so 1 is used",
                          count, MAX_WORKERS);
        p->nw = 1;
    }
    if (!live)
        p->nw = 1; /* indexing only */
    p->root = realpath(app->root, NULL);
    p->w = calloc((size_t)p->nw, sizeof *p->w);
    if (!p->root || !p->w) {
        free(p->root);
        free(p->w);
        fnh__worker_config_free(&p->cfg);
        free(p);
        *rc = -ENOMEM;
        return NULL;
    }
    return p;
}

/* Takes the functions the worker indexed into the app (those of
 * functions_csv), run by the language runner. 0, or -EINVAL after adding a
 * host error (the pool is then stopped). */
static int take_indexed(pool *p, const char *functions_csv)
{
    fnh__app *app = p->app;
    if (p->fail) {
        fnh__strlist_addf(&app->host_errors, "%s", p->fail);
        stop_now(p, STOP_GRACE_MS);
        return -EINVAL;
    }
    if (p->meta) {
        add_indexed_functions(p, functions_csv);
        if (app->nfunctions > 1)
            qsort(app->functions, app->nfunctions, sizeof *app->functions, cmp_fn);
    }
    /* the Node.js worker reports an entry point that fails to load on stderr
     * and carries on with no functions: the app did not load (start-up
     * fails; a reload is refused and the last good version serves on) */
    if (!app->nfunctions && p->early_err) {
        fnh__strlist_addf(&app->host_errors,
                          "The %s language worker loaded no functions from %s; it wrote: %s "
                          "(fix the app's code; the worker's output above has the details)",
                          p->cfg.language, p->root, p->early_err);
        stop_now(p, STOP_GRACE_MS);
        return -EINVAL;
    }
    for (size_t i = 0; i < app->nfunctions; i++) {
        fnh__function *fn = app->functions[i];
        fn->runner = &fnh__runner_language;
        fn->run_inline = 0;
    }
    return 0;
}

int fnh__lang_prepare(fnh__app *app, const char *functions_csv, uv_loop_t *loop, int live)
{
    if (!fnh__lang_wanted(app) || app->host_errors.len)
        return 0;
    int rc;
    pool *p = pool_new(app, loop, live, &rc);
    if (!p)
        return rc;
    p->next = g.pools;
    g.pools = p;
    fnh__supervisor_init(p->loop);
    rc = fnh__app_part_set(app, PART, p, pool_state_free);
    if (rc)
        return rc; /* pool_state_free has run */
    rc = start_workers(p);
    if (rc)
        return rc;
    if (!p->fail) {
        uint64_t t0 = fnh__now_ns();
        wait_indexed(p);
        fnh__log("Host.Startup", FNH_LOG_DEBUG, "The %s worker indexed the app in %llu ms",
                 p->cfg.language, (unsigned long long)((fnh__now_ns() - t0) / 1000000u));
    }
    if (take_indexed(p, functions_csv))
        return 0; /* a host error says why */
    if (!live) {
        stop_now(p, STOP_GRACE_MS);
        return 0;
    }
    p->functions_ready = 1;
    for (int i = 0; i < p->nw; i++)
        if (p->w[i].state == W_INDEXED)
            send_loads(&p->w[i]);
    tick_start(p);
    return 0;
}

int fnh__lang_shutdown(uint64_t grace_ms)
{
    int left = 0;
    for (;;) { /* from the head each time: running the loop may free an old app's pool */
        pool *p = g.pools;
        while (p && (p->stopped || p->freeing))
            p = p->next;
        if (!p)
            break;
        left += stop_now(p, grace_ms); /* marks it stopped */
    }
    return left;
}
