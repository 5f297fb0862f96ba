/* blob_trigger.c: the blobTrigger. Each trigger binding owns one thread that
 * watches its container folder with inotify (IN_CLOSE_WRITE and IN_MOVED_TO,
 * recursively, so nested blob names work), scans it once at start-up and
 * fires the function once per blob version (ETag = mtime ns + size).
 *
 * Exactly once: after an invocation succeeds, complete() writes a receipt
 * <app>/.fnhost/blobreceipts/<function>/<ETag>/<container>/<blob name>
 * (atomically), and a version with a receipt is never fired again, across
 * restarts too; delete the receipt to reprocess. A failed invocation is
 * retried (the receipt records the attempts, also across restarts) until
 * poisonBlobThreshold (5) failures, then the version is recorded as poison:
 * an error line and a JSON record in <app>/.fnhost/blobtrigger-poison/ shaped
 * like Azure's webjobs-blobtrigger-poison message.
 *
 * Files still being written never fire: inotify reports a file only when its
 * writer closes it; before reading, a read lease (F_SETLEASE, which the
 * kernel refuses while anyone holds the file open for writing) proves nobody
 * writes it; where leases are unavailable, files from a scan modified in the
 * last 200 ms wait and are checked again. A file that changes while it is read
 * is read again.
 *
 * Threads: bind/start/stop/unbind/complete run on the host's loop thread; the
 * watcher thread does all scanning, reading and fnh_fire. They share the
 * entry table, the pending queue and the in-flight count under t->mu;
 * everything else of the watcher (inotify watches) is the thread's alone.
 * Entries live until unbind, so the thread may use an entry pointer without
 * the lock; only its name (immutable) is read that way. */
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
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE_SELF |         \
     IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)
#define SETTLE_NS (200 * 1000000LL)    /* quiet time for files found by a scan */
/* How soon a file whose close was seen, but that still had a writer when
 * looked at, is looked at again. */
#define SETTLED_RETRY_NS 5000000
#define EAGAIN_RETRY_NS (50 * 1000000LL)
#define RETRY_STEP_NS (100 * 1000000LL) /* failed run n is retried after n * this */
#define MAX_DEPTH 64

enum { E_IDLE = 0, E_INFLIGHT, E_DONE };

/* What the trigger knows about one blob name. */
typedef struct entry {
    char *name;       /* blob name relative to the container; immutable */
    char etag[48];    /* the version in flight, last done, or last seen */
    int state;        /* E_* */
    int attempts;     /* failures recorded for etag */
    int checked;      /* the receipt for etag was read */
    int recheck;      /* an event came while in flight: look again after */
    int queued;       /* on the pending queue */
    int settled;      /* queued by a close/move event: the file is complete */
    int64_t due;      /* CLOCK_MONOTONIC ns when queued */
    struct entry *hnext, *qnext;
} entry;

typedef struct watch {
    int wd;
    char *rel; /* folder relative to the container ("" = the container); NULL = dead */
} watch;

typedef struct trig {
    fnh_binding *b;
    blob_pattern pat;
    blob_settings set;
    char *path_text; /* the function.json path, for logs */
    char *fn;        /* function name */
    char *root;      /* canonical blobs root */
    char *cdir;      /* root/container */
    char *receipts;  /* <app>/.fnhost/blobreceipts/<fn> */
    char *poisondir; /* <app>/.fnhost/blobtrigger-poison */
    int efd;         /* eventfd: wakes the thread */
    pthread_t thread;
    int running;
    atomic_int stopping;

    pthread_mutex_t mu; /* guards everything below, up to the thread-only part */
    entry **buckets;
    size_t nbuckets, nentries;
    entry *queue;   /* pending, in arrival order */
    entry **qtail;  /* &last->qnext, or &queue when empty */
    int inflight;

    /* the watcher thread's alone */
    int ifd;
    watch *watches;
    size_t nwatches;
    int root_watched;
    int64_t next_root_try;
} trig;

/* The token of one fired invocation: which version of which blob. */
typedef struct token {
    entry *e;
    char etag[48];
    int attempt; /* 1 on the first try */
} token;

/* ---- entries and the pending queue (callers hold t->mu) --------------- */

static size_t hash_name(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static entry *entry_get(trig *t, const char *name, int create)
{
    size_t h = hash_name(name);
    for (entry *e = t->buckets[h % t->nbuckets]; e; e = e->hnext)
        if (strcmp(e->name, name) == 0)
            return e;
    if (!create)
        return NULL;
    if (t->nentries >= t->nbuckets * 2) {
        size_t nb = t->nbuckets * 4;
        entry **b = calloc(nb, sizeof *b);
        if (b) {
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
    }
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

/* Puts e on the pending queue to be looked at from `due` on (or earlier,
 * when it is already queued). settled: the file is known to be complete. */
static void enqueue(trig *t, entry *e, int64_t due, int settled)
{
    if (e->queued) {
        if (due < e->due)
            e->due = due;
        e->settled |= settled;
        return;
    }
    e->queued = 1;
    e->due = due;
    e->settled = settled;
    e->qnext = NULL;
    *t->qtail = e;
    t->qtail = &e->qnext;
}

static void wake(trig *t)
{
    uint64_t one = 1;
    ssize_t w = write(t->efd, &one, sizeof one);
    (void)w; /* a full counter already means "wake up" */
}

/* ---- receipts --------------------------------------------------------- */

/* <receipts>/<etag>/<container>/<name>, malloc'd. */
static char *receipt_path(const trig *t, const char *etag, const char *name)
{
    size_t n = strlen(t->receipts) + strlen(etag) + strlen(t->pat.container) + strlen(name) + 4;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s/%s/%s", t->receipts, etag, t->pat.container, name);
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
    int rc = blob_write_atomic(dir, slash + 1, text, strlen(text));
    if (rc == -ENOENT) { /* first record in this folder */
        rc = blob_mkdirs(dir, 0777);
        if (!rc)
            rc = blob_write_atomic(dir, slash + 1, text, strlen(text));
    }
    free(dir);
    return rc;
}

static char *record_json(const trig *t, const char *name, const char *etag, const char *status,
                         int attempts)
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
    if (status)
        blob_buf_printf(&b, ",\"Status\":\"%s\",\"Attempts\":%d,\"Updated\":\"%s\"", status,
                        attempts, now);
    blob_buf_puts(&b, "}\n");
    return blob_buf_take(&b);
}

/* Records a version's outcome in its receipt. Loop thread (complete). */
static void write_receipt(trig *t, const char *name, const char *etag, const char *status,
                          int attempts)
{
    char *path = receipt_path(t, etag, name);
    char *json = record_json(t, name, etag, status, attempts);
    int rc = path && json ? write_record(path, json) : -ENOMEM;
    if (rc)
        fnh_ext_log(t->b, FNH_LOG_ERROR,
                    "Cannot write the blob receipt '%s' for '%s/%s': %s; the blob may be "
                    "processed again after a restart",
                    path ? path : "?", t->pat.container, name, fnh_ext_strerror(t->b, rc));
    free(path);
    free(json);
}

/* Records a poison blob: log line plus a JSON record. Loop thread. */
static void write_poison(trig *t, const char *name, const char *etag, int attempts)
{
    char *json = record_json(t, name, etag, NULL, 0);
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
    char etag[48];
    struct stat st;  /* before reading; once read, as read */
    char *data;      /* the bytes read (malloc'd) */
    size_t len;
    int attempt;     /* 1 on the first try */
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
    enqueue(t, e, due, settled);
    pthread_mutex_unlock(&t->mu);
}

/* Is there a plain file (symlinks are never blobs)? Then notes its ETag. */
static int find_version(version *v)
{
    if (lstat(v->full, &v->st) != 0 || !S_ISREG(v->st.st_mode))
        return 0;
    blob_etag(&v->st, v->etag);
    return 1;
}

/* Records v's ETag as e's current version (a new one starts with no
 * attempts) and says whether it may fire: not while a version is in flight
 * (e is looked at again after it), nor once it is done. *checked: its
 * receipt was read already. */
static int note_version(trig *t, const version *v, int *checked)
{
    entry *e = v->e;
    pthread_mutex_lock(&t->mu);
    int skip = 0;
    if (e->state == E_INFLIGHT) {
        e->recheck = 1;
        skip = 1;
    } else if (strcmp(e->etag, v->etag) != 0) {
        memcpy(e->etag, v->etag, sizeof e->etag);
        e->state = E_IDLE;
        e->checked = 0;
        e->attempts = 0;
    } else if (e->state == E_DONE) {
        skip = 1;
    }
    *checked = e->checked;
    pthread_mutex_unlock(&t->mu);
    return !skip;
}

/* Reads v's receipt into e: the attempts so far, and whether the version is
 * done (complete, or poison). Returns 1 when it is done. */
static int receipt_says_done(trig *t, const version *v)
{
    entry *e = v->e;
    char *rp = receipt_path(t, v->etag, e->name);
    int attempts = 0;
    int status = rp ? blob_receipt_read(rp, &attempts) : RECEIPT_NONE;
    free(rp);
    pthread_mutex_lock(&t->mu);
    if (strcmp(e->etag, v->etag) == 0) {
        e->checked = 1;
        e->attempts = attempts;
        if (status == RECEIPT_COMPLETE || status == RECEIPT_POISON)
            e->state = E_DONE;
        else if (attempts >= t->set.poison_threshold)
            e->state = E_DONE; /* threshold lowered since: already poison */
    }
    int done = e->state == E_DONE;
    pthread_mutex_unlock(&t->mu);
    return done;
}

/* Is v a version to fire: new, or failed fewer times than the threshold? */
static int version_wanted(trig *t, const version *v)
{
    int checked;
    if (!note_version(t, v, &checked))
        return 0;
    return checked || !receipt_says_done(t, v);
}

/* Has the open file no writers left, so that it may be read now? Where
 * leases are unavailable, a file found by a scan that changed in the last
 * SETTLE_NS is queued again for when that quiet time is over. */
static int writers_done(trig *t, const version *v, int fd)
{
    int free_of_writers = no_writers(fd);
    if (free_of_writers == 0) {
        /* its writer's close (IN_CLOSE_WRITE) brings it back; but the kernel
         * sends that event before it drops the closing writer's access, so a
         * file queued by the close itself is looked at again shortly */
        if (v->settled)
            requeue(t, v->e, blob_mono_ns() + SETTLED_RETRY_NS, 1);
        return 0;
    }
    if (free_of_writers > 0 || v->settled)
        return 1;
    int64_t age =
        blob_now_ns() - ((int64_t)v->st.st_mtim.tv_sec * 1000000000 + v->st.st_mtim.tv_nsec);
    if (age >= SETTLE_NS)
        return 1;
    requeue(t, v->e, blob_mono_ns() + SETTLE_NS - (age > 0 ? age : 0) + 5000000, 0);
    return 0;
}

/* Reads the version once nobody writes it: 1 with v->data, v->len and the
 * file's stat as read in v->st; 0 when it is not read now (gone, being
 * written, or changed while read: then it is queued again; unreadable:
 * logged). */
static int read_version(trig *t, version *v)
{
    int fd = open(v->full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return 0;
    if (!writers_done(t, v, fd)) {
        close(fd);
        return 0;
    }
    int rc = blob_read_fd(fd, &v->data, &v->len, &v->st);
    close(fd);
    char etag[48];
    if (!rc)
        blob_etag(&v->st, etag);
    if (rc == -EAGAIN || (!rc && strcmp(v->etag, etag) != 0)) {
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

/* Marks the version in flight and fires it; when the host's queue is full
 * it is queued again shortly. Returns 0, -ESHUTDOWN or another error
 * (logged). */
static int start_invocation(trig *t, const version *v, const blob_meta *m)
{
    entry *e = v->e;
    token *tok = malloc(sizeof *tok);
    if (!tok)
        return -ENOMEM;
    tok->e = e;
    memcpy(tok->etag, v->etag, sizeof tok->etag);
    tok->attempt = v->attempt;
    pthread_mutex_lock(&t->mu);
    e->state = E_INFLIGHT;
    e->recheck = 0;
    t->inflight++;
    pthread_mutex_unlock(&t->mu);
    fnh_value payload = {v->data, v->len, m->ctype};
    int64_t t0 = blob_now_ns();
    int rc = fnh_fire(t->b, &payload, m->kv, m->nkv, tok);
    if (rc == 0) {
        fnh_ext_log(t->b, FNH_LOG_DEBUG, "Fired 'Functions.%s' for blob '%s' (ETag %s, "
                    "attempt %d) at %lld.%09lld", t->fn, m->blob_trigger, v->etag, v->attempt,
                    (long long)(t0 / 1000000000), (long long)(t0 % 1000000000));
        return 0;
    }
    free(tok);
    pthread_mutex_lock(&t->mu);
    e->state = E_IDLE;
    t->inflight--;
    if (rc == -EAGAIN)
        enqueue(t, e, blob_mono_ns() + EAGAIN_RETRY_NS, v->settled);
    pthread_mutex_unlock(&t->mu);
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
    pthread_mutex_lock(&t->mu);
    v->attempt = v->e->attempts + 1;
    pthread_mutex_unlock(&t->mu);
    blob_meta m = {0};
    int rc = meta_build(t, v, caps, &m);
    if (!rc)
        rc = start_invocation(t, v, &m);
    meta_free(&m);
    blob_captures_free(caps, t->pat.nparams);
    return rc;
}

/* Looks at one pending blob: fires it when it is a new, complete version.
 * Watcher thread; no lock held on entry. Returns -ESHUTDOWN when the host
 * stopped accepting invocations. */
static int process(trig *t, entry *e, int settled)
{
    version v = {.e = e, .settled = settled};
    size_t n = strlen(t->cdir) + strlen(e->name) + 2;
    if (!(v.full = malloc(n)))
        return -ENOMEM;
    snprintf(v.full, n, "%s/%s", t->cdir, e->name);
    int rc = 0;
    if (find_version(&v) && version_wanted(t, &v) && read_version(t, &v))
        rc = fire_version(t, &v);
    free(v.data);
    free(v.full);
    return rc == -ESHUTDOWN ? rc : 0;
}

/* A file event or scan hit for `rel` (relative to the container). Queues it
 * when its name matches the pattern. Watcher thread. */
static void candidate(trig *t, const char *rel, int settled)
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
    pthread_mutex_lock(&t->mu);
    entry *e = entry_get(t, rel, 1);
    if (e) {
        if (e->state == E_INFLIGHT)
            e->recheck = 1;
        else
            enqueue(t, e, blob_mono_ns(), settled);
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

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", a, *a ? "/" : "", b);
    return p;
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
            candidate(t, sub, 0);
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
                candidate(t, rel, 1);
            }
            free(rel);
        }
    }
}

/* Takes the due entries off the queue (as many as the parallelism limit
 * allows) into out; returns how many, and in *wait_ms the poll timeout until
 * the next one is due (-1: none). Watcher thread. */
static size_t take_due(trig *t, entry **out, int *settled, size_t max, int *wait_ms)
{
    int64_t now = blob_mono_ns(), next = INT64_MAX;
    size_t n = 0;
    pthread_mutex_lock(&t->mu);
    int room = t->set.max_parallel - t->inflight;
    for (entry **pp = &t->queue; *pp;) {
        entry *e = *pp;
        if (e->due <= now && n < max && (int)n < room) {
            *pp = e->qnext;
            if (!e->qnext)
                t->qtail = pp;
            e->queued = 0;
            settled[n] = e->settled;
            out[n++] = e;
            continue;
        }
        if (e->due < next)
            next = e->due <= now ? now : e->due;
        pp = &e->qnext;
    }
    int full = t->inflight + (int)n >= t->set.max_parallel;
    pthread_mutex_unlock(&t->mu);
    if (next == INT64_MAX || (full && next <= now))
        *wait_ms = -1; /* nothing due, or waiting for a complete() to make room */
    else
        *wait_ms = (int)((next - now + 999999) / 1000000);
    return n;
}

static void *thread_main(void *arg)
{
    trig *t = arg;
    add_tree(t, "", 0);
    if (!t->root_watched)
        fnh_ext_log(t->b, FNH_LOG_WARN, "Cannot watch '%s'; retrying every second", t->cdir);
    entry *batch[64];
    int settled[64];
    while (!atomic_load(&t->stopping)) {
        int wait_ms;
        size_t n = take_due(t, batch, settled, 64, &wait_ms);
        int shutdown = 0;
        for (size_t i = 0; i < n && !shutdown; i++) {
            if (atomic_load(&t->stopping) || process(t, batch[i], settled[i]) == -ESHUTDOWN)
                shutdown = 1;
        }
        if (shutdown)
            break;
        if (n)
            continue; /* more may be due right away */
        if (!t->root_watched && (wait_ms < 0 || wait_ms > 1000))
            wait_ms = 1000;
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
    t->set = g ? *g : (blob_settings){32, 5};
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
    t->qtail = &t->queue;
    t->buckets = calloc(256, sizeof *t->buckets);
    t->nbuckets = 256;
    if (!t->fn || !t->path_text || !t->cdir || !t->receipts || !t->poisondir || !t->buckets) {
        trig_free(t);
        return -ENOMEM;
    }
    sprintf(t->receipts, "%s/.fnhost/blobreceipts/%s", app, t->fn);
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
    atomic_store(&t->stopping, 0);
    rc = -pthread_create(&t->thread, NULL, thread_main, t);
    if (rc)
        return rc;
    t->running = 1;
    fnh_ext_log(t->b, FNH_LOG_INFO, "Blob trigger for 'Functions.%s' watching '%s' (path '%s')",
                t->fn, t->cdir, t->path_text);
    return 0;
}

/* An invocation finished: write the receipt, or count the failure, retry or
 * declare poison. Loop thread; may run after stop (then no retry is queued
 * now: the next start finds the blob again and reads the attempts). */
static void trig_complete(void *state, void *tokp, int status, const fnh_value *result)
{
    (void)result;
    trig *t = state;
    token *tok = tokp;
    entry *e = tok->e;
    int poison = 0;
    if (status == 0) {
        write_receipt(t, e->name, tok->etag, "Complete", tok->attempt - 1);
    } else if (tok->attempt >= t->set.poison_threshold) {
        poison = 1;
        write_receipt(t, e->name, tok->etag, "Poison", tok->attempt);
        write_poison(t, e->name, tok->etag, tok->attempt);
    } else {
        write_receipt(t, e->name, tok->etag, "Failed", tok->attempt);
        fnh_ext_log(t->b, FNH_LOG_WARN,
                    "Function 'Functions.%s' failed for blob '%s/%s' (attempt %d of %d): %s; "
                    "retrying",
                    t->fn, t->pat.container, e->name, tok->attempt, t->set.poison_threshold,
                    fnh_ext_strerror(t->b, status));
    }
    pthread_mutex_lock(&t->mu);
    t->inflight--;
    if (strcmp(e->etag, tok->etag) == 0) {
        if (status == 0 || poison) {
            e->state = E_DONE;
        } else {
            e->state = E_IDLE;
            e->attempts = tok->attempt;
            e->checked = 1;
            enqueue(t, e, blob_mono_ns() + RETRY_STEP_NS * tok->attempt, 1);
        }
    } else {
        e->state = E_IDLE;
    }
    if (e->recheck) {
        e->recheck = 0;
        enqueue(t, e, blob_mono_ns(), 0);
    }
    pthread_mutex_unlock(&t->mu);
    free(tok);
    wake(t);
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
