/* blob_trigger.c: the blobTrigger. Each trigger binding owns one thread that
 * watches its container folder with inotify (recursively, so nested blob
 * names work), scans it at start-up and fires the function once per blob
 * version; a version is the blob's content (SHA-256), so touch, cp -p, tar
 * or rsync -t never re-fire unchanged content and a changed file is seen
 * even when its mtime and size were restored.
 *
 * Exactly once, across restarts and across every host sharing the app
 * folder: before firing, a host claims the blob with a lease file
 * (blob_lease.c) beside its receipt, .fnh-tmp.lease.<base name>, renewed
 * while the function runs; after the invocation the lease becomes the
 * receipt <app>/.fnhost/blobreceipts/<function>/<container>/<name> (the
 * version's hash, status, attempts and the file's inode, size, mtime and
 * ctime, so an unchanged file is recognised without reading it) in one
 * rename. A lease whose host died lapses after leaseSeconds (at once when
 * that host ran in our boot and pid namespace) and the blob is retried. A
 * failed invocation is retried (attempts are in the receipt) until
 * poisonBlobThreshold (5) failures, then the version is poison: an error line
 * and a JSON record in <app>/.fnhost/blobtrigger-poison/ shaped like Azure's
 * webjobs-blobtrigger-poison message. One receipt per blob name, replaced
 * per version; a deleted blob's receipt goes a second after the delete (or
 * by the sweep that walks the receipts, a bounded slice at a time, shortly
 * after start-up and every ten minutes).
 *
 * When a version is complete: a writer's close (IN_CLOSE_WRITE) or a rename
 * into place (IN_MOVED_TO) publishes it; with quietPeriodMs > 0 only once
 * no further close came for that long (a file written in several sessions
 * fires once). Files that appear otherwise (a hard link, O_TMPFILE + linkat:
 * IN_CREATE; the start-up scan) fire once no one holds them open for
 * writing, which a read lease (F_SETLEASE) proves; where leases are
 * unavailable a quiet time of 200 ms since the last change stands in. A file
 * that changes while it is read is read again.
 *
 * Threads: bind/start/stop/unbind/complete run on the host's loop thread;
 * the watcher thread does all scanning, reading, firing, receipts and
 * leases. complete() only hands the outcome to the thread (or, once the
 * thread has stopped, records it itself). They share the entry table, the
 * queues, the in-flight count and the token lists under t->mu. An entry
 * exists only while a blob is queued, in flight or awaiting a retry (memory
 * follows the work, not the blobs ever seen); only the watcher thread frees
 * entries, and never one in flight. */
#include "blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#define WATCH_MASK                                                                         \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | \
     IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)
#define MS 1000000LL
#define SETTLE_NS (200 * MS)      /* quiet time for files found without a close, no leases */
#define SETTLED_RETRY_NS (5 * MS) /* a closed file that still had a writer: look again */
#define WRITER_POLL_NS (100 * MS) /* a created or scanned file with a writer: look again */
#define CREATE_DELAY_NS (5 * MS)  /* IN_CREATE: the close that usually follows comes first */
#define GONE_DELAY_NS (1000 * MS) /* a deleted blob's receipt goes unless it is back by then */
#define EAGAIN_RETRY_NS (50 * MS)
#define CLAIM_POLL_NS (500 * MS)  /* a blob another host holds: look again */
#define RETRY_STEP_NS (100 * MS)  /* failed run n is retried after n * this */
#define SWEEP_FIRST_NS (1000 * MS)
#define SWEEP_PERIOD_NS (600000 * MS)
#define SWEEP_TICK_NS (10 * MS)
#define SWEEP_BUDGET 256          /* receipt folder entries looked at per tick */
#define MAX_DEPTH 64

enum { E_IDLE = 0, E_INFLIGHT };
enum { Q_NONE = 0, Q_READY, Q_LATER };
enum { EV_SCAN, EV_CLOSE, EV_CREATE, EV_GONE };

/* What the trigger knows about one blob name while there is work for it. */
typedef struct entry {
    char *name;       /* blob name relative to the container; immutable */
    int state;        /* E_* */
    int recheck;      /* an event came while in flight: look again after */
    int qlist;        /* Q_*: the queue it is on */
    int settled;      /* queued by a close/move event: the file is complete */
    int64_t due;      /* CLOCK_MONOTONIC ns from when it is looked at */
    struct entry *hnext, *qnext, *qprev;
} entry;

/* The token of one fired invocation: which version of which blob, and the
 * claim held for it. On t->flying while it runs, then on t->done. */
typedef struct token {
    entry *e;
    char hash[65];
    char etag[48];
    struct stat st;  /* the file as read */
    int attempt;     /* 1 on the first try */
    int lease_fd;
    int status;      /* the outcome, once complete */
    struct token *next, *prev;
} token;

typedef struct watch {
    int wd;
    char *rel; /* folder relative to the container ("" = the container); NULL = dead */
} watch;

/* The receipt sweep's position (watcher thread only). */
typedef struct sweep {
    char **stack; /* folders still to visit, relative to the receipts' container folder */
    size_t n, cap;
    DIR *d;       /* the folder being read */
    char *rel;
    int64_t next; /* CLOCK_MONOTONIC ns of the next step */
} sweep;

typedef struct trig {
    fnh_binding *b;
    blob_pattern pat;
    blob_settings set;
    char *path_text; /* the function.json path, for logs */
    char *fn;        /* function name */
    char *root;      /* canonical blobs root */
    char *cdir;      /* root/container */
    char *receipts;  /* <app>/.fnhost/blobreceipts/<fn> */
    char *rcdir;     /* receipts/<container> */
    char *poisondir; /* <app>/.fnhost/blobtrigger-poison */
    blob_owner me;
    int64_t lease_ns;
    int efd;         /* eventfd: wakes the thread */
    pthread_t thread;
    int running;
    atomic_int stopping;

    pthread_mutex_t mu; /* guards everything below, up to the thread-only part */
    entry **buckets;
    size_t nbuckets, nentries;
    entry *qhead[3], *qtail[3]; /* by Q_*: READY due now (in arrival order), LATER */
    int inflight;   /* invocations running */
    int ndone;      /* finished, their outcome not recorded yet */
    token *flying;  /* invocations running (their leases are renewed) */
    token *done;    /* outcomes for the thread to record (leases renewed too) */

    /* the watcher thread's alone */
    int ifd;
    watch *watches;
    size_t nwatches;
    int root_watched;
    int64_t next_root_try;
    int64_t next_renew;
    sweep sw;
} trig;

/* ---- entries and the queues (callers hold t->mu) ---------------------- */

static size_t hash_name(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* Rehashes the table into nb buckets (nothing happens without memory). */
static void rehash(trig *t, size_t nb)
{
    entry **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (entry *e = t->buckets[i], *next; e; e = next) {
            next = e->hnext;
            size_t k = hash_name(e->name) % nb;
            e->hnext = b[k];
            b[k] = e;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

static entry *entry_get(trig *t, const char *name, int create)
{
    size_t h = hash_name(name);
    for (entry *e = t->buckets[h % t->nbuckets]; e; e = e->hnext)
        if (strcmp(e->name, name) == 0)
            return e;
    if (!create)
        return NULL;
    if (t->nentries >= t->nbuckets * 2)
        rehash(t, t->nbuckets * 4);
    entry *e = calloc(1, sizeof *e);
    if (!e || !(e->name = strdup(name))) {
        free(e);
        return NULL;
    }
    size_t k = h % t->nbuckets;
    e->hnext = t->buckets[k];
    t->buckets[k] = e;
    t->nentries++;
    return e;
}

/* Frees e unless there is still work for it (queued, in flight, or an event
 * came while it was in flight). Watcher thread (or the loop thread once the
 * watcher has stopped). */
static void forget(trig *t, entry *e)
{
    if (e->state != E_IDLE || e->qlist || e->recheck)
        return;
    for (entry **pp = &t->buckets[hash_name(e->name) % t->nbuckets]; *pp; pp = &(*pp)->hnext) {
        if (*pp == e) {
            *pp = e->hnext;
            t->nentries--;
            free(e->name);
            free(e);
            if (t->nbuckets > 256 && t->nentries < t->nbuckets / 16)
                rehash(t, t->nbuckets / 4); /* the table shrinks after a burst */
            return;
        }
    }
}

static void q_remove(trig *t, entry *e)
{
    int w = e->qlist;
    if (e->qprev)
        e->qprev->qnext = e->qnext;
    else
        t->qhead[w] = e->qnext;
    if (e->qnext)
        e->qnext->qprev = e->qprev;
    else
        t->qtail[w] = e->qprev;
    e->qnext = e->qprev = NULL;
    e->qlist = Q_NONE;
}

static void q_push(trig *t, entry *e, int w)
{
    e->qlist = w;
    e->qnext = NULL;
    e->qprev = t->qtail[w];
    if (t->qtail[w])
        t->qtail[w]->qnext = e;
    else
        t->qhead[w] = e;
    t->qtail[w] = e;
}

/* Queues e to be looked at from `due` on. When it is queued already the
 * earlier time wins, or with debounce the new one (a quiet period starts
 * again). settled: the file is known to be complete. */
static void enqueue(trig *t, entry *e, int64_t due, int settled, int debounce)
{
    if (e->qlist) {
        settled |= e->settled;
        if (!debounce && due >= e->due) {
            e->settled = settled;
            return;
        }
        q_remove(t, e);
    }
    e->due = due;
    e->settled = settled;
    q_push(t, e, due <= blob_mono_ns() ? Q_READY : Q_LATER);
}

static void wake(trig *t)
{
    uint64_t one = 1;
    ssize_t w = write(t->efd, &one, sizeof one);
    (void)w; /* a full counter already means "wake up" */
}

/* ---- receipts and leases ---------------------------------------------- */

/* a + "/" + b (just b when a is empty), malloc'd for the caller; NULL
 * without memory. */
static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", a, *a ? "/" : "", b);
    return p;
}

/* Writes text to path atomically, creating its folders. */
static int write_record(const char *path, const char *text)
{
    char *dir = strdup(path);
    if (!dir)
        return -ENOMEM;
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    int rc = blob_write_atomic(dir, slash + 1, text, strlen(text), 0);
    if (rc == -ENOENT) { /* first record in this folder */
        rc = blob_mkdirs(dir, 0777);
        if (!rc)
            rc = blob_write_atomic(dir, slash + 1, text, strlen(text), 0);
    }
    free(dir);
    return rc;
}

/* A receipt (tok given) or a poison record (tok NULL) as JSON. */
static char *record_json(const trig *t, const char *name, const char *etag, const token *tok,
                         const char *status, int attempts)
{
    char now[96];
    blob_iso_time(blob_now_ns(), now);
    blob_buf b = {0};
    blob_buf_puts(&b, "{\"FunctionId\":");
    blob_buf_printf(&b, "\"Host.Functions.%s\"", t->fn);
    blob_buf_puts(&b, ",\"BlobType\":\"BlockBlob\",\"ContainerName\":");
    blob_buf_json_str(&b, t->pat.container);
    blob_buf_puts(&b, ",\"BlobName\":");
    blob_buf_json_str(&b, name);
    blob_buf_printf(&b, ",\"ETag\":\"%s\"", etag);
    if (tok) {
        const struct stat *st = &tok->st;
        blob_buf_printf(&b, ",\"ContentHash\":\"%s\",\"Status\":\"%s\",\"Attempts\":%d,"
                        "\"Updated\":\"%s\",\"Inode\":%llu,\"Size\":%llu,\"MtimeNs\":%lld,"
                        "\"CtimeNs\":%lld",
                        tok->hash, status, attempts, now, (unsigned long long)st->st_ino,
                        (unsigned long long)st->st_size,
                        (long long)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
                        (long long)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec);
    }
    blob_buf_puts(&b, "}\n");
    return blob_buf_take(&b);
}

/* Records the outcome of tok's version in the blob's receipt. */
static void write_receipt(trig *t, const token *tok, const char *status, int attempts)
{
    const char *name = tok->e->name;
    char *path = join(t->rcdir, name);
    char *json = record_json(t, name, tok->etag, tok, status, attempts);
    int rc = path && json ? write_record(path, json) : -ENOMEM;
    if (rc)
        fnh_ext_log(t->b, FNH_LOG_ERROR,
                    "Cannot write the blob receipt '%s' for '%s/%s': %s; the blob may be "
                    "processed again after a restart",
                    path ? path : "?", t->pat.container, name, fnh_ext_strerror(t->b, rc));
    free(path);
    free(json);
}

/* Removes the receipt of a deleted blob and the folders it leaves empty. */
static void remove_receipt(trig *t, const char *name)
{
    char *path = join(t->rcdir, name);
    if (!path)
        return;
    if (unlink(path) == 0) {
        size_t base = strlen(t->rcdir);
        for (char *slash = strrchr(path, '/'); slash && (size_t)(slash - path) > base;
             slash = strrchr(path, '/')) {
            *slash = '\0';
            if (rmdir(path) != 0)
                break;
        }
    }
    free(path);
}

/* Records a poison blob: log line plus a JSON record. */
static void write_poison(trig *t, const char *name, const char *etag, int attempts)
{
    char *json = record_json(t, name, etag, NULL, NULL, 0);
    size_t n = strlen(t->poisondir) + strlen(t->fn) + 96;
    char *path = malloc(n);
    int rc = -ENOMEM;
    if (path && json) {
        snprintf(path, n, "%s/%lld-%s-%s.json", t->poisondir,
                 (long long)(blob_now_ns() / 1000000), t->fn, etag);
        rc = write_record(path, json);
    }
    char where[PATH_MAX + 64];
    if (rc)
        snprintf(where, sizeof where, "not written (%s)", fnh_ext_strerror(t->b, rc));
    else
        snprintf(where, sizeof where, "%s", path);
    fnh_ext_log(t->b, FNH_LOG_ERROR,
                "Blob '%s/%s' (ETag %s) failed %d times in function 'Functions.%s': it is "
                "poison and will not be retried (poison record: %s; delete its receipt under "
                "%s to process it again)",
                t->pat.container, name, etag, attempts, t->fn, where, t->receipts);
    free(path);
    free(json);
}

#define LEASE_PREFIX BLOB_TMP_PREFIX "lease."

/* The lease of blob `name`: beside its receipt, under a name no receipt can
 * have (blob names starting BLOB_TMP_PREFIX are never triggered); a very
 * long base name is replaced by its hash. malloc'd. */
static char *lease_path(const trig *t, const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    int dirlen = slash ? (int)(slash - name) + 1 : 0;
    char hashed[65];
    if (strlen(base) > 200) {
        blob_sha256_hex(base, strlen(base), hashed);
        base = hashed;
    }
    size_t n = strlen(t->rcdir) + strlen(name) + strlen(LEASE_PREFIX) + 72;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%.*s" LEASE_PREFIX "%s", t->rcdir, dirlen, name, base);
    return p;
}

/* Records a version's outcome in its receipt: the claim's lease file
 * becomes the receipt; should the lease have been lost, the receipt is
 * written anew. */
static void commit_receipt(trig *t, const token *tok, const char *status, int attempts)
{
    const char *name = tok->e->name;
    char *lpath = lease_path(t, name);
    char *rpath = join(t->rcdir, name);
    char *json = record_json(t, name, tok->etag, tok, status, attempts);
    int rc = lpath && rpath && json ? blob_lease_commit(lpath, tok->lease_fd, rpath, json)
                                    : -ENOMEM;
    if (rc) {
        if (lpath)
            blob_lease_release(lpath, tok->lease_fd);
        else if (tok->lease_fd >= 0)
            close(tok->lease_fd);
        write_receipt(t, tok, status, attempts);
    }
    free(lpath);
    free(rpath);
    free(json);
}

/* Records a finished invocation: the receipt first, then the lease goes (so
 * a host that claims the blob next finds the receipt), then the entry is
 * retried, looked at again or forgotten. The watcher thread, or the loop
 * thread once the watcher has stopped. */
static void finish(trig *t, token *tok)
{
    entry *e = tok->e;
    int retry = 0;
    if (tok->status == 0) {
        commit_receipt(t, tok, "Complete", tok->attempt);
    } else if (tok->attempt >= t->set.poison_threshold) {
        commit_receipt(t, tok, "Poison", tok->attempt);
        write_poison(t, e->name, tok->etag, tok->attempt);
    } else {
        retry = 1;
        commit_receipt(t, tok, "Failed", tok->attempt);
        fnh_ext_log(t->b, FNH_LOG_WARN,
                    "Function 'Functions.%s' failed for blob '%s/%s' (attempt %d of %d): %s; "
                    "retrying",
                    t->fn, t->pat.container, e->name, tok->attempt, t->set.poison_threshold,
                    fnh_ext_strerror(t->b, tok->status));
    }
    pthread_mutex_lock(&t->mu);
    e->state = E_IDLE;
    t->ndone--;
    if (retry)
        enqueue(t, e, blob_mono_ns() + RETRY_STEP_NS * tok->attempt, 1, 0);
    if (e->recheck) {
        e->recheck = 0;
        enqueue(t, e, blob_mono_ns(), 0, 0);
    }
    forget(t, e);
    pthread_mutex_unlock(&t->mu);
    free(tok);
}

/* Records every outcome complete() handed over; returns how many. */
static int drain_done(trig *t)
{
    pthread_mutex_lock(&t->mu);
    token *list = t->done;
    t->done = NULL;
    pthread_mutex_unlock(&t->mu);
    int n = 0;
    for (; list; n++) {
        token *next = list->next;
        finish(t, list);
        list = next;
    }
    return n;
}

static void flying_remove(trig *t, token *tok)
{
    if (tok->prev)
        tok->prev->next = tok->next;
    else
        t->flying = tok->next;
    if (tok->next)
        tok->next->prev = tok->prev;
    tok->next = tok->prev = NULL;
}

/* ---- firing (watcher thread) ------------------------------------------ */

static int reserved_key(const char *k)
{
    static const char *const keys[] = {"BlobTrigger", "Uri", "Properties", "Metadata",
                                       "$reason", "$details"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcasecmp(k, keys[i]) == 0)
            return 1;
    return 0;
}

/* Is the open file free of writers? 1 yes, 0 no (being written), -1 unknown
 * (leases unsupported here: the caller falls back on the quiet time).
 * The kernel grants a read lease only while nobody holds the file open for
 * writing; we drop it at once. Should a writer open the file in between, the
 * kernel signals the lease holder: F_SETSIG picks SIGURG, whose default action
 * is to ignore it (the default SIGIO would end the host). */
static int no_writers(int fd)
{
    if (fcntl(fd, F_SETSIG, SIGURG) != 0)
        return -1;
    if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
        fcntl(fd, F_SETLEASE, F_UNLCK);
        return 1;
    }
    return errno == EAGAIN ? 0 : -1;
}

/* One version of a pending blob, as process() learns it step by step. */
typedef struct version {
    entry *e;
    char *full;      /* the blob's file */
    int settled;     /* queued by a close/move event: the file is complete */
    struct stat st;  /* before reading; once read, as read */
    char *data;      /* the bytes read (malloc'd) */
    size_t len;
    char hash[65];
    char etag[48];
    int attempt;     /* 1 on the first try */
    int lease_fd;
} version;

/* The trigger metadata of one invocation, under Azure's names: the strings
 * are malloc'd, kv borrows them (and the pattern's captures). */
typedef struct blob_meta {
    const char *ctype;
    char *blob_trigger, *uri, *props, *details, *reason;
    fnh_kv kv[6 + 64];
    size_t nkv;
} blob_meta;

/* Queues e again from `due` on. Watcher thread; takes t->mu. */
static void requeue(trig *t, entry *e, int64_t due, int settled)
{
    pthread_mutex_lock(&t->mu);
    enqueue(t, e, due, settled, 0);
    pthread_mutex_unlock(&t->mu);
}

/* Has the open file no writers left, so that it may be read now? If not it
 * is queued again: soon when its close was seen (the kernel reports the close
 * before it drops the writer's access), else in WRITER_POLL_NS, or where
 * leases are unavailable once the quiet time SETTLE_NS is over. */
static int writers_done(trig *t, const version *v, int fd)
{
    int free_of_writers = no_writers(fd);
    if (free_of_writers == 0) {
        requeue(t, v->e, blob_mono_ns() + (v->settled ? SETTLED_RETRY_NS : WRITER_POLL_NS),
                v->settled);
        return 0;
    }
    if (free_of_writers > 0 || v->settled)
        return 1;
    int64_t age =
        blob_now_ns() - ((int64_t)v->st.st_mtim.tv_sec * 1000000000 + v->st.st_mtim.tv_nsec);
    if (age >= SETTLE_NS)
        return 1;
    requeue(t, v->e, blob_mono_ns() + SETTLE_NS - (age > 0 ? age : 0) + 5 * MS, 0);
    return 0;
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reads the version once nobody writes it and hashes it: 1 with v->data,
 * v->len, v->hash, v->etag and the file's stat as read in v->st; 0 when it
 * is not read now (gone, being written, or changed while read: then it is
 * queued again; unreadable: logged). */
static int read_version(trig *t, version *v)
{
    int fd = open(v->full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return 0;
    if (!writers_done(t, v, fd)) {
        close(fd);
        return 0;
    }
    struct stat before = v->st;
    int rc = blob_read_fd(fd, &v->data, &v->len, &v->st);
    close(fd);
    if (rc == -EAGAIN || (!rc && !same_file(&before, &v->st))) {
        /* changed under us: look again shortly, as a fresh (unsettled) find */
        free(v->data);
        v->data = NULL;
        requeue(t, v->e, blob_mono_ns() + EAGAIN_RETRY_NS, 0);
        return 0;
    }
    if (rc) {
        fnh_ext_log(t->b, FNH_LOG_WARN, "Cannot read blob '%s/%s': %s", t->pat.container,
                    v->e->name, fnh_ext_strerror(t->b, rc));
        return 0;
    }
    blob_sha256_hex(v->data, v->len, v->hash);
    blob_etag(v->hash, v->etag);
    return 1;
}

static void meta_free(blob_meta *m)
{
    free(m->blob_trigger);
    free(m->uri);
    free(m->props);
    free(m->details);
    free(m->reason);
}

/* Fills m for the version read and its pattern captures. Returns 0 or
 * -ENOMEM (then meta_free(m) still frees what was made). */
static int meta_build(trig *t, const version *v, const blob_capture *caps, blob_meta *m)
{
    const char *name = v->e->name;
    int64_t mtime = (int64_t)v->st.st_mtim.tv_sec * 1000000000 + v->st.st_mtim.tv_nsec;
    char iso[96], http[96];
    blob_iso_time(mtime, iso);
    blob_http_time(mtime, http);
    m->ctype = blob_content_type(name);
    m->uri = blob_file_uri(v->full);
    blob_buf b = {0};
    blob_buf_printf(&b, "%s/%s", t->pat.container, name);
    m->blob_trigger = blob_buf_take(&b);
    blob_buf_printf(&b, "New blob detected: %s/%s", t->pat.container, name);
    m->reason = blob_buf_take(&b);
    blob_buf_printf(&b,
                    "{\"BlobType\":\"BlockBlob\",\"Length\":%zu,\"ContentLength\":%zu,"
                    "\"ContentType\":\"%s\",\"ETag\":\"\\\"%s\\\"\",\"LastModified\":\"%s\"}",
                    v->len, v->len, m->ctype, v->etag, iso);
    m->props = blob_buf_take(&b);
    blob_buf_printf(&b, "BlobName: %s, ETag: %s, DequeueCount: %d, BlobLastModified: %s", name,
                    v->etag, v->attempt, http);
    m->details = blob_buf_take(&b);

    fnh_kv *kv = m->kv;
    size_t n = 0;
    kv[n++] = (fnh_kv){"BlobTrigger", m->blob_trigger};
    kv[n++] = (fnh_kv){"Uri", m->uri};
    kv[n++] = (fnh_kv){"Properties", m->props};
    kv[n++] = (fnh_kv){"Metadata", "{}"};
    kv[n++] = (fnh_kv){"$reason", m->reason};
    kv[n++] = (fnh_kv){"$details", m->details};
    for (size_t i = 0; i < t->pat.nparams; i++)
        if (!reserved_key(caps[i].name))
            kv[n++] = (fnh_kv){caps[i].name, caps[i].value};
    m->nkv = n;
    for (size_t i = 0; i < n; i++)
        if (!kv[i].value)
            return -ENOMEM;
    return 0;
}

/* Marks the version in flight and fires it; the token takes over its lease.
 * When the host's queue is full it is queued again shortly. Returns 0,
 * -ESHUTDOWN or another error (logged). */
static int start_invocation(trig *t, version *v, const blob_meta *m)
{
    entry *e = v->e;
    token *tok = calloc(1, sizeof *tok);
    if (!tok)
        return -ENOMEM;
    tok->e = e;
    memcpy(tok->hash, v->hash, sizeof tok->hash);
    memcpy(tok->etag, v->etag, sizeof tok->etag);
    tok->st = v->st;
    tok->attempt = v->attempt;
    tok->lease_fd = v->lease_fd;
    pthread_mutex_lock(&t->mu);
    e->state = E_INFLIGHT;
    e->recheck = 0;
    t->inflight++;
    tok->next = t->flying;
    if (t->flying)
        t->flying->prev = tok;
    t->flying = tok;
    pthread_mutex_unlock(&t->mu);
    fnh_value payload = {v->data, v->len, m->ctype};
    int64_t t0 = blob_now_ns();
    int rc = fnh_fire(t->b, &payload, m->kv, m->nkv, tok);
    if (rc == 0) {
        v->lease_fd = -1;
        fnh_ext_log(t->b, FNH_LOG_DEBUG, "Fired 'Functions.%s' for blob '%s' (ETag %s, "
                    "attempt %d) at %lld.%09lld", t->fn, m->blob_trigger, v->etag, v->attempt,
                    (long long)(t0 / 1000000000), (long long)(t0 % 1000000000));
        return 0;
    }
    pthread_mutex_lock(&t->mu);
    flying_remove(t, tok);
    e->state = E_IDLE;
    t->inflight--;
    if (rc == -EAGAIN)
        enqueue(t, e, blob_mono_ns() + EAGAIN_RETRY_NS, v->settled, 0);
    pthread_mutex_unlock(&t->mu);
    free(tok);
    if (rc == -EAGAIN)
        return 0;
    if (rc != -ESHUTDOWN)
        fnh_ext_log(t->b, FNH_LOG_ERROR, "Cannot start 'Functions.%s' for blob '%s': %s", t->fn,
                    m->blob_trigger, fnh_ext_strerror(t->b, rc));
    return rc;
}

/* Fires the function for the version read, unless its name no longer
 * matches the pattern. Returns 0, -ESHUTDOWN or another error. */
static int fire_version(trig *t, version *v)
{
    blob_capture caps[64];
    if (blob_pattern_match(&t->pat, v->e->name, caps) <= 0)
        return 0;
    blob_meta m = {0};
    int rc = meta_build(t, v, caps, &m);
    if (!rc)
        rc = start_invocation(t, v, &m);
    meta_free(&m);
    blob_captures_free(caps, t->pat.nparams);
    return rc;
}

static int receipt_done(const blob_receipt *r)
{
    return r->status == RECEIPT_COMPLETE || r->status == RECEIPT_POISON;
}

/* Does the receipt describe exactly this file (not changed since)? */
static int receipt_matches_file(const blob_receipt *r, const struct stat *st)
{
    return r->hash[0] && r->ino == (unsigned long long)st->st_ino &&
           r->size == (unsigned long long)st->st_size &&
           r->mtime_ns == (long long)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec &&
           r->ctime_ns == (long long)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/* How many failures the receipt records for v's version; -1 when it is done
 * (complete, or poison: also when the threshold was lowered since). */
static int attempts_so_far(trig *t, const blob_receipt *r, const version *v)
{
    if (!r->hash[0] || strcmp(r->hash, v->hash) != 0)
        return 0;
    if (receipt_done(r) || r->attempts >= t->set.poison_threshold)
        return -1;
    return r->attempts;
}

/* Decides about one read version and fires it when it is new: claims it
 * first, and checks the receipt again under the claim. */
static int claim_and_fire(trig *t, version *v, const char *rpath)
{
    entry *e = v->e;
    char *lpath = lease_path(t, e->name);
    if (!lpath)
        return -ENOMEM;
    int64_t expires;
    int rc = blob_lease_take(lpath, &t->me, t->lease_ns, &v->lease_fd, &expires);
    if (rc <= 0) {
        int64_t wait = CLAIM_POLL_NS;
        if (rc < 0)
            fnh_ext_log(t->b, FNH_LOG_WARN, "Cannot claim blob '%s/%s' at '%s': %s; retrying",
                        t->pat.container, e->name, lpath, fnh_ext_strerror(t->b, rc));
        else if (expires - blob_now_ns() < wait)
            wait = expires - blob_now_ns() > 10 * MS ? expires - blob_now_ns() : 10 * MS;
        requeue(t, e, blob_mono_ns() + wait, 0);
        free(lpath);
        return 0;
    }
    blob_receipt r;
    blob_receipt_read(rpath, &r);
    int attempts = attempts_so_far(t, &r, v);
    rc = 0;
    if (attempts >= 0) {
        v->attempt = attempts + 1;
        rc = fire_version(t, v);
    }
    if (v->lease_fd >= 0) { /* not fired: the claim goes */
        blob_lease_release(lpath, v->lease_fd);
        v->lease_fd = -1;
    }
    free(lpath);
    return rc;
}

/* Looks at one pending blob: fires it when it is a new, complete version;
 * forgets it when there is nothing (more) to do. Watcher thread; no lock
 * held on entry. Returns -ESHUTDOWN when the host stopped accepting
 * invocations. */
static int process(trig *t, entry *e, int settled)
{
    pthread_mutex_lock(&t->mu);
    int busy = e->state == E_INFLIGHT;
    if (busy)
        e->recheck = 1;
    pthread_mutex_unlock(&t->mu);
    if (busy)
        return 0;
    version v = {.e = e, .settled = settled, .lease_fd = -1};
    char *rpath = join(t->rcdir, e->name);
    v.full = join(t->cdir, e->name);
    int rc = 0;
    if (!rpath || !v.full) {
        rc = -ENOMEM;
    } else if (lstat(v.full, &v.st) != 0 || !S_ISREG(v.st.st_mode)) {
        remove_receipt(t, e->name); /* deleted (symlinks and folders are no blobs) */
    } else {
        blob_receipt r;
        blob_receipt_read(rpath, &r);
        if (!(receipt_done(&r) && receipt_matches_file(&r, &v.st)) && read_version(t, &v)) {
            int attempts = attempts_so_far(t, &r, &v);
            if (attempts < 0 && !receipt_matches_file(&r, &v.st)) {
                /* the same content in a touched or copied file: note the file
                 * so that the next start-up need not read it */
                token tok = {.e = e, .st = v.st};
                memcpy(tok.hash, v.hash, sizeof tok.hash);
                memcpy(tok.etag, v.etag, sizeof tok.etag);
                write_receipt(t, &tok, r.status == RECEIPT_POISON ? "Poison" : "Complete",
                              r.attempts);
            } else if (attempts >= 0) {
                rc = claim_and_fire(t, &v, rpath);
            }
        }
    }
    free(v.data);
    free(v.full);
    free(rpath);
    pthread_mutex_lock(&t->mu);
    forget(t, e);
    pthread_mutex_unlock(&t->mu);
    return rc == -ESHUTDOWN ? rc : 0;
}

/* A file event or scan hit for `rel` (relative to the container). Queues it
 * when its name matches the pattern. Watcher thread. */
static void candidate(trig *t, const char *rel, int kind)
{
    for (const char *c = rel; c; c = strchr(c, '/')) {
        if (*c == '/')
            c++;
        if (strncmp(c, BLOB_TMP_PREFIX, strlen(BLOB_TMP_PREFIX)) == 0)
            return;
    }
    blob_capture caps[64];
    int m = blob_pattern_match(&t->pat, rel, caps);
    if (m <= 0)
        return;
    blob_captures_free(caps, t->pat.nparams);
    int64_t now = blob_mono_ns();
    pthread_mutex_lock(&t->mu);
    entry *e = entry_get(t, rel, 1);
    if (e) {
        if (e->state == E_INFLIGHT)
            e->recheck = 1;
        else if (kind == EV_CLOSE)
            enqueue(t, e, now + t->set.quiet_ms * MS, 1, t->set.quiet_ms > 0);
        else if (kind == EV_CREATE)
            enqueue(t, e, now + CREATE_DELAY_NS, 0, 0);
        else if (kind == EV_GONE)
            enqueue(t, e, now + GONE_DELAY_NS, 0, 0);
        else /* found without a close (a scan, a write): the quiet period applies too */
            enqueue(t, e, now + t->set.quiet_ms * MS, 0, t->set.quiet_ms > 0);
    }
    pthread_mutex_unlock(&t->mu);
    if (!e)
        fnh_ext_log(t->b, FNH_LOG_ERROR, "Out of memory tracking blob '%s/%s'",
                    t->pat.container, rel);
}

/* ---- watches (watcher thread) ----------------------------------------- */

static watch *watch_find(trig *t, int wd)
{
    for (size_t i = 0; i < t->nwatches; i++)
        if (t->watches[i].wd == wd && t->watches[i].rel)
            return &t->watches[i];
    return NULL;
}

static void watch_set(trig *t, int wd, const char *rel)
{
    watch *w = watch_find(t, wd);
    char *r = strdup(rel);
    if (!r)
        return;
    if (w) {
        free(w->rel);
        w->rel = r;
        return;
    }
    for (size_t i = 0; i < t->nwatches; i++) {
        if (!t->watches[i].rel) {
            t->watches[i].wd = wd;
            t->watches[i].rel = r;
            return;
        }
    }
    watch *nw = realloc(t->watches, (t->nwatches + 1) * sizeof *nw);
    if (!nw) {
        free(r);
        return;
    }
    t->watches = nw;
    t->watches[t->nwatches].wd = wd;
    t->watches[t->nwatches].rel = r;
    t->nwatches++;
}

/* Forgets w, whose watch the kernel removed or is told to remove. */
static void watch_forget(trig *t, watch *w)
{
    if (!*w->rel)
        t->root_watched = 0;
    free(w->rel);
    w->rel = NULL;
}

/* Forgets the watches of folder rel and everything below it (it was moved
 * away); their remaining events would carry stale names. */
static void watch_drop_tree(trig *t, const char *rel)
{
    size_t n = strlen(rel);
    for (size_t i = 0; i < t->nwatches; i++) {
        watch *w = &t->watches[i];
        if (w->rel && strncmp(w->rel, rel, n) == 0 && (w->rel[n] == '\0' || w->rel[n] == '/')) {
            inotify_rm_watch(t->ifd, w->wd);
            watch_forget(t, w);
        }
    }
}

/* Watches folder rel (relative to the container) and everything below it,
 * and queues the files found there (unsettled: they may be half-written). */
static void add_tree(trig *t, const char *rel, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    char *dir = *rel ? join(t->cdir, rel) : strdup(t->cdir);
    if (!dir)
        return;
    int wd = inotify_add_watch(t->ifd, dir, WATCH_MASK);
    if (wd < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            fnh_ext_log(t->b, FNH_LOG_WARN, "Cannot watch '%s': %s", dir,
                        fnh_ext_strerror(t->b, -errno));
        free(dir);
        return;
    }
    watch_set(t, wd, rel);
    if (!*rel)
        t->root_watched = 1;
    DIR *d = opendir(dir);
    if (!d) {
        free(dir);
        return;
    }
    struct dirent *de;
    while (!atomic_load(&t->stopping) && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strncmp(de->d_name, BLOB_TMP_PREFIX, strlen(BLOB_TMP_PREFIX)) == 0)
            continue;
        unsigned type = de->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
        }
        char *sub = join(rel, de->d_name);
        if (!sub)
            continue;
        if (type == DT_DIR)
            add_tree(t, sub, depth + 1);
        else if (type == DT_REG)
            candidate(t, sub, EV_SCAN);
        free(sub);
    }
    closedir(d);
    free(dir);
}

/* Re-creates and re-watches the container folder after it was removed. */
static void try_root(trig *t)
{
    int64_t now = blob_mono_ns();
    if (t->root_watched || now < t->next_root_try)
        return;
    t->next_root_try = now + 1000000000LL;
    if (blob_mkdirs(t->cdir, 0777) == 0)
        add_tree(t, "", 0);
}

static void handle_events(trig *t)
{
    _Alignas(struct inotify_event) char buf[64 * 1024];
    for (;;) {
        ssize_t n = read(t->ifd, buf, sizeof buf);
        if (n <= 0)
            return;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                fnh_ext_log(t->b, FNH_LOG_WARN, "Too many file events at once under '%s'; "
                            "rescanning", t->cdir);
                add_tree(t, "", 0);
                continue;
            }
            watch *w = watch_find(t, ev->wd);
            if (!w)
                continue;
            if (ev->mask & IN_IGNORED) {
                watch_forget(t, w);
                continue;
            }
            if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
                if (!*w->rel) {
                    inotify_rm_watch(t->ifd, w->wd);
                    watch_forget(t, w);
                }
                continue;
            }
            if (!ev->len || strncmp(ev->name, BLOB_TMP_PREFIX, strlen(BLOB_TMP_PREFIX)) == 0)
                continue;
            char *rel = join(w->rel, ev->name);
            if (!rel)
                continue;
            if (ev->mask & IN_ISDIR) {
                if (ev->mask & IN_MOVED_FROM)
                    watch_drop_tree(t, rel);
                else if (ev->mask & (IN_CREATE | IN_MOVED_TO))
                    add_tree(t, rel, 1);
            } else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
                candidate(t, rel, EV_CLOSE);
            } else if (ev->mask & IN_CREATE) {
                candidate(t, rel, EV_CREATE); /* a hard link, linkat, or a new file */
            } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
                candidate(t, rel, EV_GONE);
            }
            free(rel);
        }
    }
}

/* ---- the receipt sweep (watcher thread) -------------------------------- */

static void sweep_push(sweep *s, char *rel)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **st = realloc(s->stack, cap * sizeof *st);
        if (!st) {
            free(rel);
            return;
        }
        s->stack = st;
        s->cap = cap;
    }
    s->stack[s->n++] = rel;
}

/* Looks at up to SWEEP_BUDGET entries of the receipts folder and removes the
 * receipts of blobs that no longer exist (and nothing is queued for). Then
 * says when the next step is due. */
static void sweep_step(trig *t)
{
    sweep *s = &t->sw;
    int64_t now = blob_mono_ns();
    if (now < s->next)
        return;
    if (!s->d && !s->n) {
        char *top = strdup("");
        if (top)
            sweep_push(s, top);
    }
    for (int budget = SWEEP_BUDGET; budget > 0;) {
        if (!s->d) {
            if (!s->n) {
                s->next = now + SWEEP_PERIOD_NS; /* a whole pass is done */
                return;
            }
            s->rel = s->stack[--s->n];
            char *dir = *s->rel ? join(t->rcdir, s->rel) : strdup(t->rcdir);
            s->d = dir ? opendir(dir) : NULL;
            free(dir);
            if (!s->d) {
                free(s->rel);
                s->rel = NULL;
                continue;
            }
        }
        struct dirent *de = readdir(s->d);
        if (!de) {
            closedir(s->d);
            s->d = NULL;
            if (*s->rel) { /* an emptied folder goes */
                char *dir = join(t->rcdir, s->rel);
                if (dir)
                    rmdir(dir);
                free(dir);
            }
            free(s->rel);
            s->rel = NULL;
            continue;
        }
        budget--;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (strncmp(de->d_name, BLOB_TMP_PREFIX, strlen(BLOB_TMP_PREFIX)) == 0) {
            /* a lease (or a record's temp file) its host left behind: it
             * goes once no live host could still be renewing it */
            struct stat st;
            if (fstatat(dirfd(s->d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                blob_now_ns() - ((int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec) >
                    2 * t->lease_ns + 60000 * MS)
                unlinkat(dirfd(s->d), de->d_name, 0);
            continue;
        }
        char *name = join(s->rel, de->d_name);
        if (!name)
            continue;
        if (de->d_type == DT_DIR) {
            sweep_push(s, name);
            continue;
        }
        char *blob = join(t->cdir, name);
        struct stat st;
        if (blob && lstat(blob, &st) != 0 && errno == ENOENT) {
            pthread_mutex_lock(&t->mu);
            int busy = entry_get(t, name, 0) != NULL;
            pthread_mutex_unlock(&t->mu);
            if (!busy)
                unlinkat(dirfd(s->d), de->d_name, 0);
        }
        free(blob);
        free(name);
    }
    s->next = now + SWEEP_TICK_NS;
}

static void sweep_free(sweep *s)
{
    if (s->d)
        closedir(s->d);
    free(s->rel);
    for (size_t i = 0; i < s->n; i++)
        free(s->stack[i]);
    free(s->stack);
    memset(s, 0, sizeof *s);
}

/* ---- the watcher thread ------------------------------------------------ */

/* Takes the due entries off the queues (as many as the parallelism limit
 * allows) into out; returns how many, and in *next the CLOCK_MONOTONIC ns
 * when the next one is due (INT64_MAX: none, or waiting for a complete() to
 * make room). */
static size_t take_due(trig *t, entry **out, int *settled, size_t max, int64_t *next)
{
    int64_t now = blob_mono_ns();
    *next = INT64_MAX;
    pthread_mutex_lock(&t->mu);
    for (entry *e = t->qhead[Q_LATER], *nx; e; e = nx) {
        nx = e->qnext;
        if (e->due <= now) {
            q_remove(t, e);
            q_push(t, e, Q_READY);
        } else if (e->due < *next) {
            *next = e->due;
        }
    }
    int room = t->set.max_parallel - t->inflight;
    size_t n = 0;
    while (t->qhead[Q_READY] && n < max && (int)n < room) {
        entry *e = t->qhead[Q_READY];
        q_remove(t, e);
        settled[n] = e->settled;
        out[n++] = e;
    }
    if (t->qhead[Q_READY])
        *next = (int)n < room ? now : INT64_MAX;
    if (t->inflight + (int)n >= t->set.max_parallel)
        *next = INT64_MAX;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/* Renews the leases of the invocations running, every third of their life. */
static void renew_leases(trig *t)
{
    int64_t now = blob_mono_ns();
    if (now < t->next_renew)
        return;
    t->next_renew = now + t->lease_ns / 3;
    pthread_mutex_lock(&t->mu);
    for (token *k = t->flying; k; k = k->next)
        blob_lease_renew(k->lease_fd);
    for (token *k = t->done; k; k = k->next)
        blob_lease_renew(k->lease_fd);
    pthread_mutex_unlock(&t->mu);
}

static void *thread_main(void *arg)
{
    trig *t = arg;
    add_tree(t, "", 0);
    if (!t->root_watched)
        fnh_ext_log(t->b, FNH_LOG_WARN, "Cannot watch '%s'; retrying every second", t->cdir);
    t->sw.next = blob_mono_ns() + SWEEP_FIRST_NS;
    t->next_renew = blob_mono_ns() + t->lease_ns / 3;
    entry *batch[64];
    int settled[64];
    while (!atomic_load(&t->stopping)) {
        renew_leases(t);
        int64_t next;
        size_t n = take_due(t, batch, settled, 64, &next);
        /* starting work comes first: outcomes are recorded when nothing is
         * due, or when many are waiting */
        pthread_mutex_lock(&t->mu);
        int record = !n || t->ndone >= 256;
        pthread_mutex_unlock(&t->mu);
        int recorded = record ? drain_done(t) : 0;
        int shutdown = 0;
        for (size_t i = 0; i < n; i++) {
            if (shutdown || atomic_load(&t->stopping)) {
                requeue(t, batch[i], blob_mono_ns(), settled[i]); /* for the next start */
                shutdown = 1;
            } else if (process(t, batch[i], settled[i]) == -ESHUTDOWN) {
                shutdown = 1;
            }
        }
        if (shutdown)
            break;
        if (n || recorded)
            continue; /* more may be due right away (retries, rechecks) */
        sweep_step(t);
        int64_t now = blob_mono_ns();
        if (t->sw.next < next)
            next = t->sw.next;
        if (t->next_renew < next)
            next = t->next_renew;
        if (!t->root_watched && next > now + 1000 * MS)
            next = now + 1000 * MS;
        int wait_ms = next == INT64_MAX ? -1
                      : next <= now     ? 0
                                        : (int)((next - now + MS - 1) / MS);
        struct pollfd pf[2] = {{t->efd, POLLIN, 0}, {t->ifd, POLLIN, 0}};
        int pr = poll(pf, 2, wait_ms);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr > 0 && (pf[0].revents & POLLIN)) {
            uint64_t v;
            ssize_t r = read(t->efd, &v, sizeof v);
            (void)r;
        }
        if (pr > 0 && (pf[1].revents & POLLIN))
            handle_events(t);
        try_root(t);
    }
    return NULL;
}

/* ---- the trigger type (loop thread) ----------------------------------- */

static void trig_free(trig *t)
{
    if (!t)
        return;
    if (t->buckets) {
        for (size_t i = 0; i < t->nbuckets; i++) {
            for (entry *e = t->buckets[i], *next; e; e = next) {
                next = e->hnext;
                free(e->name);
                free(e);
            }
        }
        free(t->buckets);
    }
    for (size_t i = 0; i < t->nwatches; i++)
        free(t->watches[i].rel);
    free(t->watches);
    sweep_free(&t->sw);
    if (t->ifd >= 0)
        close(t->ifd);
    if (t->efd >= 0)
        close(t->efd);
    pthread_mutex_destroy(&t->mu);
    blob_pattern_free(&t->pat);
    free(t->path_text);
    free(t->fn);
    free(t->root);
    free(t->cdir);
    free(t->receipts);
    free(t->rcdir);
    free(t->poisondir);
    free(t);
}

static int trig_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    trig *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->efd = t->ifd = -1;
    pthread_mutex_init(&t->mu, NULL);
    t->b = b;
    const blob_settings *g = fnh_global(b);
    t->set = g ? *g : (blob_settings){32, 5, 0, 15};
    t->lease_ns = (int64_t)t->set.lease_s * 1000 * MS;
    char err[512];
    const char *path = fnh_config_string(cfg, "path");
    int rc = blob_pattern_parse(path, &t->pat, err, sizeof err);
    if (rc) {
        if (rc == -EINVAL)
            fnh_config_fail(cfg, "path", "%s", err);
        trig_free(t);
        return rc;
    }
    rc = blob_resolve_root(b, cfg, fnh_config_string(cfg, "connection"), &t->root);
    if (rc) {
        trig_free(t);
        return rc;
    }
    const char *fn = fnh_function_name(b);
    const char *app = fnh_app_root(b);
    t->fn = strdup(fn ? fn : "unknown");
    t->path_text = strdup(path);
    t->cdir = join(t->root, t->pat.container);
    t->receipts = malloc(strlen(app) + strlen(t->fn) + 32);
    t->poisondir = malloc(strlen(app) + 32);
    t->buckets = calloc(256, sizeof *t->buckets);
    t->nbuckets = 256;
    if (!t->fn || !t->path_text || !t->cdir || !t->receipts || !t->poisondir || !t->buckets) {
        trig_free(t);
        return -ENOMEM;
    }
    sprintf(t->receipts, "%s/.fnhost/blobreceipts/%s", app, t->fn);
    if (!(t->rcdir = join(t->receipts, t->pat.container))) {
        trig_free(t);
        return -ENOMEM;
    }
    sprintf(t->poisondir, "%s/.fnhost/blobtrigger-poison", app);
    *state = t;
    return 0;
}

static int trig_start(void *state)
{
    trig *t = state;
    int rc = blob_mkdirs(t->cdir, 0777);
    if (rc) {
        fnh_ext_log(t->b, FNH_LOG_ERROR, "Cannot create the container folder '%s': %s", t->cdir,
                    fnh_ext_strerror(t->b, rc));
        return rc;
    }
    t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (t->efd < 0 || t->ifd < 0) {
        rc = -errno;
        fnh_ext_log(t->b, FNH_LOG_ERROR, "Cannot watch '%s': %s", t->cdir,
                    fnh_ext_strerror(t->b, rc));
        return rc;
    }
    blob_owner_init(&t->me);
    atomic_store(&t->stopping, 0);
    rc = -pthread_create(&t->thread, NULL, thread_main, t);
    if (rc)
        return rc;
    t->running = 1;
    fnh_ext_log(t->b, FNH_LOG_INFO, "Blob trigger for 'Functions.%s' watching '%s' (path '%s')",
                t->fn, t->cdir, t->path_text);
    return 0;
}

/* An invocation finished: its outcome goes to the watcher thread, which
 * writes the receipt (or counts the failure, retries or declares poison) and
 * drops the claim. Loop thread; after stop it records the outcome itself
 * (no retry runs now: the next start finds the blob and reads the
 * attempts). */
static void trig_complete(void *state, void *tokp, int status, const fnh_value *result)
{
    (void)result;
    trig *t = state;
    token *tok = tokp;
    pthread_mutex_lock(&t->mu);
    flying_remove(t, tok);
    tok->status = status;
    t->inflight--; /* room for the next invocation at once */
    t->ndone++;
    if (t->running) {
        tok->next = t->done;
        if (t->done)
            t->done->prev = tok;
        t->done = tok;
    }
    pthread_mutex_unlock(&t->mu);
    if (t->running)
        wake(t);
    else
        finish(t, tok);
}

static void trig_stop(void *state)
{
    trig *t = state;
    if (!t->running)
        return;
    atomic_store(&t->stopping, 1);
    wake(t);
    pthread_join(t->thread, NULL);
    t->running = 0;
    drain_done(t); /* outcomes the thread had no time to record */
}

static void trig_unbind(void *state)
{
    trig *t = state;
    if (t && t->running)
        trig_stop(t);
    trig_free(t);
}

const fnh_trigger_type blob_trigger_type = {
    .size = sizeof(fnh_trigger_type),
    .type = "blobTrigger",
    .bind = trig_bind,
    .start = trig_start,
    .complete = trig_complete,
    .stop = trig_stop,
    .unbind = trig_unbind,
};
