/* test-ncrontab.c: unit tests for host/src/triggers/ncrontab.c: NCRONTAB parsing and
 * next-occurrence search (including NCrontab's own test table), error
 * messages, expanded formatting, .NET TimeSpan parsing, the TZif/POSIX zone
 * reader and Azure CronSchedule's DST rules (America/New_York, Europe/London). */
#include "ncrontab.h"
#include "unit.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *expr, *start, *want; /* times "YYYY-MM-DD HH:MM:SS"; want "never" */
} next_case;

static fnh__civil civ(const char *s)
{
    fnh__civil c = {0, 0, 0, 0, 0, 0};
    sscanf(s, "%d-%d-%d %d:%d:%d", &c.year, &c.month, &c.day, &c.hour, &c.minute, &c.second);
    return c;
}

/* "<expr> after <start> -> <result>" so a failing CHECK_STR shows the case. */
static void run_next(const next_case *t, char *got, char *want, size_t n)
{
    fnh__cron *c = NULL;
    char *err = NULL;
    char res[40];
    if (fnh__cron_parse(t->expr, &c, &err) != 0) {
        snprintf(res, sizeof res, "parse error");
        printf("  (%s: %s)\n", t->expr, err ? err : "?");
    } else {
        fnh__civil a = civ(t->start), nx;
        int r = fnh__cron_next(c, &a, &nx);
        if (r == -ENOENT)
            snprintf(res, sizeof res, "never");
        else if (r)
            snprintf(res, sizeof res, "error %d", r);
        else
            snprintf(res, sizeof res, "%04d-%02d-%02d %02d:%02d:%02d", nx.year, nx.month,
                     nx.day, nx.hour, nx.minute, nx.second);
    }
    free(err);
    fnh__cron_free(c);
    snprintf(got, n, "'%s' after %s -> %s", t->expr, t->start, res);
    snprintf(want, n, "'%s' after %s -> %s", t->expr, t->start, t->want);
}

static void run_table(const next_case *t, size_t count)
{
    char got[300], want[300];
    for (size_t i = 0; i < count; i++) {
        run_next(&t[i], got, want, sizeof got);
        CHECK_STR(got, want);
    }
}

/* CrontabScheduleTests.Evaluations from atifaziz/NCrontab (dates converted
 * from dd/MM/yyyy; 5- or 6-field mode as Azure picks it by field count). */
static const next_case ncrontab_cases[] = {
    {"* * * * *", "2003-01-01 00:00:00", "2003-01-01 00:01:00"},
    {"* * * * *", "2003-01-01 00:01:00", "2003-01-01 00:02:00"},
    {"* * * * *", "2003-01-01 00:02:00", "2003-01-01 00:03:00"},
    {"* * * * *", "2003-01-01 00:59:00", "2003-01-01 01:00:00"},
    {"* * * * *", "2003-01-01 01:59:00", "2003-01-01 02:00:00"},
    {"* * * * *", "2003-01-01 23:59:00", "2003-01-02 00:00:00"},
    {"* * * * *", "2003-12-31 23:59:00", "2004-01-01 00:00:00"},
    {"* * * * *", "2003-02-28 23:59:00", "2003-03-01 00:00:00"},
    {"* * * * *", "2004-02-28 23:59:00", "2004-02-29 00:00:00"},
    {"45 * * * * *", "2003-01-01 00:00:00", "2003-01-01 00:00:45"},
    {"45-47,48,49 * * * * *", "2003-01-01 00:00:00", "2003-01-01 00:00:45"},
    {"45-47,48,49 * * * * *", "2003-01-01 00:00:45", "2003-01-01 00:00:46"},
    {"45-47,48,49 * * * * *", "2003-01-01 00:00:46", "2003-01-01 00:00:47"},
    {"45-47,48,49 * * * * *", "2003-01-01 00:00:47", "2003-01-01 00:00:48"},
    {"45-47,48,49 * * * * *", "2003-01-01 00:00:48", "2003-01-01 00:00:49"},
    {"45-47,48,49 * * * * *", "2003-01-01 00:00:49", "2003-01-01 00:01:45"},
    {"2/5 * * * * *", "2003-01-01 00:00:00", "2003-01-01 00:00:02"},
    {"2/5 * * * * *", "2003-01-01 00:00:02", "2003-01-01 00:00:07"},
    {"2/5 * * * * *", "2003-01-01 00:00:50", "2003-01-01 00:00:52"},
    {"2/5 * * * * *", "2003-01-01 00:00:52", "2003-01-01 00:00:57"},
    {"2/5 * * * * *", "2003-01-01 00:00:57", "2003-01-01 00:01:02"},
    {"* 0-1 10 * * *", "2021-02-24 09:50:35", "2021-02-24 10:00:00"},
    {"45 * * * *", "2003-01-01 00:00:00", "2003-01-01 00:45:00"},
    {"45-47,48,49 * * * *", "2003-01-01 00:00:00", "2003-01-01 00:45:00"},
    {"45-47,48,49 * * * *", "2003-01-01 00:45:00", "2003-01-01 00:46:00"},
    {"45-47,48,49 * * * *", "2003-01-01 00:46:00", "2003-01-01 00:47:00"},
    {"45-47,48,49 * * * *", "2003-01-01 00:47:00", "2003-01-01 00:48:00"},
    {"45-47,48,49 * * * *", "2003-01-01 00:48:00", "2003-01-01 00:49:00"},
    {"45-47,48,49 * * * *", "2003-01-01 00:49:00", "2003-01-01 01:45:00"},
    {"2/5 * * * *", "2003-01-01 00:00:00", "2003-01-01 00:02:00"},
    {"2/5 * * * *", "2003-01-01 00:02:00", "2003-01-01 00:07:00"},
    {"2/5 * * * *", "2003-01-01 00:50:00", "2003-01-01 00:52:00"},
    {"2/5 * * * *", "2003-01-01 00:52:00", "2003-01-01 00:57:00"},
    {"2/5 * * * *", "2003-01-01 00:57:00", "2003-01-01 01:02:00"},
    {"* * 10 * * *", "2021-02-24 09:50:35", "2021-02-24 10:00:00"},
    {"* 55 * * * *", "2021-02-24 09:50:35", "2021-02-24 09:55:00"},
    {"3 45 * * * *", "2003-01-01 00:00:30", "2003-01-01 00:45:03"},
    {"6 45-47,48,49 * * * *", "2003-01-01 00:00:30", "2003-01-01 00:45:06"},
    {"6 45-47,48,49 * * * *", "2003-01-01 00:45:30", "2003-01-01 00:46:06"},
    {"6 45-47,48,49 * * * *", "2003-01-01 00:46:30", "2003-01-01 00:47:06"},
    {"6 45-47,48,49 * * * *", "2003-01-01 00:47:30", "2003-01-01 00:48:06"},
    {"6 45-47,48,49 * * * *", "2003-01-01 00:48:30", "2003-01-01 00:49:06"},
    {"6 45-47,48,49 * * * *", "2003-01-01 00:49:30", "2003-01-01 01:45:06"},
    {"9 2/5 * * * *", "2003-01-01 00:00:30", "2003-01-01 00:02:09"},
    {"9 2/5 * * * *", "2003-01-01 00:02:30", "2003-01-01 00:07:09"},
    {"9 2/5 * * * *", "2003-01-01 00:50:30", "2003-01-01 00:52:09"},
    {"9 2/5 * * * *", "2003-01-01 00:52:30", "2003-01-01 00:57:09"},
    {"9 2/5 * * * *", "2003-01-01 00:57:30", "2003-01-01 01:02:09"},
    {" * 3/4 * * *", "2003-12-20 10:00:00", "2003-12-20 11:00:00"},
    {" * 3   * * *", "2003-12-20 00:30:00", "2003-12-20 03:00:00"},
    {"30 3   * * *", "2003-12-20 01:45:00", "2003-12-20 03:30:00"},
    {"30  *  1 * *", "2003-01-07 00:00:00", "2003-02-01 00:30:00"},
    {"30  *  1 * *", "2003-02-01 00:30:00", "2003-02-01 01:30:00"},
    {"10  * 22    * *", "2003-01-01 00:00:00", "2003-01-22 00:10:00"},
    {"30 23 19    * *", "2003-01-01 00:00:00", "2003-01-19 23:30:00"},
    {"30 23 21    * *", "2003-01-01 00:00:00", "2003-01-21 23:30:00"},
    {" *  * 21    * *", "2003-01-01 00:01:00", "2003-01-21 00:00:00"},
    {" *  * 30,31 * *", "2003-07-10 00:00:00", "2003-07-30 00:00:00"},
    {"* * * 3 *", "2002-02-28 23:59:59", "2002-03-01 00:00:00"},
    {"* * * 3 *", "2004-02-29 23:59:59", "2004-03-01 00:00:00"},
    {"* * * 4 *", "2002-03-31 23:59:59", "2002-04-01 00:00:00"},
    {"* * * 5 *", "2002-04-30 23:59:59", "2002-05-01 00:00:00"},
    {"0 0 15,30,31 * *", "2000-01-01 00:00:00", "2000-01-15 00:00:00"},
    {"0 0 15,30,31 * *", "2000-01-15 00:00:00", "2000-01-30 00:00:00"},
    {"0 0 15,30,31 * *", "2000-01-30 00:00:00", "2000-01-31 00:00:00"},
    {"0 0 15,30,31 * *", "2000-01-31 00:00:00", "2000-02-15 00:00:00"},
    {"0 0 15,30,31 * *", "2000-02-15 00:00:00", "2000-03-15 00:00:00"},
    {"0 0 15,30,31 * *", "2000-03-15 00:00:00", "2000-03-30 00:00:00"},
    {"0 0 15,30,31 * *", "2000-03-30 00:00:00", "2000-03-31 00:00:00"},
    {"0 0 15,30,31 * *", "2000-03-31 00:00:00", "2000-04-15 00:00:00"},
    {"0 0 15,30,31 * *", "2000-04-15 00:00:00", "2000-04-30 00:00:00"},
    {"0 0 15,30,31 * *", "2000-04-30 00:00:00", "2000-05-15 00:00:00"},
    {"0 0 15,30,31 * *", "2000-05-15 00:00:00", "2000-05-30 00:00:00"},
    {"0 0 15,30,31 * *", "2000-05-30 00:00:00", "2000-05-31 00:00:00"},
    {"0 0 15,30,31 * *", "2000-05-31 00:00:00", "2000-06-15 00:00:00"},
    {"0 0 15,30,31 * *", "2000-06-15 00:00:00", "2000-06-30 00:00:00"},
    {"0 0 15,30,31 * *", "2000-06-30 00:00:00", "2000-07-15 00:00:00"},
    {"0 0 15,30,31 * *", "2000-07-15 00:00:00", "2000-07-30 00:00:00"},
    {"0 0 15,30,31 * *", "2000-07-30 00:00:00", "2000-07-31 00:00:00"},
    {"0 0 15,30,31 * *", "2000-07-31 00:00:00", "2000-08-15 00:00:00"},
    {"0 0 15,30,31 * *", "2000-08-15 00:00:00", "2000-08-30 00:00:00"},
    {"0 0 15,30,31 * *", "2000-08-30 00:00:00", "2000-08-31 00:00:00"},
    {"0 0 15,30,31 * *", "2000-08-31 00:00:00", "2000-09-15 00:00:00"},
    {"0 0 15,30,31 * *", "2000-09-15 00:00:00", "2000-09-30 00:00:00"},
    {"0 0 15,30,31 * *", "2000-09-30 00:00:00", "2000-10-15 00:00:00"},
    {"0 0 15,30,31 * *", "2000-10-15 00:00:00", "2000-10-30 00:00:00"},
    {"0 0 15,30,31 * *", "2000-10-30 00:00:00", "2000-10-31 00:00:00"},
    {"0 0 15,30,31 * *", "2000-10-31 00:00:00", "2000-11-15 00:00:00"},
    {"0 0 15,30,31 * *", "2000-11-15 00:00:00", "2000-11-30 00:00:00"},
    {"0 0 15,30,31 * *", "2000-11-30 00:00:00", "2000-12-15 00:00:00"},
    {"0 0 15,30,31 * *", "2000-12-15 00:00:00", "2000-12-30 00:00:00"},
    {"0 0 15,30,31 * *", "2000-12-30 00:00:00", "2000-12-31 00:00:00"},
    {"0 0 15,30,31 * *", "2000-12-31 00:00:00", "2001-01-15 00:00:00"},
    {"10 * * 6 *", "2003-12-01 05:00:00", "2004-06-01 00:10:00"},
    {" 1 2 3 * *", "2003-01-04 00:00:00", "2003-02-03 02:01:00"},
    {"10 * * February,April-Jun *", "2002-07-01 05:00:00", "2003-02-01 00:10:00"},
    {"0 12 1 6 *", "2003-01-01 00:00:00", "2003-06-01 12:00:00"},
    {"* 12 1 6 *", "1988-09-11 14:23:00", "1989-06-01 12:00:00"},
    {"* 12 1 6 *", "1988-03-11 14:23:00", "1988-06-01 12:00:00"},
    {"* 2,4-8,15 * 6 *", "1988-03-11 14:23:00", "1988-06-01 02:00:00"},
    {"20 * * january,FeB,Mar,april,May,JuNE,July,Augu,SEPT-October,Nov,DECEM *", "1988-03-11 14:23:00", "1988-03-11 15:20:00"},
    {"30 6 * * 0", "2003-06-26 10:00:00", "2003-06-29 06:30:00"},
    {"30 6 * * sunday", "2003-06-26 10:00:00", "2003-06-29 06:30:00"},
    {"30 6 * * SUNDAY", "2003-06-26 10:00:00", "2003-06-29 06:30:00"},
    {"1 12 * * 2", "2003-06-19 00:00:00", "2003-06-24 12:01:00"},
    {"1 12 * * 2", "2003-06-24 12:01:00", "2003-07-01 12:01:00"},
    {"15 18 * * Mon", "2003-06-01 14:55:00", "2003-06-02 18:15:00"},
    {"15 18 * * Mon", "2003-06-02 18:15:00", "2003-06-09 18:15:00"},
    {"15 18 * * Mon", "2003-06-09 18:15:00", "2003-06-16 18:15:00"},
    {"15 18 * * Mon", "2003-06-16 18:15:00", "2003-06-23 18:15:00"},
    {"15 18 * * Mon", "2003-06-23 18:15:00", "2003-06-30 18:15:00"},
    {"15 18 * * Mon", "2003-06-30 18:15:00", "2003-07-07 18:15:00"},
    {"* * * * Mon", "2003-01-01 00:00:00", "2003-01-06 00:00:00"},
    {"45 16 1 * Mon", "2003-01-01 12:00:00", "2003-09-01 16:45:00"},
    {"45 16 1 * Mon", "2003-09-01 23:45:00", "2003-12-01 16:45:00"},
    {"1 12 29 2 *", "2000-01-01 12:00:00", "2000-02-29 12:01:00"},
    {"1 12 29 2 *", "2000-02-29 12:01:00", "2004-02-29 12:01:00"},
    {"1 12 29 2 *", "2004-02-29 12:01:00", "2008-02-29 12:01:00"},
    {"1 12 28 2 *", "2000-01-01 12:00:00", "2000-02-28 12:01:00"},
    {"1 12 28 2 *", "2000-02-28 12:01:00", "2001-02-28 12:01:00"},
    {"1 12 28 2 *", "2001-02-28 12:01:00", "2002-02-28 12:01:00"},
    {"1 12 28 2 *", "2002-02-28 12:01:00", "2003-02-28 12:01:00"},
    {"1 12 28 2 *", "2003-02-28 12:01:00", "2004-02-28 12:01:00"},
    {"1 12 28 2 *", "2004-02-29 12:01:00", "2005-02-28 12:01:00"},
    {"40 14/1 * * *", "2000-01-01 12:00:00", "2000-01-01 14:40:00"},
    {"40 14/1 * * *", "2000-01-01 14:40:00", "2000-01-01 15:40:00"},
};

static void test_ncrontab_evaluations(void)
{
    run_table(ncrontab_cases, sizeof ncrontab_cases / sizeof ncrontab_cases[0]);
}

/* FiniteOccurrences / DontLoopIndefinitely / GetNextOccurrence from
 * NCrontab, plus year-9999 bounds. */
static const next_case bound_cases[] = {
    {" *  * * * *  ", "2002-12-31 23:59:59", "2003-01-01 00:00:00"},
    {" *  * * * Mon", "2002-12-31 23:59:59", "2003-01-06 00:00:00"},
    {"30 12 * * Mon", "2003-01-01 00:00:00", "2003-01-06 12:30:00"},
    {"10 30 12 * * Mon", "2003-01-01 00:00:00", "2003-01-06 12:30:10"},
    {"* * 31 Feb *", "2001-01-01 00:00:00", "never"},
    {"* * * 31 Feb *", "2001-01-01 00:00:00", "never"},
    {"0 0 0 30 2 *", "2025-01-01 00:00:00", "never"},
    {"0 0 0 31 4,6,9,11 *", "2025-01-01 00:00:00", "never"},
    {"0 0 29 Feb Mon", "9000-01-01 00:00:00", "9008-02-29 00:00:00"},
    {"0 0 29 Feb Mon", "9988-01-01 00:00:00", "9988-02-29 00:00:00"},
    {"0 0 29 Feb Mon", "9988-02-29 00:00:00", "never"},
    {"0 0 0 31 12 *", "9999-12-30 00:00:00", "9999-12-31 00:00:00"},
    {"0 0 0 31 12 *", "9999-12-31 00:00:00", "never"},
    {"* * * * * *", "9999-12-31 23:59:58", "9999-12-31 23:59:59"},
    {"* * * * * *", "9999-12-31 23:59:59", "never"},
};

static void test_bounds_and_never(void)
{
    run_table(bound_cases, sizeof bound_cases / sizeof bound_cases[0]);
}

/* More semantics: month ends, leap years, day-of-month AND day-of-week,
 * steps over ranges, names, 5-field forms. */
static const next_case more_cases[] = {
    /* month ends and leap years */
    {"0 0 0 29 2 *", "2025-01-01 00:00:00", "2028-02-29 00:00:00"},
    {"0 0 0 29 2 *", "2028-02-29 00:00:00", "2032-02-29 00:00:00"},
    {"0 0 0 29 2 *", "2096-02-29 00:00:00", "2104-02-29 00:00:00"}, /* 2100 not leap */
    {"0 0 0 29 2 *", "1996-03-01 00:00:00", "2000-02-29 00:00:00"}, /* 2000 leap */
    {"0 0 0 31 * *", "2026-01-31 00:00:00", "2026-03-31 00:00:00"},
    {"0 0 0 30 * *", "2026-01-30 00:00:00", "2026-03-30 00:00:00"},
    {"0 0 0 28-31 2 *", "2026-02-28 00:00:00", "2027-02-28 00:00:00"},
    {"0 0 0 28-31 2 *", "2027-02-28 00:00:00", "2028-02-28 00:00:00"},
    {"0 0 0 28-31 2 *", "2028-02-28 00:00:00", "2028-02-29 00:00:00"},
    {"0 0 * * * *", "2026-01-31 23:59:00", "2026-02-01 00:00:00"},
    {"0 0 0 1 * *", "2026-12-15 08:00:00", "2027-01-01 00:00:00"},
    {"59 23 31 12 *", "2026-12-31 23:59:00", "2027-12-31 23:59:00"},
    /* day-of-month AND day-of-week (not Vixie's OR) */
    {"0 0 0 13 * 5", "2026-01-01 00:00:00", "2026-02-13 00:00:00"},
    {"0 0 0 13 * 5", "2026-02-13 00:00:00", "2026-03-13 00:00:00"},
    {"0 0 0 13 * 5", "2026-03-13 00:00:00", "2026-11-13 00:00:00"},
    {"0 0 0 1 * 1", "2026-01-01 00:00:00", "2026-06-01 00:00:00"},
    {"0 0 1 * Mon", "2026-01-01 00:00:00", "2026-06-01 00:00:00"},
    {"0 0 0 29 2 1", "2026-01-01 00:00:00", "2044-02-29 00:00:00"},
    /* weekdays, names, steps with ranges */
    {"0 15 10 * * 1-5", "2026-01-02 10:15:00", "2026-01-05 10:15:00"},
    {"0 0 12 * * Mon-Fri", "2026-01-03 00:00:00", "2026-01-05 12:00:00"},
    {"0 0 12 * * Fri-Mon", "2026-01-03 00:00:00", "2026-01-05 12:00:00"}, /* swapped to 1-5 */
    {"0 0 0 * * 0", "2026-12-31 00:00:00", "2027-01-03 00:00:00"},
    {"0 0 0 * * sun", "2026-12-31 00:00:00", "2027-01-03 00:00:00"},
    {"0 0 0 * Dec Sun", "2026-01-01 00:00:00", "2026-12-06 00:00:00"},
    {"0 0 0 1 jan-mar/2 *", "2026-01-01 00:00:00", "2026-03-01 00:00:00"},
    {"0 0 0 1 J *", "2026-01-01 00:00:00", "2027-01-01 00:00:00"},   /* J = January */
    {"0 0 0 1 Ma *", "2026-01-01 00:00:00", "2026-03-01 00:00:00"},  /* Ma = March */
    {"0 0 0 * * T", "2026-01-01 00:00:00", "2026-01-06 00:00:00"},   /* T = Tuesday */
    {"0 0 0 * * Th", "2026-01-01 00:00:00", "2026-01-08 00:00:00"},  /* Th = Thursday */
    {"0 0 */6 * * *", "2026-01-01 19:00:00", "2026-01-02 00:00:00"},
    {"0 5-59/15 * * * *", "2026-01-01 10:50:00", "2026-01-01 11:05:00"},
    {"0 0 9-17/4 * * *", "2026-01-01 13:00:00", "2026-01-01 17:00:00"},
    {"0 0 9-17/4 * * *", "2026-01-01 17:00:00", "2026-01-02 09:00:00"},
    {"0 50/5 * * * *", "2026-01-01 10:55:00", "2026-01-01 11:50:00"}, /* a/n = a..59 by n */
    {"0 */0 * * * *", "2026-01-01 10:55:00", "2026-01-01 10:56:00"},  /* step 0 = every */
    {"0 0 0 * * 5\t", "2026-01-01 00:00:00", "2026-01-02 00:00:00"},  /* int.Parse trims */
    {"*/15 * * * * *", "2026-01-01 10:55:59", "2026-01-01 10:56:00"},
    {"0 */5 * * * *", "2026-01-31 23:52:30", "2026-01-31 23:55:00"},
    /* 5-field forms fire at second 0 */
    {"*/5 * * * *", "2026-01-01 10:01:30", "2026-01-01 10:05:00"},
    {"0 0 1 1 *", "2026-01-01 00:00:00", "2027-01-01 00:00:00"},
    {"  0   9  *  *  1-5  ", "2026-01-03 12:00:00", "2026-01-05 09:00:00"},
};

static void test_more_occurrences(void)
{
    run_table(more_cases, sizeof more_cases / sizeof more_cases[0]);
}

static void check_error(const char *expr, const char *want)
{
    fnh__cron *c = (fnh__cron *)1;
    char *err = NULL;
    int r = fnh__cron_parse(expr, &c, &err);
    CHECK(r == -EINVAL);
    CHECK(c == NULL);
    CHECK_STR(err, want);
    free(err);
}

static void test_parse_errors(void)
{
    check_error("61 * * * * *", "'61' is not a valid value for the second field; use 0-59");
    check_error("* 61 * * * *", "'61' is not a valid value for the minute field; use 0-59");
    check_error("60 * * * *", "'60' is not a valid value for the minute field; use 0-59");
    check_error("* * 24 * * *", "'24' is not a valid value for the hour field; use 0-23");
    check_error("* * * 0 * *", "'0' is not a valid value for the day field; use 1-31");
    check_error("* * * 32 * *", "'32' is not a valid value for the day field; use 1-31");
    check_error("* * * * 13 *",
                "'13' is not a valid value for the month field; use 1-12 or a month name "
                "such as Jan");
    check_error("* * * * Foo *",
                "'Foo' is not a valid value for the month field; use 1-12 or a month name "
                "such as Jan");
    check_error("* * * * * 7",
                "'7' is not a valid value for the day-of-week field; use 0-6 (0 = Sunday) "
                "or a day name such as Mon");
    check_error("* * * * * mon,bad,wed",
                "'bad' is not a valid value for the day-of-week field; use 0-6 (0 = Sunday) "
                "or a day name such as Mon");
    /* NCrontab's BadField cases */
    check_error("bad * * * *", "'bad' is not a valid value for the minute field; use 0-59");
    check_error("* * bad * * *", "'bad' is not a valid value for the hour field; use 0-23");
    check_error("* * 1,2,3,456,7,8,9 * * *",
                "'456' is not a valid value for the hour field; use 0-23");
    check_error("* * 1,Z,3,4 * * *", "'Z' is not a valid value for the hour field; use 0-23");
    check_error("* * 1/Z * * *",
                "'1/Z' is not a valid value for the hour field; the step after '/' must be a "
                "whole number, e.g. */5");
    check_error("* * 3-l2 * * *", "'l2' is not a valid value for the hour field; use 0-23");
    /* ranges, lists, syntax */
    check_error("* 5-70 * * * *", "'70' is not a valid value for the minute field; use 0-59");
    check_error("* 70-5 * * * *", "'70' is not a valid value for the minute field; use 0-59");
    check_error("* * * 0/5 * *", "'0' is not a valid value for the day field; use 1-31");
    check_error("1,,2 * * * *", "'1,,2' is not a valid value for the minute field; use 0-59");
    check_error(",1 * * * *", "',1' is not a valid value for the minute field; use 0-59");
    check_error("5- * * * *", "'5-' is not a valid value for the minute field; use 0-59");
    check_error("? * * * * *", "'?' is not a valid value for the second field; use 0-59");
    check_error("0 0 0 L * *", "'L' is not a valid value for the day field; use 1-31");
    check_error("0 0 0 * * 5#3",
                "'5#3' is not a valid value for the day-of-week field; use 0-6 (0 = Sunday) "
                "or a day name such as Mon");
    check_error("99999999999 * * * * *",
                "'99999999999' is not a valid value for the second field; use 0-59");
    check_error("*/5/2 * * * * *",
                "'*/5/2' is not a valid value for the second field; the step after '/' must "
                "be a whole number, e.g. */5");
    /* field counts */
    check_error("* * * *", "'* * * *' has 4 fields but a cron schedule needs 6 (second minute "
                           "hour day month day-of-week) or 5 (minute hour day month day-of-week)");
    check_error("* * * * * * *", "'* * * * * * *' has 7 fields but a cron schedule needs 6 "
                                 "(second minute hour day month day-of-week) or 5 (minute "
                                 "hour day month day-of-week)");
    check_error("@daily", "'@daily' has 1 field but a cron schedule needs 6 (second minute "
                          "hour day month day-of-week) or 5 (minute hour day month day-of-week)");
    check_error("", "'' has 0 fields but a cron schedule needs 6 (second minute hour day "
                    "month day-of-week) or 5 (minute hour day month day-of-week)");
    /* tabs do not separate fields (NCrontab splits on ' ' only) */
    fnh__cron *c = NULL;
    char *err = NULL;
    CHECK(fnh__cron_parse("0\t0 * * * *", &c, &err) == -EINVAL);
    free(err);
    CHECK(fnh__cron_parse("0\t0\t*\t*\t*\t*", &c, NULL) == -EINVAL);
}

static void check_format(const char *expr, const char *want)
{
    fnh__cron *c = NULL;
    char *err = NULL;
    int r = fnh__cron_parse(expr, &c, &err);
    CHECK(r == 0);
    CHECK_STR(err, NULL);
    free(err);
    if (!c)
        return;
    char *s = fnh__cron_format(c);
    CHECK_STR(s, want);
    free(s);
    fnh__cron_free(c);
}

static void test_format(void)
{
    /* CrontabScheduleTests.Formatting */
    check_format("* 1-2,3 * * *", "* 1-3 * * *");
    check_format("* * * */2 *", "* * * 1,3,5,7,9,11 *");
    check_format("10-40/15 * * * *", "10,25,40 * * * *");
    check_format("* * * Mar,Jan,Aug Fri,Mon-Tue", "* * * 1,3,8 1-2,5");
    check_format("1 * 1-2,3 * * *", "1 * 1-3 * * *");
    check_format("22 * * * */2 *", "22 * * * 1,3,5,7,9,11 *");
    check_format("33 10-40/15 * * * *", "33 10,25,40 * * * *");
    check_format("55 * * * Mar,Jan,Aug Fri,Mon-Tue", "55 * * * 1,3,8 1-2,5");
    check_format("* * * * *", "* * * * *");
    check_format("* * * * * *", "* * * * * *");
    /* Azure log line form */
    check_format("0 */5 * * * *", "0 0,5,10,15,20,25,30,35,40,45,50,55 * * * *");
    /* accepted oddities, as NCrontab accepts them */
    check_format("*/0 * * * * *", "* * * * * *");
    check_format("*/-5 * * * * *", "* * * * * *");
    check_format("*/+20 * * * * *", "0,20,40 * * * * *");
    check_format("0 0 12 * * Fri-Mon", "0 0 12 * * 1-5");
    check_format("0 0 0 1 J,Ju,Jul,Au *", "0 0 0 1 1,6-8 *");
    check_format("0 0 0 * * S,Sa,M,W", "0 0 0 * * 0-1,3,6");
    check_format("0 0 0 * * 0-6", "0 0 0 * * *");
    check_format("0 0 0 * * sunday-SATURDAY", "0 0 0 * * *");
    check_format("55/10 * * * * *", "55 * * * * *");
}

static void test_format_invalid_step_start(void)
{
    fnh__cron *c = NULL;
    char *err = NULL;
    CHECK(fnh__cron_parse("60/10 * * * * *", &c, &err) == -EINVAL);
    CHECK_STR(err, "'60' is not a valid value for the second field; use 0-59");
    free(err);
}

static void test_interval_and_frequency(void)
{
    static const struct {
        const char *expr;
        int interval, more;
    } t[] = {
        {"0 30 1 * * *", 0, 0},   {"0 */30 1 * * *", 0, 0}, {"0 0 1,2 * * *", 1, 0},
        {"0 0 * * * *", 1, 0},    {"30 1 * * *", 0, 0},     {"* 1 * * *", 1, 0},
        {"0 0-1 1 * * *", 1, 0},  {"*/10 * * * * *", 1, 1}, {"0,30 * * * * *", 1, 1},
        {"0 * * * * *", 1, 0},    {"* * * * *", 1, 0},      {"0 0 0 * * *", 0, 0},
        {"5 0 0 1 1 *", 0, 0},    {"5,6 0 0 1 1 *", 1, 1},
        {"5,7 0 0 1 1 *", 0, 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        fnh__cron *c = NULL;
        CHECK(fnh__cron_parse(t[i].expr, &c, NULL) == 0);
        if (!c)
            continue;
        if (fnh__cron_is_interval(c) != t[i].interval)
            printf("  (is_interval '%s')\n", t[i].expr);
        CHECK(fnh__cron_is_interval(c) == t[i].interval);
        if (fnh__cron_fires_more_than_once_a_minute(c) != t[i].more)
            printf("  (fires_more '%s')\n", t[i].expr);
        CHECK(fnh__cron_fires_more_than_once_a_minute(c) == t[i].more);
        fnh__cron_free(c);
    }
    fnh__cron *c = NULL;
    CHECK(fnh__cron_parse("* * * * *", &c, NULL) == 0 && !fnh__cron_has_seconds(c));
    fnh__cron_free(c);
    CHECK(fnh__cron_parse("* * * * * *", &c, NULL) == 0 && fnh__cron_has_seconds(c));
    fnh__cron_free(c);
}

static void test_next_invalid_base(void)
{
    fnh__cron *c = NULL;
    CHECK(fnh__cron_parse("* * * * * *", &c, NULL) == 0);
    fnh__civil bad = {2025, 2, 29, 0, 0, 0}, n;
    CHECK(fnh__cron_next(c, &bad, &n) == -EINVAL);
    fnh__civil bad2 = {2025, 1, 1, 24, 0, 0};
    CHECK(fnh__cron_next(c, &bad2, &n) == -EINVAL);
    fnh__civil bad3 = {10000, 1, 1, 0, 0, 0};
    CHECK(fnh__cron_next(c, &bad3, &n) == -EINVAL);
    fnh__cron_free(c);
}

#define DAY_MS (86400LL * 1000)

static void check_ts(const char *s, int want_rc, int64_t want_ms)
{
    int64_t ms = -12345;
    int r = fnh__timespan_parse(s, &ms);
    if (r != want_rc || (r == 0 && ms != want_ms))
        printf("  (timespan '%s': rc %d ms %lld)\n", s, r, (long long)ms);
    CHECK(r == want_rc);
    if (want_rc == 0)
        CHECK(ms == want_ms);
}

static void test_timespan(void)
{
    check_ts("00:05:00", 0, 300000);
    check_ts("00:01:00", 0, 60000);
    check_ts("01:00:00", 0, 3600000);
    check_ts("00:00:30", 0, 30000);
    check_ts("1.00:00:00", 0, DAY_MS);
    check_ts("24:00:00", 0, 24 * DAY_MS); /* .NET: d:hh:mm, 24 days, not 1 day */
    check_ts("25:00:00:00", 0, 25 * DAY_MS);
    check_ts("1:00:00:00", 0, DAY_MS);
    check_ts("24:05:10", 0, 24 * DAY_MS + 5 * 3600000 + 10 * 60000);
    check_ts("5", 0, 5 * DAY_MS); /* a bare number is days */
    check_ts("0", 0, 0);
    check_ts("14", 0, 14 * DAY_MS);
    check_ts("10:20", 0, 10 * 3600000 + 20 * 60000);
    check_ts("10:0", 0, 10 * 3600000);
    check_ts("0:10", 0, 10 * 60000);
    check_ts("1:2:3", 0, 3723000);
    check_ts("23:0:0", 0, 23 * 3600000);
    check_ts("0:59:0", 0, 59 * 60000);
    check_ts("0:0:59", 0, 59000);
    check_ts("10:20:0", 0, 10 * 3600000 + 20 * 60000);
    check_ts("0:0:0.250", 0, 250);
    check_ts("00:00:01.5", 0, 1500);
    check_ts("10.20:30:40.50", 0, 10 * DAY_MS + ((20 * 60 + 30) * 60 + 40) * 1000LL + 500);
    check_ts("99.23:59:59.9999999", 0, 99 * DAY_MS + 86399999);
    check_ts("0023:0059:0059.0099", 0, 86399009);
    check_ts("0.12:00", 0, 12 * 3600000);
    check_ts("10.12:00", 0, 10 * DAY_MS + 12 * 3600000);
    check_ts("10:20:.5", 0, 10 * 3600000 + 20 * 60000 + 500);
    check_ts("  00:05:00\t", 0, 300000);
    check_ts("-00:05:00", 0, -300000);
    check_ts("-1", 0, -DAY_MS);
    check_ts("24:00", -ERANGE, 0);
    check_ts("30:00", -ERANGE, 0);
    check_ts("0:60:0", -ERANGE, 0);
    check_ts("0:0:60", -ERANGE, 0);
    check_ts("24:60:00", -ERANGE, 0);
    check_ts("10675200", -ERANGE, 0);
    check_ts("999999999999", -ERANGE, 0);
    check_ts("10:", -EINVAL, 0);
    check_ts(":10", -EINVAL, 0);
    check_ts("10:20:", -EINVAL, 0);
    check_ts(".123", -EINVAL, 0);
    check_ts("10.", -EINVAL, 0);
    check_ts("10.12", -EINVAL, 0);
    check_ts("1.2.3", -EINVAL, 0);
    check_ts("00:05:00 x", -EINVAL, 0);
    check_ts("abc", -EINVAL, 0);
    check_ts("", -EINVAL, 0);
    check_ts("   ", -EINVAL, 0);
    check_ts("1:2:3:4:5:6", -EINVAL, 0);
    check_ts("- 00:05:00", -EINVAL, 0);
    check_ts("0 */5 * * * *", -EINVAL, 0);
    CHECK(fnh__timespan_parse(NULL, &(int64_t){0}) == -EINVAL);
}

static void test_schedule_parse(void)
{
    fnh__schedule s;
    char *err = NULL;
    CHECK(fnh__schedule_parse("0 */5 * * * *", &s, &err) == 0);
    CHECK(s.cron != NULL && s.interval_ms == 0);
    CHECK_STR(err, NULL);
    fnh__schedule_clear(&s);
    CHECK(s.cron == NULL);

    CHECK(fnh__schedule_parse("00:05:00", &s, &err) == 0);
    CHECK(s.cron == NULL && s.interval_ms == 300000);
    fnh__schedule_clear(&s);

    CHECK(fnh__schedule_parse("1.00:00:00", &s, &err) == 0);
    CHECK(s.cron == NULL && s.interval_ms == DAY_MS);
    fnh__schedule_clear(&s);

    CHECK(fnh__schedule_parse("banana", &s, &err) == -EINVAL);
    CHECK_STR(err, "'banana' is neither a cron expression (6 fields: second minute hour day "
                   "month day-of-week) nor a TimeSpan such as 00:05:00");
    free(err);
    CHECK(fnh__schedule_parse("00:00:00", &s, &err) == -EINVAL);
    CHECK_STR(err, "'00:00:00' is a TimeSpan of zero or less; a timer interval must be "
                   "positive, e.g. 00:05:00");
    free(err);
    CHECK(fnh__schedule_parse("-00:05:00", &s, &err) == -EINVAL);
    free(err);
    CHECK(fnh__schedule_parse("00:61:00", &s, &err) == -EINVAL);
    CHECK_STR(err, "'00:61:00' is not a valid TimeSpan: hours must be 0-23 and minutes and "
                   "seconds 0-59 (use d.hh:mm:ss for days)");
    free(err);
    CHECK(fnh__schedule_parse("0 61 * * * *", &s, &err) == -EINVAL);
    CHECK_STR(err, "'61' is not a valid value for the minute field; use 0-59");
    free(err);
    CHECK(fnh__schedule_parse("* * *", &s, &err) == -EINVAL);
    CHECK_STR(err, "'* * *' has 3 fields but a cron schedule needs 6 (second minute hour day "
                   "month day-of-week) or 5 (minute hour day month day-of-week)");
    free(err);
    CHECK(fnh__schedule_parse("banana", &s, NULL) == -EINVAL);
}

/* ---- zones ---- */

static int64_t utc(const char *s)
{
    fnh__civil c = civ(s);
    return fnh__civil_to_seconds(&c);
}

static void test_civil_helpers(void)
{
    fnh__civil c = civ("1970-01-01 00:00:00");
    CHECK(fnh__civil_to_seconds(&c) == 0);
    CHECK(utc("2026-01-31 23:59:00") == 1769903940);
    fnh__civil back;
    fnh__civil_from_seconds(1769903940, &back);
    char buf[20];
    fnh__civil_format(&back, buf);
    CHECK_STR(buf, "2026-01-31T23:59:00");
    fnh__civil_from_seconds(-1, &back);
    fnh__civil_format(&back, buf);
    CHECK_STR(buf, "1969-12-31T23:59:59");
    c = civ("0001-01-01 00:00:00");
    CHECK(fnh__civil_valid(&c));
    c = civ("9999-12-31 23:59:59");
    CHECK(fnh__civil_valid(&c));
    fnh__civil_from_seconds(fnh__civil_to_seconds(&c), &back);
    CHECK(back.year == 9999 && back.month == 12 && back.day == 31 && back.second == 59);
    c = civ("2024-02-29 00:00:00");
    CHECK(fnh__civil_valid(&c));
    c = civ("2023-02-29 00:00:00");
    CHECK(!fnh__civil_valid(&c));
}

static fnh__tz *load(const char *name)
{
    fnh__tz *tz = NULL;
    char *err = NULL;
    int r = fnh__tz_load(name, &tz, &err);
    if (r)
        printf("  (tz '%s': %s)\n", name ? name : "(null)", err ? err : "?");
    CHECK(r == 0);
    free(err);
    return tz;
}

static void test_tz_offsets(void)
{
    fnh__tz *ny = load("America/New_York");
    CHECK(fnh__tz_offset(ny, utc("2026-01-15 12:00:00")) == -5 * 3600);
    CHECK(fnh__tz_offset(ny, utc("2026-07-15 12:00:00")) == -4 * 3600);
    /* beyond the file's transitions: the POSIX footer rule */
    CHECK(fnh__tz_offset(ny, utc("2100-01-15 12:00:00")) == -5 * 3600);
    CHECK(fnh__tz_offset(ny, utc("2100-07-15 12:00:00")) == -4 * 3600);
    CHECK(fnh__tz_offset(ny, utc("9999-07-15 12:00:00")) == -4 * 3600);
    /* transition instants: 2026-03-08 07:00Z and 2026-11-01 06:00Z */
    CHECK(fnh__tz_offset(ny, utc("2026-03-08 06:59:59")) == -5 * 3600);
    CHECK(fnh__tz_offset(ny, utc("2026-03-08 07:00:00")) == -4 * 3600);
    CHECK(fnh__tz_offset(ny, utc("2026-11-01 05:59:59")) == -4 * 3600);
    CHECK(fnh__tz_offset(ny, utc("2026-11-01 06:00:00")) == -5 * 3600);
    CHECK(fnh__tz_offset(ny, utc("2200-03-09 06:59:59")) == -5 * 3600); /* 2nd Sun Mar 2200 */
    CHECK(fnh__tz_offset(ny, utc("2200-03-09 07:00:00")) == -4 * 3600);
    CHECK_STR(fnh__tz_name(ny), "America/New_York");

    fnh__tz *syd = load("Australia/Sydney");
    CHECK(fnh__tz_offset(syd, utc("2026-01-15 00:00:00")) == 11 * 3600);
    CHECK(fnh__tz_offset(syd, utc("2026-07-15 00:00:00")) == 10 * 3600);
    CHECK(fnh__tz_offset(syd, utc("2300-01-15 00:00:00")) == 11 * 3600);
    CHECK(fnh__tz_offset(syd, utc("2300-07-15 00:00:00")) == 10 * 3600);

    fnh__tz *win = load("Eastern Standard Time"); /* WEBSITE_TIME_ZONE style */
    CHECK(fnh__tz_offset(win, utc("2026-07-15 12:00:00")) == -4 * 3600);
    CHECK_STR(fnh__tz_name(win), "Eastern Standard Time");
    fnh__tz *posix = load("EST5EDT,M3.2.0,M11.1.0");
    fnh__tz *posix2 = load("<+0530>-5:30");
    CHECK(fnh__tz_offset(posix2, 0) == 5 * 3600 + 1800);
    fnh__tz *colon = load(":Europe/London");
    CHECK(fnh__tz_offset(colon, utc("2026-07-01 00:00:00")) == 3600);
    for (int64_t t = utc("2026-01-01 00:00:00"); t < utc("2027-01-01 00:00:00"); t += 1800)
        CHECK(fnh__tz_offset(posix, t) == fnh__tz_offset(ny, t));

    fnh__tz *u = load(NULL);
    CHECK(fnh__tz_offset(u, utc("2026-07-15 12:00:00")) == 0);
    CHECK_STR(fnh__tz_name(u), "UTC");
    CHECK(fnh__tz_offset(NULL, 12345) == 0);
    fnh__tz *u2 = load("UTC");
    CHECK(fnh__tz_offset(u2, 0) == 0);

    fnh__tz *bad = NULL;
    char *err = NULL;
    CHECK(fnh__tz_load("Mars/Olympus_Mons", &bad, &err) == -ENOENT);
    CHECK(bad == NULL);
    CHECK_STR(err, "unknown time zone 'Mars/Olympus_Mons'; use an IANA name such as "
                   "America/New_York or a Windows id such as Eastern Standard Time");
    free(err);
    CHECK(fnh__tz_load("../../etc/passwd", &bad, NULL) == -ENOENT);

    fnh__tz_free(ny);
    fnh__tz_free(syd);
    fnh__tz_free(win);
    fnh__tz_free(posix);
    fnh__tz_free(posix2);
    fnh__tz_free(colon);
    fnh__tz_free(u);
    fnh__tz_free(u2);
    fnh__tz_free(NULL);
}

static void test_tz_local_conversions(void)
{
    fnh__tz *ny = load("America/New_York");
    fnh__civil c;
    int64_t t;
    /* skipped 02:30 takes the pre-gap offset: shown as 03:30 EDT */
    c = civ("2026-03-08 02:30:00");
    CHECK(fnh__tz_from_local(ny, &c, &t) == 0 && t == utc("2026-03-08 07:30:00"));
    CHECK(!fnh__tz_is_ambiguous(ny, &c));
    /* ambiguous 01:30 takes standard time (the second pass) */
    c = civ("2026-11-01 01:30:00");
    CHECK(fnh__tz_from_local(ny, &c, &t) == 0 && t == utc("2026-11-01 06:30:00"));
    CHECK(fnh__tz_is_ambiguous(ny, &c));
    c = civ("2026-11-01 01:00:00");
    CHECK(fnh__tz_is_ambiguous(ny, &c));
    c = civ("2026-11-01 00:59:59");
    CHECK(!fnh__tz_is_ambiguous(ny, &c));
    c = civ("2026-11-01 02:00:00");
    CHECK(!fnh__tz_is_ambiguous(ny, &c));
    c = civ("2026-07-04 12:00:00");
    CHECK(fnh__tz_from_local(ny, &c, &t) == 0 && t == utc("2026-07-04 16:00:00"));
    c = civ("2026-02-30 12:00:00");
    CHECK(fnh__tz_from_local(ny, &c, &t) == -EINVAL);

    fnh__civil l;
    int off = 0;
    CHECK(fnh__tz_to_local(ny, utc("2026-11-01 05:30:00") * 1000 + 999, &l, &off) == 0);
    char buf[20];
    fnh__civil_format(&l, buf);
    CHECK_STR(buf, "2026-11-01T01:30:00");
    CHECK(off == -4 * 3600);
    CHECK(fnh__tz_to_local(ny, utc("2026-11-01 06:30:00") * 1000, &l, &off) == 0);
    fnh__civil_format(&l, buf);
    CHECK_STR(buf, "2026-11-01T01:30:00");
    CHECK(off == -5 * 3600);
    CHECK(fnh__tz_to_local(NULL, -1, &l, NULL) == 0 && l.year == 1969 && l.second == 59);
    fnh__tz_free(ny);
}

/* Runs count occurrences after `from` (UTC) and compares "local@utc" strings. */
static void check_seq(const char *tzname, const char *expr, const char *from,
                      const char *const *want, int count)
{
    fnh__tz *tz = load(tzname);
    fnh__cron *c = NULL;
    CHECK(fnh__cron_parse(expr, &c, NULL) == 0);
    if (!c) {
        fnh__tz_free(tz);
        return;
    }
    int64_t after = utc(from) * 1000;
    for (int i = 0; i < count; i++) {
        int64_t next = 0;
        fnh__civil local;
        char got[80], lbuf[20], ubuf[20];
        int r = fnh__sched_next_utc_tz(c, tz, after, &next, &local);
        if (r) {
            snprintf(got, sizeof got, "error %d", r);
        } else {
            fnh__civil u;
            fnh__civil_from_seconds(next / 1000, &u);
            fnh__civil_format(&local, lbuf);
            fnh__civil_format(&u, ubuf);
            snprintf(got, sizeof got, "%s@%sZ", lbuf, ubuf);
        }
        CHECK_STR(got, want[i]);
        after = next;
    }
    fnh__cron_free(c);
    fnh__tz_free(tz);
}

#define SEQ(tz, expr, from, ...)                                                       \
    do {                                                                               \
        static const char *const w_[] = {__VA_ARGS__};                                 \
        check_seq(tz, expr, from, w_, (int)(sizeof w_ / sizeof w_[0]));                \
    } while (0)

static void test_dst_new_york(void)
{
    const char *ny = "America/New_York";
    /* spring forward 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 moves to 03:30 */
    SEQ(ny, "0 30 2 * * *", "2026-03-08 06:00:00", "2026-03-08T03:30:00@2026-03-08T07:30:00Z",
        "2026-03-09T02:30:00@2026-03-09T06:30:00Z");
    SEQ(ny, "0 0 * * * *", "2026-03-08 06:00:00", "2026-03-08T03:00:00@2026-03-08T07:00:00Z",
        "2026-03-08T04:00:00@2026-03-08T08:00:00Z");
    SEQ(ny, "0 */30 * * * *", "2026-03-08 06:30:00",
        "2026-03-08T03:00:00@2026-03-08T07:00:00Z", "2026-03-08T03:30:00@2026-03-08T07:30:00Z");
    /* fall back 2026-11-01 02:00 EDT -> 01:00 EST: point-in-time runs once, on EDT */
    SEQ(ny, "0 30 1 * * *", "2026-11-01 04:00:00", "2026-11-01T01:30:00@2026-11-01T05:30:00Z",
        "2026-11-02T01:30:00@2026-11-02T06:30:00Z");
    SEQ(ny, "30 1 * * *", "2026-11-01 04:00:00", "2026-11-01T01:30:00@2026-11-01T05:30:00Z",
        "2026-11-02T01:30:00@2026-11-02T06:30:00Z");
    SEQ(ny, "0 0,30 1 * * *", "2026-11-01 04:00:00",
        "2026-11-01T01:00:00@2026-11-01T05:00:00Z", "2026-11-01T01:30:00@2026-11-01T05:30:00Z",
        "2026-11-02T01:00:00@2026-11-02T06:00:00Z");
    /* already in the second (EST) pass: skip the repeated time */
    SEQ(ny, "0 30 1 * * *", "2026-11-01 06:10:00", "2026-11-02T01:30:00@2026-11-02T06:30:00Z");
    /* interval schedules run through both passes */
    SEQ(ny, "0 */30 * * * *", "2026-11-01 04:30:00",
        "2026-11-01T01:00:00@2026-11-01T05:00:00Z", "2026-11-01T01:30:00@2026-11-01T05:30:00Z",
        "2026-11-01T01:00:00@2026-11-01T06:00:00Z", "2026-11-01T01:30:00@2026-11-01T06:30:00Z",
        "2026-11-01T02:00:00@2026-11-01T07:00:00Z");
    SEQ(ny, "0 0 * * * *", "2026-11-01 04:00:00", "2026-11-01T01:00:00@2026-11-01T05:00:00Z",
        "2026-11-01T01:00:00@2026-11-01T06:00:00Z", "2026-11-01T02:00:00@2026-11-01T07:00:00Z");
    /* ordinary days */
    SEQ(ny, "0 0 9 * * 1-5", "2026-07-03 12:00:00", "2026-07-03T09:00:00@2026-07-03T13:00:00Z",
        "2026-07-06T09:00:00@2026-07-06T13:00:00Z");
    SEQ("Eastern Standard Time", "0 0 10 * * *", "2026-01-01 00:00:00",
        "2026-01-01T10:00:00@2026-01-01T15:00:00Z");
}

static void test_dst_london(void)
{
    const char *lon = "Europe/London";
    /* spring forward 2026-03-29 01:00 GMT -> 02:00 BST */
    SEQ(lon, "0 30 1 * * *", "2026-03-28 12:00:00", "2026-03-29T02:30:00@2026-03-29T01:30:00Z",
        "2026-03-30T01:30:00@2026-03-30T00:30:00Z");
    /* fall back 2026-10-25 02:00 BST -> 01:00 GMT */
    SEQ(lon, "0 30 1 * * *", "2026-10-24 12:00:00", "2026-10-25T01:30:00@2026-10-25T00:30:00Z",
        "2026-10-26T01:30:00@2026-10-26T01:30:00Z");
    SEQ(lon, "0 0/20 1 * * *", "2026-10-25 00:10:00",
        "2026-10-25T01:20:00@2026-10-25T00:20:00Z", "2026-10-25T01:40:00@2026-10-25T00:40:00Z",
        "2026-10-26T01:00:00@2026-10-26T01:00:00Z");
    SEQ(lon, "0 */20 * * * *", "2026-10-25 00:10:00",
        "2026-10-25T01:20:00@2026-10-25T00:20:00Z", "2026-10-25T01:40:00@2026-10-25T00:40:00Z",
        "2026-10-25T01:00:00@2026-10-25T01:00:00Z", "2026-10-25T01:20:00@2026-10-25T01:20:00Z",
        "2026-10-25T01:40:00@2026-10-25T01:40:00Z", "2026-10-25T02:00:00@2026-10-25T02:00:00Z");
}

static void test_sched_utc_and_never(void)
{
    fnh__cron *c = NULL;
    CHECK(fnh__cron_parse("0 0 0 30 2 *", &c, NULL) == 0);
    int64_t next = 0;
    fnh__civil l;
    CHECK(fnh__sched_next_utc(c, NULL, utc("2025-01-01 00:00:00") * 1000, &next, &l) ==
          -ENOENT);
    CHECK(fnh__sched_next_utc(c, "America/New_York", 0, &next, NULL) == -ENOENT);
    CHECK(fnh__sched_next_utc(c, "Nowhere/Land", 0, &next, NULL) == -ENOENT);
    fnh__cron_free(c);
    CHECK(fnh__cron_parse("*/10 * * * * *", &c, NULL) == 0);
    /* sub-second "after" still yields the next whole occurrence strictly after */
    CHECK(fnh__sched_next_utc(c, "UTC", utc("2026-01-01 00:00:00") * 1000 + 500, &next, &l) ==
          0);
    CHECK(next == (utc("2026-01-01 00:00:10")) * 1000);
    CHECK(fnh__sched_next_utc(c, NULL, utc("2026-01-01 00:00:09") * 1000 + 999, &next, &l) ==
          0);
    CHECK(next == (utc("2026-01-01 00:00:10")) * 1000);
    CHECK(l.second == 10);
    fnh__cron_free(c);
}

int main(void)
{
    UNIT_RUN(test_ncrontab_evaluations);
    UNIT_RUN(test_bounds_and_never);
    UNIT_RUN(test_more_occurrences);
    UNIT_RUN(test_parse_errors);
    UNIT_RUN(test_format);
    UNIT_RUN(test_format_invalid_step_start);
    UNIT_RUN(test_interval_and_frequency);
    UNIT_RUN(test_next_invalid_base);
    UNIT_RUN(test_timespan);
    UNIT_RUN(test_schedule_parse);
    UNIT_RUN(test_civil_helpers);
    UNIT_RUN(test_tz_offsets);
    UNIT_RUN(test_tz_local_conversions);
    UNIT_RUN(test_dst_new_york);
    UNIT_RUN(test_dst_london);
    UNIT_RUN(test_sched_utc_and_never);
    UNIT_END();
}
