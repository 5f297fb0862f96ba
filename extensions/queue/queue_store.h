/* queue_store.h: the queue extension's local emulation of Azure Storage
 * queues: one SQLite database (WAL mode) holding every queue's messages,
 * shared by the host's trigger pollers, output bindings and the
 * `fnhost queue` CLI, possibly in several processes at once.
 *
 * Threads: a qstore is one SQLite connection; use it from one thread at a
 * time (the caller serialises). Open one per thread that needs one. In the
 * host every write goes through one writer per database (queue_writer.h),
 * which calls the *_tx functions inside its own transaction.
 * Errors: negative errno (-EIO for SQLite failures, -EBUSY when the database
 * stayed locked, -ENOMEM); qstore_errmsg() has SQLite's text.
 * Times: milliseconds since the Unix epoch (wall clock). */
#ifndef FNH_QUEUE_STORE_H
#define FNH_QUEUE_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct qstore qstore;

/* A message as claimed or peeked. body is malloc'd and NUL-terminated (not
 * counted in len); free with qstore_msg_clear. */
typedef struct qstore_msg {
    int64_t seq; /* row id: the store's handle on the message */
    char id[37];
    char receipt[37]; /* pop receipt of the current lease ("" when none) */
    int64_t inserted, expires, visible;
    int64_t dequeue_count;
    char *body;
    size_t len;
} qstore_msg;

/* What to do with one claimed message, applied by qstore_apply. */
typedef enum qstore_op {
    QSTORE_DELETE,  /* processed: remove it */
    QSTORE_RELEASE, /* failed: visible again after delay_ms */
    QSTORE_POISON,  /* copy to queue `poison` as a new message, then remove it */
    QSTORE_RENEW    /* still running: extend the lease to now + delay_ms */
} qstore_op;

typedef struct qstore_ack {
    int64_t seq;
    const char *receipt; /* the lease's pop receipt; a stale one matches nothing */
    qstore_op op;
    int64_t delay_ms;
    const char *poison; /* QSTORE_POISON: target queue name */
} qstore_ack;

/* How a connection's commits reach the disk. */
typedef enum qstore_sync {
    QSTORE_SYNC_FULL,  /* every commit flushes the WAL: durable through power loss */
    QSTORE_SYNC_NORMAL /* commits are not flushed (survive a process crash only); the
                          caller may flush the WAL itself (queue_writer.c does) */
} qstore_sync;

/* A lease owner in this pid namespace, as qstore_find_dead_owners reports. */
typedef struct qstore_owner {
    int64_t pid, start;
} qstore_owner;

/* Opens (creating the file, its folder and the schema when needed, and
 * migrating an older schema) the database at path. On failure *out is NULL
 * and err holds a sentence. */
int qstore_open(const char *path, qstore_sync sync, qstore **out, char *err, size_t errlen);
void qstore_close(qstore *s);
const char *qstore_errmsg(qstore *s);

int64_t qstore_now_ms(void);
/* Formats ms as ISO-8601 UTC "2024-05-01T12:00:00.123Z" into buf[32]. */
void qstore_format_time(int64_t ms, char buf[32]);
/* A random lower-case RFC 4122 v4 GUID into buf[37]. */
void qstore_guid(char buf[37]);

/* This process's lease-owner instance id (a GUID made once per process). */
const char *qstore_instance_id(void);

/* Write transactions: qstore_begin (BEGIN IMMEDIATE), then *_tx calls, then
 * qstore_finish(s, rc), which commits when rc is 0 and rolls back otherwise,
 * returning the final status. A savepoint wraps one caller's part of a
 * shared transaction: qstore_savepoint_end(s, rc) undoes it when rc != 0. */
int qstore_begin(qstore *s);
int qstore_finish(qstore *s, int rc);
int qstore_savepoint(qstore *s);
int qstore_savepoint_end(qstore *s, int rc);

/* Adds n messages (bodies[i], lens[i]) to queue, visible now, time-to-live
 * 7 days. ids (optional) receives each message's id. qstore_put runs its own
 * transaction; qstore_put_tx runs inside the caller's. */
int qstore_put(qstore *s, const char *queue, const char *const *bodies, const size_t *lens,
               size_t n, char (*ids)[37]);
int qstore_put_tx(qstore *s, const char *queue, const char *const *bodies, const size_t *lens,
                  size_t n, char (*ids)[37]);

/* When the next message of queue that is invisible now (leased, or released
 * with a delay) becomes visible (ms since the epoch); 0 when none will. */
int64_t qstore_next_visible(qstore *s, const char *queue);

/* 1 when queue has a visible, unexpired message now; 0 when not. */
int qstore_has_visible(qstore *s, const char *queue);

/* Inside the caller's transaction, claims up to max visible messages: each
 * gets dequeue_count + 1, a new pop receipt, next visible time now +
 * lease_ms (the lease: other hosts claim it again once it ran out) and this
 * process as lease owner. Fills out[0..*n) (bodies malloc'd, the caller
 * frees them, also when the transaction later fails). */
int qstore_claim_tx(qstore *s, const char *queue, int max, int64_t lease_ms, qstore_msg *out,
                    int *n);

/* Applies n acks (acks borrowed for the call). *applied (optional) counts
 * the acks whose lease was still current. qstore_apply runs its own
 * transaction; qstore_apply_tx runs inside the caller's. */
int qstore_apply(qstore *s, const qstore_ack *acks, size_t n, size_t *applied);
int qstore_apply_tx(qstore *s, const qstore_ack *acks, size_t n, size_t *applied);

/* Leases of queue held by processes of this pid namespace (same boot, same
 * /proc/self/ns/pid) that no longer exist (kill -9; a pid plus the
 * process's start time, so a reused pid is not mistaken for the owner).
 * Fills dead[0..max) and returns the count (a read; no transaction). Leases
 * of hosts in other namespaces or machines are never judged here: they run
 * out. */
int qstore_find_dead_owners(qstore *s, const char *queue, qstore_owner *dead, int max);
/* Inside the caller's transaction, makes the messages leased by dead[0..n)
 * visible now; returns how many. */
int qstore_release_owners_tx(qstore *s, const char *queue, const qstore_owner *dead, int n);
/* Both of the above in one transaction of its own. */
int qstore_release_dead_owners(qstore *s, const char *queue);

/* Inside the caller's transaction, deletes up to max expired messages
 * (oldest expiry first); returns how many. */
int qstore_purge_chunk_tx(qstore *s, int max);
/* Deletes every expired message, 1000 per transaction; returns how many. */
int qstore_purge_expired(qstore *s);

/* Calls fn for up to count visible messages of queue, oldest first, without
 * changing them. fn's msg is borrowed for the call. */
int qstore_peek(qstore *s, const char *queue, int count,
                void (*fn)(void *arg, const qstore_msg *msg), void *arg);

/* Calls fn for every known queue with its message count (visible or not)
 * and the count of visible ones, in name order. */
int qstore_list(qstore *s, void (*fn)(void *arg, const char *queue, int64_t depth,
                                      int64_t visible),
                void *arg);

/* Total messages in queue (visible or not), or a negative errno. */
int64_t qstore_depth(qstore *s, const char *queue);

void qstore_msg_clear(qstore_msg *m);

/* Queue name rules (Azure): 3-63 characters, lower-case letters, digits and
 * '-', starting and ending with a letter or digit, no "--". Returns NULL
 * when valid, else a static phrase saying what is wrong. */
const char *qstore_name_problem(const char *name);

#endif
