/* custom_handler.c: the custom-handler runner: host.json's handler
 * description, the handler process (through the supervisor, dying with the
 * host), readiness by polling until it answers HTTP, invocations sent to it
 * over kept-alive connections (several in flight), and one completion per
 * invocation whether the handler answered, died, never became ready or the
 * invocation timed out. */
#include "custom_handler.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "custom_payload.h"
#include "dispatch.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "strlist.h"
#include "supervisor.h"

#define PART_KEY "customHandler"
#define CATEGORY "Host.CustomHandler"
#define DEFAULT_INIT_TIMEOUT_MS 30000
#define POLL_MS 25u
#define SLOW_POLL_MS 500u
#define STOP_GRACE_MS 2000u
#define MAX_CONNS 256u
#define MAX_RESPONSE ((size_t)210 * 1024 * 1024) /* a body past Kestrel's 100 MB, encoded */

typedef struct ch ch;

typedef struct job {
    ch *h;
    fnh__invocation *inv;
    fnh__hc_req *req;     /* under way, or NULL while waiting for readiness */
    int forwarded;
    int timed_out;
    struct job *prev, *next;
} job;

/* One app snapshot's handler: its "customHandler" part. */
struct ch {
    char *exe_shown;        /* defaultExecutablePath as written, for messages */
    fnh__strlist argv;      /* fnhost __exec-child EXE ARGS... */
    fnh__strlist env;       /* "K=V" */
    char **argv_v, **env_v; /* NULL-terminated views of the lists */
    char *cwd;
    int forwarding;         /* HTTP-only functions are replayed as they came */
    int legacy;             /* the httpWorker section: forwarding always */
    int64_t init_timeout_ms;
    int port;
    char worker_id[37];
    fnh__child_kind kind;
    fnh__child *child;
    fnh__hc *hc;
    int ready;              /* answered HTTP since it last started */
    int gave_up;            /* not ready within the timeout: invocations fail at once */
    uint64_t started_ns;
    uv_timer_t poll;
    fnh__hc_req *probe;
    job *waiting;           /* until it is ready (a list in arrival order) */
    job *running;           /* sent to it */
    size_t nrunning, nwaiting;
    unsigned crashes;       /* ended unasked since its last answer */
    uv_timer_t later;       /* completes what ended inside a call (next loop turn) */
    job *finished;
    int freed;              /* its snapshot is gone: free once the child has stopped */
    int in_down;            /* inside child_down: the supervisor frees a stopped child */
    ch *next_all;           /* every handler state not yet freed */
};

static ch *g_all;          /* loop thread */
static uv_loop_t *g_loop;

static const char *fn_category(const fnh__function *fn)
{
    return fn->log_category ? fn->log_category : "Function";
}

/* ---- lists ---------------------------------------------------------------------- */

static void list_add_tail(job **head, job *j)
{
    j->next = NULL;
    j->prev = NULL;
    if (!*head) {
        *head = j;
        j->prev = j; /* the head's prev is the tail */
        return;
    }
    job *tail = (*head)->prev;
    tail->next = j;
    j->prev = tail;
    (*head)->prev = j;
}

static void list_remove(job **head, job *j)
{
    if (*head == j) {
        *head = j->next;
        if (*head)
            (*head)->prev = j->prev;
    } else {
        j->prev->next = j->next;
        if (j->next)
            j->next->prev = j->prev;
        else
            (*head)->prev = j->prev;
    }
    j->next = j->prev = NULL;
}

/* ---- completions ------------------------------------------------------------------ */

static void complete(job *j, int rc)
{
    fnh__invocation *inv = j->inv;
    if (j->timed_out)
        rc = -ETIMEDOUT;
    inv->rc = rc;
    free(j);
    fnh__dispatch_ran(inv);
}

static void later_cb(uv_timer_t *t)
{
    ch *h = t->data;
    while (h->finished) {
        job *j = h->finished;
        h->finished = j->next;
        complete(j, j->inv->rc);
    }
}

/* Completes j with rc on the next loop turn, never inside the caller's
 * call (dispatch may still be using the invocation). */
static void complete_later(job *j, int rc)
{
    ch *h = j->h;
    j->inv->rc = rc;
    j->prev = NULL;
    j->next = NULL;
    job **pp = &h->finished;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    uv_timer_start(&h->later, later_cb, 0, 0);
}

static void fail_waiting(ch *h, int rc, const char *why)
{
    while (h->waiting) {
        job *j = h->waiting;
        list_remove(&h->waiting, j);
        h->nwaiting--;
        if (why)
            fnh__log(fn_category(j->inv->fn), FNH_LOG_ERROR, "Function '%s' (Id=%s) failed: %s",
                     j->inv->fn->name, j->inv->id, why);
        complete(j, rc);
    }
}

/* ---- invocations ------------------------------------------------------------------ */

static void answered(void *arg, int rc, const fnh__hc_response *res)
{
    job *j = arg;
    ch *h = j->h;
    fnh__invocation *inv = j->inv;
    list_remove(&h->running, j);
    h->nrunning--;
    j->req = NULL;
    if (rc) {
        if (!j->timed_out)
            fnh__log(fn_category(inv->fn), FNH_LOG_ERROR,
                     "Function '%s' (Id=%s) failed: the custom handler (%s) did not answer: %s",
                     inv->fn->name, inv->id, h->exe_shown,
                     rc == -EMSGSIZE ? "its response exceeds the size limit" : uv_strerror(rc));
        complete(j, rc == -ECANCELED ? -ECANCELED : -EIO);
        return;
    }
    if (h->child)
        fnh__child_healthy(h->child);
    h->crashes = 0;
    char *error = NULL;
    if (!j->timed_out) {
        if (j->forwarded)
            fnh__chp_apply_forwarded(inv, res, &error);
        else
            fnh__chp_apply(inv, res, &error);
    }
    if (error)
        fnh__log(fn_category(inv->fn), FNH_LOG_ERROR, "Function '%s' (Id=%s) failed: %s",
                 inv->fn->name, inv->id, error);
    free(error);
    complete(j, j->timed_out ? -ETIMEDOUT : inv->rc);
}

static void send_job(ch *h, job *j)
{
    fnh__invocation *inv = j->inv;
    fnh__buf b = {0};
    j->forwarded = inv->in.http && (h->forwarding || h->legacy) && fnh__chp_forwardable(inv->fn);
    int rc = j->forwarded ? fnh__chp_forward_request(inv, &b) : fnh__chp_request(inv, h->port, &b);
    int is_head = j->forwarded && inv->in.http->method == FNH__M_HEAD;
    __atomic_store_n(&inv->run_ns, fnh__now_ns(), __ATOMIC_RELEASE);
    list_add_tail(&h->running, j);
    h->nrunning++;
    j->req = rc ? NULL : fnh__hc_send(h->hc, &b, is_head, 0, answered, j);
    fnh__buf_free(&b);
    if (!j->req) {
        list_remove(&h->running, j);
        h->nrunning--;
        complete_later(j, -ENOMEM);
    }
}

static void runner_start(fnh__invocation *inv)
{
    ch *h = fnh__app_part_get(inv->app, PART_KEY);
    job *j = h ? calloc(1, sizeof *j) : NULL;
    if (!j) {
        if (!h)
            fnh__log(fn_category(inv->fn), FNH_LOG_ERROR,
                     "Function '%s' (Id=%s) failed: no custom handler runs for this app",
                     inv->fn->name, inv->id);
        inv->rc = h ? -ENOMEM : -ENOEXEC;
        fnh__dispatch_ran(inv);
        return;
    }
    j->h = h;
    j->inv = inv;
    if (h->ready) {
        send_job(h, j);
        return;
    }
    if (h->gave_up || !h->child) {
        fnh__log(fn_category(inv->fn), FNH_LOG_ERROR,
                 "Function '%s' (Id=%s) failed: the custom handler (%s) is not answering HTTP on "
                 "127.0.0.1:%d",
                 inv->fn->name, inv->id, h->exe_shown, h->port);
        complete_later(j, -EHOSTDOWN);
        return;
    }
    list_add_tail(&h->waiting, j);
    h->nwaiting++;
}

static void runner_cancel(fnh__invocation *inv)
{
    ch *h = fnh__app_part_get(inv->app, PART_KEY);
    if (!h)
        return;
    for (job *j = h->waiting; j; j = j->next)
        if (j->inv == inv) {
            list_remove(&h->waiting, j);
            h->nwaiting--;
            j->timed_out = 1;
            complete_later(j, -ETIMEDOUT);
            return;
        }
    for (job *j = h->running; j; j = j->next)
        if (j->inv == inv) {
            /* the handler's request is abandoned (its connection closed) */
            list_remove(&h->running, j);
            h->nrunning--;
            if (j->req)
                fnh__hc_abort(j->req);
            j->req = NULL;
            j->timed_out = 1;
            complete_later(j, -ETIMEDOUT);
            return;
        }
}

const fnh__runner fnh__runner_custom = {
    .name = "custom-handler",
    .start = runner_start,
    .cancel = runner_cancel,
};

/* ---- readiness ---------------------------------------------------------------------- */

static void poll_cb(uv_timer_t *t);

static void became_ready(ch *h)
{
    h->ready = 1;
    h->gave_up = 0;
    fnh__log(CATEGORY, FNH_LOG_INFO, "Custom handler (%s) is answering on 127.0.0.1:%d (%llu ms)",
             h->exe_shown, h->port,
             (unsigned long long)((fnh__now_ns() - h->started_ns) / 1000000u));
    while (h->waiting) {
        job *j = h->waiting;
        list_remove(&h->waiting, j);
        h->nwaiting--;
        send_job(h, j);
    }
}

static void probed(void *arg, int rc, const fnh__hc_response *res)
{
    ch *h = arg;
    (void)res;
    h->probe = NULL;
    if (!h->child || h->ready)
        return;
    if (rc == 0 || (rc != UV_ECONNREFUSED && rc != -ECONNRESET && rc != UV_ECONNRESET &&
                    rc != -ECANCELED && rc != UV_ETIMEDOUT)) {
        became_ready(h); /* any HTTP answer, or anything but a refusal (Azure's rule) */
        return;
    }
    uint64_t waited_ms = (fnh__now_ns() - h->started_ns) / 1000000u;
    if (!h->gave_up && (int64_t)waited_ms >= h->init_timeout_ms) {
        h->gave_up = 1;
        char ts[32];
        fnh__timespan_fmt(h->init_timeout_ms, ts);
        char *why = fnh__asprintf(
            "the custom handler '%s' did not answer HTTP on 127.0.0.1:%d within %s "
            "(customHandler.initializationTimeout); it must listen on the port in "
            "FUNCTIONS_CUSTOMHANDLER_PORT",
            h->exe_shown, h->port, ts);
        fnh__log(CATEGORY, FNH_LOG_ERROR, "Initializing the custom handler timed out: %s",
                 why ? why : "");
        fail_waiting(h, -EHOSTDOWN, why);
        free(why);
    }
    uv_timer_start(&h->poll, poll_cb, h->gave_up ? SLOW_POLL_MS : POLL_MS, 0);
}

static void poll_cb(uv_timer_t *t)
{
    ch *h = t->data;
    if (!h->child || h->ready || h->probe)
        return;
    fnh__buf b = {0};
    fnh__buf_printf(&b, "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: Azure-Functions-Host/"
                        "%s\r\nConnection: close\r\n\r\n",
                    h->port, FNH_VERSION);
    h->probe = fnh__hc_send(h->hc, &b, 0, 1, probed, h);
    fnh__buf_free(&b);
    if (!h->probe)
        uv_timer_start(&h->poll, poll_cb, SLOW_POLL_MS, 0);
}

/* ---- the process --------------------------------------------------------------------- */

static void state_free_now(ch *h);

static void child_up(fnh__child *c)
{
    ch *h = fnh__child_data(c);
    h->ready = 0;
    h->gave_up = 0;
    h->started_ns = fnh__now_ns();
    fnh__log(CATEGORY, FNH_LOG_DEBUG, "Custom handler %s started (pid %d) on port %d",
             h->exe_shown, fnh__child_pid(c), h->port);
    uv_timer_start(&h->poll, poll_cb, 0, 0);
}

static void child_down(fnh__child *c, const fnh__child_exit *e)
{
    ch *h = fnh__child_data(c);
    h->ready = 0;
    h->in_down = 1;
    uv_timer_stop(&h->poll);
    if (h->probe) {
        fnh__hc_abort(h->probe);
        h->probe = NULL;
    }
    if (e->final)
        h->child = NULL;
    if (!e->requested)
        h->crashes++;
    const char *why = e->spawn_error ? "could not be started" : "ended";
    /* what it was running fails cleanly; its connections are gone */
    while (h->running) {
        job *j = h->running;
        list_remove(&h->running, j);
        h->nrunning--;
        if (j->req)
            fnh__hc_abort(j->req);
        if (!j->timed_out)
            fnh__log(fn_category(j->inv->fn), FNH_LOG_ERROR,
                     "Function '%s' (Id=%s) failed: its custom handler (%s) %s (%s)%s",
                     j->inv->fn->name, j->inv->id, h->exe_shown, why, e->text,
                     e->final ? "" : "; it is restarted");
        complete(j, e->requested && e->final ? -ECANCELED : -ECHILD);
    }
    fnh__hc_close_idle(h->hc);
    if (e->spawn_error)
        fnh__log(CATEGORY, FNH_LOG_ERROR,
                 "The custom handler '%s' could not be started: %s; check "
                 "customHandler.description.defaultExecutablePath in host.json",
                 h->exe_shown, uv_strerror(e->spawn_error));
    if (!e->requested && h->crashes >= 3 && !e->final)
        fnh__log(CATEGORY, FNH_LOG_ERROR,
                 "The custom handler '%s' ended %u times in a row without answering; restarting "
                 "it in %llu ms",
                 h->exe_shown, h->crashes, (unsigned long long)e->restart_ms);
    if (e->final)
        fail_waiting(h, -ECANCELED, NULL);
    h->in_down = 0;
    if (h->freed && !h->child) /* its snapshot went while it ran, or during this call */
        state_free_now(h);
}

/* A free TCP port on 127.0.0.1 (as Azure's GetUnusedTcpPort) other than
 * avoid, or 0. The port the host is about to listen on can be free still:
 * the kernel may offer it, and is then asked again while it is held. */
static int unused_port(int avoid)
{
    int held = -1, port = 0;
    for (int tries = 0; tries < 2 && !port; tries++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            break;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &len) == 0)
            port = ntohs(a.sin_port);
        if (port && port == avoid) {
            port = 0;
            held = fd; /* kept bound, so the next try gets another */
            continue;
        }
        close(fd);
    }
    if (held >= 0)
        close(held);
    return port;
}

/* ---- lifetime ------------------------------------------------------------------------ */

/* Frees h and what it owns directly (command line, environment, paths);
 * its handles and client are closed or freed by the caller. */
static void ch_free(ch *h)
{
    fnh__strlist_free(&h->argv);
    fnh__strlist_free(&h->env);
    free(h->argv_v);
    free(h->env_v);
    free(h->cwd);
    free(h->exe_shown);
    free(h);
}

static void poll_closed(uv_handle_t *hd)
{
    ch *h = hd->data;
    if (!uv_is_closing((uv_handle_t *)&h->later)) {
        uv_close((uv_handle_t *)&h->later, poll_closed);
        return;
    }
    for (ch **pp = &g_all; *pp; pp = &(*pp)->next_all)
        if (*pp == h) {
            *pp = h->next_all;
            break;
        }
    ch_free(h);
}

static void state_free_now(ch *h)
{
    later_cb(&h->later);
    fail_waiting(h, -ECANCELED, NULL);
    fnh__hc_free(h->hc); /* what still runs ends with -ECANCELED */
    h->hc = NULL;
    uv_close((uv_handle_t *)&h->poll, poll_closed);
}

/* The snapshot is freed: stop the handler; the state goes once it has. */
static void state_free(void *p)
{
    ch *h = p;
    h->freed = 1;
    uv_timer_stop(&h->poll);
    if (h->child) {
        fnh__child *c = h->child;
        if (!fnh__child_pid(c))
            h->child = NULL; /* between runs (or ending now): no final down() comes */
        fnh__child_stop(c, STOP_GRACE_MS);
        if (h->child || h->in_down)
            return; /* child_down (final, or the one under way) frees the rest */
    }
    state_free_now(h);
}

/* ---- configuration ------------------------------------------------------------------- */

#define HERR(app, ...) fnh__strlist_addf(&(app)->host_errors, __VA_ARGS__)

static const cJSON *section_of(const fnh__app *app, const char **name)
{
    const cJSON *s = app->host_json ? cJSON_GetObjectItem(app->host_json, "customHandler") : NULL;
    *name = "customHandler";
    if (!s && app->host_json) {
        s = cJSON_GetObjectItem(app->host_json, "httpWorker");
        *name = "httpWorker";
    }
    return s;
}

int fnh__custom_handler_app(const fnh__app *app)
{
    const char *name;
    if (section_of(app, &name))
        return 1;
    const char *rt = fnh__app_setting(app, "FUNCTIONS_WORKER_RUNTIME");
    return rt && strcasecmp(rt, "custom") == 0;
}

/* %NAME% replaced by the app setting or environment variable; unset ones
 * removed (Azure's SanitizeExpandedArgument). malloc'd. */
static char *expand(const fnh__app *app, const char *s)
{
    fnh__buf b = {0};
    fnh__buf_puts(&b, "");
    while (*s) {
        const char *p = strchr(s, '%');
        const char *q = p ? strchr(p + 1, '%') : NULL;
        if (!p || !q || q == p + 1) {
            fnh__buf_puts(&b, s);
            break;
        }
        fnh__buf_append(&b, s, (size_t)(p - s));
        char *name = fnh__strndup(p + 1, (size_t)(q - p - 1));
        const char *v = name ? fnh__app_setting(app, name) : NULL;
        if (v)
            fnh__buf_puts(&b, v);
        free(name);
        s = q + 1;
    }
    return fnh__buf_take(&b);
}

/* Appends the strings of JSON array v (path jpath) to l, expanded. */
static void read_args(fnh__app *app, const cJSON *v, const char *sname, const char *key,
                      fnh__strlist *l)
{
    char jpath[96];
    snprintf(jpath, sizeof jpath, "%s.description.%s", sname, key);
    if (!v || cJSON_IsNull(v))
        return;
    if (!cJSON_IsArray(v)) {
        HERR(app, "host.json: %s: must be an array of strings, e.g. [\"server.js\"]", jpath);
        return;
    }
    int i = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, v)
    {
        if (!cJSON_IsString(a))
            HERR(app, "host.json: %s[%d]: must be a string", jpath, i);
        else
            fnh__strlist_take(l, expand(app, a->valuestring));
        i++;
    }
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* 1 when name (no '/') is an executable file in a folder of PATH. */
static int on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char *full = fnh__asprintf("%.*s/%s", (int)n, path, name);
        int ok = full && is_file(full) && access(full, X_OK) == 0;
        free(full);
        if (ok)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

static char *join(const char *dir, const char *rel)
{
    if (rel[0] == '/')
        return fnh__strdup(rel);
    return fnh__asprintf("%s/%s", dir, rel);
}

/* The section's options beside its description: the legacy name,
 * enableForwardingHttpRequest, initializationTimeout. Errors go to the app. */
static void read_options(fnh__app *app, const cJSON *sec, const char *sname, ch *h)
{
    h->legacy = strcmp(sname, "httpWorker") == 0;
    if (h->legacy)
        fnh__strlist_addf(&app->warnings, "host.json: httpWorker: this section will be "
                                          "deprecated; use \"customHandler\" instead");
    else if (app->host_json && cJSON_GetObjectItem(app->host_json, "httpWorker"))
        fnh__strlist_addf(&app->warnings, "host.json: both httpWorker and customHandler are "
                                          "given; customHandler takes precedence");
    const cJSON *fwd = cJSON_GetObjectItem(sec, "enableForwardingHttpRequest");
    if (fwd && !cJSON_IsBool(fwd))
        HERR(app, "host.json: %s.enableForwardingHttpRequest: must be true or false", sname);
    h->forwarding = cJSON_IsTrue(fwd);
    h->init_timeout_ms = DEFAULT_INIT_TIMEOUT_MS;
    const cJSON *it = cJSON_GetObjectItem(sec, "initializationTimeout");
    if (it) {
        char jpath[64];
        snprintf(jpath, sizeof jpath, "%s.initializationTimeout", sname);
        uint64_t ms = (uint64_t)DEFAULT_INIT_TIMEOUT_MS;
        fnh__json_read_timespan(&app->host_errors, "host.json", it, jpath, 1, &ms);
        h->init_timeout_ms = ms == UINT64_MAX ? INT64_MAX : (int64_t)ms;
    }
}

/* The program defaultExecutablePath names (exe_path, settings expanded): a
 * relative path that names a file of the app (in worker_dir, then h->cwd),
 * else a program on PATH, else an absolute path. Returns the path to run
 * (the caller frees it; NULL when out of memory); errors go to the app. */
static char *resolve_program(fnh__app *app, const ch *h, const char *sname,
                             const char *exe_path, const char *worker_dir)
{
    char *resolved = NULL;
    if (exe_path && exe_path[0] != '/') {
        const char *dirs[] = {worker_dir, h->cwd};
        for (int i = 0; i < 2 && !resolved; i++) {
            char *full = dirs[i] ? join(dirs[i], exe_path) : NULL;
            if (full && is_file(full))
                resolved = full;
            else
                free(full);
        }
    }
    const char *looked = worker_dir ? worker_dir : app->root;
    if (!resolved && exe_path && !strchr(exe_path, '/') && !on_path(exe_path))
        HERR(app, "host.json: %s.description.defaultExecutablePath: '%s' is neither a file of "
                  "the app (looked in %s) nor a program on PATH; install it or fix the path",
             sname, exe_path, looked);
    else if (!resolved && exe_path && exe_path[0] != '/' && strchr(exe_path, '/'))
        HERR(app, "host.json: %s.description.defaultExecutablePath: '%s' does not exist "
                  "(looked in %s); build it or fix the path",
             sname, exe_path, looked);
    else if (exe_path && exe_path[0] == '/' && !is_file(exe_path))
        HERR(app, "host.json: %s.description.defaultExecutablePath: '%s' does not exist; "
                  "build it or fix the path",
             sname, exe_path);
    return resolved ? resolved : fnh__strdup(exe_path);
}

/* The section's description d (an object): the working directory, and the
 * command line in h->argv (fnhost's own exec-child stub, the program, its
 * arguments, defaultWorkerPath, workerArguments). 0, or -EINVAL after
 * adding host errors. */
static int read_description(fnh__app *app, const cJSON *d, const char *sname, ch *h)
{
    const cJSON *exe = cJSON_GetObjectItem(d, "defaultExecutablePath");
    if (!cJSON_IsString(exe) || !exe->valuestring[0]) {
        HERR(app, "host.json: %s.description.defaultExecutablePath: WorkerDescription "
                  "DefaultExecutablePath cannot be empty; name the program that serves your "
                  "functions, e.g. \"handler\" or \"node\"",
             sname);
        return -EINVAL;
    }
    const cJSON *wd = cJSON_GetObjectItem(d, "workingDirectory");
    if (wd && !cJSON_IsString(wd) && !cJSON_IsNull(wd))
        HERR(app, "host.json: %s.description.workingDirectory: must be a string (a folder, "
                  "relative to the app root or absolute)",
             sname);
    h->cwd = cJSON_IsString(wd) && wd->valuestring[0] ? join(app->root, wd->valuestring)
                                                      : fnh__strdup(app->root);
    const cJSON *wdir = cJSON_GetObjectItem(d, "workerDirectory");
    char *worker_dir = cJSON_IsString(wdir) && wdir->valuestring[0]
                           ? join(app->root, wdir->valuestring)
                           : fnh__strdup(app->root);
    char *exe_path = expand(app, exe->valuestring);
    h->exe_shown = fnh__strdup(exe->valuestring);
    char *program = resolve_program(app, h, sname, exe_path, worker_dir);
    free(worker_dir);
    free(exe_path);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    fnh__strlist_addf(&h->argv, "%s", self);
    fnh__strlist_addf(&h->argv, "__exec-child");
    fnh__strlist_take(&h->argv, program);
    read_args(app, cJSON_GetObjectItem(d, "arguments"), sname, "arguments", &h->argv);
    const cJSON *wp = cJSON_GetObjectItem(d, "defaultWorkerPath");
    if (cJSON_IsString(wp) && wp->valuestring[0])
        fnh__strlist_take(&h->argv, expand(app, wp->valuestring));
    read_args(app, cJSON_GetObjectItem(d, "workerArguments"), sname, "workerArguments", &h->argv);
    if (!h->cwd || !h->exe_shown || !program)
        return -ENOMEM;
    struct stat st;
    if (stat(h->cwd, &st) != 0 || !S_ISDIR(st.st_mode))
        HERR(app, "host.json: %s.description.workingDirectory: '%s' is not a folder; create it "
                  "or fix the path",
             sname, h->cwd);
    return 0;
}

/* Reads the section into h; 0, or -EINVAL after adding host errors. */
static int read_config(fnh__app *app, ch *h)
{
    const char *sname;
    const cJSON *sec = section_of(app, &sname);
    size_t errors_before = app->host_errors.len;
    if (!sec) {
        HERR(app, "host.json: customHandler: missing, but FUNCTIONS_WORKER_RUNTIME is 'custom'; "
                  "add \"customHandler\": {\"description\": {\"defaultExecutablePath\": "
                  "\"<your program>\"}}");
        return -EINVAL;
    }
    if (!cJSON_IsObject(sec)) {
        HERR(app, "host.json: %s: must be an object with a \"description\"", sname);
        return -EINVAL;
    }
    read_options(app, sec, sname, h);
    const cJSON *d = cJSON_GetObjectItem(sec, "description");
    if (!cJSON_IsObject(d)) {
        HERR(app, "host.json: %s.description: %s; add \"description\": "
                  "{\"defaultExecutablePath\": \"<your program>\"}",
             sname, d ? "must be an object" : "Missing worker Description");
        return -EINVAL;
    }
    int rc = read_description(app, d, sname, h);
    if (rc)
        return rc;
    return app->host_errors.len > errors_before ? -EINVAL : 0;
}

/* The handler's environment: the app settings and Azure's variables. */
static int build_env(fnh__app *app, ch *h)
{
    for (size_t i = 0; i < app->settings.len; i++) {
        const char *item = app->settings.items[i];
        const char *eq = strchr(item, '=');
        if (!eq)
            continue;
        char *name = fnh__strndup(item, (size_t)(eq - item));
        const char *v = name ? fnh__app_setting(app, name) : NULL;
        if (v)
            fnh__strlist_addf(&h->env, "%s=%s", name, v);
        free(name);
    }
    fnh__strlist_addf(&h->env, "FUNCTIONS_CUSTOMHANDLER_PORT=%d", h->port);
    fnh__strlist_addf(&h->env, "FUNCTIONS_CUSTOMHANDLER_WORKER_ID=%s", h->worker_id);
    fnh__strlist_addf(&h->env, "FUNCTIONS_HTTPWORKER_PORT=%d", h->port);
    fnh__strlist_addf(&h->env, "FUNCTIONS_HTTPWORKER_ID=%s", h->worker_id);
    /* Windows reads environment names in any case, so handlers written there
     * (Azure's own CustomHandlerRetry sample) read the lower-case spelling */
    fnh__strlist_addf(&h->env, "functions_customhandler_port=%d", h->port);
    fnh__strlist_addf(&h->env, "functions_httpworker_port=%d", h->port);
    fnh__strlist_addf(&h->env, "FUNCTIONS_APP_ROOT_PATH=%s", app->root);
    h->argv_v = calloc(h->argv.len + 1, sizeof *h->argv_v);
    h->env_v = calloc(h->env.len + 1, sizeof *h->env_v);
    if (!h->argv_v || !h->env_v)
        return -ENOMEM;
    memcpy(h->argv_v, h->argv.items, h->argv.len * sizeof *h->argv_v);
    memcpy(h->env_v, h->env.items, h->env.len * sizeof *h->env_v);
    return 0;
}

void fnh__custom_handler_prepare(fnh__app *app, uv_loop_t *loop)
{
    ch *h = calloc(1, sizeof *h);
    if (!h) {
        HERR(app, "out of memory preparing the custom handler");
        return;
    }
    int rc = read_config(app, h);
    for (size_t i = 0; i < app->nfunctions; i++) {
        fnh__function *fn = app->functions[i];
        if (!fnh__function_ok(fn))
            continue;
        fn->runner = &fnh__runner_custom;
        fn->run_inline = 0;
    }
    if (rc || !loop) {
        ch_free(h);
        return;
    }
    fnh__supervisor_init(loop);
    h->port = unused_port(app->listen_port);
    fnh__uuid(h->worker_id);
    if (!h->port || build_env(app, h) || fnh__hc_new(loop, h->port, MAX_CONNS, MAX_RESPONSE,
                                                     &h->hc)) {
        HERR(app, "cannot prepare the custom handler '%s': no free port or out of memory",
             h->exe_shown);
        fnh__hc_free(h->hc);
        ch_free(h);
        return;
    }
    uv_timer_init(loop, &h->poll);
    h->poll.data = h;
    uv_timer_init(loop, &h->later);
    h->later.data = h;
    h->kind = (fnh__child_kind){
        .name = "custom-handler",
        .argv = (const char *const *)h->argv_v,
        .env = (const char *const *)h->env_v,
        .cwd = h->cwd,
        .restart = FNH__RESTART_ALWAYS,
        .up = child_up,
        .down = child_down,
    };
    g_loop = loop;
    h->next_all = g_all;
    g_all = h;
    if (fnh__app_part_set(app, PART_KEY, h, state_free))
        return; /* state_free has run */
    rc = fnh__child_start(&h->kind, h, &h->child);
    if (rc)
        fnh__log(CATEGORY, FNH_LOG_ERROR,
                 "The custom handler '%s' could not be started: %s; check "
                 "customHandler.description.defaultExecutablePath in host.json (a file of the "
                 "app or a program on PATH)",
                 h->exe_shown, uv_strerror(rc));
}

int fnh__custom_handler_shutdown(uint64_t grace_ms)
{
    for (ch *h = g_all; h; h = h->next_all) {
        uv_timer_stop(&h->poll);
        if (!h->child)
            continue;
        fnh__child *c = h->child;
        if (!fnh__child_pid(c))
            h->child = NULL; /* between runs: freed at once, no down() */
        fnh__child_stop(c, grace_ms);
    }
    uint64_t deadline = fnh__now_ns() + (grace_ms + 1000) * 1000000u;
    for (;;) {
        int left = 0;
        for (ch *h = g_all; h; h = h->next_all)
            left += h->child != NULL;
        if (!left || fnh__now_ns() >= deadline)
            return left;
        uv_run(g_loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
}
