/* watch.h: file-change notifications on the loop (inotify): whole folder
 * trees (folders created later are watched as they appear) and single
 * folders, each change reported with its full path and Azure's change type.
 * Loop thread only. */
#ifndef FNH_WATCH_H
#define FNH_WATCH_H

#include <uv.h>

typedef struct fnh__watch fnh__watch;

/* One change: path (borrowed for the call) and change, one of "Changed",
 * "Created", "Deleted", "Renamed" (the names of .NET's WatcherChangeTypes
 * that Azure logs); is_dir when path is a folder. */
typedef void (*fnh__watch_cb)(void *arg, const char *path, const char *change, int is_dir);

/* Starts a watcher on loop that calls cb(arg, ...) for every change in the
 * folders added to it. *out is the caller's until fnh__watch_free. 0 or a
 * negative errno (inotify unavailable, out of memory). */
int fnh__watch_start(uv_loop_t *loop, fnh__watch_cb cb, void *arg, fnh__watch **out);
/* Watches dir and every folder under it, except those whose name starts
 * with '.' or is "node_modules" (and except dir itself when it is already
 * watched). At most FNH__WATCH_MAX folders in all; beyond, a warning.
 * dir is copied. 0 or a negative errno. */
int fnh__watch_add_tree(fnh__watch *w, const char *dir);
/* Watches the single folder dir (not its sub-folders); copied. 0 or a
 * negative errno. */
int fnh__watch_add_dir(fnh__watch *w, const char *dir);
/* Stops watching and frees w (the poll handle closes on the next turn). */
void fnh__watch_free(fnh__watch *w);

#define FNH__WATCH_MAX 4096

#endif
