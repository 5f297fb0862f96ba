/* crash.h: makes a fatal signal visible. One handler for SIGSEGV, SIGBUS,
 * SIGILL, SIGFPE and SIGABRT writes one line naming what the crashing thread
 * was doing (its innermost crash scope), then lets the signal end the
 * process as before (or hands it on to the handler installed earlier, e.g.
 * AddressSanitizer's). Scopes are two thread-local stores, no allocation. */
#ifndef FNH_CRASH_H
#define FNH_CRASH_H

#include <stdatomic.h>

/* What a thread is doing, for the crash line
 *
 *   fnhost: fatal signal SIGSEGV (Segmentation fault) while <what> '<name>' (<key>=<detail>)
 *
 * e.g. while loading extension 'queue' (/opt/fnh_queue.so), or
 * while running function 'hello' (Id=0b9f...). name, key and detail may be
 * NULL (the part is left out; no key prints just "(<detail>)"). Every
 * string is borrowed and must stay valid and unchanged until
 * fnh__crash_leave: point at strings that outlive the call (a function's
 * name, an invocation's id buffer), never at a buffer that is reused. */
typedef struct fnh__crash_scope {
    const char *what;   /* "loading extension", "running function" */
    const char *name;   /* "queue", "hello" */
    const char *key;    /* "Id" */
    const char *detail; /* "/opt/fnh_queue.so", the invocation id */
    struct fnh__crash_scope *prev; /* set by fnh__crash_enter */
} fnh__crash_scope;

extern _Thread_local fnh__crash_scope *fnh__crash_top;

/* Makes s the calling thread's current scope until fnh__crash_leave(s).
 * Scopes nest (leave restores the enclosing one) and belong to one thread.
 * s usually lives on the caller's stack:
 *
 *     fnh__crash_scope cs = {.what = "running function", .name = fn->name,
 *                            .key = "Id", .detail = inv->id};
 *     fnh__crash_enter(&cs);
 *     rc = fn->entry(ctx);
 *     fnh__crash_leave(&cs);
 *
 * Any thread; costs two stores and a load. */
static inline void fnh__crash_enter(fnh__crash_scope *s)
{
    s->prev = fnh__crash_top;
    fnh__crash_top = s;
    atomic_signal_fence(memory_order_seq_cst); /* visible before the risky call */
}

static inline void fnh__crash_leave(fnh__crash_scope *s)
{
    atomic_signal_fence(memory_order_seq_cst);
    fnh__crash_top = s->prev;
}

/* Installs the fatal-signal handler for the whole process and an alternate
 * signal stack for the calling thread (so a stack overflow is reported too).
 * Call once, early in main, before other threads exist. A handler already
 * installed (a sanitizer's) runs after the line is written; without one the
 * signal is re-raised with its default action, so the exit status is still
 * the signal. */
void fnh__crash_install(void);

/* Gives the calling thread its own alternate signal stack (once; later calls
 * return at once), so that a stack overflow on it is reported as well.
 * Without it a crash on that thread is still reported, unless the stack
 * itself overflowed. Optional; any thread. */
void fnh__crash_thread_init(void);

#endif
