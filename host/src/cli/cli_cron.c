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

/* What the command line asks for; NULL where it was not given. */
struct cron_args {
    const char *expr, *from, *count, *tz;
    int tz_given;
};

/* Matches --from, --count or --tz, alone or as --name=value: returns which
 * (0, 1, 2) with *val the text after '=' (NULL when none), or -1. */
static int which_option(const char *a, const char **val)
{
    static const char *const names[] = {"--from", "--count", "--tz"};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(names[k]);
        if (!strncmp(a, names[k], n) && (a[n] == '\0' || a[n] == '=')) {
            *val = a[n] == '=' ? a + n + 1 : NULL;
            return k;
        }
    }
    return -1;
}

/* Reads argv into *o. Returns -1 to go on, or the exit status: 0 after
 * printing the usage for --help, 2 after a usage error. */
static int parse_args(int argc, char **argv, struct cron_args *o)
{
    int options_done = 0;
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
            const char **slots[] = {&o->from, &o->count, &o->tz};
            const char *val;
            int which = which_option(a, &val);
            if (which < 0)
                return usage_error("unknown option '%s'", a);
            if (!val) {
                if (i + 1 >= argc)
                    return usage_error("option '%s' needs a value", a);
                val = argv[++i];
            }
            *slots[which] = val;
            o->tz_given |= which == 2;
            continue;
        }
        if (o->expr)
            return usage_error("unexpected extra argument '%s' (quote the expression)", a);
        o->expr = a;
    }
    if (!o->expr)
        return usage_error("missing the schedule expression%s", "");
    return -1;
}

/* Prints why a zone or schedule was refused; the exit status. */
static int refused(int r, char *err)
{
    fprintf(stderr, "fnhost cron: %s\n", err ? err : strerror(-r));
    free(err);
    return r == -ENOMEM ? 1 : 2;
}

/* The instant --from names, in ms since the epoch: with its own offset, or
 * else as a wall time in tz. 0, or -EINVAL when it is not an ISO-8601 time. */
static int from_ms(const char *from, const fnh__tz *tz, int64_t *out)
{
    fnh__civil c;
    int ms, has_off, off;
    if (!parse_iso(from, &c, &ms, &has_off, &off))
        return -EINVAL;
    int64_t s = 0;
    if (has_off)
        s = fnh__civil_to_seconds(&c) - off;
    else
        fnh__tz_from_local(tz, &c, &s);
    *out = s * 1000 + ms;
    return 0;
}

/* Prints the local times in tz of the next count occurrences after start
 * (ms), one a line, or "never". The exit status: 1 when stdout failed. */
static int print_next(const fnh__schedule *sched, const fnh__tz *tz, int64_t start, long count)
{
    int printed = 0;
    int64_t after = start;
    char buf[20];
    for (long i = 0; i < count; i++) {
        fnh__civil local;
        if (sched->cron) {
            int64_t next;
            if (fnh__sched_next_utc_tz(sched->cron, tz, after, &next, &local))
                break; /* -ENOENT: none before year 10000; -ERANGE: --from out of range */
            after = next;
        } else {
            if (after > END_MS - sched->interval_ms)
                break;
            after += sched->interval_ms;
            if (fnh__tz_to_local(tz, after, &local, NULL))
                break;
        }
        fnh__civil_format(&local, buf);
        puts(buf);
        printed++;
    }
    if (!printed)
        puts("never");
    return fflush(stdout) != 0 || ferror(stdout) ? 1 : 0;
}

int fnh__cli_cron(int argc, char **argv)
{
    struct cron_args o = {0};
    int status = parse_args(argc, argv, &o);
    if (status >= 0)
        return status;
    long count = 5;
    if (o.count) {
        char *end;
        errno = 0;
        count = strtol(o.count, &end, 10);
        if (errno || end == o.count || *end || count < 1 || count > MAX_COUNT)
            return usage_error("--count must be a whole number from 1 to 100000, not '%s'",
                               o.count);
    }
    fnh__tz *tz = NULL;
    char *err = NULL;
    int r = fnh__tz_load(o.tz_given ? o.tz : fnh__tz_env_name(), &tz, &err);
    if (r)
        return refused(r, err);
    int64_t start = now_ms();
    if (o.from && from_ms(o.from, tz, &start)) {
        fnh__tz_free(tz);
        fprintf(stderr,
                "fnhost cron: '%s' is not a valid --from time; use 2026-01-31T23:59:00, "
                "optionally with Z or +hh:mm\n",
                o.from);
        return 2;
    }
    fnh__schedule sched;
    r = fnh__schedule_parse(o.expr, &sched, &err);
    if (r) {
        fnh__tz_free(tz);
        return refused(r, err);
    }
    status = print_next(&sched, tz, start, count);
    fnh__schedule_clear(&sched);
    fnh__tz_free(tz);
    return status;
}
