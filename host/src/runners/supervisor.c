/* supervisor.c: child processes. Each run of a child ("life") owns its
 * process handle and pipes; when it ends, everything it wrote is read
 * (channel, stdout, stderr), what is left of its process group is killed,
 * the owner hears about it, the handles close and a restart is scheduled:
 * at once after a healthy run or a kill the host asked for, else after
 * 100 ms doubling up to the kind's cap. */
#include "supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "settings.h"
#include "stream_write.h"

extern char **environ;

#define DEFAULT_BACKOFF_MAX_MS 10000u
#define DEFAULT_HEALTHY_MS 10000u
#define FIRST_BACKOFF_MS 100u
#define EOF_GRACE_MS 1000u

typedef struct life {
    fnh__child *c;
    uv_process_t proc;
    uv_pipe_t out, err, chan;
    int has_chan;
    int nopen;          /* handles not closed yet */
    fnh__buf line[2];   /* unfinished stdout / stderr line */
} life;

struct fnh__child {
    const fnh__child_kind *kind;
    void *data;
    char name[40];
    char category[56];
    life *cur;          /* the running process, or NULL */
    int pid;
    uint64_t started_ns;
    unsigned fails;     /* unrequested quick exits in a row */
    int requested;      /* the host asked for the coming exit */
    int stopping;       /* no restart; freed after its exit */
    int in_down;        /* inside kind->down: whoever called it frees */
    uv_timer_t timer;   /* restart delay, or SIGKILL after the stop grace */
    fnh__child *next;
};

static struct {
    uv_loop_t *loop;
    fnh__child *all;
    unsigned serial;
} g;

/* "signal 11 (SIGSEGV)" or "exit status 3" into out[48]. */
static void exit_text(int64_t status, int signal, char out[48])
{
    if (signal) {
        const char *abbrev = sigabbrev_np(signal);
        snprintf(out, 48, "signal %d (SIG%s)", signal, abbrev ? abbrev : "?");
    } else {
        snprintf(out, 48, "exit status %lld", (long long)status);
    }
}

int fnh__supervisor_init(uv_loop_t *loop)
{
    g.loop = loop;
    return 0;
}

void *fnh__child_data(const fnh__child *c)
{
    return c->data;
}

const char *fnh__child_name(const fnh__child *c)
{
    return c->name;
}

int fnh__child_pid(const fnh__child *c)
{
    return c->cur ? c->pid : 0;
}

size_t fnh__supervisor_children(void)
{
    size_t n = 0;
    for (fnh__child *c = g.all; c; c = c->next)
        n++;
    return n;
}

/* ---- output lines ------------------------------------------------------------ */

/* Logs each complete line of b (all of it when flush), keeps the rest. */
static void log_lines(fnh__child *c, fnh__buf *b, fnh_log_level level, int flush)
{
    if (!b->len)
        return;
    size_t start = 0;
    for (;;) {
        char *nl = memchr(b->data + start, '\n', b->len - start);
        size_t end = nl ? (size_t)(nl - b->data) : b->len;
        if (!nl && !(flush && end > start))
            break;
        size_t n = end - start;
        if (n && b->data[start + n - 1] == '\r')
            n--;
        if (c->kind->line)
            c->kind->line(c, level == FNH_LOG_ERROR, b->data + start, n);
        else if (fnh__log_enabled(c->category, level))
            fnh__log_line(c->category, level, b->data + start, n);
        start = nl ? end + 1 : end;
    }
    memmove(b->data, b->data + start, b->len - start);
    b->len -= start;
}

static void line_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    life *l = h->data;
    fnh__buf *b = &l->line[(uv_pipe_t *)h == &l->err];
    if (fnh__buf_reserve(b, 4096)) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init(b->data + b->len, (unsigned)(b->cap - b->len - 1));
}

static void line_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    life *l = s->data;
    int is_err = (uv_pipe_t *)s == &l->err;
    if (n < 0) {
        uv_read_stop(s);
        return;
    }
    l->line[is_err].len += (size_t)n;
    if (l->c)
        log_lines(l->c, &l->line[is_err], is_err ? FNH_LOG_ERROR : FNH_LOG_INFO, 0);
    if (l->line[is_err].len > 65536 && l->c) /* a line that never ends: log it in pieces */
        log_lines(l->c, &l->line[is_err], is_err ? FNH_LOG_ERROR : FNH_LOG_INFO, 1);
}

/* ---- channel ----------------------------------------------------------------- */

static void chan_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    life *l = h->data;
    char *p = NULL;
    size_t n = l->c && l->c->kind->alloc ? l->c->kind->alloc(l->c, &p) : 0;
    *buf = uv_buf_init(p, (unsigned)(n > (1u << 30) ? 1u << 30 : n));
}

/* The channel ended EOF_GRACE_MS ago and the process still runs (a child
 * that dies closes it first): it can no longer be talked to. */
static void eof_cb(uv_timer_t *t)
{
    fnh__child *c = t->data;
    if (!c->cur)
        return;
    fnh__log(c->category, FNH_LOG_ERROR, "Child %s (pid %d) closed its protocol socket but "
                                          "kept running; killing it",
             c->name, c->pid);
    kill(-c->pid, SIGKILL);
}

static void chan_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    life *l = s->data;
    fnh__child *c = l->c;
    if (n > 0 && c && c->kind->read) {
        c->kind->read(c, (size_t)n);
        return;
    }
    if (n >= 0)
        return;
    uv_read_stop(s);
    if (c && c->cur == l && !c->stopping)
        uv_timer_start(&c->timer, eof_cb, EOF_GRACE_MS, 0);
}

typedef struct send_req {
    uv_write_t req;
    char *data;
} send_req;

static void send_done(uv_write_t *req, int status)
{
    (void)status; /* a broken channel shows up as the child's exit */
    send_req *r = (send_req *)req;
    free(r->data);
    free(r);
}

int fnh__child_send(fnh__child *c, fnh__buf *b)
{
    if (!c->cur || !c->cur->has_chan) {
        fnh__buf_free(b);
        return -EPIPE;
    }
    uv_buf_t ub = uv_buf_init(b->data, (unsigned)b->len);
    int rc = fnh__stream_try_write((uv_stream_t *)&c->cur->chan, &ub);
    if (rc != 0) { /* all of it went, or the channel is broken */
        fnh__buf_free(b);
        return rc < 0 ? rc : 0;
    }
    send_req *r = malloc(sizeof *r);
    if (!r) {
        fnh__buf_free(b);
        return -ENOMEM;
    }
    r->data = fnh__buf_take(b);
    rc = uv_write(&r->req, (uv_stream_t *)&c->cur->chan, &ub, 1, send_done);
    if (rc) {
        free(r->data);
        free(r);
        return rc;
    }
    return 0;
}

/* ---- life and death ---------------------------------------------------------- */

static void life_closed(uv_handle_t *h)
{
    life *l = h->data;
    if (--l->nopen == 0) {
        fnh__buf_free(&l->line[0]);
        fnh__buf_free(&l->line[1]);
        free(l);
    }
}

static void life_close(life *l)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&l->proc, (uv_handle_t *)&l->out,
                         (uv_handle_t *)&l->err, (uv_handle_t *)&l->chan};
    l->c = NULL;
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        if (hs[i]->type != UV_UNKNOWN_HANDLE && !uv_is_closing(hs[i]))
            uv_close(hs[i], life_closed);
}

/* Reads what a dead child left in a pipe, without waiting. */
static void drain(life *l, uv_pipe_t *p, int is_chan)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)p, &fd) != 0)
        return;
    fnh__child *c = l->c;
    for (;;) {
        uv_buf_t buf;
        if (is_chan)
            chan_alloc((uv_handle_t *)p, 0, &buf);
        else
            line_alloc((uv_handle_t *)p, 0, &buf);
        if (!buf.len)
            return;
        ssize_t n = read(fd, buf.base, buf.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (is_chan && c->kind->read)
            c->kind->read(c, (size_t)n);
        else if (!is_chan)
            l->line[p == &l->err].len += (size_t)n;
    }
    if (!is_chan)
        log_lines(c, &l->line[p == &l->err], p == &l->err ? FNH_LOG_ERROR : FNH_LOG_INFO, 1);
}

static void child_free_cb(uv_handle_t *h)
{
    free(h->data);
}

static void child_free(fnh__child *c)
{
    for (fnh__child **pp = &g.all; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    uv_close((uv_handle_t *)&c->timer, child_free_cb);
}

static int spawn(fnh__child *c);

static void call_down(fnh__child *c, const fnh__child_exit *e)
{
    if (!c->kind->down)
        return;
    c->in_down = 1;
    c->kind->down(c, e);
    c->in_down = 0;
}

static void restart_cb(uv_timer_t *t)
{
    fnh__child *c = t->data;
    if (c->stopping || c->cur)
        return;
    int rc = spawn(c);
    if (rc == 0) {
        if (c->kind->up)
            c->kind->up(c);
        return;
    }
    /* could not start again: tell the owner, try later */
    c->fails++;
    fnh__child_exit e = {.spawn_error = rc};
    uint64_t max = c->kind->backoff_max_ms ? c->kind->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
    uint64_t delay = FIRST_BACKOFF_MS << (c->fails > 9 ? 8 : c->fails - 1);
    e.restart_ms = delay > max ? max : delay;
    snprintf(e.text, sizeof e.text, "cannot start: %s", uv_strerror(rc));
    fnh__log(c->category, FNH_LOG_ERROR, "Child %s could not be started again (%s); retrying in "
                                         "%llu ms",
             c->name, uv_strerror(rc), (unsigned long long)e.restart_ms);
    call_down(c, &e);
    if (!c->stopping)
        uv_timer_start(&c->timer, restart_cb, e.restart_ms, 0);
    else
        child_free(c);
}

static void exit_cb(uv_process_t *p, int64_t status, int signal)
{
    life *l = p->data;
    fnh__child *c = l->c;
    int pid = c->pid;
    c->cur = NULL;
    c->pid = 0;
    kill(-pid, SIGKILL); /* whatever it left in its group */
    if (l->has_chan)
        drain(l, &l->chan, 1);
    drain(l, &l->out, 0);
    drain(l, &l->err, 0);
    uv_timer_stop(&c->timer);

    fnh__child_exit e = {.status = status, .signal = signal, .requested = c->requested};
    exit_text(status, signal, e.text);
    uint64_t lived_ms = (fnh__now_ns() - c->started_ns) / 1000000u;
    uint64_t healthy = c->kind->healthy_ms ? c->kind->healthy_ms : DEFAULT_HEALTHY_MS;
    uint64_t max = c->kind->backoff_max_ms ? c->kind->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
    if (!c->requested) {
        if (lived_ms >= healthy)
            c->fails = 0;
        c->fails++;
    }
    e.final = c->stopping || c->kind->restart == FNH__RESTART_NEVER;
    if (!e.final && !c->requested && c->fails > 1) {
        uint64_t delay = FIRST_BACKOFF_MS << (c->fails - 2 > 8 ? 8 : c->fails - 2);
        e.restart_ms = delay > max ? max : delay;
    }
    c->requested = 0;
    if (e.requested)
        fnh__log(c->category, FNH_LOG_DEBUG, "Child %s (pid %d) ended: %s", c->name, pid, e.text);
    else if (e.final)
        fnh__log(c->category, signal || status ? FNH_LOG_ERROR : FNH_LOG_INFO,
                 "Child %s (pid %d) ended: %s", c->name, pid, e.text);
    else
        fnh__log(c->category, FNH_LOG_ERROR, "Child %s (pid %d) ended: %s; restarting it in "
                                             "%llu ms",
                 c->name, pid, e.text, (unsigned long long)e.restart_ms);
    call_down(c, &e);
    life_close(l);
    e.final = e.final || c->stopping; /* down() may have stopped it */
    if (e.final)
        child_free(c);
    else
        uv_timer_start(&c->timer, restart_cb, e.restart_ms, 0);
}

/* The host's environment, without what the child gets anew and without the
 * start-up copies of local.settings.json values (the kinds pass the app's
 * current settings: a value removed since must not linger), plus the
 * parent pid and the kind's entries. Entries are borrowed; free the array. */
static char **child_env(const fnh__child_kind *k, char *ppid)
{
    size_t n = 0, extra = 0;
    while (environ[n])
        n++;
    while (k->env && k->env[extra])
        extra++;
    char **env = calloc(n + extra + 2, sizeof *env);
    if (!env)
        return NULL;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = environ[i];
        size_t klen = strcspn(e, "=");
        int replaced = klen == strlen(FNH__PARENT_PID_ENV) &&
                       strncmp(e, FNH__PARENT_PID_ENV, klen) == 0;
        for (size_t j = 0; j < extra && !replaced; j++)
            replaced = strncmp(k->env[j], e, klen + 1) == 0;
        if (!replaced)
            replaced = fnh__settings_exported(e);
        if (!replaced)
            env[at++] = environ[i];
    }
    env[at++] = ppid;
    for (size_t j = 0; j < extra; j++)
        env[at++] = (char *)k->env[j];
    return env;
}

static int spawn(fnh__child *c)
{
    const fnh__child_kind *k = c->kind;
    life *l = calloc(1, sizeof *l);
    char ppid[48];
    snprintf(ppid, sizeof ppid, FNH__PARENT_PID_ENV "=%d", (int)getpid());
    char **env = child_env(k, ppid);
    if (!l || !env) {
        free(l);
        free(env);
        return -ENOMEM;
    }
    l->c = c;
    l->has_chan = k->channel;
    uv_pipe_t *pipes[] = {&l->out, &l->err, &l->chan};
    for (int i = 0; i < 2 + l->has_chan; i++) {
        uv_pipe_init(g.loop, pipes[i], 0);
        pipes[i]->data = l;
        l->nopen++;
    }
    uv_stdio_container_t stdio[4] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&l->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&l->err},
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE,
         .data.stream = (uv_stream_t *)&l->chan},
    };
    uv_process_options_t o = {
        .exit_cb = exit_cb,
        .file = k->argv[0],
        .args = (char **)k->argv,
        .env = env,
        .cwd = k->cwd,
        .flags = UV_PROCESS_DETACHED, /* its own process group, to signal as one */
        .stdio_count = 3 + l->has_chan,
        .stdio = stdio,
    };
    l->proc.data = l;
    int rc = uv_spawn(g.loop, &l->proc, &o);
    l->nopen++;
    free(env);
    if (rc) {
        life_close(l);
        return rc;
    }
    c->cur = l;
    c->pid = l->proc.pid;
    c->started_ns = fnh__now_ns();
    uv_read_start((uv_stream_t *)&l->out, line_alloc, line_read);
    uv_read_start((uv_stream_t *)&l->err, line_alloc, line_read);
    if (l->has_chan)
        uv_read_start((uv_stream_t *)&l->chan, chan_alloc, chan_read);
    fnh__log(c->category, FNH_LOG_DEBUG, "Child %s started (pid %d)", c->name, c->pid);
    return 0;
}

int fnh__child_start(const fnh__child_kind *kind, void *data, fnh__child **out)
{
    *out = NULL;
    fnh__child *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->kind = kind;
    c->data = data;
    snprintf(c->name, sizeof c->name, "%s-%u", kind->name, ++g.serial);
    snprintf(c->category, sizeof c->category, "Host.Child.%s", c->name);
    uv_timer_init(g.loop, &c->timer);
    c->timer.data = c;
    int rc = spawn(c);
    if (rc) {
        uv_close((uv_handle_t *)&c->timer, child_free_cb);
        return rc;
    }
    c->next = g.all;
    g.all = c;
    *out = c;
    if (kind->up)
        kind->up(c);
    return 0;
}

void fnh__child_healthy(fnh__child *c)
{
    c->fails = 0;
}

int fnh__child_kill(fnh__child *c, int sig)
{
    if (!c->cur)
        return -ESRCH;
    c->requested = 1;
    if (kill(-c->pid, sig) != 0 && kill(c->pid, sig) != 0)
        return -errno;
    return 0;
}

static void stop_kill_cb(uv_timer_t *t)
{
    fnh__child *c = t->data;
    if (!c->cur)
        return;
    fnh__log(c->category, FNH_LOG_WARN, "Child %s (pid %d) did not stop on SIGTERM; killing it",
             c->name, c->pid);
    kill(-c->pid, SIGKILL);
}

void fnh__child_stop(fnh__child *c, uint64_t grace_ms)
{
    if (c->stopping)
        return;
    c->stopping = 1;
    uv_timer_stop(&c->timer);
    if (!c->cur) {
        if (!c->in_down)
            child_free(c);
        return;
    }
    c->requested = 1;
    kill(-c->pid, SIGTERM);
    uv_timer_start(&c->timer, stop_kill_cb, grace_ms, 0);
}

int fnh__supervisor_stop_all(uint64_t grace_ms)
{
    for (fnh__child *c = g.all, *next; c; c = next) {
        next = c->next;
        fnh__child_stop(c, grace_ms);
    }
    uint64_t deadline = fnh__now_ns() + (grace_ms + 1000) * 1000000u;
    while (g.all && fnh__now_ns() < deadline)
        if (uv_run(g.loop, UV_RUN_NOWAIT) == 0 || g.all)
            uv_sleep(1);
    int left = 0;
    for (fnh__child *c = g.all; c; c = c->next)
        left += c->cur != NULL;
    return left;
}
