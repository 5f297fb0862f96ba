/* ncrontab.c: NCRONTAB parsing and next-occurrence search (a port of
 * atifaziz/NCrontab CrontabFieldImpl/CrontabField/CrontabSchedule),
 * .NET TimeSpan.Parse (port of System.Globalization.TimeSpanParse standard
 * formats), a TZif + POSIX-TZ reader, and Azure CronSchedule's DST rules.
 * No global mutable state; see ncrontab.h for the contract. */
#include "ncrontab.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NIL (-1)
#define MAX_YEAR 9999

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

static char *fmt_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Sets *err to a formatted message; returns -EINVAL, or -ENOMEM if the
 * message itself could not be allocated. */
#define FAIL(err, ...)                                                  \
    ((err) ? ((*(err) = fmt_msg(__VA_ARGS__)) ? -EINVAL : -ENOMEM) : -EINVAL)

/* .NET char.IsWhiteSpace for the ASCII range. */
static int net_space(int ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* ------------------------------------------------------------------ */
/* civil time                                                          */
/* ------------------------------------------------------------------ */

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* 0 = Sunday. */
static int day_of_week(int y, int m, int d)
{
    int64_t days = days_from_civil(y, m, d);
    return (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
}

int64_t fnh__civil_to_seconds(const fnh__civil *c)
{
    return days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 +
           c->minute * 60 + c->second;
}

void fnh__civil_from_seconds(int64_t s, fnh__civil *c)
{
    int64_t days = floor_div(s, 86400);
    int64_t rem = s - days * 86400;
    int64_t y;
    civil_from_days(days, &y, &c->month, &c->day);
    c->year = (int)y;
    c->hour = (int)(rem / 3600);
    c->minute = (int)(rem / 60 % 60);
    c->second = (int)(rem % 60);
}

int fnh__civil_valid(const fnh__civil *c)
{
    return c && c->year >= 1 && c->year <= MAX_YEAR && c->month >= 1 && c->month <= 12 &&
           c->day >= 1 && c->day <= days_in_month(c->year, c->month) && c->hour >= 0 &&
           c->hour <= 23 && c->minute >= 0 && c->minute <= 59 && c->second >= 0 &&
           c->second <= 59;
}

void fnh__civil_format(const fnh__civil *c, char buf[20])
{
    snprintf(buf, 20, "%04u-%02u-%02uT%02u:%02u:%02u", (unsigned)c->year % 10000u,
             (unsigned)c->month % 100u, (unsigned)c->day % 100u, (unsigned)c->hour % 100u,
             (unsigned)c->minute % 100u, (unsigned)c->second % 100u);
}

/* ------------------------------------------------------------------ */
/* cron fields (CrontabFieldImpl + CrontabField)                       */
/* ------------------------------------------------------------------ */

enum { F_SECOND, F_MINUTE, F_HOUR, F_DAY, F_MONTH, F_DOW, F_COUNT };

typedef struct {
    const char *name;  /* used in messages */
    int min, max;
    const char *range; /* the "use ..." part of messages */
    const char *const *names;
} field_kind;

static const char *const month_names[] = {"January", "February", "March",     "April",
                                          "May",     "June",     "July",      "August",
                                          "September", "October", "November", "December"};
static const char *const dow_names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};

static const field_kind kinds[F_COUNT] = {
    {"second", 0, 59, "0-59", NULL},
    {"minute", 0, 59, "0-59", NULL},
    {"hour", 0, 23, "0-23", NULL},
    {"day", 1, 31, "1-31", NULL},
    {"month", 1, 12, "1-12 or a month name such as Jan", month_names},
    {"day-of-week", 0, 6, "0-6 (0 = Sunday) or a day name such as Mon", dow_names},
};

typedef struct {
    uint64_t bits; /* bit v set = value v matches */
    int lo, hi;    /* lowest / highest value set (_minValueSet/_maxValueSet) */
} cfield;

struct fnh__cron {
    cfield f[F_COUNT];
    int has_seconds;
    int interval;
};

/* CrontabField.GetFirst */
static int cf_first(const cfield *f)
{
    return f->lo <= f->hi ? f->lo : NIL;
}

/* CrontabField.Next: first set value >= start, or NIL. */
static int cf_next(const cfield *f, int start)
{
    if (start < f->lo)
        return f->lo;
    for (int v = start; v <= f->hi; v++)
        if (f->bits >> v & 1)
            return v;
    return NIL;
}

static int cf_contains(const cfield *f, int v)
{
    return v >= 0 && v < 64 && (f->bits >> v & 1);
}

/* Parse result of int.Parse(s, NumberStyles.Integer, Invariant). */
enum { NUM_OK = 0, NUM_FORMAT = 1, NUM_OVERFLOW = 2 };

static int net_int_parse(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    while (i < n && net_space((unsigned char)s[i]))
        i++;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    size_t digits = 0;
    long long v = 0;
    int overflow = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (s[i] - '0');
        if (v > (long long)INT_MAX + 1)
            overflow = 1, v = (long long)INT_MAX + 1;
        i++, digits++;
    }
    while (i < n && net_space((unsigned char)s[i]))
        i++;
    if (digits == 0 || i != n)
        return NUM_FORMAT;
    if (neg)
        v = -v;
    if (overflow || v > INT_MAX || v < INT_MIN)
        return NUM_OVERFLOW;
    *out = v;
    return NUM_OK;
}

typedef struct {
    int kind;
    const char *tok; /* the whole field text, for messages */
    size_t toklen;
    char **err;
} fctx;

static int bad_value(const fctx *x, const char *v, size_t n)
{
    return FAIL(x->err, "'%.*s' is not a valid value for the %s field; use %s", (int)n, v,
                kinds[x->kind].name, kinds[x->kind].range);
}

static int bad_field(const fctx *x)
{
    return bad_value(x, x->tok, x->toklen);
}

/* CrontabFieldImpl.ParseValue */
static int parse_value(const fctx *x, const char *s, size_t n, int *out)
{
    if (n == 0)
        return bad_field(x);
    if (s[0] >= '0' && s[0] <= '9') {
        long long v;
        int r = net_int_parse(s, n, &v);
        if (r != NUM_OK)
            return bad_value(x, s, n);
        *out = (int)v;
        return 0;
    }
    const char *const *names = kinds[x->kind].names;
    if (names) {
        int count = kinds[x->kind].max - kinds[x->kind].min + 1;
        for (int i = 0; i < count; i++) {
            /* CompareInfo.IsPrefix(name, s, IgnoreCase): s is a prefix of name. */
            if (n <= strlen(names[i]) && strncasecmp(names[i], s, n) == 0) {
                *out = i + kinds[x->kind].min;
                return 0;
            }
        }
    }
    return bad_value(x, s, n);
}

/* CrontabField.Accumulate. start/end == -1 means '*'. sv/ev: the texts of
 * start/end for messages (NULL for '*'). */
static int accumulate(const fctx *x, cfield *f, int start, int end, long long interval,
                      const char *sv, size_t sn, const char *ev, size_t en)
{
    int min = kinds[x->kind].min, max = kinds[x->kind].max;
    if (start == end) {
        if (start < 0) {
            if (interval <= 1) {
                f->lo = min;
                f->hi = max;
                for (int v = min; v <= max; v++)
                    f->bits |= (uint64_t)1 << v;
                return 0;
            }
            start = min;
            end = max;
        } else if (start < min || start > max) {
            return bad_value(x, sv, sn);
        }
    } else {
        if (start > end) { /* reversed ranges are swapped, not wrapped */
            int t = start;
            start = end;
            end = t;
            const char *tv = sv;
            size_t tn = sn;
            sv = ev, sn = en;
            ev = tv, en = tn;
        }
        if (start < 0)
            start = min;
        else if (start < min)
            return bad_value(x, sv, sn);
        if (end < 0)
            end = max;
        else if (end > max)
            return bad_value(x, ev ? ev : sv, ev ? en : sn);
    }
    if (interval < 1)
        interval = 1;
    long long v, last = start;
    for (v = start; v <= end; v += interval) {
        f->bits |= (uint64_t)1 << v;
        last = v;
    }
    if (f->lo > start)
        f->lo = start;
    if (f->hi < last)
        f->hi = (int)last;
    return 0;
}

/* CrontabFieldImpl.InternalParse for one list item. */
static int parse_item(const fctx *x, cfield *f, const char *s, size_t n)
{
    if (n == 0)
        return bad_field(x);
    long long every = 0;
    int has_every = 0;
    const char *slash = memchr(s, '/', n);
    if (slash && slash > s) {
        size_t sl = (size_t)(slash - s);
        int r = net_int_parse(slash + 1, n - sl - 1, &every);
        if (r != NUM_OK)
            return FAIL(x->err,
                        "'%.*s' is not a valid value for the %s field; the step after '/' "
                        "must be a whole number, e.g. */5",
                        (int)x->toklen, x->tok, kinds[x->kind].name);
        has_every = 1;
        n = sl;
    }
    if (n == 1 && s[0] == '*')
        return accumulate(x, f, -1, -1, has_every ? every : 1, NULL, 0, NULL, 0);
    const char *dash = memchr(s, '-', n);
    if (dash && dash > s) {
        size_t dl = (size_t)(dash - s);
        int first, last;
        int r = parse_value(x, s, dl, &first);
        if (r)
            return r;
        if (dl + 1 == n) /* "5-": empty upper bound */
            return bad_value(x, s, n);
        r = parse_value(x, dash + 1, n - dl - 1, &last);
        if (r)
            return r;
        return accumulate(x, f, first, last, has_every ? every : 1, s, dl, dash + 1,
                          n - dl - 1);
    }
    int v;
    int r = parse_value(x, s, n, &v);
    if (r)
        return r;
    if (!has_every)
        return accumulate(x, f, v, v, 1, s, n, s, n);
    return accumulate(x, f, v, kinds[x->kind].max, every, s, n, NULL, 0);
}

static int parse_field(int kind, const char *tok, size_t n, cfield *f, char **err)
{
    fctx x = {kind, tok, n, err};
    f->bits = 0;
    f->lo = INT_MAX;
    f->hi = -1;
    const char *comma = memchr(tok, ',', n);
    if (comma && comma > tok) {
        const char *p = tok, *end = tok + n;
        for (;;) {
            const char *c = memchr(p, ',', (size_t)(end - p));
            size_t len = c ? (size_t)(c - p) : (size_t)(end - p);
            int r = parse_item(&x, f, p, len);
            if (r)
                return r;
            if (!c)
                break;
            p = c + 1;
        }
        return 0;
    }
    return parse_item(&x, f, tok, n);
}

/* True when the expanded field (NCrontab Format) contains '*' or 'a-b'. */
static int field_has_run(const cfield *f)
{
    for (int v = f->lo; v < f->hi; v++)
        if ((f->bits >> v & 1) && (f->bits >> (v + 1) & 1))
            return 1;
    return 0;
}

int fnh__cron_parse(const char *expr, fnh__cron **out, char **err)
{
    if (err)
        *err = NULL;
    *out = NULL;
    if (!expr)
        expr = "";
    const char *tok[7];
    size_t len[7];
    int count = 0;
    for (const char *p = expr; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ' ')
            p++;
        if (count < 7) {
            tok[count] = start;
            len[count] = (size_t)(p - start);
        }
        count++;
    }
    if (count != 5 && count != 6)
        return FAIL(err,
                    "'%s' has %d field%s but a cron schedule needs 6 (second minute hour day "
                    "month day-of-week) or 5 (minute hour day month day-of-week)",
                    expr, count, count == 1 ? "" : "s");
    fnh__cron *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->has_seconds = count == 6;
    int offset = c->has_seconds ? 0 : 1;
    if (!c->has_seconds) {
        c->f[F_SECOND].bits = 1; /* SecondZero = CrontabField.Seconds("0") */
        c->f[F_SECOND].lo = c->f[F_SECOND].hi = 0;
    }
    for (int i = 0; i < count; i++) {
        int r = parse_field(i + offset, tok[i], len[i], &c->f[i + offset], err);
        if (r) {
            free(c);
            return r;
        }
    }
    /* CronSchedule.IsInterval: checks ToString() parts 0..2 (6 fields) or
     * 0..1 (5 fields: minute, hour). The implicit second 0 has no run. */
    c->interval = field_has_run(&c->f[F_SECOND]) || field_has_run(&c->f[F_MINUTE]) ||
                  field_has_run(&c->f[F_HOUR]);
    *out = c;
    return 0;
}

void fnh__cron_free(fnh__cron *c)
{
    free(c);
}

int fnh__cron_has_seconds(const fnh__cron *c)
{
    return c->has_seconds;
}

int fnh__cron_is_interval(const fnh__cron *c)
{
    return c->interval;
}

int fnh__cron_fires_more_than_once_a_minute(const fnh__cron *c)
{
    const cfield *s = &c->f[F_SECOND];
    return c->has_seconds && (s->bits & (s->bits - 1)) != 0;
}

char *fnh__cron_format(const fnh__cron *c)
{
    /* worst case per field: 60 values "nn," = 180 chars */
    char *buf = malloc(6 * 200);
    if (!buf)
        return NULL;
    size_t pos = 0;
    for (int k = c->has_seconds ? 0 : 1; k < F_COUNT; k++) {
        const cfield *f = &c->f[k];
        if (pos)
            buf[pos++] = ' ';
        int next = cf_first(f), count = 0;
        while (next != NIL) {
            int first = next, last;
            do {
                last = next;
                next = cf_next(f, last + 1);
            } while (next - last == 1);
            if (count == 0 && first == kinds[k].min && last == kinds[k].max) {
                buf[pos++] = '*';
                break;
            }
            if (count > 0)
                buf[pos++] = ',';
            if (first == last)
                pos += (size_t)sprintf(buf + pos, "%d", first);
            else
                pos += (size_t)sprintf(buf + pos, "%d-%d", first, last);
            count++;
        }
    }
    buf[pos] = '\0';
    return buf;
}

/* The time being searched for, as cron fields (F_SECOND..F_MONTH) with the
 * year after the month, so that each field carries into the next one. */
enum { F_YEAR = F_MONTH + 1 };

static void civil_to_fields(const fnh__civil *c, int v[F_YEAR + 1])
{
    v[F_SECOND] = c->second;
    v[F_MINUTE] = c->minute;
    v[F_HOUR] = c->hour;
    v[F_DAY] = c->day;
    v[F_MONTH] = c->month;
    v[F_YEAR] = c->year;
}

static void fields_to_civil(const int v[F_YEAR + 1], fnh__civil *c)
{
    c->second = v[F_SECOND];
    c->minute = v[F_MINUTE];
    c->hour = v[F_HOUR];
    c->day = v[F_DAY];
    c->month = v[F_MONTH];
    c->year = v[F_YEAR];
}

/* CrontabSchedule's step for field k once v[k] is its next set value (or
 * NIL): with none left, k restarts at its first value and carries into
 * k + 1; either way, when k moved on, the fields below it restart at their
 * first values. (NCrontab leaves the second alone when the hour wraps; the
 * day that then moves on restarts it all the same.) */
static void settle_field(const fnh__cron *c, int v[], const int base[], int k)
{
    int moved = v[k] == NIL || v[k] > base[k];
    if (v[k] == NIL) {
        v[k] = cf_first(&c->f[k]);
        v[k + 1]++;
    }
    for (int j = 0; moved && j < k; j++)
        v[j] = cf_first(&c->f[j]);
}

/* The first time after base whose fields match, the day of week aside;
 * -ENOENT when there is none before year 10000. */
static int next_ignoring_dow(const fnh__cron *c, const fnh__civil *base, fnh__civil *out)
{
    int b[F_YEAR + 1], v[F_YEAR + 1];
    civil_to_fields(base, b);
    civil_to_fields(base, v);
    v[F_SECOND]++;
    for (int k = F_SECOND; k < F_DAY; k++) {
        v[k] = cf_next(&c->f[k], v[k]);
        settle_field(c, v, b, k);
    }
    v[F_DAY] = cf_next(&c->f[F_DAY], v[F_DAY]);
    for (;;) { /* RetryDayMonth: the day may not exist in the month found */
        settle_field(c, v, b, F_DAY);
        v[F_MONTH] = cf_next(&c->f[F_MONTH], v[F_MONTH]);
        settle_field(c, v, b, F_MONTH);
        if (v[F_YEAR] > MAX_YEAR)
            return -ENOENT;
        int moved = v[F_DAY] != b[F_DAY] || v[F_MONTH] != b[F_MONTH] || v[F_YEAR] != b[F_YEAR];
        if (v[F_DAY] <= 28 || !moved || v[F_DAY] <= days_in_month(v[F_YEAR], v[F_MONTH]))
            break;
        v[F_DAY] = NIL;
    }
    fields_to_civil(v, out);
    return 0;
}

/* CrontabSchedule.TryGetNextOccurrence with endTime = DateTime.MaxValue,
 * the day-of-week recursion turned into a loop: a day whose weekday does
 * not match is skipped from its last second. */
int fnh__cron_next(const fnh__cron *c, const fnh__civil *after, fnh__civil *next)
{
    if (!fnh__civil_valid(after))
        return -EINVAL;
    fnh__civil base = *after, t;
    for (;;) {
        int r = next_ignoring_dow(c, &base, &t);
        if (r)
            return r;
        if (cf_contains(&c->f[F_DOW], day_of_week(t.year, t.month, t.day))) {
            *next = t;
            return 0;
        }
        base = t;
        base.hour = 23;
        base.minute = 59;
        base.second = 59;
    }
}

/* ------------------------------------------------------------------ */
/* .NET TimeSpan.Parse (standard formats, TimeSpanStandardStyles.Any)  */
/* ------------------------------------------------------------------ */

typedef struct {
    int num, zeroes;
} ts_num;

typedef struct {
    const char *p;
    size_t n;
} ts_lit;

/* A TimeSpan text split by TimeSpanTokenizer: literals and numbers
 * alternate, starting and ending with a literal (empty where the text
 * starts or ends with a number), so nlit == nnum + 1. */
typedef struct {
    ts_lit lit[6];
    ts_num num[5];
    int nlit, nnum;
} ts_tokens;

/* The separators a format can ask for between two numbers. */
enum { TS_DH, TS_HM, TS_MS, TS_SF, TS_APPCOMPAT, TS_NSEP };

typedef struct {
    const char *start, *end;
    const char *sep[TS_NSEP];
} ts_pat;

/* Invariant "c" literals and the invariant/en-US localized ones derived from
 * FullTimeSpanPositivePattern "d':'h':'mm':'ss'.'FFFFFFF". */
static const ts_pat ts_pats[4] = {
    {"", "", {".", ":", ":", ".", ":."}},  /* positive invariant */
    {"-", "", {".", ":", ":", ".", ":."}}, /* negative invariant */
    {"", "", {":", ":", ":", ".", ":."}},  /* positive localized */
    {"-", "", {":", ":", ":", ".", ":."}}, /* negative localized */
};

/* The parts of a TimeSpan: days, hours, minutes, seconds, fraction. */
enum { TS_D, TS_H, TS_M, TS_S, TS_F, TS_NPARTS };

/* The standard formats: how many numbers, the separators between them and
 * the part each number is. Formats with the same count are tried in this
 * order. */
static const struct {
    int count;
    int sep[4];
    int part[5];
} ts_formats[] = {
    {1, {0}, {TS_D}},                                             /* d */
    {2, {TS_HM}, {TS_H, TS_M}},                                   /* h:m */
    {3, {TS_HM, TS_MS}, {TS_H, TS_M, TS_S}},                      /* h:m:s */
    {3, {TS_DH, TS_HM}, {TS_D, TS_H, TS_M}},                      /* d.h:m */
    {3, {TS_HM, TS_APPCOMPAT}, {TS_H, TS_M, TS_F}},               /* h:m:.f */
    {4, {TS_HM, TS_MS, TS_SF}, {TS_H, TS_M, TS_S, TS_F}},         /* h:m:s.f */
    {4, {TS_DH, TS_HM, TS_MS}, {TS_D, TS_H, TS_M, TS_S}},         /* d.h:m:s */
    {4, {TS_DH, TS_HM, TS_APPCOMPAT}, {TS_D, TS_H, TS_M, TS_F}},  /* d.h:m:.f */
    {5, {TS_DH, TS_HM, TS_MS, TS_SF}, {TS_D, TS_H, TS_M, TS_S, TS_F}}, /* d.h:m:s.f */
};

static int lit_eq(ts_lit l, const char *s)
{
    return l.n == strlen(s) && memcmp(l.p, s, l.n) == 0;
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* TimeSpanToken.NormalizeAndValidateFraction: fraction in 100 ns ticks. */
static int ts_fraction(ts_num *f)
{
    if (f->num == 0)
        return 1;
    if (f->zeroes == 0 && f->num > 9999999)
        return 0;
    int digits = 0;
    for (int v = f->num; v; v /= 10)
        digits++;
    int total = digits + f->zeroes;
    if (total == 7)
        return 1;
    if (total < 7) {
        for (int i = total; i < 7; i++)
            f->num *= 10;
        return 1;
    }
    long long div = 1;
    for (int i = 7; i < total && div < 10000000000LL; i++)
        div *= 10;
    f->num = (int)((f->num + div / 2) / div); /* MidpointRounding.AwayFromZero */
    return 1;
}

/* TryTimeToTicks. .NET lets ms * 10000 + fraction wrap and checks the sign;
 * here the magnitude is summed unsigned (it cannot wrap) and checked against
 * the int64 range: at most TimeSpan.MaxValue, or -TimeSpan.MinValue (one
 * tick more) when negative. */
static int ts_ticks(int positive, ts_num d, ts_num h, ts_num m, ts_num s, ts_num f, int64_t *out)
{
    if (d.num > 10675199 || h.num > 23 || m.num > 59 || s.num > 59 || !ts_fraction(&f))
        return 0;
    int64_t ms = ((int64_t)d.num * 86400 + (int64_t)h.num * 3600 + (int64_t)m.num * 60 + s.num) *
                 1000;
    if (ms > 922337203685477LL)
        return 0;
    uint64_t mag = (uint64_t)ms * 10000u + (uint64_t)f.num;
    if (mag > (uint64_t)INT64_MAX + (positive ? 0u : 1u))
        return 0;
    *out = positive ? (int64_t)mag : mag > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)mag;
    return 1;
}

/* Reads the run of digits at s[*i], before end, counting leading zeroes
 * apart. -ERANGE when the number reaches 0x10000000 (.NET's
 * (num & 0xF0000000) test, without its int wrap-around). */
static int ts_read_number(const char *s, size_t end, size_t *i, ts_num *out)
{
    ts_num t = {0, 0};
    while (*i < end && s[*i] == '0')
        t.zeroes++, (*i)++;
    while (*i < end && is_digit(s[*i])) {
        int64_t v = (int64_t)t.num * 10 + (s[*i] - '0');
        if (v >= 0x10000000)
            return -ERANGE;
        t.num = (int)v;
        (*i)++;
    }
    *out = t;
    return 0;
}

static int ts_add_literal(ts_tokens *t, const char *p, size_t n)
{
    if (t->nlit >= 6)
        return -EINVAL;
    t->lit[t->nlit++] = (ts_lit){p, n};
    return 0;
}

/* TimeSpanTokenizer over s[b, e): at most 5 numbers and 6 literals. */
static int ts_tokenize(const char *s, size_t b, size_t e, ts_tokens *t)
{
    t->nlit = t->nnum = 0;
    int last_num = 0;
    for (size_t i = b; i < e;) {
        if (is_digit(s[i])) {
            if (i == b) /* leading empty literal */
                ts_add_literal(t, s + i, 0);
            ts_num num;
            int r = ts_read_number(s, e, &i, &num);
            if (r)
                return r;
            if (t->nnum >= 5)
                return -EINVAL;
            t->num[t->nnum++] = num;
            last_num = 1;
        } else {
            size_t st = i;
            while (i < e && !is_digit(s[i]))
                i++;
            if (ts_add_literal(t, s + st, i - st))
                return -EINVAL;
            last_num = 0;
        }
    }
    if (last_num && ts_add_literal(t, s + e, 0))
        return -EINVAL;
    return t->nlit == t->nnum + 1 ? 0 : -EINVAL;
}

/* Do the literals of t read as format f with the literals of pattern P? */
static int ts_format_matches(const ts_tokens *t, size_t f, const ts_pat *P)
{
    if (ts_formats[f].count != t->nnum)
        return 0;
    for (int j = 0; j + 1 < t->nnum; j++)
        if (!lit_eq(t->lit[j + 1], P->sep[ts_formats[f].sep[j]]))
            return 0;
    return 1;
}

/* The ticks of t read as format f; 0 when a part is out of range. */
static int ts_format_ticks(const ts_tokens *t, size_t f, int positive, int64_t *ticks)
{
    ts_num part[TS_NPARTS] = {{0, 0}};
    for (int j = 0; j < t->nnum; j++)
        part[ts_formats[f].part[j]] = t->num[j];
    return ts_ticks(positive, part[TS_D], part[TS_H], part[TS_M], part[TS_S], part[TS_F],
                    ticks);
}

/* Each format is tried with the +inv, -inv, +loc and -loc literals; the
 * first whose literals match and whose numbers fit wins. -ERANGE when
 * literals matched but no numbers fit, -EINVAL when none matched. */
static int ts_match(const ts_tokens *t, int64_t *ticks)
{
    int overflow = 0;
    for (int k = 0; k < 4; k++) {
        const ts_pat *P = &ts_pats[k];
        if (!lit_eq(t->lit[0], P->start) || !lit_eq(t->lit[t->nlit - 1], P->end))
            continue;
        for (size_t f = 0; f < sizeof ts_formats / sizeof ts_formats[0]; f++) {
            if (!ts_format_matches(t, f, P))
                continue;
            if (ts_format_ticks(t, f, k % 2 == 0, ticks))
                return 0;
            overflow = 1;
        }
    }
    return overflow ? -ERANGE : -EINVAL;
}

int fnh__timespan_parse(const char *s, int64_t *ms)
{
    if (!s)
        return -EINVAL;
    size_t b = 0, e = strlen(s);
    while (b < e && net_space((unsigned char)s[b]))
        b++;
    while (e > b && net_space((unsigned char)s[e - 1]))
        e--;
    if (b == e)
        return -EINVAL;
    ts_tokens t;
    int64_t ticks = 0;
    int r = ts_tokenize(s, b, e, &t);
    if (!r)
        r = ts_match(&t, &ticks);
    if (r)
        return r;
    *ms = ticks / 10000;
    return 0;
}

/* ------------------------------------------------------------------ */
/* schedules                                                           */
/* ------------------------------------------------------------------ */

int fnh__schedule_parse(const char *expr, fnh__schedule *out, char **err)
{
    out->cron = NULL;
    out->interval_ms = 0;
    if (err)
        *err = NULL;
    if (!expr)
        expr = "";
    char *cron_err = NULL;
    int r = fnh__cron_parse(expr, &out->cron, &cron_err);
    if (r == 0 || r == -ENOMEM) {
        free(cron_err);
        return r;
    }
    int64_t ms;
    int tr = fnh__timespan_parse(expr, &ms);
    if (tr == 0 && ms > 0) {
        free(cron_err);
        out->interval_ms = ms;
        return 0;
    }
    /* Which message helps most: a single word cannot be a cron expression. */
    int words = 0;
    for (const char *p = expr; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        words++;
        while (*p && *p != ' ')
            p++;
    }
    if (words <= 1) {
        free(cron_err);
        if (tr == 0)
            return FAIL(err, "'%s' is a TimeSpan of zero or less; a timer interval must be "
                             "positive, e.g. 00:05:00",
                        expr);
        if (tr == -ERANGE)
            return FAIL(err, "'%s' is not a valid TimeSpan: hours must be 0-23 and minutes and "
                             "seconds 0-59 (use d.hh:mm:ss for days)",
                        expr);
        return FAIL(err, "'%s' is neither a cron expression (6 fields: second minute hour day "
                         "month day-of-week) nor a TimeSpan such as 00:05:00",
                    expr);
    }
    if (err)
        *err = cron_err;
    else
        free(cron_err);
    return err && !cron_err ? -ENOMEM : -EINVAL;
}

void fnh__schedule_clear(fnh__schedule *s)
{
    if (!s)
        return;
    fnh__cron_free(s->cron);
    s->cron = NULL;
    s->interval_ms = 0;
}

/* ------------------------------------------------------------------ */
/* time zones: TZif files and POSIX TZ rules                           */
/* ------------------------------------------------------------------ */

typedef struct {
    char kind; /* 'J' (1..365, no Feb 29), 'D' (0..365), 'M' (month.week.day) */
    int n, m, w, d;
    int32_t time; /* seconds after local midnight, may be negative or > 24h */
} tz_rdate;

typedef struct {
    int32_t std_off, dst_off; /* seconds east */
    int has_dst;
    tz_rdate start, end;
} tz_rule;

typedef struct {
    int32_t off;
    uint8_t isdst;
} tz_type;

struct fnh__tz {
    char *name;
    int64_t *trans;
    uint8_t *idx;
    size_t ntrans;
    tz_type *types;
    size_t ntypes;
    int has_rule;
    tz_rule rule;
    int supports_dst;
};

/* POSIX TZ parsing ------------------------------------------------- */

static const char *tzp_name(const char *p)
{
    if (*p == '<') {
        p++;
        while (*p && *p != '>')
            p++;
        return *p == '>' ? p + 1 : NULL;
    }
    const char *s = p;
    while (isalpha((unsigned char)*p))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* ":m" or ":mm" at p, into *v; NULL without a digit. */
static const char *tzp_minsec(const char *p, int *v)
{
    p++;
    if (!isdigit((unsigned char)*p))
        return NULL;
    *v = *p++ - '0';
    if (isdigit((unsigned char)*p))
        *v = *v * 10 + (*p++ - '0');
    return p;
}

/* [+-]hh[:mm[:ss]] with hours up to max_h; result in seconds (sign kept). */
static const char *tzp_time(const char *p, int max_h, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*p))
        return NULL;
    int h = 0, m = 0, s = 0;
    while (isdigit((unsigned char)*p)) {
        h = h * 10 + (*p++ - '0');
        if (h > max_h)
            return NULL;
    }
    if (*p == ':' && !(p = tzp_minsec(p, &m)))
        return NULL;
    if (*p == ':' && !(p = tzp_minsec(p, &s))) /* only after minutes */
        return NULL;
    if (m > 59 || s > 59)
        return NULL;
    *out = sign * (h * 3600 + m * 60 + s);
    return p;
}

static const char *tzp_int(const char *p, int lo, int hi, int *out)
{
    if (!isdigit((unsigned char)*p))
        return NULL;
    int v = 0;
    while (isdigit((unsigned char)*p)) {
        v = v * 10 + (*p++ - '0');
        if (v > hi)
            return NULL;
    }
    if (v < lo)
        return NULL;
    *out = v;
    return p;
}

static const char *tzp_rdate(const char *p, tz_rdate *r)
{
    memset(r, 0, sizeof *r);
    if (*p == 'J') {
        r->kind = 'J';
        p = tzp_int(p + 1, 1, 365, &r->n);
    } else if (*p == 'M') {
        r->kind = 'M';
        p = tzp_int(p + 1, 1, 12, &r->m);
        if (!p || *p++ != '.')
            return NULL;
        p = tzp_int(p, 1, 5, &r->w);
        if (!p || *p++ != '.')
            return NULL;
        p = tzp_int(p, 0, 6, &r->d);
    } else {
        r->kind = 'D';
        p = tzp_int(p, 0, 365, &r->n);
    }
    if (!p)
        return NULL;
    r->time = 7200;
    if (*p == '/')
        p = tzp_time(p + 1, 167, &r->time);
    return p;
}

/* Parses a POSIX TZ string (with the RFC 8536 extensions); 0 or -EINVAL. */
static int tzp_parse(const char *p, tz_rule *r)
{
    memset(r, 0, sizeof *r);
    int32_t v;
    if (!(p = tzp_name(p)) || !(p = tzp_time(p, 24, &v)))
        return -EINVAL;
    r->std_off = -v;
    if (!*p)
        return 0;
    if (!(p = tzp_name(p)))
        return -EINVAL;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = tzp_time(p, 24, &v)))
            return -EINVAL;
        r->dst_off = -v;
    }
    if (!*p) { /* no rule: the POSIX default (US rules) */
        r->start = (tz_rdate){'M', 0, 3, 2, 0, 7200};
        r->end = (tz_rdate){'M', 0, 11, 1, 0, 7200};
        return 0;
    }
    if (*p++ != ',' || !(p = tzp_rdate(p, &r->start)) || *p++ != ',' ||
        !(p = tzp_rdate(p, &r->end)) || *p)
        return -EINVAL;
    return 0;
}

/* Local (wall, as if UTC) seconds of a rule date's transition in year y. */
static int64_t tzp_when(const tz_rdate *r, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1), day;
    if (r->kind == 'J')
        day = jan1 + r->n - 1 + (is_leap((int)y) && r->n >= 60);
    else if (r->kind == 'D')
        day = jan1 + r->n;
    else {
        int64_t first = days_from_civil(y, r->m, 1);
        int dow1 = (int)(((first % 7) + 11) % 7);
        int dom = 1 + (r->d - dow1 + 7) % 7 + (r->w - 1) * 7;
        while (dom > days_in_month((int)y, r->m))
            dom -= 7;
        day = first + dom - 1;
    }
    return day * 86400 + r->time;
}

static int tzp_offset(const tz_rule *r, int64_t t, int *isdst)
{
    *isdst = 0;
    if (!r->has_dst)
        return r->std_off;
    int64_t y;
    int m, d;
    civil_from_days(floor_div(t + r->std_off, 86400), &y, &m, &d);
    int64_t start = tzp_when(&r->start, y) - r->std_off;
    int64_t end = tzp_when(&r->end, y) - r->dst_off;
    int dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    *isdst = dst;
    return dst ? r->dst_off : r->std_off;
}

/* TZif ----------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int tzif_parse(fnh__tz *tz, const unsigned char *buf, size_t len)
{
    if (len < 44 || memcmp(buf, "TZif", 4) != 0)
        return -EINVAL;
    int version = buf[4];
    const unsigned char *h = buf;
    size_t off = 0;
    int timesize = 4;
    for (int pass = 0;; pass++) {
        if (off + 44 > len || memcmp(h, "TZif", 4) != 0)
            return -EINVAL;
        uint32_t isutcnt = be32(h + 20), isstdcnt = be32(h + 24), leapcnt = be32(h + 28),
                 timecnt = be32(h + 32), typecnt = be32(h + 36), charcnt = be32(h + 40);
        if (timecnt > 100000 || typecnt == 0 || typecnt > 256 || charcnt > 100000 ||
            leapcnt > 100000 || isutcnt > 256 || isstdcnt > 256)
            return -EINVAL;
        size_t body = (size_t)timecnt * timesize + timecnt + (size_t)typecnt * 6 + charcnt +
                      (size_t)leapcnt * (timesize + 4) + isstdcnt + isutcnt;
        if (off + 44 + body > len)
            return -EINVAL;
        if (pass == 0 && version >= '2') {
            off += 44 + body;
            h = buf + off;
            timesize = 8;
            continue;
        }
        const unsigned char *p = h + 44;
        tz->trans = malloc(sizeof *tz->trans * (timecnt ? timecnt : 1));
        tz->idx = malloc(timecnt ? timecnt : 1);
        tz->types = malloc(sizeof *tz->types * typecnt);
        if (!tz->trans || !tz->idx || !tz->types)
            return -ENOMEM;
        for (uint32_t i = 0; i < timecnt; i++, p += timesize)
            tz->trans[i] = timesize == 8 ? be64(p) : (int32_t)be32(p);
        for (uint32_t i = 0; i < timecnt; i++) {
            if (p[i] >= typecnt)
                return -EINVAL;
            tz->idx[i] = p[i];
        }
        p += timecnt;
        for (uint32_t i = 0; i < typecnt; i++, p += 6) {
            tz->types[i].off = (int32_t)be32(p);
            tz->types[i].isdst = p[4] != 0;
            if (tz->types[i].isdst)
                tz->supports_dst = 1;
        }
        tz->ntrans = timecnt;
        tz->ntypes = typecnt;
        off += 44 + body;
        break;
    }
    if (timesize == 8 && off < len && buf[off] == '\n') {
        const unsigned char *s = buf + off + 1;
        const unsigned char *nl = memchr(s, '\n', len - off - 1);
        if (nl && nl > s && (size_t)(nl - s) < 256) {
            char footer[256];
            memcpy(footer, s, (size_t)(nl - s));
            footer[nl - s] = '\0';
            if (tzp_parse(footer, &tz->rule) == 0) {
                tz->has_rule = 1;
                if (tz->rule.has_dst)
                    tz->supports_dst = 1;
            }
        }
    }
    return 0;
}

static int tz_offset_dst(const fnh__tz *tz, int64_t t, int *isdst)
{
    *isdst = 0;
    if (!tz)
        return 0;
    if (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1]) {
        if (tz->has_rule)
            return tzp_offset(&tz->rule, t, isdst);
        if (tz->ntrans == 0) {
            if (!tz->ntypes)
                return 0;
            *isdst = tz->types[0].isdst;
            return tz->types[0].off;
        }
    }
    if (t < tz->trans[0]) {
        *isdst = tz->types[0].isdst;
        return tz->types[0].off;
    }
    size_t lo = 0, hi = tz->ntrans; /* largest i with trans[i] <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    const tz_type *ty = &tz->types[tz->idx[lo]];
    *isdst = ty->isdst;
    return ty->off;
}

int fnh__tz_offset(const fnh__tz *tz, int64_t utc_s)
{
    int isdst;
    return tz_offset_dst(tz, utc_s, &isdst);
}

/* Windows zone ids (WEBSITE_TIME_ZONE) -> IANA, from CLDR windowsZones
 * territory "001". */
static const char *const win_zones[][2] = {
    {"Dateline Standard Time", "Etc/GMT+12"},
    {"UTC-11", "Etc/GMT+11"},
    {"Aleutian Standard Time", "America/Adak"},
    {"Hawaiian Standard Time", "Pacific/Honolulu"},
    {"Marquesas Standard Time", "Pacific/Marquesas"},
    {"Alaskan Standard Time", "America/Anchorage"},
    {"UTC-09", "Etc/GMT+9"},
    {"Pacific Standard Time (Mexico)", "America/Tijuana"},
    {"UTC-08", "Etc/GMT+8"},
    {"Pacific Standard Time", "America/Los_Angeles"},
    {"US Mountain Standard Time", "America/Phoenix"},
    {"Mountain Standard Time (Mexico)", "America/Mazatlan"},
    {"Mountain Standard Time", "America/Denver"},
    {"Yukon Standard Time", "America/Whitehorse"},
    {"Central America Standard Time", "America/Guatemala"},
    {"Central Standard Time", "America/Chicago"},
    {"Easter Island Standard Time", "Pacific/Easter"},
    {"Central Standard Time (Mexico)", "America/Mexico_City"},
    {"Canada Central Standard Time", "America/Regina"},
    {"SA Pacific Standard Time", "America/Bogota"},
    {"Eastern Standard Time (Mexico)", "America/Cancun"},
    {"Eastern Standard Time", "America/New_York"},
    {"Haiti Standard Time", "America/Port-au-Prince"},
    {"Cuba Standard Time", "America/Havana"},
    {"US Eastern Standard Time", "America/Indiana/Indianapolis"},
    {"Turks And Caicos Standard Time", "America/Grand_Turk"},
    {"Paraguay Standard Time", "America/Asuncion"},
    {"Atlantic Standard Time", "America/Halifax"},
    {"Venezuela Standard Time", "America/Caracas"},
    {"Central Brazilian Standard Time", "America/Cuiaba"},
    {"SA Western Standard Time", "America/La_Paz"},
    {"Pacific SA Standard Time", "America/Santiago"},
    {"Newfoundland Standard Time", "America/St_Johns"},
    {"Tocantins Standard Time", "America/Araguaina"},
    {"E. South America Standard Time", "America/Sao_Paulo"},
    {"SA Eastern Standard Time", "America/Cayenne"},
    {"Argentina Standard Time", "America/Argentina/Buenos_Aires"},
    {"Greenland Standard Time", "America/Nuuk"},
    {"Montevideo Standard Time", "America/Montevideo"},
    {"Magallanes Standard Time", "America/Punta_Arenas"},
    {"Saint Pierre Standard Time", "America/Miquelon"},
    {"Bahia Standard Time", "America/Bahia"},
    {"UTC-02", "Etc/GMT+2"},
    {"Azores Standard Time", "Atlantic/Azores"},
    {"Cape Verde Standard Time", "Atlantic/Cape_Verde"},
    {"UTC", "Etc/UTC"},
    {"Coordinated Universal Time", "Etc/UTC"},
    {"GMT Standard Time", "Europe/London"},
    {"Greenwich Standard Time", "Atlantic/Reykjavik"},
    {"Sao Tome Standard Time", "Africa/Sao_Tome"},
    {"Morocco Standard Time", "Africa/Casablanca"},
    {"W. Europe Standard Time", "Europe/Berlin"},
    {"Central Europe Standard Time", "Europe/Budapest"},
    {"Romance Standard Time", "Europe/Paris"},
    {"Central European Standard Time", "Europe/Warsaw"},
    {"W. Central Africa Standard Time", "Africa/Lagos"},
    {"Jordan Standard Time", "Asia/Amman"},
    {"GTB Standard Time", "Europe/Bucharest"},
    {"Middle East Standard Time", "Asia/Beirut"},
    {"Egypt Standard Time", "Africa/Cairo"},
    {"E. Europe Standard Time", "Europe/Chisinau"},
    {"Syria Standard Time", "Asia/Damascus"},
    {"West Bank Standard Time", "Asia/Hebron"},
    {"South Africa Standard Time", "Africa/Johannesburg"},
    {"FLE Standard Time", "Europe/Kiev"},
    {"Israel Standard Time", "Asia/Jerusalem"},
    {"South Sudan Standard Time", "Africa/Juba"},
    {"Kaliningrad Standard Time", "Europe/Kaliningrad"},
    {"Sudan Standard Time", "Africa/Khartoum"},
    {"Libya Standard Time", "Africa/Tripoli"},
    {"Namibia Standard Time", "Africa/Windhoek"},
    {"Arabic Standard Time", "Asia/Baghdad"},
    {"Turkey Standard Time", "Europe/Istanbul"},
    {"Arab Standard Time", "Asia/Riyadh"},
    {"Belarus Standard Time", "Europe/Minsk"},
    {"Russian Standard Time", "Europe/Moscow"},
    {"E. Africa Standard Time", "Africa/Nairobi"},
    {"Volgograd Standard Time", "Europe/Volgograd"},
    {"Iran Standard Time", "Asia/Tehran"},
    {"Arabian Standard Time", "Asia/Dubai"},
    {"Astrakhan Standard Time", "Europe/Astrakhan"},
    {"Azerbaijan Standard Time", "Asia/Baku"},
    {"Russia Time Zone 3", "Europe/Samara"},
    {"Mauritius Standard Time", "Indian/Mauritius"},
    {"Saratov Standard Time", "Europe/Saratov"},
    {"Georgian Standard Time", "Asia/Tbilisi"},
    {"Caucasus Standard Time", "Asia/Yerevan"},
    {"Afghanistan Standard Time", "Asia/Kabul"},
    {"West Asia Standard Time", "Asia/Tashkent"},
    {"Ekaterinburg Standard Time", "Asia/Yekaterinburg"},
    {"Pakistan Standard Time", "Asia/Karachi"},
    {"Qyzylorda Standard Time", "Asia/Qyzylorda"},
    {"India Standard Time", "Asia/Kolkata"},
    {"Sri Lanka Standard Time", "Asia/Colombo"},
    {"Nepal Standard Time", "Asia/Kathmandu"},
    {"Central Asia Standard Time", "Asia/Almaty"},
    {"Bangladesh Standard Time", "Asia/Dhaka"},
    {"Omsk Standard Time", "Asia/Omsk"},
    {"Myanmar Standard Time", "Asia/Yangon"},
    {"SE Asia Standard Time", "Asia/Bangkok"},
    {"Altai Standard Time", "Asia/Barnaul"},
    {"W. Mongolia Standard Time", "Asia/Hovd"},
    {"North Asia Standard Time", "Asia/Krasnoyarsk"},
    {"N. Central Asia Standard Time", "Asia/Novosibirsk"},
    {"Tomsk Standard Time", "Asia/Tomsk"},
    {"China Standard Time", "Asia/Shanghai"},
    {"North Asia East Standard Time", "Asia/Irkutsk"},
    {"Singapore Standard Time", "Asia/Singapore"},
    {"W. Australia Standard Time", "Australia/Perth"},
    {"Taipei Standard Time", "Asia/Taipei"},
    {"Ulaanbaatar Standard Time", "Asia/Ulaanbaatar"},
    {"Aus Central W. Standard Time", "Australia/Eucla"},
    {"Transbaikal Standard Time", "Asia/Chita"},
    {"Tokyo Standard Time", "Asia/Tokyo"},
    {"North Korea Standard Time", "Asia/Pyongyang"},
    {"Korea Standard Time", "Asia/Seoul"},
    {"Yakutsk Standard Time", "Asia/Yakutsk"},
    {"Cen. Australia Standard Time", "Australia/Adelaide"},
    {"AUS Central Standard Time", "Australia/Darwin"},
    {"E. Australia Standard Time", "Australia/Brisbane"},
    {"AUS Eastern Standard Time", "Australia/Sydney"},
    {"West Pacific Standard Time", "Pacific/Port_Moresby"},
    {"Tasmania Standard Time", "Australia/Hobart"},
    {"Vladivostok Standard Time", "Asia/Vladivostok"},
    {"Lord Howe Standard Time", "Australia/Lord_Howe"},
    {"Bougainville Standard Time", "Pacific/Bougainville"},
    {"Russia Time Zone 10", "Asia/Srednekolymsk"},
    {"Magadan Standard Time", "Asia/Magadan"},
    {"Norfolk Standard Time", "Pacific/Norfolk"},
    {"Sakhalin Standard Time", "Asia/Sakhalin"},
    {"Central Pacific Standard Time", "Pacific/Guadalcanal"},
    {"Russia Time Zone 11", "Asia/Kamchatka"},
    {"New Zealand Standard Time", "Pacific/Auckland"},
    {"UTC+12", "Etc/GMT-12"},
    {"Fiji Standard Time", "Pacific/Fiji"},
    {"Chatham Islands Standard Time", "Pacific/Chatham"},
    {"UTC+13", "Etc/GMT-13"},
    {"Tonga Standard Time", "Pacific/Tongatapu"},
    {"Samoa Standard Time", "Pacific/Apia"},
    {"Line Islands Standard Time", "Pacific/Kiritimati"},
};

static int is_utc_name(const char *n)
{
    return !*n || !strcasecmp(n, "UTC") || !strcasecmp(n, "Etc/UTC") ||
           !strcasecmp(n, "Z") || !strcasecmp(n, "UTC0") || !strcasecmp(n, "Etc/UCT") ||
           !strcasecmp(n, "Universal") || !strcasecmp(n, "Etc/Universal") ||
           !strcasecmp(n, "Zulu") || !strcasecmp(n, "Etc/Zulu");
}

/* Reads a whole (small) file; 0, -ENOENT, -ENOMEM or -EIO. */
static int read_small_file(const char *path, unsigned char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -ENOENT;
    size_t cap = 8192, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return -ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= (1u << 20)) { /* zone files are a few KB */
                free(buf);
                fclose(f);
                return -EIO;
            }
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return -ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return -EIO;
    }
    *out = buf;
    *len = n;
    return 0;
}

int fnh__tz_load(const char *name, fnh__tz **out, char **err)
{
    if (err)
        *err = NULL;
    *out = NULL;
    const char *given = name ? name : "";
    const char *n = given;
    if (*n == ':')
        n++;
    fnh__tz *tz = calloc(1, sizeof *tz);
    if (!tz)
        return -ENOMEM;
    tz->name = strdup(*given ? given : "UTC");
    if (!tz->name) {
        free(tz);
        return -ENOMEM;
    }
    if (is_utc_name(n)) {
        *out = tz;
        return 0;
    }
    for (size_t i = 0; i < sizeof win_zones / sizeof win_zones[0]; i++) {
        if (!strcasecmp(n, win_zones[i][0])) {
            n = win_zones[i][1];
            break;
        }
    }
    int r = -ENOENT;
    /* Path lookup: no "..", no empty name; absolute paths are taken as is. */
    if (!strstr(n, "..") && strlen(n) < 512) {
        const char *dir = getenv("TZDIR");
        if (!dir || !*dir)
            dir = "/usr/share/zoneinfo";
        char path[1100];
        snprintf(path, sizeof path, "%s%s%s", n[0] == '/' ? "" : dir, n[0] == '/' ? "" : "/",
                 n);
        unsigned char *buf;
        size_t len;
        r = read_small_file(path, &buf, &len);
        if (r == 0) {
            r = tzif_parse(tz, buf, len);
            free(buf);
            if (r) {
                int rr = r;
                fnh__tz_free(tz);
                if (rr == -ENOMEM)
                    return rr;
                return FAIL(err, "the time zone file for '%s' (%s) is not a valid TZif file",
                            given, path);
            }
            *out = tz;
            return 0;
        }
        if (r == -ENOMEM) {
            fnh__tz_free(tz);
            return r;
        }
    }
    /* A POSIX TZ rule such as "EST5EDT,M3.2.0,M11.1.0" or "JST-9". */
    if (tzp_parse(n, &tz->rule) == 0) {
        tz->has_rule = 1;
        tz->supports_dst = tz->rule.has_dst;
        *out = tz;
        return 0;
    }
    fnh__tz_free(tz);
    r = FAIL(err, "unknown time zone '%s'; use an IANA name such as America/New_York or a "
                  "Windows id such as Eastern Standard Time",
             given);
    return r == -EINVAL ? -ENOENT : r;
}

void fnh__tz_free(fnh__tz *tz)
{
    if (!tz)
        return;
    free(tz->name);
    free(tz->trans);
    free(tz->idx);
    free(tz->types);
    free(tz);
}

const char *fnh__tz_name(const fnh__tz *tz)
{
    return tz ? tz->name : "UTC";
}

const char *fnh__tz_env_name(void)
{
    const char *n = getenv("WEBSITE_TIME_ZONE");
    if (n && *n)
        return n;
    n = getenv("TZ");
    if (n && *n)
        return n;
    return NULL;
}

/* All UTC instants whose local time is the wall second w. Returns how many
 * (0 = skipped, 2 = ambiguous) and the offset .NET would pick in *pick:
 * the smallest valid offset (standard time, the later instant), or for a
 * skipped time the smallest nearby offset (the one before the gap). */
static int tz_solutions(const fnh__tz *tz, int64_t w, int *pick)
{
    static const int64_t probes[] = {-86400, -43200, 0, 43200, 86400};
    int cand[5], nc = 0, valid = 0, best_valid = INT_MAX, best_any = INT_MAX;
    for (size_t i = 0; i < 5; i++) {
        int o = fnh__tz_offset(tz, w + probes[i]);
        int dup = 0;
        for (int j = 0; j < nc; j++)
            dup |= cand[j] == o;
        if (dup)
            continue;
        cand[nc++] = o;
        if (o < best_any)
            best_any = o;
        if (fnh__tz_offset(tz, w - o) == o) {
            valid++;
            if (o < best_valid)
                best_valid = o;
        }
    }
    *pick = valid ? best_valid : best_any;
    return valid;
}

int fnh__tz_to_local(const fnh__tz *tz, int64_t utc_ms, fnh__civil *local, int *offset_s)
{
    int64_t s = floor_div(utc_ms, 1000);
    int off = fnh__tz_offset(tz, s);
    fnh__civil c;
    fnh__civil_from_seconds(s + off, &c);
    if (c.year < 1 || c.year > MAX_YEAR)
        return -ERANGE;
    *local = c;
    if (offset_s)
        *offset_s = off;
    return 0;
}

int fnh__tz_from_local(const fnh__tz *tz, const fnh__civil *local, int64_t *utc_s)
{
    if (!fnh__civil_valid(local))
        return -EINVAL;
    int64_t w = fnh__civil_to_seconds(local);
    int pick;
    tz_solutions(tz, w, &pick);
    *utc_s = w - pick;
    return 0;
}

int fnh__tz_is_ambiguous(const fnh__tz *tz, const fnh__civil *local)
{
    int pick;
    return fnh__civil_valid(local) && tz_solutions(tz, fnh__civil_to_seconds(local), &pick) > 1;
}

/* ------------------------------------------------------------------ */
/* CronSchedule.GetNextOccurrence(DateTimeOffset) with AdjustForDST    */
/* ------------------------------------------------------------------ */

static int sched_next_once(const fnh__cron *c, const fnh__tz *tz, int64_t now_s, int64_t *out)
{
    int now_off = fnh__tz_offset(tz, now_s);
    fnh__civil now_wall, next_wall;
    fnh__civil_from_seconds(now_s + now_off, &now_wall);
    if (now_wall.year < 1 || now_wall.year > MAX_YEAR)
        return -ERANGE;
    int r = fnh__cron_next(c, &now_wall, &next_wall);
    if (r)
        return r;
    /* new DateTimeOffset(nextDateTime).ToLocalTime() */
    int64_t next = 0;
    if (fnh__tz_from_local(tz, &next_wall, &next))
        return -ERANGE;
    if (!tz || !tz->supports_dst) {
        *out = next;
        return 0;
    }
    int next_off = fnh__tz_offset(tz, next);
    int pick;
    int now_amb = tz_solutions(tz, now_s + now_off, &pick) > 1;
    int next_amb = tz_solutions(tz, next + next_off, &pick) > 1;
    if (!c->interval && next_amb && next_off != now_off) {
        /* Fall back 1: run the point-in-time schedule on the daylight pass. */
        next += (int64_t)next_off - now_off;
    } else if (!c->interval && next_amb && next_off == now_off) {
        /* Fall back 2: already on the standard pass; skip the repeated hour. */
        fnh__civil w;
        fnh__civil_from_seconds(next + next_off, &w);
        while (tz_solutions(tz, fnh__civil_to_seconds(&w), &pick) > 1) {
            r = fnh__cron_next(c, &w, &w);
            if (r)
                return r;
        }
        if (fnh__tz_from_local(tz, &w, &next))
            return -ERANGE;
    } else if (c->interval && (now_amb || next_amb) && next_off != now_off) {
        /* Fall back 3: an interval crossing the offset boundary. */
        next += (int64_t)next_off - now_off;
    }
    *out = next;
    return 0;
}

int fnh__sched_next_utc_tz(const fnh__cron *c, const fnh__tz *tz, int64_t after_utc_ms,
                           int64_t *next_utc_ms, fnh__civil *local)
{
    int64_t now_s = floor_div(after_utc_ms, 1000);
    int64_t next = 0;
    /* Azure never returns a time at or before "now"; guard the DST
     * adjustments anyway so a caller can never spin. */
    for (int tries = 0;; tries++) {
        int r = sched_next_once(c, tz, now_s, &next);
        if (r)
            return r;
        if (next > now_s || tries >= 8)
            break;
        now_s = now_s + 1 > next ? now_s + 1 : next + 1;
    }
    if (next <= floor_div(after_utc_ms, 1000))
        return -ENOENT;
    if (local) {
        int r = fnh__tz_to_local(tz, next * 1000, local, NULL);
        if (r)
            return -ENOENT;
    }
    *next_utc_ms = next * 1000;
    return 0;
}

int fnh__sched_next_utc(const fnh__cron *c, const char *tz, int64_t after_utc_ms,
                        int64_t *next_utc_ms, fnh__civil *local)
{
    fnh__tz *z = NULL;
    int r = fnh__tz_load(tz, &z, NULL);
    if (r)
        return r;
    r = fnh__sched_next_utc_tz(c, z, after_utc_ms, next_utc_ms, local);
    fnh__tz_free(z);
    return r;
}
