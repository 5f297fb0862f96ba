/* watch.c: file-change notifications with raw inotify polled on the loop:
 * a table of watched folders (descriptor -> path, tree or single), new
 * folders inside a tree added as they appear, each event turned into a full
 * path and one of Azure's change types. */
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define MASK                                                                                  \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB |       \
     IN_EXCL_UNLINK | IN_ONLYDIR)
#define MAX_DEPTH 32

typedef struct watched {
    int wd;
    int tree; /* its new sub-folders are watched too */
    char *path;
} watched;

struct fnh__watch {
    uv_poll_t poll;
    int fd;
    fnh__watch_cb cb;
    void *arg;
    watched *dirs;
    size_t ndirs, cap;
    int full_warned;
};

static void poll_cb(uv_poll_t *h, int status, int events);

int fnh__watch_start(uv_loop_t *loop, fnh__watch_cb cb, void *arg, fnh__watch **out)
{
    *out = NULL;
    fnh__watch *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        int rc = -errno;
        free(w);
        return rc;
    }
    w->cb = cb;
    w->arg = arg;
    int rc = uv_poll_init(loop, &w->poll, w->fd);
    if (!rc)
        rc = uv_poll_start(&w->poll, UV_READABLE, poll_cb);
    if (rc) {
        close(w->fd);
        free(w);
        return rc;
    }
    w->poll.data = w;
    uv_unref((uv_handle_t *)&w->poll); /* watching never keeps the loop alive */
    *out = w;
    return 0;
}

static watched *find_wd(fnh__watch *w, int wd)
{
    for (size_t i = 0; i < w->ndirs; i++)
        if (w->dirs[i].wd == wd)
            return &w->dirs[i];
    return NULL;
}

/* Adds one folder; 0, 1 when it was watched already, or a negative errno. */
static int add_one(fnh__watch *w, const char *dir, int tree)
{
    if (w->ndirs >= FNH__WATCH_MAX) {
        if (!w->full_warned)
            fnh__log("Host", FNH_LOG_WARN, "%s: not watched for changes: the host watches at "
                                           "most %d folders; list the folders that matter in "
                                           "host.json watchDirectories",
                     dir, FNH__WATCH_MAX);
        w->full_warned = 1;
        return -ENOSPC;
    }
    int wd = inotify_add_watch(w->fd, dir, MASK);
    if (wd < 0)
        return -errno;
    watched *have = find_wd(w, wd);
    if (have) { /* the same folder: renamed, or added again */
        have->tree |= tree;
        char *now = strcmp(have->path, dir) != 0 ? fnh__strdup(dir) : NULL;
        size_t n = now ? strlen(now) : 0;
        while (n > 1 && now[n - 1] == '/')
            now[--n] = '\0';
        if (now) {
            free(have->path);
            have->path = now;
        }
        return 1;
    }
    if (w->ndirs == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        watched *grown = realloc(w->dirs, cap * sizeof *grown);
        if (!grown) {
            inotify_rm_watch(w->fd, wd);
            return -ENOMEM;
        }
        w->dirs = grown;
        w->cap = cap;
    }
    char *copy = fnh__strdup(dir);
    if (!copy) {
        inotify_rm_watch(w->fd, wd);
        return -ENOMEM;
    }
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    w->dirs[w->ndirs++] = (watched){wd, tree, copy};
    return 0;
}

static int skipped_name(const char *name)
{
    return name[0] == '.' || strcmp(name, "node_modules") == 0;
}

static int add_tree(fnh__watch *w, const char *dir, int depth)
{
    int rc = add_one(w, dir, 1);
    if (rc < 0 || depth >= MAX_DEPTH)
        return rc < 0 ? rc : 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* gone again, or unreadable: nothing under it to watch */
    for (struct dirent *de; (de = readdir(d));) {
        /* the entry's type from the folder itself when the file system
         * gives it (no lstat per file of a 1,000-function app) */
        if (skipped_name(de->d_name) || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
            continue;
        char *sub = fnh__asprintf("%s/%s", dir, de->d_name);
        struct stat st;
        if (sub && (de->d_type == DT_DIR || (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))))
            add_tree(w, sub, depth + 1);
        free(sub);
    }
    closedir(d);
    return 0;
}

int fnh__watch_add_tree(fnh__watch *w, const char *dir)
{
    return add_tree(w, dir, 0);
}

int fnh__watch_add_dir(fnh__watch *w, const char *dir)
{
    int rc = add_one(w, dir, 0);
    return rc < 0 ? rc : 0;
}

static const char *change_of(uint32_t mask)
{
    if (mask & (IN_MOVED_TO | IN_MOVED_FROM))
        return "Renamed";
    if (mask & IN_CREATE)
        return "Created";
    if (mask & IN_DELETE)
        return "Deleted";
    return "Changed";
}

static void one_event(fnh__watch *w, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) { /* events were lost: something changed */
        if (w->ndirs)
            w->cb(w->arg, w->dirs[0].path, "Changed", 1);
        return;
    }
    watched *d = find_wd(w, ev->wd);
    if (!d)
        return;
    if (ev->mask & IN_IGNORED) { /* the folder went */
        free(d->path);
        *d = w->dirs[--w->ndirs];
        return;
    }
    if (!ev->len)
        return;
    char *path = fnh__asprintf("%s/%s", d->path, ev->name);
    if (!path)
        return;
    int is_dir = (ev->mask & IN_ISDIR) != 0;
    if (is_dir && d->tree && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && !skipped_name(ev->name))
        add_tree(w, path, 1);
    w->cb(w->arg, path, change_of(ev->mask), is_dir);
    free(path);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    (void)events;
    fnh__watch *w = h->data;
    if (status < 0)
        return;
    _Alignas(struct inotify_event) char buf[16384];
    for (int rounds = 0; rounds < 64; rounds++) { /* bounded: the rest comes next turn */
        ssize_t n = read(w->fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            one_event(w, ev);
            p += sizeof *ev + ev->len;
        }
    }
}

static void closed_cb(uv_handle_t *h)
{
    fnh__watch *w = h->data;
    close(w->fd);
    for (size_t i = 0; i < w->ndirs; i++)
        free(w->dirs[i].path);
    free(w->dirs);
    free(w);
}

void fnh__watch_free(fnh__watch *w)
{
    if (!w)
        return;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, closed_cb);
}
