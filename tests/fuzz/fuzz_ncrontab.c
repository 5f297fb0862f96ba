/* fuzz_ncrontab.c: libFuzzer target for timer schedules (ncrontab.c): the input
 * is read as an NCRONTAB expression, a .NET TimeSpan and a timer schedule. A
 * parsed expression must format to text that parses to the same text, and its
 * next occurrences (UTC, a POSIX rule zone, a TZif zone) must be valid times
 * strictly after the start. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "ncrontab.h"

#define NZONES 3
static fnh__tz *g_zones[NZONES]; /* UTC, a POSIX rule, a TZif zone (or NULL) */

static void fail(const char *what, const char *expr)
{
    fprintf(stderr, "fuzz_ncrontab: %s for '%s'\n", what, expr);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (fnh__tz_load("UTC", &g_zones[0], NULL) != 0 ||
        fnh__tz_load("EST5EDT,M3.2.0,M11.1.0", &g_zones[1], NULL) != 0)
        abort();
    /* half-hour DST shift; absent without tzdata: then UTC again */
    if (fnh__tz_load("Australia/Lord_Howe", &g_zones[2], NULL) != 0)
        g_zones[2] = NULL;
    return 0;
}

static void check_cron(const fnh__cron *c, const char *expr)
{
    (void)fnh__cron_has_seconds(c);
    (void)fnh__cron_fires_more_than_once_a_minute(c);
    (void)fnh__cron_is_interval(c);
    char *text = fnh__cron_format(c);
    if (!text)
        fail("no formatted expression", expr);
    fnh__cron *again = NULL;
    char *err = NULL;
    if (fnh__cron_parse(text, &again, &err) != 0) {
        fprintf(stderr, "fuzz_ncrontab: formatted as '%s': %s\n", text, err ? err : "?");
        fail("the formatted expression does not parse", expr);
    }
    char *text2 = fnh__cron_format(again);
    if (!text2 || strcmp(text, text2) != 0) {
        fprintf(stderr, "fuzz_ncrontab: '%s' formats as '%s'\n", text, text2 ? text2 : "");
        fail("formatting is not stable", expr);
    }
    free(text2);
    fnh__cron_free(again);
    free(text);

    static const fnh__civil starts[] = {
        {2024, 1, 1, 0, 0, 0}, {2024, 2, 29, 23, 59, 59}, {2023, 12, 31, 23, 59, 59},
        {1, 1, 1, 0, 0, 0},    {9999, 12, 31, 23, 59, 58},
    };
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++) {
        fnh__civil at = starts[i], next;
        for (int k = 0; k < 3; k++) {
            int r = fnh__cron_next(c, &at, &next);
            if (r == -ENOENT)
                break;
            if (r != 0)
                fail("cron_next failed", expr);
            if (!fnh__civil_valid(&next) ||
                fnh__civil_to_seconds(&next) <= fnh__civil_to_seconds(&at))
                fail("cron_next went backwards or made an invalid time", expr);
            at = next;
        }
    }
    /* 2024-03-10T06:30:00Z (US spring forward) and 2024-11-03T05:30:00Z
     * (fall back), 2024-04-06T15:00:00Z (Lord Howe falls back half an hour) */
    static const int64_t after_ms[] = {1710052200000, 1730611800000, 1712415600000};
    for (size_t z = 0; z < NZONES; z++)
        for (size_t i = 0; i < sizeof after_ms / sizeof *after_ms; i++) {
            int64_t at = after_ms[i], next;
            fnh__civil local;
            for (int k = 0; k < 3; k++) {
                int r = fnh__sched_next_utc_tz(c, g_zones[z], at, &next, &local);
                if (r == -ENOENT)
                    break;
                if (r != 0)
                    fail("sched_next_utc_tz failed", expr);
                if (next <= at || !fnh__civil_valid(&local))
                    fail("sched_next_utc_tz went backwards or made an invalid time", expr);
                at = next;
            }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *expr = fuzz_cstr(data, size);
    char *err = NULL;
    fnh__cron *c = NULL;
    int r = fnh__cron_parse(expr, &c, &err);
    if (r == 0)
        check_cron(c, expr);
    else if (r == -EINVAL && (!err || !*err))
        fail("a parse error without a message", expr);
    fnh__cron_free(c);
    free(err);

    int64_t ms;
    (void)fnh__timespan_parse(expr, &ms);

    fnh__schedule s = {0};
    err = NULL;
    r = fnh__schedule_parse(expr, &s, &err);
    if (r == 0 && !s.cron && s.interval_ms <= 0)
        fail("a schedule without cron or a positive interval", expr);
    if (r == -EINVAL && (!err || !*err))
        fail("a schedule error without a message", expr);
    fnh__schedule_clear(&s);
    free(err);
    free(expr);
    return 0;
}
