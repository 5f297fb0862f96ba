/* cli_cron.h: the `fnhost cron` subcommand: prints the next occurrences of a
 * timer schedule (NCRONTAB or TimeSpan) in a time zone, as the Azure timer
 * trigger would compute them. Depends only on ncrontab.h and libc. */
#ifndef FNH_CLI_CRON_H
#define FNH_CLI_CRON_H

/* fnhost cron "<expression>" [--from ISO-8601] [--count N] [--tz ZONE]
 * argv[0] is the subcommand name ("cron") and is ignored. Options also take
 * the --name=value form; "--" ends options.
 *   --from   start instant, exclusive: 2026-01-31T23:59:00 (local in the zone),
 *            optionally with .fff and a Z or +hh:mm / -hh:mm suffix; a bare
 *            date means midnight. Default: now.
 *   --count  how many occurrences (1-100000, default 5).
 *   --tz     IANA name, Windows id or POSIX TZ rule; default WEBSITE_TIME_ZONE,
 *            then TZ, then UTC.
 * Prints one local date-time per line ("2026-01-31T23:59:00", no offset),
 * fewer lines if the schedule ends before year 10000, and the single word
 * "never" when there is no occurrence at all. A TimeSpan expression prints
 * from + n * interval (elapsed time, n = 1..count).
 * Returns the process exit status: 0 success; 2 invalid expression, unknown
 * zone, bad --from or bad usage (one error line on stderr, plus a usage line
 * for usage errors); 1 on internal failure (out of memory, write error). */
int fnh__cli_cron(int argc, char **argv);

#endif
