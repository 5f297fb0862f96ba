/* test-isolated.c: the isolated native runner (host/src/runners/isolated.h)
 * driven through its API on a real libuv loop, with the real fnhost binary
 * as the child (FNHOST_BIN, set by tests/run.py; default build/fnhost) and
 * fixture functions from tests/apps: HTTP round trips equal to running the
 * same function in process, a 1 MiB binary body, logs, crashes (SIGSEGV,
 * abort, exit) failing only their invocation, cancel, a FIFO beyond the
 * children (and an extra child beside a blocked one), parallel children,
 * load errors, shutdown, and no child left
 * after a kill -9 of the host. Each test captures the host log (stdout).
 * `test-isolated --bench` measures latency and throughput instead. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "app.h"
#include "app_loader.h"
#include "function_native.h"
#include "http_binding.h"
#include "http_router.h"
#include "invocation.h"
#include "log.h"
#include "runners/isolated.h"
#include "runners/supervisor.h"
#include "unit.h"
#include "logcap.h"

static const char *g_exe;
static char g_app_dir[PATH_MAX];
static fnh__app *g_app;
static uv_loop_t *g_loop;

/* ---- the fixture app ---------------------------------------------------- */

static void write_file(const char *rel, const char *text)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", g_app_dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0755);
    *slash = '/';
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

static void add_function(const char *name, const char *route, const char *so)
{
    char cwd[PATH_MAX], rel[PATH_MAX + 32], text[2 * PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        abort();
    snprintf(rel, sizeof rel, "%s/function.json", name);
    snprintf(text, sizeof text,
             "{\"bindings\":[{\"type\":\"httpTrigger\",\"direction\":\"in\",\"name\":\"req\","
             "\"authLevel\":\"anonymous\",\"route\":\"%s\"},"
             "{\"type\":\"http\",\"direction\":\"out\",\"name\":\"res\"}],"
             "\"scriptFile\":\"%s/%s\"}",
             route, cwd, so);
    write_file(rel, text);
}

static void make_app(void)
{
    snprintf(g_app_dir, sizeof g_app_dir, "/tmp/fnhost-isolated-XXXXXX");
    if (!mkdtemp(g_app_dir))
        abort();
    write_file("host.json", "{\"version\":\"2.0\"}");
    add_function("echo", "echo/{*rest}", "tests/apps/native/echo/echo.so");
    add_function("gauge", "gauge", "tests/apps/pool/gauge/gauge.so");
    add_function("probe", "probe/{id?}", "tests/apps/isolated/probe/probe.so");
    add_function("broken", "broken", "tests/apps/native/broken/nomodule.so");
    fnh__app_options o = {.root = g_app_dir};
    if (fnh__app_load_bound(&o, 0, NULL, &g_app) != 0 || g_app->host_errors.len)
        abort();
}

/* ---- invocations -------------------------------------------------------- */

/* An HTTP invocation of function `name` as the server would build it. */
static fnh__invocation *http_inv(const char *name, const char *method, const char *target,
                                 const char *const *headers, const void *body, size_t len)
{
    fnh__function *fn = fnh__app_find(g_app, name);
    if (!fn)
        abort();
    fnh__invocation *inv = fnh__invocation_new(g_app, fn, "test");
    fnh__buf hs = {0};
    size_t n = 0;
    for (; headers && headers[2 * n]; n++) {
        fnh__buf_append(&hs, headers[2 * n], strlen(headers[2 * n]) + 1);
        fnh__buf_append(&hs, headers[2 * n + 1], strlen(headers[2 * n + 1]) + 1);
    }
    fnh__http_target parts;
    fnh__http_req *r = NULL;
    if (fnh__http_target_split(target, 0, &parts) ||
        fnh__http_req_new(method, target, &parts, hs.data, hs.len, n, &r))
        abort();
    fnh__buf_free(&hs);
    if (len)
        fnh__buf_append(&r->body, body, len);
    fnh__route_match m = {0};
    if (fnh__router_match(fnh__http_router(g_app), r->method, r->path_raw, strlen(r->path_raw), &m) != 1)
        abort();
    fnh_kv *params = calloc(m.nparams + 1, sizeof *params);
    for (size_t i = 0; i < m.nparams; i++)
        params[i] = (fnh_kv){m.params[i].name, m.params[i].value};
    if (fnh__input_set_http(inv, r, params, m.nparams))
        abort();
    free(params);
    fnh__route_match_clear(&m);
    return inv;
}

typedef struct outcome {
    int done;
    int order;
    int rc;
} outcome;

static int g_pending, g_finished;

static void done_cb(fnh__invocation *inv)
{
    outcome *o = inv->owner;
    CHECK(!o->done); /* exactly once */
    o->done = 1;
    o->rc = inv->rc;
    o->order = ++g_finished;
    g_pending--;
}

static void start(fnh__invocation *inv, outcome *o)
{
    memset(o, 0, sizeof *o);
    inv->owner = o;
    g_pending++;
    fnh__isolated_start(inv, done_cb);
    CHECK(!o->done); /* never completed inside the call */
}

static int g_timed_out;

static void guard_cb(uv_timer_t *t)
{
    (void)t;
    g_timed_out = 1;
}

/* Runs the loop until *counter <= target or ms pass. */
static void run_until(int *counter, int target, uint64_t ms)
{
    uv_timer_t guard;
    uv_timer_init(g_loop, &guard);
    g_timed_out = 0;
    uv_timer_start(&guard, guard_cb, ms, 0);
    while (*counter > target && !g_timed_out)
        uv_run(g_loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(g_loop, UV_RUN_NOWAIT);
}

static void wait_all(uint64_t ms)
{
    run_until(&g_pending, 0, ms);
}

static void pause_ms(uint64_t ms)
{
    int forever = 1;
    run_until(&forever, 0, ms);
}

/* Runs one invocation to completion; returns its rc. */
static int run1(fnh__invocation *inv)
{
    outcome o;
    start(inv, &o);
    wait_all(20000);
    CHECK(o.done);
    return o.rc;
}

static const char *res_body(fnh__invocation *inv)
{
    fnh__output *o = fnh__invocation_output(inv, "res");
    return o && o->body.data ? o->body.data : "";
}

static int res_pid(fnh__invocation *inv)
{
    const char *b = strstr(res_body(inv), "\"pid\":");
    return b ? atoi(b + 6) : 0;
}

/* The pid of the process running probe now. */
static int probe_pid(void)
{
    fnh__invocation *inv = http_inv("probe", "GET", "/api/probe?pid=1", NULL, NULL, 0);
    int rc = run1(inv);
    CHECK(rc == 0);
    int pid = res_pid(inv);
    fnh__invocation_free(inv);
    return pid;
}

static int alive(int pid)
{
    return pid > 0 && kill(pid, 0) == 0;
}

static int g_failed_before;

/* Starts the runner with n children, capturing the log. */
static void begin(int n)
{
    g_failed_before = unit__failed_checks;
    logcap_begin();
    if (fnh__isolated_init(g_loop, n, g_exe) != 0)
        abort();
}

/* Stops the runner; returns the log (checked for sanitizer reports from
 * the children, whose stderr lands there). */
static char *end(void)
{
    int left = fnh__isolated_shutdown(2000);
    char *log = logcap_end();
    CHECK(left == 0);
    CHECK(fnh__supervisor_children() == 0);
    CHECK(!strstr(log, "Sanitizer"));
    CHECK(!strstr(log, "runtime error"));
    if (unit__failed_checks > g_failed_before)
        printf("--- host log ---\n%s--- end ---\n", log);
    return log;
}

/* ---- tests -------------------------------------------------------------- */

/* echo in a child answers exactly what echo in process answers. */
static void test_http_roundtrip(void)
{
    static const char *const hdrs[] = {"Host", "localhost:7071", "X-Custom", "v1",
                                       "Content-Type", "text/plain", NULL};
    const char *target = "/api/echo/a/b%20c?status=201&header=X-Test:yes&name=x+y&r=1&r=2";
    fnh__invocation *iso = http_inv("echo", "POST", target, hdrs, "hello", 5);
    fnh__invocation *local = http_inv("echo", "POST", target, hdrs, "hello", 5);
    memcpy(local->id, iso->id, sizeof iso->id);
    /* in process, as the pool would run it */
    const fnh__native_code *code = local->fn->runner_state;
    void *dl = dlopen(code->script_path, RTLD_NOW | RTLD_LOCAL);
    void *sym = dl ? dlsym(dl, "run") : NULL;
    fnh__entry_fn entry;
    memcpy(&entry, &sym, sizeof sym);
    CHECK(sym && entry((fnh_ctx *)(void *)local) == 0);

    begin(2);
    CHECK(run1(iso) == 0);
    free(end());

    fnh__output *a = fnh__invocation_output(iso, "res"), *b = fnh__invocation_output(local, "res");
    CHECK(a && b);
    if (a && b) {
        CHECK(a->set && a->status == 201 && a->status == b->status);
        CHECK_STR(a->content_type, b->content_type);
        CHECK(a->body.len == b->body.len && memcmp(a->body.data, b->body.data, a->body.len) == 0);
        CHECK(a->nheaders == 1 && b->nheaders == 1);
        if (a->nheaders == 1) {
            CHECK_STR(a->headers[0].key, "X-Test");
            CHECK_STR(a->headers[0].value, "yes");
        }
    }
    const char *body = res_body(iso);
    CHECK(strstr(body, "\"method\":\"POST\""));
    CHECK(strstr(body, "\"url\":\"/api/echo/a/b%20c?status=201"));
    CHECK(strstr(body, "\"path\":\"/api/echo/a/b c\""));
    CHECK(strstr(body, "\"name\":\"x y\",\"r\":\"1\",\"r\":\"2\""));
    CHECK(strstr(body, "\"X-Custom\":\"v1\""));
    CHECK(strstr(body, "\"params\":{\"rest\":\"a/b c\"}"));
    CHECK(strstr(body, "\"body\":\"hello\""));
    fnh__invocation_free(iso);
    fnh__invocation_free(local);
    if (dl)
        dlclose(dl);
}

/* 1 MiB of every byte value goes in and comes back unchanged. */
static void test_binary_body(void)
{
    size_t n = 1u << 20;
    unsigned char *data = malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (unsigned char)(x >> 16);
    }
    data[0] = 0;
    static const char *const hdrs[] = {"Content-Type", "application/octet-stream", NULL};
    fnh__invocation *inv = http_inv("probe", "POST", "/api/probe/7?mirror=1", hdrs, data, n);
    begin(1);
    CHECK(run1(inv) == 0);
    free(end());
    fnh__output *o = fnh__invocation_output(inv, "res");
    CHECK(o && o->body.len == n && memcmp(o->body.data, data, n) == 0);
    CHECK(o && o->content_type && strcmp(o->content_type, "application/octet-stream") == 0);
    fnh__invocation_free(inv);
    free(data);
}

/* fnh_log in the child lands in the host log under the function's category. */
static void test_logs(void)
{
    fnh__invocation *inv = http_inv("echo", "GET", "/api/echo/x?log=hello-from-the-child", NULL,
                                    NULL, 0);
    begin(1);
    CHECK(run1(inv) == 0);
    char *log = end();
    CHECK(logcap_has(log, "\"category\":\"Function.echo.User\"", "\"level\":\"Information\"",
                  "\"message\":\"hello-from-the-child\""));
    free(log);
    fnh__invocation_free(inv);
}

/* A crash fails its invocation with -ECHILD, the log names the function,
 * the invocation and how the process ended (and the child's own report
 * with a backtrace), and the next invocation runs in a fresh process. */
static void test_crashes(void)
{
    static const struct {
        const char *how, *ended, *report;
    } cases[] = {
        {"segv", "signal 11 (SIGSEGV)", "crashed: signal 11 (SIGSEGV)"},
        {"abort", "signal 6 (SIGABRT)", "crashed: signal 6 (SIGABRT)"},
        {"exit", "exit status 3", NULL},
    };
    begin(1);
    int pid = probe_pid();
    char ids[3][37];
    for (size_t i = 0; i < 3; i++) {
        char target[64];
        snprintf(target, sizeof target, "/api/gauge?crash=%s", cases[i].how);
        fnh__invocation *inv = http_inv("gauge", "GET", target, NULL, NULL, 0);
        memcpy(ids[i], inv->id, sizeof ids[i]);
        CHECK(run1(inv) == -ECHILD);
        fnh__invocation_free(inv);
        int next = probe_pid();
        CHECK(next && next != pid);
        CHECK(!alive(pid));
        pid = next;
    }
    char *log = end();
    for (size_t i = 0; i < 3; i++) {
        char ended[96];
        snprintf(ended, sizeof ended, "ended with %s", cases[i].ended);
        CHECK(logcap_has(log, "Function 'gauge'", ids[i], ended));
        /* it had answered before: no back-off */
        snprintf(ended, sizeof ended, "ended: %s; restarting it in 0 ms", cases[i].ended);
        CHECK(logcap_has(log, ended, NULL, NULL));
        if (cases[i].report)
            CHECK(logcap_has(log, "\"category\":\"Host.Child.native-", ids[i], cases[i].report));
    }
    CHECK(logcap_has(log, "\"category\":\"Host.Child.native-", "gauge.so(", NULL)); /* backtrace */
    free(log);
}

/* Cancel kills the child running a hung function: -ETIMEDOUT, and the
 * next invocation runs in a fresh process. */
static void test_cancel_running(void)
{
    begin(1);
    int pid = probe_pid();
    fnh__invocation *inv = http_inv("gauge", "GET", "/api/gauge?hang=1", NULL, NULL, 0);
    outcome o;
    start(inv, &o);
    pause_ms(200);
    CHECK(!o.done);
    fnh__isolated_cancel(inv);
    CHECK(!o.done); /* never completed inside the call */
    wait_all(10000);
    CHECK(o.done && o.rc == -ETIMEDOUT);
    CHECK(!alive(pid));
    int next = probe_pid();
    CHECK(next && next != pid);
    char *log = end();
    CHECK(logcap_has(log, "Stopping function 'gauge'", inv->id, "killing its isolated process"));
    free(log);
    fnh__invocation_free(inv);
}

/* Beyond the children invocations wait in order; a waiting one can be
 * cancelled without touching the running one. */
static void test_fifo_and_cancel_waiting(void)
{
    begin(1);
    fnh__invocation *a = http_inv("probe", "GET", "/api/probe?sleep=100", NULL, NULL, 0);
    fnh__invocation *b = http_inv("probe", "GET", "/api/probe?pid=1", NULL, NULL, 0);
    fnh__invocation *c = http_inv("probe", "GET", "/api/probe?pid=1", NULL, NULL, 0);
    fnh__invocation *d = http_inv("probe", "GET", "/api/probe?pid=1", NULL, NULL, 0);
    outcome oa, ob, oc, od;
    start(a, &oa);
    start(b, &ob);
    start(c, &oc);
    start(d, &od);
    CHECK(fnh__isolated_inflight() == 4);
    fnh__isolated_cancel(c);
    wait_all(20000);
    CHECK(oa.rc == 0 && ob.rc == 0 && oc.rc == -ETIMEDOUT && od.rc == 0);
    /* the waiting ones run in arrival order, and do not wait for the
     * sleeping call (a blocked child gets a second one beside it) */
    CHECK(oc.order < ob.order && ob.order < od.order && od.order < oa.order);
    CHECK(fnh__isolated_inflight() == 0);
    free(end());
    fnh__invocation_free(a);
    fnh__invocation_free(b);
    fnh__invocation_free(c);
    fnh__invocation_free(d);
}

static long long field(fnh__invocation *inv, const char *name)
{
    char key[32];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(res_body(inv), key);
    return p ? atoll(p + strlen(key)) : -1;
}

/* Four 300 ms sleeps on four children run at the same time. */
static void test_parallel(void)
{
    enum { N = 4 };
    fnh__invocation *inv[N];
    outcome o[N];
    begin(N);
    for (int round = 0; round < 2; round++) { /* the first round starts the children */
        for (int i = 0; i < N; i++) {
            inv[i] = http_inv("probe", "GET", "/api/probe?sleep=300", NULL, NULL, 0);
            start(inv[i], &o[i]);
        }
        uint64_t t0 = fnh__now_ns();
        wait_all(20000);
        uint64_t ms = (fnh__now_ns() - t0) / 1000000u;
        long long latest_start = 0, first_end = -1;
        for (int i = 0; i < N; i++) {
            CHECK(o[i].done && o[i].rc == 0);
            for (int k = 0; k < i; k++)
                CHECK(res_pid(inv[i]) != res_pid(inv[k])); /* four processes */
            if (field(inv[i], "start") > latest_start)
                latest_start = field(inv[i], "start");
            if (first_end < 0 || field(inv[i], "end") < first_end)
                first_end = field(inv[i], "end");
        }
        if (round == 1) {
            CHECK(latest_start < first_end); /* all four were sleeping at once */
            printf("# 4 x 300 ms on 4 children: %llu ms\n", (unsigned long long)ms);
        }
        for (int i = 0; i < N; i++)
            fnh__invocation_free(inv[i]);
    }
    free(end());
}

/* A .so the child cannot load fails its invocation with the loader's
 * sentence; the host never opened it. */
static void test_load_error(void)
{
    fnh__invocation *inv = http_inv("broken", "GET", "/api/broken", NULL, NULL, 0);
    begin(1);
    CHECK(run1(inv) == -ENOEXEC);
    CHECK(probe_pid() != 0); /* the child lives on */
    char *log = end();
    CHECK(logcap_has(log, "Function 'broken'", inv->id, "exports no fnh_function_abi"));
    free(log);
    fnh__invocation_free(inv);
}

/* Shutdown stops idle and hung children alike; none survives. */
static void test_shutdown(void)
{
    begin(2);
    int idle = probe_pid();
    fnh__invocation *hung = http_inv("gauge", "GET", "/api/gauge?hang=1", NULL, NULL, 0);
    outcome o;
    start(hung, &o);
    pause_ms(100);
    uint64_t t0 = fnh__now_ns();
    int left = fnh__isolated_shutdown(100);
    uint64_t ms = (fnh__now_ns() - t0) / 1000000u;
    char *log = logcap_end();
    CHECK(left == 0);
    CHECK(ms < 10000);
    CHECK(o.done && o.rc == -ECANCELED);
    CHECK(!alive(idle));
    CHECK(fnh__supervisor_children() == 0);
    CHECK(!strstr(log, "Sanitizer"));
    CHECK(!strstr(log, "runtime error"));
    /* a stopped runner refuses work */
    fnh__invocation *late = http_inv("probe", "GET", "/api/probe", NULL, NULL, 0);
    outcome ol = {0};
    late->owner = &ol;
    g_pending++;
    fnh__isolated_start(late, done_cb);
    CHECK(ol.done && ol.rc == -ECANCELED);
    if (unit__failed_checks > g_failed_before)
        printf("--- host log ---\n%s--- end ---\n", log);
    free(log);
    fnh__invocation_free(hung);
    fnh__invocation_free(late);
}

/* kill -9 of a host leaves no child: a helper process (this binary with
 * --kill9-helper) starts a child busy in a hung function and is killed;
 * as the subreaper we inherit the orphan and see it die of SIGKILL. */
static void test_kill9_leaves_no_child(void)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    fflush(stdout);
    pid_t helper = fork();
    if (helper == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        execl("/proc/self/exe", "test-isolated", "--kill9-helper", g_app_dir, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char buf[256] = {0};
    size_t len = 0;
    int child = 0;
    uint64_t deadline = fnh__now_ns() + 30000000000ull;
    while (!child && fnh__now_ns() < deadline) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(pfd[0], buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        char *at = strstr(buf, "CHILD ");
        if (at && strchr(at, '\n'))
            child = atoi(at + 6);
    }
    close(pfd[0]);
    CHECK(child > 0 && alive(child));
    kill(helper, SIGKILL);
    int st = 0;
    CHECK(waitpid(helper, &st, 0) == helper);
    int reaped = 0;
    deadline = fnh__now_ns() + 10000000000ull;
    while (child > 0 && !reaped && fnh__now_ns() < deadline) {
        if (waitpid(child, &st, WNOHANG) == child)
            reaped = 1;
        else
            usleep(2000);
    }
    CHECK(reaped && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    if (!reaped && child > 0)
        kill(child, SIGKILL);
}

/* Nothing the runner or the supervisor opened is left on the loop. */
static void test_loop_closes(void)
{
    CHECK(uv_loop_close(g_loop) == 0);
}

static int kill9_helper(void)
{
    g_loop = uv_default_loop();
    fnh__log_init(0, 0);
    if (fnh__isolated_init(g_loop, 1, g_exe) != 0)
        return 1;
    int pid = probe_pid();
    fnh__invocation *inv = http_inv("gauge", "GET", "/api/gauge?hang=1", NULL, NULL, 0);
    outcome o;
    start(inv, &o);
    /* one loop turn sends it; give the child a moment to be inside it */
    uv_run(g_loop, UV_RUN_NOWAIT);
    usleep(100000);
    fnh__log_flush();
    printf("CHILD %d\n", pid);
    fflush(stdout);
    for (;;)
        uv_run(g_loop, UV_RUN_DEFAULT); /* until the test kills us */
}

/* ---- benchmark ------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int bench(void)
{
    enum { ROUNDS = 10000, INFLIGHT = 64 };
    fnh__log_init(0, 0);
    uint64_t *lat = malloc(ROUNDS * sizeof *lat);
    fnh__isolated_init(g_loop, 1, g_exe);
    for (int i = 0; i < 200; i++) { /* warm: child started, .so loaded */
        fnh__invocation *inv = http_inv("probe", "GET", "/api/probe", NULL, NULL, 0);
        run1(inv);
        fnh__invocation_free(inv);
    }
    size_t n = 0;
    uint64_t stop = fnh__now_ns() + 60000000000ull;
    for (; n < ROUNDS && fnh__now_ns() < stop; n++) {
        fnh__invocation *inv = http_inv("probe", "GET", "/api/probe", NULL, NULL, 0);
        outcome o;
        uint64_t t0 = fnh__now_ns();
        start(inv, &o);
        while (!o.done)
            uv_run(g_loop, UV_RUN_ONCE);
        lat[n] = fnh__now_ns() - t0;
        fnh__invocation_free(inv);
    }
    qsort(lat, n, sizeof *lat, cmp_u64);
    printf("no-op isolated invocation, 1 child: median %.1f us, p99 %.1f us (%zu runs)\n",
           lat[n / 2] / 1000.0, lat[n * 99 / 100] / 1000.0, n);
    fnh__isolated_shutdown(1000);
    free(lat);

    fnh__isolated_init(g_loop, 4, g_exe);
    fnh__invocation *inv[INFLIGHT];
    outcome o[INFLIGHT];
    size_t completed = 0;
    uint64_t t0 = 0, until = 0;
    for (int i = 0; i < INFLIGHT; i++) {
        inv[i] = http_inv("probe", "GET", "/api/probe", NULL, NULL, 0);
        start(inv[i], &o[i]);
    }
    for (int phase = 0; phase < 2; phase++) { /* 1 s warm-up, then 5 s measured */
        t0 = fnh__now_ns();
        until = t0 + (phase ? 5000000000ull : 1000000000ull);
        completed = 0;
        while (fnh__now_ns() < until) {
            uv_run(g_loop, UV_RUN_ONCE);
            for (int i = 0; i < INFLIGHT; i++)
                if (o[i].done) {
                    completed++;
                    fnh__invocation_free(inv[i]);
                    inv[i] = http_inv("probe", "GET", "/api/probe", NULL, NULL, 0);
                    start(inv[i], &o[i]);
                }
        }
    }
    double secs = (fnh__now_ns() - t0) / 1e9;
    printf("no-op isolated invocations, 4 children, %d in flight: %.0f /s\n", INFLIGHT,
           completed / secs);
    fnh__isolated_shutdown(5000);
    for (int i = 0; i < INFLIGHT; i++)
        fnh__invocation_free(inv[i]);
    return 0;
}

int main(int argc, char **argv)
{
    g_exe = getenv("FNHOST_BIN") ? getenv("FNHOST_BIN") : "build/fnhost";
    signal(SIGPIPE, SIG_IGN);
    if (argc == 3 && strcmp(argv[1], "--kill9-helper") == 0) {
        snprintf(g_app_dir, sizeof g_app_dir, "%s", argv[2]);
        fnh__app_options o = {.root = g_app_dir};
        if (fnh__app_load_bound(&o, 0, NULL, &g_app) != 0)
            return 1;
        return kill9_helper();
    }
    g_loop = uv_default_loop();
    make_app();
    if (argc == 2 && strcmp(argv[1], "--bench") == 0) {
        int rc = bench();
        fnh__app_unload(g_app);
        return rc;
    }
    logcap_init();
    fnh__log_init(1, 1);
    UNIT_RUN(test_http_roundtrip);
    UNIT_RUN(test_binary_body);
    UNIT_RUN(test_logs);
    UNIT_RUN(test_crashes);
    UNIT_RUN(test_cancel_running);
    UNIT_RUN(test_fifo_and_cancel_waiting);
    UNIT_RUN(test_parallel);
    UNIT_RUN(test_load_error);
    UNIT_RUN(test_shutdown);
    UNIT_RUN(test_kill9_leaves_no_child);
    fnh__app_unload(g_app);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_app_dir);
    if (system(cmd) != 0)
        printf("cleanup of %s failed\n", g_app_dir);
    fnh__log_shutdown();
    UNIT_RUN(test_loop_closes);
    fflush(stdout);
    UNIT_END();
}
