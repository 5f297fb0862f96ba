/* crash.c: the fatal-signal handler. It writes one line with write(2) alone
 * (the whole line built first in a fixed buffer), then runs the handler that
 * was installed before it (a sanitizer's) or restores the default action and
 * re-raises, so the process still ends with the signal. */
#include "crash.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALT_STACK_SIZE (64 * 1024)

_Thread_local fnh__crash_scope *fnh__crash_top;

static const struct {
    int sig;
    const char *name, *text;
} k_fatal[] = {
    {SIGSEGV, "SIGSEGV", "Segmentation fault"},
    {SIGBUS, "SIGBUS", "Bus error"},
    {SIGILL, "SIGILL", "Illegal instruction"},
    {SIGFPE, "SIGFPE", "Floating point exception"},
    {SIGABRT, "SIGABRT", "Aborted"},
};
#define NFATAL (sizeof k_fatal / sizeof k_fatal[0])

static struct sigaction g_prev[NFATAL];
static int g_installed;
static _Thread_local int t_alt_stack;

/* Appends s to line (cap bytes, one kept for the newline). */
static void put(char *line, size_t *n, size_t cap, const char *s)
{
    while (s && *s && *n + 1 < cap)
        line[(*n)++] = *s++;
}

/* Appends " while <what> '<name>' (<key>=<detail>)" for scope s. */
static void put_scope(char *line, size_t *n, size_t cap, const fnh__crash_scope *s)
{
    if (!s || !s->what)
        return;
    put(line, n, cap, " while ");
    put(line, n, cap, s->what);
    if (s->name) {
        put(line, n, cap, " '");
        put(line, n, cap, s->name);
        put(line, n, cap, "'");
    }
    if (s->detail) {
        put(line, n, cap, " (");
        if (s->key) {
            put(line, n, cap, s->key);
            put(line, n, cap, "=");
        }
        put(line, n, cap, s->detail);
        put(line, n, cap, ")");
    }
}

static void write_all(const char *line, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = write(2, line + off, n - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}

/* exit() called from inside a scope (a function calling exit): say so. */
static void on_exit_call(void)
{
    const fnh__crash_scope *s = fnh__crash_top;
    if (!s || !s->what)
        return;
    char line[1024];
    size_t n = 0;
    put(line, &n, sizeof line, "fnhost: exit() was called");
    put_scope(line, &n, sizeof line, s);
    put(line, &n, sizeof line, "; the host stops");
    line[n++] = '\n';
    write_all(line, n);
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    size_t i = 0;
    while (i < NFATAL && k_fatal[i].sig != sig)
        i++;
    if (i == NFATAL)
        return;
    char line[1024];
    size_t n = 0;
    put(line, &n, sizeof line, "fnhost: fatal signal ");
    put(line, &n, sizeof line, k_fatal[i].name);
    put(line, &n, sizeof line, " (");
    put(line, &n, sizeof line, k_fatal[i].text);
    put(line, &n, sizeof line, ")");
    put_scope(line, &n, sizeof line, fnh__crash_top);
    line[n++] = '\n';
    write_all(line, n);
    const struct sigaction *prev = &g_prev[i];
    if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction)
        prev->sa_sigaction(sig, si, uc);
    else if (!(prev->sa_flags & SA_SIGINFO) && prev->sa_handler != SIG_DFL &&
             prev->sa_handler != SIG_IGN)
        prev->sa_handler(sig);
    /* no earlier handler, or it returned: die of the signal. It stays
     * blocked until this handler returns, then the default action runs. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

void fnh__crash_thread_init(void)
{
    if (t_alt_stack)
        return;
    t_alt_stack = 1;
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
        return; /* the thread has one already (a sanitizer's) */
    /* mapped, not malloc'd: it lives as long as the thread, which for the
     * threads that call this is as long as the process */
    void *mem = mmap(NULL, ALT_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (mem == MAP_FAILED)
        return;
    stack_t ss = {.ss_sp = mem, .ss_size = ALT_STACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0)
        munmap(mem, ALT_STACK_SIZE);
}

void fnh__crash_install(void)
{
    if (g_installed)
        return;
    g_installed = 1;
    fnh__crash_thread_init();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NFATAL; i++)
        sigaction(k_fatal[i].sig, &sa, &g_prev[i]);
    atexit(on_exit_call);
}
