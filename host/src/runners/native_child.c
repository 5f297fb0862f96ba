/* native_child.c: the isolated native runner's child process ("fnhost
 * __native-child"). Over the socket on fd 3 it speaks the worker protocol:
 * FunctionLoadRequest loads a function's .so (checked like in the host),
 * InvocationRequest runs it, one at a time, and is answered with an
 * InvocationResponse; fnh_log lines go back as RpcLog. It dies with the
 * host, stops cleanly on SIGTERM or end of input once the running function
 * returns, and reports a fatal signal on stderr with the function, the
 * invocation and a backtrace before dying of it. Single-threaded.
 * May call: rpc_invocation, rpc_function, rpc_frame, function_native,
 * invocation, log, util. */
#include "child.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash.h"
#include "function_native.h"
#include "log.h"
#include "rpc_function.h"
#include "rpc_invocation.h"

#define PB(x) AzureFunctionsRpcMessages__##x
#define CASE(x) AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_##x

typedef struct loaded {
    char *id;        /* function_id */
    fnh__function *fn;
    char *error;     /* why it could not be loaded, or NULL */
    uint64_t last_ns; /* how long its last run took (0: not yet run) */
} loaded;

/* Answers wait in g.out while more requests are already read, and go out in
 * one write: before the child waits for input, and before a function that
 * is not known to be short runs (so no answer waits behind a long one). */
#define SHORT_RUN_NS 200000u

static struct {
    int fd;
    fnh__buf out;  /* messages not yet written */
    loaded *fns;
    size_t nfns;
    fnh__invocation *current; /* reachable while a function runs (also for leak checks) */
    volatile sig_atomic_t term;
} g = {.fd = 3};

/* What the fatal signal handler prints: copied before each run. */
static char g_crash_fn[128], g_crash_id[40];

/* ---- output ---------------------------------------------------------------- */

/* Writes a whole buffer; a host that is gone ends this process. */
static void flush_out(void)
{
    size_t off = 0;
    while (off < g.out.len) {
        ssize_t n = write(g.fd, g.out.data + off, g.out.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(1);
        off += (size_t)n;
    }
    g.out.len = 0;
}

static void send_buf(fnh__buf *b)
{
    if (fnh__buf_append(&g.out, b->data, b->len))
        flush_out(), _exit(1);
    b->len = 0;
}

static void send_msg(fnh__rpc_msg *m)
{
    fnh__buf b = {0};
    if (fnh__rpc_frame_append(&b, m) == 0)
        send_buf(&b);
    fnh__buf_free(&b);
}

/* fnh_log inside the child: one RpcLog to the host, which filters and
 * writes it under the function's category. */
static void child_log(fnh_ctx *c, fnh_log_level level, const char *fmt, va_list ap)
{
    fnh__invocation *inv = (fnh__invocation *)(void *)c;
    if (!fmt || (int)level < 0 || level > FNH_LOG_CRITICAL)
        return;
    char *msg = fnh__vasprintf(fmt, ap);
    char *cat = fnh__asprintf("%s.Invocation", inv->fn->name);
    if (msg && cat) {
        PB(RpcLog) log = AZURE_FUNCTIONS_RPC_MESSAGES__RPC_LOG__INIT;
        log.invocation_id = inv->id;
        log.category = cat;
        log.level = (PB(RpcLog__Level))level;
        log.message = msg;
        log.log_category = AZURE_FUNCTIONS_RPC_MESSAGES__RPC_LOG__RPC_LOG_CATEGORY__User;
        fnh__rpc_msg m = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
        m.content_case = CASE(RPC_LOG);
        m.rpc_log = &log;
        send_msg(&m);
        flush_out(); /* a function's log lines go out as they happen */
    }
    free(msg);
    free(cat);
}

static fnh_function_api g_api; /* the host's table with logging redirected */

/* ---- fatal signals ----------------------------------------------------------- */

static void put(char **at, char *end, const char *s)
{
    while (*s && *at < end)
        *(*at)++ = *s++;
}

static const char *sig_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    default: return "?";
    }
}

/* Async-signal-safe: fixed buffers, write(2), backtrace (preloaded). */
static void fatal_cb(int sig)
{
    int saved = errno;
    char line[512], *at = line, *end = line + sizeof line - 1;
    char num[4] = {(char)('0' + sig / 10 % 10), (char)('0' + sig % 10), 0, 0};
    if (g_crash_fn[0]) {
        put(&at, end, "fnhost: function '");
        put(&at, end, g_crash_fn);
        put(&at, end, "' (invocation ");
        put(&at, end, g_crash_id);
        put(&at, end, ") crashed: signal ");
    } else if (fnh__crash_top && fnh__crash_top->what && fnh__crash_top->name) {
        put(&at, end, "fnhost: isolated child crashed while ");
        put(&at, end, fnh__crash_top->what); /* "loading function" */
        put(&at, end, " '");
        put(&at, end, fnh__crash_top->name);
        put(&at, end, "': signal ");
    } else {
        put(&at, end, "fnhost: isolated child crashed outside a function: signal ");
    }
    put(&at, end, num[0] == '0' ? num + 1 : num);
    put(&at, end, " (");
    put(&at, end, sig_name(sig));
    put(&at, end, ")\n");
    if (write(2, line, (size_t)(at - line)) < 0) {
    }
    void *frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, 2);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(sig, &dfl, NULL);
    errno = saved;
    raise(sig); /* pending until this handler returns, then the default action */
}

static void install_fatal_handlers(void)
{
    static char altstack[1 << 16];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    sigaltstack(&ss, NULL); /* a stack overflow is reported too */
    void *warm[1];
    backtrace(warm, 1); /* loads libgcc now, not inside the handler */
    struct sigaction sa = {.sa_handler = fatal_cb, .sa_flags = SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaction(sigs[i], &sa, NULL);
}

static void term_cb(int sig)
{
    (void)sig;
    g.term = 1;
}

/* ---- requests ---------------------------------------------------------------- */

static loaded *find(const char *id)
{
    for (size_t i = 0; i < g.nfns; i++)
        if (g.fns[i].id && strcmp(g.fns[i].id, id) == 0)
            return &g.fns[i];
    return NULL;
}

static void loaded_clear(loaded *l)
{
    free(l->id);
    fnh__rpc_function_free(l->fn);
    free(l->error);
    memset(l, 0, sizeof *l);
}

static void on_load(const fnh__rpc_load_request *rq)
{
    /* a reload replaces the function: close the old .so before opening the
     * new one, or dlopen would hand back the old code */
    loaded *l = find(rq->function_id);
    if (l) {
        loaded_clear(l);
    } else {
        loaded *grown = realloc(g.fns, (g.nfns + 1) * sizeof *grown);
        if (grown) {
            g.fns = grown;
            l = &g.fns[g.nfns++];
            memset(l, 0, sizeof *l);
        }
    }
    fnh__function *fn = l ? fnh__rpc_function_new(rq) : NULL;
    char *error = NULL;
    if (fn) {
        fnh__native_resolve(fn, FNH__NATIVE_LOAD);
        fnh__buf all = {0};
        for (size_t i = 0; i < fn->errors.len; i++)
            fnh__buf_printf(&all, "%s%s", i ? "\n" : "", fn->errors.items[i]);
        if (all.len)
            error = fnh__buf_take(&all);
        fnh__buf_free(&all);
    }
    if (l) {
        l->id = fnh__strdup(rq->function_id);
        l->fn = fn;
        l->error = error;
    }
    fnh__buf b = {0};
    const char *why = !fn ? "out of memory" : error;
    if (fnh__rpc_encode_load_response(rq->function_id, why, &b) == 0)
        send_buf(&b);
    fnh__buf_free(&b);
}

static void on_invocation(const fnh__rpc_invocation_request *rq)
{
    fnh__buf b = {0};
    loaded *l = find(rq->function_id);
    const fnh__native_code *code = l && l->fn ? l->fn->runner_state : NULL;
    if (!l || l->error || !l->fn || !l->fn->runner || !code || !code->entry) {
        char *why = fnh__asprintf("function '%s' is not loaded in the isolated process%s%s",
                                  rq->function_id, l && l->error ? ": " : "",
                                  l && l->error ? l->error : "");
        fnh__rpc_encode_failure(rq->invocation_id, -ENOEXEC, why, &b);
        free(why);
        send_buf(&b);
        fnh__buf_free(&b);
        return;
    }
    fnh__invocation *inv = NULL;
    int rc = fnh__rpc_decode_invocation(rq, l->fn, &inv);
    if (rc) {
        fnh__rpc_encode_failure(rq->invocation_id, rc, NULL, &b);
    } else {
        inv->api = &g_api;
        if (g.out.len && !(l->last_ns && l->last_ns < SHORT_RUN_NS))
            flush_out();
        g.current = inv;
        fnh__copy(g_crash_fn, sizeof g_crash_fn, l->fn->name);
        fnh__copy(g_crash_id, sizeof g_crash_id, inv->id);
        uint64_t t0 = fnh__now_ns();
        rc = code->entry((fnh_ctx *)(void *)inv);
        l->last_ns = fnh__now_ns() - t0;
        g_crash_fn[0] = '\0';
        g.current = NULL;
        /* straight into the output (nothing is appended unless it is whole) */
        int erc = fnh__rpc_encode_response(inv, rc > 0 ? 0 : rc, &g.out);
        if (erc) /* the host still gets an answer */
            fnh__rpc_encode_failure(inv->id, erc,
                                    erc == -EMSGSIZE ? "the function's outputs exceed the "
                                                       "worker protocol's message size limit"
                                                     : NULL,
                                    &b);
        fnh__invocation_free(inv);
    }
    send_buf(&b);
    fnh__buf_free(&b);
}

/* Handles one message; returns 1 to stop. */
static int handle(fnh__rpc_msg *m)
{
    switch (m->content_case) {
    case CASE(FUNCTION_LOAD_REQUEST):
        on_load(m->function_load_request);
        return 0;
    case CASE(INVOCATION_REQUEST):
        on_invocation(m->invocation_request);
        return 0;
    case CASE(WORKER_STATUS_REQUEST): {
        PB(WorkerStatusResponse) st = AZURE_FUNCTIONS_RPC_MESSAGES__WORKER_STATUS_RESPONSE__INIT;
        fnh__rpc_msg r = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
        r.request_id = m->request_id;
        r.content_case = CASE(WORKER_STATUS_RESPONSE);
        r.worker_status_response = &st;
        send_msg(&r);
        return 0;
    }
    case CASE(WORKER_TERMINATE):
        return 1;
    default: /* InvocationCancel and the rest: a native function cannot be told */
        return 0;
    }
}

/* Tells the host this process is ready: StartStream with its pid. */
static void send_start_stream(void)
{
    PB(StartStream) ss = AZURE_FUNCTIONS_RPC_MESSAGES__START_STREAM__INIT;
    char wid[24];
    snprintf(wid, sizeof wid, "%d", (int)getpid());
    ss.worker_id = wid;
    fnh__rpc_msg hello = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
    hello.content_case = CASE(START_STREAM);
    hello.start_stream = &ss;
    send_msg(&hello);
    flush_out();
}

/* Serves the host's messages until it closes the socket, asks this process
 * to stop, or SIGTERM arrives (let in only while waiting: waiting is the
 * signal mask for then). Returns the exit status. */
static int serve_host(const sigset_t *waiting)
{
    fnh__rpc_reader rd;
    fnh__rpc_reader_init(&rd, 0);
    int status = 0, stop = 0;
    while (!stop && !g.term) {
        struct pollfd pfd = {.fd = g.fd, .events = POLLIN};
        int pr = ppoll(&pfd, 1, NULL, waiting);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            status = 1;
            break;
        }
        char *p;
        size_t room = fnh__rpc_reader_space(&rd, &p);
        if (!room) {
            status = 1;
            break;
        }
        ssize_t n = read(g.fd, p, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            status = n < 0;
            break; /* the host closed the socket: done */
        }
        fnh__rpc_reader_commit(&rd, (size_t)n);
        fnh__rpc_msg *m;
        int rc = 0;
        while (!stop && (rc = fnh__rpc_reader_next(&rd, &m)) == 1) {
            stop = handle(m);
            fnh__rpc_msg_free(m);
        }
        flush_out(); /* nothing more to read now: the answers go out */
        if (rc < 0) {
            fprintf(stderr, "fnhost __native-child: bad message from the host: %s\n",
                    strerror(-rc));
            status = 1;
            break;
        }
    }
    fnh__rpc_reader_free(&rd);
    return status;
}

int fnh__native_child_main(int argc, char **argv)
{
    if (fnh__die_with_parent() != 0)
        return 1;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--fd") == 0)
            g.fd = atoi(argv[++i]);
    int fl = fcntl(g.fd, F_GETFL);
    if (fl < 0) {
        fprintf(stderr, "fnhost __native-child: no protocol socket on fd %d; the host starts "
                        "this command itself\n",
                g.fd);
        return 2;
    }
    fcntl(g.fd, F_SETFL, fl & ~O_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0); /* a function's printf reaches the host log per line */
    fnh__log_init(0, 0);
    install_fatal_handlers();
    /* SIGTERM waits until no function runs: it is blocked and only let in
     * while waiting for the next request */
    sigset_t term, waiting;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &waiting);
    sigdelset(&waiting, SIGTERM);
    struct sigaction st = {.sa_handler = term_cb};
    sigaction(SIGTERM, &st, NULL);
    g_api = fnh__function_api;
    g_api.log = child_log;
    send_start_stream();
    int status = serve_host(&waiting);
    flush_out();
    fnh__buf_free(&g.out);
    for (size_t i = 0; i < g.nfns; i++)
        loaded_clear(&g.fns[i]);
    free(g.fns);
    fnh__log_shutdown();
    return status;
}
