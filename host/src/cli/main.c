/* main.c: the fnhost command line: start (serve a function app), routes
 * (list routes or check which function a request reaches), cron (preview a
 * schedule), --version and help. Owns process start-up and shutdown. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#include "admin.h"
#include "app.h"
#include "app_loader.h"
#include "crash.h"
#include "fdlimit.h"
#if __has_include("cli_cron.h")
#include "cli_cron.h"
#define HAVE_CRON 1
#endif
#include "cli_invoke.h"
#include "dispatch.h"
#include "extension.h"
#include "host.h"
#include "http_binding.h"
#include "http_throttle.h"
#include "http_router.h"
#include "custom_handler.h"
#include "isolated.h"
#include "language_worker.h"
#include "json.h"
#include "log.h"
#include "child.h"
#include "secrets.h"
#include "shadow.h"
#include "reload.h"
#include "util.h"
#include "cli_help.h"
#include "cli_scaffold.h"

#define SHUTDOWN_GRACE_MS 10000

static void usage(FILE *f)
{
    fputs("fnhost " FNH_VERSION " - run Azure-Functions-style function apps locally\n"
          "\n"
          "Usage:\n"
          "  fnhost start [--script-root DIR] [--port N] [--host ADDR] [--functions a,b]\n"
          "               [--verbose] [--json-logs] [--in-process] [--enable-auth]\n"
          "               [--no-watch] [--cors ORIGINS] [--cors-credentials]\n"
          "               [--user-log-level LEVEL] [--timeout SECONDS]\n"
          "      Serve the function app in DIR (default: the current folder) on\n"
          "      http://127.0.0.1:7071 until SIGINT or SIGTERM; changed files reload\n"
          "      the app unless --no-watch. Core Tools spellings work too: --address\n"
          "      (--host), --enable-json-output (--json-logs), --functions a b\n"
          "      (space-separated).\n"
          "      --enable-auth (or --enableAuth) applies authLevel and keys as Azure does.\n"
          "  fnhost invoke NAME [--data JSON|TEXT|@FILE] [--port N] [--script-root DIR]\n"
          "      Run one function of a running host and print its result, outputs and\n"
          "      log lines; exits 1 when the function failed.\n"
          "  fnhost init [DIR] [--worker-runtime native|node|custom]\n"
          "      Create a function app (host.json, local.settings.json, .gitignore, and a\n"
          "      Makefile, package.json or custom handler).\n"
          "  fnhost new --template NAME --name FUNCTION [--script-root DIR]\n"
          "      Add a function from a template; fnhost templates [--json] lists them.\n"
          "  fnhost --cflags\n"
          "      The compiler flags that find fnhost's headers (-I...), for Makefiles.\n"
          "  fnhost help extensions\n"
          "      How to add a binding type fnhost does not emulate: write an extension.\n"
          "  fnhost routes [--script-root DIR] [--match METHOD PATH]\n"
          "      List every HTTP route, most specific first; with --match print the\n"
          "      function and route values a request would reach as one JSON line.\n"
          "  fnhost cron \"EXPRESSION\" [--from ISO-8601] [--count N] [--tz ZONE]\n"
          "      Print the next occurrences of an NCRONTAB schedule or TimeSpan.\n"
          "  fnhost extensions list [--script-root DIR]\n"
          "      List installed binding extensions (name, version, ABI, file, types).\n"
          "  fnhost extensions check FILE.so\n"
          "      Load an extension, validate its descriptor and print what it provides.\n"
          "  fnhost --version\n"
          "  fnhost help\n",
          f);
    fnh__ext_help(f);
}

typedef struct start_opts {
    const char *root;
    const char *host;
    const char *functions;
    int port;
    int verbose;
    int json_logs;
    int in_process; /* native functions run in the host process */
    int enable_auth; /* authLevel and keys apply (off by default, as Core Tools) */
    int no_watch;   /* no hot reload on file changes */
    /* ---- Core Tools flags (core_tools_flag) ---- */
    const char *cors;     /* --cors: overrides Host.CORS */
    int cors_credentials; /* --cors-credentials: overrides Host.CORSCredentials */
    int user_log_level;   /* --user-log-level: for Function.*; -1 = host.json's */
    int timeout_s;        /* --timeout: the host must listen within it; 0 = no bound */
    fnh__buf functions_buf; /* --functions a b c, joined with commas */
} start_opts;

/* ---- Core Tools flags of start ---------------------------------------- */

/* Parses the Core Tools flag at argv[*i] into o (advancing *i over its
 * values). 1 when it was one, 0 when not, -1 after saying why it is bad. */
static int core_tools_flag(start_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    int has_val = *i + 1 < argc;
    if (strcmp(a, "--cors") == 0 && has_val) {
        o->cors = argv[++*i];
    } else if (strcmp(a, "--cors-credentials") == 0) {
        o->cors_credentials = 1;
    } else if (strcmp(a, "--address") == 0 && has_val) {
        o->host = argv[++*i];
    } else if (strcmp(a, "--enable-json-output") == 0) {
        o->json_logs = 1;
    } else if (strcmp(a, "--functions") == 0 && has_val) {
        /* "a,b" or "a b" (names never start with '-') */
        while (*i + 1 < argc && argv[*i + 1][0] != '-') {
            if (o->functions_buf.len)
                fnh__buf_puts(&o->functions_buf, ",");
            fnh__buf_puts(&o->functions_buf, argv[++*i]);
        }
        if (!o->functions_buf.len) {
            fprintf(stderr, "fnhost start: --functions: no function name follows; write "
                            "--functions a b or --functions a,b\n");
            return -1;
        }
        o->functions = o->functions_buf.data;
    } else if (strcmp(a, "--user-log-level") == 0 && has_val) {
        o->user_log_level = fnh__log_parse_level(argv[++*i]);
        if (o->user_log_level < 0) {
            fprintf(stderr, "fnhost start: --user-log-level: '%s' is not a log level; use one "
                            "of Trace, Debug, Information, Warning, Error, Critical, None\n",
                    argv[*i]);
            return -1;
        }
    } else if (strcmp(a, "--timeout") == 0 && has_val) {
        char *end;
        long v = strtol(argv[++*i], &end, 10);
        if (!*argv[*i] || *end || v < 1 || v > 86400) {
            fprintf(stderr, "fnhost start: --timeout: '%s' is not a number of seconds; use a "
                            "whole number from 1 to 86400\n",
                    argv[*i]);
            return -1;
        }
        o->timeout_s = (int)v;
    } else {
        return 0;
    }
    return 1;
}

static char g_timeout_msg[256];

/* SIGALRM of --timeout: the host is still starting. */
static void startup_timeout_cb(int sig)
{
    (void)sig;
    ssize_t w = write(STDERR_FILENO, g_timeout_msg, strlen(g_timeout_msg));
    (void)w;
    _exit(1);
}

/* Bounds start-up by --timeout (0: none); disarmed once listening. */
static void startup_timeout_arm(int seconds)
{
    if (seconds <= 0)
        return;
    snprintf(g_timeout_msg, sizeof g_timeout_msg,
             "fnhost: the host did not start listening within %d s (--timeout %d): it was "
             "still loading the app; see what is slow with --verbose, or raise --timeout\n",
             seconds, seconds);
    signal(SIGALRM, startup_timeout_cb);
    alarm((unsigned)seconds);
}

/* The version banner, first on the console (a log line with JSON logs). */
static void start_banner(int json)
{
    if (json)
        fnh__log("Host.Startup", FNH_LOG_INFO, "fnhost version %s", FNH_VERSION);
    else
        fnh__log_raw("fnhost version " FNH_VERSION " (Azure Functions host 2.x compatible)\n\n");
}

/* Azure's warning for an app that has nothing to run. */
static void warn_no_functions(const fnh__app *app)
{
    for (size_t i = 0; i < app->nfunctions; i++)
        if (fnh__function_ok(app->functions[i]))
            return;
    fnh__log("Host.Startup", FNH_LOG_WARN,
             "No job functions found. A function is a folder of the script root with a "
             "function.json (add one with fnhost new --template \"HTTP trigger\" --name hello); "
             "check --script-root, --functions and host.json \"functions\".");
}

static int parse_port(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

/* "GET,POST" (or "get,post" with lower) for a set of FNH__M_* bits, written
 * into out[96] and returned. */
static const char *methods_text(unsigned methods, int lower, char out[96])
{
    size_t at = 0;
    for (unsigned bit = 1; bit <= FNH__M_TRACE; bit <<= 1) {
        if (!(methods & bit))
            continue;
        if (at)
            out[at++] = ',';
        for (const char *p = fnh__method_name(bit); *p; p++)
            out[at++] = lower ? (char)(*p | 0x20) : *p;
    }
    out[at] = '\0';
    return out;
}

/* ---- start ------------------------------------------------------------ */

static fnh__host g_host;
static uv_signal_t g_sigint, g_sigterm;
static uv_timer_t g_drain_timer;
static uint64_t g_drain_deadline;
static int g_still_running; /* invocations stuck in functions after the drain */
static fnh__app *g_draining;  /* the app being drained at shutdown */

static uv_prepare_t g_log_flusher;

/* Before the loop waits for I/O, buffered log lines go out. */
static void log_flush_cb(uv_prepare_t *p)
{
    (void)p;
    fnh__log_flush();
}

static void drain_cb(uv_timer_t *t)
{
    /* drained once no invocation holds the app any more */
    int done = (!g_draining || g_draining->refs == 1) && fnh__dispatch_inflight() == 0 &&
               (!g_host.http || fnh__http_server_connections(g_host.http) == 0);
    if (!done && fnh__now_ns() < g_drain_deadline)
        return;
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, NULL); /* nothing to free: the handle is static */
    /* children first: what still runs in them is stopped and fails */
    fnh__isolated_shutdown(done ? 1000 : 0);
    fnh__custom_handler_shutdown(1000);
    fnh__lang_shutdown(2000);
    g_still_running = fnh__dispatch_shutdown(done ? 1000 : 0);
    fnh__http_throttle_shutdown(); /* requests still waiting for a slot: 503 */
    if (g_host.http)
        fnh__http_server_free(g_host.http);
    g_host.http = NULL;
    uv_close((uv_handle_t *)&g_log_flusher, NULL); /* nothing to free: the handle is static */
    uv_close((uv_handle_t *)&g_sigint, NULL); /* nothing to free: the handle is static */
    uv_close((uv_handle_t *)&g_sigterm, NULL); /* nothing to free: the handle is static */
}

static void signal_cb(uv_signal_t *s, int signum)
{
    (void)s;
    if (strcmp(g_host.state, "Stopping") == 0) { /* a second signal: no more waiting */
        fnh__log("Host", FNH_LOG_WARN, "Received %s again; exiting now without waiting for "
                                       "%zu in-flight invocations",
                 signum == SIGINT ? "SIGINT" : "SIGTERM", fnh__dispatch_inflight());
        fnh__log_shutdown();
        _exit(128 + signum);
    }
    g_host.state = "Stopping";
    fnh__reload_stop();
    fnh__log("Host", FNH_LOG_INFO, "Received %s; stopping the host (finishing %zu in-flight "
                                   "invocations)",
             signum == SIGINT ? "SIGINT" : "SIGTERM", fnh__dispatch_inflight());
    fnh__http_server_stop(g_host.http);
    fnh__ext_stop(g_host.app);
    fnh__dispatch_stop_retries(); /* failed tries waiting for a retry fail now */
    /* shutdown is a swap to an empty app, then a drain of the old one */
    fnh__app *empty = fnh__app_new(g_host.app->root);
    if (empty) {
        g_draining = g_host.app;
        g_host.app = empty;
    }
    g_drain_deadline = fnh__now_ns() + (uint64_t)SHUTDOWN_GRACE_MS * 1000000u;
    uv_timer_init(g_host.loop, &g_drain_timer);
    uv_timer_start(&g_drain_timer, drain_cb, 0, 10);
}

static void print_functions(const fnh__app *app, const char *base)
{
    fnh__buf b = {0};
    fnh__buf_puts(&b, "\nFunctions:\n\n");
    for (size_t i = 0; i < app->nfunctions; i++) {
        const fnh__function *fn = app->functions[i];
        if (fn->disabled || !fnh__function_ok(fn))
            continue;
        const fnh__http_fn *hf = fnh__http_fn_of(fn);
        if (hf && hf->route_full) {
            fnh__buf_printf(&b, "\t%s:", fn->name);
            if (hf->methods != FNH__M_ALL) {
                char ms[96];
                fnh__buf_printf(&b, " [%s]", methods_text(hf->methods, 0, ms));
            }
            fnh__buf_printf(&b, " %s/%s\n\n", base, hf->route_full);
        } else {
            fnh__buf_printf(&b, "\t%s: %s\n\n", fn->name, fnh__function_trigger_type(fn));
        }
    }
    for (size_t i = 0; i < app->nfunctions; i++)
        if (app->functions[i]->disabled)
            fnh__buf_printf(&b, "Function %s is disabled.\n", app->functions[i]->name);
    fnh__log_raw(b.data ? b.data : "");
    fnh__buf_free(&b);
}

/* Reports the app's problems; returns 1 when the host cannot start. */
static int report_app(const fnh__app *app, int to_stderr)
{
    for (size_t i = 0; i < app->notes.len; i++)
        if (to_stderr)
            fprintf(stderr, "%s\n", app->notes.items[i]);
        else
            fnh__log("Host.Startup", FNH_LOG_INFO, "%s", app->notes.items[i]);
    for (size_t i = 0; i < app->errors.len; i++)
        if (to_stderr)
            fprintf(stderr, "error: %s\n", app->errors.items[i]);
        else
            fnh__log("Host.Startup", FNH_LOG_ERROR, "%s", app->errors.items[i]);
    for (size_t i = 0; i < app->host_errors.len; i++)
        if (to_stderr)
            fprintf(stderr, "error: %s\n", app->host_errors.items[i]);
        else
            fnh__log("Host.Startup", FNH_LOG_ERROR, "%s", app->host_errors.items[i]);
    for (size_t i = 0; i < app->nfunctions; i++) {
        const fnh__function *fn = app->functions[i];
        for (size_t k = 0; k < fn->errors.len; k++)
            if (to_stderr)
                fprintf(stderr, "The '%s' function is in error: %s\n", fn->name,
                        fn->errors.items[k]);
            else
                fnh__log("Host.Startup", FNH_LOG_ERROR, "The '%s' function is in error: %s",
                         fn->name, fn->errors.items[k]);
    }
    for (size_t i = 0; i < app->warnings.len; i++)
        if (to_stderr)
            fprintf(stderr, "warning: %s\n", app->warnings.items[i]);
        else
            fnh__log("Host.Startup", FNH_LOG_WARN, "%s", app->warnings.items[i]);
    return app->host_errors.len > 0;
}

static int worker_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 4 ? (int)n : 4;
}

/* Loads and binds the app; NULL (after saying why) when the host cannot
 * start. */
static fnh__app *start_load(const start_opts *o, uv_loop_t *loop)
{
    fnh__app_options ao = {.root = o->root, .functions_csv = o->functions,
                           .in_process = o->in_process, .cors = o->cors,
                           .cors_credentials = o->cors_credentials, .port = o->port};
    fnh__app *app = NULL;
    if (fnh__app_load_bound(&ao, 1, loop, &app) == -ENOMEM && !app) {
        fprintf(stderr, "fnhost: out of memory\n");
        return NULL;
    }
    fnh__log("Host.Startup", FNH_LOG_DEBUG, "Starting Host (HostId=%s, Version=%s, ProcessId=%d)",
             app->host_id ? app->host_id : "", FNH_VERSION, (int)getpid());
    fnh__log("Host.Startup", FNH_LOG_DEBUG, "%zu functions loaded", app->nfunctions);
    if (o->user_log_level >= 0) /* over host.json's levels */
        fnh__log_set_level("Function", o->user_log_level);
    if (report_app(app, 0)) {
        fnh__log("Host.Startup", FNH_LOG_ERROR,
                 "The host cannot start until the errors above are fixed.");
        fnh__log_shutdown();
        fnh__app_unload(app);
        return NULL;
    }
    warn_no_functions(app);
    return app;
}

/* Listens on the address the options and local.settings.json give; fills
 * g_host. 0, or -1 after saying why. */
static int start_listening(const start_opts *o, fnh__app *app, uv_loop_t *loop, uint64_t t0)
{
    int port = o->port >= 0 ? o->port : app->local_port ? app->local_port : 7071;
    const char *bind = o->host ? o->host : "127.0.0.1";
    g_host.app = app;
    g_host.admin = fnh__admin_handle;
    g_host.loop = loop;
    g_host.start_ns = t0;
    g_host.state = "Running";
    int rc = fnh__http_server_start(loop, bind, port, fnh__http_limits_of(app),
                                    fnh__http_trigger_handle,
                                    &g_host, &g_host.http);
    if (rc == UV_EADDRINUSE)
        fnh__log("Host", FNH_LOG_ERROR,
                 "Port %d is unavailable. Close the process using that port, or specify "
                 "another port using --port.",
                 port);
    else if (rc)
        fnh__log("Host", FNH_LOG_ERROR, "Cannot listen on %s:%d: %s; check --host and --port",
                 bind, port, uv_strerror(rc));
    if (rc)
        return -1;
    g_host.port = fnh__http_server_port(g_host.http);
    const char *shown = (strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "127.0.0.1") == 0 ||
                         strcmp(bind, "::") == 0 || strcmp(bind, "::1") == 0)
                            ? "localhost"
                            : bind;
    snprintf(g_host.base_url, sizeof g_host.base_url, "http://%s:%d", shown, g_host.port);
    return 0;
}

static void log_routes(const fnh__app *app)
{
    for (size_t i = 0; i < app->nfunctions; i++) {
        const fnh__function *fn = app->functions[i];
        const fnh__http_fn *hf = fnh__http_fn_of(fn);
        if (!hf || !hf->route_full || fn->disabled || !fnh__function_ok(fn))
            continue;
        char ms[96];
        fnh__log("Host.Startup", FNH_LOG_DEBUG, "Mapped function route '%s' [%s] to '%s'",
                 hf->route_full, hf->methods == FNH__M_ALL ? "all" : methods_text(hf->methods, 1, ms),
                 fn->name);
    }
}

/* SIGINT and SIGTERM start the drain; set before the host says it started,
 * so a signal sent as soon as it listens is never the default (death). */
static void watch_signals(uv_loop_t *loop)
{
    uv_signal_init(loop, &g_sigint);
    uv_signal_init(loop, &g_sigterm);
    uv_signal_start(&g_sigint, signal_cb, SIGINT);
    uv_signal_start(&g_sigterm, signal_cb, SIGTERM);
}

/* Serves until a signal's drain closed every handle. */
static void serve(uv_loop_t *loop)
{
    uv_prepare_init(loop, &g_log_flusher);
    uv_prepare_start(&g_log_flusher, log_flush_cb);
    uv_unref((uv_handle_t *)&g_log_flusher);
    do
        uv_run(loop, UV_RUN_DEFAULT);
    while (fnh__reload_run_due());
}

/* After the loop: unload and free everything, or, when functions still
 * run in worker threads, exit without unloading the code under them. */
static int finish(fnh__app *app, uv_loop_t *loop)
{
    if (g_still_running) {
        fnh__log("Host", FNH_LOG_WARN, "Host stopped; %d invocations were still running after "
                                       "the %d s shutdown bound and were abandoned",
                 g_still_running, SHUTDOWN_GRACE_MS / 1000);
        fnh__log_shutdown();
        _exit(0);
    }
    fnh__secrets_free(g_host.secrets);
    (void)app; /* a reload may have replaced it: the last one is unloaded */
    fnh__app *last = g_draining ? g_draining : g_host.app;
    if (g_draining)
        fnh__app_unref(g_host.app); /* the empty one */
    fnh__app_unload(last);           /* unbinds (on the loop), then unloads extensions */
    uv_run(loop, UV_RUN_NOWAIT);
    uv_loop_close(loop);
    fnh__shadow_cleanup();
    fnh__log("Host", FNH_LOG_INFO, "Host stopped");
    fnh__log_shutdown();
    return 0;
}

/* The app's keys (the key API works with authorization off too); with
 * --enable-auth the host secrets are made now, so `fnhost invoke` finds the
 * master key. */
static void start_keys(const start_opts *o)
{
    g_host.auth = o->enable_auth;
    g_host.secrets = fnh__secrets_new(o->root, g_host.base_url + strlen("http://"));
    const char *master;
    if (g_host.auth && g_host.secrets && fnh__secrets_master(g_host.secrets, &master) == 0)
        fnh__log("Host", FNH_LOG_INFO, "Authorization is on: function and admin keys are in %s",
                 fnh__secrets_dir(g_host.secrets));
}

static int cmd_start(const start_opts *o)
{
    uint64_t t0 = fnh__now_ns();
    fnh__log_init(o->json_logs, o->verbose);
    start_banner(o->json_logs);
    startup_timeout_arm(o->timeout_s);
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    int src = fnh__shadow_init(); /* a rebuilt .so never changes the loaded copy */
    if (src)
        fnh__log("Host", FNH_LOG_WARN, "Cannot create a folder for copies of native functions "
                                       "(%s); they load from where they are built and a "
                                       "rebuild while the host runs may crash it",
                 strerror(-src));
    fnh__app *app = start_load(o, loop);
    if (!app) {
        fnh__shadow_cleanup();
        return 1;
    }
    if (start_listening(o, app, loop, t0)) {
        fnh__ext_stop(app);
        fnh__log_shutdown();
        fnh__app_unload(app);
        uv_run(loop, UV_RUN_NOWAIT);
        uv_loop_close(loop);
        fnh__shadow_cleanup();
        return 1;
    }
    int rc = fnh__dispatch_init(loop, worker_count(), app->function_timeout_ms);
    if (rc) {
        fnh__log("Host", FNH_LOG_ERROR, "Cannot start worker threads: %s", strerror(-rc));
        return 1;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    rc = fnh__isolated_init(loop, worker_count(), self);
    if (rc) {
        fnh__log("Host", FNH_LOG_ERROR, "Cannot set up isolated functions: %s", strerror(-rc));
        return 1;
    }
    start_keys(o);
    log_routes(app);
    print_functions(app, g_host.base_url);
    fnh__ext_start(app);
    fnh__app_options ao = {.root = o->root, .functions_csv = o->functions,
                           .in_process = o->in_process, .port = g_host.port};
    fnh__reload_init(&g_host, &ao, !o->no_watch); /* says itself what went wrong */
    fnh__admin_set_restart(fnh__host_reload);
    watch_signals(loop);
    alarm(0); /* --timeout: listening */
    fnh__log("Host", FNH_LOG_INFO, "Host started (%llums), listening on %s:%d",
             (unsigned long long)((fnh__now_ns() - t0) / 1000000u),
             o->host ? o->host : "127.0.0.1", g_host.port);
    fnh__log_flush();
    serve(loop);
    return finish(app, loop);
}

/* ---- routes --------------------------------------------------------- */

static int cmd_routes(const char *root, const char *method, const char *path)
{
    fnh__log_init(0, 0);
    /* stdout is the answer: a language worker's output while it indexes is not */
    fnh__log_set_level("Host.Child", FNH__LOG_NONE);
    fnh__log_set_level("Host.Worker", FNH__LOG_NONE);
    fnh__log_set_level("Host.Function.Console", FNH__LOG_NONE);
    fnh__app_options ao = {.root = root};
    fnh__app *app = NULL;
    if (fnh__app_load_bound(&ao, 0, NULL, &app) && !app)
        return 1;
    fnh__router *router = fnh__http_router(app);
    int fatal = report_app(app, 1);
    int rc = 0;
    if (fatal) {
        rc = 1; /* as start: the errors are on stderr */
    } else if (method) {
        unsigned bit = fnh__method_bit(method, strlen(method));
        fnh__buf p = {0};
        if (path[0] != '/')
            fnh__buf_puts(&p, "/");
        const char *q = strpbrk(path, "?#");
        fnh__buf_append(&p, path, q ? (size_t)(q - path) : strlen(path));
        fnh__route_match m = {0};
        if (bit && router && fnh__router_match(router, bit, p.data, p.len, &m) == 1) {
            fnh__function *fn = ((fnh__http_fn *)m.target)->fn;
            fnh__buf out = {0};
            fnh__buf_puts(&out, "{\"function\":");
            fnh__json_str_or_null(&out, fn->name);
            fnh__buf_puts(&out, ",\"params\":{");
            for (size_t i = 0; i < m.nparams; i++) {
                if (i)
                    fnh__buf_puts(&out, ",");
                fnh__json_str_or_null(&out, m.params[i].name);
                fnh__buf_puts(&out, ":");
                fnh__json_str_or_null(&out, m.params[i].value);
            }
            fnh__buf_puts(&out, "}}");
            printf("%s\n", out.data);
            fnh__buf_free(&out);
            fnh__route_match_clear(&m);
        } else {
            printf("no match\n");
            rc = 1;
        }
        fnh__buf_free(&p);
    } else {
        const fnh__route *r;
        unsigned methods;
        void *target;
        printf("%-24s %-40s %s\n", "METHODS", "ROUTE", "FUNCTION");
        for (size_t i = 0; router && fnh__router_at(router, i, &r, &methods, &target); i++) {
            char ms[96];
            printf("%-24s %-40s %s\n", methods == FNH__M_ALL ? "ALL" : methods_text(methods, 0, ms),
                   fnh__route_template(r),
                   ((fnh__http_fn *)target)->fn->name);
        }
    }
    fflush(stdout);
    fnh__app_unload(app);
    fnh__log_shutdown();
    return rc;
}

/* Reads the options of fnhost start (or, with routes set, fnhost routes)
 * from argv[2..] into o and *match_method, *match_path (borrowed from
 * argv); 0, or 2 (the exit status) after saying what is wrong. */
static int parse_start_opts(const char *cmd, int routes, int argc, char **argv, start_opts *o,
                            const char **match_method, const char **match_path)
{
    int ct;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (strcmp(a, "--script-root") == 0 && has_val)
            o->root = argv[++i];
        else if (!routes && (strcmp(a, "--port") == 0 || strcmp(a, "-p") == 0) && has_val) {
            if (parse_port(argv[++i], &o->port)) {
                fprintf(stderr, "fnhost: --port: '%s' is not a port number; use 0-65535\n",
                        argv[i]);
                return 2;
            }
        } else if (!routes && strcmp(a, "--host") == 0 && has_val)
            o->host = argv[++i];
        else if (!routes && (ct = core_tools_flag(o, argc, argv, &i)) != 0) {
            if (ct < 0)
                return 2;
        } else if (!routes && strcmp(a, "--verbose") == 0)
            o->verbose = 1;
        else if (!routes && strcmp(a, "--json-logs") == 0)
            o->json_logs = 1;
        else if (!routes && strcmp(a, "--in-process") == 0)
            o->in_process = 1;
        else if (!routes && (strcmp(a, "--enable-auth") == 0 ||
                             strcmp(a, "--enableAuth") == 0)) /* Core Tools' spelling */
            o->enable_auth = 1;
        else if (!routes && strcmp(a, "--no-watch") == 0)
            o->no_watch = 1;
        else if (routes && strcmp(a, "--match") == 0 && i + 2 < argc) {
            *match_method = argv[++i];
            *match_path = argv[++i];
        } else {
            fprintf(stderr, "fnhost %s: unknown or incomplete option '%s'\n\n", cmd, a);
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

/* fnhost start and fnhost routes: their options, then the command. */
static int cmd_start_or_routes(const char *cmd, int argc, char **argv)
{
    start_opts o = {.root = ".", .port = -1, .user_log_level = -1};
    const char *match_method = NULL, *match_path = NULL;
    int routes = strcmp(cmd, "routes") == 0;
    int rc = parse_start_opts(cmd, routes, argc, argv, &o, &match_method, &match_path);
    if (!rc)
        rc = routes ? cmd_routes(o.root, match_method, match_path) : cmd_start(&o);
    fnh__buf_free(&o.functions_buf);
    return rc;
}

int main(int argc, char **argv)
{
    fnh__crash_install(); /* a crash in a plugin names the plugin */
    fnh__fdlimit_raise(); /* every connection is a file descriptor */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "__native-child") == 0) /* hidden: processes the host starts itself */
        return fnh__native_child_main(argc - 1, argv + 1);
    if (strcmp(cmd, "__exec-child") == 0)
        return fnh__exec_child_main(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("fnhost %s\n", FNH_VERSION);
        return 0;
    }
    /* ---- scaffolding and help topics ---- */
    if (strcmp(cmd, "help") == 0 && argc >= 3) {
        if (fnh__cli_help_topic(argv[2]) == 0)
            return 0;
        fprintf(stderr, "fnhost help: no guide on '%s'; the topics are: extensions\n", argv[2]);
        return 2;
    }
    if (strcmp(cmd, "--cflags") == 0)
        return fnh__cli_cflags();
    if (strcmp(cmd, "init") == 0)
        return fnh__cli_init(argc - 1, argv + 1);
    if (strcmp(cmd, "new") == 0)
        return fnh__cli_new(argc - 1, argv + 1);
    if (strcmp(cmd, "templates") == 0)
        return fnh__cli_templates(argc - 1, argv + 1);
    /* ---- */
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
#ifdef HAVE_CRON
    if (strcmp(cmd, "cron") == 0)
        return fnh__cli_cron(argc - 1, argv + 1);
#endif
    if (strcmp(cmd, "start") == 0 || strcmp(cmd, "routes") == 0)
        return cmd_start_or_routes(cmd, argc, argv);
    if (strcmp(cmd, "extensions") == 0)
        return fnh__ext_cli(argc - 1, argv + 1);
    if (strcmp(cmd, "invoke") == 0)
        return fnh__cli_invoke(argc - 1, argv + 1);
    int xrc = fnh__ext_command(argc - 1, argv + 1);
    if (xrc != -ENOENT)
        return xrc;
    fprintf(stderr, "fnhost: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
