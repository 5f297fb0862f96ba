/* queue_util.h: small pure helpers of the queue extension (no SQLite, no
 * host calls, any thread): a tiny JSON reader (array splitting for the
 * output binding, one string of local.settings.json for the CLI), base64
 * decoding, TimeSpan parsing and the connection-setting classifier. */
#ifndef FNH_QUEUE_UTIL_H
#define FNH_QUEUE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* One element of a JSON array: text is malloc'd and NUL-terminated. JSON
 * strings become their unescaped text; other values keep their JSON text. */
typedef struct qjson_item {
    char *text;
    size_t len;
} qjson_item;

/* When [p, p+n) is a JSON array (surrounding white space allowed), sets
 * *items (malloc'd array, free with qjson_items_free) and *count and
 * returns 1; returns 0 when it is not a well-formed array; -ENOMEM. */
int qjson_split_array(const char *p, size_t n, qjson_item **items, size_t *count);
void qjson_items_free(qjson_item *items, size_t count);

/* The string at path (e.g. {"Values", "AzureWebJobsStorage"}) of the JSON
 * object text, malloc'd, or NULL when absent, not a string or malformed. */
char *qjson_get_string(const char *text, size_t n, const char *const *path, size_t depth);

/* Decodes strict base64 (padding optional, no white space) into a malloc'd
 * NUL-terminated buffer. Returns 0, -EINVAL when not base64, -ENOMEM. */
int qbase64_decode(const char *s, size_t n, char **out, size_t *outlen);

/* The base64 text (with padding) of [p, p+n), malloc'd and NUL-terminated;
 * *outlen (optional) gets its length. NULL when out of memory. */
char *qbase64_encode(const char *p, size_t n, size_t *outlen);

/* Parses a .NET TimeSpan "[d.]hh:mm:ss[.fffffff]" into milliseconds.
 * 0 or -EINVAL. */
int qtimespan_ms(const char *s, int64_t *ms);

/* What a storage connection setting's value asks for. */
typedef enum qconn_kind {
    QCONN_DEV,   /* UseDevelopmentStorage=true: <app root>/.fnhost/storage/queues.db */
    QCONN_PATH,  /* a local database file path */
    QCONN_CLOUD, /* an Azure Storage connection string: refused */
    QCONN_OTHER  /* anything else: refused */
} qconn_kind;

qconn_kind qconn_classify(const char *value);

/* The database file a connection value selects, malloc'd: dev storage or a
 * path relative to root ("./x.db"); NULL for CLOUD/OTHER or out of memory. */
char *qconn_db_path(const char *value, const char *root);

#endif
