/* timer_trigger.h: the built-in timer trigger: NCRONTAB and TimeSpan
 * schedules fired from the wall clock, the schedule monitor (status kept
 * under the app's .fnhost/ folder), past-due and runOnStartup runs, and the
 * TimerInfo payload. Loop thread only. */
#ifndef FNH_TIMER_TRIGGER_H
#define FNH_TIMER_TRIGGER_H

#include "host.h"

/* Starts a timer for every healthy, enabled timerTrigger function. A
 * function whose schedule cannot start gets an error and is skipped.
 * Returns 0 or -ENOMEM. */
int fnh__timers_start(fnh__host *h);
/* Stops every timer: no fire after it returns (running invocations finish).
 * Frees everything once the handles closed. */
void fnh__timers_stop(void);
/* The TimerInfo JSON for a manual run of fn (stored status, IsPastDue
 * false). malloc'd; caller frees. NULL when fn is not a started timer. */
char *fnh__timer_info_json(const fnh__function *fn);
/* Validates a timer binding's schedule at load time: NULL when fine, else a
 * malloc'd sentence (caller frees). */
char *fnh__timer_schedule_error(const char *schedule);

#endif
