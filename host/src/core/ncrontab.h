/* ncrontab.h: timer-trigger schedules exactly as Azure Functions reads them:
 * NCRONTAB expressions (atifaziz/NCrontab rules, 5 or 6 fields as chosen by
 * azure-webjobs-sdk-extensions CronSchedule), .NET TimeSpan.Parse intervals,
 * a TZif time-zone reader and the DST adjustment of CronSchedule.
 * All objects are immutable after creation: every function is thread-safe and
 * the module has no global mutable state (no TZ switching, no locks). */
#ifndef FNH_NCRONTAB_H
#define FNH_NCRONTAB_H

#include <stdint.h>

/* A local civil (wall-clock) date-time, no zone; proleptic Gregorian,
 * year 1..9999, month 1..12, day 1..31, hour 0..23, minute/second 0..59. */
typedef struct {
    int year, month, day, hour, minute, second;
} fnh__civil;

typedef struct fnh__cron fnh__cron;

/* Parses an NCRONTAB expression. The expression is split on spaces only
 * (runs of spaces count as one, leading/trailing ignored): 5 fields mean
 * "minute hour day month day-of-week" (second = 0), 6 fields mean
 * "second minute hour day month day-of-week"; any other count is invalid.
 * On success returns 0 and *out (caller owns; fnh__cron_free). On failure
 * returns -EINVAL and *err = malloc'd one-sentence message (caller frees), e.g.
 * "'61' is not a valid value for the minute field; use 0-59";
 * -ENOMEM when out of memory (*err = NULL). */
int fnh__cron_parse(const char *expr, fnh__cron **out, char **err);
void fnh__cron_free(fnh__cron *c);

/* 1 if the expression had 6 fields (seconds), 0 for 5 fields. */
int fnh__cron_has_seconds(const fnh__cron *c);

/* Next occurrence strictly after *after (whole seconds; NCrontab
 * GetNextOccurrence). Day-of-month AND day-of-week must both match; impossible
 * dates (Feb 30, Apr 31) are skipped. Returns 0 and *next, -ENOENT if there is
 * none before year 10000, -EINVAL if *after is not a valid civil time. */
int fnh__cron_next(const fnh__cron *c, const fnh__civil *after, fnh__civil *next);

/* 1 if the schedule can fire more than once in a minute (6-field expression
 * whose second field holds two or more values, e.g. "0,30 * * * * *"); the
 * host then forces useMonitor off. Azure probes the minute after "now"; this
 * is the time-independent form of that test. */
int fnh__cron_fires_more_than_once_a_minute(const fnh__cron *c);

/* 1 if CronSchedule treats the schedule as an "interval" for DST purposes:
 * the expanded second, minute or hour field contains '*' or a range. */
int fnh__cron_is_interval(const fnh__cron *c);

/* The expanded expression as NCrontab's ToString() prints it (numbers only,
 * consecutive runs as a-b, a full field as '*'), e.g. "0 0,5,10 * * * *" for
 * "0 0-10/5 * * * *". Used in the "Cron: '...'" log lines. Returns a malloc'd
 * string (caller frees) or NULL when out of memory. */
char *fnh__cron_format(const fnh__cron *c);

/* Parses a .NET TimeSpan string as TimeSpan.Parse does in the invariant /
 * en-US culture: "d", "hh:mm", "hh:mm:ss", "d.hh:mm:ss", "d:hh:mm:ss",
 * fractions ".fffffff", optional leading '-', surrounding whitespace. Like
 * .NET, "hh:mm:ss" with hours >= 24 is read as "d:hh:mm" ("24:00:00" is 24
 * days) and a bare number is days. *ms = the span in milliseconds (sub-ms
 * ticks truncated; may be zero or negative). Returns 0, -EINVAL (not a
 * TimeSpan) or -ERANGE (a component out of range, e.g. "00:60:00"). */
int fnh__timespan_parse(const char *s, int64_t *ms);

/* A timer schedule: cron when cron != NULL, else a constant interval. */
typedef struct fnh__schedule {
    fnh__cron *cron;     /* owned */
    int64_t interval_ms; /* > 0 when cron == NULL */
} fnh__schedule;

/* Azure's TimerSchedule.Create order: cron first, then TimeSpan. A TimeSpan
 * that is zero or negative is rejected here (Azure accepts it at parse time
 * but its timer then spins or fails). Returns 0 and fills *out (release with
 * fnh__schedule_clear), -EINVAL with *err = malloc'd sentence, or -ENOMEM. */
int fnh__schedule_parse(const char *expr, fnh__schedule *out, char **err);
void fnh__schedule_clear(fnh__schedule *s);

/* ---- time zones ---- */

typedef struct fnh__tz fnh__tz;

/* Loads a zone. name NULL, "" or "UTC" = UTC (no file needed). Otherwise an
 * IANA name ("America/New_York", a leading ':' is ignored) read from
 * $TZDIR or /usr/share/zoneinfo, a Windows zone id as used by
 * WEBSITE_TIME_ZONE ("Eastern Standard Time", common ids mapped to IANA), or a
 * POSIX TZ rule ("EST5EDT,M3.2.0,M11.1.0"). Returns 0 and *out (caller owns;
 * fnh__tz_free), -ENOENT with *err = "unknown time zone 'X'" style sentence,
 * -EINVAL for a malformed zone file, -ENOMEM. */
int fnh__tz_load(const char *name, fnh__tz **out, char **err);
void fnh__tz_free(fnh__tz *tz);

/* The name the zone was loaded with ("UTC" for UTC); borrowed. */
const char *fnh__tz_name(const fnh__tz *tz);

/* The zone name the host uses when none is given: WEBSITE_TIME_ZONE, else
 * TZ, else NULL (UTC). Borrowed from the environment. */
const char *fnh__tz_env_name(void);

/* UTC offset in seconds east of Greenwich at the UTC instant utc_s. tz NULL
 * = UTC. */
int fnh__tz_offset(const fnh__tz *tz, int64_t utc_s);

/* Converts an instant (ms since the Unix epoch) to local civil time (ms
 * dropped) and, if offset_s is not NULL, the offset in effect. Returns 0, or
 * -ERANGE when the local year is outside 1..9999. */
int fnh__tz_to_local(const fnh__tz *tz, int64_t utc_ms, fnh__civil *local, int *offset_s);

/* Converts a local civil time to a UTC instant (seconds) the way .NET's
 * TimeZoneInfo.GetUtcOffset does: an ambiguous time ("fall back") takes the
 * standard, later offset; a skipped time ("spring forward") takes the offset
 * before the gap, so 02:30 on a 02:00->03:00 day is the instant shown as
 * 03:30. Returns 0, or -EINVAL for an invalid civil time. */
int fnh__tz_from_local(const fnh__tz *tz, const fnh__civil *local, int64_t *utc_s);

/* 1 if the local civil time occurs twice in the zone (a "fall back" hour). */
int fnh__tz_is_ambiguous(const fnh__tz *tz, const fnh__civil *local);

/* Next occurrence of a cron schedule strictly after the instant after_utc_ms,
 * evaluated on the zone's wall clock with Azure CronSchedule's DST rules
 * (GetNextOccurrence + TryAdjustAmbiguousTime, AdjustForDST = true):
 *  - a time in the skipped "spring forward" hour moves forward by the gap;
 *  - in the repeated "fall back" hour a point-in-time schedule runs once (on
 *    the first, daylight pass), while an "interval" schedule (see
 *    fnh__cron_is_interval) keeps running through both passes.
 * tz NULL = UTC. Returns 0 with *next_utc_ms (whole seconds) and, if local is
 * not NULL, the local civil time of that instant; -ENOENT when there is no
 * occurrence before year 10000; -ERANGE when after_utc_ms is outside years
 * 1..9999 in the zone. */
int fnh__sched_next_utc_tz(const fnh__cron *c, const fnh__tz *tz, int64_t after_utc_ms,
                           int64_t *next_utc_ms, fnh__civil *local);

/* Same, loading the zone by name per call (see fnh__tz_load; NULL = UTC).
 * Also returns -ENOENT for an unknown zone, so prefer the _tz form when the
 * zone is known to load. */
int fnh__sched_next_utc(const fnh__cron *c, const char *tz, int64_t after_utc_ms,
                        int64_t *next_utc_ms, fnh__civil *local);

/* ---- civil-time helpers ---- */

/* Seconds since 1970-01-01T00:00:00 treating *c as UTC. */
int64_t fnh__civil_to_seconds(const fnh__civil *c);
/* Inverse of fnh__civil_to_seconds (any year the arithmetic allows). */
void fnh__civil_from_seconds(int64_t s, fnh__civil *c);
/* 1 if *c is a valid civil time in years 1..9999. */
int fnh__civil_valid(const fnh__civil *c);
/* Writes "YYYY-MM-DDTHH:MM:SS" (19 chars + NUL) into buf[20]. */
void fnh__civil_format(const fnh__civil *c, char buf[20]);

#endif
