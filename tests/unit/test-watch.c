/* test-watch.c: the file watcher (core/watch.c) on a real folder tree with
 * inotify: each change type, folders created later watched as they appear,
 * hidden folders and node_modules skipped, single folders not recursive. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "strlist.h"
#include "util.h"
#include "watch.h"

#include "unit.h"

static fnh__strlist events; /* "<change> <path relative to root>[/]" */
static char root[64];

static void on_change(void *arg, const char *path, const char *change, int is_dir)
{
    (void)arg;
    size_t n = strlen(root);
    const char *rel = strncmp(path, root, n) == 0 ? path + n : path;
    fnh__strlist_addf(&events, "%s %s%s", change, rel, is_dir ? "/" : "");
}

static void tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until the watcher has delivered what is pending (bounded).
 * The watcher does not keep a loop alive: a timer does, as the host's
 * server does. */
static void settle(uv_loop_t *loop)
{
    uv_timer_t keep;
    uv_timer_init(loop, &keep);
    uv_timer_start(&keep, tick, 1, 1);
    for (int i = 0; i < 40; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    uv_close((uv_handle_t *)&keep, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static int seen(const char *what)
{
    for (size_t i = 0; i < events.len; i++)
        if (strcmp(events.items[i], what) == 0)
            return 1;
    return 0;
}

static int seen_prefix(const char *prefix)
{
    for (size_t i = 0; i < events.len; i++)
        if (strncmp(events.items[i], prefix, strlen(prefix)) == 0)
            return 1;
    return 0;
}

static void put(const char *rel, const char *text)
{
    char *p = fnh__asprintf("%s%s", root, rel);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(p);
}

static void mk(const char *rel)
{
    char *p = fnh__asprintf("%s%s", root, rel);
    mkdir(p, 0755);
    free(p);
}

static void rm(const char *rel, int dir)
{
    char *p = fnh__asprintf("%s%s", root, rel);
    if (dir)
        rmdir(p);
    else
        unlink(p);
    free(p);
}

static void mv(const char *from, const char *to)
{
    char *a = fnh__asprintf("%s%s", root, from), *b = fnh__asprintf("%s%s", root, to);
    rename(a, b);
    free(a);
    free(b);
}

static void test_tree(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    snprintf(root, sizeof root, "/tmp/fnhost-watch-XXXXXX");
    CHECK(mkdtemp(root) != NULL);
    mk("/fn");
    mk("/.hidden");
    mk("/node_modules");
    mk("/single");
    mk("/single/sub");
    put("/fn/function.json", "{}");
    fnh__watch *w = NULL;
    CHECK(fnh__watch_start(&loop, on_change, NULL, &w) == 0);
    CHECK(fnh__watch_add_tree(w, root) == 0);
    CHECK(fnh__watch_add_tree(w, root) == 0); /* twice: harmless */

    put("/fn/function.json", "{\"bindings\": []}");
    settle(&loop);
    CHECK(seen("Changed /fn/function.json"));

    put("/host.json", "{}");
    settle(&loop);
    CHECK(seen("Created /host.json"));

    mk("/newfn"); /* watched as soon as it appears */
    settle(&loop);
    put("/newfn/x.so", "x");
    settle(&loop);
    CHECK(seen("Created /newfn/"));
    CHECK(seen("Changed /newfn/x.so"));

    mv("/newfn/x.so", "/newfn/y.so");
    settle(&loop);
    CHECK(seen("Renamed /newfn/x.so"));
    CHECK(seen("Renamed /newfn/y.so"));

    mv("/newfn", "/renamed"); /* a watched folder renamed: reported by its new name */
    settle(&loop);
    CHECK(seen("Renamed /newfn/"));
    CHECK(seen("Renamed /renamed/"));
    put("/renamed/z.so", "x");
    settle(&loop);
    CHECK(seen("Created /renamed/z.so"));

    rm("/renamed/z.so", 0);
    rm("/renamed/y.so", 0);
    rm("/renamed", 1);
    settle(&loop);
    CHECK(seen("Deleted /renamed/y.so"));
    CHECK(seen("Deleted /renamed/"));

    size_t before = events.len;
    put("/.hidden/a.json", "{}");
    put("/node_modules/b.js", "x");
    settle(&loop);
    CHECK(!seen_prefix("Created /.hidden/a"));
    CHECK(!seen_prefix("Created /node_modules/b"));
    CHECK(events.len == before);

    fnh__watch_free(w);
    uv_run(&loop, UV_RUN_DEFAULT); /* the close completes */
    CHECK(uv_loop_close(&loop) == 0);
    fnh__strlist_free(&events);
}

static void test_single_folder(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fnh__watch *w = NULL;
    CHECK(fnh__watch_start(&loop, on_change, NULL, &w) == 0);
    char *single = fnh__asprintf("%s/single", root);
    CHECK(fnh__watch_add_dir(w, single) == 0);
    put("/single/lib.so", "x");
    put("/single/sub/deep.so", "x");
    settle(&loop);
    CHECK(seen("Created /single/lib.so"));
    CHECK(!seen_prefix("Created /single/sub/deep"));
    CHECK(fnh__watch_add_dir(w, "/nonexistent/folder") < 0);
    free(single);
    fnh__watch_free(w);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    fnh__strlist_free(&events);
    char *cmd = fnh__asprintf("rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    free(cmd);
}

int main(void)
{
    UNIT_RUN(test_tree);
    UNIT_RUN(test_single_folder);
    UNIT_END();
}
