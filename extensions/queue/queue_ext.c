/* queue_ext.c: the queue extension's descriptor and its two binding types:
 *  - queueTrigger: one poller thread per binding claims batches of messages
 *    from the local store (queue_store.c), fires the function for each,
 *    renews leases while they run and applies completions in batches
 *    (delete, retry after visibilityTimeout, or move to <queue>-poison);
 *  - queue (out): enqueues one message, or one per element of a JSON array.
 * Every write goes through the one writer of its database (queue_writer.c),
 * shared by all bindings of the process. Options come from host.json
 * extensions.queues (read once in init).
 *
 * Threads: init/fini, bind/start/stop/unbind and complete() run on the loop
 * thread; the poller owns its reading SQLite connection and its in-flight
 * list; complete() only hands the token over (a mutex-protected list) and
 * wakes the poller. Output writes run on worker threads and wait for the
 * writer's group commit. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "queue_ext.h"
#include "queue_store.h"
#include "queue_util.h"
#include "queue_writer.h"

#define LEASE_MS (10 * 60 * 1000)   /* Azure's visibility timeout for a claimed message */
#define RETRY_FIRE_MS 2             /* host queue full: retry the fire this soon */
#define BUSY_FLUSH_MS 20            /* at most this long between ack flushes */
#define DEAD_OWNER_CHECK_MS 10000   /* look for leases of killed processes */
#define PURGE_MS (60 * 1000)        /* delete expired messages */
#define PURGE_CHUNK 500             /* expired messages deleted per transaction */
#define UNWATCHED_POLL_MS 100       /* longest idle wait when the file cannot be watched */
#define WATCH_AFTER_MS 16           /* idle waits this long or longer watch the file */
#define MAX_BATCH 32

/* host.json extensions.queues */
typedef struct qopts {
    int batch_size;
    int new_batch_threshold;
    int max_dequeue;
    int64_t max_poll_ms;
    int64_t visibility_ms;
    int64_t lease_ms; /* leaseDuration: a claimed message's lease, renewed at half */
    int base64;       /* messageEncoding "base64" (the default): encode on output,
                         decode messages that are valid base64 on trigger */
    qdurability durability;
} qopts;

typedef struct qtrig qtrig;

/* A database's writer, shared by the bindings that use that file. */
typedef struct qwref {
    struct qwref *next;
    qwriter *w;
    int refs;
} qwref;

/* The extension's global state (init -> fini). */
typedef struct qglobal {
    fnh_ext *ext;
    qopts opts;
    pthread_mutex_t lock; /* guards triggers and writers */
    qtrig *triggers;      /* started triggers, for in-process wake-ups */
    qwref *writers;
} qglobal;

/* One claimed message: the token of its invocation. */
typedef struct qmsg {
    struct qmsg *next, *prev; /* in-flight list (poller thread only) */
    struct qmsg *ack_next;    /* ack list (under qtrig.lock) */
    int status;               /* set by complete() */
    int64_t renew_at;
    qstore_msg m; /* body freed once fired */
} qmsg;

struct qtrig {
    fnh_binding *b;
    qglobal *g;
    qopts opts;
    char *queue, *poison, *db_path;
    qstore *store; /* poller's reading connection (loop thread before start / after join) */
    qwriter *w;    /* every write */
    pthread_t thread;
    int running;
    qtrig *reg_next; /* in qglobal.triggers */

    pthread_mutex_t lock; /* guards the members below */
    pthread_cond_t cond;
    int stopping, wake;
    qmsg *acks;
    size_t nacks, acks_wanted;

    /* poller thread only */
    qmsg inflight; /* sentinel of a circular list: fired or waiting to be fired */
    qmsg *unfired; /* claimed, fnh_fire said -EAGAIN: retried in order */
    int ninflight;
    int backlog; /* the last claim was a full batch */
};

typedef struct qout {
    fnh_binding *b;
    qglobal *g;
    char *db_path;
    qwriter *w;
} qout;

/* ---------------------------------------------------------------- init */

static int read_span(const fnh_config *c, const char *key, int64_t *ms)
{
    const char *s = fnh_config_string(c, key);
    if (s) {
        if (qtimespan_ms(s, ms))
            return fnh_config_fail(c, key, "'%s' is not a TimeSpan; use \"hh:mm:ss\" such as "
                                           "\"00:00:10\"", s);
        return 0;
    }
    int64_t v;
    int rc = fnh_config_int(c, key, &v);
    if (rc == 0) { /* 1.x style: milliseconds */
        if (v < 0)
            return fnh_config_fail(c, key, "must not be negative");
        *ms = v;
        return 0;
    }
    if (rc == -EINVAL)
        return fnh_config_fail(c, key, "must be a TimeSpan such as \"00:00:10\"");
    return 0;
}

static int read_int(const fnh_config *c, const char *key, int lo, int hi, int *out)
{
    int64_t v;
    int rc = fnh_config_int(c, key, &v);
    if (rc == -ENOENT)
        return 0;
    if (rc || v < lo || v > hi)
        return fnh_config_fail(c, key, "must be a whole number from %d to %d", lo, hi);
    *out = (int)v;
    return 0;
}

static int q_init(fnh_ext *ext, const fnh_config *section, void **global)
{
    qglobal *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->ext = ext;
    qopts *o = &g->opts;
    o->batch_size = 16;
    o->new_batch_threshold = -1;
    o->max_dequeue = 5;
    o->max_poll_ms = 60000; /* Azure's; new messages wake the poller at once */
    o->visibility_ms = 0;
    o->lease_ms = LEASE_MS;
    o->base64 = 1; /* Azure's default since the v5 storage extension */
    o->durability = QDUR_POWER_LOSS;
    int rc = 0;
    if (section) {
        rc = read_int(section, "batchSize", 1, MAX_BATCH, &o->batch_size);
        if (!rc)
            rc = read_int(section, "newBatchThreshold", 0, 1000000, &o->new_batch_threshold);
        if (!rc)
            rc = read_int(section, "maxDequeueCount", 1, 1000000, &o->max_dequeue);
        if (!rc)
            rc = read_span(section, "maxPollingInterval", &o->max_poll_ms);
        if (!rc)
            rc = read_span(section, "visibilityTimeout", &o->visibility_ms);
        if (!rc)
            rc = read_span(section, "leaseDuration", &o->lease_ms);
        if (!rc && o->lease_ms < 1000)
            rc = fnh_config_fail(section, "leaseDuration",
                                 "must be at least one second, such as \"00:00:30\"");
        const char *enc = fnh_config_string(section, "messageEncoding");
        if (!rc && enc) {
            if (strcasecmp(enc, "base64") == 0)
                o->base64 = 1;
            else if (strcasecmp(enc, "none") == 0)
                o->base64 = 0;
            else
                rc = fnh_config_fail(section, "messageEncoding",
                                     "'%s' is not an encoding; use \"base64\" or \"none\"", enc);
        }
        const char *dur = fnh_config_string(section, "durability");
        int64_t junk;
        if (!rc && !dur && fnh_config_int(section, "durability", &junk) != -ENOENT)
            rc = fnh_config_fail(section, "durability",
                                 "must be \"survives-power-loss\" (the default) or "
                                 "\"survives-process-crash\"");
        if (!rc && dur) {
            if (strcmp(dur, "survives-power-loss") == 0)
                o->durability = QDUR_POWER_LOSS;
            else if (strcmp(dur, "survives-process-crash") == 0)
                o->durability = QDUR_PROCESS_CRASH;
            else
                rc = fnh_config_fail(section, "durability",
                                     "'%s' is not a durability; use \"survives-power-loss\" "
                                     "(the default: a message is acknowledged once it is on "
                                     "disk) or \"survives-process-crash\" (faster: an "
                                     "operating system crash or power cut may lose the last "
                                     "acknowledged messages)",
                                     dur);
        }
    }
    if (rc) {
        free(g);
        return rc;
    }
    if (o->new_batch_threshold < 0)
        o->new_batch_threshold = o->batch_size / 2;
    if (o->max_poll_ms < 1)
        o->max_poll_ms = 1;
    pthread_mutex_init(&g->lock, NULL);
    *global = g;
    return 0;
}

static void q_fini(void *global)
{
    qglobal *g = global;
    if (!g)
        return;
    pthread_mutex_destroy(&g->lock);
    free(g);
}

/* ------------------------------------------------------- shared binding */

/* Validates the binding's connection and returns the database path
 * (malloc'd), or NULL with *rc set (fnh_config_fail already reported it). */
static char *resolve_db(fnh_binding *b, const fnh_config *cfg, int *rc)
{
    const char *conn = fnh_config_string(cfg, "connection");
    const char *name = conn && *conn ? conn : QUEUE_DEFAULT_SETTING;
    const char *v = fnh_ext_setting(b, name);
    char prefixed[256];
    if ((!v || !*v) && conn && *conn) { /* Azure also tries AzureWebJobs<name> */
        snprintf(prefixed, sizeof prefixed, "AzureWebJobs%s", conn);
        v = fnh_ext_setting(b, prefixed);
    }
    if (!v || !*v) {
        *rc = fnh_config_fail(cfg, "connection",
                              "the app setting '%s' is not set. fnhost emulates Azure Storage "
                              "queues locally in .fnhost/storage: add \"%s\": "
                              "\"UseDevelopmentStorage=true\" to \"Values\" in "
                              "local.settings.json",
                              name, name);
        return NULL;
    }
    switch (qconn_classify(v)) {
    case QCONN_CLOUD:
        *rc = fnh_config_fail(cfg, "connection",
                              "the app setting '%s' is an Azure Storage connection string, "
                              "but fnhost does not connect to Azure: it emulates Azure Storage "
                              "queues locally in .fnhost/storage. Set \"%s\": "
                              "\"UseDevelopmentStorage=true\" in local.settings.json",
                              name, name);
        return NULL;
    case QCONN_OTHER:
        *rc = fnh_config_fail(cfg, "connection",
                              "the app setting '%s' ('%s') is neither "
                              "\"UseDevelopmentStorage=true\" nor a database file path "
                              "(absolute or starting with ./). Set \"%s\": "
                              "\"UseDevelopmentStorage=true\" in local.settings.json",
                              name, v, name);
        return NULL;
    default: break;
    }
    char *path = qconn_db_path(v, fnh_app_root(b));
    if (!path)
        *rc = -ENOMEM;
    return path;
}

static int check_queue_name(const fnh_config *cfg, const char *q)
{
    if (!q || !*q)
        return fnh_config_fail(cfg, "queueName", "is required (the queue's name, e.g. "
                                                 "\"myqueue-items\")");
    const char *problem = qstore_name_problem(q);
    if (problem)
        return fnh_config_fail(cfg, "queueName",
                               "'%s' is not a valid queue name: %s (use 3-63 lower-case "
                               "letters, digits and single '-', starting and ending with a "
                               "letter or digit)",
                               q, problem);
    return 0;
}

/* Wakes the started triggers of queue (every queue when NULL) in the
 * database path (this host or another process just wrote there). Any
 * thread. */
static void wake_triggers(qglobal *g, const char *path, const char *queue)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    for (qtrig *t = g->triggers; t; t = t->reg_next) {
        if ((!queue || strcmp(t->queue, queue) == 0) && strcmp(t->db_path, path) == 0) {
            pthread_mutex_lock(&t->lock);
            t->wake = 1;
            pthread_cond_signal(&t->cond);
            pthread_mutex_unlock(&t->lock);
        }
    }
    pthread_mutex_unlock(&g->lock);
}

/* Writer hooks (writer and watcher threads). */
static void db_changed(void *arg, const char *path)
{
    wake_triggers(arg, path, NULL);
}

/* The writer of the database at path, opened when this process has none
 * yet (then err says why it failed). Loop thread. */
static int writer_get(qglobal *g, const char *path, qwriter **out, char *err, size_t errlen)
{
    pthread_mutex_lock(&g->lock);
    for (qwref *r = g->writers; r; r = r->next) {
        /* the watcher's path is the writer's own copy */
        if (strcmp(qwriter_path(r->w), path) == 0) {
            r->refs++;
            *out = r->w;
            pthread_mutex_unlock(&g->lock);
            return 0;
        }
    }
    qwref *r = calloc(1, sizeof *r);
    int rc = -ENOMEM;
    if (r) {
        qwriter_hooks hooks = {g, db_changed};
        rc = qwriter_open(path, g->opts.durability, &hooks, &r->w, err, errlen);
    } else {
        snprintf(err, errlen, "out of memory");
    }
    if (rc) {
        free(r);
        pthread_mutex_unlock(&g->lock);
        return rc;
    }
    r->refs = 1;
    r->next = g->writers;
    g->writers = r;
    *out = r->w;
    pthread_mutex_unlock(&g->lock);
    return 0;
}

/* Drops a reference taken by writer_get; the last one closes the writer.
 * Loop thread. */
static void writer_put(qglobal *g, qwriter *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&g->lock);
    qwref **p = &g->writers;
    while (*p && (*p)->w != w)
        p = &(*p)->next;
    qwref *r = *p;
    int last = r && --r->refs == 0;
    if (last)
        *p = r->next;
    pthread_mutex_unlock(&g->lock);
    if (last) { /* outside the lock: the watcher may be waiting for it */
        qwriter_close(w);
        free(r);
    }
}

/* Validates the binding's connection and takes its database's writer:
 * *path (malloc'd) and *w, and with s (the trigger) a reading connection
 * *s; or an error (reported against cfg). */
static int open_db(fnh_binding *b, qglobal *g, const fnh_config *cfg, char **path,
                   qwriter **w, qstore **s)
{
    int rc;
    *path = resolve_db(b, cfg, &rc);
    if (!*path)
        return rc;
    char err[512];
    rc = writer_get(g, *path, w, err, sizeof err);
    if (rc == 0 && s) {
        rc = qstore_open(*path, QSTORE_SYNC_NORMAL, s, err, sizeof err);
        if (rc) {
            writer_put(g, *w);
            *w = NULL;
        }
    }
    if (rc) {
        free(*path);
        *path = NULL;
        return fnh_config_fail(cfg, "connection", "%s", err);
    }
    return 0;
}

/* ------------------------------------------------------------- trigger */

/* The poison queue of q (malloc'd), or NULL: as in Azure, there is one only
 * when its name stays valid and q is not itself a poison queue. */
static char *poison_name(const char *q)
{
    size_t qn = strlen(q);
    if (qn + 7 > 63 || (qn > 7 && strcmp(q + qn - 7, "-poison") == 0))
        return NULL;
    char *p = malloc(qn + 8);
    if (p) {
        memcpy(p, q, qn);
        memcpy(p + qn, "-poison", 8);
    }
    return p;
}

static int trig_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    const char *q = fnh_config_string(cfg, "queueName");
    int rc = check_queue_name(cfg, q);
    if (rc)
        return rc;
    qtrig *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->b = b;
    t->g = fnh_global(b);
    t->opts = t->g->opts;
    t->queue = strdup(q);
    t->poison = poison_name(q);
    rc = t->queue ? open_db(b, t->g, cfg, &t->db_path, &t->w, &t->store) : -ENOMEM;
    if (rc) {
        free(t->queue);
        free(t->poison);
        free(t);
        return rc;
    }
    t->inflight.next = t->inflight.prev = &t->inflight;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &ca);
    pthread_condattr_destroy(&ca);
    *state = t;
    return 0;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ms(void)
{
    return mono_us() / 1000;
}

static void list_remove(qmsg *m)
{
    m->prev->next = m->next;
    m->next->prev = m->prev;
    m->next = m->prev = m;
}

static void list_append(qtrig *t, qmsg *m)
{
    m->prev = t->inflight.prev;
    m->next = &t->inflight;
    t->inflight.prev->next = m;
    t->inflight.prev = m;
}

static void free_msg(qmsg *m)
{
    qstore_msg_clear(&m->m);
    free(m);
}

/* Fires the function for m. Returns 0, -EAGAIN (keep it and retry) or
 * another error (the message must be released). Poller thread. */
static int fire_one(qtrig *t, qmsg *m)
{
    char inserted[32], expires[32], visible[32], dq[24], details[160], reason[128];
    qstore_format_time(m->m.inserted, inserted);
    qstore_format_time(m->m.expires, expires);
    qstore_format_time(m->m.visible, visible);
    snprintf(dq, sizeof dq, "%lld", (long long)m->m.dequeue_count);
    snprintf(reason, sizeof reason, "New queue message detected on '%s'.", t->queue);
    snprintf(details, sizeof details, "MessageId: %s, DequeueCount: %s, InsertionTime: %s",
             m->m.id, dq, inserted);
    const char *body = m->m.body;
    size_t len = m->m.len;
    char *decoded = NULL;
    if (t->opts.base64) {
        size_t dlen;
        if (qbase64_decode(body, len, &decoded, &dlen) == 0) {
            body = decoded;
            len = dlen;
        }
    }
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    const char *ctype = i < len && (body[i] == '{' || body[i] == '[') ? "application/json"
                                                                      : "text/plain";
    fnh_value payload = {body, len, ctype};
    fnh_kv meta[] = {
        {"QueueTrigger", body},      {"Id", m->m.id},           {"DequeueCount", dq},
        {"InsertionTime", inserted}, {"ExpirationTime", expires}, {"NextVisibleTime", visible},
        {"PopReceipt", m->m.receipt}, {"$reason", reason},       {"$details", details},
    };
    int rc = fnh_fire(t->b, &payload, meta, sizeof meta / sizeof meta[0], m);
    free(decoded);
    return rc;
}

/* Writer requests (run inside the writer's transaction, on whichever thread leads
 * it). */
typedef struct apply_req {
    const qstore_ack *acks;
    size_t n;
} apply_req;

static int apply_fn(qstore *s, void *arg)
{
    apply_req *a = arg;
    return qstore_apply_tx(s, a->acks, a->n, NULL);
}

/* Applies n acks through the writer; deletes are flushed with the next
 * group but not waited for (a lost delete means a second delivery, never a
 * lost message). */
static int apply_now(qtrig *t, const qstore_ack *acks, size_t n)
{
    apply_req a = {acks, n};
    return n ? qwriter_run(t->w, apply_fn, &a, 0) : 0;
}

/* Applies acks (completed messages, and messages to release or poison
 * right away) in one transaction. Poller thread, or the loop thread after
 * the poller was joined. Frees the messages. */
static void apply_acks(qtrig *t, qmsg *acks)
{
    qstore_ack buf[64];
    qmsg *done[64];
    char poisoned[64];
    while (acks) {
        size_t n = 0;
        while (acks && n < 64) {
            qmsg *m = acks;
            acks = m->ack_next;
            qstore_ack *a = &buf[n];
            a->seq = m->m.seq;
            a->receipt = m->m.receipt;
            a->delay_ms = 0;
            a->poison = NULL;
            poisoned[n] = 0;
            if (m->status == 0) {
                a->op = QSTORE_DELETE;
            } else if (m->m.dequeue_count >= t->opts.max_dequeue) {
                /* logged once the transaction committed */
                a->op = t->poison ? QSTORE_POISON : QSTORE_DELETE;
                a->poison = t->poison;
                poisoned[n] = 1;
            } else if (m->status == -ESHUTDOWN) { /* never ran: visible again at once */
                a->op = QSTORE_RELEASE;
            } else {
                a->op = QSTORE_RELEASE;
                a->delay_ms = t->opts.visibility_ms;
            }
            done[n++] = m;
        }
        int rc = apply_now(t, buf, n);
        if (rc)
            fnh_ext_log(t->b, FNH_LOG_ERROR,
                        "queue '%s': could not record %zu completed message(s): %s (they will "
                        "be delivered again when their lease expires)",
                        t->queue, n, fnh_ext_strerror(t->b, rc));
        for (size_t i = 0; i < n; i++) {
            if (rc == 0 && poisoned[i] && t->poison)
                fnh_ext_log(t->b, FNH_LOG_WARN,
                            "Message has reached MaxDequeueCount of %d. Moving message to "
                            "queue '%s'.",
                            t->opts.max_dequeue, t->poison);
            else if (rc == 0 && poisoned[i])
                fnh_ext_log(t->b, FNH_LOG_WARN,
                            "Message has reached MaxDequeueCount of %d. Queue '%s' has no "
                            "poison queue; deleting message '%s'.",
                            t->opts.max_dequeue, t->queue, done[i]->m.id);
            list_remove(done[i]);
            free_msg(done[i]);
        }
    }
}

/* A claimed message that never ran goes back to its queue at once: the
 * claim was no delivery, so it never counts towards poison. */
static void give_back(qmsg *m, qmsg **release)
{
    m->status = -ESHUTDOWN;
    m->m.dequeue_count--;
    m->ack_next = *release;
    *release = m;
}

/* Fires unfired messages in order until the host pushes back. Returns 1
 * when some remain. Poller thread. */
static int fire_unfired(qtrig *t, qmsg **release)
{
    while (t->unfired) {
        qmsg *m = t->unfired;
        qmsg *next = m->ack_next;
        /* once fired, complete() may link m into the ack list at any time */
        m->ack_next = NULL;
        int rc = fire_one(t, m);
        if (rc == -EAGAIN) {
            m->ack_next = next;
            return 1;
        }
        t->unfired = next;
        if (rc == 0) {
            /* the body is no longer needed (the host copied it) */
            free(m->m.body);
            m->m.body = NULL;
            continue;
        }
        if (rc != -ESHUTDOWN)
            fnh_ext_log(t->b, FNH_LOG_ERROR, "queue '%s': could not start the function for "
                                             "message '%s': %s",
                        t->queue, m->m.id, fnh_ext_strerror(t->b, rc));
        give_back(m, release);
    }
    return 0;
}

/* Extends the leases that are half used up. Poller thread. */
static void renew_leases(qtrig *t, int64_t now)
{
    qstore_ack buf[64];
    size_t n = 0;
    for (qmsg *m = t->inflight.next; m != &t->inflight; m = m->next) {
        if (m->renew_at > now)
            continue;
        buf[n++] = (qstore_ack){m->m.seq, m->m.receipt, QSTORE_RENEW, t->opts.lease_ms, NULL};
        m->renew_at = now + t->opts.lease_ms / 2;
        if (n == 64) {
            apply_now(t, buf, n);
            n = 0;
        }
    }
    if (n)
        apply_now(t, buf, n);
}

typedef struct claim_req {
    qtrig *t;
    qstore_msg *got;
    int n;
} claim_req;

static int claim_fn(qstore *s, void *arg)
{
    claim_req *c = arg;
    return qstore_claim_tx(s, c->t->queue, c->t->opts.batch_size, c->t->opts.lease_ms, c->got,
                           &c->n);
}

/* Claims one batch and fires it. Returns how many were claimed. */
static int claim_batch(qtrig *t, qmsg **immediate)
{
    /* a read first, so an empty queue costs no write transaction; skipped
     * while the last claim came back full (the queue has a backlog) */
    if (!t->backlog && qstore_has_visible(t->store, t->queue) <= 0)
        return 0;
    qstore_msg got[MAX_BATCH];
    claim_req c = {t, got, 0};
    int rc = qwriter_run(t->w, claim_fn, &c, 0);
    int n = c.n;
    t->backlog = rc >= 0 && n == t->opts.batch_size;
    if (rc < 0) {
        for (int i = 0; i < n; i++) /* claimed, but the commit failed */
            qstore_msg_clear(&got[i]);
        if (rc != -EBUSY)
            fnh_ext_log(t->b, FNH_LOG_ERROR, "queue '%s': could not read messages: %s",
                        t->queue, fnh_ext_strerror(t->b, rc));
        return 0;
    }
    int64_t now = mono_ms();
    qmsg **tail = &t->unfired;
    while (*tail)
        tail = &(*tail)->ack_next;
    for (int i = 0; i < n; i++) {
        qmsg *m = calloc(1, sizeof *m);
        if (!m) { /* leave it leased; it comes back when the lease expires */
            qstore_msg_clear(&got[i]);
            continue;
        }
        m->m = got[i];
        m->renew_at = now + t->opts.lease_ms / 2;
        list_append(t, m);
        t->ninflight++;
        if (m->m.dequeue_count > t->opts.max_dequeue) { /* already over: poison it */
            m->status = -EIO;
            m->ack_next = *immediate;
            *immediate = m;
            continue;
        }
        *tail = m;
        tail = &m->ack_next;
    }
    return n;
}

/* When the poller next does its periodic work (CLOCK_MONOTONIC ms), and how
 * long it waits while the queue is empty. */
typedef struct pacing {
    int64_t backoff, next_dead_check, next_renew_check, next_purge;
    int idle;    /* qwriter_idle(w, 1) is in force for this poller */
    int watched; /* and the file is watched (else poll) */
    int purging; /* a purge has more steps to take */
    int64_t purged, purge_us, purge_max_us, purge_chunks;
} pacing;

/* Few enough messages in flight to claim the next batch (newBatchThreshold)? */
static int wants_batch(const qtrig *t)
{
    return t->ninflight <= t->opts.new_batch_threshold;
}

/* Takes the completions handed over so far and clears the wake-up.
 * *stopping: stop() was called. */
static qmsg *take_acks(qtrig *t, int *stopping)
{
    pthread_mutex_lock(&t->lock);
    qmsg *acks = t->acks;
    t->acks = NULL;
    t->nacks = 0;
    *stopping = t->stopping;
    t->wake = 0;
    pthread_mutex_unlock(&t->lock);
    return acks;
}

/* Applies finished messages (apply_acks), which leave the in-flight count.
 * Returns 1 when some went back to a queue (failed or never ran): there may
 * be work again at once. */
static int retire(qtrig *t, qmsg *list)
{
    int released = 0;
    for (qmsg *m = list; m; m = m->ack_next) {
        t->ninflight--;
        if (m->status)
            released = 1;
    }
    apply_acks(t, list);
    return released;
}

typedef struct release_req {
    qtrig *t;
    const qstore_owner *dead;
    int n;
} release_req;

static int release_fn(qstore *s, void *arg)
{
    release_req *r = arg;
    return qstore_release_owners_tx(s, r->t->queue, r->dead, r->n);
}

typedef struct purge_req {
    int n;
    int64_t us; /* how long the delete took, inside the write transaction */
} purge_req;

static int purge_fn(qstore *s, void *arg)
{
    purge_req *r = arg;
    int64_t t0 = mono_us();
    r->n = qstore_purge_chunk_tx(s, PURGE_CHUNK);
    r->us = mono_us() - t0;
    return r->n;
}

/* One step of the purge of expired messages: deletes PURGE_CHUNK of them
 * in a transaction of the writer; the poller claims between two steps.
 * Logs the total once a step finds fewer. */
static void purge_step(qtrig *t, pacing *p)
{
    purge_req r = {0, 0};
    int rc = qwriter_run(t->w, purge_fn, &r, 0);
    if (rc >= 0) {
        p->purged += r.n;
        p->purge_us += r.us;
        p->purge_chunks++;
        if (r.us > p->purge_max_us)
            p->purge_max_us = r.us;
    }
    if (rc >= 0 && r.n == PURGE_CHUNK)
        return; /* more to come */
    p->purging = 0;
    if (p->purged > 0)
        fnh_ext_log(t->b, FNH_LOG_INFO,
                    "queue store '%s': deleted %lld expired message(s); the write lock was held "
                    "at most %.3f ms at a time (%.3f ms on average).",
                    t->db_path, (long long)p->purged, (double)p->purge_max_us / 1000.0,
                    (double)p->purge_us / 1000.0 / (double)p->purge_chunks);
}

/* When due: makes the messages leased by processes of this pid namespace
 * that ended visible again (leases of other hosts run out instead), and
 * deletes expired messages (a step per call while p->purging). */
static void tend_store(qtrig *t, int64_t now, pacing *p)
{
    if (!p->purging && now >= p->next_purge) {
        p->next_purge = now + PURGE_MS;
        p->purging = 1;
        p->purged = p->purge_us = p->purge_max_us = p->purge_chunks = 0;
    }
    if (p->purging)
        purge_step(t, p);
    if (now < p->next_dead_check)
        return;
    p->next_dead_check = now + DEAD_OWNER_CHECK_MS;
    qstore_owner dead[64];
    int n = qstore_find_dead_owners(t->store, t->queue, dead, 64);
    release_req r = {t, dead, n};
    int released = n > 0 ? qwriter_run(t->w, release_fn, &r, 0) : 0;
    if (released > 0)
        fnh_ext_log(t->b, FNH_LOG_INFO,
                    "queue '%s': %d message(s) leased by a process that ended are "
                    "visible again.",
                    t->queue, released);
}

/* The CLOCK_MONOTONIC time (t->cond's clock) ms from now. */
static struct timespec deadline_in(int64_t ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    return dl;
}

/* Waits as long as the poller's state calls for: briefly when the host
 * pushed back (blocked); when the queue is empty, an exponential back-off
 * (1 ms doubling) up to maxPollingInterval (100 ms when the file cannot be
 * watched; from WATCH_AFTER_MS on, writes to the file wake the poller), and
 * no longer than until a leased or delayed message becomes visible, the
 * next look for dead lease owners when there are leases, or the next lease
 * renewal check while functions run; when busy, until
 * enough finished to claim the next batch. A stop ends the wait early, and
 * so does a wake-up (a write to the file) unless busy. */
static void wait_for_work(qtrig *t, int blocked, pacing *p)
{
    int64_t wait;
    size_t wanted = 1;
    int wakeable = 1;
    if (blocked) {
        wait = RETRY_FIRE_MS;
    } else if (wants_batch(t)) {
        p->backoff = p->backoff ? p->backoff * 2 : 1;
        if (p->backoff >= WATCH_AFTER_MS && !p->idle) {
            p->idle = 1;
            p->watched = qwriter_idle(t->w, 1);
            if (qstore_has_visible(t->store, t->queue) > 0) { /* put before the watch */
                p->backoff = 0;
                return;
            }
        }
        int64_t cap = t->opts.max_poll_ms;
        if (!(p->idle && p->watched) && cap > UNWATCHED_POLL_MS)
            cap = UNWATCHED_POLL_MS;
        if (p->backoff > cap)
            p->backoff = cap;
        wait = p->backoff;
        if (t->ninflight > 0) { /* their leases are renewed in time */
            int64_t renew = p->next_renew_check - mono_ms();
            if (renew < wait)
                wait = renew < 1 ? 1 : renew;
        }
        int64_t next = qstore_next_visible(t->store, t->queue);
        if (next > 0) {
            int64_t until = next - qstore_now_ms() + 1;
            if (until < wait)
                wait = until < 1 ? 1 : until;
            int64_t dead_check = p->next_dead_check - mono_ms();
            if (dead_check < wait)
                wait = dead_check < 1 ? 1 : dead_check;
        }
    } else {
        wait = BUSY_FLUSH_MS;
        wanted = (size_t)(t->ninflight - t->opts.new_batch_threshold);
        wakeable = 0; /* new messages cannot be taken now anyway */
    }
    struct timespec dl = deadline_in(wait);
    pthread_mutex_lock(&t->lock);
    t->acks_wanted = wanted;
    while (!t->stopping && !(wakeable && t->wake) && t->nacks < wanted) {
        if (pthread_cond_timedwait(&t->cond, &t->lock, &dl) == ETIMEDOUT)
            break;
    }
    t->acks_wanted = 0;
    if (wakeable && t->wake)
        p->backoff = 0;
    pthread_mutex_unlock(&t->lock);
}

/* Stopping: claimed messages never fired go back to the queue at once. */
static void release_unfired(qtrig *t)
{
    qmsg *release = NULL;
    while (t->unfired) {
        qmsg *m = t->unfired;
        t->unfired = m->ack_next;
        give_back(m, &release);
    }
    retire(t, release);
}

static void *poller(void *arg)
{
    qtrig *t = arg;
    pacing p = {0};
    for (;;) {
        int stopping;
        qmsg *acks = take_acks(t, &stopping);
        int64_t now = mono_ms();
        tend_store(t, now, &p);
        int released_some = retire(t, acks);
        if (stopping)
            break;
        if (now >= p.next_renew_check) {
            renew_leases(t, now);
            p.next_renew_check = now + (t->opts.lease_ms / 4 < 1000 ? t->opts.lease_ms / 4 : 1000);
        }
        qmsg *immediate = NULL; /* to release or poison at once */
        int blocked = fire_unfired(t, &immediate);
        int claimed = 0;
        if (!blocked && wants_batch(t)) {
            claimed = claim_batch(t, &immediate);
            if (claimed)
                blocked = fire_unfired(t, &immediate);
        }
        released_some |= retire(t, immediate);
        if (claimed && p.idle) { /* busy: writes need not wake us */
            qwriter_idle(t->w, 0);
            p.idle = 0;
        }
        if (claimed || released_some) {
            p.backoff = 0;
            if (!blocked && wants_batch(t))
                continue; /* more may be waiting: claim again at once */
        }
        if (p.purging)
            continue; /* the next purge step, after this claim */
        wait_for_work(t, blocked, &p);
    }
    if (p.idle)
        qwriter_idle(t->w, 0);
    release_unfired(t);
    return NULL;
}

static int trig_start(void *state)
{
    qtrig *t = state;
    pthread_mutex_lock(&t->lock);
    t->stopping = 0;
    pthread_mutex_unlock(&t->lock);
    int rc = pthread_create(&t->thread, NULL, poller, t);
    if (rc)
        return -rc;
    pthread_setname_np(t->thread, "queue-poller"); /* for ps, top and the tests */
    t->running = 1;
    if (t->g) {
        pthread_mutex_lock(&t->g->lock);
        t->reg_next = t->g->triggers;
        t->g->triggers = t;
        pthread_mutex_unlock(&t->g->lock);
    }
    return 0;
}

/* Loop thread: hands the token to the poller (no I/O here). */
static void trig_complete(void *state, void *token, int status, const fnh_value *result)
{
    (void)result;
    qtrig *t = state;
    qmsg *m = token;
    m->status = status;
    pthread_mutex_lock(&t->lock);
    m->ack_next = t->acks;
    t->acks = m;
    t->nacks++;
    if (t->running && (t->nacks >= t->acks_wanted || status != 0))
        pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

static void trig_stop(void *state)
{
    qtrig *t = state;
    if (t->g) {
        pthread_mutex_lock(&t->g->lock);
        for (qtrig **p = &t->g->triggers; *p; p = &(*p)->reg_next)
            if (*p == t) {
                *p = t->reg_next;
                break;
            }
        pthread_mutex_unlock(&t->g->lock);
    }
    if (!t->running)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = 1;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_mutex_lock(&t->lock);
    t->running = 0;
    pthread_mutex_unlock(&t->lock);
}

static void trig_unbind(void *state)
{
    qtrig *t = state;
    if (t->running)
        trig_stop(t);
    /* completions that arrived after the poller ended */
    pthread_mutex_lock(&t->lock);
    qmsg *acks = t->acks;
    t->acks = NULL;
    pthread_mutex_unlock(&t->lock);
    apply_acks(t, acks);
    /* invocations that never completed: visible again for the next start */
    qmsg *release = NULL;
    for (qmsg *m = t->inflight.next; m != &t->inflight; m = m->next) {
        m->status = -ESHUTDOWN;
        m->m.dequeue_count = 0;
        m->ack_next = release;
        release = m;
    }
    apply_acks(t, release);
    qstore_close(t->store);
    writer_put(t->g, t->w);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t->queue);
    free(t->poison);
    free(t->db_path);
    free(t);
}

/* -------------------------------------------------------------- output */

static int out_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    const char *q = fnh_config_string(cfg, "queueName");
    int rc;
    /* a name with {expressions} is checked once resolved, in out_write */
    if (!(q && strchr(q, '{')) && (rc = check_queue_name(cfg, q)) != 0)
        return rc;
    qout *o = calloc(1, sizeof *o);
    if (!o)
        return -ENOMEM;
    o->b = b;
    o->g = fnh_global(b);
    rc = open_db(b, o->g, cfg, &o->db_path, &o->w, NULL);
    if (rc) {
        free(o);
        return rc;
    }
    *state = o;
    return 0;
}

typedef struct put_req {
    const char *queue;
    const char *const *bodies;
    const size_t *lens;
    size_t n;
} put_req;

static int put_fn(qstore *s, void *arg)
{
    put_req *p = arg;
    return qstore_put_tx(s, p->queue, p->bodies, p->lens, p->n, NULL);
}

/* Replaces bodies[0..n) by their base64 text (malloc'd into enc[i], which
 * the caller frees). 0 or -ENOMEM. */
static int encode_all(const char **bodies, size_t *lens, size_t n, char **enc)
{
    for (size_t i = 0; i < n; i++) {
        enc[i] = qbase64_encode(bodies[i], lens[i], &lens[i]);
        if (!enc[i])
            return -ENOMEM;
        bodies[i] = enc[i];
    }
    return 0;
}

/* Worker thread, concurrent: enqueues v (one message per element of a JSON
 * array) on the queue named by the resolved config. */
static int out_write(void *state, fnh_call *call, const fnh_value *v)
{
    qout *o = state;
    const fnh_config *cfg = fnh_call_config(call);
    const char *q = cfg ? fnh_config_string(cfg, "queueName") : NULL;
    const char *problem = q ? qstore_name_problem(q) : "a queue name is required";
    if (problem) {
        fnh_ext_log(o->b, FNH_LOG_ERROR,
                    "queue output: '%s' is not a valid queue name: %s (use 3-63 lower-case "
                    "letters, digits and single '-')",
                    q ? q : "", problem);
        return -EINVAL;
    }
    const char *data = v->data ? (const char *)v->data : "";
    qjson_item *items = NULL;
    size_t count = 0;
    int split = qjson_split_array(data, v->len, &items, &count);
    if (split < 0)
        return split;
    const char *one = data;
    size_t one_len = v->len;
    char *one_enc = NULL;
    const char **bodies = &one;
    size_t *lens = &one_len;
    char **enc = &one_enc;
    size_t n = 1;
    if (split == 1) {
        n = count;
        bodies = calloc(n ? n : 1, sizeof *bodies);
        lens = calloc(n ? n : 1, sizeof *lens);
        enc = calloc(n ? n : 1, sizeof *enc);
        if (!bodies || !lens || !enc) {
            free(bodies);
            free(lens);
            free(enc);
            qjson_items_free(items, count);
            return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            bodies[i] = items[i].text;
            lens[i] = items[i].len;
        }
    }
    int rc = o->g->opts.base64 ? encode_all(bodies, lens, n, enc) : 0;
    if (rc == 0 && n > 0) {
        put_req p = {q, (const char *const *)bodies, lens, n};
        rc = qwriter_run(o->w, put_fn, &p, 1);
        if (rc)
            fnh_ext_log(o->b, FNH_LOG_ERROR, "queue output: could not add to queue '%s': %s",
                        q, fnh_ext_strerror(o->b, rc));
    }
    if (o->g->opts.base64)
        for (size_t i = 0; i < n; i++)
            free(enc[i]);
    if (split == 1) {
        free(bodies);
        free(lens);
        free(enc);
        qjson_items_free(items, count);
    }
    if (rc == 0 && n > 0)
        wake_triggers(o->g, o->db_path, q);
    return rc;
}

static void out_unbind(void *state)
{
    qout *o = state;
    writer_put(o->g, o->w);
    free(o->db_path);
    free(o);
}

/* ---------------------------------------------------------- descriptor */

static const fnh_trigger_type queue_trigger = {
    .size = sizeof(fnh_trigger_type),
    .type = "queueTrigger",
    .bind = trig_bind,
    .start = trig_start,
    .complete = trig_complete,
    .stop = trig_stop,
    .unbind = trig_unbind,
};

static const fnh_binding_type queue_output = {
    sizeof(fnh_binding_type), "queue", FNH_OUT, out_bind, NULL, out_write, out_unbind,
};

static const fnh_command queue_command = {
    sizeof(fnh_command), "queue",
    "put, peek and list messages of the local storage queues (.fnhost/storage)",
    fnh_queue_cli,
};

static const fnh_trigger_type *const triggers[] = {&queue_trigger, NULL};
static const fnh_binding_type *const bindings[] = {&queue_output, NULL};
static const fnh_command *const commands[] = {&queue_command, NULL};

FNH_EXPORT const fnh_extension_def fnh_extension = {
    FNH_EXTENSION_HEAD, "queue", "0.1.0", q_init, q_fini, triggers, bindings, commands,
};
