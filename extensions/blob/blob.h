/* blob.h: internals of the blob extension (fnh_blob.so), shared by its C files.
 *
 *   blob_path.c     path patterns ("container/{name}.{ext}"), container and
 *                   blob name rules, content types, file:// URIs, JSON text
 *   blob_fs.c       the storage root chosen by a connection setting, safe
 *                   folder walks, atomic writes, reads, receipts and poison
 *                   records, time formatting
 *   blob_hash.c     SHA-256, the content identity of a blob version
 *   blob_lease.c    claims on blob versions shared by several hosts
 *   blob_trigger.c  the blobTrigger: inotify + scans on its own thread
 *   blob_ext.c      the descriptor, host.json settings, blob input/output
 *
 * Everything here is internal: the only exported symbol of the .so is
 * fnh_extension (the files are built with -fvisibility=hidden). Functions
 * return 0 or a negative errno unless stated; strings they return are
 * malloc'd and owned by the caller unless stated. */
#ifndef FNH_BLOB_H
#define FNH_BLOB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <fnhost/extension.h>

#define BLOB_EXT_VERSION "1.0.0"

/* Name prefix of the temp files atomic writes create; the trigger ignores
 * every path component starting with it. */
#define BLOB_TMP_PREFIX ".fnh-tmp."

/* host.json extensions.blobs settings (read in init, copied into each binding). */
typedef struct blob_settings {
    int max_parallel;     /* maxDegreeOfParallelism: invocations in flight per trigger */
    int poison_threshold; /* poisonBlobThreshold: failures before a blob is poison (5) */
    int quiet_ms;         /* quietPeriodMs: a blob fires after this long without a write (0) */
    int lease_s;          /* leaseSeconds: a claim not renewed for this long is dead (15) */
} blob_settings;

/* ---- blob_path.c ---------------------------------------------------- */

/* A parsed trigger path: a literal container plus a pattern for the blob
 * name made of literal and {parameter} parts. */
typedef struct blob_part {
    int is_param;
    char *text; /* literal text (escapes removed) or the parameter name */
} blob_part;

typedef struct blob_pattern {
    char *container;
    blob_part *parts; /* empty: every blob of the container matches */
    size_t nparts;
    size_t nparams;
} blob_pattern;

/* One capture of a successful match: a parameter name (borrowed from the
 * pattern) and its value (malloc'd). */
typedef struct blob_capture {
    const char *name;
    char *value;
} blob_capture;

/* Parses a trigger path "container[/pattern]". On error returns -EINVAL and
 * writes a sentence for the user into err. */
int blob_pattern_parse(const char *path, blob_pattern *out, char *err, size_t errlen);
void blob_pattern_free(blob_pattern *p);

/* Matches a blob name (relative to the container, '/'-separated) against the
 * pattern. Parameters capture one or more characters, greedily, so in
 * "{a}.{b}" the last '.' splits. On a match returns 1 and fills caps (an
 * array of p->nparams, values to be freed with blob_captures_free); 0 when it
 * does not match; -ENOMEM. */
int blob_pattern_match(const blob_pattern *p, const char *name, blob_capture *caps);
void blob_captures_free(blob_capture *caps, size_t n);

/* 0 when name is a valid Azure container name (3-63 characters, lower-case
 * letters, digits and single '-' between them), else -EINVAL with a reason. */
int blob_container_check(const char *name, char *err, size_t errlen);

/* Splits a resolved input/output path "container/a/b.txt" into a malloc'd
 * container and blob name ('\' taken as '/'). -EINVAL (reason in err) for a
 * bad container or an empty or ill-formed name; -EACCES for a path that tries
 * to leave its container (absolute, ".." or "." segments). */
int blob_split_path(const char *path, char **container, char **name, char *err, size_t errlen);

/* A guess at a content type from the file extension: text/plain,
 * application/json, ... or application/octet-stream. Static storage. */
const char *blob_content_type(const char *name);

/* "file://" + the absolute path, percent-encoded. */
char *blob_file_uri(const char *abs_path);

/* A growable string. All appenders keep it NUL-terminated; on allocation
 * failure oom is set and later appends do nothing. */
typedef struct blob_buf {
    char *p;
    size_t len, cap;
    int oom;
} blob_buf;

void blob_buf_add(blob_buf *b, const char *s, size_t n);
void blob_buf_puts(blob_buf *b, const char *s);
void blob_buf_printf(blob_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void blob_buf_json_str(blob_buf *b, const char *s); /* a quoted, escaped JSON string */
/* Returns the string (caller frees) or NULL after an allocation failure. */
char *blob_buf_take(blob_buf *b);

/* ---- blob_fs.c -------------------------------------------------------- */

/* Resolves a binding's "connection" (an app setting name, default
 * AzureWebJobsStorage) to the absolute blobs root folder, created if
 * missing. handle is any host handle (for settings and the app root);
 * cfg, when not NULL, receives fnh_config_fail for a refused connection.
 * UseDevelopmentStorage=true (and an unset AzureWebJobsStorage) mean
 * <app>/.fnhost/storage/blobs; a path ("/abs", "./rel", "../rel") names
 * the root itself; Azure connection strings are refused. */
int blob_resolve_root(const void *handle, const fnh_config *cfg, const char *connection,
                      char **root_out);

/* Makes sure <root>/<container>/<dirs of name> exist, never creating or
 * entering anything outside root: every existing component is checked with
 * realpath. On success *dir_out is the canonical parent folder of the blob
 * (malloc'd). create=0 only checks (-ENOENT when a folder is missing).
 * -EACCES when a symlink leads outside root. */
int blob_safe_parent(const char *root, const char *container, const char *name, int create,
                     char **dir_out);

/* Writes data to dir/base atomically: a temp file BLOB_TMP_PREFIX... in the
 * same folder, then rename(2). durable: the temp file is flushed
 * (fdatasync) before the rename and the folder after it, so that once this
 * returns 0 the new content survives a power cut. */
int blob_write_atomic(const char *dir, const char *base, const void *data, size_t len,
                      int durable);

/* Reads a whole regular file, refusing symlinks in the last component
 * (O_NOFOLLOW). *data is malloc'd (NUL-terminated, len excludes the NUL);
 * st receives fstat after the read. -EAGAIN when the file changed while it
 * was read. -ENOENT when missing. */
int blob_read_file(int dirfd, const char *path, char **data, size_t *len, struct stat *st);

/* The same on an open file descriptor (read with pread from offset 0). */
int blob_read_fd(int fd, char **data, size_t *len, struct stat *st);

/* The ETag of a blob version into the caller's out: "0x" + the first 16 hex
 * digits (upper case) of its content's SHA-256 (hash, borrowed), so it
 * changes exactly when the content does. */
void blob_etag(const char hash[65], char out[48]);

/* mkdir -p. 0 or -errno. */
int blob_mkdirs(const char *path, mode_t mode);

/* ISO-8601 UTC with milliseconds and "+00:00" from a time in ns. */
void blob_iso_time(int64_t ns, char out[96]);

/* Azure's RFC 1123 form, "Tue, 02 Jan 2024 10:00:00 GMT". */
void blob_http_time(int64_t ns, char out[96]);

int64_t blob_now_ns(void);      /* CLOCK_REALTIME */
int64_t blob_mono_ns(void);     /* CLOCK_MONOTONIC */

/* Receipt status of one blob version for one function. */
enum { RECEIPT_NONE = 0, RECEIPT_FAILED = 1, RECEIPT_COMPLETE = 2, RECEIPT_POISON = 3 };

/* A receipt: the outcome of the last version of one blob for one function,
 * and the file it was read from (so an unchanged file needs no reading). */
typedef struct blob_receipt {
    int status;        /* RECEIPT_* */
    int attempts;      /* failures so far (FAILED), or attempts made */
    char hash[65];     /* the version's SHA-256, hex */
    unsigned long long ino, size;
    long long mtime_ns, ctime_ns;
} blob_receipt;

/* Reads the receipt file into *r (caller's storage; path borrowed) and
 * returns its status; RECEIPT_NONE (r zeroed) when missing or unreadable. */
int blob_receipt_read(const char *path, blob_receipt *r);

/* ---- blob_hash.c ------------------------------------------------------ */

/* SHA-256 of data (borrowed) as 64 lower-case hex digits and a NUL, written
 * into the caller's out. Thread-safe. */
void blob_sha256_hex(const void *data, size_t len, char out[65]);

/* ---- blob_lease.c ----------------------------------------------------- */

/* Who holds a lease: a random instance id, plus what lets a host in the same
 * boot and pid namespace see at once that the owner's process is gone. */
typedef struct blob_owner {
    char id[33];
    char boot[40];
    unsigned long long pidns, start;
    int pid;
} blob_owner;

/* Fills the caller's *o for this process (a fresh random id). */
void blob_owner_init(blob_owner *o);

/* Tries to claim the lease file at path (folders created as needed).
 * Returns 1 with *fd the open lease (keep it to renew and release); 0 when a
 * live host holds it, *expires then being the CLOCK_REALTIME ns at which it
 * lapses unless renewed; or a negative errno. A lease past its expiry, or
 * whose owner's process is gone (same boot and pid namespace only), is
 * taken over. path is borrowed. */
int blob_lease_take(const char *path, const blob_owner *me, int64_t lease_ns, int *fd,
                    int64_t *expires);

/* Renews a lease held through fd (sets its mtime to now). Any thread. */
void blob_lease_renew(int fd);

/* Ends a lease by turning it into a record: writes text into the lease
 * file and renames it to dest (atomically replacing it), if the lease at
 * path is still the one fd holds. path, dest and text are borrowed. 0 (fd
 * closed) or a negative errno (-ESTALE: the lease was taken over; fd is then
 * still open and the caller releases it). */
int blob_lease_commit(const char *path, int fd, const char *dest, const char *text);

/* Removes the lease at path (borrowed) if it is still the one fd holds;
 * closes fd. */
void blob_lease_release(const char *path, int fd);

/* ---- blob_trigger.c --------------------------------------------------- */

extern const fnh_trigger_type blob_trigger_type;

#endif
