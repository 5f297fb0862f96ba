/* util.h: small building blocks shared by the host: a growable byte buffer,
 * string helpers, UUIDs, clocks and TimeSpan formatting. Private to the host;
 * every function is safe on any thread unless noted. */
#ifndef FNH_UTIL_H
#define FNH_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Memory a part keeps for reuse is poisoned while kept, so that
 * AddressSanitizer still reports a use after free of it. */
#if defined(__SANITIZE_ADDRESS__)
#define FNH__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FNH__ASAN 1
#endif
#endif
#ifdef FNH__ASAN
#include <sanitizer/asan_interface.h>
#define FNH__POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define FNH__UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define FNH__POISON(p, n) ((void)(p), (void)(n))
#define FNH__UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Freed blocks of one kind a thread keeps for its next ones (the request
 * path makes and frees a few kinds of blocks per request): declare one
 * _Thread_local and zeroed per kind. A kept block is poisoned (above) and
 * linked through its first pointer-size bytes. */
typedef struct fnh__spares {
    void *head;
    unsigned n;
} fnh__spares;
/* A kept block (the caller owns it; its first pointer-size bytes are
 * garbage, the rest as it was kept), unpoisoned for size bytes, or NULL. */
void *fnh__spares_take(fnh__spares *s, size_t size);
/* Keeps block (size bytes, size >= sizeof(void *); the list owns it now)
 * and returns 1, or returns 0 when max are kept (the caller frees it). */
int fnh__spares_keep(fnh__spares *s, void *block, size_t size, unsigned max);

/* Growable buffer. Zero-initialise ({0}) to start; fnh__buf_free releases. */
typedef struct fnh__buf {
    char *data;
    size_t len;
    size_t cap;
} fnh__buf;

/* Room for extra more bytes and the NUL. 0 or -ENOMEM. */
int fnh__buf_reserve(fnh__buf *b, size_t extra);
/* Appends n bytes (data may be NULL to reserve zeroed space). Keeps the
 * contents NUL-terminated (the NUL is not counted in len). 0 or -ENOMEM.
 * Inline: the request path appends a few dozen pieces per request. */
static inline int fnh__buf_append(fnh__buf *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap && fnh__buf_reserve(b, n))
        return -ENOMEM;
    if (data)
        memcpy(b->data + b->len, data, n);
    else
        memset(b->data + b->len, 0, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}
static inline int fnh__buf_puts(fnh__buf *b, const char *s)
{
    return fnh__buf_append(b, s, strlen(s));
}
int fnh__buf_printf(fnh__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fnh__buf_free(fnh__buf *b);
/* Hands the buffer's memory to the caller (who frees it) and resets b. */
char *fnh__buf_take(fnh__buf *b);

/* Copies s into dst[size] (size > 0), cut to fit, always NUL-terminated:
 * a "%s" snprintf without the format machinery. */
static inline void fnh__copy(char *dst, size_t size, const char *s)
{
    size_t n = s ? strnlen(s, size - 1) : 0;
    memcpy(dst, s ? s : "", n);
    dst[n] = '\0';
}

/* Copies n bytes of src to at, which has room; returns the end of the copy
 * (in at's memory): for text assembled piece by piece without printf. */
static inline char *fnh__put(char *at, const void *src, size_t n)
{
    memcpy(at, src, n);
    return at + n;
}
/* A string constant and its length, as fnh__put's last two arguments. */
#define FNH__LIT(s) s, sizeof s - 1

/* Whether a and b are equal ignoring ASCII case (strcasecmp(a, b) == 0 in
 * the C locale): inline for the short names looked up on every call. */
static inline int fnh__name_eq(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned x = (unsigned char)*a, y = (unsigned char)*b;
        if (x != y) {
            x += x - 'A' < 26u ? 32 : 0;
            y += y - 'A' < 26u ? 32 : 0;
            if (x != y)
                return 0;
        }
        if (!x)
            return 1;
    }
}

/* malloc'd copy of s (or of n bytes of s); NULL on failure or NULL s. */
char *fnh__strdup(const char *s);
char *fnh__strndup(const char *s, size_t n);
/* malloc'd printf result; NULL on failure. */
char *fnh__asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *fnh__vasprintf(const char *fmt, va_list ap);
int fnh__strcaseeq(const char *a, const char *b);
int fnh__strncaseeq(const char *a, const char *b, size_t n);
/* "true"/"1" case-insensitively. */
int fnh__truthy(const char *s);
/* The entry of the NULL-terminated list known that word most likely is a
 * typo of (case-insensitive edit distance of at most a third of its length,
 * and at least 1), or NULL. For "did you mean ...?" hints. */
const char *fnh__closest_word(const char *word, const char *const *known);

/* Writes a random (v4) UUID, 36 chars + NUL, into out[37]. */
void fnh__uuid(char out[37]);

/* Monotonic nanoseconds and wall-clock milliseconds since the epoch. */
uint64_t fnh__now_ns(void);
int64_t fnh__wall_ms(void);
/* The wall clock, in milliseconds since the epoch, at monotonic time
 * mono_ns (an fnh__now_ns() reading the caller has): the two clocks' offset
 * is read per thread and again once 100 ms have passed, so a step of the
 * wall clock shows within 100 ms. [*from, *until) are monotonic times (up
 * to a millisecond of them, mono_ns among them unless it came before the
 * offset's read) that give the same answer on this thread: a caller may keep
 * what it made of the answer for them. */
int64_t fnh__wall_ms_at(uint64_t mono_ns, uint64_t *from, uint64_t *until);
/* Formats a wall-clock time as 2026-01-31T23:59:00.123Z into out[32] (all
 * 32 bytes are written). Returns its length. */
size_t fnh__iso_utc(int64_t wall_ms, char out[32]);

/* Formats milliseconds as hh:mm:ss (d.hh:mm:ss beyond a day) into out[32]. */
void fnh__timespan_fmt(int64_t ms, char out[32]);

/* Percent-decodes n bytes of s into out (which must hold n+1 bytes); with
 * plus_is_space, '+' becomes ' ' (query strings). Returns the decoded length;
 * invalid escapes are copied as is. */
size_t fnh__url_decode(const char *s, size_t n, char *out, int plus_is_space);

/* Reads a whole file into a malloc'd NUL-terminated buffer. Returns 0,
 * or a negative errno (-ENOENT when missing). */
int fnh__read_file(const char *path, char **out, size_t *len);

#endif
