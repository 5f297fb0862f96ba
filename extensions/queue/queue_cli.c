/* queue_cli.c: `fnhost queue put|peek|list`: works on the same local queue
 * database as a running host (SQLite WAL allows both at once). The database
 * is the one the app's AzureWebJobsStorage setting selects (environment
 * first, then <script root>/local.settings.json Values), by default
 * <script root>/.fnhost/storage/queues.db. Messages are written and shown
 * in the app's host.json extensions.queues.messageEncoding (base64 unless
 * "none"), as the app's functions see them.
 * Exit status: 0 done, 1 failure, 2 usage error. Runs in the CLI process
 * (no host loop, one thread). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queue_ext.h"
#include "queue_store.h"
#include "queue_util.h"

static const char USAGE[] =
    "usage: fnhost queue put NAME MESSAGE|@FILE [--script-root DIR]\n"
    "       fnhost queue peek NAME [--count N] [--script-root DIR]\n"
    "       fnhost queue list [--script-root DIR]\n"
    "put prints the new message's id; peek prints up to N (default 1) visible messages,\n"
    "oldest first, as ID<TAB>DEQUEUE-COUNT<TAB>TEXT without dequeuing them; list prints\n"
    "every queue with its message count and its poison queue's count. put encodes and\n"
    "peek decodes the text as host.json extensions.queues.messageEncoding says (base64\n"
    "unless \"none\").\n";

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "fnhost queue: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", USAGE);
    return 2;
}

static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *g = realloc(buf, cap * 2);
            if (!g) {
                free(buf);
                return NULL;
            }
            buf = g;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The AzureWebJobsStorage value: environment (through the host), else
 * local.settings.json of root. malloc'd or NULL. */
static char *storage_setting(fnh_ext *ext, const char *root)
{
    const char *v = ext ? fnh_ext_setting(ext, QUEUE_DEFAULT_SETTING) : NULL;
    if (v && *v)
        return strdup(v);
    char path[4096];
    snprintf(path, sizeof path, "%s/local.settings.json", root);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t len = 0;
    char *text = read_all(f, &len);
    fclose(f);
    if (!text)
        return NULL;
    const char *keys[] = {"Values", QUEUE_DEFAULT_SETTING};
    char *out = qjson_get_string(text, len, keys, 2);
    free(text);
    return out;
}

/* 1 unless root/host.json sets extensions.queues.messageEncoding "none". */
static int app_base64(const char *root)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/host.json", root);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 1;
    size_t len = 0;
    char *text = read_all(f, &len);
    fclose(f);
    if (!text)
        return 1;
    const char *keys[] = {"extensions", "queues", "messageEncoding"};
    char *enc = qjson_get_string(text, len, keys, 3);
    free(text);
    int base64 = !(enc && strcasecmp(enc, "none") == 0);
    free(enc);
    return base64;
}

static void print_peek(void *arg, const qstore_msg *m)
{
    const int *base64 = arg;
    printf("%s\t%lld\t", m->id, (long long)m->dequeue_count);
    const char *body = m->body;
    size_t len = m->len;
    char *decoded = NULL;
    if (*base64 && qbase64_decode(body, len, &decoded, &len) == 0)
        body = decoded;
    else
        len = m->len;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else
            putchar(c);
    }
    putchar('\n');
    free(decoded);
}

typedef struct row {
    char *name;
    int64_t depth, visible;
} row;

typedef struct rows {
    row *r;
    size_t n, cap;
    int oom;
} rows;

static void collect(void *arg, const char *queue, int64_t depth, int64_t visible)
{
    rows *rs = arg;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 16;
        row *g = realloc(rs->r, cap * sizeof *g);
        if (!g) {
            rs->oom = 1;
            return;
        }
        rs->r = g;
        rs->cap = cap;
    }
    rs->r[rs->n].name = strdup(queue ? queue : "");
    rs->r[rs->n].depth = depth;
    rs->r[rs->n].visible = visible;
    rs->n++;
}

static int64_t find_depth(const rows *rs, const char *name)
{
    for (size_t i = 0; i < rs->n; i++)
        if (rs->r[i].name && strcmp(rs->r[i].name, name) == 0)
            return rs->r[i].depth;
    return -1;
}

static int do_list(qstore *s)
{
    rows rs = {0};
    int rc = qstore_list(s, collect, &rs);
    if (rc || rs.oom) {
        fprintf(stderr, "fnhost queue: cannot list queues: %s\n", qstore_errmsg(s));
        rc = 1;
    } else {
        printf("%-40s %10s %10s\n", "QUEUE", "MESSAGES", "POISON");
        for (size_t i = 0; i < rs.n; i++) {
            const char *name = rs.r[i].name;
            if (!name)
                continue;
            size_t len = strlen(name);
            if (len > 7 && strcmp(name + len - 7, "-poison") == 0) {
                char base[64];
                snprintf(base, sizeof base, "%.*s", (int)(len - 7), name);
                if (find_depth(&rs, base) >= 0)
                    continue; /* shown in its queue's row */
            }
            char poison[80];
            snprintf(poison, sizeof poison, "%s-poison", name);
            int64_t pd = find_depth(&rs, poison);
            printf("%-40s %10lld %10lld\n", name, (long long)rs.r[i].depth,
                   (long long)(pd < 0 ? 0 : pd));
        }
    }
    for (size_t i = 0; i < rs.n; i++)
        free(rs.r[i].name);
    free(rs.r);
    return rc;
}

/* The command line, once parsed. */
typedef struct cli {
    const char *root;    /* --script-root */
    long count;          /* --count */
    const char *word[3]; /* the words that are not options */
    int nwords;
    const char *cmd;     /* put, peek or list */
    const char *name;    /* the queue (put, peek) */
    const char *text;    /* put's MESSAGE or @FILE */
} cli;

/* Reads the options and up to three words into c. Returns -1 to go on, else
 * the exit status (usage or help printed). */
static int parse_args(int argc, char **argv, cli *c)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--script-root") == 0 || strcmp(a, "--count") == 0) {
            if (i + 1 >= argc)
                return usage("%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 's') {
                c->root = v;
            } else {
                char *end;
                c->count = strtol(v, &end, 10);
                if (*end || c->count < 1 || c->count > 32)
                    return usage("--count must be a number from 1 to 32, not '%s'", v);
            }
        } else if (strncmp(a, "--script-root=", 14) == 0) {
            c->root = a + 14;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(USAGE, stdout);
            return 0;
        } else if (a[0] == '-' && a[1] == '-') {
            return usage("unknown option '%s'", a);
        } else if (c->nwords < 3) {
            c->word[c->nwords++] = a;
        } else {
            return usage("unexpected argument '%s'", a);
        }
    }
    return -1;
}

/* Checks the words: a subcommand, its arguments and a valid queue name.
 * Returns -1 to go on, else the exit status (2, reported). */
static int check_words(cli *c)
{
    if (c->nwords == 0)
        return usage("%s", "missing subcommand (put, peek or list)");
    c->cmd = c->word[0];
    int want = strcmp(c->cmd, "put") == 0 ? 3 : strcmp(c->cmd, "peek") == 0 ? 2
                                             : strcmp(c->cmd, "list") == 0 ? 1
                                                                           : -1;
    if (want < 0)
        return usage("unknown subcommand '%s' (use put, peek or list)", c->cmd);
    if (c->nwords != want)
        return usage("wrong number of arguments for '%s'", c->cmd);
    c->name = c->word[1];
    c->text = c->word[2];
    if (c->name) {
        const char *problem = qstore_name_problem(c->name);
        if (problem) {
            fprintf(stderr, "fnhost queue: '%s' is not a valid queue name: %s\n", c->name,
                    problem);
            return 2;
        }
    }
    return -1;
}

/* The database the app's AzureWebJobsStorage setting selects (malloc'd), or
 * NULL after saying why there is none. */
static char *db_path(fnh_ext *ext, const char *root)
{
    char *setting = storage_setting(ext, root);
    int kind = setting ? qconn_classify(setting) : QCONN_DEV;
    if (kind == QCONN_OTHER) {
        fprintf(stderr,
                "fnhost queue: AzureWebJobsStorage ('%s') is neither "
                "\"UseDevelopmentStorage=true\" nor a database file path (absolute or starting "
                "with ./)\n",
                setting);
        free(setting);
        return NULL;
    }
    if (kind == QCONN_CLOUD) {
        fprintf(stderr,
                "fnhost queue: AzureWebJobsStorage is an Azure Storage connection string; "
                "fnhost emulates Azure Storage queues locally in .fnhost/storage. Set "
                "\"AzureWebJobsStorage\": \"UseDevelopmentStorage=true\" in "
                "local.settings.json\n");
        free(setting);
        return NULL;
    }
    char *path = qconn_db_path(kind == QCONN_PATH ? setting : "UseDevelopmentStorage=true", root);
    free(setting);
    if (!path)
        fprintf(stderr, "fnhost queue: out of memory\n");
    return path;
}

/* put's message: the text itself, or for @FILE the file's contents (@- is
 * standard input). Returns 0 with *msg (malloc'd) and *len, or 1 after
 * saying why not. */
static int read_message(const char *text, char **msg, size_t *len)
{
    if (text[0] == '@') {
        const char *file = text + 1;
        FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
        if (!f) {
            fprintf(stderr, "fnhost queue: cannot read '%s': %s\n", file, strerror(errno));
            return 1;
        }
        *msg = read_all(f, len);
        if (f != stdin)
            fclose(f);
        if (!*msg) {
            fprintf(stderr, "fnhost queue: cannot read '%s'\n", file);
            return 1;
        }
    } else {
        *msg = strdup(text);
        *len = *msg ? strlen(*msg) : 0;
    }
    if (*len > 64 * 1024) {
        fprintf(stderr, "fnhost queue: the message has %zu bytes; a queue message has at "
                        "most 65536\n",
                *len);
        free(*msg);
        *msg = NULL;
        return 1;
    }
    return 0;
}

static int do_put(qstore *s, const char *name, const char *msg, size_t len, int base64)
{
    char id[1][37];
    char *enc = base64 ? qbase64_encode(msg ? msg : "", len, &len) : NULL;
    if (base64 && !enc) {
        fprintf(stderr, "fnhost queue: out of memory\n");
        return 1;
    }
    const char *bodies[1] = {enc ? enc : msg ? msg : ""};
    size_t lens[1] = {len};
    int rc = qstore_put(s, name, bodies, lens, 1, id);
    free(enc);
    if (rc) {
        fprintf(stderr, "fnhost queue: cannot add to queue '%s': %s\n", name, qstore_errmsg(s));
        return 1;
    }
    printf("%s\n", id[0]);
    return 0;
}

static int do_peek(qstore *s, const char *name, long count, int base64)
{
    if (qstore_peek(s, name, (int)count, print_peek, &base64)) {
        fprintf(stderr, "fnhost queue: cannot read queue '%s': %s\n", name, qstore_errmsg(s));
        return 1;
    }
    return 0;
}

int fnh_queue_cli(fnh_ext *ext, int argc, char **argv)
{
    cli c = {.root = ".", .count = 1};
    int status = parse_args(argc, argv, &c);
    if (status < 0)
        status = check_words(&c);
    if (status >= 0)
        return status;
    char *path = db_path(ext, c.root);
    if (!path)
        return 1;
    /* put reads its message before touching the database */
    char *msg = NULL;
    size_t msg_len = 0;
    if (strcmp(c.cmd, "put") == 0 && read_message(c.text, &msg, &msg_len)) {
        free(path);
        return 1;
    }
    qstore *s = NULL;
    char err[512];
    int rc = qstore_open(path, QSTORE_SYNC_FULL, &s, err, sizeof err);
    free(path);
    if (rc) {
        fprintf(stderr, "fnhost queue: %s\n", err);
        free(msg);
        return 1;
    }
    if (strcmp(c.cmd, "put") == 0)
        status = do_put(s, c.name, msg, msg_len, app_base64(c.root));
    else if (strcmp(c.cmd, "peek") == 0)
        status = do_peek(s, c.name, c.count, app_base64(c.root));
    else
        status = do_list(s);
    fflush(stdout);
    free(msg);
    qstore_close(s);
    return status;
}
