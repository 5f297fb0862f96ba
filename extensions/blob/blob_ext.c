/* blob_ext.c: the blob extension's descriptor (the only exported symbol of
 * fnh_blob.so), its host.json settings (extensions.blobs:
 * maxDegreeOfParallelism, poisonBlobThreshold, and fnhost's quietPeriodMs
 * and leaseSeconds), and the "blob" input and
 * output bindings. The trigger lives in blob_trigger.c.
 *
 * Input: reads the blob named by the resolved "path"; a missing blob sets no
 * value (the function sees null). Output: writes the blob atomically and
 * durably (temp file in the same folder, fdatasync, rename, fsync of the
 * folder), creating the container and folders: once the invocation is
 * acknowledged the blob survives a power cut.
 * Both refuse paths that would leave the blobs root ("..", absolute paths,
 * symlinks pointing outside) with -EACCES and an error line naming the path.
 * read/write run on worker threads, concurrently: the binding state is
 * read-only after bind. */
#include "blob.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* One "blob" binding of one function. Immutable after bind. */
typedef struct blobio {
    fnh_binding *b;
    char *root; /* canonical blobs root */
    char *name; /* the binding's "name", for logs */
} blobio;

/* ---- host.json -------------------------------------------------------- */

static int read_range(const fnh_config *section, const char *key, int lo, int hi, int *out)
{
    int64_t v;
    int rc = fnh_config_int(section, key, &v);
    if (rc == -ENOENT)
        return 0;
    if (rc || v < lo || v > hi)
        return fnh_config_fail(section, key, "must be a whole number from %d to %d", lo, hi);
    *out = (int)v;
    return 0;
}

/* init: loop thread. *global gets a malloc'd blob_settings, freed in fini. */
static int ext_init(fnh_ext *ext, const fnh_config *section, void **global)
{
    (void)ext;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    blob_settings *s = malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    /* Azure's default is 8 per processor; a local host needs no more than 32 */
    s->max_parallel = cpus > 0 && cpus < 4 ? (int)cpus * 8 : 32;
    s->poison_threshold = 5;
    s->quiet_ms = 0;
    s->lease_s = 15;
    int rc = 0;
    if (section) {
        rc = read_range(section, "maxDegreeOfParallelism", 1, 100000, &s->max_parallel);
        if (!rc)
            rc = read_range(section, "poisonBlobThreshold", 1, 100000, &s->poison_threshold);
        if (!rc)
            rc = read_range(section, "quietPeriodMs", 0, 600000, &s->quiet_ms);
        if (!rc)
            rc = read_range(section, "leaseSeconds", 1, 3600, &s->lease_s);
    }
    if (rc) {
        free(s);
        return rc;
    }
    *global = s;
    return 0;
}

static void ext_fini(void *global)
{
    free(global);
}

/* ---- the blob input/output binding ------------------------------------ */

static void blobio_free(blobio *io)
{
    if (!io)
        return;
    free(io->root);
    free(io->name);
    free(io);
}

static int io_bind(fnh_binding *b, const fnh_config *cfg, void **state)
{
    const char *path = fnh_config_string(cfg, "path");
    if (!path || !*path)
        return fnh_config_fail(cfg, "path", "is required: the blob to read or write as "
                               "\"container/blob-name\", e.g. \"outcontainer/{rand-guid}.txt\"");
    /* a fixed container can be checked now; one made of {expressions} is
     * checked for each invocation */
    const char *slash = strchr(path, '/');
    size_t clen = slash ? (size_t)(slash - path) : strlen(path);
    char container[128];
    if (clen < sizeof container && !memchr(path, '{', clen) && !memchr(path, '%', clen)) {
        memcpy(container, path, clen);
        container[clen] = '\0';
        char err[300];
        if (blob_container_check(container, err, sizeof err))
            return fnh_config_fail(cfg, "path", "%s", err);
        if (!slash || !slash[1])
            return fnh_config_fail(cfg, "path", "'%s' names no blob; write "
                                   "\"container/blob-name\"", path);
    }
    blobio *io = calloc(1, sizeof *io);
    if (!io)
        return -ENOMEM;
    io->b = b;
    const char *name = fnh_config_string(cfg, "name");
    io->name = strdup(name ? name : "?");
    int rc = io->name ? blob_resolve_root(b, cfg, fnh_config_string(cfg, "connection"), &io->root)
                      : -ENOMEM;
    if (rc) {
        blobio_free(io);
        return rc;
    }
    *state = io;
    return 0;
}

static void io_unbind(void *state)
{
    blobio_free(state);
}

/* Resolves this invocation's path to the canonical folder of the blob and
 * its base name. Logs refusals. create: make missing folders (output). */
static int locate(blobio *io, fnh_call *call, int create, char **dir, char **base,
                  const char **path_out)
{
    *dir = *base = NULL;
    const fnh_config *cfg = fnh_call_config(call);
    const char *path = cfg ? fnh_config_string(cfg, "path") : NULL;
    *path_out = path ? path : "";
    char *container = NULL, *name = NULL, err[512];
    int rc = blob_split_path(path, &container, &name, err, sizeof err);
    if (rc) {
        if (rc == -EACCES)
            fnh_ext_log(call, FNH_LOG_ERROR, "Blob binding '%s': refused blob path '%s': %s",
                        io->name, *path_out, err);
        else if (rc != -ENOMEM)
            fnh_ext_log(call, FNH_LOG_ERROR, "Blob binding '%s': bad blob path: %s", io->name,
                        err);
        return rc;
    }
    rc = blob_safe_parent(io->root, container, name, create, dir);
    if (rc == -EACCES)
        fnh_ext_log(call, FNH_LOG_ERROR,
                    "Blob binding '%s': refused blob path '%s': a symlink leads outside the "
                    "storage root '%s'",
                    io->name, *path_out, io->root);
    if (!rc) {
        const char *b = strrchr(name, '/');
        *base = strdup(b ? b + 1 : name);
        if (!*base) {
            free(*dir);
            *dir = NULL;
            rc = -ENOMEM;
        }
    }
    free(container);
    free(name);
    return rc;
}

/* read: worker thread. Sets the blob's bytes, or nothing when it is missing. */
static int io_read(void *state, fnh_call *call)
{
    blobio *io = state;
    char *dir, *base;
    const char *path;
    int rc = locate(io, call, 0, &dir, &base, &path);
    if (rc == -ENOENT || rc == -ENOTDIR)
        return 0; /* no such container or folder: the blob is missing */
    if (rc)
        return rc;
    size_t n = strlen(dir) + strlen(base) + 2;
    char *full = malloc(n);
    if (!full) {
        free(dir);
        free(base);
        return -ENOMEM;
    }
    snprintf(full, n, "%s/%s", dir, base);
    /* a symlink may point anywhere inside the root, never outside it */
    char real[PATH_MAX];
    struct stat st;
    if (lstat(full, &st) == 0 && S_ISLNK(st.st_mode)) {
        size_t rl = strlen(io->root);
        if (!realpath(full, real)) {
            rc = errno == ENOENT ? 0 : -errno;
            goto out;
        }
        if (strncmp(real, io->root, rl) != 0 || real[rl] != '/') {
            fnh_ext_log(call, FNH_LOG_ERROR,
                        "Blob binding '%s': refused blob path '%s': a symlink leads outside the "
                        "storage root '%s'",
                        io->name, path, io->root);
            rc = -EACCES;
            goto out;
        }
    } else {
        snprintf(real, sizeof real, "%s", full);
    }
    char *data = NULL;
    size_t len = 0;
    for (int tries = 0; tries < 20; tries++) {
        rc = blob_read_file(AT_FDCWD, real, &data, &len, &st);
        if (rc != -EAGAIN)
            break;
        usleep(10000); /* being rewritten: let the writer finish */
    }
    if (rc == -ENOENT || rc == -EISDIR) {
        rc = 0; /* missing (a folder is a "virtual directory", not a blob) */
    } else if (rc) {
        fnh_ext_log(call, FNH_LOG_ERROR, "Blob binding '%s': cannot read blob '%s': %s",
                    io->name, path, fnh_ext_strerror(call, rc));
    } else {
        fnh_value v = {data, len, blob_content_type(base)};
        rc = fnh_call_set_value(call, &v);
    }
    free(data);
out:
    free(full);
    free(dir);
    free(base);
    return rc;
}

/* write: worker thread. Stores v as the blob, atomically. */
static int io_write(void *state, fnh_call *call, const fnh_value *v)
{
    blobio *io = state;
    char *dir, *base;
    const char *path;
    int rc = locate(io, call, 1, &dir, &base, &path);
    if (rc == -EACCES || rc == -EINVAL)
        return rc; /* logged */
    if (rc) {
        fnh_ext_log(call, FNH_LOG_ERROR, "Blob binding '%s': cannot write blob '%s': %s",
                    io->name, path, fnh_ext_strerror(call, rc));
        return rc;
    }
    rc = blob_write_atomic(dir, base, v && v->data ? v->data : "", v && v->data ? v->len : 0,
                           1);
    if (rc)
        fnh_ext_log(call, FNH_LOG_ERROR, "Blob binding '%s': cannot write blob '%s': %s",
                    io->name, path, fnh_ext_strerror(call, rc));
    free(dir);
    free(base);
    return rc;
}

static const fnh_binding_type blob_io_type = {
    .size = sizeof(fnh_binding_type),
    .type = "blob",
    .directions = FNH_IN | FNH_OUT,
    .bind = io_bind,
    .read = io_read,
    .write = io_write,
    .unbind = io_unbind,
};

static const fnh_trigger_type *const triggers[] = {&blob_trigger_type, NULL};
static const fnh_binding_type *const bindings[] = {&blob_io_type, NULL};

FNH_EXPORT const fnh_extension_def fnh_extension = {
    FNH_EXTENSION_HEAD, "blob", BLOB_EXT_VERSION, ext_init, ext_fini, triggers, bindings, NULL,
};
