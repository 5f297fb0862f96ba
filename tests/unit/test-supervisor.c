/* test-supervisor.c: the process supervisor (host/src/runners/supervisor.c)
 * with real programs started through "fnhost __exec-child" (FNHOST_BIN):
 * output lines in the log, how a child ended, restarts with back-off,
 * requested kills, process groups, stopping with SIGTERM then SIGKILL, and
 * __exec-child tying a foreign program's life to its parent's. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "runners/supervisor.h"
#include "unit.h"
#include "logcap.h"

static const char *g_exe;
static uv_loop_t *g_loop;

typedef struct watch {
    int ups, downs;
    fnh__child_exit last;
    uint64_t restart[8];
    int stop_after; /* stop the child from down() after this many exits */
    int healthy_at; /* the run that reports itself healthy */
    fnh__child *child;
} watch;

static void up_cb(fnh__child *c)
{
    watch *w = fnh__child_data(c);
    w->ups++;
    if (w->healthy_at == w->ups)
        fnh__child_healthy(c);
}

static void down_cb(fnh__child *c, const fnh__child_exit *e)
{
    watch *w = fnh__child_data(c);
    if (w->downs < 8)
        w->restart[w->downs] = e->restart_ms;
    w->downs++;
    w->last = *e;
    if (e->final)
        w->child = NULL;
    else if (w->stop_after && w->downs >= w->stop_after) {
        fnh__child_stop(c, 100);
        w->child = NULL;
    }
}

/* 1 when pid has ended (gone, or a zombie nobody reaps: PID 1 in a
 * container may not). */
static int gone(int pid)
{
    char path[64], stat[256] = {0};
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    const char *close = n ? strrchr(stat, ')') : NULL;
    return !close || close[2] == 'Z' || close[2] == 'X';
}

static int g_timed_out;

static void guard_cb(uv_timer_t *t)
{
    (void)t;
    g_timed_out = 1;
}

/* Runs the loop until *n >= target or ms pass. */
static void run_until(const int *n, int target, uint64_t ms)
{
    uv_timer_t guard;
    uv_timer_init(g_loop, &guard);
    g_timed_out = 0;
    uv_timer_start(&guard, guard_cb, ms, 0);
    while (*n < target && !g_timed_out)
        uv_run(g_loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(g_loop, UV_RUN_NOWAIT);
}

/* A kind running `sh -c script` through fnhost __exec-child. */
static void shell_kind(fnh__child_kind *k, const char *argv[6], const char *script)
{
    argv[0] = g_exe;
    argv[1] = "__exec-child";
    argv[2] = "/bin/sh";
    argv[3] = "-c";
    argv[4] = script;
    argv[5] = NULL;
    memset(k, 0, sizeof *k);
    k->name = "sh";
    k->argv = argv;
    k->restart = FNH__RESTART_NEVER;
    k->up = up_cb;
    k->down = down_cb;
}

/* Output lines reach the log (stdout as Information, stderr as Error, an
 * unfinished last line too); the exit status and extra env arrive. */
static void test_output_and_exit(void)
{
    const char *argv[6];
    fnh__child_kind k;
    shell_kind(&k, argv, "echo out-line; echo err-line >&2; echo \"env=$FNH_TEST_VAR\"; "
                         "echo \"parent=$FNHOST_PARENT_PID\"; printf partial; exit 3");
    static const char *const env[] = {"FNH_TEST_VAR=yes", NULL};
    k.env = env;
    watch w = {0};
    logcap_begin();
    CHECK(fnh__child_start(&k, &w, &w.child) == 0);
    CHECK(w.ups == 1 && fnh__child_pid(w.child) > 0);
    run_until(&w.downs, 1, 10000);
    char *log = logcap_end();
    CHECK(w.downs == 1 && w.last.final && !w.last.requested);
    CHECK(w.last.status == 3 && w.last.signal == 0);
    CHECK_STR(w.last.text, "exit status 3");
    CHECK(logcap_has(log, "\"level\":\"Information\"", "\"category\":\"Host.Child.sh-",
                     "\"message\":\"out-line\""));
    CHECK(logcap_has(log, "\"level\":\"Error\"", "\"category\":\"Host.Child.sh-",
                     "\"message\":\"err-line\""));
    CHECK(logcap_has(log, "\"message\":\"env=yes\"", NULL, NULL));
    CHECK(logcap_has(log, "\"message\":\"parent=\"", NULL, NULL)); /* not passed on */
    CHECK(logcap_has(log, "\"message\":\"partial\"", NULL, NULL));
    CHECK(logcap_has(log, "ended: exit status 3", NULL, NULL));
    CHECK(fnh__supervisor_children() == 0);
    free(log);
}

static void test_signal_text(void)
{
    const char *argv[6];
    fnh__child_kind k;
    shell_kind(&k, argv, "kill -SEGV $$");
    watch w = {0};
    logcap_begin();
    CHECK(fnh__child_start(&k, &w, &w.child) == 0);
    run_until(&w.downs, 1, 10000);
    free(logcap_end());
    CHECK(w.last.signal == SIGSEGV);
    CHECK_STR(w.last.text, "signal 11 (SIGSEGV)");
}

/* A child that keeps failing is restarted at once, then after 100, 200,
 * 400 ms; a kill the host asked for restarts at once and counts nothing. */
static void test_restart_backoff(void)
{
    const char *argv[6];
    fnh__child_kind k;
    shell_kind(&k, argv, "exit 1");
    k.restart = FNH__RESTART_ALWAYS;
    watch w = {.stop_after = 4};
    logcap_begin();
    uint64_t t0 = fnh__now_ns();
    CHECK(fnh__child_start(&k, &w, &w.child) == 0);
    run_until(&w.downs, 4, 20000);
    uint64_t ms = (fnh__now_ns() - t0) / 1000000u;
    run_until(&w.downs, 5, 300); /* stopped: no more runs */
    char *log = logcap_end();
    CHECK(w.downs == 4 && w.ups == 4);
    CHECK(w.restart[0] == 0 && w.restart[1] == 100 && w.restart[2] == 200 &&
          w.restart[3] == 400);
    CHECK(ms >= 300); /* 0 + 100 + 200 between the four runs */
    CHECK(logcap_has(log, "ended: exit status 1; restarting it in 200 ms", NULL, NULL));
    free(log);
    CHECK(fnh__supervisor_children() == 0);

    /* a run that did useful work resets the back-off */
    watch h = {.stop_after = 4, .healthy_at = 3};
    logcap_begin();
    CHECK(fnh__child_start(&k, &h, &h.child) == 0);
    run_until(&h.downs, 4, 20000);
    free(logcap_end());
    CHECK(h.restart[0] == 0 && h.restart[1] == 100 && h.restart[2] == 0 &&
          h.restart[3] == 100);

    shell_kind(&k, argv, "sleep 30");
    k.restart = FNH__RESTART_ALWAYS;
    watch v = {0};
    logcap_begin();
    CHECK(fnh__child_start(&k, &v, &v.child) == 0);
    for (int i = 0; i < 3; i++) {
        int pid = fnh__child_pid(v.child);
        CHECK(fnh__child_kill(v.child, SIGKILL) == 0);
        run_until(&v.ups, i + 2, 10000);
        CHECK(v.last.requested && v.last.signal == SIGKILL && v.last.restart_ms == 0);
        CHECK(fnh__child_pid(v.child) != pid);
    }
    fnh__child_stop(v.child, 1000);
    run_until(&v.downs, 4, 10000);
    free(logcap_end());
    CHECK(v.downs == 4 && v.last.final);
    CHECK(fnh__supervisor_children() == 0);
}

/* stop_all: SIGTERM to the group, SIGKILL after the grace for a child
 * that ignores it, grandchildren included. */
static void test_stop_all(void)
{
    const char *a1[6], *a2[6];
    fnh__child_kind polite, stubborn;
    shell_kind(&polite, a1, "sleep 30");
    shell_kind(&stubborn, a2, "trap '' TERM; sleep 30 & echo \"gc $!\"; wait");
    polite.restart = stubborn.restart = FNH__RESTART_ALWAYS;
    watch w1 = {0}, w2 = {0};
    logcap_begin();
    CHECK(fnh__child_start(&polite, &w1, &w1.child) == 0);
    CHECK(fnh__child_start(&stubborn, &w2, &w2.child) == 0);
    int p1 = fnh__child_pid(w1.child), p2 = fnh__child_pid(w2.child);
    uv_sleep(200);
    uv_run(g_loop, UV_RUN_NOWAIT);
    uint64_t t0 = fnh__now_ns();
    int left = fnh__supervisor_stop_all(300);
    uint64_t ms = (fnh__now_ns() - t0) / 1000000u;
    char *log = logcap_end();
    CHECK(left == 0 && fnh__supervisor_children() == 0);
    CHECK(ms >= 250 && ms < 5000);
    CHECK(w1.last.final && w1.last.signal == SIGTERM);
    CHECK(w2.last.final && w2.last.signal == SIGKILL);
    CHECK(gone(p1) && gone(p2));
    const char *gc = strstr(log, "\"message\":\"gc ");
    int gpid = gc ? atoi(gc + 14) : 0;
    for (int i = 0; i < 500 && gpid > 0 && !gone(gpid); i++)
        uv_sleep(2);
    CHECK(gpid > 0 && gone(gpid)); /* the group went with it */
    CHECK(logcap_has(log, "did not stop on SIGTERM; killing it", NULL, NULL));
    free(log);
}

/* A program that cannot be started: an error, no child, no callback. */
static void test_spawn_errors(void)
{
    const char *argv[] = {"/nonexistent/program", NULL};
    fnh__child_kind k = {.name = "none", .argv = argv, .up = up_cb, .down = down_cb};
    watch w = {0};
    fnh__child *c = NULL;
    CHECK(fnh__child_start(&k, &w, &c) == UV_ENOENT && c == NULL && w.ups == 0);
    /* __exec-child reports a program it cannot run */
    const char *a[6];
    shell_kind(&k, a, "");
    a[2] = "/nonexistent/program";
    a[3] = NULL;
    logcap_begin();
    CHECK(fnh__child_start(&k, &w, &w.child) == 0);
    run_until(&w.downs, 1, 10000);
    char *log = logcap_end();
    CHECK(w.last.status == 127);
    CHECK(logcap_has(log, "fnhost: cannot run '/nonexistent/program': No such file or directory",
                     NULL, NULL));
    free(log);
}

/* fnhost __exec-child PROGRAM dies with its parent even on kill -9: a
 * shell starts it and is killed; as the subreaper we inherit the orphan
 * and see it die of SIGKILL. */
static void test_exec_child_dies_with_parent(void)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    fflush(stdout);
    pid_t sh = fork();
    if (sh == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        char script[PATH_MAX + 64];
        snprintf(script, sizeof script, "%s __exec-child sleep 30 & echo $!; wait", g_exe);
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char buf[64] = {0};
    ssize_t n = read(pfd[0], buf, sizeof buf - 1);
    close(pfd[0]);
    int child = n > 0 ? atoi(buf) : 0;
    CHECK(child > 0);
    /* once it is "sleep", __exec-child has set PR_SET_PDEATHSIG */
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", child);
    for (int i = 0; i < 5000 && strncmp(comm, "sleep", 5) != 0; i++) {
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(comm, sizeof comm, f))
                comm[0] = '\0';
            fclose(f);
        }
        usleep(2000);
    }
    CHECK(strncmp(comm, "sleep", 5) == 0);
    kill(sh, SIGKILL);
    int st = 0;
    waitpid(sh, &st, 0);
    int reaped = 0;
    for (int i = 0; i < 5000 && child > 0 && !reaped; i++) {
        if (waitpid(child, &st, WNOHANG) == child)
            reaped = 1;
        else
            usleep(2000);
    }
    CHECK(reaped && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    if (!reaped && child > 0)
        kill(child, SIGKILL);
}

static void test_loop_closes(void)
{
    CHECK(uv_loop_close(g_loop) == 0);
}

int main(void)
{
    g_exe = getenv("FNHOST_BIN") ? getenv("FNHOST_BIN") : "build/fnhost";
    g_loop = uv_default_loop();
    logcap_init();
    fnh__log_init(1, 1);
    fnh__supervisor_init(g_loop);
    UNIT_RUN(test_output_and_exit);
    UNIT_RUN(test_signal_text);
    UNIT_RUN(test_restart_backoff);
    UNIT_RUN(test_stop_all);
    UNIT_RUN(test_spawn_errors);
    UNIT_RUN(test_exec_child_dies_with_parent);
    fnh__log_shutdown();
    UNIT_RUN(test_loop_closes);
    fflush(stdout);
    UNIT_END();
}
