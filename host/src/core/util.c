/* util.c: the host's small building blocks: growable buffers, string helpers,
 * random UUIDs, clocks, TimeSpan parsing and percent-decoding. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

int fnh__buf_reserve(fnh__buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int fnh__buf_printf(fnh__buf *b, const char *fmt, ...)
{
    va_list ap;
    for (int pass = 0; pass < 2; pass++) {
        size_t room = b->cap > b->len ? b->cap - b->len : 0;
        va_start(ap, fmt);
        int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -EINVAL;
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return 0;
        }
        if (fnh__buf_reserve(b, (size_t)n))
            return -ENOMEM;
    }
    return -ENOMEM;
}

void fnh__buf_free(fnh__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *fnh__buf_take(fnh__buf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void *fnh__spares_take(fnh__spares *s, size_t size)
{
    void *block = s->head;
    if (!block)
        return NULL;
    FNH__UNPOISON(block, size);
    memcpy(&s->head, block, sizeof s->head);
    s->n--;
    return block;
}

int fnh__spares_keep(fnh__spares *s, void *block, size_t size, unsigned max)
{
    if (s->n >= max)
        return 0;
    memcpy(block, &s->head, sizeof s->head);
    s->head = block;
    s->n++;
    FNH__POISON(block, size);
    return 1;
}

char *fnh__strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *fnh__strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *fnh__vasprintf(const char *fmt, va_list ap)
{
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0)
        return NULL;
    return out;
}

char *fnh__asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = fnh__vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

int fnh__strcaseeq(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

int fnh__strncaseeq(const char *a, const char *b, size_t n)
{
    return strncasecmp(a, b, n) == 0;
}

int fnh__truthy(const char *s)
{
    return s && (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

/* Edit distance of a and b counting a swap of two neighbours as one edit
 * (optimal string alignment), case-insensitive; both at most 63 long. */
static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    unsigned char d[64][64];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            unsigned v = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1u < v)
                v = d[i - 1][j] + 1u;
            if (d[i][j - 1] + 1u < v)
                v = d[i][j - 1] + 1u;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1u < v)
                v = d[i - 2][j - 2] + 1u;
            d[i][j] = (unsigned char)v;
        }
    return d[na][nb];
}

const char *fnh__closest_word(const char *word, const char *const *known)
{
    size_t nw = strlen(word), best = (size_t)-1;
    const char *hit = NULL;
    if (nw > 63)
        return NULL;
    for (; *known; known++) {
        size_t nk = strlen(*known);
        if (nk > 63)
            continue;
        size_t d = edit_distance(word, nw, *known, nk);
        size_t limit = nk / 3 ? nk / 3 : 1;
        if (d <= limit && d < best) {
            best = d;
            hit = *known;
        }
    }
    return hit;
}

/* Per-thread xorshift128+ seeded from getrandom: UUIDs need uniqueness, not
 * cryptographic strength, and this keeps them off the syscall path. */
static __thread uint64_t rng_state[2];

/* Seeds the calling thread's generator (its state is never all zero). */
static void rng_seed(void)
{
    if (getrandom(rng_state, sizeof rng_state, 0) != sizeof rng_state) {
        rng_state[0] = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&rng_state;
        rng_state[1] = fnh__now_ns();
    }
    rng_state[0] |= 1;
}

/* The next number of the calling thread's generator, once seeded. */
static inline uint64_t rng_next(void)
{
    uint64_t s1 = rng_state[0];
    const uint64_t s0 = rng_state[1];
    rng_state[0] = s0;
    s1 ^= s1 << 23;
    rng_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return rng_state[1] + s0;
}

/* One nibble in each byte: the low nibbles of a word's bytes. */
static const uint64_t low_nibbles = 0x0F0F0F0F0F0F0F0Full;

/* x, a value of 0 to 15 in each byte, as 8 lowercase hex digits (one per
 * byte, without branches): '0' is added, and 'a' - '0' - 10 more where the
 * value is 10 or over (adding 6 carries into the byte's high nibble). */
static inline uint64_t hex_digits(uint64_t x)
{
    uint64_t letters = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;
    return x + 0x3030303030303030ull + letters * ('a' - '0' - 10);
}

void fnh__uuid(char out[37])
{
    if (!rng_state[0] && !rng_state[1])
        rng_seed();
    uint64_t a = rng_next(), c = rng_next();
    /* the 32 random nibbles, each in a byte of its own: a random UUID needs
     * random digits, not an order of them, so the low nibbles of a's and c's
     * bytes make two words and their high nibbles two more */
    uint64_t w0 = hex_digits(a & low_nibbles), w1 = hex_digits(a >> 4 & low_nibbles);
    uint64_t w2 = hex_digits(c & low_nibbles), w3 = hex_digits(c >> 4 & low_nibbles);
    uint32_t w1a = (uint32_t)w1, w1b = (uint32_t)(w1 >> 32);
    uint32_t w2a = (uint32_t)w2, w2b = (uint32_t)(w2 >> 32);
    memcpy(out, &w0, 8); /* 8-4-4-4-12 */
    memcpy(out + 9, &w1a, 4);
    memcpy(out + 14, &w1b, 4);
    memcpy(out + 19, &w2a, 4);
    memcpy(out + 24, &w2b, 4);
    memcpy(out + 28, &w3, 8);
    out[8] = out[13] = out[18] = out[23] = '-';
    out[14] = '4'; /* version 4: random */
    /* variant 1: 8, 9, a or b from the low two bits of the digit it replaces
     * (a digit's code ends in its value's two bits, a letter's in one less:
     * 'a' is 0x61; d >> 6 is 1 for letters) */
    unsigned d = (unsigned char)out[19];
    out[19] = "89ab"[(d + (d >> 6)) & 3];
    out[36] = '\0';
}

uint64_t fnh__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t fnh__wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fnh__wall_ms_at(uint64_t mono_ns, uint64_t *from, uint64_t *until)
{
    static __thread uint64_t read_at;
    static __thread int64_t offset_ns;
    const uint64_t reread = 100000000u; /* the offset is read again after 100 ms */
    if (!read_at || mono_ns - read_at > reread) { /* also when mono_ns is older */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        read_at = fnh__now_ns();
        offset_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - (int64_t)read_at;
    }
    int64_t wall_ns = (int64_t)mono_ns + offset_ns;
    /* the monotonic times in the same millisecond (before 1970: this one
     * only) that the offset read stands for: none but later ones when
     * mono_ns came before the read */
    uint64_t into = wall_ns >= 0 ? (uint64_t)(wall_ns % 1000000) : 0;
    uint64_t first = mono_ns > into ? mono_ns - into : 0;
    uint64_t end = mono_ns + (wall_ns >= 0 ? 1000000u - into : 1);
    *from = first > read_at ? first : read_at;
    *until = end < read_at + reread + 1 ? end : read_at + reread + 1;
    if (*until < *from)
        *until = *from;
    return wall_ns / 1000000;
}

size_t fnh__iso_utc(int64_t wall_ms, char out[32])
{
    /* lines come many a millisecond: keep the last text per thread, and
     * make its date part once a second */
    static __thread int64_t cached_ms = INT64_MIN, cached_sec = INT64_MIN;
    static __thread char cached[32];
    static __thread size_t n;
    if (wall_ms != cached_ms) {
        int64_t sec = wall_ms / 1000;
        if (sec != cached_sec) {
            time_t t = (time_t)sec;
            struct tm tm;
            gmtime_r(&t, &tm);
            n = strftime(cached, sizeof cached - 8, "%Y-%m-%dT%H:%M:%S", &tm); /* then .mmmZ */
            cached[n] = '.';
            cached[n + 4] = 'Z';
            cached[n + 5] = '\0';
            cached_sec = sec;
        }
        int ms = (int)(wall_ms % 1000);
        cached[n + 1] = (char)('0' + ms / 100);
        cached[n + 2] = (char)('0' + ms / 10 % 10);
        cached[n + 3] = (char)('0' + ms % 10);
        cached_ms = wall_ms;
    }
    memcpy(out, cached, 32);
    return n + 5;
}

void fnh__timespan_fmt(int64_t ms, char out[32])
{
    if (ms < 0)
        ms = 0;
    if (ms > 864000000000LL) /* 10,000 days is plenty for a timeout */
        ms = 864000000000LL;
    int64_t secs = ms / 1000;
    int64_t d = secs / 86400;
    secs %= 86400;
    if (d)
        snprintf(out, 32, "%lld.%02d:%02d:%02d", (long long)d, (int)(secs / 3600),
                 (int)(secs / 60 % 60), (int)(secs % 60));
    else
        snprintf(out, 32, "%02lld:%02lld:%02lld", (long long)(secs / 3600),
                 (long long)(secs / 60 % 60), (long long)(secs % 60));
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

size_t fnh__url_decode(const char *s, size_t n, char *out, int plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < n) {
            int hi = hexval((unsigned char)s[i + 1]);
            int lo = hexval((unsigned char)s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out[o++] = (char)(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out[o++] = (plus_is_space && c == '+') ? ' ' : c;
    }
    out[o] = '\0';
    return o;
}

int fnh__read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    fnh__buf b = {0};
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (fnh__buf_append(&b, tmp, n)) {
            fclose(f);
            fnh__buf_free(&b);
            return -ENOMEM;
        }
    }
    int err = ferror(f) ? -EIO : 0;
    fclose(f);
    if (err) {
        fnh__buf_free(&b);
        return err;
    }
    if (len)
        *len = b.len;
    *out = fnh__buf_take(&b);
    return 0;
}
