/* timer_trigger.c: the built-in timer trigger, registered like an
 * extension's (bind validates the schedule, start arms it, complete re-arms
 * it, invoke runs it by hand) and fired with fnh_fire. Each timer function
 * has one uv_timer armed for its next occurrence, computed from the wall
 * clock (so timers never drift); runs of one timer never overlap, a run that
 * outlasts the next occurrence delays it instead of duplicating it. With the
 * monitor on, {Last, Next, LastUpdated} is kept in .fnhost/timers/ and
 * written atomically (temp file + rename) off the loop, one batch at a time,
 * which gives past-due runs after a restart without any storage emulator.
 * A reload hands a timer whose function name and schedule are unchanged to
 * the new snapshot's binding with its state (next occurrence, a run in
 * progress), so it neither fires twice nor misses an occurrence. */
#include "timer_trigger.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extension.h"
#include "invocation.h"
#include "log.h"
#include "ncrontab.h"
#include "util.h"

#define CAT "Host.Triggers.Timer"

typedef struct timer_fn {
    fnh__function *fn;
    fnh_binding *hb;
    uv_loop_t *loop;
    fnh__schedule sched;
    char *expr;
    char *display;      /* "Cron: '...'" or "Constant: hh:mm:ss" */
    char *status_path;  /* NULL when the monitor is off */
    int run_on_startup;
    int use_monitor;
    int running;
    int stopped;
    int started;
    int closing, closed; /* the uv_timer's close, begun and done */
    int unbound;         /* freed by the close callback */
    struct timer_fn *successor; /* took over the schedule at a reload */
    uv_timer_t timer;
    int64_t next_ms;    /* the occurrence the timer is armed for */
    int64_t last_ms;    /* status: 0 = never */
    int64_t updated_ms; /* status: 0 = never */
    int64_t fired_ms;   /* when the running run was fired */
    struct timer_fn *next;
} timer_fn;

typedef struct status_batch status_batch;

static struct {
    timer_fn *list;
    fnh__tz *tz;
    int tz_loaded;
    char *status_dir;     /* <root>/.fnhost/timers, created on first need */
    int status_dir_ready;
    status_batch *batch;  /* status writes waiting for the one in flight */
    int writing;
} g;

/* ---- time formatting ------------------------------------------------- */

/* ISO-8601 local time with offset: 2026-01-31T23:59:00.123+01:00. */
static void iso_local(int64_t ms, char out[40])
{
    fnh__civil c;
    int off = 0;
    if (fnh__tz_to_local(g.tz, ms, &c, &off)) {
        snprintf(out, 40, "0001-01-01T00:00:00+00:00");
        return;
    }
    char date[20];
    fnh__civil_format(&c, date);
    int a = off < 0 ? -off : off;
    snprintf(out, 40, "%s.%03d%c%02d:%02d", date, (int)(((ms % 1000) + 1000) % 1000),
             off < 0 ? '-' : '+', a / 3600 % 100, a / 60 % 60);
}

/* Azure's "MM/dd/yyyy HH:mm:ssK" occurrence format; non-UTC zones also show
 * the UTC time: "10/30/2019 11:15:00-07:00 (10/30/2019 18:15:00Z)". */
static void occurrence_fmt(int64_t ms, char out[80])
{
    fnh__civil l, u;
    int off = 0;
    fnh__tz_to_local(g.tz, ms, &l, &off);
    fnh__tz_to_local(NULL, ms, &u, NULL);
    char us[32];
    snprintf(us, sizeof us, "%02d/%02d/%04d %02d:%02d:%02dZ", u.month, u.day, u.year, u.hour,
             u.minute, u.second);
    if (!g.tz || (off == 0 && strcmp(fnh__tz_name(g.tz), "UTC") == 0)) {
        snprintf(out, 80, "%s", us);
        return;
    }
    int a = off < 0 ? -off : off;
    snprintf(out, 80, "%02d/%02d/%04d %02d:%02d:%02d%c%02d:%02d (%s)", l.month, l.day, l.year,
             l.hour, l.minute, l.second, off < 0 ? '-' : '+', a / 3600 % 100, a / 60 % 60, us);
}

/* Parses "YYYY-MM-DDTHH:MM:SS[.f...][Z|+hh:mm|-hh:mm]" into ms. */
static int parse_iso(const char *s, int64_t *ms)
{
    fnh__civil c = {0};
    int n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &c.year, &c.month, &c.day, &c.hour,
                     &c.minute, &c.second, &n) != 6 ||
        !fnh__civil_valid(&c))
        return -EINVAL;
    const char *p = s + n;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        while (digits > 0 && digits < 3)
            frac *= 10, digits++;
    }
    int64_t secs = fnh__civil_to_seconds(&c);
    if (*p == 'Z' || *p == '\0') {
    } else if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
            return -EINVAL;
        int off = (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
        secs -= off;
    } else {
        return -EINVAL;
    }
    *ms = secs * 1000 + frac;
    return 0;
}

/* ---- schedules ------------------------------------------------------ */

/* Next occurrence strictly after after_ms; -ENOENT when none. */
static int next_after(const timer_fn *t, int64_t after_ms, int64_t *out)
{
    if (!t->sched.cron) {
        *out = after_ms + t->sched.interval_ms;
        return 0;
    }
    return fnh__sched_next_utc_tz(t->sched.cron, g.tz, after_ms, out, NULL);
}

/* ---- the status file ----------------------------------------------- */

static void status_json(const timer_fn *t, fnh__buf *b)
{
    char last[40], next[40], upd[40];
    iso_local(t->last_ms, last);
    iso_local(t->next_ms, next);
    iso_local(t->updated_ms, upd);
    if (!t->last_ms)
        strcpy(last, "0001-01-01T00:00:00+00:00");
    fnh__buf_printf(b, "{\"Last\":\"%s\",\"Next\":\"%s\",\"LastUpdated\":\"%s\"}", last, next,
                    upd);
}

/* Writes the status atomically: temp file, then rename over the old one, so
 * a killed host never leaves a torn file. (No fsync: that guards against
 * power loss only, and would cost a disk flush per timer and per run.) */
/* Writes text to path through path<suffix> + rename. Any thread. */
static int write_atomic(const char *path, const char *suffix, const char *text, size_t len)
{
    char *tmp = fnh__asprintf("%s%s", path, suffix);
    int fd = tmp ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    int ok = fd >= 0 && write(fd, text, len) == (ssize_t)len;
    if (fd >= 0)
        close(fd);
    int rc = ok && rename(tmp, path) == 0 ? 0 : -errno;
    if (rc && tmp)
        unlink(tmp);
    free(tmp);
    return rc ? rc : 0;
}

/* Status files go out on a libuv worker, a batch at a time (so two writes
 * of one file never swap), and never hold the loop up: a large app does not
 * wait for thousands of file creations before it serves, nor a run's
 * completion for a disk. */
struct status_batch {
    uv_work_t req;
    uv_loop_t *loop;
    fnh__strlist paths;
    fnh__strlist texts;
};

static void batch_work(uv_work_t *req)
{
    status_batch *w = req->data;
    for (size_t i = 0; i < w->paths.len && i < w->texts.len; i++)
        if (write_atomic(w->paths.items[i], ".tmp", w->texts.items[i],
                         strlen(w->texts.items[i])))
            fnh__log(CAT, FNH_LOG_ERROR, "cannot write the schedule status %s: %s",
                     w->paths.items[i], strerror(errno));
}

static void batch_send(void);

static void batch_done(uv_work_t *req, int status)
{
    (void)status;
    status_batch *w = req->data;
    fnh__strlist_free(&w->paths);
    fnh__strlist_free(&w->texts);
    free(w);
    g.writing = 0;
    batch_send();
}

static void batch_send(void)
{
    status_batch *w = g.batch;
    if (g.writing || !w)
        return;
    g.batch = NULL;
    w->req.data = w;
    if (uv_queue_work(w->loop, &w->req, batch_work, batch_done) == 0)
        g.writing = 1;
    else { /* no thread pool: write here */
        batch_work(&w->req);
        batch_done(&w->req, 0);
    }
}

static void status_write_later(timer_fn *t)
{
    if (!t->status_path)
        return;
    if (!g.batch && (g.batch = calloc(1, sizeof *g.batch)))
        g.batch->loop = t->loop;
    fnh__buf b = {0};
    status_json(t, &b);
    fnh__buf_puts(&b, "\n");
    if (g.batch && b.data) {
        fnh__strlist_addf(&g.batch->paths, "%s", t->status_path);
        fnh__strlist_take(&g.batch->texts, fnh__buf_take(&b));
    }
    fnh__buf_free(&b);
    batch_send();
}

static int mkdirs(const char *path)
{
    char *p = fnh__strdup(path);
    if (!p)
        return -ENOMEM;
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    int rc = mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -errno;
    free(p);
    return rc;
}

/* Reads the status; 0 when read, -ENOENT when absent or unreadable. */
static int status_read(timer_fn *t, int64_t *last, int64_t *next, int64_t *updated)
{
    char *text;
    if (fnh__read_file(t->status_path, &text, NULL))
        return -ENOENT;
    cJSON *j = cJSON_Parse(text);
    free(text);
    int rc = -ENOENT;
    if (cJSON_IsObject(j) &&
        parse_iso(cJSON_GetStringValue(cJSON_GetObjectItem(j, "Next")), next) == 0 &&
        parse_iso(cJSON_GetStringValue(cJSON_GetObjectItem(j, "LastUpdated")), updated) == 0) {
        if (parse_iso(cJSON_GetStringValue(cJSON_GetObjectItem(j, "Last")), last) || *last < 0)
            *last = 0;
        rc = 0;
    } else {
        fnh__log(CAT, FNH_LOG_WARN, "Function 'Functions.%s': ignoring unreadable schedule status "
                                    "%s",
                 t->fn->name, t->status_path);
    }
    cJSON_Delete(j);
    return rc;
}

/* ---- firing ------------------------------------------------------------ */

static void arm(timer_fn *t);
static void fire(timer_fn *t, int past_due, const char *unscheduled_reason, int64_t original);

static char *timer_info(const timer_fn *t, int past_due)
{
    fnh__buf b = {0};
    fnh__buf_puts(&b, "{\"Schedule\":{\"AdjustForDST\":true},\"ScheduleStatus\":");
    if (t->status_path)
        status_json(t, &b);
    else
        fnh__buf_puts(&b, "null");
    fnh__buf_printf(&b, ",\"IsPastDue\":%s}", past_due ? "true" : "false");
    return fnh__buf_take(&b);
}

/* A scheduled run returned (token = its timer_fn; a manual run has none):
 * record it and arm the next occurrence. */
static void timer_complete(void *state, void *token, int status, const fnh_value *result)
{
    (void)status;
    (void)result;
    timer_fn *t = state;
    if (token != t)
        return;
    /* a reload handed the schedule on while this run went: the newest
     * snapshot's timer records it and arms the next occurrence */
    while (t->successor) {
        t->successor->fired_ms = t->fired_ms;
        t->running = 0;
        t = t->successor;
    }
    int64_t now = fnh__wall_ms();
    t->running = 0;
    /* Last = the invocation time, bumped up to the occurrence if it fired early */
    int64_t fired = t->fired_ms;
    if (t->sched.cron) {
        int64_t when = fired > t->next_ms ? fired : t->next_ms;
        t->last_ms = t->updated_ms = when;
        if (next_after(t, when, &t->next_ms))
            t->next_ms = 0;
    } else { /* TimeSpan: the interval runs from the end of this run */
        t->last_ms = t->updated_ms = fired;
        t->next_ms = now + t->sched.interval_ms;
    }
    if (t->next_ms) {
        status_write_later(t);
        char nx[40];
        iso_local(t->next_ms, nx);
        fnh__log(CAT, FNH_LOG_DEBUG, "Function 'Functions.%s' updated status: Next='%s'",
                 t->fn->name, nx);
    }
    arm(t);
}

/* Fires one run of t through fnh_fire; token t for a scheduled run, NULL
 * for a manual one. Returns fnh_fire's result. */
static int fire_run(timer_fn *t, int past_due, const char *reason, const char *details,
                    void *token)
{
    char *payload = timer_info(t, past_due);
    if (!payload)
        return -ENOMEM;
    fnh_kv meta[2] = {{"$reason", reason}, {"$details", details}};
    fnh_value v = {payload, strlen(payload), "application/json"};
    int rc = fnh_fire(t->hb, &v, meta, details ? 2 : 1, token);
    free(payload);
    return rc;
}

static void fire(timer_fn *t, int past_due, const char *unscheduled_reason, int64_t original)
{
    if (t->running || t->stopped)
        return;
    int64_t now = fnh__wall_ms();
    char when[40], orig[40], reason[64], *details = NULL;
    iso_local(now, when);
    snprintf(reason, sizeof reason, "Timer fired at %s", when);
    if (unscheduled_reason) {
        iso_local(original, orig);
        details = fnh__asprintf("UnscheduledInvocationReason: %s, OriginalSchedule: %s",
                                unscheduled_reason, orig);
    }
    t->fired_ms = now;
    int rc = fire_run(t, past_due, reason, details, t);
    free(details);
    if (rc) { /* skip this occurrence, keep the schedule */
        fnh__log(CAT, FNH_LOG_ERROR, "Function 'Functions.%s': cannot start the run (%s); this "
                                     "occurrence is skipped",
                 t->fn->name, strerror(-rc));
        if (next_after(t, now, &t->next_ms))
            t->next_ms = 0;
        arm(t);
        return;
    }
    t->running = 1;
}

static void timer_cb(uv_timer_t *h)
{
    timer_fn *t = h->data;
    int64_t now = fnh__wall_ms();
    if (now < t->next_ms) { /* woke early (loop clock vs wall clock): re-arm */
        uv_timer_start(&t->timer, timer_cb, (uint64_t)(t->next_ms - now), 0);
        return;
    }
    fire(t, 0, NULL, 0);
}

/* Arms the timer for t->next_ms (fires at once when it is already due). */
static void arm(timer_fn *t)
{
    if (t->stopped || t->running || !t->next_ms)
        return;
    int64_t delay = t->next_ms - fnh__wall_ms();
    uv_update_time(t->loop);
    uv_timer_start(&t->timer, timer_cb, delay > 0 ? (uint64_t)delay : 0, 0);
}

/* ---- start and stop ----------------------------------------------------- */

static void log_occurrences(timer_fn *t, int64_t now)
{
    if (!fnh__log_enabled(CAT, FNH_LOG_INFO))
        return;
    fnh__buf b = {0};
    fnh__buf_printf(&b, "The next 5 occurrences of the 'Functions.%s' schedule (%s) will be:",
                    t->fn->name, t->display);
    int64_t at = now;
    for (int i = 0; i < 5; i++) {
        if (next_after(t, at, &at))
            break;
        char o[80];
        occurrence_fmt(at, o);
        fnh__buf_printf(&b, "\n%s", o);
    }
    fnh__log(CAT, FNH_LOG_INFO, "%s", b.data);
    fnh__buf_free(&b);
}

static void start_one(timer_fn *t)
{
    fnh__function *fn = t->fn;
    int64_t now = fnh__wall_ms();
    int use_monitor = t->use_monitor;
    int frequent = t->sched.cron ? fnh__cron_fires_more_than_once_a_minute(t->sched.cron)
                                 : t->sched.interval_ms < 60000;
    if (use_monitor && frequent) {
        use_monitor = 0;
        fnh__log(CAT, FNH_LOG_DEBUG, "UseMonitor changed to false based on schedule frequency.");
    }
    fnh__log(CAT, FNH_LOG_DEBUG, "The 'Functions.%s' timer is using the schedule '%s' and the "
                                 "local time zone: '%s'",
             fn->name, t->display, g.tz ? fnh__tz_name(g.tz) : "UTC");
    log_occurrences(t, now);
    int64_t next;
    if (next_after(t, now, &next)) {
        fnh__log(CAT, FNH_LOG_WARN, "Function 'Functions.%s': the schedule '%s' never fires",
                 fn->name, t->expr);
        return;
    }
    t->next_ms = next;
    if (use_monitor) {
        if (!g.status_dir_ready && g.status_dir && mkdirs(g.status_dir) == 0)
            g.status_dir_ready = 1;
        if (g.status_dir_ready)
            t->status_path = fnh__asprintf("%s/Host.Functions.%s.status.json", g.status_dir,
                                           fn->name);
        else
            fnh__log(CAT, FNH_LOG_ERROR, "Function 'Functions.%s': cannot create %s; the "
                                         "schedule monitor is off",
                     fn->name, g.status_dir ? g.status_dir : ".fnhost/timers");
    }
    int64_t last = 0, recorded = 0, updated = 0;
    if (t->status_path && status_read(t, &last, &recorded, &updated) == 0) {
        int64_t expected;
        int64_t base = last ? last : updated;
        int changed = next_after(t, base, &expected) || expected != recorded;
        t->last_ms = last;
        t->updated_ms = updated;
        char l[40], n[40], u[40];
        iso_local(last, l);
        iso_local(recorded, n);
        iso_local(updated, u);
        fnh__log(CAT, FNH_LOG_DEBUG, "Function 'Functions.%s' initial status: Last='%s', "
                                     "Next='%s', LastUpdated='%s'",
                 fn->name, last ? l : "", n, u);
        if (!changed && now > recorded) {
            fnh__log(CAT, FNH_LOG_DEBUG, "Function 'Functions.%s' is past due on startup. "
                                         "Executing now.",
                     fn->name);
            t->next_ms = recorded;
            fire(t, 1, "IsPastDue", recorded);
            return;
        }
        if (changed) { /* a changed schedule never counts as missed */
            t->updated_ms = now;
            status_write_later(t);
        } else {
            t->next_ms = recorded > now ? recorded : next;
        }
    } else if (t->status_path) {
        t->updated_ms = now;
        status_write_later(t);
    }
    if (t->run_on_startup) {
        fnh__log(CAT, FNH_LOG_DEBUG, "Function 'Functions.%s' is configured to run on startup. "
                                     "Executing now.",
                 fn->name);
        fire(t, 0, "RunOnStartup", now);
        return;
    }
    arm(t);
}

/* ---- the binding type --------------------------------------------------- */

static const char *const timer_keys[] = {"type",     "direction",    "name",       "dataType",
                                         "schedule", "runOnStartup", "useMonitor", NULL};

/* Reads and checks the binding into t; problems go to errs. */
static int timer_read(timer_fn *t, const cJSON *j, fnh__strlist *errs, const char *at)
{
    const fnh__function *fn = t->fn;
    const cJSON *s = cJSON_GetObjectItem(j, "schedule");
    if (!cJSON_IsString(s) || !*s->valuestring) {
        fnh__strlist_addf(errs, "%s: %s.schedule: must be a non-empty NCRONTAB expression or "
                                "TimeSpan such as \"0 */5 * * * *\"",
                          fn->config_file, at);
        return -EINVAL;
    }
    char *perr = NULL;
    t->expr = fnh__strdup(s->valuestring);
    if (!t->expr || fnh__schedule_parse(t->expr, &t->sched, &perr)) {
        fnh__strlist_addf(errs, "%s: %s.schedule: '%s' is not a valid NCRONTAB expression or "
                                "TimeSpan (%s); write 6 fields such as \"0 */5 * * * *\" or a "
                                "TimeSpan such as \"00:05:00\"",
                          fn->config_file, at, s->valuestring, perr ? perr : "out of memory");
        free(perr);
        return -EINVAL;
    }
    const cJSON *flag;
    int rc = 0;
    if ((flag = cJSON_GetObjectItem(j, "runOnStartup")) && !cJSON_IsBool(flag)) {
        fnh__strlist_addf(errs, "%s: %s.runOnStartup: must be true or false", fn->config_file, at);
        rc = -EINVAL;
    }
    if ((flag = cJSON_GetObjectItem(j, "useMonitor")) && !cJSON_IsBool(flag)) {
        fnh__strlist_addf(errs, "%s: %s.useMonitor: must be true or false", fn->config_file, at);
        rc = -EINVAL;
    }
    t->run_on_startup = cJSON_IsTrue(cJSON_GetObjectItem(j, "runOnStartup"));
    t->use_monitor = !cJSON_IsFalse(cJSON_GetObjectItem(j, "useMonitor"));
    if (t->sched.cron) {
        char *f = fnh__cron_format(t->sched.cron);
        t->display = fnh__asprintf("Cron: '%s'", f ? f : t->expr);
        free(f);
    } else {
        char ts[32];
        fnh__timespan_fmt(t->sched.interval_ms, ts);
        t->display = fnh__asprintf("Constant: %s", ts);
    }
    return rc;
}

static void timer_free(timer_fn *t)
{
    fnh__schedule_clear(&t->sched);
    free(t->expr);
    free(t->display);
    free(t->status_path);
    free(t);
}

static int timer_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    fnh__function *fn = fnh__binding_function(b);
    char at[32];
    snprintf(at, sizeof at, "bindings[%d]", fnh__binding_model(b)->index);
    const cJSON *j = fnh__config_cjson(cfg);
    fnh__app_warn_unknown_keys(fnh__binding_app(b), fn, j, "timerTrigger", timer_keys, at);
    timer_fn *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->fn = fn;
    t->hb = b;
    int rc = timer_read(t, j, fnh__config_errors(cfg), at);
    if (rc) {
        timer_free(t);
        return rc;
    }
    t->next = g.list;
    g.list = t;
    *state = t;
    return 0;
}

/* The first timer to start loads the time zone and names the status folder. */
static void timers_setup(const fnh_binding *b)
{
    if (g.tz_loaded)
        return;
    g.tz_loaded = 1;
    free(g.status_dir);
    g.status_dir = fnh__asprintf("%s/.fnhost/timers", fnh_app_root(b));
    g.status_dir_ready = 0;
    const char *zone = fnh__tz_env_name();
    char *err = NULL;
    if (fnh__tz_load(zone, &g.tz, &err)) {
        fnh__log(CAT, FNH_LOG_ERROR, "%s: %s; set WEBSITE_TIME_ZONE or TZ to an IANA zone such "
                                     "as \"Europe/London\"; timers use UTC",
                 getenv("WEBSITE_TIME_ZONE") ? "WEBSITE_TIME_ZONE" : "TZ",
                 err ? err : "cannot load the time zone");
        free(err);
        g.tz = NULL;
    }
}

/* The running timer of an older snapshot for the same function and the
 * same schedule, which t takes over at a reload; NULL if none. */
static timer_fn *predecessor(const timer_fn *t)
{
    for (timer_fn *o = g.list; o; o = o->next)
        if (o != t && o->started && !o->stopped && !o->successor &&
            strcasecmp(o->fn->name, t->fn->name) == 0 && strcmp(o->expr, t->expr) == 0 &&
            o->use_monitor == t->use_monitor)
            return o;
    return NULL;
}

/* t continues o's schedule: same next occurrence, same status, a run in
 * progress stays counted (its completion comes to t). o never fires again. */
static void take_over(timer_fn *t, timer_fn *o)
{
    t->next_ms = o->next_ms;
    t->last_ms = o->last_ms;
    t->updated_ms = o->updated_ms;
    t->fired_ms = o->fired_ms;
    t->running = o->running;
    t->status_path = o->status_path ? fnh__strdup(o->status_path) : NULL;
    o->successor = t;
    uv_timer_stop(&o->timer);
    char nx[40];
    iso_local(t->next_ms, nx);
    fnh__log(CAT, FNH_LOG_DEBUG, "Function 'Functions.%s' keeps its schedule across the "
                                 "reload: Next='%s'%s",
             t->fn->name, nx, t->running ? " (a run is in progress)" : "");
    arm(t);
}

static int timer_start(void *state)
{
    timer_fn *t = state;
    timers_setup(t->hb);
    t->loop = fnh_loop(t->hb);
    uv_timer_init(t->loop, &t->timer);
    t->timer.data = t;
    t->started = 1;
    timer_fn *o = predecessor(t);
    if (o)
        take_over(t, o);
    else
        start_one(t);
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    timer_fn *t = h->data;
    t->closed = 1;
    if (t->unbound)
        timer_free(t);
}

static void timer_stop(void *state)
{
    timer_fn *t = state;
    t->stopped = 1;
    if (t->started && !t->closing) {
        uv_timer_stop(&t->timer);
        t->closing = 1;
        uv_close((uv_handle_t *)&t->timer, timer_closed); /* unbind may come first */
    }
}

static void timer_unbind(void *state)
{
    timer_fn *t = state;
    for (timer_fn **p = &g.list; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    for (timer_fn *o = g.list; o; o = o->next) /* a chain of reloads skips t */
        if (o->successor == t)
            o->successor = t->successor;
    if (t->closing && !t->closed)
        t->unbound = 1; /* the close callback frees it */
    else
        timer_free(t);
    if (!g.list) {
        if (g.tz)
            fnh__tz_free(g.tz);
        g.tz = NULL;
        g.tz_loaded = 0;
        free(g.status_dir);
        g.status_dir = NULL;
    }
}

/* A manual run (admin API): a fresh TimerInfo, as on Azure; the schedule
 * is not touched. */
static int timer_invoke(void *state, const fnh_value *input)
{
    (void)input;
    return fire_run(state, 0, FNH__REASON_HOST_API, NULL, NULL);
}

static const fnh_trigger_type timer_trigger_type = {
    .size = sizeof(fnh_trigger_type),
    .type = "timerTrigger",
    .bind = timer_bind,
    .start = timer_start,
    .complete = timer_complete,
    .stop = timer_stop,
    .unbind = timer_unbind,
    .invoke = timer_invoke,
    .flags = FNH_TRIGGER_RETRIES,
};

static const fnh_trigger_type *const timer_triggers[] = {&timer_trigger_type, NULL};

const fnh_extension_def fnh__timer_extension = {
    FNH_EXTENSION_HEAD,
    .name = "timer",
    .version = FNH_VERSION,
    .triggers = timer_triggers,
};
