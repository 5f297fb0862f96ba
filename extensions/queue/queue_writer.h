/* queue_writer.h: the one writer of a queue database in this process. Every
 * write of the host's triggers and output bindings (puts, claims, acks,
 * lease renewals and releases) goes through it, so they never fight over
 * SQLite's write lock; concurrent ones share one transaction and one flush
 * of the WAL (group commit). It also deletes expired messages a chunk at a
 * time and watches the database for writes made by other processes. */
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
    /* writer thread: a purge deleted n expired messages, in chunks that held
     * the write lock at most max_chunk_us each */
    void (*purged)(void *arg, const char *path, int64_t n, int64_t max_chunk_us);
} qwriter_hooks;

/* Opens the database at path (copied) and starts the writer, flusher and
 * watcher threads; the writer purges expired messages at once and every
 * purge_ms. hooks is copied. On failure *out is NULL and err holds a
 * sentence. Any thread. */
int qwriter_open(const char *path, qdurability durability, int64_t purge_ms,
                 const qwriter_hooks *hooks, qwriter **out, char *err, size_t errlen);

/* Stops the threads (the pending writes are done first) and closes the
 * database. No qwriter_run may be running or start. */
void qwriter_close(qwriter *w);

/* The database's path (the writer's copy, valid until qwriter_close). */
const char *qwriter_path(const qwriter *w);

/* 1 when writes by other processes are watched (inotify); 0 when callers
 * must poll. */
int qwriter_watching(const qwriter *w);

/* Runs fn(store, arg) inside the writer's next transaction (in a savepoint:
 * a negative result undoes fn's writes alone) and waits until it is
 * committed, and when durable is 1 also flushed to disk (power-loss
 * durability). Returns fn's result (>= 0), or a negative errno (fn's, or
 * the commit's or flush's: then nothing fn did may be relied on). fn runs
 * on the writer thread; arg is borrowed until the call returns. Any thread
 * but the writer's. */
int qwriter_run(qwriter *w, int (*fn)(qstore *s, void *arg), void *arg, int durable);

#endif
