/* queue_writer.c: one writer per queue database (see queue_writer.h): a
 * writer thread runs every pending request in one transaction and commits
 * it without a flush; a flusher thread then flushes the WAL once for all
 * the commits made meanwhile (fdatasync, as synchronous=FULL would per
 * commit) and acknowledges the requests that wait for durability; a
 * watcher thread turns inotify events on the database into wake-ups. */
#include "queue_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#define PURGE_CHUNK 500 /* expired messages deleted per transaction */

typedef struct qreq {
    struct qreq *next;
    int (*fn)(qstore *s, void *arg);
    void *arg;
    int durable; /* wait for the flush too */
    int rc;
    int done;
    pthread_cond_t cond; /* done set (under qwriter.lock) */
} qreq;

struct qwriter {
    char *path, *wal_path;
    qdurability durability;
    qwriter_hooks hooks;
    int64_t purge_ms;
    qstore *store; /* writer thread only */
    int wal_fd;    /* flusher thread only */

    pthread_mutex_t lock; /* guards the members below */
    pthread_cond_t work;  /* requests pending or stopping: writer */
    pthread_cond_t flush; /* a commit to flush or stopping: flusher */
    qreq *pending, **pending_tail;
    qreq *flushing;     /* committed, waiting for the next flush */
    int flush_wanted;   /* commits since the last flush */
    int stopping;   /* writer: finish the pending requests and end */
    int flush_stop; /* flusher: the writer ended; flush what is left and end */

    pthread_t writer, flusher, watcher;
    int nthreads; /* how many of the three were started */
    int ino_fd, stop_fd;
    int watching;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct timespec mono_deadline(int64_t ms)
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

/* Under w->lock. */
static void complete(qreq *r, int rc)
{
    if (rc < 0 && r->rc >= 0)
        r->rc = rc;
    r->done = 1;
    pthread_cond_signal(&r->cond);
}

/* One chunk of the purge inside the current transaction; *active stays 1
 * while more expired messages may remain. */
static void purge_chunk(qwriter *w, int *active, int64_t *total, int64_t *max_us)
{
    int64_t t0 = mono_us();
    int rc = qstore_savepoint(w->store);
    int n = rc ? rc : qstore_purge_chunk_tx(w->store, PURGE_CHUNK);
    rc = qstore_savepoint_end(w->store, n < 0 ? n : 0);
    int64_t us = mono_us() - t0;
    if (us > *max_us)
        *max_us = us;
    if (rc == 0 && n > 0)
        *total += n;
    if (rc || n < PURGE_CHUNK) {
        *active = 0;
        if (*total > 0 && w->hooks.purged)
            w->hooks.purged(w->hooks.arg, w->path, *total, *max_us);
    }
}

static void *writer_main(void *arg)
{
    qwriter *w = arg;
    int64_t next_purge = 0; /* CLOCK_MONOTONIC ms; purge once at start */
    int purging = 0;
    int64_t purged = 0, purge_max_us = 0;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        for (;;) {
            int64_t now = mono_us() / 1000;
            if (!purging && now >= next_purge) {
                purging = 1;
                purged = purge_max_us = 0;
                next_purge = now + w->purge_ms;
            }
            if (w->pending || w->stopping || purging)
                break;
            struct timespec dl = mono_deadline(next_purge - now);
            pthread_cond_timedwait(&w->work, &w->lock, &dl);
        }
        qreq *batch = w->pending;
        w->pending = NULL;
        w->pending_tail = &w->pending;
        int stopping = w->stopping;
        pthread_mutex_unlock(&w->lock);
        if (!batch && stopping)
            break;

        int rc = qstore_begin(w->store);
        if (rc == 0) {
            for (qreq *r = batch; r; r = r->next) {
                int sp = qstore_savepoint(w->store);
                int got = sp ? sp : r->fn(w->store, r->arg);
                sp = qstore_savepoint_end(w->store, got < 0 ? got : 0);
                r->rc = got < 0 ? got : sp ? sp : got;
            }
            /* one chunk per transaction, between the requests */
            if (purging && !stopping)
                purge_chunk(w, &purging, &purged, &purge_max_us);
            rc = qstore_finish(w->store, 0);
        } else {
            purging = 0; /* try again at the next purge time */
        }

        pthread_mutex_lock(&w->lock);
        while (batch) {
            qreq *r = batch;
            batch = r->next;
            if (rc == 0 && r->durable && w->durability == QDUR_POWER_LOSS) {
                r->next = w->flushing;
                w->flushing = r;
            } else {
                complete(r, rc);
            }
        }
        if (rc == 0 && w->durability == QDUR_POWER_LOSS) {
            w->flush_wanted = 1; /* deletes and claims are flushed too, unwaited */
            pthread_cond_signal(&w->flush);
        }
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

/* Flushes what was written to the database so far to the disk. */
static int flush_wal(qwriter *w)
{
    if (w->wal_fd < 0)
        w->wal_fd = open(w->wal_path, O_RDONLY | O_CLOEXEC);
    if (w->wal_fd >= 0)
        return fdatasync(w->wal_fd) == 0 ? 0 : -errno;
    /* no WAL (a file system without WAL support): the database itself */
    int fd = open(w->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fdatasync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

static void *flusher_main(void *arg)
{
    qwriter *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->flush_wanted && !w->flush_stop)
            pthread_cond_wait(&w->flush, &w->lock);
        if (!w->flush_wanted)
            break; /* stopping, nothing left to flush */
        /* everything committed up to now is covered by this flush */
        qreq *list = w->flushing;
        w->flushing = NULL;
        w->flush_wanted = 0;
        pthread_mutex_unlock(&w->lock);
        int rc = flush_wal(w);
        pthread_mutex_lock(&w->lock);
        while (list) {
            qreq *r = list;
            list = r->next;
            complete(r, rc);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Waits for inotify events on the database's folder that name the database
 * or its WAL, and reports them (coalesced) through hooks.changed. */
static void *watcher_main(void *arg)
{
    qwriter *w = arg;
    const char *base = strrchr(w->path, '/');
    base = base ? base + 1 : w->path;
    size_t blen = strlen(base);
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct pollfd fds[2] = {{w->ino_fd, POLLIN, 0}, {w->stop_fd, POLLIN, 0}};
    for (;;) {
        int n = poll(fds, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || fds[1].revents)
            break;
        int hit = 0;
        ssize_t got;
        while ((got = read(w->ino_fd, buf, sizeof buf)) > 0) {
            for (char *p = buf; p < buf + got;) {
                struct inotify_event *ev = (struct inotify_event *)(void *)p;
                if (ev->len && strncmp(ev->name, base, blen) == 0 &&
                    (ev->name[blen] == '\0' || strcmp(ev->name + blen, "-wal") == 0))
                    hit = 1;
                p += sizeof *ev + ev->len;
            }
        }
        if (hit && w->hooks.changed)
            w->hooks.changed(w->hooks.arg, w->path);
    }
    return NULL;
}

/* Starts watching the folder of w->path; 0 or a negative errno (then
 * callers poll). */
static int start_watch(qwriter *w)
{
    char *dir = strdup(w->path);
    if (!dir)
        return -ENOMEM;
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    w->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    int rc = 0;
    if (w->ino_fd < 0 ||
        inotify_add_watch(w->ino_fd, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0)
        rc = -errno;
    free(dir);
    if (rc == 0) {
        w->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (w->stop_fd < 0)
            rc = -errno;
    }
    if (rc == 0) {
        rc = -pthread_create(&w->watcher, NULL, watcher_main, w);
        if (rc == 0)
            w->watching = 1;
    }
    if (rc) {
        if (w->ino_fd >= 0)
            close(w->ino_fd);
        if (w->stop_fd >= 0)
            close(w->stop_fd);
        w->ino_fd = w->stop_fd = -1;
    }
    return rc;
}

int qwriter_open(const char *path, qdurability durability, int64_t purge_ms,
                 const qwriter_hooks *hooks, qwriter **out, char *err, size_t errlen)
{
    *out = NULL;
    qwriter *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    w->wal_fd = w->ino_fd = w->stop_fd = -1;
    w->durability = durability;
    w->purge_ms = purge_ms > 0 ? purge_ms : 60000;
    if (hooks)
        w->hooks = *hooks;
    w->path = strdup(path);
    size_t n = strlen(path);
    w->wal_path = malloc(n + 5);
    if (!w->path || !w->wal_path) {
        free(w->path);
        free(w->wal_path);
        free(w);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    memcpy(w->wal_path, path, n);
    memcpy(w->wal_path + n, "-wal", 5);
    int rc = qstore_open(path, QSTORE_SYNC_NORMAL, &w->store, err, errlen);
    if (rc) {
        free(w->path);
        free(w->wal_path);
        free(w);
        return rc;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->flush, NULL);
    w->pending_tail = &w->pending;
    rc = -pthread_create(&w->writer, NULL, writer_main, w);
    if (rc == 0) {
        w->nthreads = 1;
        rc = -pthread_create(&w->flusher, NULL, flusher_main, w);
        if (rc == 0)
            w->nthreads = 2;
    }
    if (rc) {
        snprintf(err, errlen, "cannot start the writer of '%s': %s", path, strerror(-rc));
        qwriter_close(w);
        return rc;
    }
    start_watch(w); /* without it, callers poll */
    *out = w;
    return 0;
}

void qwriter_close(qwriter *w)
{
    if (!w)
        return;
    if (w->watching) {
        uint64_t one = 1;
        if (write(w->stop_fd, &one, sizeof one) < 0) {
            /* an eventfd write only fails on overflow: the watcher wakes anyway */
        }
        pthread_join(w->watcher, NULL);
        close(w->ino_fd);
        close(w->stop_fd);
    }
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    if (w->nthreads >= 1)
        pthread_join(w->writer, NULL);
    pthread_mutex_lock(&w->lock);
    w->flush_stop = 1;
    pthread_cond_signal(&w->flush);
    pthread_mutex_unlock(&w->lock);
    if (w->nthreads >= 2)
        pthread_join(w->flusher, NULL);
    if (w->wal_fd >= 0)
        close(w->wal_fd);
    qstore_close(w->store);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->flush);
    pthread_mutex_destroy(&w->lock);
    free(w->path);
    free(w->wal_path);
    free(w);
}

const char *qwriter_path(const qwriter *w)
{
    return w->path;
}

int qwriter_watching(const qwriter *w)
{
    return w->watching;
}

int qwriter_run(qwriter *w, int (*fn)(qstore *s, void *arg), void *arg, int durable)
{
    qreq r = {.fn = fn, .arg = arg, .durable = durable};
    pthread_cond_init(&r.cond, NULL);
    pthread_mutex_lock(&w->lock);
    *w->pending_tail = &r;
    w->pending_tail = &r.next;
    pthread_cond_signal(&w->work);
    while (!r.done)
        pthread_cond_wait(&r.cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    pthread_cond_destroy(&r.cond);
    return r.rc;
}
