/* blob_fs.c: the file-system side of emulated blob storage. A connection
 * setting picks the blobs root (UseDevelopmentStorage=true:
 * <app>/.fnhost/storage/blobs; or a local folder); containers are folders
 * under it and blob names with '/' are nested folders. Walks into the root
 * check every existing component with realpath so a symlink can never lead a
 * read or write outside it; writes are atomic (temp file + rename); reads
 * notice a file that changed while it was read; an output write is flushed to disk before it is acknowledged. Also: ETags, receipts, time
 * formatting. Every function here is thread-safe (no shared state). */
#include "blob.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define DEV_STORAGE "UseDevelopmentStorage=true"

/* ---- time ------------------------------------------------------------- */

static int64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t blob_now_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

int64_t blob_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

static void utc_tm(int64_t ns, struct tm *tm)
{
    time_t secs = (time_t)(ns / 1000000000);
    if (!gmtime_r(&secs, tm))
        memset(tm, 0, sizeof *tm);
}

/* tm fields clamped to their printed widths (keeps -Wformat-truncation quiet) */
#define F2(x) ((unsigned)(x) % 100u)
#define F4(x) ((unsigned)(x) % 10000u)

void blob_iso_time(int64_t ns, char out[96])
{
    struct tm tm;
    utc_tm(ns, &tm);
    snprintf(out, 96, "%04u-%02u-%02uT%02u:%02u:%02u.%03u+00:00", F4(tm.tm_year + 1900),
             F2(tm.tm_mon + 1), F2(tm.tm_mday), F2(tm.tm_hour), F2(tm.tm_min), F2(tm.tm_sec),
             (unsigned)(ns % 1000000000 / 1000000) % 1000u);
}

void blob_http_time(int64_t ns, char out[96])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    utc_tm(ns, &tm);
    snprintf(out, 96, "%.3s, %02u %.3s %04u %02u:%02u:%02u GMT", days[(unsigned)tm.tm_wday % 7u],
             F2(tm.tm_mday), months[(unsigned)tm.tm_mon % 12u], F4(tm.tm_year + 1900),
             F2(tm.tm_hour), F2(tm.tm_min), F2(tm.tm_sec));
}

void blob_etag(const char hash[65], char out[48])
{
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 16; i++)
        out[2 + i] = (char)(hash[i] >= 'a' && hash[i] <= 'f' ? hash[i] - 'a' + 'A' : hash[i]);
    out[18] = '\0';
}

/* ---- folders ---------------------------------------------------------- */

int blob_mkdirs(const char *path, mode_t mode)
{
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, mode) != 0 && errno != EEXIST) {
                rc = -errno;
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    if (!rc) {
        struct stat st;
        if (stat(path, &st) != 0)
            rc = -errno;
        else if (!S_ISDIR(st.st_mode))
            rc = -ENOTDIR;
    }
    return rc;
}

/* fsync of the folder, so that a rename or unlink in it is on disk. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : -errno;
    close(fd);
    return rc;
}

static int under_root(const char *root, const char *real)
{
    size_t n = strlen(root);
    if (strncmp(real, root, n) != 0)
        return 0;
    return real[n] == '\0' || real[n] == '/' || (n == 1 && root[0] == '/');
}

int blob_safe_parent(const char *root, const char *container, const char *name, int create,
                     char **dir_out)
{
    *dir_out = NULL;
    char *cur = strdup(root);
    char *rest = malloc(strlen(container) + strlen(name) + 2);
    if (!cur || !rest) {
        free(cur);
        free(rest);
        return -ENOMEM;
    }
    /* the components to walk: the container, then the folders of name */
    sprintf(rest, "%s/%s", container, name);
    char *last = strrchr(rest, '/');
    *last = '\0';
    int rc = 0;
    char *save = NULL;
    for (char *comp = strtok_r(rest, "/", &save); comp && !rc;
         comp = strtok_r(NULL, "/", &save)) {
        size_t n = strlen(cur) + strlen(comp) + 2;
        char *next = malloc(n);
        if (!next) {
            rc = -ENOMEM;
            break;
        }
        snprintf(next, n, "%s/%s", cur, comp);
        struct stat st;
        if (lstat(next, &st) != 0) {
            if (errno != ENOENT || !create)
                rc = -errno;
            else if (mkdir(next, 0777) != 0 && errno != EEXIST)
                rc = -errno;
            else
                rc = sync_dir(cur); /* the new folder's name is on disk */
        }
        char real[PATH_MAX];
        if (!rc && !realpath(next, real))
            rc = -errno;
        if (!rc && !under_root(root, real))
            rc = -EACCES;
        if (!rc && (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)))
            rc = -ENOTDIR;
        free(next);
        if (!rc) {
            char *c = strdup(real);
            if (!c)
                rc = -ENOMEM;
            else {
                free(cur);
                cur = c;
            }
        }
    }
    free(rest);
    if (rc) {
        free(cur);
        return rc;
    }
    *dir_out = cur;
    return 0;
}

/* ---- files ------------------------------------------------------------ */

int blob_write_atomic(const char *dir, const char *base, const void *data, size_t len,
                      int durable)
{
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
        uint64_t t = (uint64_t)blob_mono_ns() ^ ((uint64_t)getpid() << 32);
        memcpy(rnd, &t, sizeof rnd);
    }
    size_t n = strlen(dir) + strlen(base) + 64;
    char *tmp = malloc(n), *dst = malloc(n);
    if (!tmp || !dst) {
        free(tmp);
        free(dst);
        return -ENOMEM;
    }
    snprintf(tmp, n, "%s/" BLOB_TMP_PREFIX "%.100s.%02x%02x%02x%02x%02x%02x%02x%02x", dir,
             base, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    snprintf(dst, n, "%s/%s", dir, base);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    const char *p = data;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        off += (size_t)w;
    }
    if (!rc && durable && fdatasync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, dst) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    else if (durable)
        rc = sync_dir(dir);
out:
    free(tmp);
    free(dst);
    return rc;
}

int blob_read_fd(int fd, char **data, size_t *len, struct stat *st)
{
    *data = NULL;
    *len = 0;
    struct stat before;
    if (fstat(fd, &before) != 0)
        return -errno;
    if (!S_ISREG(before.st_mode))
        return S_ISDIR(before.st_mode) ? -EISDIR : -EINVAL;
    size_t cap = (size_t)before.st_size + 1, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = pread(fd, buf + n, cap - n, (off_t)n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (!rc && fstat(fd, st) != 0)
        rc = -errno;
    if (!rc && ((off_t)n != st->st_size || st->st_size != before.st_size ||
                st->st_mtim.tv_sec != before.st_mtim.tv_sec ||
                st->st_mtim.tv_nsec != before.st_mtim.tv_nsec))
        rc = -EAGAIN;
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int blob_read_file(int dirfd, const char *path, char **data, size_t *len, struct stat *st)
{
    *data = NULL;
    *len = 0;
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return errno == ELOOP ? -EACCES : -errno;
    int rc = blob_read_fd(fd, data, len, st);
    close(fd);
    return rc;
}

static long long json_num(const char *text, const char *key)
{
    const char *a = strstr(text, key);
    return a ? strtoll(a + strlen(key), NULL, 10) : 0;
}

int blob_receipt_read(const char *path, blob_receipt *r)
{
    memset(r, 0, sizeof *r);
    char *data;
    size_t len;
    struct stat st;
    if (blob_read_file(AT_FDCWD, path, &data, &len, &st))
        return RECEIPT_NONE;
    const char *h = strstr(data, "\"ContentHash\":\"");
    if (h && strlen(h + 15) >= 64) {
        memcpy(r->hash, h + 15, 64);
        r->hash[64] = '\0';
        r->status = RECEIPT_FAILED;
        if (strstr(data, "\"Status\":\"Complete\""))
            r->status = RECEIPT_COMPLETE;
        else if (strstr(data, "\"Status\":\"Poison\""))
            r->status = RECEIPT_POISON;
        r->attempts = (int)json_num(data, "\"Attempts\":");
        r->ino = (unsigned long long)json_num(data, "\"Inode\":");
        r->size = (unsigned long long)json_num(data, "\"Size\":");
        r->mtime_ns = json_num(data, "\"MtimeNs\":");
        r->ctime_ns = json_num(data, "\"CtimeNs\":");
    }
    free(data);
    return r->status;
}

/* ---- connections ------------------------------------------------------ */

static int looks_like_azure(const char *v)
{
    static const char *const keys[] = {"AccountName=", "AccountKey=", "BlobEndpoint=",
                                       "DefaultEndpointsProtocol=", "SharedAccessSignature=",
                                       "EndpointSuffix="};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcasestr(v, keys[i]))
            return 1;
    return strncasecmp(v, "https://", 8) == 0 || strncasecmp(v, "http://", 7) == 0;
}

static int is_dev_storage(const char *v)
{
    size_t n = strlen(DEV_STORAGE);
    return strncasecmp(v, DEV_STORAGE, n) == 0 && (v[n] == '\0' || v[n] == ';');
}

int blob_resolve_root(const void *handle, const fnh_config *cfg, const char *connection,
                      char **root_out)
{
    *root_out = NULL;
    const char *app = fnh_app_root(handle);
    const char *name = connection && *connection ? connection : "AzureWebJobsStorage";
    const char *val = fnh_ext_setting(handle, name);
    char alt[300];
    if (!val && strncasecmp(name, "AzureWebJobs", 12) != 0) {
        snprintf(alt, sizeof alt, "AzureWebJobs%s", name);
        val = fnh_ext_setting(handle, alt);
    }
    char *path = NULL;
    if (!val || !*val) {
        if (strcasecmp(name, "AzureWebJobsStorage") != 0)
            return fnh_config_fail(cfg, "connection",
                                   "the app setting '%s' is not set; fnhost emulates blob "
                                   "storage in .fnhost/storage/blobs: set \"%s\": \"%s\" in "
                                   "local.settings.json Values (or a local folder path)",
                                   name, name, DEV_STORAGE);
        /* no storage configured at all: the local emulation is the only choice */
        val = DEV_STORAGE;
    }
    if (is_dev_storage(val)) {
        size_t n = strlen(app) + 32;
        path = malloc(n);
        if (path)
            snprintf(path, n, "%s/.fnhost/storage/blobs", app);
    } else if (val[0] == '/') {
        path = strdup(val);
    } else if (strncmp(val, "./", 2) == 0 || strncmp(val, "../", 3) == 0 ||
               strcmp(val, ".") == 0) {
        size_t n = strlen(app) + strlen(val) + 2;
        path = malloc(n);
        if (path)
            snprintf(path, n, "%s/%s", app, val);
    } else if (looks_like_azure(val)) {
        return fnh_config_fail(cfg, "connection",
                               "the app setting '%s' holds an Azure Storage connection string, "
                               "but fnhost never talks to Azure: it emulates blob storage in "
                               ".fnhost/storage/blobs under the app folder. Set \"%s\": \"%s\" "
                               "in local.settings.json Values (or a local folder path)",
                               name, name, DEV_STORAGE);
    } else {
        return fnh_config_fail(cfg, "connection",
                               "the app setting '%s' is neither \"%s\" nor a local folder path "
                               "(absolute, or starting with ./); fnhost emulates blob storage "
                               "in .fnhost/storage/blobs",
                               name, DEV_STORAGE);
    }
    if (!path)
        return -ENOMEM;
    int rc = blob_mkdirs(path, 0777);
    if (rc) {
        fnh_config_fail(cfg, "connection", "cannot create the blobs folder '%s': %s", path,
                        fnh_ext_strerror(handle, rc));
        free(path);
        return rc;
    }
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        rc = -errno;
        fnh_config_fail(cfg, "connection", "cannot resolve the blobs folder '%s': %s", path,
                        fnh_ext_strerror(handle, rc));
        free(path);
        return rc;
    }
    free(path);
    *root_out = strdup(real);
    return *root_out ? 0 : -ENOMEM;
}
