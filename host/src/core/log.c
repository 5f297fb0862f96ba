/* log.c: console logging for the host and its functions. Lines are formatted
 * on the calling thread and appended to one buffer under a spin lock (held
 * for a copy: lines are written twice per invocation); the buffer is flushed
 * by the loop after every iteration, when it grows past 32 KiB, when 100 ms
 * have passed, and at once when stdout is a terminal. A flush swaps the
 * buffer for an empty one and writes outside the spin lock, one flush at a
 * time (a mutex), so lines leave in the order they were appended. */
#include "log.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "util.h"

typedef struct level_rule {
    char *prefix;
    size_t len;
    int level;
} level_rule;

/* What a line of one level has around its stamp and message on a terminal:
 * its colour and the colour's reset (both empty elsewhere, and for levels
 * without a colour). Fixed-size copies: only the first n bytes count. */
typedef struct line_paint {
    char open[8];
    char close[4];
    unsigned char open_n, close_n;
} line_paint;

static struct {
    int locked;               /* the spin lock over out, the tees and last_flush_ns */
    pthread_mutex_t writing;  /* held by the flush that writes spare */
    fnh__buf out;             /* lines appended, not yet flushed */
    fnh__buf spare;           /* the lines a flush writes (under writing) */
    int json;
    size_t flush_len; /* the output is flushed past this length (0 on a terminal) */
    line_paint paint[FNH__LOG_NONE + 1];
    int verbose;
    int default_level;
    level_rule *rules;
    size_t nrules;
    unsigned generation; /* counts the changes of levels (never 0: memos start stale) */
    uint64_t last_flush_ns;
} g_log = {.writing = PTHREAD_MUTEX_INITIALIZER,
           .flush_len = 32768,
           .default_level = FNH_LOG_INFO,
           .generation = 1};

/* Waits for the spin lock another thread holds, and takes it. */
static void lock_wait(void)
{
    unsigned spins = 0;
    do
        while (__atomic_load_n(&g_log.locked, __ATOMIC_RELAXED))
            if (++spins % 64 == 0)
                sched_yield(); /* the holder may be off its CPU */
    while (__atomic_exchange_n(&g_log.locked, 1, __ATOMIC_ACQUIRE));
}

/* Takes the spin lock: inline when it is free, as it mostly is. */
static inline void lock(void)
{
    if (__atomic_exchange_n(&g_log.locked, 1, __ATOMIC_ACQUIRE))
        lock_wait();
}

static void unlock(void)
{
    __atomic_store_n(&g_log.locked, 0, __ATOMIC_RELEASE);
}

static _Thread_local fnh__log_tee *tls_tee;

static const char *level_names[] = {"Trace", "Debug", "Information", "Warning",
                                    "Error", "Critical", "None"};

void fnh__log_init(int json, int verbose)
{
    g_log.json = json;
    int tty = isatty(1);
    g_log.flush_len = tty ? 0 : 32768;
    for (int level = FNH_LOG_WARN; level <= FNH__LOG_NONE; level++) {
        line_paint *p = &g_log.paint[level];
        *p = (line_paint){0};
        if (tty) {
            memcpy(p->open, level == FNH_LOG_WARN ? "\033[33m" : "\033[31m", 5);
            memcpy(p->close, "\033[0m", 4);
            p->open_n = 5;
            p->close_n = 4;
        }
    }
    g_log.verbose = verbose;
    g_log.default_level = verbose ? FNH_LOG_DEBUG : FNH_LOG_INFO;
    g_log.generation++;
}

int fnh__log_parse_level(const char *name)
{
    for (int i = 0; i <= FNH__LOG_NONE; i++)
        if (name && strcasecmp(name, level_names[i]) == 0)
            return i;
    return -22;
}

int fnh__log_set_level(const char *category, int level)
{
    g_log.generation++;
    if (strcasecmp(category, "default") == 0) {
        g_log.default_level = level;
        return 0;
    }
    level_rule *r = realloc(g_log.rules, (g_log.nrules + 1) * sizeof *r);
    if (!r)
        return -12;
    g_log.rules = r;
    r[g_log.nrules].prefix = fnh__strdup(category);
    r[g_log.nrules].len = strlen(category);
    r[g_log.nrules].level = level;
    g_log.nrules++;
    return 0;
}

/* The lowest level of category's lines that is written (FNH__LOG_NONE:
 * none is). */
static int min_level(const char *category)
{
    int min = g_log.default_level;
    size_t best = 0;
    for (size_t i = 0; i < g_log.nrules; i++) {
        const level_rule *r = &g_log.rules[i];
        if (r->len >= best && strncasecmp(category, r->prefix, r->len) == 0 &&
            (category[r->len] == '\0' || category[r->len] == '.')) {
            best = r->len;
            min = r->level;
        }
    }
    if (g_log.verbose && min > FNH_LOG_DEBUG && min != FNH__LOG_NONE)
        min = FNH_LOG_DEBUG; /* --verbose shows debug lines whatever host.json says */
    return min;
}

int fnh__log_enabled(const char *category, fnh_log_level level)
{
    int min = min_level(category);
    return (int)level >= min && min != FNH__LOG_NONE;
}

int fnh__log_enabled_memo(fnh__log_memo *memo, const char *category, fnh_log_level level)
{
    unsigned state = __atomic_load_n(&memo->state, __ATOMIC_RELAXED);
    if (state >> 3 != g_log.generation) {
        state = g_log.generation << 3 | (unsigned)min_level(category);
        __atomic_store_n(&memo->state, state, __ATOMIC_RELAXED);
    }
    int min = (int)(state & 7);
    return (int)level >= min && min != FNH__LOG_NONE;
}

/* A cheap clock (a few ms of resolution) for the time of a flush, against
 * which each line checks the "flush at least every 100 ms" rule. */
static uint64_t coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A console line's "[<timestamp>] " prefix, kept per thread for the
 * monotonic times [from, from + span) it stands for (a millisecond of the
 * wall clock at most): lines come many a millisecond, and an invocation's
 * two often share one. */
typedef struct line_stamp {
    uint64_t from, span;
    size_t n;      /* its length: the timestamp is text + 1, n - 3 bytes */
    char text[32]; /* '[', a timestamp of at most 28 bytes, "] " and NUL */
} line_stamp;
static _Thread_local line_stamp stamp;

/* Makes the calling thread's stamp for now_ns. */
static void stamp_make(uint64_t now_ns)
{
    uint64_t until;
    char ts[32];
    size_t tn = fnh__iso_utc(fnh__wall_ms_at(now_ns, &stamp.from, &until), ts);
    stamp.span = until - stamp.from;
    stamp.text[0] = '[';
    memcpy(stamp.text + 1, ts, tn);
    memcpy(stamp.text + 1 + tn, "] ", 3);
    stamp.n = tn + 3;
}

/* The stamp of a line written at now_ns (an fnh__now_ns() reading): the
 * calling thread's, made again only when now_ns is outside its times. */
static const line_stamp *stamp_at(uint64_t now_ns)
{
    if (now_ns - stamp.from >= stamp.span)
        stamp_make(now_ns);
    return &stamp;
}

/* Writes out every line appended so far: the buffer is swapped for the
 * empty spare under the lock and written after it, with writing held so
 * flushes leave in order. Not under the lock. */
static void flush(void)
{
    pthread_mutex_lock(&g_log.writing);
    lock();
    fnh__buf full = g_log.out;
    g_log.out = g_log.spare;
    g_log.spare = full;
    g_log.last_flush_ns = coarse_ns();
    unlock();
    size_t off = 0;
    while (off < full.len) {
        ssize_t n = write(1, full.data + off, full.len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    g_log.spare.len = 0;
    pthread_mutex_unlock(&g_log.writing);
}

/* Whether the lines appended so far are to be written now: on a terminal
 * (flush_len 0: there is a line), past 32 KiB, or 100 ms after the last
 * flush (now_ns: a fine reading of the clock that stamped last_flush_ns
 * coarsely). Under the lock. */
static inline int flush_due(uint64_t now_ns)
{
    return g_log.out.len > g_log.flush_len || now_ns - g_log.last_flush_ns > 100000000u;
}

/* Starts a console line with room for a message of up to room bytes at the
 * end of the output: the stamp and the level's colour. Returns where the
 * message goes, or NULL when out of memory. Under the lock. */
static inline char *line_head(const line_stamp *st, fnh_log_level level, size_t room)
{
    const line_paint *p = &g_log.paint[level];
    /* the stamp's and the colour's buffers, the message, the reset and
     * "\n" (the NUL is counted by fnh__buf_reserve) */
    size_t need = sizeof st->text + sizeof p->open + room + sizeof p->close + 1;
    fnh__buf *b = &g_log.out;
    if (b->len + need + 1 > b->cap && fnh__buf_reserve(b, need))
        return NULL;
    char *o = b->data + b->len;
    /* whole buffers: a copy of fixed size is a few moves; the bytes past
     * what counts are overwritten next or lie past the end */
    memcpy(o, st->text, sizeof st->text);
    o += st->n;
    memcpy(o, p->open, sizeof p->open);
    return o + p->open_n;
}

/* Ends the line line_head started, whose message ends at o. Under the lock. */
static inline void line_tail(char *o, fnh_log_level level)
{
    const line_paint *p = &g_log.paint[level];
    memcpy(o, p->close, sizeof p->close);
    o += p->close_n;
    *o++ = '\n';
    *o = '\0';
    g_log.out.len = (size_t)(o - g_log.out.data);
}

/* Appends one line (msg, len bytes, no newline) with the stamp st to the
 * output. Under the lock. */
static void append_line(const line_stamp *st, const char *category, fnh_log_level level,
                        const char *msg, size_t len)
{
    if (g_log.json) {
        fnh__buf_printf(&g_log.out, "{\"timestamp\":\"%.*s\",\"level\":\"%s\",\"category\":",
                        (int)st->n - 3, st->text + 1, level_names[level]);
        fnh__json_escape(&g_log.out, category, strlen(category));
        fnh__buf_puts(&g_log.out, ",\"message\":");
        fnh__json_escape(&g_log.out, msg, len);
        fnh__buf_puts(&g_log.out, "}\n");
        return;
    }
    char *o = line_head(st, level, len);
    if (o)
        line_tail(fnh__put(o, msg, len), level);
}

/* Appends one JSON object for the line to the thread's tee. Under the lock. */
static void tee_line(fnh__log_tee *t, const line_stamp *st, const char *category,
                     fnh_log_level level, const char *msg, size_t n)
{
    fnh__buf *b = &t->lines;
    fnh__buf_printf(b, "%s{\"timestamp\":\"%.*s\",\"level\":\"%s\",\"category\":",
                    b->len ? "," : "", (int)st->n - 3, st->text + 1, level_names[level]);
    fnh__json_escape(b, category, strlen(category));
    fnh__buf_puts(b, ",\"message\":");
    fnh__json_escape(b, msg, n);
    fnh__buf_puts(b, "}");
}

fnh__log_tee *fnh__log_tee_set(fnh__log_tee *t)
{
    fnh__log_tee *prev = tls_tee;
    tls_tee = t;
    return prev;
}

void fnh__log_tee_take(fnh__log_tee *t, fnh__buf *out)
{
    lock();
    if (t->lines.len)
        fnh__buf_append(out, t->lines.data, t->lines.len);
    t->lines.len = 0;
    unlock();
}

void fnh__log_tee_clear(fnh__log_tee *t)
{
    fnh__buf_free(&t->lines);
}

/* Writes msg (n bytes) as one line, or, with split, one line per line of it
 * (JSON keeps it whole). */
static void write_line(const char *category, fnh_log_level level, const char *msg, size_t n,
                       int split, uint64_t now_ns)
{
    const line_stamp *st = stamp_at(now_ns);
    lock();
    if (tls_tee)
        tee_line(tls_tee, st, category, level, msg, n);
    split = split && !g_log.json;
    const char *p = msg, *end = msg + n;
    do {
        const char *nl = split ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        const char *stop = nl ? nl : end;
        append_line(st, category, level, p, (size_t)(stop - p));
        p = nl ? nl + 1 : end;
    } while (p < end);
    int due = flush_due(now_ns);
    unlock();
    if (due)
        flush();
}

/* The line fnh__log_begin opened on this thread. */
static _Thread_local struct {
    const char *category;
    fnh_log_level level;
    uint64_t now_ns;
    char *msg; /* where its message starts: in the output, under the lock, or scratch */
} open_line;
static _Thread_local char scratch[FNH__LOG_ROOM_MAX];

char *fnh__log_begin(const char *category, fnh_log_level level, uint64_t now_ns, size_t room)
{
    open_line.category = category;
    open_line.level = level;
    open_line.now_ns = now_ns;
    char *o = scratch; /* fnh__log_end hands it to write_line */
    if (!g_log.json && !tls_tee) {
        const line_stamp *st = stamp_at(now_ns);
        lock();
        o = line_head(st, level, room);
        if (!o) {
            unlock();
            o = scratch;
        }
    }
    return open_line.msg = o;
}

void fnh__log_end(char *end, size_t max)
{
    size_t n = (size_t)(end - open_line.msg);
    if (n > max)
        n = max;
    if (open_line.msg == scratch) {
        write_line(open_line.category, open_line.level, scratch, n, 0, open_line.now_ns);
        return;
    }
    line_tail(open_line.msg + n, open_line.level);
    int due = flush_due(open_line.now_ns);
    unlock();
    if (due)
        flush();
}

void fnh__log_line(const char *category, fnh_log_level level, const char *msg, size_t n)
{
    write_line(category, level, msg, n, 1, fnh__now_ns());
}

void fnh__logv(const char *category, fnh_log_level level, const char *fmt, va_list ap)
{
    if (!fnh__log_enabled(category, level))
        return;
    char stackbuf[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(stackbuf, sizeof stackbuf, fmt, ap);
    char *msg = stackbuf;
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n >= sizeof stackbuf) {
        msg = malloc((size_t)n + 1);
        if (!msg) {
            va_end(ap2);
            return;
        }
        vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    fnh__log_line(category, level, msg, (size_t)n);
    if (msg != stackbuf)
        free(msg);
}

void fnh__log(const char *category, fnh_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fnh__logv(category, level, fmt, ap);
    va_end(ap);
}

void fnh__log_raw(const char *text)
{
    if (g_log.json)
        return;
    lock();
    fnh__buf_puts(&g_log.out, text);
    unlock();
    flush();
}

void fnh__log_flush(void)
{
    lock();
    size_t len = g_log.out.len;
    unlock();
    if (len)
        flush();
}

void fnh__log_shutdown(void)
{
    flush();
    pthread_mutex_lock(&g_log.writing);
    lock();
    fnh__buf_free(&g_log.out);
    fnh__buf_free(&g_log.spare);
    for (size_t i = 0; i < g_log.nrules; i++)
        free(g_log.rules[i].prefix);
    free(g_log.rules);
    g_log.rules = NULL;
    g_log.nrules = 0;
    unlock();
    pthread_mutex_unlock(&g_log.writing);
}
