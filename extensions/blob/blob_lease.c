/* blob_lease.c: claims on blob versions shared by every host that uses the
 * same app folder. A claim is a lease file created with O_EXCL naming its
 * owner (a random instance id, valid across pid namespaces and machines);
 * when the work is done the lease file becomes the receipt (one rename);
 * it expires `lease` after its mtime unless the owner renews it (futimens).
 * A host in the same boot and pid namespace as the owner may also judge it
 * dead at once when the owner's process is gone (the fast path). */
#include "blob.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define LEASE_MAX 512

static void read_small(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t r = read(fd, buf, n - 1);
    close(fd);
    buf[r > 0 ? r : 0] = '\0';
}

/* Field 22 of /proc/<pid>/stat: the process's start time in clock ticks
 * since boot; 0 when unknown. */
static unsigned long long start_time(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    read_small(path, buf, sizeof buf);
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return 0;
    for (int field = 2; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

static void rand_hex(char *out, size_t bytes)
{
    unsigned char r[32];
    if (bytes > sizeof r)
        bytes = sizeof r;
    if (getrandom(r, bytes, 0) != (ssize_t)bytes) {
        uint64_t x = (uint64_t)blob_mono_ns() ^ ((uint64_t)getpid() << 40) ^
                     (uint64_t)blob_now_ns();
        for (size_t i = 0; i < bytes; i++, x = x * 6364136223846793005u + 1442695040888963407u)
            r[i] = (unsigned char)(x >> 56);
    }
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

void blob_owner_init(blob_owner *o)
{
    memset(o, 0, sizeof *o);
    rand_hex(o->id, 16);
    char boot[64];
    read_small("/proc/sys/kernel/random/boot_id", boot, sizeof boot);
    boot[strcspn(boot, "\n ")] = '\0';
    snprintf(o->boot, sizeof o->boot, "%.39s", boot[0] ? boot : "-");
    struct stat st;
    o->pidns = stat("/proc/self/ns/pid", &st) == 0 ? (unsigned long long)st.st_ino : 0;
    o->pid = (int)getpid();
    o->start = start_time(o->pid);
}

static int parse_owner(const char *text, blob_owner *o)
{
    memset(o, 0, sizeof *o);
    return sscanf(text, "fnhost-lease owner=%32s boot=%39s pidns=%llu pid=%d start=%llu", o->id,
                  o->boot, &o->pidns, &o->pid, &o->start) == 5
               ? 0
               : -EINVAL;
}

/* Is the owner's process known to be gone? Only decidable in our boot and
 * pid namespace; elsewhere the lease's expiry decides. */
static int owner_gone(const blob_owner *me, const blob_owner *o)
{
    if (strcmp(me->boot, o->boot) != 0 || me->pidns != o->pidns || !o->pidns || o->pid <= 0)
        return 0;
    if (kill(o->pid, 0) != 0 && errno == ESRCH)
        return 1;
    unsigned long long st = start_time(o->pid);
    return st && o->start && st != o->start;
}

static int create_lease(const char *path, const blob_owner *me, int *fd_out)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) {
        char *dir = strdup(path);
        if (!dir)
            return -ENOMEM;
        *strrchr(dir, '/') = '\0';
        int rc = blob_mkdirs(dir, 0777);
        free(dir);
        if (rc)
            return rc;
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd < 0)
        return -errno;
    char text[LEASE_MAX];
    int n = snprintf(text, sizeof text, "fnhost-lease owner=%s boot=%s pidns=%llu pid=%d start=%llu\n",
                     me->id, me->boot, me->pidns, me->pid, me->start);
    if (write(fd, text, (size_t)n) != n) {
        int rc = -errno;
        unlink(path);
        close(fd);
        return rc ? rc : -EIO;
    }
    *fd_out = fd;
    return 0;
}

/* Moves an expired or orphaned lease (inode ino) aside so that a new one can
 * be created. Returns 1 when it was moved, 0 when someone else got there
 * first (the slot is then theirs, or free). */
static int clear_dead(const char *path, ino_t ino)
{
    size_t n = strlen(path) + 64;
    char *tomb = malloc(n);
    if (!tomb)
        return 0;
    char rnd[17];
    rand_hex(rnd, 8);
    const char *slash = strrchr(path, '/');
    snprintf(tomb, n, "%.*s/" BLOB_TMP_PREFIX "stale.%s", (int)(slash - path), path, rnd);
    int moved = 0;
    if (rename(path, tomb) == 0) {
        struct stat st;
        if (stat(tomb, &st) == 0 && st.st_ino != ino) {
            /* a live lease created since we looked: put it back */
            if (link(tomb, path) != 0 && errno == EEXIST)
                moved = 1; /* ... and the slot has been taken again meanwhile */
        } else {
            moved = 1;
        }
        unlink(tomb);
    }
    free(tomb);
    return moved;
}

int blob_lease_take(const char *path, const blob_owner *me, int64_t lease_ns, int *fd_out,
                    int64_t *expires)
{
    *fd_out = -1;
    *expires = 0;
    for (int tries = 0; tries < 4; tries++) {
        int rc = create_lease(path, me, fd_out);
        if (rc != -EEXIST)
            return rc ? rc : 1;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            if (errno == ENOENT)
                continue; /* released meanwhile */
            return -errno;
        }
        char text[LEASE_MAX];
        ssize_t r = pread(fd, text, sizeof text - 1, 0);
        struct stat st;
        int have = fstat(fd, &st) == 0;
        close(fd);
        if (!have)
            return -EIO;
        text[r > 0 ? r : 0] = '\0';
        blob_owner o;
        int64_t until = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec + lease_ns;
        int parsed = parse_owner(text, &o) == 0;
        if (parsed && strcmp(o.id, me->id) == 0) {
            /* ours, left behind by an earlier claim of this process */
            unlink(path);
            continue;
        }
        /* an unreadable lease (a writer killed between create and write)
         * is judged by its age alone */
        if (blob_now_ns() < until && !(parsed && owner_gone(me, &o))) {
            *expires = until;
            return 0;
        }
        clear_dead(path, st.st_ino);
    }
    *expires = blob_now_ns() + 100000000; /* contended: look again soon */
    return 0;
}

void blob_lease_renew(int fd)
{
    if (fd >= 0)
        futimens(fd, NULL);
}

/* Is the lease at path still the one open as fd? */
static int still_mine(const char *path, int fd)
{
    struct stat mine, now;
    return fstat(fd, &mine) == 0 && stat(path, &now) == 0 && mine.st_ino == now.st_ino &&
           mine.st_dev == now.st_dev;
}

int blob_lease_commit(const char *path, int fd, const char *dest, const char *text)
{
    if (fd < 0)
        return -EBADF;
    size_t len = strlen(text);
    int rc = 0;
    if (!still_mine(path, fd))
        rc = -ESTALE;
    else if (ftruncate(fd, 0) != 0 || pwrite(fd, text, len, 0) != (ssize_t)len)
        rc = errno ? -errno : -EIO;
    else if (rename(path, dest) != 0)
        rc = -errno;
    if (rc == 0)
        close(fd);
    return rc;
}

void blob_lease_release(const char *path, int fd)
{
    if (fd < 0)
        return;
    if (still_mine(path, fd))
        unlink(path);
    close(fd);
}
