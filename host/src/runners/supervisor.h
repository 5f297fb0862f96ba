/* supervisor.h: every process the host owns (isolated native runners now,
 * language workers and custom handlers later) goes through here. A kind
 * describes the program and its restart rule; each child runs in its own
 * process group, its stdout and stderr lines go to the host log under
 * "Host.Child.<name>", an optional socketpair on fd 3 carries its protocol,
 * and one exit path reports how it ended and restarts it with exponential
 * back-off. Children die with the host even on kill -9 (PR_SET_PDEATHSIG,
 * set by fnhost's own children or by "fnhost __exec-child" for others).
 * Loop thread only. May call: log, util, libuv. */
#ifndef FNH_SUPERVISOR_H
#define FNH_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util.h"

typedef struct fnh__child fnh__child;

typedef enum fnh__restart { FNH__RESTART_NEVER, FNH__RESTART_ALWAYS } fnh__restart;

/* How one run of a child ended (or failed to start). */
typedef struct fnh__child_exit {
    int64_t status;          /* exit status when signal is 0 */
    int signal;              /* the signal that ended it, or 0 */
    int spawn_error;         /* negative errno: it could not be started at all */
    int requested;           /* the host killed or stopped it */
    int final;               /* no restart: the child is freed after this callback */
    uint64_t restart_ms;     /* when !final: restarts after this many ms */
    char text[48];           /* "exit status 3", "signal 11 (SIGSEGV)" */
} fnh__child_exit;

/* A process kind. The supervisor borrows it for the life of its children. */
typedef struct fnh__child_kind {
    const char *name;         /* "native": children are "native-1", "native-2", ... */
    const char *const *argv;  /* program and arguments, NULL-terminated */
    const char *const *env;   /* "K=V" entries added to the host's environment, or NULL */
    const char *cwd;          /* NULL: the host's */
    int channel;              /* 1: fd 3 of the child is a socketpair to the host */
    fnh__restart restart;
    uint64_t backoff_max_ms;  /* longest restart delay; 0: 10 s */
    uint64_t healthy_ms;      /* a run this long resets the back-off; 0: 10 s */
    /* started (also the first time, before fnh__child_start returns) */
    void (*up)(fnh__child *c);
    /* ended or failed to restart; every byte the child wrote has been read */
    void (*down)(fnh__child *c, const fnh__child_exit *e);
    /* channel: room for the next bytes (*p, size; 0 stops reading), then
     * how many arrived there */
    size_t (*alloc)(fnh__child *c, char **p);
    void (*read)(fnh__child *c, size_t n);
    /* optional: logs one output line itself (s borrowed for the call, n
     * bytes, no newline; is_err: from stderr); NULL: logged under
     * "Host.Child.<name>" at Information (stdout) or Error (stderr) */
    void (*line)(fnh__child *c, int is_err, const char *s, size_t n);
} fnh__child_kind;

/* Once, before any child. Returns 0. */
int fnh__supervisor_init(uv_loop_t *loop);

/* Starts a child of `kind`; data is the owner's (fnh__child_data). Returns
 * 0 with *out (kind->up has run), or the negative errno uv_spawn gave;
 * then no child exists and no callback comes. */
int fnh__child_start(const fnh__child_kind *kind, void *data, fnh__child **out);
void *fnh__child_data(const fnh__child *c);
/* "native-1"; its log category is "Host.Child.native-1". */
const char *fnh__child_name(const fnh__child *c);
/* The running process's id, or 0 between runs. */
int fnh__child_pid(const fnh__child *c);
/* Queues b's bytes on the channel and takes b's memory (b is reset).
 * Returns 0, or -EPIPE when the child is not running (b is freed). */
int fnh__child_send(fnh__child *c, fnh__buf *b);
/* The child did useful work (e.g. answered a request): its next failure
 * restarts it at once again. Without this, only a run of healthy_ms resets
 * the back-off. */
void fnh__child_healthy(fnh__child *c);
/* Sends sig to the child's process group. The exit that follows counts as
 * requested: restarted at once, without back-off. 0 or -ESRCH. */
int fnh__child_kill(fnh__child *c, int sig);
/* Stops c for good: no restart, SIGTERM to its group now and SIGKILL after
 * grace_ms. If it was running, kind->down comes once more (final), then c
 * is freed; otherwise c is freed at once. The owner forgets c. */
void fnh__child_stop(fnh__child *c, uint64_t grace_ms);
/* Stops every child (fnh__child_stop) and runs the loop until they have
 * exited, at most grace_ms + 1 s. Returns how many still run (0: all gone). */
int fnh__supervisor_stop_all(uint64_t grace_ms);
/* Children that exist (running or waiting to restart). */
size_t fnh__supervisor_children(void);


#endif
