/* cli_cron.c: `fnhost cron`: argument parsing, ISO-8601 --from parsing and
 * printing the next occurrences of a timer schedule. All schedule and zone
 * logic lives in ncrontab.c; this file only drives it. */
#include "cli_cron.h"

#include "ncrontab.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USAGE "usage: fnhost cron \"<expression>\" [--from ISO-8601] [--count N] [--tz ZONE]"
#define MAX_COUNT 100000
/* 10000-01-01T00:00:00Z in ms: nothing at or after this is printed. */
#define END_MS 253402300800000LL

static int usage_error(const char *fmt, const char *arg)
{
    fputs("fnhost cron: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    fputs(USAGE "\n", stderr);
    return 2;
}

static int read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return 0;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

/* Parses YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|(+|-)HH[:MM]]. Returns 1 on
 * success with the civil time, the milliseconds, and whether/which offset
 * was given (seconds east). */
static int parse_iso(const char *s, fnh__civil *c, int *ms, int *has_off, int *off)
{
    const char *p = s;
    memset(c, 0, sizeof *c);
    *ms = 0;
    *has_off = 0;
    *off = 0;
    if (!read_digits(&p, 4, &c->year) || *p++ != '-' || !read_digits(&p, 2, &c->month) ||
        *p++ != '-' || !read_digits(&p, 2, &c->day))
        return 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!read_digits(&p, 2, &c->hour) || *p++ != ':' || !read_digits(&p, 2, &c->minute))
            return 0;
        if (*p == ':') {
            p++;
            if (!read_digits(&p, 2, &c->second))
                return 0;
            if (*p == '.' || *p == ',') {
                p++;
                int digits = 0, scale = 100;
                while (*p >= '0' && *p <= '9') {
                    *ms += (*p - '0') * scale;
                    scale /= 10;
                    p++, digits++;
                }
                if (!digits)
                    return 0;
            }
        }
    }
    if (*p == 'Z' || *p == 'z') {
        *has_off = 1;
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, hh, mm = 0;
        if (!read_digits(&p, 2, &hh))
            return 0;
        if (*p == ':')
            p++;
        if (*p && !read_digits(&p, 2, &mm))
            return 0;
        if (hh > 14 || mm > 59)
            return 0;
        *has_off = 1;
        *off = sign * (hh * 3600 + mm * 60);
    }
    return *p == '\0' && fnh__civil_valid(c);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_option(const char *a)
{
    return a[0] == '-' && (a[1] == '-' || (a[1] >= 'a' && a[1] <= 'z') ||
                           (a[1] >= 'A' && a[1] <= 'Z'));
}

int fnh__cli_cron(int argc, char **argv)
{
    const char *expr = NULL, *from = NULL, *count_s = NULL, *tzname = NULL;
    int tz_given = 0, options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && !strcmp(a, "--")) {
            options_done = 1;
            continue;
        }
        if (!options_done && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            fputs(USAGE "\n", stdout);
            return 0;
        }
        if (!options_done && is_option(a)) {
            static const char *const names[] = {"--from", "--count", "--tz"};
            const char **slots[] = {&from, &count_s, &tzname};
            int which = -1;
            const char *val = NULL;
            for (int k = 0; k < 3; k++) {
                size_t n = strlen(names[k]);
                if (!strncmp(a, names[k], n) && (a[n] == '\0' || a[n] == '=')) {
                    which = k;
                    val = a[n] == '=' ? a + n + 1 : NULL;
                }
            }
            if (which < 0)
                return usage_error("unknown option '%s'", a);
            if (!val) {
                if (i + 1 >= argc)
                    return usage_error("option '%s' needs a value", names[which]);
                val = argv[++i];
            }
            *slots[which] = val;
            if (which == 2)
                tz_given = 1;
            continue;
        }
        if (expr)
            return usage_error("unexpected extra argument '%s' (quote the expression)", a);
        expr = a;
    }
    if (!expr)
        return usage_error("missing the schedule expression%s", "");

    long count = 5;
    if (count_s) {
        char *end;
        errno = 0;
        count = strtol(count_s, &end, 10);
        if (errno || end == count_s || *end || count < 1 || count > MAX_COUNT)
            return usage_error("--count must be a whole number from 1 to 100000, not '%s'",
                               count_s);
    }

    if (!tz_given)
        tzname = fnh__tz_env_name();
    fnh__tz *tz = NULL;
    char *err = NULL;
    int r = fnh__tz_load(tzname, &tz, &err);
    if (r) {
        fprintf(stderr, "fnhost cron: %s\n", err ? err : strerror(-r));
        free(err);
        return r == -ENOMEM ? 1 : 2;
    }

    int64_t start;
    if (from) {
        fnh__civil c;
        int ms, has_off, off;
        if (!parse_iso(from, &c, &ms, &has_off, &off)) {
            fnh__tz_free(tz);
            fprintf(stderr,
                    "fnhost cron: '%s' is not a valid --from time; use 2026-01-31T23:59:00, "
                    "optionally with Z or +hh:mm\n",
                    from);
            return 2;
        }
        int64_t s = 0;
        if (has_off)
            s = fnh__civil_to_seconds(&c) - off;
        else
            fnh__tz_from_local(tz, &c, &s);
        start = s * 1000 + ms;
    } else {
        start = now_ms();
    }

    fnh__schedule sched;
    r = fnh__schedule_parse(expr, &sched, &err);
    if (r) {
        fnh__tz_free(tz);
        fprintf(stderr, "fnhost cron: %s\n", err ? err : strerror(-r));
        free(err);
        return r == -ENOMEM ? 1 : 2;
    }

    int printed = 0, status = 0;
    int64_t after = start;
    char buf[20];
    for (long i = 0; i < count; i++) {
        fnh__civil local;
        if (sched.cron) {
            int64_t next;
            r = fnh__sched_next_utc_tz(sched.cron, tz, after, &next, &local);
            if (r)
                break; /* -ENOENT: none before year 10000; -ERANGE: --from out of range */
            after = next;
        } else {
            if (after > END_MS - sched.interval_ms)
                break;
            after += sched.interval_ms;
            if (fnh__tz_to_local(tz, after, &local, NULL))
                break;
        }
        fnh__civil_format(&local, buf);
        puts(buf);
        printed++;
    }
    if (!printed)
        puts("never");
    if (fflush(stdout) != 0 || ferror(stdout))
        status = 1;
    fnh__schedule_clear(&sched);
    fnh__tz_free(tz);
    return status;
}
