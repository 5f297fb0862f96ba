/* shadow.c: private copies of the shared objects the host loads (native
 * functions, extensions). Each .so is copied into the host's own shadow
 * folder under a name made from its content, and loaded from there: a
 * rebuilt file is new code at a new path (glibc hands back an
 * already-mapped library for a path it has loaded), and a build that
 * rewrites the original in place never touches the mapped copy. Copies are
 * counted by their users; the last one deletes its copy. Main thread. */
#include "shadow.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* The shadow folder (NULL: off, as in a child process) and the copies made
 * so far, by the original's identity (path, inode, size, mtime). */
typedef struct shadow_entry {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char *copy;
    struct shadow_entry *next;
} shadow_entry;
/* How many users (loaded functions and extensions) each copy has: the
 * last one deletes it, so a long session of rebuilds does not fill the
 * folder. */
typedef struct shadow_use {
    char *copy;
    size_t n;
    struct shadow_use *next;
} shadow_use;
static struct {
    char *dir;
    int lock_fd; /* the flock that marks dir in use (SHADOW_LOCK) */
    shadow_entry *copies;
    shadow_use *uses;
} g_shadow;

/* Deletes a shadow folder and what is in it (one level). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    for (struct dirent *de; d && (de = readdir(d));) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *p = fnh__asprintf("%s/%s", dir, de->d_name);
        if (p)
            unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Each host holds an exclusive flock on <its shadow folder>/.lock for its
 * whole life: the kernel drops it when the process dies, however it dies,
 * and it means the same in every pid namespace (a pid does not). */
#define SHADOW_LOCK ".lock"

/* 1 when the shadow folder at dir belongs to a live host (or may: it is
 * being made, or is not ours to judge). */
static int shadow_in_use(const char *dir)
{
    char *lock = fnh__asprintf("%s/" SHADOW_LOCK, dir);
    int fd = lock ? open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
    free(lock);
    struct stat st;
    /* no lock file, or one made moments ago: a host is still setting up */
    if (fd < 0 || fstat(fd, &st) != 0 || time(NULL) - st.st_mtime < 5) {
        if (fd >= 0)
            close(fd);
        return 1;
    }
    int busy = flock(fd, LOCK_EX | LOCK_NB) != 0;
    close(fd);
    return busy;
}

/* Shadow folders of hosts that died without removing theirs (kill -9, a
 * crash): fnhost-shadow-* that we own and whose lock no process holds. */
static void remove_orphans(const char *tmp)
{
    DIR *d = opendir(tmp);
    for (struct dirent *de; d && (de = readdir(d));) {
        if (strncmp(de->d_name, "fnhost-shadow-", 14) != 0)
            continue;
        char *p = fnh__asprintf("%s/%s", tmp, de->d_name);
        struct stat st;
        if (p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid() &&
            !shadow_in_use(p))
            remove_dir(p);
        free(p);
    }
    if (d)
        closedir(d);
}

int fnh__shadow_init(void)
{
    if (g_shadow.dir)
        return 0;
    const char *tmp = getenv("TMPDIR");
    remove_orphans(tmp && *tmp ? tmp : "/tmp");
    char *tmpl = fnh__asprintf("%s/fnhost-shadow-%d-XXXXXX", tmp && *tmp ? tmp : "/tmp",
                               (int)getpid());
    if (!tmpl)
        return -ENOMEM;
    if (!mkdtemp(tmpl)) {
        int rc = -errno;
        free(tmpl);
        return rc;
    }
    char *lock = fnh__asprintf("%s/" SHADOW_LOCK, tmpl);
    int fd = lock ? open(lock, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    free(lock);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) { /* held (fd kept open) until the host exits */
        int rc = fd < 0 ? -errno : -EIO;
        if (fd >= 0)
            close(fd);
        remove_dir(tmpl);
        free(tmpl);
        return rc ? rc : -ENOMEM;
    }
    g_shadow.lock_fd = fd;
    /* resolved once, so the copies' paths are real paths as they are made */
    char *real = realpath(tmpl, NULL);
    if (real) {
        free(tmpl);
        tmpl = real;
    }
    g_shadow.dir = tmpl;
    return 0;
}

void fnh__shadow_cleanup(void)
{
    while (g_shadow.copies) {
        shadow_entry *e = g_shadow.copies;
        g_shadow.copies = e->next;
        free(e->path);
        free(e->copy);
        free(e);
    }
    while (g_shadow.uses) {
        shadow_use *u = g_shadow.uses;
        g_shadow.uses = u->next;
        free(u->copy);
        free(u);
    }
    if (!g_shadow.dir)
        return;
    remove_dir(g_shadow.dir);
    close(g_shadow.lock_fd);
    free(g_shadow.dir);
    g_shadow.dir = NULL;
}

/* The shadow copy of the file at path (malloc'd), made if needed:
 * <dir>/<64-bit FNV-1a of the content>-<file name>, written to a temporary
 * name and renamed, so a copy is whole or absent. NULL when it cannot be
 * made (the original is used). */
static char *shadow_copy(const char *path)
{
    struct stat st;
    if (!g_shadow.dir || stat(path, &st) != 0)
        return NULL;
    for (shadow_entry *e = g_shadow.copies; e; e = e->next)
        if (e->dev == st.st_dev && e->ino == st.st_ino && e->size == st.st_size &&
            e->mtime.tv_sec == st.st_mtim.tv_sec && e->mtime.tv_nsec == st.st_mtim.tv_nsec &&
            (strcmp(e->path, path) == 0 || st.st_nlink > 1)) /* a hard link: same file */
            return fnh__strdup(e->copy);
    char *data = NULL;
    size_t len = 0;
    if (fnh__read_file(path, &data, &len))
        return NULL;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)data[i]) * 1099511628211ull;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *copy = fnh__asprintf("%s/%016llx-%s", g_shadow.dir, (unsigned long long)h, base);
    struct stat cst;
    int ok = copy != NULL;
    if (ok && stat(copy, &cst) != 0) { /* not copied yet */
        char *tmp = fnh__asprintf("%s.tmp", copy);
        int fd = tmp ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700) : -1;
        ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;
        if (fd >= 0)
            close(fd);
        ok = ok && rename(tmp, copy) == 0;
        if (!ok && tmp)
            unlink(tmp);
        free(tmp);
    }
    free(data);
    shadow_entry *e = ok ? calloc(1, sizeof *e) : NULL;
    if (e && (e->path = fnh__strdup(path)) && (e->copy = fnh__strdup(copy))) {
        e->dev = st.st_dev;
        e->ino = st.st_ino;
        e->size = st.st_size;
        e->mtime = st.st_mtim;
        e->next = g_shadow.copies;
        g_shadow.copies = e;
    } else if (e) {
        free(e->path);
        free(e);
    }
    if (!ok) {
        free(copy);
        return NULL;
    }
    return copy;
}

char *fnh__shadow_acquire(const char *path)
{
    char *copy = shadow_copy(path);
    if (!copy)
        return NULL;
    shadow_use *u = g_shadow.uses;
    while (u && strcmp(u->copy, copy) != 0)
        u = u->next;
    if (!u && (u = calloc(1, sizeof *u)) && !(u->copy = fnh__strdup(copy))) {
        free(u);
        u = NULL;
    }
    if (!u) { /* cannot count its users: the original is used */
        free(copy);
        return NULL;
    }
    if (!u->n++) {
        u->next = g_shadow.uses;
        g_shadow.uses = u;
    }
    return copy;
}

void fnh__shadow_release(const char *copy)
{
    for (shadow_use **pu = &g_shadow.uses; copy && *pu; pu = &(*pu)->next) {
        shadow_use *u = *pu;
        if (strcmp(u->copy, copy) != 0)
            continue;
        if (--u->n)
            return;
        *pu = u->next;
        for (shadow_entry **pe = &g_shadow.copies; *pe;) {
            shadow_entry *e = *pe;
            if (strcmp(e->copy, u->copy) == 0) {
                *pe = e->next;
                free(e->path);
                free(e->copy);
                free(e);
            } else {
                pe = &e->next;
            }
        }
        unlink(u->copy);
        free(u->copy);
        free(u);
        return;
    }
}
