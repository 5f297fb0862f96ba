/* queue_store.c: the SQLite-backed queue store (see queue_store.h): schema,
 * puts, lease-based claims, batched acks (delete / release / poison /
 * renew), release of leases held by dead processes, peek and list.
 *
 * Durability: WAL mode with synchronous=NORMAL: a committed transaction
 * survives the death of the process (kill -9); only an OS crash may lose
 * the last transactions. Claims are committed before a message is handed to
 * a function and deletes happen only after it completed, so a message is
 * never lost, only (at worst) delivered again. */
#include "queue_store.h"

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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
                        "receipt = ?3, owner = ?4, owner_start = ?5 WHERE seq = ?1",
    [ST_DELETE] = "DELETE FROM messages WHERE seq = ?1 AND receipt = ?2",
    [ST_RELEASE] = "UPDATE messages SET visible = ?3, receipt = NULL, owner = NULL, "
                   "owner_start = NULL "
                   "WHERE seq = ?1 AND receipt = ?2",
    [ST_RENEW] = "UPDATE messages SET visible = ?3 WHERE seq = ?1 AND receipt = ?2",
    [ST_COPY_POISON] = "INSERT INTO messages(queue, id, body, inserted, expires, visible, "
                       "dequeue_count) SELECT ?3, ?4, body, ?5, ?6, ?5, 0 FROM messages "
                       "WHERE seq = ?1 AND receipt = ?2",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
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
    "CREATE INDEX IF NOT EXISTS messages_by_visible ON messages(queue, visible, seq);"
    "PRAGMA user_version = 1;"; /* schema version, for future migrations */

struct qstore {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    int64_t pid, start; /* this process, as lease owner */
};

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

int qstore_open(const char *path, qstore **out, char *err, size_t errlen)
{
    *out = NULL;
    int rc = make_parent(path);
    if (rc) {
        snprintf(err, errlen, "cannot create the folder of '%s': %s", path, strerror(-rc));
        return rc;
    }
    qstore *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->pid = (int64_t)getpid();
    s->start = proc_start(s->pid);
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
                       "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, &msg);
    if (src == SQLITE_OK)
        src = sqlite3_exec(s->db, SCHEMA, NULL, NULL, &msg);
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

static int begin(qstore *s)
{
    return step_done(s->st[ST_BEGIN]);
}

static int finish(qstore *s, int rc)
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

static int note_queue(qstore *s, const char *queue, int64_t now)
{
    sqlite3_stmt *q = s->st[ST_QUEUE];
    sqlite3_bind_text(q, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, now);
    return step_done(q);
}

int qstore_put(qstore *s, const char *queue, const char *const *bodies, const size_t *lens,
               size_t n, char (*ids)[37])
{
    int64_t now = qstore_now_ms();
    int rc = begin(s);
    if (rc)
        return rc;
    rc = note_queue(s, queue, now);
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
    return finish(s, rc);
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

int qstore_claim(qstore *s, const char *queue, int max, int64_t lease_ms, qstore_msg *out,
                 int *n)
{
    *n = 0;
    int rc = begin(s);
    if (rc)
        return rc;
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
        sqlite3_bind_int64(up, 4, s->pid);
        sqlite3_bind_int64(up, 5, s->start);
        rc = step_done(up);
    }
    rc = finish(s, rc);
    if (rc) {
        for (int i = 0; i < count; i++)
            qstore_msg_clear(&out[i]);
        return rc;
    }
    *n = count;
    return 0;
}

int qstore_apply(qstore *s, const qstore_ack *acks, size_t n, size_t *applied)
{
    size_t done = 0;
    if (applied)
        *applied = 0;
    if (n == 0)
        return 0;
    int rc = begin(s);
    if (rc)
        return rc;
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
    rc = finish(s, rc);
    if (rc == 0 && applied)
        *applied = done;
    return rc;
}

int qstore_release_dead_owners(qstore *s, const char *queue)
{
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(s->db,
                                 "SELECT DISTINCT owner, owner_start FROM messages WHERE "
                                 "queue = ?1 AND owner IS NOT NULL AND visible > ?4 AND "
                                 "NOT (owner = ?2 AND owner_start IS ?3)",
                                 -1, &st, NULL);
    if (src != SQLITE_OK)
        return sql_err(src);
    sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, s->pid);
    sqlite3_bind_int64(st, 3, s->start);
    sqlite3_bind_int64(st, 4, qstore_now_ms());
    int64_t dead[64][2];
    int ndead = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW && ndead < 64) {
        int64_t pid = sqlite3_column_int64(st, 0);
        int64_t start = sqlite3_column_int64(st, 1);
        if (pid <= 0 || pid > INT32_MAX)
            continue;
        int gone = kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        if (!gone) { /* the pid lives: the same process, or a new one with a reused pid? */
            int64_t now_start = proc_start(pid);
            gone = now_start >= 0 && start >= 0 && now_start != start;
        }
        if (gone) {
            dead[ndead][0] = pid;
            dead[ndead][1] = start;
            ndead++;
        }
    }
    sqlite3_finalize(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return sql_err(src);
    if (ndead == 0)
        return 0;
    int rc = begin(s);
    if (rc)
        return rc;
    src = sqlite3_prepare_v2(s->db,
                             "UPDATE messages SET visible = ?4, receipt = NULL, owner = NULL, "
                             "owner_start = NULL WHERE queue = ?1 AND owner = ?2 AND "
                             "owner_start IS ?3",
                             -1, &st, NULL);
    int total = 0;
    if (src != SQLITE_OK)
        rc = sql_err(src);
    for (int i = 0; i < ndead && rc == 0; i++) {
        sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, dead[i][0]);
        sqlite3_bind_int64(st, 3, dead[i][1]);
        sqlite3_bind_int64(st, 4, qstore_now_ms());
        rc = step_done(st);
        total += sqlite3_changes(s->db);
    }
    sqlite3_finalize(st);
    rc = finish(s, rc);
    return rc ? rc : total;
}

int qstore_purge_expired(qstore *s)
{
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(s->db, "DELETE FROM messages WHERE expires <= ?1", -1, &st,
                                 NULL);
    if (src != SQLITE_OK)
        return sql_err(src);
    sqlite3_bind_int64(st, 1, qstore_now_ms());
    src = sqlite3_step(st);
    int n = sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? n : sql_err(src);
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
