/* queue_store.c: the SQLite-backed queue store (see queue_store.h): schema
 * and its migration, puts, lease-based claims, batched acks (delete /
 * release / poison / renew), release of leases held by dead processes of
 * this pid namespace, incremental purge, peek and list.
 *
 * Durability: WAL mode. QSTORE_SYNC_FULL connections flush the WAL at every
 * commit; QSTORE_SYNC_NORMAL ones do not (the writer of queue_writer.c
 * flushes the WAL itself, once for a whole group of commits). Claims are
 * committed before a message is handed to a function and deletes happen
 * only after it completed, so a message is never lost, only (at worst)
 * delivered again. */
#include "queue_store.h"

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TTL_MS (7LL * 24 * 3600 * 1000)

enum {
    ST_INSERT,
    ST_QUEUE,
    ST_HAS_VISIBLE,
    ST_SELECT_CLAIM,
    ST_UPDATE_CLAIM,
    ST_DELETE,
    ST_RELEASE,
    ST_RENEW,
    ST_COPY_POISON,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_UNDO_SAVEPOINT,
    ST_RELEASE_SAVEPOINT,
    ST_NEXT_VISIBLE,
    ST_PURGE,
    ST_COUNT
};

static const char *const SQL[ST_COUNT] = {
    [ST_INSERT] = "INSERT INTO messages(queue, id, body, inserted, expires, visible, "
                  "dequeue_count) VALUES(?1, ?2, ?3, ?4, ?5, ?4, 0)",
    [ST_QUEUE] = "INSERT OR IGNORE INTO queues(name, created) VALUES(?1, ?2)",
    [ST_HAS_VISIBLE] = "SELECT 1 FROM messages WHERE queue = ?1 AND visible <= ?2 "
                       "AND expires > ?2 LIMIT 1",
    [ST_SELECT_CLAIM] = "SELECT seq, id, body, inserted, expires, dequeue_count FROM messages "
                        "WHERE queue = ?1 AND visible <= ?2 AND expires > ?2 "
                        "ORDER BY visible, seq LIMIT ?3",
    [ST_UPDATE_CLAIM] = "UPDATE messages SET visible = ?2, dequeue_count = dequeue_count + 1, "
                        "receipt = ?3, owner = ?4, owner_start = ?5, owner_host = ?6, "
                        "owner_ns = ?7 WHERE seq = ?1",
    [ST_DELETE] = "DELETE FROM messages WHERE seq = ?1 AND receipt = ?2",
    [ST_RELEASE] = "UPDATE messages SET visible = ?3, receipt = NULL, owner = NULL, "
                   "owner_start = NULL, owner_host = NULL, owner_ns = NULL "
                   "WHERE seq = ?1 AND receipt = ?2",
    [ST_RENEW] = "UPDATE messages SET visible = ?3 WHERE seq = ?1 AND receipt = ?2",
    [ST_COPY_POISON] = "INSERT INTO messages(queue, id, body, inserted, expires, visible, "
                       "dequeue_count) SELECT ?3, ?4, body, ?5, ?6, ?5, 0 FROM messages "
                       "WHERE seq = ?1 AND receipt = ?2",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT req",
    [ST_UNDO_SAVEPOINT] = "ROLLBACK TO req",
    [ST_RELEASE_SAVEPOINT] = "RELEASE req",
    [ST_NEXT_VISIBLE] = "SELECT min(visible) FROM messages WHERE queue = ?1 AND visible > ?2 "
                        "AND expires > ?2",
    [ST_PURGE] = "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages "
                 "WHERE expires <= ?1 ORDER BY expires LIMIT ?2)",
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS queues(name TEXT PRIMARY KEY, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS messages("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " queue TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " body BLOB NOT NULL,"
    " inserted INTEGER NOT NULL,"
    " expires INTEGER NOT NULL,"
    " visible INTEGER NOT NULL,"
    " dequeue_count INTEGER NOT NULL DEFAULT 0,"
    " receipt TEXT,"
    " owner INTEGER,"        /* pid of the process holding the lease */
    " owner_start INTEGER);" /* and its start time (/proc/<pid>/stat), against pid reuse */
    "CREATE INDEX IF NOT EXISTS messages_by_visible ON messages(queue, visible, seq);";

/* Version 2: a lease names its owner across pid namespaces and machines
 * (owner_host: the process's instance id; owner_ns: "<boot id>/<pid
 * namespace inode>", where owner and owner_start mean something); expired
 * messages are found by index. Runs in a write transaction, so two
 * processes opening an old file at once migrate it once. */
static const char MIGRATE_2[] =
    "ALTER TABLE messages ADD COLUMN owner_host TEXT;"
    "ALTER TABLE messages ADD COLUMN owner_ns TEXT;"
    "CREATE INDEX IF NOT EXISTS messages_by_expires ON messages(expires);"
    "PRAGMA user_version = 2;";

/* This process as a lease owner: computed once, read-only after. */
typedef struct owner_id {
    int64_t pid, start;
    char host[37]; /* random per process: an instance id */
    char ns[96];   /* boot id + pid namespace inode */
} owner_id;

struct qstore {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    const owner_id *me;
};

static owner_id g_me;
static pthread_once_t g_me_once = PTHREAD_ONCE_INIT;

/* The start time (clock ticks since boot) of process pid, or -1. */
static int64_t proc_start(int64_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* field 2 (comm) may hold spaces and parentheses: count from the last ')' */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    int field = 2;
    for (; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    return field == 22 ? strtoll(p, NULL, 10) : -1;
}

/* "<boot id>/<inode of /proc/self/ns/pid>": equal for two processes exactly
 * when their pids name the same processes. */
static void pid_namespace(char *buf, size_t n)
{
    char boot[64] = "";
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(boot, sizeof boot, f))
            boot[0] = '\0';
        fclose(f);
        boot[strcspn(boot, "\n")] = '\0';
    }
    struct stat st;
    if (!boot[0] || stat("/proc/self/ns/pid", &st) != 0) {
        snprintf(buf, n, "unknown"); /* never equal to a real one: no fast path */
        return;
    }
    snprintf(buf, n, "%s/%llu", boot, (unsigned long long)st.st_ino);
}

static void init_me(void)
{
    g_me.pid = (int64_t)getpid();
    g_me.start = proc_start(g_me.pid);
    qstore_guid(g_me.host);
    pid_namespace(g_me.ns, sizeof g_me.ns);
}

const char *qstore_instance_id(void)
{
    pthread_once(&g_me_once, init_me);
    return g_me.host;
}

int64_t qstore_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void qstore_format_time(int64_t ms, char buf[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char head[24];
    strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, 32, "%s.%03dZ", head, (int)(ms % 1000));
}

void qstore_guid(char buf[37])
{
    unsigned char r[16];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno != EINTR)
            break;
    }
    if (got < sizeof r) { /* no entropy source: fall back to time and counter */
        uint64_t x = (uint64_t)qstore_now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)clock();
        for (size_t i = 0; i < sizeof r; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            r[i] = (unsigned char)x;
        }
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(buf, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

const char *qstore_name_problem(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 || n > 63)
        return "a queue name has 3 to 63 characters";
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            return "a queue name has only lower-case letters";
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return "a queue name has only lower-case letters, digits and '-'";
        if (c == '-' && (i == 0 || i == n - 1))
            return "a queue name starts and ends with a letter or digit";
        if (c == '-' && name[i + 1] == '-')
            return "a queue name has no consecutive '-'";
    }
    return NULL;
}

static int sql_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return -EACCES;
    case SQLITE_FULL:
        return -ENOSPC;
    default:
        return -EIO;
    }
}

/* mkdir -p of path's parent folder. */
static int make_parent(const char *path)
{
    char *dup = strdup(path);
    if (!dup)
        return -ENOMEM;
    char *slash = strrchr(dup, '/');
    if (slash && slash != dup) {
        *slash = '\0';
        for (char *p = dup + 1; *p; p++) {
            if (*p != '/')
                continue;
            *p = '\0';
            if (mkdir(dup, 0777) != 0 && errno != EEXIST) {
                int e = -errno;
                free(dup);
                return e;
            }
            *p = '/';
        }
        if (mkdir(dup, 0777) != 0 && errno != EEXIST) {
            int e = -errno;
            free(dup);
            return e;
        }
    }
    free(dup);
    return 0;
}

/* Brings an existing file to the current schema (see MIGRATE_2). */
static int migrate(sqlite3 *db, char **msg)
{
    int src = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, msg);
    if (src != SQLITE_OK)
        return src;
    sqlite3_stmt *st;
    int version = 0;
    src = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (src == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (src == SQLITE_OK && version < 2)
        src = sqlite3_exec(db, MIGRATE_2, NULL, NULL, msg);
    if (src == SQLITE_OK)
        src = sqlite3_exec(db, "COMMIT", NULL, NULL, msg);
    if (src != SQLITE_OK && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return src;
}

int qstore_open(const char *path, qstore_sync sync, qstore **out, char *err, size_t errlen)
{
    *out = NULL;
    pthread_once(&g_me_once, init_me);
    int rc = make_parent(path);
    if (rc) {
        snprintf(err, errlen, "cannot create the folder of '%s': %s", path, strerror(-rc));
        return rc;
    }
    qstore *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->me = &g_me;
    int src = sqlite3_open_v2(path, &s->db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                  SQLITE_OPEN_NOMUTEX,
                              NULL);
    if (src != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the queue database '%s': %s", path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
        rc = sql_err(src);
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 10000);
    char *msg = NULL;
    src = sqlite3_exec(s->db,
                       sync == QSTORE_SYNC_FULL
                           ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                             "PRAGMA temp_store=MEMORY;"
                           : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                             "PRAGMA temp_store=MEMORY;",
                       NULL, NULL, &msg);
    if (src == SQLITE_OK)
        src = sqlite3_exec(s->db, SCHEMA, NULL, NULL, &msg);
    if (src == SQLITE_OK)
        src = migrate(s->db, &msg);
    if (src != SQLITE_OK) {
        snprintf(err, errlen, "cannot initialise the queue database '%s': %s", path,
                 msg ? msg : sqlite3_errstr(src));
        sqlite3_free(msg);
        rc = sql_err(src);
        goto fail;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        src = sqlite3_prepare_v3(s->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (src != SQLITE_OK) {
            snprintf(err, errlen, "queue database '%s': %s", path, sqlite3_errmsg(s->db));
            rc = sql_err(src);
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    if (rc == 0)
        rc = -EIO;
    qstore_close(s);
    return rc;
}

void qstore_close(qstore *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s);
}

const char *qstore_errmsg(qstore *s)
{
    return s && s->db ? sqlite3_errmsg(s->db) : "out of memory";
}

/* Runs a statement without results to completion and resets it. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sql_err(rc);
}

int qstore_begin(qstore *s)
{
    return step_done(s->st[ST_BEGIN]);
}

int qstore_finish(qstore *s, int rc)
{
    if (rc == 0) {
        rc = step_done(s->st[ST_COMMIT]);
        if (rc == 0)
            return 0;
    }
    if (!sqlite3_get_autocommit(s->db))
        step_done(s->st[ST_ROLLBACK]);
    return rc;
}

int qstore_savepoint(qstore *s)
{
    return step_done(s->st[ST_SAVEPOINT]);
}

int qstore_savepoint_end(qstore *s, int rc)
{
    if (rc)
        step_done(s->st[ST_UNDO_SAVEPOINT]);
    int r2 = step_done(s->st[ST_RELEASE_SAVEPOINT]);
    return rc ? rc : r2;
}

static int note_queue(qstore *s, const char *queue, int64_t now)
{
    sqlite3_stmt *q = s->st[ST_QUEUE];
    sqlite3_bind_text(q, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, now);
    return step_done(q);
}

int qstore_put_tx(qstore *s, const char *queue, const char *const *bodies, const size_t *lens,
                  size_t n, char (*ids)[37])
{
    int64_t now = qstore_now_ms();
    int rc = note_queue(s, queue, now);
    sqlite3_stmt *st = s->st[ST_INSERT];
    for (size_t i = 0; i < n && rc == 0; i++) {
        char id[37];
        qstore_guid(id);
        sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 3, lens[i] ? bodies[i] : "", lens[i], SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_int64(st, 5, now + TTL_MS);
        rc = step_done(st);
        if (rc == 0 && ids)
            memcpy(ids[i], id, 37);
    }
    return rc;
}

int qstore_put(qstore *s, const char *queue, const char *const *bodies, const size_t *lens,
               size_t n, char (*ids)[37])
{
    int rc = qstore_begin(s);
    if (rc)
        return rc;
    return qstore_finish(s, qstore_put_tx(s, queue, bodies, lens, n, ids));
}

int qstore_has_visible(qstore *s, const char *queue)
{
    sqlite3_stmt *st = s->st[ST_HAS_VISIBLE];
    sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, qstore_now_ms());
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : sql_err(rc);
}

int64_t qstore_next_visible(qstore *s, const char *queue)
{
    sqlite3_stmt *st = s->st[ST_NEXT_VISIBLE];
    sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, qstore_now_ms());
    int rc = sqlite3_step(st);
    int64_t at = 0;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        at = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sql_err(rc);
    return at;
}

void qstore_msg_clear(qstore_msg *m)
{
    free(m->body);
    m->body = NULL;
    m->len = 0;
}

static int read_row(sqlite3_stmt *st, qstore_msg *m)
{
    memset(m, 0, sizeof *m);
    m->seq = sqlite3_column_int64(st, 0);
    const unsigned char *id = sqlite3_column_text(st, 1);
    snprintf(m->id, sizeof m->id, "%s", id ? (const char *)id : "");
    const void *body = sqlite3_column_blob(st, 2);
    int len = sqlite3_column_bytes(st, 2);
    m->body = malloc((size_t)len + 1);
    if (!m->body)
        return -ENOMEM;
    if (len)
        memcpy(m->body, body, (size_t)len);
    m->body[len] = '\0';
    m->len = (size_t)len;
    m->inserted = sqlite3_column_int64(st, 3);
    m->expires = sqlite3_column_int64(st, 4);
    m->dequeue_count = sqlite3_column_int64(st, 5);
    return 0;
}

int qstore_claim_tx(qstore *s, const char *queue, int max, int64_t lease_ms, qstore_msg *out,
                    int *n)
{
    *n = 0;
    int rc = 0;
    int64_t now = qstore_now_ms();
    sqlite3_stmt *sel = s->st[ST_SELECT_CLAIM];
    sqlite3_bind_text(sel, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(sel, 2, now);
    sqlite3_bind_int(sel, 3, max);
    int count = 0, src = SQLITE_DONE;
    while (rc == 0 && count < max && (src = sqlite3_step(sel)) == SQLITE_ROW) {
        rc = read_row(sel, &out[count]);
        if (rc == 0)
            count++;
    }
    if (rc == 0 && count < max && src != SQLITE_DONE)
        rc = sql_err(src);
    sqlite3_reset(sel);
    sqlite3_clear_bindings(sel);
    sqlite3_stmt *up = s->st[ST_UPDATE_CLAIM];
    for (int i = 0; i < count && rc == 0; i++) {
        qstore_msg *m = &out[i];
        qstore_guid(m->receipt);
        m->visible = now + lease_ms;
        m->dequeue_count++;
        sqlite3_bind_int64(up, 1, m->seq);
        sqlite3_bind_int64(up, 2, m->visible);
        sqlite3_bind_text(up, 3, m->receipt, -1, SQLITE_STATIC);
        sqlite3_bind_int64(up, 4, s->me->pid);
        sqlite3_bind_int64(up, 5, s->me->start);
        sqlite3_bind_text(up, 6, s->me->host, -1, SQLITE_STATIC);
        sqlite3_bind_text(up, 7, s->me->ns, -1, SQLITE_STATIC);
        rc = step_done(up);
    }
    if (rc) {
        for (int i = 0; i < count; i++)
            qstore_msg_clear(&out[i]);
        return rc;
    }
    *n = count;
    return 0;
}

int qstore_apply_tx(qstore *s, const qstore_ack *acks, size_t n, size_t *applied)
{
    size_t done = 0;
    int rc = 0;
    int64_t now = qstore_now_ms();
    for (size_t i = 0; i < n && rc == 0; i++) {
        const qstore_ack *a = &acks[i];
        sqlite3_stmt *st;
        if (a->op == QSTORE_POISON) {
            char id[37];
            qstore_guid(id);
            rc = note_queue(s, a->poison, now);
            if (rc)
                break;
            st = s->st[ST_COPY_POISON];
            sqlite3_bind_int64(st, 1, a->seq);
            sqlite3_bind_text(st, 2, a->receipt, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, a->poison, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 5, now);
            sqlite3_bind_int64(st, 6, now + TTL_MS);
            rc = step_done(st);
            if (rc)
                break;
        }
        st = a->op == QSTORE_RELEASE ? s->st[ST_RELEASE]
             : a->op == QSTORE_RENEW ? s->st[ST_RENEW]
                                     : s->st[ST_DELETE];
        sqlite3_bind_int64(st, 1, a->seq);
        sqlite3_bind_text(st, 2, a->receipt, -1, SQLITE_STATIC);
        if (a->op == QSTORE_RELEASE || a->op == QSTORE_RENEW)
            sqlite3_bind_int64(st, 3, now + a->delay_ms);
        rc = step_done(st);
        if (rc == 0 && sqlite3_changes(s->db) > 0)
            done++;
    }
    if (applied)
        *applied = rc ? 0 : done;
    return rc;
}

int qstore_apply(qstore *s, const qstore_ack *acks, size_t n, size_t *applied)
{
    if (applied)
        *applied = 0;
    if (n == 0)
        return 0;
    int rc = qstore_begin(s);
    if (rc)
        return rc;
    return qstore_finish(s, qstore_apply_tx(s, acks, n, applied));
}

int qstore_find_dead_owners(qstore *s, const char *queue, qstore_owner *dead, int max)
{
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(s->db,
                                 "SELECT DISTINCT owner, owner_start FROM messages WHERE "
                                 "queue = ?1 AND owner_host IS NOT NULL AND visible > ?2 AND "
                                 "owner_host != ?3 AND owner_ns = ?4",
                                 -1, &st, NULL);
    if (src != SQLITE_OK)
        return sql_err(src);
    sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, qstore_now_ms());
    sqlite3_bind_text(st, 3, s->me->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, s->me->ns, -1, SQLITE_STATIC);
    int ndead = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW && ndead < max) {
        int64_t pid = sqlite3_column_int64(st, 0);
        int64_t start = sqlite3_column_int64(st, 1);
        if (pid <= 0 || pid > INT32_MAX)
            continue;
        /* same pid namespace: the pid names the same process for both of us */
        int gone = kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        if (!gone) { /* the pid lives: the same process, or a new one with a reused pid? */
            int64_t now_start = proc_start(pid);
            gone = now_start >= 0 && start >= 0 && now_start != start;
        }
        if (gone) {
            dead[ndead].pid = pid;
            dead[ndead].start = start;
            ndead++;
        }
    }
    sqlite3_finalize(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return sql_err(src);
    return ndead;
}

int qstore_release_owners_tx(qstore *s, const char *queue, const qstore_owner *dead, int n)
{
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(s->db,
                                 "UPDATE messages SET visible = ?5, receipt = NULL, owner = NULL, "
                                 "owner_start = NULL, owner_host = NULL, owner_ns = NULL "
                                 "WHERE queue = ?1 AND owner = ?2 AND owner_start IS ?3 AND "
                                 "owner_ns = ?4",
                                 -1, &st, NULL);
    if (src != SQLITE_OK)
        return sql_err(src);
    int rc = 0, total = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, dead[i].pid);
        sqlite3_bind_int64(st, 3, dead[i].start);
        sqlite3_bind_text(st, 4, s->me->ns, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, qstore_now_ms());
        rc = step_done(st);
        total += sqlite3_changes(s->db);
    }
    sqlite3_finalize(st);
    return rc ? rc : total;
}

int qstore_release_dead_owners(qstore *s, const char *queue)
{
    qstore_owner dead[64];
    int n = qstore_find_dead_owners(s, queue, dead, 64);
    if (n <= 0)
        return n;
    int rc = qstore_begin(s);
    if (rc)
        return rc;
    int total = qstore_release_owners_tx(s, queue, dead, n);
    rc = qstore_finish(s, total < 0 ? total : 0);
    return rc ? rc : total;
}

int qstore_purge_chunk_tx(qstore *s, int max)
{
    sqlite3_stmt *st = s->st[ST_PURGE];
    sqlite3_bind_int64(st, 1, qstore_now_ms());
    sqlite3_bind_int(st, 2, max);
    int rc = step_done(st);
    return rc ? rc : sqlite3_changes(s->db);
}

int qstore_purge_expired(qstore *s)
{
    int total = 0;
    for (;;) {
        int rc = qstore_begin(s);
        if (rc)
            return rc;
        int n = qstore_purge_chunk_tx(s, 1000);
        rc = qstore_finish(s, n < 0 ? n : 0);
        if (rc)
            return rc;
        total += n;
        if (n < 1000)
            return total;
    }
}

int qstore_peek(qstore *s, const char *queue, int count,
                void (*fn)(void *arg, const qstore_msg *msg), void *arg)
{
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(s->db,
                                 "SELECT seq, id, body, inserted, expires, dequeue_count, "
                                 "visible FROM messages WHERE queue = ?1 AND visible <= ?2 "
                                 "AND expires > ?2 ORDER BY visible, seq LIMIT ?3",
                                 -1, &st, NULL);
    if (src != SQLITE_OK)
        return sql_err(src);
    sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, qstore_now_ms());
    sqlite3_bind_int(st, 3, count);
    int rc = 0;
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        qstore_msg m;
        rc = read_row(st, &m);
        if (rc == 0) {
            m.visible = sqlite3_column_int64(st, 6);
            fn(arg, &m);
        }
        qstore_msg_clear(&m);
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = sql_err(src);
    sqlite3_finalize(st);
    return rc;
}

int qstore_list(qstore *s, void (*fn)(void *arg, const char *queue, int64_t depth,
                                      int64_t visible),
                void *arg)
{
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(
        s->db,
        "SELECT q.name, (SELECT count(*) FROM messages m WHERE m.queue = q.name), "
        "(SELECT count(*) FROM messages m WHERE m.queue = q.name AND m.visible <= ?1 "
        "AND m.expires > ?1) FROM (SELECT name FROM queues UNION "
        "SELECT DISTINCT queue FROM messages) q ORDER BY q.name",
        -1, &st, NULL);
    if (src != SQLITE_OK)
        return sql_err(src);
    sqlite3_bind_int64(st, 1, qstore_now_ms());
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        fn(arg, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
           sqlite3_column_int64(st, 2));
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? 0 : sql_err(src);
}

int64_t qstore_depth(qstore *s, const char *queue)
{
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM messages WHERE queue = ?1", -1,
                                 &st, NULL);
    if (src != SQLITE_OK)
        return sql_err(src);
    sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
    int64_t n = -EIO;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}
