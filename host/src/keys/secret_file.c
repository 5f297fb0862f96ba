/* secret_file.c: the secrets files on disk: JSON read, atomic 0600 writes
 * (temporary file, fsync, rename or link for an exclusive create, fsync of
 * the folder), 0700 folders, and key values from getrandom. */
#include "secret_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int fnh__secret_mkdir(const char *dir)
{
    char *p = fnh__strdup(dir);
    if (!p)
        return -ENOMEM;
    int rc = 0;
    for (char *s = p + 1; !rc; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) && errno != EEXIST)
            rc = -errno;
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return rc;
}

int fnh__secret_read(const char *path, cJSON **out, char **err)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    *err = NULL;
    int rc = fnh__read_file(path, &text, &len);
    if (rc)
        return rc;
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        *err = fnh__asprintf("%s: the secrets file is not a JSON object; fix it or delete it "
                             "to have new keys generated",
                             path);
        return -EINVAL;
    }
    *out = doc;
    return 0;
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Syncs the folder holding path, so a rename survives a crash. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? fnh__strndup(path, (size_t)(slash - path)) : fnh__strdup(".");
    int fd = dir ? open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int fnh__secret_write(const char *path, const cJSON *doc, int exclusive)
{
    char *text = cJSON_Print(doc);
    char hex[33];
    int rc = text ? fnh__secret_hex(hex) : -ENOMEM;
    char *tmp = rc ? NULL : fnh__asprintf("%s.%s.tmp", path, hex);
    if (!tmp) {
        free(text);
        return rc ? rc : -ENOMEM;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    rc = fd < 0 ? -errno : write_all(fd, text, strlen(text));
    if (!rc && fsync(fd))
        rc = -errno;
    if (fd >= 0 && close(fd) && !rc)
        rc = -errno;
    if (!rc && exclusive)
        rc = link(tmp, path) ? -errno : 0; /* fails with EEXIST: never replaces */
    else if (!rc)
        rc = rename(tmp, path) ? -errno : 0;
    if (fd >= 0 && (exclusive || rc))
        unlink(tmp);
    if (!rc)
        sync_dir(path);
    free(tmp);
    free(text);
    return rc;
}

static int random_bytes(unsigned char *p, size_t n)
{
    while (n) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? -errno : -EIO;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

int fnh__secret_generate(char out[57])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char raw[40];
    int rc = random_bytes(raw, sizeof raw);
    if (rc)
        return rc;
    size_t o = 0;
    for (size_t i = 0; i < sizeof raw; i += 3) {
        unsigned v = (unsigned)raw[i] << 16;
        size_t left = sizeof raw - i;
        if (left > 1)
            v |= (unsigned)raw[i + 1] << 8;
        if (left > 2)
            v |= raw[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = left > 1 ? b64[(v >> 6) & 63] : '=';
        out[o++] = left > 2 ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    for (char *c = out; *c; c++)
        if (*c == '+')
            *c = 'a';
    memset(raw, 0, sizeof raw);
    return 0;
}

int fnh__secret_hex(char out[33])
{
    unsigned char raw[16];
    int rc = random_bytes(raw, sizeof raw);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}
