/* queue_writer.h: the one writer of a queue database in this process. Every
 * write of the host's triggers and output bindings (puts, claims, acks,
 * lease renewals and releases) goes through it, so they never fight over
 * SQLite's write lock; concurrent ones share one transaction and one flush
 * of the WAL (group commit). It also watches the database for writes made
 * by other processes. */
#ifndef FNH_QUEUE_WRITER_H
#define FNH_QUEUE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "queue_store.h"

typedef struct qwriter qwriter;

/* What an acknowledged write survives (host.json extensions.queues.durability). */
typedef enum qdurability {
    QDUR_POWER_LOSS,   /* "survives-power-loss": acked after the WAL is flushed */
    QDUR_PROCESS_CRASH /* "survives-process-crash": acked after the commit only */
} qdurability;

/* Callbacks of a writer (each may be NULL); path is the writer's, borrowed
 * for the call. */
typedef struct qwriter_hooks {
    void *arg;
    /* watcher thread: the file was written (by another process, or this one) */
    void (*changed)(void *arg, const char *path);
} qwriter_hooks;

/* Opens the database at path (copied) and starts the watcher thread (when
 * inotify works). hooks is copied. On failure *out is NULL and err holds a
 * sentence. Any thread. */
int qwriter_open(const char *path, qdurability durability, const qwriter_hooks *hooks,
                 qwriter **out, char *err, size_t errlen);

/* Stops the watcher and closes the database. No qwriter_run may be running
 * or start. */
void qwriter_close(qwriter *w);

/* The database's path (the writer's copy, valid until qwriter_close). */
const char *qwriter_path(const qwriter *w);

/* idle 1: the caller is about to wait long for new messages: watch the
 * file (inotify on its folder) and report writes through hooks.changed
 * until as many idle 0 calls undid it (writes cost a wake-up each while
 * watched, so busy callers do not watch). Returns 1 when the file is
 * watched, 0 when callers must poll (no inotify). The caller checks for
 * work once more after idle 1, as a write just before it is not reported.
 * Any thread. */
int qwriter_idle(qwriter *w, int idle);

/* Runs fn(store, arg) inside the writer's next transaction (in a savepoint:
 * a negative result undoes fn's writes alone) and waits until it is
 * committed, and when durable is 1 also flushed to disk (power-loss
 * durability). Returns fn's result (>= 0), or a negative errno (fn's, or
 * the commit's or flush's: then nothing fn did may be relied on). fn runs
 * on the calling thread or on another caller's (whichever leads that
 * transaction); arg is borrowed until the call returns. Any thread; fn must
 * not call qwriter_run. */
int qwriter_run(qwriter *w, int (*fn)(qstore *s, void *arg), void *arg, int durable);

#endif
