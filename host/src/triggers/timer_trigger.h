/* timer_trigger.h: the built-in timer trigger: NCRONTAB and TimeSpan
 * schedules fired from the wall clock, the schedule monitor (status kept
 * under the app's .fnhost/ folder), past-due and runOnStartup runs, and the
 * TimerInfo payload. Registered like an extension (fnh__timer_extension);
 * loop thread only. */
#ifndef FNH_TIMER_TRIGGER_H
#define FNH_TIMER_TRIGGER_H

#include "fnhost/extension.h"

extern const fnh_extension_def fnh__timer_extension;

#endif
