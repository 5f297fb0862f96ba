/* queue_writer.c: one writer per queue database (see queue_writer.h),
 * group commit by leader and followers: the thread that finds no
 * transaction running leads one for every pending request (its own and
 * those queued meanwhile) and commits it without a flush; a request that
 * must be durable then waits for one fdatasync of the WAL (as
 * synchronous=FULL would do per commit) that covers every commit made
 * before it started. A watcher thread turns inotify events on the database
 * into wake-ups. */
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

#define MAX_FLUSHES 1 /* flushes of the WAL running at once (more did not help here) */

typedef struct qreq {
    struct qreq *next;
    int (*fn)(qstore *s, void *arg);
    void *arg;
    int rc;
    int done;            /* committed (or failed) */
    uint64_t seq;        /* the commit that holds it */
    pthread_cond_t cond; /* done set, or this request's thread should lead */
} qreq;

struct qwriter {
    char *path, *wal_path;
    qdurability durability;
    qwriter_hooks hooks;
    qstore *store; /* used by the leader only */
    int wal_fd;    /* opened by the first flush (atomic), then read-only */

    pthread_mutex_t lock;     /* guards the members below */
    pthread_cond_t flushed;   /* a flush ended */
    qreq *pending, **pending_tail;
    int leading;              /* a thread runs a transaction */
    int flushing;             /* threads flushing the WAL */
    uint64_t flushing_upto;   /* the last commit a running flush covers */
    uint64_t commit_seq;      /* transactions committed */
    uint64_t flushed_seq;     /* of them, known to be on disk */

    pthread_t watcher;
    char *dir; /* the database's folder, watched while someone idles */
    int ino_fd, stop_fd;
    int watching; /* the watcher thread runs */
    int idlers;   /* qwriter_idle(w, 1) calls not yet undone (under lock) */
    int wd;       /* the folder's watch while idlers > 0, else -1 */
};

/* Under w->lock. */
static void complete(qreq *r, int rc, uint64_t seq)
{
    if (rc < 0 && r->rc >= 0)
        r->rc = rc;
    r->seq = seq;
    r->done = 1;
    pthread_cond_signal(&r->cond);
}

/* Called with w->lock held and no leader: runs every pending request in one
 * transaction (the lock is released meanwhile), completes them, and hands
 * the lead to the first request that arrived since. */
static void lead(qwriter *w)
{
    w->leading = 1;
    qreq *batch = w->pending;
    w->pending = NULL;
    w->pending_tail = &w->pending;
    pthread_mutex_unlock(&w->lock);

    int rc = qstore_begin(w->store);
    if (rc == 0 && !batch->next) { /* alone: its failure undoes the transaction */
        batch->rc = batch->fn(w->store, batch->arg);
        rc = qstore_finish(w->store, batch->rc < 0 ? batch->rc : 0);
        if (rc == batch->rc)
            rc = 0; /* rolled back as asked: only this request failed */
    } else if (rc == 0) {
        for (qreq *r = batch; r; r = r->next) {
            int sp = qstore_savepoint(w->store);
            int got = sp ? sp : r->fn(w->store, r->arg);
            sp = qstore_savepoint_end(w->store, got < 0 ? got : 0);
            r->rc = got < 0 ? got : sp ? sp : got;
        }
        rc = qstore_finish(w->store, 0);
    }

    pthread_mutex_lock(&w->lock);
    uint64_t seq = rc == 0 ? ++w->commit_seq : 0;
    while (batch) {
        qreq *r = batch;
        batch = r->next;
        complete(r, rc, seq);
    }
    w->leading = 0;
    if (w->pending)
        pthread_cond_signal(&w->pending->cond);
}

/* Flushes what was written to the database so far to the disk. */
static int flush_wal(qwriter *w)
{
    int fd = __atomic_load_n(&w->wal_fd, __ATOMIC_ACQUIRE);
    if (fd < 0) {
        fd = open(w->wal_path, O_RDONLY | O_CLOEXEC);
        int expected = -1;
        if (fd >= 0 &&
            !__atomic_compare_exchange_n(&w->wal_fd, &expected, fd, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE)) {
            close(fd); /* another flush opened it first */
            fd = expected;
        }
    }
    if (fd >= 0)
        return fdatasync(fd) == 0 ? 0 : -errno;
    /* no WAL (a file system without WAL support): the database itself */
    fd = open(w->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fdatasync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* Under w->lock: returns once commit seq is on disk, flushing the WAL
 * unless a flush that started after that commit covers it (one flush for
 * every commit made meanwhile). Up to MAX_FLUSHES run at once. 0 or a
 * negative errno. */
static int wait_flushed(qwriter *w, uint64_t seq)
{
    while (w->flushed_seq < seq) {
        if (w->flushing_upto >= seq || w->flushing >= MAX_FLUSHES) {
            pthread_cond_wait(&w->flushed, &w->lock);
            continue;
        }
        w->flushing++;
        uint64_t target = w->commit_seq; /* every commit so far is in the WAL file */
        w->flushing_upto = target;
        pthread_mutex_unlock(&w->lock);
        int rc = flush_wal(w);
        pthread_mutex_lock(&w->lock);
        w->flushing--;
        if (rc == 0 && target > w->flushed_seq)
            w->flushed_seq = target;
        pthread_cond_broadcast(&w->flushed);
        if (rc)
            return rc;
    }
    return 0;
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

/* Starts the watcher thread (the folder itself is watched only while
 * someone idles: see qwriter_idle); 0 or a negative errno (then callers
 * poll). */
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
    w->dir = dir;
    w->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    int rc = 0;
    int wd = w->ino_fd < 0 ? -1 : inotify_add_watch(w->ino_fd, dir, IN_MODIFY);
    if (wd < 0)
        rc = -errno;
    else
        inotify_rm_watch(w->ino_fd, wd); /* it works; armed again when needed */
    if (rc == 0) {
        w->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (w->stop_fd < 0)
            rc = -errno;
    }
    if (rc == 0) {
        rc = -pthread_create(&w->watcher, NULL, watcher_main, w);
        if (rc == 0) {
            w->watching = 1;
            pthread_setname_np(w->watcher, "queue-watcher");
        }
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

int qwriter_open(const char *path, qdurability durability, const qwriter_hooks *hooks,
                 qwriter **out, char *err, size_t errlen)
{
    *out = NULL;
    qwriter *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    w->wal_fd = w->ino_fd = w->stop_fd = w->wd = -1;
    w->durability = durability;
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
    pthread_cond_init(&w->flushed, NULL);
    w->pending_tail = &w->pending;
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
    if (w->wal_fd >= 0)
        close(w->wal_fd);
    free(w->dir);
    qstore_close(w->store);
    pthread_cond_destroy(&w->flushed);
    pthread_mutex_destroy(&w->lock);
    free(w->path);
    free(w->wal_path);
    free(w);
}

const char *qwriter_path(const qwriter *w)
{
    return w->path;
}

int qwriter_idle(qwriter *w, int idle)
{
    if (!w->watching)
        return 0;
    pthread_mutex_lock(&w->lock);
    if (idle && w->idlers++ == 0)
        w->wd = inotify_add_watch(w->ino_fd, w->dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO);
    else if (!idle && --w->idlers == 0 && w->wd >= 0) {
        inotify_rm_watch(w->ino_fd, w->wd);
        w->wd = -1;
    }
    int armed = w->wd >= 0;
    pthread_mutex_unlock(&w->lock);
    return armed;
}

int qwriter_run(qwriter *w, int (*fn)(qstore *s, void *arg), void *arg, int durable)
{
    qreq r = {.fn = fn, .arg = arg};
    pthread_cond_init(&r.cond, NULL);
    pthread_mutex_lock(&w->lock);
    *w->pending_tail = &r;
    w->pending_tail = &r.next;
    while (!r.done) {
        if (!w->leading)
            lead(w); /* runs r too, with whatever else is pending */
        else
            pthread_cond_wait(&r.cond, &w->lock);
    }
    if (durable && r.rc >= 0 && w->durability == QDUR_POWER_LOSS) {
        int rc = wait_flushed(w, r.seq);
        if (rc)
            r.rc = rc;
    }
    pthread_mutex_unlock(&w->lock);
    pthread_cond_destroy(&r.cond);
    return r.rc;
}
