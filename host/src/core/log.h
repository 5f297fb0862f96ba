/* log.h: the host's console log: "[2026-01-31T23:59:00.123Z] message" lines
 * (or one JSON object per line with --json-logs), ASP.NET-style level
 * filtering by category prefix (host.json logging.logLevel), buffered output
 * that is safe from any thread. */
#ifndef FNH_LOG_H
#define FNH_LOG_H

#include <stdarg.h>
#include "fnhost/common.h"
#include "util.h"

#define FNH__LOG_NONE 6 /* "None": nothing passes */

/* Configures output. Call once at start, before other threads exist. */
void fnh__log_init(int json, int verbose);
/* Sets the minimum level for a category prefix ("default", "Host",
 * "Function", "Function.hello", ...). Longest prefix wins. Copies category.
 * Start-up only; a later call for the same prefix wins. Returns 0 or
 * -ENOMEM. */
int fnh__log_set_level(const char *category, int level);
/* Parses "Trace", "Debug", "Information", "Warning", "Error", "Critical",
 * "None" (case-insensitive). Returns the level or -EINVAL. */
int fnh__log_parse_level(const char *name);
/* 1 when a line of that category and level would be written. Any thread. */
int fnh__log_enabled(const char *category, fnh_log_level level);
/* One category's minimum level, remembered for callers that check the same
 * category on every invocation (a function's). Zero-initialise it; a change
 * of levels (fnh__log_init, fnh__log_set_level) makes it stale. */
typedef struct fnh__log_memo {
    unsigned state; /* the levels' generation << 3 | the minimum level; 0: not worked out */
} fnh__log_memo;
/* fnh__log_enabled, with the level rules scanned only when memo is stale.
 * memo must always come with the same category; both are borrowed. Any
 * thread (memo is read and written atomically). */
int fnh__log_enabled_memo(fnh__log_memo *memo, const char *category, fnh_log_level level);
/* Writes one line (a multi-line message gives one prefixed line each). Any
 * thread. category and fmt are borrowed for the call. */
void fnh__log(const char *category, fnh_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fnh__logv(const char *category, fnh_log_level level, const char *fmt, va_list ap);
/* Writes an already formatted message of n bytes (no level check: callers
 * on hot paths check fnh__log_enabled first). Any thread. */
void fnh__log_line(const char *category, fnh_log_level level, const char *msg, size_t n);
/* One line written in place, without a copy (for lines written on every
 * invocation): fnh__log_begin returns where its message goes, with room
 * bytes free there (room at most FNH__LOG_ROOM_MAX); fnh__log_end(end, max)
 * ends it where the caller stopped writing, cut to max bytes. Between the
 * two the log may be locked: write the message and nothing else (no other
 * logging, nothing that blocks). No level check (callers check first), no
 * newline in the message (it is not searched for one), now_ns the time of
 * the line (an fnh__now_ns() reading the caller has anyway), category
 * borrowed until fnh__log_end. The pointer returned is the calling thread's
 * until then. Any thread. */
#define FNH__LOG_ROOM_MAX 4096
char *fnh__log_begin(const char *category, fnh_log_level level, uint64_t now_ns, size_t room);
void fnh__log_end(char *end, size_t max);
/* Writes raw text (no prefix) to the console, e.g. the function list. */
void fnh__log_raw(const char *text);
/* Flushes buffered lines to stdout. Any thread. */
void fnh__log_flush(void);
/* A copy of the lines one invocation logs (the admin API's synchronous
 * invoke): JSON objects {"timestamp","level","category","message"}
 * separated by commas, appended under the log's lock. */
typedef struct fnh__log_tee {
    fnh__buf lines;
} fnh__log_tee;
/* From now on, every line this thread writes is also copied into t (NULL:
 * none). Returns the thread's previous tee, to restore it. t is borrowed:
 * it must live until it is replaced. Any thread (the setting is the
 * thread's own). */
fnh__log_tee *fnh__log_tee_set(fnh__log_tee *t);
/* Moves the lines copied into t so far into out (appended), under the
 * log's lock, so another thread may still be writing to t. Any thread. */
void fnh__log_tee_take(fnh__log_tee *t, fnh__buf *out);
/* Frees t's lines (not t). Nothing may write to it any more. */
void fnh__log_tee_clear(fnh__log_tee *t);

/* Frees the level table. Call at exit. */
void fnh__log_shutdown(void);

#endif
